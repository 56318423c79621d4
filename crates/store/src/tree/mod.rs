//! The jurisdiction tree: nodes with materialised paths, scoped reads, audited changes.

use std::collections::{BTreeMap, HashMap};

use linli_core::kernel::clock::{self, format_date};
use linli_core::kernel::labels::Labelled;
use linli_core::tree::check_household_estimate;
use linli_core::{CoreError, JurisdictionPath, NewNode, NodeCode, NodeKind, NodeName, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::{Db, Page, StoreError};

/// One node of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: NodeKind,
    pub name: String,
    pub code: Option<String>,
    pub path: JurisdictionPath,
    pub depth: i64,
    pub household_estimate: Option<i64>,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Node {
    pub fn is_open(&self) -> bool {
        self.closed_on.is_none()
    }
}

/// What lies under a node (open nodes only, the node itself excluded).
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeCounts {
    /// Descendants by kind.
    pub by_kind: BTreeMap<NodeKind, i64>,
    /// The households of the grids in the subtree (the node's own estimate if it is a grid);
    /// `None` when no grid below carries an estimate.
    pub households: Option<i64>,
}

impl NodeCounts {
    pub fn of(&self, kind: NodeKind) -> i64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// A node with its counts, as the tree pages and the API list them.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub node: Node,
    pub counts: NodeCounts,
}

/// A node on the way from the root to another: enough for breadcrumbs.
#[derive(Debug, Clone, Serialize)]
pub struct Crumb {
    pub id: i64,
    pub kind: NodeKind,
    pub name: String,
    /// Whether the caller may open this node (ancestors above their jurisdiction are shown by
    /// name only).
    pub readable: bool,
}

/// Changes to a node's own fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct NodePatch<'a> {
    pub name: Option<&'a str>,
    pub code: Option<&'a str>,
    /// `Some(None)` clears the estimate.
    pub household_estimate: Option<Option<i64>>,
}

const NODE_COLUMNS: &str = "id, parent_id, kind, name, code, path, depth, household_estimate, \
                            opened_on, closed_on, created_at, updated_at";

fn node_from_row(row: &sqlx::any::AnyRow) -> Result<Node, StoreError> {
    let kind: String = row.try_get("kind")?;
    let path: String = row.try_get("path")?;
    Ok(Node {
        id: row.try_get("id")?,
        parent_id: row.try_get("parent_id")?,
        kind: kind
            .parse()
            .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?,
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        path: JurisdictionPath::parse(&path).map_err(|e| StoreError::Internal(e.to_string()))?,
        depth: row.try_get("depth")?,
        household_estimate: row.try_get("household_estimate")?,
        opened_on: row.try_get("opened_on")?,
        closed_on: row.try_get("closed_on")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Loads a node without any scope check; callers in this module check the scope.
async fn load<'e, E>(exec: E, id: i64) -> Result<Option<Node>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!("SELECT {NODE_COLUMNS} FROM node WHERE id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(node_from_row).transpose()
}

/// A node the caller may read; anything else (missing or outside the scope) is `NotFound`, so
/// that a scope never reveals what exists outside it.
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Node, StoreError> {
    match load(db.pool(), id).await? {
        Some(node) if scope.can_read(&node.path) => Ok(node),
        _ => Err(StoreError::NotFound),
    }
}

/// The node a form registers a record under (a resident, a business): in the caller's
/// jurisdiction (else a field error on `node_id`), passing the area's own write check, open, and
/// at community level or below (else `too_high`, which says where such records go).
pub(crate) async fn registration_node(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    may_write: impl FnOnce(&Node) -> Result<(), StoreError>,
    too_high: &str,
) -> Result<Node, StoreError> {
    let node = match get(db, scope, node_id).await {
        Ok(n) => n,
        Err(StoreError::NotFound) => {
            return Err(StoreError::invalid("node_id", "您的辖区内没有这个节点"))
        }
        Err(e) => return Err(e),
    };
    may_write(&node)?;
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该节点已撤销"));
    }
    if node.kind.is_upper_level() {
        return Err(StoreError::invalid("node_id", too_high));
    }
    Ok(node)
}

/// The node with its counts.
pub async fn summary(db: &Db, scope: &Scope, id: i64) -> Result<NodeSummary, StoreError> {
    let node = get(db, scope, id).await?;
    let mut counts = counts_for(db, std::slice::from_ref(&node)).await?;
    Ok(NodeSummary {
        counts: counts.remove(&node.id).unwrap_or_default(),
        node,
    })
}

/// The top of the caller's jurisdiction: the roots of the tree for an admin, the nodes the user
/// is bound to otherwise.
pub async fn visible_roots(db: &Db, scope: &Scope) -> Result<Vec<NodeSummary>, StoreError> {
    let nodes = if scope.is_admin() {
        let rows = sqlx::query(&format!(
            "SELECT {NODE_COLUMNS} FROM node WHERE parent_id IS NULL ORDER BY closed_on IS NOT NULL, id"
        ))
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(node_from_row)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let mut nodes = Vec::new();
        for root in scope.roots() {
            if let Some(n) = load(db.pool(), root.id()).await? {
                nodes.push(n);
            }
        }
        nodes
    };
    with_counts(db, nodes).await
}

/// The children of a node the caller may read, in id order, with counts; paged by id.
pub async fn children(
    db: &Db,
    scope: &Scope,
    parent_id: i64,
    include_closed: bool,
    page: Page,
) -> Result<Vec<NodeSummary>, StoreError> {
    let parent = get(db, scope, parent_id).await?;
    let closed = if include_closed {
        ""
    } else {
        "AND closed_on IS NULL"
    };
    let rows = sqlx::query(&format!(
        "SELECT {NODE_COLUMNS} FROM node WHERE parent_id = $1 AND id > $2 {closed} ORDER BY id LIMIT $3"
    ))
    .bind(parent.id)
    .bind(page.after.unwrap_or(0))
    .bind(page.limit)
    .fetch_all(db.pool())
    .await?;
    let nodes = rows
        .iter()
        .map(node_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    with_counts(db, nodes).await
}

/// Every node of the caller's jurisdiction under `root` (or under all their roots), depth first, for the CLI's `node list` and exports.
pub async fn subtree(db: &Db, scope: &Scope, root: Option<i64>) -> Result<Vec<Node>, StoreError> {
    let mut params = Params::new();
    let filter = match root {
        Some(id) => {
            let node = get(db, scope, id).await?;
            let (lo, hi) = node.path.subtree_bounds();
            format!("path >= {} AND path < {}", params.text(lo), params.text(hi))
        }
        None => crate::scope_filter(scope, "path", &mut params),
    };
    let sql = format!("SELECT {NODE_COLUMNS} FROM node WHERE {filter}");
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut nodes = rows
        .iter()
        .map(node_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // Depth-first, siblings by id: compare the id sequences, not the path strings
    // (as text, `/1/113/` would sort before `/1/4/`).
    nodes.sort_by_cached_key(|n| n.path.ids());
    Ok(nodes)
}

/// From the root down to the node, for breadcrumbs.
pub async fn ancestors(db: &Db, scope: &Scope, node: &Node) -> Result<Vec<Crumb>, StoreError> {
    if !scope.can_read(&node.path) {
        return Err(StoreError::NotFound);
    }
    let ids = node.path.ids();
    let mut params = Params::new();
    let list: Vec<String> = ids.iter().map(|id| params.int(*id)).collect();
    let sql = format!(
        "SELECT id, kind, name, path FROM node WHERE id IN ({}) ORDER BY depth",
        list.join(", ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let path: String = r.try_get("path")?;
            let path =
                JurisdictionPath::parse(&path).map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(Crumb {
                id: r.try_get("id")?,
                kind: kind
                    .parse()
                    .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?,
                name: r.try_get("name")?,
                readable: scope.can_read(&path),
            })
        })
        .collect()
}

async fn with_counts(db: &Db, nodes: Vec<Node>) -> Result<Vec<NodeSummary>, StoreError> {
    let mut counts = counts_for(db, &nodes).await?;
    Ok(nodes
        .into_iter()
        .map(|node| NodeSummary {
            counts: counts.remove(&node.id).unwrap_or_default(),
            node,
        })
        .collect())
}

/// Counts the open descendants of each node by kind, and sums the household estimates of the
/// grids below (a grid counts its own). One query for the whole list.
async fn counts_for(db: &Db, nodes: &[Node]) -> Result<HashMap<i64, NodeCounts>, StoreError> {
    let mut out: HashMap<i64, NodeCounts> = HashMap::new();
    if nodes.is_empty() {
        return Ok(out);
    }
    let mut params = Params::new();
    let ranges: Vec<String> = nodes
        .iter()
        .map(|n| {
            let (lo, hi) = n.path.subtree_bounds();
            format!(
                "SELECT {} AS root_id, {} AS lo, {} AS hi",
                params.int(n.id),
                params.text(lo),
                params.text(hi)
            )
        })
        .collect();
    // The household sum is cast because PostgreSQL's SUM(bigint) is NUMERIC, which the Any
    // driver cannot decode.
    let sql = format!(
        "WITH r AS ({}) \
         SELECT r.root_id, d.kind, COUNT(*) AS n, \
                CAST(SUM(CASE WHEN d.kind = 'grid' THEN d.household_estimate END) AS BIGINT) AS households \
         FROM r JOIN node d ON d.path >= r.lo AND d.path < r.hi \
         WHERE d.closed_on IS NULL \
         GROUP BY r.root_id, d.kind",
        ranges.join(" UNION ALL ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let own_kind: HashMap<i64, NodeKind> = nodes.iter().map(|n| (n.id, n.kind)).collect();
    for row in rows {
        let root_id: i64 = row.try_get("root_id")?;
        let kind: String = row.try_get("kind")?;
        let kind: NodeKind = kind
            .parse()
            .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?;
        let mut n: i64 = row.try_get("n")?;
        let households: Option<i64> = row.try_get("households")?;
        let entry = out.entry(root_id).or_default();
        if own_kind.get(&root_id) == Some(&kind) {
            n -= 1; // the node itself is in its own range
        }
        if n > 0 {
            entry.by_kind.insert(kind, n);
        }
        if let Some(h) = households {
            *entry.households.get_or_insert(0) += h;
        }
    }
    Ok(out)
}

/// The code of the nearest ancestor (from a chain, root first) that carries a division code.
fn nearest_division_code(ancestors: &[Node]) -> Option<NodeCode> {
    ancestors
        .iter()
        .rev()
        .find_map(|a| match (a.kind.division_code_len(), a.code.as_deref()) {
            (Some(_), Some(c)) => NodeCode::parse(a.kind, c).ok(),
            _ => None,
        })
}

/// The nodes on the path, root first (the node itself included).
async fn chain<'e, E>(exec: E, path: &JurisdictionPath) -> Result<Vec<Node>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut params = Params::new();
    let list: Vec<String> = path.ids().iter().map(|id| params.int(*id)).collect();
    let sql = format!(
        "SELECT {NODE_COLUMNS} FROM node WHERE id IN ({}) ORDER BY depth",
        list.join(", ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(exec).await?;
    rows.iter().map(node_from_row).collect()
}

/// Checks that a node of `kind` may sit under the chain `ancestors` (root first, parent last):
/// the parent may contain it, and no kind repeats along a path.
fn check_placement(
    kind: NodeKind,
    ancestors: &[Node],
    subtree_kinds: &[NodeKind],
) -> Result<(), StoreError> {
    if let Some(parent) = ancestors.last() {
        if !parent.kind.may_contain(kind) {
            return Err(StoreError::invalid(
                "kind",
                format!(
                    "{1}（{0}）不能设在{3}（{2}）之下",
                    kind.as_str(),
                    kind.label_zh(),
                    parent.kind.as_str(),
                    parent.kind.label_zh()
                ),
            ));
        }
        if let Some(a) = ancestors
            .iter()
            .find(|a| subtree_kinds.contains(&a.kind) || a.kind == kind)
        {
            return Err(StoreError::invalid(
                "kind",
                format!(
                    "本路径上已有{}「{}」，同一路径上不能重复出现同类节点",
                    a.kind.label_zh(),
                    a.name
                ),
            ));
        }
    }
    Ok(())
}

/// Creates a node. Admins may create roots and nodes anywhere; staff only inside their
/// jurisdiction. Audited.
pub async fn create(db: &Db, scope: &Scope, new: NewNode, now: i64) -> Result<Node, StoreError> {
    let mut tx = db.begin_write().await?;
    let (parent_chain, parent_path) = match new.parent_id {
        Some(pid) => {
            let parent = load(&mut *tx, pid).await?;
            let parent = match parent {
                Some(p) if scope.can_read(&p.path) => p,
                _ => return Err(StoreError::invalid("parent_id", "您的辖区内没有这个节点")),
            };
            if !scope.can_add_under(&parent.path) {
                return Err(StoreError::Forbidden("您的角色不能在此处添加节点".into()));
            }
            if !parent.is_open() {
                return Err(StoreError::invalid("parent_id", "上级节点已撤销"));
            }
            let path = parent.path.clone();
            (chain(&mut *tx, &path).await?, Some(path))
        }
        None => {
            if !scope.is_admin() {
                return Err(StoreError::Forbidden("只有管理员可以创建根节点".into()));
            }
            (Vec::new(), None)
        }
    };
    check_placement(new.kind, &parent_chain, &[])?;
    if let Some(code) = &new.code {
        code.check_extends(new.kind, nearest_division_code(&parent_chain).as_ref())?;
    }
    let depth = parent_path.as_ref().map_or(0, |p| p.depth() + 1);
    // The path needs the id; insert with a unique placeholder path, then set it.
    let placeholder = format!("pending:{now}:{}", crate::infra::secret::random_token(8));
    let row = sqlx::query(
        "INSERT INTO node (parent_id, kind, name, code, path, depth, household_estimate, opened_on, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(new.parent_id)
    .bind(new.kind.as_str())
    .bind(new.name.as_str())
    .bind(new.code.as_ref().map(|c| c.as_str().to_owned()))
    .bind(&placeholder)
    .bind(depth)
    .bind(new.household_estimate)
    .bind(format_date(new.opened_on))
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(unique_to_conflict)?;
    let id: i64 = row.try_get(0)?;
    let path = match &parent_path {
        Some(p) => p.child(id),
        None => JurisdictionPath::root(id),
    };
    sqlx::query("UPDATE node SET path = $1 WHERE id = $2")
        .bind(path.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "node.create", "node")
            .entity_id(id)
            .node_path(&path)
            .detail(json!({
                "kind": new.kind.as_str(),
                "name": new.name.as_str(),
                "code": new.code.as_ref().map(NodeCode::as_str),
                "parent_id": new.parent_id,
            })),
        now,
    )
    .await?;
    let node = load(&mut *tx, id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    Ok(node)
}

/// A building or unit node a room's address names, made under `parent` by a registration or
/// an import (issue 19 item 2) — not by the tree's own form, so whoever may register people at
/// `parent` may make it. The statement inserts it with a unique placeholder path; [`home_made`]
/// then gives the path and the node.
pub(crate) fn home_insert(
    parent: &Node,
    kind: NodeKind,
    name: &str,
    now: i64,
    p: &mut Params,
) -> String {
    let placeholder = format!("pending:{now}:{}", crate::infra::secret::random_token(8));
    format!(
        "INSERT INTO node (parent_id, kind, name, path, depth, opened_on, created_at, updated_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
        p.int(parent.id),
        p.text(kind.as_str()),
        p.text(name),
        p.text(placeholder),
        p.int(parent.depth + 1),
        p.text(format_date(clock::today())),
        p.int(now),
        p.int(now)
    )
}

/// The node [`home_insert`] made (with id `id`), and the statement that sets its path.
pub(crate) fn home_made(
    parent: &Node,
    id: i64,
    kind: NodeKind,
    name: &str,
    now: i64,
    p: &mut Params,
) -> (Node, String) {
    let path = parent.path.child(id);
    let sql = format!(
        "UPDATE node SET path = {} WHERE id = {}",
        p.text(path.as_str()),
        p.int(id)
    );
    let node = Node {
        id,
        parent_id: Some(parent.id),
        kind,
        name: name.to_owned(),
        code: None,
        path,
        depth: parent.depth + 1,
        household_estimate: None,
        opened_on: format_date(clock::today()),
        closed_on: None,
        created_at: now,
        updated_at: now,
    };
    (node, sql)
}

/// Makes a building or unit node for a registration, in its transaction (see [`home_insert`]).
/// Audited; a sibling of the same name that is no building is a conflict.
pub(crate) async fn add_home(
    conn: &mut sqlx::AnyConnection,
    scope: &Scope,
    parent: &Node,
    kind: NodeKind,
    name: &str,
    now: i64,
) -> Result<Node, StoreError> {
    let mut p = Params::new();
    let sql = home_insert(parent, kind, name, now, &mut p);
    let row = p
        .bind(sqlx::query(&sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(unique_to_conflict)?;
    let mut p = Params::new();
    let (node, sql) = home_made(parent, row.try_get(0)?, kind, name, now, &mut p);
    p.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    audit::record(
        &mut *conn,
        AuditEntry::by(scope, "node.create", "node")
            .entity_id(node.id)
            .node_path(&node.path)
            .detail(json!({
                "kind": kind.as_str(),
                "name": name,
                "parent_id": parent.id,
                "by": "registration",
            })),
        now,
    )
    .await?;
    Ok(node)
}

/// Loads a node by id without a scope check, for store code that checked the scope already.
pub(crate) async fn load_unchecked<'e, E>(exec: E, id: i64) -> Result<Node, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    load(exec, id).await?.ok_or(StoreError::NotFound)
}

/// Renames a node, changes its code or its household estimate. Audited with old and new values.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: i64,
    patch: NodePatch<'_>,
    now: i64,
) -> Result<Node, StoreError> {
    let mut tx = db.begin_write().await?;
    let node = for_change(&mut tx, scope, id, "您的角色不能修改这个节点").await?;
    let mut errors = Vec::new();
    let name = patch
        .name
        .map(NodeName::parse)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let code = match patch.code.map(str::trim) {
        Some("") if node.kind.division_code_len().is_some() => {
            errors.push(CoreError::invalid(
                "code",
                format!("{}必须填写区划代码", node.kind.label_zh()),
            ));
            None
        }
        Some("") => Some(None),
        Some(raw) => NodeCode::parse(node.kind, raw)
            .map_err(|e| errors.push(e))
            .ok()
            .map(Some),
        None => None,
    };
    if let Some(est) = patch.household_estimate {
        check_household_estimate(Some(node.kind), est, &mut errors);
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    if let Some(Some(code)) = &code {
        let ancestors = chain(&mut *tx, &node.path).await?;
        let above = &ancestors[..ancestors.len().saturating_sub(1)];
        code.check_extends(node.kind, nearest_division_code(above).as_ref())?;
    }
    let new_name = name
        .as_ref()
        .map_or(node.name.clone(), |n| n.as_str().to_owned());
    let new_code = match &code {
        Some(c) => c.as_ref().map(|c| c.as_str().to_owned()),
        None => node.code.clone(),
    };
    let new_estimate = patch.household_estimate.unwrap_or(node.household_estimate);
    sqlx::query("UPDATE node SET name = $1, code = $2, household_estimate = $3, updated_at = $4 WHERE id = $5")
        .bind(&new_name)
        .bind(new_code.clone())
        .bind(new_estimate)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(unique_to_conflict)?;
    crate::infra::marks::touch(&mut tx, &[crate::infra::marks::TREE]).await?;
    let mut changes = serde_json::Map::new();
    if new_name != node.name {
        changes.insert("name".into(), json!([node.name, new_name]));
    }
    if new_code != node.code {
        changes.insert("code".into(), json!([node.code, new_code]));
    }
    if new_estimate != node.household_estimate {
        changes.insert(
            "household_estimate".into(),
            json!([node.household_estimate, new_estimate]),
        );
    }
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "node.update", "node")
            .entity_id(id)
            .node_path(&node.path)
            .detail(serde_json::Value::Object(changes)),
        now,
    )
    .await?;
    committed(db, tx, id).await
}

/// Moves a node and its whole subtree under a new parent, rewriting every path below in one
/// transaction. Audited with the old and new paths.
pub async fn move_subtree(
    db: &Db,
    scope: &Scope,
    id: i64,
    new_parent_id: i64,
    now: i64,
) -> Result<Node, StoreError> {
    let mut tx = db.begin_write().await?;
    let node = match load(&mut *tx, id).await? {
        Some(n) if scope.can_read(&n.path) => n,
        _ => return Err(StoreError::NotFound),
    };
    let parent = match load(&mut *tx, new_parent_id).await? {
        Some(p) if scope.can_read(&p.path) => p,
        _ => {
            return Err(StoreError::invalid(
                "new_parent_id",
                "您的辖区内没有这个节点",
            ))
        }
    };
    if !scope.can_edit_node(&node.path) || !scope.can_add_under(&parent.path) {
        return Err(StoreError::Forbidden("您的角色不能移动这个节点".into()));
    }
    if !node.is_open() || !parent.is_open() {
        return Err(StoreError::invalid(
            "new_parent_id",
            "已撤销的节点不能移动，也不能接收下级节点",
        ));
    }
    if parent.path.is_within(&node.path) {
        return Err(StoreError::invalid(
            "new_parent_id",
            "不能把节点移到它自身或其下级节点之下",
        ));
    }
    if node.parent_id == Some(parent.id) {
        return Ok(node);
    }
    // The kinds present in the moving subtree must not reappear above it.
    let (lo, hi) = node.path.subtree_bounds();
    let kind_rows = sqlx::query("SELECT DISTINCT kind FROM node WHERE path >= $1 AND path < $2")
        .bind(&lo)
        .bind(&hi)
        .fetch_all(&mut *tx)
        .await?;
    let mut subtree_kinds = Vec::new();
    for r in kind_rows {
        let k: String = r.try_get(0)?;
        subtree_kinds.push(k.parse::<NodeKind>()?);
    }
    let parent_chain = chain(&mut *tx, &parent.path).await?;
    check_placement(node.kind, &parent_chain, &subtree_kinds)?;
    if let Some(code) = node.code.as_deref() {
        let code = NodeCode::parse(node.kind, code)?;
        code.check_extends(node.kind, nearest_division_code(&parent_chain).as_ref())
            .map_err(|e| {
                CoreError::invalid(
                    "new_parent_id",
                    format!("{}；请先修改该节点的代码", e.message),
                )
            })?;
    }
    let new_path = parent.path.child(node.id);
    let delta = new_path.depth() - node.path.depth();
    let old_len = node.path.as_str().len() as i64;
    sqlx::query(
        "UPDATE node SET path = $1 || substr(path, CAST($2 AS INTEGER)), depth = depth + $3, updated_at = $4 \
         WHERE path >= $5 AND path < $6",
    )
    .bind(new_path.as_str())
    .bind(old_len + 1)
    .bind(delta)
    .bind(now)
    .bind(&lo)
    .bind(&hi)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE node SET parent_id = $1 WHERE id = $2")
        .bind(parent.id)
        .bind(node.id)
        .execute(&mut *tx)
        .await
        .map_err(unique_to_conflict)?;
    // Records under the subtree carry copies of its paths (and of its district) for their
    // scoped range scans: they move with it, or the old community would keep seeing them.
    for (table, column, district) in PATH_COPIES {
        let set_district = match district {
            Some(d) => format!(", {d} = {}", new_path.root_id()),
            None => String::new(),
        };
        sqlx::query(&format!(
            "UPDATE {table} SET {column} = $1 || substr({column}, CAST($2 AS INTEGER)){set_district} \
             WHERE {column} >= $3 AND {column} < $4"
        ))
        .bind(new_path.as_str())
        .bind(old_len + 1)
        .bind(&lo)
        .bind(&hi)
        .execute(&mut *tx)
        .await?;
    }
    // Records changed paths wholesale: whoever counts by path counts everything again.
    crate::infra::marks::touch_all(&mut tx).await?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "node.move", "node")
            .entity_id(node.id)
            .node_path(&new_path)
            .detail(json!({"from": node.path.as_str(), "to": new_path.as_str(), "new_parent_id": parent.id})), now)
    .await?;
    committed(db, tx, id).await
}

/// Columns outside `node` that hold a copy of a node path, with the district column that goes
/// with it: `move_subtree` rewrites them. (The audit log and the registry's change log keep the
/// path an entry was written under: they are history, and append-only.) A test checks that
/// every path column of the schema is listed here or is one of those two.
pub const PATH_COPIES: &[(&str, &str, Option<&str>)] = &[
    ("dwelling", "node_path", Some("district_id")),
    ("household", "node_path", Some("district_id")),
    ("person", "node_path", Some("district_id")),
    ("arrival", "node_path", Some("district_id")),
    ("observation", "node_path", Some("district_id")),
    ("checkin", "node_path", Some("district_id")),
    ("alert", "node_path", Some("district_id")),
    ("declaration_link", "node_path", Some("district_id")),
    ("declaration", "node_path", Some("district_id")),
    ("supply_site", "node_path", Some("district_id")),
    ("supply_ledger", "node_path", Some("district_id")),
    ("supply_balance", "node_path", Some("district_id")),
    ("supply_transfer", "from_path", Some("district_id")),
    ("supply_transfer", "to_path", None),
    ("supply_request", "node_path", Some("district_id")),
    ("supply_request", "to_path", None),
    ("enterprise", "node_path", Some("district_id")),
    ("volunteer", "node_path", Some("district_id")),
    ("volunteer_team", "node_path", Some("district_id")),
    ("volunteer_activity", "node_path", Some("district_id")),
    ("reopening", "node_path", Some("district_id")),
    ("inspection", "node_path", Some("district_id")),
    ("epi_case", "node_path", Some("district_id")),
    ("contact_link", "node_path", Some("district_id")),
    ("request", "node_path", Some("district_id")),
    ("checkpoint", "node_path", Some("district_id")),
    ("gate_pass", "node_path", Some("district_id")),
    ("gate_scan", "node_path", Some("district_id")),
    ("trip", "node_path", Some("district_id")),
    ("trip_group", "node_path", Some("district_id")),
    ("quarantine_site", "node_path", Some("district_id")),
    ("quarantine_stay", "node_path", Some("district_id")),
    ("notice", "node_path", None),
    ("notice", "audience_path", None),
    ("affair_entry", "node_path", None),
    ("community_page", "node_path", None),
];

/// Closes a node and every open node under it on `on` (today by default). Closed nodes stay in
/// the tree and in history; they take no new children. Audited.
pub async fn close(
    db: &Db,
    scope: &Scope,
    id: i64,
    on: Option<time::Date>,
    now: i64,
) -> Result<Node, StoreError> {
    let mut tx = db.begin_write().await?;
    let node = for_change(&mut tx, scope, id, "您的角色不能撤销这个节点").await?;
    if !node.is_open() {
        return Err(StoreError::invalid("id", "该节点已撤销"));
    }
    let on = on.unwrap_or_else(clock::today);
    if format_date(on) < node.opened_on {
        return Err(StoreError::invalid("closed_on", "撤销日期不能早于设立日期"));
    }
    let (lo, hi) = node.path.subtree_bounds();
    let closed = sqlx::query(
        "UPDATE node SET closed_on = $1, updated_at = $2 WHERE path >= $3 AND path < $4 AND closed_on IS NULL",
    )
    .bind(format_date(on))
    .bind(now)
    .bind(&lo)
    .bind(&hi)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    crate::infra::marks::touch(&mut tx, &[crate::infra::marks::TREE]).await?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "node.close", "node")
            .entity_id(node.id)
            .node_path(&node.path)
            .detail(json!({"closed_on": format_date(on), "nodes_closed": closed})),
        now,
    )
    .await?;
    committed(db, tx, id).await
}

/// Node `id`, read in `tx` for a change: missing or outside the caller's sight is `NotFound`; a
/// caller who sees it but may not edit it is refused with `refusal`.
async fn for_change(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: i64,
    refusal: &str,
) -> Result<Node, StoreError> {
    let node = match load(&mut *tx, id).await? {
        Some(n) if scope.can_read(&n.path) => n,
        _ => return Err(StoreError::NotFound),
    };
    if !scope.can_edit_node(&node.path) {
        return Err(StoreError::Forbidden(refusal.to_owned()));
    }
    Ok(node)
}

/// Commits a change to the tree and answers node `id` as it now stands. Scopes are paths, so
/// every cached caller may have changed: the cache is emptied.
async fn committed(
    db: &Db,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
) -> Result<Node, StoreError> {
    let node = load(&mut *tx, id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    db.caches.principals.clear();
    Ok(node)
}

/// Finds an open node by its exact path of names from a root (`香格里拉市/建塘镇/里布嘎社区`),
/// within the caller's scope. Used by the CLI and the demo.
pub async fn find_by_names(
    db: &Db,
    scope: &Scope,
    names: &[&str],
) -> Result<Option<Node>, StoreError> {
    let mut parent: Option<i64> = None;
    let mut found = None;
    for name in names {
        let row = match parent {
            None => sqlx::query(&format!(
                "SELECT {NODE_COLUMNS} FROM node WHERE parent_id IS NULL AND name = $1 AND closed_on IS NULL"
            ))
            .bind(*name)
            .fetch_optional(db.pool())
            .await?,
            Some(p) => sqlx::query(&format!(
                "SELECT {NODE_COLUMNS} FROM node WHERE parent_id = $1 AND name = $2 AND closed_on IS NULL"
            ))
            .bind(p)
            .bind(*name)
            .fetch_optional(db.pool())
            .await?,
        };
        let Some(row) = row else { return Ok(None) };
        let node = node_from_row(&row)?;
        parent = Some(node.id);
        found = Some(node);
    }
    Ok(found.filter(|n| scope.can_read(&n.path)))
}

/// Turns a unique-index violation into a conflict that names the field.
pub(crate) fn unique_to_conflict(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let what = db
                .constraint()
                .map(str::to_owned)
                .unwrap_or_else(|| db.message().to_owned());
            let (field, message) = if what.contains("username") {
                ("username", "该登录名已被使用")
            } else if what.contains("name") {
                ("name", "此处已有同名节点")
            } else if what.contains("code") {
                ("code", "该代码已被使用")
            } else {
                ("id", "该记录已存在")
            };
            return StoreError::Conflict {
                field: field.into(),
                message: message.into(),
            };
        }
    }
    StoreError::Db(e)
}
