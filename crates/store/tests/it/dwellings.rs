//! Rooms in buildings (issue 19 items 2, 4, 6): where registered rooms land in the tree, a
//! building's rooms, a room's households, adding rooms and members, moving a household.

use linli_core::kernel::clock::now_ms;
use linli_core::registry::buildings::room_plan;
use linli_core::registry::PersonInput;
use linli_core::NodeKind;
use linli_store::registry::{self, dwellings, Placement};
use linli_store::{both_backends, tree as nodes, Db, Page, StoreError};

use crate::support::{id, node, op, register, tree};

fn row(
    row: usize,
    name: &'static str,
    relation: &'static str,
    address: &'static str,
) -> registry::ImportRow {
    let input = PersonInput {
        name,
        relation: Some(relation),
        address: Some(address),
        ..Default::default()
    };
    registry::ImportRow {
        row,
        draft: linli_core::registry::PersonDraft::parse(&input, linli_core::kernel::clock::today())
            .unwrap()
            .0,
        warnings: Vec::new(),
        category_given: false,
    }
}

/// The open children of `parent`: (kind, name).
async fn children(db: &Db, parent: i64) -> Vec<(NodeKind, String)> {
    nodes::children(db, &op(), parent, false, Page::all())
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.node.kind, c.node.name))
        .collect()
}

both_backends!(
    a_registered_room_lands_in_its_building_made_once,
    |db: Db| async move {
        let t = tree(&db).await;
        let a = PersonInput {
            name: "张三",
            address: Some("3栋2单元501室"),
            relation: Some("head"),
            ..Default::default()
        };
        let (p, _) = register(&db, &op(), t.grid_a.id, &a).await.unwrap();
        assert_eq!(
            children(&db, t.grid_a.id).await,
            [(NodeKind::Building, "3栋".to_owned())]
        );
        let building = nodes::children(&db, &op(), t.grid_a.id, false, Page::all())
            .await
            .unwrap()[0]
            .node
            .clone();
        assert_eq!(
            p.node_id, building.id,
            "the person is placed in the building"
        );
        assert_eq!(p.address.as_deref(), Some("3栋2单元501室"));
        // 3号楼 is the same building: no second node; a room typed at the building needs no
        // building number.
        let b = PersonInput {
            name: "李四",
            address: Some("3号楼2单元1001"),
            ..Default::default()
        };
        register(&db, &op(), t.grid_a.id, &b).await.unwrap();
        let c = PersonInput {
            name: "王五",
            address: Some("1单元101"),
            ..Default::default()
        };
        let (w, _) = register(&db, &op(), building.id, &c).await.unwrap();
        assert_eq!(w.address.as_deref(), Some("3栋1单元101室"));
        assert_eq!(children(&db, t.grid_a.id).await.len(), 1);
        // Another building's number typed at this building is refused, and nothing is stored.
        let d = PersonInput {
            name: "赵六",
            address: Some("5栋101"),
            ..Default::default()
        };
        let e = register(&db, &op(), building.id, &d).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "building"),
            "{e:?}"
        );

        // The building's rooms, in walking order: unit 1 before 2, 501 before 1001.
        let rooms = dwellings::rooms(&db, &op(), building.id).await.unwrap();
        let listed: Vec<String> = rooms.iter().map(|r| r.address.to_string()).collect();
        assert_eq!(listed, ["3栋1单元101室", "3栋2单元501室", "3栋2单元1001室"]);
        assert_eq!((rooms[1].living, rooms[1].households), (1, 1));
        assert_eq!(rooms[1].head.as_deref(), Some("张三"));
        // The grid worker of the other grid sees none of it.
        let e = dwellings::rooms(&db, &t.worker_b(), building.id)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        let e = dwellings::room(&db, &t.worker_b(), rooms[0].id)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
    }
);

both_backends!(
    an_import_places_rooms_in_buildings_and_names_the_new_ones,
    |db: Db| async move {
        let t = tree(&db).await;
        let b3 = node(&db, Some(t.grid_a.id), "building", "3栋", None).await;
        let u1 = node(&db, Some(b3.id), "unit", "1单元", None).await;
        let rows = vec![
            row(1, "张三", "head", "3栋1单元101"),
            row(2, "李梅", "spouse", "3栋1单元101"),
            row(3, "王五", "head", "3栋2单元201"),
            row(4, "赵六", "head", "7栋101"),
        ];
        let out = registry::import_persons(
            &db,
            &op(),
            t.community.id,
            "test.csv",
            rows,
            registry::OnDuplicate::Fail,
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(out.stored_count, 4);
        // 3栋 is organised in units: 2单元 is made; 7栋 is new, made under the community.
        let made: Vec<String> = out.homes_created.iter().map(|h| h.to_string()).collect();
        assert_eq!(made, ["3栋2单元（属3栋）", "7栋（属里布嘎社区）"]);
        assert_eq!((out.dwellings_created, out.households_created), (3, 3));
        assert_eq!(
            children(&db, b3.id).await,
            [
                (NodeKind::Unit, "1单元".to_owned()),
                (NodeKind::Unit, "2单元".to_owned())
            ]
        );
        assert!(children(&db, t.community.id)
            .await
            .contains(&(NodeKind::Building, "7栋".to_owned())));
        let in_unit = dwellings::rooms(&db, &op(), u1.id).await.unwrap();
        assert_eq!(in_unit.len(), 1);
        assert_eq!((in_unit[0].living, in_unit[0].households), (2, 1));
        // The grid worker of grid A sees 3栋's rooms (it is in the grid), not 7栋's.
        let seen = dwellings::rooms(&db, &t.worker_a(), t.community.id).await;
        assert!(matches!(seen, Err(StoreError::NotFound)), "{seen:?}");
        let seen = dwellings::rooms(&db, &t.worker_a(), b3.id).await.unwrap();
        assert_eq!(seen.len(), 2);
    }
);

both_backends!(
    rooms_added_empty_members_join_and_households_move,
    |db: Db| async move {
        let t = tree(&db).await;
        let b = node(&db, Some(t.grid_a.id), "building", "5栋", None).await;
        let plan = room_plan("", "1", "3", "2").unwrap();
        assert_eq!(
            dwellings::add_rooms(&db, &op(), b.id, &plan, now_ms())
                .await
                .unwrap(),
            6
        );
        // Again: nothing new.
        assert_eq!(
            dwellings::add_rooms(&db, &op(), b.id, &plan, now_ms())
                .await
                .unwrap(),
            0
        );
        // Rooms only go into buildings and units.
        let e = dwellings::add_rooms(&db, &op(), t.grid_a.id, &plan, now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "node_id"),
            "{e:?}"
        );

        let n = id("53340119850312001");
        let head = PersonInput {
            name: "张三",
            id_number: Some(&n),
            address: Some("201"),
            relation: Some("head"),
            ..Default::default()
        };
        let (h, _) = register(&db, &op(), b.id, &head).await.unwrap();
        let rooms = dwellings::rooms(&db, &op(), b.id).await.unwrap();
        assert_eq!(rooms.len(), 6);
        assert_eq!(rooms.iter().filter(|r| r.is_empty()).count(), 5);
        // A member added to the household with no address lives in its room.
        let placement = Placement {
            node_id: t.grid_a.id,
            household_id: h.household_id,
            ..Default::default()
        };
        let child = PersonInput {
            name: "张小",
            relation: Some("son"),
            ..Default::default()
        };
        let (c, _) = registry::create(&db, &op(), &placement, &child, now_ms())
            .await
            .unwrap();
        assert_eq!((c.node_id, c.dwelling_id), (b.id, h.dwelling_id));
        let room = dwellings::room(&db, &op(), h.dwelling_id.unwrap())
            .await
            .unwrap();
        assert_eq!(room.households.len(), 1);
        let names: Vec<&str> = room.households[0]
            .members
            .iter()
            .map(|m| m.person.name.as_str())
            .collect();
        assert_eq!(names, ["张三", "张小"]);

        // The household moves to 302: both members go, the history says from where to where.
        let household = h.household_id.unwrap();
        let e =
            dwellings::move_household(&db, &t.worker_b(), household, t.grid_b.id, "101", now_ms())
                .await
                .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "household_id"),
            "{e:?}"
        );
        let to = dwellings::move_household(&db, &op(), household, b.id, "302", now_ms())
            .await
            .unwrap();
        let moved = registry::get(&db, &op(), c.id).await.unwrap();
        assert_eq!(moved.dwelling_id, Some(to));
        assert_eq!(moved.address.as_deref(), Some("5栋302室"));
        let history = registry::history(&db, &op(), "person", c.id).await.unwrap();
        assert!(history.iter().any(|ch| ch.field == "address"
            && ch.old_value.as_deref() == Some("5栋201室")
            && ch.new_value.as_deref() == Some("5栋302室")));
        let rooms = dwellings::rooms(&db, &op(), b.id).await.unwrap();
        let lived: Vec<(String, i64)> = rooms
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| (r.address.room.clone(), r.living))
            .collect();
        assert_eq!(lived, [("302".to_owned(), 2)]);
    }
);

both_backends!(
    an_import_keeps_rooms_of_an_ambiguous_building_on_its_node,
    |db: Db| async move {
        let t = tree(&db).await;
        node(&db, Some(t.grid_a.id), "building", "1栋", None).await;
        node(&db, Some(t.grid_b.id), "building", "1栋", None).await;
        let out = registry::import_persons(
            &db,
            &op(),
            t.community.id,
            "test.csv",
            vec![row(1, "张三", "head", "1栋101")],
            registry::OnDuplicate::Fail,
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!((out.stored_count, out.rooms_unplaced), (1, 1));
        assert!(out.homes_created.is_empty());
        let rooms = dwellings::rooms(&db, &op(), t.community.id).await.unwrap();
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].node_id, t.community.id);
        // A registration is told to pick the grid instead.
        let a = PersonInput {
            name: "李四",
            address: Some("1栋102"),
            ..Default::default()
        };
        let e = register(&db, &op(), t.community.id, &a).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "address"),
            "{e:?}"
        );
    }
);

/// A room as a registration before rooms belonged to buildings left it: on the grid, its
/// address naming building `building`, with one household of one person.
async fn old_room(db: &Db, grid: &linli_store::tree::Node, building: &str, room: &str) -> i64 {
    let path = grid.path.as_str();
    let key = format!("{building}||{room}");
    let d: i64 = sqlx::query_scalar(
        "INSERT INTO dwelling (node_id, district_id, node_path, building, unit, room, address_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, '', $5, $6, 0, 0) RETURNING id",
    )
    .bind(grid.id)
    .bind(grid.path.root_id())
    .bind(path)
    .bind(building)
    .bind(room)
    .bind(&key)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let h: i64 = sqlx::query_scalar(
        "INSERT INTO household (dwelling_id, district_id, node_path, kind, created_at, updated_at) \
         VALUES ($1, $2, $3, 'family', 0, 0) RETURNING id",
    )
    .bind(d)
    .bind(grid.path.root_id())
    .bind(path)
    .fetch_one(db.pool())
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO person (node_id, district_id, node_path, dwelling_id, household_id, name, name_pinyin, \
         name_initials, category, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, '老住户', 'laozhuhu', 'lzh', 'registered', 0, 0) RETURNING id",
    )
    .bind(grid.id)
    .bind(grid.path.root_id())
    .bind(path)
    .bind(d)
    .bind(h)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

both_backends!(
    rooms_registered_before_buildings_are_attached_once,
    |db: Db| async move {
        let t = tree(&db).await;
        // 1栋 twice below grid A: directly, and in a compound inside the grid.
        node(&db, Some(t.grid_a.id), "building", "1栋", None).await;
        let east = node(&db, Some(t.grid_a.id), "compound", "东区", None).await;
        node(&db, Some(east.id), "building", "1栋", None).await;
        let in_five = old_room(&db, &t.grid_a, "5", "101").await;
        let ambiguous = old_room(&db, &t.grid_a, "1", "101").await;
        sqlx::query("DELETE FROM setting WHERE name = $1")
            .bind(dwellings::ATTACHED_SETTING)
            .execute(db.pool())
            .await
            .unwrap();

        let report = dwellings::attach_existing(&db, now_ms()).await.unwrap();
        assert_eq!(
            report,
            dwellings::Attached {
                attached: 1,
                unattached: 1,
                homes_created: 1
            }
        );
        let five = registry::get(&db, &op(), in_five).await.unwrap();
        assert_eq!(five.node_name, "5栋");
        assert_eq!(five.address.as_deref(), Some("5栋101室"));
        let rooms = dwellings::rooms(&db, &t.worker_a(), five.node_id)
            .await
            .unwrap();
        assert_eq!(
            (rooms.len(), rooms[0].living, rooms[0].households),
            (1, 1, 1)
        );
        let stayed = registry::get(&db, &op(), ambiguous).await.unwrap();
        assert_eq!(stayed.node_id, t.grid_a.id);
        // A second run changes nothing and tells the same.
        assert_eq!(
            dwellings::attach_existing(&db, now_ms()).await.unwrap(),
            report
        );
        assert_eq!(children(&db, t.grid_a.id).await.len(), 3);
    }
);

both_backends!(
    a_room_page_counts_as_the_rooms_list_does,
    |db: Db| async move {
        let t = tree(&db).await;
        let b = node(&db, Some(t.grid_a.id), "building", "8栋", None).await;
        let tags = ["独居老人".to_owned()];
        let mut ids = Vec::new();
        for (name, category, with_tag) in [
            ("甲一", "registered", false),
            ("甲二", "registered_away", true),
            ("甲三", "floating", true),
            ("甲四", "registered", false),
        ] {
            let input = PersonInput {
                name,
                category: Some(category),
                address: Some("101"),
                tags: if with_tag { &tags } else { &[] },
                ..Default::default()
            };
            ids.push(register(&db, &op(), b.id, &input).await.unwrap().0);
        }
        // 甲四 moves out: no longer counted in either figure.
        let moved = registry::PersonPatch {
            state: Some("moved_out".into()),
            moved_out_on: Some("2020-02-01".into()),
            moved_to: Some("昆明市".into()),
            ..Default::default()
        };
        registry::update(&db, &op(), ids[3].id, &moved, now_ms())
            .await
            .unwrap();
        let dwelling = ids[0].dwelling_id.unwrap();
        let listed = dwellings::rooms(&db, &op(), b.id).await.unwrap();
        let listed = listed.iter().find(|r| r.id == dwelling).unwrap();
        let page = dwellings::room(&db, &op(), dwelling).await.unwrap();
        // Living: 甲一 and 甲三 (甲二 is 人户分离); registered: 甲一 and 甲二. The key group is
        // 甲三's alone: 甲二 does not live here.
        for r in [listed, &page.room] {
            assert_eq!((r.living, r.registered), (2, 2), "{r:?}");
            assert_eq!(r.tags, ["独居老人"]);
            assert_eq!(r.address.to_string(), "8栋101室");
            assert_eq!(r.households, 1);
        }
        assert_eq!(page.room.household_ids, listed.household_ids);
        assert_eq!(page.room.head, listed.head);
        assert_eq!(page.room.node_name, "8栋");
    }
);

both_backends!(rooms_of_a_plan_land_once_per_unit, |db: Db| async move {
    let t = tree(&db).await;
    let b = node(&db, Some(t.grid_a.id), "building", "6栋", None).await;
    node(&db, Some(b.id), "unit", "1单元", None).await;
    let mut plan = room_plan("1", "1", "2", "2").unwrap();
    plan.extend(room_plan("2", "1", "2", "2").unwrap());
    assert_eq!(
        dwellings::add_rooms(&db, &op(), b.id, &plan, now_ms())
            .await
            .unwrap(),
        8
    );
    // One unit node made for the four rooms of unit 2, beside the one there.
    assert_eq!(
        children(&db, b.id).await,
        [
            (NodeKind::Unit, "1单元".to_owned()),
            (NodeKind::Unit, "2单元".to_owned())
        ]
    );
    let rooms = dwellings::rooms(&db, &op(), b.id).await.unwrap();
    let by_node: Vec<(String, String)> = rooms
        .iter()
        .map(|r| (r.node_name.clone(), r.address.to_string()))
        .collect();
    assert_eq!(
        by_node,
        [
            ("1单元".to_owned(), "6栋1单元101室".to_owned()),
            ("1单元".to_owned(), "6栋1单元102室".to_owned()),
            ("1单元".to_owned(), "6栋1单元201室".to_owned()),
            ("1单元".to_owned(), "6栋1单元202室".to_owned()),
            ("2单元".to_owned(), "6栋2单元101室".to_owned()),
            ("2单元".to_owned(), "6栋2单元102室".to_owned()),
            ("2单元".to_owned(), "6栋2单元201室".to_owned()),
            ("2单元".to_owned(), "6栋2单元202室".to_owned()),
        ]
    );
});

both_backends!(
    a_dry_run_names_the_buildings_the_import_makes,
    |db: Db| async move {
        let t = tree(&db).await;
        let b3 = node(&db, Some(t.grid_a.id), "building", "3栋", None).await;
        node(&db, Some(b3.id), "unit", "1单元", None).await;
        let rows = || {
            vec![
                row(1, "张三", "head", "3栋1单元101"),
                row(2, "王五", "head", "3栋2单元201"),
                row(3, "王六", "spouse", "3栋2单元201"),
                row(4, "赵六", "head", "7栋101"),
                row(5, "赵七", "head", "7栋102"),
                row(6, "钱八", "head", "9栋1单元301"),
            ]
        };
        let nodes_before = nodes::subtree(&db, &op(), Some(t.community.id))
            .await
            .unwrap()
            .len();
        let operator = op();
        let mut dry = registry::PersonImport::dry_run(
            &db,
            &operator,
            t.community.id,
            registry::OnDuplicate::Fail,
        )
        .await
        .unwrap();
        // Two chunks, as the web preview and the CLI hand them over.
        let mut all = rows();
        let second = all.split_off(3);
        dry.add(all, now_ms()).await.unwrap();
        dry.add(second, now_ms()).await.unwrap();
        let would = dry
            .commit("test.csv", serde_json::json!({}), now_ms())
            .await
            .unwrap();
        // Nothing was made.
        assert_eq!(
            nodes::subtree(&db, &op(), Some(t.community.id))
                .await
                .unwrap()
                .len(),
            nodes_before
        );
        let named = |o: &registry::ImportOutcome| -> Vec<String> {
            o.homes_created.iter().map(|h| h.to_string()).collect()
        };
        assert_eq!(
            named(&would),
            [
                "3栋2单元（属3栋）",
                "7栋（属里布嘎社区）",
                "9栋（属里布嘎社区）"
            ]
        );
        let did = registry::import_persons(
            &db,
            &op(),
            t.community.id,
            "test.csv",
            rows(),
            registry::OnDuplicate::Fail,
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(did.homes_created, would.homes_created);
        assert_eq!(did.stored_count, would.stored_count);
    }
);
