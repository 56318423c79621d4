//! Cases, close contacts and the chain of transmission, each on SQLite and on PostgreSQL.

use linli_core::epidemic::contact::CaseKind;
use linli_core::epidemic::policy::{ContactKind, Measure};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, today};
use linli_core::{Role, Scope};
use linli_store::epidemic::contacts::{self, OUT_OF_SCOPE};
use linli_store::{both_backends, tree, Db, StoreError};
use sqlx::Row;

use crate::support::{
    add_contact, arrival, count, date, link, make_case, observations_of, observe, op, resident,
    tree,
};

fn field_of(e: StoreError) -> (String, String) {
    match e {
        StoreError::Invalid(errs) => (errs[0].field.clone(), errs[0].message.clone()),
        other => panic!("expected a field error, got {other:?}"),
    }
}

use ContactKind::{CloseContact as Close, SecondaryContact as Secondary};

both_backends!(
    links_follow_the_rules_and_refuse_cycles,
    |db: Db| async move {
        let t = tree(&db).await;
        let case = resident(&db, &t.grid_a, "张病例", "53340119800101001").await;
        let b = resident(&db, &t.grid_a, "李密接", "53340119800101002").await;
        let c = resident(&db, &t.grid_a, "王次密", "53340119800101003").await;
        let d = resident(&db, &t.grid_a, "赵路人", "53340119800101004").await;

        // A close contact of someone who is not a case.
        let e = contacts::record_contact(&db, &op(), &link(b, d, Close, "2022-07-01"), now_ms())
            .await
            .unwrap_err();
        let (field, msg) = field_of(e);
        assert_eq!(field, "source_person_id");
        assert!(msg.contains("病例"), "{msg}");

        make_case(&db, case, CaseKind::Confirmed, "2022-07-02").await;
        // A person is a case once.
        assert!(matches!(
            contacts::mark_case(
                &db,
                &op(),
                case,
                CaseKind::Asymptomatic,
                date("2022-07-02"),
                now_ms()
            )
            .await,
            Err(StoreError::Conflict { .. })
        ));
        // Self-link.
        let (field, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(case, case, Close, "2022-07-01"), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "source_person_id");
        assert!(msg.contains("本人"), "{msg}");
        // A 次密接 whose source is a case, not a 密接.
        let (field, msg) = field_of(
            contacts::record_contact(
                &db,
                &op(),
                &link(c, case, Secondary, "2022-07-01"),
                now_ms(),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(field, "source_person_id");
        assert!(msg.contains("次密接") && msg.contains("密接"), "{msg}");
        // A last contact in the future.
        let tomorrow = format_date(today() + time::Duration::days(1));
        let (field, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(b, case, Close, &tomorrow), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "last_contact_on");
        assert!(msg.contains(&tomorrow), "{msg}");
        assert_eq!(count(&db, "contact_link").await, 0);
        assert_eq!(count(&db, "observation").await, 0);

        add_contact(&db, link(b, case, Close, "2022-07-01")).await;
        add_contact(&db, link(c, b, Secondary, "2022-07-02")).await;
        // b becomes a case too; c's contacts would loop back: case → b → c → … → case.
        make_case(&db, c, CaseKind::Asymptomatic, "2022-07-03").await;
        let (field, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(case, c, Close, "2022-07-03"), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "source_person_id");
        assert!(msg.contains("循环"), "{msg}");
        let (_, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(b, c, Close, "2022-07-03"), now_ms())
                .await
                .unwrap_err(),
        );
        assert!(msg.contains("循环"), "{msg}");
        assert_eq!(count(&db, "contact_link").await, 2);
        // A source outside the caller's grid is unknown to them.
        let other = resident(&db, &t.grid_b, "孙乙", "53340119800101005").await;
        make_case(&db, other, CaseKind::Confirmed, "2022-07-02").await;
        let worker = Scope::for_user(9, "worker_a", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let (field, _) = field_of(
            contacts::record_contact(&db, &worker, &link(d, other, Close, "2022-07-02"), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "source_person_id");
        // And a person outside it cannot be linked at all.
        assert!(matches!(
            contacts::record_contact(
                &db,
                &worker,
                &link(other, case, Close, "2022-07-02"),
                now_ms()
            )
            .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            contacts::mark_case(
                &db,
                &worker,
                other,
                CaseKind::Confirmed,
                date("2022-07-02"),
                now_ms()
            )
            .await,
            Err(StoreError::NotFound)
        ));
    }
);

async fn observation(db: &Db, id: i64) -> (String, String, String, i64) {
    let r = sqlx::query(
        "SELECT measure, start_on, until_on, CASE WHEN arrival_id IS NULL THEN 1 ELSE 0 END \
         FROM observation WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await
    .unwrap();
    (
        r.try_get(0).unwrap(),
        r.try_get(1).unwrap(),
        r.try_get(2).unwrap(),
        r.try_get(3).unwrap(),
    )
}

both_backends!(
    quarantine_counts_from_the_last_contact_and_moves_with_a_later_one,
    |db: Db| async move {
        let t = tree(&db).await;
        let case = resident(&db, &t.grid_a, "张病例", "53340119800101001").await;
        let b = resident(&db, &t.grid_a, "李密接", "53340119800101002").await;
        make_case(&db, case, CaseKind::Confirmed, "2022-07-03").await;

        // 9th edition: 7 days centralised + 3 days monitoring from the last contact (2022-07-01),
        // not from today, the day it is registered.
        let r = add_contact(&db, link(b, case, Close, "2022-07-01")).await;
        assert!(r.created);
        assert_eq!(r.classification.policy_key, "ninth-edition");
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.days_total, 10);
        assert_eq!(r.classification.start, date("2022-07-01"));
        assert_eq!(r.classification.until, date("2022-07-10"));
        assert!(
            r.classification.explanation.contains("最后接触"),
            "{}",
            r.classification.explanation
        );
        let obs = r.observation_id.unwrap();
        assert_eq!(
            observation(&db, obs).await,
            (
                "centralized_quarantine".to_owned(),
                "2022-07-01".to_owned(),
                "2022-07-10".to_owned(),
                1
            )
        );

        // A later contact with the same case moves the planned end; the same observation.
        let r = add_contact(&db, link(b, case, Close, "2022-07-04")).await;
        assert!(!r.created);
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(r.classification.until, date("2022-07-13"));
        assert_eq!(r.observation_until, Some(date("2022-07-13")));
        let (_, start, until, _) = observation(&db, obs).await;
        assert_eq!(
            (start.as_str(), until.as_str()),
            ("2022-07-04", "2022-07-13")
        );
        assert_eq!(count(&db, "observation").await, 1);
        assert_eq!(count(&db, "contact_link").await, 1);

        // An earlier date for the same pair is refused, nothing moves.
        let (field, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(b, case, Close, "2022-07-02"), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "last_contact_on");
        assert!(msg.contains("2022-07-04"), "{msg}");
        assert_eq!(observation(&db, obs).await.2, "2022-07-13");

        // A second case met later: the later end wins, still one observation.
        let case2 = resident(&db, &t.grid_a, "周病例", "53340119800101006").await;
        make_case(&db, case2, CaseKind::Asymptomatic, "2022-07-06").await;
        let r = add_contact(&db, link(b, case2, Close, "2022-07-06")).await;
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observation(&db, obs).await.2, "2022-07-15");
        // An earlier contact with a third source does not shorten it.
        let c = resident(&db, &t.grid_a, "吴次密", "53340119800101007").await;
        make_case(&db, c, CaseKind::Confirmed, "2022-07-02").await;
        let r = add_contact(&db, link(b, c, Close, "2022-07-02")).await;
        assert_eq!(r.classification.until, date("2022-07-11"));
        assert_eq!(r.observation_until, Some(date("2022-07-15")));
        assert_eq!(observation(&db, obs).await.2, "2022-07-15");

        // The check-in path works on it as on an arrival's observation.
        let at =
            linli_core::kernel::clock::parse_instant("at", "2022-07-08T08:00:00+08:00").unwrap();
        epidemic_checkin(&db, obs, at).await;
    }
);

async fn epidemic_checkin(db: &Db, obs: i64, at: i64) {
    let r = linli_store::epidemic::add_checkin(
        db,
        &op(),
        obs,
        &linli_store::epidemic::CheckinInput {
            at,
            temperature: Some(linli_core::epidemic::policy::Temperature::parse("36.6").unwrap()),
            symptoms: Vec::new(),
        },
        now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(r.observation_id, obs);
}

both_backends!(
    each_link_is_classified_by_the_policy_of_its_last_contact_date,
    |db: Db| async move {
        let t = tree(&db).await;
        let case = resident(&db, &t.grid_a, "张病例", "53340119800101001").await;
        make_case(&db, case, CaseKind::Confirmed, "2020-01-25").await;
        // 2020 practice: 14 days centralised from the last contact.
        let a = resident(&db, &t.grid_a, "甲", "53340119800101011").await;
        let r = add_contact(&db, link(a, case, Close, "2020-02-01")).await;
        assert_eq!(r.classification.policy_key, "community-2020");
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.until, date("2020-02-14"));
        // The 2020 practice has no rule for a contact of a contact: no measure, no observation.
        let a2 = resident(&db, &t.grid_a, "甲二", "53340119800101012").await;
        let r = add_contact(&db, link(a2, a, Secondary, "2020-02-02")).await;
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.observation_id.is_none());
        // 9th edition: a contact of a contact, 7 days home quarantine.
        let b = resident(&db, &t.grid_a, "乙", "53340119800101013").await;
        add_contact(&db, link(b, case, Close, "2022-07-01")).await;
        let b2 = resident(&db, &t.grid_a, "乙二", "53340119800101014").await;
        let r = add_contact(&db, link(b2, b, Secondary, "2022-07-02")).await;
        assert_eq!(r.classification.policy_key, "ninth-edition");
        assert_eq!(r.classification.measure, Measure::HomeQuarantine);
        assert_eq!(r.classification.until, date("2022-07-08"));
        assert!(r.observation_id.is_some());
        // 20 measures (from 2022-11-11): 5 + 3 days; on the day before, still the 9th edition.
        let c = resident(&db, &t.grid_a, "丙", "53340119800101015").await;
        let r = add_contact(&db, link(c, case, Close, "2022-11-10")).await;
        assert_eq!(r.classification.policy_key, "ninth-edition");
        assert_eq!(r.classification.days_total, 10);
        let d = resident(&db, &t.grid_a, "丁", "53340119800101016").await;
        let r = add_contact(&db, link(d, case, Close, "2022-11-11")).await;
        assert_eq!(r.classification.policy_key, "twenty-measures");
        assert_eq!(r.classification.days_total, 8);
        assert_eq!(r.classification.until, date("2022-11-18"));
        // Class B: no quarantine.
        let e = resident(&db, &t.grid_a, "戊", "53340119800101017").await;
        let r = add_contact(&db, link(e, case, Close, "2023-01-08")).await;
        assert_eq!(r.classification.policy_key, "class-b");
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.observation_id.is_none());
        // Before any policy: refused, naming the date.
        let f = resident(&db, &t.grid_a, "己", "53340119800101018").await;
        let (field, msg) = field_of(
            contacts::record_contact(&db, &op(), &link(f, case, Close, "2019-12-01"), now_ms())
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "last_contact_on");
        assert!(msg.contains("2019-12-01"), "{msg}");
        // The stored link keeps the version that classified it.
        let rows = sqlx::query(
            "SELECT v.policy_key FROM contact_link l JOIN policy_version v ON v.id = l.policy_version_id \
             WHERE l.person_id = $1",
        )
        .bind(d)
        .fetch_all(db.pool())
        .await
        .unwrap();
        assert_eq!(rows[0].try_get::<String, _>(0).unwrap(), "twenty-measures");
    }
);

both_backends!(
    a_chain_shows_persons_out_of_scope_as_anonymous_nodes,
    |db: Db| async move {
        let t = tree(&db).await;
        let case = resident(&db, &t.grid_a, "张病例", "53340119800101001").await;
        let b = resident(&db, &t.grid_b, "乙网格秘密", "53340119800101002").await;
        let c = resident(&db, &t.grid_a, "王次密", "53340119800101003").await;
        let d = resident(&db, &t.grid_a, "赵密接", "53340119800101004").await;
        make_case(&db, case, CaseKind::Confirmed, "2022-07-03").await;
        // Community staff record the chain crossing the grids.
        add_contact(&db, link(b, case, Close, "2022-07-01")).await;
        add_contact(&db, link(d, case, Close, "2022-07-02")).await;
        add_contact(&db, link(c, b, Secondary, "2022-07-02")).await;

        let worker = Scope::for_user(9, "worker_a", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let chain = contacts::chain(&db, &worker, case).await.unwrap();
        assert_eq!(chain.nodes.len(), 4);
        assert_eq!(chain.edges.len(), 3);
        let root = &chain.nodes[0];
        assert_eq!(root.person_id, Some(case));
        assert_eq!(root.label, "张**");
        assert_eq!(root.case_kind, Some(CaseKind::Confirmed));
        let hidden: Vec<_> = chain.nodes.iter().filter(|n| !n.in_scope).collect();
        assert_eq!(hidden.len(), 1);
        let h = hidden[0];
        assert_eq!(h.label, OUT_OF_SCOPE);
        assert!(h.person_id.is_none() && h.last_contact_on.is_none() && h.measure.is_none());
        assert_eq!(h.generation, 1);
        // The edges into and out of the anonymous node carry no date.
        for e in chain
            .edges
            .iter()
            .filter(|e| e.from == h.key || e.to == h.key)
        {
            assert!(e.last_contact_on.is_none());
        }
        let secondary = chain.nodes.iter().find(|n| n.person_id == Some(c)).unwrap();
        assert_eq!(secondary.generation, 2);
        assert_eq!(secondary.kind, Some(Secondary));
        assert_eq!(secondary.label, "王**");
        assert_eq!(secondary.measure, Some(Measure::HomeQuarantine));
        let dd = chain.nodes.iter().find(|n| n.person_id == Some(d)).unwrap();
        assert_eq!(dd.last_contact_on, Some(date("2022-07-02")));
        // Boxes are in the drawing.
        for n in &chain.nodes {
            assert!(n.x + chain.node_width <= chain.width);
            assert!(n.y + chain.node_height <= chain.height);
        }
        // Staff of the community see every name (masked).
        let staff = contacts::chain(&db, &op(), case).await.unwrap();
        assert!(staff.nodes.iter().all(|n| n.in_scope));
        assert!(staff.nodes.iter().any(|n| n.label == "乙***"));

        // Clear names: never for a grid worker; for staff, audited with the ids shown.
        assert!(matches!(
            contacts::chain_with_names(&db, &worker, case, None, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        let community = tree::get(&db, &op(), t.grid_a.parent_id.unwrap())
            .await
            .unwrap();
        let staff = Scope::for_user(11, "staff", Role::Staff, vec![community.path.clone()]);
        let named = contacts::chain_with_names(&db, &staff, case, Some("10.0.0.9"), now_ms())
            .await
            .unwrap();
        assert!(named.nodes.iter().any(|n| n.label == "乙网格秘密"));
        assert_eq!(named.nodes[0].label, "张病例");
        let entries = linli_store::infra::audit::list(
            &db,
            &op(),
            &linli_store::infra::audit::AuditFilter {
                action_prefix: Some("contact_chain.".into()),
                ..Default::default()
            },
            linli_store::Page::new(None, None),
        )
        .await
        .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].actor, "staff");
        assert_eq!(entries[0].detail["person_ids"].as_array().unwrap().len(), 4);
        // The masked chain is not audited as an unmask.
        contacts::chain(&db, &staff, case).await.unwrap();

        // The contacts page of the secondary contact: its source is anonymous to the worker.
        let page = contacts::person_contacts(&db, &worker, c).await.unwrap();
        assert_eq!(page.sources.len(), 1);
        assert_eq!(page.sources[0].other_person_id, None);
        assert_eq!(page.sources[0].other_label, OUT_OF_SCOPE);
        assert_eq!(page.upstream_cases, vec![case]);

        // Grid B's worker cannot open grid A's case; a person who is no case has no chain.
        let worker_b = Scope::for_user(
            10,
            "worker_b",
            Role::GridWorker,
            vec![t.grid_b.path.clone()],
        );
        assert!(matches!(
            contacts::chain(&db, &worker_b, case).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            contacts::chain(&db, &worker, d).await,
            Err(StoreError::NotFound)
        ));
        // Lists keep to the scope.
        assert_eq!(contacts::cases(&db, &worker).await.unwrap().len(), 1);
        assert!(contacts::cases(&db, &worker_b).await.unwrap().is_empty());
        let options = contacts::source_options(&db, &worker).await.unwrap();
        let ids: Vec<i64> = options.iter().map(|o| o.person_id).collect();
        assert_eq!(ids, vec![case, d]);
    }
);

/// An arrival of `person` on `on` from `origin`, entered by a worker, with no stated purpose
/// and no temperature taken.
async fn arrive(db: &Db, person: i64, origin: &str, on: &str) -> i64 {
    use linli_store::epidemic::ArrivalInput;
    observe(
        db,
        ArrivalInput {
            purpose: None,
            temperature: None,
            ..arrival(person, origin, on)
        },
    )
    .await
}

both_backends!(
    a_contact_already_observed_after_an_arrival_keeps_one_observation,
    |db: Db| async move {
        use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel};
        let t = tree(&db).await;
        for (code, level) in [("310101", RiskLevel::Low), ("420111", RiskLevel::High)] {
            let area = RiskArea::new(
                DivisionCode::parse(code).unwrap(),
                None,
                level,
                date("2022-06-20"),
                None,
            )
            .unwrap();
            linli_store::epidemic::add_risk_area(&db, &op(), &area, now_ms())
                .await
                .unwrap();
        }
        let case = resident(&db, &t.grid_a, "张病例", "53340119800101001").await;
        make_case(&db, case, CaseKind::Confirmed, "2022-07-04").await;

        // Back from a low-risk area on 07-02: 3 days of health monitoring at home. Found on
        // 07-05 to be a 密接 (last contact 07-03): 7 days centralised + 3 of monitoring from the
        // contact. The arrival's observation is upgraded, not doubled, and keeps its first day.
        let b = resident(&db, &t.grid_a, "李返乡", "53340119800101002").await;
        let obs = arrive(&db, b, "310101", "2022-07-02").await;
        assert_eq!(
            observation(&db, obs).await,
            (
                "health_monitoring".to_owned(),
                "2022-07-02".to_owned(),
                "2022-07-04".to_owned(),
                0
            )
        );
        let r = add_contact(&db, link(b, case, Close, "2022-07-03")).await;
        assert_eq!(r.classification.until, date("2022-07-12"));
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(r.observation_until, Some(date("2022-07-12")));
        assert_eq!(observations_of(&db, b).await, 1);
        assert_eq!(
            observation(&db, obs).await,
            (
                "centralized_quarantine".to_owned(),
                "2022-07-02".to_owned(),
                "2022-07-12".to_owned(),
                0
            )
        );
        let row = sqlx::query(
            "SELECT o.place, o.check_ins_per_day, v.policy_key, l.observation_id FROM observation o \
             JOIN policy_version v ON v.id = o.policy_version_id \
             JOIN contact_link l ON l.observation_id = o.id WHERE o.id = $1",
        )
        .bind(obs)
        .fetch_one(db.pool())
        .await
        .unwrap();
        // Centralised: no home address any more; the contact rule's check-ins and version.
        assert_eq!(row.try_get::<Option<String>, _>(0).unwrap(), None);
        assert_eq!(row.try_get::<i64, _>(1).unwrap(), 2);
        assert_eq!(row.try_get::<String, _>(2).unwrap(), "ninth-edition");
        assert_eq!(row.try_get::<i64, _>(3).unwrap(), obs);
        // A check-in on the day of arrival is still inside the period.
        let at =
            linli_core::kernel::clock::parse_instant("at", "2022-07-02T20:00:00+08:00").unwrap();
        epidemic_checkin(&db, obs, at).await;

        // Back from a high-risk area on 07-02: 7 days centralised, to 07-08. A 次密接 (7 days
        // at home from 07-01, to 07-07) asks for less: the observation stays as it is, and the
        // link points at it.
        let c = resident(&db, &t.grid_a, "王返乡", "53340119800101003").await;
        let obs_c = arrive(&db, c, "420111", "2022-07-02").await;
        let before = observation(&db, obs_c).await;
        let r = add_contact(&db, link(c, b, Secondary, "2022-07-01")).await;
        assert_eq!(r.classification.measure, Measure::HomeQuarantine);
        assert_eq!(r.classification.until, date("2022-07-07"));
        assert_eq!(r.observation_id, Some(obs_c));
        assert_eq!(r.observation_until, Some(date("2022-07-08")));
        assert_eq!(observations_of(&db, c).await, 1);
        assert_eq!(observation(&db, obs_c).await, before);
        let page = contacts::person_contacts(&db, &op(), c).await.unwrap();
        assert_eq!(page.sources[0].observation_id, Some(obs_c));

        // Once that observation is released, a new contact opens a new one.
        linli_store::epidemic::release(&db, &op(), &[obs_c], date("2022-07-08"), now_ms())
            .await
            .unwrap();
        let r = add_contact(&db, link(c, b, Secondary, "2022-07-09")).await;
        let again = r.observation_id.unwrap();
        assert_ne!(again, obs_c);
        assert_eq!(observation(&db, again).await.3, 1);
        assert_eq!(observations_of(&db, c).await, 2);
    }
);
