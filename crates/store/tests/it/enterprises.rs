//! Enterprise store tests (registry of businesses, reopening applications and decisions,
//! public links, inspections, not-reopened counts, scope), each on SQLite and on PostgreSQL.

use linli_core::enterprises::{
    credit_check_char, ChecklistItem, EnterpriseInput, InspectionInput, NotReopened,
    NotReopenedReason, ReopeningDecision, ReopeningInput, ReopeningStatus,
};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::{Role, Scope};
use linli_store::enterprises::{self, Registered, Reopening, Standing};
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, Page, StoreError};

use crate::support::{audited, node, op, tree};

fn code(body: &str) -> String {
    format!("{body}{}", credit_check_char(body.as_bytes()).unwrap())
}

fn scope(role: Role, at: &Node) -> Scope {
    Scope::for_user(7, role.as_str(), role, vec![at.path.clone()])
}

fn all_items() -> Vec<String> {
    ChecklistItem::ALL
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect()
}

async fn register(db: &Db, s: &Scope, at: &Node, name: &str, body: &str) -> i64 {
    let c = code(body);
    create(
        db,
        s,
        at.id,
        &EnterpriseInput {
            name,
            kind: "enterprise",
            credit_code: Some(&c),
            contact_phone: Some("13612348609"),
            employees: Some("12"),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .enterprise
    .id
}

/// Registers `input` at node `at` as `who`.
async fn create(
    db: &Db,
    who: &Scope,
    at: i64,
    input: &EnterpriseInput<'_>,
) -> Result<Registered, StoreError> {
    enterprises::create(db, who, at, input, now_ms()).await
}

/// A company (kind `enterprise`) called `name`.
fn firm<'a>(name: &'a str, credit_code: Option<&'a str>) -> EnterpriseInput<'a> {
    EnterpriseInput {
        name,
        kind: "enterprise",
        credit_code,
        ..Default::default()
    }
}

/// `who` applies to reopen `enterprise`.
async fn apply(
    db: &Db,
    who: &Scope,
    enterprise: i64,
    input: &ReopeningInput<'_>,
) -> Result<Reopening, StoreError> {
    enterprises::apply(db, who, enterprise, input, now_ms()).await
}

async fn actions(db: &Db) -> Vec<String> {
    let mut a: Vec<String> = audit::list(
        db,
        &op(),
        &AuditFilter::default(),
        Page::new(Some(Page::MAX_LIMIT), None),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.action)
    .filter(|a| {
        a.starts_with("enterprise") || a.starts_with("reopening") || a.starts_with("inspection")
    })
    .collect();
    a.reverse();
    a
}

both_backends!(
    a_business_is_registered_applies_is_approved_and_inspected,
    |db: Db| async move {
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let body = "91533401MA6K12345";
        // Lower case with spaces: normalised before the check.
        let typed = format!(" {} ", code(body).to_lowercase());
        let reg = create(
            &db,
            &staff,
            t.grid_a.id,
            &EnterpriseInput {
                name: "香格里拉市格桑商贸有限公司",
                kind: "enterprise",
                credit_code: Some(&typed),
                contact_name: Some("格桑"),
                contact_phone: Some("136 1234 8609"),
                employees: Some("46"),
                address: Some("长征路 12 号"),
            },
        )
        .await
        .unwrap();
        let e = reg.enterprise;
        assert_eq!(e.credit_code.as_deref(), Some(code(body).as_str()));
        // The phone is shown masked only.
        assert_eq!(e.contact_phone_masked.as_deref(), Some("136****8609"));
        assert_eq!(e.standing, Standing::NotReopened);
        assert_eq!(reg.link_token.len(), 12, "a code a person can type");

        // Applied with one item missing: stored, but cannot be approved.
        let partial = vec![
            "thermometers".to_owned(),
            "masks".to_owned(),
            "staff_registration".to_owned(),
        ];
        let extra = vec!["设置隔离观察室".to_owned()];
        let r = apply(
            &db,
            &staff,
            e.id,
            &ReopeningInput {
                checked: &partial,
                extra_items: &extra,
                employees_back: Some("40"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(r.status, ReopeningStatus::Submitted);
        assert_eq!(r.missing, [ChecklistItem::Disinfection]);
        assert_eq!(r.extra_items, extra);
        assert_eq!(r.channel, "staff");
        assert_eq!(
            enterprises::get(&db, &staff, e.id).await.unwrap().standing,
            Standing::Pending
        );
        // A second application while one is pending is a conflict.
        let again = apply(&db, &staff, e.id, &ReopeningInput::default()).await;
        assert!(
            matches!(again, Err(StoreError::Conflict { .. })),
            "{again:?}"
        );
        let approve = ReopeningDecision::Approve { note: None };
        match enterprises::decide(&db, &staff, r.id, &approve, now_ms()).await {
            Err(StoreError::Invalid(e)) => {
                assert_eq!(e[0].field, "checklist");
                assert!(e[0].message.contains("每日两次消毒"), "{}", e[0].message);
            }
            other => panic!("approved with an item missing: {other:?}"),
        }
        let reject = ReopeningDecision::Reject {
            reason: "未落实每日两次消毒".into(),
        };
        let r = enterprises::decide(&db, &staff, r.id, &reject, now_ms())
            .await
            .unwrap();
        assert_eq!(r.status, ReopeningStatus::Rejected);
        assert_eq!(r.decided_by.as_deref(), Some("staff"));
        // The business shows why it was refused, until it applies again.
        let after = enterprises::get(&db, &staff, e.id).await.unwrap();
        assert_eq!(after.standing, Standing::NotReopened);
        assert_eq!(after.rejected_reason.as_deref(), Some("未落实每日两次消毒"));
        // A decided application is not decided again.
        assert!(matches!(
            enterprises::decide(&db, &staff, r.id, &approve, now_ms()).await,
            Err(StoreError::Conflict { .. })
        ));

        // No inspection before an approval.
        let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
        let insp = InspectionInput {
            inspected_on: &today,
            inspector: "李四",
            findings: Some("体温登记齐全"),
            passed: Some("合格"),
        };
        match enterprises::add_inspection(&db, &staff, e.id, &insp, now_ms()).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "enterprise_id"),
            other => panic!("{other:?}"),
        }

        // Applied again, everything ticked, approved.
        let items = all_items();
        let r2 = apply(
            &db,
            &staff,
            e.id,
            &ReopeningInput {
                checked: &items,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let r2 = enterprises::decide(&db, &staff, r2.id, &approve, now_ms())
            .await
            .unwrap();
        assert_eq!(r2.status, ReopeningStatus::Approved);
        assert_eq!(
            enterprises::get(&db, &staff, e.id).await.unwrap().standing,
            Standing::Reopened
        );
        let list = enterprises::reopenings(&db, &staff, e.id).await.unwrap();
        assert_eq!(list.iter().map(|r| r.id).collect::<Vec<_>>(), [r2.id, r.id]);
        // After approval no new application.
        assert!(matches!(
            apply(&db, &staff, e.id, &ReopeningInput::default()).await,
            Err(StoreError::Conflict { .. })
        ));

        let i = enterprises::add_inspection(&db, &staff, e.id, &insp, now_ms())
            .await
            .unwrap();
        assert!(i.passed);
        assert_eq!(i.reopening_id, r2.id);
        assert_eq!(
            enterprises::inspections(&db, &staff, e.id)
                .await
                .unwrap()
                .len(),
            1
        );

        assert_eq!(
            actions(&db).await,
            [
                "enterprise.create",
                "reopening.submit",
                "reopening.reject",
                "reopening.submit",
                "reopening.approve",
                "inspection.create"
            ]
        );
    }
);

both_backends!(
    bad_and_duplicate_credit_codes_are_refused_and_nothing_is_stored,
    |db: Db| async move {
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let good = code("91533401MA6K12345");
        let last = good.chars().last().unwrap();
        let wrong = if last == '0' { '1' } else { '0' };
        let bad = format!("{}{wrong}", &good[..17]);
        match create(&db, &staff, t.community.id, &firm("某公司", Some(&bad))).await {
            Err(StoreError::Invalid(e)) => {
                assert_eq!(e.len(), 1);
                assert_eq!(e[0].field, "credit_code");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            enterprises::list(&db, &staff, t.community.id, Page::new(None, None))
                .await
                .unwrap()
                .is_empty()
        );
        register(&db, &staff, &t.community, "甲公司", "91533401MA6K12345").await;
        // The same code again: a conflict on credit_code that names the record to staff who
        // can see it, and not to those who cannot.
        let other_staff = scope(Role::Staff, &t.grid_b);
        for (who, names_it) in [(&staff, true), (&other_staff, false)] {
            let again = firm("乙公司", Some(&good));
            match create(&db, who, t.grid_b.id, &again).await {
                Err(StoreError::Conflict { field, message }) => {
                    assert_eq!(field, "credit_code");
                    let named = if names_it { "企业编号" } else { "编号" };
                    assert_eq!(message.contains(named), names_it, "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
        // Individual businesses may go without a code; several may.
        for n in ["扎西便利店", "卓玛小吃"] {
            create(
                &db,
                &staff,
                t.grid_a.id,
                &EnterpriseInput {
                    name: n,
                    kind: "individual",
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(
            enterprises::list(&db, &staff, t.community.id, Page::new(None, None))
                .await
                .unwrap()
                .len(),
            3
        );
    }
);

both_backends!(
    scope_decides_who_reads_writes_and_decides,
    |db: Db| async move {
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let in_a = register(&db, &staff, &t.grid_a, "甲公司", "91533401MA6K12345").await;
        let in_b = register(&db, &staff, &t.grid_b, "乙公司", "91533401MA6K54321").await;
        let worker_a = scope(Role::GridWorker, &t.grid_a);
        let official = scope(Role::Official, &t.community);
        // A grid worker reads their grid only; the other grid is not found.
        enterprises::get(&db, &worker_a, in_a).await.unwrap();
        assert!(matches!(
            enterprises::get(&db, &worker_a, in_b).await,
            Err(StoreError::NotFound)
        ));
        let seen = enterprises::list(&db, &worker_a, t.grid_a.id, Page::new(None, None))
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(matches!(
            enterprises::list(&db, &worker_a, t.community.id, Page::new(None, None)).await,
            Err(StoreError::NotFound)
        ));
        // Grid workers and officials read but do not write or decide.
        let items = all_items();
        let input = ReopeningInput {
            checked: &items,
            ..Default::default()
        };
        assert!(matches!(
            apply(&db, &worker_a, in_a, &input).await,
            Err(StoreError::Forbidden(_))
        ));
        let r = apply(&db, &staff, in_a, &input).await.unwrap();
        let approve = ReopeningDecision::Approve { note: None };
        assert!(matches!(
            enterprises::decide(&db, &official, r.id, &approve, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        // Staff of another jurisdiction do not even find it.
        let d2 = node(&db, None, "district", "德钦县", Some("533422")).await;
        let stranger = scope(Role::Staff, &d2);
        assert!(matches!(
            enterprises::decide(&db, &stranger, r.id, &approve, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            enterprises::reopening(&db, &stranger, r.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            create(
                &db,
                &official,
                t.community.id,
                &EnterpriseInput {
                    name: "丙",
                    kind: "individual",
                    ..Default::default()
                }
            )
            .await,
            Err(StoreError::Forbidden(_))
        ));
        enterprises::decide(&db, &staff, r.id, &approve, now_ms())
            .await
            .unwrap();
    }
);

both_backends!(
    the_public_link_submits_for_its_own_business_only,
    |db: Db| async move {
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let reg = create(
            &db,
            &staff,
            t.grid_a.id,
            &EnterpriseInput {
                name: "卓玛小吃",
                kind: "individual",
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let token = reg.link_token;
        let view = enterprises::by_link(&db, &token).await.unwrap();
        assert_eq!(view.name, "卓玛小吃");
        assert_eq!(view.standing, Standing::NotReopened);
        assert!(matches!(
            enterprises::by_link(&db, &"0".repeat(64)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            enterprises::by_link(&db, "../x").await,
            Err(StoreError::NotFound)
        ));
        let items = all_items();
        let r = enterprises::apply_by_link(
            &db,
            &token,
            &ReopeningInput {
                checked: &items,
                ..Default::default()
            },
            Some("10.0.0.9"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(r.channel, "link");
        assert_eq!(r.submitted_by, "link");
        assert_eq!(
            enterprises::by_link(&db, &token).await.unwrap().standing,
            Standing::Pending
        );
        // A renewed link replaces the old one.
        let fresh = enterprises::renew_link(&db, &staff, reg.enterprise.id, now_ms())
            .await
            .unwrap();
        assert!(matches!(
            enterprises::by_link(&db, &token).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            enterprises::by_link(&db, &fresh)
                .await
                .unwrap()
                .enterprise_id,
            reg.enterprise.id
        );
        let a = audited(&db, "reopening.submit").await;
        assert_eq!(a[0].actor, "link");
        assert_eq!(a[0].ip.as_deref(), Some("10.0.0.9"));
    }
);

both_backends!(
    not_reopened_reasons_are_counted_over_a_subtree,
    |db: Db| async move {
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let a = register(&db, &staff, &t.grid_a, "甲", "91533401MA6K00001").await;
        let b = register(&db, &staff, &t.grid_a, "乙", "91533401MA6K00002").await;
        let c = register(&db, &staff, &t.grid_b, "丙", "91533401MA6K00003").await;
        let d = register(&db, &staff, &t.grid_b, "丁", "91533401MA6K00004").await;
        let _e = register(&db, &staff, &t.grid_b, "戊", "91533401MA6K00005").await;
        let short = NotReopened::parse("workers_short", None).unwrap();
        enterprises::set_not_reopened(&db, &staff, a, Some(&short), now_ms())
            .await
            .unwrap();
        enterprises::set_not_reopened(&db, &staff, c, Some(&short), now_ms())
            .await
            .unwrap();
        let other = NotReopened::parse("other", Some("店主在外地")).unwrap();
        let got = enterprises::set_not_reopened(&db, &staff, b, Some(&other), now_ms())
            .await
            .unwrap();
        assert_eq!(got.not_reopened_note.as_deref(), Some("店主在外地"));
        // d applies and is approved: its reason (set before) is cleared.
        enterprises::set_not_reopened(&db, &staff, d, Some(&short), now_ms())
            .await
            .unwrap();
        let items = all_items();
        let r = apply(
            &db,
            &staff,
            d,
            &ReopeningInput {
                checked: &items,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        enterprises::decide(
            &db,
            &staff,
            r.id,
            &ReopeningDecision::Approve { note: None },
            now_ms(),
        )
        .await
        .unwrap();
        assert!(enterprises::get(&db, &staff, d)
            .await
            .unwrap()
            .not_reopened_reason
            .is_none());
        // A reopened business takes no not-reopened reason.
        assert!(
            enterprises::set_not_reopened(&db, &staff, d, Some(&short), now_ms())
                .await
                .is_err()
        );

        let all = enterprises::counts(&db, &staff, t.community.id)
            .await
            .unwrap();
        assert_eq!(
            (all.total, all.reopened, all.pending, all.not_reopened),
            (5, 1, 0, 4)
        );
        let by = |c: &enterprises::ReopeningCounts, r: NotReopenedReason| {
            c.by_reason.iter().find(|x| x.reason == r).unwrap().count
        };
        assert_eq!(by(&all, NotReopenedReason::WorkersShort), 2);
        assert_eq!(by(&all, NotReopenedReason::Other), 1);
        assert_eq!(all.reason_unknown, 1);
        let grid_b = enterprises::counts(&db, &staff, t.grid_b.id).await.unwrap();
        assert_eq!(
            (grid_b.total, grid_b.reopened, grid_b.not_reopened),
            (3, 1, 2)
        );
        assert_eq!(by(&grid_b, NotReopenedReason::WorkersShort), 1);
        // One level down: each grid with its own counts.
        let kids = enterprises::counts_by_child(&db, &staff, t.community.id)
            .await
            .unwrap();
        let per: Vec<(i64, i64, i64)> = kids
            .iter()
            .map(|k| (k.node_id, k.counts.total, k.counts.not_reopened))
            .collect();
        assert_eq!(per, [(t.grid_a.id, 2, 2), (t.grid_b.id, 3, 2)]);
        // A grid worker counts their own grid only.
        let worker_a = scope(Role::GridWorker, &t.grid_a);
        assert!(matches!(
            enterprises::counts(&db, &worker_a, t.community.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            enterprises::counts(&db, &worker_a, t.grid_a.id)
                .await
                .unwrap()
                .total,
            2
        );
    }
);

both_backends!(
    staff_and_admins_unmask_a_contact_phone_audited_others_refused,
    |db: Db| async move {
        let t = tree(&db).await;
        let e = register(&db, &op(), &t.grid_a, "康珠饭店", "92533401MA6N12345").await;
        // Listed and read masked.
        let shown = enterprises::get(&db, &op(), e).await.unwrap();
        assert_eq!(shown.contact_phone_masked.as_deref(), Some("136****8609"));

        let staff = scope(Role::Staff, &t.community);
        assert_eq!(
            enterprises::unmask_contact(&db, &staff, e, Some("10.0.0.7"), now_ms())
                .await
                .unwrap()
                .as_deref(),
            Some("13612348609")
        );
        assert_eq!(
            enterprises::unmask_contact(&db, &op(), e, None, now_ms())
                .await
                .unwrap()
                .as_deref(),
            Some("13612348609")
        );
        let unmasks = audited(&db, "enterprise.unmask").await;
        assert_eq!(unmasks.len(), 2, "every unmask is audited");
        assert!(unmasks
            .iter()
            .any(|a| a.ip.as_deref() == Some("10.0.0.7") && a.entity_id == Some(e)));

        // Officials and grid workers in scope: refused; outside scope: not found.
        for role in [Role::Official, Role::GridWorker] {
            assert!(matches!(
                enterprises::unmask_contact(&db, &scope(role, &t.grid_a), e, None, now_ms()).await,
                Err(StoreError::Forbidden(_))
            ));
        }
        let other_staff = scope(Role::Staff, &t.grid_b);
        assert!(matches!(
            enterprises::unmask_contact(&db, &other_staff, e, None, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            enterprises::unmask_contact(&db, &staff, e + 1000, None, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        // Refusals are not audited as reveals.
        assert_eq!(audited(&db, "enterprise.unmask").await.len(), 2);
    }
);

both_backends!(
    the_list_searches_filters_counts_and_pages,
    |db: Db| async move {
        use linli_core::enterprises::EnterpriseKind;
        use linli_store::enterprises::EnterpriseFilter;
        let t = tree(&db).await;
        let staff = scope(Role::Staff, &t.community);
        let gesang = register(
            &db,
            &staff,
            &t.grid_a,
            "格桑商贸有限公司",
            "91533401MA6K12345",
        )
        .await;
        let zhuoma = register(
            &db,
            &staff,
            &t.grid_b,
            "卓玛酒店有限公司",
            "91533401MA6K54321",
        )
        .await;
        let shop = create(
            &db,
            &staff,
            t.grid_a.id,
            &EnterpriseInput {
                name: "扎西便利店",
                kind: "individual",
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .enterprise
        .id;
        // 格桑 reopens; 卓玛 waits for the decision; the shop has not applied.
        let items = all_items();
        let full = ReopeningInput {
            checked: &items,
            ..Default::default()
        };
        let r = apply(&db, &staff, gesang, &full).await.unwrap();
        let approve = ReopeningDecision::Approve { note: None };
        enterprises::decide(&db, &staff, r.id, &approve, now_ms())
            .await
            .unwrap();
        apply(&db, &staff, zhuoma, &full).await.unwrap();
        let ids = |f: EnterpriseFilter, who: Scope, at: i64, page: (i64, i64)| {
            let db = db.clone();
            async move {
                let l = enterprises::page(&db, &who, at, &f, page).await.unwrap();
                (
                    l.total,
                    l.items.into_iter().map(|e| e.id).collect::<Vec<_>>(),
                )
            }
        };
        let all = EnterpriseFilter::default();
        let c = t.community.id;
        // By name: 卓玛, 扎西, 格桑 (as the database collates them), counted and paged.
        let (total, every) = ids(all.clone(), staff.clone(), c, (50, 0)).await;
        assert_eq!(total, 3);
        let (_, first) = ids(all.clone(), staff.clone(), c, (2, 0)).await;
        let (_, rest) = ids(all.clone(), staff.clone(), c, (2, 2)).await;
        assert_eq!([first, rest].concat(), every);
        let q = |s: &str| EnterpriseFilter {
            q: Some(s.to_owned()),
            ..Default::default()
        };
        assert_eq!(
            ids(q("酒店"), staff.clone(), c, (50, 0)).await,
            (1, vec![zhuoma])
        );
        assert_eq!(
            ids(q("MA6K1234"), staff.clone(), c, (50, 0)).await,
            (1, vec![gesang])
        );
        let f = EnterpriseFilter {
            kind: Some(EnterpriseKind::Individual),
            ..Default::default()
        };
        assert_eq!(ids(f, staff.clone(), c, (50, 0)).await, (1, vec![shop]));
        for (standing, want) in [
            (Standing::Reopened, gesang),
            (Standing::Pending, zhuoma),
            (Standing::NotReopened, shop),
        ] {
            let f = EnterpriseFilter {
                standing: Some(standing),
                ..Default::default()
            };
            assert_eq!(ids(f, staff.clone(), c, (50, 0)).await, (1, vec![want]));
        }
        // The node: grid A holds 格桑 and the shop; its worker sees nothing of grid B.
        let worker_a = scope(Role::GridWorker, &t.grid_a);
        assert_eq!(
            ids(all.clone(), worker_a.clone(), t.grid_a.id, (50, 0))
                .await
                .0,
            2
        );
        assert!(matches!(
            enterprises::page(&db, &worker_a, t.grid_b.id, &all, (50, 0)).await,
            Err(StoreError::NotFound)
        ));
    }
);
