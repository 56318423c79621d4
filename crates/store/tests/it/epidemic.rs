//! Epidemic store tests (risk areas, policy presets, arrival screening), each on SQLite and on
//! PostgreSQL.

use linli_core::epidemic::contact::CaseKind;
use linli_core::epidemic::policy::{
    ContactKind, DivisionCode, Measure, RiskArea, RiskLevel, Temperature,
};
use linli_core::kernel::clock::now_ms;
use linli_core::registry::PersonInput;
use linli_core::{Role, Scope};
use linli_store::epidemic::contacts;
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson};
use linli_store::registry::Placement;
use linli_store::tree::Node;
use linli_store::{both_backends, Db, StoreError};

use crate::support::{
    add_contact, arrival, arrive, count, date, id, link, make_case, observations_of, observe, op,
    resident, risk_area, tree,
};

both_backends!(
    a_fresh_database_holds_the_four_presets_published,
    |db: Db| async move {
        let all = epidemic::published_policies(&db).await.unwrap();
        let dates: Vec<String> = all
            .iter()
            .map(|p| linli_core::kernel::clock::format_date(p.policy.effective_from()))
            .collect();
        assert_eq!(
            dates,
            vec!["2020-01-20", "2022-06-28", "2022-11-11", "2023-01-08"]
        );
        // Migrating again adds nothing.
        db.migrate(now_ms()).await.unwrap();
        assert_eq!(epidemic::published_policies(&db).await.unwrap().len(), 4);
    }
);

both_backends!(only_officials_declare_risk_areas, |db: Db| async move {
    let t = tree(&db).await;
    let area = RiskArea::new(
        DivisionCode::parse("420111").unwrap(),
        Some("武汉市洪山区"),
        RiskLevel::High,
        date("2022-06-30"),
        Some(date("2022-07-10")),
    )
    .unwrap();
    let staff = Scope::for_user(5, "staff", Role::Staff, vec![t.grid_a.path.clone()]);
    assert!(matches!(
        epidemic::add_risk_area(&db, &staff, &area, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    let official = Scope::for_user(6, "official", Role::Official, vec![t.grid_a.path.clone()]);
    epidemic::add_risk_area(&db, &official, &area, now_ms())
        .await
        .unwrap();
    let listed = epidemic::risk_areas(&db).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].area, area);
    assert_eq!(listed[0].created_by, "official");
});

both_backends!(
    arrivals_are_classified_by_the_policy_of_their_own_date,
    |db: Db| async move {
        let t = tree(&db).await;
        risk_area(&db, "420111", RiskLevel::High).await;
        let p = resident(&db, &t.grid_a, "张三", "53340119850312001").await;

        // 9th edition, from a high-risk area: 7 days centralised, an observation opened.
        let r = arrive(&db, arrival(p, "420111", "2022-07-02"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.days_total, 7);
        assert_eq!(r.classification.until, date("2022-07-08"));
        assert!(
            r.classification
                .explanation
                .contains("从湖北省武汉市洪山区抵达"),
            "{}",
            r.classification.explanation
        );
        assert!(r.observation_id.is_some());
        assert!(r.alert_id.is_none());
        // Released, so the next screening is not folded into it (one observation at a time).
        epidemic::release(
            &db,
            &op(),
            &[r.observation_id.unwrap()],
            date("2022-07-08"),
            now_ms(),
        )
        .await
        .unwrap();

        // 2020: from Hubei, 14 days centralised.
        let r = arrive(&db, arrival(p, "420102", "2020-02-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.days_total, 14);
        epidemic::release(
            &db,
            &op(),
            &[r.observation_id.unwrap()],
            date("2020-02-14"),
            now_ms(),
        )
        .await
        .unwrap();

        // Class B (2023): nothing, and no observation.
        let r = arrive(&db, arrival(p, "420111", "2023-03-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.observation_id.is_none());
        assert_eq!(count(&db, "arrival").await, 3);
        assert_eq!(count(&db, "observation").await, 2);

        // A fever at screening in 2020 raises an alert.
        let mut fever = arrival(p, "530100", "2020-02-03");
        fever.temperature = Some(Temperature::parse("38.2").unwrap());
        let r = arrive(&db, fever).await.unwrap();
        assert!(r.classification.fever_alert);
        assert!(r.alert_id.is_some());
        assert_eq!(count(&db, "alert").await, 1);
        // The fever adds an alert to the origin's 14 days at home (another city of the
        // province), it never replaces them with a day of its own.
        assert_eq!(
            (r.classification.measure, r.classification.days_total),
            (Measure::HomeQuarantine, 14)
        );
        assert!(r.observation_id.is_some());
        let detail: String = sqlx::query_scalar("SELECT detail FROM alert WHERE id = $1")
            .bind(r.alert_id.unwrap())
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(detail, "排查时体温 38.2 ℃ 已发出发热预警，请立即送发热门诊");
        // No policy before 2020-01-20: refused, and the new person is not registered either.
        let before = count(&db, "person").await;
        let n = id("53340119990101009");
        let e = arrive(
            &db,
            ArrivalInput {
                person: ArrivalPerson::New {
                    placement: Placement {
                        node_id: t.grid_a.id,
                        ..Default::default()
                    },
                    input: PersonInput {
                        name: "早到者",
                        id_number: Some(&n),
                        ..Default::default()
                    },
                },
                ..arrival(0, "420111", "2019-12-01")
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "arrived_on"),
            "{e:?}"
        );
        assert_eq!(count(&db, "person").await, before);

        // Under Class B no measure applies, but a fever at the door is still an alert.
        let mut fever = arrival(p, "530100", "2023-03-02");
        fever.symptoms = vec!["咳嗽".into()];
        let r = arrive(&db, fever).await.unwrap();
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.alert_id.is_some());

        // Arrivals cannot lie in the future.
        let e = arrive(&db, arrival(p, "420111", "2099-01-01"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "arrived_on"),
            "{e:?}"
        );
    }
);

both_backends!(
    a_grid_worker_screens_only_their_own_grid,
    |db: Db| async move {
        let t = tree(&db).await;
        let in_b = resident(&db, &t.grid_b, "李四", "53340119870101002").await;
        let worker = Scope::for_user(9, "wg", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let e = epidemic::record_arrival(
            &db,
            &worker,
            arrival(in_b, "110101", "2022-07-02"),
            now_ms(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert_eq!(count(&db, "arrival").await, 0);
        let official = Scope::for_user(6, "official", Role::Official, vec![t.grid_b.path.clone()]);
        let e = epidemic::record_arrival(
            &db,
            &official,
            arrival(in_b, "110101", "2022-07-02"),
            now_ms(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
    }
);

async fn arrive_new(db: &Db, at: &Node, id_number: &str) -> epidemic::ArrivalRecorded {
    let input = ArrivalInput {
        person: ArrivalPerson::New {
            placement: Placement {
                node_id: at.id,
                ..Default::default()
            },
            input: PersonInput {
                name: "王五",
                id_number: Some(id_number),
                ..Default::default()
            },
        },
        ..arrival(0, "110101", "2022-07-02")
    };
    epidemic::record_arrival(db, &op(), input, now_ms())
        .await
        .unwrap()
}

both_backends!(
    a_new_arrival_is_added_to_the_registry_once,
    |db: Db| async move {
        let t = tree(&db).await;
        let n = id("53340119900101003");
        let first = arrive_new(&db, &t.grid_a, &n).await;
        let second = arrive_new(&db, &t.grid_a, &n.to_lowercase()).await;
        assert_eq!(first.person_id, second.person_id, "matched by ID number");
        assert_eq!(count(&db, "person").await, 1);
    }
);

both_backends!(
    check_ins_fall_inside_the_period_and_fevers_raise_scoped_alerts,
    |db: Db| async move {
        let t = tree(&db).await;
        let p = resident(&db, &t.grid_a, "张三", "53340119850312001").await;
        // 2020: from another province, 14 days of home quarantine from 2020-02-01.
        let r = arrive(&db, arrival(p, "110101", "2020-02-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::HomeQuarantine);
        let obs = r.observation_id.unwrap();
        let at = |s: &str| linli_core::kernel::clock::parse_instant("at", s).unwrap();
        let ok = epidemic::add_checkin(
            &db,
            &op(),
            obs,
            &epidemic::CheckinInput {
                at: at("2020-02-03T08:00:00+08:00"),
                temperature: Some(Temperature::parse("36.6").unwrap()),
                symptoms: vec!["无".into()],
            },
            now_ms(),
        )
        .await
        .unwrap();
        assert!(ok.alert_id.is_none(), "「无」 is not a symptom");
        // The day after the last day (2020-02-14) is outside the period.
        let e = epidemic::add_checkin(
            &db,
            &op(),
            obs,
            &epidemic::CheckinInput {
                at: at("2020-02-15T08:00:00+08:00"),
                temperature: Some(Temperature::parse("36.6").unwrap()),
                symptoms: Vec::new(),
            },
            now_ms(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "at"),
            "{e:?}"
        );
        let fever = epidemic::add_checkin(
            &db,
            &op(),
            obs,
            &epidemic::CheckinInput {
                at: at("2020-02-14T20:00:00+08:00"),
                temperature: Some(Temperature::parse("37.3").unwrap()),
                symptoms: Vec::new(),
            },
            now_ms(),
        )
        .await
        .unwrap();
        assert!(fever.alert_id.is_some(), "37.3 °C is a fever");

        // Alerts: visible under the grid and the community, not to another grid's worker.
        let worker_a = Scope::for_user(9, "wa", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let worker_b = Scope::for_user(10, "wb", Role::GridWorker, vec![t.grid_b.path.clone()]);
        let mine = epidemic::open_alerts(&db, &worker_a, t.grid_a.id, Some("fever"))
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].person_name, "张三");
        assert!(matches!(
            epidemic::open_alerts(&db, &worker_b, t.grid_a.id, None).await,
            Err(StoreError::NotFound)
        ));
        assert!(epidemic::open_alerts(&db, &worker_b, t.grid_b.id, None)
            .await
            .unwrap()
            .is_empty());
        // And worker B cannot check in on A's observation.
        let e = epidemic::add_checkin(
            &db,
            &worker_b,
            obs,
            &epidemic::CheckinInput {
                at: at("2020-02-04T08:00:00+08:00"),
                temperature: Some(Temperature::parse("36.6").unwrap()),
                symptoms: Vec::new(),
            },
            now_ms(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
    }
);

both_backends!(
    releases_due_are_listed_and_released_in_one_batch,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "张三", "53340119850312001").await;
        let b = resident(&db, &t.grid_b, "李四", "53340119870101002").await;
        // 2020, other province: 14 days of home quarantine, 2020-02-01 to 2020-02-14.
        let oa = observe(&db, arrival(a, "110101", "2020-02-01")).await;
        let ob = observe(&db, arrival(b, "110101", "2020-02-05")).await;
        let worker_a = Scope::for_user(9, "wa", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let community = t.community.id;
        // On 02-14 only A is due; the community sees A, worker A sees A under their grid.
        let due = epidemic::releases_due(&db, &op(), community, date("2020-02-14"))
            .await
            .unwrap();
        assert_eq!(
            due.iter().map(|d| d.observation_id).collect::<Vec<_>>(),
            vec![oa]
        );
        let due = epidemic::releases_due(&db, &worker_a, t.grid_a.id, date("2020-02-20"))
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "B's observation is not in A's grid");
        // B is not due on 02-14: the whole batch is refused and A stays open.
        let e = epidemic::release(&db, &op(), &[oa, ob], date("2020-02-14"), now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].message.contains("2020-02-18")),
            "{e:?}"
        );
        assert_eq!(
            epidemic::releases_due(&db, &op(), community, date("2020-02-14"))
                .await
                .unwrap()
                .len(),
            1
        );
        // Worker A cannot release B's.
        let e = epidemic::release(&db, &worker_a, &[ob], date("2020-02-20"), now_ms())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert_eq!(
            epidemic::release(&db, &op(), &[oa, ob], date("2020-02-20"), now_ms())
                .await
                .unwrap(),
            2
        );
        assert!(
            epidemic::releases_due(&db, &op(), community, date("2020-02-20"))
                .await
                .unwrap()
                .is_empty()
        );
        // Released observations take no more check-ins, and cannot be released twice.
        let e = epidemic::release(&db, &op(), &[oa], date("2020-02-20"), now_ms())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    }
);

both_backends!(
    concurrent_check_ins_through_the_batching_writer_each_get_their_own_answer,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = resident(&db, &t.grid_a, "张三", "53340119850312001").await;
        let b = resident(&db, &t.grid_b, "李四", "53340119870101002").await;
        let oa = observe(&db, arrival(a, "110101", "2020-02-01")).await;
        let ob = observe(&db, arrival(b, "110101", "2020-02-01")).await;
        let worker_a = Scope::for_user(9, "wa", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let writer = epidemic::CheckinWriter::new(db.clone());
        let at =
            linli_core::kernel::clock::parse_instant("at", "2020-02-03T08:00:00+08:00").unwrap();
        // 300 check-ins at once, so they share batches: worker A's on A's observation (every
        // tenth a fever), and some on B's observation, which A may not see.
        let mut tasks = Vec::new();
        for i in 0..300 {
            let writer = writer.clone();
            let scope = worker_a.clone();
            let (obs, t) = match i % 10 {
                0 => (oa, "37.5"),
                7 => (ob, "36.5"),
                _ => (oa, "36.5"),
            };
            tasks.push(tokio::spawn(async move {
                writer
                    .add(epidemic::CheckinJob {
                        scope,
                        observation_id: obs,
                        input: epidemic::CheckinInput {
                            at: at + i,
                            temperature: Some(Temperature::parse(t).unwrap()),
                            symptoms: Vec::new(),
                        },
                        now: now_ms(),
                        channel: linli_core::epidemic::observation::CheckinChannel::Api,
                    })
                    .await
            }));
        }
        let mut ids = std::collections::HashSet::new();
        let (mut stored, mut refused, mut alerts) = (0, 0, 0);
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(r) => {
                    assert_eq!(r.observation_id, oa);
                    assert!(ids.insert(r.id), "every check-in its own id");
                    assert_eq!(r.alert_id.is_some(), i % 10 == 0, "row {i}");
                    alerts += usize::from(r.alert_id.is_some());
                    stored += 1;
                }
                Err(e) => {
                    assert_eq!(i % 10, 7, "row {i}: {e:?}");
                    assert!(matches!(e, StoreError::NotFound), "{e:?}");
                    refused += 1;
                }
            }
        }
        assert_eq!((stored, refused, alerts), (270, 30, 30));
        assert_eq!(count(&db, "checkin").await, 270);
        // Each acknowledged id is the row with that check-in's own time and temperature.
        let rows: Vec<(i64, i64, Option<i64>)> =
            sqlx::query_as("SELECT id, at, temperature_tenths FROM checkin")
                .fetch_all(db.pool())
                .await
                .unwrap();
        for (id, at_ms, t) in rows {
            assert!(ids.contains(&id));
            let i = at_ms - at;
            assert_eq!(t, Some(if i % 10 == 0 { 375 } else { 365 }), "row {i}");
        }
        assert_eq!(
            epidemic::open_alerts(&db, &worker_a, t.grid_a.id, Some("fever"))
                .await
                .unwrap()
                .len(),
            30
        );
    }
);

/// (measure, start, until, the arrival it follows) of an observation.
async fn observation(db: &Db, id: i64) -> (String, String, String, Option<i64>) {
    sqlx::query_as("SELECT measure, start_on, until_on, arrival_id FROM observation WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn high_risk(db: &Db, code: &str) {
    let area = RiskArea::new(
        DivisionCode::parse(code).unwrap(),
        None,
        RiskLevel::High,
        date("2022-06-20"),
        None,
    )
    .unwrap();
    epidemic::add_risk_area(db, &op(), &area, now_ms())
        .await
        .unwrap();
}

/// A confirmed case, their close contact, and a 次密接 of that contact last in contact on
/// `on` (so under home quarantine for 7 days from then): the 次密接's id and observation.
async fn secondary_contact(db: &Db, grid: &Node, on: &str) -> (i64, i64) {
    let case = resident(db, grid, "张病例", "53340119800101001").await;
    let b = resident(db, grid, "李密接", "53340119800101002").await;
    let c = resident(db, grid, "王次密", "53340119800101003").await;
    make_case(db, case, CaseKind::Confirmed, "2022-07-02").await;
    add_contact(db, link(b, case, ContactKind::CloseContact, "2022-07-01")).await;
    let r = add_contact(db, link(c, b, ContactKind::SecondaryContact, on)).await;
    assert_eq!(r.classification.measure, Measure::HomeQuarantine);
    (c, r.observation_id.unwrap())
}

async fn find_person(db: &Db, name: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM person WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .unwrap();
    id
}

both_backends!(
    an_arrival_of_a_contact_under_observation_upgrades_that_observation,
    |db: Db| async move {
        let t = tree(&db).await;
        high_risk(&db, "420111").await;
        // A 次密接 (last contact 07-01): 7 days at home, to 07-07.
        let (c, obs) = secondary_contact(&db, &t.grid_a, "2022-07-01").await;
        let b = find_person(&db, "李密接").await;
        assert_eq!(
            observation(&db, obs).await,
            (
                "home_quarantine".into(),
                "2022-07-01".into(),
                "2022-07-07".into(),
                None
            )
        );

        // Back from a high-risk area on 07-03: 7 days centralised, to 07-09. The same
        // observation is upgraded (keeping its first day), the arrival linked to it, and the
        // worker reads out what happened.
        let r = arrive(&db, arrival(c, "420111", "2022-07-03"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observations_of(&db, c).await, 1);
        assert_eq!(
            observation(&db, obs).await,
            (
                "centralized_quarantine".into(),
                "2022-07-01".into(),
                "2022-07-09".into(),
                Some(r.id)
            )
        );
        let text = &r.classification.explanation;
        for part in [
            "湖北省武汉市洪山区",
            "已在医学观察中",
            "2022-07-01",
            "改为集中隔离",
            "由 2022-07-07 延至 2022-07-09",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let (stored,): (String,) = sqlx::query_as("SELECT explanation FROM arrival WHERE id = $1")
            .bind(r.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(&stored, text);
        let page = contacts::person_contacts(&db, &op(), c).await.unwrap();
        assert_eq!(page.sources[0].observation_id, Some(obs));

        // A later contact asking less (home to 07-10) now keeps the arrival's plan.
        let r = add_contact(&db, link(c, b, ContactKind::SecondaryContact, "2022-07-04")).await;
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observation(&db, obs).await.0, "centralized_quarantine");
        assert_eq!(observations_of(&db, c).await, 1);
    }
);

both_backends!(
    a_stricter_arrival_never_shortens_the_observation_a_contact_owes,
    |db: Db| async move {
        let t = tree(&db).await;
        high_risk(&db, "420111").await;
        // A 次密接 last in contact on 07-06: at home to 07-12.
        let (c, obs) = secondary_contact(&db, &t.grid_a, "2022-07-06").await;
        assert_eq!(observation(&db, obs).await.2, "2022-07-12");

        // Back from a high-risk area on 07-03: centralised to 07-09, stricter but shorter. The
        // observation becomes centralised and still runs to 07-12, the last days at home.
        let r = arrive(&db, arrival(c, "420111", "2022-07-03"))
            .await
            .unwrap();
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observations_of(&db, c).await, 1);
        let (measure, _, until, _) = observation(&db, obs).await;
        assert_eq!(
            (measure.as_str(), until.as_str()),
            ("centralized_quarantine", "2022-07-12")
        );
        let (stages,): (String,) =
            sqlx::query_as("SELECT stages_json FROM observation WHERE id = $1")
                .bind(obs)
                .fetch_one(db.pool())
                .await
                .unwrap();
        let stages: serde_json::Value = serde_json::from_str(&stages).unwrap();
        let last = stages.as_array().unwrap().last().unwrap();
        assert_eq!(last["measure"], "home_quarantine", "{stages}");
        assert_eq!(last["start"], "2022-07-10", "{stages}");
        assert_eq!(last["until"], "2022-07-12", "{stages}");
        let text = &r.classification.explanation;
        assert!(
            text.contains("改为集中隔离，期满日仍为 2022-07-12"),
            "{text}"
        );
    }
);

both_backends!(
    two_arrivals_in_a_row_share_one_observation_until_it_is_released,
    |db: Db| async move {
        let t = tree(&db).await;
        high_risk(&db, "420111").await;
        let p = resident(&db, &t.grid_a, "张三", "53340119850312001").await;
        let first = arrive(&db, arrival(p, "420111", "2022-07-02"))
            .await
            .unwrap();
        let obs = first.observation_id.unwrap();
        assert!(
            !first.classification.explanation.contains("已在医学观察中"),
            "{}",
            first.classification.explanation
        );

        // Again on 07-05 (back and forth): the planned end moves to the later one, 07-11.
        let second = arrive(&db, arrival(p, "420111", "2022-07-05"))
            .await
            .unwrap();
        assert_eq!(second.observation_id, Some(obs));
        assert_eq!(
            observation(&db, obs).await,
            (
                "centralized_quarantine".into(),
                "2022-07-02".into(),
                "2022-07-11".into(),
                Some(second.id)
            )
        );
        let text = &second.classification.explanation;
        assert!(text.contains("由 2022-07-08 延至 2022-07-11"), "{text}");

        // A screening entered late for 07-03 asks less (to 07-09): kept, and said so. Its fever
        // alert points at the person's observation.
        let mut late = arrival(p, "420111", "2022-07-03");
        late.temperature = Some(Temperature::parse("38.0").unwrap());
        let r = arrive(&db, late).await.unwrap();
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observation(&db, obs).await.2, "2022-07-11");
        assert_eq!(observation(&db, obs).await.3, Some(second.id));
        let text = &r.classification.explanation;
        assert!(text.contains("保持不变，期满日仍为 2022-07-11"), "{text}");
        let (alert_obs,): (Option<i64>,) =
            sqlx::query_as("SELECT observation_id FROM alert WHERE id = $1")
                .bind(r.alert_id.unwrap())
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(alert_obs, Some(obs));

        // A screening with no measure (local, same city) leaves it exactly as it is.
        let before = observation(&db, obs).await;
        let r = arrive(&db, arrival(p, "533401", "2022-07-06"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::None);
        assert_eq!(r.observation_id, Some(obs));
        assert_eq!(observation(&db, obs).await, before);
        assert!(
            r.classification.explanation.contains("保持不变"),
            "{}",
            r.classification.explanation
        );
        assert_eq!(observations_of(&db, p).await, 1);
        assert_eq!(count(&db, "arrival").await, 4);
        // Every screening names the one observation, so all are kept as long as it is open.
        let (linked,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM arrival WHERE person_id = $1 AND observation_id = $2",
        )
        .bind(p)
        .bind(obs)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(linked, 4);
        let run =
            linli_store::epidemic::retention::anonymise_due(&db, date("2022-09-01"), 30, now_ms())
                .await
                .unwrap();
        assert_eq!(run.arrivals, 0, "open observation: nothing purged");

        // Releasing the one observation releases the person: the next arrival opens a new one.
        assert!(
            epidemic::releases_due(&db, &op(), t.community.id, date("2022-07-10"))
                .await
                .unwrap()
                .is_empty()
        );
        epidemic::release(&db, &op(), &[obs], date("2022-07-11"), now_ms())
            .await
            .unwrap();
        let r = arrive(&db, arrival(p, "420111", "2022-07-12"))
            .await
            .unwrap();
        let again = r.observation_id.unwrap();
        assert_ne!(again, obs);
        assert_eq!(observation(&db, again).await.3, Some(r.id));
        assert!(!r.classification.explanation.contains("已在医学观察中"));
        assert_eq!(observations_of(&db, p).await, 2);
        // Released on 07-11: the four screenings of the first observation are purged with it
        // (30 days on), the new one is kept while its observation is open.
        let run =
            linli_store::epidemic::retention::anonymise_due(&db, date("2022-08-10"), 30, now_ms())
                .await
                .unwrap();
        assert_eq!(run.arrivals, 0, "kept to the last day");
        let run =
            linli_store::epidemic::retention::anonymise_due(&db, date("2022-08-11"), 30, now_ms())
                .await
                .unwrap();
        assert_eq!(run.arrivals, 4);
        assert_eq!(run.observations, 1);
        let (kept,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM arrival WHERE anonymised_at IS NOT NULL \
             AND (classification_json IS NOT NULL OR person_id IS NOT NULL)",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            kept, 0,
            "anonymised screenings keep no classification and no person"
        );
        let gone = epidemic::arrival_result(&db, &op(), first.id).await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
        let shown = epidemic::arrival_result(&db, &op(), r.id).await.unwrap();
        assert_eq!(shown.observation_id, Some(again));
        assert_eq!(shown.classification, r.classification);
    }
);

both_backends!(
    a_fever_under_the_2020_preset_as_first_stored_keeps_the_quarantine,
    |db: Db| async move {
        let t = tree(&db).await;
        let p = resident(&db, &t.grid_a, "张三", "53340119870101001").await;
        // The 2020 preset as databases published it before: its fever row set 1 day of
        // centralised quarantine. It still loads, and a fever adds to the origin's 14 days.
        let json: String = sqlx::query_scalar(
            "SELECT rules_json FROM policy_version WHERE policy_key = 'community-2020'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old["rules"][4]["measure"] = "centralized_quarantine".into();
        old["rules"][4]["stages"] =
            serde_json::json!([{"measure": "centralized_quarantine", "days": 1}]);
        old["rules"][4]["check_ins_per_day"] = 2.into();
        sqlx::query(
            "UPDATE policy_version SET rules_json = $1 WHERE policy_key = 'community-2020'",
        )
        .bind(old.to_string())
        .execute(db.pool())
        .await
        .unwrap();

        let mut fever = arrival(p, "440106", "2020-02-01");
        fever.temperature = Some(Temperature::parse("37.6").unwrap());
        let r = arrive(&db, fever).await.unwrap();
        let c = &r.classification;
        assert_eq!(
            (c.measure, c.days_total, c.until),
            (Measure::HomeQuarantine, 14, date("2020-02-14"))
        );
        assert_eq!(
            c.headline(),
            "居家隔离 14 天；体温 37.6 ℃ 已发出发热预警，请立即送发热门诊"
        );
        assert!(r.alert_id.is_some() && r.observation_id.is_some());
        // Not due for release on the day of arrival.
        let due = epidemic::releases_due(&db, &op(), t.grid_a.id, date("2020-02-01"))
            .await
            .unwrap();
        assert!(due.is_empty(), "{due:?}");
        // The result page reads it back whole, alerts included.
        let back = epidemic::arrival_result(&db, &op(), r.id).await.unwrap();
        assert_eq!(back.classification.alerts, c.alerts);
    }
);
