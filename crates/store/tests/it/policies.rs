//! Policy editing: a draft tried against the open observations (what-if) and published as a new
//! version; each test on SQLite and on PostgreSQL.

use linli_core::epidemic::policy::{self, ChangeKind, PolicyVersion, RiskLevel};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, today};
use linli_core::{Role, Scope};
use linli_store::epidemic::{self, ArrivalInput};
use linli_store::tree::Node;
use linli_store::{both_backends, epidemic::policies, Db, StoreError};

use crate::support::{arrival, date, observe, op, registered, risk_area, tree, Tree};

/// An arrival of `person` on `on` from `origin` with no stated purpose; its observation.
async fn arrive(db: &Db, person: i64, origin: &str, on: &str) -> i64 {
    observe(
        db,
        ArrivalInput {
            purpose: None,
            ..arrival(person, origin, on)
        },
    )
    .await
}

/// The 9th edition with its high-risk rule cut from 7 to `days` days of centralised quarantine.
fn ninth_with_high_risk_days(days: u16, version: u32, from: time::Date) -> PolicyVersion {
    let ninth = policy::presets()
        .into_iter()
        .find(|p| p.key() == "ninth-edition")
        .unwrap();
    let mut draft = ninth.to_draft();
    draft.rules[2].stages[0].days = days;
    draft.version = version;
    draft.effective_from = from;
    draft.validate().unwrap()
}

struct World {
    grid_a: Node,
    high_a: i64,
    medium_a: i64,
    high_b: i64,
}

async fn world(db: &Db) -> World {
    let Tree { grid_a, grid_b, .. } = tree(db).await;
    risk_area(db, "420111", RiskLevel::High).await;
    risk_area(db, "110101", RiskLevel::Medium).await;
    let p1 = registered(db, &grid_a, "张三", "53340119850312001", None).await;
    let p2 = registered(db, &grid_a, "李四", "53340119900101002", None).await;
    let p3 = registered(db, &grid_b, "王五", "53340119750505003", None).await;
    World {
        high_a: arrive(db, p1, "420111", "2022-07-02").await,
        medium_a: arrive(db, p2, "110101", "2022-07-04").await,
        high_b: arrive(db, p3, "420111", "2022-07-03").await,
        grid_a,
    }
}

both_backends!(
    a_draft_shows_who_would_be_shortened_or_released,
    |db: Db| async move {
        let w = world(&db).await;
        let draft = ninth_with_high_risk_days(5, 2, date("2022-07-06"));

        // On 07-06 the high-risk arrival of 07-02 would end on 07-06 instead of 07-08.
        let rows = policies::what_if(&db, &op(), &draft, date("2022-07-06"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let of = |id: i64| rows.iter().find(|r| r.observation_id == id).unwrap();
        assert_eq!(of(w.high_a).change.kind, ChangeKind::Shortened);
        assert_eq!(of(w.high_a).change.until_delta_days, -2);
        assert_eq!(format_date(of(w.high_a).change.to.until), "2022-07-06");
        assert_eq!(of(w.high_a).current_version, "ninth-edition@1");
        assert_eq!(of(w.medium_a).change.kind, ChangeKind::Unchanged);
        assert_eq!(of(w.high_b).change.kind, ChangeKind::Shortened);

        // A day later the draft would have released the arrival of 07-02 already.
        let rows = policies::what_if(&db, &op(), &draft, date("2022-07-07"))
            .await
            .unwrap();
        let of = |id: i64| rows.iter().find(|r| r.observation_id == id).unwrap();
        assert_eq!(of(w.high_a).change.kind, ChangeKind::Released);
        // 07-03 + 5 days ends on 07-07: still under quarantine that day.
        assert_eq!(of(w.high_b).change.kind, ChangeKind::Shortened);

        // Released observations are no longer compared.
        epidemic::release(&db, &op(), &[w.high_b], date("2022-07-09"), now_ms())
            .await
            .unwrap();
        let open: Vec<i64> = policies::what_if(&db, &op(), &draft, date("2022-07-07"))
            .await
            .unwrap()
            .iter()
            .map(|r| r.observation_id)
            .collect();
        assert_eq!(open, vec![w.high_a, w.medium_a]);
    }
);

both_backends!(
    a_what_if_covers_only_the_callers_jurisdiction,
    |db: Db| async move {
        let w = world(&db).await;
        let draft = ninth_with_high_risk_days(5, 2, date("2022-07-06"));
        let official = Scope::for_user(6, "official", Role::Official, vec![w.grid_a.path.clone()]);
        let ids: Vec<i64> = policies::what_if(&db, &official, &draft, date("2022-07-06"))
            .await
            .unwrap()
            .iter()
            .map(|r| r.observation_id)
            .collect();
        assert_eq!(ids, vec![w.high_a, w.medium_a]);

        // Staff and grid workers neither try nor publish policies.
        let staff = Scope::for_user(5, "staff", Role::Staff, vec![w.grid_a.path.clone()]);
        assert!(matches!(
            policies::what_if(&db, &staff, &draft, date("2022-07-06")).await,
            Err(StoreError::Forbidden(_))
        ));
        let next = ninth_with_high_risk_days(5, 2, today());
        assert!(matches!(
            policies::publish(&db, &staff, &next, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        // A scope without roots sees nothing.
        let rootless = Scope::for_user(7, "nobody", Role::Official, vec![]);
        assert!(
            policies::what_if(&db, &rootless, &draft, date("2022-07-06"))
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both_backends!(
    publishing_adds_a_version_from_today_and_keeps_old_records,
    |db: Db| async move {
        let w = world(&db).await;
        assert_eq!(
            policies::next_version(&db, "ninth-edition").await.unwrap(),
            2
        );

        // Not backdated: the version would reclassify earlier days differently.
        let past = ninth_with_high_risk_days(5, 2, date("2022-07-06"));
        match policies::publish(&db, &op(), &past, now_ms()).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "effective_from"),
            other => panic!("expected invalid effective_from, got {other:?}"),
        }
        // A version number already taken is a conflict naming the next free one.
        let same = ninth_with_high_risk_days(5, 1, today());
        match policies::publish(&db, &op(), &same, now_ms()).await {
            Err(StoreError::Conflict { field, message }) => {
                assert_eq!(field, "version");
                assert!(message.contains('2'), "{message}");
            }
            other => panic!("expected a version conflict, got {other:?}"),
        }
        assert_eq!(epidemic::published_policies(&db).await.unwrap().len(), 4);

        let official = Scope::for_user(6, "official", Role::Official, vec![w.grid_a.path.clone()]);
        let next = ninth_with_high_risk_days(5, 2, today());
        let id = policies::publish(&db, &official, &next, now_ms())
            .await
            .unwrap();
        let all = epidemic::published_policies(&db).await.unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all.last().unwrap().id, id);
        assert_eq!(all.last().unwrap().policy, next);
        assert_eq!(
            policies::next_version(&db, "ninth-edition").await.unwrap(),
            3
        );
        // Publishing the same number twice: the second is told.
        assert!(matches!(
            policies::publish(&db, &official, &next, now_ms()).await,
            Err(StoreError::Conflict { .. })
        ));

        // Audited with the actor.
        let (actor,): (String,) = sqlx::query_as(
            "SELECT actor FROM audit WHERE action = 'policy.publish' AND entity_id = $1",
        )
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(actor, "official");

        // Records keep the version that classified them.
        let rows = policies::what_if(&db, &op(), &next, date("2022-07-06"))
            .await
            .unwrap();
        assert!(rows.iter().all(|r| r.current_version == "ninth-edition@1"));
    }
);

both_backends!(
    a_second_arrival_is_compared_by_the_facts_that_now_decide_the_observation,
    |db: Db| async move {
        let w = world(&db).await;
        // 张三 (high-risk, 07-02, to 07-08) is screened again on 07-05: the same observation,
        // now to 07-11, following the second arrival.
        let p1: (i64,) = sqlx::query_as("SELECT person_id FROM observation WHERE id = $1")
            .bind(w.high_a)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(arrive(&db, p1.0, "420111", "2022-07-05").await, w.high_a);

        // The draft (5 days) counts from the second arrival: 07-09 instead of 07-11. One row per
        // person, not one per screening.
        let draft = ninth_with_high_risk_days(5, 2, date("2022-07-06"));
        let rows = policies::what_if(&db, &op(), &draft, date("2022-07-06"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let row = rows.iter().find(|r| r.observation_id == w.high_a).unwrap();
        assert_eq!(row.change.kind, ChangeKind::Shortened);
        assert_eq!(format_date(row.change.from.until), "2022-07-11");
        assert_eq!(format_date(row.change.to.until), "2022-07-09");
    }
);
