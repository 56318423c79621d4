//! Collect once, fill many: other offices' form layouts (`linli_core::reports::mapping`) stored as
//! versioned data, and a node's report of a date laid out in one of them.
//!
//! A mapped report is the source template's report (`reports::report`, same scope, same live
//! values) with every row put through [`Mapping::apply`]: nothing is counted or typed twice, so
//! its numbers are the source report's numbers by construction.

use linli_core::kernel::clock::format_date;
use linli_core::reports::mapping::Mapping;
use linli_core::reports::ManualValue;
use linli_core::{CoreError, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::{internal, latest_template, next_version, read_layouts, report, Report, Versioned};
use crate::infra::audit::{self, AuditEntry};
use crate::{Db, StoreError};

/// A stored mapping version.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMapping {
    pub id: i64,
    /// The first date this version applies to (`YYYY-MM-DD`).
    pub effective_from: String,
    pub created_at: i64,
    pub created_by: String,
    pub mapping: Mapping,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredMapping, StoreError> {
    let json: String = r.try_get("definition_json")?;
    Ok(StoredMapping {
        id: r.try_get("id")?,
        effective_from: r.try_get("effective_from")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        mapping: serde_json::from_str(&json).map_err(internal)?,
    })
}

/// The newest version of every mapping (layouts hold no personal data: every signed-in role
/// reads them; an empty scope reads nothing).
pub async fn mappings(db: &Db, scope: &Scope) -> Result<Vec<StoredMapping>, StoreError> {
    let rows = read_layouts(db, scope, &Versioned::Mapping.newest()).await?;
    rows.iter().map(from_row).collect()
}

/// Every version of every mapping, by key, newest version first: the list's history (which
/// version is in force for which dates). Same readers as [`mappings`].
pub async fn mapping_versions(db: &Db, scope: &Scope) -> Result<Vec<StoredMapping>, StoreError> {
    let rows = read_layouts(db, scope, &Versioned::Mapping.history()).await?;
    rows.iter().map(from_row).collect()
}

/// The version of mapping `key` in force on `date`. Unknown (or not yet in force): `NotFound`.
pub async fn mapping_on(db: &Db, key: &str, date: time::Date) -> Result<StoredMapping, StoreError> {
    from_row(&Versioned::Mapping.in_force(db, key, date).await?)
}

/// Publishes a new version of a mapping (admins), checked against the newest version of its
/// source template, effective from today or later. A new key starts at version 1 and may not
/// be a template's key. Every broken rule at once; nothing stored then. Audited.
pub async fn publish_mapping(
    db: &Db,
    scope: &Scope,
    mapping: &Mapping,
    effective_from: time::Date,
    now: i64,
) -> Result<StoredMapping, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden("只有管理员可以修改报表表样".into()));
    }
    let source = match latest_template(db, scope, &mapping.source).await {
        Ok(s) => s.template,
        Err(StoreError::NotFound) => {
            return Err(StoreError::Invalid(vec![CoreError::invalid(
                "source",
                format!("没有代码为「{}」的报表模板", mapping.source),
            )]))
        }
        Err(e) => return Err(e),
    };
    let mut tx = db.begin_write().await?;
    let (version, mut errors) =
        next_version(&mut tx, Versioned::Mapping, &mapping.key, effective_from).await?;
    let mut m = mapping.clone();
    m.version = version;
    if let Err(e) = m.validate(&source) {
        errors.splice(0..0, e);
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let json = serde_json::to_string(&m).map_err(internal)?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO report_mapping (mapping_key, version, name, source_key, effective_from, definition_json, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&m.key)
        .bind(m.version)
        .bind(&m.name)
        .bind(&m.source)
        .bind(format_date(effective_from))
        .bind(&json)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "report_mapping.publish", "report_mapping")
            .detail(
                json!({"key": m.key, "version": m.version, "source": m.source,
                "effective_from": format_date(effective_from)}),
            ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StoredMapping {
        id,
        effective_from: format_date(effective_from),
        created_at: now,
        created_by: scope.actor().to_owned(),
        mapping: m,
    })
}

/// One row of a mapped report: a child (or 本级直属) with its cells in the mapping's columns.
#[derive(Debug, Clone, Serialize)]
pub struct MappedRow {
    /// `None` for 本级直属.
    pub node_id: Option<i64>,
    pub name: String,
    pub closed: bool,
    pub cells: Vec<Option<ManualValue>>,
}

/// A node's report of a date in another office's layout.
#[derive(Debug, Clone, Serialize)]
pub struct MappedReport {
    pub mapping: StoredMapping,
    /// The source report the numbers come from (its status, who submitted and approved it).
    pub source: Report,
    pub rows: Vec<MappedRow>,
    /// The node's own figures (the total row) in the mapping's columns.
    pub total: Vec<Option<ManualValue>>,
}

/// The report of `node_id` on `date` in mapping `key`'s layout: the source template's report
/// (same scope rules: outside the caller's jurisdiction is `NotFound`) with each row and the
/// total laid out in the mapping's columns.
pub async fn mapped_report(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<MappedReport, StoreError> {
    let mapping = mapping_on(db, key, date).await?;
    let source = report(db, scope, &mapping.mapping.source, node_id, date).await?;
    let m = &mapping.mapping;
    let rows = source
        .lines()
        .into_iter()
        .map(|l| MappedRow {
            node_id: l.node_id,
            name: l.name,
            closed: l.closed,
            cells: m.apply(&l.values),
        })
        .collect();
    let total = m.apply(&source.values);
    Ok(MappedReport {
        mapping,
        source,
        rows,
        total,
    })
}

/// Whether `key` names a mapping (any version): how the shared URL
/// `/api/v1/reports/{key}/…` tells a mapping from a template.
pub async fn is_mapping(db: &Db, key: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM report_mapping WHERE mapping_key = $1 LIMIT 1")
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}
