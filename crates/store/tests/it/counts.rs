//! The registry's numbers of a node (issue 19 item 3), counted from a hand-built tree with every
//! residence type, age band and a key group, on SQLite and on PostgreSQL: the node's numbers,
//! each child's, and the records placed on the node itself, which add up to the node's.

use linli_core::kernel::clock::now_ms;
use linli_core::registry::PersonInput;
use linli_core::{Role, Scope};
use linli_store::registry::counts::{counts, counts_by_children, Counts};
use linli_store::registry::{self, PersonPatch};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{op, register, tree};

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
            map(&[("floating", 2), ("registered", 2), ("resident", 1)])
        );
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
