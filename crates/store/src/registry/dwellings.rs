//! Rooms in buildings (issue 19 items 2 and 4): where a registered room lands in the tree (the
//! rule is core's `registry::buildings::land`), and the pages' reads of a building's rooms.

use std::collections::HashMap;

use linli_core::kernel::labels::Labelled;
use linli_core::registry::buildings::{land, HomeNode, Landed, Landing};
use linli_core::registry::{
    lives_in_room, registered_in_room, Category, DwellingAddress, HouseholdKind, PersonState,
    Relation, RoomFigures,
};
use linli_core::{NodeKind, Scope};
use serde::Serialize;
use sqlx::Row;

use crate::infra::db::Params;
use crate::infra::errors::internal;
use crate::registry::{hit_of, HIT_COLUMNS};
use crate::tree::{self, Node};
use crate::{Db, StoreError};

/// The nodes the rule looks at for rooms registered at one node: the building above it (for a
/// unit) and the open buildings and units below it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Homes {
    pub above: Option<HomeNode>,
    pub below: Vec<HomeNode>,
    /// Path and depth of each node below.
    pub places: std::collections::HashMap<i64, (String, i64)>,
}

/// A row of [`homes_sql`]: id, parent_id, kind, name, path, depth.
pub(crate) type HomeRow = (i64, Option<i64>, String, String, String, i64);

/// The query of [`Homes`] for `node` (rows: [`HomeRow`]).
pub(crate) fn homes_sql(node: &Node, p: &mut Params) -> String {
    let (lo, hi) = node.path.subtree_bounds();
    format!(
        "SELECT id, parent_id, kind, name, path, depth FROM node WHERE (path > {} AND path < {} \
         AND kind IN ('building', 'unit') AND closed_on IS NULL) OR id = {}",
        p.text(lo),
        p.text(hi),
        p.int(node.parent_id.unwrap_or(0))
    )
}

/// [`Homes`] from the rows of [`homes_sql`].
pub(crate) fn homes_from(node: &Node, rows: Vec<HomeRow>) -> Result<Homes, StoreError> {
    let mut homes = Homes::default();
    for (id, parent_id, kind, name, path, depth) in rows {
        let kind: NodeKind = kind
            .parse()
            .map_err(|e: linli_core::CoreError| StoreError::Internal(e.to_string()))?;
        let n = HomeNode {
            id,
            parent_id,
            kind,
            name,
        };
        if Some(id) == node.parent_id {
            if node.kind == NodeKind::Unit && kind == NodeKind::Building {
                homes.above = Some(n);
            }
        } else {
            homes.places.insert(id, (path, depth));
            homes.below.push(n);
        }
    }
    Ok(homes)
}

/// Where the room at `address`, registered at `node`, lands, within a registration's
/// transaction: the node (made now when the address names a building or unit that is not in
/// the tree yet) and the address as stored.
pub(crate) async fn land_in(
    conn: &mut sqlx::AnyConnection,
    scope: &Scope,
    node: &Node,
    address: &DwellingAddress,
    now: i64,
) -> Result<(Node, DwellingAddress), StoreError> {
    let mut p = Params::new();
    let sql = homes_sql(node, &mut p);
    let rows: Vec<HomeRow> = p
        .bind(sqlx::query(&sql))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let home = home_of(node);
    let homes = homes_from(node, rows)?;
    let Landed { landing, address } = land(&home, homes.above.as_ref(), &homes.below, address)?;
    let target = match landing {
        Landing::At(id) if id == node.id => node.clone(),
        Landing::At(id) => tree::load_unchecked(&mut *conn, id).await?,
        Landing::NewBuilding { under, name } => {
            let parent = if under == node.id {
                node.clone()
            } else {
                tree::load_unchecked(&mut *conn, under).await?
            };
            tree::add_home(conn, scope, &parent, NodeKind::Building, &name, now).await?
        }
        Landing::NewUnit { building, name } => {
            let parent = if building == node.id {
                node.clone()
            } else {
                tree::load_unchecked(&mut *conn, building).await?
            };
            tree::add_home(conn, scope, &parent, NodeKind::Unit, &name, now).await?
        }
        Landing::Ambiguous { count, .. } => {
            return Err(Landing::ambiguity(&node.name, &address.building, count).into())
        }
    };
    Ok((target, address))
}

/// A node as the rule sees it.
pub(crate) fn home_of(node: &Node) -> HomeNode {
    HomeNode {
        id: node.id,
        parent_id: node.parent_id,
        kind: node.kind,
        name: node.name.clone(),
    }
}

/// A building or unit node of [`Homes`] as the registry's writes need it (id and path); the
/// dates no write reads are left empty.
pub(crate) fn placed_node(h: &HomeNode, path: &str, depth: i64) -> Result<Node, StoreError> {
    Ok(Node {
        id: h.id,
        parent_id: h.parent_id,
        kind: h.kind,
        name: h.name.clone(),
        code: None,
        path: linli_core::JurisdictionPath::parse(path)
            .map_err(|e| StoreError::Internal(e.to_string()))?,
        depth,
        household_estimate: None,
        opened_on: String::new(),
        closed_on: None,
        created_at: 0,
        updated_at: 0,
    })
}

/// What a caller needs of a household whose home is read: to see it, or to add to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HomeCheck {
    /// In the caller's jurisdiction; else `NotFound`.
    Read,
    /// In the caller's jurisdiction and registry writes; else a field error on `household_id`.
    Write,
}

/// Where a household lives, as [`home_of_household`] reads it.
#[derive(Debug, Clone)]
pub(crate) struct HomeOf {
    /// The node its room is on (its own node when it has no room).
    pub node: Node,
    pub dwelling_id: Option<i64>,
    pub address: Option<String>,
    /// Its head, by name.
    pub head: Option<String>,
}

/// The one reader of a household's room and node, on the caller's connection (a registration's
/// transaction, or the pool's for a form), with the check `check`.
pub(crate) async fn home_of_household(
    conn: &mut sqlx::AnyConnection,
    scope: &Scope,
    household: i64,
    check: HomeCheck,
) -> Result<HomeOf, StoreError> {
    let refused = || match check {
        HomeCheck::Read => StoreError::NotFound,
        HomeCheck::Write => StoreError::invalid("household_id", "您的辖区内没有这一户"),
    };
    let row = sqlx::query(
        "SELECT h.node_path, d.id AS dwelling_id, d.node_id, d.building, d.unit, d.room, \
         hp.name AS head FROM household h LEFT JOIN dwelling d ON d.id = h.dwelling_id \
         LEFT JOIN person hp ON hp.id = h.head_person_id WHERE h.id = $1",
    )
    .bind(household)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(refused)?;
    let path = linli_core::JurisdictionPath::parse(&row.try_get::<String, _>("node_path")?)
        .map_err(internal)?;
    let node_id: Option<i64> = row.try_get("node_id")?;
    let node = tree::load_unchecked(&mut *conn, node_id.unwrap_or(path.id())).await?;
    // Both the household's node and its room's must pass: the check fails closed.
    let allowed = |p: &linli_core::JurisdictionPath| match check {
        HomeCheck::Read => scope.can_read(p),
        HomeCheck::Write => scope.can_write_records(p),
    };
    if !allowed(&path) || !allowed(&node.path) {
        return Err(refused());
    }
    Ok(HomeOf {
        node,
        dwelling_id: row.try_get("dwelling_id")?,
        address: crate::registry::address_of(&row)?,
        head: row.try_get("head")?,
    })
}

/// A room (dwelling) as a building's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Room {
    pub id: i64,
    /// The building or unit node it is on.
    pub node_id: i64,
    pub node_name: String,
    pub address: DwellingAddress,
    pub households: i64,
    /// Their ids, oldest first.
    pub household_ids: Vec<i64>,
    /// Active persons who live here (人户分离 persons registered here but living elsewhere
    /// are not).
    pub living: i64,
    /// Active persons whose hukou is here (户籍), living here or not.
    pub registered: i64,
    /// The head of its first household, by name.
    pub head: Option<String>,
    /// The key groups (tags) of the active persons living here, each once.
    pub tags: Vec<String>,
}

impl Room {
    /// Nobody lives here: the door-to-door sweep (入户排查) still knocks.
    pub fn is_empty(&self) -> bool {
        self.living == 0
    }
}

/// At most this many rooms are listed at once: a building's, a unit's, a compound's.
pub const ROOMS_AT_ONCE: usize = 3_000;

/// The rooms in `node_id`'s subtree (a building, a unit, or any node up to [`ROOMS_AT_ONCE`]
/// rooms), in the caller's jurisdiction, in address order (units, then floors and rooms as
/// numbers): who lives there, how many households. Empty rooms are listed too.
pub async fn rooms(db: &Db, scope: &Scope, node_id: i64) -> Result<Vec<Room>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    // Three range reads over the node's subtree, merged here: each table's node_path index
    // serves them, where a join by dwelling would need an index persons do not have.
    let mut p = Params::new();
    let w = crate::under_node(&node.path, scope, "d.node_path", &mut p);
    let sql = format!(
        "SELECT d.id, d.node_id, n.name, d.building, d.unit, d.room FROM dwelling d \
         JOIN node n ON n.id = d.node_id WHERE {w} LIMIT {}",
        ROOMS_AT_ONCE + 1
    );
    let mut rooms = Vec::new();
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        rooms.push(Room {
            id: r.try_get(0)?,
            node_id: r.try_get(1)?,
            node_name: r.try_get(2)?,
            address: DwellingAddress {
                building: r.try_get(3)?,
                unit: r.try_get(4)?,
                room: r.try_get(5)?,
            },
            households: 0,
            household_ids: Vec::new(),
            living: 0,
            registered: 0,
            head: None,
            tags: Vec::new(),
        });
    }
    if rooms.len() > ROOMS_AT_ONCE {
        return Err(StoreError::invalid(
            "node_id",
            format!(
                "「{}」下的房屋超过 {ROOMS_AT_ONCE} 套，请按楼栋或单元查看",
                node.name
            ),
        ));
    }
    let mut at: HashMap<i64, usize> = HashMap::new();
    for (k, r) in rooms.iter().enumerate() {
        at.insert(r.id, k);
    }
    let mut p = Params::new();
    let w = crate::under_node(&node.path, scope, "p.node_path", &mut p);
    let sql = format!(
        "SELECT p.dwelling_id, SUM(CASE WHEN {living} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {registered} THEN 1 ELSE 0 END) \
         FROM person p WHERE {w} AND p.dwelling_id IS NOT NULL AND ({living} OR {registered}) \
         GROUP BY p.dwelling_id",
        living = person_rule_sql(lives_in_room),
        registered = person_rule_sql(registered_in_room),
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        if let Some(k) = at.get(&r.try_get::<i64, _>(0)?) {
            rooms[*k].living = r.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
            rooms[*k].registered = r.try_get::<Option<i64>, _>(2)?.unwrap_or(0);
        }
    }
    let mut p = Params::new();
    let w = crate::under_node(&node.path, scope, "h.node_path", &mut p);
    let sql = format!(
        "SELECT h.dwelling_id, h.id, hp.name FROM household h \
         LEFT JOIN person hp ON hp.id = h.head_person_id \
         WHERE {w} AND h.dwelling_id IS NOT NULL ORDER BY h.id"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        if let Some(k) = at.get(&r.try_get::<i64, _>(0)?) {
            let room = &mut rooms[*k];
            room.households += 1;
            room.household_ids.push(r.try_get(1)?);
            if room.head.is_none() {
                room.head = r.try_get(2)?;
            }
        }
    }
    let mut p = Params::new();
    let w = crate::under_node(&node.path, scope, "p.node_path", &mut p);
    let sql = format!(
        "SELECT DISTINCT p.dwelling_id, g.name FROM person p \
         JOIN person_tag pt ON pt.person_id = p.id JOIN tag g ON g.id = pt.tag_id \
         WHERE {w} AND {living} AND p.dwelling_id IS NOT NULL ORDER BY g.name",
        living = person_rule_sql(lives_in_room),
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        if let Some(k) = at.get(&r.try_get::<i64, _>(0)?) {
            rooms[*k].tags.push(r.try_get(1)?);
        }
    }
    rooms.sort_by_key(|r| address_order(&r.address));
    Ok(rooms)
}

/// The SQL condition on `p.state` and `p.category` that holds exactly when core's `rule` does:
/// derived from the rule by trying every (state, category), so it is never restated. The codes
/// are the enums' own, never input.
fn person_rule_sql(rule: fn(PersonState, Category) -> bool) -> String {
    let arms: Vec<String> = PersonState::ALL
        .iter()
        .filter_map(|&state| {
            let categories: Vec<String> = Category::ALL
                .iter()
                .filter(|&&c| rule(state, c))
                .map(|c| format!("'{}'", c.as_str()))
                .collect();
            (!categories.is_empty()).then(|| {
                format!(
                    "(p.state = '{}' AND p.category IN ({}))",
                    state.as_str(),
                    categories.join(", ")
                )
            })
        })
        .collect();
    if arms.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!("({})", arms.join(" OR "))
    }
}

/// Addresses in the order a worker walks them: building, unit, then room, numbers as numbers
/// (501 before 1001).
fn address_order(a: &DwellingAddress) -> [(u64, String); 3] {
    let part = |s: &str| {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        (digits.parse().unwrap_or(u64::MAX), s.to_owned())
    };
    [part(&a.building), part(&a.unit), part(&a.room)]
}

/// A member of a household as a room's page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub person: crate::registry::PersonHit,
    pub relation: Option<Relation>,
    pub category: Category,
}

/// A household in a room.
#[derive(Debug, Clone, Serialize)]
pub struct RoomHousehold {
    /// `None`: persons placed in the room without a household.
    pub id: Option<i64>,
    pub kind: Option<HouseholdKind>,
    pub members: Vec<Member>,
}

/// One room: where it is, its households and their members (masked), moved-out and deceased
/// members included (with their state), the active first.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub room: Room,
    pub node: Node,
    pub households: Vec<RoomHousehold>,
}

/// The room `dwelling_id`, in the caller's jurisdiction (else `NotFound`). Its figures are
/// counted from the members it reads, by core's rule ([`RoomFigures`]), as [`rooms`] counts them
/// in SQL.
pub async fn room(db: &Db, scope: &Scope, dwelling_id: i64) -> Result<RoomView, StoreError> {
    let keys = db.keys()?;
    let path = crate::registry::readable_path(db.pool(), scope, "dwelling", dwelling_id).await?;
    let row = sqlx::query("SELECT node_id, building, unit, room FROM dwelling WHERE id = $1")
        .bind(dwelling_id)
        .fetch_one(db.pool())
        .await?;
    let node = tree::get(db, scope, row.try_get(0)?).await?;
    let address = DwellingAddress {
        building: row.try_get(1)?,
        unit: row.try_get(2)?,
        room: row.try_get(3)?,
    };
    let mut households: Vec<RoomHousehold> = Vec::new();
    let mut head = None;
    let hs = sqlx::query(
        "SELECT h.id, h.kind, hp.name FROM household h \
         LEFT JOIN person hp ON hp.id = h.head_person_id WHERE h.dwelling_id = $1 ORDER BY h.id",
    )
    .bind(dwelling_id)
    .fetch_all(db.pool())
    .await?;
    for h in hs {
        let kind: String = h.try_get(1)?;
        if head.is_none() {
            head = h.try_get(2)?;
        }
        households.push(RoomHousehold {
            id: Some(h.try_get(0)?),
            kind: Some(kind.parse().map_err(internal)?),
            members: Vec::new(),
        });
    }
    let household_ids: Vec<i64> = households.iter().filter_map(|h| h.id).collect();
    // The persons on the room's node with this room: the node_path index finds them.
    let sql = format!(
        "SELECT {HIT_COLUMNS}, p.household_id, p.relation, p.category FROM person p \
         JOIN node n ON n.id = p.node_id LEFT JOIN dwelling d ON d.id = p.dwelling_id \
         WHERE p.node_path = $1 AND p.dwelling_id = $2 \
         ORDER BY CASE WHEN p.state = 'active' THEN 0 ELSE 1 END, \
         CASE WHEN p.relation = 'head' THEN 0 ELSE 1 END, p.id"
    );
    let mut living_ids = std::collections::HashSet::new();
    for r in sqlx::query(&sql)
        .bind(path.as_str())
        .bind(dwelling_id)
        .fetch_all(db.pool())
        .await?
    {
        let household: Option<i64> = r.try_get("household_id")?;
        let relation: Option<String> = r.try_get("relation")?;
        let category: String = r.try_get("category")?;
        let member = Member {
            person: hit_of(keys, &r)?,
            relation: relation.map(|s| s.parse()).transpose().map_err(internal)?,
            category: category.parse().map_err(internal)?,
        };
        if lives_in_room(member.person.state, member.category) {
            living_ids.insert(member.person.id);
        }
        match households.iter_mut().find(|h| h.id == household) {
            Some(h) => h.members.push(member),
            None => households.push(RoomHousehold {
                id: household,
                kind: None,
                members: vec![member],
            }),
        }
    }
    let figures = RoomFigures::of(
        households
            .iter()
            .flat_map(|h| &h.members)
            .map(|m| (m.person.state, m.category)),
    );
    let mut tags: Vec<String> = Vec::new();
    let tag_rows = sqlx::query(
        "SELECT pt.person_id, g.name FROM person p JOIN person_tag pt ON pt.person_id = p.id \
         JOIN tag g ON g.id = pt.tag_id WHERE p.node_path = $1 AND p.dwelling_id = $2 \
         ORDER BY g.name",
    )
    .bind(path.as_str())
    .bind(dwelling_id)
    .fetch_all(db.pool())
    .await?;
    for t in tag_rows {
        let name: String = t.try_get(1)?;
        if living_ids.contains(&t.try_get::<i64, _>(0)?) && !tags.contains(&name) {
            tags.push(name);
        }
    }
    let room = Room {
        id: dwelling_id,
        node_id: node.id,
        node_name: node.name.clone(),
        address,
        households: household_ids.len() as i64,
        household_ids,
        living: figures.living,
        registered: figures.registered,
        head,
        tags,
    };
    Ok(RoomView {
        room,
        node,
        households,
    })
}

/// Adds the rooms of `plan` (core's `room_plan`) to building or unit `node_id`; rooms already
/// there are left as they are. Returns how many were added. Audited.
pub async fn add_rooms(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    plan: &[DwellingAddress],
    now: i64,
) -> Result<usize, StoreError> {
    let node = crate::registry::writable_node(db, scope, node_id).await?;
    if !matches!(node.kind, NodeKind::Building | NodeKind::Unit) {
        return Err(StoreError::invalid(
            "node_id",
            "只能在楼栋或单元下批量添加房间",
        ));
    }
    let mut tx = db.begin_write().await?;
    let mut added = 0;
    // Every room of one (building, unit) lands on the same node with the same derived address
    // parts: land once per pair and reuse them.
    let mut landed: HashMap<(&str, &str), (Node, DwellingAddress)> = HashMap::new();
    for a in plan {
        let key = (a.building.as_str(), a.unit.as_str());
        if let std::collections::hash_map::Entry::Vacant(v) = landed.entry(key) {
            v.insert(land_in(&mut tx, scope, &node, a, now).await?);
        }
        let (home, derived) = &landed[&key];
        let a = DwellingAddress {
            room: a.room.clone(),
            ..derived.clone()
        };
        if crate::registry::dwelling_at(&mut tx, scope, home, &a, now)
            .await?
            .1
        {
            added += 1;
        }
    }
    crate::infra::audit::commit_recorded(
        tx,
        crate::infra::audit::AuditEntry::by(scope, "dwelling.add_rooms", "node")
            .entity_id(node.id)
            .node_path(&node.path)
            .detail(serde_json::json!({"planned": plan.len(), "added": added})),
        now,
    )
    .await?;
    Ok(added)
}

/// Moves household `household_id` and its members who live with it to the room at `address`
/// under node `node_id` (landing as a registration does: in its building, made if new). The
/// history of the household and of each member records the old and new address. Audited.
pub async fn move_household(
    db: &Db,
    scope: &Scope,
    household_id: i64,
    node_id: i64,
    address: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let address = DwellingAddress::parse(address)?;
    let old_path =
        match crate::registry::readable_path(db.pool(), scope, "household", household_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => {
                return Err(StoreError::invalid("household_id", "您的辖区内没有这一户"))
            }
            Err(e) => return Err(e),
        };
    if !scope.can_write_records(&old_path) {
        return Err(StoreError::Forbidden("您的角色不能修改人口台账".into()));
    }
    let node = crate::registry::writable_node(db, scope, node_id).await?;
    let mut tx = db.begin_write().await?;
    let old = sqlx::query(
        "SELECT h.dwelling_id, d.building, d.unit, d.room FROM household h \
         LEFT JOIN dwelling d ON d.id = h.dwelling_id WHERE h.id = $1",
    )
    .bind(household_id)
    .fetch_one(&mut *tx)
    .await?;
    let old_dwelling: Option<i64> = old.try_get(0)?;
    let old_address = crate::registry::address_of(&old)?;
    let (home, a) = land_in(&mut tx, scope, &node, &address, now).await?;
    let (dwelling, _) = crate::registry::dwelling_at(&mut tx, scope, &home, &a, now).await?;
    if Some(dwelling) == old_dwelling {
        return Err(StoreError::invalid("address", "这一户已经住在这里"));
    }
    let new_address = a.to_string();
    sqlx::query(
        "UPDATE household SET dwelling_id = $1, node_path = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(dwelling)
    .bind(home.path.as_str())
    .bind(now)
    .bind(household_id)
    .execute(&mut *tx)
    .await?;
    crate::registry::log_change(
        &mut tx,
        scope,
        ("household", household_id, &home.path),
        "address",
        old_address.as_deref(),
        Some(&new_address),
        now,
    )
    .await?;
    // Members who lived in the household's room move with it; one living elsewhere stays.
    let members = sqlx::query(
        "SELECT id FROM person WHERE household_id = $1 AND node_path = $2 \
         AND (dwelling_id = $3 OR dwelling_id IS NULL)",
    )
    .bind(household_id)
    .bind(old_path.as_str())
    .bind(old_dwelling.unwrap_or(0))
    .fetch_all(&mut *tx)
    .await?;
    for m in &members {
        let id: i64 = m.try_get(0)?;
        sqlx::query(
            "UPDATE person SET dwelling_id = $1, node_id = $2, node_path = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(dwelling)
        .bind(home.id)
        .bind(home.path.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::registry::log_change(
            &mut tx,
            scope,
            ("person", id, &home.path),
            "address",
            old_address.as_deref(),
            Some(&new_address),
            now,
        )
        .await?;
    }
    crate::infra::marks::touch(&mut tx, &[old_path.as_str(), home.path.as_str()]).await?;
    crate::infra::audit::commit_recorded(
        tx,
        crate::infra::audit::AuditEntry::by(scope, "household.move", "household")
            .entity_id(household_id)
            .node_path(&home.path)
            .detail(serde_json::json!({
                "from": old_address, "to": new_address, "members": members.len()
            })),
        now,
    )
    .await?;
    Ok(dwelling)
}

/// Where a household lives, for the form that adds a member to it.
#[derive(Debug, Clone, Serialize)]
pub struct HouseholdHome {
    pub household_id: i64,
    /// The node its room is on (its own node when it has no room).
    pub node_id: i64,
    pub node_name: String,
    pub address: Option<String>,
    /// Its head, by name.
    pub head: Option<String>,
}

/// Where household `household_id` (in the caller's jurisdiction, else `NotFound`) lives.
pub async fn household_home(
    db: &Db,
    scope: &Scope,
    household_id: i64,
) -> Result<HouseholdHome, StoreError> {
    let mut conn = db.pool().acquire().await?;
    let home = home_of_household(&mut conn, scope, household_id, HomeCheck::Read).await?;
    Ok(HouseholdHome {
        household_id,
        node_id: home.node.id,
        node_name: home.node.name,
        address: home.address,
        head: home.head,
    })
}

/// What [`attach_existing`] did to a database registered before rooms belonged to buildings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Attached {
    /// Rooms moved into their building (or unit) node.
    pub attached: i64,
    /// Rooms whose address names a building but that stay where they are: the building number
    /// is carried by several buildings below their node, their node holds no buildings (a
    /// street) or is closed, or the building holds a room of the same address already.
    pub unattached: i64,
    /// Building and unit nodes made for them.
    pub homes_created: i64,
}

/// The `setting` row that records [`attach_existing`]'s run (its [`Attached`], as JSON).
pub const ATTACHED_SETTING: &str = "dwellings_attached";

/// Once per database (issue 19 item 2): rooms registered on a community, compound or grid
/// whose address names a building (3栋2单元501室) move into that building's node — made when
/// missing, as a registration would — with their households and residents, so building pages
/// and counts see them. Rooms already in buildings, and house numbers without a building, stay.
/// Runs after the schema migrations ([`Db::migrate`]); a second run does nothing.
pub async fn attach_existing(db: &Db, now: i64) -> Result<Attached, StoreError> {
    if let Some(done) = db.setting(ATTACHED_SETTING).await? {
        return serde_json::from_str(&done).map_err(internal);
    }
    let mut tx = db.begin_write().await?;
    let groups = sqlx::query(
        "SELECT d.node_id, d.building, d.unit, COUNT(*) FROM dwelling d JOIN node n ON n.id = d.node_id \
         WHERE d.building <> '' AND n.kind NOT IN ('building', 'unit') \
         GROUP BY d.node_id, d.building, d.unit ORDER BY d.node_id, d.building, d.unit",
    )
    .fetch_all(&mut *tx)
    .await?;
    let system = Scope::operator();
    let mut report = Attached::default();
    let nodes_before: i64 = sqlx::query("SELECT COUNT(*) FROM node")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    for g in groups {
        let (node_id, building, unit, count): (i64, String, String, i64) =
            (g.try_get(0)?, g.try_get(1)?, g.try_get(2)?, g.try_get(3)?);
        let home = tree::load_unchecked(&mut *tx, node_id).await?;
        let address = DwellingAddress {
            building: building.clone(),
            unit: unit.clone(),
            room: "0".to_owned(),
        };
        let landed = if home.is_open() {
            land_in(&mut tx, &system, &home, &address, now).await.ok()
        } else {
            None
        };
        let target = match landed {
            Some((target, _)) if target.id != home.id => target,
            _ => {
                report.unattached += count;
                continue;
            }
        };
        // Rooms whose address the building holds already stay (counted as not attached).
        let moved = sqlx::query(
            "UPDATE dwelling SET node_id = $1, node_path = $2, updated_at = $3 \
             WHERE node_id = $4 AND building = $5 AND unit = $6 \
             AND address_key NOT IN (SELECT address_key FROM dwelling WHERE node_id = $1)",
        )
        .bind(target.id)
        .bind(target.path.as_str())
        .bind(now)
        .bind(home.id)
        .bind(&building)
        .bind(&unit)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        report.attached += moved;
        report.unattached += count - moved;
        // Their households and residents follow (found by the old node's path: its index).
        for table in ["household", "person"] {
            let node_col = if table == "person" {
                ", node_id = $3"
            } else {
                ""
            };
            let sql = format!(
                "UPDATE {table} SET node_path = $1{node_col} WHERE node_path = $2 \
                 AND dwelling_id IN (SELECT id FROM dwelling WHERE node_id = $3)"
            );
            sqlx::query(&sql)
                .bind(target.path.as_str())
                .bind(home.path.as_str())
                .bind(target.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    let nodes_after: i64 = sqlx::query("SELECT COUNT(*) FROM node")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    report.homes_created = nodes_after - nodes_before;
    if report.attached > 0 {
        crate::infra::marks::touch_all(&mut tx).await?;
    }
    let value = serde_json::to_string(&report).map_err(internal)?;
    sqlx::query("INSERT INTO setting (name, value) VALUES ($1, $2)")
        .bind(ATTACHED_SETTING)
        .bind(&value)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(report)
}
