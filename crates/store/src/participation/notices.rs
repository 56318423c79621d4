//! Notices (通知公告).
//!
//! - A notice is written at a node the author may write records in, for an **audience**: that
//!   node's subtree or a building below it, optionally narrowed to a key group (a tag: who the
//!   notice is about; staff receipts are counted over the audience's nodes).
//! - **Who sees it**: the author's jurisdiction (anyone whose scope covers the notice's node)
//!   and the staff in the audience (bound to a node inside the audience subtree).
//! - **Read receipts**: a staff member in the audience who opens it leaves one (the first time);
//!   the author's side sees who has read and who has not (active accounts bound inside the
//!   audience).
//! - **Withdrawing** stops showing it and keeps it in history. Every write is audited.

use linli_core::kernel::clock::{format_date, today};
use linli_core::participation::notices::{is_current, NoticeDraft, NoticeInput};
use linli_core::{JurisdictionPath, NodeKind, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{counted_page, Params};
use crate::infra::errors::internal;
use crate::{scope_filter, Db, Listed, StoreError};

/// A notice as pages and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub audience_node_id: i64,
    pub audience_name: String,
    #[serde(skip)]
    pub audience_path: JurisdictionPath,
    pub tag: Option<String>,
    pub title: String,
    pub body: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub public: bool,
    pub created_at: i64,
    /// The author's name (not the username).
    pub author: String,
    pub withdrawn_at: Option<i64>,
    /// The author's account: never counted among the readers.
    #[serde(skip)]
    pub author_id: Option<i64>,
    /// Shown today: not withdrawn and within its days.
    pub current: bool,
}

const SELECT: &str = "SELECT t.id, t.node_id, n.name AS node_name, t.node_path, \
    t.audience_node_id, a.name AS audience_name, t.audience_path, g.name AS tag_name, t.title, \
    t.body, t.valid_from, t.valid_until, t.public, t.created_at, \
    COALESCE(u.display_name, t.created_by) AS author, t.withdrawn_at, t.created_by_id";
const FROM: &str = "notice t JOIN node n ON n.id = t.node_id \
    JOIN node a ON a.id = t.audience_node_id LEFT JOIN tag g ON g.id = t.tag_id \
    LEFT JOIN app_user u ON u.id = t.created_by_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Notice, StoreError> {
    let from: String = r.try_get("valid_from")?;
    let until: Option<String> = r.try_get("valid_until")?;
    let withdrawn_at: Option<i64> = r.try_get("withdrawn_at")?;
    let day = format_date(today());
    // Days are stored as YYYY-MM-DD, so their text order is their date order.
    let current = withdrawn_at.is_none()
        && from.as_str() <= day.as_str()
        && until.as_deref().is_none_or(|u| day.as_str() <= u);
    Ok(Notice {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&r.try_get::<String, _>("node_path")?)
            .map_err(internal)?,
        audience_node_id: r.try_get("audience_node_id")?,
        audience_name: r.try_get("audience_name")?,
        audience_path: JurisdictionPath::parse(&r.try_get::<String, _>("audience_path")?)
            .map_err(internal)?,
        tag: r.try_get("tag_name")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        valid_from: from,
        valid_until: until,
        public: r.try_get::<i64, _>("public")? == 1,
        created_at: r.try_get("created_at")?,
        author: r.try_get("author")?,
        withdrawn_at,
        author_id: r.try_get("created_by_id")?,
        current,
    })
}

/// The paths whose subtree holds one of the caller's roots: a notice for any of them has the
/// caller in its audience.
fn audience_paths(scope: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    for root in scope.roots() {
        let mut path = JurisdictionPath::root(0);
        for (i, id) in root.ids().into_iter().enumerate() {
            path = if i == 0 {
                JurisdictionPath::root(id)
            } else {
                path.child(id)
            };
            out.push(path.as_str().to_owned());
        }
    }
    out
}

/// The caller's notices: written in their jurisdiction, or addressed to an audience they are in.
fn visible(scope: &Scope, p: &mut Params) -> String {
    let own = scope_filter(scope, "t.node_path", p);
    let paths = audience_paths(scope);
    if paths.is_empty() {
        return own;
    }
    let list: Vec<String> = paths.into_iter().map(|s| p.text(s)).collect();
    format!("({own} OR t.audience_path IN ({}))", list.join(", "))
}

/// Whether the caller is in the notice's audience (bound inside its subtree).
fn in_audience(scope: &Scope, notice: &Notice) -> bool {
    scope
        .roots()
        .iter()
        .any(|r| r.is_within(&notice.audience_path))
}

/// What a new notice says and to whom.
#[derive(Debug, Clone, Default)]
pub struct NewNotice<'a> {
    /// Where it is written (the author's node).
    pub node_id: i64,
    /// A building below `node_id` to narrow the audience to; `None`: the node's whole subtree.
    pub building_id: Option<i64>,
    /// A key group's name to narrow the audience to.
    pub tag: Option<&'a str>,
    pub input: NoticeInput<'a>,
}

/// Publishes a notice. Refused with every broken field; `Forbidden` for a role that may not
/// write records at the node. Audited.
pub async fn create(
    db: &Db,
    scope: &Scope,
    new: NewNotice<'_>,
    now: i64,
) -> Result<Notice, StoreError> {
    let node = crate::tree::get(db, scope, new.node_id).await?;
    if !scope.can_write_records(&node.path) {
        return Err(StoreError::Forbidden("您的角色不能在此辖区发布通知".into()));
    }
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该辖区已撤销"));
    }
    let mut errors = Vec::new();
    let audience = match new.building_id {
        None => Some(node.clone()),
        Some(id) => match crate::tree::get(db, scope, id).await {
            Ok(b) if b.kind == NodeKind::Building && b.path.is_within(&node.path) => Some(b),
            Ok(_) | Err(StoreError::NotFound) => {
                errors.push(linli_core::CoreError::invalid(
                    "building_id",
                    format!("请选择「{}」下的楼栋", node.name),
                ));
                None
            }
            Err(e) => return Err(e),
        },
    };
    let tag_id = match new.tag.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(name) => {
            let row = sqlx::query("SELECT id FROM tag WHERE name = $1")
                .bind(name)
                .fetch_optional(db.pool())
                .await?;
            match row {
                Some(r) => Some(r.try_get::<i64, _>(0)?),
                None => {
                    errors.push(linli_core::CoreError::invalid(
                        "tag",
                        format!("「{name}」不是已有的重点人群标签"),
                    ));
                    None
                }
            }
        }
    };
    let draft = match NoticeDraft::parse(new.input) {
        Ok(d) if errors.is_empty() => d,
        Ok(_) => return Err(StoreError::Invalid(errors)),
        Err(mut e) => {
            e.append(&mut errors);
            return Err(StoreError::Invalid(e));
        }
    };
    let Some(audience) = audience else {
        return Err(StoreError::Invalid(errors));
    };
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO notice (node_id, node_path, audience_node_id, audience_path, tag_id, title, \
         body, valid_from, valid_until, public, created_at, created_by, created_by_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(node.id)
    .bind(node.path.as_str())
    .bind(audience.id)
    .bind(audience.path.as_str())
    .bind(tag_id)
    .bind(&draft.title)
    .bind(&draft.body)
    .bind(format_date(draft.valid_from))
    .bind(draft.valid_until.map(format_date))
    .bind(i64::from(draft.public))
    .bind(now)
    .bind(scope.actor())
    .bind(scope.user_id())
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "notice.create", "notice")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"name": draft.title, "public": draft.public})),
        now,
    )
    .await?;
    get(db, scope, id).await
}

/// A notice the caller may see (`NotFound` otherwise), without leaving a receipt.
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Notice, StoreError> {
    let mut p = Params::new();
    let id_ = p.int(id);
    let cond = visible(scope, &mut p);
    let row = p
        .one_row(
            db,
            &format!("{SELECT} FROM {FROM} WHERE t.id = {id_} AND {cond}"),
        )
        .await?;
    from_row(&row)
}

/// Opens a notice: [`get`], and a read receipt when the caller is staff in its audience (the
/// first opening counts; later ones change nothing).
pub async fn open(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<Notice, StoreError> {
    let notice = get(db, scope, id).await?;
    if let Some(user_id) = scope.user_id() {
        if in_audience(scope, &notice)
            && notice.withdrawn_at.is_none()
            && notice.author_id != Some(user_id)
        {
            sqlx::query(
                "INSERT INTO notice_read (notice_id, user_id, read_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (notice_id, user_id) DO NOTHING",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(db.pool())
            .await?;
        }
    }
    Ok(notice)
}

/// One staff member's reading of a notice.
#[derive(Debug, Clone, Serialize)]
pub struct Reader {
    pub name: String,
    /// Where they are bound (the first of their nodes inside the audience).
    pub node_name: String,
    pub read_at: Option<i64>,
}

/// Who of the staff in the audience (its author aside) has read a notice (first) and who has
/// not — for the author's side only: the caller's scope must cover the notice's node (`NotFound` otherwise).
pub async fn readers(db: &Db, scope: &Scope, id: i64) -> Result<Vec<Reader>, StoreError> {
    let notice = get(db, scope, id).await?;
    if !scope.can_read(&notice.node_path) {
        return Err(StoreError::NotFound);
    }
    let rows = sqlx::query(
        "SELECT u.display_name, MIN(b.name) AS node_name, MIN(r.read_at) AS read_at \
         FROM app_user u JOIN user_node un ON un.user_id = u.id JOIN node b ON b.id = un.node_id \
         LEFT JOIN notice_read r ON r.notice_id = $1 AND r.user_id = u.id \
         WHERE u.disabled = 0 AND b.path LIKE $2 AND u.id <> $3 \
         GROUP BY u.id, u.display_name ORDER BY MIN(r.read_at), u.display_name",
    )
    .bind(id)
    .bind(format!("{}%", notice.audience_path.as_str()))
    .bind(notice.author_id.unwrap_or(0))
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<Reader> = rows
        .iter()
        .map(|r| {
            Ok(Reader {
                name: r.try_get(0)?,
                node_name: r.try_get(1)?,
                read_at: r.try_get(2)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    // Readers first, in the order they read; then those who have not.
    out.sort_by_key(|r| (r.read_at.is_none(), r.read_at));
    Ok(out)
}

/// Withdraws a notice: it is no longer shown, and stays in the list as 已撤回. The caller must
/// be able to write records at its node. Audited.
pub async fn withdraw(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<Notice, StoreError> {
    let notice = get(db, scope, id).await?;
    if !scope.can_read(&notice.node_path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_write_records(&notice.node_path) {
        return Err(StoreError::Forbidden("您的角色不能撤回此通知".into()));
    }
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE notice SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该通知已撤回".into(),
        });
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "notice.withdraw", "notice")
            .entity_id(id)
            .node_path(&notice.node_path),
        now,
    )
    .await?;
    get(db, scope, id).await
}

/// Where a notice is in its life, as a list filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    Current,
    Upcoming,
    Expired,
    Withdrawn,
}

impl NoticeState {
    pub const ALL: [NoticeState; 4] = [
        NoticeState::Current,
        NoticeState::Upcoming,
        NoticeState::Expired,
        NoticeState::Withdrawn,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Current => "current",
            NoticeState::Upcoming => "upcoming",
            NoticeState::Expired => "expired",
            NoticeState::Withdrawn => "withdrawn",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            NoticeState::Current => "有效",
            NoticeState::Upcoming => "未开始",
            NoticeState::Expired => "已过期",
            NoticeState::Withdrawn => "已撤回",
        }
    }
    pub fn parse(s: &str) -> Option<NoticeState> {
        NoticeState::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// The state of `notice` today.
    pub fn of(notice: &Notice) -> NoticeState {
        let day = format_date(today());
        if notice.withdrawn_at.is_some() {
            NoticeState::Withdrawn
        } else if notice.valid_from.as_str() > day.as_str() {
            NoticeState::Upcoming
        } else if notice.current {
            NoticeState::Current
        } else {
            NoticeState::Expired
        }
    }
}

/// A list's filters.
#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    /// Words in the title or body.
    pub q: Option<String>,
    /// Notices written at this node or below it.
    pub node_id: Option<i64>,
    pub state: Option<NoticeState>,
    /// Public (true) or staff-only (false).
    pub public: Option<bool>,
}

/// A notice in a list, with its receipts counted.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeRow {
    #[serde(flatten)]
    pub notice: Notice,
    pub read: i64,
}

/// The notices the caller sees, newest first, `limit` from `offset`.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &NoticeFilter,
    (limit, offset): (i64, i64),
) -> Result<Listed<NoticeRow>, StoreError> {
    let under = match filter.node_id {
        Some(id) => Some(crate::tree::get(db, scope, id).await?.path),
        None => None,
    };
    let day = format_date(today());
    let (total, rows) = counted_page(
        db,
        &format!(
            "{}, (SELECT COUNT(*) FROM notice_read r WHERE r.notice_id = t.id) AS read_count",
            SELECT.trim_start_matches("SELECT ")
        ),
        FROM,
        |p| {
            let mut conds = vec![visible(scope, p)];
            if let Some(path) = &under {
                let (lo, hi) = path.subtree_bounds();
                conds.push(format!(
                    "t.node_path >= {} AND t.node_path < {}",
                    p.text(lo),
                    p.text(hi)
                ));
            }
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let like = p.text(format!("%{q}%"));
                conds.push(format!("(t.title LIKE {like} OR t.body LIKE {like})"));
            }
            if let Some(public) = filter.public {
                conds.push(format!("t.public = {}", p.int(i64::from(public))));
            }
            match filter.state {
                None => {}
                Some(NoticeState::Withdrawn) => conds.push("t.withdrawn_at IS NOT NULL".into()),
                Some(s) => {
                    let d = p.text(day.clone());
                    conds.push("t.withdrawn_at IS NULL".into());
                    conds.push(match s {
                        NoticeState::Upcoming => format!("t.valid_from > {d}"),
                        NoticeState::Expired => format!("t.valid_until < {d}"),
                        _ => format!(
                            "t.valid_from <= {d} AND (t.valid_until IS NULL OR t.valid_until >= {d})"
                        ),
                    });
                }
            }
            conds.join(" AND ")
        },
        "t.created_at DESC, t.id DESC",
        (limit, offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(NoticeRow {
                notice: from_row(r)?,
                read: r.try_get("read_count")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Listed { items, total })
}

/// One node's unread notices (the dashboard's number, issue 20 item 7).
#[derive(Debug, Clone, Serialize)]
pub struct UnreadAtNode {
    pub node_id: i64,
    pub node_name: String,
    /// Current notices not yet opened, counted once per staff account bound at this node and
    /// in the notice's audience.
    pub unread: i64,
}

/// Notices unread by staff, per node where staff are bound, in the caller's jurisdiction
/// (under `node_id` when given): current notices only (withdrawn, expired and upcoming ones
/// wait for nobody).
pub async fn unread_by_node(
    db: &Db,
    scope: &Scope,
    node_id: Option<i64>,
) -> Result<Vec<UnreadAtNode>, StoreError> {
    let mut p = Params::new();
    let mut conds = vec![scope_filter(scope, "b.path", &mut p)];
    if let Some(id) = node_id {
        let (lo, hi) = crate::tree::get(db, scope, id).await?.path.subtree_bounds();
        conds.push(format!(
            "b.path >= {} AND b.path < {}",
            p.text(lo),
            p.text(hi)
        ));
    }
    let d = p.text(format_date(today()));
    let sql = format!(
        "SELECT b.id, b.name, COUNT(*) AS unread FROM notice t \
         JOIN node b ON b.path LIKE t.audience_path || '%' \
         JOIN user_node un ON un.node_id = b.id \
         JOIN app_user u ON u.id = un.user_id AND u.disabled = 0 \
         AND u.id <> COALESCE(t.created_by_id, 0) \
         LEFT JOIN notice_read r ON r.notice_id = t.id AND r.user_id = u.id \
         WHERE r.user_id IS NULL AND t.withdrawn_at IS NULL AND t.valid_from <= {d} \
         AND (t.valid_until IS NULL OR t.valid_until >= {d}) AND {} \
         GROUP BY b.id, b.name, b.path ORDER BY b.path",
        conds.join(" AND ")
    );
    let rows = p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(UnreadAtNode {
                node_id: r.try_get(0)?,
                node_name: r.try_get(1)?,
                unread: r.try_get(2)?,
            })
        })
        .collect()
}

/// A community's current public notices (for its public page; no scope: the page's code was
/// checked), newest first.
pub async fn public_current(
    db: &Db,
    community: &JurisdictionPath,
) -> Result<Vec<Notice>, StoreError> {
    let (lo, hi) = community.subtree_bounds();
    let day = format_date(today());
    let rows = sqlx::query(&format!(
        "{SELECT} FROM {FROM} WHERE t.node_path >= $1 AND t.node_path < $2 AND t.public = 1 \
         AND t.withdrawn_at IS NULL AND t.valid_from <= $3 \
         AND (t.valid_until IS NULL OR t.valid_until >= $4) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT 50"
    ))
    .bind(lo)
    .bind(hi)
    .bind(&day)
    .bind(&day)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(from_row)
        .filter(|n| n.as_ref().map_or(true, is_current_now))
        .collect()
}

fn is_current_now(n: &Notice) -> bool {
    let parse = |s: &str| linli_core::kernel::clock::parse_date("valid", s).ok();
    match parse(&n.valid_from) {
        Some(from) => is_current(
            n.withdrawn_at.is_some(),
            from,
            n.valid_until.as_deref().and_then(parse),
            today(),
        ),
        None => false,
    }
}
