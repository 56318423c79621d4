//! Report templates in the browser (报表模板): the list of templates with their versions and the
//! other offices' layouts filled from them (everyone signed in reads it), and the editor (admins
//! only): name, deadline, reporting level and indicators — each computed from the records (one
//! of the known aggregates) or filled in (a number or a text) — with manual indicators added and
//! removed, published as a new version from an effective date that is not in the past. A
//! refused form comes back as typed, each fault beside its field. Works without JavaScript: 增加
//! 一项 posts the form and returns it with one more empty row.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::collections::{BTreeSet, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::kernel::clock::{display, format_date, parse_date, today};
use linli_core::reports::{Aggregate, IndicatorDraft, TemplateDraft};
use linli_core::{CoreError, NodeKind};
use linli_store::accounts::Principal;
use linli_store::reports::{self, mappings, StoredTemplate};
use linli_store::StoreError;

use super::{faults_by_field, field, FormFields};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::{error_page, store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/templates", get(list_page))
        .route(
            "/reports/templates/{key}/edit",
            get(edit_form).post(edit_submit),
        )
        .merge(crate::reports::pages::mappings::router())
}

// ---------------------------------------------------------------------------------------------
// The list

struct VersionRow {
    version: i64,
    effective_from: String,
    state: &'static str,
    state_class: &'static str,
    deadline: String,
    level: &'static str,
    indicators: usize,
    published: String,
}

struct TemplateBlock {
    key: String,
    name: String,
    level: &'static str,
    deadline: String,
    indicators: Vec<(String, String, String)>,
    versions: Vec<VersionRow>,
}

struct MappingBlock {
    key: String,
    name: String,
    office: String,
    source_name: String,
    version: i64,
    effective_from: String,
    columns: Vec<(String, String, String)>,
    versions: Vec<MappingVersionRow>,
}

struct MappingVersionRow {
    version: i64,
    effective_from: String,
    state: &'static str,
    state_class: &'static str,
    columns: usize,
    published: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_templates.html")]
struct ListPage {
    shell: Shell,
    templates: Vec<TemplateBlock>,
    mappings: Vec<MappingBlock>,
    notice: String,
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    published: Option<String>,
}

/// What an indicator is, in words.
fn kind_zh(kind: &linli_core::reports::IndicatorKind) -> String {
    match kind {
        linli_core::reports::IndicatorKind::Computed { aggregate } => {
            format!("系统计算：{}", aggregate.label_zh())
        }
        linli_core::reports::IndicatorKind::Manual { value } => match value {
            linli_core::reports::ManualKind::Number => "填报数字".to_owned(),
            linli_core::reports::ManualKind::Text => "填报文字".to_owned(),
        },
    }
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Response {
    let loaded = async {
        let mut versions = reports::template_versions(&state.db, &user.scope).await?;
        let mut maps = mappings::mapping_versions(&state.db, &user.scope).await?;
        // Who published each version, by name.
        let actors = versions
            .iter_mut()
            .map(|v| &mut v.created_by)
            .chain(maps.iter_mut().map(|m| &mut m.created_by))
            .collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        Ok::<_, StoreError>((versions, maps))
    }
    .await;
    let (versions, maps) = match loaded {
        Ok(x) => x,
        Err(e) => return store_error_page(e),
    };
    let day = format_date(today());
    let mut templates: Vec<TemplateBlock> = Vec::new();
    // Versions come by key, newest first: the first of a key is its newest; the first whose
    // date has come is the one in force.
    let mut in_force_seen: BTreeSet<String> = BTreeSet::new();
    for v in &versions {
        let t = &v.template;
        if templates.last().is_none_or(|b| b.key != t.key) {
            templates.push(TemplateBlock {
                key: t.key.clone(),
                name: t.name.clone(),
                level: t.level.label_zh(),
                deadline: t.deadline.to_string(),
                indicators: t
                    .indicators
                    .iter()
                    .map(|i| (i.label.clone(), i.unit.clone(), kind_zh(&i.kind)))
                    .collect(),
                versions: Vec::new(),
            });
        }
        let (state, class) = if v.effective_from > day {
            ("待生效", "pending")
        } else if in_force_seen.insert(t.key.clone()) {
            ("现行", "current")
        } else {
            ("历史", "past")
        };
        if let Some(b) = templates.last_mut() {
            b.versions.push(VersionRow {
                version: t.version,
                effective_from: v.effective_from.clone(),
                state,
                state_class: class,
                deadline: t.deadline.to_string(),
                level: t.level.label_zh(),
                indicators: t.indicators.len(),
                published: published(v),
            });
        }
    }
    // Versions come by key, newest first, as for the templates.
    let mut mappings: Vec<MappingBlock> = Vec::new();
    let mut in_force_seen: BTreeSet<String> = BTreeSet::new();
    for s in &maps {
        let m = &s.mapping;
        let (state, class) = if s.effective_from > day {
            ("待生效", "pending")
        } else if in_force_seen.insert(m.key.clone()) {
            ("现行", "current")
        } else {
            ("历史", "past")
        };
        let row = MappingVersionRow {
            version: m.version,
            effective_from: s.effective_from.clone(),
            state,
            state_class: class,
            columns: m.columns.len(),
            published: if s.created_at == 0 {
                "系统预置".to_owned()
            } else {
                format!("{} · {}", s.created_by, display(s.created_at))
            },
        };
        if let Some(b) = mappings.last_mut().filter(|b| b.key == m.key) {
            b.versions.push(row);
            continue;
        }
        mappings.push({
            let source = versions.iter().find(|v| v.template.key == m.source);
            let label = |k: &str| {
                source
                    .and_then(|v| v.template.indicator(k))
                    .map_or_else(|| k.to_owned(), |i| i.label.clone())
            };
            MappingBlock {
                key: m.key.clone(),
                name: m.name.clone(),
                office: m.office.clone(),
                source_name: source.map_or_else(|| m.source.clone(), |v| v.template.name.clone()),
                version: m.version,
                effective_from: s.effective_from.clone(),
                columns: m
                    .columns
                    .iter()
                    .map(|c| {
                        let from: Vec<String> = c.sources.iter().map(|k| label(k)).collect();
                        (c.header.clone(), c.unit.clone(), from.join(" + "))
                    })
                    .collect(),
                versions: vec![row],
            }
        });
    }
    let notice = match q.published.as_deref().map(|p| p.split_once(':')) {
        Some(Some((version, from))) => format!("已发布第 {version} 版，自 {from} 起生效。"),
        _ => String::new(),
    };
    ListPage {
        shell: Shell::of(&user, "reports"),
        templates,
        mappings,
        notice,
    }
    .into_response()
}

fn published(v: &StoredTemplate) -> String {
    if v.created_at == 0 {
        "系统预置".to_owned()
    } else {
        format!("{} · {}", v.created_by, display(v.created_at))
    }
}

// ---------------------------------------------------------------------------------------------
// The editor

/// The select value of a manual number / text indicator (the others are aggregate names).
const MANUAL_NUMBER: &str = "manual:number";
const MANUAL_TEXT: &str = "manual:text";

struct KindOption {
    value: &'static str,
    label: String,
}

/// One indicator row as typed.
struct Row {
    index: usize,
    key: String,
    /// An indicator of the published version: its key stays (the reports' history follows it).
    existing: bool,
    label: String,
    unit: String,
    kind: String,
    remove: bool,
    errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_template_edit.html")]
struct EditPage {
    shell: Shell,
    key: String,
    base_version: i64,
    base_from: String,
    name: String,
    deadline: String,
    level: String,
    effective_from: String,
    min_date: String,
    levels: Vec<(&'static str, &'static str)>,
    kinds: Vec<KindOption>,
    rows: Vec<Row>,
    errors: Vec<String>,
    field_errors: HashMap<String, Vec<String>>,
}

impl EditPage {
    fn errors_of(&self, field: &str) -> Vec<String> {
        self.field_errors.get(field).cloned().unwrap_or_default()
    }
}

fn kinds() -> Vec<KindOption> {
    let mut out: Vec<KindOption> = Aggregate::ALL
        .iter()
        .map(|a| KindOption {
            value: a.as_str(),
            label: format!("系统计算：{}", a.label_zh()),
        })
        .collect();
    out.push(KindOption {
        value: MANUAL_NUMBER,
        label: "填报：数字".to_owned(),
    });
    out.push(KindOption {
        value: MANUAL_TEXT,
        label: "填报：文字".to_owned(),
    });
    out
}

fn blank_row(index: usize) -> Row {
    Row {
        index,
        key: String::new(),
        existing: false,
        label: String::new(),
        unit: String::new(),
        kind: MANUAL_NUMBER.to_owned(),
        remove: false,
        errors: Vec::new(),
    }
}

/// Only admins edit templates; everyone else gets a 403 page.
fn admin_only(user: &Principal) -> Option<Response> {
    (!user.scope.is_admin())
        .then(|| error_page(StatusCode::FORBIDDEN, "只有管理员可以修改报表模板。"))
}

/// What the form starts from or comes back with.
struct Draft {
    name: String,
    deadline: String,
    level: String,
    effective_from: String,
    rows: Vec<Row>,
}

fn page(user: &Principal, base: &StoredTemplate, d: Draft, errors: Vec<CoreError>) -> EditPage {
    EditPage {
        shell: Shell::of(user, "reports"),
        key: base.template.key.clone(),
        base_version: base.template.version,
        base_from: base.effective_from.clone(),
        name: d.name,
        deadline: d.deadline,
        level: d.level,
        effective_from: d.effective_from,
        min_date: format_date(today()),
        levels: NodeKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_zh()))
            .collect(),
        kinds: kinds(),
        rows: d.rows,
        errors: errors
            .iter()
            .map(|e| format!("{}：{}", field_label(&e.field), e.message))
            .collect(),
        field_errors: faults_by_field(&errors),
    }
}

/// A field's name on the form, for the list of faults at the top.
fn field_label(field: &str) -> String {
    match field {
        "name" => "模板名称".to_owned(),
        "deadline" => "截止时间".to_owned(),
        "level" => "报送层级".to_owned(),
        "effective_from" => "生效日期".to_owned(),
        "key" => "模板代码".to_owned(),
        "indicators" => "指标".to_owned(),
        f => match f.strip_prefix("row").and_then(|r| r.split_once('.')) {
            Some((n, what)) => {
                let what = match what {
                    "label" => "名称",
                    "unit" => "单位",
                    "key" => "代码",
                    "kind" => "取数方式",
                    other => other,
                };
                format!(
                    "第 {} 项指标的{what}",
                    n.parse::<usize>().map_or(0, |n| n + 1)
                )
            }
            None => f.to_owned(),
        },
    }
}

async fn edit_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(key): Path<String>,
) -> Response {
    if let Some(refused) = admin_only(&user) {
        return refused;
    }
    let base = match reports::latest_template(&state.db, &user.scope, &key).await {
        Ok(b) => b,
        Err(e) => return store_error_page(e),
    };
    let t = &base.template;
    let mut rows: Vec<Row> = t
        .indicators
        .iter()
        .enumerate()
        .map(|(index, i)| Row {
            index,
            key: i.key.clone(),
            existing: true,
            label: i.label.clone(),
            unit: i.unit.clone(),
            kind: kind_value(i),
            remove: false,
            errors: Vec::new(),
        })
        .collect();
    rows.push(blank_row(rows.len()));
    let tomorrow = today().next_day().unwrap_or_else(today);
    let draft = Draft {
        name: t.name.clone(),
        deadline: t.deadline.to_string(),
        level: t.level.as_str().to_owned(),
        effective_from: format_date(tomorrow),
        rows,
    };
    page(&user, &base, draft, Vec::new()).into_response()
}

fn kind_value(i: &linli_core::reports::Indicator) -> String {
    match i.kind {
        linli_core::reports::IndicatorKind::Computed { aggregate } => aggregate.as_str().to_owned(),
        linli_core::reports::IndicatorKind::Manual { value } => match value {
            linli_core::reports::ManualKind::Number => MANUAL_NUMBER.to_owned(),
            linli_core::reports::ManualKind::Text => MANUAL_TEXT.to_owned(),
        },
    }
}

/// The rows as posted: `rows` says how many; row `i` is `r{i}.label`, `r{i}.unit`,
/// `r{i}.kind`, `r{i}.key` (read-only for existing ones, marked by `r{i}.existing`) and the
/// `r{i}.remove` box.
fn rows_of(f: &FormFields) -> Vec<Row> {
    let n = field(f, "rows")
        .trim()
        .parse::<usize>()
        .unwrap_or(0)
        .min(200);
    (0..n)
        .map(|i| {
            let get = |what: &str| field(f, &format!("r{i}.{what}")).to_owned();
            Row {
                index: i,
                key: get("key").trim().to_owned(),
                existing: get("existing") == "1",
                label: get("label"),
                unit: get("unit"),
                kind: match get("kind") {
                    k if k.is_empty() => MANUAL_NUMBER.to_owned(),
                    k => k,
                },
                remove: get("remove") == "1",
                errors: Vec::new(),
            }
        })
        .collect()
}

/// A key for a new row left without one: `item_1`, `item_2`, … (the first not taken).
fn fresh_key(taken: &BTreeSet<String>) -> String {
    (1..)
        .map(|n| format!("item_{n}"))
        .find(|k| !taken.contains(k))
        .unwrap_or_default()
}

/// The draft the rows describe (removed and empty new rows left out) and, for each of its
/// indicators, the row it came from.
fn draft_of(key: &str, f: &FormFields, rows: &mut [Row]) -> (TemplateDraft, Vec<usize>) {
    let mut taken: BTreeSet<String> = rows
        .iter()
        .filter(|r| !r.key.is_empty())
        .map(|r| r.key.clone())
        .collect();
    let mut indicators = Vec::new();
    let mut from_row = Vec::new();
    for r in rows.iter_mut() {
        let blank = !r.existing && r.label.trim().is_empty() && r.key.is_empty();
        if r.remove || blank {
            continue;
        }
        if r.key.is_empty() {
            r.key = fresh_key(&taken);
            taken.insert(r.key.clone());
        }
        let (kind, aggregate, value) = match r.kind.as_str() {
            MANUAL_NUMBER => ("manual", None, Some("number".to_owned())),
            MANUAL_TEXT => ("manual", None, Some("text".to_owned())),
            a => ("computed", Some(a.to_owned()), None),
        };
        indicators.push(IndicatorDraft {
            key: r.key.clone(),
            label: r.label.clone(),
            unit: r.unit.clone(),
            kind: kind.to_owned(),
            aggregate,
            value,
        });
        from_row.push(r.index);
    }
    (
        TemplateDraft {
            key: key.to_owned(),
            name: field(f, "name").to_owned(),
            level: field(f, "level").to_owned(),
            deadline: field(f, "deadline").to_owned(),
            indicators,
        },
        from_row,
    )
}

/// Core faults named `{list}[n].x` (n: the index in the parsed draft) renamed `{prefix}{i}.x`
/// after the form row `i` they came from (`from_row[n]`), each message also handed to
/// `attach(i, message)` to be shown beside that row. Shared by the template and layout editors.
/// The first line over a refused publication's messages.
pub(crate) const NOT_PUBLISHED: &str = "未发布：请按下面的提示修改（表单已保留您填写的内容）";

/// The store's answer to a publication with its faults (`Err(Ok)`, for the form again) set apart
/// from other errors (`Err(Err)`, for an error page).
pub(crate) fn faults_apart<T>(
    published: Result<T, StoreError>,
) -> Result<T, Result<Vec<CoreError>, StoreError>> {
    published.map_err(|e| match e {
        StoreError::Invalid(errs) => Ok(errs),
        other => Err(other),
    })
}

/// Adds the effective date's faults to `errs`: a bad date, or a good one the store would refuse
/// after the newest version's (`newest`). Said at once with the other faults (the store checks
/// again when publishing).
pub(crate) fn date_faults(
    errs: &mut Vec<CoreError>,
    from: Result<time::Date, CoreError>,
    newest: Option<&str>,
) {
    match from {
        Err(e) => errs.push(e),
        Ok(d) => {
            if let Err(StoreError::Invalid(e)) = reports::check_effective_from(d, newest) {
                errs.extend(e);
            }
        }
    }
}

pub(crate) fn place_errors<R>(
    errors: Vec<CoreError>,
    list: &str,
    prefix: &str,
    from_row: &[usize],
    rows: &mut [R],
    messages: impl Fn(&mut R) -> &mut Vec<String>,
) -> Vec<CoreError> {
    errors
        .into_iter()
        .map(|mut e| {
            let at = e
                .field
                .strip_prefix(list)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, tail)| {
                    let row = *from_row.get(n.parse::<usize>().ok()?)?;
                    Some((row, tail.trim_start_matches('.').to_owned()))
                });
            if let Some((row, what)) = at {
                if let Some(r) = rows.get_mut(row) {
                    messages(r).push(e.message.clone());
                }
                e.field = format!("{prefix}{row}.{what}");
            }
            e
        })
        .collect()
}

async fn edit_submit(
    State(state): State<AppState>,
    Path(key): Path<String>,
    form: CsrfForm<FormFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    if let Some(refused) = admin_only(&user) {
        return refused;
    }
    let base = match reports::latest_template(&state.db, &user.scope, &key).await {
        Ok(b) => b,
        Err(e) => return store_error_page(e),
    };
    let mut rows = rows_of(&f);
    let effective_from = field(&f, "effective_from").to_owned();
    let typed = |rows: Vec<Row>| Draft {
        name: field(&f, "name").to_owned(),
        deadline: field(&f, "deadline").to_owned(),
        level: field(&f, "level").to_owned(),
        effective_from: effective_from.clone(),
        rows,
    };
    if field(&f, "action") == "add" {
        rows.push(blank_row(rows.len()));
        return page(&user, &base, typed(rows), Vec::new()).into_response();
    }
    let (draft, from_row) = draft_of(&base.template.key, &f, &mut rows);
    let parsed = draft.parse();
    let from = parse_date("effective_from", &effective_from);
    let result = match (parsed, from) {
        (Ok(t), Ok(d)) => {
            faults_apart(reports::publish_template(&state.db, &user.scope, &t, d, now_ms()).await)
        }
        (t, d) => {
            let mut errs = t.err().unwrap_or_default();
            date_faults(&mut errs, d, None);
            Err(Ok(errs))
        }
    };
    match result {
        Ok(v) => Redirect::to(&format!(
            "/reports/templates?published={}:{}#t-{}",
            v.template.version, v.effective_from, v.template.key
        ))
        .into_response(),
        Err(Ok(errs)) => {
            let errs = place_errors(errs, "indicators", "row", &from_row, &mut rows, |r| {
                &mut r.errors
            });
            // The form as typed, an empty new row still at the end.
            if rows
                .last()
                .is_none_or(|r| r.existing || !r.label.trim().is_empty())
            {
                rows.push(blank_row(rows.len()));
            }
            let mut p = page(&user, &base, typed(rows), errs);
            p.errors.insert(0, NOT_PUBLISHED.to_owned());
            (StatusCode::UNPROCESSABLE_ENTITY, p).into_response()
        }
        Err(Err(e)) => store_error_page(e),
    }
}
