//! The public affairs ledger (居务公开) and the community's public page (`/c/{code}`).
//!
//! - An **entry** belongs to a community; it is written as a draft (attachments may be added),
//!   then published — by whom and when recorded, audited. A published entry is never changed
//!   or deleted: every write checks the status rule in core and is guarded by
//!   `WHERE status = 'draft'`, so a lost race is a conflict, not a change. A correction is a
//!   new entry whose `corrects_id` names the published entry it corrects; once the correction
//!   is published, the old entry shows 「已更正，见…」.
//! - **Attachments** (PDF, PNG, JPEG by their bytes, 5 MB each, 5 per entry) are stored in the
//!   database beside the entry, like request photos.
//! - **The public page**: a community gets a code on demand (`kernel::token::COMMUNITY_PAGE`),
//!   replaced at will (the old one answers 404 from then on). The page reads published
//!   entries and public notices only: nothing personal.

use linli_core::kernel::clock::format_date;
use linli_core::kernel::labels::Labelled;
use linli_core::kernel::token::{parse_code, COMMUNITY_PAGE};
use linli_core::participation::affairs::{
    attachment_name, attachment_type, Category, EntryAction, EntryDraft, EntryInput, EntryStatus,
    MAX_ATTACHMENTS,
};
use linli_core::{CoreError, JurisdictionPath, NodeKind, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{counted_page, row_by_id, Params};
use crate::infra::errors::internal;
use crate::{scope_filter, Db, Listed, StoreError};

/// An entry as pages, the API and the public page show it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub category: Category,
    pub title: String,
    pub body: String,
    pub period_from: String,
    pub period_until: String,
    pub status: EntryStatus,
    /// The published entry this one corrects.
    pub corrects_id: Option<i64>,
    pub corrects_title: Option<String>,
    /// The latest published entry that corrects this one.
    pub corrected_by_id: Option<i64>,
    pub corrected_by_title: Option<String>,
    pub created_at: i64,
    /// Names of people, not usernames.
    pub created_by: String,
    pub published_at: Option<i64>,
    pub published_by: Option<String>,
    pub attachments: Vec<AttachmentMeta>,
}

/// An attachment without its bytes.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentMeta {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// An attachment with its bytes, to send.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

const SELECT: &str = "SELECT e.id, e.node_id, n.name AS node_name, e.node_path, e.category, \
    e.title, e.body, e.period_from, e.period_until, e.status, e.corrects_id, \
    o.title AS corrects_title, \
    (SELECT MAX(c.id) FROM affair_entry c WHERE c.corrects_id = e.id AND c.status = 'published') \
    AS corrected_by_id, e.created_at, COALESCE(cu.display_name, e.created_by) AS created_by, \
    e.published_at, COALESCE(pu.display_name, e.published_by) AS published_by";
const FROM: &str = "affair_entry e JOIN node n ON n.id = e.node_id \
    LEFT JOIN affair_entry o ON o.id = e.corrects_id \
    LEFT JOIN app_user cu ON cu.username = e.created_by \
    LEFT JOIN app_user pu ON pu.username = e.published_by";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Entry, StoreError> {
    let category: String = r.try_get("category")?;
    let status: String = r.try_get("status")?;
    Ok(Entry {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&r.try_get::<String, _>("node_path")?)
            .map_err(internal)?,
        category: Category::from_code(&category).ok_or_else(|| internal(&category))?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        period_from: r.try_get("period_from")?,
        period_until: r.try_get("period_until")?,
        status: EntryStatus::from_code(&status).ok_or_else(|| internal(&status))?,
        corrects_id: r.try_get("corrects_id")?,
        corrects_title: r.try_get("corrects_title")?,
        corrected_by_id: r.try_get("corrected_by_id")?,
        corrected_by_title: None,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        published_at: r.try_get("published_at")?,
        published_by: r.try_get("published_by")?,
        attachments: Vec::new(),
    })
}

/// The entries of `rows` with their attachments' names and the titles of their corrections.
async fn complete(db: &Db, rows: &[sqlx::any::AnyRow]) -> Result<Vec<Entry>, StoreError> {
    let mut entries: Vec<Entry> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    if entries.is_empty() {
        return Ok(entries);
    }
    let mut p = Params::new();
    let ids: Vec<String> = entries.iter().map(|e| p.int(e.id)).collect();
    let atts = p
        .bind(sqlx::query(&format!(
            "SELECT id, entry_id, name, content_type, size FROM affair_attachment \
             WHERE entry_id IN ({}) ORDER BY id",
            ids.join(", ")
        )))
        .fetch_all(db.pool())
        .await?;
    for a in &atts {
        let entry_id: i64 = a.try_get(1)?;
        if let Some(e) = entries.iter_mut().find(|e| e.id == entry_id) {
            e.attachments.push(AttachmentMeta {
                id: a.try_get(0)?,
                name: a.try_get(2)?,
                content_type: a.try_get(3)?,
                size: a.try_get(4)?,
            });
        }
    }
    for e in &mut entries {
        if let Some(c) = e.corrected_by_id {
            let row = row_by_id(db, "SELECT title FROM affair_entry WHERE id = $1", c).await?;
            e.corrected_by_title = Some(row.try_get(0)?);
        }
    }
    Ok(entries)
}

async fn load(db: &Db, id: i64) -> Result<Entry, StoreError> {
    let row = row_by_id(db, &format!("{SELECT} FROM {FROM} WHERE e.id = $1"), id).await?;
    complete(db, &[row])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// An entry the caller may see (`NotFound` outside the scope).
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Entry, StoreError> {
    let entry = load(db, id).await?;
    if !scope.can_read(&entry.node_path) {
        return Err(StoreError::NotFound);
    }
    Ok(entry)
}

/// An entry the caller may write, in a state that allows `action`.
async fn writable(
    db: &Db,
    scope: &Scope,
    id: i64,
    action: EntryAction,
) -> Result<Entry, StoreError> {
    let entry = get(db, scope, id).await?;
    if !scope.can_write_records(&entry.node_path) {
        return Err(StoreError::Forbidden("您的角色不能管理居务公开".into()));
    }
    entry.status.apply(action)?;
    Ok(entry)
}

/// Writes a new draft entry of a community (`corrects`: the published entry it corrects, of the
/// same community). Refused with every broken field. Audited.
pub async fn create(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    input: EntryInput<'_>,
    corrects: Option<i64>,
    now: i64,
) -> Result<Entry, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    if !scope.can_write_records(&node.path) {
        return Err(StoreError::Forbidden("您的角色不能管理居务公开".into()));
    }
    let mut errors = Vec::new();
    if node.kind != NodeKind::Community {
        errors.push(CoreError::invalid(
            "node_id",
            "居务公开按社区/村发布，请选择社区",
        ));
    } else if !node.is_open() {
        errors.push(CoreError::invalid("node_id", "该社区已撤销"));
    }
    if let Some(old) = corrects {
        match writable(db, scope, old, EntryAction::Correct).await {
            Ok(o) if o.node_id == node.id => {}
            Ok(_) | Err(StoreError::NotFound) => errors.push(CoreError::invalid(
                "corrects_id",
                "被更正的条目应是本社区已公开的条目",
            )),
            Err(StoreError::Invalid(mut e)) => {
                for x in &mut e {
                    x.field = "corrects_id".into();
                }
                errors.append(&mut e);
            }
            Err(e) => return Err(e),
        }
    }
    let draft = match EntryDraft::parse(input) {
        Ok(d) if errors.is_empty() => d,
        Ok(_) => return Err(StoreError::Invalid(errors)),
        Err(mut e) => {
            e.append(&mut errors);
            return Err(StoreError::Invalid(e));
        }
    };
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO affair_entry (node_id, node_path, category, title, body, period_from, \
         period_until, status, corrects_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(node.id)
    .bind(node.path.as_str())
    .bind(draft.category.as_str())
    .bind(&draft.title)
    .bind(&draft.body)
    .bind(format_date(draft.period_from))
    .bind(format_date(draft.period_until))
    .bind(EntryStatus::Draft.as_str())
    .bind(corrects)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "affair.create", "affair")
            .entity_id(id)
            .node_path(&node.path)
            .detail(
                json!({"name": draft.title, "kind": draft.category.as_str(), "corrects": corrects}),
            ),
        now,
    )
    .await?;
    load(db, id).await
}

/// Adds an attachment to a draft (typed by its bytes; 5 MB; 5 per entry). Audited.
pub async fn attach(
    db: &Db,
    scope: &Scope,
    entry_id: i64,
    name: &str,
    bytes: &[u8],
    now: i64,
) -> Result<AttachmentMeta, StoreError> {
    let entry = writable(db, scope, entry_id, EntryAction::Attach).await?;
    let content_type = attachment_type(bytes)?;
    let name = attachment_name(name);
    let mut tx = db.begin_write().await?;
    // Takes the entry's row lock (PostgreSQL) and re-checks it is a draft, so an attachment
    // never lands on an entry published meanwhile.
    let locked =
        sqlx::query("UPDATE affair_entry SET status = status WHERE id = $1 AND status = $2")
            .bind(entry_id)
            .bind(EntryStatus::Draft.as_str())
            .execute(&mut *tx)
            .await?;
    if locked.rows_affected() == 0 {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该条目已公开，不能再添加附件".into(),
        });
    }
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM affair_attachment WHERE entry_id = $1")
        .bind(entry_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    if count >= MAX_ATTACHMENTS as i64 {
        return Err(StoreError::invalid(
            "attachment",
            format!("每个条目最多 {MAX_ATTACHMENTS} 个附件"),
        ));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO affair_attachment (entry_id, name, content_type, bytes, size, created_at, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(entry_id)
    .bind(&name)
    .bind(content_type)
    .bind(bytes.to_vec())
    .bind(bytes.len() as i64)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "affair.attach", "affair")
            .entity_id(entry_id)
            .node_path(&entry.node_path)
            .detail(json!({"name": name, "kind": content_type})),
        now,
    )
    .await?;
    Ok(AttachmentMeta {
        id,
        name,
        content_type: content_type.to_owned(),
        size: bytes.len() as i64,
    })
}

/// Publishes a draft, for good. Audited.
pub async fn publish(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<Entry, StoreError> {
    let entry = writable(db, scope, id, EntryAction::Publish).await?;
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE affair_entry SET status = $1, published_at = $2, published_by = $3 \
         WHERE id = $4 AND status = $5",
    )
    .bind(EntryStatus::Published.as_str())
    .bind(now)
    .bind(scope.actor())
    .bind(id)
    .bind(EntryStatus::Draft.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该条目已公开".into(),
        });
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "affair.publish", "affair")
            .entity_id(id)
            .node_path(&entry.node_path)
            .detail(json!({"name": entry.title})),
        now,
    )
    .await?;
    load(db, id).await
}

/// A ledger list's filters.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub q: Option<String>,
    /// Entries of this community (or of the communities under this node).
    pub node_id: Option<i64>,
    pub category: Option<Category>,
    pub status: Option<EntryStatus>,
    /// Entries whose period ends on or after this day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Entries whose period starts on or before this day.
    pub until: Option<String>,
}

fn conditions(
    filter: &EntryFilter,
    under: Option<&JurisdictionPath>,
    p: &mut Params,
) -> Vec<String> {
    let mut conds = Vec::new();
    if let Some(path) = under {
        let (lo, hi) = path.subtree_bounds();
        conds.push(format!(
            "e.node_path >= {} AND e.node_path < {}",
            p.text(lo),
            p.text(hi)
        ));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = p.text(format!("%{q}%"));
        conds.push(format!("(e.title LIKE {like} OR e.body LIKE {like})"));
    }
    if let Some(c) = filter.category {
        conds.push(format!("e.category = {}", p.text(c.as_str())));
    }
    if let Some(s) = filter.status {
        conds.push(format!("e.status = {}", p.text(s.as_str())));
    }
    if let Some(f) = &filter.from {
        conds.push(format!("e.period_until >= {}", p.text(f.clone())));
    }
    if let Some(u) = &filter.until {
        conds.push(format!("e.period_from <= {}", p.text(u.clone())));
    }
    conds
}

/// The entries the caller sees, newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &EntryFilter,
    page: (i64, i64),
) -> Result<Listed<Entry>, StoreError> {
    let under = match filter.node_id {
        Some(id) => Some(crate::tree::get(db, scope, id).await?.path),
        None => None,
    };
    let (total, rows) = counted_page(
        db,
        SELECT.trim_start_matches("SELECT "),
        FROM,
        |p| {
            let mut c = vec![scope_filter(scope, "e.node_path", p)];
            c.extend(conditions(filter, under.as_ref(), p));
            c.join(" AND ")
        },
        "COALESCE(e.published_at, e.created_at) DESC, e.id DESC",
        page,
    )
    .await?;
    Ok(Listed {
        items: complete(db, &rows).await?,
        total,
    })
}

/// An entry's attachment, scoped like the entry.
pub async fn attachment(
    db: &Db,
    scope: &Scope,
    entry_id: i64,
    attachment_id: i64,
) -> Result<Attachment, StoreError> {
    get(db, scope, entry_id).await?;
    attachment_row(db, entry_id, attachment_id).await
}

async fn attachment_row(
    db: &Db,
    entry_id: i64,
    attachment_id: i64,
) -> Result<Attachment, StoreError> {
    let row = sqlx::query(
        "SELECT name, content_type, bytes FROM affair_attachment WHERE id = $1 AND entry_id = $2",
    )
    .bind(attachment_id)
    .bind(entry_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Attachment {
        name: row.try_get(0)?,
        content_type: row.try_get(1)?,
        bytes: row.try_get(2)?,
    })
}

// ---------------------------------------------------------------------------------------------
// The public page

/// A community's live public page code, as staff print it.
#[derive(Debug, Clone, Serialize)]
pub struct PageCode {
    pub node_id: i64,
    pub node_name: String,
    pub code: String,
    pub created_at: i64,
}

/// The community behind a public code: its name and place in the tree, nothing else.
#[derive(Debug, Clone)]
pub struct PublicCommunity {
    pub node_id: i64,
    pub name: String,
    pub path: JurisdictionPath,
}

/// A community the caller may read, with its live code if it has one.
pub async fn page_code(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<(crate::tree::Node, Option<PageCode>), StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let row = sqlx::query(
        "SELECT code, created_at FROM community_page WHERE node_id = $1 AND replaced_at IS NULL",
    )
    .bind(node.id)
    .fetch_optional(db.pool())
    .await?;
    let code = match row {
        Some(r) => Some(PageCode {
            node_id: node.id,
            node_name: node.name.clone(),
            code: r.try_get(0)?,
            created_at: r.try_get(1)?,
        }),
        None => None,
    };
    Ok((node, code))
}

/// Gives a community a public code, or replaces its code (the old one stops working at once).
/// Only a community; the caller must write records there. Audited (without the code).
pub async fn issue_page_code(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    now: i64,
) -> Result<PageCode, StoreError> {
    let (node, old) = page_code(db, scope, node_id).await?;
    if !scope.can_write_records(&node.path) {
        return Err(StoreError::Forbidden("您的角色不能管理社区公开页".into()));
    }
    if node.kind != NodeKind::Community {
        return Err(StoreError::invalid(
            "node_id",
            "公开页按社区/村设立，请选择社区",
        ));
    }
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该社区已撤销"));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE community_page SET replaced_at = $1 WHERE node_id = $2 AND replaced_at IS NULL",
    )
    .bind(now)
    .bind(node.id)
    .execute(&mut *tx)
    .await?;
    let code = crate::infra::secret::short_code(COMMUNITY_PAGE);
    sqlx::query(
        "INSERT INTO community_page (node_id, node_path, code, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(node.id)
    .bind(node.path.as_str())
    .bind(&code)
    .bind(now)
    .bind(scope.actor())
    .execute(&mut *tx)
    .await?;
    let action = if old.is_some() {
        "community_page.rotate"
    } else {
        "community_page.create"
    };
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, action, "community_page")
            .entity_id(node.id)
            .node_path(&node.path)
            .detail(json!({"node_id": node.id})),
        now,
    )
    .await?;
    Ok(PageCode {
        node_id: node.id,
        node_name: node.name,
        code,
        created_at: now,
    })
}

/// The community of a live code (public: no scope), or `NotFound` for an unknown, malformed or
/// replaced code and for a closed community.
pub async fn community_for_code(db: &Db, code: &str) -> Result<PublicCommunity, StoreError> {
    let code = parse_code(COMMUNITY_PAGE, code).map_err(|_| StoreError::NotFound)?;
    let row = sqlx::query(
        "SELECT n.id, n.name, n.path FROM community_page c JOIN node n ON n.id = c.node_id \
         WHERE c.code = $1 AND c.replaced_at IS NULL AND n.closed_on IS NULL",
    )
    .bind(&code)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(PublicCommunity {
        node_id: row.try_get(0)?,
        name: row.try_get(1)?,
        path: JurisdictionPath::parse(&row.try_get::<String, _>(2)?).map_err(internal)?,
    })
}

/// A community's published entries, newest first (for its public page).
pub async fn public_list(
    db: &Db,
    community: &PublicCommunity,
    category: Option<Category>,
    page: (i64, i64),
) -> Result<Listed<Entry>, StoreError> {
    let filter = EntryFilter {
        category,
        status: Some(EntryStatus::Published),
        ..Default::default()
    };
    let (total, rows) = counted_page(
        db,
        SELECT.trim_start_matches("SELECT "),
        FROM,
        |p| conditions(&filter, Some(&community.path), p).join(" AND "),
        "e.published_at DESC, e.id DESC",
        page,
    )
    .await?;
    Ok(Listed {
        items: complete(db, &rows).await?,
        total,
    })
}

/// An attachment of a published entry of this community (public), else `NotFound`.
pub async fn public_attachment(
    db: &Db,
    community: &PublicCommunity,
    entry_id: i64,
    attachment_id: i64,
) -> Result<Attachment, StoreError> {
    let entry = load(db, entry_id).await?;
    if entry.status != EntryStatus::Published || !entry.node_path.is_within(&community.path) {
        return Err(StoreError::NotFound);
    }
    attachment_row(db, entry_id, attachment_id).await
}

/// One published entry of this community (public), else `NotFound`.
pub async fn public_entry(
    db: &Db,
    community: &PublicCommunity,
    entry_id: i64,
) -> Result<Entry, StoreError> {
    let entry = load(db, entry_id).await?;
    if entry.status != EntryStatus::Published || !entry.node_path.is_within(&community.path) {
        return Err(StoreError::NotFound);
    }
    Ok(entry)
}
