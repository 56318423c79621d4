//! Supplies store tests, each on SQLite and on PostgreSQL: the ledger's invariants (balance =
//! sum of entries, never negative, also under concurrent issues), transfers, stock over a
//! subtree, and who may do what where.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::supplies::{Movement, Quantity, SiteDraft};
use linli_core::{Role, Scope};
use linli_store::supplies::{self, Site, SiteStockLine, TransferInput, TransferState};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, Page, StoreError};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::support::{
    arrival, count, high_risk_area, observe, op, registered, street_tree, Street,
};

/// The [`Street`] tree with a reserve at the street and a store in each community, and the id
/// of the masks item.
struct World {
    tree: Street,
    reserve: Site,
    store_a: Site,
    store_b: Site,
    masks: i64,
}

/// A street with a reserve and two communities, each with a store; community A has a grid.
async fn world(db: &Db) -> World {
    let tree = street_tree(db, None).await;
    let site = |at: i64, name: &'static str, upper: bool| async move {
        let draft = SiteDraft::parse(name, None, upper).unwrap();
        supplies::create_site(db, &op(), at, &draft, now_ms())
            .await
            .unwrap()
    };
    let reserve = site(tree.street.id, "街道储备库", true).await;
    let store_a = site(tree.community_a.id, "社区物资点", false).await;
    let store_b = site(tree.community_b.id, "社区物资点", false).await;
    let masks = supplies::items(db)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.name == "医用外科口罩")
        .unwrap()
        .id;
    World {
        tree,
        reserve,
        store_a,
        store_b,
        masks,
    }
}

fn mv(kind: &str, q: i64, reason: Option<&str>) -> Movement {
    Movement::parse(kind, q, reason).unwrap()
}

/// Receives `q` of `item` into `site` (the stock most tests start from).
async fn receive(db: &Db, site: i64, item: i64, q: i64) {
    supplies::record(
        db,
        &op(),
        site,
        item,
        &mv("receipt", q, None),
        None,
        now_ms(),
    )
    .await
    .unwrap();
}

/// The ledger and the balances agree everywhere.
async fn assert_consistent(db: &Db) {
    assert_eq!(supplies::consistency_check(db, &op()).await.unwrap(), []);
}

async fn balance(db: &Db, site: &Site, item: i64) -> i64 {
    supplies::site_stock(db, &op(), site.id, now_ms())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.item.id == item)
        .unwrap()
        .quantity
}

async fn ledger_sum(db: &Db, site: &Site, item: i64) -> i64 {
    supplies::ledger(db, &op(), site.id, Page::all())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.item_id == item)
        .map(|e| e.delta)
        .sum()
}

both_backends!(
    a_fresh_database_lists_the_seven_preset_items,
    |db: Db| async move {
        let names: Vec<String> = supplies::items(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(
            names,
            [
                "医用外科口罩",
                "N95口罩",
                "消毒液",
                "测温枪",
                "防护服",
                "手套",
                "护目镜"
            ]
        );
        db.migrate(now_ms()).await.unwrap();
        assert_eq!(supplies::items(&db).await.unwrap().len(), 7);
    }
);

both_backends!(
    the_balance_is_always_the_sum_of_the_ledger,
    |db: Db| async move {
        let w = world(&db).await;
        // Random sequences of receipts, issues and adjustments (proptest generates them; the
        // store runs them): after every step the cache equals the ledger and never goes below
        // zero, and a refused step changes nothing.
        let mut runner = TestRunner::deterministic();
        let steps = proptest::collection::vec((0usize..4, 1i64..120), 1..40);
        for round in 0..12 {
            let moves = steps.new_tree(&mut runner).unwrap().current();
            let site = if round % 2 == 0 {
                &w.store_a
            } else {
                &w.store_b
            };
            let mut model = balance(&db, site, w.masks).await;
            for (k, q) in moves {
                let m = match k {
                    0 => mv("receipt", q, None),
                    1 => mv("issue", q, None),
                    2 => mv("adjustment", q, Some("damaged")),
                    _ => mv("adjustment", q, Some("count_correction")),
                };
                let entries_before = count(&db, "supply_ledger").await;
                match supplies::record(&db, &op(), site.id, w.masks, &m, None, now_ms()).await {
                    Ok(e) => {
                        model += m.delta();
                        assert_eq!(e.balance_after, model);
                    }
                    Err(StoreError::Conflict { field, .. }) => {
                        assert_eq!(field, "quantity");
                        assert!(model + m.delta() < 0, "refused a covered movement");
                        assert_eq!(count(&db, "supply_ledger").await, entries_before);
                    }
                    Err(e) => panic!("{e}"),
                }
                assert!(model >= 0);
            }
            assert_eq!(balance(&db, site, w.masks).await, model);
            assert_eq!(ledger_sum(&db, site, w.masks).await, model);
            assert_consistent(&db).await;
        }
    }
);

both_backends!(
    concurrent_issues_never_drive_a_balance_below_zero,
    |db: Db| async move {
        let w = world(&db).await;
        receive(&db, w.store_a.id, w.masks, 100).await;
        // 30 issues of 7 race for 100 units: exactly 14 can be served.
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let db = db.clone();
            let (site, item) = (w.store_a.id, w.masks);
            tasks.push(tokio::spawn(async move {
                supplies::record(
                    &db,
                    &op(),
                    site,
                    item,
                    &mv("issue", 7, None),
                    None,
                    now_ms(),
                )
                .await
            }));
        }
        let mut served = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(e) => {
                    assert!(e.balance_after >= 0);
                    served += 1;
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        assert_eq!(served, 14);
        assert_eq!(balance(&db, &w.store_a, w.masks).await, 2);
        assert_eq!(ledger_sum(&db, &w.store_a, w.masks).await, 2);
        assert_consistent(&db).await;
    }
);

both_backends!(
    the_ledger_refuses_updates_and_deletes,
    |db: Db| async move {
        let w = world(&db).await;
        receive(&db, w.store_a.id, w.masks, 5).await;
        assert!(sqlx::query("UPDATE supply_ledger SET delta = 500")
            .execute(db.pool())
            .await
            .is_err());
        assert!(sqlx::query("DELETE FROM supply_ledger")
            .execute(db.pool())
            .await
            .is_err());
        assert_eq!(ledger_sum(&db, &w.store_a, w.masks).await, 5);
        // A cache tampered with behind the store's back is caught by the check.
        sqlx::query("UPDATE supply_balance SET quantity = 50")
            .execute(db.pool())
            .await
            .unwrap();
        let bad = supplies::consistency_check(&db, &op()).await.unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].cached, bad[0].ledger), (50, 5));
    }
);

both_backends!(
    an_issue_beyond_the_balance_writes_nothing,
    |db: Db| async move {
        let w = world(&db).await;
        receive(&db, w.store_a.id, w.masks, 10).await;
        let (entries, audits) = (count(&db, "supply_ledger").await, count(&db, "audit").await);
        let err = supplies::record(
            &db,
            &op(),
            w.store_a.id,
            w.masks,
            &mv("issue", 11, None),
            None,
            now_ms(),
        )
        .await
        .unwrap_err();
        match err {
            StoreError::Conflict { field, message } => {
                assert_eq!(field, "quantity");
                assert!(message.contains("现有 10"), "{message}");
            }
            other => panic!("{other}"),
        }
        // Never received anything: also a conflict, not an error.
        assert!(matches!(
            supplies::record(
                &db,
                &op(),
                w.store_b.id,
                w.masks,
                &mv("issue", 1, None),
                None,
                now_ms()
            )
            .await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(count(&db, "supply_ledger").await, entries);
        assert_eq!(count(&db, "audit").await, audits);
        assert_eq!(balance(&db, &w.store_a, w.masks).await, 10);
    }
);

both_backends!(transfers_leave_arrive_or_return_once, |db: Db| async move {
    let w = world(&db).await;
    receive(&db, w.store_a.id, w.masks, 100).await;
    let send = |q: i64| TransferInput {
        from_site_id: w.store_a.id,
        to_site_id: w.store_b.id,
        item_id: w.masks,
        quantity: Quantity::new("quantity", q).unwrap(),
        note: Some("支援北门社区"),
    };
    // More than is on hand: refused, nothing in transit.
    assert!(matches!(
        supplies::send_transfer(&db, &op(), &send(101), now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    let t = supplies::send_transfer(&db, &op(), &send(40), now_ms())
        .await
        .unwrap();
    assert_eq!(t.state, TransferState::Sent);
    assert_eq!(balance(&db, &w.store_a, w.masks).await, 60);
    // In transit towards B: B's stock shows it, the street's total is conserved.
    let line = |lines: Vec<supplies::StockLine>| {
        let l = lines.into_iter().find(|l| l.item.id == w.masks).unwrap();
        (l.quantity, l.in_transit)
    };
    assert_eq!(
        line(
            supplies::stock(&db, &op(), w.tree.community_b.id)
                .await
                .unwrap()
        ),
        (0, 40)
    );
    assert_eq!(
        line(supplies::stock(&db, &op(), w.tree.street.id).await.unwrap()),
        (60, 40)
    );
    let r = supplies::receive_transfer(&db, &op(), t.id, now_ms())
        .await
        .unwrap();
    assert_eq!(r.state, TransferState::Received);
    assert_eq!(balance(&db, &w.store_b, w.masks).await, 40);
    assert_eq!(
        line(supplies::stock(&db, &op(), w.tree.street.id).await.unwrap()),
        (100, 0)
    );
    // Once only: neither received again nor cancelled afterwards.
    assert!(matches!(
        supplies::receive_transfer(&db, &op(), t.id, now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        supplies::cancel_transfer(&db, &op(), t.id, now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    // A cancelled transfer returns to its source.
    let t2 = supplies::send_transfer(&db, &op(), &send(25), now_ms())
        .await
        .unwrap();
    assert_eq!(balance(&db, &w.store_a, w.masks).await, 35);
    supplies::cancel_transfer(&db, &op(), t2.id, now_ms())
        .await
        .unwrap();
    assert_eq!(balance(&db, &w.store_a, w.masks).await, 60);
    assert!(matches!(
        supplies::receive_transfer(&db, &op(), t2.id, now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    let kinds: Vec<&str> = supplies::ledger(&db, &op(), w.store_a.id, Page::all())
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["transfer_return", "transfer_out", "transfer_out", "receipt"]
    );
    assert_consistent(&db).await;
    let listed = supplies::transfers(&db, &op(), w.tree.community_b.id, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
});

both_backends!(stock_is_summed_over_the_subtree, |db: Db| async move {
    let w = world(&db).await;
    let grid_store = supplies::create_site(
        &db,
        &op(),
        w.tree.grid_a.id,
        &SiteDraft::parse("网格物资柜", None, false).unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
    for (site, q) in [
        (&w.reserve, 1000),
        (&w.store_a, 200),
        (&grid_store, 30),
        (&w.store_b, 7),
    ] {
        receive(&db, site.id, w.masks, q).await;
    }
    let masks_at = |lines: Vec<supplies::StockLine>| {
        lines
            .into_iter()
            .find(|l| l.item.id == w.masks)
            .unwrap()
            .quantity
    };
    assert_eq!(
        masks_at(supplies::stock(&db, &op(), w.tree.street.id).await.unwrap()),
        1237
    );
    assert_eq!(
        masks_at(
            supplies::stock(&db, &op(), w.tree.community_a.id)
                .await
                .unwrap()
        ),
        230
    );
    assert_eq!(
        masks_at(supplies::stock(&db, &op(), w.tree.grid_a.id).await.unwrap()),
        30
    );
    assert_eq!(
        masks_at(
            supplies::stock(&db, &op(), w.tree.community_b.id)
                .await
                .unwrap()
        ),
        7
    );
    // A threshold above the balance marks the site low, in its own and its ancestors' stock.
    supplies::set_threshold(&db, &op(), w.store_b.id, w.masks, Some(50), now_ms())
        .await
        .unwrap();
    let low = |lines: Vec<supplies::StockLine>| {
        lines
            .into_iter()
            .find(|l| l.item.id == w.masks)
            .unwrap()
            .low_sites
    };
    assert_eq!(
        low(supplies::stock(&db, &op(), w.tree.street.id).await.unwrap()),
        1
    );
    assert_eq!(
        low(supplies::stock(&db, &op(), w.tree.community_a.id)
            .await
            .unwrap()),
        0
    );
    let sites = supplies::sites(&db, &op(), w.tree.community_a.id)
        .await
        .unwrap();
    assert_eq!(sites.len(), 2);
});

both_backends!(each_role_acts_only_where_it_may, |db: Db| async move {
    let w = world(&db).await;
    let staff_a = Scope::for_user(
        2,
        "staff_a",
        Role::Staff,
        vec![w.tree.community_a.path.clone()],
    );
    let worker = Scope::for_user(
        3,
        "worker",
        Role::GridWorker,
        vec![w.tree.grid_a.path.clone()],
    );
    let official = Scope::for_user(
        4,
        "official",
        Role::Official,
        vec![w.tree.street.path.clone()],
    );
    let staff_b = Scope::for_user(
        5,
        "staff_b",
        Role::Staff,
        vec![w.tree.community_b.path.clone()],
    );
    let receipt = mv("receipt", 50, None);

    // Staff write at their community's sites; elsewhere the site does not exist for them.
    supplies::record(
        &db,
        &staff_a,
        w.store_a.id,
        w.masks,
        &receipt,
        None,
        now_ms(),
    )
    .await
    .unwrap();
    assert!(matches!(
        supplies::record(
            &db,
            &staff_a,
            w.store_b.id,
            w.masks,
            &receipt,
            None,
            now_ms()
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        supplies::get_site(&db, &staff_a, w.reserve.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        supplies::stock(&db, &staff_a, w.tree.street.id).await,
        Err(StoreError::NotFound)
    ));
    // A grid worker sees neither the community's store nor can add one there.
    assert!(matches!(
        supplies::ledger(&db, &worker, w.store_a.id, Page::all()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        supplies::create_site(
            &db,
            &worker,
            w.tree.grid_a.id,
            &SiteDraft::parse("x", None, false).unwrap(),
            now_ms()
        )
        .await,
        Err(StoreError::Forbidden(_))
    ));
    // Officials read the street and dispatch from its reserve, but keep no ledger.
    assert_eq!(
        supplies::sites(&db, &official, w.tree.street.id)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(matches!(
        supplies::record(
            &db,
            &official,
            w.reserve.id,
            w.masks,
            &receipt,
            None,
            now_ms()
        )
        .await,
        Err(StoreError::Forbidden(_))
    ));
    receive(&db, w.reserve.id, w.masks, 500).await;
    let to_b = TransferInput {
        from_site_id: w.reserve.id,
        to_site_id: w.store_b.id,
        item_id: w.masks,
        quantity: Quantity::new("quantity", 100).unwrap(),
        note: None,
    };
    let t = supplies::send_transfer(&db, &official, &to_b, now_ms())
        .await
        .unwrap();
    // An official does not dispatch from a community's store.
    let from_a = TransferInput {
        from_site_id: w.store_a.id,
        ..to_b.clone()
    };
    assert!(matches!(
        supplies::send_transfer(&db, &official, &from_a, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    // Only the destination's staff receive: not the sender, not the neighbour.
    assert!(matches!(
        supplies::receive_transfer(&db, &official, t.id, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        supplies::receive_transfer(&db, &staff_a, t.id, now_ms()).await,
        Err(StoreError::NotFound)
    ));
    supplies::receive_transfer(&db, &staff_b, t.id, now_ms())
        .await
        .unwrap();
    // Staff send from their store to a neighbour they cannot read.
    // (100 is more than store A holds.)
    assert!(matches!(
        supplies::send_transfer(&db, &staff_a, &from_a, now_ms()).await,
        Err(StoreError::Conflict { .. })
    ));
    let small = TransferInput {
        quantity: Quantity::new("quantity", 10).unwrap(),
        ..from_a.clone()
    };
    let t2 = supplies::send_transfer(&db, &staff_a, &small, now_ms())
        .await
        .unwrap();
    assert!(matches!(
        supplies::cancel_transfer(&db, &staff_b, t2.id, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    supplies::receive_transfer(&db, &staff_b, t2.id, now_ms())
        .await
        .unwrap();
    assert_consistent(&db).await;
});

/// A person in `at` under observation: arrived from a high-risk area (2022 policy).
async fn observed_person(db: &Db, at: &Node, name: &str, id_body: &str) {
    use linli_store::epidemic::{self, ArrivalInput};
    if epidemic::risk_areas(db).await.unwrap().is_empty() {
        high_risk_area(db).await;
    }
    let person = registered(db, at, name, id_body, Some("1栋1单元101室")).await;
    observe(
        db,
        ArrivalInput {
            purpose: None,
            ..arrival(person, "420111", "2022-07-02")
        },
    )
    .await;
}

both_backends!(
    a_reserve_allocates_by_need_all_or_nothing,
    |db: Db| async move {
        let w = world(&db).await;
        observed_person(&db, &w.tree.grid_a, "甲一", "53340119800101001").await;
        observed_person(&db, &w.tree.grid_a, "甲二", "53340119800101002").await;
        observed_person(&db, &w.tree.community_b, "乙一", "53340119800101003").await;
        receive(&db, w.reserve.id, w.masks, 50).await;
        receive(&db, w.store_b.id, w.masks, 4).await;
        let (reserve, available, recipients) =
            supplies::allocation_basis(&db, &op(), w.reserve.id, w.masks)
                .await
                .unwrap();
        assert_eq!((reserve.id, available), (w.reserve.id, 50));
        let seen: Vec<(i64, i64, i64)> = recipients
            .iter()
            .map(|r| (r.site.id, r.observed, r.on_hand))
            .collect();
        assert_eq!(seen, [(w.store_a.id, 2, 0), (w.store_b.id, 1, 4)]);
        // 2 masks a day for 7 days: A needs 28, B 14 − 4 = 10.
        let needs: Vec<linli_core::supplies::Need> = recipients
            .iter()
            .map(|r| linli_core::supplies::Need {
                site_id: r.site.id,
                observed: r.observed,
                daily_use: 2,
                days: 7,
                on_hand: r.on_hand,
            })
            .collect();
        let plan = linli_core::supplies::allocate(available, &needs);
        let q: Vec<i64> = plan.iter().map(|a| a.quantity).collect();
        assert_eq!(q, [28, 10]);
        // Beyond what the reserve holds: nothing is sent.
        let q = |n: i64| Quantity::new("quantity", n).unwrap();
        assert!(matches!(
            supplies::send_allocation(
                &db,
                &op(),
                w.reserve.id,
                w.masks,
                &[(w.store_a.id, q(40)), (w.store_b.id, q(20))],
                now_ms()
            )
            .await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(balance(&db, &w.reserve, w.masks).await, 50);
        let sent = supplies::send_allocation(
            &db,
            &op(),
            w.reserve.id,
            w.masks,
            &[(w.store_a.id, q(28)), (w.store_b.id, q(10))],
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(balance(&db, &w.reserve, w.masks).await, 12);
        // A community store is not a reserve.
        assert!(matches!(
            supplies::allocation_basis(&db, &op(), w.store_a.id, w.masks).await,
            Err(StoreError::Invalid(_))
        ));
        assert_consistent(&db).await;
    }
);

both_backends!(
    a_request_goes_from_draft_to_fulfilled_line_by_line,
    |db: Db| async move {
        let w = world(&db).await;
        let staff_a = Scope::for_user(
            2,
            "staff_a",
            Role::Staff,
            vec![w.tree.community_a.path.clone()],
        );
        let official = Scope::for_user(
            4,
            "official",
            Role::Official,
            vec![w.tree.street.path.clone()],
        );
        let gloves = supplies::items(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.name == "手套")
            .unwrap()
            .id;
        let q = |n: i64| Quantity::new("quantity", n).unwrap();
        receive(&db, w.reserve.id, w.masks, 1000).await;
        receive(&db, w.reserve.id, gloves, 100).await;

        let r = supplies::create_request(
            &db,
            &staff_a,
            w.store_a.id,
            &[(w.masks, q(500)), (gloves, q(80))],
            Some("隔离户增多"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(r.state, supplies::RequestState::Draft);
        assert_eq!(r.to_node_id, w.tree.street.id);
        // Officials do not decide a draft; the community submits it first. The refusal is
        // core's lifecycle, naming the state and the action.
        match supplies::approve_request(&db, &official, r.id, &[(w.masks, 400)], now_ms()).await {
            Err(StoreError::Conflict { field, message }) => {
                assert_eq!(field, "state");
                assert_eq!(
                    message,
                    "该申领当前为「草稿」，不能批准（只有「已提交」的申领可以批准）"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            supplies::submit_request(&db, &official, r.id, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        supplies::submit_request(&db, &staff_a, r.id, now_ms())
            .await
            .unwrap();
        // Staff do not approve their own request; more than asked is refused.
        assert!(matches!(
            supplies::approve_request(&db, &staff_a, r.id, &[(w.masks, 400)], now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            supplies::approve_request(&db, &official, r.id, &[(w.masks, 600)], now_ms()).await,
            Err(StoreError::Invalid(_))
        ));
        let r = supplies::approve_request(
            &db,
            &official,
            r.id,
            &[(w.masks, 400), (gloves, 80)],
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(r.state, supplies::RequestState::Approved);
        // Part now, the rest later; never beyond what was approved.
        let r = supplies::fulfil_request(
            &db,
            &official,
            r.id,
            w.reserve.id,
            &[(w.masks, q(300))],
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(r.state, supplies::RequestState::PartlyFulfilled);
        assert!(matches!(
            supplies::fulfil_request(
                &db,
                &official,
                r.id,
                w.reserve.id,
                &[(w.masks, q(101))],
                now_ms()
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        let r = supplies::fulfil_request(
            &db,
            &official,
            r.id,
            w.reserve.id,
            &[(w.masks, q(100)), (gloves, q(80))],
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(r.state, supplies::RequestState::Fulfilled);
        let fulfilled: Vec<i64> = r.lines.iter().map(|l| l.fulfilled).collect();
        assert_eq!(fulfilled, [400, 80]);
        assert_eq!(balance(&db, &w.reserve, w.masks).await, 600);
        // The transfers wait for the community to receive them.
        let sent = supplies::transfers(&db, &staff_a, w.tree.community_a.id, Some("sent"))
            .await
            .unwrap();
        assert_eq!(sent.len(), 3);
        // The neighbour sees none of it.
        let staff_b = Scope::for_user(
            5,
            "staff_b",
            Role::Staff,
            vec![w.tree.community_b.path.clone()],
        );
        assert!(matches!(
            supplies::get_request(&db, &staff_b, r.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            supplies::requests(&db, &official, w.tree.street.id)
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

both_backends!(
    recent_issues_are_counted_at_the_time_given,
    |db: Db| async move {
        let w = world(&db).await;
        // A fixed instant (2026-12-01T00:00:00Z): the store is given the time, so the 14-day
        // window of days of cover can be tested on both of its edges.
        const T: i64 = 1_796_083_200_000;
        const DAY: i64 = 86_400_000;
        let before = |days: i64| T - days * DAY;
        let store = w.store_a.id;
        supplies::record(
            &db,
            &op(),
            store,
            w.masks,
            &mv("receipt", 1_000, None),
            None,
            before(30),
        )
        .await
        .unwrap();
        // 15 days before T is outside the window; exactly 14 days before is its first instant.
        for (days, q) in [(15, 500), (14, 70), (1, 70)] {
            let e = supplies::record(
                &db,
                &op(),
                store,
                w.masks,
                &mv("issue", q, None),
                None,
                before(days),
            )
            .await
            .unwrap();
            assert_eq!(e.at, before(days));
        }
        let masks = |lines: Vec<SiteStockLine>| {
            let l = lines.into_iter().find(|l| l.item.id == w.masks).unwrap();
            (l.quantity, l.issued_recently, l.days_of_cover)
        };
        // 360 on hand; 140 issued in 14 days is 10 a day: 36 days.
        assert_eq!(
            masks(supplies::site_stock(&db, &op(), store, T).await.unwrap()),
            (360, 140, Some(36))
        );
        // A day later the issue of 14 days before T has left the window: 5 a day, 72 days.
        assert_eq!(
            masks(
                supplies::site_stock(&db, &op(), store, T + DAY)
                    .await
                    .unwrap()
            ),
            (360, 70, Some(72))
        );
        let entries = supplies::ledger(&db, &op(), store, Page::all())
            .await
            .unwrap();
        let times: Vec<i64> = entries.iter().map(|e| e.at).collect();
        assert_eq!(times, [before(1), before(14), before(15), before(30)]);
    }
);

both_backends!(
    a_sites_ledger_is_searched_filtered_counted_and_paged,
    |db: Db| async move {
        use linli_core::supplies::EntryKind;
        use linli_store::supplies::LedgerFilter;
        let w = world(&db).await;
        let gloves = supplies::items(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.id != w.masks)
            .unwrap()
            .id;
        const DAY: i64 = 86_400_000;
        // 2020-02-01T10:00+08:00, then a day and two days later.
        const T0: i64 = 1_580_522_400_000;
        let site = w.store_a.id;
        let rec = |item: i64, m: Movement, note: Option<&'static str>, at: i64| {
            let db = db.clone();
            async move {
                supplies::record(&db, &op(), site, item, &m, note, at)
                    .await
                    .unwrap()
                    .id
            }
        };
        let a = rec(
            w.masks,
            mv("receipt", 100, None),
            Some("县红十字会捐赠"),
            T0,
        )
        .await;
        let b = rec(w.masks, mv("issue", 30, None), Some("发给一网格"), T0 + DAY).await;
        let c = rec(gloves, mv("receipt", 10, None), None, T0 + DAY).await;
        let d = rec(
            w.masks,
            mv("adjustment", -2, Some("damaged")),
            None,
            T0 + 2 * DAY,
        )
        .await;
        // Another site's entry never shows.
        receive(&db, w.store_b.id, w.masks, 5).await;
        let ids = |f: LedgerFilter, who: Scope, page: (i64, i64)| {
            let db = db.clone();
            async move {
                let l = supplies::ledger_page(&db, &who, site, &f, page)
                    .await
                    .unwrap();
                (
                    l.total,
                    l.items.into_iter().map(|e| e.id).collect::<Vec<_>>(),
                )
            }
        };
        let all = LedgerFilter::default();
        assert_eq!(ids(all.clone(), op(), (50, 0)).await, (4, vec![d, c, b, a]));
        assert_eq!(ids(all.clone(), op(), (3, 3)).await, (4, vec![a]));
        let f = LedgerFilter {
            item_id: Some(w.masks),
            ..Default::default()
        };
        assert_eq!(ids(f, op(), (50, 0)).await, (3, vec![d, b, a]));
        let f = LedgerFilter {
            kind: Some(EntryKind::Receipt),
            ..Default::default()
        };
        assert_eq!(ids(f, op(), (50, 0)).await, (2, vec![c, a]));
        let f = LedgerFilter {
            at: (Some(T0 + DAY - 3_600_000), Some(T0 + 2 * DAY - 3_600_000)),
            ..Default::default()
        };
        assert_eq!(ids(f, op(), (50, 0)).await, (2, vec![c, b]));
        let f = LedgerFilter {
            q: Some("网格".into()),
            ..Default::default()
        };
        assert_eq!(ids(f, op(), (50, 0)).await, (1, vec![b]));
        // Who may read: community A's staff yes, community B's not even find it.
        let staff_a = Scope::for_user(
            2,
            "staff_a",
            Role::Staff,
            vec![w.tree.community_a.path.clone()],
        );
        let staff_b = Scope::for_user(
            3,
            "staff_b",
            Role::Staff,
            vec![w.tree.community_b.path.clone()],
        );
        assert_eq!(ids(all.clone(), staff_a, (50, 0)).await.0, 4);
        assert!(matches!(
            supplies::ledger_page(&db, &staff_b, site, &all, (50, 0)).await,
            Err(StoreError::NotFound)
        ));
    }
);
