//! The list of people under observation (正在观察), at a fixed day: day N of M, the day's
//! check-ins against the quota, the last temperature and open alerts, where each person lives,
//! the filters, and the caller's scope.

use linli_core::epidemic::policy::{Measure, Temperature};
use linli_core::kernel::clock::{now_ms, parse_instant};
use linli_store::epidemic::observations::{self, ObservationFilter};
use linli_store::epidemic::{self, CheckinInput};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, StoreError};

use crate::support::{arrival, date, node, observe, op, registered, tree};

/// A person at `at` under home quarantine from 2020-02-01 to 2020-02-14 (the 2020 preset, an
/// arrival from another province); the observation.
async fn observed(db: &Db, at: &Node, name: &str, body: &str) -> i64 {
    let person = registered(db, at, name, body, None).await;
    observe(db, arrival(person, "110101", "2020-02-01")).await
}

async fn check_in(db: &Db, observation: i64, at: &str, t: &str) {
    epidemic::add_checkin(
        db,
        &op(),
        observation,
        &CheckinInput {
            at: parse_instant("at", at).unwrap(),
            temperature: Some(Temperature::parse(t).unwrap()),
            symptoms: Vec::new(),
        },
        now_ms(),
    )
    .await
    .unwrap();
}

both_backends!(
    the_list_follows_each_person_day_by_day,
    |db: Db| async move {
        let t = tree(&db).await;
        let building = node(&db, Some(t.grid_a.id), "building", "3栋", None).await;
        let zhang = observed(&db, &building, "张一", "53340119800101001").await;
        let li = observed(&db, &t.grid_a, "李二", "53340119800101002").await;
        let wang = observed(&db, &t.grid_b, "王三", "53340119800101003").await;
        // 张一 reports twice on 2020-02-03 (the second a fever, which raises an alert); 李二
        // once; 王三 not at all.
        check_in(&db, zhang, "2020-02-03T08:00:00+08:00", "36.6").await;
        check_in(&db, zhang, "2020-02-03T18:00:00+08:00", "37.6").await;
        check_in(&db, li, "2020-02-03T09:00:00+08:00", "36.4").await;
        let on = date("2020-02-03");
        let list = |scope: linli_core::Scope, node: i64, filter: ObservationFilter| {
            let db = db.clone();
            async move { observations::under_observation(&db, &scope, node, &filter, on, 100, 0).await }
        };

        let all = list(op(), t.community.id, ObservationFilter::default())
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        let names: Vec<&str> = all.items.iter().map(|o| o.person_name.as_str()).collect();
        // Ordered by where they live: grid A (李二), its building (张一), then grid B.
        assert_eq!(names, ["李二", "张一", "王三"]);
        let z = &all.items[1];
        assert_eq!((z.day, z.days), (3, 14));
        assert_eq!(z.measure, Measure::HomeQuarantine);
        assert_eq!(z.until, date("2020-02-14"));
        assert_eq!((z.checkins_done, z.checkins_due), (2, 2));
        assert!(!z.owes_checkins());
        assert_eq!(
            z.last_temperature.map(|t| t.to_string()).as_deref(),
            Some("37.6℃")
        );
        assert_eq!(z.open_alerts, 1, "the fever");
        assert_eq!(
            (z.node_name.as_str(), z.parent_name.as_deref()),
            ("3栋", Some("甲网格"))
        );
        let l = &all.items[0];
        assert_eq!(
            (l.checkins_done, l.last_temperature.map(|t| t.tenths())),
            (1, Some(364))
        );
        assert!(l.owes_checkins());
        assert_eq!(
            (all.items[2].checkins_done, all.items[2].last_temperature),
            (0, None)
        );

        // Not yet reported in full today: 李二 and 王三.
        let pending = ObservationFilter {
            pending: true,
            ..ObservationFilter::default()
        };
        let p = list(op(), t.community.id, pending.clone()).await.unwrap();
        let names: Vec<&str> = p.items.iter().map(|o| o.person_name.as_str()).collect();
        assert_eq!((p.total, names), (2, vec!["李二", "王三"]));
        // A name prefix, with LIKE's wildcards taken literally.
        let by_name = |q: &str| ObservationFilter {
            q: Some(q.into()),
            ..ObservationFilter::default()
        };
        assert_eq!(
            list(op(), t.community.id, by_name("张"))
                .await
                .unwrap()
                .total,
            1
        );
        assert_eq!(
            list(op(), t.community.id, by_name("%"))
                .await
                .unwrap()
                .total,
            0
        );
        // Ending today: nobody on the 3rd; everyone on the 14th (and after, until released).
        let ending = ObservationFilter {
            ending: true,
            ..ObservationFilter::default()
        };
        assert_eq!(
            list(op(), t.community.id, ending.clone())
                .await
                .unwrap()
                .total,
            0
        );
        let late = observations::under_observation(
            &db,
            &op(),
            t.community.id,
            &ending,
            date("2020-02-20"),
            100,
            0,
        )
        .await
        .unwrap();
        assert_eq!(late.total, 3);
        assert!(late.items.iter().all(|o| (o.day, o.days) == (14, 14)));
        // After the period nothing is due, so nobody owes check-ins.
        assert!(late
            .items
            .iter()
            .all(|o| o.checkins_due == 0 && !o.owes_checkins()));
        let owing_late = observations::under_observation(
            &db,
            &op(),
            t.community.id,
            &pending,
            date("2020-02-20"),
            100,
            0,
        )
        .await
        .unwrap();
        assert_eq!(owing_late.total, 0);
        let centralized = ObservationFilter {
            measure: Some(Measure::CentralizedQuarantine),
            ..ObservationFilter::default()
        };
        assert_eq!(
            list(op(), t.community.id, centralized).await.unwrap().total,
            0
        );

        // Paging: the total stays, the page is cut.
        let first = observations::under_observation(
            &db,
            &op(),
            t.community.id,
            &ObservationFilter::default(),
            on,
            2,
            2,
        )
        .await
        .unwrap();
        assert_eq!((first.total, first.items.len()), (3, 1));
        assert_eq!(first.items[0].person_name, "王三");

        // Scope: grid A's worker sees grid A's two and never grid B.
        let a = list(t.worker_a(), t.grid_a.id, ObservationFilter::default())
            .await
            .unwrap();
        assert_eq!(a.total, 2);
        assert!(matches!(
            list(t.worker_a(), t.grid_b.id, ObservationFilter::default()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            list(t.worker_a(), t.community.id, ObservationFilter::default()).await,
            Err(StoreError::NotFound)
        ));

        // A released person leaves the list.
        epidemic::release(&db, &op(), &[wang], date("2020-02-14"), now_ms())
            .await
            .unwrap();
        assert_eq!(
            list(op(), t.community.id, ObservationFilter::default())
                .await
                .unwrap()
                .total,
            2
        );
    }
);

both_backends!(
    the_pending_filter_counts_any_day_right,
    |db: Db| async move {
        let t = tree(&db).await;
        let zhang = observed(&db, &t.grid_a, "张一", "53340119800101001").await;
        let li = observed(&db, &t.grid_a, "李二", "53340119800101002").await;
        // Twice a day is due. 张一: both on the 3rd, one on the 4th. 李二: one on the 3rd, then
        // one entered late for the 2nd (the kept count is the 3rd's, and stays so).
        check_in(&db, zhang, "2020-02-03T08:00:00+08:00", "36.6").await;
        check_in(&db, zhang, "2020-02-03T18:00:00+08:00", "36.5").await;
        check_in(&db, zhang, "2020-02-04T08:00:00+08:00", "36.5").await;
        check_in(&db, li, "2020-02-03T23:59:59+08:00", "36.4").await;
        check_in(&db, li, "2020-02-02T00:00:00+08:00", "36.4").await;
        let pending = ObservationFilter {
            pending: true,
            ..ObservationFilter::default()
        };
        for (day, owing) in [
            ("2020-02-02", vec!["张一", "李二"]),
            ("2020-02-03", vec!["李二"]),
            ("2020-02-04", vec!["张一", "李二"]),
            ("2020-02-05", vec!["张一", "李二"]),
        ] {
            let p = observations::under_observation(
                &db,
                &op(),
                t.community.id,
                &pending,
                date(day),
                100,
                0,
            )
            .await
            .unwrap();
            let names: Vec<&str> = p.items.iter().map(|o| o.person_name.as_str()).collect();
            assert_eq!((p.total as usize, names), (owing.len(), owing), "{day}");
        }
        let (day, n): (Option<i64>, i64) = sqlx::query_as(
            "SELECT last_checkin_day, last_day_checkins FROM observation WHERE id = $1",
        )
        .bind(li)
        .fetch_one(db.pool())
        .await
        .unwrap();
        let third = linli_core::kernel::clock::day_start_ms(date("2020-02-03"));
        assert_eq!((day, n), (Some(third), 1));
    }
);
