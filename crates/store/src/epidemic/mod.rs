//! Epidemic prevention records: risk areas, quarantine policy versions, arrival screenings,
//! observations with their check-ins, and alerts. The rules themselves are pure
//! (`linli_core::epidemic::policy`); this module keeps the records and applies the rules in force.

pub mod alerts;
pub mod checkpoints;
pub mod contacts;
pub mod dashboard;
pub mod declarations;
pub mod observations;
pub mod policies;
pub mod retention;
pub mod self_checkin;
pub mod sites;
pub mod timeline;
pub mod trips;

use linli_core::epidemic::observation::{self, Change, Weight};
use linli_core::epidemic::policy::{
    self, Classification, DivisionCode, Measure, PolicyVersion, RiskArea, RiskLevel, StagePlan,
    Temperature,
};
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::PersonInput;
use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::internal;
use crate::{Db, StoreError};

mod checkins;
pub use checkins::{CheckinJob, CheckinWriter};

/// Days screening, check-in and scan records are kept after release before they are
/// anonymised (the default; configurable per call of the purge job).
pub const RETENTION_DAYS: i64 = 30;

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

/// Stores the shipped presets (published, with their historical dates) that are missing, so a
/// fresh database classifies every arrival by the rules of its own date. Run after migrating.
pub async fn ensure_presets(db: &Db, now: i64) -> Result<(), StoreError> {
    for p in policy::presets() {
        let found =
            sqlx::query("SELECT id FROM policy_version WHERE policy_key = $1 AND version = $2")
                .bind(p.key())
                .bind(i64::from(p.version()))
                .fetch_optional(db.pool())
                .await?;
        if found.is_some() {
            continue;
        }
        sqlx::query(
            "INSERT INTO policy_version (policy_key, version, name, effective_from, rules_json, state, \
             created_at, created_by, published_at) VALUES ($1, $2, $3, $4, $5, 'published', $6, 'system', $6)",
        )
        .bind(p.key())
        .bind(i64::from(p.version()))
        .bind(p.name())
        .bind(format_date(p.effective_from()))
        .bind(serde_json::to_string(&p).map_err(|e| StoreError::Internal(e.to_string()))?)
        .bind(now)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

/// A stored policy version.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPolicy {
    pub id: i64,
    pub state: String,
    pub policy: PolicyVersion,
}

/// Every published policy version, oldest first.
pub async fn published_policies(db: &Db) -> Result<Vec<StoredPolicy>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, state, rules_json FROM policy_version WHERE state = 'published' \
         ORDER BY effective_from, version, id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let json: String = r.try_get(2)?;
            Ok(StoredPolicy {
                id: r.try_get(0)?,
                state: r.try_get(1)?,
                policy: serde_json::from_str(&json)
                    .map_err(|e| StoreError::Internal(format!("stored policy: {e}")))?,
            })
        })
        .collect()
}

/// The published version in force on `date` (the latest effective on or before it).
pub(crate) async fn policy_on(
    db: &Db,
    date: time::Date,
) -> Result<Option<StoredPolicy>, StoreError> {
    let all = published_policies(db).await?;
    let versions: Vec<PolicyVersion> = all.iter().map(|p| p.policy.clone()).collect();
    let chosen = policy::policy_in_force(&versions, date).cloned();
    Ok(chosen.and_then(|c| all.into_iter().find(|p| p.policy == c)))
}

// ---------------------------------------------------------------------------------------------
// Risk areas
// ---------------------------------------------------------------------------------------------

/// Declares a risk area (officials and admins). Audited.
pub async fn add_risk_area(
    db: &Db,
    scope: &Scope,
    area: &RiskArea,
    now: i64,
) -> Result<i64, StoreError> {
    if !scope.can_manage_policy() {
        return Err(StoreError::Forbidden(
            "只有街道/区级干部可以发布风险地区".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO risk_area (division_code, name, level, from_on, to_on, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(area.division_code().as_str())
        .bind(area.name())
        .bind(area.level().as_str())
        .bind(format_date(area.from()))
        .bind(area.to().map(format_date))
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "risk_area.create", "risk_area")
            .detail(json!({
                "division_code": area.division_code().as_str(),
                "level": area.level().as_str(),
                "from": format_date(area.from()),
                "to": area.to().map(format_date),
            })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A stored risk area.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRiskArea {
    pub id: i64,
    pub area: RiskArea,
    pub created_by: String,
}

/// Risk areas in force (not superseded), newest first. Every role reads them: they are public
/// notices.
pub async fn risk_areas(db: &Db) -> Result<Vec<StoredRiskArea>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, division_code, name, level, from_on, to_on, created_by FROM risk_area \
         WHERE superseded_at IS NULL ORDER BY from_on DESC, id DESC",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let code: String = r.try_get(1)?;
            let level: String = r.try_get(3)?;
            let from: String = r.try_get(4)?;
            let to: Option<String> = r.try_get(5)?;
            let area = RiskArea::new(
                DivisionCode::parse(&code).map_err(internal)?,
                r.try_get::<Option<String>, _>(2)?.as_deref(),
                level.parse::<RiskLevel>().map_err(internal)?,
                parse_date("from", &from).map_err(internal)?,
                to.map(|t| parse_date("to", &t))
                    .transpose()
                    .map_err(internal)?,
            )
            .map_err(internal)?;
            Ok(StoredRiskArea {
                id: r.try_get(0)?,
                area,
                created_by: r.try_get(6)?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Arrival screening
// ---------------------------------------------------------------------------------------------

/// Who entered a screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalSource {
    /// A grid worker or community staff (三问一测 at the door).
    Worker,
    /// The arriving person, through the compound's public QR form: pending a worker's review.
    SelfDeclared,
    /// A worker on behalf of someone without a smartphone.
    Proxy,
}

impl ArrivalSource {
    fn as_str(self) -> &'static str {
        match self {
            ArrivalSource::Worker => "worker",
            ArrivalSource::SelfDeclared => "self",
            ArrivalSource::Proxy => "proxy",
        }
    }
}

/// The person an arrival is about: registered already, or to be matched or added. (One value
/// per screening: the size difference between the variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum ArrivalPerson<'a> {
    Registered(i64),
    /// Matched by ID number when registered (and visible to the caller), else registered now.
    New {
        placement: crate::registry::Placement,
        input: PersonInput<'a>,
    },
}

/// A screening as entered.
pub struct ArrivalInput<'a> {
    pub person: ArrivalPerson<'a>,
    pub origin_code: DivisionCode,
    pub arrived_on: time::Date,
    pub purpose: Option<String>,
    pub symptoms: Vec<String>,
    pub temperature: Option<Temperature>,
    pub source: ArrivalSource,
}

/// What recording a screening did.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivalRecorded {
    pub id: i64,
    pub person_id: i64,
    pub classification: Classification,
    /// The id of the stored policy version that classified it.
    pub policy_version_id: i64,
    /// The person's one open observation: opened, changed or kept by this arrival (none when
    /// no measure applies and the person is not under observation).
    pub observation_id: Option<i64>,
    pub alert_id: Option<i64>,
    /// The room of a centralised quarantine, given now or kept from before.
    pub room: Option<sites::Placed>,
    /// Centralised quarantine, and no open site covering the person had a free room (暂无空床).
    pub no_bed: bool,
}

/// The finest division code on the path of a node: the community's (12 digits), else its
/// street's or district's. Classification needs it for "other province / same province".
pub(crate) async fn division_of(
    db: &Db,
    path: &JurisdictionPath,
) -> Result<DivisionCode, StoreError> {
    let ids: Vec<i64> = path
        .as_str()
        .split('/')
        .filter_map(|s| s.parse().ok())
        .collect();
    let mut params = Params::new();
    let list: Vec<String> = ids.iter().map(|id| params.int(*id)).collect();
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT id, code FROM node WHERE id IN ({}) AND code IS NOT NULL",
            list.join(", ")
        )))
        .fetch_all(db.pool())
        .await?;
    let mut best: Option<(usize, DivisionCode)> = None;
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let code: String = r.try_get(1)?;
        let depth = ids.iter().position(|x| *x == id).unwrap_or(0);
        if let Ok(c) = DivisionCode::parse(&code) {
            if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                best = Some((depth, c));
            }
        }
    }
    best.map(|(_, c)| c).ok_or_else(|| {
        StoreError::invalid(
            "person_id",
            "此人所在辖区没有行政区划代码（社区、街道或区县），无法判断来源地是否外省",
        )
    })
}

/// Records an arrival screening: the person matched or added, the result classified by the
/// policy in force on its date (with the explanation a worker reads to the resident), the
/// person put under observation when a measure applies, and a fever alert raised when the rule
/// says so. Self-declared screenings are stored pending review. All in one transaction; audited.
///
/// One person, one observation ([`observe`]): someone already under an open observation (after
/// a contact link or an earlier arrival) gets no second one. It is upgraded or extended in
/// place when this arrival's plan weighs more ([`observation::Weight`]), kept as it is otherwise (and when
/// no measure applies); the explanation then says so and names the last day, and
/// `observation_id` is that observation.
pub async fn record_arrival(
    db: &Db,
    scope: &Scope,
    input: ArrivalInput<'_>,
    now: i64,
) -> Result<ArrivalRecorded, StoreError> {
    if input.arrived_on > today() {
        return Err(StoreError::invalid("arrived_on", "抵达日期不能晚于今天"));
    }
    // The policy of the day must exist before anyone is registered for it.
    let policy_date = input.arrived_on;
    let stored = policy_on(db, policy_date).await?.ok_or_else(|| {
        StoreError::invalid(
            "arrived_on",
            format!("{} 没有生效的防控政策", format_date(input.arrived_on)),
        )
    })?;
    let person_id = match &input.person {
        ArrivalPerson::Registered(id) => *id,
        ArrivalPerson::New { placement, input } => {
            match find_by_id_number(db, scope, input.id_kind, input.id_number).await? {
                Some(id) => id,
                None => {
                    crate::registry::create(db, scope, placement, input, now)
                        .await?
                        .0
                        .id
                }
            }
        }
    };
    let person = crate::registry::get(db, scope, person_id).await?;
    if !scope.can_write_records(&person.node_path) {
        return Err(StoreError::Forbidden("您的角色不能登记排查记录".into()));
    }
    let community = division_of(db, &person.node_path).await?;
    let facts = policy::Facts {
        origin_code: input.origin_code.clone(),
        arrived_on: input.arrived_on,
        symptoms: input.symptoms.clone(),
        temperature: input.temperature,
        contact: None,
    };
    debug_assert_eq!(facts.policy_date(), policy_date);
    let areas: Vec<RiskArea> = risk_areas(db).await?.into_iter().map(|a| a.area).collect();
    let mut classification = policy::classify(
        &stored.policy,
        &facts,
        &areas,
        &community,
        &policy::division_names,
    )
    .map_err(|e| StoreError::Invalid(vec![e]))?;

    let status = if input.source == ArrivalSource::SelfDeclared {
        "pending_review"
    } else {
        "confirmed"
    };
    let until =
        (classification.measure != Measure::None).then(|| format_date(classification.until));
    let purge_on = format_date(
        classification.until.max(input.arrived_on) + time::Duration::days(RETENTION_DAYS),
    );
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO arrival (person_id, node_id, district_id, node_path, origin_code, arrived_on, purpose, \
         symptoms_json, temperature_tenths, source, status, policy_version_id, measure, until_on, explanation, \
         created_at, created_by, purge_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(person.id)
    .bind(person.node_id)
    .bind(person.node_path.root_id())
    .bind(person.node_path.as_str())
    .bind(input.origin_code.as_str())
    .bind(format_date(input.arrived_on))
    .bind(input.purpose.as_deref().map(str::trim).filter(|s| !s.is_empty()))
    .bind(serde_json::to_string(&input.symptoms).unwrap_or_else(|_| "[]".into()))
    .bind(input.temperature.map(|t| i64::from(t.tenths())))
    .bind(input.source.as_str())
    .bind(status)
    .bind(stored.id)
    .bind(classification.measure.as_str())
    .bind(until.clone())
    .bind(&classification.explanation)
    .bind(now)
    .bind(scope.actor())
    .bind(&purge_on)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;

    // One observation per person: an arrival of someone already observed (after a contact or
    // an earlier arrival) keeps, extends or upgrades that observation rather than open a second.
    let observed = observe(
        &mut tx,
        &NewObservation {
            person: &person,
            arrival_id: Some(id),
            plan: &classification,
            policy_version_id: stored.id,
            created_at: now,
            purge_on: &purge_on,
        },
    )
    .await?;
    let observation_id = observed.id();
    if let Some(note) = observed.already_observed_zh(&classification) {
        classification.explanation.push_str(&note);
    }
    // A centralised stage ahead gets a room by itself; none free never fails the screening.
    let placement = match observation_id {
        Some(obs) => sites::place_after_observe(&mut tx, scope, &person, obs, now).await?,
        None => sites::Placement::NotNeeded,
    };
    if let Some(sentence) = placement.sentence_zh() {
        classification.explanation.push_str(&sentence);
    }
    // The screening names the observation it put or kept the person under: its records are
    // kept while that observation is open and purged after it (see `retention`). Its whole
    // classification is kept for the result page ([`arrival_result`]).
    sqlx::query(
        "UPDATE arrival SET explanation = $1, observation_id = $2, classification_json = $3 WHERE id = $4",
    )
    .bind(&classification.explanation)
    .bind(observation_id)
    .bind(serde_json::to_string(&classification).map_err(|e| StoreError::Internal(e.to_string()))?)
    .bind(id)
    .execute(&mut *tx)
    .await?;

    // Core decides whether the screening raises a fever alert (a fever or a symptom always
    // does, whatever the day's policy); the store only keeps it.
    let fever = classification.fever_alert;
    let alert_id = if fever {
        let detail = classification
            .alerts
            .iter()
            .map(|a| format!("排查时{}", a.message))
            .collect::<Vec<_>>()
            .join("；");
        Some(
            raise_alert(
                &mut tx,
                "fever",
                &person,
                observation_id,
                Some(id),
                &detail,
                now,
            )
            .await?,
        )
    } else {
        None
    };
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "arrival.create", "arrival")
            .entity_id(id)
            .node_path(&person.node_path)
            .detail(json!({
                "person_id": person.id,
                "source": input.source.as_str(),
                "measure": classification.measure.as_str(),
                "policy": stored.policy.key(),
                "fever_alert": fever,
                "observation_id": observation_id,
                "observation": match &observed {
                    Observed::Unobserved => "none",
                    Observed::Opened { .. } => "opened",
                    Observed::Kept(_) => "kept",
                    Observed::Changed { .. } => "changed",
                },
            })),
        now,
    )
    .await?;
    Ok(ArrivalRecorded {
        id,
        person_id: person.id,
        classification,
        policy_version_id: stored.id,
        observation_id,
        alert_id,
        room: placement.placed().cloned(),
        no_bed: matches!(placement, sites::Placement::NoBed),
    })
}

/// A stored screening as its result page shows it.
#[derive(Debug, Clone)]
pub struct ArrivalResult {
    pub id: i64,
    pub person_id: i64,
    pub origin_code: String,
    pub arrived_on: String,
    pub temperature: Option<Temperature>,
    pub symptoms: Vec<String>,
    pub source: String,
    pub classification: Classification,
    pub policy_version_id: Option<i64>,
    pub observation_id: Option<i64>,
}

/// A screening the caller may read, with its classification. Not in scope, unknown, anonymised
/// or recorded before classifications were kept whole: `NotFound` (nothing said about which).
pub async fn arrival_result(db: &Db, scope: &Scope, id: i64) -> Result<ArrivalResult, StoreError> {
    let row = row_by_id(db, "SELECT node_path, person_id, origin_code, arrived_on, temperature_tenths, symptoms_json, source, \
         classification_json, policy_version_id, observation_id FROM arrival \
         WHERE id = $1 AND anonymised_at IS NULL", id).await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    let (Some(person_id), Some(json)) = (
        row.try_get::<Option<i64>, _>(1)?,
        row.try_get::<Option<String>, _>(7)?,
    ) else {
        return Err(StoreError::NotFound);
    };
    let temperature = row
        .try_get::<Option<i64>, _>(4)?
        .and_then(|t| Temperature::from_tenths(t).ok());
    Ok(ArrivalResult {
        id,
        person_id,
        origin_code: row.try_get(2)?,
        arrived_on: row.try_get(3)?,
        temperature,
        symptoms: serde_json::from_str(&row.try_get::<String, _>(5)?).unwrap_or_default(),
        source: row.try_get(6)?,
        classification: serde_json::from_str(&json)
            .map_err(|e| StoreError::Internal(e.to_string()))?,
        policy_version_id: row.try_get(8)?,
        observation_id: row.try_get(9)?,
    })
}

/// A plan for a person's observation: whose, from which arrival (none for a close contact's
/// links), under which plan and policy version, and when its records are purged.
pub(crate) struct NewObservation<'a> {
    pub person: &'a crate::registry::Person,
    pub arrival_id: Option<i64>,
    /// The classification that decides it (with no measure, it opens or changes nothing).
    pub plan: &'a Classification,
    pub policy_version_id: i64,
    pub created_at: i64,
    pub purge_on: &'a str,
}

/// Where a measure is kept: home measures at the person's dwelling; no place is recorded for
/// the others.
pub(crate) fn observation_place(
    measure: Measure,
    person: &crate::registry::Person,
) -> Option<String> {
    match measure {
        Measure::HomeQuarantine | Measure::HealthMonitoring => person.address.clone(),
        _ => None,
    }
}

/// Opens an observation in the caller's transaction: the plan's measure, stages (JSON), period,
/// check-ins per day and [`observation_place`]. The one way an observation is opened, through
/// [`observe`] (for an arrival and for a close contact alike).
async fn open_observation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewObservation<'_>,
) -> Result<i64, StoreError> {
    let plan = new.plan;
    let row = sqlx::query(
        "INSERT INTO observation (person_id, arrival_id, district_id, node_path, measure, stages_json, place, \
         start_on, until_on, check_ins_per_day, policy_version_id, created_at, purge_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(new.person.id)
    .bind(new.arrival_id)
    .bind(new.person.node_path.root_id())
    .bind(new.person.node_path.as_str())
    .bind(plan.measure.as_str())
    .bind(serde_json::to_string(&plan.stages).unwrap_or_else(|_| "[]".into()))
    .bind(observation_place(plan.measure, new.person))
    .bind(format_date(plan.start))
    .bind(format_date(plan.until))
    .bind(i64::from(plan.check_ins_per_day))
    .bind(new.policy_version_id)
    .bind(new.created_at)
    .bind(new.purge_on)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

// ---------------------------------------------------------------------------------------------
// One observation per person
// ---------------------------------------------------------------------------------------------

/// A person's open observation, as far as a new plan needs it.
#[derive(Debug, Clone)]
pub(crate) struct OpenObservation {
    pub id: i64,
    /// Set when an arrival's plan opened or last upgraded it: the arrival whose facts the
    /// what-if compares. Links then only upgrade it, and keep its first day.
    pub arrival_id: Option<i64>,
    pub measure: Measure,
    /// The strictest measure of its stages.
    pub strictest: u8,
    /// The measure of its last stage (the headline measure when it has no stages).
    pub last_measure: Measure,
    pub start: Date,
    pub until: Date,
}

impl OpenObservation {
    /// What a new plan meets, for [`observation::change`].
    fn as_open(&self) -> observation::Open {
        observation::Open {
            weight: Weight::of_period(self.strictest, self.start, self.until),
            by_arrival: self.arrival_id.is_some(),
        }
    }
}

/// The person's open (unreleased) observation: the one their links already follow, else any
/// other (an arrival's), the latest first. (Data from before one observation per person may
/// hold two; the new plan goes to the first.)
pub(crate) async fn open_observation_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: i64,
) -> Result<Option<OpenObservation>, StoreError> {
    let Some(r) = sqlx::query(
        "SELECT o.id, o.arrival_id, o.measure, o.stages_json, o.start_on, o.until_on FROM observation o \
         WHERE o.person_id = $1 AND o.released_on IS NULL \
         ORDER BY CASE WHEN o.id IN (SELECT l.observation_id FROM contact_link l \
         WHERE l.person_id = $1 AND l.observation_id IS NOT NULL) THEN 0 ELSE 1 END, o.id DESC LIMIT 1",
    )
    .bind(person_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let measure = r
        .try_get::<String, _>(2)?
        .parse::<Measure>()
        .map_err(internal)?;
    // Stages that do not read (written by hand) leave the headline measure to weigh.
    let stages: Vec<StagePlan> =
        serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default();
    Ok(Some(OpenObservation {
        id: r.try_get(0)?,
        arrival_id: r.try_get(1)?,
        measure,
        strictest: stages
            .iter()
            .map(|s| s.measure.severity())
            .max()
            .unwrap_or(measure.severity()),
        last_measure: stages.last().map_or(measure, |s| s.measure),
        start: parse_date("start_on", &r.try_get::<String, _>(4)?).map_err(internal)?,
        until: parse_date("until_on", &r.try_get::<String, _>(5)?).map_err(internal)?,
    }))
}

/// What a new plan did to the person's one observation.
#[derive(Debug, Clone)]
pub(crate) enum Observed {
    /// No measure, and no open observation.
    Unobserved,
    /// None was open: this one was opened for the plan.
    Opened { id: i64, until: Date },
    /// The open observation already asks at least as much (or the plan asks nothing): as it was.
    Kept(OpenObservation),
    /// The open observation was changed to the plan (measure, stages, last day…); `before` is
    /// what it was.
    Changed {
        before: OpenObservation,
        until: Date,
    },
}

impl Observed {
    pub(crate) fn id(&self) -> Option<i64> {
        match self {
            Observed::Unobserved => None,
            Observed::Opened { id, .. } => Some(*id),
            Observed::Kept(o) | Observed::Changed { before: o, .. } => Some(o.id),
        }
    }

    /// The observation's last day after the plan.
    pub(crate) fn until(&self) -> Option<Date> {
        match self {
            Observed::Unobserved => None,
            Observed::Opened { until, .. } | Observed::Changed { until, .. } => Some(*until),
            Observed::Kept(o) => Some(o.until),
        }
    }

    /// For the explanation a worker reads out: what became of the observation the person was
    /// already under (`None` when there was none).
    pub(crate) fn already_observed_zh(&self, plan: &Classification) -> Option<String> {
        let (before, after) = match self {
            Observed::Unobserved | Observed::Opened { .. } => return None,
            Observed::Kept(o) => (o, None),
            Observed::Changed { before, until } => (before, Some(*until)),
        };
        let mut s = format!(
            "您自 {} 起已在医学观察中（{}，至 {}），本次不另行开始新的观察：",
            format_date(before.start),
            before.measure.label_zh(),
            format_date(before.until)
        );
        match after {
            None if plan.measure == Measure::None => s.push_str(&format!(
                "原观察保持不变，期满日仍为 {}。",
                format_date(before.until)
            )),
            None => s.push_str(&format!(
                "原观察的要求已涵盖本次结果，保持不变，期满日仍为 {}。",
                format_date(before.until)
            )),
            Some(until) => {
                if plan.measure == before.measure {
                    s.push_str("原观察按本次结果调整");
                } else {
                    s.push_str(&format!("原观察改为{}", plan.measure.label_zh()));
                }
                s.push_str(&if until > before.until {
                    format!(
                        "，期满日由 {} 延至 {}。",
                        format_date(before.until),
                        format_date(until)
                    )
                } else if until < before.until {
                    format!(
                        "，期满日由 {} 改为 {}。",
                        format_date(before.until),
                        format_date(until)
                    )
                } else {
                    format!("，期满日仍为 {}。", format_date(until))
                });
            }
        }
        Some(s)
    }
}

/// Puts a person under one observation at a time: the one way a plan (an arrival's, or the
/// strictest of a person's contact links) reaches the `observation` table, for
/// [`record_arrival`] and `contacts::record_contact`, in the caller's transaction. What
/// becomes of an open observation is the core rule [`observation::change`]; an arrival's plan
/// that upgrades one also becomes the one it follows (`arrival_id`).
pub(crate) async fn observe(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewObservation<'_>,
) -> Result<Observed, StoreError> {
    let plan = new.plan;
    let open = open_observation_of(tx, new.person.id).await?;
    let change = observation::change(
        open.as_ref().map(OpenObservation::as_open),
        plan.measure,
        Weight::of_plan(plan),
        new.arrival_id.is_some(),
    );
    let obs = match (change, open) {
        (Change::Unobserved, _) => return Ok(Observed::Unobserved),
        (Change::Open, _) | (_, None) => {
            let id = open_observation(tx, new).await?;
            return Ok(Observed::Opened {
                id,
                until: plan.until,
            });
        }
        (Change::Keep, Some(obs)) => return Ok(Observed::Kept(obs)),
        (Change::Follow | Change::Upgrade, Some(obs)) => obs,
    };
    let links_own_it = change == Change::Follow;
    let start = if links_own_it {
        plan.start
    } else {
        obs.start.min(plan.start)
    };
    // A stricter plan never shortens what the person already owes: past the plan's last day
    // they stay, under their observation's last measure, until its own last day.
    let mut stages = plan.stages.clone();
    let mut until = plan.until;
    if !links_own_it && obs.until > plan.until {
        let from = plan.until + time::Duration::days(1);
        stages.push(StagePlan {
            measure: obs.last_measure,
            days: u16::try_from((obs.until - from).whole_days() + 1).unwrap_or(u16::MAX),
            start: from,
            until: obs.until,
        });
        until = obs.until;
    }
    sqlx::query(
        "UPDATE observation SET measure = $1, stages_json = $2, place = $3, start_on = $4, until_on = $5, \
         check_ins_per_day = $6, policy_version_id = $7, purge_on = $8, arrival_id = $9 WHERE id = $10",
    )
    .bind(plan.measure.as_str())
    .bind(serde_json::to_string(&stages).unwrap_or_else(|_| "[]".into()))
    .bind(observation_place(plan.measure, new.person))
    .bind(format_date(start))
    .bind(format_date(until))
    .bind(i64::from(plan.check_ins_per_day))
    .bind(new.policy_version_id)
    .bind(new.purge_on)
    .bind(new.arrival_id.or(obs.arrival_id))
    .bind(obs.id)
    .execute(&mut **tx)
    .await?;
    Ok(Observed::Changed { before: obs, until })
}

/// The registered person with this ID number, when the caller may see them.
async fn find_by_id_number(
    db: &Db,
    scope: &Scope,
    kind: Option<&str>,
    number: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let Some(number) = number.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    // Parse as the registry does, so 5334…x and 5334…X are the same person.
    let kind = kind
        .and_then(|k| k.parse::<linli_core::DocumentKind>().ok())
        .unwrap_or(linli_core::DocumentKind::ResidentId);
    let Ok(document) = linli_core::IdDocument::parse(kind, number, today()) else {
        return Ok(None);
    };
    let Some((id, path)) = crate::registry::registered_with(db, &document).await? else {
        return Ok(None);
    };
    let path = JurisdictionPath::parse(&path).map_err(internal)?;
    if !scope.can_read(&path) {
        // Registered elsewhere: the caller may not see it, and registering again would
        // conflict; say so without naming the record.
        return Err(StoreError::Conflict {
            field: "id_number".into(),
            message: "该证件号码已在其他辖区登记，请联系其所在社区".into(),
        });
    }
    Ok(Some(id))
}

async fn raise_alert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    person: &crate::registry::Person,
    observation_id: Option<i64>,
    arrival_id: Option<i64>,
    detail: &str,
    now: i64,
) -> Result<i64, StoreError> {
    raise_alert_at(
        tx,
        kind,
        person.id,
        &person.node_path,
        observation_id,
        arrival_id,
        detail,
        now,
    )
    .await
}

/// Raises an alert about `person_id` under `node_path` (the person's place, or a gate's node
/// for a fever at a gate), so whoever works that node sees it among its alerts.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn raise_alert_at(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    person_id: i64,
    node_path: &JurisdictionPath,
    observation_id: Option<i64>,
    arrival_id: Option<i64>,
    detail: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO alert (kind, person_id, observation_id, arrival_id, district_id, node_path, raised_at, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(kind)
    .bind(person_id)
    .bind(observation_id)
    .bind(arrival_id)
    .bind(node_path.root_id())
    .bind(node_path.as_str())
    .bind(now)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

// ---------------------------------------------------------------------------------------------
// Observation: check-ins and alerts
// ---------------------------------------------------------------------------------------------

/// A check-in as entered: when (may be in the past, entered late), temperature, symptoms.
#[derive(Debug, Clone)]
pub struct CheckinInput {
    pub at: i64,
    pub temperature: Option<Temperature>,
    pub symptoms: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckinRecorded {
    pub id: i64,
    pub observation_id: i64,
    /// A fever alert raised by this check-in (37.3 °C or more, or a symptom).
    pub alert_id: Option<i64>,
}

/// Symptoms that mean "none" are not symptoms (the same words the policy ignores).
fn real_symptoms(symptoms: &[String]) -> Vec<String> {
    symptoms
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && !matches!(s.as_str(), "无" | "无症状" | "none" | "没有"))
        .collect()
}

/// Records a check-in on an open observation within the caller's jurisdiction. `at` must fall
/// inside the observation's period (China dates, both ends included) and not in the future; a
/// fever or a symptom raises a fever alert. The check-in and its alert are one transaction.
/// (The web app writes through [`CheckinWriter`], which applies the same rules in batches.)
pub async fn add_checkin(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
    input: &CheckinInput,
    now: i64,
) -> Result<CheckinRecorded, StoreError> {
    let job = CheckinJob {
        scope: scope.clone(),
        observation_id,
        input: input.clone(),
        now,
        channel: linli_core::epidemic::observation::CheckinChannel::Api,
    };
    let mut conn = db.pool().acquire().await?;
    checkins::write_batch(db, &mut conn, &[&job])
        .await?
        .pop()
        .unwrap_or_else(|| Err(StoreError::Internal("check-in not written".into())))
}

/// An alert to handle.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub person_id: i64,
    pub person_name: String,
    pub observation_id: Option<i64>,
    pub arrival_id: Option<i64>,
    pub node_path: String,
    pub raised_at: i64,
    pub detail: String,
}

/// Open (unhandled) alerts under `node_id` (its subtree) within the caller's scope, newest
/// first; `kind` narrows to `fever` or `overdue`. A node outside the scope is `NotFound`.
pub async fn open_alerts(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    kind: Option<&str>,
) -> Result<Vec<Alert>, StoreError> {
    alerts::check_kind(kind)?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let mut params = Params::new();
    let lo = params.text(lo);
    let hi = params.text(hi);
    let kind_filter = match kind {
        Some(k) => format!(" AND a.kind = {}", params.text(k)),
        None => String::new(),
    };
    let open = alerts::open_at("a.", || {
        params.int(linli_core::kernel::clock::day_bounds(today()).1)
    });
    let sql = format!(
        "SELECT a.id, a.kind, a.person_id, p.name, a.observation_id, a.arrival_id, a.node_path, a.raised_at, a.detail \
         FROM alert a JOIN person p ON p.id = a.person_id \
         WHERE {open} AND a.node_path >= {lo} AND a.node_path < {hi}{kind_filter} \
         ORDER BY a.raised_at DESC, a.id DESC LIMIT 500"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in &rows {
        let path: String = r.try_get(6)?;
        // The node is in scope, so its subtree is; checked again per row all the same (fail
        // closed if a row's path is odd).
        let readable = JurisdictionPath::parse(&path)
            .map(|p| scope.can_read(&p))
            .unwrap_or(false);
        if !readable {
            continue;
        }
        out.push(Alert {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            person_id: r.try_get(2)?,
            person_name: r.try_get(3)?,
            observation_id: r.try_get(4)?,
            arrival_id: r.try_get(5)?,
            node_path: path,
            raised_at: r.try_get(7)?,
            detail: r.try_get(8)?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Releases
// ---------------------------------------------------------------------------------------------

/// An observation whose last day has come: to be released.
#[derive(Debug, Clone, Serialize)]
pub struct DueRelease {
    pub observation_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub measure: String,
    pub place: Option<String>,
    pub start_on: String,
    pub until_on: String,
}

/// Open observations under `node_id` (in scope) whose last day is `on` or earlier — the ones a
/// worker releases today, overdue ones included — oldest first.
pub async fn releases_due(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    on: time::Date,
) -> Result<Vec<DueRelease>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let open = observations::open_on("o.", || "$1".to_owned());
    let rows = sqlx::query(&format!(
        "SELECT o.id, o.person_id, p.name, o.measure, o.place, o.start_on, o.until_on, o.node_path \
         FROM observation o JOIN person p ON p.id = o.person_id \
         WHERE {open} AND o.until_on <= $1 AND o.node_path >= $2 AND o.node_path < $3 \
         ORDER BY o.until_on, o.id LIMIT 1000",
    ))
    .bind(format_date(on))
    .bind(&lo)
    .bind(&hi)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let readable = JurisdictionPath::parse(&r.try_get::<String, _>(7)?)
            .map(|p| scope.can_read(&p))
            .unwrap_or(false);
        if !readable {
            continue;
        }
        out.push(DueRelease {
            observation_id: r.try_get(0)?,
            person_id: r.try_get(1)?,
            person_name: r.try_get(2)?,
            measure: r.try_get(3)?,
            place: r.try_get(4)?,
            start_on: r.try_get(5)?,
            until_on: r.try_get(6)?,
        });
    }
    Ok(out)
}

/// Releases observations in one batch on `on`: every id must be an open observation in the
/// caller's writable scope whose last day has come, or nothing is released (the first bad id is
/// named). Sets the observation's purge date (its check-ins go with it): retention counts from
/// the release. Audited as one entry.
pub async fn release(
    db: &Db,
    scope: &Scope,
    ids: &[i64],
    on: time::Date,
    now: i64,
) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Err(StoreError::invalid(
            "observation_ids",
            "请选择要解除的医学观察",
        ));
    }
    if on > today() {
        return Err(StoreError::invalid("on", "解除日期不能晚于今天"));
    }
    let purge_on = format_date(on + time::Duration::days(RETENTION_DAYS));
    let mut tx = db.begin_write().await?;
    for id in ids {
        let row =
            sqlx::query("SELECT node_path, until_on, released_on FROM observation WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
        if !scope.can_read(&path) {
            return Err(StoreError::NotFound);
        }
        if !scope.can_write_records(&path) {
            return Err(StoreError::Forbidden("您的角色不能解除医学观察".into()));
        }
        if row.try_get::<Option<String>, _>(2)?.is_some() {
            return Err(StoreError::invalid(
                "observation_ids",
                format!("医学观察 {id} 已解除"),
            ));
        }
        let until = parse_date("until_on", &row.try_get::<String, _>(1)?).map_err(internal)?;
        if until > on {
            return Err(StoreError::invalid(
                "observation_ids",
                format!(
                    "医学观察 {id} 要到 {} 才期满，不能在 {} 解除",
                    format_date(until),
                    format_date(on)
                ),
            ));
        }
        sqlx::query(
            "UPDATE observation SET released_on = $1, released_by = $2, purge_on = $3 WHERE id = $4",
        )
        .bind(format_date(on))
        .bind(scope.actor())
        .bind(&purge_on)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // Released from quarantine, out of the room: the bed is free from tomorrow.
        sites::check_out_released(&mut tx, *id, on, scope.actor()).await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "observation.release", "observation")
            .detail(json!({"ids": ids, "on": format_date(on)})),
        now,
    )
    .await?;
    Ok(ids.len())
}
