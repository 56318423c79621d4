//! The audit log as people read it (issue 23 item 3): one sentence an entry — who, when, did
//! what to which record, with the figures that matter — in Chinese, and the raw entry (codes,
//! ids, the detail as stored) behind a toggle for whoever needs it.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::policy::{Measure, RiskLevel};
use linli_core::epidemic::trips::TripKind;
use linli_core::kernel::audit::{action_zh, detail_key_zh, entity_zh, system_actor_zh};
use linli_core::kernel::clock::display;
use linli_core::kernel::labels::Labelled;
use linli_core::Role;
use linli_store::accounts;
use linli_store::accounts::Principal;
use linli_store::infra::audit::{self, AuditFilter, AuditRecord};
use linli_store::{Listed, StoreError, MAX_LIST_ROWS};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::PageUser;
use crate::ui::{error_page, form_status, store_error_page, Choice, ListExport, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit.xlsx", get(export))
}

struct AuditRow {
    at: String,
    actor: String,
    /// 「登记外出：外出登记（编号 12）；类别：市内务工」
    sentence: String,
    /// The record's own page, where it has one.
    link: Option<String>,
    ip: String,
    /// The entry as stored: action, entity, actor and detail.
    raw: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/audit.html")]
struct AuditPage {
    shell: Shell,
    rows: Vec<AuditRow>,
    actions: Vec<Choice>,
    actor: String,
    q: String,
    from: String,
    to: String,
    total: i64,
    export: String,
    pager: Pager,
    error: String,
}

/// Entries a page.
const PER_PAGE: i64 = 100;

/// The kinds of action the filter offers (an action prefix and its name).
const ACTIONS: &[(&str, &str)] = &[
    ("", "全部"),
    ("login", "登录与登录失败"),
    ("node.", "辖区变更"),
    ("user.", "账号变更"),
    ("token.", "API 令牌"),
    ("person.", "居民信息（含查看完整号码）"),
    ("list.export", "导出名单"),
    ("request.", "诉求"),
    ("enterprise.", "企业"),
    ("supply.", "应急物资"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuditQuery {
    action: String,
    /// One account's login, exactly.
    actor: String,
    /// Words in the login, the action or the kind of record.
    q: String,
    from: String,
    to: String,
    page: Option<i64>,
}

impl AuditQuery {
    /// The store's filter, and the refusal of the days as the page shows it (the days then
    /// left out, the rest still applied).
    fn filter(&self) -> (AuditFilter, Option<String>) {
        let (at, error) = match crate::ui::day_range(&self.from, &self.to) {
            Ok(r) => (r.bounds(), None),
            Err(e) => ((None, None), Some(e)),
        };
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let filter = AuditFilter {
            action_prefix: some(&self.action),
            actor: some(&self.actor),
            q: some(&self.q),
            at,
            ..AuditFilter::default()
        };
        (filter, error)
    }

    fn query_string(&self) -> String {
        crate::ui::query_string(&[
            ("action", &self.action),
            ("actor", &self.actor),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

/// The entries as filtered, `limit` from `offset`, and their actors' names.
async fn load(
    state: &AppState,
    user: &Principal,
    filter: &AuditFilter,
    page: (i64, i64),
) -> Result<(Listed<AuditRecord>, HashMap<i64, String>), StoreError> {
    let list = audit::page(&state.db, &user.scope, filter, page).await?;
    let mut ids: Vec<i64> = list.items.iter().filter_map(|r| r.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = accounts::display_names(&state.db, &user.scope, &ids).await?;
    Ok((list, names))
}

/// A stored code's Chinese name, for the codes a detail carries (measures, trip kinds, roles,
/// risk levels); `None` for anything else.
fn code_zh(code: &str) -> Option<&'static str> {
    Measure::from_code(code)
        .map(Measure::label_zh)
        .or_else(|| TripKind::from_code(code).map(TripKind::label_zh))
        .or_else(|| Role::from_code(code).map(Role::label_zh))
        .or_else(|| RiskLevel::from_code(code).map(RiskLevel::label_zh))
}

/// A detail's value in words; `None` for ids, lists of ids and codes with no Chinese name.
fn value_zh(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => match code_zh(s) {
            Some(zh) => Some(zh.to_owned()),
            // An untranslated code is no word for people: it stays in the raw entry.
            None if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-') =>
            {
                None
            }
            None => Some(s.clone()),
        },
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "是" } else { "否" }.to_owned()),
        Value::Array(items) if !items.is_empty() => Some(format!("{} 项", items.len())),
        _ => None,
    }
}

/// The entry as a sentence: the action, the record, and the details that have names.
fn sentence(r: &AuditRecord) -> String {
    let mut s = action_zh(&r.action).unwrap_or("其他操作").to_owned();
    if let Some(entity) = entity_zh(&r.entity) {
        s.push('：');
        s.push_str(entity);
        if let Some(id) = r.entity_id {
            s.push_str(&format!("（编号 {id}）"));
        }
    }
    let details: Vec<String> = r
        .detail
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(format!("{}：{}", detail_key_zh(k)?, value_zh(v)?)))
        .collect();
    if !details.is_empty() {
        s.push('；');
        s.push_str(&details.join("，"));
    }
    s
}

/// The page of the record an entry is about, for the kinds that have one and keep it (trips
/// and epidemic records lose their page when anonymised after retention).
fn link(r: &AuditRecord) -> Option<String> {
    let id = r.entity_id?;
    let base = match r.entity.as_str() {
        "person" => "/persons",
        "request" => "/requests",
        "enterprise" => "/enterprises",
        "quarantine_site" => "/epidemic/sites",
        _ => return None,
    };
    Some(format!("{base}/{id}"))
}

/// Who: the account's display name, a system actor's description, or as recorded.
fn actor_zh(r: &AuditRecord, names: &HashMap<i64, String>) -> String {
    r.actor_id
        .and_then(|id| names.get(&id).cloned())
        .or_else(|| system_actor_zh(&r.actor))
        .unwrap_or_else(|| r.actor.clone())
}

fn raw(r: &AuditRecord) -> String {
    let mut raw = format!("{} · {}", r.action, r.entity);
    if let Some(id) = r.entity_id {
        raw.push_str(&format!(" #{id}"));
    }
    raw.push_str(&format!(" · {}", r.actor));
    if let Some(id) = r.actor_id {
        raw.push_str(&format!(" (#{id})"));
    }
    if let Some(path) = &r.node_path {
        raw.push_str(&format!(" · {path}"));
    }
    if !r.detail.as_object().is_some_and(|o| o.is_empty()) && !r.detail.is_null() {
        raw.push('\n');
        raw.push_str(&serde_json::to_string_pretty(&r.detail).unwrap_or_default());
    }
    raw
}

async fn audit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<AuditQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let (filter, error) = q.filter();
    let (list, names) = match load(
        &state,
        &user,
        &filter,
        (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let qs = q.query_string();
    let page = AuditPage {
        shell: Shell::of(&user, "audit"),
        rows: list
            .items
            .iter()
            .map(|r| AuditRow {
                at: display(r.at),
                actor: actor_zh(r, &names),
                sentence: sentence(r),
                link: link(r),
                ip: r.ip.clone().unwrap_or_default(),
                raw: raw(r),
            })
            .collect(),
        actions: crate::ui::choices(ACTIONS.iter().copied(), q.action.trim()),
        actor: q.actor.clone(),
        q: q.q.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        total: list.total,
        export: format!("/audit.xlsx?{qs}"),
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/audit?{qs}&page={n}")
        }),
        error: error.unwrap_or_default(),
    };
    (form_status(!page.error.is_empty()), page).into_response()
}

/// The entries as filtered (up to [`MAX_LIST_ROWS`]) as xlsx; reading the audit out is itself
/// audited.
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<AuditQuery>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let filter = match q.filter() {
        (f, None) => f,
        (_, Some(e)) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let (list, names) = match load(&state, &user, &filter, (MAX_LIST_ROWS, 0)).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .iter()
        .map(|r| {
            vec![
                display(r.at),
                actor_zh(r, &names),
                r.actor.clone(),
                sentence(r),
                r.ip.clone().unwrap_or_default(),
                r.action.clone(),
                r.entity.clone(),
                r.entity_id.map(|id| id.to_string()).unwrap_or_default(),
                r.node_path.clone().unwrap_or_default(),
                if r.detail.is_null() {
                    String::new()
                } else {
                    r.detail.to_string()
                },
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "audit",
            name: "审计日志",
            header: &[
                "时间",
                "操作人",
                "登录名",
                "事项",
                "地址",
                "操作代码",
                "记录类别",
                "记录编号",
                "辖区路径",
                "详情",
            ],
            node_id: None,
            // Whose entries: everything for an admin, an official's jurisdiction otherwise.
            place: if user.scope.is_admin() {
                "全部".to_owned()
            } else {
                user.user
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            },
            key: user.user.username.clone(),
            query: raw_query,
        },
        list.total,
        rows,
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn record(action: &str, entity: &str, id: Option<i64>, detail: Value) -> AuditRecord {
        AuditRecord {
            id: 1,
            at: 0,
            actor_id: Some(7),
            actor: "staff".into(),
            action: action.into(),
            entity: entity.into(),
            entity_id: id,
            node_path: None,
            ip: None,
            detail,
        }
    }

    #[test]
    fn an_entry_reads_as_a_sentence_with_codes_named_and_ids_left_out() {
        let r = record(
            "trip.create",
            "trip",
            Some(12),
            json!({"person_id": 5, "kind": "local_work"}),
        );
        assert_eq!(
            sentence(&r),
            "登记外出：外出登记（编号 12）；类别：市内务工"
        );
        assert_eq!(link(&r), None, "a trip's page goes with its anonymisation");
        let r = record(
            "arrival.create",
            "arrival",
            Some(3),
            json!({"measure": "home_quarantine", "origin": "unknown_code", "rows": 2}),
        );
        assert_eq!(
            sentence(&r),
            "登记来返人员：来返登记（编号 3）；措施：居家隔离，行数：2"
        );
        let r = record("something.new", "thing", None, json!({}));
        assert_eq!(sentence(&r), "其他操作");
        assert!(raw(&r).starts_with("something.new · thing · staff (#7)"));
    }

    #[test]
    fn actors_are_named_not_given_by_login() {
        let names = HashMap::from([(7, "李秀英".to_owned())]);
        let r = record("login", "session", None, json!({}));
        assert_eq!(actor_zh(&r, &names), "李秀英");
        let mut job = record("retention.anonymise", "retention", None, json!({}));
        job.actor_id = None;
        job.actor = "system".into();
        assert_eq!(actor_zh(&job, &names), "系统（自动任务）");
    }
}
