//! Trips: single trips, the daily log of local and field work, policy suspensions and organised
//! group trips; each test on SQLite and on PostgreSQL.

use linli_core::epidemic::trips::{GroupTripDraft, TripDraft, TripKind};
use linli_core::kernel::clock::now_ms;
use linli_core::{Role, Scope};
use linli_store::epidemic::trips::{self, TripFilter, TripState};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{arrival, count, date, observe, resident, tree, Tree};

fn draft(kind: &str, dest: &str, leave: &str, back: Option<&str>) -> TripDraft {
    TripDraft::parse(kind, dest, Ok(date(leave)), back.map(|b| Ok(date(b))), true).unwrap()
}

fn staff(t: &Tree) -> Scope {
    Scope::for_user(14, "staff", Role::Staff, vec![t.community.path.clone()])
}

fn fields(e: StoreError) -> Vec<String> {
    match e {
        StoreError::Invalid(v) => v.into_iter().map(|e| e.field).collect(),
        StoreError::Conflict { field, .. } => vec![format!("conflict:{field}")],
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn list(db: &Db, scope: &Scope, t: &Tree, state: TripState, on: &str) -> Vec<(String, bool)> {
    let filter = TripFilter {
        state,
        ..Default::default()
    };
    trips::trips(db, scope, t.grid_a.id, &filter, date(on), 50, 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| (t.person_name, t.log_due))
        .collect()
}

both_backends!(trips_are_logged_and_closed_once, |db: Db| async move {
    let t = tree(&db).await;
    let a = resident(&db, &t.grid_a, "张三", "53340119800101011").await;
    let trip = draft(
        "medical",
        "迪庆州人民医院",
        "2022-03-10",
        Some("2022-03-11"),
    );
    assert!(matches!(
        trips::add_trip(&db, &t.worker_b(), a, &trip, now_ms()).await,
        Err(StoreError::NotFound)
    ));
    let id = trips::add_trip(&db, &t.worker_a(), a, &trip, now_ms())
        .await
        .unwrap();
    assert_eq!(
        list(&db, &staff(&t), &t, TripState::Out, "2022-03-10").await,
        [("张三".to_owned(), false)]
    );
    let e = trips::trip_returned(&db, &t.worker_a(), id, date("2022-03-09"))
        .await
        .unwrap_err();
    assert_eq!(fields(e), ["returned_on"]);
    trips::trip_returned(&db, &t.worker_a(), id, date("2022-03-11"))
        .await
        .unwrap();
    let e = trips::trip_returned(&db, &t.worker_a(), id, date("2022-03-12"))
        .await
        .unwrap_err();
    assert_eq!(fields(e), ["conflict:state"]);
    assert!(matches!(
        trips::trip_returned(&db, &t.worker_b(), id, date("2022-03-12")).await,
        Err(StoreError::NotFound)
    ));
    assert!(list(&db, &staff(&t), &t, TripState::Out, "2022-03-12")
        .await
        .is_empty());
    assert_eq!(
        list(&db, &staff(&t), &t, TripState::Returned, "2022-03-12")
            .await
            .len(),
        1
    );
});

both_backends!(
    local_work_is_logged_daily_and_a_fever_raises_an_alert,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "和建国", "53340119800101012").await;
        let b = resident(&db, &t.grid_a, "李秀英", "53340119800101013").await;
        let w = t.worker_a();
        let work = draft(
            "local_work",
            "城区建筑工地",
            "2022-03-10",
            Some("2022-03-16"),
        );
        let field = draft("field_work", "后山茶园", "2022-03-10", Some("2022-03-20"));
        let tw = trips::add_trip(&db, &w, a, &work, now_ms()).await.unwrap();
        let tf = trips::add_trip(&db, &w, b, &field, now_ms()).await.unwrap();
        let today = date("2022-03-12");
        // Both owe today's entry; one entered, one still due.
        assert_eq!(
            list(&db, &w, &t, TripState::LogDue, "2022-03-12")
                .await
                .len(),
            2
        );
        let ok = trips::log_day(&db, &w, tw, Ok(today), "36.6", "按时返回", today, now_ms())
            .await
            .unwrap();
        assert_eq!(ok.alert_id, None);
        assert_eq!(
            list(&db, &w, &t, TripState::LogDue, "2022-03-12").await,
            [("李秀英".to_owned(), true)]
        );
        // Once a day; not tomorrow; not a reading out of range; nothing stored by a refusal.
        let e = trips::log_day(&db, &w, tw, Ok(today), "36.7", "", today, now_ms())
            .await
            .unwrap_err();
        assert_eq!(fields(e), ["conflict:on"]);
        let e = trips::log_day(
            &db,
            &w,
            tw,
            Ok(date("2022-03-13")),
            "36.7",
            "",
            today,
            now_ms(),
        )
        .await
        .unwrap_err();
        assert_eq!(fields(e), ["on"]);
        let e = trips::log_day(&db, &w, tf, Ok(today), "365", "", today, now_ms())
            .await
            .unwrap_err();
        assert_eq!(fields(e), ["temperature"]);
        assert_eq!(count(&db, "trip_log").await, 1);
        // A fever on coming back raises an alert in the person's node, like a check-in's.
        let hot = trips::log_day(&db, &w, tf, Ok(today), "37.8", "", today, now_ms())
            .await
            .unwrap();
        let alert = hot.alert_id.expect("a fever alert");
        let (kind, person, detail): (String, i64, String) =
            sqlx::query_as("SELECT kind, person_id, detail FROM alert WHERE id = $1")
                .bind(alert)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!((kind.as_str(), person), ("fever", b));
        assert!(
            detail.contains("出山劳作") && detail.contains("37.8"),
            "{detail}"
        );
        // A backdated entry inside the period is fine; the detail reads newest first.
        trips::log_day(
            &db,
            &w,
            tw,
            Ok(date("2022-03-10")),
            "36.4",
            "",
            today,
            now_ms(),
        )
        .await
        .unwrap();
        let d = trips::trip(&db, &w, tw, today).await.unwrap();
        let days: Vec<String> = d.logs.iter().map(|l| l.on.to_string()).collect();
        assert_eq!(days, ["2022-03-12", "2022-03-10"]);
        assert_eq!(d.trip.last_temperature.unwrap().tenths(), 366);
        // The other grid's worker sees neither the trip nor can log it.
        assert!(matches!(
            trips::log_day(
                &db,
                &t.worker_b(),
                tw,
                Ok(today),
                "36.5",
                "",
                today,
                now_ms()
            )
            .await,
            Err(StoreError::NotFound)
        ));
        // A single trip keeps no log.
        let single = trips::add_trip(
            &db,
            &w,
            a,
            &draft("other", "县城", "2022-03-20", None),
            now_ms(),
        )
        .await
        .unwrap();
        let e = trips::log_day(
            &db,
            &w,
            single,
            Ok(date("2022-03-20")),
            "36.5",
            "",
            date("2022-03-20"),
            now_ms(),
        )
        .await
        .unwrap_err();
        assert_eq!(fields(e), ["kind"]);
    }
);

both_backends!(
    visits_to_relatives_follow_the_policy_in_force,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "张三", "53340119800101014").await;
        let w = t.worker_a();
        // Early 2020 measures: visits to relatives stopped; medical visits never are.
        let e = trips::add_trip(
            &db,
            &w,
            a,
            &draft("relatives", "奔子栏镇", "2020-02-03", None),
            now_ms(),
        )
        .await
        .unwrap_err();
        match e {
            StoreError::Invalid(v) => {
                assert_eq!(v[0].field, "kind");
                assert!(
                    v[0].message.contains("社区疫情防控措施（2020 年初）"),
                    "{v:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let medical = trips::add_trip(
            &db,
            &w,
            a,
            &draft("medical", "奔子栏镇卫生院", "2020-02-03", None),
            now_ms(),
        )
        .await
        .unwrap();
        trips::trip_returned(&db, &w, medical, date("2020-02-04"))
            .await
            .unwrap();
        // Under Class B management (2023) the same visit is registered.
        trips::add_trip(
            &db,
            &w,
            a,
            &draft("relatives", "奔子栏镇", "2023-02-03", None),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(count(&db, "trip").await, 2);
    }
);

both_backends!(
    an_organised_trip_is_stored_whole_or_refused_naming_each_person,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "和建国", "53340119800101015").await;
        let b = resident(&db, &t.grid_a, "李秀英", "53340119800101016").await;
        let c = resident(&db, &t.grid_b, "王芳", "53340119800101017").await;
        let q = resident(&db, &t.grid_a, "赵隔离", "53340119800101018").await;
        observe(&db, arrival(q, "420111", "2020-02-01")).await;
        let plan = || draft("local_work", "工业园区", "2020-02-03", Some("2020-02-10"));
        let group = |ids: &[i64]| {
            GroupTripDraft::parse(Ok(plan()), "和师傅 13908870001", "云R12345", ids).unwrap()
        };
        let w = t.worker_a();
        // Someone of another grid and someone under quarantine: both named, nothing stored.
        let e = trips::add_group_trip(
            &db,
            &staff(&t),
            t.grid_a.id,
            &group(&[a, c, q, b]),
            now_ms(),
        )
        .await
        .unwrap_err();
        match e {
            StoreError::Invalid(v) => {
                let got: Vec<(&str, bool)> = v
                    .iter()
                    .map(|e| {
                        (
                            e.field.as_str(),
                            e.message.contains(if e.field.ends_with("[1]") {
                                "王芳不住在甲网格"
                            } else {
                                "赵隔离：此人为集中隔离"
                            }),
                        )
                    })
                    .collect();
                assert_eq!(
                    got,
                    [("person_ids[1]", true), ("person_ids[2]", true)],
                    "{v:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&db, "trip").await, 0);
        assert_eq!(count(&db, "trip_group").await, 0);
        // The other grid's worker cannot send grid A's residents.
        assert!(matches!(
            trips::add_group_trip(&db, &t.worker_b(), t.grid_a.id, &group(&[a]), now_ms()).await,
            Err(StoreError::NotFound)
        ));
        let done = trips::add_group_trip(&db, &w, t.grid_a.id, &group(&[a, b]), now_ms())
            .await
            .unwrap();
        assert_eq!(done.trip_ids.len(), 2);
        let d = trips::trip(&db, &w, done.trip_ids[1], date("2020-02-03"))
            .await
            .unwrap();
        assert_eq!(d.trip.person_name, "李秀英");
        assert_eq!(d.trip.kind, TripKind::LocalWork);
        let g = d.group.unwrap();
        assert_eq!(
            (g.organiser.as_str(), g.vehicle_plate.as_deref(), g.persons),
            ("和师傅 13908870001", Some("云R12345"), 2)
        );
        // Each member's trip keeps its own daily log.
        assert_eq!(
            list(&db, &w, &t, TripState::LogDue, "2020-02-04")
                .await
                .len(),
            2
        );
        let audits: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'trip_group.create'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(audits, 1);
    }
);

both_backends!(
    a_trip_is_refused_in_days_another_trip_still_holds,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "和建国", "53340119800101019").await;
        let b = resident(&db, &t.grid_a, "李秀英", "53340119800101020").await;
        let w = t.worker_a();
        let work = trips::add_trip(
            &db,
            &w,
            a,
            &draft(
                "local_work",
                "城区建筑工地",
                "2022-03-10",
                Some("2022-03-16"),
            ),
            now_ms(),
        )
        .await
        .unwrap();
        // A second local-work period over the first: refused, naming the first; nothing stored.
        let e = trips::add_trip(
            &db,
            &w,
            a,
            &draft("local_work", "工业园区", "2022-03-14", Some("2022-03-20")),
            now_ms(),
        )
        .await
        .unwrap_err();
        match e {
            StoreError::Invalid(v) => {
                assert_eq!(v[0].field, "leave_on");
                assert!(
                    v[0].message
                        .contains("市内务工（2022-03-10 起，至 2022-03-16，尚未登记返回）"),
                    "{v:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&db, "trip").await, 1);
        // The day after the planned period is free; so is the period once they came back early.
        trips::add_trip(
            &db,
            &w,
            a,
            &draft("local_work", "工业园区", "2022-03-17", Some("2022-03-20")),
            now_ms(),
        )
        .await
        .unwrap();
        trips::trip_returned(&db, &w, work, date("2022-03-12"))
            .await
            .unwrap();
        trips::add_trip(
            &db,
            &w,
            a,
            &draft(
                "medical",
                "迪庆州人民医院",
                "2022-03-13",
                Some("2022-03-13"),
            ),
            now_ms(),
        )
        .await
        .unwrap();
        // In a group, the one already away is named and the group refused whole.
        let group = GroupTripDraft::parse(
            Ok(draft(
                "field_work",
                "后山茶园",
                "2022-03-18",
                Some("2022-03-19"),
            )),
            "和师傅",
            "",
            &[b, a],
        )
        .unwrap();
        let e = trips::add_group_trip(&db, &w, t.grid_a.id, &group, now_ms())
            .await
            .unwrap_err();
        match e {
            StoreError::Invalid(v) => {
                assert_eq!(v.len(), 1, "{v:?}");
                assert_eq!(v[0].field, "person_ids[1]");
                assert!(
                    v[0].message.starts_with("和建国：与已有的市内务工"),
                    "{v:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&db, "trip").await, 3);
        assert_eq!(count(&db, "trip_group").await, 0);
    }
);
