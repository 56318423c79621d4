//! Self-declaration by QR code, the worker's side under 防疫: the review queue, one declaration
//! with its confirm and reject forms, and the links (create, print, rotate, revoke). The form a
//! resident opens from the link is in `public.rs`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::display;
use linli_core::kernel::clock::now_ms;
use linli_core::NodeKind;
use linli_store::accounts::Principal;
use linli_store::epidemic::declarations::{self, Declaration};
use linli_store::tree;
use linli_store::StoreError;
use serde::Deserialize;

use super::public::Verdict;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::places;
use crate::ui::qr::PublicBase;
use crate::ui::Choice;
use crate::ui::{field_label, form_errors_with, short_label, store_error_page, Empty, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
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
                    origin: places::place_label(&d.origin_code),
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

impl ReviewPage {
    /// 「湖北省武汉市洪山区（420111）」
    fn origin(&self) -> String {
        places::place_label(&self.d.origin_code)
    }
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
        .map(|n| Choice::node(n, base, n.id == chosen))
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
    let status = form_status(!errors.is_empty());
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
    form_errors_with(e, |f| match f {
        "reason" => "原因",
        "declaration_id" => "申报",
        "origin_code" => "来源地",
        "arrived_on" => "抵达日期",
        other => field_label(other),
    })
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
    match declarations::confirm(&state.db, &user.scope, id, node_id, now_ms()).await {
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
    match declarations::reject(&state.db, &user.scope, id, &form.form.reason, now_ms()).await {
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
    /// The URL's QR code, an inline `<svg>`.
    qr: String,
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

async fn render_links(
    state: &AppState,
    user: &Principal,
    base: &str,
    errors: Vec<String>,
    notice: String,
) -> Response {
    let result = async {
        let mut links = declarations::links(&state.db, &user.scope).await?;
        let actors = links.iter_mut().map(|l| &mut l.created_by).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        let tree = tree::subtree(&state.db, &user.scope, None).await?;
        Ok::<_, StoreError>((links, tree))
    }
    .await;
    let (links, tree) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
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
    let status = form_status(!errors.is_empty());
    let page = LinksPage {
        shell: Shell::of(user, "epidemic"),
        rows: links
            .into_iter()
            .map(|l| {
                let url = format!("{base}/d/{}", l.token);
                LinkRow {
                    id: l.id,
                    place: format!("{}（{}）", l.node_name, short_label(l.node_kind)),
                    qr: crate::ui::qr::svg(&url, 96).unwrap_or_default(),
                    url,
                    created: format!("{} {} 生成", display(l.created_at), l.created_by),
                }
            })
            .collect(),
        nodes: eligible
            .iter()
            .map(|n| Choice::node(n, depth, false))
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
    PublicBase(base): PublicBase,
    Query(q): Query<LinksQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("created") => "已生成申报链接。",
        Some("rotated") => "已重新生成：旧链接已失效，请张贴新的二维码。",
        Some("revoked") => "已停用该链接。",
        _ => "",
    };
    render_links(&state, &user, &base, Vec::new(), notice.to_owned()).await
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    node_id: String,
}

async fn create_link(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    form: CsrfForm<LinkForm>,
) -> Response {
    let user = &form.user;
    let Ok(node_id) = form.form.node_id.trim().parse::<i64>() else {
        return render_links(
            &state,
            user,
            &base,
            vec!["所属辖区：请选择小区、网格或楼栋".to_owned()],
            String::new(),
        )
        .await;
    };
    match declarations::create_link(&state.db, &user.scope, node_id, now_ms()).await {
        Ok(_) => Redirect::to("/epidemic/declaration-links?done=created").into_response(),
        Err(e) => match review_errors(e) {
            Ok(errors) => render_links(&state, user, &base, errors, String::new()).await,
            Err(e) => store_error_page(e),
        },
    }
}

async fn rotate_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match declarations::rotate_link(&state.db, &form.user.scope, id, now_ms()).await {
        Ok(_) => Redirect::to("/epidemic/declaration-links?done=rotated").into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn revoke_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match declarations::revoke_link(&state.db, &form.user.scope, id, now_ms()).await {
        Ok(()) => Redirect::to("/epidemic/declaration-links?done=revoked").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_print.html")]
struct PrintPage {
    place: String,
    url: String,
    /// The URL's QR code, an inline `<svg>` (empty if the URL were too long to encode).
    qr: String,
}

/// A page to print and post at the gate: the place and the address, large.
async fn print_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> Response {
    let links = match declarations::links(&state.db, &user.scope).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    let Some(link) = links.into_iter().find(|l| l.id == id) else {
        return store_error_page(StoreError::NotFound);
    };
    let url = format!("{base}/d/{}", link.token);
    PrintPage {
        qr: crate::ui::qr::svg(&url, 320).unwrap_or_default(),
        url,
        place: link.node_name,
    }
    .into_response()
}
