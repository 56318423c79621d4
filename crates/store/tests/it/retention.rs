//! The retention job on SQLite and on PostgreSQL with a fixed `today`: records of a released
//! observation are anonymised once their purge date has passed (personal link and free text
//! gone, counts kept), open ones never, and a second run changes nothing.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_store::epidemic::retention::{self, RetentionRun};
use linli_store::{both_backends, epidemic, epidemic::dashboard, Db};

use crate::support::{exec, high_risk_area, node, op, screened};

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
