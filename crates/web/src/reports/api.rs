//! The daily reports JSON API (日报告): templates, a node's report for a date (computed live from
//! the records), submission (with the zero report), approval up the tree, completeness and
//! timeliness with reminders, and the report as an xlsx in the offices' layout.
//!
//! `GET /api/v1/reports/{template}/{node_id}/{date}` answers JSON, and the xlsx when the last
//! segment is `{date}.xlsx`: axum 0.8 cannot mix a parameter with a literal suffix in one
//! segment, so the segment is one parameter and the handler splits `.xlsx` off itself.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use linli_core::kernel::clock::{display, parse_date, rfc3339};
use linli_core::reports::{ManualValue, NodeRole, Template, TemplateDraft};
use linli_core::CoreError;
use linli_store::reports::mappings::{self, MappedReport, StoredMapping};
use linli_store::reports::{self, Completeness, Report, StoredTemplate, SubmitInput};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, publish_template))
        .routes(routes!(list_mappings))
        .routes(routes!(get_report))
        .routes(routes!(submit_report))
        .routes(routes!(approve_report))
        .routes(routes!(return_report))
        .routes(routes!(get_completeness))
        .routes(routes!(remind_node))
}

// ---------------------------------------------------------------------------------------------
// Shapes

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorOut {
    /// The key in `values`.
    pub key: String,
    pub label: String,
    pub unit: String,
    /// computed (from the records) or manual (typed by the reporting node).
    pub kind: String,
    /// For computed ones: the aggregate counted (arrivals_new, fevers_open …).
    pub aggregate: Option<String>,
    /// For manual ones: number or text.
    pub value: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    pub key: String,
    pub name: String,
    pub version: i64,
    /// The node kind that reports (community).
    pub level: String,
    pub level_label: String,
    /// daily.
    pub period: String,
    /// `HH:MM`, China Standard Time, on the report date.
    pub deadline: String,
    pub effective_from: String,
    pub indicators: Vec<IndicatorOut>,
}

fn indicators_of(t: &Template) -> Vec<IndicatorOut> {
    t.indicators
        .iter()
        .map(|i| IndicatorOut {
            key: i.key.clone(),
            label: i.label.clone(),
            unit: i.unit.clone(),
            kind: i.kind.as_str().to_owned(),
            aggregate: i.aggregate().map(|a| a.as_str().to_owned()),
            value: i.manual_kind().map(|k| k.as_str().to_owned()),
        })
        .collect()
}

impl From<StoredTemplate> for TemplateOut {
    fn from(s: StoredTemplate) -> Self {
        let t = &s.template;
        TemplateOut {
            key: t.key.clone(),
            name: t.name.clone(),
            version: t.version,
            level: t.level.as_str().to_owned(),
            level_label: t.level.label_zh().to_owned(),
            period: t.period.as_str().to_owned(),
            deadline: t.deadline.to_string(),
            effective_from: s.effective_from.clone(),
            indicators: indicators_of(t),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatesOut {
    pub templates: Vec<TemplateOut>,
}

/// Values by indicator key: a number, a text, or null (a manual value not reported).
pub type ValuesOut = BTreeMap<String, serde_json::Value>;

fn values_out(values: &reports::Values) -> ValuesOut {
    values
        .iter()
        .map(|(k, v)| {
            let j = match v {
                Some(ManualValue::Number(n)) => serde_json::Value::from(*n),
                Some(ManualValue::Text(t)) => serde_json::Value::from(t.clone()),
                None => serde_json::Value::Null,
            };
            (k.clone(), j)
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildOut {
    pub node_id: i64,
    pub name: String,
    pub kind: String,
    pub closed: bool,
    /// reporting, rollup or below.
    pub role: String,
    /// draft, submitted or approved.
    pub status: String,
    pub zero: bool,
    /// on_time or late; null when not submitted.
    pub timeliness: Option<String>,
    #[schema(value_type = Object)]
    pub values: ValuesOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderOut {
    pub id: i64,
    pub node_id: i64,
    pub created_at: String,
    pub created_by: String,
}

impl From<reports::Reminder> for ReminderOut {
    fn from(r: reports::Reminder) -> Self {
        ReminderOut {
            id: r.id,
            node_id: r.node_id,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportOut {
    pub template: String,
    pub template_name: String,
    pub template_version: i64,
    pub node_id: i64,
    pub node_name: String,
    pub node_kind: String,
    /// reporting (types and submits), rollup (sums the reporting nodes below) or below (reads only).
    pub role: String,
    pub date: String,
    /// draft (nothing submitted), submitted, approved (locked) or returned (sent back with a
    /// reason; submit again).
    pub status: String,
    pub status_label: String,
    /// An explicit zero report (零报告).
    pub zero: bool,
    /// Every indicator by key: computed live from the records over the node's subtree, manual
    /// ones as reported (summed from the reporting nodes below for a higher level); once
    /// approved, the figures approved.
    #[schema(value_type = Object)]
    pub values: ValuesOut,
    pub indicators: Vec<IndicatorOut>,
    /// Computed values of records placed on the node itself (not under a child).
    pub direct: BTreeMap<String, i64>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// While returned: who sent it back, when and why.
    pub returned_by: Option<String>,
    pub returned_at: Option<String>,
    pub return_reason: Option<String>,
    /// on_time or late (by the first submission); null when not submitted.
    pub timeliness: Option<String>,
    /// When the report was due: the template's deadline on the date.
    pub due_at: String,
    pub children: Vec<ChildOut>,
    pub reminders: Vec<ReminderOut>,
}

impl From<Report> for ReportOut {
    fn from(r: Report) -> Self {
        let role = |r: NodeRole| match r {
            NodeRole::Reporting => "reporting",
            NodeRole::Rollup => "rollup",
            NodeRole::Below => "below",
        };
        ReportOut {
            template: r.template.template.key.clone(),
            template_name: r.template.template.name.clone(),
            template_version: r.template.template.version,
            node_id: r.node.id,
            node_name: r.node.name.clone(),
            node_kind: r.node.kind.as_str().to_owned(),
            role: role(r.role).to_owned(),
            date: r.date.clone(),
            status: r.status.as_str().to_owned(),
            status_label: r.status.label_zh().to_owned(),
            zero: r.zero,
            values: values_out(&r.values),
            indicators: indicators_of(&r.template.template),
            direct: r.direct.clone(),
            submitted_by: r.submitted_by.clone(),
            submitted_at: r.submitted_at.map(rfc3339),
            approved_by: r.approved_by.clone(),
            approved_at: r.approved_at.map(rfc3339),
            returned_by: r.returned.as_ref().map(|x| x.by.clone()),
            returned_at: r.returned.as_ref().map(|x| rfc3339(x.at)),
            return_reason: r.returned.as_ref().map(|x| x.reason.clone()),
            timeliness: r.timeliness.map(|t| t.as_str().to_owned()),
            due_at: rfc3339(r.due_at),
            children: r
                .children
                .iter()
                .map(|c| ChildOut {
                    node_id: c.node_id,
                    name: c.name.clone(),
                    kind: c.kind.as_str().to_owned(),
                    closed: c.closed,
                    role: role(c.role).to_owned(),
                    status: c.status.as_str().to_owned(),
                    zero: c.zero,
                    timeliness: c.timeliness.map(|t| t.as_str().to_owned()),
                    values: values_out(&c.values),
                })
                .collect(),
            reminders: r.reminders.into_iter().map(ReminderOut::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissingOut {
    pub node_id: i64,
    pub name: String,
    /// Reminders already sent for this report.
    pub reminders: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletenessOut {
    /// The reporting level (community).
    pub level: String,
    /// Open nodes of the reporting level under the node (itself included), on the date.
    pub expected: i64,
    /// Submitted or approved.
    pub submitted: i64,
    pub approved: i64,
    /// Of the submitted, zero reports.
    pub zero: i64,
    pub on_time: i64,
    pub late: i64,
    /// Ids of the nodes that have not reported.
    pub missing: Vec<i64>,
    /// The same, with names and reminders sent.
    pub missing_nodes: Vec<MissingOut>,
    pub due_at: String,
}

impl From<Completeness> for CompletenessOut {
    fn from(c: Completeness) -> Self {
        CompletenessOut {
            level: c.level.as_str().to_owned(),
            expected: c.expected,
            submitted: c.submitted,
            approved: c.approved,
            zero: c.zero,
            on_time: c.on_time,
            late: c.late,
            missing: c.missing.iter().map(|m| m.node_id).collect(),
            missing_nodes: c
                .missing
                .into_iter()
                .map(|m| MissingOut {
                    node_id: m.node_id,
                    name: m.name,
                    reminders: m.reminders,
                })
                .collect(),
            due_at: rfc3339(c.due_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubmitBody {
    /// Manual values by indicator key: numbers (or numeric text) and short texts.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub manual: serde_json::Map<String, serde_json::Value>,
    /// A zero report (零报告): nothing to report; refused when the day's records show anything.
    #[serde(default)]
    pub zero: bool,
}

impl SubmitBody {
    /// The manual values as text, every wrongly typed one reported at once.
    fn input(self) -> Result<SubmitInput, ApiError> {
        let mut errors = Vec::new();
        let mut manual = Vec::new();
        for (k, v) in self.manual {
            match v {
                serde_json::Value::String(s) => manual.push((k, s)),
                serde_json::Value::Number(n) => manual.push((k, n.to_string())),
                serde_json::Value::Null => manual.push((k, String::new())),
                _ => errors.push(CoreError::invalid(format!("manual.{k}"), "应为数字或文字")),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors).into());
        }
        Ok(SubmitInput {
            manual,
            zero: self.zero,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn date(raw: &str) -> Result<time::Date, ApiError> {
    parse_date("date", raw).map_err(|e| StoreError::from(e).into())
}

/// A node's report of a day as its path names it: `/api/v1/reports/{template}/{node_id}/{date}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReportPath {
    /// template key
    pub template: String,
    /// node id
    pub node_id: i64,
    /// YYYY-MM-DD
    pub date: String,
}

impl ReportPath {
    /// The template, the node and the day (a bad date is refused in the API's error shape).
    fn parts(self) -> Result<(String, i64, time::Date), ApiError> {
        let day = date(&self.date)?;
        Ok((self.template, self.node_id, day))
    }
}

/// The report templates (newest version of each): the preset `epidemic-daily` (疫情防控日报表).
#[utoipa::path(get, path = "/api/v1/reports/templates", tag = "reports",
    responses((status = 200, body = TemplatesOut)))]
async fn list_templates(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<TemplatesOut>> {
    let all = reports::templates(&state.db, &user.scope).await?;
    Ok(Json(TemplatesOut {
        templates: all.into_iter().map(TemplateOut::from).collect(),
    }))
}

/// A new version of a template, as the editor posts it. `indicators` take the shape the list
/// gives (`kind` computed with `aggregate`, or manual with `value` number or text).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TemplateIn {
    /// An existing key publishes its next version; a new key starts at version 1.
    pub key: String,
    pub name: String,
    /// The node kind that reports (community).
    pub level: String,
    /// `HH:MM`, China time.
    pub deadline: String,
    /// `YYYY-MM-DD`, today or later (past reports keep their version).
    pub effective_from: String,
    pub indicators: Vec<IndicatorIn>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct IndicatorIn {
    pub key: String,
    pub label: String,
    pub unit: String,
    /// computed or manual.
    pub kind: String,
    /// For computed ones: arrivals_new, under_centralized_quarantine, …
    pub aggregate: Option<String>,
    /// For manual ones: number or text.
    pub value: Option<String>,
}

/// Publish a new version of a report template (admins): a changed deadline, level or
/// indicators, effective from a date that is not in the past; reports of earlier dates keep
/// their version. Every bad field is named at once (422); nothing is stored then. Audited.
#[utoipa::path(post, path = "/api/v1/reports/templates", tag = "reports",
    request_body = TemplateIn,
    responses((status = 201, body = TemplateOut), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn publish_template(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(body): Json<TemplateIn>,
) -> ApiResult<(StatusCode, Json<TemplateOut>)> {
    if !user.scope.is_admin() {
        return Err(StoreError::Forbidden("只有管理员可以修改报表模板".into()).into());
    }
    let draft = TemplateDraft {
        key: body.key,
        name: body.name,
        level: body.level,
        deadline: body.deadline,
        indicators: body
            .indicators
            .into_iter()
            .map(|i| linli_core::reports::IndicatorDraft {
                key: i.key,
                label: i.label,
                unit: i.unit,
                kind: i.kind,
                aggregate: i.aggregate,
                value: i.value,
            })
            .collect(),
    };
    let parsed = draft.parse();
    let from = parse_date("effective_from", &body.effective_from);
    let (template, from) = match (parsed, from) {
        (Ok(t), Ok(d)) => (t, d),
        (t, d) => {
            let mut errors = t.err().unwrap_or_default();
            match d {
                Err(e) => errors.push(e),
                // Said at once with the other faults (the store checks again when publishing).
                Ok(d) => {
                    if let Err(StoreError::Invalid(e)) = reports::check_effective_from(d, None) {
                        errors.extend(e);
                    }
                }
            }
            return Err(StoreError::Invalid(errors).into());
        }
    };
    let stored =
        reports::publish_template(&state.db, &user.scope, &template, from, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnOut {
    /// The key in a mapped report's `values`.
    pub key: String,
    pub header: String,
    pub unit: String,
    /// The source template's indicators that fill it: one, or several summed.
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingOut {
    pub key: String,
    /// The form's title (疫情防控每日统计表).
    pub name: String,
    /// The office whose layout it is (卫健局).
    pub office: String,
    /// The template whose indicators fill the columns.
    pub source: String,
    pub version: i64,
    pub effective_from: String,
    /// The header of the reporting units' column.
    pub unit_header: String,
    pub columns: Vec<ColumnOut>,
}

fn columns_of(m: &linli_core::reports::mapping::Mapping) -> Vec<ColumnOut> {
    m.columns
        .iter()
        .map(|c| ColumnOut {
            key: c.key.clone(),
            header: c.header.clone(),
            unit: c.unit.clone(),
            sources: c.sources.clone(),
        })
        .collect()
}

impl From<StoredMapping> for MappingOut {
    fn from(s: StoredMapping) -> Self {
        let m = &s.mapping;
        MappingOut {
            key: m.key.clone(),
            name: m.name.clone(),
            office: m.office.clone(),
            source: m.source.clone(),
            version: m.version,
            effective_from: s.effective_from.clone(),
            unit_header: m.unit_header.clone(),
            columns: columns_of(m),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingsOut {
    pub mappings: Vec<MappingOut>,
}

/// Other offices' layouts of the report templates (collect once, fill many): the preset
/// `health-bureau-daily` (卫健局「疫情防控每日统计表」). A layout's key takes a template's place
/// in `GET /api/v1/reports/{template}/{node_id}/{date}` (and `.xlsx`).
#[utoipa::path(get, path = "/api/v1/reports/mappings", tag = "reports",
    responses((status = 200, body = MappingsOut)))]
async fn list_mappings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<MappingsOut>> {
    let all = mappings::mappings(&state.db, &user.scope).await?;
    Ok(Json(MappingsOut {
        mappings: all.into_iter().map(MappingOut::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappedRowOut {
    /// null for 本级直属 (records placed on the node itself).
    pub node_id: Option<i64>,
    pub name: String,
    pub closed: bool,
    /// By column key.
    #[schema(value_type = Object)]
    pub values: ValuesOut,
}

/// A node's report in another office's layout: the source report's numbers, column by column.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappedReportOut {
    pub mapping: String,
    pub mapping_name: String,
    pub office: String,
    pub mapping_version: i64,
    /// The template the numbers come from, and its version on the date.
    pub source: String,
    pub source_version: i64,
    pub node_id: i64,
    pub node_name: String,
    pub date: String,
    /// The source report's status: draft, submitted or approved.
    pub status: String,
    pub status_label: String,
    pub zero: bool,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub unit_header: String,
    pub columns: Vec<ColumnOut>,
    /// The node's own figures (the total row), by column key.
    #[schema(value_type = Object)]
    pub values: ValuesOut,
    /// One row per child node (and 本级直属 when records sit on the node itself).
    pub rows: Vec<MappedRowOut>,
}

fn cells_out(
    m: &linli_core::reports::mapping::Mapping,
    cells: &[Option<ManualValue>],
) -> ValuesOut {
    let values: reports::Values = m
        .columns
        .iter()
        .zip(cells)
        .map(|(c, v)| (c.key.clone(), v.clone()))
        .collect();
    values_out(&values)
}

impl From<MappedReport> for MappedReportOut {
    fn from(r: MappedReport) -> Self {
        let m = &r.mapping.mapping;
        let s = &r.source;
        MappedReportOut {
            mapping: m.key.clone(),
            mapping_name: m.name.clone(),
            office: m.office.clone(),
            mapping_version: m.version,
            source: m.source.clone(),
            source_version: s.template.template.version,
            node_id: s.node.id,
            node_name: s.node.name.clone(),
            date: s.date.clone(),
            status: s.status.as_str().to_owned(),
            status_label: s.status.label_zh().to_owned(),
            zero: s.zero,
            submitted_by: s.submitted_by.clone(),
            submitted_at: s.submitted_at.map(rfc3339),
            approved_by: s.approved_by.clone(),
            approved_at: s.approved_at.map(rfc3339),
            unit_header: m.unit_header.clone(),
            columns: columns_of(m),
            values: cells_out(m, &r.total),
            rows: r
                .rows
                .iter()
                .map(|row| MappedRowOut {
                    node_id: row.node_id,
                    name: row.name.clone(),
                    closed: row.closed,
                    values: cells_out(m, &row.cells),
                })
                .collect(),
        }
    }
}

/// The answer of `GET /api/v1/reports/{template}/…`: a template's report, or a report in
/// another office's layout when the key is a mapping's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ReportAnswer {
    Report(Box<ReportOut>),
    Mapped(Box<MappedReportOut>),
}

fn xlsx_failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "report xlsx");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "报表文件生成失败，请稍后重试",
    )
}

/// A workbook written off the async threads.
async fn xlsx_of(
    write: impl FnOnce() -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> + Send + 'static,
    name: &str,
) -> ApiResult<Response> {
    let bytes = tokio::task::spawn_blocking(write)
        .await
        .map_err(xlsx_failed)?
        .map_err(xlsx_failed)?;
    Ok(crate::ui::xlsx_response(bytes, name))
}

/// A node's report for a date: `values` computed live from the records over the node's subtree
/// (manual ones as reported), status, who submitted and approved it and when, and a line per
/// child. With `{date}` given as `YYYY-MM-DD.xlsx` the answer is the report as an xlsx in the
/// offices' layout (title, date, one row per child node, a total row, units). With a mapping's
/// key (`health-bureau-daily`) in place of the template, the same numbers come in that office's
/// layout (collect once, fill many): `values` and each row by column key, and the xlsx in its
/// column order. The `.xlsx` is part of the same path segment: axum 0.8 cannot mix a parameter
/// with a literal suffix in one segment, so the handler splits it off.
#[utoipa::path(get, path = "/api/v1/reports/{template}/{node_id}/{date}", tag = "reports",
    params(("template" = String, Path, description = "template key (epidemic-daily), or a mapping key (health-bureau-daily) for another office's layout"),
           ("node_id" = i64, Path, description = "node id"),
           ("date" = String, Path, description = "YYYY-MM-DD, or YYYY-MM-DD.xlsx for the workbook")),
    responses((status = 200, content((ReportAnswer = "application/json"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_report(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((template, node_id, raw)): Path<(String, i64, String)>,
) -> ApiResult<Response> {
    let (raw, xlsx) = match raw.strip_suffix(".xlsx") {
        Some(d) => (d, true),
        None => (raw.as_str(), false),
    };
    let d = date(raw)?;
    if mappings::is_mapping(&state.db, &template).await? {
        let mapped = mappings::mapped_report(&state.db, &user.scope, &template, node_id, d).await?;
        if !xlsx {
            let out = MappedReportOut::from(mapped);
            return Ok(Json(ReportAnswer::Mapped(Box::new(out))).into_response());
        }
        let name = format!("{template}-{node_id}-{}.xlsx", mapped.source.date);
        return xlsx_of(move || mapped_xlsx(&mapped), &name).await;
    }
    let report = reports::report(&state.db, &user.scope, &template, node_id, d).await?;
    if !xlsx {
        let out = ReportOut::from(report);
        return Ok(Json(ReportAnswer::Report(Box::new(out))).into_response());
    }
    let name = format!(
        "{}-{}-{}.xlsx",
        report.template.template.key, node_id, report.date
    );
    xlsx_of(move || report_xlsx(&report), &name).await
}

/// Submit (or correct, until approved) a node's report: staff of the node or above. `manual`
/// holds the manual values; `zero: true` is a zero report, refused (422, field `zero`, naming
/// each indicator) when the day's records show anything. A higher level submits no manual values
/// and only once every reporting node below is approved. Audited.
#[utoipa::path(post, path = "/api/v1/reports/{template}/{node_id}/{date}/submit", tag = "reports",
    params(ReportPath),
    request_body = SubmitBody,
    responses((status = 200, body = ReportOut), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_report(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(at): Path<ReportPath>,
    Json(body): Json<SubmitBody>,
) -> ApiResult<Json<ReportOut>> {
    let (template, node_id, d) = at.parts()?;
    let input = body.input()?;
    let r = reports::submit(
        &state.db,
        &user.scope,
        &template,
        node_id,
        d,
        &input,
        now_ms(),
    )
    .await?;
    Ok(Json(r.into()))
}

/// Approve a submitted report: officials or staff of a level above the node. A higher level's
/// report is approved only once every reporting node below is approved. Approved reports are
/// locked. Audited.
#[utoipa::path(post, path = "/api/v1/reports/{template}/{node_id}/{date}/approve", tag = "reports",
    params(ReportPath),
    responses((status = 200, body = ReportOut), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn approve_report(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(at): Path<ReportPath>,
) -> ApiResult<Json<ReportOut>> {
    let (template, node_id, d) = at.parts()?;
    let r = reports::approve(&state.db, &user.scope, &template, node_id, d, now_ms()).await?;
    Ok(Json(r.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportReturnBody {
    /// Why it goes back (1–200 characters), shown to the node on its report.
    pub reason: String,
}

/// Return (退回) a submitted report with a reason: whoever may approve it. The node corrects it
/// and submits again; until then it counts as not reported. Audited.
#[utoipa::path(post, path = "/api/v1/reports/{template}/{node_id}/{date}/return", tag = "reports",
    params(ReportPath), request_body = ReportReturnBody,
    responses((status = 200, body = ReportOut), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn return_report(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(at): Path<ReportPath>,
    Json(b): Json<ReportReturnBody>,
) -> ApiResult<Json<ReportOut>> {
    let (template, node_id, d) = at.parts()?;
    let r = reports::return_report(
        &state.db,
        &user.scope,
        &template,
        node_id,
        d,
        &b.reason,
        now_ms(),
    )
    .await?;
    Ok(Json(r.into()))
}

/// Completeness and timeliness under a node: the open reporting-level nodes expected, how many
/// submitted (on time, late), and which are missing.
#[utoipa::path(get, path = "/api/v1/reports/{template}/{node_id}/{date}/completeness", tag = "reports",
    params(ReportPath),
    responses((status = 200, body = CompletenessOut), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn get_completeness(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(at): Path<ReportPath>,
) -> ApiResult<Json<CompletenessOut>> {
    let (template, node_id, d) = at.parts()?;
    let c = reports::completeness(&state.db, &user.scope, &template, node_id, d).await?;
    Ok(Json(c.into()))
}

/// Remind a reporting node that has not reported (officials or staff above it). Its staff see
/// the reminder on the report. Audited.
#[utoipa::path(post, path = "/api/v1/reports/{template}/{node_id}/{date}/remind", tag = "reports",
    params(ReportPath),
    responses((status = 201, body = ReminderOut), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remind_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(at): Path<ReportPath>,
) -> ApiResult<(StatusCode, Json<ReminderOut>)> {
    let (template, node_id, d) = at.parts()?;
    let r = reports::remind(&state.db, &user.scope, &template, node_id, d, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

// ---------------------------------------------------------------------------------------------
// The workbook

/// The cell formats both report workbooks use (a template's layout and a mapped one), and the
/// parts of the sheet both lay out alike.
struct SheetFormats {
    title: rust_xlsxwriter::Format,
    head: rust_xlsxwriter::Format,
    cell: rust_xlsxwriter::Format,
    num: rust_xlsxwriter::Format,
    total_name: rust_xlsxwriter::Format,
    total_num: rust_xlsxwriter::Format,
}

type Sheet = rust_xlsxwriter::Worksheet;
type XlsxResult<T = ()> = Result<T, rust_xlsxwriter::XlsxError>;

impl SheetFormats {
    fn new() -> SheetFormats {
        use rust_xlsxwriter::{Format, FormatAlign, FormatBorder};
        let bordered = Format::new().set_border(FormatBorder::Thin);
        SheetFormats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            head: bordered
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            num: bordered.clone().set_num_format("0"),
            total_name: bordered.clone().set_bold(),
            total_num: bordered.clone().set_bold().set_num_format("0"),
            cell: bordered,
        }
    }

    /// Rows 0 to 3: the title and the status line across the `cols` columns, then 序号, the
    /// units' column (`unit_header`) and one column per `(header, unit)`, each unit in brackets
    /// on the row below its header.
    fn write_heading<'a>(
        &self,
        sheet: &mut Sheet,
        cols: u16,
        title: &str,
        status: &str,
        unit_header: &str,
        columns: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> XlsxResult {
        sheet.merge_range(0, 0, 0, cols - 1, title, &self.title)?;
        sheet.merge_range(1, 0, 1, cols - 1, status, &rust_xlsxwriter::Format::new())?;
        sheet.write_with_format(2, 0, "序号", &self.head)?;
        sheet.write_with_format(2, 1, unit_header, &self.head)?;
        sheet.write_with_format(3, 0, "", &self.head)?;
        sheet.write_with_format(3, 1, "", &self.head)?;
        for (i, (header, unit)) in columns.enumerate() {
            let c = 2 + i as u16;
            sheet.write_with_format(2, c, header, &self.head)?;
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!("（{unit}）")
            };
            sheet.write_with_format(3, c, unit, &self.head)?;
        }
        Ok(())
    }

    /// The value cells of one row from column 2: numbers as number cells (bold in the total
    /// row), so the office can sum them.
    fn write_values<'a>(
        &self,
        sheet: &mut Sheet,
        row: u32,
        values: impl Iterator<Item = Option<&'a ManualValue>>,
        bold: bool,
    ) -> XlsxResult {
        for (i, v) in values.enumerate() {
            let c = 2 + i as u16;
            match v {
                Some(ManualValue::Number(n)) => {
                    let f = if bold { &self.total_num } else { &self.num };
                    sheet.write_number_with_format(row, c, *n as f64, f)?;
                }
                Some(ManualValue::Text(s)) => {
                    sheet.write_with_format(row, c, s, &self.cell)?;
                }
                None => {
                    sheet.write_with_format(row, c, "", &self.cell)?;
                }
            }
        }
        Ok(())
    }

    /// The unit's name in column 1, marked when the node is closed.
    fn write_unit(&self, sheet: &mut Sheet, row: u32, name: &str, closed: bool) -> XlsxResult {
        let name = if closed {
            format!("{name}（已撤销）")
        } else {
            name.to_owned()
        };
        sheet.write_with_format(row, 1, name, &self.cell)?;
        Ok(())
    }

    /// The 合计 label of the total row.
    fn write_total_label(&self, sheet: &mut Sheet, row: u32) -> XlsxResult {
        sheet.write_with_format(row, 0, "", &self.total_name)?;
        sheet.write_with_format(row, 1, "合计", &self.total_name)?;
        Ok(())
    }
}

/// Under the table: a line two rows down, the widths of 序号, the units' column and the value
/// columns (`text` ones wider), the header row's height and the frozen panes.
fn finish_sheet(
    sheet: &mut Sheet,
    row: u32,
    footer: String,
    text: impl Iterator<Item = bool>,
) -> XlsxResult {
    sheet.write(row + 2, 0, footer)?;
    sheet.set_column_width(0, 6)?;
    sheet.set_column_width(1, 18)?;
    for (i, text) in text.enumerate() {
        sheet.set_column_width(2 + i as u16, if text { 30 } else { 12 })?;
    }
    sheet.set_row_height(2, 32)?;
    sheet.set_freeze_panes(4, 2)?;
    Ok(())
}

/// A template's values in the order of its indicators.
fn in_order<'a>(
    t: &'a Template,
    values: &'a reports::Values,
) -> impl Iterator<Item = Option<&'a ManualValue>> + 'a {
    t.indicators
        .iter()
        .map(|ind| values.get(&ind.key).and_then(Option::as_ref))
}

/// The report in the offices' layout: a title, the date and status, a header of indicators with
/// their units, one row per child node (本级直属 when records sit on the node itself), a total
/// row, and who submitted and approved it. Numbers are number cells, so the office can sum them.
pub fn report_xlsx(r: &Report) -> XlsxResult<Vec<u8>> {
    let t = &r.template.template;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("日报表")?;
    let mut f = SheetFormats::new();
    // Our own layout's header is tinted; another office's stays plain, as their forms print.
    f.head = f
        .head
        .set_background_color(rust_xlsxwriter::Color::RGB(0xDD_EB_F7));

    // 序号, 单位, one column per indicator, 报送情况.
    let cols = 3 + t.indicators.len() as u16;
    let status = format!(
        "报告日期：{}　截止时间：{}　状态：{}{}",
        r.date,
        t.deadline,
        r.status_line_zh(),
        if r.zero { "　零报告" } else { "" }
    );
    let columns = t
        .indicators
        .iter()
        .map(|i| (i.label.as_str(), i.unit.as_str()));
    f.write_heading(
        sheet,
        cols,
        &format!("{}{}", r.node.name, t.name),
        &status,
        "单位",
        columns,
    )?;
    let last = cols - 1;
    sheet.write_with_format(2, last, "报送情况", &f.head)?;
    sheet.write_with_format(3, last, "", &f.head)?;
    let mut row = 4u32;
    for (i, child) in r.children.iter().enumerate() {
        sheet.write_number_with_format(row, 0, (i + 1) as f64, &f.cell)?;
        f.write_unit(sheet, row, &child.name, child.closed)?;
        f.write_values(sheet, row, in_order(t, &child.values), false)?;
        let mut state = child.status.label_zh().to_owned();
        if child.zero {
            state.push_str("·零报告");
        }
        if child.timeliness == Some(linli_core::reports::Timeliness::Late) {
            state.push_str("·迟报");
        }
        if child.role == NodeRole::Below {
            state.clear();
        }
        sheet.write_with_format(row, last, state, &f.cell)?;
        row += 1;
    }
    if r.direct.values().any(|n| *n != 0) || r.children.is_empty() || r.role == NodeRole::Reporting
    {
        let direct: Vec<Option<ManualValue>> = t
            .indicators
            .iter()
            .map(|i| {
                r.direct
                    .get(&i.key)
                    .map(|n| ManualValue::Number(*n))
                    .or_else(|| {
                        // The node's own manual values when it reports itself.
                        if r.children.is_empty() || r.role == NodeRole::Reporting {
                            r.values.get(&i.key).cloned().flatten()
                        } else {
                            None
                        }
                    })
            })
            .collect();
        sheet.write_with_format(row, 0, "", &f.cell)?;
        sheet.write_with_format(row, 1, "本级直属", &f.cell)?;
        f.write_values(sheet, row, direct.iter().map(Option::as_ref), false)?;
        sheet.write_with_format(row, last, "", &f.cell)?;
        row += 1;
    }
    f.write_total_label(sheet, row)?;
    f.write_values(sheet, row, in_order(t, &r.values), true)?;
    sheet.write_with_format(row, last, "", &f.total_name)?;
    sheet.set_column_width(last, 16)?;
    let footer = format!(
        "填报单位：{}　导出时间：{}",
        r.node.name,
        display(linli_core::kernel::clock::now_ms())
    );
    finish_sheet(
        sheet,
        row,
        footer,
        t.indicators.iter().map(|i| !i.is_number()),
    )?;
    book.save_to_buffer()
}

/// A report in another office's layout: the form's title, the date and the source report's
/// status, the form's headers and units in its own order, one row per child node (and
/// 本级直属), a total row, and a line saying where the numbers come from. Number cells stay
/// numbers, so the office can check the sums.
pub fn mapped_xlsx(r: &MappedReport) -> XlsxResult<Vec<u8>> {
    let m = &r.mapping.mapping;
    let s = &r.source;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    // Excel's rules for a sheet name: at most 31 characters, none of []:*?/\.
    let tab: String = m
        .name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\' | '\''))
        .take(31)
        .collect();
    sheet.set_name(if tab.trim().is_empty() {
        "表样"
    } else {
        tab.as_str()
    })?;
    let f = SheetFormats::new();

    // 序号, the units' column, then the form's columns.
    let cols = 2 + m.columns.len() as u16;
    let status = format!(
        "填报单位：{}　日期：{}　状态：{}{}",
        s.node.name,
        s.date,
        s.status_line_zh(),
        if s.zero { "　零报告" } else { "" }
    );
    let columns = m
        .columns
        .iter()
        .map(|c| (c.header.as_str(), c.unit.as_str()));
    let title = format!("{}{}", s.node.name, m.name);
    f.write_heading(sheet, cols, &title, &status, &m.unit_header, columns)?;
    let mut row = 4u32;
    let mut n = 0;
    for line in &r.rows {
        if line.node_id.is_some() {
            n += 1;
            sheet.write_number_with_format(row, 0, n as f64, &f.cell)?;
        } else {
            sheet.write_with_format(row, 0, "", &f.cell)?;
        }
        f.write_unit(sheet, row, &line.name, line.closed)?;
        f.write_values(sheet, row, line.cells.iter().map(Option::as_ref), false)?;
        row += 1;
    }
    f.write_total_label(sheet, row)?;
    f.write_values(sheet, row, r.total.iter().map(Option::as_ref), true)?;
    let footer = format!(
        "数据来源：{}（第 {} 版），由系统按{}表样自动生成，无需重复填报。导出时间：{}",
        s.template.template.name,
        s.template.template.version,
        m.office,
        display(linli_core::kernel::clock::now_ms())
    );
    let text = m.columns.iter().map(|c| {
        c.sources.len() == 1
            && s.template
                .template
                .indicator(&c.sources[0])
                .is_some_and(|ind| !ind.is_number())
    });
    finish_sheet(sheet, row, footer, text)?;
    book.save_to_buffer()
}
