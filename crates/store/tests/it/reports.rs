//! Daily report store tests, each on SQLite and on PostgreSQL: computed values counted from the
//! records, the zero-report rule, approval up the tree and the lock, completeness and
//! timeliness, reminders, scope, and a property test on generated trees (a parent equals the sum
//! of its children plus its own direct records; manual numbers roll up).

use linli_core::kernel::clock::now_ms;
use std::collections::BTreeMap;

use linli_core::reports::mapping::{Mapping, HEALTH_BUREAU_DAILY};
use linli_core::reports::{ManualValue, NodeRole, Status, Template, Timeliness, EPIDEMIC_DAILY};
use linli_core::{Role, Scope};
use linli_store::reports::{self, mappings, Report, SubmitInput};
use linli_store::tree::{self, Node};
use linli_store::{both_backends, Db, StoreError};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::support::{audited, date, node_opened, op, street_tree, Street};

const DAY: &str = "2022-07-02";

/// Every node of these tests opens on this day, well before any report day.
const OPENED_ON: &str = "2020-01-01";

fn day() -> time::Date {
    date(DAY)
}

/// Creates a node as the operator, opened on [`OPENED_ON`].
async fn node(db: &Db, parent: Option<i64>, kind: &str, name: &str, code: Option<&str>) -> Node {
    node_opened(db, parent, kind, name, code, Some(OPENED_ON)).await
}

// Records are written straight into their tables, so each test controls exactly what the day
// holds (the screening and alert paths have their own tests).

async fn arrival(db: &Db, at: &Node, on: &str) {
    sqlx::query(
        "INSERT INTO arrival (node_id, district_id, node_path, origin_code, arrived_on, source, status, measure, \
         explanation, created_at, created_by) VALUES ($1, $2, $3, '420111', $4, 'worker', 'confirmed', \
         'home_quarantine', '', 0, 't')",
    )
    .bind(at.id)
    .bind(at.path.root_id())
    .bind(at.path.as_str())
    .bind(on)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn observation(db: &Db, at: &Node, measure: &str, start: &str, released: Option<&str>) {
    sqlx::query(
        "INSERT INTO observation (district_id, node_path, measure, stages_json, start_on, until_on, \
         check_ins_per_day, released_on, created_at) VALUES ($1, $2, $3, '[]', $4, '2022-07-20', 1, $5, 0)",
    )
    .bind(at.path.root_id())
    .bind(at.path.as_str())
    .bind(measure)
    .bind(start)
    .bind(released)
    .execute(db.pool())
    .await
    .unwrap();
}

/// Milliseconds of `hh:mm` China time on `on`.
fn at(on: &str, hh: i64, mm: i64) -> i64 {
    linli_core::kernel::clock::day_bounds(date(on)).0 + (hh * 60 + mm) * 60_000
}

async fn alert(db: &Db, at_node: &Node, kind: &str, raised: i64, handled: Option<i64>) {
    sqlx::query(
        "INSERT INTO alert (kind, district_id, node_path, raised_at, detail, handled_at) \
         VALUES ($1, $2, $3, $4, '', $5)",
    )
    .bind(kind)
    .bind(at_node.path.root_id())
    .bind(at_node.path.as_str())
    .bind(raised)
    .bind(handled)
    .execute(db.pool())
    .await
    .unwrap();
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn reopening(db: &Db, at_node: &Node, decided: i64, status: &str) {
    let row: (i64,) = sqlx::query_as(
        "INSERT INTO enterprise (node_id, district_id, node_path, name, kind, link_token_hash, created_at, \
         created_by, updated_at) VALUES ($1, $2, $3, '饭店', 'individual', $4, 0, 't', 0) RETURNING id",
    )
    .bind(at_node.id)
    .bind(at_node.path.root_id())
    .bind(at_node.path.as_str())
    .bind(format!("h{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
    .fetch_one(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO reopening (enterprise_id, district_id, node_path, status, thermometers, disinfection, masks, \
         staff_registration, channel, submitted_at, submitted_by, decided_at) \
         VALUES ($1, $2, $3, $4, 1, 1, 1, 1, 'staff', 0, 't', $5)",
    )
    .bind(row.0)
    .bind(at_node.path.root_id())
    .bind(at_node.path.as_str())
    .bind(status)
    .bind(decided)
    .execute(db.pool())
    .await
    .unwrap();
}

fn number(v: Option<&Option<ManualValue>>) -> i64 {
    match v {
        Some(Some(ManualValue::Number(n))) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

/// A number or nothing (a manual value not reported) as 0.
/// The sum of indicator `key` over a report's rows (children and 本级直属).
fn line_sum(r: &Report, key: &str) -> i64 {
    r.lines().iter().map(|l| number0(l.values.get(key))).sum()
}

fn number0(v: Option<&Option<ManualValue>>) -> i64 {
    match v {
        Some(None) => 0,
        other => number(other),
    }
}

fn manual(pairs: &[(&str, &str)], zero: bool) -> SubmitInput {
    SubmitInput {
        manual: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        zero,
    }
}

/// `who` submits `at`'s daily epidemic report for [`DAY`] with these manual values (see
/// [`manual`]).
async fn submit(
    db: &Db,
    who: &Scope,
    at: &Node,
    pairs: &[(&str, &str)],
    zero: bool,
) -> Result<Report, StoreError> {
    let input = manual(pairs, zero);
    reports::submit(db, who, EPIDEMIC_DAILY, at.id, day(), &input, now_ms()).await
}

/// The staff of `at` submit its report (see [`submit`]).
async fn staff_submit(db: &Db, at: &Node, pairs: &[(&str, &str)], zero: bool) -> Report {
    submit(db, &staff(at), at, pairs, zero).await.unwrap()
}

/// `who` approves `at`'s daily epidemic report for [`DAY`].
async fn approve(db: &Db, who: &Scope, at: &Node) -> Result<Report, StoreError> {
    reports::approve(db, who, EPIDEMIC_DAILY, at.id, day(), now_ms()).await
}

/// `at`'s daily epidemic report for [`DAY`] as `who` reads it.
async fn report(db: &Db, who: &Scope, at: &Node) -> Result<Report, StoreError> {
    reports::report(db, who, EPIDEMIC_DAILY, at.id, day()).await
}

/// The [`Street`] tree, every node opened on [`OPENED_ON`].
async fn world(db: &Db) -> Street {
    street_tree(db, Some(OPENED_ON)).await
}

fn staff(n: &Node) -> Scope {
    Scope::for_user(2, "staff", Role::Staff, vec![n.path.clone()])
}

fn official(n: &Node) -> Scope {
    Scope::for_user(3, "official", Role::Official, vec![n.path.clone()])
}

both_backends!(the_preset_is_stored_as_version_one, |db: Db| async move {
    let all = reports::templates(&db, &op()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].template, Template::epidemic_daily());
    assert_eq!(all[0].effective_from, "2020-01-20");
    assert!(matches!(
        reports::template_on(&db, EPIDEMIC_DAILY, date("2019-12-31")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        reports::template_on(&db, "no-such", day()).await,
        Err(StoreError::NotFound)
    ));
    // A new version applies from its date on; earlier dates keep version 1.
    let mut t = Template::epidemic_daily();
    t.indicators.pop();
    let from = today() + time::Duration::days(10);
    let v2 = reports::publish_template(&db, &op(), &t, from, now_ms())
        .await
        .unwrap();
    assert_eq!(v2.template.version, 2);
    let on = |d: time::Date| {
        let db = db.clone();
        async move {
            reports::template_on(&db, EPIDEMIC_DAILY, d)
                .await
                .unwrap()
                .template
                .version
        }
    };
    assert_eq!(on(from - time::Duration::days(1)).await, 1);
    assert_eq!(on(from).await, 2);
    assert_eq!(on(day()).await, 1, "a past day keeps its version");
    assert!(matches!(
        reports::publish_template(&db, &official(&world(&db).await.street), &t, from, now_ms())
            .await,
        Err(StoreError::Forbidden(_))
    ));
});

fn today() -> time::Date {
    linli_core::kernel::clock::today()
}

fn fields(e: StoreError) -> Vec<(String, String)> {
    match e {
        StoreError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("not invalid: {other:?}"),
    }
}

both_backends!(
    an_edited_template_is_a_new_version_from_today_on,
    |db: Db| async move {
        // The editor's changes: a new deadline, a renamed indicator, one manual number added.
        let mut t = Template::epidemic_daily();
        t.deadline = linli_core::reports::Deadline::parse("15:30").unwrap();
        t.indicators[0].label = "新增来返人员".into();
        t.indicators.push(linli_core::reports::Indicator::manual(
            "volunteers",
            "在岗志愿者",
            "人",
            linli_core::reports::ManualKind::Number,
        ));
        // In the past: refused, naming the field; nothing stored.
        let e =
            reports::publish_template(&db, &op(), &t, today() - time::Duration::days(1), now_ms())
                .await
                .unwrap_err();
        let got = fields(e);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "effective_from");
        assert!(got[0].1.contains("不能早于今天"), "{}", got[0].1);
        // Every broken rule at once: a bad indicator and a past date.
        let mut bad = t.clone();
        bad.indicators[1].label = " ".into();
        bad.name = String::new();
        let e = reports::publish_template(&db, &op(), &bad, date("2021-01-01"), now_ms())
            .await
            .unwrap_err();
        let names: Vec<String> = fields(e).into_iter().map(|(f, _)| f).collect();
        assert_eq!(names, vec!["name", "indicators[1].label", "effective_from"]);
        assert_eq!(
            reports::template_versions(&db, &op()).await.unwrap().len(),
            1,
            "nothing stored"
        );

        // Today is fine: today's report follows the new version at once.
        let v2 = reports::publish_template(&db, &op(), &t, today(), now_ms())
            .await
            .unwrap();
        assert_eq!(v2.template.version, 2);
        assert_eq!(v2.created_by, op().actor());
        let now = reports::template_on(&db, EPIDEMIC_DAILY, today())
            .await
            .unwrap();
        assert_eq!(now.template.deadline.to_string(), "15:30");
        assert_eq!(now.template.indicators.last().unwrap().key, "volunteers");
        // A version dated before the newest one is refused (versions apply in order).
        let later = today() + time::Duration::days(5);
        reports::publish_template(&db, &op(), &t, later, now_ms())
            .await
            .unwrap();
        let e =
            reports::publish_template(&db, &op(), &t, today() + time::Duration::days(2), now_ms())
                .await
                .unwrap_err();
        let got = fields(e);
        assert_eq!(got[0].0, "effective_from");
        assert!(
            got[0]
                .1
                .contains(&linli_core::kernel::clock::format_date(later)),
            "{}",
            got[0].1
        );
        // The history lists every version, newest first; the list shows the newest.
        let versions: Vec<i64> = reports::template_versions(&db, &op())
            .await
            .unwrap()
            .iter()
            .map(|v| v.template.version)
            .collect();
        assert_eq!(versions, vec![3, 2, 1]);
        assert_eq!(
            reports::latest_template(&db, &op(), EPIDEMIC_DAILY)
                .await
                .unwrap()
                .template
                .version,
            3
        );
        // A template may not take a mapping's key.
        let mut clash = t.clone();
        clash.key = HEALTH_BUREAU_DAILY.into();
        let e = reports::publish_template(&db, &op(), &clash, today(), now_ms())
            .await
            .unwrap_err();
        assert_eq!(fields(e)[0].0, "key");
        // Audited.
        let log = audited(&db, "report_template.").await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].action, "report_template.publish");
    }
);

both_backends!(computed_values_match_the_records, |db: Db| async move {
    let w = world(&db).await;
    // Community A: two arrivals today (one on its grid), one yesterday.
    arrival(&db, &w.community_a, DAY).await;
    arrival(&db, &w.grid_a, DAY).await;
    arrival(&db, &w.community_a, "2022-07-01").await;
    // Observations: under centralised quarantine since yesterday; home quarantine starting
    // tomorrow (not yet); health monitoring released today (a release, not under monitoring);
    // home quarantine released yesterday (gone); centralised released tomorrow (still under).
    observation(&db, &w.grid_a, "centralized_quarantine", "2022-07-01", None).await;
    observation(&db, &w.community_a, "home_quarantine", "2022-07-03", None).await;
    observation(
        &db,
        &w.community_a,
        "health_monitoring",
        "2022-06-30",
        Some(DAY),
    )
    .await;
    observation(
        &db,
        &w.community_a,
        "home_quarantine",
        "2022-06-20",
        Some("2022-07-01"),
    )
    .await;
    observation(
        &db,
        &w.community_a,
        "centralized_quarantine",
        "2022-06-25",
        Some("2022-07-03"),
    )
    .await;
    observation(&db, &w.community_b, "home_quarantine", DAY, None).await;
    // Alerts: a fever raised this morning, open; one handled this afternoon (not open at the end
    // of the day); one raised yesterday, handled tomorrow (open); one raised tomorrow (not yet).
    alert(&db, &w.community_a, "fever", at(DAY, 9, 0), None).await;
    alert(
        &db,
        &w.community_a,
        "fever",
        at(DAY, 9, 0),
        Some(at(DAY, 15, 0)),
    )
    .await;
    alert(
        &db,
        &w.grid_a,
        "fever",
        at("2022-07-01", 20, 0),
        Some(at("2022-07-03", 8, 0)),
    )
    .await;
    alert(&db, &w.community_a, "fever", at("2022-07-03", 0, 10), None).await;
    // Overdue check-ins: one raised today at 23:59 China time, one yesterday.
    alert(
        &db,
        &w.grid_a,
        "overdue",
        at(DAY, 23, 59),
        Some(at(DAY, 23, 59)),
    )
    .await;
    alert(&db, &w.grid_a, "overdue", at("2022-07-01", 12, 0), None).await;
    // Reopenings approved today (one just after midnight China time = the previous UTC day),
    // one yesterday, one rejected today.
    reopening(&db, &w.community_b, at(DAY, 0, 1), "approved").await;
    reopening(&db, &w.community_b, at(DAY, 18, 0), "approved").await;
    reopening(&db, &w.community_b, at("2022-07-01", 18, 0), "approved").await;
    reopening(&db, &w.community_b, at(DAY, 18, 0), "rejected").await;

    let a = reports::computed(&db, &op(), EPIDEMIC_DAILY, w.community_a.id, day())
        .await
        .unwrap();
    let expect_a: BTreeMap<String, i64> = [
        ("arrivals_new", 2),
        ("under_centralized_quarantine", 2),
        ("under_home_quarantine", 0),
        ("health_monitoring", 0),
        ("fevers_open", 2),
        ("releases", 1),
        ("checkins_missed", 1),
        ("enterprises_reopened", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(a, expect_a);
    let b = reports::computed(&db, &op(), EPIDEMIC_DAILY, w.community_b.id, day())
        .await
        .unwrap();
    assert_eq!(b["under_home_quarantine"], 1);
    assert_eq!(b["enterprises_reopened"], 2);
    assert_eq!(b["arrivals_new"], 0);

    // The street's report: the sum of its two communities, one line each, nothing direct.
    let r = report(&db, &op(), &w.street).await.unwrap();
    assert_eq!(r.role, NodeRole::Rollup);
    assert_eq!(r.status, Status::Draft);
    assert_eq!(r.children.len(), 2);
    for (k, v) in &a {
        assert_eq!(number(r.values.get(k)), v + b[k], "{k}");
        assert_eq!(number(r.children[0].values.get(k)), *v, "{k}");
    }
    assert!(r.direct.values().all(|n| *n == 0));
    // Nothing submitted below: the rolled-up manual number is 0, texts are not rolled up.
    assert_eq!(number(r.values.get("disinfection_rounds")), 0);
    assert_eq!(r.values.get("notes"), Some(&None));
    // Community A's own report: the grid's line and A's direct records.
    let ra = report(&db, &op(), &w.community_a).await.unwrap();
    assert_eq!(ra.children[0].node_id, w.grid_a.id);
    assert_eq!(number(ra.children[0].values.get("arrivals_new")), 1);
    assert_eq!(ra.direct["arrivals_new"], 1);
    assert_eq!(
        ra.values.get("disinfection_rounds"),
        Some(&None),
        "not reported yet"
    );
    // Another day counts that day's records.
    let next = reports::computed(
        &db,
        &op(),
        EPIDEMIC_DAILY,
        w.community_a.id,
        date("2022-07-03"),
    )
    .await
    .unwrap();
    assert_eq!(next["arrivals_new"], 0);
    assert_eq!(next["under_home_quarantine"], 1);
    assert_eq!(next["under_centralized_quarantine"], 1);
    assert_eq!(
        next["fevers_open"], 2,
        "the open one and the one raised on the 3rd"
    );
});

both_backends!(
    a_zero_report_is_refused_when_the_day_has_events,
    |db: Db| async move {
        let w = world(&db).await;
        arrival(&db, &w.grid_a, DAY).await;
        alert(&db, &w.community_a, "fever", at(DAY, 9, 0), None).await;
        let st = staff(&w.community_a);
        let e = submit(&db, &st, &w.community_a, &[], true)
            .await
            .unwrap_err();
        match e {
            StoreError::Invalid(errs) => {
                assert_eq!(errs[0].field, "zero");
                assert_eq!(
                errs[0].message,
                "当日记录显示有情况，不能报零报告：当日新增来返人员 1人、发热未处置 1人。请核对后按实际情况报送"
            );
            }
            other => panic!("{other:?}"),
        }
        let r = report(&db, &st, &w.community_a).await.unwrap();
        assert_eq!(r.status, Status::Draft, "nothing stored");

        // Community B has no events: its zero report is taken, numbers read as 0.
        let sb = staff(&w.community_b);
        let r = submit(&db, &sb, &w.community_b, &[("notes", "平安")], true)
            .await
            .unwrap();
        assert_eq!(r.status, Status::Submitted);
        assert!(r.zero);
        assert_eq!(number(r.values.get("disinfection_rounds")), 0);
        assert_eq!(r.values["notes"], Some(ManualValue::Text("平安".into())));
        assert_eq!(r.submitted_by.as_deref(), Some("staff"));
        assert_eq!(
            r.timeliness,
            Some(Timeliness::Late),
            "submitted after the day's 16:00"
        );
        // A zero report with a number is refused, naming it.
        let e = submit(
            &db,
            &sb,
            &w.community_b,
            &[("disinfection_rounds", "2")],
            true,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "manual.disinfection_rounds"),
            "{e:?}"
        );
        // An ordinary report needs its numbers; a bad one says which and why; nothing changes.
        let e = submit(
            &db,
            &sb,
            &w.community_b,
            &[("disinfection_rounds", "abc")],
            false,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].message == "「公共区域消杀」应为不小于 0 的整数，收到「abc」"),
            "{e:?}"
        );
        let r = report(&db, &sb, &w.community_b).await.unwrap();
        assert!(r.zero);
    }
);

both_backends!(approval_goes_up_the_tree_and_locks, |db: Db| async move {
    let w = world(&db).await;
    arrival(&db, &w.community_a, DAY).await;
    let (sa, sb, st_street, off) = (
        staff(&w.community_a),
        staff(&w.community_b),
        staff(&w.street),
        official(&w.street),
    );
    let worker = Scope::for_user(9, "worker", Role::GridWorker, vec![w.grid_a.path.clone()]);

    // Who submits: staff of the node or above; not grid workers, not officials; not a grid.
    assert!(matches!(
        submit(
            &db,
            &worker,
            &w.grid_a,
            &[("disinfection_rounds", "1")],
            false
        )
        .await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        submit(
            &db,
            &off,
            &w.community_a,
            &[("disinfection_rounds", "1")],
            false
        )
        .await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        submit(&db, &sa, &w.grid_a, &[("disinfection_rounds", "1")], false).await,
        Err(StoreError::Invalid(ref v)) if v[0].field == "node_id"
    ));
    // Approving a draft is refused.
    assert!(matches!(
        approve(&db, &off, &w.community_a).await,
        Err(StoreError::Invalid(ref v)) if v[0].field == "status"
    ));
    let r = submit(
        &db,
        &sa,
        &w.community_a,
        &[("disinfection_rounds", "3"), ("notes", "入户排查")],
        false,
    )
    .await
    .unwrap();
    assert_eq!(number(r.values.get("disinfection_rounds")), 3);
    // A correction before approval keeps the first submission time.
    let first = r.submitted_at;
    let r = submit(
        &db,
        &st_street,
        &w.community_a,
        &[("disinfection_rounds", "4")],
        false,
    )
    .await
    .unwrap();
    assert_eq!(r.submitted_at, first);
    assert_eq!(number(r.values.get("disinfection_rounds")), 4);
    assert_eq!(r.values["notes"], None);

    // The street's own report waits for both communities to be approved.
    let e = submit(&db, &st_street, &w.street, &[], false)
        .await
        .unwrap_err();
    match e {
        StoreError::Invalid(v) => assert_eq!(
            v[0].message,
            "下级报告尚未全部审核，暂不能报送：里布嘎社区（已报送）、北门社区（未报送）"
        ),
        other => panic!("{other:?}"),
    }
    // Nobody approves their own level; grid workers never.
    assert!(matches!(
        approve(&db, &sa, &w.community_a).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        approve(&db, &worker, &w.community_a).await,
        Err(StoreError::NotFound)
    ));
    let r = approve(&db, &off, &w.community_a).await.unwrap();
    assert_eq!(r.status, Status::Approved);
    assert_eq!(r.approved_by.as_deref(), Some("official"));
    assert!(r.approved_at.is_some());
    assert!(matches!(
        approve(&db, &off, &w.community_a).await,
        Err(StoreError::Invalid(ref v)) if v[0].field == "status"
    ));
    // Locked: no correction, and the values stay those approved even when records arrive late.
    assert!(matches!(
        submit(&db, &sa, &w.community_a, &[("disinfection_rounds", "9")], false).await,
        Err(StoreError::Invalid(ref v)) if v[0].field == "status"
    ));
    arrival(&db, &w.community_a, DAY).await;
    let r = report(&db, &sa, &w.community_a).await.unwrap();
    assert_eq!(
        number(r.values.get("arrivals_new")),
        1,
        "the approved figure"
    );
    assert_eq!(number(r.values.get("disinfection_rounds")), 4);
    let live = reports::computed(&db, &sa, EPIDEMIC_DAILY, w.community_a.id, day())
        .await
        .unwrap();
    assert_eq!(live["arrivals_new"], 2, "the records themselves");
    // The breakdown is locked with the figures: the rows still add up to the approved total.
    assert_eq!(line_sum(&r, "arrivals_new"), 1, "{:?}", r.lines());

    // Once B is approved too, the street submits (no manual values of its own) and the
    // district approves it.
    submit(
        &db,
        &sb,
        &w.community_b,
        &[("disinfection_rounds", "2")],
        false,
    )
    .await
    .unwrap();
    approve(&db, &off, &w.community_b).await.unwrap();
    assert!(matches!(
        submit(&db, &st_street, &w.street, &[("disinfection_rounds", "6")], false).await,
        Err(StoreError::Invalid(ref v)) if v[0].field == "manual.disinfection_rounds"
    ));
    let r = submit(&db, &st_street, &w.street, &[], false)
        .await
        .unwrap();
    assert_eq!(
        number(r.values.get("disinfection_rounds")),
        6,
        "4 + 2 from the communities"
    );
    assert!(matches!(
        approve(&db, &off, &w.street).await,
        Err(StoreError::Forbidden(_))
    ));
    let r = approve(&db, &official(&w.district), &w.street)
        .await
        .unwrap();
    assert_eq!(r.status, Status::Approved);
    // A record placed after the street's approval changes neither its total nor its rows.
    arrival(&db, &w.grid_a, DAY).await;
    let r = report(&db, &off, &w.street).await.unwrap();
    let total = number(r.values.get("arrivals_new"));
    assert_eq!(total, 2);
    assert_eq!(line_sum(&r, "arrivals_new"), total, "{:?}", r.lines());
    // The district is the top of the tree: it submits to no one and shows no 未报送.
    let top = report(&db, &op(), &w.district).await.unwrap();
    assert!(!top.submits());
    assert_eq!(top.status_line_zh(), reports::TOP_STATUS_ZH);
    assert!(!top.submittable_by(&op()));
    let e = submit(&db, &op(), &w.district, &[], false)
        .await
        .unwrap_err();
    assert_eq!(fields(e)[0].0, "node_id");
    let log = audited(&db, "report.").await;
    let actions: Vec<&str> = log.iter().rev().map(|a| a.action.as_str()).collect();
    // A's first submission, then a submission and its approval each: A's correction, B, the
    // street.
    let mut expected = vec!["report.submit"];
    expected.extend(["report.submit", "report.approve"].repeat(3));
    assert_eq!(actions, expected);
});

both_backends!(
    completeness_counts_reminders_and_scope,
    |db: Db| async move {
        let w = world(&db).await;
        let c = node(
            &db,
            Some(w.street.id),
            "community",
            "长征社区",
            Some("533401100005"),
        )
        .await;
        let closed = node(
            &db,
            Some(w.street.id),
            "community",
            "旧社区",
            Some("533401100006"),
        )
        .await;
        tree::close(&db, &op(), closed.id, Some(date("2022-06-01")), now_ms())
            .await
            .unwrap();
        let off = official(&w.street);
        // A on time (its submission time set back before the deadline), B late, C missing.
        staff_submit(&db, &w.community_a, &[], true).await;
        sqlx::query("UPDATE report_submission SET submitted_at = $1 WHERE node_id = $2")
            .bind(at(DAY, 15, 59))
            .bind(w.community_a.id)
            .execute(db.pool())
            .await
            .unwrap();
        staff_submit(&db, &w.community_b, &[("disinfection_rounds", "1")], false).await;
        let k = reports::completeness(&db, &off, EPIDEMIC_DAILY, w.street.id, day())
            .await
            .unwrap();
        assert_eq!(
            (
                k.expected,
                k.submitted,
                k.on_time,
                k.late,
                k.zero,
                k.approved
            ),
            (3, 2, 1, 1, 1, 0)
        );
        assert_eq!(k.missing.len(), 1);
        assert_eq!(k.missing[0].node_id, c.id);
        assert_eq!(k.missing[0].name, "长征社区");
        // Before the closed community closed, it was expected too.
        let earlier =
            reports::completeness(&db, &off, EPIDEMIC_DAILY, w.street.id, date("2022-05-31"))
                .await
                .unwrap();
        assert_eq!(earlier.expected, 4);
        // A community's own completeness is itself.
        let own = reports::completeness(
            &db,
            &staff(&w.community_a),
            EPIDEMIC_DAILY,
            w.community_a.id,
            day(),
        )
        .await
        .unwrap();
        assert_eq!((own.expected, own.submitted, own.on_time), (1, 1, 1));

        // The street reminds the missing community; its staff see it; audited.
        let rem = reports::remind(&db, &off, EPIDEMIC_DAILY, c.id, day(), now_ms())
            .await
            .unwrap();
        assert_eq!(rem.created_by, "official");
        let seen = reports::reminders(&db, &staff(&c), EPIDEMIC_DAILY, c.id, day())
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        let r = report(&db, &staff(&c), &c).await.unwrap();
        assert_eq!(r.reminders.len(), 1);
        let k = reports::completeness(&db, &off, EPIDEMIC_DAILY, w.street.id, day())
            .await
            .unwrap();
        assert_eq!(k.missing[0].reminders, 1);
        let log = audited(&db, "report.remind").await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].entity_id, Some(rem.id));
        // Reminding one that reported, or from the same level, is refused.
        assert!(matches!(
            reports::remind(&db, &off, EPIDEMIC_DAILY, w.community_a.id, day(), now_ms()).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            reports::remind(&db, &staff(&c), EPIDEMIC_DAILY, c.id, day(), now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));

        // Scope: another community's staff find nothing of A.
        let sb = staff(&w.community_b);
        assert!(matches!(
            report(&db, &sb, &w.community_a).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            reports::computed(&db, &sb, EPIDEMIC_DAILY, w.community_a.id, day()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            reports::completeness(&db, &sb, EPIDEMIC_DAILY, w.community_a.id, day()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            reports::completeness(&db, &sb, EPIDEMIC_DAILY, w.street.id, day()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            submit(&db, &sb, &w.community_a, &[], true).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            approve(&db, &sb, &w.community_a).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            reports::remind(&db, &sb, EPIDEMIC_DAILY, c.id, day(), now_ms()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            reports::reminders(&db, &sb, EPIDEMIC_DAILY, c.id, day()).await,
            Err(StoreError::NotFound)
        ));
        let nobody = Scope::for_user(7, "nobody", Role::Staff, vec![]);
        assert!(reports::templates(&db, &nobody).await.unwrap().is_empty());
        assert!(matches!(
            report(&db, &nobody, &w.community_a).await,
            Err(StoreError::NotFound)
        ));
        // A future date cannot be submitted.
        let future = linli_core::kernel::clock::today().next_day().unwrap();
        assert!(matches!(
            reports::submit(&db, &sb, EPIDEMIC_DAILY, w.community_b.id, future, &manual(&[], true), now_ms()).await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "date"
        ));
    }
);

// ---------------------------------------------------------------------------------------------
// Roll-up on generated trees

/// A generated district: per street, per community, the number of grids.
type Shape = Vec<Vec<usize>>;

/// A record placed on a node (by its index in the flattened tree) of some kind.
#[derive(Debug, Clone, Copy)]
struct Rec {
    node: usize,
    kind: u8,
}

fn shape_and_records() -> impl Strategy<Value = (Shape, Vec<Rec>, Vec<Option<i64>>)> {
    let shape = proptest::collection::vec(proptest::collection::vec(0usize..3, 1..4), 1..4);
    shape.prop_flat_map(|shape: Shape| {
        let nodes = 1
            + shape.len()
            + shape
                .iter()
                .map(|s| s.len() + s.iter().sum::<usize>())
                .sum::<usize>();
        let communities: usize = shape.iter().map(Vec::len).sum();
        (
            proptest::strategy::Just(shape),
            proptest::collection::vec(
                (0..nodes, 0u8..8).prop_map(|(node, kind)| Rec { node, kind }),
                0..40,
            ),
            proptest::collection::vec(proptest::option::of(0i64..50), communities),
        )
    })
}

both_backends!(
    a_parent_equals_the_sum_of_its_children_on_generated_trees,
    |db: Db| async move {
        let mut runner = TestRunner::deterministic();
        let strategy = shape_and_records();
        for case in 0..10usize {
            let (shape, recs, manuals) = strategy.new_tree(&mut runner).unwrap().current();
            // Build the tree; `all` is flattened depth-first, `parent[i]` the index of i's parent.
            let district = node(
                &db,
                None,
                "district",
                &format!("区{case}"),
                Some(&format!("5334{:02}", case + 1)),
            )
            .await;
            let mut all = vec![district.clone()];
            let mut parent: Vec<Option<usize>> = vec![None];
            let mut communities = Vec::new();
            for (si, street_shape) in shape.iter().enumerate() {
                let code = format!("{}{:03}", district.code.clone().unwrap(), si + 1);
                let street = node(
                    &db,
                    Some(district.id),
                    "street",
                    &format!("街道{si}"),
                    Some(&code),
                )
                .await;
                let s_idx = all.len();
                all.push(street.clone());
                parent.push(Some(0));
                for (ci, grids) in street_shape.iter().enumerate() {
                    let ccode = format!("{code}{:03}", ci + 1);
                    let c = node(
                        &db,
                        Some(street.id),
                        "community",
                        &format!("社区{ci}"),
                        Some(&ccode),
                    )
                    .await;
                    let c_idx = all.len();
                    communities.push(c_idx);
                    all.push(c.clone());
                    parent.push(Some(s_idx));
                    for gi in 0..*grids {
                        let g = node(&db, Some(c.id), "grid", &format!("网格{gi}"), None).await;
                        all.push(g);
                        parent.push(Some(c_idx));
                    }
                }
            }
            // Write the records; `direct[i]` counts per indicator what sits on node i itself.
            let keys = [
                "arrivals_new",
                "under_centralized_quarantine",
                "under_home_quarantine",
                "health_monitoring",
                "releases",
                "fevers_open",
                "checkins_missed",
                "enterprises_reopened",
            ];
            let mut direct: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); all.len()];
            for r in &recs {
                let n = &all[r.node];
                let key = match r.kind {
                    0 => {
                        arrival(&db, n, DAY).await;
                        Some("arrivals_new")
                    }
                    1 => {
                        arrival(&db, n, "2022-07-01").await;
                        None
                    }
                    2 => {
                        observation(&db, n, "centralized_quarantine", "2022-07-01", None).await;
                        Some("under_centralized_quarantine")
                    }
                    3 => {
                        observation(&db, n, "home_quarantine", DAY, Some("2022-07-05")).await;
                        Some("under_home_quarantine")
                    }
                    4 => {
                        observation(&db, n, "health_monitoring", "2022-06-20", Some(DAY)).await;
                        Some("releases")
                    }
                    5 => {
                        alert(&db, n, "fever", at(DAY, 8, 0), None).await;
                        Some("fevers_open")
                    }
                    6 => {
                        alert(&db, n, "overdue", at(DAY, 12, 0), None).await;
                        Some("checkins_missed")
                    }
                    _ => {
                        reopening(&db, n, at(DAY, 10, 0) + r.node as i64, "approved").await;
                        Some("enterprises_reopened")
                    }
                };
                if let Some(k) = key {
                    *direct[r.node].entry(k).or_insert(0) += 1;
                }
            }
            // Communities submit their manual number (None: not submitted).
            for (ci, m) in communities.iter().zip(&manuals) {
                if let Some(v) = m {
                    submit(
                        &db,
                        &op(),
                        &all[*ci],
                        &[("disinfection_rounds", &v.to_string())],
                        false,
                    )
                    .await
                    .unwrap();
                }
            }
            let manual_of = |i: usize| {
                communities
                    .iter()
                    .position(|c| *c == i)
                    .and_then(|p| manuals[p])
            };
            // The model: a node's value is its direct records plus its descendants'.
            let within = |i: usize, anc: usize| {
                let mut x = Some(i);
                while let Some(j) = x {
                    if j == anc {
                        return true;
                    }
                    x = parent[j];
                }
                false
            };
            // The whole tree at once (one GROUP BY per table) says the same as node by node.
            let tree = reports::computed_tree(&db, &op(), EPIDEMIC_DAILY, district.id, day())
                .await
                .unwrap();
            assert_eq!(tree.len(), all.len());
            for (i, n) in all.iter().enumerate() {
                let got = reports::computed(&db, &op(), EPIDEMIC_DAILY, n.id, day())
                    .await
                    .unwrap();
                assert_eq!(tree[&n.id], got, "case {case} node {i}");
                let rep = report(&db, &op(), n).await.unwrap();
                for k in keys {
                    let model: i64 = (0..all.len())
                        .filter(|j| within(*j, i))
                        .map(|j| direct[j].get(k).copied().unwrap_or(0))
                        .sum();
                    assert_eq!(got[k], model, "case {case} node {i} {k}");
                    // Parent = sum of its children's lines + its own direct records.
                    let lines: i64 = rep.children.iter().map(|c| number(c.values.get(k))).sum();
                    assert_eq!(got[k], lines + rep.direct[k], "case {case} node {i} {k}");
                    assert_eq!(rep.direct[k], direct[i].get(k).copied().unwrap_or(0));
                    assert_eq!(number(rep.values.get(k)), got[k]);
                }
                // Manual roll-up: above the reporting level, the sum of the children's lines and
                // of the submitted communities below.
                if rep.role == NodeRole::Rollup {
                    let total = number(rep.values.get("disinfection_rounds"));
                    let lines: i64 = rep
                        .children
                        .iter()
                        .map(|c| number0(c.values.get("disinfection_rounds")))
                        .sum();
                    let model: i64 = communities
                        .iter()
                        .filter(|c| within(**c, i))
                        .filter_map(|c| manual_of(*c))
                        .sum();
                    assert_eq!(total, lines, "case {case} node {i}");
                    assert_eq!(total, model, "case {case} node {i}");
                } else if rep.role == NodeRole::Reporting {
                    let v = rep.values.get("disinfection_rounds").unwrap();
                    assert_eq!(v.clone(), manual_of(i).map(ManualValue::Number));
                }
            }
        }
    }
);

fn cell(v: &Option<ManualValue>) -> i64 {
    match v {
        Some(ManualValue::Number(n)) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

/// The source line's value of each of a column's indicators, summed.
fn expected(m: &Mapping, col: usize, values: &reports::Values) -> Option<ManualValue> {
    let parts: Vec<&ManualValue> = m.columns[col]
        .sources
        .iter()
        .filter_map(|k| values.get(k).and_then(Option::as_ref))
        .collect();
    match parts.as_slice() {
        [] => None,
        [one] if m.columns[col].sources.len() == 1 => Some((*one).clone()),
        many => Some(ManualValue::Number(
            many.iter()
                .map(|v| match v {
                    ManualValue::Number(n) => *n,
                    ManualValue::Text(_) => panic!("a text in a sum"),
                })
                .sum(),
        )),
    }
}

both_backends!(
    the_health_bureau_form_carries_the_reports_numbers,
    |db: Db| async move {
        // The preset layout is stored as version 1.
        let all = mappings::mappings(&db, &op()).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].mapping, Mapping::health_bureau_daily());
        let m = Mapping::health_bureau_daily();
        let sum_col = m.columns.iter().position(|c| c.is_sum()).unwrap();

        let w = world(&db).await;
        arrival(&db, &w.community_a, DAY).await;
        arrival(&db, &w.grid_a, DAY).await;
        observation(&db, &w.grid_a, "centralized_quarantine", "2022-07-01", None).await;
        observation(&db, &w.community_a, "home_quarantine", "2022-06-30", None).await;
        observation(&db, &w.community_a, "home_quarantine", "2022-06-30", None).await;
        observation(&db, &w.community_b, "home_quarantine", DAY, None).await;
        observation(
            &db,
            &w.community_b,
            "centralized_quarantine",
            "2022-06-28",
            Some(DAY),
        )
        .await;
        observation(
            &db,
            &w.community_b,
            "centralized_quarantine",
            "2022-06-29",
            None,
        )
        .await;
        alert(&db, &w.community_b, "fever", at(DAY, 9, 0), None).await;
        staff_submit(
            &db,
            &w.community_a,
            &[("disinfection_rounds", "3"), ("notes", "入户排查")],
            false,
        )
        .await;
        staff_submit(&db, &w.community_b, &[("disinfection_rounds", "4")], false).await;

        for n in [&w.street, &w.community_a, &w.district] {
            let src = report(&db, &op(), n).await.unwrap();
            let mapped = mappings::mapped_report(&db, &op(), HEALTH_BUREAU_DAILY, n.id, day())
                .await
                .unwrap();
            assert_eq!(mapped.mapping.mapping.version, 1);
            let lines = src.lines();
            assert_eq!(
                mapped.rows.len(),
                lines.len(),
                "one row per child (+ 本级直属)"
            );
            for (row, line) in mapped.rows.iter().zip(&lines) {
                assert_eq!(row.node_id, line.node_id);
                for col in 0..m.columns.len() {
                    assert_eq!(
                        row.cells[col],
                        expected(&m, col, &line.values),
                        "{} {}",
                        row.name,
                        m.columns[col].header
                    );
                }
            }
            for col in 0..m.columns.len() {
                assert_eq!(mapped.total[col], expected(&m, col, &src.values));
            }
            // The rows add up to the total, the combined column included.
            for (col, c) in m.columns.iter().enumerate() {
                if c.key == "remarks" {
                    continue;
                }
                let sum: i64 = mapped
                    .rows
                    .iter()
                    .map(|r| r.cells[col].as_ref().map_or(0, |_| cell(&r.cells[col])))
                    .sum();
                assert_eq!(sum, cell(&mapped.total[col]), "{}: {}", n.name, c.header);
            }
        }
        // The street in figures: 3 centralised (A's grid 1, B 1 still in + 0 released today…).
        let street = mappings::mapped_report(&db, &op(), HEALTH_BUREAU_DAILY, w.street.id, day())
            .await
            .unwrap();
        let col = |key: &str| m.columns.iter().position(|c| c.key == key).unwrap();
        let a_row = &street.rows[0];
        assert_eq!(a_row.name, "里布嘎社区");
        assert_eq!(cell(&a_row.cells[col("isolation_centralized")]), 1);
        assert_eq!(cell(&a_row.cells[col("isolation_home")]), 2);
        assert_eq!(cell(&a_row.cells[sum_col]), 3, "1 + 2");
        assert_eq!(cell(&a_row.cells[col("arrivals")]), 2);
        assert_eq!(cell(&a_row.cells[col("disinfection")]), 3);
        assert_eq!(
            a_row.cells[col("remarks")],
            Some(ManualValue::Text("入户排查".into()))
        );
        let b_row = &street.rows[1];
        assert_eq!(cell(&b_row.cells[sum_col]), 2, "1 centralised + 1 home");
        assert_eq!(cell(&b_row.cells[col("released")]), 1);
        assert_eq!(cell(&b_row.cells[col("fever")]), 1);
        assert_eq!(cell(&street.total[sum_col]), 5);
        assert_eq!(cell(&street.total[col("disinfection")]), 7);
        assert_eq!(street.source.status, Status::Draft);

        // Scope: the same rules as the report. B's staff do not see A; unknown keys are not found.
        assert!(matches!(
            mappings::mapped_report(
                &db,
                &staff(&w.community_b),
                HEALTH_BUREAU_DAILY,
                w.community_a.id,
                day()
            )
            .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            mappings::mapped_report(&db, &op(), "no-such", w.community_a.id, day()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            mappings::mapped_report(&db, &op(), EPIDEMIC_DAILY, w.community_a.id, day()).await,
            Err(StoreError::NotFound)
        ));
        assert!(mappings::is_mapping(&db, HEALTH_BUREAU_DAILY)
            .await
            .unwrap());
        assert!(!mappings::is_mapping(&db, EPIDEMIC_DAILY).await.unwrap());
    }
);

both_backends!(
    mappings_are_versioned_and_checked_against_their_template,
    |db: Db| async move {
        let mut m = Mapping::health_bureau_daily();
        m.columns.swap(0, 1);
        m.columns[0].sources.push("health_monitoring".into());
        // Admins only.
        let w = world(&db).await;
        assert!(matches!(
            mappings::publish_mapping(&db, &official(&w.street), &m, today(), now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        // Every fault at once: an unknown indicator, a text in a sum, a past date.
        let mut bad = m.clone();
        bad.columns[2].sources = vec!["masks".into()];
        bad.columns[3].sources = vec!["releases".into(), "notes".into()];
        let e = mappings::publish_mapping(&db, &op(), &bad, date("2021-01-01"), now_ms())
            .await
            .unwrap_err();
        let names: Vec<String> = fields(e).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            names,
            vec!["columns[2].sources", "columns[3].sources", "effective_from"]
        );
        let mut clash = m.clone();
        clash.key = EPIDEMIC_DAILY.into();
        let e = mappings::publish_mapping(&db, &op(), &clash, today(), now_ms())
            .await
            .unwrap_err();
        assert!(fields(e).iter().any(|(f, _)| f == "key"));
        let mut orphan = m.clone();
        orphan.source = "no-such".into();
        let e = mappings::publish_mapping(&db, &op(), &orphan, today(), now_ms())
            .await
            .unwrap_err();
        assert_eq!(fields(e)[0].0, "source");

        // A new layout from today on; a past day keeps version 1.
        let v2 = mappings::publish_mapping(&db, &op(), &m, today(), now_ms())
            .await
            .unwrap();
        assert_eq!(v2.mapping.version, 2);
        let on = |d: time::Date| {
            let db = db.clone();
            async move {
                mappings::mapping_on(&db, HEALTH_BUREAU_DAILY, d)
                    .await
                    .unwrap()
                    .mapping
            }
        };
        assert_eq!(on(today()).await.columns[0].key, "isolation_total");
        assert_eq!(on(day()).await, Mapping::health_bureau_daily());
        let log = audited(&db, "report_mapping.").await;
        assert_eq!(log.len(), 1);
    }
);

both_backends!(
    a_returned_report_counts_as_missing_until_submitted_again,
    |db: Db| async move {
        let w = world(&db).await;
        let (sa, off) = (staff(&w.community_a), official(&w.street));
        let give_back = |who: Scope, reason: &'static str| {
            let db = db.clone();
            let at = w.community_a.clone();
            async move {
                reports::return_report(&db, &who, EPIDEMIC_DAILY, at.id, day(), reason, now_ms())
                    .await
            }
        };
        // Nothing submitted: nothing to send back.
        assert!(matches!(
            give_back(off.clone(), "请核对").await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "status"
        ));
        let first = staff_submit(&db, &w.community_a, &[("disinfection_rounds", "3")], false)
            .await
            .submitted_at;
        // Not by the node's own staff; not without a reason.
        assert!(matches!(
            give_back(sa.clone(), "请核对").await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            give_back(off.clone(), "   ").await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "reason"
        ));
        let r = give_back(off.clone(), " 消杀次数与台账不符，请核对 ")
            .await
            .unwrap();
        assert_eq!(r.status, Status::Returned);
        assert_eq!(
            r.returned.as_ref().unwrap().reason,
            "消杀次数与台账不符，请核对"
        );
        assert!(
            r.status_line_zh().starts_with("已退回（official，"),
            "{}",
            r.status_line_zh()
        );
        // Returned: not reported in the street's completeness; neither approved nor returned again.
        let c = reports::completeness(&db, &off, EPIDEMIC_DAILY, w.street.id, day())
            .await
            .unwrap();
        assert!(
            c.missing.iter().any(|m| m.node_id == w.community_a.id),
            "{c:?}"
        );
        assert!(matches!(
            approve(&db, &off, &w.community_a).await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "status"
        ));
        assert!(matches!(
            give_back(off.clone(), "再核对").await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "status"
        ));
        // Corrected and submitted again: the reason goes, the first submission time stays.
        let r = staff_submit(&db, &w.community_a, &[("disinfection_rounds", "4")], false).await;
        assert_eq!((r.status, r.returned.is_none()), (Status::Submitted, true));
        assert_eq!(r.submitted_at, first);
        assert_eq!(number(r.values.get("disinfection_rounds")), 4);
        approve(&db, &off, &w.community_a).await.unwrap();
        assert!(matches!(
            give_back(off.clone(), "已审核也想退").await,
            Err(StoreError::Invalid(ref v)) if v[0].field == "status"
        ));
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'report.return'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(n, 1);
    }
);
