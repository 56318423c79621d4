//! The supplies JSON API: items, sites, the ledger, stock over a subtree, transfers and
//! thresholds. An issue (or transfer) beyond the balance answers 409 and writes nothing.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::{now_ms, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::supplies::{ItemDraft, Movement, Quantity, SiteDraft};
use linli_store::supplies::{self, Entry, Site, Transfer, TransferInput};
use linli_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, create_item))
        .routes(routes!(list_sites, create_site))
        .routes(routes!(site_ledger))
        .routes(routes!(site_stock))
        .routes(routes!(set_threshold))
        .routes(routes!(create_entry))
        .routes(routes!(node_stock))
        .routes(routes!(list_transfers, send_transfer))
        .routes(routes!(receive_transfer))
        .routes(routes!(cancel_transfer))
        .routes(routes!(consistency))
        .routes(routes!(allocation))
        .routes(routes!(list_requests, create_request))
        .routes(routes!(submit_request))
        .routes(routes!(approve_request))
        .routes(routes!(fulfil_request))
}

/// Store errors as API errors, with a stock conflict (not enough on hand, a transfer already
/// ended) as 409 rather than the 422 of a clash with stored names.
fn supply_error(e: StoreError) -> ApiError {
    ApiError::conflict_409(e, &["quantity", "state"])
}

// ---------------------------------------------------------------------------------------------
// Items

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemOut {
    pub id: i64,
    pub name: String,
    pub unit: String,
    /// protective, disinfection, equipment or other.
    pub category: String,
    pub shelf_life_days: Option<i64>,
    /// One of the seven items every database starts with.
    pub preset: bool,
}

impl From<supplies::Item> for ItemOut {
    fn from(i: supplies::Item) -> Self {
        ItemOut {
            id: i.id,
            name: i.name,
            unit: i.unit,
            category: i.category,
            shelf_life_days: i.shelf_life_days,
            preset: i.preset,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemsOut {
    pub items: Vec<ItemOut>,
}

/// Every item, the presets first (医用外科口罩, N95口罩, 消毒液, 测温枪, 防护服, 手套, 护目镜).
#[utoipa::path(get, path = "/api/v1/supplies/items", tag = "supplies",
    responses((status = 200, body = ItemsOut)))]
async fn list_items(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<ItemsOut>> {
    let items = supplies::items(&state.db).await?;
    Ok(Json(ItemsOut {
        items: items.into_iter().map(ItemOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemBody {
    pub name: String,
    /// 只, 瓶, 套 …
    pub unit: String,
    /// protective, disinfection, equipment or other.
    pub category: String,
    pub shelf_life_days: Option<i64>,
}

/// Add an item to the catalogue every site shares (admins only). Audited.
#[utoipa::path(post, path = "/api/v1/supplies/items", tag = "supplies", request_body = ItemBody,
    responses((status = 201, body = ItemOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_item(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<ItemBody>,
) -> ApiResult<(StatusCode, Json<ItemOut>)> {
    // Refused before the body is judged: the answer is the same whatever was typed.
    if !linli_core::supplies::can_define_items(&user.scope) {
        return Err(StoreError::Forbidden("只有系统管理员可以新增物资品类".into()).into());
    }
    let draft = ItemDraft::parse(&b.name, &b.unit, &b.category, b.shelf_life_days)
        .map_err(StoreError::Invalid)?;
    let item = supplies::create_item(&state.db, &user.scope, &draft, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(item.into())))
}

// ---------------------------------------------------------------------------------------------
// Sites

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplySiteOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub name: String,
    /// store (community store) or reserve (street/district reserve).
    pub kind: String,
}

impl From<Site> for SupplySiteOut {
    fn from(s: Site) -> Self {
        SupplySiteOut {
            id: s.id,
            node_id: s.node_id,
            node_name: s.node_name,
            name: s.name,
            kind: s.kind.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplySitesOut {
    pub sites: Vec<SupplySiteOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NodeQuery {
    /// The node whose subtree to read.
    pub node_id: Option<i64>,
}

fn need_node(node_id: Option<i64>, what: &str) -> Result<i64, ApiError> {
    node_id.ok_or_else(|| ApiError::invalid("node_id", format!("请给出 node_id（{what}）")))
}

/// The sites in a node's subtree.
#[utoipa::path(get, path = "/api/v1/supplies/sites", tag = "supplies", params(NodeQuery),
    responses((status = 200, body = SupplySitesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_sites(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<SupplySitesOut>> {
    let node_id = need_node(q.node_id, "列出该节点之下的物资点")?;
    let sites = supplies::sites(&state.db, &user.scope, node_id).await?;
    Ok(Json(SupplySitesOut {
        sites: sites.into_iter().map(SupplySiteOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SiteBody {
    pub node_id: i64,
    pub name: String,
    /// store or reserve; by default a reserve on a street or district, else a store.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedOut {
    pub id: i64,
}

/// Add a site on a node (staff and admins, within their jurisdiction). Audited.
#[utoipa::path(post, path = "/api/v1/supplies/sites", tag = "supplies", request_body = SiteBody,
    responses((status = 201, body = CreatedOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_site(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<SiteBody>,
) -> ApiResult<(StatusCode, Json<CreatedOut>)> {
    let node = linli_store::tree::get(&state.db, &user.scope, b.node_id).await?;
    let draft = SiteDraft::parse(
        &b.name,
        b.kind.as_deref(),
        supplies::is_upper_level(node.kind),
    )
    .map_err(StoreError::Invalid)?;
    let site = supplies::create_site(&state.db, &user.scope, node.id, &draft, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(CreatedOut { id: site.id })))
}

// ---------------------------------------------------------------------------------------------
// Ledger

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    pub id: i64,
    pub site_id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    /// receipt, issue, adjustment, transfer_out, transfer_in or transfer_return.
    pub kind: String,
    /// The signed change to the balance.
    pub delta: i64,
    /// lost, damaged, expired or count_correction (adjustments).
    pub reason: Option<String>,
    pub note: Option<String>,
    pub transfer_id: Option<i64>,
    pub balance_after: i64,
    pub at: String,
    pub actor: String,
}

impl From<Entry> for EntryOut {
    fn from(e: Entry) -> Self {
        EntryOut {
            id: e.id,
            site_id: e.site_id,
            item_id: e.item_id,
            item_name: e.item_name,
            unit: e.unit,
            kind: e.kind.as_str().to_owned(),
            delta: e.delta,
            reason: e.reason,
            note: e.note,
            transfer_id: e.transfer_id,
            balance_after: e.balance_after,
            at: rfc3339(e.at),
            actor: e.actor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesOut {
    pub entries: Vec<EntryOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    pub limit: Option<i64>,
    /// The last id seen (entries are listed newest first).
    pub after: Option<i64>,
}

/// A site's ledger, newest first.
#[utoipa::path(get, path = "/api/v1/supplies/sites/{id}/ledger", tag = "supplies",
    params(("id" = i64, Path, description = "Site id"), PageQuery),
    responses((status = 200, body = EntriesOut), (status = 404, body = ErrorBody)))]
async fn site_ledger(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<EntriesOut>> {
    let entries = supplies::ledger(&state.db, &user.scope, id, Page::new(q.limit, q.after)).await?;
    Ok(Json(EntriesOut {
        entries: entries.into_iter().map(EntryOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EntryBody {
    pub site_id: i64,
    pub item_id: i64,
    /// receipt, issue or adjustment.
    pub kind: String,
    /// Units; for an adjustment negative to decrease (lost, damaged, expired always decrease).
    pub quantity: i64,
    /// For adjustments: lost, damaged, expired or count_correction.
    pub reason: Option<String>,
    pub note: Option<String>,
}

/// Record a receipt, an issue or an adjustment (staff and admins at sites in their
/// jurisdiction). An issue beyond the balance answers 409 and writes nothing. Audited.
#[utoipa::path(post, path = "/api/v1/supplies/ledger", tag = "supplies", request_body = EntryBody,
    responses((status = 201, body = EntryOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_entry(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<EntryBody>,
) -> ApiResult<(StatusCode, Json<EntryOut>)> {
    let movement =
        Movement::parse(&b.kind, b.quantity, b.reason.as_deref()).map_err(StoreError::Invalid)?;
    let entry = supplies::record(
        &state.db,
        &user.scope,
        b.site_id,
        b.item_id,
        &movement,
        b.note.as_deref(),
        now_ms(),
    )
    .await
    .map_err(supply_error)?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

// ---------------------------------------------------------------------------------------------
// Stock and thresholds

#[derive(Debug, Serialize, ToSchema)]
pub struct StockItemOut {
    pub item_id: i64,
    pub name: String,
    pub unit: String,
    /// On hand at the sites of the subtree.
    pub quantity: i64,
    /// Sent to a site of the subtree, not yet received.
    pub in_transit: i64,
    /// Sites of the subtree below their threshold for this item.
    pub low_sites: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockOut {
    pub items: Vec<StockItemOut>,
}

/// Stock summed over a node's subtree, every item.
#[utoipa::path(get, path = "/api/v1/supplies/stock", tag = "supplies", params(NodeQuery),
    responses((status = 200, body = StockOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn node_stock(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<StockOut>> {
    let node_id = need_node(q.node_id, "汇总该节点之下的库存")?;
    let lines = supplies::stock(&state.db, &user.scope, node_id).await?;
    Ok(Json(StockOut {
        items: lines
            .into_iter()
            .map(|l| StockItemOut {
                item_id: l.item.id,
                name: l.item.name,
                unit: l.item.unit,
                quantity: l.quantity,
                in_transit: l.in_transit,
                low_sites: l.low_sites,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteStockItemOut {
    pub item_id: i64,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    pub in_transit: i64,
    /// The low-stock threshold, when set.
    pub minimum: Option<i64>,
    pub low: bool,
    /// Issued in the last 14 days.
    pub issued_recently: i64,
    /// Whole days the stock lasts at that rate (absent without recent issues).
    pub days_of_cover: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteStockOut {
    pub site: SupplySiteOut,
    pub items: Vec<SiteStockItemOut>,
}

/// One site's stock: balances, thresholds, recent issues and days of cover.
#[utoipa::path(get, path = "/api/v1/supplies/sites/{id}/stock", tag = "supplies",
    params(("id" = i64, Path, description = "Site id")),
    responses((status = 200, body = SiteStockOut), (status = 404, body = ErrorBody)))]
async fn site_stock(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<SiteStockOut>> {
    let site = supplies::get_site(&state.db, &user.scope, id).await?;
    let lines = supplies::site_stock(&state.db, &user.scope, id, now_ms()).await?;
    Ok(Json(SiteStockOut {
        site: site.into(),
        items: lines
            .into_iter()
            .map(|l| SiteStockItemOut {
                low: l.is_low(),
                item_id: l.item.id,
                name: l.item.name,
                unit: l.item.unit,
                quantity: l.quantity,
                in_transit: l.in_transit,
                minimum: l.minimum,
                issued_recently: l.issued_recently,
                days_of_cover: l.days_of_cover,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ThresholdBody {
    pub item_id: i64,
    /// Below this many units the stock is low; null clears the threshold.
    pub minimum: Option<i64>,
}

/// Set or clear a site's low-stock threshold for an item (staff and admins). Audited.
#[utoipa::path(put, path = "/api/v1/supplies/sites/{id}/thresholds", tag = "supplies",
    params(("id" = i64, Path, description = "Site id")), request_body = ThresholdBody,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_threshold(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ThresholdBody>,
) -> ApiResult<StatusCode> {
    supplies::set_threshold(&state.db, &user.scope, id, b.item_id, b.minimum, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Transfers

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferOut {
    pub id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub from_site_id: i64,
    pub from_site_name: String,
    pub to_site_id: i64,
    pub to_site_name: String,
    pub quantity: i64,
    /// sent (in transit), received or cancelled.
    pub state: String,
    pub note: Option<String>,
    pub sent_at: String,
    pub sent_by: String,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

impl From<Transfer> for TransferOut {
    fn from(t: Transfer) -> Self {
        TransferOut {
            id: t.id,
            item_id: t.item_id,
            item_name: t.item_name,
            unit: t.unit,
            from_site_id: t.from_site_id,
            from_site_name: t.from_site_name,
            to_site_id: t.to_site_id,
            to_site_name: t.to_site_name,
            quantity: t.quantity,
            state: t.state.as_str().to_owned(),
            note: t.note,
            sent_at: rfc3339(t.sent_at),
            sent_by: t.sent_by,
            done_at: t.done_at.map(rfc3339),
            done_by: t.done_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransfersOut {
    pub transfers: Vec<TransferOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TransfersQuery {
    /// Transfers from or to a site under this node.
    pub node_id: Option<i64>,
    /// sent, received or cancelled.
    pub state: Option<String>,
}

/// Transfers from or to the sites under a node, newest first.
#[utoipa::path(get, path = "/api/v1/supplies/transfers", tag = "supplies", params(TransfersQuery),
    responses((status = 200, body = TransfersOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_transfers(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TransfersQuery>,
) -> ApiResult<Json<TransfersOut>> {
    let node_id = need_node(q.node_id, "列出该节点之下的调拨")?;
    let list = supplies::transfers(&state.db, &user.scope, node_id, q.state.as_deref()).await?;
    Ok(Json(TransfersOut {
        transfers: list.into_iter().map(TransferOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferBody {
    pub from_site_id: i64,
    pub to_site_id: i64,
    pub item_id: i64,
    pub quantity: i64,
    pub note: Option<String>,
}

/// Send a transfer: the stock leaves the source now and is in transit until received or
/// cancelled. More than the source holds answers 409. Audited.
#[utoipa::path(post, path = "/api/v1/supplies/transfers", tag = "supplies", request_body = TransferBody,
    responses((status = 201, body = TransferOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_transfer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<TransferBody>,
) -> ApiResult<(StatusCode, Json<TransferOut>)> {
    let quantity = Quantity::new("quantity", b.quantity).map_err(StoreError::from)?;
    let t = supplies::send_transfer(
        &state.db,
        &user.scope,
        &TransferInput {
            from_site_id: b.from_site_id,
            to_site_id: b.to_site_id,
            item_id: b.item_id,
            quantity,
            note: b.note.as_deref(),
        },
        now_ms(),
    )
    .await
    .map_err(supply_error)?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Receive a transfer at its destination (staff and admins there).
#[utoipa::path(post, path = "/api/v1/supplies/transfers/{id}/receive", tag = "supplies",
    params(("id" = i64, Path, description = "Transfer id")),
    responses((status = 200, body = TransferOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn receive_transfer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<TransferOut>> {
    let t = supplies::receive_transfer(&state.db, &user.scope, id, now_ms())
        .await
        .map_err(supply_error)?;
    Ok(Json(t.into()))
}

/// Cancel a transfer in transit; the stock returns to its source (the sender's side).
#[utoipa::path(post, path = "/api/v1/supplies/transfers/{id}/cancel", tag = "supplies",
    params(("id" = i64, Path, description = "Transfer id")),
    responses((status = 200, body = TransferOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_transfer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<TransferOut>> {
    let t = supplies::cancel_transfer(&state.db, &user.scope, id, now_ms())
        .await
        .map_err(supply_error)?;
    Ok(Json(t.into()))
}

// ---------------------------------------------------------------------------------------------
// Consistency

#[derive(Debug, Serialize, ToSchema)]
pub struct MismatchOut {
    pub site_id: i64,
    pub item_id: i64,
    pub cached: i64,
    pub ledger: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyOut {
    /// True when every cached balance in the caller's jurisdiction equals its ledger's sum.
    pub consistent: bool,
    pub mismatches: Vec<MismatchOut>,
}

/// Proves the cached balances equal the ledger within the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/supplies/consistency", tag = "supplies",
    responses((status = 200, body = ConsistencyOut)))]
async fn consistency(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<ConsistencyOut>> {
    let bad = supplies::consistency_check(&state.db, &user.scope).await?;
    Ok(Json(ConsistencyOut {
        consistent: bad.is_empty(),
        mismatches: bad
            .into_iter()
            .map(|m| MismatchOut {
                site_id: m.site_id,
                item_id: m.item_id,
                cached: m.cached,
                ledger: m.ledger,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LineBody {
    pub item_id: i64,
    pub quantity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestLineOut {
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub requested: i64,
    /// Set when decided.
    pub approved: Option<i64>,
    pub fulfilled: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyRequestOut {
    pub id: i64,
    pub site_id: i64,
    pub site_name: String,
    /// The street asked.
    pub to_node_id: i64,
    /// draft, submitted, approved, partly_fulfilled, fulfilled or rejected.
    pub state: String,
    pub note: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub decided_by: Option<String>,
    pub lines: Vec<RequestLineOut>,
}

impl From<supplies::SupplyRequest> for SupplyRequestOut {
    fn from(r: supplies::SupplyRequest) -> Self {
        SupplyRequestOut {
            id: r.id,
            site_id: r.site_id,
            site_name: r.site_name,
            to_node_id: r.to_node_id,
            state: r.state.as_str().to_owned(),
            note: r.note,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by,
            decided_by: r.decided_by,
            lines: r
                .lines
                .into_iter()
                .map(|l| RequestLineOut {
                    item_id: l.item_id,
                    item_name: l.item_name,
                    unit: l.unit,
                    requested: l.requested,
                    approved: l.approved,
                    fulfilled: l.fulfilled,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyRequestsOut {
    pub requests: Vec<SupplyRequestOut>,
}

/// Every line's quantity parsed, every bad one reported.
fn quantities(lines: &[LineBody]) -> Result<Vec<(i64, Quantity)>, ApiError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for l in lines {
        match Quantity::new("quantity", l.quantity) {
            Ok(q) => out.push((l.item_id, q)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(StoreError::Invalid(errors).into())
    }
}

/// Requests from sites under a node, or addressed to a street under it, newest first.
#[utoipa::path(get, path = "/api/v1/supplies/requests", tag = "supplies", params(NodeQuery),
    responses((status = 200, body = SupplyRequestsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<SupplyRequestsOut>> {
    let node_id = need_node(q.node_id, "列出该节点之下的申领")?;
    let list = supplies::requests(&state.db, &user.scope, node_id).await?;
    Ok(Json(SupplyRequestsOut {
        requests: list.into_iter().map(SupplyRequestOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SupplyRequestBody {
    /// The requesting community's site.
    pub site_id: i64,
    pub lines: Vec<LineBody>,
    pub note: Option<String>,
}

/// Draft a request to the street above the site (staff and admins at the site). Audited.
#[utoipa::path(post, path = "/api/v1/supplies/requests", tag = "supplies", request_body = SupplyRequestBody,
    responses((status = 201, body = SupplyRequestOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<SupplyRequestBody>,
) -> ApiResult<(StatusCode, Json<SupplyRequestOut>)> {
    let lines = quantities(&b.lines)?;
    let r = supplies::create_request(
        &state.db,
        &user.scope,
        b.site_id,
        &lines,
        b.note.as_deref(),
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// Submit a draft request to the street.
#[utoipa::path(post, path = "/api/v1/supplies/requests/{id}/submit", tag = "supplies",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = SupplyRequestOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<SupplyRequestOut>> {
    let r = supplies::submit_request(&state.db, &user.scope, id, now_ms())
        .await
        .map_err(supply_error)?;
    Ok(Json(r.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApproveBody {
    /// The quantity approved per item (0 to the quantity asked; items left out get 0; all 0
    /// refuses the request).
    pub lines: Vec<LineBody>,
}

/// Decide a submitted request (the street's officials, admins). Audited.
#[utoipa::path(post, path = "/api/v1/supplies/requests/{id}/approve", tag = "supplies",
    params(("id" = i64, Path, description = "Request id")), request_body = ApproveBody,
    responses((status = 200, body = SupplyRequestOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn approve_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ApproveBody>,
) -> ApiResult<Json<SupplyRequestOut>> {
    let approved: Vec<(i64, i64)> = b.lines.iter().map(|l| (l.item_id, l.quantity)).collect();
    let r = supplies::approve_request(&state.db, &user.scope, id, &approved, now_ms())
        .await
        .map_err(supply_error)?;
    Ok(Json(r.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FulfilBody {
    /// The reserve the stock comes from.
    pub from_site_id: i64,
    pub lines: Vec<LineBody>,
}

/// Fulfil an approved request, fully or in part, by transfers from a reserve. Audited.
#[utoipa::path(post, path = "/api/v1/supplies/requests/{id}/fulfil", tag = "supplies",
    params(("id" = i64, Path, description = "Request id")), request_body = FulfilBody,
    responses((status = 200, body = SupplyRequestOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn fulfil_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<FulfilBody>,
) -> ApiResult<Json<SupplyRequestOut>> {
    let lines = quantities(&b.lines)?;
    let r = supplies::fulfil_request(&state.db, &user.scope, id, b.from_site_id, &lines, now_ms())
        .await
        .map_err(supply_error)?;
    Ok(Json(r.into()))
}

// ---------------------------------------------------------------------------------------------
// Allocation suggestion

#[derive(Debug, Deserialize, IntoParams)]
pub struct AllocationQuery {
    /// The reserve to dispatch from.
    pub site_id: Option<i64>,
    pub item_id: Option<i64>,
    /// Units to share out; by default (and at most) what the reserve holds.
    pub quantity: Option<i64>,
    /// Units one person under observation uses per day, 0–1000 (2 by default).
    pub daily_use: Option<i64>,
    /// Days of supply to reach, 1–365 (7 by default).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationLineOut {
    /// The community's store that would receive.
    pub site_id: i64,
    pub site_name: String,
    pub node_id: i64,
    pub community: String,
    /// People under observation in the community.
    pub observed: i64,
    /// observed × daily_use × days.
    pub need: i64,
    /// The item at the store.
    pub stock: i64,
    /// Sent to the store and not yet received.
    pub in_transit: i64,
    /// need − stock − in transit, at least 0.
    pub shortfall: i64,
    /// The suggested transfer.
    pub quantity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationOut {
    pub site_id: i64,
    pub item_id: i64,
    pub unit: String,
    /// What the reserve holds of the item.
    pub in_reserve: i64,
    /// What is shared out: `quantity`, capped at `in_reserve`.
    pub available: i64,
    pub daily_use: i64,
    pub days: i64,
    /// Sum of the shortfalls.
    pub needed: i64,
    /// Sum of the suggested quantities.
    pub suggested: i64,
    pub lines: Vec<AllocationLineOut>,
}

/// The allocation the page `/supplies/sites/{id}/allocate` suggests: each community store under
/// the reserve with its need, stock and stock in transit, and the reserve's units shared by
/// shortfall. Only for those who may dispatch from the reserve; nothing moves.
/// How `available` units of a reserve would go to `recipients` (the API's suggestion, the
/// allocation page's form): by need, `daily_use` a person a day for `days` days.
pub(crate) fn allocation_plan(
    recipients: &[supplies::Recipient],
    available: i64,
    daily_use: i64,
    days: i64,
) -> Vec<linli_core::supplies::Allocation> {
    let needs: Vec<linli_core::supplies::Need> = recipients
        .iter()
        .map(|r| linli_core::supplies::Need {
            site_id: r.site.id,
            observed: r.observed,
            daily_use,
            days,
            on_hand: r.on_hand,
        })
        .collect();
    linli_core::supplies::allocate(available, &needs)
}

#[utoipa::path(get, path = "/api/v1/supplies/allocation", tag = "supplies", params(AllocationQuery),
    responses((status = 200, body = AllocationOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn allocation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<AllocationQuery>,
) -> ApiResult<Json<AllocationOut>> {
    let site_id = q
        .site_id
        .ok_or_else(|| ApiError::invalid("site_id", "请给出储备库 site_id"))?;
    let item_id = q
        .item_id
        .ok_or_else(|| ApiError::invalid("item_id", "请给出物资 item_id"))?;
    // Unlike the page (which falls back to defaults), the API names the bad parameter.
    let daily_use = q.daily_use.unwrap_or(2);
    if !(0..=1_000).contains(&daily_use) {
        return Err(ApiError::invalid(
            "daily_use",
            "每人每日用量应在 0 到 1000 之间",
        ));
    }
    let days = q.days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(ApiError::invalid("days", "保障天数应在 1 到 365 之间"));
    }
    if q.quantity.is_some_and(|n| n < 0) {
        return Err(ApiError::invalid("quantity", "分配数量不能为负数"));
    }
    let (reserve, in_reserve, recipients) =
        supplies::allocation_basis(&state.db, &user.scope, site_id, item_id).await?;
    let unit = supplies::items(&state.db)
        .await?
        .into_iter()
        .find(|i| i.id == item_id)
        .map(|i| i.unit)
        .unwrap_or_default();
    let available = q.quantity.unwrap_or(in_reserve).min(in_reserve);
    let plan = allocation_plan(&recipients, available, daily_use, days);
    Ok(Json(AllocationOut {
        site_id: reserve.id,
        item_id,
        unit,
        in_reserve,
        available,
        daily_use,
        days,
        needed: plan.iter().map(|a| a.shortfall).sum(),
        suggested: plan.iter().map(|a| a.quantity).sum(),
        lines: recipients
            .into_iter()
            .zip(plan)
            .map(|(r, a)| AllocationLineOut {
                site_id: r.site.id,
                site_name: r.site.name,
                node_id: r.site.node_id,
                community: r.site.node_name,
                observed: r.observed,
                need: r.observed.saturating_mul(daily_use).saturating_mul(days),
                stock: r.stock,
                in_transit: r.in_transit,
                shortfall: a.shortfall,
                quantity: a.quantity,
            })
            .collect(),
    }))
}
