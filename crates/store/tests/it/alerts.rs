//! Alert handling and overdue check-in alerts, each on SQLite and on PostgreSQL, with a fixed
//! `now` for the overdue job.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_core::Scope;
use linli_store::epidemic::alerts::{self, AlertOutcome, OverdueRun};
use linli_store::tree::Node;
use linli_store::{both_backends, epidemic, Db, StoreError};

use crate::support::{high_risk_area, op, screening, tree};

/// Unix milliseconds of a China-time instant `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> i64 {
    linli_core::kernel::clock::parse_instant("at", &format!("{}T{}:00+08:00", &s[..10], &s[11..]))
        .unwrap()
}

struct World {
    grid_a: Node,
    worker_a: Scope,
    worker_b: Scope,
    official: Scope,
}

async fn world(db: &Db) -> World {
    let t = tree(db).await;
    high_risk_area(db).await;
    World {
        worker_a: t.worker_a(),
        worker_b: t.worker_b(),
        official: t.official(),
        grid_a: t.grid_a,
    }
}

/// A resident of grid A screened on arrival from a high-risk area on 2022-07-02; returns the
/// arrival's observation and fever alert (when `fever`).
async fn screened(db: &Db, grid: &Node, name: &str, body: &str, fever: bool) -> (i64, Option<i64>) {
    let r = screening(db, grid, name, body, "2022-07-02", fever).await;
    (r.observation_id.unwrap(), r.alert_id)
}

/// Makes the observation look as if it had been opened at `created` (China time) with
/// `per_day` check-ins a day, from 2022-07-02 to 2022-07-08.
async fn opened_at(db: &Db, observation: i64, created: &str, per_day: i64) {
    sqlx::query(
        "UPDATE observation SET created_at = $1, check_ins_per_day = $2, start_on = '2022-07-02', \
         until_on = '2022-07-08' WHERE id = $3",
    )
    .bind(at(created))
    .bind(per_day)
    .bind(observation)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn checkin(db: &Db, observation: i64, when: &str) {
    sqlx::query(
        "INSERT INTO checkin (observation_id, district_id, node_path, at, temperature_tenths, symptoms_json, \
         recorded_by, recorded_at) SELECT id, district_id, node_path, $1, 365, '[]', 'test', $1 FROM observation WHERE id = $2",
    )
    .bind(at(when))
    .bind(observation)
    .execute(db.pool())
    .await
    .unwrap();
}

/// Open overdue alerts: (observation, slot key).
async fn open_overdue(db: &Db) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT observation_id, slot_key FROM alert WHERE kind = 'overdue' AND handled_at IS NULL \
         ORDER BY observation_id, slot_key",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

fn run(raised: usize, closed: usize) -> OverdueRun {
    OverdueRun { raised, closed }
}

both_backends!(
    a_missed_slot_raises_one_overdue_alert_closed_by_a_late_checkin,
    |db: Db| async move {
        let w = world(&db).await;
        let (obs, _) = screened(&db, &w.grid_a, "张三", "53340119850312001", false).await;
        // A second observation opened after noon: the noon slot of its first day is not its own.
        let (late, _) = screened(&db, &w.grid_a, "李四", "53340119900101002", false).await;
        opened_at(&db, obs, "2022-07-02 09:00", 2).await;
        opened_at(&db, late, "2022-07-02 13:00", 2).await;

        // Before noon nothing is due.
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 11:59"))
                .await
                .unwrap(),
            run(0, 0)
        );
        // At 12:30 the first slot is missed: one alert; running again (or elsewhere) adds none.
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 12:30"))
                .await
                .unwrap(),
            run(1, 0)
        );
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 12:31"))
                .await
                .unwrap(),
            run(0, 0)
        );
        assert_eq!(
            open_overdue(&db).await,
            vec![(obs, "2022-07-02#1".to_owned())]
        );
        let alerts = epidemic::open_alerts(&db, &w.worker_a, w.grid_a.id, Some("overdue"))
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].detail.contains("12:00"), "{}", alerts[0].detail);

        // A late check-in at 13:10: the next run closes the alert.
        checkin(&db, obs, "2022-07-02 13:10").await;
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 13:11"))
                .await
                .unwrap(),
            run(0, 1)
        );
        assert!(open_overdue(&db).await.is_empty());
        let outcome: (String, String) =
            sqlx::query_as("SELECT outcome, handled_by FROM alert WHERE kind = 'overdue'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(outcome, ("late_checkin".to_owned(), "system".to_owned()));

        // 20:00: one check-in of two for the first, none for the second (its noon slot was
        // before it existed): one alert each for slot 2.
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 20:05"))
                .await
                .unwrap(),
            run(2, 0)
        );
        assert_eq!(
            open_overdue(&db).await,
            vec![
                (obs, "2022-07-02#2".to_owned()),
                (late, "2022-07-02#2".to_owned())
            ]
        );

        // Handled by hand; the job never raises that slot again, and the next day counts anew.
        let handled = open_alerts_ids(&db, &w, obs).await;
        alerts::handle(
            &db,
            &w.worker_a,
            handled,
            "contacted",
            Some("电话联系，体温正常"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-02 20:30"))
                .await
                .unwrap(),
            run(0, 0)
        );
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-03 12:01"))
                .await
                .unwrap(),
            run(2, 0)
        );

        // Two servers at once raise each slot once.
        let (a, b) = tokio::join!(
            alerts::raise_overdue(&db, at("2022-07-03 20:01")),
            alerts::raise_overdue(&db, at("2022-07-03 20:01"))
        );
        let total = a.map(|r| r.raised).unwrap_or(0) + b.map(|r| r.raised).unwrap_or(0);
        assert_eq!(total, 2, "slot 2 of 07-03 once for each observation");

        // Released observations are left alone.
        epidemic::release(
            &db,
            &op(),
            &[obs, late],
            parse_date("d", "2022-07-08").unwrap(),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(
            alerts::raise_overdue(&db, at("2022-07-04 21:00"))
                .await
                .unwrap(),
            run(0, 0)
        );
    }
);

/// The id of the open overdue alert of an observation, as grid A's worker lists it.
async fn open_alerts_ids(db: &Db, w: &World, obs: i64) -> i64 {
    epidemic::open_alerts(db, &w.worker_a, w.grid_a.id, Some("overdue"))
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.observation_id == Some(obs))
        .unwrap()
        .id
}

both_backends!(
    a_fever_alert_is_handled_once_with_an_outcome_in_scope,
    |db: Db| async move {
        let w = world(&db).await;
        let (_, alert) = screened(&db, &w.grid_a, "王五", "53340119900815002", true).await;
        let alert = alert.unwrap();

        // Another grid's worker: not found; an official: may not; a wrong outcome: named.
        assert!(matches!(
            alerts::handle(&db, &w.worker_b, alert, "excluded", None, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            alerts::handle(&db, &w.official, alert, "excluded", None, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        for bad in ["contacted", "late_checkin", "cured"] {
            let e = alerts::handle(&db, &w.worker_a, alert, bad, None, now_ms())
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::Invalid(ref v) if v[0].field == "outcome"),
                "{bad}: {e:?}"
            );
        }
        assert!(matches!(
            alerts::handle(&db, &w.worker_a, 999_999, "excluded", None, now_ms()).await,
            Err(StoreError::NotFound)
        ));

        let h = alerts::handle(
            &db,
            &w.worker_a,
            alert,
            "observing",
            Some("县医院发热门诊留观"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(h.outcome, AlertOutcome::Observing);
        assert_eq!(h.handled_by, "worker_a");
        assert!(
            epidemic::open_alerts(&db, &w.worker_a, w.grid_a.id, Some("fever"))
                .await
                .unwrap()
                .is_empty()
        );
        let stored: (String, String) =
            sqlx::query_as("SELECT outcome, outcome_note FROM alert WHERE id = $1")
                .bind(alert)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(
            stored,
            ("observing".to_owned(), "县医院发热门诊留观".to_owned())
        );
        // Twice: a clean conflict, the first outcome kept.
        let e = alerts::handle(&db, &w.worker_a, alert, "excluded", None, now_ms())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
        let audited = crate::support::audited(&db, "alert.handle").await;
        assert_eq!(audited.len(), 1);
    }
);
