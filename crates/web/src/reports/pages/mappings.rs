//! Other offices' form layouts in the browser (表样编辑, admins only): a new layout, or a new
//! version of one, published from an effective date. A layout has its title, the office, the
//! header of the units' column and its columns in the office's order — each a heading, a unit
//! and the source template's indicator(s) that fill it (several are added up). Server-rendered
//! and usable without JavaScript: 增加一列 posts the form and returns it with one more empty
//! column, and every column offers one more empty 「加上」 choice, so a sum grows one indicator
//! per round trip. A refused form comes back as typed, each fault beside its column.

use linli_core::kernel::clock::now_ms;
use std::collections::{BTreeSet, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::reports::mapping::{Column, Mapping};
use linli_core::reports::{ManualKind, EPIDEMIC_DAILY};
use linli_core::CoreError;
use linli_store::accounts::Principal;
use linli_store::reports::mappings::{self, StoredMapping};
use linli_store::reports::{self, StoredTemplate};
use linli_store::StoreError;
use serde::Deserialize;

use super::templates::{date_faults, faults_apart, place_errors, NOT_PUBLISHED};
use super::{faults_by_field, field, FormFields};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::{error_page, store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/mappings/new", get(new_form).post(new_submit))
        .route(
            "/reports/mappings/{key}/edit",
            get(edit_form).post(edit_submit),
        )
}

/// The most indicators one column adds up (the form's `c{i}.s{j}` selects, `j` below this).
const MAX_SOURCES: usize = 12;
/// The most columns a posted form is read for.
const MAX_COLUMNS: usize = 100;

struct Opt {
    value: String,
    label: String,
}

/// One indicator choice of a column as typed; `unknown` when the source template has no such
/// indicator (kept and shown, so the refusal names what was sent).
struct Source {
    value: String,
    unknown: bool,
}

/// One column as typed.
struct ColRow {
    index: usize,
    /// Empty for a new column until published (then made from its indicator).
    key: String,
    /// A column of the published version: its key stays (the API's values follow it).
    existing: bool,
    header: String,
    unit: String,
    /// The chosen indicators, then one empty choice to add another.
    sources: Vec<Source>,
    remove: bool,
    errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_mapping_edit.html")]
struct EditPage {
    shell: Shell,
    is_new: bool,
    /// Where the form posts.
    action: String,
    /// 「以第 N 版（… 起）为底稿」 for a new version; empty for a new layout.
    base: String,
    key: String,
    source: String,
    source_name: String,
    /// The templates a new layout may be filled from.
    templates: Vec<Opt>,
    name: String,
    office: String,
    unit_header: String,
    effective_from: String,
    min_date: String,
    indicators: Vec<Opt>,
    rows: Vec<ColRow>,
    errors: Vec<String>,
    field_errors: HashMap<String, Vec<String>>,
}

impl EditPage {
    fn errors_of(&self, field: &str) -> Vec<String> {
        self.field_errors.get(field).cloned().unwrap_or_default()
    }
}

/// Only admins edit layouts; everyone else gets a 403 page.
fn admin_only(user: &Principal) -> Option<Response> {
    (!user.scope.is_admin())
        .then(|| error_page(StatusCode::FORBIDDEN, "只有管理员可以修改报表表样。"))
}

/// The source template's indicators as choices: label, unit, and whether it is text (text
/// columns are copied, never added up).
fn indicator_options(source: Option<&StoredTemplate>) -> Vec<Opt> {
    let Some(s) = source else {
        return Vec::new();
    };
    s.template
        .indicators
        .iter()
        .map(|i| {
            let mut label = i.label.clone();
            if !i.unit.is_empty() {
                label.push_str(&format!("（{}）", i.unit));
            }
            if i.manual_kind() == Some(ManualKind::Text) {
                label.push_str("（文字）");
            }
            Opt {
                value: i.key.clone(),
                label,
            }
        })
        .collect()
}

fn sources_of(chosen: &[String], source: Option<&StoredTemplate>) -> Vec<Source> {
    chosen
        .iter()
        .map(|k| Source {
            value: k.clone(),
            unknown: source.is_none_or(|s| s.template.indicator(k).is_none()),
        })
        .chain(std::iter::once(Source {
            value: String::new(),
            unknown: false,
        }))
        .collect()
}

fn blank_row(index: usize) -> ColRow {
    ColRow {
        index,
        key: String::new(),
        existing: false,
        header: String::new(),
        unit: String::new(),
        sources: sources_of(&[], None),
        remove: false,
        errors: Vec::new(),
    }
}

/// What the form starts from or comes back with.
struct Draft {
    key: String,
    name: String,
    office: String,
    unit_header: String,
    effective_from: String,
    rows: Vec<ColRow>,
}

fn page(
    user: &Principal,
    base: Option<&StoredMapping>,
    source_key: &str,
    source: Option<&StoredTemplate>,
    templates: &[StoredTemplate],
    d: Draft,
    errors: Vec<CoreError>,
) -> EditPage {
    let headers: Vec<String> = d.rows.iter().map(|r| r.header.clone()).collect();
    EditPage {
        shell: Shell::of(user, "reports"),
        is_new: base.is_none(),
        action: match base {
            Some(b) => format!("/reports/mappings/{}/edit", b.mapping.key),
            None => "/reports/mappings/new".to_owned(),
        },
        base: base.map_or_else(String::new, |b| {
            format!("第 {} 版（{} 起）", b.mapping.version, b.effective_from)
        }),
        key: d.key,
        source: source_key.to_owned(),
        source_name: source.map_or_else(|| source_key.to_owned(), |s| s.template.name.clone()),
        templates: templates
            .iter()
            .map(|t| Opt {
                value: t.template.key.clone(),
                label: t.template.name.clone(),
            })
            .collect(),
        name: d.name,
        office: d.office,
        unit_header: d.unit_header,
        effective_from: d.effective_from,
        min_date: format_date(today()),
        indicators: indicator_options(source),
        rows: d.rows,
        errors: errors
            .iter()
            .map(|e| format!("{}：{}", field_label(&e.field, &headers), e.message))
            .collect(),
        field_errors: faults_by_field(&errors),
    }
}

/// A field's name on the form, for the list of faults at the top (`col{i}.x` is the form's
/// column `i`, named by its number and heading).
fn field_label(field: &str, headers: &[String]) -> String {
    match field {
        "key" => "表样代码".to_owned(),
        "name" => "表名".to_owned(),
        "office" => "使用单位".to_owned(),
        "unit_header" => "单位列标题".to_owned(),
        "source" => "数据来源".to_owned(),
        "effective_from" => "生效日期".to_owned(),
        "columns" => "列".to_owned(),
        "version" => "版本".to_owned(),
        f => match f.strip_prefix("col").and_then(|r| r.split_once('.')) {
            Some((n, what)) => {
                let what = match what {
                    "header" => "列标题",
                    "unit" => "单位",
                    "key" => "代码",
                    "sources" => "取数指标",
                    other => other,
                };
                let n = n.parse::<usize>().unwrap_or(0);
                let named = headers
                    .get(n)
                    .map(|h| h.trim())
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("（{h}）"))
                    .unwrap_or_default();
                format!("第 {} 列{named}的{what}", n + 1)
            }
            None => f.to_owned(),
        },
    }
}

fn tomorrow() -> time::Date {
    today().next_day().unwrap_or_else(today)
}

// ---------------------------------------------------------------------------------------------
// The forms

#[derive(Deserialize, Default)]
struct NewQuery {
    source: Option<String>,
}

/// The templates on offer and the one chosen (asked for, else the preset, else the first).
async fn source_choice(
    state: &AppState,
    user: &Principal,
    asked: Option<&str>,
) -> Result<(Vec<StoredTemplate>, Option<StoredTemplate>), StoreError> {
    let templates = reports::templates(&state.db, &user.scope).await?;
    let chosen = asked
        .and_then(|k| templates.iter().find(|t| t.template.key == k))
        .or_else(|| templates.iter().find(|t| t.template.key == EPIDEMIC_DAILY))
        .or_else(|| templates.first())
        .cloned();
    Ok((templates, chosen))
}

/// A new layout starts as the source template in its own order, one column per indicator:
/// the admin renames, removes and reorders to match the other office's form.
async fn new_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NewQuery>,
) -> Response {
    if let Some(refused) = admin_only(&user) {
        return refused;
    }
    let (templates, source) = match source_choice(&state, &user, q.source.as_deref()).await {
        Ok(x) => x,
        Err(e) => return store_error_page(e),
    };
    let Some(source) = source else {
        return error_page(StatusCode::NOT_FOUND, "还没有报表模板，无法新建表样。");
    };
    let mut rows: Vec<ColRow> = source
        .template
        .indicators
        .iter()
        .enumerate()
        .map(|(index, i)| ColRow {
            index,
            key: String::new(),
            existing: false,
            header: i.label.clone(),
            unit: i.unit.clone(),
            sources: sources_of(std::slice::from_ref(&i.key), Some(&source)),
            remove: false,
            errors: Vec::new(),
        })
        .collect();
    rows.push(blank_row(rows.len()));
    let draft = Draft {
        key: String::new(),
        name: String::new(),
        office: String::new(),
        unit_header: "社区（村）".to_owned(),
        effective_from: format_date(today()),
        rows,
    };
    let key = source.template.key.clone();
    page(
        &user,
        None,
        &key,
        Some(&source),
        &templates,
        draft,
        Vec::new(),
    )
    .into_response()
}

/// The newest version of layout `key`: what a new version starts from.
async fn newest(
    state: &AppState,
    user: &Principal,
    key: &str,
) -> Result<StoredMapping, StoreError> {
    mappings::mappings(&state.db, &user.scope)
        .await?
        .into_iter()
        .find(|m| m.mapping.key == key)
        .ok_or(StoreError::NotFound)
}

/// The newest version of layout `key` and the newest version of its source template (`None`
/// when the template is gone).
async fn newest_and_source(
    state: &AppState,
    user: &Principal,
    key: &str,
) -> Result<(StoredMapping, Option<StoredTemplate>), StoreError> {
    let base = newest(state, user, key).await?;
    match reports::latest_template(&state.db, &user.scope, &base.mapping.source).await {
        Ok(s) => Ok((base, Some(s))),
        Err(StoreError::NotFound) => Ok((base, None)),
        Err(e) => Err(e),
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
    let (base, source) = match newest_and_source(&state, &user, &key).await {
        Ok(x) => x,
        Err(e) => return store_error_page(e),
    };
    let m = &base.mapping;
    let mut rows: Vec<ColRow> = m
        .columns
        .iter()
        .enumerate()
        .map(|(index, c)| ColRow {
            index,
            key: c.key.clone(),
            existing: true,
            header: c.header.clone(),
            unit: c.unit.clone(),
            sources: sources_of(&c.sources, source.as_ref()),
            remove: false,
            errors: Vec::new(),
        })
        .collect();
    rows.push(blank_row(rows.len()));
    // Not before the newest version's own date (the store's rule), else from tomorrow.
    let from = format_date(tomorrow()).max(base.effective_from.clone());
    let draft = Draft {
        key: m.key.clone(),
        name: m.name.clone(),
        office: m.office.clone(),
        unit_header: m.unit_header.clone(),
        effective_from: from,
        rows,
    };
    page(
        &user,
        Some(&base),
        &m.source,
        source.as_ref(),
        &[],
        draft,
        Vec::new(),
    )
    .into_response()
}

/// The columns as posted, in the order asked for: `cols` says how many; column `i` is
/// `c{i}.header`, `c{i}.unit`, `c{i}.s0`… (its indicators), `c{i}.key` (hidden for existing
/// columns, marked by `c{i}.existing`), `c{i}.pos` (its place in the form) and `c{i}.remove`.
fn rows_of(f: &FormFields, source: Option<&StoredTemplate>) -> Vec<ColRow> {
    let n = field(f, "cols")
        .trim()
        .parse::<usize>()
        .unwrap_or(0)
        .min(MAX_COLUMNS);
    let mut rows: Vec<(i64, u8, ColRow)> = (0..n)
        .map(|i| {
            let get = |what: &str| field(f, &format!("c{i}.{what}")).to_owned();
            let chosen: Vec<String> = (0..MAX_SOURCES)
                .map(|j| get(&format!("s{j}")).trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let here = i as i64 + 1;
            let pos = get("pos").trim().parse::<i64>().unwrap_or(here);
            let row = ColRow {
                index: i,
                key: get("key").trim().to_owned(),
                existing: get("existing") == "1",
                header: get("header"),
                unit: get("unit"),
                sources: sources_of(&chosen, source),
                remove: get("remove") == "1",
                errors: Vec::new(),
            };
            // A column moved to place p goes before the one already there.
            (pos, u8::from(pos == here), row)
        })
        .collect();
    rows.sort_by_key(|(pos, stays, row)| (*pos, *stays, row.index));
    rows.into_iter()
        .enumerate()
        .map(|(i, (_, _, mut row))| {
            row.index = i;
            row
        })
        .collect()
}

fn chosen(r: &ColRow) -> Vec<String> {
    r.sources
        .iter()
        .filter(|s| !s.value.is_empty())
        .map(|s| s.value.clone())
        .collect()
}

/// A column key for a new column left without one: its (first) indicator's key when free and
/// valid as a column key, else `col_1`, `col_2`, … (the first not taken).
fn fresh_key(sources: &[String], taken: &BTreeSet<String>) -> String {
    let from_source = sources.first().map(|s| s.replace('-', "_")).filter(|k| {
        (1..=40).contains(&k.len())
            && k.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !taken.contains(k)
    });
    from_source.unwrap_or_else(|| {
        (1..)
            .map(|n| format!("col_{n}"))
            .find(|k| !taken.contains(k))
            .unwrap_or_default()
    })
}

/// The layout the form describes (removed and empty new columns left out) and, for each of its
/// columns, the form column it came from.
fn mapping_of(key: &str, source: &str, f: &FormFields, rows: &[ColRow]) -> (Mapping, Vec<usize>) {
    let mut taken: BTreeSet<String> = rows
        .iter()
        .filter(|r| !r.key.is_empty())
        .map(|r| r.key.clone())
        .collect();
    let mut columns = Vec::new();
    let mut from_row = Vec::new();
    for r in rows {
        let sources = chosen(r);
        let blank =
            !r.existing && r.header.trim().is_empty() && sources.is_empty() && r.key.is_empty();
        if r.remove || blank {
            continue;
        }
        // A made-up key is not written back to the form: a refused form keeps the column's
        // key empty, so it is made again from the indicator finally chosen.
        let key = if r.key.is_empty() {
            let k = fresh_key(&sources, &taken);
            taken.insert(k.clone());
            k
        } else {
            r.key.clone()
        };
        columns.push(Column {
            key,
            header: r.header.trim().to_owned(),
            unit: r.unit.trim().to_owned(),
            sources,
        });
        from_row.push(r.index);
    }
    (
        Mapping {
            key: key.to_owned(),
            name: field(f, "name").trim().to_owned(),
            office: field(f, "office").trim().to_owned(),
            source: source.to_owned(),
            // The store numbers the version; 1 passes the check made here beforehand.
            version: 1,
            unit_header: field(f, "unit_header").trim().to_owned(),
            columns,
        },
        from_row,
    )
}

async fn new_submit(State(state): State<AppState>, form: CsrfForm<FormFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    if let Some(refused) = admin_only(&user) {
        return refused;
    }
    let (templates, source) =
        match source_choice(&state, &user, Some(field(&f, "source").trim())).await {
            Ok(x) => x,
            Err(e) => return store_error_page(e),
        };
    // The source as posted, even unknown: the store names it.
    let source_key = match field(&f, "source").trim() {
        "" => source
            .as_ref()
            .map(|s| s.template.key.clone())
            .unwrap_or_default(),
        k => k.to_owned(),
    };
    let source = source.filter(|s| s.template.key == source_key);
    let key = field(&f, "key").trim().to_owned();
    submit(&state, &user, &f, None, key, source_key, source, &templates).await
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
    let (base, source) = match newest_and_source(&state, &user, &key).await {
        Ok(x) => x,
        Err(e) => return store_error_page(e),
    };
    let source_key = base.mapping.source.clone();
    submit(&state, &user, &f, Some(&base), key, source_key, source, &[]).await
}

/// Publishes the posted layout (or returns the form with one more column for 增加一列), the
/// form coming back as typed with every fault when refused.
#[allow(clippy::too_many_arguments)]
async fn submit(
    state: &AppState,
    user: &Principal,
    f: &FormFields,
    base: Option<&StoredMapping>,
    key: String,
    source_key: String,
    source: Option<StoredTemplate>,
    templates: &[StoredTemplate],
) -> Response {
    let mut rows = rows_of(f, source.as_ref());
    let effective_from = field(f, "effective_from").to_owned();
    let draft = |key: String, rows: Vec<ColRow>| Draft {
        key,
        name: field(f, "name").to_owned(),
        office: field(f, "office").to_owned(),
        unit_header: field(f, "unit_header").to_owned(),
        effective_from: effective_from.clone(),
        rows,
    };
    if field(f, "action") == "add" {
        rows.push(blank_row(rows.len()));
        let d = draft(key, rows);
        return page(
            user,
            base,
            &source_key,
            source.as_ref(),
            templates,
            d,
            Vec::new(),
        )
        .into_response();
    }
    let (m, from_row) = mapping_of(&key, &source_key, f, &rows);
    let mut errs = Vec::new();
    if base.is_none() && !key.is_empty() {
        // A new layout may not take an existing one's key: that would publish over it.
        match mappings::is_mapping(&state.db, &key).await {
            Ok(true) => errs.push(CoreError::invalid(
                "key",
                format!("表样代码「{key}」已被使用：要修改该表样，请在表样列表中点「编辑」"),
            )),
            Ok(false) => {}
            Err(e) => return store_error_page(e),
        }
    }
    let from = parse_date("effective_from", &effective_from);
    let result = match (errs.is_empty(), from) {
        (true, Ok(d)) => {
            faults_apart(mappings::publish_mapping(&state.db, &user.scope, &m, d, now_ms()).await)
        }
        (_, d) => {
            // Said at once with the other faults (the store checks again when publishing).
            match &source {
                Some(s) => errs.extend(m.validate(&s.template).err().unwrap_or_default()),
                None => errs.push(CoreError::invalid(
                    "source",
                    format!("没有代码为「{source_key}」的报表模板"),
                )),
            }
            date_faults(&mut errs, d, base.map(|b| b.effective_from.as_str()));
            Err(Ok(errs))
        }
    };
    match result {
        Ok(v) => Redirect::to(&format!(
            "/reports/templates?published={}:{}#m-{}",
            v.mapping.version, v.effective_from, v.mapping.key
        ))
        .into_response(),
        Err(Ok(errs)) => {
            let errs = place_errors(errs, "columns", "col", &from_row, &mut rows, |r| {
                &mut r.errors
            });
            // The form as typed, an empty new column still at the end.
            if rows
                .last()
                .is_none_or(|r| r.existing || !r.header.trim().is_empty() || !chosen(r).is_empty())
            {
                rows.push(blank_row(rows.len()));
            }
            let mut p = page(
                user,
                base,
                &source_key,
                source.as_ref(),
                templates,
                draft(key, rows),
                errs,
            );
            p.errors.insert(0, NOT_PUBLISHED.to_owned());
            (StatusCode::UNPROCESSABLE_ENTITY, p).into_response()
        }
        Err(Err(e)) => store_error_page(e),
    }
}
