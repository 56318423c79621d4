//! Self check-in: a person under observation reports their own temperature through a link of
//! their own (`/o/{code}`), with no login. The code is a short one a person can type
//! (`linli_core::kernel::token::SELF_CHECKIN`), kept in clear on the observation so the worker
//! can print it again; it opens only that observation, shows only the masked name, day N of M
//! and today's count, and dies with the release. Check-ins go through the batching writer like
//! every other, marked `self_report`.

use linli_core::epidemic::contact::mask_name;
use linli_core::epidemic::observation::{checkins_due_on, day_of, CheckinChannel};
use linli_core::epidemic::policy::Measure;
use linli_core::kernel::clock::{date_of, day_bounds, parse_date};
use linli_core::kernel::token::{parse_code, SELF_CHECKIN};
use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::{CheckinInput, CheckinJob, CheckinRecorded, CheckinWriter};
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::row_by_id;
use crate::infra::errors::{internal, unique_to};
use crate::infra::secret::short_code;
use crate::{Db, StoreError};

/// An observation's self check-in link.
#[derive(Debug, Clone, Serialize)]
pub struct SelfLink {
    pub observation_id: i64,
    /// Empty while none was made.
    pub token: String,
    pub person_id: i64,
    pub person_name: String,
    pub node_path: String,
    pub released: bool,
}

/// What the resident's page shows: nothing but their own masked name and their progress.
#[derive(Debug, Clone, Serialize)]
pub struct SelfView {
    pub observation_id: i64,
    pub masked_name: String,
    pub measure: Measure,
    pub day: i64,
    pub days: i64,
    pub until: String,
    pub done_today: i64,
    pub due_today: i64,
    #[serde(skip)]
    node_path: JurisdictionPath,
}

/// A link looked up by its code.
#[derive(Debug, Clone)]
pub enum LinkState {
    Open(SelfView),
    /// The observation was released (or purged): the link is dead for good.
    Released,
}

/// The link of observation `id`, made on first asking (the same code after that). Whoever may
/// write records where the observation is kept; not for a released observation. Audited when
/// made.
pub async fn self_link(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
    now: i64,
) -> Result<SelfLink, StoreError> {
    let link = existing_link(db, scope, observation_id).await?;
    let path = JurisdictionPath::parse(&link.node_path).map_err(internal)?;
    if link.released {
        return Err(StoreError::invalid(
            "observation_id",
            "该医学观察已解除，不能再发放打卡码",
        ));
    }
    if !link.token.is_empty() {
        return Ok(link);
    }
    // A clash of two random codes is astronomically rare; the unique index turns it into an
    // error, and the next code is tried.
    for _ in 0..3 {
        let token = short_code(SELF_CHECKIN);
        let mut tx = db.begin_write().await?;
        let set = sqlx::query(
            "UPDATE observation SET self_token = $1 WHERE id = $2 AND self_token IS NULL \
             AND released_on IS NULL",
        )
        .bind(&token)
        .bind(observation_id)
        .execute(&mut *tx)
        .await;
        match set {
            Ok(done) if done.rows_affected() == 1 => {
                audit::commit_recorded(
                    tx,
                    AuditEntry::by(scope, "observation.self_link", "observation")
                        .entity_id(observation_id)
                        .node_path(&path)
                        .detail(json!({"channel": "self_report"})),
                    now,
                )
                .await?;
                return Ok(SelfLink { token, ..link });
            }
            // Made meanwhile by someone else, or released: read it again.
            Ok(_) => {
                drop(tx);
                let again = link_row(db, observation_id).await?;
                if again.released {
                    return Err(StoreError::invalid(
                        "observation_id",
                        "该医学观察已解除，不能再发放打卡码",
                    ));
                }
                return Ok(again);
            }
            Err(e) => match unique_to(e, "token", "打卡码重复") {
                StoreError::Conflict { .. } => continue,
                e => return Err(e),
            },
        }
    }
    Err(StoreError::Internal("no free self check-in code".into()))
}

/// Observation `id`'s link as it stands (an empty token while none was made), for whoever may
/// record check-ins where the observation is kept: the code is as good as the link, so seeing
/// it takes the same right as making it.
pub async fn existing_link(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
) -> Result<SelfLink, StoreError> {
    let link = link_row(db, observation_id).await?;
    let path = JurisdictionPath::parse(&link.node_path).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_write_records(&path) {
        return Err(StoreError::Forbidden("您的角色不能发放自助打卡码".into()));
    }
    Ok(link)
}

async fn link_row(db: &Db, observation_id: i64) -> Result<SelfLink, StoreError> {
    let r = row_by_id(
        db,
        "SELECT o.id, COALESCE(o.self_token, ''), COALESCE(o.person_id, 0), COALESCE(p.name, ''), \
                o.node_path, \
                CASE WHEN o.released_on IS NULL AND o.person_id IS NOT NULL THEN 0 ELSE 1 END \
         FROM observation o LEFT JOIN person p ON p.id = o.person_id WHERE o.id = $1",
        observation_id,
    )
    .await?;
    Ok(SelfLink {
        observation_id: r.try_get(0)?,
        token: r.try_get(1)?,
        person_id: r.try_get(2)?,
        person_name: r.try_get(3)?,
        node_path: r.try_get(4)?,
        released: r.try_get::<i64, _>(5)? != 0,
    })
}

/// The link of a code as typed (normalised first), as of `now`. A code that is not one, or
/// names no observation, is `NotFound` — the same answer, so a guess learns nothing.
pub async fn by_code(db: &Db, raw: &str, now: i64) -> Result<LinkState, StoreError> {
    let code = parse_code(SELF_CHECKIN, raw).map_err(|_| StoreError::NotFound)?;
    let on = date_of(now);
    let (from, to) = day_bounds(on);
    let r = sqlx::query(
        "SELECT o.id, p.name, o.measure, o.start_on, o.until_on, o.check_ins_per_day, o.node_path, \
                CASE WHEN o.released_on IS NULL AND o.person_id IS NOT NULL THEN 0 ELSE 1 END, \
                (SELECT COUNT(*) FROM checkin c WHERE c.observation_id = o.id AND c.at >= $2 AND c.at < $3) \
         FROM observation o LEFT JOIN person p ON p.id = o.person_id WHERE o.self_token = $1",
    )
    .bind(&code)
    .bind(from)
    .bind(to)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    if r.try_get::<i64, _>(7)? != 0 {
        return Ok(LinkState::Released);
    }
    let start = parse_date("start_on", &r.try_get::<String, _>(3)?).map_err(internal)?;
    let until = parse_date("until_on", &r.try_get::<String, _>(4)?).map_err(internal)?;
    let per_day = u8::try_from(r.try_get::<i64, _>(5)?).map_err(internal)?;
    let (day, days) = day_of(start, until, on);
    let name: Option<String> = r.try_get(1)?;
    Ok(LinkState::Open(SelfView {
        observation_id: r.try_get(0)?,
        masked_name: mask_name(name.as_deref().unwrap_or_default()),
        measure: r.try_get::<String, _>(2)?.parse().map_err(internal)?,
        day,
        days,
        until: linli_core::kernel::clock::format_date(until),
        done_today: r.try_get(8)?,
        due_today: checkins_due_on(per_day, start, until, on),
        node_path: JurisdictionPath::parse(&r.try_get::<String, _>(6)?).map_err(internal)?,
    }))
}

/// Records a check-in through the link `view` came from, by the person themself: the same
/// rules and writer as any check-in (a fever or a symptom raises the alert), marked
/// `self_report`, recorded as `resident@o{id}`.
pub async fn record(
    writer: &CheckinWriter,
    view: &SelfView,
    input: CheckinInput,
    now: i64,
) -> Result<CheckinRecorded, StoreError> {
    let scope = Scope::for_link(
        &format!("resident@o{}", view.observation_id),
        view.node_path.clone(),
    );
    writer
        .add(CheckinJob {
            scope,
            observation_id: view.observation_id,
            input,
            now,
            channel: CheckinChannel::SelfReport,
        })
        .await
}
