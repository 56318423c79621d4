//! Retention of epidemic records: once a record's purge date has passed, the job anonymises it.
//! The personal link (person_id) and free text go; dates, measure, node path and the rows
//! themselves stay, so the dashboard and reports still count them. Idempotent: an anonymised
//! row is never touched again.

use linli_core::kernel::clock::format_date;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::{Db, StoreError};

/// What replaces free text in an anonymised record.
pub const ANONYMISED: &str = "已匿名";

/// The actor the job is audited as.
const ACTOR: &str = "system";

/// Rows anonymised by one run, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    pub arrivals: u64,
    pub observations: u64,
    pub checkins: u64,
    pub alerts: u64,
    pub declarations: u64,
    /// Checkpoint scans (kept `retention_days` after the scan).
    pub scans: u64,
    /// Quarantine stays of anonymised observations (the room and nights stay, not the person).
    pub stays: u64,
    /// Trips over (back, or past their planned last day) `retention_days` before today, with
    /// the notes of their daily log.
    pub trips: u64,
    /// Organised trips whose every member's trip is anonymised (the organiser and plate go).
    pub trip_groups: u64,
}

impl RetentionRun {
    pub fn total(&self) -> u64 {
        self.arrivals
            + self.observations
            + self.checkins
            + self.alerts
            + self.declarations
            + self.scans
            + self.stays
            + self.trips
            + self.trip_groups
    }
}

/// Anonymises every record whose purge date is before `today` (China date), after setting the
/// purge dates that follow from releases: a released observation is kept `retention_days`
/// after its release, and its arrival and check-ins with it. Records of an observation still
/// open are never anonymised. One transaction; audited as one `retention.anonymise` entry with
/// the counts when anything changed.
pub async fn anonymise_due(
    db: &Db,
    today: time::Date,
    retention_days: i64,
    now: i64,
) -> Result<RetentionRun, StoreError> {
    if retention_days < 0 {
        return Err(StoreError::invalid("retention_days", "保留天数不能为负数"));
    }
    let mut tx = db.begin_write().await?;

    // Purge dates from releases, for the configured retention (release() wrote the default).
    let released = sqlx::query(
        "SELECT DISTINCT released_on FROM observation \
         WHERE released_on IS NOT NULL AND anonymised_at IS NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in released {
        let on: String = r.try_get(0)?;
        let day = linli_core::kernel::clock::parse_date("released_on", &on)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let purge = format_date(day + time::Duration::days(retention_days));
        sqlx::query(
            "UPDATE observation SET purge_on = $1 WHERE released_on = $2 AND anonymised_at IS NULL \
             AND (purge_on IS NULL OR purge_on <> $1)",
        )
        .bind(&purge)
        .bind(&on)
        .execute(&mut *tx)
        .await?;
    }
    // Screenings and check-ins go with their released observation.
    for table in ["arrival", "checkin"] {
        sqlx::query(&format!(
            "UPDATE {table} SET purge_on = (SELECT o.purge_on FROM observation o WHERE o.id = {table}.observation_id) \
             WHERE anonymised_at IS NULL AND EXISTS (SELECT 1 FROM observation o WHERE o.id = {table}.observation_id \
             AND o.released_on IS NOT NULL)"
        ))
        .execute(&mut *tx)
        .await?;
    }

    let today = format_date(today);
    // Only released observations: an open one is still being followed, whatever its date.
    let observations = sqlx::query(
        "UPDATE observation SET person_id = NULL, place = CASE WHEN place IS NULL THEN NULL ELSE $3 END, \
         self_token = NULL, anonymised_at = $2 WHERE anonymised_at IS NULL AND released_on IS NOT NULL AND purge_on < $1",
    )
    .bind(&today)
    .bind(now)
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A stay goes with its observation: who slept where is personal, the occupied nights are not.
    let stays = sqlx::query(
        "UPDATE quarantine_stay SET person_id = NULL, household_id = NULL, anonymised_at = $1 \
         WHERE anonymised_at IS NULL AND EXISTS (SELECT 1 FROM observation o \
         WHERE o.id = quarantine_stay.observation_id AND o.anonymised_at IS NOT NULL)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let checkins = sqlx::query(
        "UPDATE checkin SET symptoms_json = '[]', anonymised_at = $2 \
         WHERE anonymised_at IS NULL AND purge_on < $1",
    )
    .bind(&today)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let arrivals = sqlx::query(
        "UPDATE arrival SET person_id = NULL, purpose = CASE WHEN purpose IS NULL THEN NULL ELSE $3 END, \
         symptoms_json = '[]', explanation = $3, classification_json = NULL, anonymised_at = $2 \
         WHERE anonymised_at IS NULL AND purge_on < $1 \
         AND NOT EXISTS (SELECT 1 FROM observation o WHERE o.id = arrival.observation_id AND o.released_on IS NULL)",
    )
    .bind(&today)
    .bind(now)
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A trip is kept `retention_days` after it is over: the day back, else the planned last
    // day. One still out with no last day is never due.
    let trip_cutoff = format_date(
        linli_core::kernel::clock::parse_date("today", &today)
            .map_err(|e| StoreError::Internal(e.to_string()))?
            - time::Duration::days(retention_days),
    );
    let trips = sqlx::query(
        "UPDATE trip SET person_id = NULL, destination = $3, anonymised_at = $2 \
         WHERE anonymised_at IS NULL AND COALESCE(returned_on, return_on) < $1",
    )
    .bind(&trip_cutoff)
    .bind(now)
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE trip_log SET note = $1 WHERE note IS NOT NULL AND note <> $1 \
         AND EXISTS (SELECT 1 FROM trip t WHERE t.id = trip_log.trip_id AND t.anonymised_at IS NOT NULL)",
    )
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?;
    let trip_groups = sqlx::query(
        "UPDATE trip_group SET organiser = $2, destination = $2, vehicle_plate = NULL, anonymised_at = $1 \
         WHERE anonymised_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM trip t WHERE t.group_id = trip_group.id AND t.anonymised_at IS NULL)",
    )
    .bind(now)
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Handled alerts of anonymised records lose their link too; an open one stays until handled.
    let alerts = sqlx::query(
        "UPDATE alert SET person_id = NULL, detail = $2, outcome_note = NULL, anonymised_at = $1 \
         WHERE anonymised_at IS NULL AND handled_at IS NOT NULL AND ( \
           EXISTS (SELECT 1 FROM observation o WHERE o.id = alert.observation_id AND o.anonymised_at IS NOT NULL) \
           OR EXISTS (SELECT 1 FROM arrival a WHERE a.id = alert.arrival_id AND a.anonymised_at IS NOT NULL) \
           OR EXISTS (SELECT 1 FROM trip_log l JOIN trip t ON t.id = l.trip_id \
             WHERE l.alert_id = alert.id AND t.anonymised_at IS NOT NULL))",
    )
    .bind(now)
    .bind(ANONYMISED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Declarations get their purge date when reviewed; a pending one has none.
    let declarations = sqlx::query(
        "UPDATE declaration SET name = $3, id_cipher = $4, id_hash = '', id_last4 = '', phone_cipher = NULL, \
         phone_last4 = NULL, address = $3, purpose = CASE WHEN purpose IS NULL THEN NULL ELSE $3 END, \
         symptoms_json = '[]', reject_reason = CASE WHEN reject_reason IS NULL THEN NULL ELSE $3 END, \
         person_id = NULL, anonymised_at = $2 \
         WHERE anonymised_at IS NULL AND status IN ('confirmed', 'rejected') AND purge_on < $1",
    )
    .bind(&today)
    .bind(now)
    .bind(ANONYMISED)
    .bind(Vec::<u8>::new())
    .execute(&mut *tx)
    .await?
    .rows_affected();

    // A scan's purge date was set from the default retention when it was logged: shift the
    // cutoff by the difference instead of rewriting every row's date.
    let scan_cutoff = format_date(
        linli_core::kernel::clock::parse_date("today", &today)
            .map_err(|e| StoreError::Internal(e.to_string()))?
            + time::Duration::days(crate::epidemic::RETENTION_DAYS - retention_days),
    );
    let scans = sqlx::query(
        "UPDATE gate_scan SET person_id = NULL, plate = NULL, anonymised_at = $2 \
         WHERE anonymised_at IS NULL AND purge_on < $1",
    )
    .bind(&scan_cutoff)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    let run = RetentionRun {
        arrivals,
        observations,
        checkins,
        alerts,
        declarations,
        scans,
        stays,
        trips,
        trip_groups,
    };
    if run.total() > 0 {
        audit::record(
            &mut *tx,
            AuditEntry::by_name(None, ACTOR, "retention.anonymise", "retention").detail(json!({
                "today": today,
                "retention_days": retention_days,
                "arrivals": run.arrivals,
                "observations": run.observations,
                "checkins": run.checkins,
                "alerts": run.alerts,
                "declarations": run.declarations,
                "scans": run.scans,
                "stays": run.stays,
                "trips": run.trips,
                "trip_groups": run.trip_groups,
            })),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(run)
}
