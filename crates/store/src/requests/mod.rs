//! Residents' requests (接诉即办): categories (versioned data), departments, intake from every
//! channel, the lifecycle with its timeline, whistles (吹哨), the overdue job with its lease,
//! the resident's status check, Open311 API keys, and the three rates per node and period.
//! The rules are pure (`linli_core::requests`); this module keeps the records.
//!
//! Every function that changes or reads a request is given `now` (Unix ms) by its caller, so
//! tests choose the time.
//!
//! Who may do what (fail closed; outside the caller's jurisdiction is `NotFound`):
//! - everyone reads, and records intake, within their jurisdiction;
//! - who may take which step of the lifecycle, or blow a whistle, in which state: the one rule
//!   `linli_core::requests::permit` (the pages draw their buttons from the same rule);
//! - categories: admins; departments: admins and officials;
//! - a resident reads only the status of their own request, by tracking number and the last
//!   4 digits of their phone, and rates it the same way;
//! - an Open311 key reads and writes only within its node.
//!
//! `node_path` is the node currently responsible: a dispatch to a node moves the request there
//! (so that community sees it in its inbox), a return sends it back to where it came in.

use linli_core::kernel::clock::{day_start_ms, format_date};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{
    self as rules, Action, Actor, CategoryRule, Channel, Escalation, EventKind, OverdueFacts,
    RateFacts, Rates, Rating, Refusal, RequestDraft, Status, Step, Target, TrackingNumber,
    WhistleState, WHISTLE_ACK_MS,
};
use linli_core::{CoreError, JurisdictionPath, Role, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, sql_names, Params};
use crate::infra::errors::{internal, unique_to};
use crate::infra::secret::{constant_time_eq, random_token, token_hash, Keyring};
use crate::{scope_filter, Db, Page, StoreError};

mod todo;
pub use todo::{todo, RequestTodo};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Hash domain of phone lookup hashes (the same as persons', so one number finds both).
const PHONE_HASH: &str = "phone";

/// The name of the deadlines job's lease.
pub const DEADLINES_JOB: &str = "request_deadlines";

/// A status as an SQL literal (see [`sql_names`]).
fn sql_status(status: Status) -> String {
    sql_names([status], Status::as_str)
}

/// `column IN ('received', …)`, rendered from a list of statuses such as [`Status::PENDING`].
fn status_in(column: &str, statuses: &[Status]) -> String {
    format!(
        "{column} IN ({})",
        sql_names(statuses.iter().copied(), Status::as_str)
    )
}

/// The store's answer to a step core refuses.
fn refused(r: Refusal) -> StoreError {
    match r {
        Refusal::Forbidden(message) => StoreError::Forbidden(message),
        Refusal::Invalid(e) => e.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------------------------

/// One version of a category.
#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: i64,
    pub version: i64,
    #[serde(flatten)]
    pub rule: CategoryRule,
    pub active: bool,
    pub created_at: i64,
    pub created_by: String,
}

const CATEGORY_COLUMNS: &str = "id, code, version, name, description, respond_hours, resolve_days, escalation, active, created_at, created_by";

fn category_from_row(r: &sqlx::any::AnyRow) -> Result<Category, StoreError> {
    let escalation: String = r.try_get(7)?;
    Ok(Category {
        id: r.try_get(0)?,
        version: r.try_get(2)?,
        rule: CategoryRule {
            code: r.try_get(1)?,
            name: r.try_get(3)?,
            description: r.try_get(4)?,
            respond_hours: r.try_get(5)?,
            resolve_days: r.try_get(6)?,
            escalation: escalation.parse().map_err(internal)?,
        },
        active: r.try_get::<i64, _>(8)? != 0,
        created_at: r.try_get(9)?,
        created_by: r.try_get(10)?,
    })
}

/// The categories in force (the latest version of each active code), by code. Categories are
/// not personal data: everyone reads them, also the public pages and Open311.
pub async fn categories(db: &Db) -> Result<Vec<Category>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM request_category c WHERE active = 1 AND version = \
         (SELECT MAX(version) FROM request_category x WHERE x.code = c.code) ORDER BY id"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(category_from_row).collect()
}

/// Every version of one category, newest first.
pub async fn category_versions(db: &Db, code: &str) -> Result<Vec<Category>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM request_category WHERE code = $1 ORDER BY version DESC"
    ))
    .bind(code)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(category_from_row).collect()
}

/// The category in force with this code; a missing one is a bad `field`.
pub async fn category(db: &Db, code: &str, field: &str) -> Result<Category, StoreError> {
    let code = code.trim();
    categories(db)
        .await?
        .into_iter()
        .find(|c| c.rule.code == code)
        .ok_or_else(|| StoreError::invalid(field, format!("没有「{code}」这个诉求类别")))
}

/// Saves a category as its next version (a new code starts at 1), or retires it
/// (`active = false`). Requests already received keep the deadlines they got. Admins only;
/// audited.
pub async fn save_category(
    db: &Db,
    scope: &Scope,
    rule: &CategoryRule,
    active: bool,
    now: i64,
) -> Result<Category, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden(
            "只有系统管理员可以修改诉求类别和时限".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO request_category (code, version, name, description, respond_hours, resolve_days, escalation, active, created_at, created_by) \
         VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM request_category WHERE code = $1), $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING id",
    )
    .bind(&rule.code)
    .bind(&rule.name)
    .bind(&rule.description)
    .bind(rule.respond_hours)
    .bind(rule.resolve_days)
    .bind(rule.escalation.as_str())
    .bind(i64::from(active))
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| unique_to(e, "code", "该类别刚被他人修改，请刷新后重试"))?;
    let id: i64 = row.try_get(0)?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "request_category.save", "request_category")
            .entity_id(id)
            .detail(json!({"code": rule.code, "respond_hours": rule.respond_hours,
                "resolve_days": rule.resolve_days, "escalation": rule.escalation.as_str(), "active": active})), now)
    .await?;
    let row = sqlx::query(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM request_category WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let saved = category_from_row(&row)?;
    tx.commit().await?;
    Ok(saved)
}

// ---------------------------------------------------------------------------------------------
// Departments
// ---------------------------------------------------------------------------------------------

/// A department requests are dispatched to and whistles summon.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Department {
    pub id: i64,
    pub name: String,
}

/// Every department, by name.
pub async fn departments(db: &Db) -> Result<Vec<Department>, StoreError> {
    let rows = sqlx::query("SELECT id, name FROM department ORDER BY name, id")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Department {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .collect()
}

async fn department(db: &Db, id: i64, field: &str) -> Result<Department, StoreError> {
    let row = sqlx::query("SELECT id, name FROM department WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| StoreError::invalid(field, "没有这个部门"))?;
    Ok(Department {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
    })
}

/// Adds a department (admins and officials). Audited.
pub async fn create_department(
    db: &Db,
    scope: &Scope,
    name: &str,
    now: i64,
) -> Result<Department, StoreError> {
    if !matches!(scope.role(), Role::Admin | Role::Official) {
        return Err(StoreError::Forbidden(
            "只有街道/区县干部和管理员可以登记部门".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(StoreError::invalid(
            "name",
            "请填写部门名称（不超过 60 字）",
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO department (name, created_at, created_by) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "department.create", "department")
            .detail(json!({"name": name})),
        now,
        |e| unique_to(e, "name", "已有同名部门"),
    )
    .await?;
    tx.commit().await?;
    Ok(Department {
        id,
        name: name.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// A request as staff see it: the reporter's phone masked.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub id: i64,
    pub tracking_number: String,
    #[serde(skip)]
    pub open311_token: String,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub intake_node_id: i64,
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub channel: Channel,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub reporter_name: Option<String>,
    pub reporter_phone_masked: Option<String>,
    pub status: Status,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub handler_user_id: Option<i64>,
    pub created_by_user_id: Option<i64>,
    pub created_by: String,
    pub received_at: i64,
    pub respond_by: i64,
    pub resolve_by: i64,
    pub responded_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub outcome: Option<String>,
    pub rating: Option<Rating>,
    pub rated_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub response_overdue_at: Option<i64>,
    pub resolution_overdue_at: Option<i64>,
    pub escalated_at: Option<i64>,
    pub escalated_node_id: Option<i64>,
    pub updated_at: i64,
    /// A photo came with the request or was added later (read it with [`photo`]).
    pub has_photo: bool,
}

impl Request {
    /// Late to respond at `now`: nobody accepted it by its limit while it is pending.
    pub fn response_late(&self, now: i64) -> bool {
        self.responded_at
            .map_or(self.status.is_pending() && now > self.respond_by, |at| {
                at > self.respond_by
            })
    }

    /// Late to resolve at `now`: still pending after its limit.
    pub fn resolution_late(&self, now: i64) -> bool {
        self.status.is_pending() && now > self.resolve_by
    }
}

/// The columns a request is read with ([`request_from_row`]) and the tables they come from.
macro_rules! request_columns {
    () => {
        "r.id, r.tracking_number, r.open311_token, r.node_id, n.name AS node_name, r.node_path, \
     r.intake_node_id, r.category_id, c.code AS category_code, c.name AS category_name, r.channel, r.description, \
     r.address, r.lat, r.lng, r.reporter_name, r.phone_cipher, r.status, r.department_id, d.name AS department_name, \
     r.handler_user_id, r.created_by_user_id, r.created_by, r.received_at, r.respond_by, r.resolve_by, \
     r.responded_at, r.resolved_at, r.outcome, r.rating, r.rated_at, r.closed_at, r.response_overdue_at, \
     r.resolution_overdue_at, r.escalated_at, r.escalated_node_id, r.updated_at, \
     (SELECT COUNT(*) FROM request_photo p WHERE p.request_id = r.id) AS photo_count"
    };
}
macro_rules! request_from {
    () => {
        "request r JOIN node n ON n.id = r.node_id JOIN request_category c ON c.id = r.category_id \
     LEFT JOIN department d ON d.id = r.department_id"
    };
}
const REQUEST_SELECT: &str = concat!("SELECT ", request_columns!(), " FROM ", request_from!());

/// The requests of `rows` the caller may read: the SQL already filtered by scope; each row is
/// checked again all the same (fail closed).
fn readable_requests(
    keys: &Keyring,
    scope: &Scope,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<Request>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let req = request_from_row(keys, r)?;
        if scope.can_read(&req.node_path) {
            out.push(req);
        }
    }
    Ok(out)
}

fn request_from_row(keys: &Keyring, r: &sqlx::any::AnyRow) -> Result<Request, StoreError> {
    let channel: String = r.try_get("channel")?;
    let status: String = r.try_get("status")?;
    let rating: Option<String> = r.try_get("rating")?;
    Ok(Request {
        id: r.try_get("id")?,
        tracking_number: r.try_get("tracking_number")?,
        open311_token: r.try_get("open311_token")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&r.try_get::<String, _>("node_path")?)
            .map_err(internal)?,
        intake_node_id: r.try_get("intake_node_id")?,
        category_id: r.try_get("category_id")?,
        category_code: r.try_get("category_code")?,
        category_name: r.try_get("category_name")?,
        channel: channel.parse().map_err(internal)?,
        description: r.try_get("description")?,
        address: r.try_get("address")?,
        lat: r.try_get("lat")?,
        long: r.try_get("lng")?,
        reporter_name: r.try_get("reporter_name")?,
        reporter_phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
        status: status.parse().map_err(internal)?,
        department_id: r.try_get("department_id")?,
        department_name: r.try_get("department_name")?,
        handler_user_id: r.try_get("handler_user_id")?,
        created_by_user_id: r.try_get("created_by_user_id")?,
        created_by: r.try_get("created_by")?,
        received_at: r.try_get("received_at")?,
        respond_by: r.try_get("respond_by")?,
        resolve_by: r.try_get("resolve_by")?,
        responded_at: r.try_get("responded_at")?,
        resolved_at: r.try_get("resolved_at")?,
        outcome: r.try_get("outcome")?,
        rating: rating.map(|s| s.parse()).transpose().map_err(internal)?,
        rated_at: r.try_get("rated_at")?,
        closed_at: r.try_get("closed_at")?,
        response_overdue_at: r.try_get("response_overdue_at")?,
        resolution_overdue_at: r.try_get("resolution_overdue_at")?,
        escalated_at: r.try_get("escalated_at")?,
        escalated_node_id: r.try_get("escalated_node_id")?,
        updated_at: r.try_get("updated_at")?,
        has_photo: r.try_get::<i64, _>("photo_count")? > 0,
    })
}

async fn load(db: &Db, id: i64) -> Result<Option<Request>, StoreError> {
    let keys = db.keys()?;
    let row = sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(|r| request_from_row(keys, r)).transpose()
}

/// One request in the caller's jurisdiction (`NotFound` outside it).
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Request, StoreError> {
    match load(db, id).await? {
        Some(r) if scope.can_read(&r.node_path) => Ok(r),
        _ => Err(StoreError::NotFound),
    }
}

/// Who files a request, and through what.
#[derive(Debug, Clone)]
struct Intake<'a> {
    channel: Channel,
    actor: String,
    user_id: Option<i64>,
    api_key_id: Option<i64>,
    scope: Option<&'a Scope>,
}

/// Records a request from a signed-in user (a hotline operator, a grid worker on patrol,
/// staff at the counter) on a node of their jurisdiction. Audited.
pub async fn create(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    category_code: &str,
    channel: Channel,
    draft: &RequestDraft,
    now: i64,
) -> Result<Request, StoreError> {
    create_with_photo(db, scope, node_id, category_code, channel, draft, None, now).await
}

/// [`create`] with the optional photo (its type is sniffed from the bytes; see
/// [`rules::photo_type`]). A refused photo stores nothing of the request either.
#[allow(clippy::too_many_arguments)]
pub async fn create_with_photo(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    category_code: &str,
    channel: Channel,
    draft: &RequestDraft,
    photo: Option<&[u8]>,
    now: i64,
) -> Result<Request, StoreError> {
    if matches!(channel, Channel::SelfService | Channel::Open311) {
        return Err(StoreError::invalid(
            "channel",
            "工作人员登记的诉求渠道应为 hotline（热线）或 patrol（网格巡查）",
        ));
    }
    let node = match crate::tree::get(db, scope, node_id).await {
        Ok(n) => n,
        Err(StoreError::NotFound) => {
            return Err(StoreError::invalid("node_id", "您的辖区内没有这个节点"))
        }
        Err(e) => return Err(e),
    };
    let intake = Intake {
        channel,
        actor: scope.actor().to_owned(),
        user_id: scope.user_id(),
        api_key_id: None,
        scope: Some(scope),
    };
    let id = insert(db, &node, category_code, draft, photo, &intake, now).await?;
    get(db, scope, id).await
}

/// Records a resident's own request (the public page: no login) on an open node. Returns the
/// tracking number; nothing else of the request is shown back.
pub async fn create_self_service(
    db: &Db,
    node_id: i64,
    category_code: &str,
    draft: &RequestDraft,
    now: i64,
) -> Result<TrackingNumber, StoreError> {
    create_self_service_with_photo(db, node_id, category_code, draft, None, now).await
}

/// [`create_self_service`] with the resident's optional photo.
pub async fn create_self_service_with_photo(
    db: &Db,
    node_id: i64,
    category_code: &str,
    draft: &RequestDraft,
    photo: Option<&[u8]>,
    now: i64,
) -> Result<TrackingNumber, StoreError> {
    if draft.reporter_phone.is_none() {
        return Err(StoreError::invalid(
            "reporter_phone",
            "必填，查询进度时要用到它的后 4 位",
        ));
    }
    let node = crate::tree::get(db, &Scope::operator(), node_id)
        .await
        .map_err(|_| StoreError::invalid("node_id", "没有这个社区"))?;
    let intake = Intake {
        channel: Channel::SelfService,
        actor: "居民".to_owned(),
        user_id: None,
        api_key_id: None,
        scope: None,
    };
    let id = insert(db, &node, category_code, draft, photo, &intake, now).await?;
    let row = sqlx::query("SELECT tracking_number FROM request WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    TrackingNumber::parse(&row.try_get::<String, _>(0)?).map_err(internal)
}

async fn insert(
    db: &Db,
    node: &crate::tree::Node,
    category_code: &str,
    draft: &RequestDraft,
    photo: Option<&[u8]>,
    intake: &Intake<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let keys = db.keys()?;
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该节点已撤销"));
    }
    let photo = photo
        .map(|b| rules::photo_type(b).map(|t| (b, t)))
        .transpose()?;
    let category = category(db, category_code, "category").await?;
    let deadlines = category.rule.deadlines(now);
    let phone_cipher = draft
        .reporter_phone
        .as_ref()
        .map(|p| keys.encrypt(p.as_str()))
        .transpose()?;
    // A random serial; on the rare clash with a number of the same day, draw again.
    for _ in 0..8 {
        let tracking = TrackingNumber::new(now, random_serial());
        let mut tx = db.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO request (tracking_number, open311_token, node_id, district_id, node_path, intake_node_id, \
             category_id, channel, description, address, lat, lng, reporter_name, phone_cipher, phone_hash, phone_last4, \
             status, created_by_user_id, created_by, api_key_id, received_at, respond_by, resolve_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $3, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, {}, $16, $17, $18, $19, $20, $21, $19) \
             RETURNING id",
            sql_status(Status::Received),
        ))
        .bind(tracking.as_str())
        .bind(random_token(16))
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(category.id)
        .bind(intake.channel.as_str())
        .bind(&draft.description)
        .bind(draft.address.clone())
        .bind(draft.lat)
        .bind(draft.long)
        .bind(draft.reporter_name.clone())
        .bind(phone_cipher.clone())
        .bind(
            draft
                .reporter_phone
                .as_ref()
                .map(|p| keys.lookup_hash(PHONE_HASH, p.as_str())),
        )
        .bind(draft.reporter_phone.as_ref().map(|p| p.last4().to_owned()))
        .bind(intake.user_id)
        .bind(&intake.actor)
        .bind(intake.api_key_id)
        .bind(now)
        .bind(deadlines.respond_by)
        .bind(deadlines.resolve_by)
        .fetch_one(&mut *tx)
        .await;
        let row = match row {
            Ok(r) => r,
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        };
        let id: i64 = row.try_get(0)?;
        if let Some((bytes, content_type)) = photo {
            insert_photo(&mut tx, id, bytes, content_type, &intake.actor, now).await?;
        }
        add_event(
            &mut tx,
            id,
            now,
            &intake.actor,
            EventKind::Received,
            None,
            json!({"channel": intake.channel.as_str(), "category": category.rule.code,
                "node_id": node.id, "photo": photo.is_some()}),
        )
        .await?;
        let entry = match intake.scope {
            Some(scope) => AuditEntry::by(scope, "request.create", "request"),
            None => AuditEntry::by_name(None, &intake.actor, "request.create", "request"),
        };
        audit::commit_recorded(
            tx,
            entry.entity_id(id).node_path(&node.path).detail(
                json!({"channel": intake.channel.as_str(), "tracking_number": tracking.as_str()}),
            ),
            now,
        )
        .await?;
        return Ok(id);
    }
    Err(StoreError::Internal(
        "could not draw a free tracking number".into(),
    ))
}

async fn insert_photo(
    tx: &mut Tx<'_>,
    request_id: i64,
    bytes: &[u8],
    content_type: &str,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_photo (request_id, content_type, bytes, size, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request_id)
    .bind(content_type)
    .bind(bytes.to_vec())
    .bind(bytes.len() as i64)
    .bind(now)
    .bind(actor)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_to(e, "photo", "这条诉求已有照片，每条诉求只能附一张"))?;
    Ok(())
}

/// A request's photo.
#[derive(Debug, Clone)]
pub struct Photo {
    /// `image/jpeg`, `image/png` or `image/webp`, as sniffed when it was stored.
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_at: i64,
}

/// The photo of a request in the caller's jurisdiction: `NotFound` outside it, or when the
/// request has none.
pub async fn photo(db: &Db, scope: &Scope, id: i64) -> Result<Photo, StoreError> {
    get(db, scope, id).await?;
    let row = row_by_id(
        db,
        "SELECT content_type, bytes, created_at FROM request_photo WHERE request_id = $1",
        id,
    )
    .await?;
    Ok(Photo {
        content_type: row.try_get(0)?,
        bytes: row.try_get(1)?,
        created_at: row.try_get(2)?,
    })
}

/// Adds the photo to a request that has none yet (the handling worker, after intake): whoever
/// sees the request may, like accepting it. One photo per request: a second is a conflict on
/// `photo`. A timeline event; audited.
pub async fn attach_photo(
    db: &Db,
    scope: &Scope,
    id: i64,
    bytes: &[u8],
    now: i64,
) -> Result<Request, StoreError> {
    let r = get(db, scope, id).await?;
    let content_type = rules::photo_type(bytes)?;
    let mut tx = db.begin_write().await?;
    insert_photo(&mut tx, id, bytes, content_type, scope.actor(), now).await?;
    add_event(
        &mut tx,
        id,
        now,
        scope.actor(),
        EventKind::PhotoAdded,
        None,
        json!({"content_type": content_type, "size": bytes.len()}),
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "request.photo_add", "request")
            .entity_id(id)
            .node_path(&r.node_path)
            .detail(json!({"content_type": content_type, "size": bytes.len()})),
        now,
    )
    .await?;
    get(db, scope, id).await
}

fn random_serial() -> u32 {
    let mut buf = [0u8; 4];
    crate::infra::secret::random_bytes(&mut buf);
    u32::from_le_bytes(buf) % 100_000
}

async fn add_event(
    tx: &mut Tx<'_>,
    request_id: i64,
    at: i64,
    actor: &str,
    kind: EventKind,
    note: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_event (request_id, at, actor, kind, note, detail_json) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request_id)
    .bind(at)
    .bind(actor)
    .bind(kind.as_str())
    .bind(note.map(str::to_owned))
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One step on a request's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub kind: EventKind,
    pub note: Option<String>,
    pub detail: serde_json::Value,
}

impl Event {
    /// The kind in words, for pages.
    pub fn label_zh(&self) -> &'static str {
        self.kind.label_zh()
    }
}

async fn events_of(db: &Db, id: i64) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, kind, note, detail_json FROM request_event WHERE request_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(5)?;
            let kind: String = r.try_get(3)?;
            Ok(Event {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                kind: kind.parse().map_err(internal)?,
                note: r.try_get(4)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}

/// A request's timeline, oldest first.
pub async fn timeline(db: &Db, scope: &Scope, id: i64) -> Result<Vec<Event>, StoreError> {
    get(db, scope, id).await?;
    events_of(db, id).await
}

/// Which requests an inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Every request.
    #[default]
    All,
    /// Waiting for someone to take it: received, dispatched or returned.
    New,
    /// Still waiting on someone, taken or not (a worker's to-do counts these).
    Pending,
    /// Pending past a deadline (response or resolution).
    Overdue,
    /// Filed or accepted by the caller.
    Mine,
}

impl std::str::FromStr for View {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "all" => Ok(View::All),
            "new" => Ok(View::New),
            "pending" => Ok(View::Pending),
            "overdue" => Ok(View::Overdue),
            "mine" => Ok(View::Mine),
            other => Err(CoreError::invalid(
                "view",
                format!("「{other}」不是有效的筛选，应为 all、new（新诉求）、pending（待办）、overdue（超时）或 mine（我的）"),
            )),
        }
    }
}

/// An inbox query.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// Only the subtree of this node (in scope), else the caller's whole jurisdiction.
    pub node_id: Option<i64>,
    pub view: View,
    pub status: Option<Status>,
    /// One category, by its code.
    pub category: Option<String>,
    /// Words in the description, the address, the reporter's name or the tracking number; a
    /// whole phone number also finds the reporter's phone, for callers who may see phones
    /// unmasked (not grid workers). Digits of a phone never match: it is stored encrypted.
    pub q: Option<String>,
    /// Received within `[from, before)` (Unix milliseconds), either end open.
    pub received: (Option<i64>, Option<i64>),
}

/// The lookup hash of the search when it is a whole phone number and the caller may see phones
/// unmasked (grid workers may not): the inbox then also matches the reporter's phone.
fn phone_term(keys: &Keyring, scope: &Scope, filter: &InboxFilter) -> Option<String> {
    if scope.role() == Role::GridWorker {
        return None;
    }
    let phone = linli_core::kernel::phone::Phone::parse(filter.q.as_deref()?.trim()).ok()?;
    Some(keys.lookup_hash(PHONE_HASH, phone.as_str()))
}

/// The WHERE clause of an inbox: the caller's jurisdiction, `under` (a node's path, already
/// checked in scope) and the filter (`phone`: the search's [`phone_term`]).
fn inbox_conditions(
    scope: &Scope,
    (under, phone): (Option<&JurisdictionPath>, Option<&str>),
    filter: &InboxFilter,
    now: i64,
    params: &mut Params,
) -> Vec<String> {
    let mut conds = vec![scope_filter(scope, "r.node_path", params)];
    if let Some(path) = under {
        let (lo, hi) = path.subtree_bounds();
        conds.push(format!(
            "r.node_path >= {} AND r.node_path < {}",
            params.text(lo),
            params.text(hi)
        ));
    }
    match filter.view {
        View::All => {}
        View::New => conds.push(status_in("r.status", &Status::UNTAKEN)),
        View::Pending => conds.push(status_in("r.status", &Status::PENDING)),
        View::Overdue => {
            let p = params.int(now);
            conds.push(format!(
                "{} AND (r.resolve_by < {p} OR (r.responded_at IS NULL AND r.respond_by < {p}))",
                status_in("r.status", &Status::PENDING)
            ));
        }
        View::Mine => match scope.user_id() {
            Some(me) => {
                let p = params.int(me);
                conds.push(format!(
                    "(r.handler_user_id = {p} OR r.created_by_user_id = {p})"
                ));
            }
            None => conds.push("1 = 0".into()),
        },
    }
    if let Some(status) = filter.status {
        conds.push(format!("r.status = {}", params.text(status.as_str())));
    }
    if let Some(code) = filter.category.as_deref().filter(|c| !c.is_empty()) {
        conds.push(format!("c.code = {}", params.text(code)));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let words = params.contains_any(
            &[
                "r.description",
                "r.address",
                "r.reporter_name",
                "r.tracking_number",
            ],
            q,
        );
        conds.push(match phone {
            Some(hash) => format!("({words} OR r.phone_hash = {})", params.text(hash)),
            None => words,
        });
    }
    conds.extend(params.in_range("r.received_at", filter.received));
    conds
}

/// The path of the filter's node, checked in the caller's scope (`NotFound` outside it).
async fn inbox_node(
    db: &Db,
    scope: &Scope,
    filter: &InboxFilter,
) -> Result<Option<JurisdictionPath>, StoreError> {
    Ok(match filter.node_id {
        Some(id) => Some(crate::tree::get(db, scope, id).await?.path),
        None => None,
    })
}

/// A page of the caller's inbox, newest first (`page.after` is a request id).
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &InboxFilter,
    page: Page,
    now: i64,
) -> Result<Vec<Request>, StoreError> {
    let keys = db.keys()?;
    let under = inbox_node(db, scope, filter).await?;
    let phone = phone_term(keys, scope, filter);
    let mut params = Params::new();
    let mut conds = inbox_conditions(
        scope,
        (under.as_ref(), phone.as_deref()),
        filter,
        now,
        &mut params,
    );
    if let Some(after) = page.after {
        conds.push(format!("r.id < {}", params.int(after)));
    }
    let limit = params.int(page.limit);
    let sql = format!(
        "{REQUEST_SELECT} WHERE {} ORDER BY r.id DESC LIMIT {limit}",
        conds.join(" AND ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    readable_requests(keys, scope, &rows)
}

/// The inbox as a worker pages it: `limit` requests (at most [`crate::MAX_LIST_ROWS`]) from
/// `offset`, newest first, and how many match the filter in all.
pub async fn inbox(
    db: &Db,
    scope: &Scope,
    filter: &InboxFilter,
    (limit, offset): (i64, i64),
    now: i64,
) -> Result<crate::Listed<Request>, StoreError> {
    let keys = db.keys()?;
    let under = inbox_node(db, scope, filter).await?;
    let phone = phone_term(keys, scope, filter);
    let (total, rows) = crate::infra::db::counted_page(
        db,
        request_columns!(),
        request_from!(),
        |params| {
            inbox_conditions(
                scope,
                (under.as_ref(), phone.as_deref()),
                filter,
                now,
                params,
            )
            .join(" AND ")
        },
        "r.id DESC",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| request_from_row(keys, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::Listed { items, total })
}

/// The clear reporter phone of one request, for staff and above within their jurisdiction.
/// Audited with the caller's address.
pub async fn unmask_phone(
    db: &Db,
    scope: &Scope,
    id: i64,
    ip: Option<&str>,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let req = get(db, scope, id).await?;
    if !scope.can_unmask(&req.node_path) {
        return Err(StoreError::Forbidden("网格员不能查看完整电话号码".into()));
    }
    let row = sqlx::query("SELECT phone_cipher FROM request WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    let cipher: Option<Vec<u8>> = row.try_get(0)?;
    let clear = cipher.map(|c| db.keys()?.decrypt(&c)).transpose()?;
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "request.unmask", "request")
            .entity_id(id)
            .node_path(&req.node_path)
            .ip(ip),
        now,
    )
    .await?;
    Ok(clear)
}

// ---------------------------------------------------------------------------------------------
// The lifecycle
// ---------------------------------------------------------------------------------------------

/// Applies one step of the lifecycle to a request in the caller's jurisdiction, writes the
/// timeline event and the audit entry, and returns the request as it now is. A step the
/// request's state does not allow changes nothing and names why; so does a step another user
/// took first (the update is conditional on the state read).
pub async fn transition(
    db: &Db,
    scope: &Scope,
    id: i64,
    action: &Action,
    now: i64,
) -> Result<Request, StoreError> {
    let req = get(db, scope, id).await?;
    act(db, By::User(scope), req, action, now).await
}

/// Who takes a step: a signed-in user, or the resident whose request it is.
#[derive(Clone, Copy)]
enum By<'a> {
    User(&'a Scope),
    Resident,
}

impl By<'_> {
    fn actor(self) -> Actor {
        match self {
            By::User(s) => Actor::User(s.role()),
            By::Resident => Actor::Resident,
        }
    }

    fn name(&self) -> &str {
        match self {
            By::User(s) => s.actor(),
            By::Resident => "居民",
        }
    }

    fn user_id(self) -> Option<i64> {
        match self {
            By::User(s) => s.user_id(),
            By::Resident => None,
        }
    }
}

/// A step being taken: by whom, on what, with which action, leading to which status, when.
#[derive(Clone, Copy)]
struct Taking<'a> {
    by: By<'a>,
    req: &'a Request,
    action: &'a Action,
    next: Status,
    now: i64,
}

/// Where a step sends the request, and what its event and audit entry say of that.
struct Routing {
    move_to: Option<crate::tree::Node>,
    department_id: Option<i64>,
    detail: serde_json::Value,
}

/// One step: refused by core's rule (role, then state) before anything is read or written;
/// then routed, applied as one conditional UPDATE, and recorded.
async fn act(
    db: &Db,
    by: By<'_>,
    req: Request,
    action: &Action,
    now: i64,
) -> Result<Request, StoreError> {
    rules::permit(req.status, req.rating, by.actor(), action.step()).map_err(refused)?;
    let routing = route(db, by, &req, action).await?;
    let step = Taking {
        by,
        req: &req,
        action,
        next: req.status.apply(action, req.rating)?,
        now,
    };
    let mut params = Params::new();
    let sets = changes(db, &step, &routing, &mut params).await?;
    let mut tx = db.begin_write().await?;
    update_unless_taken(&mut tx, &req, &sets, params).await?;
    record_step(&mut tx, &step, routing.detail).await?;
    tx.commit().await?;
    load(db, req.id).await?.ok_or(StoreError::NotFound)
}

/// Where a dispatch or a return sends the request; a dispatch target must be an open node in
/// the caller's jurisdiction, or a department.
async fn route(db: &Db, by: By<'_>, req: &Request, action: &Action) -> Result<Routing, StoreError> {
    let mut routing = Routing {
        move_to: None,
        department_id: req.department_id,
        detail: json!({}),
    };
    match (action, by) {
        (
            Action::Dispatch {
                target: Target::Node(node_id),
            },
            By::User(scope),
        ) => {
            let node = match crate::tree::get(db, scope, *node_id).await {
                Ok(n) => n,
                Err(StoreError::NotFound) => {
                    return Err(StoreError::invalid("node_id", "您的辖区内没有这个节点"))
                }
                Err(e) => return Err(e),
            };
            if !node.is_open() {
                return Err(StoreError::invalid("node_id", "该节点已撤销"));
            }
            routing.detail = json!({"node_id": node.id, "node_name": node.name});
            routing.department_id = None;
            routing.move_to = Some(node);
        }
        (
            Action::Dispatch {
                target: Target::Department(dep_id),
            },
            _,
        ) => {
            let dep = department(db, *dep_id, "department_id").await?;
            routing.detail = json!({"department_id": dep.id, "department_name": dep.name});
            routing.department_id = Some(dep.id);
        }
        (Action::Return { .. }, _) => {
            // Back to where it came in, for the dispatcher to send on again.
            if req.intake_node_id != req.node_id {
                let intake = crate::tree::get(db, &Scope::operator(), req.intake_node_id).await?;
                routing.move_to = Some(intake);
            }
            routing.department_id = None;
        }
        (Action::Rate { rating, .. }, _) => routing.detail = json!({"rating": rating.as_str()}),
        // Core's rule lets only a signed-in user dispatch; nothing else moves the request.
        _ => {}
    }
    Ok(routing)
}

/// The columns a step sets (`status = next`, and what the action carries), bound in `params`.
async fn changes(
    db: &Db,
    step: &Taking<'_>,
    routing: &Routing,
    params: &mut Params,
) -> Result<Vec<String>, StoreError> {
    let now = step.now;
    let mut sets = vec![
        format!("status = {}", params.text(step.next.as_str())),
        format!("updated_at = {}", params.int(now)),
        format!("department_id = {}", params.opt_int(routing.department_id)),
    ];
    if let Some(node) = &routing.move_to {
        sets.push(format!("node_id = {}", params.int(node.id)));
        sets.push(format!("node_path = {}", params.text(node.path.as_str())));
        sets.push(format!("district_id = {}", params.int(node.path.root_id())));
    }
    match step.action {
        Action::Accept => {
            sets.push(format!(
                "responded_at = COALESCE(responded_at, {})",
                params.int(now)
            ));
            sets.push(format!(
                "handler_user_id = {}",
                params.opt_int(step.by.user_id())
            ));
        }
        Action::Resolve { outcome } => {
            sets.push(format!("resolved_at = {}", params.int(now)));
            sets.push(format!("outcome = {}", params.text(outcome.clone())));
        }
        Action::Rate { rating, .. } => {
            sets.push(format!("rating = {}", params.text(rating.as_str())));
            sets.push(format!("rated_at = {}", params.int(now)));
        }
        Action::Reopen { .. } => {
            let rule = category_by_id(db, step.req.category_id).await?.rule;
            for column in [
                "resolved_at",
                "outcome",
                "rating",
                "rated_at",
                "closed_at",
                "resolution_overdue_at",
            ] {
                sets.push(format!("{column} = NULL"));
            }
            sets.push(format!(
                "resolve_by = {}",
                params.int(rule.resolve_by_from(now))
            ));
        }
        _ => {}
    }
    // Closing, or a rating that closed it (core decides which).
    if step.next == Status::Closed {
        sets.push(format!("closed_at = {}", params.int(now)));
    }
    Ok(sets)
}

/// The UPDATE, conditional on the state read: a second person acting on the same request
/// changes nothing and is told so.
async fn update_unless_taken(
    tx: &mut Tx<'_>,
    req: &Request,
    sets: &[String],
    mut params: Params,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE request SET {} WHERE id = {} AND status = {} AND updated_at = {}",
        sets.join(", "),
        params.int(req.id),
        params.text(req.status.as_str()),
        params.int(req.updated_at)
    );
    let done = params.bind(sqlx::query(&sql)).execute(&mut **tx).await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该诉求刚被他人处理，请刷新后再试".into(),
        });
    }
    Ok(())
}

/// The step's timeline events (its own, and 关闭 when a rating closed it) and audit entry.
async fn record_step(
    tx: &mut Tx<'_>,
    step: &Taking<'_>,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let Taking {
        by,
        req,
        action,
        next,
        now,
    } = *step;
    for (i, kind) in action.events(next).into_iter().enumerate() {
        // The action's own event carries its note and detail; a closing that follows does not.
        let (note, detail) = if i == 0 {
            (action.note(), detail.clone())
        } else {
            (None, json!({}))
        };
        add_event(tx, req.id, now, by.name(), kind, note, detail).await?;
    }
    audit::record(
        &mut **tx,
        AuditEntry::by_name(
            by.user_id(),
            by.name(),
            &format!("request.{}", action.as_str()),
            "request",
        )
        .entity_id(req.id)
        .node_path(&req.node_path)
        .detail(detail),
        now,
    )
    .await?;
    Ok(())
}

async fn category_by_id(db: &Db, id: i64) -> Result<Category, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM request_category WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    category_from_row(&row)
}

// ---------------------------------------------------------------------------------------------
// The resident
// ---------------------------------------------------------------------------------------------

/// What a resident sees of their own request: its state and the steps taken, not who took
/// them nor anything else of the record.
#[derive(Debug, Clone, Serialize)]
pub struct ResidentView {
    pub tracking_number: String,
    pub category_name: String,
    pub status: Status,
    pub received_at: i64,
    pub resolve_by: i64,
    pub outcome: Option<String>,
    pub rating: Option<Rating>,
    /// Whether the resident can rate it now.
    pub can_rate: bool,
    /// (time, kind) of each step, oldest first.
    pub steps: Vec<(i64, EventKind)>,
}

/// The request with this tracking number whose phone ends in `last4`; `NotFound` for any
/// mismatch (which of the two was wrong is not told).
async fn own_request(db: &Db, tracking: &str, last4: &str) -> Result<Request, StoreError> {
    let tracking = TrackingNumber::parse(tracking)?;
    let last4 = rules::parse_last4(last4)?;
    let row = sqlx::query("SELECT id, phone_last4 FROM request WHERE tracking_number = $1")
        .bind(tracking.as_str())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound);
    };
    let stored: Option<String> = row.try_get(1)?;
    match stored {
        Some(s) if constant_time_eq(&s, &last4) => {}
        _ => return Err(StoreError::NotFound),
    }
    load(db, row.try_get(0)?).await?.ok_or(StoreError::NotFound)
}

/// A resident's status check (no login): tracking number and the last 4 digits of the phone.
pub async fn resident_status(
    db: &Db,
    tracking: &str,
    last4: &str,
) -> Result<ResidentView, StoreError> {
    let req = own_request(db, tracking, last4).await?;
    let steps = events_of(db, req.id)
        .await?
        .into_iter()
        .filter(|e| e.kind.shown_to_resident())
        .map(|e| (e.at, e.kind))
        .collect();
    Ok(ResidentView {
        tracking_number: req.tracking_number,
        category_name: req.category_name,
        can_rate: rules::allowed(req.status, req.rating, Actor::Resident).contains(&Step::Rate),
        status: req.status,
        received_at: req.received_at,
        resolve_by: req.resolve_by,
        outcome: req.outcome,
        rating: req.rating,
        steps,
    })
}

/// The resident rates their resolved request (no login). 满意 and 基本满意 close it.
pub async fn resident_rate(
    db: &Db,
    tracking: &str,
    last4: &str,
    action: &Action,
    now: i64,
) -> Result<ResidentView, StoreError> {
    if !matches!(action, Action::Rate { .. }) {
        return Err(StoreError::invalid("rating", "请选择评价"));
    }
    let req = own_request(db, tracking, last4).await?;
    act(db, By::Resident, req, action, now).await?;
    resident_status(db, tracking, last4).await
}

// ---------------------------------------------------------------------------------------------
// Whistles (吹哨报到)
// ---------------------------------------------------------------------------------------------

/// A department summoned to a request.
#[derive(Debug, Clone, Serialize)]
pub struct Whistle {
    pub id: i64,
    pub request_id: i64,
    pub department_id: i64,
    pub department_name: String,
    pub blown_at: i64,
    pub blown_by: String,
    pub due_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub response: Option<String>,
    /// As of the time it was read.
    pub state: WhistleState,
}

async fn whistles_of(db: &Db, request_id: i64, now: i64) -> Result<Vec<Whistle>, StoreError> {
    let rows = sqlx::query(
        "SELECT w.id, w.request_id, w.department_id, d.name, w.blown_at, w.blown_by, w.due_at, \
         w.acknowledged_at, w.acknowledged_by, w.response \
         FROM request_whistle w JOIN department d ON d.id = w.department_id \
         WHERE w.request_id = $1 ORDER BY w.id",
    )
    .bind(request_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let due_at: i64 = r.try_get(6)?;
            let ack: Option<i64> = r.try_get(7)?;
            Ok(Whistle {
                id: r.try_get(0)?,
                request_id: r.try_get(1)?,
                department_id: r.try_get(2)?,
                department_name: r.try_get(3)?,
                blown_at: r.try_get(4)?,
                blown_by: r.try_get(5)?,
                due_at,
                acknowledged_at: ack,
                acknowledged_by: r.try_get(8)?,
                response: r.try_get(9)?,
                state: WhistleState::of(due_at, ack, now),
            })
        })
        .collect()
}

/// The whistles of a request in the caller's jurisdiction, with their state at `now`.
pub async fn whistles(
    db: &Db,
    scope: &Scope,
    request_id: i64,
    now: i64,
) -> Result<Vec<Whistle>, StoreError> {
    get(db, scope, request_id).await?;
    whistles_of(db, request_id, now).await
}

/// Summons departments to a pending request (not grid workers): each must report within 30
/// minutes. A department already summoned to this request is a conflict. Audited.
pub async fn blow_whistle(
    db: &Db,
    scope: &Scope,
    request_id: i64,
    department_ids: &[i64],
    now: i64,
) -> Result<Vec<Whistle>, StoreError> {
    let req = get(db, scope, request_id).await?;
    rules::permit(
        req.status,
        req.rating,
        Actor::User(scope.role()),
        Step::Whistle,
    )
    .map_err(refused)?;
    if department_ids.is_empty() {
        return Err(StoreError::invalid(
            "department_ids",
            "请至少选择一个要召集的部门",
        ));
    }
    let mut deps = Vec::new();
    for id in department_ids {
        deps.push(department(db, *id, "department_ids").await?);
    }
    let mut tx = db.begin_write().await?;
    for dep in &deps {
        sqlx::query(
            "INSERT INTO request_whistle (request_id, department_id, blown_at, blown_by, due_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request_id)
        .bind(dep.id)
        .bind(now)
        .bind(scope.actor())
        .bind(now + WHISTLE_ACK_MS)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_to(e, "department_ids", &format!("已召集过「{}」", dep.name)))?;
    }
    let names: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
    add_event(
        &mut tx,
        request_id,
        now,
        scope.actor(),
        EventKind::Whistled,
        Some(&names.join("、")),
        json!({"department_ids": department_ids}),
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "request.whistle", "request")
            .entity_id(request_id)
            .node_path(&req.node_path)
            .detail(json!({"department_ids": department_ids})),
        now,
    )
    .await?;
    whistles_of(db, request_id, now).await
}

/// Records a summoned department's report (报到) and its response. Reported once; a report
/// after 30 minutes is kept and shown as late. Audited.
pub async fn acknowledge_whistle(
    db: &Db,
    scope: &Scope,
    whistle_id: i64,
    response: &str,
    now: i64,
) -> Result<Whistle, StoreError> {
    let row = row_by_id(
        db,
        "SELECT request_id FROM request_whistle WHERE id = $1",
        whistle_id,
    )
    .await?;
    let request_id: i64 = row.try_get(0)?;
    let req = get(db, scope, request_id).await?;
    let response = response.trim();
    if response.is_empty() {
        return Err(StoreError::invalid(
            "response",
            "请填写部门的报到情况和处置意见",
        ));
    }
    if response.chars().count() > rules::MAX_NOTE {
        return Err(StoreError::invalid(
            "response",
            format!("不能超过 {} 字", rules::MAX_NOTE),
        ));
    }
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE request_whistle SET acknowledged_at = $1, acknowledged_by = $2, response = $3 \
         WHERE id = $4 AND acknowledged_at IS NULL",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(response)
    .bind(whistle_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            field: "whistle".into(),
            message: "该部门已报到".into(),
        });
    }
    add_event(
        &mut tx,
        request_id,
        now,
        scope.actor(),
        EventKind::WhistleAcknowledged,
        Some(response),
        json!({"whistle_id": whistle_id}),
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "request.whistle_ack", "request")
            .entity_id(request_id)
            .node_path(&req.node_path)
            .detail(json!({"whistle_id": whistle_id})),
        now,
    )
    .await?;
    whistles_of(db, request_id, now)
        .await?
        .into_iter()
        .find(|w| w.id == whistle_id)
        .ok_or(StoreError::NotFound)
}

/// Whistles in the caller's jurisdiction not reported by `now` although due (shown in red).
pub async fn unanswered_whistles(
    db: &Db,
    scope: &Scope,
    now: i64,
) -> Result<Vec<Whistle>, StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "r.node_path", &mut params);
    let p = params.int(now);
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT DISTINCT w.request_id FROM request_whistle w JOIN request r ON r.id = w.request_id \
             WHERE {filter} AND w.acknowledged_at IS NULL AND w.due_at < {p} ORDER BY w.request_id LIMIT 500"
        )))
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        out.extend(
            whistles_of(db, id, now)
                .await?
                .into_iter()
                .filter(|w| w.state == WhistleState::Unanswered),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Leases and the deadlines job
// ---------------------------------------------------------------------------------------------

/// Takes (or renews) the lease on job `name` for `holder` until `now + ttl_ms`, when nobody
/// else holds an unexpired one. One conditional statement: of two servers racing, exactly one
/// gets a row back.
pub async fn take_lease(
    db: &Db,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "INSERT INTO job_lease (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE job_lease.expires_at <= $4 OR job_lease.holder = excluded.holder \
         RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(now + ttl_ms)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// Gives the lease up (only its holder can).
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM job_lease WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// What one run of the deadlines job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OverdueRun {
    pub response_overdue: u64,
    pub resolution_overdue: u64,
    pub escalated: u64,
}

/// Marks the requests whose response or resolution deadline has passed by `now`, escalates
/// those whose category says so (to the node above the one responsible), and writes each as
/// a timeline event by `system`. Idempotent: each mark is made once.
pub async fn run_overdue(db: &Db, now: i64) -> Result<OverdueRun, StoreError> {
    let mut run = OverdueRun::default();
    for late in overdue_candidates(db, now).await? {
        let verdict = rules::overdue(&late.facts, now);
        if verdict.response_overdue || verdict.resolution_overdue || verdict.escalate {
            mark_overdue(db, &late, verdict, now, &mut run).await?;
        }
    }
    Ok(run)
}

/// A pending request with a deadline passed and not yet marked, as the job reads it.
struct LateRequest {
    id: i64,
    facts: OverdueFacts,
    path: JurisdictionPath,
    updated_at: i64,
}

impl LateRequest {
    /// The node an escalation goes to: the one above the node responsible (a district stays).
    fn above(&self) -> i64 {
        let ids = self.path.ids();
        if ids.len() >= 2 {
            ids[ids.len() - 2]
        } else {
            self.path.id()
        }
    }
}

async fn overdue_candidates(db: &Db, now: i64) -> Result<Vec<LateRequest>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT r.id, r.status, r.respond_by, r.resolve_by, r.responded_at, r.response_overdue_at, \
         r.resolution_overdue_at, r.escalated_at, c.escalation, r.node_path, r.updated_at \
         FROM request r JOIN request_category c ON c.id = r.category_id \
         WHERE {} \
         AND ((r.response_overdue_at IS NULL AND r.responded_at IS NULL AND r.respond_by < $1) \
              OR (r.resolution_overdue_at IS NULL AND r.resolve_by < $1)) \
         ORDER BY r.id LIMIT 5000",
        status_in("r.status", &Status::PENDING)
    ))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get(1)?;
            let escalation: String = r.try_get(8)?;
            Ok(LateRequest {
                id: r.try_get(0)?,
                facts: OverdueFacts {
                    status: status.parse().map_err(internal)?,
                    respond_by: r.try_get(2)?,
                    resolve_by: r.try_get(3)?,
                    responded_at: r.try_get(4)?,
                    response_overdue_at: r.try_get(5)?,
                    resolution_overdue_at: r.try_get(6)?,
                    escalated_at: r.try_get(7)?,
                    escalation: escalation.parse::<Escalation>().map_err(internal)?,
                },
                path: JurisdictionPath::parse(&r.try_get::<String, _>(9)?).map_err(internal)?,
                updated_at: r.try_get(10)?,
            })
        })
        .collect()
}

/// Writes one request's verdict: the marks, conditional on the row read (someone acting on
/// it meanwhile leaves it for the next run), and a `system` event for each.
async fn mark_overdue(
    db: &Db,
    late: &LateRequest,
    verdict: rules::OverdueVerdict,
    now: i64,
    run: &mut OverdueRun,
) -> Result<(), StoreError> {
    let mut params = Params::new();
    let mut sets = vec![format!("updated_at = {}", params.int(now))];
    if verdict.response_overdue {
        sets.push(format!("response_overdue_at = {}", params.int(now)));
    }
    if verdict.resolution_overdue {
        sets.push(format!("resolution_overdue_at = {}", params.int(now)));
    }
    if verdict.escalate {
        sets.push(format!("escalated_at = {}", params.int(now)));
        sets.push(format!("escalated_node_id = {}", params.int(late.above())));
    }
    let sql = format!(
        "UPDATE request SET {} WHERE id = {} AND updated_at = {}",
        sets.join(", "),
        params.int(late.id),
        params.int(late.updated_at)
    );
    let mut tx = db.begin_write().await?;
    let done = params.bind(sqlx::query(&sql)).execute(&mut *tx).await?;
    if done.rows_affected() != 1 {
        return Ok(());
    }
    let (id, facts) = (late.id, &late.facts);
    if verdict.response_overdue {
        let detail = json!({"respond_by": facts.respond_by});
        add_event(
            &mut tx,
            id,
            now,
            "system",
            EventKind::ResponseOverdue,
            None,
            detail,
        )
        .await?;
        run.response_overdue += 1;
    }
    if verdict.resolution_overdue {
        let detail = json!({"resolve_by": facts.resolve_by});
        add_event(
            &mut tx,
            id,
            now,
            "system",
            EventKind::ResolutionOverdue,
            None,
            detail,
        )
        .await?;
        run.resolution_overdue += 1;
    }
    if verdict.escalate {
        let above = late.above();
        let name = sqlx::query("SELECT name FROM node WHERE id = $1")
            .bind(above)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .unwrap_or_default();
        let note = format!("已升级至{name}");
        let detail = json!({"node_id": above, "rule": facts.escalation.as_str()});
        add_event(
            &mut tx,
            id,
            now,
            "system",
            EventKind::Escalated,
            Some(&note),
            detail,
        )
        .await?;
        run.escalated += 1;
    }
    tx.commit().await?;
    Ok(())
}

/// Runs the deadlines job if `holder` gets its lease (held for `ttl_ms`); `None` when another
/// server holds it.
pub async fn run_deadlines_job(
    db: &Db,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Option<OverdueRun>, StoreError> {
    if !take_lease(db, DEADLINES_JOB, holder, now, ttl_ms).await? {
        return Ok(None);
    }
    run_overdue(db, now).await.map(Some)
}

// ---------------------------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------------------------

/// The three rates (and medians) over the requests received from `from` to `to` (China
/// dates, both included) now in the subtree of `node_id` (a node in the caller's scope).
pub async fn rates(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    from: time::Date,
    to: time::Date,
) -> Result<Rates, StoreError> {
    if to < from {
        return Err(StoreError::invalid("to", "结束日期不能早于开始日期"));
    }
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let end = to.next_day().map(day_start_ms).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT received_at, respond_by, responded_at, resolved_at, status, rating, node_path FROM request \
         WHERE node_path >= $1 AND node_path < $2 AND received_at >= $3 AND received_at < $4",
    )
    .bind(lo)
    .bind(hi)
    .bind(day_start_ms(from))
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let mut facts = Vec::with_capacity(rows.len());
    for r in &rows {
        let path = JurisdictionPath::parse(&r.try_get::<String, _>(6)?).map_err(internal)?;
        if !scope.can_read(&path) {
            continue;
        }
        let status: String = r.try_get(4)?;
        let rating: Option<String> = r.try_get(5)?;
        facts.push(RateFacts {
            received_at: r.try_get(0)?,
            respond_by: r.try_get(1)?,
            responded_at: r.try_get(2)?,
            resolved_at: r.try_get(3)?,
            status: status.parse().map_err(internal)?,
            rating: rating.map(|s| s.parse()).transpose().map_err(internal)?,
        });
    }
    Ok(rules::rates(&facts))
}

/// `YYYY-MM-DD` of a period's bound, for messages.
pub fn period_label(from: time::Date, to: time::Date) -> String {
    format!("{} 至 {}", format_date(from), format_date(to))
}

// ---------------------------------------------------------------------------------------------
// Open311 API keys
// ---------------------------------------------------------------------------------------------

/// An Open311 client's key, bound to a node.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub node_id: i64,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
}

/// Creates a key for `node_id` (admins; the CLI acts as admin). Returns it with the key, which
/// is shown once: only its SHA-256 is stored. Audited.
pub async fn create_api_key(
    db: &Db,
    scope: &Scope,
    name: &str,
    node_id: i64,
    now: i64,
) -> Result<(ApiKey, String), StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden(
            "只有系统管理员可以创建接口密钥".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(StoreError::invalid(
            "name",
            "请填写密钥名称（不超过 60 字）",
        ));
    }
    let node = crate::tree::get(db, scope, node_id)
        .await
        .map_err(|_| StoreError::invalid("node", "没有这个节点"))?;
    let key = random_token(24);
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO api_key (name, key_hash, node_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(token_hash(&key))
        .bind(node.id)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "api_key.create", "api_key")
            .node_path(&node.path)
            .detail(json!({"name": name, "node_id": node.id})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        ApiKey {
            id,
            name: name.to_owned(),
            node_id: node.id,
            node_path: node.path,
        },
        key,
    ))
}

/// A key as admins see it in the list: never the key itself, which is shown once at creation.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub name: String,
    pub node_id: i64,
    pub node_name: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
    /// Requests filed with the key, and when the last one came.
    pub requests: i64,
    pub last_request_at: Option<i64>,
}

/// Every key within the admin's sight, newest first, revoked ones included (admins only).
pub async fn list_api_keys(db: &Db, scope: &Scope) -> Result<Vec<ApiKeyInfo>, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden(
            "只有系统管理员可以管理接口密钥".into(),
        ));
    }
    let rows = sqlx::query(
        "SELECT k.id, k.name, k.node_id, n.name, k.created_at, k.created_by, k.revoked_at,                 (SELECT COUNT(*) FROM request r WHERE r.api_key_id = k.id),                 (SELECT MAX(r.received_at) FROM request r WHERE r.api_key_id = k.id)          FROM api_key k JOIN node n ON n.id = k.node_id ORDER BY k.id DESC",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApiKeyInfo {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                node_id: r.try_get(2)?,
                node_name: r.try_get(3)?,
                created_at: r.try_get(4)?,
                created_by: r.try_get(5)?,
                revoked_at: r.try_get(6)?,
                requests: r.try_get(7)?,
                last_request_at: r.try_get(8)?,
            })
        })
        .collect()
}

/// Revokes a key at once (admins only): the client's next call is refused. Revoking a revoked
/// key changes nothing. Audited.
pub async fn revoke_api_key(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<(), StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden(
            "只有系统管理员可以管理接口密钥".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("SELECT name, revoked_at FROM api_key WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    if row.try_get::<Option<i64>, _>(1)?.is_some() {
        return Ok(());
    }
    let name: String = row.try_get(0)?;
    sqlx::query("UPDATE api_key SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "api_key.revoke", "api_key")
            .entity_id(id)
            .detail(json!({"name": name})),
        now,
    )
    .await?;
    Ok(())
}

/// The live key with this value, if any.
pub async fn api_key(db: &Db, key: &str) -> Result<Option<ApiKey>, StoreError> {
    let row = sqlx::query(
        "SELECT k.id, k.name, k.node_id, n.path FROM api_key k JOIN node n ON n.id = k.node_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(token_hash(key.trim()))
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(ApiKey {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            node_id: r.try_get(2)?,
            node_path: JurisdictionPath::parse(&r.try_get::<String, _>(3)?).map_err(internal)?,
        })
    })
    .transpose()
}

impl ApiKey {
    fn actor(&self) -> String {
        format!("open311:{}", self.name)
    }

    /// The key acting as a reader of its node (for the shared list and get paths).
    fn scope(&self) -> Scope {
        Scope::for_user(
            0,
            &self.actor(),
            Role::Official,
            vec![self.node_path.clone()],
        )
    }
}

/// Files a request through Open311 into the key's node. Audited.
pub async fn create_open311(
    db: &Db,
    key: &ApiKey,
    service_code: &str,
    draft: &RequestDraft,
    now: i64,
) -> Result<Request, StoreError> {
    let node = crate::tree::get(db, &Scope::operator(), key.node_id).await?;
    let intake = Intake {
        channel: Channel::Open311,
        actor: key.actor(),
        user_id: None,
        api_key_id: Some(key.id),
        scope: None,
    };
    let id = insert(db, &node, service_code, draft, None, &intake, now).await?;
    load(db, id).await?.ok_or(StoreError::NotFound)
}

/// Open311's request filters.
#[derive(Debug, Clone, Default)]
pub struct Open311Filter {
    /// Tracking numbers; when given, the other filters are ignored (as the spec says).
    pub ids: Vec<String>,
    /// Any of these categories (all when empty); read once each, so a list of repeats costs
    /// one query and one audit entry.
    pub service_codes: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `open` or `closed`.
    pub status: Option<String>,
}

/// The requests of the key's node that match, newest first (at most 1000; the spec's default
/// window of 90 days applies when no dates are given). The read is audited.
pub async fn open311_list(
    db: &Db,
    key: &ApiKey,
    filter: &Open311Filter,
    now: i64,
) -> Result<Vec<Request>, StoreError> {
    let keys = db.keys()?;
    let scope = key.scope();
    let mut params = Params::new();
    let mut conds = vec![scope_filter(&scope, "r.node_path", &mut params)];
    conds.extend(open311_conditions(filter, now, &mut params));
    let sql = format!(
        "{REQUEST_SELECT} WHERE {} ORDER BY r.id DESC LIMIT 1000",
        conds.join(" AND ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let out = readable_requests(keys, &scope, &rows)?;
    audit::record(
        db.pool(),
        AuditEntry::by_name(None, &key.actor(), "request.api_read", "request")
            .node_path(&key.node_path)
            .detail(json!({"count": out.len()})),
        now,
    )
    .await?;
    Ok(out)
}

/// The SQL conditions of Open311's filters (both views share them).
fn open311_conditions(filter: &Open311Filter, now: i64, params: &mut Params) -> Vec<String> {
    let mut conds = Vec::new();
    if !filter.ids.is_empty() {
        let ph: Vec<String> = filter
            .ids
            .iter()
            .map(|id| params.text(id.clone()))
            .collect();
        conds.push(format!("r.tracking_number IN ({})", ph.join(", ")));
    } else {
        if !filter.service_codes.is_empty() {
            let ph: Vec<String> = filter
                .service_codes
                .iter()
                .map(|c| params.text(c.clone()))
                .collect();
            conds.push(format!("c.code IN ({})", ph.join(", ")));
        }
        let start = filter
            .start
            .unwrap_or_else(|| filter.end.unwrap_or(now) - 90 * 24 * 3_600_000);
        conds.push(format!("r.received_at >= {}", params.int(start)));
        if let Some(end) = filter.end {
            conds.push(format!("r.received_at <= {}", params.int(end)));
        }
        match filter.status.as_deref() {
            Some("closed") => conds.push(format!("r.status = {}", sql_status(Status::Closed))),
            Some("open") => conds.push(format!("r.status <> {}", sql_status(Status::Closed))),
            _ => {}
        }
    }
    conds
}

/// The request with this Open311 token within the key's node.
pub async fn open311_by_token(db: &Db, key: &ApiKey, token: &str) -> Result<Request, StoreError> {
    let row = sqlx::query("SELECT id FROM request WHERE open311_token = $1")
        .bind(token)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    get(db, &key.scope(), row.try_get(0)?).await
}

// ---------------------------------------------------------------------------------------------
// Open311 public reading (no key)
// ---------------------------------------------------------------------------------------------

/// A node's choice about keyless Open311 reading. It covers the node's subtree; a node with no
/// setting of its own or above is read publicly without descriptions ([`Open311Policy`]).
#[derive(Debug, Clone, Serialize)]
pub struct Open311Setting {
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub public_read: bool,
    pub publish_descriptions: bool,
    pub updated_at: i64,
    pub updated_by: String,
}

/// What the settings on a request's way from the root say: the stricter wins where several
/// apply (a street's "off" is not undone by its community, nor a community's by its street).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open311Policy {
    pub public_read: bool,
    pub publish_descriptions: bool,
}

impl Open311Policy {
    /// The policy for a request at `paths` (its current node and its intake node).
    fn of(settings: &[Open311Setting], paths: &[&JurisdictionPath]) -> Open311Policy {
        let applicable: Vec<&Open311Setting> = settings
            .iter()
            .filter(|s| paths.iter().any(|p| p.is_within(&s.node_path)))
            .collect();
        Open311Policy {
            public_read: applicable.iter().all(|s| s.public_read),
            // Off by default: descriptions are the residents' own words.
            publish_descriptions: !applicable.is_empty()
                && applicable.iter().all(|s| s.publish_descriptions),
        }
    }
}

async fn all_open311_settings(db: &Db) -> Result<Vec<Open311Setting>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.node_id, n.name, n.path, s.public_read, s.publish_descriptions, s.updated_at, \
         s.updated_by FROM open311_setting s JOIN node n ON n.id = s.node_id ORDER BY n.path",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Open311Setting {
                node_id: r.try_get(0)?,
                node_name: r.try_get(1)?,
                node_path: JurisdictionPath::parse(&r.try_get::<String, _>(2)?)
                    .map_err(internal)?,
                public_read: r.try_get::<i64, _>(3)? != 0,
                publish_descriptions: r.try_get::<i64, _>(4)? != 0,
                updated_at: r.try_get(5)?,
                updated_by: r.try_get(6)?,
            })
        })
        .collect()
}

/// The settings within the caller's jurisdiction, by node path.
pub async fn open311_settings(db: &Db, scope: &Scope) -> Result<Vec<Open311Setting>, StoreError> {
    Ok(all_open311_settings(db)
        .await?
        .into_iter()
        .filter(|s| scope.can_read(&s.node_path))
        .collect())
}

/// The policy in force at a node (its own setting and those above it).
pub async fn open311_policy_at(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Open311Policy, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let settings = all_open311_settings(db).await?;
    Ok(Open311Policy::of(&settings, &[&node.path]))
}

/// Who may change a node's setting: admins, and community staff within their jurisdiction.
fn may_set_open311(scope: &Scope, path: &JurisdictionPath) -> bool {
    match scope.role() {
        Role::Admin => true,
        Role::Staff => scope.can_read(path),
        Role::Official | Role::GridWorker => false,
    }
}

/// Sets a node's keyless reading and description publishing (admins, and staff of the node's
/// community). Audited with the values before and after.
pub async fn set_open311_setting(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    public_read: bool,
    publish_descriptions: bool,
    now: i64,
) -> Result<Open311Setting, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    if !may_set_open311(scope, &node.path) {
        return Err(StoreError::Forbidden(
            "只有系统管理员和本社区工作人员可以修改公开查询设置".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    let before = sqlx::query(
        "SELECT public_read, publish_descriptions FROM open311_setting WHERE node_id = $1",
    )
    .bind(node.id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| {
        Ok::<_, StoreError>(json!({
            "public_read": r.try_get::<i64, _>(0)? != 0,
            "publish_descriptions": r.try_get::<i64, _>(1)? != 0,
        }))
    })
    .transpose()?;
    sqlx::query(
        "INSERT INTO open311_setting (node_id, public_read, publish_descriptions, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node_id) DO UPDATE SET \
         public_read = excluded.public_read, publish_descriptions = excluded.publish_descriptions, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(node.id)
    .bind(i64::from(public_read))
    .bind(i64::from(publish_descriptions))
    .bind(now)
    .bind(scope.actor())
    .execute(&mut *tx)
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "request.public_setting", "node")
            .entity_id(node.id)
            .node_path(&node.path)
            .detail(json!({
                "node": node.name,
                "before": before,
                "public_read": public_read,
                "publish_descriptions": publish_descriptions,
            })),
        now,
    )
    .await?;
    Ok(Open311Setting {
        node_id: node.id,
        node_name: node.name,
        node_path: node.path,
        public_read,
        publish_descriptions,
        updated_at: now,
        updated_by: scope.actor().to_owned(),
    })
}

/// A request as keyless Open311 clients see it: no reporter, no photo, the address at building
/// level and coordinates rounded (`linli_core::requests::open311`), the description only where
/// the community publishes descriptions.
#[derive(Debug, Clone, Serialize)]
pub struct PublicRequest {
    pub tracking_number: String,
    pub status: Status,
    /// The agency's public response: the outcome once resolved.
    pub outcome: Option<String>,
    pub category_code: String,
    pub category_name: String,
    pub agency: String,
    pub description: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub received_at: i64,
    pub updated_at: i64,
    pub resolve_by: i64,
}

/// The public requests that match, newest first (at most 1000; the same filters and window
/// as [`open311_list`]). Requests of nodes whose reading is off are left out, as if they did
/// not exist. Not audited: nothing in the view is personal, and the calls are rate-limited.
/// The reporter's phone is never decrypted on this path.
pub async fn open311_public_list(
    db: &Db,
    filter: &Open311Filter,
    now: i64,
) -> Result<Vec<PublicRequest>, StoreError> {
    let settings = all_open311_settings(db).await?;
    let mut params = Params::new();
    let mut conds = open311_conditions(filter, now, &mut params);
    // Leave out the subtrees whose reading is off in SQL, so that the bound of 1000 counts
    // public requests only.
    for s in settings.iter().filter(|s| !s.public_read) {
        let (lo, hi) = s.node_path.subtree_bounds();
        let (lo, hi) = (params.text(lo), params.text(hi));
        conds.push(format!(
            "NOT (r.node_path >= {lo} AND r.node_path < {hi}) AND NOT (i.path >= {lo} AND i.path < {hi})"
        ));
    }
    if conds.is_empty() {
        conds.push("1 = 1".to_owned());
    }
    let sql = format!(
        "SELECT r.tracking_number, r.node_path, i.path AS intake_path, c.code, c.name, \
         r.description, r.address, r.lat, r.lng, r.status, d.name AS department_name, \
         n.name AS node_name, r.received_at, r.updated_at, r.resolve_by, r.outcome \
         FROM request r JOIN node n ON n.id = r.node_id JOIN node i ON i.id = r.intake_node_id \
         JOIN request_category c ON c.id = r.category_id \
         LEFT JOIN department d ON d.id = r.department_id \
         WHERE {} ORDER BY r.id DESC LIMIT 1000",
        conds.join(" AND ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let path = JurisdictionPath::parse(&r.try_get::<String, _>(1)?).map_err(internal)?;
        let intake = JurisdictionPath::parse(&r.try_get::<String, _>(2)?).map_err(internal)?;
        let policy = Open311Policy::of(&settings, &[&path, &intake]);
        if !policy.public_read {
            continue;
        }
        let status: String = r.try_get(9)?;
        let department: Option<String> = r.try_get(10)?;
        let address: Option<String> = r.try_get(6)?;
        let lat: Option<f64> = r.try_get(7)?;
        let long: Option<f64> = r.try_get(8)?;
        out.push(PublicRequest {
            tracking_number: r.try_get(0)?,
            status: status.parse().map_err(internal)?,
            outcome: r.try_get(15)?,
            category_code: r.try_get(3)?,
            category_name: r.try_get(4)?,
            agency: department.map_or_else(|| r.try_get(11), Ok)?,
            description: if policy.publish_descriptions {
                Some(r.try_get(5)?)
            } else {
                None
            },
            address: address.as_deref().and_then(rules::open311::public_address),
            lat: lat.map(rules::open311::public_coordinate),
            long: long.map(rules::open311::public_coordinate),
            received_at: r.try_get(12)?,
            updated_at: r.try_get(13)?,
            resolve_by: r.try_get(14)?,
        });
    }
    Ok(out)
}

/// The deadlines job as a server runs it: once a minute, under the lease (held 5 minutes and
/// renewed on each run, so a crashed holder is replaced within 5 minutes), at the time `clock`
/// tells. `linli serve` spawns this beside its other jobs.
pub async fn deadlines_every_minute(db: Db, clock: fn() -> i64) {
    let holder = format!("server-{}", random_token(8));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_deadlines_job(&db, &holder, clock(), 5 * 60_000).await {
            Ok(Some(run)) if run != OverdueRun::default() => {
                tracing::info!(?run, "request deadlines: requests marked overdue")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "request deadlines job failed"),
        }
    }
}
