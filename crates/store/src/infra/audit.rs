//! The audit log: append-only (the database itself refuses updates and deletes), one row per
//! login, failed login, user or node change — and, as later areas arrive, per unmask and export.

use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use sqlx::Row;

use crate::infra::db::Params;
use crate::{Db, Page, StoreError};

/// An entry about to be written.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    actor_id: Option<i64>,
    actor: String,
    action: String,
    entity: String,
    entity_id: Option<i64>,
    node_path: Option<String>,
    ip: Option<String>,
    detail: serde_json::Value,
}

impl AuditEntry {
    /// An action taken by the holder of `scope`.
    pub fn by(scope: &Scope, action: &str, entity: &str) -> AuditEntry {
        AuditEntry::by_name(scope.user_id(), scope.actor(), action, entity)
    }

    /// An action by someone without a scope yet (a login attempt).
    pub fn by_name(actor_id: Option<i64>, actor: &str, action: &str, entity: &str) -> AuditEntry {
        AuditEntry {
            actor_id,
            actor: actor.to_owned(),
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: None,
            node_path: None,
            ip: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn entity_id(mut self, id: i64) -> Self {
        self.entity_id = Some(id);
        self
    }

    pub fn node_path(mut self, path: &JurisdictionPath) -> Self {
        self.node_path = Some(path.as_str().to_owned());
        self
    }

    pub fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Writes one entry at `now` (the time of the change it records, which the caller was given),
/// inside the caller's transaction when given one, so a change and its audit entry commit or
/// fail together.
pub async fn record<'e, E>(exec: E, entry: AuditEntry, now: i64) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (sql, params) = entry.insert(now);
    params.bind_owned(sqlx::query(sql)).execute(exec).await?;
    Ok(())
}

/// Writes `entry` as the last statement of `tx` and commits it: the change and its entry land
/// together or not at all.
pub async fn commit_recorded(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    entry: AuditEntry,
    now: i64,
) -> Result<(), StoreError> {
    record(&mut *tx, entry, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs `insert` (an `INSERT … RETURNING id`) and writes `entry` about the new row in the same
/// transaction, so a creation and its audit entry commit or fail together; returns the id.
pub async fn insert_recorded<'q>(
    conn: &mut sqlx::AnyConnection,
    insert: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    entry: AuditEntry,
    now: i64,
) -> Result<i64, StoreError> {
    insert_recorded_or(conn, insert, entry, now, StoreError::Db).await
}

/// [`insert_recorded`], with the insert's own failure (mostly a taken unique name) turned into
/// the refusal the caller words.
pub async fn insert_recorded_or<'q>(
    conn: &mut sqlx::AnyConnection,
    insert: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    entry: AuditEntry,
    now: i64,
    refusal: impl FnOnce(sqlx::Error) -> StoreError + Send,
) -> Result<i64, StoreError> {
    let row = insert.fetch_one(&mut *conn).await.map_err(refusal)?;
    let id: i64 = row.try_get(0)?;
    record(&mut *conn, entry.entity_id(id), now).await?;
    Ok(id)
}

impl AuditEntry {
    /// The statement that writes the entry, and its values (also run on connections outside
    /// sqlx's `Any`: the PostgreSQL roster import's).
    pub(crate) fn insert(self, now: i64) -> (&'static str, Params) {
        let mut params = Params::new();
        params.int(now);
        params.opt_int(self.actor_id);
        params.text(self.actor);
        params.text(self.action);
        params.text(self.entity);
        params.opt_int(self.entity_id);
        params.opt_text(self.node_path);
        params.opt_text(self.ip);
        params.text(self.detail.to_string());
        (
            "INSERT INTO audit (at, actor_id, actor, action, entity, entity_id, node_path, ip, detail_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params,
        )
    }
}

/// One entry as read back.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub node_path: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actions starting with this (`login`, `node.`).
    pub action_prefix: Option<String>,
    pub actor: Option<String>,
    /// Entries about one kind of record (`person`, `node`, `user`) …
    pub entity: Option<String>,
    /// … and, with it, one record.
    pub entity_id: Option<i64>,
    /// Words in the actor's login, the action or the kind of record.
    pub q: Option<String>,
    /// Recorded within `[from, before)` (Unix milliseconds), either end open.
    pub at: (Option<i64>, Option<i64>),
}

/// Who may read the audit: admins everything, officials the entries about their
/// jurisdiction, others nothing.
fn readable(scope: &Scope) -> Result<(), StoreError> {
    if scope.can_read_audit() {
        Ok(())
    } else {
        Err(StoreError::Forbidden("您的角色不能查看审计日志".into()))
    }
}

/// The WHERE clauses of a filter within the caller's scope.
fn clauses(scope: &Scope, filter: &AuditFilter, params: &mut Params) -> Vec<String> {
    let mut clauses = vec![crate::scope_filter(scope, "node_path", params)];
    if let Some(prefix) = filter.action_prefix.as_deref().filter(|p| !p.is_empty()) {
        // Action names are [a-z._]; anything else matches nothing rather than acting as a wildcard.
        let safe: String = prefix
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '.' || *c == '_')
            .collect();
        clauses.push(format!("action LIKE {}", params.text(format!("{safe}%"))));
    }
    if let Some(actor) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
        clauses.push(format!("actor = {}", params.text(actor)));
    }
    if let Some(entity) = filter.entity.as_deref().filter(|e| !e.is_empty()) {
        clauses.push(format!("entity = {}", params.text(entity)));
    }
    if let Some(id) = filter.entity_id {
        clauses.push(format!("entity_id = {}", params.int(id)));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        clauses.push(params.contains_any(&["actor", "action", "entity"], q));
    }
    clauses.extend(params.in_range("at", filter.at));
    clauses
}

const AUDIT_COLUMNS: &str =
    "id, at, actor_id, actor, action, entity, entity_id, node_path, ip, detail_json";

/// The newest entries first, paged by id (`after` is the last id seen). Admins read everything;
/// officials read the entries about their jurisdiction; others nothing.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &AuditFilter,
    page: Page,
) -> Result<Vec<AuditRecord>, StoreError> {
    readable(scope)?;
    let mut params = Params::new();
    let mut clauses = clauses(scope, filter, &mut params);
    if let Some(after) = page.after {
        clauses.push(format!("id < {}", params.int(after)));
    }
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE {} ORDER BY id DESC LIMIT {}",
        clauses.join(" AND "),
        params.int(page.limit)
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    rows.iter().map(record_from_row).collect()
}

/// The entries as a page shows them: `limit` (at most [`crate::MAX_LIST_ROWS`]) from
/// `offset`, newest first, and how many match in all. The same readers as [`list`].
pub async fn page(
    db: &Db,
    scope: &Scope,
    filter: &AuditFilter,
    (limit, offset): (i64, i64),
) -> Result<crate::Listed<AuditRecord>, StoreError> {
    readable(scope)?;
    let (total, rows) = crate::infra::db::counted_page(
        db,
        AUDIT_COLUMNS,
        "audit",
        |params| clauses(scope, filter, params).join(" AND "),
        "id DESC",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(record_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::Listed { items, total })
}

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<AuditRecord, StoreError> {
    let detail: String = r.try_get("detail_json")?;
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor_id: r.try_get("actor_id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        entity: r.try_get("entity")?,
        entity_id: r.try_get("entity_id")?,
        node_path: r.try_get("node_path")?,
        ip: r.try_get("ip")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}
