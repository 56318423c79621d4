//! Checkpoint pages (卡点): the caller's gates with today's counts, the fast gate page a grid
//! worker keeps open on a phone (进 / 出, a pass code or a plate, the temperature, and a big
//! verdict), passes for people and vehicles (the code shown large to write on the card), and
//! Trips are in `trips.rs`. Forms work without JavaScript; a refused form comes back filled in.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::epidemic::checkpoint::{parse_pass_code, Direction, ScanOutcome, VehiclePlate};
use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{display, format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::{CoreError, NodeKind, Role};
use linli_store::accounts::Principal;
use linli_store::epidemic::checkpoints::{
    self, Checkpoint, Holder, Pass, PassInput, Passer, ScanCounts, ScanInput, ScanRecorded,
};
use linli_store::{registry, tree, StoreError};
use serde::Deserialize;

use super::{root_ids, status_for};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::{error_page, field_label, form_errors_with, store_error_page, Empty, Shell};
use crate::ui::{Choice, HitRow};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkpoints", get(list_page).post(create_checkpoint))
        .route("/checkpoints/{id}", get(gate_page).post(gate_scan))
        .route("/passes", get(passes_page).post(issue_pass))
        .route("/passes/{id}", get(pass_page))
        .route("/passes/{id}/card", get(pass_card))
        .route("/p/{code}", get(pass_scanned))
        .route("/passes/{id}/revoke", post(revoke_pass))
}

/// Field names of the checkpoint forms in Chinese.
pub(super) fn label(field: &str) -> &str {
    match field {
        "name" => "卡点名称",
        "node_id" => "地点",
        "pass_code" => "通行证编码",
        "plate" => "车牌",
        "code" => "通行证编码或车牌",
        "direction" => "进出",
        "temperature" => "体温",
        "person_id" => "居民",
        "valid_from" => "有效期起",
        "valid_to" => "有效期止",
        "purpose" => "事由",
        "kind" => "外出事由",
        "destination" => "去向",
        "leave_on" => "外出日期",
        "return_on" => "预计返回",
        "returned_on" => "返回日期",
        "health_certificate" => "健康证明",
        "organiser" => "带队人",
        "vehicle_plate" => "车牌",
        "person_ids" => "同行人员",
        "on" => "日期",
        "note" => "备注",
        "state" => "状态",
        "at" => "时间",
        other => field_label(other),
    }
}

/// Messages for a refused form, one per field; other errors are passed back for an error page.
pub(super) fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, label)
}

pub(super) fn officials_read_only() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "干部账号只能查看卡点信息；通行登记、通行证和外出登记由社区工作人员或网格员办理。",
    )
}

pub(super) fn can_write(user: &Principal) -> bool {
    user.scope.role() != Role::Official
}

/// Compounds, grids and communities the caller may use in a form (open, `allowed`), indented
/// under each other, the current one selected.
async fn place_choices(
    state: &AppState,
    user: &Principal,
    allowed: impl Fn(&linli_store::tree::Node) -> bool,
    current: &str,
) -> Result<Vec<Choice>, StoreError> {
    let tree = tree::subtree(&state.db, &user.scope, None).await?;
    let usable: Vec<_> = tree
        .iter()
        .filter(|n| {
            n.is_open()
                && matches!(
                    n.kind,
                    NodeKind::Community | NodeKind::Compound | NodeKind::Grid
                )
                && allowed(n)
        })
        .collect();
    let base = usable.iter().map(|n| n.depth).min().unwrap_or(0);
    Ok(usable
        .iter()
        .map(|n| Choice::node(n, base, n.id.to_string() == current || usable.len() == 1))
        .collect())
}

/// People found by the registry search, for the pick lists of the pass and trip forms.
pub(super) async fn person_hits(
    state: &AppState,
    user: &Principal,
    q: &str,
) -> Result<Vec<HitRow>, StoreError> {
    let (_, hits) = registry::search(&state.db, &user.scope, q, 20).await?;
    Ok(hits.into_iter().map(HitRow::from).collect())
}

/// The chosen person, shown above a form.
pub(super) struct SelectedPerson {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) place: String,
}

pub(super) async fn selected_person(
    state: &AppState,
    user: &Principal,
    raw: &str,
) -> Result<Option<SelectedPerson>, StoreError> {
    match raw.trim().parse::<i64>() {
        Ok(id) => {
            let p = registry::get(&state.db, &user.scope, id).await?;
            Ok(Some(SelectedPerson {
                id: p.id,
                place: match &p.address {
                    Some(a) => format!("{} {a}", p.node_name),
                    None => p.node_name.clone(),
                },
                name: p.name,
            }))
        }
        Err(_) => Ok(None),
    }
}

#[derive(Deserialize)]
pub(super) struct PickQuery {
    pub(super) person_id: Option<String>,
    pub(super) q: Option<String>,
    pub(super) notice: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The caller's checkpoints

struct CheckpointRow {
    id: i64,
    name: String,
    node_name: String,
    counts: ScanCounts,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoints.html")]
struct ListPage {
    shell: Shell,
    today: String,
    rows: Vec<CheckpointRow>,
    can_create: bool,
    places: Vec<Choice>,
    name: String,
    errors: Vec<String>,
    notice: String,
}

/// The open checkpoints under every root of the caller, by place and name.
async fn checkpoints_in_scope(
    state: &AppState,
    user: &Principal,
) -> Result<Vec<Checkpoint>, StoreError> {
    let mut all = Vec::new();
    for root in root_ids(state, user).await? {
        all.extend(checkpoints::checkpoints(&state.db, &user.scope, root).await?);
    }
    // A user bound to a node and to one below it would see the lower one's gates twice.
    let mut seen = std::collections::HashSet::new();
    all.retain(|c| seen.insert(c.id));
    Ok(all)
}

async fn render_list(
    state: &AppState,
    user: &Principal,
    node_id: &str,
    name: String,
    errors: Vec<String>,
    notice: String,
) -> Response {
    let result = async {
        let mut rows = Vec::new();
        for c in checkpoints_in_scope(state, user).await? {
            let (_, counts) = checkpoints::scans(&state.db, &user.scope, c.id, today()).await?;
            rows.push(CheckpointRow {
                id: c.id,
                name: c.name,
                node_name: c.node_name,
                counts,
            });
        }
        let can_create = matches!(user.scope.role(), Role::Admin | Role::Staff);
        let places = if can_create {
            place_choices(state, user, |n| user.scope.can_add_under(&n.path), node_id).await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((rows, can_create, places))
    }
    .await;
    let (rows, can_create, places) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let page = ListPage {
        shell: Shell::of(user, "epidemic"),
        today: format_date(today()),
        rows,
        can_create,
        places,
        name,
        notice,
        errors,
    };
    (status_for(&page.errors), page).into_response()
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<PickQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("created") => "已设置卡点。".to_owned(),
        _ => String::new(),
    };
    render_list(&state, &user, "", String::new(), Vec::new(), notice).await
}

#[derive(Deserialize)]
struct CheckpointForm {
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    name: String,
}

async fn create_checkpoint(State(state): State<AppState>, f: CsrfForm<CheckpointForm>) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = match form.node_id.trim().parse::<i64>() {
        Ok(node_id) => {
            checkpoints::create_checkpoint(&state.db, &user.scope, node_id, &form.name, now_ms())
                .await
        }
        Err(_) => Err(StoreError::invalid("node_id", "请选择设卡点的小区或网格")),
    };
    match result {
        Ok(_) => Redirect::to("/checkpoints?notice=created").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_list(
                    &state,
                    user,
                    &form.node_id,
                    form.name,
                    errors,
                    String::new(),
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The gate page

struct ScanRow {
    time: String,
    direction: &'static str,
    holder: String,
    temperature: String,
    outcome: &'static str,
    outcome_class: &'static str,
}

struct Verdict {
    class: &'static str,
    label: &'static str,
    /// What to do next (a fever: the fever clinic).
    advice: String,
    holder: String,
    reason: String,
    direction: &'static str,
    temperature: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoint_gate.html")]
struct GatePage {
    shell: Shell,
    id: i64,
    name: String,
    node_name: String,
    today: String,
    can_scan: bool,
    verdict: Option<Verdict>,
    code: String,
    temperature: String,
    errors: Vec<String>,
    rows: Vec<ScanRow>,
    counts: ScanCounts,
}

fn outcome_class(o: ScanOutcome) -> &'static str {
    match o {
        ScanOutcome::Allowed => "allowed",
        ScanOutcome::NoPass => "no-pass",
        ScanOutcome::Fever => "fever",
        // Refused like a fever: the same red.
        ScanOutcome::UnderQuarantine => "fever",
    }
}

async fn render_gate(
    state: &AppState,
    user: &Principal,
    id: i64,
    verdict: Option<Verdict>,
    code: String,
    temperature: String,
    errors: Vec<String>,
) -> Response {
    let result = async {
        let cp = checkpoints::checkpoint(&state.db, &user.scope, id).await?;
        let (list, counts) = checkpoints::scans(&state.db, &user.scope, id, today()).await?;
        Ok::<_, StoreError>((cp, list, counts))
    }
    .await;
    let (cp, list, counts) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .into_iter()
        .map(|s| {
            let outcome = ScanOutcome::from_str_opt(&s.outcome);
            let when = display(s.at);
            ScanRow {
                // The day is today's: the time is enough.
                time: when.get(11..).unwrap_or(&when).to_owned(),
                direction: Direction::parse(&s.direction).map_or("", Direction::label_zh),
                holder: s.holder,
                temperature: s.temperature.unwrap_or_default(),
                outcome: outcome.map_or("", |o| match o {
                    ScanOutcome::Fever => "体温异常",
                    other => other.label_zh(),
                }),
                outcome_class: outcome.map_or("", outcome_class),
            }
        })
        .collect();
    let page = GatePage {
        shell: Shell::of(user, "epidemic"),
        id: cp.id,
        can_scan: user.scope.can_write_records(&cp.node_path),
        name: cp.name,
        node_name: cp.node_name,
        today: format_date(today()),
        verdict,
        code,
        temperature,
        errors,
        rows,
        counts,
    };
    (status_for(&page.errors), page).into_response()
}

#[derive(Deserialize)]
struct GateQuery {
    /// A pass code from a scanned pass (`/p/{code}`): the form comes filled in.
    #[serde(default)]
    code: String,
}

async fn gate_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<GateQuery>,
) -> Response {
    // Only a well-formed code is carried over; anything else is left for the guard to type.
    let code = parse_pass_code(&q.code).unwrap_or_default();
    render_gate(&state, &user, id, None, code, String::new(), Vec::new()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoint_choose.html")]
struct ChoosePage {
    shell: Shell,
    code: String,
    gates: Vec<Checkpoint>,
}

/// What a pass's QR code opens (`/p/{code}`): a signed-in guard's phone camera lands on the
/// gate page with the code filled in — their one gate directly, a choice when they keep
/// several. Signing in first when needed comes back here (the login keeps the address).
async fn pass_scanned(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(raw): Path<String>,
) -> Response {
    let code = match parse_pass_code(&raw) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::NOT_FOUND, &e.message),
    };
    let result = async {
        let mut gates: Vec<Checkpoint> = Vec::new();
        for root in root_ids(&state, &user).await? {
            gates.extend(checkpoints::checkpoints(&state.db, &user.scope, root).await?);
        }
        gates.retain(|g| user.scope.can_write_records(&g.node_path));
        gates.sort_by_key(|g| g.id);
        gates.dedup_by_key(|g| g.id);
        Ok::<_, StoreError>(gates)
    }
    .await;
    let gates = match result {
        Ok(g) => g,
        Err(e) => return store_error_page(e),
    };
    match gates.as_slice() {
        [] => error_page(
            StatusCode::FORBIDDEN,
            "您的辖区内没有可以值守的卡点，不能登记通行。",
        ),
        [one] => Redirect::to(&format!("/checkpoints/{}?code={code}", one.id)).into_response(),
        _ => ChoosePage {
            shell: Shell::of(&user, "epidemic"),
            code,
            gates,
        }
        .into_response(),
    }
}

#[derive(Deserialize)]
struct ScanForm {
    #[serde(default)]
    direction: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    temperature: String,
}

/// What the guard typed: a plate opens with a province's character (any non-ASCII first
/// character is read as one, so a wrong one gets the plate's message); else a pass code.
fn passer_of(raw: &str) -> Result<Passer, CoreError> {
    let t = raw.trim();
    match t.chars().next() {
        None => Err(CoreError::invalid("code", "请填写通行证编码或车牌")),
        Some(c) if !c.is_ascii() => VehiclePlate::parse(t).map(Passer::Plate),
        Some(_) => parse_pass_code(t).map(Passer::PassCode),
    }
}

/// Logs one passage and shows the verdict above a fresh form; a refused scan keeps what was
/// typed and says which field is wrong.
async fn gate_scan(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<ScanForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    if !can_write(user) {
        // Still a 404 for a gate outside the caller's jurisdiction.
        if let Err(e) = checkpoints::checkpoint(&state.db, &user.scope, id).await {
            return store_error_page(e);
        }
        return officials_read_only();
    }
    let mut errors = Vec::new();
    let direction = Direction::parse(&form.direction)
        .map_err(|e| errors.push(e))
        .ok();
    let passer = passer_of(&form.code).map_err(|e| errors.push(e)).ok();
    let temperature = match form.temperature.trim() {
        "" => None,
        t => Temperature::parse(t)
            .map_err(|e| errors.push(CoreError::invalid("temperature", e.message)))
            .ok(),
    };
    let result = match (direction, passer, errors.is_empty()) {
        (Some(direction), Some(passer), true) => {
            checkpoints::record_scan(
                &state.db,
                &user.scope,
                id,
                &ScanInput {
                    direction,
                    passer,
                    temperature,
                    at: None,
                },
                now_ms(),
            )
            .await
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(r) => {
            let verdict = verdict_of(&r, direction, temperature);
            render_gate(
                &state,
                user,
                id,
                Some(verdict),
                String::new(),
                String::new(),
                Vec::new(),
            )
            .await
        }
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_gate(&state, user, id, None, form.code, form.temperature, errors).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

fn verdict_of(
    r: &ScanRecorded,
    direction: Option<Direction>,
    temperature: Option<Temperature>,
) -> Verdict {
    Verdict {
        class: outcome_class(r.outcome),
        // The fever label is long: its first half is the verdict, the rest the advice.
        label: match r.outcome {
            ScanOutcome::Fever => "体温异常",
            other => other.label_zh(),
        },
        advice: match r.outcome {
            ScanOutcome::Fever => "已发出发热预警，引导至发热门诊".to_owned(),
            // The measure and its last day, as the guard tells the person.
            ScanOutcome::UnderQuarantine => r.message.clone().unwrap_or_default(),
            _ => String::new(),
        },
        holder: r.holder.clone(),
        reason: r.reason.clone().unwrap_or_default(),
        direction: direction.map_or("", Direction::label_zh),
        temperature: temperature
            .map(|t| format!("{:.1}℃", f64::from(t.tenths()) / 10.0))
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Passes

struct PassRow {
    id: i64,
    code: String,
    holder: String,
    vehicle: bool,
    node_name: String,
    purpose: String,
    validity: String,
    revoked: bool,
    expired: bool,
}

#[derive(Default)]
struct PassFields {
    person_id: String,
    plate: String,
    node_id: String,
    valid_from: String,
    valid_to: String,
    purpose: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoint_passes.html")]
struct PassesPage {
    shell: Shell,
    rows: Vec<PassRow>,
    can_issue: bool,
    f: PassFields,
    person: Option<SelectedPerson>,
    q: String,
    searched: bool,
    hits: Vec<HitRow>,
    places: Vec<Choice>,
    errors: Vec<String>,
    notice: String,
}

fn pass_row(p: Pass, today: &str) -> PassRow {
    PassRow {
        id: p.id,
        code: p.code,
        vehicle: p.plate.is_some(),
        holder: p.person_name.or(p.plate).unwrap_or_default(),
        node_name: p.node_name,
        purpose: p.purpose.unwrap_or_default(),
        expired: p.valid_to.as_str() < today,
        validity: format!("{} 至 {}", p.valid_from, p.valid_to),
        revoked: p.revoked,
    }
}

async fn render_passes(
    state: &AppState,
    user: &Principal,
    mut f: PassFields,
    q: String,
    errors: Vec<String>,
    notice: String,
) -> Response {
    let result = async {
        let mut all = Vec::new();
        for root in root_ids(state, user).await? {
            all.extend(checkpoints::passes(&state.db, &user.scope, root).await?);
        }
        all.sort_by_key(|p| std::cmp::Reverse(p.id));
        all.dedup_by_key(|p| p.id);
        let can_issue = can_write(user);
        let person = if can_issue {
            selected_person(state, user, &f.person_id).await?
        } else {
            None
        };
        let searched = can_issue && person.is_none() && !q.trim().is_empty();
        let hits = if searched {
            person_hits(state, user, &q).await?
        } else {
            Vec::new()
        };
        let places = if can_issue {
            place_choices(
                state,
                user,
                |n| user.scope.can_write_records(&n.path),
                &f.node_id,
            )
            .await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((all, can_issue, person, searched, hits, places))
    }
    .await;
    let (all, can_issue, person, searched, hits, places) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let today = format_date(today());
    if f.valid_from.is_empty() {
        f.valid_from = today.clone();
    }
    if f.valid_to.is_empty() {
        f.valid_to = format_date(linli_core::kernel::clock::today() + time::Duration::days(30));
    }
    let page = PassesPage {
        shell: Shell::of(user, "epidemic"),
        rows: all.into_iter().map(|p| pass_row(p, &today)).collect(),
        can_issue,
        f,
        person,
        q,
        searched,
        hits,
        places,
        errors,
        notice,
    };
    (status_for(&page.errors), page).into_response()
}

async fn passes_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<PickQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("revoked") => "已收回通行证，卡点从下一次登记起不再放行。".to_owned(),
        _ => String::new(),
    };
    let f = PassFields {
        person_id: q.person_id.unwrap_or_default(),
        ..Default::default()
    };
    render_passes(
        &state,
        &user,
        f,
        q.q.unwrap_or_default(),
        Vec::new(),
        notice,
    )
    .await
}

#[derive(Deserialize)]
struct PassForm {
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    plate: String,
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_to: String,
    #[serde(default)]
    purpose: String,
}

async fn issue_pass(State(state): State<AppState>, f: CsrfForm<PassForm>) -> Response {
    let user = &f.user;
    if !can_write(user) {
        return officials_read_only();
    }
    let form = f.form;
    let mut errors = Vec::new();
    let holder = match (form.person_id.trim().parse::<i64>(), form.plate.trim()) {
        (Ok(id), _) => Some(Holder::Person(id)),
        (Err(_), "") => {
            errors.push(CoreError::invalid(
                "person_id",
                "请选定居民，或填写车辆车牌",
            ));
            None
        }
        (Err(_), plate) => VehiclePlate::parse(plate)
            .map(Holder::Vehicle)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let node_id = match form.node_id.trim().parse::<i64>() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(CoreError::invalid(
                "node_id",
                "请选择通行证适用的小区或网格",
            ));
            None
        }
    };
    let valid_from = parse_date("valid_from", form.valid_from.trim())
        .map_err(|e| errors.push(e))
        .ok();
    let valid_to = parse_date("valid_to", form.valid_to.trim())
        .map_err(|e| errors.push(e))
        .ok();
    let result = match (holder, node_id, valid_from, valid_to, errors.is_empty()) {
        (Some(holder), Some(node_id), Some(valid_from), Some(valid_to), true) => {
            checkpoints::issue_pass(
                &state.db,
                &user.scope,
                &PassInput {
                    node_id,
                    holder,
                    purpose: Some(form.purpose.clone()),
                    valid_from,
                    valid_to,
                },
                now_ms(),
            )
            .await
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(p) => Redirect::to(&format!("/passes/{}?issued=1", p.id)).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                let fields = PassFields {
                    person_id: form.person_id,
                    plate: form.plate,
                    node_id: form.node_id,
                    valid_from: form.valid_from,
                    valid_to: form.valid_to,
                    purpose: form.purpose,
                };
                render_passes(&state, user, fields, String::new(), errors, String::new()).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoint_pass.html")]
struct PassPage {
    shell: Shell,
    p: PassRow,
    issued: bool,
    can_revoke: bool,
    /// The code's QR (an inline SVG of `/p/{code}` at the public address).
    qr: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/checkpoint_pass_card.html")]
struct PassCard {
    p: PassRow,
    grouped: String,
    qr: String,
    url: String,
}

/// The link a pass's QR code carries: the gate page for that pass, at the public address.
fn pass_url(base: &str, code: &str) -> String {
    format!("{base}/p/{code}")
}

/// A card to print and carry (about A6): the QR code a guard scans, the code to type when the
/// camera fails, the holder's masked name and the validity.
async fn pass_card(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> Response {
    match checkpoints::pass(&state.db, &user.scope, id).await {
        Ok(p) => {
            let mut row = pass_row(p, &format_date(today()));
            if !row.vehicle {
                // A card is carried in the street: the name masked, as the gate shows it.
                row.holder = linli_core::epidemic::contact::mask_name(&row.holder);
            }
            let (url, qr) = crate::ui::qr::link_and_svg(pass_url(&base, &row.code), 260);
            PassCard {
                grouped: linli_core::kernel::token::grouped(&row.code),
                p: row,
                qr,
                url,
            }
            .into_response()
        }
        Err(e) => store_error_page(e),
    }
}

#[derive(Deserialize)]
struct IssuedQuery {
    issued: Option<String>,
}

/// One pass with its code large, to copy onto the card (prints without the header).
async fn pass_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    Query(q): Query<IssuedQuery>,
) -> Response {
    match checkpoints::pass(&state.db, &user.scope, id).await {
        Ok(p) => {
            let row = pass_row(p, &format_date(today()));
            PassPage {
                qr: crate::ui::qr::svg(&pass_url(&base, &row.code), 200).unwrap_or_default(),
                shell: Shell::of(&user, "epidemic"),
                can_revoke: can_write(&user) && !row.revoked,
                p: row,
                issued: q.issued.is_some(),
            }
            .into_response()
        }
        Err(e) => store_error_page(e),
    }
}

async fn revoke_pass(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Empty>,
) -> Response {
    match checkpoints::revoke_pass(&state.db, &f.user.scope, id, now_ms()).await {
        Ok(()) => Redirect::to("/passes?notice=revoked").into_response(),
        Err(StoreError::Conflict { message, .. }) => {
            render_passes(
                &state,
                &f.user,
                PassFields::default(),
                String::new(),
                vec![message],
                String::new(),
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
