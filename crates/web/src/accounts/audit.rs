//! The audit log as people read it (issue 23 item 3): one sentence an entry — who, when, did
//! what to which record, with the figures that matter — in Chinese, and the raw entry (codes,
//! ids, the detail as stored) behind a toggle for whoever needs it.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
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
use linli_store::infra::audit::{self, AuditFilter, AuditRecord};
use linli_store::Page;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::PageUser;
use crate::ui::{store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit_page))
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
    action: String,
    actor: String,
    next_after: Option<i64>,
}

#[derive(Deserialize)]
struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    after: Option<i64>,
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
    let page = Page::new(Some(100), q.after);
    let filter = AuditFilter {
        action_prefix: q.action.clone(),
        actor: q.actor.clone(),
        ..AuditFilter::default()
    };
    let rows = match audit::list(&state.db, &user.scope, &filter, page).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = match accounts::display_names(&state.db, &user.scope, &ids).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let next_after = if rows.len() as i64 == page.limit {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    AuditPage {
        shell: Shell::of(&user, "audit"),
        rows: rows
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
        action: q.action.unwrap_or_default(),
        actor: q.actor.unwrap_or_default(),
        next_after,
    }
    .into_response()
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
