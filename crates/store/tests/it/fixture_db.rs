//! Upgrading a database made by an earlier release (issue 19): `fixtures/release-2026-12-08/`
//! holds a SQLite database made by `linli` of release 2026-12-08 and a dump of the same data
//! made by that release on PostgreSQL (see `fixtures/README.md`). A copy of each is opened with
//! today's code — its migrations and once-only steps run — and its records and counts are what
//! they were when it was made.

use linli_core::kernel::clock::now_ms;
use linli_core::registry::Category;
use linli_core::{NodeKind, Scope};
use linli_store::epidemic::timeline::{records_of_person, RecordKind};
use linli_store::infra::secret::{Keyring, KEY_FILE};
use linli_store::registry::{self, counts};
use linli_store::testing::TestDb;
use linli_store::{requests, tree, Db};

/// The fixture's directory.
fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-2026-12-08")
}

/// Upgrades the release's database with today's code, checks the key it was made with still
/// opens it, then its records and counts.
async fn upgrades_with_its_records_and_counts(t: TestDb) {
    t.db.migrate(now_ms()).await.unwrap();
    t.db.check_key().await.unwrap();
    records_and_counts(&t.db).await;
    t.finish().await;
}

mod a_database_of_release_2026_12_08_upgrades_with_its_records_and_counts {
    use super::*;

    /// A copy of `linli.db` with `linli.key`.
    #[tokio::test]
    async fn sqlite() {
        upgrades_with_its_records_and_counts(TestDb::sqlite_copy_of(&fixture()).await).await;
    }

    /// `linli.pg.sql` replayed into a fresh schema, with `linli.key`.
    #[tokio::test]
    #[cfg_attr(
        not(linli_pg),
        ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
    )]
    async fn postgres() {
        let dump = std::fs::read_to_string(fixture().join("linli.pg.sql")).unwrap();
        let key = std::fs::read_to_string(fixture().join(KEY_FILE)).unwrap();
        let keys = Keyring::from_hex(&key).unwrap();
        upgrades_with_its_records_and_counts(TestDb::postgres_from_dump(&dump, keys).await).await;
    }
}

/// The records and counts as the release left them.
async fn records_and_counts(db: &Db) {
    let op = Scope::operator();
    let nodes: Vec<(i64, NodeKind, String)> = tree::subtree(db, &op, Some(1))
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.kind, n.name))
        .collect();
    assert_eq!(
        nodes,
        [
            (1, NodeKind::District, "香格里拉市".to_owned()),
            (2, NodeKind::Street, "建塘镇".to_owned()),
            (3, NodeKind::Community, "里布嘎社区".to_owned()),
            (4, NodeKind::Grid, "甲网格".to_owned()),
            (5, NodeKind::Building, "3栋".to_owned()),
            (6, NodeKind::Building, "7栋".to_owned()),
        ]
    );

    // Persons: every residence type, their rooms and households, tags, and the ID number the
    // fixture's key decrypts.
    let mut people = Vec::new();
    for id in 1..=6 {
        let p = registry::get(db, &op, id).await.unwrap();
        people.push((p.name, p.category, p.address, p.household_id, p.node_id));
    }
    assert_eq!(
        people,
        [
            (
                "张户籍".into(),
                Category::Registered,
                Some("3栋101室".into()),
                Some(1),
                5
            ),
            (
                "李配偶".into(),
                Category::Registered,
                Some("3栋101室".into()),
                Some(1),
                5
            ),
            ("王分离".into(), Category::RegisteredAway, None, None, 4),
            (
                "赵寄住".into(),
                Category::Resident,
                Some("3栋102室".into()),
                Some(2),
                5
            ),
            (
                "钱流动".into(),
                Category::Floating,
                Some("7栋201室".into()),
                Some(3),
                6
            ),
            (
                "Anna Li".into(),
                Category::Foreign,
                Some("3栋102室".into()),
                Some(2),
                5
            ),
        ]
    );
    let head = registry::get(db, &op, 1).await.unwrap();
    let mut tags = head.tags.clone();
    tags.sort();
    assert_eq!(tags, ["党员", "独居老人"]);
    let clear = registry::unmask(db, &op, 1, None, now_ms()).await.unwrap();
    assert_eq!(clear.id_number.as_deref(), Some("533401195001010014"));

    // The arrival and the request.
    let records = records_of_person(db, &op, 1).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (records[0].kind, records[0].on.as_str()),
        (RecordKind::Arrival, "2026-12-01")
    );
    assert!(
        records[0].what.starts_with("从北京市东城区抵达"),
        "{records:?}"
    );
    let r = requests::get(db, &op, 1).await.unwrap();
    assert_eq!(
        (
            r.description.as_str(),
            r.node_name.as_str(),
            r.reporter_name.as_deref()
        ),
        ("3栋楼道灯坏了", "甲网格", Some("张户籍"))
    );

    // The counts, as the release counted them.
    let c = counts::counts(db, &op, 3).await.unwrap();
    assert_eq!(
        (c.persons, c.households, c.dwellings, c.occupied),
        (6, 3, 3, 3)
    );
    let by: Vec<(&str, i64)> = c
        .by_residence
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by,
        [
            ("floating", 1),
            ("foreign", 1),
            ("registered", 2),
            ("registered_away", 1),
            ("resident", 1)
        ]
    );
    assert_eq!(c.consistency_rate, Some(2.0 / 3.0));
    assert_eq!(c.estimate_households, Some(40));
    assert_eq!(c.by_tag.get("独居老人"), Some(&1));
    let rooms = registry::dwellings::rooms(db, &op, 5).await.unwrap();
    let rooms: Vec<(String, i64, i64)> = rooms
        .into_iter()
        .map(|r| (r.address.to_string(), r.living, r.registered))
        .collect();
    assert_eq!(
        rooms,
        [("3栋101室".to_owned(), 2, 2), ("3栋102室".to_owned(), 2, 0)]
    );
}
