//! Self-declaration by QR code (个人健康申报): a public link per node at or below a community
//! (community, compound, grid or building), the declarations residents send through it without
//! logging in, and their review by a worker.
//!
//! - **Links.** The token is a short code a person can type off a poster (10 characters without
//!   look-alikes, `kernel::token::DECLARATION`) in the address `/d/{token}`; links made before it
//!   carry 64 hex characters and still work. It is stored in clear, unlike session tokens: it grants no login, only the form, and the
//!   worker must be able to print the same address again. A link is revoked (`revoked_at`) or
//!   rotated (the old row revoked and a new token issued in one transaction, history kept);
//!   a node has at most one active link. A revoked token answers 404 like an unknown one.
//! - **Declarations** are stored `pending` with the link's node and path (so the review queue
//!   is one scoped prefix match), ID and phone numbers encrypted exactly as in `person`. The
//!   submitter sees only a reference number and the preliminary classification of the policy
//!   in force on the arrival date; nothing about anyone else.
//! - **Review**: a worker whose jurisdiction covers the node confirms (the person matched by ID
//!   number or registered under the chosen node, then `epidemic::record_arrival` with
//!   `ArrivalSource::SelfDeclared`: classified with its explanation, an observation and alerts as
//!   for any screening) or rejects with a reason. A declaration is claimed (`confirming`) before
//!   the arrival is recorded, so two reviewers (or a double click) never record it twice.
//!   Every step is audited.

use linli_core::epidemic::policy::{self, Classification, DivisionCode, Temperature};
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::{PersonDraft, PersonInput};
use linli_core::{CoreError, DocumentKind, IdDocument, JurisdictionPath, NodeKind, Phone, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalRecorded, ArrivalSource};
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::internal;
use crate::infra::secret::random_token;
use crate::registry::{self, Placement, ID_HASH};
use crate::{Db, StoreError};

/// The actor recorded in the audit log for what a resident sends through a public form.
pub const RESIDENT_ACTOR: &str = "resident";

/// Characters of a link token: 32 random bytes as hex.
/// The length of the hex tokens of links made before short codes (still honoured).
const OLD_TOKEN_LEN: usize = 64;

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

/// An active declaration link, as the worker who prints it sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub node_kind: NodeKind,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub token: String,
    pub created_at: i64,
    pub created_by: String,
}

/// What the public form knows of its link: the node's name and nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct PublicLink {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
}

fn link_from_row(r: &sqlx::any::AnyRow) -> Result<Link, StoreError> {
    let path: String = r.try_get("node_path")?;
    let kind: String = r.try_get("node_kind")?;
    Ok(Link {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_kind: kind.parse().map_err(internal)?,
        node_path: JurisdictionPath::parse(&path).map_err(internal)?,
        token: r.try_get("token")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

const LINK_SELECT: &str =
    "SELECT l.id, l.node_id, n.name AS node_name, n.kind AS node_kind, l.node_path, \
    l.token, l.created_at, l.created_by FROM declaration_link l JOIN node n ON n.id = l.node_id";

/// Where a link may hang: a community or anything below it (a street's link would send every
/// declaration of the street to one queue that no grid worker can see).
fn link_kind_allowed(kind: NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Community | NodeKind::Compound | NodeKind::Grid | NodeKind::Building
    )
}

async fn insert_link<'e, E>(
    exec: E,
    scope: &Scope,
    node: &crate::tree::Node,
    now: i64,
) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "INSERT INTO declaration_link (node_id, district_id, node_path, token, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(node.id)
    .bind(node.path.root_id())
    .bind(node.path.as_str())
    .bind(crate::infra::secret::short_code(
        linli_core::kernel::token::DECLARATION,
    ))
    .bind(now)
    .bind(scope.actor())
    .fetch_one(exec)
    .await?;
    Ok(row.try_get(0)?)
}

async fn link_by_id(db: &Db, id: i64) -> Result<Link, StoreError> {
    let row = row_by_id(db, &format!("{LINK_SELECT} WHERE l.id = $1"), id).await?;
    link_from_row(&row)
}

/// Opens a declaration link for a node at or below a community that the caller may write
/// records in. A node has at most one active link (rotate it to get a new address). Audited
/// (without the token).
pub async fn create_link(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    now: i64,
) -> Result<Link, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    if !scope.can_write_records(&node.path) {
        return Err(StoreError::Forbidden("您的角色不能管理申报链接".into()));
    }
    if !link_kind_allowed(node.kind) {
        return Err(StoreError::invalid(
            "node_id",
            "申报链接只能建在社区、小区、网格或楼栋",
        ));
    }
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该辖区已撤销"));
    }
    let mut tx = db.begin_write().await?;
    let active =
        sqlx::query("SELECT id FROM declaration_link WHERE node_id = $1 AND revoked_at IS NULL")
            .bind(node.id)
            .fetch_optional(&mut *tx)
            .await?;
    if active.is_some() {
        return Err(StoreError::Conflict {
            field: "node_id".into(),
            message: "该辖区已有有效的申报链接；如需更换，请「重新生成」".into(),
        });
    }
    let id = insert_link(&mut *tx, scope, &node, now).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "declaration_link.create", "declaration_link")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"node_id": node.id})),
        now,
    )
    .await?;
    link_by_id(db, id).await
}

/// An active link the caller may manage; `NotFound` outside the scope or once revoked.
async fn managed_link(db: &Db, scope: &Scope, link_id: i64) -> Result<Link, StoreError> {
    let row = row_by_id(
        db,
        &format!("{LINK_SELECT} WHERE l.id = $1 AND l.revoked_at IS NULL"),
        link_id,
    )
    .await?;
    let link = link_from_row(&row)?;
    if !scope.can_read(&link.node_path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_write_records(&link.node_path) {
        return Err(StoreError::Forbidden("您的角色不能管理申报链接".into()));
    }
    Ok(link)
}

/// Revokes a link: its address answers 404 from now on. Declarations already sent stay in the
/// queue. Audited.
pub async fn revoke_link(db: &Db, scope: &Scope, link_id: i64, now: i64) -> Result<(), StoreError> {
    let link = managed_link(db, scope, link_id).await?;
    let mut tx = db.begin_write().await?;
    revoke_in(&mut tx, scope, link.id, now).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "declaration_link.revoke", "declaration_link")
            .entity_id(link.id)
            .node_path(&link.node_path),
        now,
    )
    .await?;
    Ok(())
}

async fn revoke_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &Scope,
    link_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE declaration_link SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(link_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces a link's address (a printed code was photographed and passed around): the old token
/// is revoked and a new one issued for the same node, in one transaction. Audited.
pub async fn rotate_link(
    db: &Db,
    scope: &Scope,
    link_id: i64,
    now: i64,
) -> Result<Link, StoreError> {
    let link = managed_link(db, scope, link_id).await?;
    let node = crate::tree::get(db, scope, link.node_id).await?;
    let mut tx = db.begin_write().await?;
    revoke_in(&mut tx, scope, link.id, now).await?;
    let id = insert_link(&mut *tx, scope, &node, now).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "declaration_link.rotate", "declaration_link")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"replaces": link.id})),
        now,
    )
    .await?;
    link_by_id(db, id).await
}

/// Active links in the caller's jurisdiction, in tree order.
pub async fn links(db: &Db, scope: &Scope) -> Result<Vec<Link>, StoreError> {
    let mut params = Params::new();
    let filter = crate::scope_filter(scope, "l.node_path", &mut params);
    let sql = format!(
        "{LINK_SELECT} WHERE l.revoked_at IS NULL AND {filter} ORDER BY l.node_path, l.id LIMIT 1000"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in &rows {
        let link = link_from_row(r)?;
        if scope.can_read(&link.node_path) {
            out.push(link);
        }
    }
    Ok(out)
}

/// The active link with this token (public: no scope), or `NotFound` — for an unknown, malformed
/// or revoked token alike, and for a node that was closed.
pub async fn link_for_token(db: &Db, token: &str) -> Result<PublicLink, StoreError> {
    let token = if token.len() == OLD_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_hexdigit()) {
        token.to_ascii_lowercase()
    } else {
        // As typed: case, dashes and full-width forms do not matter.
        linli_core::kernel::token::parse_code(linli_core::kernel::token::DECLARATION, token)
            .map_err(|_| StoreError::NotFound)?
    };
    let row = sqlx::query(
        "SELECT l.id, l.node_id, n.name FROM declaration_link l JOIN node n ON n.id = l.node_id \
         WHERE l.token = $1 AND l.revoked_at IS NULL AND n.closed_on IS NULL",
    )
    .bind(&token)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(PublicLink {
        id: row.try_get(0)?,
        node_id: row.try_get(1)?,
        node_name: row.try_get(2)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Submitting (public)
// ---------------------------------------------------------------------------------------------

/// What a resident typed into the public form, as typed; [`submit`] parses every field.
#[derive(Debug, Clone, Default)]
pub struct DeclarationInput {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    /// The dwelling within the compound: `3栋2单元501室`.
    pub address: String,
    pub origin_code: String,
    pub arrived_on: String,
    pub purpose: String,
    pub symptoms: Vec<String>,
    /// °C, may be empty.
    pub temperature: String,
}

/// The receipt a resident gets: a reference number to quote, and the preliminary result of the
/// policy in force on the arrival date (a worker confirms it).
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub id: i64,
    pub reference: String,
    pub preliminary: Option<Classification>,
}

/// A declaration parsed: every field known good.
struct Parsed {
    draft: PersonDraft,
    origin: DivisionCode,
    arrived_on: time::Date,
    purpose: Option<String>,
    symptoms: Vec<String>,
    temperature: Option<Temperature>,
}

/// Symptoms that mean "none" are not symptoms (the same words the policy ignores).
fn real_symptoms(symptoms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in symptoms.iter().map(|s| s.trim()) {
        if s.is_empty() || matches!(s, "无" | "无症状" | "none" | "没有") {
            continue;
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

fn parse_input(input: &DeclarationInput) -> Result<Parsed, Vec<CoreError>> {
    let mut errors = Vec::new();
    let blank = |s: &str| s.trim().is_empty();
    if blank(&input.id_number) {
        errors.push(CoreError::invalid("id_number", "请填写身份证号码"));
    }
    if blank(&input.phone) {
        errors.push(CoreError::invalid(
            "phone",
            "请填写手机号码，工作人员核实时会联系您",
        ));
    }
    if blank(&input.address) {
        errors.push(CoreError::invalid(
            "address",
            "请填写居住的楼栋、单元和房号，如 3栋2单元501室",
        ));
    }
    let no_tags: Vec<String> = Vec::new();
    let person = PersonInput {
        name: &input.name,
        id_number: Some(&input.id_number),
        phone: Some(&input.phone),
        address: Some(&input.address),
        tags: &no_tags,
        ..Default::default()
    };
    let draft = match PersonDraft::parse(&person, today()) {
        Ok((d, _warnings)) => Some(d),
        Err(errs) => {
            for e in errs {
                // A blank field was reported above already, more plainly.
                if !errors.iter().any(|x| x.field == e.field) {
                    errors.push(e);
                }
            }
            None
        }
    };
    // A name the resident typed (「昆明五华」, 「kunming」) is resolved here: the code is stored.
    let origin = DivisionCode::resolve_field("origin_code", &input.origin_code)
        .map_err(|e| errors.push(e))
        .ok();
    let arrived_on = match parse_date("arrived_on", input.arrived_on.trim()) {
        Ok(d) if d > today() => {
            errors.push(CoreError::invalid("arrived_on", "抵达日期不能晚于今天"));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let temperature = match input.temperature.trim() {
        "" => None,
        t => Temperature::parse(t)
            .map_err(|e| errors.push(CoreError::invalid("temperature", e.message)))
            .ok(),
    };
    let purpose = Some(input.purpose.trim().to_owned()).filter(|p| !p.is_empty());
    if purpose.as_deref().is_some_and(|p| p.chars().count() > 100) {
        errors.push(CoreError::invalid("purpose", "来返事由不能超过 100 个字"));
    }
    let symptoms = real_symptoms(&input.symptoms);
    if symptoms.len() > 10 || symptoms.iter().any(|s| s.chars().count() > 20) {
        errors.push(CoreError::invalid(
            "symptoms",
            "症状最多 10 项，每项不超过 20 个字",
        ));
    }
    match (draft, origin, arrived_on, errors.is_empty()) {
        (Some(draft), Some(origin), Some(arrived_on), true) => Ok(Parsed {
            draft,
            origin,
            arrived_on,
            purpose,
            symptoms,
            temperature,
        }),
        _ => Err(errors),
    }
}

/// The classification the policy in force on the arrival date gives, before review. `None`
/// when the node has no division code to judge "other province" by (the worker's review
/// classifies it all the same, or says why not).
async fn preliminary(
    db: &Db,
    path: &JurisdictionPath,
    p: &Parsed,
) -> Result<Option<Classification>, StoreError> {
    let Some(stored) = epidemic::policy_on(db, p.arrived_on).await? else {
        return Err(StoreError::invalid(
            "arrived_on",
            format!("{} 没有生效的防控政策", format_date(p.arrived_on)),
        ));
    };
    let Ok(community) = epidemic::division_of(db, path).await else {
        return Ok(None);
    };
    let facts = policy::Facts {
        origin_code: p.origin.clone(),
        arrived_on: p.arrived_on,
        symptoms: p.symptoms.clone(),
        temperature: p.temperature,
        contact: None,
    };
    let areas: Vec<_> = epidemic::risk_areas(db)
        .await?
        .into_iter()
        .map(|a| a.area)
        .collect();
    Ok(policy::classify(
        &stored.policy,
        &facts,
        &areas,
        &community,
        &policy::division_names,
    )
    .ok())
}

/// A reference number a resident can read out on the phone: ten hex digits in two groups.
fn new_reference() -> String {
    let t = random_token(5).to_ascii_uppercase();
    format!("{}-{}", &t[..5], &t[5..])
}

/// Stores a declaration sent through the public form of `token`, pending review. Every field
/// is parsed and every bad one reported at once (nothing stored); an unknown or revoked token is
/// `NotFound`. Audited as the resident, with the client's address.
pub async fn submit(
    db: &Db,
    token: &str,
    input: &DeclarationInput,
    ip: Option<&str>,
    now: i64,
) -> Result<Receipt, StoreError> {
    let link = link_for_token(db, token).await?;
    let parsed = parse_input(input).map_err(StoreError::Invalid)?;
    let row = sqlx::query("SELECT node_path FROM declaration_link WHERE id = $1")
        .bind(link.id)
        .fetch_one(db.pool())
        .await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    let preliminary = preliminary(db, &path, &parsed).await?;
    let keys = db.keys()?;
    let document = parsed
        .draft
        .document
        .as_ref()
        .ok_or_else(|| StoreError::invalid("id_number", "请填写身份证号码"))?;
    let phone = parsed.draft.phone.as_ref();
    let preliminary_text = preliminary.as_ref().map(|c| c.explanation.clone());
    let reference = new_reference();
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO declaration (link_id, node_id, district_id, node_path, reference, name, id_kind, id_cipher, \
             id_hash, id_last4, phone_cipher, phone_last4, address, origin_code, arrived_on, purpose, symptoms_json, \
             temperature_tenths, preliminary, status, submitted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 'pending', $20) \
             RETURNING id",
        )
        .bind(link.id)
        .bind(link.node_id)
        .bind(path.root_id())
        .bind(path.as_str())
        .bind(&reference)
        .bind(parsed.draft.name.as_str())
        .bind(document.kind().as_str())
        .bind(keys.encrypt(document.as_str())?)
        .bind(keys.lookup_hash(ID_HASH, document.as_str()))
        .bind(document.last4())
        .bind(phone.map(|p| keys.encrypt(p.as_str())).transpose()?)
        .bind(phone.map(|p| p.last4().to_owned()))
        .bind(parsed.draft.address.as_ref().map(ToString::to_string))
        .bind(parsed.origin.as_str())
        .bind(format_date(parsed.arrived_on))
        .bind(parsed.purpose.clone())
        .bind(serde_json::to_string(&parsed.symptoms).unwrap_or_else(|_| "[]".into()))
        .bind(parsed.temperature.map(|t| i64::from(t.tenths())))
        .bind(preliminary_text)
        .bind(now),
        AuditEntry::by_name(None, RESIDENT_ACTOR, "declaration.submit", "declaration")
            .node_path(&path)
            .ip(ip)
            .detail(json!({"link_id": link.id, "reference": reference})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Receipt {
        id,
        reference,
        preliminary,
    })
}

// ---------------------------------------------------------------------------------------------
// Review
// ---------------------------------------------------------------------------------------------

/// The registered person a declaration's ID number belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedPerson {
    pub id: i64,
    pub name: String,
    pub node_name: String,
    pub address: Option<String>,
}

/// A declaration as a reviewer sees it: numbers masked.
#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub id: i64,
    pub reference: String,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub name: String,
    pub id_number_masked: String,
    pub phone_masked: Option<String>,
    pub address: String,
    pub origin_code: String,
    pub arrived_on: String,
    pub purpose: Option<String>,
    pub symptoms: Vec<String>,
    /// °C with one decimal, e.g. `36.6`.
    pub temperature: Option<String>,
    /// The explanation of the preliminary classification shown to the resident.
    pub preliminary: Option<String>,
    /// pending, confirming, confirmed or rejected.
    pub status: String,
    pub submitted_at: i64,
    pub reviewed_at: Option<i64>,
    pub reviewed_by: Option<String>,
    pub reject_reason: Option<String>,
    pub person_id: Option<i64>,
    pub arrival_id: Option<i64>,
    /// Filled by [`get`]: the registered person with this ID number, when the caller sees them.
    pub matched: Option<MatchedPerson>,
    /// Filled by [`get`]: the ID number is registered outside the caller's jurisdiction
    /// (confirming will be refused; the resident's own community must screen them).
    pub registered_elsewhere: bool,
}

const DECLARATION_SELECT: &str = "SELECT d.id, d.reference, d.node_id, n.name AS node_name, d.node_path, d.name, \
    d.id_kind, d.id_cipher, d.phone_cipher, d.address, d.origin_code, d.arrived_on, d.purpose, d.symptoms_json, \
    d.temperature_tenths, d.preliminary, d.status, d.submitted_at, d.reviewed_at, d.reviewed_by, d.reject_reason, \
    d.person_id, d.arrival_id FROM declaration d JOIN node n ON n.id = d.node_id";

fn document_of(db: &Db, r: &sqlx::any::AnyRow) -> Result<(DocumentKind, String), StoreError> {
    let kind: String = r.try_get("id_kind")?;
    let kind: DocumentKind = kind.parse().map_err(internal)?;
    let cipher: Vec<u8> = r.try_get("id_cipher")?;
    Ok((kind, db.keys()?.decrypt(&cipher)?))
}

fn declaration_from_row(db: &Db, r: &sqlx::any::AnyRow) -> Result<Declaration, StoreError> {
    let keys = db.keys()?;
    let (kind, clear) = document_of(db, r)?;
    let id_number_masked = IdDocument::parse(kind, &clear, today())
        .map(|d| d.masked())
        .unwrap_or_else(|_| crate::infra::secret::mask_all_but_last4(&clear));
    let phone_cipher: Option<Vec<u8>> = r.try_get("phone_cipher")?;
    let phone_masked = phone_cipher
        .map(|c| keys.decrypt(&c))
        .transpose()?
        .map(|p| {
            Phone::parse(&p)
                .map(|p| p.masked())
                .unwrap_or_else(|_| crate::infra::secret::mask_all_but_last4(&p))
        });
    let path: String = r.try_get("node_path")?;
    let symptoms: String = r.try_get("symptoms_json")?;
    let tenths: Option<i64> = r.try_get("temperature_tenths")?;
    Ok(Declaration {
        id: r.try_get("id")?,
        reference: r.try_get("reference")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&path).map_err(internal)?,
        name: r.try_get("name")?,
        id_number_masked,
        phone_masked,
        address: r.try_get("address")?,
        origin_code: r.try_get("origin_code")?,
        arrived_on: r.try_get("arrived_on")?,
        purpose: r.try_get("purpose")?,
        symptoms: serde_json::from_str(&symptoms).unwrap_or_default(),
        temperature: tenths.map(|t| format!("{}.{}", t / 10, t % 10)),
        preliminary: r.try_get("preliminary")?,
        status: r.try_get("status")?,
        submitted_at: r.try_get("submitted_at")?,
        reviewed_at: r.try_get("reviewed_at")?,
        reviewed_by: r.try_get("reviewed_by")?,
        reject_reason: r.try_get("reject_reason")?,
        person_id: r.try_get("person_id")?,
        arrival_id: r.try_get("arrival_id")?,
        matched: None,
        registered_elsewhere: false,
    })
}

/// Declarations waiting for review (pending, or claimed by a reviewer a moment ago) in the
/// caller's jurisdiction, oldest first.
pub async fn queue(db: &Db, scope: &Scope) -> Result<Vec<Declaration>, StoreError> {
    let mut params = Params::new();
    let filter = crate::scope_filter(scope, "d.node_path", &mut params);
    let sql = format!(
        "{DECLARATION_SELECT} WHERE d.status IN ('pending', 'confirming') AND {filter} \
         ORDER BY d.submitted_at, d.id LIMIT 500"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in &rows {
        let d = declaration_from_row(db, r)?;
        // Filtered in SQL already; checked again per row, failing closed.
        if scope.can_read(&d.node_path) {
            out.push(d);
        }
    }
    Ok(out)
}

/// One declaration in the caller's jurisdiction (`NotFound` otherwise), with the registered
/// person its ID number matches.
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Declaration, StoreError> {
    let row = row_by_id(db, &format!("{DECLARATION_SELECT} WHERE d.id = $1"), id).await?;
    let mut d = declaration_from_row(db, &row)?;
    if !scope.can_read(&d.node_path) {
        return Err(StoreError::NotFound);
    }
    let (kind, clear) = document_of(db, &row)?;
    if let Ok(document) = IdDocument::parse(kind, &clear, today()) {
        if let Some((pid, path)) = registry::registered_with(db, &document).await? {
            let visible = JurisdictionPath::parse(&path)
                .map(|p| scope.can_read(&p))
                .unwrap_or(false);
            if visible {
                let p = registry::get(db, scope, pid).await?;
                d.matched = Some(MatchedPerson {
                    id: p.id,
                    name: p.name,
                    node_name: p.node_name,
                    address: p.address,
                });
            } else {
                d.registered_elsewhere = true;
            }
        }
    }
    Ok(d)
}

/// What confirming a declaration did.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmed {
    pub declaration_id: i64,
    pub person_id: i64,
    /// The ID number matched a registered person (else one was registered now).
    pub matched: bool,
    pub arrival: ArrivalRecorded,
}

/// A declaration the caller may review, still pending; the right error otherwise.
async fn reviewable(db: &Db, scope: &Scope, id: i64) -> Result<sqlx::any::AnyRow, StoreError> {
    let row = row_by_id(db, &format!("{DECLARATION_SELECT} WHERE d.id = $1"), id).await?;
    let path =
        JurisdictionPath::parse(&row.try_get::<String, _>("node_path")?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_write_records(&path) {
        return Err(StoreError::Forbidden("您的角色不能审核健康申报".into()));
    }
    let status: String = row.try_get("status")?;
    if status != "pending" {
        return Err(already_reviewed());
    }
    Ok(row)
}

fn already_reviewed() -> StoreError {
    StoreError::Conflict {
        field: "declaration_id".into(),
        message: "该申报已审核过，不能重复处理".into(),
    }
}

/// Confirms a declaration: the person matched by ID number (when visible to the caller) or
/// registered under `node_id` (the declaration's node or one below it; default: the
/// declaration's node), then the arrival recorded as self-declared and classified by the policy
/// of its date. Confirming twice fails cleanly with a conflict, and so does a second reviewer
/// racing the first. Audited.
pub async fn confirm(
    db: &Db,
    scope: &Scope,
    id: i64,
    node_id: Option<i64>,
    now: i64,
) -> Result<Confirmed, StoreError> {
    let row = reviewable(db, scope, id).await?;
    let decl_path =
        JurisdictionPath::parse(&row.try_get::<String, _>("node_path")?).map_err(internal)?;
    let place_id = node_id.unwrap_or(row.try_get("node_id")?);
    let node = match crate::tree::get(db, scope, place_id).await {
        Ok(n) if n.path.is_within(&decl_path) => n,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(StoreError::invalid("node_id", "请选择申报所在辖区或其下级"))
        }
        Err(e) => return Err(e),
    };
    let keys = db.keys()?;
    let (kind, id_number) = document_of(db, &row)?;
    let phone_cipher: Option<Vec<u8>> = row.try_get("phone_cipher")?;
    let phone = phone_cipher.map(|c| keys.decrypt(&c)).transpose()?;
    let name: String = row.try_get("name")?;
    let address: String = row.try_get("address")?;
    let origin: String = row.try_get("origin_code")?;
    let arrived_on: String = row.try_get("arrived_on")?;
    let purpose: Option<String> = row.try_get("purpose")?;
    let symptoms: String = row.try_get("symptoms_json")?;
    let tenths: Option<i64> = row.try_get("temperature_tenths")?;
    let matched = match IdDocument::parse(kind, &id_number, today()) {
        Ok(d) => registry::registered_with(db, &d).await?.is_some(),
        Err(_) => false,
    };

    // Claim it first: of two reviewers, one wins here and the other gets a clean conflict,
    // so the arrival is never recorded twice.
    let claimed = sqlx::query(
        "UPDATE declaration SET status = 'confirming', reviewed_by = $1 WHERE id = $2 AND status = 'pending'",
    )
    .bind(scope.actor())
    .bind(id)
    .execute(db.pool())
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(already_reviewed());
    }
    let no_tags: Vec<String> = Vec::new();
    let input = ArrivalInput {
        person: ArrivalPerson::New {
            placement: Placement {
                node_id: node.id,
                ..Default::default()
            },
            input: PersonInput {
                name: &name,
                id_kind: Some(kind.as_str()),
                id_number: Some(&id_number),
                phone: phone.as_deref(),
                address: Some(&address),
                tags: &no_tags,
                ..Default::default()
            },
        },
        origin_code: DivisionCode::parse(&origin).map_err(internal)?,
        arrived_on: parse_date("arrived_on", &arrived_on).map_err(internal)?,
        purpose,
        symptoms: serde_json::from_str(&symptoms).unwrap_or_default(),
        temperature: tenths
            .map(Temperature::from_tenths)
            .transpose()
            .map_err(internal)?,
        source: ArrivalSource::SelfDeclared,
    };
    let recorded = match epidemic::record_arrival(db, scope, input, now).await {
        Ok(r) => r,
        Err(e) => {
            // Give the declaration back to the queue; the error says what to fix.
            sqlx::query(
                "UPDATE declaration SET status = 'pending', reviewed_by = NULL WHERE id = $1 AND status = 'confirming'",
            )
            .bind(id)
            .execute(db.pool())
            .await?;
            return Err(e);
        }
    };
    let purge_on = format_date(today() + time::Duration::days(epidemic::RETENTION_DAYS));
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE declaration SET status = 'confirmed', reviewed_at = $1, reviewed_by = $2, person_id = $3, \
         arrival_id = $4, purge_on = $5 WHERE id = $6 AND status = 'confirming'",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(recorded.person_id)
    .bind(recorded.id)
    .bind(&purge_on)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // The screening was reviewed by this very step: it is no longer pending.
    sqlx::query("UPDATE arrival SET status = 'confirmed' WHERE id = $1")
        .bind(recorded.id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "declaration.confirm", "declaration")
            .entity_id(id)
            .node_path(&decl_path)
            .detail(json!({
                "arrival_id": recorded.id,
                "person_id": recorded.person_id,
                "matched": matched,
            })),
        now,
    )
    .await?;
    Ok(Confirmed {
        declaration_id: id,
        person_id: recorded.person_id,
        matched,
        arrival: recorded,
    })
}

/// Rejects a declaration with a reason (a prank, a duplicate, someone not living here).
/// Audited.
pub async fn reject(
    db: &Db,
    scope: &Scope,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::invalid("reason", "请填写不予确认的原因"));
    }
    if reason.chars().count() > 200 {
        return Err(StoreError::invalid("reason", "原因不能超过 200 个字"));
    }
    let row = reviewable(db, scope, id).await?;
    let path =
        JurisdictionPath::parse(&row.try_get::<String, _>("node_path")?).map_err(internal)?;
    let purge_on = format_date(today() + time::Duration::days(epidemic::RETENTION_DAYS));
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE declaration SET status = 'rejected', reviewed_at = $1, reviewed_by = $2, reject_reason = $3, \
         purge_on = $4 WHERE id = $5 AND status = 'pending'",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(reason)
    .bind(&purge_on)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(already_reviewed());
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "declaration.reject", "declaration")
            .entity_id(id)
            .node_path(&path)
            .detail(json!({"reason": reason})),
        now,
    )
    .await?;
    Ok(())
}
