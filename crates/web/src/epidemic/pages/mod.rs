//! Epidemic pages: the area summary, open alerts, risk areas (officials declare them), the
//! published policies in readable Chinese, and the 三问一测 arrival screening with its result
//! (measure, dates and the explanation a worker reads to the resident).

pub mod alerts;
pub mod checkpoints;
pub mod contacts;
pub mod observations;
pub mod policies;
pub mod rounds;
pub mod sites;
pub mod timeline;
pub mod trips;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::policy::{
    policy_in_force, Condition, DivisionCode, Measure, RiskArea, RiskLevel, Rule, Temperature,
};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::PersonInput;
use linli_core::{CoreError, Role};
use linli_store::accounts::Principal;
use linli_store::epidemic::dashboard::{self, EpidemicDashboard};
use linli_store::epidemic::{
    self, ArrivalInput, ArrivalPerson, ArrivalRecorded, ArrivalSource, StoredPolicy,
};
use linli_store::registry::{self, Placement};
use linli_store::{tree, StoreError};
use serde::Deserialize;

use super::public::{symptom_choices, ArrivalFields, SymptomChoice, Verdict};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::places::{self, PlacePicker};
use crate::ui::{error_page, field_label, form_errors_with, store_error_page, NoticeQuery, Shell};
use crate::ui::{Choice, HitRow};
use crate::AppState;
use linli_core::kernel::division;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epidemic", get(home))
        .route("/epidemic/releases", get(releases_page).post(release_batch))
        .route("/epidemic/risk-areas", get(areas_page).post(add_area))
        .route("/epidemic/policies", get(policies_page))
        .route(
            "/epidemic/arrivals/new",
            get(arrival_form).post(arrival_submit),
        )
        .route("/epidemic/arrivals/{id}", get(arrival_page))
}

/// Field names of the epidemic forms in Chinese; the registry's names otherwise.
fn label(field: &str, area_form: bool) -> &str {
    match field {
        "origin_code" => "来源地",
        "arrived_on" => "抵达日期",
        "purpose" => "来返事由",
        "symptoms" => "症状",
        "temperature" => "体温",
        "person_id" => "居民",
        "division_code" => "地区",
        "level" => "风险等级",
        "from" => "起始日期",
        "to" => "截止日期",
        "name" if area_form => "地区名称",
        "name" => "姓名",
        other => field_label(other),
    }
}

/// Messages for a refused form, one per field; other errors are passed back for an error page.
fn form_errors(e: StoreError, area_form: bool) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, |f| label(f, area_form))
}

fn status_for(errors: &[String]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn level_class(l: RiskLevel) -> &'static str {
    match l {
        RiskLevel::High => "high",
        RiskLevel::Medium => "medium",
        RiskLevel::Low => "low",
    }
}

pub(crate) fn measure_class(m: Measure) -> &'static str {
    match m {
        Measure::CentralizedQuarantine => "centralized",
        Measure::HomeQuarantine => "home",
        Measure::HealthMonitoring => "monitoring",
        Measure::None => "none",
    }
}

/// The nodes at the top of the caller's jurisdiction (an admin's: the tree's roots).
pub(super) async fn root_ids(state: &AppState, user: &Principal) -> Result<Vec<i64>, StoreError> {
    if user.scope.is_admin() {
        Ok(tree::visible_roots(&state.db, &user.scope)
            .await?
            .into_iter()
            .map(|r| r.node.id)
            .collect())
    } else {
        Ok(user.scope.roots().iter().map(|r| r.id()).collect())
    }
}

fn in_force_today(a: &RiskArea) -> bool {
    let d = today();
    a.from() <= d && a.to().is_none_or(|t| t >= d)
}

// ---------------------------------------------------------------------------------------------
// Summary

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_home.html")]
struct HomePage {
    shell: Shell,
    area: String,
    areas_in_force: usize,
    high_in_force: usize,
    policy: String,
    policy_from: String,
    can_screen: bool,
    dash: EpidemicDashboard,
    /// The node above the dashboard's, when the caller may open it (drill up).
    parent: Option<(i64, String)>,
    /// The caller's other top nodes, to switch the dashboard to (several bound nodes).
    roots: Vec<(i64, String)>,
    /// Beds today in the open quarantine sites serving the node.
    beds: linli_core::epidemic::sites::Beds,
}

impl HomePage {
    fn fevers_hot(&self) -> bool {
        self.dash.total.fevers_open + self.dash.total.overdue_open > 0
    }
}

#[derive(Debug, Deserialize)]
struct HomeQuery {
    /// Kept as text so a bad value is a plain 404, not an extractor error.
    node_id: Option<String>,
}

/// The 防疫 summary: the epidemic dashboard of one node (the caller's own, or `?node_id=` to
/// drill down) with a row per child node, plus the risk areas and the policy in force.
async fn home(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<HomeQuery>,
) -> Response {
    let result = async {
        let node_id = match q
            .node_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(raw) => raw.parse::<i64>().map_err(|_| StoreError::NotFound)?,
            None => dashboard::default_node(&state.db, &user.scope)
                .await?
                .ok_or(StoreError::NotFound)?,
        };
        let dash = dashboard::epidemic_dashboard(&state.db, &user.scope, node_id, today()).await?;
        let beds =
            epidemic::sites::beds_serving(&state.db, &user.scope, node_id, today(), now_ms())
                .await?;
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let parent = match node.parent_id {
            Some(pid) => tree::get(&state.db, &user.scope, pid)
                .await
                .ok()
                .map(|p| (p.id, p.name)),
            None => None,
        };
        let mut roots = Vec::new();
        for id in root_ids(&state, &user).await? {
            // The node shown and the one linked as 上级 need no second link.
            if id != node_id && parent.as_ref().is_none_or(|(pid, _)| *pid != id) {
                let n = tree::get(&state.db, &user.scope, id).await?;
                roots.push((n.id, n.name));
            }
        }
        let areas = epidemic::risk_areas(&state.db).await?;
        let policies = epidemic::published_policies(&state.db).await?;
        Ok::<_, StoreError>((dash, parent, roots, areas, policies, beds))
    }
    .await;
    let (dash, parent, roots, areas, policies, beds) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let versions: Vec<_> = policies.iter().map(|p| p.policy.clone()).collect();
    let current = policy_in_force(&versions, today());
    let in_force: Vec<_> = areas.iter().filter(|a| in_force_today(&a.area)).collect();
    HomePage {
        area: crate::ui::jurisdiction(&user),
        areas_in_force: in_force.len(),
        high_in_force: in_force
            .iter()
            .filter(|a| a.area.level() == RiskLevel::High)
            .count(),
        policy: current.map(|p| p.name().to_owned()).unwrap_or_default(),
        policy_from: current
            .map(|p| format_date(p.effective_from()))
            .unwrap_or_default(),
        can_screen: user.scope.role() != Role::Official,
        dash,
        parent,
        roots,
        beds,
        shell: Shell::of(&user, "epidemic"),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Releases due today

struct DueRow {
    observation_id: i64,
    person_id: i64,
    person_name: String,
    measure: String,
    place: String,
    period: String,
    overdue: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_releases.html")]
struct ReleasesPage {
    shell: Shell,
    today: String,
    rows: Vec<DueRow>,
    notice: String,
    error: String,
    can_release: bool,
}

/// Observations due for release today (overdue ones included) under every root of the caller.
async fn due_in_scope(
    state: &AppState,
    user: &Principal,
) -> Result<Vec<epidemic::DueRelease>, StoreError> {
    let roots = root_ids(state, user).await?;
    let mut all = Vec::new();
    for root in roots {
        all.extend(epidemic::releases_due(&state.db, &user.scope, root, today()).await?);
    }
    all.sort_by(|a, b| {
        a.until_on
            .cmp(&b.until_on)
            .then(a.observation_id.cmp(&b.observation_id))
    });
    all.dedup_by_key(|d| d.observation_id);
    Ok(all)
}

async fn render_releases(
    state: &AppState,
    user: &Principal,
    notice: String,
    error: String,
) -> Response {
    let due = match due_in_scope(state, user).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let today = format_date(today());
    let status = form_status(!error.is_empty());
    let page = ReleasesPage {
        shell: Shell::of(user, "epidemic"),
        rows: due
            .into_iter()
            .map(|d| DueRow {
                overdue: d.until_on < today,
                observation_id: d.observation_id,
                person_id: d.person_id,
                person_name: d.person_name,
                measure: d
                    .measure
                    .parse::<Measure>()
                    .map(|m| m.label_zh().to_owned())
                    .unwrap_or(d.measure),
                place: d.place.unwrap_or_default(),
                period: format!("{} 至 {}", d.start_on, d.until_on),
            })
            .collect(),
        today,
        notice,
        error,
        can_release: user.scope.role() != Role::Official,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct ReleasedQuery {
    released: Option<usize>,
}

async fn releases_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ReleasedQuery>,
) -> Response {
    let notice = q
        .released
        .map(|n| format!("已解除 {n} 人的医学观察。"))
        .unwrap_or_default();
    render_releases(&state, &user, notice, String::new()).await
}

/// One batch: the ticked observations, all released or none.
async fn release_batch(
    State(state): State<AppState>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let ids: Vec<i64> = f
        .form
        .iter()
        .filter(|(k, _)| k == "observation")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    match epidemic::release(&state.db, &f.user.scope, &ids, today(), now_ms()).await {
        Ok(n) => Redirect::to(&format!("/epidemic/releases?released={n}")).into_response(),
        Err(StoreError::Invalid(errors)) => {
            let message = crate::ui::forms::messages(&errors);
            render_releases(&state, &f.user, String::new(), message).await
        }
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Risk areas

struct AreaRow {
    code: String,
    /// 「湖北省武汉市洪山区」: the table's name, or the name given for a street or community.
    place: String,
    name: String,
    level: &'static str,
    level_class: &'static str,
    from: String,
    to: String,
    ended: bool,
    created_by: String,
}

#[derive(Default)]
struct AreaFields {
    division_code: String,
    name: String,
    level: String,
    from: String,
    to: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_areas.html")]
struct AreasPage {
    shell: Shell,
    rows: Vec<AreaRow>,
    can_manage: bool,
    f: AreaFields,
    levels: Vec<Choice>,
    picker: PlacePicker,
    errors: Vec<String>,
    notice: Option<&'static str>,
}

async fn render_areas(
    state: &AppState,
    user: &Principal,
    f: AreaFields,
    errors: Vec<String>,
    notice: Option<&'static str>,
) -> Response {
    let areas = match async {
        let mut areas = epidemic::risk_areas(&state.db).await?;
        let actors = areas.iter_mut().map(|a| &mut a.created_by).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        Ok::<_, StoreError>(areas)
    }
    .await
    {
        Ok(a) => a,
        Err(e) => return store_error_page(e),
    };
    let now = today();
    let status = status_for(&errors);
    let level = if f.level.is_empty() {
        "high".to_owned()
    } else {
        f.level.clone()
    };
    let page = AreasPage {
        shell: Shell::of(user, "epidemic"),
        rows: areas
            .into_iter()
            .map(|a| {
                let place =
                    division::describe_named(a.area.division_code().as_str(), a.area.name());
                // The name the notice gave, when the place's own name does not already say it.
                let given = a.area.name().unwrap_or_default().trim();
                let name = if place.ends_with(given) {
                    String::new()
                } else {
                    given.to_owned()
                };
                AreaRow {
                    code: a.area.division_code().as_str().to_owned(),
                    place,
                    name,
                    level: a.area.level().label_zh(),
                    level_class: level_class(a.area.level()),
                    from: format_date(a.area.from()),
                    to: a.area.to().map(format_date).unwrap_or_default(),
                    ended: a.area.to().is_some_and(|t| t < now),
                    created_by: a.created_by,
                }
            })
            .collect(),
        can_manage: user.scope.can_manage_policy(),
        levels: RiskLevel::ALL
            .iter()
            .map(|l| Choice {
                value: l.as_str().to_owned(),
                label: l.label_zh().to_owned(),
                selected: l.as_str() == level,
            })
            .collect(),
        picker: PlacePicker::new("division_code", "地区", &f.division_code)
            .invalid(errors.iter().any(|e| e.starts_with("地区"))),
        f: AreaFields {
            from: if f.from.is_empty() {
                format_date(now)
            } else {
                f.from
            },
            ..f
        },
        errors,
        notice,
    };
    (status, page).into_response()
}

async fn areas_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = q.notice.map(|_| "已发布风险地区。");
    render_areas(&state, &user, AreaFields::default(), Vec::new(), notice).await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AreaForm {
    division_code: String,
    division_code_pick: String,
    name: String,
    level: String,
    from: String,
    to: String,
}

async fn add_area(State(state): State<AppState>, f: CsrfForm<AreaForm>) -> Response {
    let user = &f.user;
    if !user.scope.can_manage_policy() {
        return store_error_page(StoreError::Forbidden(
            "只有街道/区级干部可以发布风险地区".into(),
        ));
    }
    let mut form = f.form;
    places::chosen(&mut form.division_code, &form.division_code_pick);
    let result = async {
        let area = super::api::risk_area(
            DivisionCode::resolve_field("division_code", &form.division_code),
            &form.level,
            form.from.trim(),
            Some(form.to.trim()).filter(|t| !t.is_empty()),
            Some(form.name.trim()).filter(|n| !n.is_empty()),
        )
        .map_err(StoreError::Invalid)?;
        epidemic::add_risk_area(&state.db, &user.scope, &area, now_ms()).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/epidemic/risk-areas?notice=added").into_response(),
        Err(e) => match form_errors(e, true) {
            Ok(errors) => {
                let fields = AreaFields {
                    division_code: form.division_code,
                    name: form.name,
                    level: form.level,
                    from: form.from,
                    to: form.to,
                };
                render_areas(&state, user, fields, errors, None).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Policies

struct RuleView {
    who: String,
    when: String,
    plan: String,
    check_ins: String,
    note: String,
    fever_alert: bool,
    measure_class: &'static str,
}

struct PolicyView {
    id: i64,
    name: String,
    version: String,
    from: String,
    until: String,
    current: bool,
    future: bool,
    rules: Vec<RuleView>,
    /// 「探亲访友」… the kinds of trip it suspends, joined.
    suspended_trips: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_policies.html")]
struct PoliciesPage {
    shell: Shell,
    policies: Vec<PolicyView>,
    can_edit: bool,
    notice: String,
}

/// Who a rule applies to, as a worker would say it: its conditions joined, or everyone.
pub(crate) fn conditions_zh(r: &Rule) -> String {
    if r.when.is_empty() {
        "所有人员".to_owned()
    } else {
        r.when
            .iter()
            .map(condition_zh)
            .collect::<Vec<_>>()
            .join("，且")
    }
}

/// A condition as a worker would say it.
pub(crate) fn condition_zh(c: &Condition) -> String {
    match c {
        Condition::OriginRisk { level, within_days } if *within_days == 0 => {
            format!("抵达当天来源地为{}地区", level.label_zh())
        }
        Condition::OriginRisk { level, within_days } => {
            format!("抵达前 {within_days} 天内到过{}地区", level.label_zh())
        }
        Condition::OriginWithin { division_code } => {
            format!("来源地属于{}", places::place_label(division_code.as_str()))
        }
        Condition::OriginOtherProvince => "来自外省".to_owned(),
        Condition::OriginSameProvinceOtherCity => "来自本省其他城市".to_owned(),
        Condition::Contact { kind } => format!("为{}", kind.label_zh()),
        Condition::FeverOrSymptoms => "体温 37.3℃ 及以上或有症状".to_owned(),
    }
}

fn rule_view(r: &Rule) -> RuleView {
    RuleView {
        who: r.who.clone(),
        when: conditions_zh(r),
        plan: if r.stages.is_empty() {
            Measure::None.label_zh().to_owned()
        } else {
            let stages: Vec<String> = r
                .stages
                .iter()
                .map(|s| format!("{} {} 天", s.measure.label_zh(), s.days))
                .collect();
            if r.stages.len() > 1 {
                format!("{}（共 {} 天）", stages.join(" → "), r.days_total())
            } else {
                stages.join("")
            }
        },
        check_ins: if r.check_ins_per_day > 0 {
            format!("每天报告体温 {} 次", r.check_ins_per_day)
        } else {
            String::new()
        },
        note: r.note.clone().unwrap_or_default(),
        fever_alert: r.fever_alert,
        measure_class: measure_class(r.strictest()),
    }
}

fn policy_views(all: &[StoredPolicy]) -> Vec<PolicyView> {
    let versions: Vec<_> = all.iter().map(|p| p.policy.clone()).collect();
    let current = policy_in_force(&versions, today()).cloned();
    let mut out = Vec::new();
    for (i, p) in all.iter().enumerate() {
        let policy = &p.policy;
        // In force until the day before the next version's date (oldest first).
        let until = all
            .iter()
            .skip(i + 1)
            .map(|n| n.policy.effective_from())
            .find(|d| *d > policy.effective_from())
            .and_then(|d| d.previous_day())
            .map(format_date)
            .unwrap_or_default();
        out.push(PolicyView {
            suspended_trips: policy
                .suspended_trips()
                .iter()
                .map(|k| k.label_zh())
                .collect::<Vec<_>>()
                .join("、"),
            id: p.id,
            name: policy.name().to_owned(),
            version: format!("{}@{}", policy.key(), policy.version()),
            from: format_date(policy.effective_from()),
            until,
            current: current.as_ref() == Some(policy),
            future: policy.effective_from() > today(),
            rules: policy.rules().iter().map(rule_view).collect(),
        });
    }
    // Newest first: the one in force is read most.
    out.reverse();
    out
}

async fn policies_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    match epidemic::published_policies(&state.db).await {
        Ok(all) => PoliciesPage {
            shell: Shell::of(&user, "epidemic"),
            policies: policy_views(&all),
            can_edit: user.scope.can_manage_policy(),
            notice: q
                .notice
                .map(|_| "已发布新版本：从其生效日期起登记的人员按新版本判定。".to_owned())
                .unwrap_or_default(),
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Arrival screening (三问一测)

struct SelectedPerson {
    id: i64,
    name: String,
    id_masked: String,
    phone_masked: String,
    place: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_arrival_form.html")]
struct ArrivalFormPage {
    shell: Shell,
    f: ArrivalFields,
    person: Option<SelectedPerson>,
    q: String,
    searched: bool,
    hits: Vec<HitRow>,
    nodes: Vec<Choice>,
    symptoms: Vec<SymptomChoice>,
    picker: PlacePicker,
    errors: Vec<String>,
    today: String,
}

#[derive(Deserialize)]
struct ArrivalQuery {
    person_id: Option<String>,
    q: Option<String>,
}

async fn render_arrival_form(
    state: &AppState,
    user: &Principal,
    mut f: ArrivalFields,
    q: String,
    errors: Vec<String>,
) -> Response {
    let person = match f.person_id.trim().parse::<i64>() {
        Ok(id) => match registry::get(&state.db, &user.scope, id).await {
            Ok(p) => Some(SelectedPerson {
                id: p.id,
                place: match &p.address {
                    Some(a) => format!("{} {a}", p.node_name),
                    None => p.node_name.clone(),
                },
                id_masked: p.id_number_masked.unwrap_or_default(),
                phone_masked: p.phone_masked.unwrap_or_default(),
                name: p.name,
            }),
            Err(e) => return store_error_page(e),
        },
        Err(_) => {
            f.person_id.clear();
            None
        }
    };
    let searched = person.is_none() && !q.trim().is_empty();
    let hits = if searched {
        match registry::search(&state.db, &user.scope, &q, 20).await {
            Ok((_, hits)) => hits.into_iter().map(HitRow::from).collect(),
            Err(e) => return store_error_page(e),
        }
    } else {
        Vec::new()
    };
    let tree = match tree::subtree(&state.db, &user.scope, None).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let writable: Vec<_> = tree
        .iter()
        .filter(|n| {
            n.is_open() && n.kind.serves_residents() && user.scope.can_write_records(&n.path)
        })
        .collect();
    if writable.len() == 1 && f.node_id.is_empty() {
        f.node_id = writable[0].id.to_string();
    }
    let base_depth = writable.iter().map(|n| n.depth).min().unwrap_or(0);
    let node_choices = writable
        .iter()
        .map(|n| Choice::node(n, base_depth, n.id.to_string() == f.node_id))
        .collect();
    if f.arrived_on.is_empty() {
        f.arrived_on = format_date(today());
    }
    let page = ArrivalFormPage {
        shell: Shell::of(user, "epidemic"),
        symptoms: symptom_choices(&f.symptoms),
        person,
        q,
        searched,
        hits,
        nodes: node_choices,
        picker: PlacePicker::new("origin_code", "来源地", &f.origin_code),
        errors,
        today: format_date(today()),
        f,
    };
    (status_for(&page.errors), page).into_response()
}

fn officials_read_only() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "干部账号只能查看防疫信息；来返人员由社区工作人员或网格员登记。",
    )
}

async fn arrival_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ArrivalQuery>,
) -> Response {
    if user.scope.role() == Role::Official {
        return officials_read_only();
    }
    let f = ArrivalFields {
        person_id: q.person_id.unwrap_or_default(),
        ..Default::default()
    };
    render_arrival_form(&state, &user, f, q.q.unwrap_or_default(), Vec::new()).await
}

/// Parses the form and records the screening.
async fn record(
    state: &AppState,
    user: &Principal,
    f: &ArrivalFields,
) -> Result<ArrivalRecorded, StoreError> {
    let mut errors: Vec<CoreError> = Vec::new();
    let origin = DivisionCode::resolve_field("origin_code", &f.origin_code)
        .map_err(|e| errors.push(e))
        .ok();
    let arrived_on = parse_date("arrived_on", f.arrived_on.trim())
        .map_err(|e| errors.push(e))
        .ok();
    let temperature = match f.temperature.trim() {
        "" => None,
        t => Temperature::parse(t)
            .map_err(|e| errors.push(CoreError::invalid("temperature", e.message)))
            .ok(),
    };
    let no_tags: Vec<String> = Vec::new();
    let person = if f.person_id.trim().is_empty() {
        let node_id = f.node_id.trim().parse::<i64>().ok();
        if node_id.is_none() {
            errors.push(CoreError::invalid(
                "node_id",
                "请选择新登记居民所在的辖区（或先查找已登记的居民）",
            ));
        }
        ArrivalPerson::New {
            placement: Placement {
                node_id: node_id.unwrap_or_default(),
                ..Default::default()
            },
            input: PersonInput {
                name: &f.name,
                gender: None,
                birth_date: None,
                ethnic_group: None,
                id_kind: None,
                id_number: Some(&f.id_number),
                phone: Some(&f.phone),
                hukou_address: None,
                category: None,
                tags: &no_tags,
                relation: None,
                address: Some(&f.address),
            },
        }
    } else {
        match f.person_id.trim().parse::<i64>() {
            Ok(id) => ArrivalPerson::Registered(id),
            Err(_) => return Err(StoreError::NotFound),
        }
    };
    let (Some(origin_code), Some(arrived_on), true) = (origin, arrived_on, errors.is_empty())
    else {
        return Err(StoreError::Invalid(errors));
    };
    epidemic::record_arrival(
        &state.db,
        &user.scope,
        ArrivalInput {
            person,
            origin_code,
            arrived_on,
            purpose: Some(f.purpose.trim().to_owned()).filter(|p| !p.is_empty()),
            symptoms: f.all_symptoms(),
            temperature,
            source: if f.proxy {
                ArrivalSource::Proxy
            } else {
                ArrivalSource::Worker
            },
        },
        now_ms(),
    )
    .await
}

/// A piece of the explanation; dates are kept on one line (a phone would break 2022-07-\n11).
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) date: bool,
}

fn is_date_at(b: &[u8], i: usize) -> bool {
    b.len() >= i + 10
        && b[i..i + 10].iter().enumerate().all(|(k, c)| match k {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// Splits a text into plain runs and `YYYY-MM-DD` dates (the arrival result and the
/// resident's receipt).
pub(crate) fn pieces(text: &str) -> Vec<Piece> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if is_date_at(b, i) {
            if start < i {
                out.push(Piece {
                    text: text[start..i].to_owned(),
                    date: false,
                });
            }
            out.push(Piece {
                text: text[i..i + 10].to_owned(),
                date: true,
            });
            i += 10;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < b.len() {
        out.push(Piece {
            text: text[start..].to_owned(),
            date: false,
        });
    }
    out
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_arrival_result.html")]
struct ResultPage {
    shell: Shell,
    person_id: i64,
    person_name: String,
    person_masked: String,
    origin: String,
    arrived_on: String,
    temperature: String,
    symptoms: String,
    proxy: bool,
    verdict: Verdict,
    note: String,
    policy_name: String,
    policy_version: String,
    observation_id: Option<i64>,
    /// The quarantine room (`建塘宾馆 2 楼 201 室`), its site and the site's phone.
    room: Option<epidemic::sites::Placed>,
    /// A centralised stage and no room: 暂无空床，请联系隔离点.
    no_bed: bool,
}

async fn arrival_submit(
    State(state): State<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let user = &form.user;
    if user.scope.role() == Role::Official {
        return officials_read_only();
    }
    let f = ArrivalFields::from_pairs(form.form.clone());
    let recorded = match record(&state, user, &f).await {
        Ok(r) => r,
        Err(e) => {
            return match form_errors(e, false) {
                Ok(errors) => render_arrival_form(&state, user, f, String::new(), errors).await,
                Err(e) => store_error_page(e),
            }
        }
    };
    // Post/redirect/get: a reload of the result shows the stored screening, never posts it again.
    Redirect::to(&format!("/epidemic/arrivals/{}", recorded.id)).into_response()
}

/// The result of a stored screening: the classification with its explanation, as the worker
/// reads it to the resident (scoped like the screening; anything else is 404).
async fn arrival_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    let a = match epidemic::arrival_result(&state.db, &user.scope, id).await {
        Ok(a) => a,
        Err(e) => return store_error_page(e),
    };
    let person = registry::get(&state.db, &user.scope, a.person_id)
        .await
        .ok();
    let policy_name = epidemic::published_policies(&state.db)
        .await
        .ok()
        .and_then(|all| {
            all.into_iter()
                .find(|p| Some(p.id) == a.policy_version_id)
                .map(|p| p.policy.name().to_owned())
        })
        .unwrap_or_default();
    let c = &a.classification;
    let room = match a.observation_id {
        Some(o) => epidemic::sites::stay_of_observation(&state.db, &user.scope, o)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let centralised = linli_core::epidemic::sites::Period::new(c.start, c.until)
        .ok()
        .and_then(|p| linli_core::epidemic::sites::centralised_span(c.measure, &c.stages, p))
        .is_some();
    ResultPage {
        no_bed: centralised && room.is_none(),
        room,
        shell: Shell::of(&user, "epidemic"),
        person_id: a.person_id,
        person_name: person.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        person_masked: person
            .as_ref()
            .and_then(|p| p.id_number_masked.clone())
            .unwrap_or_default(),
        origin: places::place_label(&a.origin_code),
        arrived_on: a.arrived_on.clone(),
        temperature: a
            .temperature
            .map(|t| format!("{:.1}", t.celsius()))
            .unwrap_or_default(),
        symptoms: if a.symptoms.is_empty() {
            "无".to_owned()
        } else {
            a.symptoms.join("、")
        },
        proxy: a.source == "proxy",
        verdict: Verdict::of(c),
        note: c.note.clone().unwrap_or_default(),
        policy_name,
        policy_version: format!("{}@{}", c.policy_key, c.policy_version),
        observation_id: a.observation_id,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_symptoms_are_split_and_merged() {
        let f = ArrivalFields {
            symptoms: vec!["咳嗽".into()],
            symptoms_other: "头痛，咳嗽、 流涕".into(),
            ..Default::default()
        };
        assert_eq!(f.all_symptoms(), vec!["咳嗽", "头痛", "流涕"]);
    }

    #[test]
    fn dates_in_the_explanation_are_kept_whole() {
        let p = pieces("至 2022-07-11；共 7 天");
        let got: Vec<(&str, bool)> = p.iter().map(|p| (p.text.as_str(), p.date)).collect();
        assert_eq!(
            got,
            vec![("至 ", false), ("2022-07-11", true), ("；共 7 天", false)]
        );
        assert_eq!(pieces("2022-07-1").len(), 1);
    }

    #[test]
    fn conditions_read_as_chinese() {
        let c = Condition::OriginRisk {
            level: RiskLevel::High,
            within_days: 7,
        };
        assert_eq!(condition_zh(&c), "抵达前 7 天内到过高风险地区");
    }
}
