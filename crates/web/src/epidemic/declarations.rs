//! Self-declaration by QR code: the public form `/d/{token}` a resident opens on a phone (no
//! login, rate-limited, standalone pages that show nothing but the compound's name and what
//! the resident typed), and the worker's side under 防疫: the review queue, one declaration
//! with its confirm and reject forms, and the links (create, print, rotate, revoke).
//!
//! The public post carries no CSRF token on purpose: no cookie authenticates it, so a forged
//! cross-site post can do nothing a stranger with the address could not do anyway; the rate
//! limits (per client address and per link) and the review by a worker are what keep abuse
//! out of the registry.

use linli_core::kernel::labels::Labelled;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use linli_core::epidemic::policy::{Classification, Measure};
use linli_core::kernel::clock::{display, format_date, today};
use linli_core::NodeKind;
use linli_store::accounts::Principal;
use linli_store::epidemic::declarations::{self, Declaration, DeclarationInput};
use linli_store::tree;
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::ui::Choice;
use crate::ui::RateLimiter;
use crate::ui::{field_label, short_label, store_error_page, FieldErrors, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/d/{token}", get(public_form).post(public_submit))
        .route("/epidemic/declarations", get(queue_page))
        .route("/epidemic/declarations/{id}", get(review_page))
        .route("/epidemic/declarations/{id}/confirm", post(confirm))
        .route("/epidemic/declarations/{id}/reject", post(reject))
        .route(
            "/epidemic/declaration-links",
            get(links_page).post(create_link),
        )
        .route("/epidemic/declaration-links/{id}/print", get(print_page))
        .route("/epidemic/declaration-links/{id}/rotate", post(rotate_link))
        .route("/epidemic/declaration-links/{id}/revoke", post(revoke_link))
        // Each app gets its own counters (tests run several apps in one process).
        .layer(Extension(Arc::new(Limits::default())))
}

// ---------------------------------------------------------------------------------------------
// Rate limits (in memory, per process)

/// The public form's limits: submissions per client address (10 per 10 minutes — a family
/// declaring one by one on one phone fits) and per link (300 per 10 minutes — a compound's
/// gate at rush hour), and page views per address.
struct Limits {
    post_per_address: RateLimiter,
    post_per_link: RateLimiter,
    get_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        let ten_minutes = Duration::from_secs(600);
        Limits {
            post_per_address: RateLimiter::new(10, ten_minutes),
            post_per_link: RateLimiter::new(300, ten_minutes),
            get_per_address: RateLimiter::new(60, ten_minutes),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_message.html")]
struct MessagePage {
    title: &'static str,
    message: String,
}

fn message(status: StatusCode, title: &'static str, message: String) -> Response {
    (status, MessagePage { title, message }).into_response()
}

fn too_many(retry: Duration) -> Response {
    let secs = retry.as_secs().max(1);
    let minutes = secs.div_ceil(60);
    let mut resp = message(
        StatusCode::TOO_MANY_REQUESTS,
        "提交过于频繁",
        format!(
            "同一网络提交次数过多，请 {minutes} 分钟后再试。如有急事，请直接联系社区工作人员。"
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn link_gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "该申报链接无效或已停用，请扫描小区最新张贴的二维码，或联系社区工作人员。".to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The public form

/// The symptoms offered as checkboxes (free text adds others).
const SYMPTOMS: [&str; 6] = ["发热", "咳嗽", "乏力", "咽痛", "腹泻", "嗅觉味觉减退"];

/// The form's values as typed, so a refused form comes back filled in.
#[derive(Default)]
struct Fields {
    name: String,
    id_number: String,
    phone: String,
    address: String,
    origin_code: String,
    arrived_on: String,
    purpose: String,
    symptoms: Vec<String>,
    symptoms_other: String,
    temperature: String,
}

impl Fields {
    fn from_pairs(pairs: Vec<(String, String)>) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "id_number" => f.id_number = v,
                "phone" => f.phone = v,
                "address" => f.address = v,
                "origin_code" => f.origin_code = v,
                "arrived_on" => f.arrived_on = v,
                "purpose" => f.purpose = v,
                "symptoms" => f.symptoms.push(v),
                "symptoms_other" => f.symptoms_other = v,
                "temperature" => f.temperature = v,
                _ => {}
            }
        }
        f
    }

    fn input(&self) -> DeclarationInput {
        let mut symptoms: Vec<String> = self.symptoms.clone();
        symptoms.extend(
            self.symptoms_other
                .split(|c: char| "，,、；;。".contains(c) || c.is_whitespace())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        DeclarationInput {
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            origin_code: self.origin_code.clone(),
            arrived_on: self.arrived_on.clone(),
            purpose: self.purpose.clone(),
            symptoms,
            temperature: self.temperature.clone(),
        }
    }
}

struct SymptomChoice {
    name: &'static str,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_form.html")]
struct FormPage {
    token: String,
    place: String,
    f: Fields,
    symptoms: Vec<SymptomChoice>,
    errors: FieldErrors,
    today: String,
}

impl FormPage {
    /// Messages of fields the form has no place for.
    fn other_errors(&self) -> Vec<String> {
        const SHOWN: [&str; 9] = [
            "name",
            "id_number",
            "phone",
            "address",
            "origin_code",
            "arrived_on",
            "purpose",
            "symptoms",
            "temperature",
        ];
        self.errors.others(&SHOWN, field_label)
    }
}

fn render_form(token: String, place: String, f: Fields, errors: FieldErrors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = FormPage {
        symptoms: SYMPTOMS
            .iter()
            .map(|s| SymptomChoice {
                name: s,
                checked: f.symptoms.iter().any(|c| c == s),
            })
            .collect(),
        token,
        place,
        f,
        errors,
        today: format_date(today()),
    };
    // Whatever was typed must not outlive the tab in a shared phone's cache.
    (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
}

async fn public_form(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip, Instant::now()) {
        return too_many(retry);
    }
    match declarations::link_for_token(&state.db, &token).await {
        Ok(link) => render_form(
            token,
            link.node_name,
            Fields {
                arrived_on: format_date(today()),
                ..Fields::default()
            },
            FieldErrors::default(),
        ),
        Err(StoreError::NotFound) => link_gone(),
        Err(e) => store_error_page(e),
    }
}

struct StageRow {
    label: &'static str,
    days: u16,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_receipt.html")]
struct ReceiptPage {
    place: String,
    name: String,
    reference: String,
    verdict: Option<Verdict>,
}

/// A classification as the pages show it.
struct Verdict {
    measure: &'static str,
    measure_class: &'static str,
    none: bool,
    days: u16,
    start: String,
    until: String,
    check_ins_per_day: u8,
    stages: Vec<StageRow>,
    explanation: Vec<Piece>,
    fever_alert: bool,
}

fn measure_class(m: Measure) -> &'static str {
    match m {
        Measure::CentralizedQuarantine => "centralized",
        Measure::HomeQuarantine => "home",
        Measure::HealthMonitoring => "monitoring",
        Measure::None => "none",
    }
}

impl Verdict {
    fn of(c: &Classification) -> Verdict {
        Verdict {
            measure: c.measure.label_zh(),
            measure_class: measure_class(c.measure),
            none: c.measure == Measure::None,
            days: c.days_total,
            start: format_date(c.start),
            until: format_date(c.until),
            check_ins_per_day: c.check_ins_per_day,
            stages: c
                .stages
                .iter()
                .map(|s| StageRow {
                    label: s.measure.label_zh(),
                    days: s.days,
                })
                .collect(),
            explanation: pieces(&c.explanation),
            fever_alert: c.fever_alert,
        }
    }
}

/// A piece of an explanation; dates are kept on one line (a phone would break 2022-07-\n11).
struct Piece {
    text: String,
    date: bool,
}

fn pieces(text: &str) -> Vec<Piece> {
    let is_date_at = |b: &[u8], i: usize| {
        b.len() >= i + 10
            && b[i..i + 10].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    };
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

async fn public_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let now = Instant::now();
    if let Err(retry) = limits.post_per_address.hit(&ip, now) {
        tracing::warn!(%ip, "declaration form: rate limit per address");
        return too_many(retry);
    }
    let link = match declarations::link_for_token(&state.db, &token).await {
        Ok(l) => l,
        Err(StoreError::NotFound) => return link_gone(),
        Err(e) => return store_error_page(e),
    };
    if let Err(retry) = limits.post_per_link.hit(&token, now) {
        tracing::warn!(link = link.id, "declaration form: rate limit per link");
        return too_many(retry);
    }
    let f = Fields::from_pairs(pairs);
    match declarations::submit(&state.db, &token, &f.input(), Some(&ip)).await {
        Ok(receipt) => {
            let page = ReceiptPage {
                place: link.node_name,
                name: f.name.trim().to_owned(),
                reference: receipt.reference,
                verdict: receipt.preliminary.as_ref().map(Verdict::of),
            };
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], page).into_response()
        }
        Err(StoreError::Invalid(errors)) => render_form(
            token,
            link.node_name,
            f,
            FieldErrors(errors.into_iter().map(|e| (e.field, e.message)).collect()),
        ),
        Err(StoreError::NotFound) => link_gone(),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// The review queue

struct QueueRow {
    id: i64,
    reference: String,
    name: String,
    id_masked: String,
    place: String,
    origin: String,
    arrived_on: String,
    submitted_at: String,
    fever: bool,
    health: String,
    claimed: bool,
}

fn health_of(d: &Declaration) -> (bool, String) {
    let hot = d
        .temperature
        .as_deref()
        .and_then(|t| t.parse::<f64>().ok())
        .is_some_and(|t| t >= 37.3);
    let fever = hot || !d.symptoms.is_empty();
    let mut said = Vec::new();
    if let Some(t) = &d.temperature {
        said.push(format!("{t} ℃"));
    }
    if d.symptoms.is_empty() {
        said.push("无症状".to_owned());
    } else {
        said.push(d.symptoms.join("、"));
    }
    (fever, said.join("，"))
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_queue.html")]
struct QueuePage {
    shell: Shell,
    rows: Vec<QueueRow>,
    notice: String,
}

#[derive(Deserialize)]
struct QueueQuery {
    rejected: Option<String>,
}

async fn queue_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<QueueQuery>,
) -> Response {
    let queue = match declarations::queue(&state.db, &user.scope).await {
        Ok(q) => q,
        Err(e) => return store_error_page(e),
    };
    QueuePage {
        shell: Shell::of(&user, "epidemic"),
        notice: q
            .rejected
            .map(|r| format!("已将申报 {r} 标为不予确认。"))
            .unwrap_or_default(),
        rows: queue
            .into_iter()
            .map(|d| {
                let (fever, health) = health_of(&d);
                QueueRow {
                    id: d.id,
                    reference: d.reference,
                    name: d.name,
                    id_masked: d.id_number_masked,
                    place: format!("{} {}", d.node_name, d.address),
                    origin: d.origin_code,
                    arrived_on: d.arrived_on,
                    submitted_at: display(d.submitted_at),
                    fever,
                    health,
                    claimed: d.status == "confirming",
                }
            })
            .collect(),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// One declaration: confirm or reject

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_review.html")]
struct ReviewPage {
    shell: Shell,
    d: Declaration,
    submitted_at: String,
    fever: bool,
    health: String,
    nodes: Vec<Choice>,
    can_review: bool,
    errors: Vec<String>,
    reason: String,
}

/// Open nodes at or below the declaration's node that the caller may register people in.
async fn placement_choices(
    state: &AppState,
    user: &Principal,
    d: &Declaration,
    chosen: i64,
) -> Result<Vec<Choice>, StoreError> {
    let tree = tree::subtree(&state.db, &user.scope, Some(d.node_id)).await?;
    let base = tree.iter().map(|n| n.depth).min().unwrap_or(0);
    Ok(tree
        .iter()
        .filter(|n| n.is_open() && user.scope.can_write_records(&n.path))
        .map(|n| Choice {
            value: n.id.to_string(),
            label: format!(
                "{}{}（{}）",
                "　".repeat((n.depth - base).clamp(0, 6) as usize),
                n.name,
                short_label(n.kind)
            ),
            selected: n.id == chosen,
        })
        .collect())
}

async fn render_review(
    state: &AppState,
    user: &Principal,
    id: i64,
    chosen: Option<i64>,
    errors: Vec<String>,
    reason: String,
) -> Response {
    let d = match declarations::get(&state.db, &user.scope, id).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let nodes = match placement_choices(state, user, &d, chosen.unwrap_or(d.node_id)).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let (fever, health) = health_of(&d);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ReviewPage {
        shell: Shell::of(user, "epidemic"),
        submitted_at: display(d.submitted_at),
        can_review: d.status == "pending" && user.scope.can_write_records(&d.node_path),
        d,
        fever,
        health,
        nodes,
        errors,
        reason,
    };
    (status, page).into_response()
}

async fn review_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    render_review(&state, &user, id, None, Vec::new(), String::new()).await
}

/// Messages for a refused review, one per field; other errors are passed back for a page.
fn review_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    let label = |f: &str| match f {
        "reason" => "原因".to_owned(),
        "declaration_id" => "申报".to_owned(),
        "origin_code" => "来源地区划代码".to_owned(),
        "arrived_on" => "抵达日期".to_owned(),
        other => field_label(other).to_owned(),
    };
    match e {
        StoreError::Invalid(errs) => Ok(errs
            .iter()
            .map(|e| format!("{}：{}", label(&e.field), e.message))
            .collect()),
        StoreError::Conflict { field, message } => {
            Ok(vec![format!("{}：{message}", label(&field))])
        }
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    node_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_confirmed.html")]
struct ConfirmedPage {
    shell: Shell,
    person_id: i64,
    person_name: String,
    matched: bool,
    reference: String,
    verdict: Verdict,
    observation_id: Option<i64>,
    alert_id: Option<i64>,
}

async fn confirm(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<ConfirmForm>,
) -> Response {
    let user = &form.user;
    let node_id = form.form.node_id.trim().parse::<i64>().ok();
    match declarations::confirm(&state.db, &user.scope, id, node_id).await {
        Ok(done) => {
            // The record is stored; what follows only dresses the answer.
            let d = declarations::get(&state.db, &user.scope, id).await.ok();
            ConfirmedPage {
                shell: Shell::of(user, "epidemic"),
                person_id: done.person_id,
                person_name: d.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                matched: done.matched,
                reference: d.map(|d| d.reference).unwrap_or_default(),
                verdict: Verdict::of(&done.arrival.classification),
                observation_id: done.arrival.observation_id,
                alert_id: done.arrival.alert_id,
            }
            .into_response()
        }
        Err(e) => match review_errors(e) {
            Ok(errors) => render_review(&state, user, id, node_id, errors, String::new()).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<RejectForm>,
) -> Response {
    let user = &form.user;
    let reference = match declarations::get(&state.db, &user.scope, id).await {
        Ok(d) => d.reference,
        Err(e) => return store_error_page(e),
    };
    match declarations::reject(&state.db, &user.scope, id, &form.form.reason).await {
        Ok(()) => Redirect::to(&format!(
            "/epidemic/declarations?rejected={}",
            crate::ui::url_encode(&reference)
        ))
        .into_response(),
        Err(e) => match review_errors(e) {
            Ok(errors) => {
                render_review(&state, user, id, None, errors, form.form.reason.clone()).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Links

struct LinkRow {
    id: i64,
    place: String,
    url: String,
    created: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_links.html")]
struct LinksPage {
    shell: Shell,
    rows: Vec<LinkRow>,
    nodes: Vec<Choice>,
    can_manage: bool,
    errors: Vec<String>,
    notice: String,
}

/// The address residents type or scan: this server as the worker reached it.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn render_links(
    state: &AppState,
    user: &Principal,
    headers: &HeaderMap,
    errors: Vec<String>,
    notice: String,
) -> Response {
    let result = async {
        let links = declarations::links(&state.db, &user.scope).await?;
        let tree = tree::subtree(&state.db, &user.scope, None).await?;
        Ok::<_, StoreError>((links, tree))
    }
    .await;
    let (links, tree) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let base = base_url(state, headers);
    let linked: Vec<i64> = links.iter().map(|l| l.node_id).collect();
    let eligible: Vec<_> = tree
        .iter()
        .filter(|n| {
            n.is_open()
                && matches!(
                    n.kind,
                    NodeKind::Community | NodeKind::Compound | NodeKind::Grid | NodeKind::Building
                )
                && user.scope.can_write_records(&n.path)
                && !linked.contains(&n.id)
        })
        .collect();
    let depth = eligible.iter().map(|n| n.depth).min().unwrap_or(0);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = LinksPage {
        shell: Shell::of(user, "epidemic"),
        rows: links
            .into_iter()
            .map(|l| LinkRow {
                id: l.id,
                place: format!("{}（{}）", l.node_name, short_label(l.node_kind)),
                url: format!("{base}/d/{}", l.token),
                created: format!("{} {} 生成", display(l.created_at), l.created_by),
            })
            .collect(),
        nodes: eligible
            .iter()
            .map(|n| Choice {
                value: n.id.to_string(),
                label: format!(
                    "{}{}（{}）",
                    "　".repeat((n.depth - depth).clamp(0, 6) as usize),
                    n.name,
                    short_label(n.kind)
                ),
                selected: false,
            })
            .collect(),
        can_manage: user.scope.role() != linli_core::Role::Official,
        errors,
        notice,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct LinksQuery {
    done: Option<String>,
}

async fn links_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    headers: HeaderMap,
    Query(q): Query<LinksQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("created") => "已生成申报链接。",
        Some("rotated") => "已重新生成：旧链接已失效，请张贴新的二维码。",
        Some("revoked") => "已停用该链接。",
        _ => "",
    };
    render_links(&state, &user, &headers, Vec::new(), notice.to_owned()).await
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    node_id: String,
}

async fn create_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: CsrfForm<LinkForm>,
) -> Response {
    let user = &form.user;
    let Ok(node_id) = form.form.node_id.trim().parse::<i64>() else {
        return render_links(
            &state,
            user,
            &headers,
            vec!["所属辖区：请选择小区、网格或楼栋".to_owned()],
            String::new(),
        )
        .await;
    };
    match declarations::create_link(&state.db, &user.scope, node_id).await {
        Ok(_) => Redirect::to("/epidemic/declaration-links?done=created").into_response(),
        Err(e) => match review_errors(e) {
            Ok(errors) => render_links(&state, user, &headers, errors, String::new()).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn rotate_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match declarations::rotate_link(&state.db, &form.user.scope, id).await {
        Ok(_) => Redirect::to("/epidemic/declaration-links?done=rotated").into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn revoke_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match declarations::revoke_link(&state.db, &form.user.scope, id).await {
        Ok(()) => Redirect::to("/epidemic/declaration-links?done=revoked").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_print.html")]
struct PrintPage {
    place: String,
    url: String,
}

/// A page to print and post at the gate: the place and the address, large.
async fn print_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let links = match declarations::links(&state.db, &user.scope).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    let Some(link) = links.into_iter().find(|l| l.id == id) else {
        return store_error_page(StoreError::NotFound);
    };
    PrintPage {
        url: format!("{}/d/{}", base_url(&state, &headers), link.token),
        place: link.node_name,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_the_eleventh_hit_and_forgets_after_the_window() {
        let l = RateLimiter::new(10, Duration::from_secs(600));
        let t0 = Instant::now();
        for _ in 0..10 {
            l.hit("1.2.3.4", t0).unwrap();
        }
        let retry = l.hit("1.2.3.4", t0 + Duration::from_secs(60)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(540));
        assert!(
            l.hit("5.6.7.8", t0).is_ok(),
            "another address is not limited"
        );
        l.hit("1.2.3.4", t0 + Duration::from_secs(600)).unwrap();
    }

    #[test]
    fn symptoms_typed_freely_are_split() {
        let f = Fields {
            symptoms: vec!["咳嗽".into()],
            symptoms_other: "头痛，流涕".into(),
            ..Fields::default()
        };
        assert_eq!(f.input().symptoms, vec!["咳嗽", "头痛", "流涕"]);
    }
}
