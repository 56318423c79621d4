//! One person's epidemic timeline (`linli_core::epidemic::timeline`): their screenings,
//! observations, check-ins, alerts, passes, gate scans and trips, read by person and merged.

use linli_core::epidemic::checkpoint::{Direction, ScanOutcome};
use linli_core::epidemic::observation::CheckinChannel;
use linli_core::epidemic::policy::{Measure, Temperature};
use linli_core::epidemic::timeline::{order, Event, EventKind};
use linli_core::epidemic::trips::TripKind;
use linli_core::kernel::clock::{day_start_ms, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::Scope;
use sqlx::Row;

use crate::infra::errors::internal;
use crate::{Db, StoreError};

/// At most this many check-ins and scans each (the newest): a long observation's rounds would
/// otherwise bury everything else.
const MAX_PER_KIND: i64 = 300;

/// The timeline of `person_id`, newest first. A person outside the caller's scope is
/// `NotFound`, as everywhere.
pub async fn of_person(db: &Db, scope: &Scope, person_id: i64) -> Result<Vec<Event>, StoreError> {
    crate::registry::get(db, scope, person_id).await?;
    let pool = db.pool();
    let mut events = Vec::new();
    let date_ms = |raw: String| -> Result<i64, StoreError> {
        Ok(day_start_ms(parse_date("date", &raw).map_err(internal)?))
    };

    for r in sqlx::query(
        "SELECT created_at, origin_code, arrived_on, measure, until_on, temperature_tenths, status \
         FROM arrival WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let measure = measure_label(&r.try_get::<String, _>(3)?);
        let until: Option<String> = r.try_get(4)?;
        let t = temperature(r.try_get(5)?);
        let pending = r.try_get::<String, _>(6)? == "pending_review";
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Arrival,
            detail: format!(
                "{} 从{}抵达；{}{}{}{}",
                r.try_get::<String, _>(2)?,
                linli_core::kernel::division::describe(&r.try_get::<String, _>(1)?),
                measure,
                until.map(|u| format!("至 {u}")).unwrap_or_default(),
                t.map(|t| format!("；体温 {t}")).unwrap_or_default(),
                if pending { "（自主申报，待核实）" } else { "" },
            ),
            warn: t.is_some_and(|t| t.is_fever()),
        });
    }

    for r in sqlx::query(
        "SELECT o.start_on, o.until_on, o.measure, o.place, o.released_on, \
                COALESCE(u.display_name, o.released_by), o.check_ins_per_day \
         FROM observation o LEFT JOIN app_user u ON u.username = o.released_by \
         WHERE o.person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let until: String = r.try_get(1)?;
        let place: Option<String> = r.try_get(3)?;
        events.push(Event {
            at: date_ms(r.try_get(0)?)?,
            kind: EventKind::Observation,
            detail: format!(
                "{}，至 {until}，每天打卡 {} 次{}",
                measure_label(&r.try_get::<String, _>(2)?),
                r.try_get::<i64, _>(6)?,
                place.map(|p| format!("；地点 {p}")).unwrap_or_default(),
            ),
            warn: false,
        });
        if let Some(on) = r.try_get::<Option<String>, _>(4)? {
            let by: Option<String> = r.try_get(5)?;
            events.push(Event {
                at: date_ms(on)?,
                kind: EventKind::Release,
                detail: by.map(|b| format!("经办 {b}")).unwrap_or_default(),
                warn: false,
            });
        }
    }

    for r in sqlx::query(&format!(
        "SELECT c.at, c.temperature_tenths, c.symptoms_json, c.channel, \
                COALESCE(u.display_name, c.recorded_by) \
         FROM checkin c JOIN observation o ON o.id = c.observation_id \
         LEFT JOIN app_user u ON u.username = c.recorded_by \
         WHERE o.person_id = $1 ORDER BY c.at DESC LIMIT {MAX_PER_KIND}"
    ))
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let t = temperature(r.try_get(1)?);
        let symptoms: Vec<String> =
            serde_json::from_str(&r.try_get::<String, _>(2)?).unwrap_or_default();
        let channel: CheckinChannel = code(r.try_get(3)?)?;
        let by: String = r.try_get(4)?;
        let mut detail = t.map(|t| format!("体温 {t}")).unwrap_or_default();
        if !symptoms.is_empty() {
            if !detail.is_empty() {
                detail.push('；');
            }
            detail.push_str(&format!("症状 {}", symptoms.join("、")));
        }
        detail.push_str(&format!("（{}", channel.label_zh()));
        if channel == CheckinChannel::Round {
            detail.push_str(&format!(" {by}"));
        }
        detail.push('）');
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Checkin,
            warn: t.is_some_and(|t| t.is_fever()) || !symptoms.is_empty(),
            detail,
        });
    }

    for r in sqlx::query(
        "SELECT a.raised_at, a.kind, a.detail, a.handled_at, COALESCE(u.display_name, a.handled_by), \
                a.outcome \
         FROM alert a LEFT JOIN app_user u ON u.username = a.handled_by WHERE a.person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let kind: String = r.try_get(1)?;
        let handled_at: Option<i64> = r.try_get(3)?;
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Alert,
            detail: format!(
                "{}：{}",
                if kind == "fever" { "发热预警" } else { "漏报预警" },
                r.try_get::<String, _>(2)?
            ),
            warn: handled_at.is_none(),
        });
        if let Some(at) = handled_at {
            let by: Option<String> = r.try_get(4)?;
            let outcome: Option<String> = r.try_get::<Option<String>, _>(5)?.map(|o| {
                super::alerts::AlertOutcome::from_code(&o)
                    .map_or(o, |a| a.label_zh().to_owned())
            });
            events.push(Event {
                at,
                kind: EventKind::AlertHandled,
                detail: [outcome, by.map(|b| format!("经办 {b}"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("；"),
                warn: false,
            });
        }
    }

    for r in sqlx::query(
        "SELECT p.created_at, n.name, p.valid_from, p.valid_to, p.purpose, p.revoked_at \
         FROM gate_pass p JOIN node n ON n.id = p.node_id WHERE p.person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let purpose: Option<String> = r.try_get(4)?;
        let revoked = r.try_get::<Option<i64>, _>(5)?.is_some();
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Pass,
            detail: format!(
                "{}，{} 至 {}{}{}",
                r.try_get::<String, _>(1)?,
                r.try_get::<String, _>(2)?,
                r.try_get::<String, _>(3)?,
                purpose.map(|p| format!("；{p}")).unwrap_or_default(),
                if revoked { "（已作废）" } else { "" }
            ),
            warn: false,
        });
    }

    for r in sqlx::query(&format!(
        "SELECT s.at, c.name, s.direction, s.outcome, s.temperature_tenths \
         FROM gate_scan s JOIN checkpoint c ON c.id = s.checkpoint_id \
         WHERE s.person_id = $1 ORDER BY s.at DESC LIMIT {MAX_PER_KIND}"
    ))
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let direction: Direction = code(r.try_get(2)?)?;
        let outcome: ScanOutcome = code(r.try_get(3)?)?;
        let t = temperature(r.try_get(4)?);
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Scan,
            detail: format!(
                "{} {}：{}{}",
                r.try_get::<String, _>(1)?,
                direction.label_zh(),
                outcome.label_zh(),
                t.map(|t| format!("；体温 {t}")).unwrap_or_default()
            ),
            warn: outcome != ScanOutcome::Allowed,
        });
    }

    for r in sqlx::query(
        "SELECT created_at, kind, destination, leave_on, return_on, returned_on FROM trip \
         WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        let kind: TripKind = code(r.try_get(1)?)?;
        let back: Option<String> = r.try_get(4)?;
        let returned: Option<String> = r.try_get(5)?;
        events.push(Event {
            at: r.try_get(0)?,
            kind: EventKind::Trip,
            detail: format!(
                "{}：{}，{} 出发{}{}",
                kind.label_zh(),
                r.try_get::<String, _>(2)?,
                r.try_get::<String, _>(3)?,
                back.map(|b| format!("，预计 {b} 返回")).unwrap_or_default(),
                returned
                    .map(|d| format!("；{d} 已返回"))
                    .unwrap_or_default()
            ),
            warn: false,
        });
    }

    order(&mut events);
    Ok(events)
}

/// A stored code back to its enum.
fn code<T: Labelled>(s: String) -> Result<T, StoreError> {
    T::from_code(&s).ok_or_else(|| internal(format!("unknown {} code {s:?}", T::FIELD)))
}

fn temperature(tenths: Option<i64>) -> Option<Temperature> {
    tenths.and_then(|t| Temperature::from_tenths(t).ok())
}

fn measure_label(code: &str) -> &'static str {
    code.parse::<Measure>()
        .map(|m| m.label_zh())
        .unwrap_or("（未知措施）")
}

/// Which kind of record a [`PersonRecord`] is (its page's link is drawn from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// An arrival (抵达登记 / 排查): `id` is the arrival's.
    Arrival,
    /// An observation (隔离 / 健康监测): `id` is the observation's.
    Observation,
    /// A case (病例): `id` is the person's, as the case pages are addressed.
    Case,
}

/// One of a person's epidemic records as their registry page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonRecord {
    /// `YYYY-MM-DD`: the day it happened (arrived, started, diagnosed).
    pub on: String,
    pub kind: RecordKind,
    pub id: i64,
    /// What it was, in a line: `从北京市抵达；居家隔离至 2020-02-14`.
    pub what: String,
    /// How it ended or stands: `已解除（2020-02-14）`, `观察中，至 2020-02-14`.
    pub outcome: String,
}

/// The arrivals, observations and case of `person_id` (whom the caller must be allowed to
/// see, else `NotFound`), each in the caller's jurisdiction, newest first.
pub async fn records_of_person(
    db: &Db,
    scope: &Scope,
    person_id: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    crate::registry::get(db, scope, person_id).await?;
    let pool = db.pool();
    let readable =
        |path: &str| linli_core::JurisdictionPath::parse(path).is_ok_and(|p| scope.can_read(&p));
    let mut out = Vec::new();
    for r in sqlx::query(
        "SELECT id, node_path, arrived_on, origin_code, measure, until_on, status \
         FROM arrival WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        if !readable(&r.try_get::<String, _>(1)?) {
            continue;
        }
        let until: Option<String> = r.try_get(5)?;
        out.push(PersonRecord {
            on: r.try_get(2)?,
            kind: RecordKind::Arrival,
            id: r.try_get(0)?,
            what: format!(
                "从{}抵达；{}{}",
                linli_core::kernel::division::describe(&r.try_get::<String, _>(3)?),
                measure_label(&r.try_get::<String, _>(4)?),
                until.map(|u| format!("至 {u}")).unwrap_or_default(),
            ),
            outcome: if r.try_get::<String, _>(6)? == "pending_review" {
                "自主申报，待核实".to_owned()
            } else {
                "已核实".to_owned()
            },
        });
    }
    for r in sqlx::query(
        "SELECT id, node_path, start_on, until_on, measure, place, released_on \
         FROM observation WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await?
    {
        if !readable(&r.try_get::<String, _>(1)?) {
            continue;
        }
        let until: String = r.try_get(3)?;
        let place: Option<String> = r.try_get(5)?;
        let released: Option<String> = r.try_get(6)?;
        out.push(PersonRecord {
            on: r.try_get(2)?,
            kind: RecordKind::Observation,
            id: r.try_get(0)?,
            what: format!(
                "{}，至 {until}{}",
                measure_label(&r.try_get::<String, _>(4)?),
                place.map(|p| format!("；地点 {p}")).unwrap_or_default(),
            ),
            outcome: match released {
                Some(d) => format!("已解除（{d}）"),
                None => format!("观察中，至 {until}"),
            },
        });
    }
    for r in sqlx::query("SELECT node_path, diagnosed_on, kind FROM epi_case WHERE person_id = $1")
        .bind(person_id)
        .fetch_all(pool)
        .await?
    {
        if !readable(&r.try_get::<String, _>(0)?) {
            continue;
        }
        let kind: String = r.try_get(2)?;
        out.push(PersonRecord {
            on: r.try_get(1)?,
            kind: RecordKind::Case,
            id: person_id,
            what: linli_core::epidemic::contact::CaseKind::from_code(&kind)
                .map_or("病例", |k| k.label_zh())
                .to_owned(),
            outcome: "见病例与密接".to_owned(),
        });
    }
    // Newest first; on one day, the case above the observation above the arrival.
    out.sort_by(|a, b| {
        b.on.cmp(&a.on)
            .then((b.kind as u8).cmp(&(a.kind as u8)))
            .then(b.id.cmp(&a.id))
    });
    Ok(out)
}
