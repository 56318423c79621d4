//! 台账: one site's ledger, every entry since it opened — by item, kind of movement, days and
//! words in the note — paged, and exported as xlsx (audited like every list export).
//!
//! The ledger is a site's: its balance after each entry is the site's balance, so the list is
//! read where a worker keeps the stock, beside the site's page (which shows the latest 100).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::kernel::clock::display;
use linli_core::kernel::labels::Labelled;
use linli_core::supplies::{AdjustReason, EntryKind};
use linli_store::accounts::Principal;
use linli_store::supplies::{self, Entry, LedgerFilter, Site};
use linli_store::{Listed, StoreError, MAX_LIST_ROWS};
use serde::Deserialize;

use crate::auth::PageUser;
use crate::ui::{error_page, form_status, store_error_page, Choice, ListExport, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/supplies/sites/{id}/ledger", get(ledger_page))
        .route("/supplies/sites/{id}/ledger.xlsx", get(export))
}

/// Entries a page.
const PER_PAGE: i64 = 50;

/// One ledger entry as a list shows it (the site's page and the ledger's).
pub(super) struct EntryRow {
    pub at: String,
    pub kind: &'static str,
    pub kind_class: &'static str,
    pub item: String,
    /// 「+20 箱」, 「-3 箱」.
    pub delta: String,
    pub balance_after: i64,
    pub reason: &'static str,
    pub note: String,
    pub actor: String,
}

impl EntryRow {
    pub(super) fn of(e: Entry) -> EntryRow {
        EntryRow {
            at: display(e.at),
            kind: e.kind.label_zh(),
            kind_class: if e.delta > 0 { "in" } else { "out" },
            delta: if e.delta > 0 {
                format!("+{} {}", e.delta, e.unit)
            } else {
                format!("{} {}", e.delta, e.unit)
            },
            item: e.item_name,
            balance_after: e.balance_after,
            reason: reason_zh(e.reason.as_deref()),
            note: e.note.unwrap_or_default(),
            actor: e.actor,
        }
    }
}

/// An adjustment's reason in words (empty for none).
fn reason_zh(code: Option<&str>) -> &'static str {
    code.and_then(|r| r.parse::<AdjustReason>().ok())
        .map(AdjustReason::label_zh)
        .unwrap_or("")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LedgerQuery {
    /// An item's id, blank for every item.
    item: String,
    /// A kind of movement (`receipt`, `issue`, …), blank for all.
    kind: String,
    /// Words in the note or the login of who recorded it.
    q: String,
    from: String,
    to: String,
    page: Option<i64>,
}

impl LedgerQuery {
    /// The store's filter, and what in the query was refused (left out, each named).
    fn filter(&self) -> (LedgerFilter, Vec<String>) {
        let mut errors = Vec::new();
        let item_id = match self.item.trim() {
            "" => None,
            s => match s.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(format!("物资：「{s}」不是物资编号"));
                    None
                }
            },
        };
        let kind = match self.kind.trim() {
            "" => None,
            s => match EntryKind::from_code(s) {
                Some(k) => Some(k),
                None => {
                    errors.push(format!("类别：「{s}」不是台账的类别"));
                    None
                }
            },
        };
        let at = match crate::ui::day_range(&self.from, &self.to) {
            Ok(r) => r.bounds(),
            Err(e) => {
                errors.push(e);
                (None, None)
            }
        };
        let filter = LedgerFilter {
            item_id,
            kind,
            at,
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        };
        (filter, errors)
    }

    fn query_string(&self) -> String {
        crate::ui::query_string(&[
            ("item", &self.item),
            ("kind", &self.kind),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "supplies/supplies_ledger.html")]
struct LedgerPage {
    shell: Shell,
    site_id: i64,
    site_name: String,
    node_id: i64,
    node_name: String,
    items: Vec<Choice>,
    kinds: Vec<Choice>,
    q: String,
    from: String,
    to: String,
    total: i64,
    entries: Vec<EntryRow>,
    pager: Pager,
    export: String,
    error: String,
}

/// The site (in the caller's scope) and its entries as filtered, `limit` from `offset`.
async fn load(
    state: &AppState,
    user: &Principal,
    site_id: i64,
    filter: &LedgerFilter,
    page: (i64, i64),
) -> Result<(Site, Listed<Entry>), StoreError> {
    let site = supplies::get_site(&state.db, &user.scope, site_id).await?;
    let mut list = supplies::ledger_page(&state.db, &user.scope, site.id, filter, page).await?;
    let actors = list.items.iter_mut().map(|e| &mut e.actor);
    crate::auth::names::name_actors(&state.db, actors.collect()).await?;
    Ok((site, list))
}

async fn ledger_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(site_id): Path<i64>,
    Query(q): Query<LedgerQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let (filter, errors) = q.filter();
    let result = async {
        let loaded = load(
            &state,
            &user,
            site_id,
            &filter,
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let items = supplies::items(&state.db).await?;
        Ok::<_, StoreError>((loaded, items))
    }
    .await;
    let ((site, list), items) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let qs = q.query_string();
    let page = LedgerPage {
        shell: Shell::of(&user, "supplies"),
        site_id: site.id,
        node_id: site.node_id,
        node_name: site.node_name,
        site_name: site.name,
        items: Choice::filter(
            &filter.item_id.map(|i| i.to_string()).unwrap_or_default(),
            items
                .iter()
                .map(|i| (i.id.to_string(), format!("{}（{}）", i.name, i.unit))),
        ),
        kinds: Choice::filter_of::<EntryKind>(filter.kind.map_or("", |k| k.as_str())),
        q: q.q.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        total: list.total,
        entries: list.items.into_iter().map(EntryRow::of).collect(),
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/supplies/sites/{site_id}/ledger?{qs}&page={n}")
        }),
        export: format!("/supplies/sites/{site_id}/ledger.xlsx?{qs}"),
        error: errors.join("；"),
    };
    (form_status(!page.error.is_empty()), page).into_response()
}

/// The ledger as filtered (up to [`MAX_LIST_ROWS`] entries) as xlsx, audited.
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(site_id): Path<i64>,
    Query(q): Query<LedgerQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filter, errors) = q.filter();
    if !errors.is_empty() {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, &errors.join("；"));
    }
    let (site, list) = match load(&state, &user, site_id, &filter, (MAX_LIST_ROWS, 0)).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|e| {
            vec![
                display(e.at),
                e.kind.label_zh().to_owned(),
                e.item_name,
                e.unit,
                e.delta.to_string(),
                e.balance_after.to_string(),
                reason_zh(e.reason.as_deref()).to_owned(),
                e.note.unwrap_or_default(),
                e.actor,
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "supply_ledger",
            name: "物资台账",
            header: &[
                "时间",
                "类别",
                "物资",
                "单位",
                "数量变化",
                "结存",
                "原因",
                "备注",
                "经办人",
            ],
            node_id: Some(site.node_id),
            place: format!("{} · {}", site.node_name, site.name),
            key: site.id.to_string(),
            query: raw,
        },
        list.total,
        rows,
    )
    .await
}
