//! Enterprises and individual businesses and their reopening (复工复产): the registry of
//! businesses, reopening applications (by staff, or by the business itself through its public
//! link), the community's decision, inspections after approval, and why the rest have not
//! reopened. The rules are pure (`linli_core::enterprises`); this module keeps the records.
//!
//! Access: staff and admins write within their jurisdiction and decide on applications (the
//! community decides, as in the source reports); officials and grid workers read within theirs.

use linli_core::enterprises::{
    missing_items, ChecklistItem, CreditCode, EnterpriseDraft, EnterpriseInput, EnterpriseKind,
    InspectionDraft, InspectionInput, NotReopened, NotReopenedReason, ReopeningDecision,
    ReopeningDraft, ReopeningInput, ReopeningStatus,
};
use linli_core::kernel::clock::{format_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::labelled;
use linli_core::{JurisdictionPath, Role, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::internal;
use crate::infra::secret::{token_hash, Keyring};
use crate::{Db, Page, StoreError};

/// Hash domain of the contact phones' lookup hashes (the same as persons' phones, so one
/// number finds both).
const PHONE_HASH: &str = "phone";

/// Bytes of randomness in a public application link (256 bits, like session tokens).
/// Links made before short codes carried 32 random bytes as hex; they still work.
const OLD_LINK_TOKEN_BYTES: usize = 32;

/// A new link code (`kernel::token::ENTERPRISE`, a person can type it).
fn new_link_token() -> String {
    crate::infra::secret::short_code(linli_core::kernel::token::ENTERPRISE)
}

/// Staff and admins register businesses and decide on their applications.
fn can_write(scope: &Scope, path: &JurisdictionPath) -> bool {
    matches!(scope.role(), Role::Admin | Role::Staff) && scope.can_read(path)
}

fn forbidden() -> StoreError {
    StoreError::Forbidden("只有社区工作者可以登记企业和审批复工".into())
}

labelled! {
    /// Where a business stands, from its latest application.
    pub enum Standing: "standing" {
        /// The latest application was approved.
        #[strum(serialize = "reopened", props(zh = "已复工"))]
        Reopened,
        /// The latest application waits for the community's decision.
        #[strum(serialize = "pending", props(zh = "待审核"))]
        Pending,
        /// No application yet, or the latest was rejected.
        #[strum(serialize = "not_reopened", props(zh = "未复工"))]
        NotReopened,
    }
}

impl Standing {
    fn of(latest: Option<&str>) -> Standing {
        match latest {
            Some("approved") => Standing::Reopened,
            Some("submitted") => Standing::Pending,
            _ => Standing::NotReopened,
        }
    }
}

/// A business as shown: the contact phone masked.
#[derive(Debug, Clone, Serialize)]
pub struct Enterprise {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub name: String,
    pub kind: EnterpriseKind,
    pub credit_code: Option<String>,
    pub address: Option<String>,
    pub employees: Option<i64>,
    pub contact_name: Option<String>,
    pub contact_phone_masked: Option<String>,
    pub standing: Standing,
    pub not_reopened_reason: Option<NotReopenedReason>,
    pub not_reopened_note: Option<String>,
    /// The reason given when the latest application was rejected (absent otherwise).
    pub rejected_reason: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

const ENTERPRISE_COLUMNS: &str = "e.id, e.node_id, n.name AS node_name, e.node_path, e.name, e.kind, e.credit_code, e.address, \
     e.employees, e.contact_name, e.phone_cipher, e.not_reopened_reason, e.not_reopened_note, e.created_at, e.created_by, \
     (SELECT r.status FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1) AS latest, \
     (SELECT r.decision_reason FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1) AS latest_reason";

fn enterprise_from_row(keys: &Keyring, r: &sqlx::any::AnyRow) -> Result<Enterprise, StoreError> {
    let kind: String = r.try_get("kind")?;
    let reason: Option<String> = r.try_get("not_reopened_reason")?;
    let latest: Option<String> = r.try_get("latest")?;
    Ok(Enterprise {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&r.try_get::<String, _>("node_path")?)
            .map_err(internal)?,
        name: r.try_get("name")?,
        kind: kind.parse().map_err(internal)?,
        credit_code: r.try_get("credit_code")?,
        address: r.try_get("address")?,
        employees: r.try_get("employees")?,
        contact_name: r.try_get("contact_name")?,
        contact_phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
        standing: Standing::of(latest.as_deref()),
        not_reopened_reason: reason.map(|s| s.parse()).transpose().map_err(internal)?,
        not_reopened_note: r.try_get("not_reopened_note")?,
        rejected_reason: r
            .try_get::<Option<String>, _>("latest_reason")?
            .filter(|_| latest.as_deref() == Some("rejected")),
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

/// A registered business and the one-time token of its public application link (`/e/{token}`);
/// only the token's SHA-256 is stored, so the link is shown now or made anew later.
#[derive(Debug, Clone)]
pub struct Registered {
    pub enterprise: Enterprise,
    pub link_token: String,
}

/// Registers a business. A credit code already registered is a conflict on `credit_code`
/// (naming the record only when the caller may see it). Audited.
pub async fn create(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    input: &EnterpriseInput<'_>,
    now: i64,
) -> Result<Registered, StoreError> {
    let keys = db.keys()?;
    let parsed = EnterpriseDraft::parse(input);
    let may_write = |node: &crate::tree::Node| {
        if can_write(scope, &node.path) {
            Ok(())
        } else {
            Err(forbidden())
        }
    };
    let node = crate::tree::registration_node(
        db,
        scope,
        node_id,
        may_write,
        "企业只能登记在社区/村、小区、网格或楼栋之下",
    )
    .await;
    // Field errors first (all of them), then where it goes.
    let draft = match (parsed, node) {
        (Err(mut errors), Err(StoreError::Invalid(more))) => {
            errors.extend(more);
            return Err(StoreError::Invalid(errors));
        }
        (Err(errors), Ok(_)) => return Err(StoreError::Invalid(errors)),
        (_, Err(e)) => return Err(e),
        (Ok(d), Ok(n)) => (d, n),
    };
    let (draft, node) = draft;
    if let Some(code) = &draft.credit_code {
        check_code_free(db, scope, code, None).await?;
    }
    let token = new_link_token();
    let phone_cipher = draft
        .contact_phone
        .as_ref()
        .map(|p| keys.encrypt(p.as_str()))
        .transpose()?;
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO enterprise (node_id, district_id, node_path, name, kind, credit_code, address, employees, \
             contact_name, phone_cipher, phone_hash, phone_last4, link_token_hash, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $14) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(draft.name.clone())
        .bind(draft.kind.as_str())
        .bind(draft.credit_code.as_ref().map(|c| c.as_str().to_owned()))
        .bind(draft.address.clone())
        .bind(draft.employees)
        .bind(draft.contact_name.clone())
        .bind(phone_cipher)
        .bind(
            draft
                .contact_phone
                .as_ref()
                .map(|p| keys.lookup_hash(PHONE_HASH, p.as_str())),
        )
        .bind(draft.contact_phone.as_ref().map(|p| p.last4().to_owned()))
        .bind(token_hash(&token))
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "enterprise.create", "enterprise")
            .node_path(&node.path)
            .detail(json!({"name": draft.name, "kind": draft.kind.as_str()})),
        now,
        crate::registry::conflict_on(
            "credit_code",
            "该统一社会信用代码已登记",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Registered {
        enterprise: get(db, scope, id).await?,
        link_token: token,
    })
}

/// Refuses a credit code registered to another business.
async fn check_code_free(
    db: &Db,
    scope: &Scope,
    code: &CreditCode,
    except: Option<i64>,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT id, node_path FROM enterprise WHERE credit_code = $1")
        .bind(code.as_str())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(()) };
    let other: i64 = row.try_get(0)?;
    if Some(other) == except {
        return Ok(());
    }
    let visible = JurisdictionPath::parse(&row.try_get::<String, _>(1)?)
        .map(|p| scope.can_read(&p))
        .unwrap_or(false);
    let message = if visible {
        format!("该统一社会信用代码已登记（企业编号 {other}）")
    } else {
        "该统一社会信用代码已在其他辖区登记".to_owned()
    };
    Err(StoreError::Conflict {
        field: "credit_code".into(),
        message,
    })
}

/// One business in the caller's jurisdiction (`NotFound` outside it).
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Enterprise, StoreError> {
    let keys = db.keys()?;
    let sql = format!(
        "SELECT {ENTERPRISE_COLUMNS} FROM enterprise e JOIN node n ON n.id = e.node_id WHERE e.id = $1"
    );
    let row = row_by_id(db, &sql, id).await?;
    let e = enterprise_from_row(keys, &row)?;
    if !scope.can_read(&e.node_path) {
        return Err(StoreError::NotFound);
    }
    Ok(e)
}

/// One business the caller may change (staff and admins of its jurisdiction); `NotFound`
/// outside the jurisdiction, forbidden to the other roles.
async fn writable(db: &Db, scope: &Scope, id: i64) -> Result<Enterprise, StoreError> {
    let e = get(db, scope, id).await?;
    if !can_write(scope, &e.node_path) {
        return Err(forbidden());
    }
    Ok(e)
}

/// The clear contact phone of one business (`None` when none was given), for staff and admins
/// within their jurisdiction; officials and grid workers see it masked only. Every call is
/// audited with the caller's address, like a person's unmask.
pub async fn unmask_contact(
    db: &Db,
    scope: &Scope,
    id: i64,
    ip: Option<&str>,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let keys = db.keys()?;
    let row = row_by_id(
        db,
        "SELECT node_path, phone_cipher FROM enterprise WHERE id = $1",
        id,
    )
    .await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    if !matches!(scope.role(), Role::Staff | Role::Admin) {
        return Err(StoreError::Forbidden(
            "只有社区工作人员和管理员可以查看完整联系电话".into(),
        ));
    }
    let cipher: Option<Vec<u8>> = row.try_get(1)?;
    let phone = cipher.map(|c| keys.decrypt(&c)).transpose()?;
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "enterprise.unmask", "enterprise")
            .entity_id(id)
            .node_path(&path)
            .ip(ip)
            .detail(json!({"fields": ["contact_phone"]})),
        now,
    )
    .await?;
    Ok(phone)
}

/// Businesses under a node in scope, by name, a page at a time (ordered by id for the cursor
/// when `page.after` is given, else by name).
pub async fn list(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    page: Page,
) -> Result<Vec<Enterprise>, StoreError> {
    let keys = db.keys()?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let under = crate::under_node(&node.path, scope, "e.node_path", &mut params);
    let (after, order) = match page.after {
        Some(a) => (format!(" AND e.id > {}", params.int(a)), "e.id"),
        None => (String::new(), "e.name, e.id"),
    };
    let limit = params.int(page.limit.min(Page::MAX_LIMIT));
    let sql = format!(
        "SELECT {ENTERPRISE_COLUMNS} FROM enterprise e JOIN node n ON n.id = e.node_id \
         WHERE {under}{after} ORDER BY {order} LIMIT {limit}"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    rows.iter().map(|r| enterprise_from_row(keys, r)).collect()
}

/// What a list of businesses is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseFilter {
    /// Words in the name or the credit code.
    pub q: Option<String>,
    pub kind: Option<EnterpriseKind>,
    pub standing: Option<Standing>,
}

/// The latest application's status of the business `e`, as SQL (NULL with none).
const LATEST_STATUS: &str =
    "(SELECT r.status FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1)";

impl Standing {
    /// The SQL condition that a business stands here (the inverse of [`Standing::of`]).
    fn condition(self) -> String {
        let (approved, submitted) = (
            ReopeningStatus::Approved.as_str(),
            ReopeningStatus::Submitted.as_str(),
        );
        match self {
            Standing::Reopened => format!("{LATEST_STATUS} = '{approved}'"),
            Standing::Pending => format!("{LATEST_STATUS} = '{submitted}'"),
            Standing::NotReopened => {
                format!("COALESCE({LATEST_STATUS}, '') NOT IN ('{approved}', '{submitted}')")
            }
        }
    }
}

/// Businesses under a node in scope as a page shows them: filtered, by name, `limit` (at most
/// [`crate::MAX_LIST_ROWS`]) from `offset`, and how many match in all.
pub async fn page(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    filter: &EnterpriseFilter,
    (limit, offset): (i64, i64),
) -> Result<crate::Listed<Enterprise>, StoreError> {
    let keys = db.keys()?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let (total, rows) = crate::infra::db::counted_page(
        db,
        ENTERPRISE_COLUMNS,
        "enterprise e JOIN node n ON n.id = e.node_id",
        |params| {
            let mut conds = vec![crate::under_node(&node.path, scope, "e.node_path", params)];
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                conds.push(params.contains_any(&["e.name", "e.credit_code"], q));
            }
            if let Some(kind) = filter.kind {
                conds.push(format!("e.kind = {}", params.text(kind.as_str())));
            }
            if let Some(standing) = filter.standing {
                conds.push(standing.condition());
            }
            conds.join(" AND ")
        },
        "e.name, e.id",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| enterprise_from_row(keys, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::Listed { items, total })
}

/// How many businesses under a node stand where, and why those not reopened have not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReopeningCounts {
    pub total: i64,
    pub reopened: i64,
    pub pending: i64,
    pub not_reopened: i64,
    /// Not reopened, per reason (every reason listed, zeros included, in the standard order).
    pub by_reason: Vec<ReasonCount>,
    /// Not reopened with no reason given yet.
    pub reason_unknown: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReasonCount {
    pub reason: NotReopenedReason,
    pub count: i64,
}

/// Counts of the businesses under a node in scope: reopened, pending, not reopened by reason.
pub async fn counts(db: &Db, scope: &Scope, node_id: i64) -> Result<ReopeningCounts, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let under = crate::under_node(&node.path, scope, "e.node_path", &mut params);
    let sql = format!(
        "SELECT s.latest, s.reason, COUNT(*) FROM (\
           SELECT e.not_reopened_reason AS reason, \
                  (SELECT r.status FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1) AS latest \
           FROM enterprise e WHERE {under}) s \
         GROUP BY s.latest, s.reason"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = ReopeningCounts {
        by_reason: NotReopenedReason::ALL
            .iter()
            .map(|&reason| ReasonCount { reason, count: 0 })
            .collect(),
        ..Default::default()
    };
    for r in &rows {
        let latest: Option<String> = r.try_get(0)?;
        let reason: Option<String> = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        out.total += n;
        match Standing::of(latest.as_deref()) {
            Standing::Reopened => out.reopened += n,
            Standing::Pending => out.pending += n,
            Standing::NotReopened => {
                out.not_reopened += n;
                match reason.and_then(|s| s.parse::<NotReopenedReason>().ok()) {
                    Some(reason) => {
                        if let Some(c) = out.by_reason.iter_mut().find(|c| c.reason == reason) {
                            c.count += n;
                        }
                    }
                    None => out.reason_unknown += n,
                }
            }
        }
    }
    Ok(out)
}

/// Records why a business has not reopened (or clears it with `None`). Only for a business
/// not reopened: once reopened, the reason no longer applies. Audited.
pub async fn set_not_reopened(
    db: &Db,
    scope: &Scope,
    id: i64,
    reason: Option<&NotReopened>,
    now: i64,
) -> Result<Enterprise, StoreError> {
    let e = writable(db, scope, id).await?;
    if reason.is_some() && e.standing == Standing::Reopened {
        return Err(StoreError::invalid(
            "reason",
            "该企业已复工，无需填写未复工原因",
        ));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE enterprise SET not_reopened_reason = $1, not_reopened_note = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(reason.map(|r| r.reason.as_str()))
    .bind(reason.and_then(|r| r.note.clone()))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "enterprise.not_reopened", "enterprise")
            .entity_id(id)
            .node_path(&e.node_path)
            .detail(json!({"reason": reason.map(|r| r.reason.as_str())})),
        now,
    )
    .await?;
    get(db, scope, id).await
}

/// Makes a new public application link for a business, replacing the old one (which stops
/// working). Returns the token, shown once. Audited.
pub async fn renew_link(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<String, StoreError> {
    let e = writable(db, scope, id).await?;
    let token = new_link_token();
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE enterprise SET link_token_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(token_hash(&token))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "enterprise.link", "enterprise")
            .entity_id(id)
            .node_path(&e.node_path),
        now,
    )
    .await?;
    Ok(token)
}

// ---------------------------------------------------------------------------------------------
// Reopening applications
// ---------------------------------------------------------------------------------------------

/// A reopening application as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Reopening {
    pub id: i64,
    pub enterprise_id: i64,
    pub status: ReopeningStatus,
    /// The standard items ticked.
    pub checked: Vec<ChecklistItem>,
    /// The standard items not ticked (an application missing any cannot be approved).
    pub missing: Vec<ChecklistItem>,
    pub extra_items: Vec<String>,
    pub employees_back: Option<i64>,
    pub planned_on: Option<String>,
    pub note: Option<String>,
    /// `staff` (entered by a worker) or `link` (by the business through its public link).
    pub channel: String,
    pub submitted_at: i64,
    pub submitted_by: String,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
}

const REOPENING_COLUMNS: &str = "id, enterprise_id, status, thermometers, disinfection, masks, staff_registration, \
     extra_items_json, employees_back, planned_on, note, channel, submitted_at, submitted_by, decided_at, decided_by, \
     decision_reason, node_path";

/// The checklist columns, in the order of `ChecklistItem::ALL`.
fn item_column(item: ChecklistItem) -> &'static str {
    match item {
        ChecklistItem::Thermometers => "thermometers",
        ChecklistItem::Disinfection => "disinfection",
        ChecklistItem::Masks => "masks",
        ChecklistItem::StaffRegistration => "staff_registration",
    }
}

fn reopening_from_row(r: &sqlx::any::AnyRow) -> Result<Reopening, StoreError> {
    let mut checked = Vec::new();
    for item in ChecklistItem::ALL {
        if r.try_get::<i64, _>(item_column(*item))? != 0 {
            checked.push(*item);
        }
    }
    let status: String = r.try_get("status")?;
    let extra: String = r.try_get("extra_items_json")?;
    Ok(Reopening {
        id: r.try_get("id")?,
        enterprise_id: r.try_get("enterprise_id")?,
        status: status.parse().map_err(internal)?,
        missing: missing_items(&checked),
        checked,
        extra_items: serde_json::from_str(&extra).unwrap_or_default(),
        employees_back: r.try_get("employees_back")?,
        planned_on: r.try_get("planned_on")?,
        note: r.try_get("note")?,
        channel: r.try_get("channel")?,
        submitted_at: r.try_get("submitted_at")?,
        submitted_by: r.try_get("submitted_by")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by")?,
        decision_reason: r.try_get("decision_reason")?,
    })
}

/// Who submits an application.
enum Submitter<'a> {
    Staff(&'a Scope),
    /// The business itself through its public link, from this address.
    Link {
        ip: Option<&'a str>,
    },
}

async fn insert_reopening(
    db: &Db,
    e: &Enterprise,
    draft: &ReopeningDraft,
    who: Submitter<'_>,
    now: i64,
) -> Result<Reopening, StoreError> {
    match e.standing {
        Standing::Reopened => {
            return Err(StoreError::Conflict {
                field: "enterprise_id".into(),
                message: "该企业已同意复工，无需再次申请".into(),
            })
        }
        Standing::Pending => {
            return Err(StoreError::Conflict {
                field: "enterprise_id".into(),
                message: "该企业已有待审核的复工申请".into(),
            })
        }
        Standing::NotReopened => {}
    }
    let has = |i: ChecklistItem| i64::from(draft.checked.contains(&i));
    let (channel, by, entry) = match who {
        Submitter::Staff(scope) => (
            "staff",
            scope.actor().to_owned(),
            AuditEntry::by(scope, "reopening.submit", "reopening"),
        ),
        Submitter::Link { ip } => (
            "link",
            "link".to_owned(),
            AuditEntry::by_name(None, "link", "reopening.submit", "reopening").ip(ip),
        ),
    };
    let mut tx = db.begin_write().await?;
    // Re-checked inside the transaction so two submissions at once cannot both pass.
    let pending = sqlx::query(
        "SELECT status FROM reopening WHERE enterprise_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(e.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(p) = pending {
        let s: String = p.try_get(0)?;
        if s != "rejected" {
            return Err(StoreError::Conflict {
                field: "enterprise_id".into(),
                message: "该企业已有复工申请在审核或已通过".into(),
            });
        }
    }
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO reopening (enterprise_id, district_id, node_path, status, thermometers, disinfection, masks, \
             staff_registration, extra_items_json, employees_back, planned_on, note, channel, submitted_at, submitted_by) \
             VALUES ($1, $2, $3, 'submitted', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(e.id)
        .bind(e.node_path.root_id())
        .bind(e.node_path.as_str())
        .bind(has(ChecklistItem::Thermometers))
        .bind(has(ChecklistItem::Disinfection))
        .bind(has(ChecklistItem::Masks))
        .bind(has(ChecklistItem::StaffRegistration))
        .bind(serde_json::to_string(&draft.extra_items).unwrap_or_else(|_| "[]".into()))
        .bind(draft.employees_back)
        .bind(draft.planned_on.map(format_date))
        .bind(draft.note.clone())
        .bind(channel)
        .bind(now)
        .bind(by),
        entry
            .node_path(&e.node_path)
            .detail(json!({"enterprise_id": e.id, "missing": draft.missing().len()})),
        now,
    )
    .await?;
    tx.commit().await?;
    reopening_by_id(db, id).await
}

async fn reopening_by_id(db: &Db, id: i64) -> Result<Reopening, StoreError> {
    let row = row_by_id(
        db,
        &format!("SELECT {REOPENING_COLUMNS} FROM reopening WHERE id = $1"),
        id,
    )
    .await?;
    reopening_from_row(&row)
}

/// Submits a reopening application on a business's behalf (staff and admins). Refused while
/// another is pending or after one was approved. Audited.
pub async fn apply(
    db: &Db,
    scope: &Scope,
    enterprise_id: i64,
    input: &ReopeningInput<'_>,
    now: i64,
) -> Result<Reopening, StoreError> {
    let e = writable(db, scope, enterprise_id).await?;
    let draft = ReopeningDraft::parse(input).map_err(StoreError::Invalid)?;
    insert_reopening(db, &e, &draft, Submitter::Staff(scope), now).await
}

/// What the public link shows: the business's own name and where its application stands.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    pub enterprise_id: i64,
    pub name: String,
    pub standing: Standing,
    /// The reason of the latest rejection, so the business knows what to fix.
    pub rejected_reason: Option<String>,
}

/// The business a public link token belongs to, or `NotFound`.
pub async fn by_link(db: &Db, token: &str) -> Result<LinkView, StoreError> {
    // An old hex token as it is; a code as typed (case, dashes, full-width); anything else
    // cannot match and is not worth a query.
    let token = if token.len() == OLD_LINK_TOKEN_BYTES * 2
        && token.bytes().all(|b| b.is_ascii_hexdigit())
    {
        token.to_owned()
    } else {
        linli_core::kernel::token::parse_code(linli_core::kernel::token::ENTERPRISE, token)
            .map_err(|_| StoreError::NotFound)?
    };
    let row = sqlx::query(
        "SELECT e.id, e.name, \
         (SELECT r.status FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1), \
         (SELECT r.decision_reason FROM reopening r WHERE r.enterprise_id = e.id ORDER BY r.id DESC LIMIT 1) \
         FROM enterprise e WHERE e.link_token_hash = $1",
    )
    .bind(token_hash(&token))
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    let latest: Option<String> = row.try_get(2)?;
    let reason: Option<String> = row.try_get(3)?;
    Ok(LinkView {
        enterprise_id: row.try_get(0)?,
        name: row.try_get(1)?,
        rejected_reason: reason.filter(|_| latest.as_deref() == Some("rejected")),
        standing: Standing::of(latest.as_deref()),
    })
}

/// Submits a reopening application through a business's public link (no login). Audited as
/// `link` with the sender's address.
pub async fn apply_by_link(
    db: &Db,
    token: &str,
    input: &ReopeningInput<'_>,
    ip: Option<&str>,
    now: i64,
) -> Result<Reopening, StoreError> {
    let view = by_link(db, token).await?;
    let draft = ReopeningDraft::parse(input).map_err(StoreError::Invalid)?;
    // The link's holder acts for this one business only; an operator scope reads it back.
    let e = get(db, &Scope::operator(), view.enterprise_id).await?;
    insert_reopening(db, &e, &draft, Submitter::Link { ip }, now).await
}

/// The applications of a business in scope, newest first.
pub async fn reopenings(
    db: &Db,
    scope: &Scope,
    enterprise_id: i64,
) -> Result<Vec<Reopening>, StoreError> {
    get(db, scope, enterprise_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {REOPENING_COLUMNS} FROM reopening WHERE enterprise_id = $1 ORDER BY id DESC"
    ))
    .bind(enterprise_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(reopening_from_row).collect()
}

/// One application in scope.
pub async fn reopening(db: &Db, scope: &Scope, id: i64) -> Result<Reopening, StoreError> {
    let row = row_by_id(
        db,
        &format!("SELECT {REOPENING_COLUMNS} FROM reopening WHERE id = $1"),
        id,
    )
    .await?;
    let path =
        JurisdictionPath::parse(&row.try_get::<String, _>("node_path")?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    reopening_from_row(&row)
}

/// The community's decision on a pending application (staff and admins of the jurisdiction).
/// An approval needs every standard checklist item ticked; a rejection needs a reason. An
/// approval clears the business's not-reopened reason. Audited.
pub async fn decide(
    db: &Db,
    scope: &Scope,
    reopening_id: i64,
    decision: &ReopeningDecision,
    now: i64,
) -> Result<Reopening, StoreError> {
    let current = reopening(db, scope, reopening_id).await?;
    let row = sqlx::query("SELECT node_path FROM reopening WHERE id = $1")
        .bind(reopening_id)
        .fetch_one(db.pool())
        .await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    if !can_write(scope, &path) {
        return Err(StoreError::Forbidden(
            "复工申请由社区审批：只有社区工作者可以同意或不同意".into(),
        ));
    }
    if current.status != ReopeningStatus::Submitted {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: format!("该申请已审批（{}）", current.status.label_zh()),
        });
    }
    if let ReopeningDecision::Approve { .. } = decision {
        if !current.missing.is_empty() {
            let names: Vec<&str> = current.missing.iter().map(|i| i.label_zh()).collect();
            return Err(StoreError::invalid(
                "checklist",
                format!("尚未具备以下复工条件，不能同意：{}", names.join("、")),
            ));
        }
    }
    let status = decision.status();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reopening SET status = $1, decided_at = $2, decided_by = $3, decision_reason = $4 \
         WHERE id = $5 AND status = 'submitted'",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(scope.actor())
    .bind(decision.reason().map(str::to_owned))
    .bind(reopening_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该申请已被他人审批".into(),
        });
    }
    if status == ReopeningStatus::Approved {
        sqlx::query(
            "UPDATE enterprise SET not_reopened_reason = NULL, not_reopened_note = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(current.enterprise_id)
        .execute(&mut *tx)
        .await?;
    }
    let action = match status {
        ReopeningStatus::Approved => "reopening.approve",
        _ => "reopening.reject",
    };
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, action, "reopening")
            .entity_id(reopening_id)
            .node_path(&path)
            .detail(json!({"enterprise_id": current.enterprise_id, "reason": decision.reason()})),
        now,
    )
    .await?;
    reopening_by_id(db, reopening_id).await
}

// ---------------------------------------------------------------------------------------------
// Inspections
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub id: i64,
    pub enterprise_id: i64,
    pub reopening_id: i64,
    pub inspected_on: String,
    pub inspector: String,
    pub findings: Option<String>,
    pub passed: bool,
    pub created_at: i64,
    pub created_by: String,
}

fn inspection_from_row(r: &sqlx::any::AnyRow) -> Result<Inspection, StoreError> {
    Ok(Inspection {
        id: r.try_get("id")?,
        enterprise_id: r.try_get("enterprise_id")?,
        reopening_id: r.try_get("reopening_id")?,
        inspected_on: r.try_get("inspected_on")?,
        inspector: r.try_get("inspector")?,
        findings: r.try_get("findings")?,
        passed: r.try_get::<i64, _>("passed")? != 0,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

const INSPECTION_COLUMNS: &str =
    "id, enterprise_id, reopening_id, inspected_on, inspector, findings, passed, created_at, created_by";

/// Records an inspection of a reopened business (after its application was approved, and not
/// dated before the approval). Staff and admins; audited.
pub async fn add_inspection(
    db: &Db,
    scope: &Scope,
    enterprise_id: i64,
    input: &InspectionInput<'_>,
    now: i64,
) -> Result<Inspection, StoreError> {
    let e = writable(db, scope, enterprise_id).await?;
    let draft = InspectionDraft::parse(input, today()).map_err(StoreError::Invalid)?;
    let approved = sqlx::query(
        "SELECT id, decided_at FROM reopening WHERE enterprise_id = $1 AND status = 'approved' ORDER BY id DESC LIMIT 1",
    )
    .bind(enterprise_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(approved) = approved else {
        return Err(StoreError::invalid(
            "enterprise_id",
            "该企业的复工申请尚未通过，复工后才能记录检查",
        ));
    };
    let reopening_id: i64 = approved.try_get(0)?;
    let decided_at: Option<i64> = approved.try_get(1)?;
    if let Some(at) = decided_at {
        if draft.inspected_on < linli_core::kernel::clock::date_of(at) {
            return Err(StoreError::invalid(
                "inspected_on",
                "检查日期不能早于同意复工的日期",
            ));
        }
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO inspection (enterprise_id, reopening_id, district_id, node_path, inspected_on, inspector, findings, \
             passed, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(enterprise_id)
        .bind(reopening_id)
        .bind(e.node_path.root_id())
        .bind(e.node_path.as_str())
        .bind(format_date(draft.inspected_on))
        .bind(draft.inspector.clone())
        .bind(draft.findings.clone())
        .bind(i64::from(draft.passed))
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "inspection.create", "inspection")
            .node_path(&e.node_path)
            .detail(json!({"enterprise_id": enterprise_id, "passed": draft.passed})),
        now,
    )
    .await?;
    tx.commit().await?;
    let row = sqlx::query(&format!(
        "SELECT {INSPECTION_COLUMNS} FROM inspection WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    inspection_from_row(&row)
}

/// The inspections of a business in scope, latest first.
pub async fn inspections(
    db: &Db,
    scope: &Scope,
    enterprise_id: i64,
) -> Result<Vec<Inspection>, StoreError> {
    get(db, scope, enterprise_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {INSPECTION_COLUMNS} FROM inspection WHERE enterprise_id = $1 ORDER BY inspected_on DESC, id DESC"
    ))
    .bind(enterprise_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(inspection_from_row).collect()
}

/// The counts of one child of a node.
#[derive(Debug, Clone, Serialize)]
pub struct ChildCounts {
    pub node_id: i64,
    pub node_name: String,
    pub counts: ReopeningCounts,
}

/// The counts of each open child of a node in scope that has any business under it, in id
/// order: where the not-reopened businesses are, one level down.
pub async fn counts_by_child(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Vec<ChildCounts>, StoreError> {
    let children = crate::tree::children(
        db,
        scope,
        node_id,
        false,
        Page::new(Some(Page::MAX_LIMIT), None),
    )
    .await?;
    let mut out = Vec::new();
    for c in children {
        // A child outside the scope (an official bound to one street of a district) is skipped.
        if !scope.can_read(&c.node.path) {
            continue;
        }
        let counts = counts(db, scope, c.node.id).await?;
        if counts.total > 0 {
            out.push(ChildCounts {
                node_id: c.node.id,
                node_name: c.node.name,
                counts,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use linli_core::kernel::labels::Labelled;
        let table = [
            (Standing::Reopened, "reopened", "已复工"),
            (Standing::Pending, "pending", "待审核"),
            (Standing::NotReopened, "not_reopened", "未复工"),
        ];
        assert_eq!(Standing::ALL, table.map(|row| row.0));
        for (v, code, zh) in table {
            assert_eq!((v.as_str(), v.label_zh()), (code, zh), "{v:?}");
        }
    }
}
