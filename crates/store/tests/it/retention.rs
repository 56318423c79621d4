//! The retention job on SQLite and on PostgreSQL with a fixed `today`: records of a released
//! observation are anonymised once their purge date has passed (personal link and free text
//! gone, counts kept), open ones never, and a second run changes nothing.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_store::epidemic::retention::{self, RetentionRun};
use linli_store::{both_backends, epidemic, epidemic::dashboard, Db};

use crate::support::{exec, high_risk_area, node, op, resident, screened, tree};

async fn person_links(db: &Db) -> (i64, i64) {
    let r = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM arrival WHERE person_id IS NOT NULL), \
         (SELECT COUNT(*) FROM observation WHERE person_id IS NOT NULL)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    use sqlx::Row;
    (r.try_get(0).unwrap(), r.try_get(1).unwrap())
}

both_backends!(
    released_records_are_anonymised_after_retention_and_still_counted,
    |db: Db| async move {
        let d = node(&db, None, "district", "香格里拉市", Some("533401")).await;
        let community = node(
            &db,
            Some(d.id),
            "community",
            "里布嘎社区",
            Some("533401100003"),
        )
        .await;
        let grid = node(&db, Some(community.id), "grid", "甲网格", None).await;
        high_risk_area(&db).await;
        let released = screened(&db, &grid, "张三", "53340119850312001", "2022-07-02", false).await;
        let open = screened(&db, &grid, "李四", "53340119900101002", "2022-07-02", false).await;
        epidemic::release(
            &db,
            &op(),
            &[released],
            parse_date("d", "2022-07-08").unwrap(),
            now_ms(),
        )
        .await
        .unwrap();
        exec(
            &db,
            "INSERT INTO checkin (observation_id, district_id, node_path, at, temperature_tenths, symptoms_json, \
             recorded_by, recorded_at) SELECT id, district_id, node_path, 0, 365, '[\"咳嗽\"]', 't', 0 FROM observation WHERE id = $1",
            released,
        )
        .await;
        assert_eq!(person_links(&db).await, (2, 2));

        // Released on 07-08 with 30 days: kept through 08-07, anonymised from 08-08 on.
        let run =
            retention::anonymise_due(&db, parse_date("d", "2022-08-07").unwrap(), 30, now_ms())
                .await
                .unwrap();
        assert_eq!(run, RetentionRun::default(), "nothing due yet");
        let run =
            retention::anonymise_due(&db, parse_date("d", "2022-08-08").unwrap(), 30, now_ms())
                .await
                .unwrap();
        assert_eq!((run.arrivals, run.observations, run.checkins), (1, 1, 1));
        assert_eq!(
            person_links(&db).await,
            (1, 1),
            "the open observation keeps its person"
        );
        let obs: (Option<i64>, String, String) =
            sqlx::query_as("SELECT person_id, measure, start_on FROM observation WHERE id = $1")
                .bind(released)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(obs.0, None);
        assert_eq!(obs.2, "2022-07-02", "dates and measure stay");
        let sym: String = sqlx::query_scalar("SELECT symptoms_json FROM checkin")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(sym, "[]");
        // Idempotent: again, nothing; years later the open one is still not touched.
        let again =
            retention::anonymise_due(&db, parse_date("d", "2030-01-01").unwrap(), 30, now_ms())
                .await
                .unwrap();
        assert_eq!(again, RetentionRun::default());
        let _ = open;
        // Still counted: the arrivals of 07-02 are both on the dashboard of that day.
        let dash = dashboard::epidemic_dashboard(
            &db,
            &op(),
            community.id,
            parse_date("d", "2022-07-02").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(dash.total.arrivals_today, 2);
        // One audit entry for the run that changed something.
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'retention.anonymise'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(n, 1);
    }
);

both_backends!(
    trips_are_anonymised_once_over_for_the_retention_period,
    |db: Db| async move {
        use linli_core::epidemic::trips::{GroupTripDraft, TripDraft};
        use linli_store::epidemic::trips;
        let d = |s: &str| parse_date("d", s).unwrap();
        let plan = |kind: &str, dest: &str, leave: &str, back: Option<&str>| {
            TripDraft::parse(kind, dest, Ok(d(leave)), back.map(|b| Ok(d(b))), true).unwrap()
        };
        let t = tree(&db).await;
        let w = t.worker_a();
        let a = resident(&db, &t.grid_a, "和建国", "53340119800101031").await;
        let b = resident(&db, &t.grid_a, "李秀英", "53340119800101032").await;
        let c = resident(&db, &t.grid_a, "王芳", "53340119800101033").await;
        let work = trips::add_trip(
            &db,
            &w,
            a,
            &plan(
                "local_work",
                "城区建筑工地",
                "2022-07-01",
                Some("2022-07-09"),
            ),
            now_ms(),
        )
        .await
        .unwrap();
        let today = d("2022-07-02");
        trips::log_day(
            &db,
            &w,
            work,
            Ok(today),
            "36.6",
            "下午三点返回",
            today,
            now_ms(),
        )
        .await
        .unwrap();
        trips::trip_returned(&db, &w, work, d("2022-07-05"))
            .await
            .unwrap();
        let open = trips::add_trip(
            &db,
            &w,
            b,
            &plan("other", "昆明市", "2022-07-01", None),
            now_ms(),
        )
        .await
        .unwrap();
        let group = GroupTripDraft::parse(
            Ok(plan(
                "medical",
                "迪庆州人民医院",
                "2022-07-02",
                Some("2022-07-03"),
            )),
            "和师傅 13908870001",
            "云R12345",
            &[c],
        )
        .unwrap();
        trips::add_group_trip(&db, &w, t.grid_a.id, &group, now_ms())
            .await
            .unwrap();

        // Planned back on 07-03, never logged back: kept 30 days after, gone from 08-03 on.
        let run = retention::anonymise_due(&db, d("2022-08-02"), 30, now_ms())
            .await
            .unwrap();
        assert_eq!(run, RetentionRun::default(), "nothing due yet");
        let run = retention::anonymise_due(&db, d("2022-08-03"), 30, now_ms())
            .await
            .unwrap();
        assert_eq!((run.trips, run.trip_groups), (1, 1));
        let g: (String, Option<String>) =
            sqlx::query_as("SELECT organiser, vehicle_plate FROM trip_group")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(g, ("已匿名".to_owned(), None));
        // Back on 07-05 (the day counts, not the plan of 07-09): gone from 08-05 on.
        let run = retention::anonymise_due(&db, d("2022-08-05"), 30, now_ms())
            .await
            .unwrap();
        assert_eq!((run.trips, run.trip_groups), (1, 0));
        let row: (Option<i64>, String, String) =
            sqlx::query_as("SELECT person_id, destination, kind FROM trip WHERE id = $1")
                .bind(work)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(row, (None, "已匿名".to_owned(), "local_work".to_owned()));
        let log: (Option<String>, i64) =
            sqlx::query_as("SELECT note, temperature_tenths FROM trip_log")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(
            log,
            (Some("已匿名".to_owned()), 366),
            "the reading stays, the note goes"
        );
        // Still out with no last day: never due; a second run changes nothing.
        let again = retention::anonymise_due(&db, d("2030-01-01"), 30, now_ms())
            .await
            .unwrap();
        assert_eq!(again, RetentionRun::default());
        let kept: Option<i64> = sqlx::query_scalar("SELECT person_id FROM trip WHERE id = $1")
            .bind(open)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(kept, Some(b));
    }
);
