//! The policy editor (officials and admins): a new version started from a published one, edited
//! in a form (days of each stage, check-ins per day, notes) or as JSON, tried against the people
//! under observation (试算: who would be released, extended, shortened, changed) and published.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::policy::{PolicyDraft, PolicyVersion};
use linli_core::epidemic::trips::TripKind;
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::CoreError;
use linli_store::accounts::Principal;
use linli_store::epidemic::policies::{self, WhatIfRow};
use linli_store::epidemic::{self, StoredPolicy};
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::epidemic::pages::{conditions_zh, measure_class};
use crate::ui::form_status;
use crate::ui::{error_page, store_error_page, Choice, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/epidemic/policies/edit", get(edit_form).post(edit_submit))
}

/// One stage as edited: its measure is fixed, its days are typed.
struct StageEdit {
    index: usize,
    measure: &'static str,
    measure_class: &'static str,
    days: String,
}

struct RuleEdit {
    index: usize,
    who: String,
    when: String,
    stages: Vec<StageEdit>,
    check_ins: String,
    note: String,
}

struct ChangeRow {
    person_id: i64,
    person_name: String,
    kind: &'static str,
    kind_label: &'static str,
    from: String,
    to: String,
    delta: String,
}

struct Tally {
    label: &'static str,
    kind: &'static str,
    count: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_policy_edit.html")]
struct EditPage {
    shell: Shell,
    base_id: i64,
    base_name: String,
    json_mode: bool,
    key: String,
    name: String,
    effective_from: String,
    version: String,
    rules: Vec<RuleEdit>,
    /// The kinds of trip a policy may suspend, ticked where this one does.
    trips: Vec<Choice>,
    json: String,
    on: String,
    errors: Vec<String>,
    tried: bool,
    tallies: Vec<Tally>,
    changes: Vec<ChangeRow>,
}

#[derive(Deserialize)]
struct EditQuery {
    from: Option<i64>,
    mode: Option<String>,
}

fn may_edit(user: &Principal) -> Option<Response> {
    (!user.scope.can_manage_policy()).then(|| {
        error_page(
            StatusCode::FORBIDDEN,
            "只有街道、区县干部和管理员可以编辑防控政策。",
        )
    })
}

/// The published version to start from: the one asked for, else the one in force today.
async fn base_of(state: &AppState, id: Option<i64>) -> Result<StoredPolicy, StoreError> {
    let all = epidemic::published_policies(&state.db).await?;
    let chosen = match id {
        Some(id) => all.iter().find(|p| p.id == id).cloned(),
        None => {
            let versions: Vec<PolicyVersion> = all.iter().map(|p| p.policy.clone()).collect();
            let now = linli_core::epidemic::policy::policy_in_force(&versions, today()).cloned();
            all.iter()
                .find(|p| Some(&p.policy) == now.as_ref())
                .cloned()
        }
    };
    chosen.ok_or(StoreError::NotFound)
}

/// Checkboxes of the trip kinds a policy may suspend (`suspend_{code}`).
fn trip_choices(ticked: impl Fn(TripKind) -> bool) -> Vec<Choice> {
    TripKind::ALL
        .iter()
        .filter(|k| k.may_be_suspended())
        .map(|&k| Choice {
            value: k.as_str().to_owned(),
            label: k.label_zh().to_owned(),
            selected: ticked(k),
        })
        .collect()
}

fn rule_edits(policy: &PolicyDraft) -> Vec<RuleEdit> {
    policy
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleEdit {
            index: i,
            who: r.who.clone(),
            when: conditions_zh(r),
            stages: r
                .stages
                .iter()
                .enumerate()
                .map(|(s, st)| StageEdit {
                    index: s,
                    measure: st.measure.label_zh(),
                    measure_class: measure_class(st.measure),
                    days: st.days.to_string(),
                })
                .collect(),
            check_ins: r.check_ins_per_day.to_string(),
            note: r.note.clone().unwrap_or_default(),
        })
        .collect()
}

async fn edit_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<EditQuery>,
) -> Response {
    if let Some(refused) = may_edit(&user) {
        return refused;
    }
    let base = match base_of(&state, q.from).await {
        Ok(b) => b,
        Err(e) => return store_error_page(e),
    };
    let next = match policies::next_version(&state.db, base.policy.key()).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let mut draft = base.policy.to_draft();
    draft.version = next;
    draft.effective_from = today();
    let page = EditPage {
        shell: Shell::of(&user, "epidemic"),
        base_id: base.id,
        base_name: format!("{}（版本 {}）", base.policy.name(), base.policy.version()),
        json_mode: q.mode.as_deref() == Some("json"),
        key: draft.key.clone(),
        name: draft.name.clone(),
        effective_from: format_date(draft.effective_from),
        version: next.to_string(),
        rules: rule_edits(&draft),
        trips: trip_choices(|k| draft.suspended_trips.contains(&k)),
        json: serde_json::to_string_pretty(&draft).unwrap_or_default(),
        on: format_date(today()),
        errors: Vec::new(),
        tried: false,
        tallies: Vec::new(),
        changes: Vec::new(),
    };
    page.into_response()
}

/// Where a draft's field sits, in words (`rules[2].stages[0].days` → 第 3 条 · 第 1 阶段天数).
fn field_zh(field: &str) -> String {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (
                n,
                rest.trim_end_matches(']')
                    .parse::<usize>()
                    .ok()
                    .map(|i| i + 1),
            ),
            None => (part, None),
        };
        out.push(match (name, index) {
            ("rules", Some(i)) => format!("第 {i} 条规则"),
            ("stages", Some(i)) => format!("第 {i} 阶段"),
            ("when", Some(i)) => format!("第 {i} 个条件"),
            ("days", _) => "天数".to_owned(),
            ("check_ins_per_day", _) => "每日报告次数".to_owned(),
            ("note", _) => "说明".to_owned(),
            ("who", _) => "适用人员".to_owned(),
            ("key", _) => "政策标识".to_owned(),
            ("name", _) => "名称".to_owned(),
            ("version", _) => "版本号".to_owned(),
            ("effective_from", _) => "生效日期".to_owned(),
            ("suspended_trips", Some(i)) => format!("第 {i} 项暂停的外出事由"),
            ("policy", _) => "政策 JSON".to_owned(),
            ("on", _) => "试算日期".to_owned(),
            (other, _) => other.to_owned(),
        });
    }
    out.join(" · ")
}

fn error_lines(errors: &[CoreError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}：{}", field_zh(&e.field), e.message))
        .collect()
}

/// Builds the draft from the form: the base version with the typed changes applied (form
/// mode), or the JSON as typed (JSON mode). Every bad field is reported at once.
fn draft_from(
    base: &PolicyVersion,
    fields: &HashMap<String, String>,
    json_mode: bool,
) -> Result<PolicyVersion, Vec<CoreError>> {
    if json_mode {
        let text = fields.get("json").map(String::as_str).unwrap_or_default();
        return PolicyDraft::from_json(text).map_err(|e| e.0);
    }
    let mut errors = Vec::new();
    let mut draft = base.to_draft();
    let get = |k: &str| fields.get(k).map(|s| s.trim()).unwrap_or_default();
    draft.key = get("key").to_owned();
    draft.name = get("name").to_owned();
    match parse_date("effective_from", get("effective_from")) {
        Ok(d) => draft.effective_from = d,
        Err(e) => errors.push(e),
    }
    match get("version").parse::<u32>() {
        Ok(v) => draft.version = v,
        Err(_) => errors.push(CoreError::invalid("version", "请填写正整数")),
    }
    for (r, rule) in draft.rules.iter_mut().enumerate() {
        for (s, stage) in rule.stages.iter_mut().enumerate() {
            let field = format!("rules[{r}].stages[{s}].days");
            match get(&format!("days_{r}_{s}")).parse::<u16>() {
                Ok(d) => stage.days = d,
                Err(_) => errors.push(CoreError::invalid(&field, "请填写天数（整数）")),
            }
        }
        let field = format!("rules[{r}].check_ins_per_day");
        match get(&format!("check_ins_{r}")).parse::<u8>() {
            Ok(n) => rule.check_ins_per_day = n,
            Err(_) => errors.push(CoreError::invalid(&field, "请填写 0–9 的整数")),
        }
        let note = get(&format!("note_{r}"));
        rule.note = (!note.is_empty()).then(|| note.to_owned());
    }
    draft.suspended_trips = TripKind::ALL
        .iter()
        .copied()
        .filter(|k| fields.contains_key(&format!("suspend_{}", k.as_str())))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    draft.validate().map_err(|e| e.0)
}

fn plan_of(c: &linli_core::epidemic::policy::Classification) -> String {
    if c.measure == linli_core::epidemic::policy::Measure::None {
        return "无需管控".to_owned();
    }
    let stages: Vec<String> = c
        .stages
        .iter()
        .map(|s| format!("{} {} 天", s.measure.label_zh(), s.days))
        .collect();
    format!("{}，至 {}", stages.join(" → "), format_date(c.until))
}

fn change_rows(rows: &[WhatIfRow]) -> (Vec<Tally>, Vec<ChangeRow>) {
    use linli_core::epidemic::policy::ChangeKind as K;
    let kinds = [
        K::Released,
        K::Shortened,
        K::Extended,
        K::MeasureChanged,
        K::Unchanged,
    ];
    let tallies = kinds
        .iter()
        .map(|k| Tally {
            label: k.label_zh(),
            kind: k.as_str(),
            count: rows.iter().filter(|r| r.change.kind == *k).count(),
        })
        .collect();
    // Changed records first, in the order of `kinds`; unchanged ones last.
    let mut sorted: Vec<&WhatIfRow> = rows.iter().collect();
    sorted.sort_by_key(|r| {
        (
            kinds.iter().position(|k| *k == r.change.kind),
            r.observation_id,
        )
    });
    let changes = sorted
        .into_iter()
        .map(|r| ChangeRow {
            person_id: r.person_id,
            person_name: r.person_name.clone(),
            kind: r.change.kind.as_str(),
            kind_label: r.change.kind.label_zh(),
            from: plan_of(&r.change.from),
            to: plan_of(&r.change.to),
            delta: match r.change.until_delta_days {
                0 => String::new(),
                d if d > 0 => format!("+{d} 天"),
                d => format!("{d} 天"),
            },
        })
        .collect();
    (tallies, changes)
}

async fn edit_submit(
    State(state): State<AppState>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let user = f.user;
    if let Some(refused) = may_edit(&user) {
        return refused;
    }
    let fields: HashMap<String, String> = f.form.into_iter().collect();
    let base_id = fields.get("base_id").and_then(|s| s.parse::<i64>().ok());
    let base = match base_of(&state, base_id).await {
        Ok(b) => b,
        Err(e) => return store_error_page(e),
    };
    let json_mode = fields.get("mode").map(String::as_str) == Some("json");
    let publish = fields.get("action").map(String::as_str) == Some("publish");
    let on_raw = fields
        .get("on")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();

    let mut errors = Vec::new();
    let draft = draft_from(&base.policy, &fields, json_mode);
    let mut tried = None;
    match &draft {
        Err(e) => errors.extend(error_lines(e)),
        Ok(draft) if publish => match policies::publish(&state.db, &user.scope, draft, now_ms())
            .await
        {
            Ok(_) => return Redirect::to("/epidemic/policies?notice=published").into_response(),
            Err(StoreError::Invalid(e)) => errors.extend(error_lines(&e)),
            Err(StoreError::Conflict { field, message }) => {
                errors.push(format!("{}：{message}", field_zh(&field)));
            }
            Err(e) => return store_error_page(e),
        },
        Ok(draft) => {
            let on = if on_raw.is_empty() {
                Ok(today())
            } else {
                parse_date("on", &on_raw)
            };
            match on {
                Err(e) => errors.extend(error_lines(&[e])),
                Ok(on) => match policies::what_if(&state.db, &user.scope, draft, on).await {
                    Ok(rows) => tried = Some(rows),
                    Err(e) => return store_error_page(e),
                },
            }
        }
    }

    // The form comes back as typed: in form mode the rules show the typed values.
    let shown = match &draft {
        Ok(d) => d.to_draft(),
        Err(_) => base.policy.to_draft(),
    };
    let mut rules = rule_edits(&shown);
    if draft.is_err() && !json_mode {
        for r in &mut rules {
            for s in &mut r.stages {
                if let Some(v) = fields.get(&format!("days_{}_{}", r.index, s.index)) {
                    s.days = v.clone();
                }
            }
            if let Some(v) = fields.get(&format!("check_ins_{}", r.index)) {
                r.check_ins = v.clone();
            }
            if let Some(v) = fields.get(&format!("note_{}", r.index)) {
                r.note = v.clone();
            }
        }
    }
    let typed = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let (tallies, changes) = tried.as_deref().map(change_rows).unwrap_or_default();
    let status = form_status(!errors.is_empty());
    let page = EditPage {
        shell: Shell::of(&user, "epidemic"),
        base_id: base.id,
        base_name: format!("{}（版本 {}）", base.policy.name(), base.policy.version()),
        json_mode,
        key: if json_mode {
            shown.key.clone()
        } else {
            typed("key")
        },
        name: if json_mode {
            shown.name.clone()
        } else {
            typed("name")
        },
        effective_from: if json_mode {
            format_date(shown.effective_from)
        } else {
            typed("effective_from")
        },
        version: if json_mode {
            shown.version.to_string()
        } else {
            typed("version")
        },
        trips: if draft.is_err() && !json_mode {
            trip_choices(|k| fields.contains_key(&format!("suspend_{}", k.as_str())))
        } else {
            trip_choices(|k| shown.suspended_trips.contains(&k))
        },
        rules,
        json: if json_mode {
            typed("json")
        } else {
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        },
        on: if on_raw.is_empty() {
            format_date(today())
        } else {
            on_raw
        },
        errors,
        tried: tried.is_some(),
        tallies,
        changes,
    };
    (status, page).into_response()
}
