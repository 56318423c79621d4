//! The tree's levels (issue 19): province and city above the district, units in buildings, each
//! child of a lower kind; and the upgrade of a database made before these levels existed, whose
//! tree and records come through unchanged. On SQLite and on PostgreSQL.

use linli_core::kernel::clock::now_ms;
use linli_core::{NewNode, NodeInput, NodeKind, Scope};
use linli_store::testing::{node, TestDb};
use linli_store::{both_backends, tree, Db, StoreError};

fn new(parent: i64, kind: &str, name: &str, code: Option<&str>) -> NewNode {
    NewNode::parse(NodeInput {
        parent_id: Some(parent),
        kind,
        name,
        code,
        ..Default::default()
    })
    .unwrap()
}

both_backends!(
    provinces_cities_and_units_nest_by_level,
    |db: Db| async move {
        let op = Scope::operator();
        let yunnan = node(&db, None, "province", "云南省", Some("530000")).await;
        let diqing = node(
            &db,
            Some(yunnan.id),
            "city",
            "迪庆藏族自治州",
            Some("533400"),
        )
        .await;
        let district = node(
            &db,
            Some(diqing.id),
            "district",
            "香格里拉市",
            Some("533401"),
        )
        .await;
        let community = node(
            &db,
            Some(district.id),
            "community",
            "里布嘎社区",
            Some("533401100003"),
        )
        .await;
        let building = node(&db, Some(community.id), "building", "3栋", None).await;
        let unit = node(&db, Some(building.id), "unit", "2单元", None).await;
        assert_eq!(unit.kind, NodeKind::Unit);
        assert_eq!(unit.depth, 5);
        // A district's code must lie in its city's; a province under a city, a unit under a grid,
        // anything under a unit are refused, naming the field.
        let kunming = new(diqing.id, "district", "五华区", Some("530102"));
        match tree::create(&db, &op, kunming, now_ms()).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "code", "{e:?}"),
            other => panic!("{other:?}"),
        }
        for (parent, kind, code) in [
            (diqing.id, "province", Some("510000")),
            (community.id, "unit", None),
            (unit.id, "building", None),
        ] {
            match tree::create(&db, &op, new(parent, kind, "某处", code), now_ms()).await {
                Err(StoreError::Invalid(e)) => assert!(
                    e.iter()
                        .any(|e| e.field == "kind" || e.field == "parent_id"),
                    "{kind}: {e:?}"
                ),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }
);

/// Migration 0029 rebuilds SQLite's node table: a tree and the records that refer to it, made
/// before it, come through unchanged.
async fn upgrade(t: TestDb) {
    let db = &t.db;
    let district = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let street = node(db, Some(district.id), "street", "建塘镇", Some("533401100")).await;
    let grid = node(
        db,
        Some(street.id),
        "community",
        "里布嘎社区",
        Some("533401100003"),
    )
    .await;
    let before: Vec<(i64, Option<i64>, String, String, String)> =
        sqlx::query_as("SELECT id, parent_id, kind, name, path FROM node ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    // An account bound to the community: a row of another table that refers to a node.
    let staff = linli_store::accounts::create(
        db,
        &Scope::operator(),
        linli_store::accounts::NewUser {
            username: "staff",
            display_name: Some("李秀英"),
            password: "demo-pass-2020",
            role: "staff",
            node_ids: &[grid.id],
        },
        now_ms(),
    )
    .await
    .unwrap();
    db.migrate(now_ms()).await.unwrap();
    let bound: Vec<i64> = sqlx::query_scalar("SELECT node_id FROM user_node WHERE user_id = $1")
        .bind(staff.id)
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(bound, [grid.id]);
    let after: Vec<(i64, Option<i64>, String, String, String)> =
        sqlx::query_as("SELECT id, parent_id, kind, name, path FROM node ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(before, after);
    // The new levels are accepted now, and the references still hold.
    let yunnan = node(db, None, "province", "云南省", Some("530000")).await;
    assert_eq!(yunnan.kind, NodeKind::Province);
    let child = node(db, Some(grid.id), "building", "1栋", None).await;
    assert_eq!(child.parent_id, Some(grid.id));
    t.finish().await;
}

#[tokio::test]
async fn a_tree_made_before_the_levels_upgrades_unchanged_on_sqlite() {
    upgrade(TestDb::sqlite_until(28).await).await;
}

#[tokio::test]
#[cfg_attr(
    not(linli_pg),
    ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
)]
async fn a_tree_made_before_the_levels_upgrades_unchanged_on_postgres() {
    upgrade(TestDb::postgres_until(28).await).await;
}
