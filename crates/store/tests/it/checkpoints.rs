//! Checkpoints, passes and gate scans (trips: `trips.rs`); each test on SQLite and on PostgreSQL.

use linli_core::epidemic::checkpoint::{Direction, ScanOutcome, VehiclePlate};
use linli_core::epidemic::policy::Temperature;
use linli_core::epidemic::trips::TripDraft;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_instant;
use linli_core::{Role, Scope};
use linli_store::epidemic::checkpoints::{
    self, Checkpoint, Holder, Pass, PassInput, Passer, ScanInput, ScanRecorded,
};
use linli_store::tree::Node;
use linli_store::{both_backends, epidemic::retention, Db, StoreError};

use crate::support::{date, named, node, op, tree};

struct World {
    community: Node,
    compound_a: Node,
    compound_b: Node,
    worker_a: Scope,
    worker_b: Scope,
    staff: Scope,
    resident_a: i64,
}

/// A community with two grids, each over one compound; a worker per grid; a resident in A.
async fn world(db: &Db) -> World {
    let t = tree(db).await;
    let compound_a = node(db, Some(t.grid_a.id), "compound", "康珠小区", None).await;
    let compound_b = node(db, Some(t.grid_b.id), "compound", "月光城小区", None).await;
    let resident_a = named(db, &compound_a, "张三").await;
    World {
        worker_a: t.worker_a(),
        worker_b: t.worker_b(),
        staff: Scope::for_user(13, "staff", Role::Staff, vec![t.community.path.clone()]),
        resident_a,
        community: t.community,
        compound_a,
        compound_b,
    }
}

impl World {
    /// The staff member sets up a gate called `name` at `at`.
    async fn gate(&self, db: &Db, at: &Node, name: &str) -> Checkpoint {
        checkpoints::create_checkpoint(db, &self.staff, at.id, name, now_ms())
            .await
            .unwrap()
    }

    /// A pass of compound A for `holder`, valid from `from` to `to` (`YYYY-MM-DD`).
    fn pass_in_a(&self, holder: Holder, purpose: Option<&str>, from: &str, to: &str) -> PassInput {
        PassInput {
            node_id: self.compound_a.id,
            holder,
            purpose: purpose.map(Into::into),
            valid_from: date(from),
            valid_to: date(to),
        }
    }

    /// A pass of compound A for the resident (see [`World::pass_in_a`]).
    fn resident_pass(&self, purpose: Option<&str>, from: &str, to: &str) -> PassInput {
        self.pass_in_a(Holder::Person(self.resident_a), purpose, from, to)
    }
}

/// Issues `input` as `who`.
async fn issue(db: &Db, who: &Scope, input: &PassInput) -> Result<Pass, StoreError> {
    checkpoints::issue_pass(db, who, input, now_ms()).await
}

fn scan(direction: Direction, passer: Passer, temp: Option<&str>, when: &str) -> ScanInput {
    ScanInput {
        direction,
        passer,
        temperature: temp.map(|t| Temperature::parse(t).unwrap()),
        at: Some(parse_instant("at", when).unwrap()),
    }
}

/// `who` logs `input` at `gate`.
async fn at_gate(
    db: &Db,
    who: &Scope,
    gate: i64,
    input: &ScanInput,
) -> Result<ScanRecorded, StoreError> {
    checkpoints::record_scan(db, who, gate, input, now_ms()).await
}

async fn scan_rows(db: &Db) -> i64 {
    crate::support::count(db, "gate_scan").await
}

both_backends!(staff_set_up_checkpoints, |db: Db| async move {
    let w = world(&db).await;
    assert!(matches!(
        checkpoints::create_checkpoint(&db, &w.worker_a, w.compound_a.id, "东门", now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    let gate = w.gate(&db, &w.compound_a, " 东门 ").await;
    assert_eq!(gate.name, "东门");
    match checkpoints::create_checkpoint(&db, &w.staff, w.compound_a.id, "东门", now_ms()).await {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "name"),
        other => panic!("expected a name conflict, got {other:?}"),
    }
    w.gate(&db, &w.compound_b, "东门").await;
    // Listed under the community for staff; each worker sees only their own gates.
    let all = checkpoints::checkpoints(&db, &w.staff, w.community.id)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(matches!(
        checkpoints::checkpoints(&db, &w.worker_a, w.community.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        checkpoints::checkpoint(&db, &w.worker_b, gate.id).await,
        Err(StoreError::NotFound)
    ));
});

both_backends!(the_gate_judges_every_scan, |db: Db| async move {
    let w = world(&db).await;
    let gate = w.gate(&db, &w.compound_a, "东门").await;
    let resident_pass = w.resident_pass(Some("本小区居民"), "2022-03-01", "2022-03-31");
    let pass = issue(&db, &w.worker_a, &resident_pass).await.unwrap();
    assert_eq!(pass.code.len(), 8);
    assert_eq!(pass.person_name.as_deref(), Some("张三"));
    let card = || Passer::PassCode(pass.code.clone());
    let plate = |p: &str| Passer::Plate(VehiclePlate::parse(p).unwrap());

    // Each passage in turn, the verdict, and what the refusal must say.
    let verdicts = [
        // In with the card on a valid day: allowed.
        (
            scan(
                Direction::In,
                card(),
                Some("36.5"),
                "2022-03-10T08:00:00+08:00",
            ),
            ScanOutcome::Allowed,
            None,
        ),
        // Found by the person too.
        (
            scan(
                Direction::In,
                Passer::Person(w.resident_a),
                None,
                "2022-03-10T09:00:00+08:00",
            ),
            ScanOutcome::Allowed,
            None,
        ),
        // A fever stops the holder of a valid pass.
        (
            scan(
                Direction::In,
                card(),
                Some("37.6"),
                "2022-03-10T10:00:00+08:00",
            ),
            ScanOutcome::Fever,
            None,
        ),
        // After the last valid day: refused, with why.
        (
            scan(
                Direction::In,
                card(),
                Some("36.4"),
                "2022-04-01T08:00:00+08:00",
            ),
            ScanOutcome::NoPass,
            Some("过期"),
        ),
        // Leaving needs no pass.
        (
            scan(
                Direction::Out,
                plate("云P12345"),
                None,
                "2022-03-10T11:00:00+08:00",
            ),
            ScanOutcome::Allowed,
            None,
        ),
    ];
    let mut recorded = Vec::new();
    for (i, (input, outcome, why)) in verdicts.iter().enumerate() {
        let r = at_gate(&db, &w.worker_a, gate.id, input).await.unwrap();
        assert_eq!(r.outcome, *outcome, "passage {i}");
        if let Some(why) = why {
            assert!(
                r.reason.as_deref().unwrap().contains(why),
                "passage {i}: {r:?}"
            );
        }
        recorded.push(r);
    }
    assert_eq!(recorded[0].holder, "张*", "the guard sees the name masked");
    assert_eq!(recorded[0].pass_id, Some(pass.id));

    // An unknown code is a typo: refused, nothing logged.
    let before = scan_rows(&db).await;
    let typo = Passer::PassCode("ABCDEFGH".into());
    let typo = scan(Direction::In, typo, None, "2022-03-10T12:00:00+08:00");
    match at_gate(&db, &w.worker_a, gate.id, &typo).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "pass_code"),
        other => panic!("expected an invalid pass code, got {other:?}"),
    }
    assert_eq!(scan_rows(&db).await, before);
    // Revoked: refused from the next scan.
    checkpoints::revoke_pass(&db, &w.worker_a, pass.id, now_ms())
        .await
        .unwrap();
    assert!(matches!(
        checkpoints::revoke_pass(&db, &w.worker_a, pass.id, now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    let revoked = scan(Direction::In, card(), None, "2022-03-11T08:00:00+08:00");
    let r = at_gate(&db, &w.worker_a, gate.id, &revoked).await.unwrap();
    assert_eq!(r.outcome, ScanOutcome::NoPass);
    assert!(r.reason.unwrap().contains("收回"));

    // A vehicle pass, found by its plate however it is typed.
    let truck = Holder::Vehicle(VehiclePlate::parse("云P·A1234").unwrap());
    let truck = w.pass_in_a(truck, Some("保供车辆"), "2022-03-01", "2022-03-31");
    issue(&db, &w.staff, &truck).await.unwrap();
    let typed = scan(
        Direction::In,
        plate("云pa1234"),
        None,
        "2022-03-12T08:00:00+08:00",
    );
    let r = at_gate(&db, &w.worker_a, gate.id, &typed).await.unwrap();
    assert_eq!(r.outcome, ScanOutcome::Allowed);

    // The day's log and its counts.
    let (list, counts) = checkpoints::scans(&db, &w.worker_a, gate.id, date("2022-03-10"))
        .await
        .unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(list[0].direction, "out");
    assert_eq!(counts.entered, 3);
    assert_eq!(counts.left, 1);
    assert_eq!(counts.fever, 1);
    assert_eq!(counts.no_pass, 0);
});

both_backends!(
    a_gate_outside_the_passes_place_names_nobody,
    |db: Db| async move {
        let w = world(&db).await;
        let gate_b = w.gate(&db, &w.compound_b, "南门").await;
        let pass = issue(
            &db,
            &w.worker_a,
            &w.resident_pass(None, "2022-03-01", "2022-03-31"),
        )
        .await
        .unwrap();
        // Worker B cannot read A's pass, nor name its holder through B's gate.
        assert!(matches!(
            checkpoints::pass(&db, &w.worker_b, pass.id).await,
            Err(StoreError::NotFound)
        ));
        let at_eight = "2022-03-10T08:00:00+08:00";
        let by_card = scan(
            Direction::In,
            Passer::PassCode(pass.code.clone()),
            None,
            at_eight,
        );
        let r = at_gate(&db, &w.worker_b, gate_b.id, &by_card)
            .await
            .unwrap();
        assert_eq!(r.outcome, ScanOutcome::NoPass);
        assert_eq!(r.holder, "辖区外通行证");
        let (list, _) = checkpoints::scans(&db, &w.worker_b, gate_b.id, date("2022-03-10"))
            .await
            .unwrap();
        assert!(list.iter().all(|s| s.holder != "张三"));
        // Nor scan A's resident by id, nor revoke A's pass.
        let resident = |d: Direction| scan(d, Passer::Person(w.resident_a), None, at_eight);
        assert!(matches!(
            at_gate(&db, &w.worker_b, gate_b.id, &resident(Direction::In)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            checkpoints::revoke_pass(&db, &w.worker_b, pass.id, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        // An official reads but does not staff the gate.
        let official = Scope::for_user(
            14,
            "official",
            Role::Official,
            vec![w.community.path.clone()],
        );
        assert!(matches!(
            at_gate(&db, &official, gate_b.id, &resident(Direction::Out)).await,
            Err(StoreError::Forbidden(_))
        ));
    }
);

both_backends!(
    scans_are_anonymised_after_their_retention,
    |db: Db| async move {
        let w = world(&db).await;
        let gate = w.gate(&db, &w.compound_a, "东门").await;
        let out = Passer::Person(w.resident_a);
        let out = scan(Direction::Out, out, None, "2022-03-10T08:00:00+08:00");
        at_gate(&db, &w.worker_a, gate.id, &out).await.unwrap();
        // Kept 60 days when so configured: not yet on 2022-04-20. With the default 30 days:
        // due after 2022-04-09.
        for (today, kept_days, anonymised) in [
            ("2022-04-20", 60, 0),
            ("2022-04-09", 30, 0),
            ("2022-04-10", 30, 1),
        ] {
            let run = retention::anonymise_due(&db, date(today), kept_days, now_ms())
                .await
                .unwrap();
            assert_eq!(run.scans, anonymised, "on {today}, kept {kept_days} days");
        }
        let (list, counts) = checkpoints::scans(&db, &w.worker_a, gate.id, date("2022-03-10"))
            .await
            .unwrap();
        assert_eq!(list[0].holder, "已匿名");
        assert_eq!(counts.left, 1, "the count stays");
    }
);

both_backends!(
    the_gate_knows_who_is_under_quarantine,
    |db: Db| async move {
        use linli_core::epidemic::contact::CaseKind;
        use linli_store::epidemic::{self, contacts};
        let w = world(&db).await;
        let gate = w.gate(&db, &w.compound_a, "东门").await;
        // A pass issued while free, then an arrival from Hubei (2020): 14 days centralised.
        let pass = issue(
            &db,
            &w.staff,
            &w.resident_pass(None, "2020-01-01", "2020-12-31"),
        )
        .await
        .unwrap();
        let arrival = crate::support::arrival(w.resident_a, "420111", "2020-02-01");
        epidemic::record_arrival(&db, &op(), arrival, now_ms())
            .await
            .unwrap();
        let card = |d: Direction, temp: &str, when: &str| {
            scan(d, Passer::PassCode(pass.code.clone()), Some(temp), when)
        };

        // Going out on day 3: refused, with the measure and the last day.
        let going_out = card(Direction::Out, "36.5", "2020-02-03T09:00:00+08:00");
        let r = at_gate(&db, &w.worker_a, gate.id, &going_out)
            .await
            .unwrap();
        assert_eq!(r.outcome, ScanOutcome::UnderQuarantine);
        assert_eq!(
            r.message.as_deref(),
            Some("不予放行：集中隔离（至 2020-02-14），不得外出")
        );
        assert_eq!(r.holder, "张*");
        assert!(r.alert_id.is_none());
        // Coming back in with the pass is not refused for quarantine.
        let coming_in = card(Direction::In, "36.5", "2020-02-03T10:00:00+08:00");
        let r = at_gate(&db, &w.worker_a, gate.id, &coming_in)
            .await
            .unwrap();
        assert_eq!(r.outcome, ScanOutcome::Allowed);

        // No new pass, no trip: both refused naming the measure.
        let e = issue(
            &db,
            &w.staff,
            &w.resident_pass(None, "2020-02-03", "2020-02-10"),
        )
        .await
        .unwrap_err();
        match e {
            StoreError::Invalid(v) => {
                assert_eq!(v[0].field, "person_id");
                assert!(v[0].message.contains("集中隔离（至 2020-02-14）"), "{v:?}");
            }
            other => panic!("{other:?}"),
        }
        let trip = TripDraft::parse("就医", "县医院", Ok(date("2020-02-04")), None, false).unwrap();
        let e =
            linli_store::epidemic::trips::add_trip(&db, &w.staff, w.resident_a, &trip, now_ms())
                .await
                .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(v) if v[0].message.contains("不能登记外出")),
            "{e:?}"
        );

        // A fever at the gate refuses entry and raises an alert in the gate's node.
        let feverish = card(Direction::In, "37.3", "2020-02-03T11:00:00+08:00");
        let r = at_gate(&db, &w.worker_a, gate.id, &feverish).await.unwrap();
        assert_eq!(r.outcome, ScanOutcome::Fever);
        let alert_id = r.alert_id.expect("a fever alert");
        let alerts = epidemic::open_alerts(&db, &w.worker_a, w.compound_a.id, Some("fever"))
            .await
            .unwrap();
        let raised = alerts.iter().find(|a| a.id == alert_id).expect("listed");
        assert!(raised.detail.contains("东门"), "{raised:?}");
        let (path,): (String,) = sqlx::query_as("SELECT node_path FROM alert WHERE id = $1")
            .bind(alert_id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(path, w.compound_a.path.as_str());
        let (_, counts) = checkpoints::scans(&db, &w.worker_a, gate.id, date("2020-02-03"))
            .await
            .unwrap();
        assert_eq!(counts.under_quarantine, 1);

        // A case is refused going out whatever the observation says (a released one here).
        let obs: Vec<i64> = sqlx::query_scalar("SELECT id FROM observation WHERE person_id = $1")
            .bind(w.resident_a)
            .fetch_all(db.pool())
            .await
            .unwrap();
        epidemic::release(&db, &op(), &obs, date("2020-02-14"), now_ms())
            .await
            .unwrap();
        let out = Passer::Person(w.resident_a);
        let out = scan(Direction::Out, out, None, "2020-02-20T09:00:00+08:00");
        let r = at_gate(&db, &w.worker_a, gate.id, &out).await.unwrap();
        assert_eq!(r.outcome, ScanOutcome::Allowed, "released: free to go");
        contacts::mark_case(
            &db,
            &op(),
            w.resident_a,
            CaseKind::Confirmed,
            date("2020-02-18"),
            now_ms(),
        )
        .await
        .unwrap();
        let r = at_gate(&db, &w.worker_a, gate.id, &out).await.unwrap();
        assert_eq!(r.outcome, ScanOutcome::UnderQuarantine);
        assert!(
            r.message
                .as_deref()
                .unwrap()
                .contains("确诊病例（2020-02-18 起）"),
            "{r:?}"
        );
    }
);
