//! Trips (外出登记): single trips, organised group trips and the daily log of local and field
//! work. The rules are pure (`linli_core::epidemic::trips`); this module keeps the records
//! within the caller's scope, checks who the epidemic records keep in and what the policy in
//! force suspends.

use linli_core::epidemic::checkpoint::refuse_if_restricted;
use linli_core::epidemic::policy::Temperature;
use linli_core::epidemic::trips::{
    check_allowed, check_no_clash, log_due, Away, GroupTripDraft, TripDraft, TripKind, TripLogDraft,
};
use linli_core::kernel::clock::{format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::{CoreError, JurisdictionPath, Scope};
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::epidemic::checkpoints::restrictions;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::infra::errors::{internal, unique_to};
use crate::{registry, scope_filter, tree, Db, StoreError};

/// One trip as lists and the API show it.
#[derive(Debug, Clone)]
pub struct Trip {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub kind: TripKind,
    pub destination: String,
    pub leave_on: Date,
    pub return_on: Option<Date>,
    pub health_certificate: bool,
    pub returned_on: Option<Date>,
    /// The organised trip it belongs to, if any.
    pub group_id: Option<i64>,
    /// Daily-log kinds: the entries so far, the last temperature, and whether today's is due.
    pub logs: i64,
    pub last_temperature: Option<Temperature>,
    pub log_due: bool,
    /// Where the person lived when the trip was registered (its scope and its alerts' node).
    pub node_path: JurisdictionPath,
}

impl Trip {
    /// The trip as its rules see it (to check a log entry against).
    pub fn draft(&self) -> TripDraft {
        TripDraft {
            kind: self.kind,
            destination: self.destination.clone(),
            leave_on: self.leave_on,
            return_on: self.return_on,
            health_certificate: self.health_certificate,
        }
    }
}

/// Which trips a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TripState {
    /// Not back yet.
    #[default]
    Out,
    /// Daily-log trips whose entry for the day is still missing.
    LogDue,
    Returned,
    All,
}

#[derive(Debug, Clone, Default)]
pub struct TripFilter {
    pub kind: Option<TripKind>,
    pub state: TripState,
    /// A name prefix.
    pub q: Option<String>,
}

/// One page of trips and how many match in all.
#[derive(Debug, Clone)]
pub struct TripPage {
    pub items: Vec<Trip>,
    pub total: i64,
}

/// The most rows one page (and one export) holds.
pub const MAX_PAGE: i64 = 5_000;

fn path_of(raw: &str) -> Result<JurisdictionPath, StoreError> {
    JurisdictionPath::parse(raw).map_err(internal)
}

fn date_col(field: &str, raw: &str) -> Result<Date, StoreError> {
    parse_date(field, raw).map_err(internal)
}

/// Refuses a caller who may read but not write the records at `path` (an official).
fn may_write(scope: &Scope, path: &JurisdictionPath) -> Result<(), StoreError> {
    if scope.can_write_records(path) {
        Ok(())
    } else {
        Err(StoreError::Forbidden("您的角色只能查看外出登记".into()))
    }
}

/// Refuses a kind the policy in force on the day of leaving suspends.
async fn check_policy(db: &Db, kind: TripKind, leave_on: Date) -> Result<(), StoreError> {
    let policy = crate::epidemic::policy_on(db, leave_on).await?;
    check_allowed(kind, policy.as_ref().map(|p| &p.policy))
        .map_err(|e| StoreError::Invalid(vec![e]))
}

/// Why the records refuse `trip` for the person for clashing with another of their trips, if
/// they do.
async fn clash(db: &Db, person_id: i64, trip: &TripDraft) -> Result<Option<CoreError>, StoreError> {
    Ok(check_no_clash(trip, &away(db, person_id, trip.leave_on).await?).err())
}

/// The person's trips not back before `from` (those that might still hold days from it on).
async fn away(db: &Db, person_id: i64, from: Date) -> Result<Vec<Away>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, leave_on, return_on, returned_on FROM trip \
         WHERE person_id = $1 AND (returned_on IS NULL OR returned_on > $2)",
    )
    .bind(person_id)
    .bind(format_date(from))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let opt = |i: usize, field: &str| -> Result<Option<Date>, StoreError> {
                r.try_get::<Option<String>, _>(i)?
                    .map(|d| date_col(field, &d))
                    .transpose()
            };
            Ok(Away {
                kind: TripKind::parse(&r.try_get::<String, _>(0)?).map_err(internal)?,
                leave_on: date_col("leave_on", &r.try_get::<String, _>(1)?)?,
                return_on: opt(2, "return_on")?,
                returned_on: opt(3, "returned_on")?,
            })
        })
        .collect()
}

/// Inserts one person's trip inside a transaction (no audit: the caller records one entry).
async fn insert_trip(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &Scope,
    person_id: i64,
    path: &JurisdictionPath,
    trip: &TripDraft,
    group_id: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO trip (person_id, district_id, node_path, kind, destination, leave_on, return_on, \
         health_certificate, created_at, created_by, group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(person_id)
    .bind(path.root_id())
    .bind(path.as_str())
    .bind(trip.kind.as_str())
    .bind(&trip.destination)
    .bind(format_date(trip.leave_on))
    .bind(trip.return_on.map(format_date))
    .bind(i64::from(trip.health_certificate))
    .bind(now)
    .bind(scope.actor())
    .bind(group_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Logs an outgoing trip of a person in the caller's jurisdiction: refused for someone the
/// records keep in, or of a kind the policy in force suspends. Audited.
pub async fn add_trip(
    db: &Db,
    scope: &Scope,
    person_id: i64,
    trip: &TripDraft,
    now: i64,
) -> Result<i64, StoreError> {
    let person = registry::get(db, scope, person_id).await?;
    may_write(scope, &person.node_path)?;
    check_policy(db, trip.kind, trip.leave_on).await?;
    refuse_if_restricted(
        "登记外出",
        &restrictions(db, person.id, trip.leave_on).await?,
    )?;
    if let Some(e) = clash(db, person.id, trip).await? {
        return Err(StoreError::Invalid(vec![e]));
    }
    let mut tx = db.begin_write().await?;
    let id = insert_trip(
        &mut tx,
        scope,
        person.id,
        &person.node_path,
        trip,
        None,
        now,
    )
    .await?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "trip.create", "trip")
            .entity_id(id)
            .node_path(&person.node_path)
            .detail(json!({"person_id": person.id, "kind": trip.kind.as_str()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// An organised trip as stored: the group and each person's own trip.
#[derive(Debug, Clone)]
pub struct GroupTripRecorded {
    pub id: i64,
    pub trip_ids: Vec<i64>,
}

/// Registers organised transport from `node_id` for a list of persons: each must live in that
/// node and be free to leave; any refusal names the person (by position and name) and nothing
/// is stored. Audited once for the group.
pub async fn add_group_trip(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    group: &GroupTripDraft,
    now: i64,
) -> Result<GroupTripRecorded, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    may_write(scope, &node.path)?;
    check_policy(db, group.trip.kind, group.trip.leave_on).await?;
    let mut members = Vec::with_capacity(group.person_ids.len());
    let mut errors = Vec::new();
    for (i, &pid) in group.person_ids.iter().enumerate() {
        let field = format!("person_ids[{i}]");
        let person = match registry::get(db, scope, pid).await {
            Ok(p) if p.node_path.is_within(&node.path) => p,
            Ok(p) => {
                errors.push(CoreError::invalid(
                    field,
                    format!("{}不住在{}", p.name, node.name),
                ));
                continue;
            }
            Err(StoreError::NotFound) => {
                errors.push(CoreError::invalid(field, "此人不在您的辖区"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let refused = match refuse_if_restricted(
            "集体出行",
            &restrictions(db, person.id, group.trip.leave_on).await?,
        ) {
            Ok(()) => clash(db, person.id, &group.trip).await?,
            Err(e) => Some(e),
        };
        if let Some(e) = refused {
            errors.push(CoreError::invalid(
                field,
                format!("{}：{}", person.name, e.message),
            ));
            continue;
        }
        members.push(person);
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO trip_group (district_id, node_path, kind, destination, leave_on, return_on, \
         organiser, vehicle_plate, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(node.path.root_id())
    .bind(node.path.as_str())
    .bind(group.trip.kind.as_str())
    .bind(&group.trip.destination)
    .bind(format_date(group.trip.leave_on))
    .bind(group.trip.return_on.map(format_date))
    .bind(&group.organiser)
    .bind(group.vehicle_plate.as_ref().map(|p| p.as_str().to_owned()))
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    let mut trip_ids = Vec::with_capacity(members.len());
    for p in &members {
        trip_ids.push(
            insert_trip(
                &mut tx,
                scope,
                p.id,
                &p.node_path,
                &group.trip,
                Some(id),
                now,
            )
            .await?,
        );
    }
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "trip_group.create", "trip_group")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"kind": group.trip.kind.as_str(), "persons": trip_ids.len()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(GroupTripRecorded { id, trip_ids })
}

/// The WHERE clause of a trip list (`t` trips, `p` persons), as of `on`.
fn conditions(
    path: &JurisdictionPath,
    scope: &Scope,
    f: &TripFilter,
    on: Date,
    params: &mut Params,
) -> String {
    let (lo, hi) = path.subtree_bounds();
    let mut conds = vec![
        format!("t.node_path >= {}", params.text(lo)),
        format!("t.node_path < {}", params.text(hi)),
        scope_filter(scope, "t.node_path", params),
    ];
    if let Some(k) = f.kind {
        conds.push(format!("t.kind = {}", params.text(k.as_str())));
    }
    match f.state {
        TripState::Out => conds.push("t.returned_on IS NULL".to_owned()),
        TripState::Returned => conds.push("t.returned_on IS NOT NULL".to_owned()),
        TripState::All => {}
        TripState::LogDue => {
            // `log_due` in SQL: a daily-log kind, left, period running, not back, no entry today.
            let kinds: Vec<String> = TripKind::daily_log_codes()
                .into_iter()
                .map(|c| params.text(c))
                .collect();
            let day = format_date(on);
            let (d1, d2, d3) = (
                params.text(day.clone()),
                params.text(day.clone()),
                params.text(day),
            );
            conds.push(format!(
                "t.kind IN ({}) AND t.leave_on <= {d1} AND (t.return_on IS NULL OR t.return_on >= {d2}) \
                 AND t.returned_on IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM trip_log l WHERE l.trip_id = t.id AND l.log_on = {d3})",
                kinds.join(", ")
            ));
        }
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        conds.push(params.prefix_like("p.name", q));
    }
    conds.join(" AND ")
}

/// Trips under a node in the caller's scope: those not back yet first, then by leaving date,
/// newest first; `limit` rows from `offset`, with how many match in all.
pub async fn trips(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    filter: &TripFilter,
    on: Date,
    limit: i64,
    offset: i64,
) -> Result<TripPage, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let where_ = conditions(&node.path, scope, filter, on, &mut params);
    let total: i64 = params
        .bind(sqlx::query(&format!(
            "SELECT COUNT(*) FROM trip t JOIN person p ON p.id = t.person_id WHERE {where_}"
        )))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let mut params = Params::new();
    let where_ = conditions(&node.path, scope, filter, on, &mut params);
    let today = params.text(format_date(on));
    let lim = params.int(limit.clamp(1, MAX_PAGE));
    let off = params.int(offset.max(0));
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT {} \
             FROM trip t JOIN person p ON p.id = t.person_id WHERE {where_} \
             ORDER BY CASE WHEN t.returned_on IS NULL THEN 0 ELSE 1 END, t.leave_on DESC, t.id DESC \
             LIMIT {lim} OFFSET {off}",
            trip_columns(&today)
        )))
        .fetch_all(db.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| trip_of(r, on))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TripPage { items, total })
}

/// The columns [`trip_of`] reads (`t` trip, `p` person); `today` is the placeholder of the day
/// whose log entry makes a trip no longer due.
fn trip_columns(today: &str) -> String {
    format!(
        "t.id, t.person_id, p.name, t.kind, t.destination, t.leave_on, t.return_on, \
         t.health_certificate, t.returned_on, t.group_id, \
         (SELECT COUNT(*) FROM trip_log l WHERE l.trip_id = t.id), \
         (SELECT l.temperature_tenths FROM trip_log l WHERE l.trip_id = t.id ORDER BY l.log_on DESC LIMIT 1), \
         (SELECT COUNT(*) FROM trip_log l WHERE l.trip_id = t.id AND l.log_on = {today}), t.node_path"
    )
}

fn trip_of(r: &sqlx::any::AnyRow, on: Date) -> Result<Trip, StoreError> {
    let opt_date = |i: usize, field: &str| -> Result<Option<Date>, StoreError> {
        r.try_get::<Option<String>, _>(i)?
            .map(|s| date_col(field, &s))
            .transpose()
    };
    let kind: TripKind = TripKind::from_code(&r.try_get::<String, _>(3)?)
        .ok_or_else(|| internal("stored trip kind"))?;
    let leave_on = date_col("leave_on", &r.try_get::<String, _>(5)?)?;
    let return_on = opt_date(6, "return_on")?;
    let returned_on = opt_date(8, "returned_on")?;
    let logged_today = r.try_get::<i64, _>(12)? > 0;
    Ok(Trip {
        id: r.try_get(0)?,
        person_id: r.try_get(1)?,
        person_name: r.try_get(2)?,
        kind,
        destination: r.try_get(4)?,
        leave_on,
        return_on,
        health_certificate: r.try_get::<i64, _>(7)? != 0,
        returned_on,
        group_id: r.try_get(9)?,
        logs: r.try_get(10)?,
        last_temperature: r
            .try_get::<Option<i64>, _>(11)?
            .map(Temperature::from_tenths)
            .transpose()
            .map_err(internal)?,
        log_due: log_due(kind, leave_on, return_on, returned_on, logged_today, on),
        node_path: path_of(&r.try_get::<String, _>(13)?)?,
    })
}

/// One entry of a trip's daily log.
#[derive(Debug, Clone)]
pub struct TripLogEntry {
    pub id: i64,
    pub on: Date,
    pub temperature: Temperature,
    pub note: Option<String>,
    pub alert_id: Option<i64>,
    pub created_by: String,
}

/// A trip with its daily log (newest first) and, for an organised trip, its group.
#[derive(Debug, Clone)]
pub struct TripDetail {
    pub trip: Trip,
    pub logs: Vec<TripLogEntry>,
    pub group: Option<TripGroup>,
}

#[derive(Debug, Clone)]
pub struct TripGroup {
    pub id: i64,
    pub organiser: String,
    pub vehicle_plate: Option<String>,
    pub persons: i64,
}

/// One trip in the caller's scope, without its log.
async fn trip_row(db: &Db, scope: &Scope, id: i64, on: Date) -> Result<Trip, StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "t.node_path", &mut params);
    let today = params.text(format_date(on));
    let id_param = params.int(id);
    let row = params
        .bind(sqlx::query(&format!(
            "SELECT {} \
             FROM trip t JOIN person p ON p.id = t.person_id WHERE t.id = {id_param} AND {filter}",
            trip_columns(&today)
        )))
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    trip_of(&row, on)
}

/// One trip in the caller's scope, with its log.
pub async fn trip(db: &Db, scope: &Scope, id: i64, on: Date) -> Result<TripDetail, StoreError> {
    let trip = trip_row(db, scope, id, on).await?;
    let logs = sqlx::query(
        "SELECT id, log_on, temperature_tenths, note, alert_id, created_by FROM trip_log \
         WHERE trip_id = $1 ORDER BY log_on DESC",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(TripLogEntry {
            id: r.try_get(0)?,
            on: date_col("log_on", &r.try_get::<String, _>(1)?)?,
            temperature: Temperature::from_tenths(r.try_get(2)?).map_err(internal)?,
            note: r.try_get(3)?,
            alert_id: r.try_get(4)?,
            created_by: r.try_get(5)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let group = match trip.group_id {
        None => None,
        Some(gid) => {
            let r = sqlx::query(
                "SELECT g.organiser, g.vehicle_plate, (SELECT COUNT(*) FROM trip t WHERE t.group_id = g.id) \
                 FROM trip_group g WHERE g.id = $1",
            )
            .bind(gid)
            .fetch_one(db.pool())
            .await?;
            Some(TripGroup {
                id: gid,
                organiser: r.try_get(0)?,
                vehicle_plate: r.try_get(1)?,
                persons: r.try_get(2)?,
            })
        }
    };
    Ok(TripDetail { trip, logs, group })
}

/// What a log entry stored: its id, and the fever alert it raised.
#[derive(Debug, Clone)]
pub struct TripLogRecorded {
    pub id: i64,
    pub alert_id: Option<i64>,
}

/// Enters one day of a daily-log trip (the temperature taken on coming back), once a day; a
/// fever raises an alert for whoever works the person's node, as a check-in's does. Audited.
#[allow(clippy::too_many_arguments)]
pub async fn log_day(
    db: &Db,
    scope: &Scope,
    trip_id: i64,
    on: Result<Date, CoreError>,
    temperature: &str,
    note: &str,
    today: Date,
    now: i64,
) -> Result<TripLogRecorded, StoreError> {
    let t = trip_row(db, scope, trip_id, today).await?;
    let path = &t.node_path;
    may_write(scope, path)?;
    let entry = TripLogDraft::parse(&t.draft(), t.returned_on, on, temperature, note, today)
        .map_err(StoreError::Invalid)?;
    let mut tx = db.begin_write().await?;
    let alert_id = if entry.temperature.is_fever() {
        Some(
            crate::epidemic::raise_alert_at(
                &mut tx,
                "fever",
                t.person_id,
                path,
                None,
                None,
                &format!(
                    "{}（{}）{} 返回测温 {:.1} ℃",
                    t.kind.label_zh(),
                    t.destination,
                    format_date(entry.on),
                    entry.temperature.celsius()
                ),
                now,
            )
            .await?,
        )
    } else {
        None
    };
    let row = sqlx::query(
        "INSERT INTO trip_log (trip_id, log_on, temperature_tenths, note, alert_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(trip_id)
    .bind(format_date(entry.on))
    .bind(i64::from(entry.temperature.tenths()))
    .bind(entry.note.clone())
    .bind(alert_id)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| unique_to(e, "on", &format!("{} 已记录过", format_date(entry.on))))?;
    let id: i64 = row.try_get(0)?;
    audit::record(
        &mut *tx,
        AuditEntry::by(scope, "trip.log", "trip")
            .entity_id(trip_id)
            .node_path(path)
            .detail(json!({"on": format_date(entry.on), "fever": alert_id.is_some()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(TripLogRecorded { id, alert_id })
}

/// Marks a trip as back on `on` (once; not before it left).
pub async fn trip_returned(db: &Db, scope: &Scope, id: i64, on: Date) -> Result<(), StoreError> {
    let mut params = Params::new();
    let filter = scope_filter(scope, "node_path", &mut params);
    let id_param = params.int(id);
    let row = params
        .bind(sqlx::query(&format!(
            "SELECT node_path, leave_on, returned_on FROM trip WHERE id = {id_param} AND {filter}"
        )))
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    let path = path_of(&row.try_get::<String, _>(0)?)?;
    may_write(scope, &path)?;
    let leave_on = date_col("leave_on", &row.try_get::<String, _>(1)?)?;
    if on < leave_on {
        return Err(StoreError::Invalid(vec![CoreError::invalid(
            "returned_on",
            "返回日期早于外出日期",
        )]));
    }
    let changed =
        sqlx::query("UPDATE trip SET returned_on = $1 WHERE id = $2 AND returned_on IS NULL")
            .bind(format_date(on))
            .bind(id)
            .execute(db.pool())
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict {
            field: "state".into(),
            message: "已登记返回".into(),
        });
    }
    Ok(())
}
