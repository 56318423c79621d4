//! Cases and close contacts (病例、密切接触者) and the chain of transmission.
//!
//! A case is a person marked 确诊 or 无症状 with a date. A contact link says "person was in
//! contact with source" with a type (密接 of a case, 次密接 of a 密接) and the last contact
//! date. Recording a link classifies it by the policy in force on the last-contact date
//! (`epidemic::policy_on`, `policy::classify` with the close-contact facts — the same path as an
//! arrival), stores the classification with the link, and opens the person's observation in the
//! shared `observation` table (check-ins, alerts and releases then work as for arrivals), or moves
//! its planned end when a later contact is recorded. A person is under one observation at a time:
//! a contact already observed after an arrival keeps that observation (see [`record_contact`]).
//!
//! Scope (fail closed): the person must be writable by the caller and the source readable; the
//! chain of a case in scope is read across grids, but a person outside the caller's
//! jurisdiction appears only as an anonymous 「辖区外人员」 node, without name or id.

use linli_core::kernel::labels::Labelled;
use std::collections::{HashMap, HashSet};

use linli_core::epidemic::contact::{self, CaseKind, ChainLink, SourceFacts};
use linli_core::epidemic::observation::Weight;
use linli_core::epidemic::policy::{
    self, Classification, ContactFact, ContactKind, Facts, Measure, RiskArea,
};
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::{JurisdictionPath, Scope};
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::infra::errors::internal;
use crate::registry::Person;
use crate::{epidemic, scope_filter, Db, StoreError};

/// How far below a case the chain is read.
pub const MAX_GENERATIONS: u32 = 6;
/// At most this many links are drawn in one chain.
const MAX_CHAIN_LINKS: i64 = 2_000;
/// What an out-of-scope person is called in a chain.
pub const OUT_OF_SCOPE: &str = "辖区外人员";

fn contact_kind(raw: &str) -> Result<ContactKind, StoreError> {
    raw.parse::<ContactKind>().map_err(internal)
}

fn date(field: &str, raw: &str) -> Result<Date, StoreError> {
    parse_date(field, raw).map_err(internal)
}

fn readable(scope: &Scope, path: &str) -> bool {
    JurisdictionPath::parse(path)
        .map(|p| scope.can_read(&p))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// A person marked as a case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: i64,
    pub person_id: i64,
    pub kind: CaseKind,
    pub diagnosed_on: Date,
    pub created_at: i64,
    pub created_by: String,
}

fn case_from_row(r: &sqlx::any::AnyRow) -> Result<Case, StoreError> {
    Ok(Case {
        id: r.try_get(0)?,
        person_id: r.try_get(1)?,
        kind: r
            .try_get::<String, _>(2)?
            .parse::<CaseKind>()
            .map_err(internal)?,
        diagnosed_on: date("diagnosed_on", &r.try_get::<String, _>(3)?)?,
        created_at: r.try_get(4)?,
        created_by: r.try_get(5)?,
    })
}

const CASE_COLUMNS: &str = "id, person_id, kind, diagnosed_on, created_at, created_by";

/// Marks a person of the caller's writable jurisdiction as a case (确诊 or 无症状) diagnosed on
/// `diagnosed_on` (not after today). A person is a case once. Audited.
pub async fn mark_case(
    db: &Db,
    scope: &Scope,
    person_id: i64,
    kind: CaseKind,
    diagnosed_on: Date,
    now: i64,
) -> Result<Case, StoreError> {
    let person = crate::registry::get(db, scope, person_id).await?;
    if !scope.can_write_records(&person.node_path) {
        return Err(StoreError::Forbidden("您的角色不能登记病例".into()));
    }
    contact::not_in_future("diagnosed_on", "诊断日期", diagnosed_on, today())?;
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO epi_case (person_id, kind, diagnosed_on, district_id, node_path, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(person.id)
        .bind(kind.as_str())
        .bind(format_date(diagnosed_on))
        .bind(person.node_path.root_id())
        .bind(person.node_path.as_str())
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "case.create", "epi_case")
            .node_path(&person.node_path)
            .detail(json!({
                "person_id": person.id,
                "kind": kind.as_str(),
                "diagnosed_on": format_date(diagnosed_on),
            })),
        now,
        |e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                field: "person_id".into(),
                message: "此人已登记为病例".into(),
            },
            _ => e.into(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Case {
        id,
        person_id: person.id,
        kind,
        diagnosed_on,
        created_at: now,
        created_by: scope.actor().to_owned(),
    })
}

/// The case record of a person the caller may read (`None`: not a case).
pub async fn case_of(db: &Db, scope: &Scope, person_id: i64) -> Result<Option<Case>, StoreError> {
    crate::registry::get(db, scope, person_id).await?;
    case_row(db, person_id).await
}

async fn case_row(db: &Db, person_id: i64) -> Result<Option<Case>, StoreError> {
    sqlx::query(&format!(
        "SELECT {CASE_COLUMNS} FROM epi_case WHERE person_id = $1"
    ))
    .bind(person_id)
    .fetch_optional(db.pool())
    .await?
    .map(|r| case_from_row(&r))
    .transpose()
}

/// A case in a list, with the number of its direct contacts.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case: Case,
    pub person_name: String,
    pub direct_contacts: i64,
}

/// The cases of persons within the caller's jurisdiction, latest diagnosis first (at most 500).
pub async fn cases(db: &Db, scope: &Scope) -> Result<Vec<CaseRow>, StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "p.node_path", &mut params);
    let sql = format!(
        "SELECT c.id, c.person_id, c.kind, c.diagnosed_on, c.created_at, c.created_by, p.name, \
         (SELECT COUNT(*) FROM contact_link l WHERE l.source_person_id = c.person_id), p.node_path \
         FROM epi_case c JOIN person p ON p.id = c.person_id WHERE {filter} \
         ORDER BY c.diagnosed_on DESC, c.id DESC LIMIT 500"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in &rows {
        if !readable(scope, &r.try_get::<String, _>(8)?) {
            continue;
        }
        out.push(CaseRow {
            case: case_from_row(r)?,
            person_name: r.try_get(6)?,
            direct_contacts: r.try_get(7)?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Contact links
// ---------------------------------------------------------------------------------------------

/// A contact link as entered.
#[derive(Debug, Clone)]
pub struct ContactInput {
    pub person_id: i64,
    pub source_person_id: i64,
    pub kind: ContactKind,
    pub last_contact_on: Date,
}

/// What recording a link did.
#[derive(Debug, Clone)]
pub struct ContactRecorded {
    pub id: i64,
    /// False when an existing link of the same pair was updated (a later contact date).
    pub created: bool,
    pub person_id: i64,
    pub source_person_id: i64,
    pub kind: ContactKind,
    pub last_contact_on: Date,
    /// This link's classification, by the policy in force on its last-contact date.
    pub classification: Classification,
    pub policy_version_id: i64,
    /// The person's open observation (opened, moved or kept by this link), if any.
    pub observation_id: Option<i64>,
    /// That observation's planned last day after this link: the strictest of the person's links,
    /// or of their arrival when its plan weighs more.
    pub observation_until: Option<Date>,
    /// The room of a centralised quarantine, given now or kept from before.
    pub room: Option<epidemic::sites::Placed>,
    /// Centralised quarantine, and no open site covering the person had a free room (暂无空床).
    pub no_bed: bool,
}

/// True when `target` is reachable from `from` along links (source → person): `target` was
/// registered as a contact downstream of `from`.
async fn downstream(db: &Db, from: i64, target: i64) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "WITH RECURSIVE down(id) AS (SELECT CAST($1 AS BIGINT) UNION \
         SELECT l.person_id FROM contact_link l JOIN down d ON l.source_person_id = d.id) \
         SELECT 1 FROM down WHERE id = $2",
    )
    .bind(from)
    .bind(target)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

async fn is_close_contact(db: &Db, person_id: i64) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 FROM contact_link WHERE person_id = $1 AND kind = 'close_contact' LIMIT 1",
    )
    .bind(person_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// The person's links as a contact, stored: (source, kind, last contact).
async fn links_of(db: &Db, person_id: i64) -> Result<Vec<(i64, ContactKind, Date)>, StoreError> {
    let rows = sqlx::query(
        "SELECT source_person_id, kind, last_contact_on FROM contact_link WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                contact_kind(&r.try_get::<String, _>(1)?)?,
                date("last_contact_on", &r.try_get::<String, _>(2)?)?,
            ))
        })
        .collect()
}

/// Classifies a contact of `person` by the policy in force on the last-contact date: the
/// close-contact facts, with the community's own division as the origin (a local contact).
async fn classify_contact(
    db: &Db,
    person: &Person,
    areas: &[RiskArea],
    kind: ContactKind,
    last_contact_on: Date,
) -> Result<(Classification, i64), StoreError> {
    let stored = epidemic::policy_on(db, last_contact_on)
        .await?
        .ok_or_else(|| {
            StoreError::invalid(
                "last_contact_on",
                format!("{} 没有生效的防控政策", format_date(last_contact_on)),
            )
        })?;
    let community = epidemic::division_of(db, &person.node_path).await?;
    let facts = Facts {
        origin_code: community.clone(),
        arrived_on: last_contact_on,
        symptoms: Vec::new(),
        temperature: None,
        contact: Some(ContactFact {
            kind,
            last_contact_on,
        }),
    };
    let c = policy::classify(
        &stored.policy,
        &facts,
        areas,
        &community,
        &policy::division_names,
    )?;
    Ok((c, stored.id))
}

/// Records that `person` was in contact with `source` (or, for a pair already linked, a later
/// last contact): checks the rules (no self-link, 密接 of a case, 次密接 of a 密接, no cycle,
/// no future date), classifies the link by the policy of its date, and opens or moves the
/// person's observation. One transaction; audited.
///
/// One person, one observation: a worker checks in, calls and releases a person, not a record.
/// The links' plan is the strictest of all the person's links (`observation::Weight`: strictest
/// measure, then later last day, then more days), and goes to the person's observation through
/// `epidemic::observe`, as an arrival's plan does. When the person is already under an open
/// observation:
/// - opened by their links: it follows that plan (measure, stages, dates, check-ins, policy);
/// - decided by an arrival (e.g. a returnee found to be a 密接 two days later): it is upgraded
///   in place to the links' plan when that plan weighs more by the same order — it keeps its
///   arrival and its first day, so the days already observed and their check-ins stay inside
///   the period — and is left as it is otherwise (the arrival's plan already covers the
///   contact). Either way every link of the person points at it, and no second observation is
///   opened.
///
/// A link with no measure leaves an open observation as it is.
pub async fn record_contact(
    db: &Db,
    scope: &Scope,
    input: &ContactInput,
    now: i64,
) -> Result<ContactRecorded, StoreError> {
    contact::not_in_future(
        "last_contact_on",
        "最后接触日期",
        input.last_contact_on,
        today(),
    )?;
    let person = crate::registry::get(db, scope, input.person_id).await?;
    if !scope.can_write_records(&person.node_path) {
        return Err(StoreError::Forbidden("您的角色不能登记密接".into()));
    }
    if input.person_id == input.source_person_id {
        contact::check_link(
            input.person_id,
            input.source_person_id,
            input.kind,
            SourceFacts::default(),
        )?;
    }
    // The source must be visible to the caller; outside it, it is as good as unknown.
    match crate::registry::get(db, scope, input.source_person_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Err(StoreError::invalid(
                "source_person_id",
                format!(
                    "来源人员 {} 不存在，或不在您的辖区内",
                    input.source_person_id
                ),
            ))
        }
        Err(e) => return Err(e),
    }
    let facts = SourceFacts {
        is_case: case_row(db, input.source_person_id).await?.is_some(),
        is_close_contact: is_close_contact(db, input.source_person_id).await?,
        source_is_downstream: downstream(db, input.person_id, input.source_person_id).await?,
    };
    contact::check_link(input.person_id, input.source_person_id, input.kind, facts)?;

    let existing = sqlx::query(
        "SELECT id, kind, last_contact_on FROM contact_link WHERE person_id = $1 AND source_person_id = $2",
    )
    .bind(input.person_id)
    .bind(input.source_person_id)
    .fetch_optional(db.pool())
    .await?;
    let existing = match existing {
        Some(r) => {
            let kind = contact_kind(&r.try_get::<String, _>(1)?)?;
            let on = date("last_contact_on", &r.try_get::<String, _>(2)?)?;
            if input.last_contact_on < on {
                return Err(StoreError::invalid(
                    "last_contact_on",
                    format!(
                        "已登记的最后接触日期为 {}，新的日期 {} 不能更早",
                        format_date(on),
                        format_date(input.last_contact_on)
                    ),
                ));
            }
            if kind == ContactKind::CloseContact && input.kind == ContactKind::SecondaryContact {
                return Err(StoreError::invalid(
                    "type",
                    "此人已登记为该来源的「密接」，不能改为「次密接」",
                ));
            }
            Some(r.try_get::<i64, _>(0)?)
        }
        None => None,
    };

    let areas: Vec<RiskArea> = epidemic::risk_areas(db)
        .await?
        .into_iter()
        .map(|a| a.area)
        .collect();
    let (classification, policy_version_id) =
        classify_contact(db, &person, &areas, input.kind, input.last_contact_on).await?;
    // The person's observation follows the strictest of their links (this one included),
    // weighed as `epidemic::observe` weighs plans.
    let mut best = (classification.clone(), policy_version_id);
    for (source, kind, on) in links_of(db, person.id).await? {
        if source == input.source_person_id {
            continue;
        }
        let other = classify_contact(db, &person, &areas, kind, on).await?;
        if Weight::of_plan(&other.0) > Weight::of_plan(&best.0) {
            best = other;
        }
    }

    let until =
        (classification.measure != Measure::None).then(|| format_date(classification.until));
    let mut tx = db.begin_write().await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE contact_link SET kind = $1, last_contact_on = $2, policy_version_id = $3, measure = $4, \
                 until_on = $5, explanation = $6, updated_at = $7 WHERE id = $8",
            )
            .bind(input.kind.as_str())
            .bind(format_date(input.last_contact_on))
            .bind(policy_version_id)
            .bind(classification.measure.as_str())
            .bind(until.clone())
            .bind(&classification.explanation)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let row = sqlx::query(
                "INSERT INTO contact_link (person_id, source_person_id, kind, last_contact_on, district_id, node_path, \
                 policy_version_id, measure, until_on, explanation, created_at, created_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) RETURNING id",
            )
            .bind(person.id)
            .bind(input.source_person_id)
            .bind(input.kind.as_str())
            .bind(format_date(input.last_contact_on))
            .bind(person.node_path.root_id())
            .bind(person.node_path.as_str())
            .bind(policy_version_id)
            .bind(classification.measure.as_str())
            .bind(until.clone())
            .bind(&classification.explanation)
            .bind(now)
            .bind(scope.actor())
            .fetch_one(&mut *tx)
            .await?;
            row.try_get(0)?
        }
    };

    let (plan, plan_policy) = &best;
    let purge_on = format_date(plan.until + time::Duration::days(epidemic::RETENTION_DAYS));
    let observed = epidemic::observe(
        &mut tx,
        &epidemic::NewObservation {
            person: &person,
            arrival_id: None,
            plan,
            policy_version_id: *plan_policy,
            created_at: now,
            purge_on: &purge_on,
        },
    )
    .await?;
    let observation_id = observed.id();
    // A centralised stage ahead gets a room by itself, as after a screening.
    let placement = match observation_id {
        Some(obs) => {
            epidemic::sites::place_after_observe(&mut tx, scope, &person, obs, now).await?
        }
        None => epidemic::sites::Placement::NotNeeded,
    };
    if let Some(obs) = observation_id {
        sqlx::query("UPDATE contact_link SET observation_id = $1 WHERE person_id = $2")
            .bind(obs)
            .bind(person.id)
            .execute(&mut *tx)
            .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(
            scope,
            if existing.is_some() {
                "contact.update"
            } else {
                "contact.create"
            },
            "contact_link",
        )
        .entity_id(id)
        .node_path(&person.node_path)
        .detail(json!({
            "person_id": person.id,
            "source_person_id": input.source_person_id,
            "type": input.kind.as_str(),
            "last_contact_on": format_date(input.last_contact_on),
            "measure": classification.measure.as_str(),
            "policy": classification.policy_key,
            "observation_id": observation_id,
        })),
        now,
    )
    .await?;
    Ok(ContactRecorded {
        id,
        created: existing.is_none(),
        person_id: person.id,
        source_person_id: input.source_person_id,
        kind: input.kind,
        last_contact_on: input.last_contact_on,
        policy_version_id,
        observation_id,
        observation_until: observed.until(),
        classification,
        room: placement.placed().cloned(),
        no_bed: matches!(placement, epidemic::sites::Placement::NoBed),
    })
}

/// A link as a person's page shows it: the other end masked (or anonymous out of scope).
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub id: i64,
    /// The other person (the source, or the contact), when the caller may see them.
    pub other_person_id: Option<i64>,
    pub other_label: String,
    pub kind: ContactKind,
    pub last_contact_on: Date,
    pub measure: Measure,
    pub until_on: Option<String>,
    pub explanation: String,
    pub observation_id: Option<i64>,
}

/// A person's place in the chains: their case record, whom they were in contact with, who was
/// in contact with them, and the cases upstream (in scope) whose chains they belong to.
#[derive(Debug, Clone)]
pub struct PersonContacts {
    pub case: Option<Case>,
    pub sources: Vec<LinkRow>,
    pub contacts: Vec<LinkRow>,
    pub upstream_cases: Vec<i64>,
    /// Upstream cases outside the caller's jurisdiction (counted, never named).
    pub upstream_cases_elsewhere: usize,
}

/// The contacts page of a person the caller may read.
pub async fn person_contacts(
    db: &Db,
    scope: &Scope,
    person_id: i64,
) -> Result<PersonContacts, StoreError> {
    crate::registry::get(db, scope, person_id).await?;
    let case = case_row(db, person_id).await?;
    let mut lists = Vec::new();
    for (mine, other) in [
        ("l.person_id", "l.source_person_id"),
        ("l.source_person_id", "l.person_id"),
    ] {
        let rows = sqlx::query(&format!(
            "SELECT l.id, {other}, p.name, p.node_path, l.kind, l.last_contact_on, l.measure, l.until_on, \
             l.explanation, l.observation_id FROM contact_link l JOIN person p ON p.id = {other} \
             WHERE {mine} = $1 ORDER BY l.last_contact_on DESC, l.id DESC LIMIT 500"
        ))
        .bind(person_id)
        .fetch_all(db.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let visible = readable(scope, &r.try_get::<String, _>(3)?);
            let measure: String = r.try_get(6)?;
            out.push(LinkRow {
                id: r.try_get(0)?,
                other_person_id: if visible { Some(r.try_get(1)?) } else { None },
                other_label: if visible {
                    contact::mask_name(&r.try_get::<String, _>(2)?)
                } else {
                    OUT_OF_SCOPE.to_owned()
                },
                kind: contact_kind(&r.try_get::<String, _>(4)?)?,
                last_contact_on: date("last_contact_on", &r.try_get::<String, _>(5)?)?,
                measure: measure.parse::<Measure>().map_err(internal)?,
                until_on: r.try_get(7)?,
                explanation: r.try_get(8)?,
                observation_id: r.try_get(9)?,
            });
        }
        lists.push(out);
    }
    let contacts = lists.pop().unwrap_or_default();
    let sources = lists.pop().unwrap_or_default();
    let rows = sqlx::query(&format!(
        "WITH RECURSIVE up(id, depth) AS (SELECT CAST($1 AS BIGINT), 0 UNION \
         SELECT l.source_person_id, u.depth + 1 FROM contact_link l JOIN up u ON l.person_id = u.id \
         WHERE u.depth < {MAX_GENERATIONS}) \
         SELECT DISTINCT c.person_id, p.node_path FROM epi_case c JOIN up ON up.id = c.person_id \
         JOIN person p ON p.id = c.person_id ORDER BY c.person_id"
    ))
    .bind(person_id)
    .fetch_all(db.pool())
    .await?;
    let mut upstream_cases = Vec::new();
    let mut upstream_cases_elsewhere = 0;
    for r in &rows {
        if readable(scope, &r.try_get::<String, _>(1)?) {
            upstream_cases.push(r.try_get(0)?);
        } else {
            upstream_cases_elsewhere += 1;
        }
    }
    Ok(PersonContacts {
        case,
        sources,
        contacts,
        upstream_cases,
        upstream_cases_elsewhere,
    })
}

/// A person who may be chosen as the source of a new link: a case or a close contact within
/// the caller's jurisdiction.
#[derive(Debug, Clone)]
pub struct SourceOption {
    pub person_id: i64,
    pub name: String,
    /// 确诊病例 / 无症状感染者 / 密接
    pub role_label: &'static str,
}

/// Cases and close contacts within the caller's jurisdiction, cases first (at most 200 each).
pub async fn source_options(db: &Db, scope: &Scope) -> Result<Vec<SourceOption>, StoreError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (sql_kind, is_case) in [("case", true), ("contact", false)] {
        let mut params = Params::new();
        let filter = scope_filter(scope, "p.node_path", &mut params);
        let sql = if sql_kind == "case" {
            format!(
                "SELECT c.person_id, p.name, c.kind, p.node_path FROM epi_case c JOIN person p ON p.id = c.person_id \
                 WHERE {filter} ORDER BY c.diagnosed_on DESC, c.id DESC LIMIT 200"
            )
        } else {
            format!(
                "SELECT l.person_id, p.name, MAX(l.last_contact_on), p.node_path FROM contact_link l \
                 JOIN person p ON p.id = l.person_id WHERE l.kind = 'close_contact' AND {filter} \
                 GROUP BY l.person_id, p.name, p.node_path ORDER BY MAX(l.last_contact_on) DESC, l.person_id LIMIT 200"
            )
        };
        let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            if !readable(scope, &r.try_get::<String, _>(3)?) || !seen.insert(id) {
                continue;
            }
            let role_label = if is_case {
                r.try_get::<String, _>(2)?
                    .parse::<CaseKind>()
                    .map_err(internal)?
                    .label_zh()
            } else {
                "密接"
            };
            out.push(SourceOption {
                person_id: id,
                name: r.try_get(1)?,
                role_label,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The chain of transmission
// ---------------------------------------------------------------------------------------------

/// A person in a chain. Out of the caller's jurisdiction: no id, no name, no dates.
#[derive(Debug, Clone)]
pub struct ChainNode {
    /// `n0`, `n1`…: the node's key in this answer only (never a person id).
    pub key: String,
    pub person_id: Option<i64>,
    pub in_scope: bool,
    /// The masked name, or 「辖区外人员」.
    pub label: String,
    pub generation: u32,
    pub case_kind: Option<CaseKind>,
    pub diagnosed_on: Option<Date>,
    /// The strongest type among the links into this node (none for the root case).
    pub kind: Option<ContactKind>,
    /// The latest contact among the links into this node.
    pub last_contact_on: Option<Date>,
    pub measure: Option<Measure>,
    pub until_on: Option<String>,
    pub x: u32,
    pub y: u32,
}

/// A link in a chain, drawn as a line.
#[derive(Debug, Clone)]
pub struct ChainEdge {
    pub from: String,
    pub to: String,
    pub kind: ContactKind,
    /// Absent when either end is outside the caller's jurisdiction.
    pub last_contact_on: Option<Date>,
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

/// A case's chain of transmission, laid out (one column per generation).
#[derive(Debug, Clone)]
pub struct Chain {
    pub case_person_id: i64,
    pub case_kind: CaseKind,
    pub diagnosed_on: Date,
    pub nodes: Vec<ChainNode>,
    pub edges: Vec<ChainEdge>,
    pub width: u32,
    pub height: u32,
    pub node_width: u32,
    pub node_height: u32,
    /// True when the chain was cut at [`MAX_GENERATIONS`] or the link limit.
    pub truncated: bool,
}

/// The chain of the case `case_person_id` (a case the caller may read): its contacts and their
/// contacts, down to [`MAX_GENERATIONS`], names masked; persons outside the caller's
/// jurisdiction are anonymous nodes.
pub async fn chain(db: &Db, scope: &Scope, case_person_id: i64) -> Result<Chain, StoreError> {
    build_chain(db, scope, case_person_id, false)
        .await
        .map(|(chain, _)| chain)
}

/// The chain with the clear names of the persons whose names the caller may unmask (staff and
/// above within their jurisdiction; grid workers never): a deliberate act, audited with the
/// ids shown. Out-of-scope persons stay anonymous.
pub async fn chain_with_names(
    db: &Db,
    scope: &Scope,
    case_person_id: i64,
    ip: Option<&str>,
    now: i64,
) -> Result<Chain, StoreError> {
    let case = crate::registry::get(db, scope, case_person_id).await?;
    if !scope.can_unmask(&case.node_path) {
        return Err(StoreError::Forbidden("网格员只能查看遮蔽后的姓名".into()));
    }
    let (chain, shown) = build_chain(db, scope, case_person_id, true).await?;
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "contact_chain.unmask", "person")
            .entity_id(case_person_id)
            .node_path(&case.node_path)
            .ip(ip)
            .detail(json!({"fields": ["name"], "person_ids": shown})),
        now,
    )
    .await?;
    Ok(chain)
}

/// Builds a chain; with `reveal`, in-scope persons the caller may unmask get their clear name
/// (their ids are returned, to be audited).
async fn build_chain(
    db: &Db,
    scope: &Scope,
    case_person_id: i64,
    reveal: bool,
) -> Result<(Chain, Vec<i64>), StoreError> {
    crate::registry::get(db, scope, case_person_id).await?;
    let case = case_row(db, case_person_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let rows = sqlx::query(
        "WITH RECURSIVE down(id, depth) AS (SELECT CAST($1 AS BIGINT), 0 UNION \
         SELECT l.person_id, d.depth + 1 FROM contact_link l JOIN down d ON l.source_person_id = d.id \
         WHERE d.depth < $2) \
         SELECT l.source_person_id, l.person_id, l.kind, l.last_contact_on, l.measure, l.until_on \
         FROM contact_link l WHERE l.source_person_id IN (SELECT id FROM down WHERE depth < $2) \
         ORDER BY l.last_contact_on DESC, l.id LIMIT $3",
    )
    .bind(case_person_id)
    .bind(i64::from(MAX_GENERATIONS))
    .bind(MAX_CHAIN_LINKS + 1)
    .fetch_all(db.pool())
    .await?;
    let truncated = rows.len() as i64 > MAX_CHAIN_LINKS;
    let mut links = Vec::new();
    let mut plans: HashMap<(i64, i64), (Measure, Option<String>)> = HashMap::new();
    for r in rows.iter().take(MAX_CHAIN_LINKS as usize) {
        let l = ChainLink {
            source: r.try_get(0)?,
            person: r.try_get(1)?,
            kind: contact_kind(&r.try_get::<String, _>(2)?)?,
            last_contact_on: date("last_contact_on", &r.try_get::<String, _>(3)?)?,
        };
        let measure = r
            .try_get::<String, _>(4)?
            .parse::<Measure>()
            .map_err(internal)?;
        plans.insert((l.source, l.person), (measure, r.try_get(5)?));
        links.push(l);
    }
    let order = contact::generations(case_person_id, &links, MAX_GENERATIONS);
    let placed_ids: HashSet<i64> = order.iter().map(|(id, _)| *id).collect();
    links.retain(|l| placed_ids.contains(&l.source) && placed_ids.contains(&l.person));
    let layout = contact::lay_out(&order, &links);

    // Who they are: name and path (for the scope), and which of them are cases.
    let mut params = Params::new();
    let list: Vec<String> = order.iter().map(|(id, _)| params.int(*id)).collect();
    let people = params
        .bind(sqlx::query(&format!(
            "SELECT p.id, p.name, p.node_path, c.kind, c.diagnosed_on FROM person p \
             LEFT JOIN epi_case c ON c.person_id = p.id WHERE p.id IN ({})",
            list.join(", ")
        )))
        .fetch_all(db.pool())
        .await?;
    // Name, in the caller's scope, case record.
    type Who = (String, bool, bool, Option<(CaseKind, Date)>);
    let mut who: HashMap<i64, Who> = HashMap::new();
    for r in &people {
        let case = match r.try_get::<Option<String>, _>(3)? {
            Some(k) => Some((
                k.parse::<CaseKind>().map_err(internal)?,
                date("diagnosed_on", &r.try_get::<String, _>(4)?)?,
            )),
            None => None,
        };
        let path = JurisdictionPath::parse(&r.try_get::<String, _>(2)?).ok();
        let visible = path.as_ref().is_some_and(|p| scope.can_read(p));
        let clear = reveal && path.as_ref().is_some_and(|p| scope.can_unmask(p));
        who.insert(r.try_get(0)?, (r.try_get(1)?, visible, clear, case));
    }

    let keys: HashMap<i64, String> = order
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, format!("n{i}")))
        .collect();
    let mut nodes = Vec::with_capacity(order.len());
    let mut shown = Vec::new();
    for (id, generation) in &order {
        let (name, visible, clear, case) =
            who.get(id)
                .cloned()
                .unwrap_or((String::new(), false, false, None));
        if visible && clear {
            shown.push(*id);
        }
        let incoming: Vec<&ChainLink> = links.iter().filter(|l| l.person == *id).collect();
        let kind = incoming.iter().map(|l| l.kind).min_by_key(|k| match k {
            ContactKind::CloseContact => 0,
            ContactKind::SecondaryContact => 1,
        });
        let plan = incoming
            .iter()
            .filter_map(|l| plans.get(&(l.source, l.person)))
            .max_by(|a, b| (a.0.severity(), &a.1).cmp(&(b.0.severity(), &b.1)))
            .cloned();
        let p = layout
            .placed
            .get(id)
            .copied()
            .ok_or_else(|| StoreError::Internal("a chain node was not laid out".into()))?;
        let root = *id == case_person_id;
        nodes.push(ChainNode {
            key: keys.get(id).cloned().unwrap_or_default(),
            person_id: visible.then_some(*id),
            in_scope: visible,
            label: match (visible, clear) {
                (true, true) => name,
                (true, false) => contact::mask_name(&name),
                _ => OUT_OF_SCOPE.to_owned(),
            },
            generation: *generation,
            case_kind: if visible || root {
                case.map(|c| c.0)
            } else {
                None
            },
            diagnosed_on: if visible { case.map(|c| c.1) } else { None },
            kind,
            last_contact_on: if visible {
                incoming.iter().map(|l| l.last_contact_on).max()
            } else {
                None
            },
            measure: if visible {
                plan.as_ref().map(|p| p.0)
            } else {
                None
            },
            until_on: if visible {
                plan.and_then(|p| p.1)
            } else {
                None
            },
            x: p.x,
            y: p.y,
        });
    }
    let visible: HashSet<&str> = nodes
        .iter()
        .filter(|n| n.in_scope)
        .map(|n| n.key.as_str())
        .collect();
    let edges = links
        .iter()
        .zip(&layout.lines)
        .map(|(l, line)| {
            let from = keys.get(&l.source).cloned().unwrap_or_default();
            let to = keys.get(&l.person).cloned().unwrap_or_default();
            let both = visible.contains(from.as_str()) && visible.contains(to.as_str());
            ChainEdge {
                from,
                to,
                kind: l.kind,
                last_contact_on: both.then_some(l.last_contact_on),
                x1: line.x1,
                y1: line.y1,
                x2: line.x2,
                y2: line.y2,
            }
        })
        .collect();
    let chain = Chain {
        case_person_id,
        case_kind: case.kind,
        diagnosed_on: case.diagnosed_on,
        nodes,
        edges,
        width: layout.width,
        height: layout.height,
        node_width: contact::NODE_WIDTH,
        node_height: contact::NODE_HEIGHT,
        truncated,
    };
    Ok((chain, shown))
}
