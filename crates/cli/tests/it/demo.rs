//! `linli demo --small`: residents and a history of January–February 2020 that the store's own
//! figures see — on SQLite, and on PostgreSQL when `LINLI_TEST_PG_URL` is set.

use linli_core::Scope;
use linli_store::epidemic::dashboard::epidemic_dashboard;
use linli_store::testing::TestDb;
use time::macros::date;

use crate::cli::{binary_url, linli, ok};

async fn count(t: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(t.db.pool())
        .await
        .unwrap()
}

/// What a seed built: every person, arrival and check-in, in order (for determinism).
async fn fingerprint(t: &TestDb) -> Vec<String> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, COALESCE(birth_date, '') FROM person ORDER BY id")
            .fetch_all(t.db.pool())
            .await
            .unwrap();
    let arrivals: Vec<(String, String)> =
        sqlx::query_as("SELECT origin_code, arrived_on FROM arrival ORDER BY id")
            .fetch_all(t.db.pool())
            .await
            .unwrap();
    rows.into_iter()
        .chain(arrivals)
        .map(|(a, b)| format!("{a} {b}"))
        .collect()
}

async fn small_demo(t: TestDb, url: Option<String>) {
    let out = ok(&linli(
        &t.dir,
        url.as_deref(),
        &["demo", "--small", "--password", "demo-pass-2020"],
    ));
    assert!(out.contains("History of January–February 2020"), "{out}");
    let persons = count(&t, "SELECT COUNT(*) FROM person").await;
    assert!((150..=600).contains(&persons), "{persons} persons");
    assert!(count(&t, "SELECT COUNT(*) FROM household").await > 50);
    assert!(count(&t, "SELECT COUNT(*) FROM arrival").await > 20);
    assert!(count(&t, "SELECT COUNT(*) FROM observation").await > 20);
    assert!(count(&t, "SELECT COUNT(*) FROM checkin").await > 300);
    assert!(
        count(
            &t,
            "SELECT COUNT(*) FROM alert WHERE handled_at IS NOT NULL"
        )
        .await
            > 0
    );
    // The history runs on until every quarantine is over: nothing is left open today.
    let open = "SELECT COUNT(*) FROM alert WHERE handled_at IS NULL";
    assert_eq!(count(&t, open).await, 0);
    let observed = "SELECT COUNT(*) FROM observation WHERE released_on IS NULL";
    assert_eq!(count(&t, observed).await, 0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM epi_case").await, 1);
    assert!(count(&t, "SELECT COUNT(*) FROM gate_scan").await > 20);
    assert!(count(&t, "SELECT COUNT(*) FROM trip").await > 0);
    assert!(count(&t, "SELECT COUNT(*) FROM report_submission").await > 20);
    // Centralised quarantine had rooms: the Hubei arrivals stayed in them.
    assert!(count(&t, "SELECT COUNT(*) FROM quarantine_room").await >= 20);
    assert!(count(&t, "SELECT COUNT(*) FROM quarantine_stay").await > 0);
    // Workers in posts: the four printed accounts and one per grid besides.
    assert!(
        count(
            &t,
            "SELECT COUNT(*) FROM app_user WHERE role = 'grid_worker'"
        )
        .await
            >= 28
    );
    assert!(out.contains("workers in posts"), "{out}");
    // The month's work, done by the workers in their posts: every request received was
    // dispatched, handled and is closed by now, by the grid's worker.
    let requests = count(&t, "SELECT COUNT(*) FROM request").await;
    assert!(requests >= 20, "{requests} requests");
    let done = "SELECT COUNT(*) FROM request WHERE status = 'closed'";
    assert_eq!(count(&t, done).await, requests);
    let by_workers = "SELECT COUNT(*) FROM request_event WHERE kind = 'resolved' \
         AND actor IN (SELECT username FROM app_user WHERE role = 'grid_worker')";
    assert_eq!(count(&t, by_workers).await, requests);
    assert!(count(&t, "SELECT COUNT(*) FROM supply_ledger").await > 40);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM supply_request").await, 1);
    assert!(count(&t, "SELECT COUNT(*) FROM reopening").await >= 5);

    // The community's dashboard on a day of the outbreak counts that day's arrivals, and so
    // does the row of the grid they live in.
    let op = Scope::operator();
    let community =
        linli_store::tree::find_by_names(&t.db, &op, &["香格里拉市", "建塘镇", "里布嘎社区"])
            .await
            .unwrap()
            .unwrap();
    let d = epidemic_dashboard(&t.db, &op, community.id, date!(2020 - 02 - 10))
        .await
        .unwrap();
    assert!(d.total.arrivals_today > 0, "{:?}", d.total);
    assert!(
        d.children.iter().any(|c| c.figures.arrivals_today > 0),
        "{:?}",
        d.children
    );
    // That day's daily report was submitted and approved with the day's figures.
    let r = linli_store::reports::report(
        &t.db,
        &op,
        linli_core::reports::EPIDEMIC_DAILY,
        community.id,
        date!(2020 - 02 - 10),
    )
    .await
    .unwrap();
    assert!(r.approved_at.is_some(), "{:?}", r.status);
    let number = |key: &str| match r.values.get(key) {
        Some(Some(linli_core::reports::ManualValue::Number(n))) => *n,
        other => panic!("{key}: {other:?}"),
    };
    assert!(number("arrivals_new") > 0);
    assert!(number("under_centralized_quarantine") + number("under_home_quarantine") > 0);
    // The street reported its roll-up and the district approved it; its rows add up.
    let street = linli_store::tree::get(&t.db, &op, community.parent_id.unwrap())
        .await
        .unwrap();
    let s = linli_store::reports::report(
        &t.db,
        &op,
        linli_core::reports::EPIDEMIC_DAILY,
        street.id,
        date!(2020 - 02 - 10),
    )
    .await
    .unwrap();
    assert_eq!(s.status, linli_core::reports::Status::Approved);
    let rows: i64 = s
        .lines()
        .iter()
        .map(|l| match l.values.get("arrivals_new") {
            Some(Some(linli_core::reports::ManualValue::Number(n))) => *n,
            _ => 0,
        })
        .sum();
    assert_eq!(
        rows,
        number("arrivals_new"),
        "one community: the street's rows"
    );

    // Running it again keeps everything as it is.
    let again = ok(&linli(
        &t.dir,
        url.as_deref(),
        &["demo", "--small", "--password", "demo-pass-2021"],
    ));
    assert!(again.contains("exists already"), "{again}");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM person").await, persons);
    t.finish().await;
}

#[tokio::test]
async fn the_small_demo_has_residents_and_a_history_on_sqlite() {
    small_demo(TestDb::sqlite().await, None).await;
}

#[tokio::test]
#[cfg_attr(
    not(linli_pg),
    ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
)]
async fn the_small_demo_has_residents_and_a_history_on_postgres() {
    let t = TestDb::postgres().await;
    let url = binary_url(&t);
    small_demo(t, Some(url)).await;
}

#[tokio::test]
async fn the_same_seed_builds_the_same_demo() {
    let (a, b, c) = (
        TestDb::sqlite().await,
        TestDb::sqlite().await,
        TestDb::sqlite().await,
    );
    for (t, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        ok(&linli(
            &t.dir,
            None,
            &[
                "demo",
                "--small",
                "--seed",
                seed,
                "--password",
                "demo-pass-2020",
            ],
        ));
    }
    let (fa, fb, fc) = (
        fingerprint(&a).await,
        fingerprint(&b).await,
        fingerprint(&c).await,
    );
    assert_eq!(fa, fb);
    assert_ne!(fa, fc);
    for t in [a, b, c] {
        t.finish().await;
    }
}
