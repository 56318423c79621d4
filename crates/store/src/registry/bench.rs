//! The district `linli bench counts` measures (issue 19): 10 streets, 100 communities, the
//! grids spread over them, buildings under the grids, rooms (dwellings) in the buildings —
//! `dwelling.node_id` the building node, its building text the building's number — households in
//! most rooms and persons in the households, with a mix of residence types, states, ages and
//! key groups. Written with literal multi-row INSERTs, one transaction per table, ids given so
//! the paths are known before the insert. Deterministic: the same sizes give the same district.

use linli_core::kernel::labels::Labelled;
use linli_core::registry::{Category, PersonState};
use linli_core::Scope;

use crate::{Db, StoreError};

/// The sizes of the seeded district.
#[derive(Debug, Clone, Copy)]
pub struct CountsBenchSize {
    pub persons: u64,
    pub grids: u64,
    pub dwellings: u64,
}

/// What [`seed_counts_benchmark`] wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountsBenchSeed {
    pub nodes: u64,
    pub buildings: u64,
    pub dwellings: u64,
    pub households: u64,
    pub persons: u64,
    pub tagged: u64,
    /// A community id (the first one), for the one-community measure.
    pub community_id: i64,
    /// A building id (the first one).
    pub building_id: i64,
}

/// Rooms per building, so 300,000 rooms make 20,000 buildings, two per grid of a district of
/// 10,000 grids.
const ROOMS_PER_BUILDING: u64 = 15;

/// A deterministic spread of `i` over `0..n` (neighbours in `i` land far apart).
fn spread(i: u64, salt: u64, n: u64) -> u64 {
    (i.wrapping_add(salt).wrapping_mul(2_654_435_761) >> 7) % n.max(1)
}

async fn insert(db: &Db, head: &str, rows: &[String]) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    for chunk in rows.chunks(1_000) {
        let sql = format!("INSERT INTO {head} VALUES {}", chunk.join(", "));
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    // Rows written by hand, not through the registry: every count starts again.
    crate::infra::marks::touch_all(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Seeds an EMPTY database (the district gets id 1). Admins only.
pub async fn seed_counts_benchmark(
    db: &Db,
    scope: &Scope,
    size: CountsBenchSize,
) -> Result<CountsBenchSeed, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden("只有管理员可以生成测试数据".into()));
    }
    let mut seed = CountsBenchSeed::default();
    // The tree.
    let mut rows = vec![
        "(1, NULL, 'district', '香格里拉市', '533401', '/1/', 0, NULL, '2020-01-01', NULL, 0, 0)"
            .to_owned(),
    ];
    let mut next = 2i64;
    let mut communities: Vec<(i64, String)> = Vec::new();
    for s in 0..10 {
        let sid = next;
        next += 1;
        let scode = format!("533401{:03}", s + 1);
        rows.push(format!(
            "({sid}, 1, 'street', '街道{s:02}', '{scode}', '/1/{sid}/', 1, NULL, '2020-01-01', NULL, 0, 0)"
        ));
        for c in 0..10 {
            let cid = next;
            next += 1;
            let path = format!("/1/{sid}/{cid}/");
            rows.push(format!(
                "({cid}, {sid}, 'community', '社区{s:02}{c:02}', '{scode}{:03}', '{path}', 2, NULL, '2020-01-01', NULL, 0, 0)",
                c + 1
            ));
            communities.push((cid, path));
        }
    }
    let mut grids: Vec<(i64, String)> = Vec::new();
    for g in 0..size.grids.max(1) {
        let (cid, cpath) = &communities[(g % communities.len() as u64) as usize];
        let gid = next;
        next += 1;
        let path = format!("{cpath}{gid}/");
        rows.push(format!(
            "({gid}, {cid}, 'grid', '网格{g:05}', NULL, '{path}', 3, 100, '2020-01-01', NULL, 0, 0)"
        ));
        grids.push((gid, path));
    }
    // Buildings: numbered 1栋, 2栋 … within their grid.
    let n_buildings = size.dwellings.div_ceil(ROOMS_PER_BUILDING).max(1);
    let mut buildings: Vec<(i64, String, u64)> = Vec::new();
    for b in 0..n_buildings {
        let (gid, gpath) = &grids[(b % grids.len() as u64) as usize];
        let number = b / grids.len() as u64 + 1;
        let bid = next;
        next += 1;
        let path = format!("{gpath}{bid}/");
        rows.push(format!(
            "({bid}, {gid}, 'building', '{number}栋', NULL, '{path}', 4, NULL, '2020-01-01', NULL, 0, 0)"
        ));
        buildings.push((bid, path, number));
    }
    seed.nodes = rows.len() as u64;
    seed.buildings = n_buildings;
    seed.community_id = communities[0].0;
    seed.building_id = buildings[0].0;
    insert(
        db,
        "node (id, parent_id, kind, name, code, path, depth, household_estimate, opened_on, closed_on, created_at, updated_at)",
        &rows,
    )
    .await?;

    // Rooms: 3 units of 5 floors a building; every 10th room empty (no household).
    let mut dwellings = Vec::new();
    let mut households = Vec::new();
    // (household id, dwelling id, path) of each household.
    let mut homes: Vec<(i64, i64, usize)> = Vec::new();
    for d in 0..size.dwellings {
        let bi = (d / ROOMS_PER_BUILDING) as usize;
        let (bid, bpath, number) = &buildings[bi.min(buildings.len() - 1)];
        let k = d % ROOMS_PER_BUILDING;
        let (unit, room) = (k / 5 + 1, format!("{}01", k % 5 + 1));
        let id = d as i64 + 1;
        dwellings.push(format!(
            "({id}, {bid}, 1, '{bpath}', '{number}', '{unit}', '{room}', '{number}|{unit}|{room}', 0, 0)"
        ));
        if d % 10 != 9 {
            let hid = homes.len() as i64 + 1;
            households.push(format!("({hid}, {id}, 1, '{bpath}', 'family', NULL, 0, 0)"));
            homes.push((hid, id, bi.min(buildings.len() - 1)));
        }
    }
    insert(
        db,
        "dwelling (id, node_id, district_id, node_path, building, unit, room, address_key, created_at, updated_at)",
        &dwellings,
    )
    .await?;
    insert(
        db,
        "household (id, dwelling_id, district_id, node_path, kind, head_person_id, created_at, updated_at)",
        &households,
    )
    .await?;
    seed.dwellings = size.dwellings;
    seed.households = homes.len() as u64;
    drop((dwellings, households));

    // Persons, in batches so the literal SQL stays small; every 50th placed on a grid or
    // community directly (no room), the others in the households.
    let cats = [
        (Category::Registered, 60),
        (Category::RegisteredAway, 8),
        (Category::Resident, 10),
        (Category::Floating, 20),
        (Category::Foreign, 2),
    ];
    let states = [
        (PersonState::Active, 950),
        (PersonState::Away, 30),
        (PersonState::MovedOut, 15),
        (PersonState::Deceased, 5),
    ];
    fn pick<T: Copy>(table: &[(T, u64)], r: u64) -> T {
        let total: u64 = table.iter().map(|t| t.1).sum();
        let mut r = r % total;
        for (v, w) in table {
            if r < *w {
                return *v;
            }
            r -= w;
        }
        table[0].0
    }
    let mut tagged = 0u64;
    let batch = 50_000u64;
    let mut start = 0u64;
    while start < size.persons {
        let end = (start + batch).min(size.persons);
        let mut persons = Vec::with_capacity((end - start) as usize);
        let mut tags = Vec::new();
        for i in start..end {
            let id = i as i64 + 1;
            let (node_id, path, dwelling, household) = if i % 50 == 0 || homes.is_empty() {
                if i % 100 == 0 {
                    let (cid, cpath) =
                        &communities[spread(i, 1, communities.len() as u64) as usize];
                    (*cid, cpath.as_str(), "NULL".to_owned(), "NULL".to_owned())
                } else {
                    let (gid, gpath) = &grids[spread(i, 2, grids.len() as u64) as usize];
                    (*gid, gpath.as_str(), "NULL".to_owned(), "NULL".to_owned())
                }
            } else {
                let (hid, did, bi) = homes[spread(i, 3, homes.len() as u64) as usize];
                let (bid, bpath, _) = &buildings[bi];
                (*bid, bpath.as_str(), did.to_string(), hid.to_string())
            };
            let category = pick(&cats, spread(i, 4, 100)).as_str();
            let state = pick(&states, spread(i, 5, 1000));
            let (extra_cols, extra) = match state {
                PersonState::Away => ("'2026-01-01'", "'昆明'"),
                _ => ("NULL", "NULL"),
            };
            let (moved_on, moved_to, died) = match state {
                PersonState::MovedOut => ("'2025-06-01'", "'昆明'", "NULL"),
                PersonState::Deceased => ("NULL", "NULL", "'2025-06-01'"),
                _ => ("NULL", "NULL", "NULL"),
            };
            // Ages 0 to 99; one in 200 without a birth date.
            let birth = if spread(i, 6, 200) == 0 {
                "NULL".to_owned()
            } else {
                let y = 1926 + spread(i, 7, 100);
                let m = spread(i, 8, 12) + 1;
                let d = spread(i, 9, 28) + 1;
                format!("'{y}-{m:02}-{d:02}'")
            };
            persons.push(format!(
                "({id}, {node_id}, 1, '{path}', {dwelling}, {household}, '居民{i}', 'jumin', 'jm', {birth}, \
                 '{category}', '{}', {moved_on}, {moved_to}, {died}, {extra_cols}, {extra}, 0, 0)",
                state.as_str()
            ));
            // About one in ten tagged, one in fifty with two tags.
            if spread(i, 10, 10) == 0 {
                tags.push(format!("({id}, {})", spread(i, 11, 6) + 1));
                tagged += 1;
                if spread(i, 12, 5) == 0 {
                    tags.push(format!("({id}, {})", (spread(i, 11, 6) + 1) % 6 + 1));
                }
            }
        }
        insert(
            db,
            "person (id, node_id, district_id, node_path, dwelling_id, household_id, name, name_pinyin, \
             name_initials, birth_date, category, state, moved_out_on, moved_to, deceased_on, away_since, \
             away_to, created_at, updated_at)",
            &persons,
        )
        .await?;
        if !tags.is_empty() {
            insert(db, "person_tag (person_id, tag_id)", &tags).await?;
        }
        start = end;
    }
    seed.persons = size.persons;
    seed.tagged = tagged;
    // The rows carry their ids: PostgreSQL's sequences move on to the highest, so that a
    // registration after the seeding (the bench's live measure) gets a new one.
    if db.backend() == crate::infra::db::Backend::Postgres {
        for table in ["node", "dwelling", "household", "person"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(db.pool())
            .await?;
        }
    }
    // Planner statistics, as a database in use has them (both databases know `ANALYZE`).
    sqlx::query("ANALYZE").execute(db.pool()).await?;
    Ok(seed)
}

/// The baseline of `linli bench counts`: a plain `GROUP BY node_path, category` over every
/// person, no conditions (rows returned).
pub async fn plain_group_by(db: &Db) -> Result<usize, StoreError> {
    let rows = sqlx::query("SELECT node_path, category, COUNT(*) FROM person GROUP BY 1, 2")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.len())
}
