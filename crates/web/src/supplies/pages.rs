//! Supplies pages (物资): the stock of the viewer's node summed over its subtree (low stock
//! marked), its sites and transfers; a site's page with its stock, days of cover, ledger and the
//! forms to record a receipt, issue or adjustment, to send a transfer and to set thresholds;
//! receiving and cancelling transfers; the stock and ledger as xlsx. Forms work without
//! JavaScript; a refused form comes back filled in.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, today};
use linli_core::kernel::labels::Labelled;
use linli_core::supplies::{
    can_dispatch_from, can_write_at, AdjustReason, EntryKind, ItemDraft, Movement, Quantity,
    RequestAction, SiteDraft,
};
use linli_core::CoreError;
use linli_store::accounts::Principal;
use linli_store::supplies::{self, Transfer, TransferInput};
use linli_store::{tree, Page, StoreError};
use serde::Deserialize;

use super::ledger::EntryRow;
use crate::auth::names::name_actors;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::Choice;
use crate::ui::{error_page, field_label, store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/supplies", get(stock_page))
        .route("/supplies/stock.xlsx", get(export_xlsx))
        .route("/supplies/sites", post(create_site))
        .route("/supplies/items", post(create_item))
        .route("/supplies/sites/{id}", get(site_page))
        .route("/supplies/sites/{id}/entries", post(record_entry))
        .route("/supplies/sites/{id}/transfers", post(send_transfer))
        .route("/supplies/sites/{id}/thresholds", post(set_threshold))
        .route(
            "/supplies/sites/{id}/allocate",
            get(allocate_page).post(allocate_submit),
        )
        .route("/supplies/requests", get(requests_page))
        .route("/supplies/sites/{id}/requests", post(create_request))
        .route("/supplies/requests/{id}/submit", post(submit_request))
        .route("/supplies/requests/{id}/approve", post(approve_request))
        .route("/supplies/requests/{id}/fulfil", post(fulfil_request))
        .route("/supplies/transfers/{id}/receive", post(receive_transfer))
        .route("/supplies/transfers/{id}/cancel", post(cancel_transfer))
}

/// Field names of the supplies forms in Chinese.
fn label(field: &str) -> &str {
    match field {
        "item_id" => "物资",
        "kind" => "类型",
        "quantity" => "数量",
        "reason" => "调整原因",
        "note" => "备注",
        "to_site_id" => "接收物资点",
        "minimum" => "预警下限",
        "name" => "物资点名称",
        "state" => "调拨状态",
        other => field_label(other),
    }
}

/// Messages for a refused form and its status (409 when the stock is not there, 422 for bad
/// input); other errors are passed back for an error page.
fn form_errors(e: StoreError) -> Result<(StatusCode, Vec<String>), StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            errs.iter()
                .map(|e| format!("{}：{}", label(&e.field), e.message))
                .collect(),
        )),
        StoreError::Conflict { field, message } => {
            let status = if field == "quantity" || field == "state" {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, vec![format!("{}：{}", label(&field), message)]))
        }
        other => Err(other),
    }
}

fn invalid(errors: Vec<CoreError>) -> StoreError {
    StoreError::Invalid(errors)
}

/// An id typed in a form: a bad or missing one is an error on that field.
fn form_id(field: &str, raw: &str, errors: &mut Vec<CoreError>) -> Option<i64> {
    match raw.trim().parse::<i64>() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(CoreError::invalid(field, format!("请选择{}", label(field))));
            None
        }
    }
}

/// Only local supplies pages are returned to after a form.
fn safe_back(back: &str) -> String {
    if back.starts_with("/supplies") && !back.starts_with("//") && !back.contains('\\') {
        back.to_owned()
    } else {
        "/supplies".to_owned()
    }
}

fn item_choices(items: &[supplies::Item], current: &str) -> Vec<Choice> {
    items
        .iter()
        .map(|i| Choice {
            value: i.id.to_string(),
            label: format!("{}（{}）", i.name, i.unit),
            selected: i.id.to_string() == current,
        })
        .collect()
}

/// The nodes at the top of the caller's jurisdiction (an admin's: the tree's roots).
async fn root_nodes(state: &AppState, user: &Principal) -> Result<Vec<(i64, String)>, StoreError> {
    if user.scope.is_admin() {
        Ok(tree::visible_roots(&state.db, &user.scope)
            .await?
            .into_iter()
            .map(|r| (r.node.id, r.node.name))
            .collect())
    } else {
        Ok(user
            .user
            .nodes
            .iter()
            .map(|n| (n.id, n.name.clone()))
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Transfers, as listed on both pages

struct TransferRow {
    id: i64,
    item: String,
    quantity: String,
    from: String,
    to: String,
    state: &'static str,
    state_class: &'static str,
    sent: String,
    done: String,
    note: String,
    can_receive: bool,
    can_cancel: bool,
}

/// Names who sent and who received or cancelled each transfer (records keep logins).
async fn name_transfers(state: &AppState, ts: &mut [Transfer]) -> Result<(), StoreError> {
    let actors = ts
        .iter_mut()
        .flat_map(|t| std::iter::once(&mut t.sent_by).chain(t.done_by.as_mut()));
    name_actors(&state.db, actors.collect()).await
}

fn transfer_row(t: &Transfer, user: &Principal) -> TransferRow {
    TransferRow {
        id: t.id,
        item: t.item_name.clone(),
        quantity: format!("{} {}", t.quantity, t.unit),
        from: t.from_site_name.clone(),
        to: t.to_site_name.clone(),
        state: t.state.label_zh(),
        state_class: t.state.as_str(),
        sent: format!("{} {}", display(t.sent_at), t.sent_by),
        done: match (t.done_at, &t.done_by) {
            (Some(at), Some(by)) => format!("{} {}", display(at), by),
            _ => String::new(),
        },
        note: t.note.clone().unwrap_or_default(),
        can_receive: t.receivable_by(&user.scope),
        can_cancel: t.cancellable_by(&user.scope),
    }
}

// ---------------------------------------------------------------------------------------------
// Stock of a node

struct StockRow {
    name: String,
    unit: String,
    quantity: i64,
    in_transit: i64,
    low_sites: i64,
}

struct SiteRow {
    id: i64,
    name: String,
    node_name: String,
    kind: &'static str,
}

struct NodeChoice {
    id: i64,
    name: String,
    on: bool,
}

#[derive(Default)]
struct SiteFields {
    name: String,
    kind: String,
}

/// The item form as typed (admins only), kept when refused.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ItemForm {
    name: String,
    unit: String,
    category: String,
    shelf_life_days: String,
}

/// The stock page's two forms as typed, and the item form's errors (the site form's are the
/// page's `errors`).
#[derive(Default)]
struct StockForms {
    site: SiteFields,
    item: ItemForm,
    item_errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "supplies/supplies.html")]
struct StockPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    roots: Vec<NodeChoice>,
    rows: Vec<StockRow>,
    low_total: i64,
    sites: Vec<SiteRow>,
    transfers: Vec<TransferRow>,
    back: String,
    can_add_site: bool,
    f: SiteFields,
    errors: Vec<String>,
    notice: String,
    /// Admins add items to the catalogue here.
    can_add_item: bool,
    item: ItemForm,
    item_errors: Vec<String>,
    categories: Vec<Choice>,
}

#[derive(Deserialize)]
struct StockQuery {
    node_id: Option<i64>,
    notice: Option<String>,
}

async fn stock_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<StockQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("received") => "已确认接收，物资已入库。",
        Some("cancelled") => "已取消调拨，物资已退回调出物资点。",
        Some("site") => "已设立物资点。",
        Some("item") => "已新增物资品类。",
        _ => "",
    };
    render_stock(
        &state,
        &user,
        q.node_id,
        StockForms::default(),
        StatusCode::OK,
        Vec::new(),
        notice.to_owned(),
    )
    .await
}

async fn render_stock(
    state: &AppState,
    user: &Principal,
    node_id: Option<i64>,
    forms: StockForms,
    status: StatusCode,
    errors: Vec<String>,
    notice: String,
) -> Response {
    let result = async {
        let roots = root_nodes(state, user).await?;
        let node_id = match node_id.or_else(|| roots.first().map(|r| r.0)) {
            Some(id) => id,
            None => return Ok(None),
        };
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let stock = supplies::stock(&state.db, &user.scope, node.id).await?;
        let sites = supplies::sites(&state.db, &user.scope, node.id).await?;
        let mut transfers = supplies::transfers(&state.db, &user.scope, node.id, None).await?;
        name_transfers(state, &mut transfers).await?;
        Ok::<_, StoreError>(Some((roots, node, stock, sites, transfers)))
    }
    .await;
    let (roots, node, stock, sites, transfers) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到物资。"),
        Err(e) => return store_error_page(e),
    };
    let back = format!("/supplies?node_id={}", node.id);
    let page = StockPage {
        shell: Shell::of(user, "supplies"),
        roots: roots
            .into_iter()
            .map(|(id, name)| NodeChoice {
                on: id == node.id,
                id,
                name,
            })
            .collect(),
        low_total: stock.iter().map(|l| l.low_sites).sum(),
        rows: stock
            .into_iter()
            .filter(|l| l.item.preset || l.quantity > 0 || l.in_transit > 0)
            .map(|l| StockRow {
                name: l.item.name,
                unit: l.item.unit,
                quantity: l.quantity,
                in_transit: l.in_transit,
                low_sites: l.low_sites,
            })
            .collect(),
        sites: sites
            .into_iter()
            .map(|s| SiteRow {
                id: s.id,
                name: s.name,
                node_name: s.node_name,
                kind: s.kind.label_zh(),
            })
            .collect(),
        // The latest 50: the rest stay in each site's ledger.
        transfers: transfers
            .iter()
            .take(50)
            .map(|t| transfer_row(t, user))
            .collect(),
        back,
        can_add_site: can_write_at(&user.scope, &node.path) && node.is_open(),
        node_id: node.id,
        node_name: node.name,
        f: forms.site,
        errors,
        notice,
        can_add_item: linli_core::supplies::can_define_items(&user.scope),
        categories: linli_core::supplies::ItemCategory::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str().to_owned(),
                label: c.label_zh().to_owned(),
                selected: forms.item.category == c.as_str(),
            })
            .collect(),
        item: forms.item,
        item_errors: forms.item_errors,
    };
    (status, page).into_response()
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SiteForm {
    node_id: String,
    name: String,
    kind: String,
}

async fn create_site(State(state): State<AppState>, f: CsrfForm<SiteForm>) -> Response {
    let user = &f.user;
    let form = f.form;
    let node_id = form.node_id.trim().parse::<i64>().ok();
    let result = async {
        let node_id = node_id.ok_or(StoreError::NotFound)?;
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let draft = SiteDraft::parse(
            &form.name,
            Some(form.kind.as_str()),
            supplies::is_upper_level(node.kind),
        )
        .map_err(invalid)?;
        supplies::create_site(&state.db, &user.scope, node.id, &draft, now_ms()).await
    }
    .await;
    match result {
        Ok(site) => {
            Redirect::to(&format!("/supplies/sites/{}?notice=site", site.id)).into_response()
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let forms = StockForms {
                    site: SiteFields {
                        name: form.name,
                        kind: form.kind,
                    },
                    ..StockForms::default()
                };
                render_stock(&state, user, node_id, forms, status, errors, String::new()).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct ItemQuery {
    node_id: Option<i64>,
}

/// Field names of the item form in Chinese.
fn item_label(field: &str) -> &str {
    match field {
        "name" => "物资名称",
        "unit" => "计量单位",
        "category" => "品类",
        "shelf_life_days" => "保质期",
        other => field_label(other),
    }
}

/// Adds an item to the catalogue (admins only: `can_define_items`). A refusal re-renders the
/// stock page with the form as typed.
async fn create_item(
    State(state): State<AppState>,
    Query(q): Query<ItemQuery>,
    f: CsrfForm<ItemForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    if !linli_core::supplies::can_define_items(&user.scope) {
        return error_page(StatusCode::FORBIDDEN, "只有系统管理员可以新增物资品类。");
    }
    let shelf = form.shelf_life_days.trim();
    let result = async {
        let shelf_life_days = match shelf {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| {
                StoreError::invalid("shelf_life_days", "请填写整数天数，无保质期请留空")
            })?),
        };
        let draft = ItemDraft::parse(&form.name, &form.unit, &form.category, shelf_life_days)
            .map_err(StoreError::Invalid)?;
        supplies::create_item(&state.db, &user.scope, &draft, now_ms()).await
    }
    .await;
    let errors = match result {
        Ok(_) => {
            let node = q
                .node_id
                .map(|n| format!("node_id={n}&"))
                .unwrap_or_default();
            return Redirect::to(&format!("/supplies?{node}notice=item")).into_response();
        }
        Err(StoreError::Invalid(errs)) => errs
            .iter()
            .map(|e| format!("{}：{}", item_label(&e.field), e.message))
            .collect(),
        Err(StoreError::Conflict { field, message }) => {
            vec![format!("{}：{}", item_label(&field), message)]
        }
        Err(e) => return store_error_page(e),
    };
    let forms = StockForms {
        item: form,
        item_errors: errors,
        ..StockForms::default()
    };
    render_stock(
        &state,
        user,
        q.node_id,
        forms,
        StatusCode::UNPROCESSABLE_ENTITY,
        Vec::new(),
        String::new(),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// A site

struct SiteStockRow {
    name: String,
    unit: String,
    quantity: i64,
    in_transit: i64,
    minimum: String,
    low: bool,
    issued: i64,
    cover: String,
}

/// The entry form as typed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct EntryForm {
    item_id: String,
    kind: String,
    quantity: String,
    reason: String,
    note: String,
}

/// The transfer form as typed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct TransferForm {
    to_site_id: String,
    item_id: String,
    quantity: String,
    note: String,
}

#[derive(Default, Deserialize)]
struct ThresholdForm {
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    minimum: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "supplies/supplies_site.html")]
struct SitePage {
    shell: Shell,
    site_id: i64,
    site_name: String,
    site_kind: &'static str,
    node_id: i64,
    node_name: String,
    rows: Vec<SiteStockRow>,
    entries: Vec<EntryRow>,
    transfers: Vec<TransferRow>,
    back: String,
    can_write: bool,
    can_dispatch: bool,
    /// A reserve the caller dispatches from: the allocation page is offered.
    can_allocate: bool,
    /// A community store whose staff may ask their street for stock.
    can_request: bool,
    notice: String,
    // The entry form.
    items: Vec<Choice>,
    kinds: Vec<Choice>,
    reasons: Vec<Choice>,
    f: EntryForm,
    errors: Vec<String>,
    // The transfer form.
    targets: Vec<Choice>,
    t_items: Vec<Choice>,
    t: TransferForm,
    t_errors: Vec<String>,
    // The threshold form.
    th_items: Vec<Choice>,
    th: ThresholdForm,
    th_errors: Vec<String>,
    cover_days: i64,
}

/// What a re-rendered site page carries back: the three forms and their messages.
#[derive(Default)]
struct SiteForms {
    f: EntryForm,
    errors: Vec<String>,
    t: TransferForm,
    t_errors: Vec<String>,
    th: ThresholdForm,
    th_errors: Vec<String>,
    notice: String,
}

#[derive(Deserialize)]
struct SiteQuery {
    notice: Option<String>,
}

async fn site_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<SiteQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("entry") => "已记账。",
        Some("sent") => "已发出调拨，物资在途，等待接收方确认。",
        Some("threshold") => "已保存预警下限。",
        Some("allocated") => "已按分配方案发出调拨，各社区确认接收后入库。",
        Some("site") => "已设立物资点，可以登记入库了。",
        _ => "",
    };
    let forms = SiteForms {
        notice: notice.to_owned(),
        ..SiteForms::default()
    };
    render_site(&state, &user, id, StatusCode::OK, forms).await
}

async fn render_site(
    state: &AppState,
    user: &Principal,
    site_id: i64,
    status: StatusCode,
    forms: SiteForms,
) -> Response {
    let result = async {
        let site = supplies::get_site(&state.db, &user.scope, site_id).await?;
        let stock = supplies::site_stock(&state.db, &user.scope, site.id, now_ms()).await?;
        let mut entries =
            supplies::ledger(&state.db, &user.scope, site.id, Page::new(Some(100), None)).await?;
        let mut transfers: Vec<Transfer> =
            supplies::transfers(&state.db, &user.scope, site.node_id, None)
                .await?
                .into_iter()
                .filter(|t| t.from_site_id == site.id || t.to_site_id == site.id)
                .take(30)
                .collect();
        name_actors(
            &state.db,
            entries.iter_mut().map(|e| &mut e.actor).collect(),
        )
        .await?;
        name_transfers(state, &mut transfers).await?;
        let items = supplies::items(&state.db).await?;
        let can_dispatch = can_dispatch_from(&user.scope, &site.node_path, site.kind);
        let targets = if can_dispatch {
            supplies::transfer_targets(&state.db, &user.scope, site.id).await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((
            site,
            stock,
            entries,
            transfers,
            items,
            targets,
            can_dispatch,
        ))
    }
    .await;
    let (site, stock, entries, transfers, items, targets, can_dispatch) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let SiteForms {
        f,
        errors,
        t,
        t_errors,
        th,
        th_errors,
        notice,
    } = forms;
    let kind = if f.kind.is_empty() {
        "receipt"
    } else {
        f.kind.as_str()
    };
    let page = SitePage {
        shell: Shell::of(user, "supplies"),
        site_id: site.id,
        site_kind: site.kind.label_zh(),
        node_id: site.node_id,
        node_name: site.node_name.clone(),
        rows: stock
            .iter()
            .filter(|l| l.item.preset || l.quantity > 0 || l.in_transit > 0 || l.minimum.is_some())
            .map(|l| SiteStockRow {
                name: l.item.name.clone(),
                unit: l.item.unit.clone(),
                quantity: l.quantity,
                in_transit: l.in_transit,
                minimum: l.minimum.map(|m| m.to_string()).unwrap_or_default(),
                low: l.is_low(),
                issued: l.issued_recently,
                cover: match l.days_of_cover {
                    Some(d) => format!("{d} 天"),
                    None => "—".to_owned(),
                },
            })
            .collect(),
        entries: entries.into_iter().map(EntryRow::of).collect(),
        transfers: transfers.iter().map(|t| transfer_row(t, user)).collect(),
        back: format!("/supplies/sites/{}", site.id),
        can_write: can_write_at(&user.scope, &site.node_path),
        can_dispatch,
        can_allocate: can_dispatch && site.kind == linli_core::supplies::SiteKind::Reserve,
        can_request: can_write_at(&user.scope, &site.node_path)
            && site.kind == linli_core::supplies::SiteKind::Store,
        notice,
        items: item_choices(&items, &f.item_id),
        kinds: [EntryKind::Receipt, EntryKind::Issue, EntryKind::Adjustment]
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: k.label_zh().to_owned(),
                selected: k.as_str() == kind,
            })
            .collect(),
        reasons: AdjustReason::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: r.label_zh().to_owned(),
                selected: r.as_str() == f.reason,
            })
            .collect(),
        targets: targets
            .iter()
            .map(|s| Choice {
                value: s.id.to_string(),
                label: format!("{} · {}", s.node_name, s.name),
                selected: s.id.to_string() == t.to_site_id,
            })
            .collect(),
        t_items: item_choices(&items, &t.item_id),
        th_items: item_choices(&items, &th.item_id),
        site_name: site.name,
        f,
        errors,
        t,
        t_errors,
        th,
        th_errors,
        cover_days: linli_core::supplies::COVER_WINDOW_DAYS,
    };
    (status, page).into_response()
}

async fn record_entry(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<EntryForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = async {
        let mut errors = Vec::new();
        let item_id = form_id("item_id", &form.item_id, &mut errors);
        let reason = Some(form.reason.as_str()).filter(|_| form.kind.trim() == "adjustment");
        let movement = Movement::parse_text(&form.kind, &form.quantity, reason)
            .map_err(|e| errors.extend(e))
            .ok();
        let (Some(item_id), Some(movement), true) = (item_id, movement, errors.is_empty()) else {
            return Err(invalid(errors));
        };
        supplies::record(
            &state.db,
            &user.scope,
            id,
            item_id,
            &movement,
            Some(&form.note),
            now_ms(),
        )
        .await
    }
    .await;
    after_site_form(&state, user, id, result, "entry", |errors| SiteForms {
        f: form,
        errors,
        ..SiteForms::default()
    })
    .await
}

/// After one of the site page's forms: back to the page with `notice`, or the page again with
/// the refused form (placed by `refused`) and its messages.
async fn after_site_form<T>(
    state: &AppState,
    user: &Principal,
    id: i64,
    result: Result<T, StoreError>,
    notice: &str,
    refused: impl FnOnce(Vec<String>) -> SiteForms,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/supplies/sites/{id}?notice={notice}")).into_response(),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => render_site(state, user, id, status, refused(errors)).await,
            Err(e) => store_error_page(e),
        },
    }
}

async fn send_transfer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<TransferForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = async {
        let mut errors = Vec::new();
        let to_site_id = form_id("to_site_id", &form.to_site_id, &mut errors);
        let item_id = form_id("item_id", &form.item_id, &mut errors);
        let quantity = Quantity::parse("quantity", &form.quantity)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(to_site_id), Some(item_id), Some(quantity), true) =
            (to_site_id, item_id, quantity, errors.is_empty())
        else {
            return Err(invalid(errors));
        };
        supplies::send_transfer(
            &state.db,
            &user.scope,
            &TransferInput {
                from_site_id: id,
                to_site_id,
                item_id,
                quantity,
                note: Some(&form.note),
            },
            now_ms(),
        )
        .await
    }
    .await;
    after_site_form(&state, user, id, result, "sent", |t_errors| SiteForms {
        t: form,
        t_errors,
        ..SiteForms::default()
    })
    .await
}

async fn set_threshold(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<ThresholdForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = async {
        let mut errors = Vec::new();
        let item_id = form_id("item_id", &form.item_id, &mut errors);
        let minimum = match form.minimum.trim() {
            "" => None,
            raw => match raw.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(CoreError::invalid(
                        "minimum",
                        "预警下限应为 0 或正整数；留空则取消预警",
                    ));
                    None
                }
            },
        };
        let (Some(item_id), true) = (item_id, errors.is_empty()) else {
            return Err(invalid(errors));
        };
        supplies::set_threshold(&state.db, &user.scope, id, item_id, minimum, now_ms()).await
    }
    .await;
    after_site_form(&state, user, id, result, "threshold", |th_errors| {
        SiteForms {
            th: form,
            th_errors,
            ..SiteForms::default()
        }
    })
    .await
}

#[derive(Deserialize)]
struct BackForm {
    #[serde(default)]
    back: String,
}

async fn finish_transfer(
    state: &AppState,
    user: &Principal,
    id: i64,
    back: &str,
    receive: bool,
) -> Response {
    let result = if receive {
        supplies::receive_transfer(&state.db, &user.scope, id, now_ms()).await
    } else {
        supplies::cancel_transfer(&state.db, &user.scope, id, now_ms()).await
    };
    match result {
        Ok(_) => {
            let back = safe_back(back);
            let sep = if back.contains('?') { '&' } else { '?' };
            let what = if receive { "received" } else { "cancelled" };
            // A site page shows no such notice; the stock page does.
            let target = if back.starts_with("/supplies/sites/") {
                back
            } else {
                format!("{back}{sep}notice={what}")
            };
            Redirect::to(&target).into_response()
        }
        Err(StoreError::Conflict { message, .. }) => error_page(StatusCode::CONFLICT, &message),
        Err(e) => store_error_page(e),
    }
}

async fn receive_transfer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<BackForm>,
) -> Response {
    finish_transfer(&state, &f.user, id, &f.form.back, true).await
}

async fn cancel_transfer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<BackForm>,
) -> Response {
    finish_transfer(&state, &f.user, id, &f.form.back, false).await
}

// ---------------------------------------------------------------------------------------------
// Allocation from a reserve

struct AllocRow {
    site_id: i64,
    community: String,
    site: String,
    observed: i64,
    on_hand: i64,
    shortfall: i64,
    quantity: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "supplies/supplies_allocate.html")]
struct AllocatePage {
    shell: Shell,
    site_id: i64,
    site_name: String,
    items: Vec<Choice>,
    item_id: i64,
    unit: String,
    in_reserve: i64,
    available: i64,
    daily_use: i64,
    days: i64,
    rows: Vec<AllocRow>,
    suggested: i64,
    needed: i64,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
struct AllocateQuery {
    item_id: Option<i64>,
    available: Option<i64>,
    daily_use: Option<i64>,
    days: Option<i64>,
}

async fn allocate_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<AllocateQuery>,
) -> Response {
    render_allocation(&state, &user, id, q, StatusCode::OK, Vec::new()).await
}

/// The suggestion: each community's shortfall (people under observation × daily use × days −
/// stock on hand and in transit) and the reserve's units shared by it (`linli_core::supplies::
/// allocate`), shown for approval before anything moves.
async fn render_allocation(
    state: &AppState,
    user: &Principal,
    id: i64,
    q: AllocateQuery,
    status: StatusCode,
    errors: Vec<String>,
) -> Response {
    let result = async {
        let items = supplies::items(&state.db).await?;
        let item_id = q
            .item_id
            .or_else(|| items.first().map(|i| i.id))
            .unwrap_or(0);
        let (reserve, in_reserve, recipients) =
            supplies::allocation_basis(&state.db, &user.scope, id, item_id).await?;
        Ok::<_, StoreError>((items, item_id, reserve, in_reserve, recipients))
    }
    .await;
    let (items, item_id, reserve, in_reserve, recipients) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    // Out-of-range settings fall back to sensible ones rather than refusing a read-only page.
    let daily_use = q.daily_use.filter(|d| (0..=1_000).contains(d)).unwrap_or(2);
    let days = q.days.filter(|d| (1..=365).contains(d)).unwrap_or(7);
    let available = q.available.unwrap_or(in_reserve).clamp(0, in_reserve);
    let plan = super::api::allocation_plan(&recipients, available, daily_use, days);
    let unit = items
        .iter()
        .find(|i| i.id == item_id)
        .map(|i| i.unit.clone())
        .unwrap_or_default();
    let page = AllocatePage {
        shell: Shell::of(user, "supplies"),
        site_id: reserve.id,
        site_name: reserve.name,
        items: item_choices(&items, &item_id.to_string()),
        item_id,
        unit,
        in_reserve,
        available,
        daily_use,
        days,
        suggested: plan.iter().map(|a| a.quantity).sum(),
        needed: plan.iter().map(|a| a.shortfall).sum(),
        rows: recipients
            .into_iter()
            .zip(plan)
            .map(|(r, a)| AllocRow {
                site_id: r.site.id,
                community: r.site.node_name,
                site: r.site.name,
                observed: r.observed,
                on_hand: r.on_hand,
                shortfall: a.shortfall,
                quantity: a.quantity,
            })
            .collect(),
        errors,
    };
    (status, page).into_response()
}

/// The approved allocation (quantities as edited): one transfer per line with a quantity, all
/// sent or none.
async fn allocate_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let user = &f.user;
    let value = |k: &str| {
        f.form
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let item_id = value("item_id").trim().parse::<i64>().ok();
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    let sites: Vec<&String> = f
        .form
        .iter()
        .filter(|(k, _)| k == "to")
        .map(|(_, v)| v)
        .collect();
    let quantities: Vec<&String> = f
        .form
        .iter()
        .filter(|(k, _)| k == "q")
        .map(|(_, v)| v)
        .collect();
    for (site, q) in sites.iter().zip(quantities.iter()) {
        let raw = q.trim();
        if raw.is_empty() || raw == "0" {
            continue;
        }
        match (site.parse::<i64>(), Quantity::parse("quantity", raw)) {
            (Ok(site), Ok(q)) => lines.push((site, q)),
            (_, Err(e)) => errors.push(format!("数量：{}", e.message)),
            (Err(_), _) => errors.push("接收物资点有误".to_owned()),
        }
    }
    let query = AllocateQuery {
        item_id,
        available: value("available").trim().parse().ok(),
        daily_use: value("daily_use").trim().parse().ok(),
        days: value("days").trim().parse().ok(),
    };
    let Some(item_id) = item_id else {
        return store_error_page(StoreError::invalid("item_id", "请选择物资"));
    };
    if !errors.is_empty() {
        return render_allocation(
            &state,
            user,
            id,
            query,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    }
    match supplies::send_allocation(&state.db, &user.scope, id, item_id, &lines, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/supplies/sites/{id}?notice=allocated")).into_response(),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                render_allocation(&state, user, id, query, status, errors).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Requests to the street

struct RequestLineRow {
    item_id: i64,
    item: String,
    unit: String,
    requested: i64,
    approved: String,
    fulfilled: i64,
    /// Still to send: approved and not yet fulfilled.
    open: i64,
}

struct RequestRow {
    id: i64,
    site: String,
    state: &'static str,
    state_class: &'static str,
    created: String,
    note: String,
    decided_by: String,
    lines: Vec<RequestLineRow>,
    can_submit: bool,
    can_approve: bool,
    can_fulfil: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "supplies/supplies_requests.html")]
struct RequestsPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    rows: Vec<RequestRow>,
    reserves: Vec<Choice>,
    error: String,
    notice: String,
}

#[derive(Deserialize)]
struct RequestsQuery {
    node_id: Option<i64>,
    notice: Option<String>,
}

async fn requests_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<RequestsQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("draft") => "已保存申领草稿。",
        Some("submitted") => "已提交街道，等待审批。",
        Some("approved") => "已审批。",
        Some("fulfilled") => "已发出调拨，社区确认接收后入库。",
        _ => "",
    };
    render_requests(
        &state,
        &user,
        q.node_id,
        StatusCode::OK,
        String::new(),
        notice,
    )
    .await
}

async fn render_requests(
    state: &AppState,
    user: &Principal,
    node_id: Option<i64>,
    status: StatusCode,
    error: String,
    notice: &str,
) -> Response {
    let result = async {
        let roots = root_nodes(state, user).await?;
        let Some(node_id) = node_id.or_else(|| roots.first().map(|r| r.0)) else {
            return Ok(None);
        };
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let mut list = supplies::requests(&state.db, &user.scope, node.id).await?;
        let actors = list
            .iter_mut()
            .flat_map(|r| std::iter::once(&mut r.created_by).chain(r.decided_by.as_mut()));
        name_actors(&state.db, actors.collect()).await?;
        let reserves: Vec<supplies::Site> = supplies::sites_in_scope(&state.db, &user.scope)
            .await?
            .into_iter()
            .filter(|s| {
                s.kind == linli_core::supplies::SiteKind::Reserve
                    && can_dispatch_from(&user.scope, &s.node_path, s.kind)
            })
            .collect();
        Ok::<_, StoreError>(Some((node, list, reserves)))
    }
    .await;
    let (node, list, reserves) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到物资。"),
        Err(e) => return store_error_page(e),
    };
    let page = RequestsPage {
        shell: Shell::of(user, "supplies"),
        node_id: node.id,
        node_name: node.name,
        rows: list
            .iter()
            .map(|r| {
                RequestRow {
                    id: r.id,
                    site: r.site_name.clone(),
                    state: r.state.label_zh(),
                    state_class: r.state.as_str(),
                    created: format!("{} {}", display(r.created_at), r.created_by),
                    note: r.note.clone().unwrap_or_default(),
                    decided_by: r.decided_by.clone().unwrap_or_default(),
                    lines: r
                        .lines
                        .iter()
                        .map(|l| RequestLineRow {
                            item_id: l.item_id,
                            item: l.item_name.clone(),
                            unit: l.unit.clone(),
                            requested: l.requested,
                            approved: l.approved.map(|a| a.to_string()).unwrap_or_default(),
                            fulfilled: l.fulfilled,
                            open: (l.approved.unwrap_or(0) - l.fulfilled).max(0),
                        })
                        .collect(),
                    can_submit: r.state.allows(RequestAction::Submit)
                        && r.requestable_by(&user.scope),
                    // Approving and rejecting start from the same states: one decision form.
                    can_approve: r.state.allows(RequestAction::Approve)
                        && r.decidable_by(&user.scope),
                    can_fulfil: r.state.allows(RequestAction::FulfilPart)
                        && r.decidable_by(&user.scope)
                        && !reserves.is_empty(),
                }
            })
            .collect(),
        reserves: reserves
            .iter()
            .map(|s| Choice {
                value: s.id.to_string(),
                label: format!("{} · {}", s.node_name, s.name),
                selected: false,
            })
            .collect(),
        error,
        notice: notice.to_owned(),
    };
    (status, page).into_response()
}

/// The `item`/`q` pairs of a form, in order; blank and 0 quantities are left out.
fn form_lines(form: &[(String, String)]) -> Result<Vec<(i64, i64)>, String> {
    let items: Vec<&String> = form
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v)
        .collect();
    let qs: Vec<&String> = form
        .iter()
        .filter(|(k, _)| k == "q")
        .map(|(_, v)| v)
        .collect();
    let mut out = Vec::new();
    for (item, q) in items.iter().zip(qs.iter()) {
        let raw = q.trim();
        if raw.is_empty() {
            continue;
        }
        let item = item
            .trim()
            .parse::<i64>()
            .map_err(|_| "物资有误".to_owned())?;
        let n = raw
            .parse::<i64>()
            .map_err(|_| format!("数量「{raw}」不是整数"))?;
        out.push((item, n));
    }
    Ok(out)
}

fn form_value(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn positive(lines: Vec<(i64, i64)>) -> Result<Vec<(i64, Quantity)>, String> {
    lines
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(i, n)| {
            Quantity::new("quantity", n)
                .map(|q| (i, q))
                .map_err(|e| format!("数量：{}", e.message))
        })
        .collect()
}

/// Messages of a refused request action, one line.
fn request_error(e: StoreError) -> Result<(StatusCode, String), StoreError> {
    form_errors(e).map(|(status, errors)| (status, errors.join("；")))
}

async fn after_request_action(
    state: &AppState,
    user: &Principal,
    node_id: Option<i64>,
    result: Result<(), StoreError>,
    notice: &str,
) -> Response {
    let node_q = node_id.map(|n| format!("node_id={n}&")).unwrap_or_default();
    match result {
        Ok(()) => {
            Redirect::to(&format!("/supplies/requests?{node_q}notice={notice}")).into_response()
        }
        Err(e) => match request_error(e) {
            Ok((status, message)) => {
                render_requests(state, user, node_id, status, message, "").await
            }
            Err(e) => store_error_page(e),
        },
    }
}

/// A new request from a site's page: saved as a draft or submitted at once.
async fn create_request(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let user = &f.user;
    let lines = match form_lines(&f.form).and_then(positive) {
        Ok(l) => l,
        Err(m) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &m),
    };
    let note = form_value(&f.form, "note");
    let submit = form_value(&f.form, "action") == "submit";
    let result = async {
        let r = supplies::create_request(&state.db, &user.scope, id, &lines, Some(&note), now_ms())
            .await?;
        if submit {
            supplies::submit_request(&state.db, &user.scope, r.id, now_ms()).await?;
        }
        Ok::<_, StoreError>(r.site_id)
    }
    .await;
    match result {
        Ok(_) => {
            let site = supplies::get_site(&state.db, &user.scope, id).await;
            let node = site.map(|s| s.node_id).ok();
            let notice = if submit { "submitted" } else { "draft" };
            after_request_action(&state, user, node, Ok(()), notice).await
        }
        // The message names the field; the form is short enough to fill in again.
        Err(e) => match request_error(e) {
            Ok((status, message)) => error_page(status, &message),
            Err(e) => store_error_page(e),
        },
    }
}

async fn submit_request(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let node_id = form_value(&f.form, "node_id").parse().ok();
    let result = supplies::submit_request(&state.db, &f.user.scope, id, now_ms())
        .await
        .map(|_| ());
    after_request_action(&state, &f.user, node_id, result, "submitted").await
}

async fn approve_request(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let node_id = form_value(&f.form, "node_id").parse().ok();
    let lines = match form_lines(&f.form) {
        Ok(l) => l,
        Err(m) => {
            return render_requests(
                &state,
                &f.user,
                node_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                "",
            )
            .await
        }
    };
    let result = supplies::approve_request(&state.db, &f.user.scope, id, &lines, now_ms())
        .await
        .map(|_| ());
    after_request_action(&state, &f.user, node_id, result, "approved").await
}

async fn fulfil_request(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let node_id = form_value(&f.form, "node_id").parse().ok();
    let lines = match form_lines(&f.form).and_then(positive) {
        Ok(l) => l,
        Err(m) => {
            return render_requests(
                &state,
                &f.user,
                node_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                "",
            )
            .await
        }
    };
    let Ok(from) = form_value(&f.form, "from_site_id").trim().parse::<i64>() else {
        return render_requests(
            &state,
            &f.user,
            node_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            "请选择发放的储备库".to_owned(),
            "",
        )
        .await;
    };
    let result = supplies::fulfil_request(&state.db, &f.user.scope, id, from, &lines, now_ms())
        .await
        .map(|_| ());
    after_request_action(&state, &f.user, node_id, result, "fulfilled").await
}

// ---------------------------------------------------------------------------------------------
// Export

#[derive(Deserialize)]
struct ExportQuery {
    node_id: Option<i64>,
}

/// The stock of a node's subtree and its sites' ledger (the latest 100,000 entries) as one
/// workbook: sheets 库存 and 台账, every cell text.
async fn export_xlsx(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ExportQuery>,
) -> Response {
    let Some(node_id) = q.node_id else {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, "请指定要导出的辖区。");
    };
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let stock = supplies::stock(&state.db, &user.scope, node.id).await?;
        let sites = supplies::sites(&state.db, &user.scope, node.id).await?;
        let mut site_stock = Vec::new();
        for s in &sites {
            site_stock.push((
                s.clone(),
                supplies::site_stock(&state.db, &user.scope, s.id, now_ms()).await?,
            ));
        }
        let mut ledger = supplies::ledger_under(&state.db, &user.scope, node.id, 100_000).await?;
        name_actors(
            &state.db,
            ledger.iter_mut().map(|(_, e)| &mut e.actor).collect(),
        )
        .await?;
        Ok::<_, StoreError>((node, stock, site_stock, ledger))
    }
    .await;
    let (node, stock, site_stock, ledger) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let day = format_date(today());
    let title = format!("{} 应急物资库存（导出于 {day}）", node.name);
    let ledger_title = format!("{} 应急物资台账（导出于 {day}）", node.name);
    crate::ui::xlsx_built(
        "supplies",
        &format!("物资-{node_id}-{day}.xlsx"),
        move || {
            let mut out = linli_core::registry::sheet::XlsxOut::new("库存")?;
            out.title(&title)?;
            out.header(&[
                "物资点",
                "所属辖区",
                "物资",
                "单位",
                "库存",
                "在途",
                "预警下限",
                "低于下限",
            ])?;
            for line in &stock {
                out.row(&[
                    "合计".to_owned(),
                    String::new(),
                    line.item.name.clone(),
                    line.item.unit.clone(),
                    line.quantity.to_string(),
                    line.in_transit.to_string(),
                    String::new(),
                    if line.low_sites > 0 {
                        format!("{} 个物资点", line.low_sites)
                    } else {
                        String::new()
                    },
                ])?;
            }
            for (site, lines) in &site_stock {
                for l in lines
                    .iter()
                    .filter(|l| l.quantity > 0 || l.in_transit > 0 || l.minimum.is_some())
                {
                    out.row(&[
                        site.name.clone(),
                        site.node_name.clone(),
                        l.item.name.clone(),
                        l.item.unit.clone(),
                        l.quantity.to_string(),
                        l.in_transit.to_string(),
                        l.minimum.map(|m| m.to_string()).unwrap_or_default(),
                        if l.is_low() {
                            "是".to_owned()
                        } else {
                            String::new()
                        },
                    ])?;
                }
            }
            out.add_sheet("台账")?;
            out.title(&ledger_title)?;
            out.header(&[
                "时间",
                "物资点",
                "物资",
                "类型",
                "变动",
                "结存",
                "调整原因",
                "备注",
                "经办人",
            ])?;
            for (site_name, e) in &ledger {
                out.row(&[
                    display(e.at),
                    site_name.clone(),
                    e.item_name.clone(),
                    e.kind.label_zh().to_owned(),
                    e.delta.to_string(),
                    e.balance_after.to_string(),
                    e.reason
                        .as_deref()
                        .and_then(|r| r.parse::<AdjustReason>().ok())
                        .map(|r| r.label_zh().to_owned())
                        .unwrap_or_default(),
                    e.note.clone().unwrap_or_default(),
                    e.actor.clone(),
                ])?;
            }
            out.finish()
        },
    )
    .await
}
