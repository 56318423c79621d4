//! The batching check-in writer: one batch mixing every kind of answer gives each check-in its
//! own, on SQLite (the writer's raw fast path) and on PostgreSQL (the generic path).

use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{parse_date, parse_instant};
use linli_core::{Role, Scope};
use linli_store::epidemic::{self, CheckinInput, CheckinJob, CheckinWriter};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, StoreError};

use crate::support::{arrival, count, observe, op, registered, tree, Tree};

/// A person in `grid` under home quarantine from 2020-02-01 to 2020-02-14 (the 2020 preset, an
/// arrival from another province); returns the observation.
async fn observed(db: &Db, grid: &Node, name: &str, body: &str) -> i64 {
    let person = registered(db, grid, name, body, None).await;
    observe(db, arrival(person, "110101", "2020-02-01")).await
}

/// What each kind of check-in must be answered.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Good,
    Fever,
    Symptom,
    OtherGrid,
    Official,
    OutOfPeriod,
    Future,
    Released,
    Unknown,
}

const KINDS: [Kind; 9] = [
    Kind::Good,
    Kind::Fever,
    Kind::Symptom,
    Kind::OtherGrid,
    Kind::Official,
    Kind::OutOfPeriod,
    Kind::Future,
    Kind::Released,
    Kind::Unknown,
];

both_backends!(
    one_batch_mixing_good_refused_and_fever_check_ins_answers_each,
    |db: Db| async move {
        let Tree {
            community: c,
            grid_a,
            grid_b,
            ..
        } = tree(&db).await;
        let oa = observed(&db, &grid_a, "张三", "53340119850312001").await;
        let ob = observed(&db, &grid_b, "李四", "53340119870101002").await;
        let oc = observed(&db, &grid_a, "王五", "53340119900101003").await;
        let released = parse_date("on", "2020-02-20").unwrap();
        assert_eq!(
            epidemic::release(&db, &op(), &[oc], released, now_ms())
                .await
                .unwrap(),
            1
        );
        let worker_a = Scope::for_user(9, "wa", Role::GridWorker, vec![grid_a.path.clone()]);
        let official = Scope::for_user(10, "off", Role::Official, vec![c.path.clone()]);
        let inside = parse_instant("at", "2020-02-03T08:00:00+08:00").unwrap();
        let after = parse_instant("at", "2020-02-15T08:00:00+08:00").unwrap();
        let future = linli_core::kernel::clock::now_ms() + 3_600_000;

        let writer = CheckinWriter::new(db.clone());
        // Every kind, many times over, all queued at once so that they share batches.
        let rounds = 30;
        let mut tasks = Vec::new();
        for i in 0..rounds * KINDS.len() {
            let kind = KINDS[i % KINDS.len()];
            let (scope, obs, at, t, symptoms): (&Scope, i64, i64, &str, Vec<String>) = match kind {
                Kind::Good => (&worker_a, oa, inside + i as i64, "36.5", vec!["无".into()]),
                Kind::Fever => (&worker_a, oa, inside + i as i64, "37.3", Vec::new()),
                Kind::Symptom => (
                    &worker_a,
                    oa,
                    inside + i as i64,
                    "36.6",
                    vec!["咳嗽".into()],
                ),
                Kind::OtherGrid => (&worker_a, ob, inside, "36.5", Vec::new()),
                Kind::Official => (&official, oa, inside, "36.5", Vec::new()),
                Kind::OutOfPeriod => (&worker_a, oa, after, "36.5", Vec::new()),
                Kind::Future => (&worker_a, oa, future, "36.5", Vec::new()),
                Kind::Released => (&worker_a, oc, inside, "36.5", Vec::new()),
                Kind::Unknown => (&worker_a, oa + ob + oc + 1000, inside, "36.5", Vec::new()),
            };
            let writer = writer.clone();
            let job = CheckinJob {
                scope: scope.clone(),
                observation_id: obs,
                input: CheckinInput {
                    at,
                    temperature: Some(Temperature::parse(t).unwrap()),
                    symptoms,
                },
                now: now_ms(),
                channel: linli_core::epidemic::observation::CheckinChannel::Api,
            };
            tasks.push((kind, i, tokio::spawn(async move { writer.add(job).await })));
        }
        let mut ids = std::collections::HashMap::new();
        let mut alerts = std::collections::HashSet::new();
        for (kind, i, task) in tasks {
            let answer = task.await.unwrap();
            match (kind, answer) {
                (Kind::Good | Kind::Fever | Kind::Symptom, Ok(r)) => {
                    assert_eq!(r.observation_id, oa);
                    assert!(ids.insert(r.id, i).is_none(), "every check-in its own id");
                    assert_eq!(r.alert_id.is_some(), kind != Kind::Good, "{kind:?}");
                    if let Some(a) = r.alert_id {
                        assert!(alerts.insert(a), "every fever its own alert");
                    }
                }
                (Kind::OtherGrid | Kind::Unknown, Err(StoreError::NotFound)) => {}
                (Kind::Official, Err(StoreError::Forbidden(_))) => {}
                (Kind::OutOfPeriod, Err(StoreError::Invalid(v))) => {
                    assert_eq!(v[0].field, "at");
                    assert_eq!(
                        v[0].message,
                        "打卡日期 2020-02-15 不在观察期 2020-02-01 至 2020-02-14 之内"
                    );
                }
                (Kind::Future, Err(StoreError::Invalid(v))) => {
                    assert_eq!(
                        (v[0].field.as_str(), v[0].message.as_str()),
                        ("at", "打卡时间不能晚于现在")
                    );
                }
                (Kind::Released, Err(StoreError::Invalid(v))) => {
                    assert_eq!(v[0].field, "observation_id");
                }
                (kind, answer) => panic!("{kind:?} #{i}: {answer:?}"),
            }
        }
        assert_eq!(ids.len(), rounds * 3);
        assert_eq!(alerts.len(), rounds * 2);
        assert_eq!(count(&db, "checkin").await, (rounds * 3) as i64);
        // Each acknowledged id is the row of that check-in: its own time and temperature.
        let rows: Vec<(i64, i64, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT id, at, temperature_tenths, symptoms_json, recorded_by FROM checkin",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        for (id, at, t, symptoms, by) in rows {
            let i = ids[&id];
            assert_eq!(at, inside + i as i64);
            let (want_t, want_s) = match KINDS[i % KINDS.len()] {
                Kind::Good => (365, "[]"),
                Kind::Fever => (373, "[]"),
                _ => (366, r#"["咳嗽"]"#),
            };
            assert_eq!(
                (t, symptoms.as_str(), by.as_str()),
                (Some(want_t), want_s, "wa")
            );
        }
        // The alerts, in the same transactions, say why and are visible in A's grid only.
        let open = epidemic::open_alerts(&db, &worker_a, grid_a.id, Some("fever"))
            .await
            .unwrap();
        assert_eq!(open.len(), rounds * 2);
        assert!(open.iter().all(|a| alerts.contains(&a.id)));
        assert!(open.iter().any(|a| a.detail.contains("体温 37.3℃")));
        assert!(open.iter().any(|a| a.detail.contains("症状：咳嗽")));
        assert!(open
            .iter()
            .all(|a| a.detail.starts_with("打卡（2020-02-03 08:00）")));
    }
);
