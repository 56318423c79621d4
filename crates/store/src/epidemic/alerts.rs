//! Alert handling and overdue check-in alerts.
//!
//! - **Handling**: a worker closes an open alert with an outcome (fever: 排除 / 留观 / 转诊 /
//!   误测; overdue: 已联系 / 联系不上已上报) and a note. Audited.
//! - **Overdue alerts** ([`raise_overdue`], run every minute by `linli serve`): an observation
//!   with `n` check-ins a day has `n` slots a day whose cutoffs split 04:00–20:00 China time
//!   into `n` equal parts — 1/day: 20:00; 2/day: 12:00 and 20:00; 3/day: 09:20, 14:40, 20:00;
//!   4/day: 08:00, 12:00, 16:00, 20:00. Slot `i` (from 1) of a day is missed when its cutoff has
//!   passed and the day holds fewer than `i` check-ins; one alert is raised per observation and
//!   missed slot, keyed `YYYY-MM-DD#i` under a unique index, so running the job twice, or on two
//!   servers at once, raises nothing twice. A check-in entered late (any time that day,
//!   `at` may be backdated) makes the count whole again: the next run closes the alert with the
//!   outcome `late_checkin`. Only slots whose cutoff falls after the observation was created
//!   count (nobody misses a check-in before being placed under observation), and the job looks
//!   back [`LOOK_BACK_DAYS`] days, so a server that was down longer does not flood the list.

use std::collections::HashMap;

use linli_core::kernel::clock::{date_of, day_start_ms, display, format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::labelled;
use linli_core::{CoreError, JurisdictionPath, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::row_by_id;
use crate::infra::errors::internal;
use crate::{Db, StoreError};

labelled! {
    /// How an alert was closed.
    pub enum AlertOutcome: "outcome" {
        /// Fever: seen at the clinic, COVID excluded (就诊排除).
        #[strum(serialize = "excluded", props(zh = "已转诊发热门诊，排除"))]
        Excluded,
        /// Fever: kept under observation at the clinic (留观).
        #[strum(serialize = "observing", props(zh = "已转诊发热门诊，留观"))]
        Observing,
        /// Fever: transferred to a designated hospital (转诊).
        #[strum(serialize = "transferred", props(zh = "已转诊定点医院"))]
        Transferred,
        /// Fever: a false reading, normal when measured again (误测，复测正常).
        #[strum(serialize = "false_reading", props(zh = "误测，复测正常"))]
        FalseReading,
        /// Overdue: reached, reading taken and normal (已联系，情况正常).
        #[strum(serialize = "contacted", props(zh = "已联系，情况正常"))]
        Contacted,
        /// Overdue: could not be reached, reported up (联系不上，已上报).
        #[strum(serialize = "escalated", props(zh = "联系不上，已上报"))]
        Escalated,
        /// Overdue: closed by the system when the missing check-in arrived (已补报).
        #[strum(serialize = "late_checkin", props(zh = "已补报打卡（系统关闭）"))]
        LateCheckin,
    }
}

impl AlertOutcome {
    pub const FEVER: [AlertOutcome; 4] = [
        AlertOutcome::Excluded,
        AlertOutcome::Observing,
        AlertOutcome::Transferred,
        AlertOutcome::FalseReading,
    ];
    pub const OVERDUE: [AlertOutcome; 2] = [AlertOutcome::Contacted, AlertOutcome::Escalated];

    /// The outcomes a worker may choose for an alert of `kind`.
    pub fn for_kind(kind: &str) -> &'static [AlertOutcome] {
        match kind {
            "fever" => &AlertOutcome::FEVER,
            "overdue" => &AlertOutcome::OVERDUE,
            _ => &[],
        }
    }
}

impl std::str::FromStr for AlertOutcome {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AlertOutcome::Excluded,
            AlertOutcome::Observing,
            AlertOutcome::Transferred,
            AlertOutcome::FalseReading,
            AlertOutcome::Contacted,
            AlertOutcome::Escalated,
            AlertOutcome::LateCheckin,
        ]
        .into_iter()
        .find(|o| o.as_str() == s.trim())
        .ok_or_else(|| {
            CoreError::invalid(
                "outcome",
                "应为 excluded（排除）、observing（留观）、transferred（转诊）、false_reading（误测）、\
                 contacted（已联系）或 escalated（已上报）",
            )
        })
    }
}

/// An alert after handling.
#[derive(Debug, Clone, Serialize)]
pub struct HandledAlert {
    pub id: i64,
    pub kind: String,
    pub outcome: AlertOutcome,
    pub note: Option<String>,
    pub handled_at: i64,
    pub handled_by: String,
}

/// Closes an open alert in the caller's writable jurisdiction with an outcome that fits its
/// kind and an optional note. Outside the scope: `NotFound`; handled already: a conflict (also
/// when another worker handled it a moment before). Audited.
pub async fn handle(
    db: &Db,
    scope: &Scope,
    alert_id: i64,
    outcome: &str,
    note: Option<&str>,
    now: i64,
) -> Result<HandledAlert, StoreError> {
    let row = row_by_id(
        db,
        "SELECT kind, node_path, handled_at FROM alert WHERE id = $1",
        alert_id,
    )
    .await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(1)?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_write_records(&path) {
        return Err(StoreError::Forbidden("您的角色不能处理预警".into()));
    }
    let kind: String = row.try_get(0)?;
    let outcome: AlertOutcome = outcome.parse()?;
    if !AlertOutcome::for_kind(&kind).contains(&outcome) {
        let allowed: Vec<String> = AlertOutcome::for_kind(&kind)
            .iter()
            .map(|o| format!("{}（{}）", o.as_str(), o.label_zh()))
            .collect();
        return Err(StoreError::invalid(
            "outcome",
            format!("此类预警的处理结果应为：{}", allowed.join("、")),
        ));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(StoreError::invalid("note", "备注不能超过 500 个字"));
    }
    if row.try_get::<Option<i64>, _>(2)?.is_some() {
        return Err(handled_already());
    }
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE alert SET handled_at = $1, handled_by = $2, outcome = $3, outcome_note = $4 \
         WHERE id = $5 AND handled_at IS NULL",
    )
    .bind(now)
    .bind(scope.actor())
    .bind(outcome.as_str())
    .bind(note)
    .bind(alert_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(handled_already());
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "alert.handle", "alert")
            .entity_id(alert_id)
            .node_path(&path)
            .detail(json!({"kind": kind, "outcome": outcome.as_str()})),
        now,
    )
    .await?;
    Ok(HandledAlert {
        id: alert_id,
        kind,
        outcome,
        note: note.map(str::to_owned),
        handled_at: now,
        handled_by: scope.actor().to_owned(),
    })
}

fn handled_already() -> StoreError {
    StoreError::Conflict {
        field: "alert_id".into(),
        message: "该预警已处理".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Overdue check-ins
// ---------------------------------------------------------------------------------------------

/// Days before today the overdue job still raises missed slots for.
pub const LOOK_BACK_DAYS: i64 = 2;

/// The cutoffs of a day's check-in slots, in Unix milliseconds: `per_day` equal parts of
/// 04:00–20:00 China time, the last at 20:00 (2 a day: 12:00 and 20:00).
pub fn slot_cutoffs(day: time::Date, per_day: u8) -> Vec<i64> {
    let n = i64::from(per_day.max(1));
    let start = day_start_ms(day);
    (1..=n)
        .map(|i| start + (4 * 60 + 16 * 60 * i / n) * 60_000)
        .collect()
}

/// What one run of the overdue job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OverdueRun {
    pub raised: usize,
    pub closed: usize,
}

fn slot_key(day: time::Date, slot: usize) -> String {
    format!("{}#{slot}", format_date(day))
}

fn parse_slot_key(key: &str) -> Option<(time::Date, usize)> {
    let (d, n) = key.split_once('#')?;
    Some((parse_date("slot", d).ok()?, n.parse().ok()?))
}

struct OpenObservation {
    id: i64,
    person_id: i64,
    district_id: i64,
    node_path: String,
    start: time::Date,
    until: time::Date,
    per_day: u8,
    created_at: i64,
}

/// Raises an overdue alert for every check-in slot missed as of `now` (see the module
/// documentation), and closes open overdue alerts whose slot a late check-in has filled since.
/// Idempotent; safe to run on several servers at once. Audited as `system` when it changed
/// something.
pub async fn raise_overdue(db: &Db, now: i64) -> Result<OverdueRun, StoreError> {
    let today = date_of(now);
    let from = today - time::Duration::days(LOOK_BACK_DAYS);
    let rows = sqlx::query(
        "SELECT id, person_id, district_id, node_path, start_on, until_on, check_ins_per_day, created_at \
         FROM observation WHERE released_on IS NULL AND until_on >= $1 AND start_on <= $2 \
         AND check_ins_per_day > 0 AND created_at <= $3",
    )
    .bind(format_date(from))
    .bind(format_date(today))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut open = Vec::new();
    for r in &rows {
        open.push(OpenObservation {
            id: r.try_get(0)?,
            person_id: r.try_get(1)?,
            district_id: r.try_get(2)?,
            node_path: r.try_get(3)?,
            start: parse_date("start_on", &r.try_get::<String, _>(4)?).map_err(internal)?,
            until: parse_date("until_on", &r.try_get::<String, _>(5)?).map_err(internal)?,
            per_day: u8::try_from(r.try_get::<i64, _>(6)?.clamp(1, 24)).unwrap_or(1),
            created_at: r.try_get(7)?,
        });
    }
    // Check-ins per observation and day, for the days looked at (up to now).
    let rows = sqlx::query(
        "SELECT c.observation_id, c.at FROM checkin c JOIN observation o ON o.id = c.observation_id \
         WHERE o.released_on IS NULL AND o.until_on >= $1 AND c.at >= $2 AND c.at <= $3",
    )
    .bind(format_date(from))
    .bind(day_start_ms(from))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut counts: HashMap<(i64, time::Date), usize> = HashMap::new();
    for r in &rows {
        let obs: i64 = r.try_get(0)?;
        let at: i64 = r.try_get(1)?;
        *counts.entry((obs, date_of(at))).or_default() += 1;
    }

    // Everything is read first and the transaction only writes: on SQLite a transaction that
    // reads and then writes can fail against a concurrent writer instead of waiting.
    struct Missed {
        obs: usize,
        key: String,
        detail: String,
    }
    let mut missed = Vec::new();
    for (k, o) in open.iter().enumerate() {
        let first = o.start.max(from).max(date_of(o.created_at));
        let last = o.until.min(today);
        let mut day = first;
        while day <= last {
            let done = counts.get(&(o.id, day)).copied().unwrap_or(0);
            for (i, cutoff) in slot_cutoffs(day, o.per_day).into_iter().enumerate() {
                let slot = i + 1;
                if cutoff > now {
                    break;
                }
                if cutoff <= o.created_at || done >= slot {
                    continue;
                }
                missed.push(Missed {
                    obs: k,
                    key: slot_key(day, slot),
                    detail: format!(
                        "{} 第 {slot} 次健康打卡（{} 前）未报；当天已报 {done} 次，应报 {} 次",
                        format_date(day),
                        display(cutoff).get(11..).unwrap_or_default(),
                        o.per_day
                    ),
                });
            }
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
    }

    // Open overdue alerts whose slot is filled now (a check-in entered late).
    let rows = sqlx::query(
        "SELECT id, observation_id, slot_key FROM alert \
         WHERE kind = 'overdue' AND handled_at IS NULL AND slot_key IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?;
    let mut filled = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let obs: Option<i64> = r.try_get(1)?;
        let key: String = r.try_get(2)?;
        let (Some(obs), Some((day, slot))) = (obs, parse_slot_key(&key)) else {
            continue;
        };
        let n = sqlx::query(
            "SELECT COUNT(*) FROM checkin WHERE observation_id = $1 AND at >= $2 AND at < $3 AND at <= $4",
        )
        .bind(obs)
        .bind(day_start_ms(day))
        .bind(day_start_ms(day) + 86_400_000)
        .bind(now)
        .fetch_one(db.pool())
        .await?;
        let n: i64 = n.try_get(0)?;
        if usize::try_from(n).unwrap_or(0) >= slot {
            filled.push((id, n));
        }
    }
    if missed.is_empty() && filled.is_empty() {
        return Ok(OverdueRun::default());
    }

    let mut run = OverdueRun::default();
    let mut tx = db.begin_write().await?;
    for m in &missed {
        let o = &open[m.obs];
        let inserted = sqlx::query(
            "INSERT INTO alert (kind, person_id, observation_id, district_id, node_path, raised_at, detail, slot_key) \
             VALUES ('overdue', $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (observation_id, slot_key) DO NOTHING",
        )
        .bind(o.person_id)
        .bind(o.id)
        .bind(o.district_id)
        .bind(&o.node_path)
        .bind(now)
        .bind(&m.detail)
        .bind(&m.key)
        .execute(&mut *tx)
        .await?;
        run.raised += usize::try_from(inserted.rows_affected()).unwrap_or(0);
    }
    for (id, n) in &filled {
        let closed = sqlx::query(
            "UPDATE alert SET handled_at = $1, handled_by = 'system', outcome = $2, outcome_note = $3 \
             WHERE id = $4 AND handled_at IS NULL",
        )
        .bind(now)
        .bind(AlertOutcome::LateCheckin.as_str())
        .bind(format!("当天已补报 {n} 次"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        run.closed += usize::try_from(closed.rows_affected()).unwrap_or(0);
    }
    if run != OverdueRun::default() {
        audit::record(
            &mut *tx,
            AuditEntry::by_name(None, "system", "alert.overdue", "alert")
                .detail(json!({"raised": run.raised, "closed": run.closed})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(run)
}

/// The condition that an alert (`a`: its alias and a dot, or nothing) is open. As a rule, not
/// handled. While the process runs as of a past day (`serve --as-of`, demo databases only) the
/// records also hold that day's future, so it is the ones raised before the instant `day_end`
/// gives (a placeholder, asked for only when used) and handled after it.
pub(crate) fn open_at(a: &str, day_end: impl FnOnce() -> String) -> String {
    if linli_core::kernel::clock::as_of().is_some() {
        let e = day_end();
        format!("({a}raised_at < {e} AND ({a}handled_at IS NULL OR {a}handled_at >= {e}))")
    } else {
        format!("{a}handled_at IS NULL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use linli_core::kernel::labels::Labelled;
        let table = [
            (AlertOutcome::Excluded, "excluded", "已转诊发热门诊，排除"),
            (AlertOutcome::Observing, "observing", "已转诊发热门诊，留观"),
            (AlertOutcome::Transferred, "transferred", "已转诊定点医院"),
            (
                AlertOutcome::FalseReading,
                "false_reading",
                "误测，复测正常",
            ),
            (AlertOutcome::Contacted, "contacted", "已联系，情况正常"),
            (AlertOutcome::Escalated, "escalated", "联系不上，已上报"),
            (
                AlertOutcome::LateCheckin,
                "late_checkin",
                "已补报打卡（系统关闭）",
            ),
        ];
        assert_eq!(AlertOutcome::ALL, table.map(|row| row.0));
        for (v, code, zh) in table {
            assert_eq!((v.as_str(), v.label_zh()), (code, zh), "{v:?}");
        }
    }

    #[test]
    fn two_checkins_a_day_are_due_by_noon_and_by_eight_in_the_evening() {
        let d = date!(2026 - 11 - 23);
        let c = slot_cutoffs(d, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(&display(c[0])[11..], "12:00");
        assert_eq!(&display(c[1])[11..], "20:00");
        assert_eq!(&display(slot_cutoffs(d, 1)[0])[11..], "20:00");
        let four: Vec<String> = slot_cutoffs(d, 4)
            .iter()
            .map(|c| display(*c)[11..].to_owned())
            .collect();
        assert_eq!(four, vec!["08:00", "12:00", "16:00", "20:00"]);
        assert!(display(c[0]).starts_with("2026-11-23"));
    }

    #[test]
    fn slot_keys_round_trip() {
        let d = date!(2022 - 07 - 05);
        assert_eq!(parse_slot_key(&slot_key(d, 2)), Some((d, 2)));
        assert_eq!(parse_slot_key("garbage"), None);
    }
}

// ---------------------------------------------------------------------------------------------
// The list: open and handled alerts, searched, filtered and paged

/// Which alerts a list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlertState {
    /// Waiting for someone (the worker's list).
    #[default]
    Open,
    /// Closed, with their outcome.
    Handled,
    /// Both, the open ones first.
    All,
}

/// What an alert list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `fever` or `overdue`.
    pub kind: Option<String>,
    pub state: AlertState,
    /// The start of the person's name.
    pub q: Option<String>,
}

/// One alert of a list, with how it was closed if it was.
#[derive(Debug, Clone, Serialize)]
pub struct ListedAlert {
    pub alert: super::Alert,
    pub handled_at: Option<i64>,
    pub handled_by: Option<String>,
    pub outcome: Option<AlertOutcome>,
    pub outcome_note: Option<String>,
}

/// A page of alerts and how many match in all.
#[derive(Debug, Clone)]
pub struct AlertPage {
    pub items: Vec<ListedAlert>,
    pub total: i64,
}

/// The most rows one page (and one export) holds.
pub const MAX_ALERT_PAGE: i64 = 5_000;

/// An alert kind (`fever`, `overdue`) in words.
pub fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "fever" => "发热",
        "overdue" => "逾期未打卡",
        _ => "其他",
    }
}

/// Refuses an alert kind other than `fever` and `overdue`.
pub(crate) fn check_kind(kind: Option<&str>) -> Result<(), StoreError> {
    match kind {
        None | Some("fever" | "overdue") => Ok(()),
        Some(_) => Err(StoreError::invalid(
            "kind",
            "应为 fever（发热）或 overdue（逾期未打卡）",
        )),
    }
}

/// Alerts under `node_id` within the caller's scope: open ones newest first (with `All`, before
/// the handled ones), `limit` rows from `offset`, with the count of all that match. Alerts whose
/// person was anonymised after retention are not listed.
pub async fn alerts(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    f: &AlertFilter,
    limit: i64,
    offset: i64,
) -> Result<AlertPage, StoreError> {
    let kind = f.kind.as_deref().filter(|k| !k.is_empty());
    check_kind(kind)?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let as_of_end = linli_core::kernel::clock::as_of()
        .map(|_| linli_core::kernel::clock::day_bounds(linli_core::kernel::clock::today()).1);
    // The WHERE clause, once for the count and once for the page (parameters bind once).
    let conditions = |params: &mut crate::infra::db::Params| {
        let mut conds = vec![crate::under_node(&node.path, scope, "a.node_path", params)];
        if let Some(k) = kind {
            conds.push(format!("a.kind = {}", params.text(k)));
        }
        match as_of_end {
            // As of a past day (a demo): that day's alerts, open or handled as they were then.
            Some(end) => {
                let e = params.int(end);
                conds.push(format!("a.raised_at < {e}"));
                match f.state {
                    AlertState::Open => {
                        conds.push(format!("(a.handled_at IS NULL OR a.handled_at >= {e})"))
                    }
                    AlertState::Handled => conds.push(format!("a.handled_at < {e}")),
                    AlertState::All => {}
                }
            }
            None => match f.state {
                AlertState::Open => conds.push("a.handled_at IS NULL".to_owned()),
                AlertState::Handled => conds.push("a.handled_at IS NOT NULL".to_owned()),
                AlertState::All => {}
            },
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            conds.push(params.prefix_like("p.name", q));
        }
        conds.join(" AND ")
    };
    let mut params = crate::infra::db::Params::new();
    let where_ = conditions(&mut params);
    let total: i64 = params
        .bind(sqlx::query(&format!(
            "SELECT COUNT(*) FROM alert a JOIN person p ON p.id = a.person_id WHERE {where_}"
        )))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let mut params = crate::infra::db::Params::new();
    let where_ = conditions(&mut params);
    let (lim, off) = (
        params.int(limit.clamp(1, MAX_ALERT_PAGE)),
        params.int(offset.max(0)),
    );
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT a.id, a.kind, a.person_id, p.name, a.observation_id, a.arrival_id, a.node_path, \
             a.raised_at, a.detail, a.handled_at, a.handled_by, a.outcome, a.outcome_note \
             FROM alert a JOIN person p ON p.id = a.person_id WHERE {where_} \
             ORDER BY CASE WHEN a.handled_at IS NULL THEN 0 ELSE 1 END, a.raised_at DESC, a.id DESC \
             LIMIT {lim} OFFSET {off}"
        )))
        .fetch_all(db.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(ListedAlert {
                alert: super::Alert {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    person_id: r.try_get(2)?,
                    person_name: r.try_get(3)?,
                    observation_id: r.try_get(4)?,
                    arrival_id: r.try_get(5)?,
                    node_path: r.try_get(6)?,
                    raised_at: r.try_get(7)?,
                    detail: r.try_get(8)?,
                },
                handled_at: r.try_get(9)?,
                handled_by: r.try_get(10)?,
                outcome: r
                    .try_get::<Option<String>, _>(11)?
                    .and_then(|o| AlertOutcome::from_code(&o)),
                outcome_note: r.try_get(12)?,
            })
        })
        .map(|a: Result<ListedAlert, StoreError>| {
            // As of a past day, what was handled only later was still open then.
            a.map(|mut a| {
                if let (Some(end), Some(at)) = (as_of_end, a.handled_at) {
                    if at >= end {
                        (a.handled_at, a.handled_by, a.outcome, a.outcome_note) =
                            (None, None, None, None);
                    }
                }
                a
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(AlertPage { items, total })
}
