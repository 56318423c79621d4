//! Editing quarantine policy: trying a draft against the people under observation (what-if) and
//! publishing it as a new version. The rules and the comparison are pure
//! (`linli_core::epidemic::policy::{classify, what_if}`); this module gathers the records and keeps the
//! versions.

use std::collections::HashMap;

use linli_core::epidemic::policy::{
    self, ActiveRecord, Change, DivisionCode, PolicyVersion, RiskArea, Temperature,
};
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::epidemic::{division_of, published_policies, risk_areas};
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::{scope_filter, Db, StoreError};

/// How a draft would change one person's open observation.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIfRow {
    pub observation_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub node_path: String,
    /// The stored version that classified the record, `key@n`.
    pub current_version: String,
    pub change: Change,
}

/// Classifies every open observation in the caller's jurisdiction under `draft` and compares
/// it with the classification of the version that decided it, as of `today`. Only officials and
/// admins try policies. Observations opened by an arrival screening are compared (their facts
/// are on the arrival); the result lists every record, unchanged ones included, in id order.
pub async fn what_if(
    db: &Db,
    scope: &Scope,
    draft: &PolicyVersion,
    today: Date,
) -> Result<Vec<WhatIfRow>, StoreError> {
    if !scope.can_manage_policy() {
        return Err(StoreError::Forbidden(
            "只有干部和管理员可以试算防控政策".into(),
        ));
    }
    let mut params = Params::new();
    let filter = scope_filter(scope, "o.node_path", &mut params);
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT o.id, o.person_id, p.name, o.node_path, o.policy_version_id, a.origin_code, \
             a.arrived_on, a.symptoms_json, a.temperature_tenths \
             FROM observation o JOIN arrival a ON a.id = o.arrival_id \
             JOIN person p ON p.id = o.person_id \
             WHERE o.released_on IS NULL AND {filter} ORDER BY o.id"
        )))
        .fetch_all(db.pool())
        .await?;

    let versions: HashMap<i64, PolicyVersion> = published_policies(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.policy))
        .collect();
    let areas: Vec<RiskArea> = risk_areas(db).await?.into_iter().map(|a| a.area).collect();
    let mut communities: HashMap<String, DivisionCode> = HashMap::new();

    let mut records = Vec::with_capacity(rows.len());
    let mut about = Vec::with_capacity(rows.len());
    for r in &rows {
        let observation_id: i64 = r.try_get(0)?;
        let person_id: i64 = r.try_get(1)?;
        let person_name: String = r.try_get(2)?;
        let path: String = r.try_get(3)?;
        let version_id: Option<i64> = r.try_get(4)?;
        let origin: String = r.try_get(5)?;
        let arrived_on: String = r.try_get(6)?;
        let symptoms: String = r.try_get(7)?;
        let tenths: Option<i64> = r.try_get(8)?;

        // A record without its version cannot be compared; skipping it would hide it, so the
        // whole try fails and says which.
        let Some(version) = version_id.and_then(|id| versions.get(&id)) else {
            return Err(StoreError::Internal(format!(
                "观察记录 {observation_id} 没有可用的政策版本"
            )));
        };
        let community = match communities.get(&path) {
            Some(c) => c.clone(),
            None => {
                let parsed = JurisdictionPath::parse(&path)
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                let c = division_of(db, &parsed).await?;
                communities.insert(path.clone(), c.clone());
                c
            }
        };
        let facts = policy::Facts {
            origin_code: DivisionCode::parse(&origin)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            arrived_on: parse_date("arrived_on", &arrived_on)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            symptoms: serde_json::from_str(&symptoms).unwrap_or_default(),
            temperature: tenths
                .map(Temperature::from_tenths)
                .transpose()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            contact: None,
        };
        // The record's current plan is its own version's classification of the same facts.
        let current =
            policy::classify(version, &facts, &areas, &community, &policy::division_names)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
        about.push((
            observation_id,
            person_id,
            person_name,
            path,
            format!("{}@{}", version.key(), version.version()),
        ));
        records.push((
            community,
            ActiveRecord {
                id: observation_id,
                facts,
                current,
            },
        ));
    }

    // The pure comparison takes one community code; records of several communities are
    // compared in groups of the same code.
    let mut changes: HashMap<i64, Change> = HashMap::new();
    let mut by_community: HashMap<String, (DivisionCode, Vec<ActiveRecord>)> = HashMap::new();
    for (community, record) in records {
        by_community
            .entry(community.as_str().to_owned())
            .or_insert_with(|| (community.clone(), Vec::new()))
            .1
            .push(record);
    }
    for (community, group) in by_community.values() {
        for change in policy::what_if(
            group,
            draft,
            &areas,
            community,
            today,
            &policy::division_names,
        )
        .map_err(|e| StoreError::Internal(e.to_string()))?
        {
            changes.insert(change.id, change);
        }
    }
    about
        .into_iter()
        .map(
            |(observation_id, person_id, person_name, node_path, current_version)| {
                let change = changes
                    .remove(&observation_id)
                    .ok_or_else(|| StoreError::Internal("试算遗漏了一条记录".into()))?;
                Ok(WhatIfRow {
                    observation_id,
                    person_id,
                    person_name,
                    node_path,
                    current_version,
                    change,
                })
            },
        )
        .collect()
}

/// The next free version number of a policy key (1 for a new key).
pub async fn next_version(db: &Db, key: &str) -> Result<u32, StoreError> {
    let row = sqlx::query("SELECT MAX(version) FROM policy_version WHERE policy_key = $1")
        .bind(key)
        .fetch_one(db.pool())
        .await?;
    let max: Option<i64> = row.try_get(0)?;
    u32::try_from(max.unwrap_or(0) + 1).map_err(|_| StoreError::Internal("版本号溢出".into()))
}

/// Publishes `draft` as a new version (officials and admins). It takes effect on its date, which
/// may not lie in the past: records already classified keep the version that classified them,
/// and a version reaching back would classify later screenings of earlier days differently
/// from those made on them. The version number must be above every stored one of its key.
/// Audited.
pub async fn publish(
    db: &Db,
    scope: &Scope,
    draft: &PolicyVersion,
    now: i64,
) -> Result<i64, StoreError> {
    if !scope.can_manage_policy() {
        return Err(StoreError::Forbidden(
            "只有干部和管理员可以发布防控政策".into(),
        ));
    }
    if draft.effective_from() < today() {
        return Err(StoreError::invalid(
            "effective_from",
            format!(
                "生效日期 {} 早于今天：已发布的版本不能追溯生效",
                format_date(draft.effective_from())
            ),
        ));
    }
    let next = next_version(db, draft.key()).await?;
    if draft.version() < next {
        return Err(StoreError::Conflict {
            field: "version".into(),
            message: format!(
                "「{}」已有第 {} 版，新版本号至少为 {next}",
                draft.key(),
                next - 1
            ),
        });
    }
    let rules = serde_json::to_string(draft).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO policy_version (policy_key, version, name, effective_from, rules_json, state, \
             created_at, created_by, published_at) VALUES ($1, $2, $3, $4, $5, 'published', $6, $7, $6) \
             RETURNING id",
        )
        .bind(draft.key())
        .bind(i64::from(draft.version()))
        .bind(draft.name())
        .bind(format_date(draft.effective_from()))
        .bind(rules)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "policy.publish", "policy_version")
            .detail(json!({
                "key": draft.key(),
                "version": draft.version(),
                "effective_from": format_date(draft.effective_from()),
                "rules": draft.rules().len(),
            })),
        now,
        |e| match e {
            // Two officials publishing the same number at once: the second is told, not failed.
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                field: "version".into(),
                message: format!("「{}」第 {} 版刚刚已由他人发布", draft.key(), draft.version()),
            },
            other => StoreError::Db(other),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
