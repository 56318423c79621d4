//! The registry's numbers of a node (issue 19 item 3), counted from a hand-built tree with every
//! residence type, age band and a key group, on SQLite and on PostgreSQL: the node's numbers,
//! each child's, and the records placed on the node itself, which add up to the node's.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::registry::PersonInput;
use linli_core::{Role, Scope};
use linli_store::registry::counts::{
    counts, counts_all, counts_by_children, counts_direct, forget, Counts,
};
use linli_store::registry::{self, PersonPatch};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{node, op, register, street_tree, tree};

#[allow(clippy::too_many_arguments)]
async fn resident(
    db: &Db,
    at: i64,
    name: &str,
    category: &str,
    born: Option<&str>,
    address: Option<&str>,
    relation: Option<&str>,
    tags: &[String],
) -> i64 {
    let input = PersonInput {
        name,
        category: Some(category),
        birth_date: born,
        address,
        relation,
        tags,
        ..Default::default()
    };
    register(db, &op(), at, &input).await.unwrap().0.id
}

fn map(pairs: &[(&str, i64)]) -> std::collections::BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

both_backends!(
    a_nodes_numbers_are_counted_from_its_records,
    |db: Db| async move {
        let t = tree(&db).await;
        let alone = vec!["独居老人".to_owned()];
        // Grid A: a flat with an old man living alone (tagged) and a child.
        resident(
            &db,
            t.grid_a.id,
            "张一",
            "registered",
            Some("1950-01-01"),
            Some("1栋1单元101室"),
            Some("head"),
            &alone,
        )
        .await;
        resident(
            &db,
            t.grid_a.id,
            "张二",
            "resident",
            Some("2015-05-05"),
            Some("1栋1单元101室"),
            Some("son"),
            &[],
        )
        .await;
        // Grid B: a floating tenant in another flat, a registered person of unknown age without a
        // flat, and one who moved out (not counted).
        resident(
            &db,
            t.grid_b.id,
            "李三",
            "floating",
            Some("1990-01-01"),
            Some("2栋1单元201室"),
            Some("head"),
            &[],
        )
        .await;
        resident(
            &db,
            t.grid_b.id,
            "李四",
            "registered",
            None,
            None,
            None,
            &[],
        )
        .await;
        let gone = resident(
            &db,
            t.grid_b.id,
            "王五",
            "registered",
            Some("1940-01-01"),
            None,
            None,
            &alone,
        )
        .await;
        let moved = PersonPatch {
            state: Some("moved_out".into()),
            moved_out_on: Some("2020-02-01".into()),
            moved_to: Some("昆明市".into()),
            ..Default::default()
        };
        registry::update(&db, &op(), gone, &moved, now_ms())
            .await
            .unwrap();
        // On the community itself: a floating resident placed there.
        resident(
            &db,
            t.community.id,
            "赵六",
            "floating",
            Some("2000-06-01"),
            None,
            None,
            &[],
        )
        .await;

        let c = counts(&db, &op(), t.community.id).await.unwrap();
        assert_eq!(c.persons, 5);
        assert_eq!(
            c.by_residence,
            map(&[
                ("floating", 2),
                ("foreign", 0),
                ("registered", 2),
                ("registered_away", 0),
                ("resident", 1)
            ])
        );
        assert_eq!(c.consistency_rate, Some(1.0));
        assert_eq!(
            c.by_age,
            map(&[
                ("0-17", 1),
                ("18-59", 2),
                ("60-79", 1),
                ("80+", 0),
                ("unknown", 1)
            ])
        );
        assert_eq!(
            c.by_tag,
            map(&[("独居老人", 1)]),
            "the one who moved out is not counted"
        );
        assert_eq!((c.dwellings, c.occupied), (2, 2));

        // The lines: grid A, grid B, then the community's own record; they add up.
        let lines = counts_by_children(&db, &op(), t.community.id)
            .await
            .unwrap();
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l.node.as_ref().map_or("本级直属", |n| n.name.as_str()))
            .collect();
        assert_eq!(names, ["甲网格", "乙网格", "本级直属"]);
        let persons: Vec<i64> = lines.iter().map(|l| l.counts.persons).collect();
        assert_eq!(persons, [2, 2, 1]);
        let sum = |f: fn(&Counts) -> i64| lines.iter().map(|l| f(&l.counts)).sum::<i64>();
        assert_eq!(sum(|c| c.persons), c.persons);
        assert_eq!(sum(|c| c.dwellings), c.dwellings);
        assert_eq!(sum(|c| c.households), c.households);
        assert_eq!(lines[0].counts.by_tag, map(&[("独居老人", 1)]));

        // A grid worker of grid A counts grid A only; another grid is not found.
        let worker = Scope::for_user(
            11,
            "worker_a",
            Role::GridWorker,
            vec![t.grid_a.path.clone()],
        );
        assert_eq!(counts(&db, &worker, t.grid_a.id).await.unwrap().persons, 2);
        assert!(matches!(
            counts(&db, &worker, t.grid_b.id).await,
            Err(StoreError::NotFound)
        ));
    }
);

both_backends!(
    every_residence_type_and_the_away_state_are_counted,
    |db: Db| async move {
        let t = tree(&db).await;
        let party = vec!["党员".to_owned()];
        // Grid A: two registered and living here, one registered here but living elsewhere
        // (人户分离), one from abroad; grid B: one lodger (寄住), one floating, one more
        // registered here living elsewhere; on the community itself, a registered person
        // away for work (暂时外出: still counted).
        let a = [
            (
                "张一",
                "户籍常住",
                Some("1950-01-01"),
                Some("1栋1单元101室"),
            ),
            (
                "张二",
                "registered",
                Some("1980-02-02"),
                Some("1栋1单元101室"),
            ),
            ("张三", "人户分离", Some("1985-03-03"), None),
            (
                "John Smith",
                "外籍",
                Some("1990-04-04"),
                Some("1栋1单元102室"),
            ),
        ];
        for (name, cat, born, addr) in a {
            resident(&db, t.grid_a.id, name, cat, born, addr, None, &party).await;
        }
        for (name, cat) in [
            ("李四", "寄住"),
            ("李五", "流动人口"),
            ("李六", "户在人不在"),
        ] {
            resident(
                &db,
                t.grid_b.id,
                name,
                cat,
                Some("2010-01-01"),
                None,
                None,
                &[],
            )
            .await;
        }
        let away = resident(
            &db,
            t.community.id,
            "赵七",
            "registered",
            Some("1940-01-01"),
            Some("3栋1单元301室"),
            None,
            &[],
        )
        .await;
        let patch = PersonPatch {
            state: Some("away".into()),
            away_since: Some("2026-09-01".into()),
            away_to: Some("昆明（务工）".into()),
            ..Default::default()
        };
        registry::update(&db, &op(), away, &patch, now_ms())
            .await
            .unwrap();
        let p = registry::get(&db, &op(), away).await.unwrap();
        assert_eq!(
            (
                p.state.as_str(),
                p.away_since.as_deref(),
                p.away_to.as_deref()
            ),
            ("away", Some("2026-09-01"), Some("昆明（务工）"))
        );
        // Being away is kept in the history like the other states.
        let fields: Vec<String> = sqlx::query_scalar(
            "SELECT field FROM change_log WHERE entity = 'person' AND entity_id = $1 ORDER BY id",
        )
        .bind(away)
        .fetch_all(db.pool())
        .await
        .unwrap();
        for f in ["state", "away_since", "away_to"] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        // Away without where to: refused, nothing changed.
        let bad = PersonPatch {
            state: Some("away".into()),
            away_to: Some(" ".into()),
            ..Default::default()
        };
        let other = resident(&db, t.grid_b.id, "王八", "floating", None, None, None, &[]).await;
        match registry::update(&db, &op(), other, &bad, now_ms()).await {
            Err(StoreError::Invalid(e)) => {
                let f: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(f, ["away_since", "away_to"]);
            }
            r => panic!("{r:?}"),
        }

        let c = counts(&db, &op(), t.community.id).await.unwrap();
        assert_eq!((c.persons, c.away), (9, 1));
        assert_eq!(
            c.by_residence,
            map(&[
                ("floating", 2),
                ("foreign", 1),
                ("registered", 3),
                ("registered_away", 2),
                ("resident", 1)
            ])
        );
        // 人户一致率: registered and living here ÷ registered here = 3 ÷ 5.
        assert_eq!(c.consistency_rate, Some(0.6));
        assert_eq!(c.by_tag, map(&[("党员", 4)]));
        assert_eq!(
            (c.dwellings, c.occupied),
            (3, 2),
            "the away one's flat is empty"
        );
        let ga = counts(&db, &op(), t.grid_a.id).await.unwrap();
        assert_eq!(ga.consistency_rate, Some(2.0 / 3.0));
        let gb = counts(&db, &op(), t.grid_b.id).await.unwrap();
        assert_eq!(gb.consistency_rate, Some(0.0));
        assert_eq!(gb.by_residence["registered"], 0);

        // Every node at once equals each node's own numbers.
        let all = counts_all(&db, &op(), t.district.id).await.unwrap();
        let mut ids: Vec<i64> = all.iter().map(|(n, _)| n.id).collect();
        // The grids and the buildings the registrations' addresses made in them.
        let mut subtree: Vec<i64> = linli_store::tree::subtree(&db, &op(), Some(t.district.id))
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        ids.sort_unstable();
        subtree.sort_unstable();
        assert_eq!(ids, subtree);
        assert!(ids.contains(&t.grid_b.id));
        for (n, c) in &all {
            assert_eq!(
                c,
                &counts_direct(&db, &op(), n.id).await.unwrap(),
                "{}",
                n.name
            );
        }
        // The per-child lines: grid A, grid B and the community's own record.
        let lines = counts_by_children(&db, &op(), t.community.id)
            .await
            .unwrap();
        assert_eq!(lines[0].counts, ga);
        assert_eq!(lines[1].counts, gb);
        assert_eq!((lines[2].counts.persons, lines[2].counts.away), (1, 1));
        // A grid worker's view of everything at once is their grid alone.
        let worker = t.worker_a();
        let mine = counts_all(&db, &worker, t.grid_a.id).await.unwrap();
        // (The grid and the building its residents' addresses made.)
        assert!(mine.iter().all(|(n, _)| n.path.is_within(&t.grid_a.path)));
        assert_eq!((mine[0].0.id, &mine[0].1), (t.grid_a.id, &ga));
        assert!(matches!(
            counts_all(&db, &worker, t.community.id).await,
            Err(StoreError::NotFound)
        ));
    }
);

/// Migration 0030 rebuilds SQLite's person table (and widens PostgreSQL's checks): persons,
/// their tags, households and history made before it come through unchanged, and the new
/// residence types and the away state are accepted after it.
async fn upgrade(t: linli_store::testing::TestDb) {
    let db = &t.db;
    let community = linli_store::testing::node(db, None, "grid", "甲网格", None).await;
    let path = community.path.as_str().to_owned();
    sqlx::query(
        "INSERT INTO dwelling (node_id, district_id, node_path, building, unit, room, address_key, \
         created_at, updated_at) VALUES ($1, $1, $2, '1', '1', '101', '1-1-101', 0, 0)",
    )
    .bind(community.id)
    .bind(&path)
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO household (dwelling_id, district_id, node_path, kind, created_at, updated_at) \
         VALUES (1, $1, $2, 'family', 0, 0)",
    )
    .bind(community.id)
    .bind(&path)
    .execute(db.pool())
    .await
    .unwrap();
    for (name, cat, state) in [
        ("张一", "registered", "active"),
        ("张二", "resident", "moved_out"),
        ("张三", "floating", "deceased"),
    ] {
        sqlx::query(
            "INSERT INTO person (node_id, district_id, node_path, dwelling_id, household_id, \
             name, name_pinyin, name_initials, category, state, created_at, updated_at) \
             VALUES ($1, $1, $2, 1, 1, $3, 'x', 'x', $4, $5, 0, 0)",
        )
        .bind(community.id)
        .bind(&path)
        .bind(name)
        .bind(cat)
        .bind(state)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM person")
        .fetch_one(db.pool())
        .await
        .unwrap();
    for sql in [
        "UPDATE household SET head_person_id = $1",
        "INSERT INTO person_tag (person_id, tag_id) VALUES ($1, 1)",
        "INSERT INTO change_log (at, actor, entity, entity_id, field, old_value, new_value) \
         VALUES (0, 'admin', 'person', $1, 'name', '张', '张一')",
    ] {
        sqlx::query(sql)
            .bind(first)
            .execute(db.pool())
            .await
            .unwrap();
    }
    type Row = (i64, String, String, String, Option<i64>, Option<i64>);
    let read = || async {
        let persons: Vec<Row> = sqlx::query_as(
            "SELECT id, name, category, state, dwelling_id, household_id FROM person ORDER BY id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        let tags: Vec<(i64, i64)> = sqlx::query_as("SELECT person_id, tag_id FROM person_tag")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let log: Vec<(i64, String)> =
            sqlx::query_as("SELECT entity_id, new_value FROM change_log ORDER BY id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        (persons, tags, log)
    };
    let before = read().await;
    db.migrate(now_ms()).await.unwrap();
    assert_eq!(read().await, before);
    // The head of the household is still the same person, and the new values are accepted.
    let p = registry::get(db, &op(), first).await.unwrap();
    assert_eq!((p.name.as_str(), p.tags.len()), ("张一", 1));
    let patch = PersonPatch {
        category: Some("人户分离".into()),
        state: Some("away".into()),
        away_since: Some("2026-01-05".into()),
        away_to: Some("丽江".into()),
        ..Default::default()
    };
    registry::update(db, &op(), first, &patch, now_ms())
        .await
        .unwrap();
    let c = counts(db, &op(), community.id).await.unwrap();
    assert_eq!((c.persons, c.away), (1, 1));
    assert_eq!(c.by_residence["registered_away"], 1);
    assert_eq!(c.consistency_rate, Some(0.0));
    t.finish().await;
}

#[tokio::test]
async fn persons_made_before_the_residence_types_upgrade_unchanged_on_sqlite() {
    upgrade(linli_store::testing::TestDb::sqlite_until(29).await).await;
}

#[tokio::test]
#[cfg_attr(
    not(linli_pg),
    ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
)]
async fn persons_made_before_the_residence_types_upgrade_unchanged_on_postgres() {
    upgrade(linli_store::testing::TestDb::postgres_until(29).await).await;
}

both_backends!(
    every_node_at_once_equals_each_nodes_own_numbers_in_a_seeded_district,
    |db: Db| async move {
        use linli_store::registry::bench::{seed_counts_benchmark, CountsBenchSize};
        let size = CountsBenchSize {
            persons: 3_000,
            grids: 30,
            dwellings: 900,
        };
        let seed = seed_counts_benchmark(&db, &op(), size).await.unwrap();
        assert_eq!((seed.buildings, seed.households), (60, 810));
        let all = counts_all(&db, &op(), 1).await.unwrap();
        assert_eq!(all.len() as u64, seed.nodes);
        // The district, the streets, the communities and a sample of grids and buildings.
        for (n, c) in all.iter().filter(|(n, _)| n.depth < 3 || n.id % 7 == 0) {
            assert_eq!(
                c,
                &counts_direct(&db, &op(), n.id).await.unwrap(),
                "{}",
                n.name
            );
        }
        let district = &all[0].1;
        assert_eq!(district.dwellings, 900);
        assert!(
            district.persons > 2_800 && district.away > 0,
            "{district:?}"
        );
        assert!(district.by_residence.values().all(|n| *n > 0));
        let lines = counts_by_children(&db, &op(), 1).await.unwrap();
        assert_eq!(
            lines.len(),
            10,
            "ten streets, nothing on the district itself"
        );
        let sum: i64 = lines.iter().map(|l| l.counts.persons).sum();
        assert_eq!(sum, district.persons);
    }
);

/// Every node's numbers from the process's tallies against the same numbers counted from the
/// records now: equal, or the tallies missed a write.
async fn agree(db: &Db, step: &str) {
    let all = counts_all(db, &op(), 1).await.unwrap();
    assert!(!all.is_empty());
    for (n, c) in &all {
        let direct = counts_direct(db, &op(), n.id).await.unwrap();
        assert_eq!(c, &direct, "after {step}: {}", n.name);
        assert_eq!(
            c,
            &counts(db, &op(), n.id).await.unwrap(),
            "{step}: {}",
            n.name
        );
    }
}

both_backends!(
    the_counts_follow_every_kind_of_registry_write,
    |db: Db| async move {
        let t = street_tree(&db, None).await;
        let grid_b = node(&db, Some(t.community_b.id), "grid", "乙网格", None).await;
        let at = |id: i64, name: &'static str, address: Option<&'static str>| {
            let db = db.clone();
            async move {
                let input = PersonInput {
                    name,
                    category: Some("registered"),
                    birth_date: Some("1980-03-04"),
                    address,
                    relation: Some("head"),
                    ..Default::default()
                };
                register(&db, &op(), id, &input).await.unwrap().0
            }
        };
        let first = at(t.grid_a.id, "张一", Some("1栋1单元101室")).await;
        agree(&db, "a first registration (the tallies made)").await;
        let second = at(t.grid_a.id, "张二", Some("2栋1单元201室")).await;
        agree(&db, "a registration with a new building").await;

        let away = PersonPatch {
            state: Some("away".into()),
            away_since: Some("2020-01-10".into()),
            away_to: Some("昆明市".into()),
            ..Default::default()
        };
        registry::update(&db, &op(), first.id, &away, now_ms())
            .await
            .unwrap();
        agree(&db, "a person away for a while").await;
        let edit = PersonPatch {
            category: Some("floating".into()),
            birth_date: Some("1950-01-01".into()),
            tags: Some(vec!["独居老人".into()]),
            ..Default::default()
        };
        registry::update(&db, &op(), second.id, &edit, now_ms())
            .await
            .unwrap();
        agree(&db, "a new residence type, birth date and key group").await;

        let household = first.household_id.expect("registered with an address");
        linli_store::registry::dwellings::move_household(
            &db,
            &op(),
            household,
            grid_b.id,
            "5栋1单元501室",
            now_ms(),
        )
        .await
        .unwrap();
        agree(&db, "a household moved to another community").await;

        let input = PersonInput {
            name: "李四",
            relation: Some("head"),
            address: Some("8栋101"),
            ..Default::default()
        };
        let row = registry::ImportRow {
            row: 1,
            draft: linli_core::registry::PersonDraft::parse(
                &input,
                linli_core::kernel::clock::today(),
            )
            .unwrap()
            .0,
            warnings: Vec::new(),
            category_given: false,
        };
        registry::import_persons(
            &db,
            &op(),
            t.community_a.id,
            "test.csv",
            vec![row],
            registry::OnDuplicate::Fail,
            now_ms(),
        )
        .await
        .unwrap();
        agree(&db, "a roster import").await;

        let moved = PersonPatch {
            state: Some("moved_out".into()),
            moved_out_on: Some("2020-02-01".into()),
            moved_to: Some("昆明市".into()),
            ..Default::default()
        };
        registry::update(&db, &op(), second.id, &moved, now_ms())
            .await
            .unwrap();
        agree(&db, "a person moved out").await;

        linli_store::tree::move_subtree(&db, &op(), t.grid_a.id, t.community_b.id, now_ms())
            .await
            .unwrap();
        agree(&db, "a grid moved to another community").await;

        // A row written by hand, with no change mark: the new id is seen, everything counted.
        let path: String = {
            use sqlx::Row;
            sqlx::query("SELECT node_path FROM household WHERE id = $1")
                .bind(household)
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap()
        };
        sqlx::query(
            "INSERT INTO household (dwelling_id, district_id, node_path, kind, created_at, \
             updated_at) VALUES (NULL, 1, $1, 'family', 0, 0)",
        )
        .bind(&path)
        .execute(db.pool())
        .await
        .unwrap();
        agree(&db, "a household written without a change mark").await;

        // The node list follows the tree: a new estimate and name, a closed grid, a new node.
        let patch = linli_store::tree::NodePatch {
            name: Some("乙网格（新）"),
            household_estimate: Some(Some(120)),
            ..Default::default()
        };
        linli_store::tree::update(&db, &op(), grid_b.id, patch, now_ms())
            .await
            .unwrap();
        agree(&db, "a grid renamed and given an estimate").await;
        let all = counts_all(&db, &op(), 1).await.unwrap();
        let b = all.iter().find(|(n, _)| n.id == grid_b.id).unwrap();
        assert_eq!(
            (b.0.name.as_str(), b.1.estimate_households),
            ("乙网格（新）", Some(120))
        );
        linli_store::tree::close(&db, &op(), t.grid_a.id, None, now_ms())
            .await
            .unwrap();
        let all = counts_all(&db, &op(), 1).await.unwrap();
        assert!(
            all.iter().all(|(n, _)| n.id != t.grid_a.id),
            "a closed grid"
        );
        agree(&db, "a grid closed").await;
        let c = node(
            &db,
            Some(t.street.id),
            "community",
            "新社区",
            Some("533401100009"),
        )
        .await;
        let all = counts_all(&db, &op(), 1).await.unwrap();
        assert!(all.iter().any(|(n, _)| n.id == c.id), "a new community");

        // A new process (or a new day) counts everything from the records.
        forget(&db).await;
        agree(&db, "the tallies dropped").await;
    }
);

both_backends!(
    two_servers_on_one_database_count_what_the_other_wrote,
    |db: Db| async move {
        let t = street_tree(&db, None).await;
        let other = linli_store::testing::another_server(&db).await;
        let person = |name: &'static str| PersonInput {
            name,
            category: Some("registered"),
            birth_date: Some("1985-05-05"),
            relation: Some("head"),
            ..Default::default()
        };
        // Both servers have read the numbers (their tallies made).
        register(&db, &op(), t.grid_a.id, &person("张一"))
            .await
            .unwrap();
        let numbers = |all: Vec<(linli_store::tree::Node, Counts)>| {
            all.into_iter().map(|(n, c)| (n.id, c)).collect::<Vec<_>>()
        };
        let first = numbers(counts_all(&db, &op(), 1).await.unwrap());
        assert_eq!(first, numbers(counts_all(&other, &op(), 1).await.unwrap()));

        // What one writes, the other counts on its next read; and the reverse.
        register(&other, &op(), t.grid_a.id, &person("李二"))
            .await
            .unwrap();
        assert_eq!(counts(&db, &op(), t.grid_a.id).await.unwrap().persons, 2);
        let (p, _) = register(&db, &op(), t.community_b.id, &person("王三"))
            .await
            .unwrap();
        assert_eq!(
            counts(&other, &op(), t.community_b.id)
                .await
                .unwrap()
                .persons,
            1
        );
        let gone = PersonPatch {
            state: Some("deceased".into()),
            deceased_on: Some("2020-02-02".into()),
            ..Default::default()
        };
        registry::update(&other, &op(), p.id, &gone, now_ms())
            .await
            .unwrap();
        assert_eq!(
            counts(&db, &op(), t.community_b.id).await.unwrap().persons,
            0
        );

        // Both servers register at once in the same grid: every one is counted by both.
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..12 {
            let server = if i % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            let grid = t.grid_a.id;
            writes.spawn(async move {
                let name = format!("居民{}", ["甲", "乙", "丙", "丁", "戊", "己"][i % 6]);
                let input = PersonInput {
                    name: &name,
                    ..Default::default()
                };
                register(&server, &op(), grid, &input).await.unwrap();
            });
        }
        while let Some(done) = writes.join_next().await {
            done.unwrap();
        }
        for server in [&db, &other] {
            let all = counts_all(server, &op(), 1).await.unwrap();
            for (n, c) in &all {
                assert_eq!(
                    c,
                    &counts_direct(server, &op(), n.id).await.unwrap(),
                    "{}",
                    n.name
                );
            }
            assert_eq!(all[0].1.persons, 14);
        }
        other.close().await;
    }
);
