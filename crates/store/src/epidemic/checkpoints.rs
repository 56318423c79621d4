//! Checkpoints (卡点) at compound gates, passes for people and vehicles, scans logged at the
//! gate with the guard's verdict, and who the records keep in (trips read it too). The rules are pure
//! (`linli_core::epidemic::checkpoint`); this module keeps the records within the caller's scope.

use linli_core::epidemic::checkpoint::{judge_scan, Direction, ScanOutcome, VehiclePlate};
use linli_core::epidemic::checkpoint::{refuse_if_restricted, Restriction};
use linli_core::epidemic::contact::{mask_name, CaseKind};
use linli_core::epidemic::policy::{Measure, StagePlan, Temperature};
use linli_core::kernel::clock::{date_of, day_bounds, format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::epidemic::RETENTION_DAYS;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::{registry, scoped_row, tree, under_node, Db, StoreError};

fn path_of(raw: &str) -> Result<JurisdictionPath, StoreError> {
    JurisdictionPath::parse(raw).map_err(|e| StoreError::Internal(e.to_string()))
}

fn date_col(field: &str, raw: &str) -> Result<Date, StoreError> {
    parse_date(field, raw).map_err(|e| StoreError::Internal(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

#[derive(Debug, Clone, Serialize)]
pub struct Checkpoint {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub name: String,
}

const CHECKPOINT_COLUMNS: &str =
    "c.id, c.node_id, n.name, c.node_path, c.name FROM checkpoint c JOIN node n ON n.id = c.node_id";

fn checkpoint_of(r: &sqlx::any::AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        id: r.try_get(0)?,
        node_id: r.try_get(1)?,
        node_name: r.try_get(2)?,
        node_path: path_of(&r.try_get::<String, _>(3)?)?,
        name: r.try_get(4)?,
    })
}

/// Sets up a checkpoint at a node (a compound's gate, usually): staff and admins, within their
/// jurisdiction. Names are unique per node. Audited.
pub async fn create_checkpoint(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    name: &str,
    now: i64,
) -> Result<Checkpoint, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    if !scope.can_add_under(&node.path) {
        return Err(StoreError::Forbidden(
            "只有社区工作者和管理员可以设置卡点".into(),
        ));
    }
    if !node.is_open() {
        return Err(StoreError::invalid("node_id", "该辖区已撤销，不能设置卡点"));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(StoreError::invalid("name", "卡点名称应为 1–50 个字"));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO checkpoint (node_id, district_id, node_path, name, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(name)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "checkpoint.create", "checkpoint")
            .node_path(&node.path)
            .detail(json!({"name": name})),
        now,
        |e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                field: "name".into(),
                message: format!("「{}」已有名为「{name}」的卡点", node.name),
            },
            other => StoreError::Db(other),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Checkpoint {
        id,
        node_id: node.id,
        node_name: node.name,
        node_path: node.path,
        name: name.to_owned(),
    })
}

/// One checkpoint in the caller's jurisdiction (404 otherwise).
pub async fn checkpoint(db: &Db, scope: &Scope, id: i64) -> Result<Checkpoint, StoreError> {
    let select = format!("SELECT {CHECKPOINT_COLUMNS}");
    let row = scoped_row(db, scope, &select, "c.id", "c.node_path", id).await?;
    checkpoint_of(&row)
}

/// The open checkpoints under a node, by name.
pub async fn checkpoints(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Vec<Checkpoint>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let under = under_node(&node.path, scope, "c.node_path", &mut params);
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT {CHECKPOINT_COLUMNS} WHERE {under} AND c.closed_at IS NULL \
             ORDER BY n.name, c.name, c.id"
        )))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(checkpoint_of).collect()
}

// ---------------------------------------------------------------------------------------------
// Passes

/// Who a pass is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Person(i64),
    Vehicle(VehiclePlate),
}

#[derive(Debug, Clone)]
pub struct PassInput {
    pub node_id: i64,
    pub holder: Holder,
    pub purpose: Option<String>,
    pub valid_from: Date,
    pub valid_to: Date,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub code: String,
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub plate: Option<String>,
    pub purpose: Option<String>,
    pub valid_from: String,
    pub valid_to: String,
    pub revoked: bool,
}

const PASS_COLUMNS: &str =
    "g.id, g.node_id, n.name, g.code, g.person_id, p.name, g.plate, g.purpose, \
     g.valid_from, g.valid_to, g.revoked_at, g.node_path \
     FROM gate_pass g JOIN node n ON n.id = g.node_id LEFT JOIN person p ON p.id = g.person_id";

fn pass_of(r: &sqlx::any::AnyRow) -> Result<Pass, StoreError> {
    Ok(Pass {
        id: r.try_get(0)?,
        node_id: r.try_get(1)?,
        node_name: r.try_get(2)?,
        code: r.try_get(3)?,
        person_id: r.try_get(4)?,
        person_name: r.try_get(5)?,
        plate: r.try_get(6)?,
        purpose: r.try_get(7)?,
        valid_from: r.try_get(8)?,
        valid_to: r.try_get(9)?,
        revoked: r.try_get::<Option<i64>, _>(10)?.is_some(),
    })
}

/// Issues a pass for a person in the caller's jurisdiction or for a vehicle, valid at every
/// checkpoint under `node_id`. Staff and grid workers within their jurisdiction. Audited.
pub async fn issue_pass(
    db: &Db,
    scope: &Scope,
    input: &PassInput,
    now: i64,
) -> Result<Pass, StoreError> {
    let node = tree::get(db, scope, input.node_id).await?;
    if !scope.can_write_records(&node.path) {
        return Err(StoreError::Forbidden("您的角色不能发放通行证".into()));
    }
    linli_core::epidemic::checkpoint::check_validity(input.valid_from, input.valid_to)?;
    let (person_id, plate) = match &input.holder {
        Holder::Person(id) => {
            let id = registry::get(db, scope, *id).await?.id;
            // No pass for someone the records keep in: the refusal names the measure.
            refuse_if_restricted("发放通行证", &restrictions(db, id, date_of(now)).await?)?;
            (Some(id), None)
        }
        Holder::Vehicle(p) => (None, Some(p.as_str().to_owned())),
    };
    let purpose = input
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if purpose.is_some_and(|p| p.chars().count() > 100) {
        return Err(StoreError::invalid("purpose", "事由不能超过 100 个字"));
    }
    let mut tx = db.begin_write().await?;
    let mut inserted = None;
    // A code clash is astronomically rare; retry a couple of times rather than fail.
    for _ in 0..3 {
        let code = crate::infra::secret::short_code(linli_core::kernel::token::PASS_CODE);
        let r = sqlx::query(
            "INSERT INTO gate_pass (node_id, district_id, node_path, code, person_id, plate, purpose, \
             valid_from, valid_to, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(&code)
        .bind(person_id)
        .bind(plate.clone())
        .bind(purpose)
        .bind(format_date(input.valid_from))
        .bind(format_date(input.valid_to))
        .bind(now)
        .bind(scope.actor())
        .fetch_one(&mut *tx)
        .await;
        match r {
            Ok(row) => {
                inserted = Some((row.try_get::<i64, _>(0)?, code));
                break;
            }
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let (id, code) = inserted.ok_or_else(|| StoreError::Internal("通行证编码重复".into()))?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "pass.issue", "gate_pass")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({
                "person_id": person_id,
                "plate": plate,
                "valid_from": format_date(input.valid_from),
                "valid_to": format_date(input.valid_to),
            })),
        now,
    )
    .await?;
    pass(db, scope, id).await.map(|p| Pass { code, ..p })
}

/// One pass in the caller's jurisdiction.
pub async fn pass(db: &Db, scope: &Scope, id: i64) -> Result<Pass, StoreError> {
    let select = format!("SELECT {PASS_COLUMNS}");
    let row = scoped_row(db, scope, &select, "g.id", "g.node_path", id).await?;
    pass_of(&row)
}

/// The passes issued under a node, newest first (at most 500).
pub async fn passes(db: &Db, scope: &Scope, node_id: i64) -> Result<Vec<Pass>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let under = under_node(&node.path, scope, "g.node_path", &mut params);
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT {PASS_COLUMNS} WHERE {under} ORDER BY g.id DESC LIMIT 500"
        )))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(pass_of).collect()
}

/// Revokes a pass at once (the gate refuses it from the next scan). Audited.
pub async fn revoke_pass(db: &Db, scope: &Scope, id: i64, now: i64) -> Result<(), StoreError> {
    let select = "SELECT node_path, revoked_at FROM gate_pass";
    let row = scoped_row(db, scope, select, "id", "node_path", id).await?;
    let path = path_of(&row.try_get::<String, _>(0)?)?;
    if !scope.can_write_records(&path) {
        return Err(StoreError::Forbidden("您的角色不能收回通行证".into()));
    }
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE gate_pass SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict {
            field: "state".into(),
            message: "该通行证已收回".into(),
        });
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "pass.revoke", "gate_pass")
            .entity_id(id)
            .node_path(&path),
        now,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scans

/// Who passed the gate, as the guard identified them.
#[derive(Debug, Clone)]
pub enum Passer {
    /// The code on a pass card (normalised by `checkpoint::parse_pass_code`).
    PassCode(String),
    Plate(VehiclePlate),
    Person(i64),
}

#[derive(Debug, Clone)]
pub struct ScanInput {
    pub direction: Direction,
    pub passer: Passer,
    pub temperature: Option<Temperature>,
    /// When (ms); now when absent. Not in the future.
    pub at: Option<i64>,
}

/// What the epidemic records say keeps a person in on `day`: an open observation whose stage
/// that day is a quarantine (past its last day and not yet released, its last stage: only a
/// release ends it), a case, a close contact whose plan has not ended. Callers have checked
/// the person against the caller's scope (or read only the verdict, never the person).
pub(crate) async fn restrictions(
    db: &Db,
    person_id: i64,
    day: Date,
) -> Result<Vec<Restriction>, StoreError> {
    let mut out = Vec::new();
    let rows = sqlx::query(
        "SELECT measure, stages_json, until_on FROM observation WHERE person_id = $1 AND released_on IS NULL",
    )
    .bind(person_id)
    .fetch_all(db.pool())
    .await?;
    for r in &rows {
        let until = date_col("until_on", &r.try_get::<String, _>(2)?)?;
        let stages: Vec<StagePlan> =
            serde_json::from_str(&r.try_get::<String, _>(1)?).unwrap_or_default();
        let measure = stages
            .iter()
            .find(|s| s.start <= day && day <= s.until)
            .or_else(|| stages.last().filter(|s| s.until < day))
            .map(|s| s.measure);
        // Stages that do not read: the headline measure, failing closed.
        let measure = match measure {
            Some(m) => m,
            None if stages.is_empty() => r
                .try_get::<String, _>(0)?
                .parse::<Measure>()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            None => continue, // before its first day
        };
        out.extend(Restriction::of_observation(measure, until));
    }
    let case = sqlx::query(
        "SELECT kind, diagnosed_on FROM epi_case WHERE person_id = $1 AND diagnosed_on <= $2",
    )
    .bind(person_id)
    .bind(format_date(day))
    .fetch_optional(db.pool())
    .await?;
    if let Some(r) = case {
        out.push(Restriction::Case {
            case: r
                .try_get::<String, _>(0)?
                .parse::<CaseKind>()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            since: date_col("diagnosed_on", &r.try_get::<String, _>(1)?)?,
        });
    }
    let contact: Option<String> = sqlx::query_scalar(
        "SELECT MAX(until_on) FROM contact_link WHERE person_id = $1 AND kind = 'close_contact' \
         AND until_on IS NOT NULL AND until_on >= $2",
    )
    .bind(person_id)
    .bind(format_date(day))
    .fetch_one(db.pool())
    .await?;
    if let Some(until) = contact {
        out.push(Restriction::CloseContact {
            until: date_col("until_on", &until)?,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanRecorded {
    pub id: i64,
    pub outcome: ScanOutcome,
    /// Why not, in Chinese (the measure and its last day for `under_quarantine`).
    pub message: Option<String>,
    /// The fever alert raised at the gate's node.
    pub alert_id: Option<i64>,
    pub pass_id: Option<i64>,
    /// Why a pass did not count (expired, revoked, for another place), when one was shown.
    pub reason: Option<String>,
    /// The person's name masked (张**) or the plate: the guard needs no more for the verdict.
    pub holder: String,
}

struct PassRow {
    id: i64,
    path: JurisdictionPath,
    person_id: Option<i64>,
    person_name: Option<String>,
    plate: Option<String>,
    valid_from: Date,
    valid_to: Date,
    revoked: bool,
}

async fn pass_rows(db: &Db, column: &str, value: Param<'_>) -> Result<Vec<PassRow>, StoreError> {
    let q = format!(
        "SELECT g.id, g.node_path, g.person_id, p.name, g.plate, g.valid_from, g.valid_to, g.revoked_at \
         FROM gate_pass g LEFT JOIN person p ON p.id = g.person_id WHERE g.{column} = $1 ORDER BY g.id DESC LIMIT 50"
    );
    let q = sqlx::query(&q);
    let q = match value {
        Param::Text(s) => q.bind(s.to_owned()),
        Param::Int(i) => q.bind(i),
    };
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(PassRow {
                id: r.try_get(0)?,
                path: path_of(&r.try_get::<String, _>(1)?)?,
                person_id: r.try_get(2)?,
                person_name: r.try_get(3)?,
                plate: r.try_get(4)?,
                valid_from: date_col("valid_from", &r.try_get::<String, _>(5)?)?,
                valid_to: date_col("valid_to", &r.try_get::<String, _>(6)?)?,
                revoked: r.try_get::<Option<i64>, _>(7)?.is_some(),
            })
        })
        .collect()
}

enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

impl PassRow {
    /// Why this pass does not let its holder in at `at_path` on `day`, or `None` if it does.
    fn refusal(&self, at_path: &JurisdictionPath, day: Date) -> Option<String> {
        if self.revoked {
            Some("通行证已收回".into())
        } else if !at_path.is_within(&self.path) {
            Some("通行证不适用于此卡点".into())
        } else if day < self.valid_from {
            Some(format!("通行证 {} 起生效", format_date(self.valid_from)))
        } else if day > self.valid_to {
            Some(format!("通行证已于 {} 过期", format_date(self.valid_to)))
        } else {
            None
        }
    }
}

/// Logs a passage through a checkpoint with the gate's verdict: a fever stops anyone; coming in
/// needs a pass valid here that day (looked up by its code, the plate or the person); leaving
/// is allowed. An unknown pass code is refused as a typo (nothing logged). Grid workers and
/// staff on duty within their jurisdiction. The scan is kept until its purge date.
pub async fn record_scan(
    db: &Db,
    scope: &Scope,
    checkpoint_id: i64,
    input: &ScanInput,
    now: i64,
) -> Result<ScanRecorded, StoreError> {
    let cp = checkpoint(db, scope, checkpoint_id).await?;
    if !scope.can_write_records(&cp.node_path) {
        return Err(StoreError::Forbidden("您的角色不能登记卡点通行".into()));
    }
    let at = input.at.unwrap_or(now);
    if at > now + 60_000 {
        return Err(StoreError::invalid("at", "通行时间不能晚于现在"));
    }
    let day = date_of(at);

    // Whose status decides the verdict: the pass's holder even when the pass is of somewhere
    // else (the guard then learns the verdict, never the person).
    let mut status_of: Option<i64> = None;
    let (candidates, person_id, plate, mut holder) = match &input.passer {
        Passer::PassCode(code) => {
            let rows = pass_rows(db, "code", Param::Text(code)).await?;
            let Some(first) = rows.first() else {
                return Err(StoreError::invalid(
                    "pass_code",
                    "没有这个通行证编码，请核对",
                ));
            };
            status_of = first.person_id;
            // A pass of somewhere outside the guard's jurisdiction names nobody: neither to
            // the guard nor, through the stored scan, to whoever reads this gate's log.
            if !scope.can_read(&first.path) {
                (rows, None, None, "辖区外通行证".to_owned())
            } else {
                let (person, plate) = (first.person_id, first.plate.clone());
                let holder = first
                    .person_name
                    .as_deref()
                    .map(mask_name)
                    .or_else(|| plate.clone())
                    .unwrap_or_default();
                (rows, person, plate, holder)
            }
        }
        Passer::Plate(p) => (
            pass_rows(db, "plate", Param::Text(p.as_str())).await?,
            None,
            Some(p.as_str().to_owned()),
            p.as_str().to_owned(),
        ),
        Passer::Person(id) => {
            let person = registry::get(db, scope, *id).await?;
            status_of = Some(person.id);
            (
                pass_rows(db, "person_id", Param::Int(person.id)).await?,
                Some(person.id),
                None,
                mask_name(&person.name),
            )
        }
    };
    // The first pass that counts here today; else the newest one shown, with why it does not.
    let valid = candidates
        .iter()
        .find(|p| p.refusal(&cp.node_path, day).is_none());
    let (pass_id, reason) = match (valid, candidates.first()) {
        (Some(p), _) => (Some(p.id), None),
        (None, Some(p)) => (Some(p.id), p.refusal(&cp.node_path, day)),
        (None, None) => (None, Some("没有通行证".into())),
    };
    // A plate's valid pass may name its driver; only when the guard may see that person.
    let person_id = person_id.or_else(|| {
        valid
            .filter(|p| scope.can_read(&p.path))
            .and_then(|p| p.person_id)
    });
    if holder.is_empty() {
        holder = "未登记".into();
    }
    let status_of = status_of.or(person_id);
    let restricted = match status_of {
        Some(id) => restrictions(db, id, day).await?,
        None => Vec::new(),
    };
    let verdict = judge_scan(
        input.direction,
        input.temperature,
        valid.is_some(),
        &restricted,
    );
    let outcome = verdict.outcome;
    let purge_on = format_date(day + time::Duration::days(RETENTION_DAYS));
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO gate_scan (checkpoint_id, district_id, node_path, at, direction, person_id, plate, \
         pass_id, temperature_tenths, outcome, recorded_by, purge_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(cp.id)
    .bind(cp.node_path.root_id())
    .bind(cp.node_path.as_str())
    .bind(at)
    .bind(input.direction.as_str())
    .bind(person_id)
    .bind(plate)
    .bind(pass_id)
    .bind(input.temperature.map(|t| i64::from(t.tenths())))
    .bind(outcome.as_str())
    .bind(scope.actor())
    .bind(purge_on)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    // A fever at the gate is followed up like a check-in's, by whoever works the gate's node.
    // A passer nobody can name (a plate alone) has no one to follow: the scan says fever.
    let alert_id = match (verdict.fever_alert, status_of, input.temperature) {
        (true, Some(person), Some(t)) => Some(
            crate::epidemic::raise_alert_at(
                &mut tx,
                "fever",
                person,
                &cp.node_path,
                None,
                None,
                &format!(
                    "卡点「{}」{}测温 {:.1} ℃",
                    cp.name,
                    input.direction.label_zh(),
                    t.celsius()
                ),
                now,
            )
            .await?,
        ),
        _ => None,
    };
    tx.commit().await?;
    Ok(ScanRecorded {
        id,
        message: verdict.message,
        alert_id,
        outcome,
        pass_id,
        reason: if outcome == ScanOutcome::Allowed {
            None
        } else {
            reason
        },
        holder,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub id: i64,
    pub at: i64,
    pub direction: String,
    pub holder: String,
    pub temperature: Option<String>,
    pub outcome: String,
    pub recorded_by: String,
}

/// A checkpoint's scans on one China date, newest first (at most 500), and the counts of the
/// whole day per outcome and direction.
pub async fn scans(
    db: &Db,
    scope: &Scope,
    checkpoint_id: i64,
    on: Date,
) -> Result<(Vec<Scan>, ScanCounts), StoreError> {
    let cp = checkpoint(db, scope, checkpoint_id).await?;
    let (start, end) = day_bounds(on);
    let rows = sqlx::query(
        "SELECT s.id, s.at, s.direction, p.name, s.plate, s.temperature_tenths, s.outcome, s.recorded_by, \
         s.anonymised_at FROM gate_scan s LEFT JOIN person p ON p.id = s.person_id \
         WHERE s.checkpoint_id = $1 AND s.at >= $2 AND s.at < $3 ORDER BY s.at DESC, s.id DESC LIMIT 500",
    )
    .bind(cp.id)
    .bind(start)
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let list = rows
        .iter()
        .map(|r| {
            let name: Option<String> = r.try_get(3)?;
            let plate: Option<String> = r.try_get(4)?;
            let tenths: Option<i64> = r.try_get(5)?;
            let anonymised = r.try_get::<Option<i64>, _>(8)?.is_some();
            Ok(Scan {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                direction: r.try_get(2)?,
                holder: if anonymised {
                    crate::epidemic::retention::ANONYMISED.to_owned()
                } else {
                    // A guard reads this log: names masked, as in the verdict.
                    name.as_deref()
                        .map(mask_name)
                        .or(plate)
                        .unwrap_or_else(|| "未登记".into())
                },
                temperature: tenths.map(|t| format!("{:.1}", t as f64 / 10.0)),
                outcome: r.try_get(6)?,
                recorded_by: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let counted = sqlx::query(
        "SELECT direction, outcome, COUNT(*) FROM gate_scan WHERE checkpoint_id = $1 AND at >= $2 \
         AND at < $3 GROUP BY direction, outcome",
    )
    .bind(cp.id)
    .bind(start)
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let mut counts = ScanCounts::default();
    for r in &counted {
        let direction: String = r.try_get(0)?;
        let outcome: String = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        match direction.as_str() {
            "in" => counts.entered += n,
            _ => counts.left += n,
        }
        match outcome.as_str() {
            "no_pass" => counts.no_pass += n,
            "fever" => counts.fever += n,
            "under_quarantine" => counts.under_quarantine += n,
            _ => {}
        }
    }
    Ok((list, counts))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanCounts {
    pub entered: i64,
    pub left: i64,
    pub no_pass: i64,
    pub fever: i64,
    pub under_quarantine: i64,
}
