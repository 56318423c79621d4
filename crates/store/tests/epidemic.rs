//! Epidemic store tests (risk areas, policy presets, arrival screening), each on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

use linli_core::clock::parse_date;
use linli_core::idnumber::check_char;
use linli_core::policy::{DivisionCode, Measure, RiskArea, RiskLevel, Temperature};
use linli_core::registry::PersonInput;
use linli_core::{NewNode, NodeInput, Role, Scope};
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalSource};
use linli_store::nodes::{self, Node};
use linli_store::registry::{self, Placement};
use linli_store::{both_backends, Db, StoreError};

fn op() -> Scope {
    Scope::operator()
}

fn id(body: &str) -> String {
    format!("{body}{}", check_char(body.as_bytes()))
}

fn date(s: &str) -> time::Date {
    parse_date("date", s).unwrap()
}

async fn node(db: &Db, parent: Option<i64>, kind: &str, name: &str, code: Option<&str>) -> Node {
    let new = NewNode::parse(NodeInput {
        parent_id: parent,
        kind,
        name,
        code,
        ..Default::default()
    })
    .unwrap();
    nodes::create(db, &op(), new).await.unwrap()
}

struct Tree {
    community: Node,
    grid_a: Node,
    grid_b: Node,
}

async fn tree(db: &Db) -> Tree {
    let d = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let c = node(
        db,
        Some(d.id),
        "community",
        "里布嘎社区",
        Some("533401100003"),
    )
    .await;
    Tree {
        grid_a: node(db, Some(c.id), "grid", "甲网格", None).await,
        grid_b: node(db, Some(c.id), "grid", "乙网格", None).await,
        community: c,
    }
}

async fn resident(db: &Db, at: &Node, name: &str, body: &str) -> i64 {
    let n = id(body);
    registry::create(
        db,
        &op(),
        &Placement {
            node_id: at.id,
            ..Default::default()
        },
        &PersonInput {
            name,
            id_number: Some(&n),
            address: Some("3栋2单元501室"),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .0
    .id
}

fn arrival(person: i64, origin: &str, on: &str) -> ArrivalInput<'static> {
    ArrivalInput {
        person: ArrivalPerson::Registered(person),
        origin_code: DivisionCode::parse(origin).unwrap(),
        arrived_on: date(on),
        purpose: Some("返乡".into()),
        symptoms: Vec::new(),
        temperature: Some(Temperature::parse("36.5").unwrap()),
        source: ArrivalSource::Worker,
    }
}

async fn count(db: &Db, table: &str) -> i64 {
    let c: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .unwrap();
    c.0
}

both_backends!(
    a_fresh_database_holds_the_four_presets_published,
    |db: Db| async move {
        let all = epidemic::published_policies(&db).await.unwrap();
        let dates: Vec<String> = all
            .iter()
            .map(|p| linli_core::clock::format_date(p.policy.effective_from()))
            .collect();
        assert_eq!(
            dates,
            vec!["2020-01-20", "2022-06-28", "2022-11-11", "2023-01-08"]
        );
        // Migrating again adds nothing.
        db.migrate().await.unwrap();
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
        epidemic::add_risk_area(&db, &staff, &area).await,
        Err(StoreError::Forbidden(_))
    ));
    let official = Scope::for_user(6, "official", Role::Official, vec![t.grid_a.path.clone()]);
    epidemic::add_risk_area(&db, &official, &area)
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
        epidemic::add_risk_area(
            &db,
            &op(),
            &RiskArea::new(
                DivisionCode::parse("420111").unwrap(),
                None,
                RiskLevel::High,
                date("2022-06-30"),
                Some(date("2022-07-10")),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let p = resident(&db, &t.grid_a, "张三", "53340119850312001").await;

        // 9th edition, from a high-risk area: 7 days centralised, an observation opened.
        let r = epidemic::record_arrival(&db, &op(), arrival(p, "420111", "2022-07-02"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.days_total, 7);
        assert_eq!(r.classification.until, date("2022-07-08"));
        assert!(
            r.classification.explanation.contains("420111"),
            "{}",
            r.classification.explanation
        );
        assert!(r.observation_id.is_some());
        assert!(r.alert_id.is_none());

        // 2020: from Hubei, 14 days centralised.
        let r = epidemic::record_arrival(&db, &op(), arrival(p, "420102", "2020-02-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::CentralizedQuarantine);
        assert_eq!(r.classification.days_total, 14);

        // Class B (2023): nothing, and no observation.
        let r = epidemic::record_arrival(&db, &op(), arrival(p, "420111", "2023-03-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.observation_id.is_none());
        assert_eq!(count(&db, "arrival").await, 3);
        assert_eq!(count(&db, "observation").await, 2);

        // A fever at screening in 2020 raises an alert.
        let mut fever = arrival(p, "530100", "2020-02-03");
        fever.temperature = Some(Temperature::parse("38.2").unwrap());
        let r = epidemic::record_arrival(&db, &op(), fever).await.unwrap();
        assert!(r.classification.fever_alert);
        assert!(r.alert_id.is_some());
        assert_eq!(count(&db, "alert").await, 1);
        // No policy before 2020-01-20: refused, and the new person is not registered either.
        let before = count(&db, "person").await;
        let n = id("53340119990101009");
        let e = epidemic::record_arrival(
            &db,
            &op(),
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
        let r = epidemic::record_arrival(&db, &op(), fever).await.unwrap();
        assert_eq!(r.classification.measure, Measure::None);
        assert!(r.alert_id.is_some());

        // Arrivals cannot lie in the future.
        let e = epidemic::record_arrival(&db, &op(), arrival(p, "420111", "2099-01-01"))
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
        let e = epidemic::record_arrival(&db, &worker, arrival(in_b, "110101", "2022-07-02"))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert_eq!(count(&db, "arrival").await, 0);
        let official = Scope::for_user(6, "official", Role::Official, vec![t.grid_b.path.clone()]);
        let e = epidemic::record_arrival(&db, &official, arrival(in_b, "110101", "2022-07-02"))
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
    epidemic::record_arrival(db, &op(), input).await.unwrap()
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
        let r = epidemic::record_arrival(&db, &op(), arrival(p, "110101", "2020-02-01"))
            .await
            .unwrap();
        assert_eq!(r.classification.measure, Measure::HomeQuarantine);
        let obs = r.observation_id.unwrap();
        let at = |s: &str| linli_core::clock::parse_instant("at", s).unwrap();
        let ok = epidemic::add_checkin(
            &db,
            &op(),
            obs,
            &epidemic::CheckinInput {
                at: at("2020-02-03T08:00:00+08:00"),
                temperature: Some(Temperature::parse("36.6").unwrap()),
                symptoms: vec!["无".into()],
            },
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
        let oa = epidemic::record_arrival(&db, &op(), arrival(a, "110101", "2020-02-01"))
            .await
            .unwrap()
            .observation_id
            .unwrap();
        let ob = epidemic::record_arrival(&db, &op(), arrival(b, "110101", "2020-02-05"))
            .await
            .unwrap()
            .observation_id
            .unwrap();
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
        let e = epidemic::release(&db, &op(), &[oa, ob], date("2020-02-14"))
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
        let e = epidemic::release(&db, &worker_a, &[ob], date("2020-02-20"))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert_eq!(
            epidemic::release(&db, &op(), &[oa, ob], date("2020-02-20"))
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
        let e = epidemic::release(&db, &op(), &[oa], date("2020-02-20"))
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
        let oa = epidemic::record_arrival(&db, &op(), arrival(a, "110101", "2020-02-01"))
            .await
            .unwrap()
            .observation_id
            .unwrap();
        let ob = epidemic::record_arrival(&db, &op(), arrival(b, "110101", "2020-02-01"))
            .await
            .unwrap()
            .observation_id
            .unwrap();
        let worker_a = Scope::for_user(9, "wa", Role::GridWorker, vec![t.grid_a.path.clone()]);
        let writer = epidemic::CheckinWriter::new(db.clone());
        let at = linli_core::clock::parse_instant("at", "2020-02-03T08:00:00+08:00").unwrap();
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
