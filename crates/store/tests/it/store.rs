//! Store tests: each body runs on SQLite and on PostgreSQL (when `LINLI_TEST_PG_URL` is set).

use linli_core::kernel::clock::now_ms;
use linli_core::{NewNode, NodeInput, NodeKind, Role, Scope};
use linli_store::accounts::{self, LoginError, NewSession, NewUser};
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::testing::TestDb;
use linli_store::tree::{self, NodePatch};
use linli_store::{both_backends, Db, Page, StoreError};

use crate::support::{field_of, op};

/// Creates a node under `parent` as the operator, opened on 2020-01-01.
async fn add(db: &Db, parent: &tree::Node, kind: &str, name: &str, code: &str) -> tree::Node {
    add_est(db, Some(parent.id), kind, name, Some(code), None).await
}

/// Creates a node as the operator, opened on 2020-01-01, with `est` households.
async fn add_est(
    db: &Db,
    parent: Option<i64>,
    kind: &str,
    name: &str,
    code: Option<&str>,
    est: Option<i64>,
) -> tree::Node {
    let new = NewNode::parse(NodeInput {
        parent_id: parent,
        kind,
        name,
        code,
        household_estimate: est,
        opened_on: Some("2020-01-01"),
    })
    .unwrap();
    tree::create(db, &op(), new, now_ms()).await.unwrap()
}

async fn try_add(
    db: &Db,
    scope: &Scope,
    parent: i64,
    kind: &str,
    name: &str,
    code: Option<&str>,
) -> Result<tree::Node, StoreError> {
    let new = NewNode::parse(NodeInput {
        parent_id: Some(parent),
        kind,
        name,
        code,
        ..Default::default()
    })
    .map_err(StoreError::Invalid)?;
    tree::create(db, scope, new, now_ms()).await
}

/// An account of `role` on `nodes`.
fn user<'a>(
    display_name: Option<&'a str>,
    username: &'a str,
    password: &'a str,
    role: &'a str,
    nodes: &'a [i64],
) -> NewUser<'a> {
    NewUser {
        username,
        display_name,
        password,
        role,
        node_ids: nodes,
    }
}

/// Logs `username` in from `ip` (no user agent).
async fn login(
    db: &Db,
    username: &str,
    password: &str,
    ip: &str,
) -> Result<NewSession, LoginError> {
    accounts::login(db, username, password, ip, None, now_ms()).await
}

/// Changes node `id` as the operator.
async fn rename_or_recode(
    db: &Db,
    id: i64,
    patch: NodePatch<'_>,
) -> Result<tree::Node, StoreError> {
    tree::update(db, &op(), id, patch, now_ms()).await
}

/// The roots of the scope that `token` resolves to, if it still resolves.
async fn token_roots(db: &Db, token: &str) -> Option<Vec<linli_core::JurisdictionPath>> {
    let p = accounts::principal_for_token(db, token, now_ms())
        .await
        .unwrap();
    p.map(|p| p.scope.roots().to_vec())
}

/// Creates `new` as the operator.
async fn create_user(db: &Db, new: NewUser<'_>) -> Result<accounts::User, StoreError> {
    accounts::create(db, &op(), new, now_ms()).await
}

/// A small tree: district / street / community / two grids (A, B) each with a building.
struct Tree {
    district: tree::Node,
    street: tree::Node,
    community: tree::Node,
    grid_a: tree::Node,
    grid_b: tree::Node,
    building_a: tree::Node,
    building_b: tree::Node,
}

async fn tree(db: &Db) -> Tree {
    let district = add_est(db, None, "district", "香格里拉市", Some("533401"), None).await;
    let street = add(db, &district, "street", "建塘镇", "533401100").await;
    let community = add(db, &street, "community", "里布嘎社区", "533401100001").await;
    let grid =
        |name, code, est| add_est(db, Some(community.id), "grid", name, Some(code), Some(est));
    let grid_a = grid("第一网格", "G01", 350).await;
    let grid_b = grid("第二网格", "G02", 320).await;
    let building =
        |grid: &tree::Node, name| add_est(db, Some(grid.id), "building", name, None, None);
    let building_a = building(&grid_a, "1栋").await;
    let building_b = building(&grid_b, "2栋").await;
    Tree {
        district,
        street,
        community,
        grid_a,
        grid_b,
        building_a,
        building_b,
    }
}

#[tokio::test]
#[cfg_attr(
    not(linli_pg),
    ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
)]
async fn both_backends_have_the_same_tables_and_columns() {
    let lite = TestDb::sqlite().await;
    let pg = TestDb::postgres().await;
    let a = lite.db.schema().await.unwrap();
    let b = pg.db.schema().await.unwrap();
    assert!(a.contains_key("node") && a.contains_key("audit"), "{a:?}");
    assert_eq!(a, b, "SQLite and PostgreSQL migrations disagree");
    lite.finish().await;
    pg.finish().await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let t = TestDb::sqlite().await;
    assert_eq!(t.db.sqlite_pragma("journal_mode").await.unwrap(), "wal");
    assert_eq!(t.db.sqlite_pragma("foreign_keys").await.unwrap(), "1");
    // Migrating again is a no-op.
    t.db.migrate(now_ms()).await.unwrap();
    t.finish().await;
}

both_backends!(tree_is_built_counted_and_checked, |db: Db| async move {
    let t = tree(&db).await;
    assert_eq!(
        t.community.path.as_str(),
        format!("/{}/{}/{}/", t.district.id, t.street.id, t.community.id)
    );
    assert_eq!(t.building_a.depth, 4);

    // Counts: descendants by kind; households summed over grids.
    let s = tree::summary(&db, &op(), t.community.id).await.unwrap();
    assert_eq!(s.counts.of(NodeKind::Grid), 2);
    assert_eq!(s.counts.of(NodeKind::Building), 2);
    assert_eq!(s.counts.households, Some(670));
    let kids = tree::children(&db, &op(), t.community.id, false, Page::new(None, None))
        .await
        .unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].counts.households, Some(350));
    assert_eq!(kids[0].counts.of(NodeKind::Building), 1);
    // Paging by id.
    let page2 = tree::children(
        &db,
        &op(),
        t.community.id,
        false,
        Page::new(Some(1), Some(kids[0].node.id)),
    )
    .await
    .unwrap();
    assert_eq!(page2.len(), 1);
    assert_eq!(page2[0].node.id, t.grid_b.id);

    // Each refused node, the field named, and whether it is a conflict: division codes extend
    // their parent's; kinds nest as on the ground, and never repeat along a path; siblings have
    // distinct names; division codes are unique; an unknown parent is a field error, not a
    // crash.
    let refused = [
        (
            t.district.id,
            "street",
            "别处",
            Some("530102001"),
            "code",
            false,
        ),
        (t.building_a.id, "grid", "楼里的网格", None, "kind", false),
        (t.street.id, "district", "区", Some("533402"), "kind", false),
        (
            t.community.id,
            "grid",
            "第一网格",
            Some("G09"),
            "name",
            true,
        ),
        (
            t.street.id,
            "community",
            "另一个",
            Some("533401100001"),
            "code",
            false,
        ),
        (999_999, "grid", "x", None, "parent_id", false),
    ];
    for (parent, kind, name, code, field, conflict) in refused {
        let e = try_add(&db, &op(), parent, kind, name, code)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), field, "{name}: {e:?}");
        if conflict {
            assert!(matches!(e, StoreError::Conflict { .. }), "{name}: {e:?}");
        }
    }

    // Rename with history in the audit log.
    let renamed = rename_or_recode(
        &db,
        t.grid_a.id,
        NodePatch {
            name: Some("一网格"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "一网格");
    let e = rename_or_recode(
        &db,
        t.community.id,
        NodePatch {
            code: Some("530102001001"),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), "code");

    // Crumbs from the root down.
    let crumbs = tree::ancestors(&db, &op(), &t.building_a).await.unwrap();
    let names: Vec<_> = crumbs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["香格里拉市", "建塘镇", "里布嘎社区", "一网格", "1栋"]
    );
});

both_backends!(moving_a_subtree_rewrites_its_paths, |db: Db| async move {
    let t = tree(&db).await;
    let s = op();
    let compound = add(&db, &t.community, "compound", "康珠小区", "C01").await;
    // Grid A (with its building) moves into the compound.
    let moved = tree::move_subtree(&db, &s, t.grid_a.id, compound.id, now_ms())
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(compound.id));
    assert_eq!(moved.path, compound.path.child(t.grid_a.id));
    assert_eq!(moved.depth, compound.depth + 1);
    let building = tree::get(&db, &s, t.building_a.id).await.unwrap();
    assert_eq!(building.path, moved.path.child(t.building_a.id));
    assert_eq!(building.depth, moved.depth + 1);
    let sum = tree::summary(&db, &s, compound.id).await.unwrap();
    assert_eq!(sum.counts.of(NodeKind::Grid), 1);
    assert_eq!(sum.counts.households, Some(350));
    // Grid B is untouched.
    let b = tree::get(&db, &s, t.building_b.id).await.unwrap();
    assert_eq!(b.path, t.building_b.path);

    // Not under itself; not where its kinds would repeat.
    let e = tree::move_subtree(&db, &s, compound.id, t.building_a.id, now_ms())
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), "new_parent_id");
    let e = tree::move_subtree(&db, &s, t.grid_b.id, moved.id, now_ms())
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), "kind");
    // A community keeps its statistical code, so it cannot move to a street it does not extend.
    let other_street = add(&db, &t.district, "street", "金龙街道", "533401001").await;
    let e = tree::move_subtree(&db, &s, t.community.id, other_street.id, now_ms())
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), "new_parent_id");

    let log = audit::list(
        &db,
        &s,
        &AuditFilter {
            action_prefix: Some("node.move".into()),
            ..AuditFilter::default()
        },
        Page::new(None, None),
    )
    .await
    .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].detail["from"], t.grid_a.path.as_str());
});

both_backends!(
    closing_a_node_closes_its_subtree_and_keeps_it,
    |db: Db| async move {
        let t = tree(&db).await;
        let s = op();
        let closed = tree::close(&db, &s, t.grid_b.id, None, now_ms())
            .await
            .unwrap();
        assert!(closed.closed_on.is_some());
        let b = tree::get(&db, &s, t.building_b.id).await.unwrap();
        assert!(b.closed_on.is_some(), "the building closes with its grid");
        // Closed nodes stay, but are left out of counts and open listings.
        let open = tree::children(&db, &s, t.community.id, false, Page::new(None, None))
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        let all = tree::children(&db, &s, t.community.id, true, Page::new(None, None))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        let sum = tree::summary(&db, &s, t.community.id).await.unwrap();
        assert_eq!(sum.counts.households, Some(350));
        // A closed node takes no children and cannot close twice.
        let e = try_add(&db, &s, t.grid_b.id, "building", "9栋", None)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), "parent_id");
        assert!(tree::close(&db, &s, t.grid_b.id, None, now_ms())
            .await
            .is_err());
        // Its name is free again among the open siblings.
        add(&db, &t.community, "grid", "第二网格", "G02").await;
    }
);

both_backends!(a_grid_worker_sees_only_their_grid, |db: Db| async move {
    let t = tree(&db).await;
    let worker = create_user(
        &db,
        user(
            Some("王网格"),
            "wangge_a",
            "grid-a-pass",
            "grid_worker",
            &[t.grid_a.id],
        ),
    )
    .await
    .unwrap();
    let scope = Scope::for_user(
        worker.id,
        "wangge_a",
        Role::GridWorker,
        vec![t.grid_a.path.clone()],
    );
    tree::get(&db, &scope, t.grid_a.id).await.unwrap();
    tree::get(&db, &scope, t.building_a.id).await.unwrap();
    for hidden in [t.grid_b.id, t.building_b.id, t.community.id, t.district.id] {
        assert!(
            matches!(
                tree::get(&db, &scope, hidden).await,
                Err(StoreError::NotFound)
            ),
            "{hidden}"
        );
        assert!(matches!(
            tree::children(&db, &scope, hidden, true, Page::new(None, None)).await,
            Err(StoreError::NotFound)
        ));
    }
    let mine = tree::subtree(&db, &scope, None).await.unwrap();
    let ids: Vec<_> = mine.iter().map(|n| n.id).collect();
    assert_eq!(ids, [t.grid_a.id, t.building_a.id]);
    let roots = tree::visible_roots(&db, &scope).await.unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].node.id, t.grid_a.id);
    // Nothing can be changed, in or out of the grid.
    assert!(try_add(&db, &scope, t.grid_b.id, "building", "x", None)
        .await
        .is_err());
    assert!(matches!(
        try_add(&db, &scope, t.grid_a.id, "building", "x", None).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(tree::close(&db, &scope, t.building_b.id, None, now_ms())
        .await
        .is_err());
    assert!(
        tree::move_subtree(&db, &scope, t.building_b.id, t.grid_a.id, now_ms())
            .await
            .is_err()
    );
    assert!(accounts::list(&db, &scope, Page::new(None, None))
        .await
        .is_err());
    assert!(
        audit::list(&db, &scope, &AuditFilter::default(), Page::new(None, None))
            .await
            .is_err()
    );
    // Breadcrumbs name the ancestors but mark them unreadable.
    let crumbs = tree::ancestors(&db, &scope, &t.building_a).await.unwrap();
    let readable: Vec<_> = crumbs.iter().map(|c| c.readable).collect();
    assert_eq!(readable, [false, false, false, true, true]);
    // A scope without roots sees nothing at all.
    let empty = Scope::for_user(worker.id, "wangge_a", Role::Staff, vec![]);
    assert!(tree::subtree(&db, &empty, None).await.unwrap().is_empty());
    assert!(tree::get(&db, &empty, t.grid_a.id).await.is_err());

    // Staff work below their community but cannot close it.
    let staff = Scope::for_user(1, "staff", Role::Staff, vec![t.community.path.clone()]);
    let added = try_add(&db, &staff, t.grid_a.id, "building", "5栋", None)
        .await
        .expect("staff add below their community");
    assert_eq!(added.parent_id, Some(t.grid_a.id));
    assert!(matches!(
        tree::close(&db, &staff, t.community.id, None, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        tree::get(&db, &staff, t.street.id).await,
        Err(StoreError::NotFound)
    ));
});

both_backends!(
    accounts_log_in_are_throttled_and_audited,
    |db: Db| async move {
        let t = tree(&db).await;
        let s = op();
        // Bad accounts are refused with every field named.
        let e = create_user(&db, user(None, "x", "short", "boss", &[]))
            .await
            .unwrap_err();
        let StoreError::Invalid(errs) = e else {
            panic!("{e:?}")
        };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password", "role"]);
        // A grid worker on a community, staff on nothing.
        let community = [t.community.id];
        for bad in [
            user(None, "gw01", "long enough", "grid_worker", &community),
            user(None, "st01", "long enough", "staff", &[]),
        ] {
            let e = create_user(&db, bad).await.unwrap_err();
            assert_eq!(field_of(&e), "node_ids");
        }

        let staff = create_user(
            &db,
            user(
                Some("李社工"),
                "Shequ01",
                "community-pass",
                "staff",
                &[t.community.id],
            ),
        )
        .await
        .unwrap();
        assert_eq!(staff.username, "shequ01");
        assert_eq!(staff.nodes.len(), 1);
        let e = create_user(
            &db,
            user(
                None,
                "shequ01",
                "community-pass",
                "staff",
                &[t.community.id],
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(field_of(&e), "username");

        // A login opens a session whose scope is the account's nodes.
        let session = accounts::login(
            &db,
            "SHEQU01",
            "community-pass",
            "10.0.0.1",
            Some("test"),
            now_ms(),
        )
        .await
        .unwrap();
        let p = accounts::principal_for_session(&db, &session.token, now_ms())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.user.id, staff.id);
        assert_eq!(p.scope.roots(), std::slice::from_ref(&t.community.path));
        assert_eq!(p.csrf_token.as_deref(), Some(session.csrf_token.as_str()));
        assert!(
            accounts::principal_for_session(&db, "not-a-session", now_ms())
                .await
                .unwrap()
                .is_none()
        );

        // Wrong passwords fail, and five of them from one address make that address wait…
        for _ in 0..5 {
            assert!(matches!(
                login(&db, "shequ01", "wrong-pass", "10.0.0.2").await,
                Err(LoginError::BadCredentials)
            ));
        }
        assert!(matches!(
            login(&db, "shequ01", "community-pass", "10.0.0.2").await,
            Err(LoginError::Throttled { retry_after_s }) if (1..=30).contains(&retry_after_s)
        ));
        // …but never lock the owner out from another address (issue 24, finding 7).
        let owner = login(&db, "shequ01", "community-pass", "10.0.0.3")
            .await
            .expect("the guesser's failures do not lock the account elsewhere");
        assert_eq!(owner.user.id, staff.id);
        // The owner's success does not wipe the guesser's record.
        assert!(matches!(
            login(&db, "shequ01", "community-pass", "10.0.0.2").await,
            Err(LoginError::Throttled { .. })
        ));
        // Unknown accounts fail the same way, and count against the address.
        for i in 0..20 {
            let r = login(&db, &format!("nobody{i}"), "whatever-pass", "10.0.0.9").await;
            assert!(matches!(r, Err(LoginError::BadCredentials)), "{i}");
        }
        let admin = create_user(&db, user(None, "admin", "admin-pass-1", "admin", &[]))
            .await
            .unwrap();
        assert!(matches!(
            login(&db, "admin", "admin-pass-1", "10.0.0.9").await,
            Err(LoginError::Throttled { .. })
        ));
        let other = login(&db, "admin", "admin-pass-1", "10.0.0.10")
            .await
            .expect("another address is not throttled");
        assert_eq!(other.user.username, "admin");

        // Logout ends the session.
        accounts::logout(&db, &session.token, "10.0.0.1", now_ms())
            .await
            .unwrap();
        assert!(
            accounts::principal_for_session(&db, &session.token, now_ms())
                .await
                .unwrap()
                .is_none()
        );

        // Tokens for scripts work until revoked; disabling an account ends everything.
        let token = accounts::issue_token(&db, &s, staff.id, "report script", now_ms())
            .await
            .unwrap();
        assert!(token.starts_with("linli_"));
        let p = accounts::principal_for_token(&db, &token, now_ms())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.user.id, staff.id);
        assert!(p.csrf_token.is_none());
        assert_eq!(
            accounts::revoke_tokens(&db, &s, staff.id, now_ms())
                .await
                .unwrap(),
            1
        );
        assert!(accounts::principal_for_token(&db, &token, now_ms())
            .await
            .unwrap()
            .is_none());
        let token = accounts::issue_token(&db, &s, staff.id, "second", now_ms())
            .await
            .unwrap();
        accounts::update(&db, &s, staff.id, None, None, Some(true), now_ms())
            .await
            .unwrap();
        assert!(accounts::principal_for_token(&db, &token, now_ms())
            .await
            .unwrap()
            .is_none());

        // Passwords change; the old one stops working.
        accounts::set_password(&db, &s, admin.id, "new-admin-pass", now_ms())
            .await
            .unwrap();
        assert!(login(&db, "admin", "admin-pass-1", "10.0.0.11")
            .await
            .is_err());
        let again = login(&db, "admin", "new-admin-pass", "10.0.0.11")
            .await
            .expect("the new password works");
        assert_eq!(again.user.username, "admin");
        // One's own password needs the current one (issue 24, finding 4), even for an admin.
        let me = accounts::principal_for_session(&db, &again.token, now_ms())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            accounts::set_password(&db, &me.scope, admin.id, "stolen-session-1", now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            accounts::change_own_password(
                &db,
                &me.scope,
                "a-guess-1",
                "stolen-session-1",
                "10.0.0.12",
                now_ms(),
            )
            .await,
            Err(LoginError::BadCredentials)
        ));
        accounts::change_own_password(
            &db,
            &me.scope,
            "new-admin-pass",
            "newer-admin-pass",
            "10.0.0.12",
            now_ms(),
        )
        .await
        .unwrap();
        login(&db, "admin", "newer-admin-pass", "10.0.0.12")
            .await
            .expect("the changed password works");

        // Everything above is in the audit log, with who and from where.
        let log = audit::list(&db, &s, &AuditFilter::default(), Page::all())
            .await
            .unwrap();
        let count = |a: &str| log.iter().filter(|e| e.action == a).count();
        assert_eq!(count("login"), 5);
        assert_eq!(count("login.failed"), 26);
        assert_eq!(count("login.throttled"), 3);
        assert_eq!(count("user.password.failed"), 1);
        assert_eq!(count("logout"), 1);
        assert_eq!(count("user.create"), 2);
        assert_eq!(count("user.update"), 1);
        assert_eq!(count("user.password"), 2);
        assert_eq!(count("token.issue"), 2);
        assert!(log.iter().any(|e| e.action == "login.failed"
            && e.ip.as_deref() == Some("10.0.0.2")
            && e.detail["reason"] == "wrong password"));
        assert!(
            log.iter()
                .all(|e| !e.detail.to_string().contains("community-pass")),
            "no password in the log"
        );
    }
);

both_backends!(
    the_audit_log_refuses_updates_and_deletes,
    |db: Db| async move {
        tree(&db).await;
        let before = audit::list(&db, &op(), &AuditFilter::default(), Page::all())
            .await
            .unwrap();
        assert!(!before.is_empty());
        assert!(sqlx::query("UPDATE audit SET actor = 'someone else'")
            .execute(db.pool())
            .await
            .is_err());
        assert!(sqlx::query("DELETE FROM audit")
            .execute(db.pool())
            .await
            .is_err());
        let after = audit::list(&db, &op(), &AuditFilter::default(), Page::all())
            .await
            .unwrap();
        assert_eq!(before.len(), after.len());
        assert!(after.iter().all(|e| e.actor == "cli"));
        // Officials read the entries about their jurisdiction only.
        let t = tree::find_by_names(&db, &op(), &["香格里拉市", "建塘镇"])
            .await
            .unwrap()
            .unwrap();
        let official = Scope::for_user(7, "jd", Role::Official, vec![t.path.clone()]);
        let theirs = audit::list(&db, &official, &AuditFilter::default(), Page::all())
            .await
            .unwrap();
        assert!(!theirs.is_empty() && theirs.len() < after.len());
        assert!(theirs.iter().all(|e| e
            .node_path
            .as_deref()
            .unwrap_or("")
            .starts_with(t.path.as_str())));
    }
);

both_backends!(
    a_resolved_caller_follows_changes_to_their_account_and_jurisdiction,
    |db: Db| async move {
        let s = op();
        let t = tree(&db).await;
        let worker = create_user(
            &db,
            user(
                None,
                "wangge01",
                "grid-pass-1",
                "grid_worker",
                &[t.grid_a.id],
            ),
        )
        .await
        .unwrap();
        let token = accounts::issue_token(&db, &s, worker.id, "phone", now_ms())
            .await
            .unwrap();
        assert_eq!(
            token_roots(&db, &token).await,
            Some(vec![t.grid_a.path.clone()])
        );

        // A move of the grid through the store is seen by the very next request.
        let other = add(&db, &t.street, "community", "团结社区", "533401100002").await;
        let moved = tree::move_subtree(&db, &s, t.grid_a.id, other.id, now_ms())
            .await
            .unwrap();
        assert_eq!(
            token_roots(&db, &token).await,
            Some(vec![moved.path.clone()])
        );

        // A change the store did not make (another process) is seen once the cache entry
        // has aged out.
        sqlx::query("UPDATE app_user SET disabled = 1 WHERE id = $1")
            .bind(worker.id)
            .execute(db.pool())
            .await
            .unwrap();
        tokio::time::sleep(accounts::PRINCIPAL_TTL + std::time::Duration::from_millis(100)).await;
        assert_eq!(token_roots(&db, &token).await, None);
    }
);

both_backends!(
    every_copy_of_a_node_path_is_rewritten_by_a_move,
    |db: Db| async move {
        // Every path column of the schema is either rewritten by a move or is history (or the
        // registry's change marks, which a move supersedes by raising the epoch).
        let schema = db.schema().await.unwrap();
        let history = [
            ("node", "path"),
            ("audit", "node_path"),
            ("change_log", "node_path"),
            ("registry_change", "path"),
        ];
        for (table, columns) in &schema {
            for (column, _) in columns {
                if !column.ends_with("path") || history.contains(&(table.as_str(), column.as_str()))
                {
                    continue;
                }
                assert!(
                    tree::PATH_COPIES
                        .iter()
                        .any(|(t, c, _)| t == table && c == column),
                    "{table}.{column} is not rewritten when a subtree moves"
                );
            }
        }
        for (t, c, d) in tree::PATH_COPIES {
            let cols = schema.get(*t).unwrap_or_else(|| panic!("no table {t}"));
            assert!(cols.iter().any(|(n, _)| n == c), "no column {t}.{c}");
            if let Some(d) = d {
                assert!(cols.iter().any(|(n, _)| n == d), "no column {t}.{d}");
            }
        }

        // A resident and a supplies ledger under grid A move with it; the ledger stays
        // append-only for everything but its location.
        let s = op();
        let t = tree(&db).await;
        let person = crate::support::named(&db, &t.building_a, "张三").await;
        let site = linli_store::supplies::create_site(
            &db,
            &s,
            t.grid_a.id,
            &linli_core::supplies::SiteDraft::parse("网格物资柜", None, false).unwrap(),
            linli_core::kernel::clock::now_ms(),
        )
        .await
        .unwrap();
        let item = linli_store::supplies::items(&db).await.unwrap()[0].id;
        linli_store::supplies::record(
            &db,
            &s,
            site.id,
            item,
            &linli_core::supplies::Movement::parse("receipt", 100, None).unwrap(),
            None,
            linli_core::kernel::clock::now_ms(),
        )
        .await
        .unwrap();
        let compound = add(&db, &t.community, "compound", "康珠小区", "C01").await;
        let moved = tree::move_subtree(&db, &s, t.grid_a.id, compound.id, now_ms())
            .await
            .unwrap();
        let person = linli_store::registry::get(&db, &s, person).await.unwrap();
        assert_eq!(person.node_path, moved.path.child(t.building_a.id));
        let paths: Vec<(String,)> = sqlx::query_as(
            "SELECT node_path FROM supply_ledger UNION ALL SELECT node_path FROM supply_balance",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        assert_eq!(paths.len(), 2);
        for (p,) in paths {
            assert_eq!(p, moved.path.as_str());
        }
        assert!(
            sqlx::query("UPDATE supply_ledger SET delta = 1")
                .execute(db.pool())
                .await
                .is_err(),
            "what an entry says cannot change"
        );
        // A worker of the compound now sees the resident; one bound elsewhere does not.
        let compound_worker = Scope::for_user(20, "w", Role::Staff, vec![compound.path.clone()]);
        let seen = linli_store::registry::get(&db, &compound_worker, person.id)
            .await
            .expect("the compound's worker sees the resident");
        assert_eq!(seen.id, person.id);
        let grid_b_worker = Scope::for_user(21, "b", Role::GridWorker, vec![t.grid_b.path.clone()]);
        assert!(linli_store::registry::get(&db, &grid_b_worker, person.id)
            .await
            .is_err());
    }
);

both_backends!(
    a_write_waits_for_another_writer_instead_of_failing,
    |db: Db| async move {
        // On SQLite a transaction that reads before it writes used to be refused at once
        // ("database is locked") when another connection held the write lock; write
        // transactions now take the lock when they begin, so they wait their turn instead.
        let t = tree(&db).await;
        let mut other = db.begin_write().await.unwrap();
        sqlx::query("UPDATE node SET updated_at = updated_at WHERE id = $1")
            .bind(t.grid_b.id)
            .execute(&mut *other)
            .await
            .unwrap();
        let rename = {
            let db = db.clone();
            let id = t.grid_a.id;
            tokio::spawn(async move {
                rename_or_recode(
                    &db,
                    id,
                    NodePatch {
                        name: Some("第一网格"),
                        ..Default::default()
                    },
                )
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        other.commit().await.unwrap();
        let renamed = rename.await.unwrap().unwrap();
        assert_eq!(renamed.name, "第一网格");
    }
);

/// A test that panics before `finish` leaves no directory behind: the database is removed when
/// its `TestDb` is dropped during the unwinding.
#[tokio::test]
async fn a_panicking_test_leaves_no_sqlite_directory() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = tokio::spawn(async move {
        let t = TestDb::sqlite().await;
        let _ = tx.send(t.dir.clone());
        panic!("a failing test");
    })
    .await;
    assert!(failed.is_err());
    let dir = rx.await.unwrap();
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

/// The same on PostgreSQL: the schema goes too.
#[tokio::test]
#[cfg_attr(
    not(linli_pg),
    ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
)]
async fn a_panicking_test_leaves_no_postgres_schema() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = tokio::spawn(async move {
        let t = TestDb::postgres().await;
        let _ = tx.send(t.pg_schema().unwrap().to_owned());
        panic!("a failing test");
    })
    .await;
    assert!(failed.is_err());
    let schema = rx.await.unwrap();
    let db = Db::connect(&TestDb::pg_url(), None).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(db.pool())
    .await
    .unwrap();
    db.close().await;
    assert_eq!(left, 0, "schema {schema} is left behind");
}

both_backends!(a_demo_database_is_marked_once, |db: Db| async move {
    assert!(!db.is_demo().await.unwrap(), "a new database is not a demo");
    db.mark_demo(1_000).await.unwrap();
    assert!(db.is_demo().await.unwrap());
    // Marking again keeps the first mark (no conflict error).
    db.mark_demo(2_000).await.unwrap();
    assert!(db.is_demo().await.unwrap());
});

both_backends!(
    the_audit_list_searches_filters_counts_and_pages,
    |db: Db| async move {
        use linli_store::infra::audit::AuditEntry;
        let s = crate::support::street_tree(&db, None).await;
        // 2020-02-01T00:00:00+08:00, long before the tree's own entries.
        const T0: i64 = 1_580_486_400_000;
        const DAY: i64 = 86_400_000;
        let staff_a = Scope::for_user(2, "staff_a", Role::Staff, vec![s.community_a.path.clone()]);
        let staff_b = Scope::for_user(3, "staff_b", Role::Staff, vec![s.community_b.path.clone()]);
        for (scope, action, entity, path, at) in [
            (
                &staff_a,
                "person.unmask",
                "person",
                Some(&s.community_a.path),
                T0,
            ),
            (
                &staff_b,
                "person.unmask",
                "person",
                Some(&s.community_b.path),
                T0 + DAY,
            ),
            (&op(), "list.export", "request", None, T0 + 2 * DAY),
        ] {
            let mut e = AuditEntry::by(scope, action, entity);
            if let Some(p) = path {
                e = e.node_path(p);
            }
            audit::record(db.pool(), e, at).await.unwrap();
        }
        let actions = |f: AuditFilter, scope: Scope, page: (i64, i64)| {
            let db = db.clone();
            async move {
                let l = audit::page(&db, &scope, &f, page).await.unwrap();
                let got: Vec<String> = l
                    .items
                    .iter()
                    .map(|r| format!("{} {}", r.actor, r.action))
                    .collect();
                (l.total, got)
            }
        };
        let early = AuditFilter {
            at: (Some(T0), Some(T0 + 3 * DAY)),
            ..Default::default()
        };
        assert_eq!(
            actions(early.clone(), op(), (10, 0)).await,
            (
                3,
                vec![
                    "cli list.export".to_owned(),
                    "staff_b person.unmask".into(),
                    "staff_a person.unmask".into()
                ]
            )
        );
        // Pages: the count stays.
        assert_eq!(
            actions(early.clone(), op(), (2, 2)).await,
            (3, vec!["staff_a person.unmask".to_owned()])
        );
        // The days: the first two only.
        let f = AuditFilter {
            at: (Some(T0), Some(T0 + 2 * DAY)),
            ..Default::default()
        };
        assert_eq!(actions(f, op(), (10, 0)).await.0, 2);
        // Search in actor, action and entity; the exact actor; the action's prefix.
        let f = |q: &str| AuditFilter {
            q: Some(q.to_owned()),
            ..early.clone()
        };
        assert_eq!(
            actions(f("_b"), op(), (10, 0)).await,
            (1, vec!["staff_b person.unmask".to_owned()])
        );
        assert_eq!(actions(f("request"), op(), (10, 0)).await.0, 1);
        assert_eq!(actions(f("unmask"), op(), (10, 0)).await.0, 2);
        assert_eq!(
            actions(f("%"), op(), (10, 0)).await.0,
            0,
            "a wildcard is literal"
        );
        let f = AuditFilter {
            actor: Some("staff_a".into()),
            ..early.clone()
        };
        assert_eq!(actions(f, op(), (10, 0)).await.0, 1);
        let f = AuditFilter {
            action_prefix: Some("list.".into()),
            ..early.clone()
        };
        assert_eq!(actions(f, op(), (10, 0)).await.0, 1);
        // An official of community A reads A's entries only; staff read none.
        let official_a = Scope::for_user(
            5,
            "official_a",
            Role::Official,
            vec![s.community_a.path.clone()],
        );
        assert_eq!(
            actions(early.clone(), official_a, (10, 0)).await,
            (1, vec!["staff_a person.unmask".to_owned()])
        );
        assert!(matches!(
            audit::page(&db, &staff_a, &early, (10, 0)).await,
            Err(StoreError::Forbidden(_))
        ));
    }
);
