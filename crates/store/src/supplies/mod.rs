//! Emergency supplies: items, sites on nodes, the append-only ledger, two-step transfers,
//! thresholds and stock summed over a subtree.
//!
//! The ledger is the truth. `supply_balance` caches each site's balance per item and is only
//! ever changed in the transaction that appends the matching ledger entry; a decrease is one
//! conditional `UPDATE … WHERE quantity >= n`, so concurrent issues can never take a balance
//! below zero on either database (the loser updates no row and gets a conflict).
//! [`consistency_check`] proves the cache equals the ledger.
//!
//! Every function that writes (or reads relative to the present) is given `now` (Unix ms) by its
//! caller, so each rule can be tested at a fixed time.
//!
//! Who may do what (fail closed; outside the caller's jurisdiction is `NotFound`; the rules are
//! `linli_core::supplies::{can_write_at, can_dispatch_from, can_decide_request}`):
//! - everyone reads the sites, ledgers, stock and transfers within their jurisdiction;
//! - staff and admins record entries, add sites and set thresholds at sites in theirs;
//! - officials also dispatch (send and cancel transfers) from reserves in theirs;
//! - a transfer is sent by whoever may write at (or dispatch from) the source, and received by
//!   whoever may write at the destination; grid workers and officials otherwise only read.

use std::collections::BTreeMap;

use linli_core::kernel::labels::Labelled;
use linli_core::supplies::{
    can_decide_request, can_dispatch_from, can_write_at, days_of_cover, EntryKind, ItemDraft,
    Movement, Quantity, RequestAction, SiteDraft, SiteKind, TransferAction, COVER_WINDOW_DAYS,
};
// The lifecycles are core's; named here too because the store's callers read them off records.
pub use linli_core::supplies::{RequestState, TransferState};
use linli_core::{JurisdictionPath, NodeKind, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::sql_names;
use crate::infra::db::Params;
use crate::infra::errors::{internal, unique_to};
use crate::{scope_filter, Db, Page, StoreError};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

// ---------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------

/// A kind of supply.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub name: String,
    pub unit: String,
    pub category: String,
    pub shelf_life_days: Option<i64>,
    pub preset: bool,
}

const ITEM_COLUMNS: &str = "id, name, unit, category, shelf_life_days, preset";

fn item_from_row(r: &sqlx::any::AnyRow) -> Result<Item, StoreError> {
    Ok(Item {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        unit: r.try_get(2)?,
        category: r.try_get(3)?,
        shelf_life_days: r.try_get(4)?,
        preset: r.try_get::<i64, _>(5)? != 0,
    })
}

/// Every item, presets first. Items are not personal data: every signed-in role reads them.
pub async fn items(db: &Db) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM supply_item ORDER BY preset DESC, id"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(item_from_row).collect()
}

/// One item; a missing one is a bad `field`.
async fn item(db: &Db, id: i64, field: &str) -> Result<Item, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM supply_item WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => item_from_row(&r),
        None => Err(StoreError::invalid(field, "没有这种物资")),
    }
}

/// Adds an item (staff, officials and admins). Audited.
pub async fn create_item(
    db: &Db,
    scope: &Scope,
    draft: &ItemDraft,
    now: i64,
) -> Result<Item, StoreError> {
    if !linli_core::supplies::can_define_items(scope) {
        return Err(StoreError::Forbidden(
            "只有系统管理员可以新增物资品类".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO supply_item (name, unit, category, shelf_life_days, preset, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) RETURNING id",
        )
        .bind(&draft.name)
        .bind(&draft.unit)
        .bind(draft.category.as_str())
        .bind(draft.shelf_life_days)
        .bind(now),
        AuditEntry::by(scope, "supply_item.create", "supply_item")
            .detail(json!({"name": draft.name, "unit": draft.unit})),
        now,
        |e| unique_to(e, "name", "已有同名物资"),
    )
    .await?;
    tx.commit().await?;
    Ok(Item {
        id,
        name: draft.name.clone(),
        unit: draft.unit.clone(),
        category: draft.category.as_str().to_owned(),
        shelf_life_days: draft.shelf_life_days,
        preset: false,
    })
}

// ---------------------------------------------------------------------------------------------
// Sites
// ---------------------------------------------------------------------------------------------

/// A place where stock is kept, on a node of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub node_path: JurisdictionPath,
    pub name: String,
    pub kind: SiteKind,
}

const SITE_SELECT: &str = "SELECT s.id, s.node_id, n.name, s.node_path, s.name, s.kind \
                           FROM supply_site s JOIN node n ON n.id = s.node_id";

fn site_from_row(r: &sqlx::any::AnyRow) -> Result<Site, StoreError> {
    let path: String = r.try_get(3)?;
    let kind: String = r.try_get(5)?;
    Ok(Site {
        id: r.try_get(0)?,
        node_id: r.try_get(1)?,
        node_name: r.try_get(2)?,
        node_path: JurisdictionPath::parse(&path).map_err(internal)?,
        name: r.try_get(4)?,
        kind: kind.parse().map_err(internal)?,
    })
}

async fn load_site(db: &Db, id: i64) -> Result<Option<Site>, StoreError> {
    let row = sqlx::query(&format!("{SITE_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(site_from_row).transpose()
}

/// A site the caller may read; anything else is `NotFound`.
pub async fn get_site(db: &Db, scope: &Scope, id: i64) -> Result<Site, StoreError> {
    match load_site(db, id).await? {
        Some(s) if scope.can_read(&s.node_path) => Ok(s),
        _ => Err(StoreError::NotFound),
    }
}

/// The site for a write: readable (else `NotFound`), and writable (else `Forbidden`).
async fn writable_site(db: &Db, scope: &Scope, id: i64) -> Result<Site, StoreError> {
    let site = get_site(db, scope, id).await?;
    if !can_write_at(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "只有社区工作者和管理员可以在本辖区的物资点记账".into(),
        ));
    }
    Ok(site)
}

/// Adds a site on a node in the caller's jurisdiction (staff and admins). Audited.
pub async fn create_site(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    draft: &SiteDraft,
    now: i64,
) -> Result<Site, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    if !can_write_at(scope, &node.path) {
        return Err(StoreError::Forbidden(
            "只有社区工作者和管理员可以设立物资点".into(),
        ));
    }
    if !node.is_open() {
        return Err(StoreError::invalid(
            "node_id",
            "该节点已撤销，不能设立物资点",
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO supply_site (node_id, district_id, node_path, name, kind, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(&draft.name)
        .bind(draft.kind.as_str())
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "supply_site.create", "supply_site")
            .node_path(&node.path)
            .detail(json!({"name": draft.name, "kind": draft.kind.as_str(), "node_id": node.id})),
        now,
        |e| unique_to(e, "name", "该节点已有同名物资点"),
    )
    .await?;
    tx.commit().await?;
    Ok(Site {
        id,
        node_id: node.id,
        node_name: node.name,
        node_path: node.path,
        name: draft.name.clone(),
        kind: draft.kind,
    })
}

/// Whether a node is a street or above (its sites default to reserves).
pub fn is_upper_level(kind: NodeKind) -> bool {
    kind.is_upper_level()
}

/// The sites in the subtree of `node_id` (a node in scope), by path then name.
pub async fn sites(db: &Db, scope: &Scope, node_id: i64) -> Result<Vec<Site>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let rows = sqlx::query(&format!(
        "{SITE_SELECT} WHERE s.node_path >= $1 AND s.node_path < $2 ORDER BY s.node_path, s.name, s.id"
    ))
    .bind(lo)
    .bind(hi)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let s = site_from_row(r)?;
        // The node is in scope, so its subtree is; checked again per row (fail closed).
        if scope.can_read(&s.node_path) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Every site the caller may read, by path then name (for choosing a transfer's destination,
/// the caller's own sites first are found by the page).
pub async fn sites_in_scope(db: &Db, scope: &Scope) -> Result<Vec<Site>, StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "s.node_path", &mut params);
    let rows = params
        .bind(sqlx::query(&format!(
            "{SITE_SELECT} WHERE {filter} ORDER BY s.node_path, s.name, s.id LIMIT 1000"
        )))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(site_from_row).collect()
}

/// The sites a transfer from `from_site_id` may go to: every other site of the same district
/// tree, also outside the caller's jurisdiction (a community helps its neighbour; a street
/// supplies its communities). Only for a caller who may dispatch from the site; sites are
/// store rooms, not personal data.
pub async fn transfer_targets(
    db: &Db,
    scope: &Scope,
    from_site_id: i64,
) -> Result<Vec<Site>, StoreError> {
    let from = get_site(db, scope, from_site_id).await?;
    if !can_dispatch_from(scope, &from.node_path, from.kind) {
        return Err(StoreError::Forbidden("您不能从这个物资点调出物资".into()));
    }
    let rows = sqlx::query(&format!(
        "{SITE_SELECT} WHERE s.district_id = $1 AND s.id <> $2 ORDER BY s.node_path, s.name, s.id LIMIT 1000"
    ))
    .bind(from.node_path.root_id())
    .bind(from.id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(site_from_row).collect()
}

// ---------------------------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------------------------

/// One ledger entry as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub site_id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub kind: EntryKind,
    /// The signed change to the balance.
    pub delta: i64,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub transfer_id: Option<i64>,
    pub balance_after: i64,
    pub at: i64,
    pub actor: String,
}

/// Changes the cached balance by `delta` inside `tx` and returns the new balance. A decrease
/// that would go below zero changes nothing and is a conflict naming what is on hand.
async fn apply(
    tx: &mut Tx<'_>,
    site: &Site,
    item_id: i64,
    delta: i64,
    now: i64,
) -> Result<i64, StoreError> {
    if delta > 0 {
        let row = sqlx::query(
            "INSERT INTO supply_balance (site_id, item_id, district_id, node_path, quantity, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (site_id, item_id) DO UPDATE SET quantity = supply_balance.quantity + excluded.quantity, \
             updated_at = excluded.updated_at RETURNING quantity",
        )
        .bind(site.id)
        .bind(item_id)
        .bind(site.node_path.root_id())
        .bind(site.node_path.as_str())
        .bind(delta)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        return Ok(row.try_get(0)?);
    }
    let need = -delta;
    // The condition is evaluated on the row as it is when the update runs (PostgreSQL re-reads
    // a row another transaction changed; SQLite has one writer), so two issues racing for the
    // last units cannot both succeed.
    let row = sqlx::query(
        "UPDATE supply_balance SET quantity = quantity - $1, updated_at = $2 \
         WHERE site_id = $3 AND item_id = $4 AND quantity >= $1 RETURNING quantity",
    )
    .bind(need)
    .bind(now)
    .bind(site.id)
    .bind(item_id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(r) => Ok(r.try_get(0)?),
        None => {
            let have = sqlx::query(
                "SELECT quantity FROM supply_balance WHERE site_id = $1 AND item_id = $2",
            )
            .bind(site.id)
            .bind(item_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(0);
            Err(StoreError::Conflict {
                field: "quantity".into(),
                message: format!("库存不足：现有 {have}，需要 {need}"),
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn append(
    tx: &mut Tx<'_>,
    scope: &Scope,
    site: &Site,
    item_id: i64,
    kind: EntryKind,
    delta: i64,
    reason: Option<&str>,
    note: Option<&str>,
    transfer_id: Option<i64>,
    balance_after: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO supply_ledger (site_id, item_id, district_id, node_path, kind, delta, reason, note, \
         transfer_id, balance_after, at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         RETURNING id",
    )
    .bind(site.id)
    .bind(item_id)
    .bind(site.node_path.root_id())
    .bind(site.node_path.as_str())
    .bind(kind.as_str())
    .bind(delta)
    .bind(reason)
    .bind(note)
    .bind(transfer_id)
    .bind(balance_after)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// A lifecycle refusal from core is a conflict: the record is no longer where the caller saw it.
fn state_conflict(e: linli_core::CoreError) -> StoreError {
    StoreError::Conflict {
        field: e.field,
        message: e.message,
    }
}

fn clean_note(note: Option<&str>) -> Result<Option<String>, StoreError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 200) {
        return Err(StoreError::invalid("note", "备注不能超过 200 个字"));
    }
    Ok(note.map(str::to_owned))
}

/// Records a receipt, an issue or an adjustment at a site: the entry, the balance and the
/// audit entry in one transaction. An issue (or decrease) beyond the balance is a conflict and
/// writes nothing.
pub async fn record(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    item_id: i64,
    movement: &Movement,
    note: Option<&str>,
    now: i64,
) -> Result<Entry, StoreError> {
    let site = writable_site(db, scope, site_id).await?;
    let item = item(db, item_id, "item_id").await?;
    let note = clean_note(note)?;
    let reason = movement.reason().map(|r| r.as_str());
    let mut tx = db.begin_write().await?;
    // The balance first: on SQLite the transaction's first statement takes the write lock, so
    // nothing read inside it can go stale.
    let balance = apply(&mut tx, &site, item.id, movement.delta(), now).await?;
    let id = append(
        &mut tx,
        scope,
        &site,
        item.id,
        movement.kind(),
        movement.delta(),
        reason,
        note.as_deref(),
        None,
        balance,
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(
            scope,
            &format!("supply.{}", movement.kind().as_str()),
            "supply_ledger",
        )
        .entity_id(id)
        .node_path(&site.node_path)
        .detail(json!({
            "site_id": site.id, "item_id": item.id, "delta": movement.delta(),
            "reason": reason, "balance_after": balance,
        })),
        now,
    )
    .await?;
    Ok(Entry {
        id,
        site_id: site.id,
        item_id: item.id,
        item_name: item.name,
        unit: item.unit,
        kind: movement.kind(),
        delta: movement.delta(),
        reason: reason.map(str::to_owned),
        note,
        transfer_id: None,
        balance_after: balance,
        at: now,
        actor: scope.actor().to_owned(),
    })
}

/// The columns an entry is read with ([`entry_from_row`]) and the tables they come from.
macro_rules! entry_columns {
    () => {
        "l.id, l.site_id, l.item_id, i.name, i.unit, l.kind, l.delta, l.reason, \
         l.note, l.transfer_id, l.balance_after, l.at, l.actor"
    };
}
macro_rules! entry_from {
    () => {
        "supply_ledger l JOIN supply_item i ON i.id = l.item_id"
    };
}
const ENTRY_SELECT: &str = concat!("SELECT ", entry_columns!(), " FROM ", entry_from!());

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<Entry, StoreError> {
    let kind: String = r.try_get(5)?;
    Ok(Entry {
        id: r.try_get(0)?,
        site_id: r.try_get(1)?,
        item_id: r.try_get(2)?,
        item_name: r.try_get(3)?,
        unit: r.try_get(4)?,
        kind: kind.parse().map_err(internal)?,
        delta: r.try_get(6)?,
        reason: r.try_get(7)?,
        note: r.try_get(8)?,
        transfer_id: r.try_get(9)?,
        balance_after: r.try_get(10)?,
        at: r.try_get(11)?,
        actor: r.try_get(12)?,
    })
}

/// A site's ledger, newest first, paged by id (`after` is the last id seen).
pub async fn ledger(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    page: Page,
) -> Result<Vec<Entry>, StoreError> {
    let site = get_site(db, scope, site_id).await?;
    let rows = sqlx::query(&format!(
        "{ENTRY_SELECT} WHERE l.site_id = $1 AND l.id < $2 ORDER BY l.id DESC LIMIT $3"
    ))
    .bind(site.id)
    .bind(page.after.unwrap_or(i64::MAX))
    .bind(page.limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// What a site's ledger is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub item_id: Option<i64>,
    pub kind: Option<EntryKind>,
    /// Recorded within `[from, before)` (Unix milliseconds), either end open.
    pub at: (Option<i64>, Option<i64>),
    /// Words in the note or the login of who recorded it.
    pub q: Option<String>,
}

/// A site's ledger as a page shows it: filtered, newest first, `limit` (at most
/// [`crate::MAX_LIST_ROWS`]) from `offset`, and how many entries match in all.
pub async fn ledger_page(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    filter: &LedgerFilter,
    (limit, offset): (i64, i64),
) -> Result<crate::Listed<Entry>, StoreError> {
    let site = get_site(db, scope, site_id).await?;
    let (total, rows) = crate::infra::db::counted_page(
        db,
        entry_columns!(),
        entry_from!(),
        |params| {
            let mut conds = vec![format!("l.site_id = {}", params.int(site.id))];
            if let Some(item) = filter.item_id {
                conds.push(format!("l.item_id = {}", params.int(item)));
            }
            if let Some(kind) = filter.kind {
                conds.push(format!("l.kind = {}", params.text(kind.as_str())));
            }
            conds.extend(params.in_range("l.at", filter.at));
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                conds.push(params.contains_any(&["l.note", "l.actor"], q));
            }
            conds.join(" AND ")
        },
        "l.id DESC",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::Listed { items, total })
}

/// The ledger entries of every site under `node_id`, oldest first (for the export), with the
/// site's name.
pub async fn ledger_under(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    limit: i64,
) -> Result<Vec<(String, Entry)>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let rows = sqlx::query(
        "SELECT l.id, l.site_id, l.item_id, i.name, i.unit, l.kind, l.delta, l.reason, l.note, \
         l.transfer_id, l.balance_after, l.at, l.actor, s.name FROM supply_ledger l \
         JOIN supply_item i ON i.id = l.item_id JOIN supply_site s ON s.id = l.site_id \
         WHERE l.node_path >= $1 AND l.node_path < $2 ORDER BY l.id LIMIT $3",
    )
    .bind(lo)
    .bind(hi)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(13)?, entry_from_row(r)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------------

/// A transfer as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    pub id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub from_site_id: i64,
    pub from_site_name: String,
    pub to_site_id: i64,
    pub to_site_name: String,
    pub quantity: i64,
    pub state: TransferState,
    pub note: Option<String>,
    pub sent_at: i64,
    pub sent_by: String,
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
    #[serde(skip)]
    from_path: String,
    #[serde(skip)]
    to_path: String,
}

impl Transfer {
    /// Whether `scope` may receive it now (in transit; staff or admins at the destination).
    pub fn receivable_by(&self, scope: &Scope) -> bool {
        self.state.allows(TransferAction::Receive)
            && JurisdictionPath::parse(&self.to_path).is_ok_and(|p| can_write_at(scope, &p))
    }

    /// Whether `scope` may be offered to cancel it (in transit; the sender's side). A transfer
    /// does not carry its source's kind, so the offer assumes a reserve (the kind officials may
    /// dispatch from); the store checks the real kind when it is done.
    pub fn cancellable_by(&self, scope: &Scope) -> bool {
        self.state.allows(TransferAction::Cancel)
            && JurisdictionPath::parse(&self.from_path)
                .is_ok_and(|p| can_dispatch_from(scope, &p, SiteKind::Reserve))
    }

    fn readable_by(&self, scope: &Scope) -> bool {
        [&self.from_path, &self.to_path].iter().any(|p| {
            JurisdictionPath::parse(p)
                .map(|p| scope.can_read(&p))
                .unwrap_or(false)
        })
    }
}

const TRANSFER_SELECT: &str = "SELECT t.id, t.item_id, i.name, i.unit, t.from_site_id, fs.name, t.to_site_id, \
     ts.name, t.quantity, t.state, t.note, t.sent_at, t.sent_by, t.done_at, t.done_by, t.from_path, t.to_path \
     FROM supply_transfer t JOIN supply_item i ON i.id = t.item_id \
     JOIN supply_site fs ON fs.id = t.from_site_id JOIN supply_site ts ON ts.id = t.to_site_id";

fn transfer_from_row(r: &sqlx::any::AnyRow) -> Result<Transfer, StoreError> {
    Ok(Transfer {
        id: r.try_get(0)?,
        item_id: r.try_get(1)?,
        item_name: r.try_get(2)?,
        unit: r.try_get(3)?,
        from_site_id: r.try_get(4)?,
        from_site_name: r.try_get(5)?,
        to_site_id: r.try_get(6)?,
        to_site_name: r.try_get(7)?,
        quantity: r.try_get(8)?,
        state: r.try_get::<String, _>(9)?.parse().map_err(internal)?,
        note: r.try_get(10)?,
        sent_at: r.try_get(11)?,
        sent_by: r.try_get(12)?,
        done_at: r.try_get(13)?,
        done_by: r.try_get(14)?,
        from_path: r.try_get(15)?,
        to_path: r.try_get(16)?,
    })
}

/// A transfer the caller may read (either end in their jurisdiction); else `NotFound`.
pub async fn get_transfer(db: &Db, scope: &Scope, id: i64) -> Result<Transfer, StoreError> {
    let row = sqlx::query(&format!("{TRANSFER_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    match row.as_ref().map(transfer_from_row).transpose()? {
        Some(t) if t.readable_by(scope) => Ok(t),
        _ => Err(StoreError::NotFound),
    }
}

/// A transfer as asked for.
#[derive(Debug, Clone)]
pub struct TransferInput<'a> {
    pub from_site_id: i64,
    pub to_site_id: i64,
    pub item_id: i64,
    pub quantity: Quantity,
    pub note: Option<&'a str>,
}

/// Sends a transfer: the stock leaves the source at once (a conflict if it is not there) and
/// is in transit until received or cancelled. The destination may lie outside the sender's
/// jurisdiction (a street supplies its communities; a community helps its neighbour) but in
/// the same district tree. Audited.
pub async fn send_transfer(
    db: &Db,
    scope: &Scope,
    input: &TransferInput<'_>,
    now: i64,
) -> Result<Transfer, StoreError> {
    let from = dispatch_site(db, scope, input.from_site_id).await?;
    let to = destination(db, &from, input.to_site_id, "to_site_id").await?;
    let item = item(db, input.item_id, "item_id").await?;
    let note = clean_note(input.note)?;
    let mut tx = db.begin_write().await?;
    let t = send_in(
        &mut tx,
        scope,
        &from,
        &to,
        &item,
        input.quantity.get(),
        note,
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// The source of a transfer: readable (else `NotFound`) and one the caller may dispatch from.
async fn dispatch_site(db: &Db, scope: &Scope, id: i64) -> Result<Site, StoreError> {
    let from = get_site(db, scope, id).await?;
    if !can_dispatch_from(scope, &from.node_path, from.kind) {
        return Err(StoreError::Forbidden("您不能从这个物资点调出物资".into()));
    }
    Ok(from)
}

/// A transfer's destination: another site of the same district tree.
async fn destination(db: &Db, from: &Site, id: i64, field: &str) -> Result<Site, StoreError> {
    let to = match load_site(db, id).await? {
        Some(s) if s.node_path.root_id() == from.node_path.root_id() => s,
        _ => return Err(StoreError::invalid(field, "没有这个接收物资点")),
    };
    if to.id == from.id {
        return Err(StoreError::invalid(field, "调出和接收不能是同一个物资点"));
    }
    Ok(to)
}

/// Sends one transfer inside `tx`: the source's balance first (conditional), then the transfer,
/// its ledger entry and its audit entry.
#[allow(clippy::too_many_arguments)]
async fn send_in(
    tx: &mut Tx<'_>,
    scope: &Scope,
    from: &Site,
    to: &Site,
    item: &Item,
    q: i64,
    note: Option<String>,
    allocation: Option<&serde_json::Value>,
    now: i64,
) -> Result<Transfer, StoreError> {
    let balance = apply(tx, from, item.id, -q, now).await?;
    let row = sqlx::query(
        "INSERT INTO supply_transfer (item_id, from_site_id, to_site_id, district_id, from_path, to_path, \
         quantity, state, note, sent_at, sent_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         RETURNING id",
    )
    .bind(item.id)
    .bind(from.id)
    .bind(to.id)
    .bind(from.node_path.root_id())
    .bind(from.node_path.as_str())
    .bind(to.node_path.as_str())
    .bind(q)
    .bind(TransferState::Sent.as_str())
    .bind(note.as_deref())
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    append(
        tx,
        scope,
        from,
        item.id,
        EntryKind::TransferOut,
        -q,
        None,
        note.as_deref(),
        Some(id),
        balance,
        now,
    )
    .await?;
    let mut detail =
        json!({"from_site_id": from.id, "to_site_id": to.id, "item_id": item.id, "quantity": q});
    if let (Some(a), Some(obj)) = (allocation, detail.as_object_mut()) {
        obj.insert("allocation".into(), a.clone());
    }
    audit::record(
        &mut **tx,
        AuditEntry::by(scope, "supply_transfer.send", "supply_transfer")
            .entity_id(id)
            .node_path(&from.node_path)
            .detail(detail),
        now,
    )
    .await?;
    Ok(Transfer {
        id,
        item_id: item.id,
        item_name: item.name.clone(),
        unit: item.unit.clone(),
        from_site_id: from.id,
        from_site_name: from.name.clone(),
        to_site_id: to.id,
        to_site_name: to.name.clone(),
        quantity: q,
        state: TransferState::Sent,
        note,
        sent_at: now,
        sent_by: scope.actor().to_owned(),
        done_at: None,
        done_by: None,
        from_path: from.node_path.as_str().to_owned(),
        to_path: to.node_path.as_str().to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Allocation from a reserve
// ---------------------------------------------------------------------------------------------

/// A community store a reserve may supply, with what the allocation weighs.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub site: Site,
    /// People under observation (open observations) in the community.
    pub observed: i64,
    /// The item at the store, plus what is in transit to it (`stock + in_transit`).
    pub on_hand: i64,
    /// The item at the store.
    pub stock: i64,
    /// The item sent to the store and not yet received.
    pub in_transit: i64,
}

/// What an allocation from a reserve starts from: the reserve, how much of the item it holds,
/// and the community stores under its node (one per community, the first by name) with their
/// people under observation and stock. Only for a caller who may dispatch from the reserve.
pub async fn allocation_basis(
    db: &Db,
    scope: &Scope,
    reserve_id: i64,
    item_id: i64,
) -> Result<(Site, i64, Vec<Recipient>), StoreError> {
    let reserve = dispatch_site(db, scope, reserve_id).await?;
    if reserve.kind != SiteKind::Reserve {
        return Err(StoreError::invalid(
            "site_id",
            "只有储备库可以向社区按需分配",
        ));
    }
    let item = item(db, item_id, "item_id").await?;
    let available = site_sums(
        db,
        "SELECT item_id, quantity FROM supply_balance WHERE site_id = $1",
        reserve.id,
        None,
    )
    .await?
    .get(&item.id)
    .copied()
    .unwrap_or(0);
    let (lo, hi) = reserve.node_path.subtree_bounds();
    let in_transit = sql_names(TransferState::IN_TRANSIT, TransferState::as_str);
    let rows = sqlx::query(&format!(
        "{SITE_SELECT} WHERE s.node_path >= $1 AND s.node_path < $2 AND s.kind IN ({}) \
         AND n.kind IN ({}) ORDER BY s.node_path, s.name, s.id",
        sql_names([SiteKind::Store], SiteKind::as_str),
        sql_names([NodeKind::Community], NodeKind::as_str),
    ))
    .bind(lo)
    .bind(hi)
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<Recipient> = Vec::new();
    for r in &rows {
        let site = site_from_row(r)?;
        if out.iter().any(|x| x.site.node_id == site.node_id) || !scope.can_read(&site.node_path) {
            continue;
        }
        let (clo, chi) = site.node_path.subtree_bounds();
        let observed: i64 = sqlx::query(
            "SELECT COUNT(*) FROM observation WHERE node_path >= $1 AND node_path < $2 AND released_on IS NULL",
        )
        .bind(clo)
        .bind(chi)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
        let row = sqlx::query(&format!(
            "SELECT CAST(COALESCE((SELECT SUM(quantity) FROM supply_balance WHERE site_id = $1 AND item_id = $2), 0) AS BIGINT), \
             CAST(COALESCE((SELECT SUM(quantity) FROM supply_transfer WHERE to_site_id = $1 AND item_id = $2 AND state IN ({in_transit})), 0) AS BIGINT)",
        ))
        .bind(site.id)
        .bind(item.id)
        .fetch_one(db.pool())
        .await?;
        let (stock, in_transit): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        out.push(Recipient {
            site,
            observed,
            on_hand: stock + in_transit,
            stock,
            in_transit,
        });
    }
    Ok((reserve, available, out))
}

/// Turns an approved allocation into transfers from the reserve, all in one transaction: every
/// line is sent or none (a line beyond what is left is a conflict). Each transfer is audited
/// with the allocation it belongs to.
pub async fn send_allocation(
    db: &Db,
    scope: &Scope,
    reserve_id: i64,
    item_id: i64,
    lines: &[(i64, Quantity)],
    now: i64,
) -> Result<Vec<Transfer>, StoreError> {
    let reserve = dispatch_site(db, scope, reserve_id).await?;
    let item = item(db, item_id, "item_id").await?;
    if lines.is_empty() {
        return Err(StoreError::invalid("quantity", "没有要分配的数量"));
    }
    let mut targets = Vec::new();
    for (to, q) in lines {
        targets.push((destination(db, &reserve, *to, "to_site_id").await?, q.get()));
    }
    let total: i64 = targets.iter().map(|(_, q)| q).sum();
    let summary = json!({"lines": targets.len(), "total": total});
    let mut tx = db.begin_write().await?;
    let mut out = Vec::new();
    for (to, q) in &targets {
        out.push(
            send_in(
                &mut tx,
                scope,
                &reserve,
                to,
                &item,
                *q,
                Some("按需分配".to_owned()),
                Some(&summary),
                now,
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// Ends a transfer in transit: `received` adds it at the destination, `cancelled` returns it to
/// the source. Only a transfer still in transit can end; the state change comes first in the
/// transaction and is conditional, so a transfer is received or cancelled once only.
async fn finish_transfer(
    db: &Db,
    scope: &Scope,
    id: i64,
    action: TransferAction,
    now: i64,
) -> Result<Transfer, StoreError> {
    let t = get_transfer(db, scope, id).await?;
    let (site_id, kind) = match action {
        TransferAction::Receive => (t.to_site_id, EntryKind::TransferIn),
        TransferAction::Cancel => (t.from_site_id, EntryKind::TransferReturn),
    };
    let site = load_site(db, site_id).await?.ok_or(StoreError::NotFound)?;
    let allowed = match action {
        TransferAction::Receive => can_write_at(scope, &site.node_path),
        TransferAction::Cancel => can_dispatch_from(scope, &site.node_path, site.kind),
    };
    if !allowed {
        return Err(StoreError::Forbidden(match action {
            TransferAction::Receive => "只有接收方物资点的工作人员可以确认接收".into(),
            TransferAction::Cancel => "只有调出方可以取消调拨".into(),
        }));
    }
    let outcome = t.state.apply(action).map_err(state_conflict)?;
    let mut tx = db.begin_write().await?;
    // Conditional on the states the action starts from: of two callers racing, one changes
    // the row and the other gets the conflict below.
    let changed = sqlx::query(&format!(
        "UPDATE supply_transfer SET state = $1, done_at = $2, done_by = $3 WHERE id = $4 AND state IN ({})",
        sql_names(action.from_states(), TransferState::as_str)
    ))
    .bind(outcome.as_str())
    .bind(now)
    .bind(scope.actor())
    .bind(t.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict {
            field: "state".into(),
            message: "该调拨已接收或已取消".into(),
        });
    }
    let balance = apply(&mut tx, &site, t.item_id, t.quantity, now).await?;
    append(
        &mut tx,
        scope,
        &site,
        t.item_id,
        kind,
        t.quantity,
        None,
        None,
        Some(t.id),
        balance,
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(
            scope,
            &format!("supply_transfer.{}", action.as_str()),
            "supply_transfer",
        )
        .entity_id(t.id)
        .node_path(&site.node_path)
        .detail(json!({"site_id": site.id, "item_id": t.item_id, "quantity": t.quantity})),
        now,
    )
    .await?;
    Ok(Transfer {
        state: outcome,
        done_at: Some(now),
        done_by: Some(scope.actor().to_owned()),
        ..t
    })
}

/// Receives a transfer at its destination (staff or admins there).
pub async fn receive_transfer(
    db: &Db,
    scope: &Scope,
    id: i64,
    now: i64,
) -> Result<Transfer, StoreError> {
    finish_transfer(db, scope, id, TransferAction::Receive, now).await
}

/// Cancels a transfer still in transit; the stock returns to its source.
pub async fn cancel_transfer(
    db: &Db,
    scope: &Scope,
    id: i64,
    now: i64,
) -> Result<Transfer, StoreError> {
    finish_transfer(db, scope, id, TransferAction::Cancel, now).await
}

/// Transfers from or to a site under `node_id`, newest first; `state` narrows.
pub async fn transfers(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    state: Option<&str>,
) -> Result<Vec<Transfer>, StoreError> {
    let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<TransferState>()?),
        None => None,
    };
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let mut params = Params::new();
    let lo = params.text(lo);
    let hi = params.text(hi);
    let state_filter = match state {
        Some(s) => format!(" AND t.state = {}", params.text(s.as_str())),
        None => String::new(),
    };
    let sql = format!(
        "{TRANSFER_SELECT} WHERE ((t.from_path >= {lo} AND t.from_path < {hi}) OR (t.to_path >= {lo} AND t.to_path < {hi})){state_filter} \
         ORDER BY t.id DESC LIMIT 500"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in &rows {
        let t = transfer_from_row(r)?;
        if t.readable_by(scope) {
            out.push(t);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Stock
// ---------------------------------------------------------------------------------------------

/// One item's stock summed over a subtree.
#[derive(Debug, Clone, Serialize)]
pub struct StockLine {
    pub item: Item,
    /// On hand at the sites of the subtree.
    pub quantity: i64,
    /// Sent to a site of the subtree and not yet received.
    pub in_transit: i64,
    /// Sites of the subtree below their threshold for this item.
    pub low_sites: i64,
}

async fn sums_by_item(
    db: &Db,
    sql: &str,
    lo: &str,
    hi: &str,
) -> Result<BTreeMap<i64, i64>, StoreError> {
    let rows = sqlx::query(sql)
        .bind(lo)
        .bind(hi)
        .fetch_all(db.pool())
        .await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        out.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    Ok(out)
}

/// Every item with its stock summed over the subtree of `node_id` (a node in scope): on hand,
/// in transit towards it, and how many of its sites are below their threshold.
pub async fn stock(db: &Db, scope: &Scope, node_id: i64) -> Result<Vec<StockLine>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
    let on_hand = sums_by_item(
        db,
        "SELECT item_id, CAST(SUM(quantity) AS BIGINT) FROM supply_balance \
         WHERE node_path >= $1 AND node_path < $2 GROUP BY item_id",
        &lo,
        &hi,
    )
    .await?;
    let transit = sums_by_item(
        db,
        &format!(
            "SELECT item_id, CAST(SUM(quantity) AS BIGINT) FROM supply_transfer \
             WHERE state IN ({}) AND to_path >= $1 AND to_path < $2 GROUP BY item_id",
            sql_names(TransferState::IN_TRANSIT, TransferState::as_str)
        ),
        &lo,
        &hi,
    )
    .await?;
    let low = sums_by_item(
        db,
        "SELECT t.item_id, COUNT(*) FROM supply_threshold t JOIN supply_site s ON s.id = t.site_id \
         LEFT JOIN supply_balance b ON b.site_id = t.site_id AND b.item_id = t.item_id \
         WHERE s.node_path >= $1 AND s.node_path < $2 AND COALESCE(b.quantity, 0) < t.minimum \
         GROUP BY t.item_id",
        &lo,
        &hi,
    )
    .await?;
    Ok(items(db)
        .await?
        .into_iter()
        .map(|item| StockLine {
            quantity: on_hand.get(&item.id).copied().unwrap_or(0),
            in_transit: transit.get(&item.id).copied().unwrap_or(0),
            low_sites: low.get(&item.id).copied().unwrap_or(0),
            item,
        })
        .collect())
}

/// One item at one site: balance, threshold, recent issues and what they mean.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStockLine {
    pub item: Item,
    pub quantity: i64,
    /// Sent to this site, not yet received.
    pub in_transit: i64,
    pub minimum: Option<i64>,
    /// Issued in the last [`COVER_WINDOW_DAYS`] days.
    pub issued_recently: i64,
    pub days_of_cover: Option<i64>,
}

impl SiteStockLine {
    pub fn is_low(&self) -> bool {
        self.minimum.is_some_and(|m| self.quantity < m)
    }
}

async fn site_sums(
    db: &Db,
    sql: &str,
    site_id: i64,
    extra: Option<i64>,
) -> Result<BTreeMap<i64, i64>, StoreError> {
    let mut q = sqlx::query(sql).bind(site_id);
    if let Some(x) = extra {
        q = q.bind(x);
    }
    let rows = q.fetch_all(db.pool()).await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        out.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    Ok(out)
}

/// Every item at a site the caller may read: balance, threshold, issues of the last two weeks
/// and the days of cover they give.
pub async fn site_stock(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    now: i64,
) -> Result<Vec<SiteStockLine>, StoreError> {
    let site = get_site(db, scope, site_id).await?;
    let balances = site_sums(
        db,
        "SELECT item_id, quantity FROM supply_balance WHERE site_id = $1",
        site.id,
        None,
    )
    .await?;
    let transit = site_sums(
        db,
        &format!(
            "SELECT item_id, CAST(SUM(quantity) AS BIGINT) FROM supply_transfer \
             WHERE to_site_id = $1 AND state IN ({}) GROUP BY item_id",
            sql_names(TransferState::IN_TRANSIT, TransferState::as_str)
        ),
        site.id,
        None,
    )
    .await?;
    let minimums = site_sums(
        db,
        "SELECT item_id, minimum FROM supply_threshold WHERE site_id = $1",
        site.id,
        None,
    )
    .await?;
    let since = now - COVER_WINDOW_DAYS * 86_400_000;
    let issued = site_sums(
        db,
        &format!(
            "SELECT item_id, CAST(SUM(-delta) AS BIGINT) FROM supply_ledger \
             WHERE site_id = $1 AND kind IN ({}) AND at >= $2 GROUP BY item_id",
            sql_names([EntryKind::Issue], EntryKind::as_str)
        ),
        site.id,
        Some(since),
    )
    .await?;
    Ok(items(db)
        .await?
        .into_iter()
        .map(|item| {
            let quantity = balances.get(&item.id).copied().unwrap_or(0);
            let issued_recently = issued.get(&item.id).copied().unwrap_or(0);
            SiteStockLine {
                quantity,
                in_transit: transit.get(&item.id).copied().unwrap_or(0),
                minimum: minimums.get(&item.id).copied(),
                issued_recently,
                days_of_cover: days_of_cover(quantity, issued_recently, COVER_WINDOW_DAYS),
                item,
            }
        })
        .collect())
}

/// Sets (or with `None` clears) the low-stock threshold of an item at a site. Audited.
pub async fn set_threshold(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    item_id: i64,
    minimum: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let site = writable_site(db, scope, site_id).await?;
    let item = item(db, item_id, "item_id").await?;
    if let Some(m) = minimum {
        if !(0..=linli_core::supplies::MAX_QUANTITY).contains(&m) {
            return Err(StoreError::invalid("minimum", "预警下限应为 0 或正整数"));
        }
    }
    let mut tx = db.begin_write().await?;
    match minimum {
        Some(m) => {
            sqlx::query(
                "INSERT INTO supply_threshold (site_id, item_id, minimum, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site_id, item_id) DO UPDATE SET \
                 minimum = excluded.minimum, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(site.id)
            .bind(item.id)
            .bind(m)
            .bind(now)
            .bind(scope.actor())
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM supply_threshold WHERE site_id = $1 AND item_id = $2")
                .bind(site.id)
                .bind(item.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "supply_threshold.set", "supply_site")
            .entity_id(site.id)
            .node_path(&site.node_path)
            .detail(json!({"item_id": item.id, "minimum": minimum})),
        now,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Consistency
// ---------------------------------------------------------------------------------------------

/// A site and item whose cached balance differs from the sum of its ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub site_id: i64,
    pub item_id: i64,
    pub cached: i64,
    pub ledger: i64,
}

/// Compares every cached balance within the caller's jurisdiction with the sum of its ledger
/// entries (and every ledger sum with its cached balance); an empty answer proves them equal.
pub async fn consistency_check(db: &Db, scope: &Scope) -> Result<Vec<Mismatch>, StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "node_path", &mut params);
    let ledger_rows = params
        .bind(sqlx::query(&format!(
            "SELECT site_id, item_id, CAST(SUM(delta) AS BIGINT) FROM supply_ledger WHERE {filter} \
             GROUP BY site_id, item_id"
        )))
        .fetch_all(db.pool())
        .await?;
    let cached_rows = params
        .bind(sqlx::query(&format!(
            "SELECT site_id, item_id, quantity FROM supply_balance WHERE {filter}"
        )))
        .fetch_all(db.pool())
        .await?;
    let mut sums: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    for r in &ledger_rows {
        let key = (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
        sums.entry(key).or_default().1 = r.try_get(2)?;
    }
    for r in &cached_rows {
        let key = (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
        sums.entry(key).or_default().0 = r.try_get(2)?;
    }
    Ok(sums
        .into_iter()
        .filter(|(_, (c, l))| c != l)
        .map(|((site_id, item_id), (cached, ledger))| Mismatch {
            site_id,
            item_id,
            cached,
            ledger,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Requests from a community to its street
// ---------------------------------------------------------------------------------------------

/// One line of a request: requested, approved (once decided) and fulfilled so far.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLine {
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub requested: i64,
    pub approved: Option<i64>,
    pub fulfilled: i64,
}

/// A request as read back.
#[derive(Debug, Clone, Serialize)]
pub struct SupplyRequest {
    pub id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub to_node_id: i64,
    pub state: RequestState,
    pub note: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub decided_by: Option<String>,
    pub lines: Vec<RequestLine>,
    #[serde(skip)]
    node_path: String,
    #[serde(skip)]
    to_path: String,
}

impl SupplyRequest {
    fn path(raw: &str) -> Option<JurisdictionPath> {
        JurisdictionPath::parse(raw).ok()
    }

    fn readable_by(&self, scope: &Scope) -> bool {
        [&self.node_path, &self.to_path]
            .iter()
            .any(|p| Self::path(p).is_some_and(|p| scope.can_read(&p)))
    }

    /// The requesting side may edit and submit (staff and admins at the site).
    pub fn requestable_by(&self, scope: &Scope) -> bool {
        Self::path(&self.node_path).is_some_and(|p| can_write_at(scope, &p))
    }

    /// The street's officials (and admins) decide and fulfil.
    pub fn decidable_by(&self, scope: &Scope) -> bool {
        Self::path(&self.to_path).is_some_and(|p| can_decide_request(scope, &p))
    }
}

async fn load_request(db: &Db, id: i64) -> Result<Option<SupplyRequest>, StoreError> {
    let Some(r) = sqlx::query(
        "SELECT r.id, r.site_id, s.name, r.to_node_id, r.state, r.note, r.created_at, r.created_by, \
         r.decided_by, r.node_path, r.to_path FROM supply_request r JOIN supply_site s ON s.id = r.site_id \
         WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let lines = sqlx::query(
        "SELECT l.item_id, i.name, i.unit, l.requested, l.approved, l.fulfilled FROM supply_request_line l \
         JOIN supply_item i ON i.id = l.item_id WHERE l.request_id = $1 ORDER BY l.id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|l| {
        Ok(RequestLine {
            item_id: l.try_get(0)?,
            item_name: l.try_get(1)?,
            unit: l.try_get(2)?,
            requested: l.try_get(3)?,
            approved: l.try_get(4)?,
            fulfilled: l.try_get(5)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(SupplyRequest {
        id: r.try_get(0)?,
        site_id: r.try_get(1)?,
        site_name: r.try_get(2)?,
        to_node_id: r.try_get(3)?,
        state: r.try_get::<String, _>(4)?.parse().map_err(internal)?,
        note: r.try_get(5)?,
        created_at: r.try_get(6)?,
        created_by: r.try_get(7)?,
        decided_by: r.try_get(8)?,
        node_path: r.try_get(9)?,
        to_path: r.try_get(10)?,
        lines,
    }))
}

/// A request the caller may read (the requesting site or the street asked is theirs).
pub async fn get_request(db: &Db, scope: &Scope, id: i64) -> Result<SupplyRequest, StoreError> {
    match load_request(db, id).await? {
        Some(r) if r.readable_by(scope) => Ok(r),
        _ => Err(StoreError::NotFound),
    }
}

/// Drafts a request from a site to the street above it (staff and admins at the site): one line
/// per item, each item once. Audited.
pub async fn create_request(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    lines: &[(i64, Quantity)],
    note: Option<&str>,
    now: i64,
) -> Result<SupplyRequest, StoreError> {
    let site = writable_site(db, scope, site_id).await?;
    if lines.is_empty() {
        return Err(StoreError::invalid("lines", "请至少申领一种物资"));
    }
    let mut seen = Vec::new();
    for (item_id, _) in lines {
        item(db, *item_id, "item_id").await?;
        if seen.contains(item_id) {
            return Err(StoreError::invalid("item_id", "同一种物资只能申领一行"));
        }
        seen.push(*item_id);
    }
    let note = clean_note(note)?;
    // The street above the site: its nearest ancestor of kind street.
    let mut street = None;
    for id in site.node_path.ids().into_iter().rev() {
        let node = crate::tree::get(db, &Scope::operator(), id).await?;
        if node.kind == NodeKind::Street {
            street = Some(node);
            break;
        }
    }
    let street = street
        .ok_or_else(|| StoreError::invalid("site_id", "该物资点上级没有街道，无法向街道申领"))?;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO supply_request (site_id, to_node_id, district_id, node_path, to_path, state, note, \
         created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(site.id)
    .bind(street.id)
    .bind(site.node_path.root_id())
    .bind(site.node_path.as_str())
    .bind(street.path.as_str())
    .bind(RequestState::Draft.as_str())
    .bind(note.as_deref())
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    for (item_id, q) in lines {
        sqlx::query(
            "INSERT INTO supply_request_line (request_id, item_id, requested) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(item_id)
        .bind(q.get())
        .execute(&mut *tx)
        .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "supply_request.create", "supply_request")
            .entity_id(id)
            .node_path(&site.node_path)
            .detail(json!({"site_id": site.id, "lines": lines.len()})),
        now,
    )
    .await?;
    get_request(db, scope, id).await
}

/// Applies `action` to a request inside `tx` (core's lifecycle refuses first, naming both the
/// state and the action), or says it is no longer where the caller saw it.
async fn move_request(
    tx: &mut Tx<'_>,
    scope: &Scope,
    r: &SupplyRequest,
    action: RequestAction,
    now: i64,
) -> Result<RequestState, StoreError> {
    let to = r.state.apply(action).map_err(state_conflict)?;
    // Conditional on the states the action starts from: of two callers racing, one changes
    // the row and the other gets the conflict below.
    let states = sql_names(action.from_states(), RequestState::as_str);
    // A decision records who took it; a submission only when.
    let q = if action.is_decision() {
        sqlx::query(&format!(
            "UPDATE supply_request SET state = $1, decided_at = $2, decided_by = $3 WHERE id = $4 AND state IN ({states})"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(scope.actor())
        .bind(r.id)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(&format!(
            "UPDATE supply_request SET state = $1, submitted_at = $2 WHERE id = $3 AND state IN ({states})"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(r.id)
        .execute(&mut **tx)
        .await?
    };
    let changed = q.rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict {
            field: "state".into(),
            message: format!("该申领当前为「{}」，不能这样办理", r.state.label_zh()),
        });
    }
    Ok(to)
}

/// Submits a draft to the street (the requesting side). Audited.
pub async fn submit_request(
    db: &Db,
    scope: &Scope,
    id: i64,
    now: i64,
) -> Result<SupplyRequest, StoreError> {
    let r = get_request(db, scope, id).await?;
    if !r.requestable_by(scope) {
        return Err(StoreError::Forbidden("只有申领的物资点可以提交".into()));
    }
    let mut tx = db.begin_write().await?;
    move_request(&mut tx, scope, &r, RequestAction::Submit, now).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "supply_request.submit", "supply_request").entity_id(r.id),
        now,
    )
    .await?;
    get_request(db, scope, id).await
}

/// Decides a submitted request (the street's officials, admins): the quantity approved per item
/// (at most what was asked; items left out get 0). All zero is a refusal. Audited.
pub async fn approve_request(
    db: &Db,
    scope: &Scope,
    id: i64,
    approved: &[(i64, i64)],
    now: i64,
) -> Result<SupplyRequest, StoreError> {
    let r = get_request(db, scope, id).await?;
    if !r.decidable_by(scope) {
        return Err(StoreError::Forbidden("只有街道干部可以审批申领".into()));
    }
    let mut decided = Vec::new();
    for line in &r.lines {
        let q = approved
            .iter()
            .find(|(item, _)| *item == line.item_id)
            .map(|(_, q)| *q)
            .unwrap_or(0);
        if q < 0 || q > line.requested {
            return Err(StoreError::invalid(
                "quantity",
                format!(
                    "{}的批准数量应在 0 至 {} 之间",
                    line.item_name, line.requested
                ),
            ));
        }
        decided.push((line.item_id, q));
    }
    let quantities: Vec<i64> = decided.iter().map(|(_, q)| *q).collect();
    let mut tx = db.begin_write().await?;
    let outcome = move_request(
        &mut tx,
        scope,
        &r,
        RequestAction::decision(&quantities),
        now,
    )
    .await?;
    for (item_id, q) in &decided {
        sqlx::query(
            "UPDATE supply_request_line SET approved = $1 WHERE request_id = $2 AND item_id = $3",
        )
        .bind(q)
        .bind(r.id)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "supply_request.approve", "supply_request")
            .entity_id(r.id)
            .detail(json!({"state": outcome.as_str(), "approved": decided})),
        now,
    )
    .await?;
    get_request(db, scope, id).await
}

/// Fulfils an approved request, fully or in part, with transfers from a reserve the caller
/// dispatches from to the requesting site, in one transaction: no line beyond what is still
/// approved and not sent, and every transfer sent or none. Audited.
pub async fn fulfil_request(
    db: &Db,
    scope: &Scope,
    id: i64,
    from_site_id: i64,
    lines: &[(i64, Quantity)],
    now: i64,
) -> Result<SupplyRequest, StoreError> {
    let r = get_request(db, scope, id).await?;
    if !r.decidable_by(scope) {
        return Err(StoreError::Forbidden("只有街道干部可以发放申领".into()));
    }
    let from = dispatch_site(db, scope, from_site_id).await?;
    let to = destination(db, &from, r.site_id, "from_site_id").await?;
    if lines.is_empty() {
        return Err(StoreError::invalid("quantity", "没有要发放的数量"));
    }
    let mut sends = Vec::new();
    for (item_id, q) in lines {
        let Some(line) = r.lines.iter().find(|l| l.item_id == *item_id) else {
            return Err(StoreError::invalid("item_id", "申领中没有这种物资"));
        };
        let open = line.approved.unwrap_or(0) - line.fulfilled;
        if q.get() > open {
            return Err(StoreError::invalid(
                "quantity",
                format!("{}还可发放 {open}，不能发放 {}", line.item_name, q.get()),
            ));
        }
        sends.push((item(db, *item_id, "item_id").await?, q.get()));
    }
    let all_done = r.lines.iter().all(|l| {
        let sent_now: i64 = sends
            .iter()
            .filter(|(i, _)| i.id == l.item_id)
            .map(|(_, q)| q)
            .sum();
        l.fulfilled + sent_now >= l.approved.unwrap_or(0)
    });
    let summary = json!({"request_id": r.id});
    let mut tx = db.begin_write().await?;
    move_request(&mut tx, scope, &r, RequestAction::fulfilment(all_done), now).await?;
    for (item, q) in &sends {
        // Conditional on what is still open, so two officials cannot both fulfil the rest.
        let changed = sqlx::query(
            "UPDATE supply_request_line SET fulfilled = fulfilled + $1 \
             WHERE request_id = $2 AND item_id = $3 AND fulfilled + $1 <= approved",
        )
        .bind(q)
        .bind(r.id)
        .bind(item.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict {
                field: "state".into(),
                message: "该申领已由他人发放".into(),
            });
        }
        send_in(
            &mut tx,
            scope,
            &from,
            &to,
            item,
            *q,
            Some(format!("申领 #{}", r.id)),
            Some(&summary),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    get_request(db, scope, id).await
}

/// Requests from sites under `node_id`, or addressed to it or a street under it, newest first.
pub async fn requests(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Vec<SupplyRequest>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let ids = sqlx::query(
        "SELECT id FROM supply_request WHERE (node_path >= $1 AND node_path < $2) \
         OR (to_path >= $1 AND to_path < $2) ORDER BY id DESC LIMIT 200",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &ids {
        if let Some(req) = load_request(db, r.try_get(0)?).await? {
            if req.readable_by(scope) {
                out.push(req);
            }
        }
    }
    Ok(out)
}
