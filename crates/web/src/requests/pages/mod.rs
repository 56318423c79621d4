//! Residents' requests pages (诉求, 接诉即办) for workers: the inbox per node (new, overdue,
//! mine), the hotline/patrol form, one request with its timeline and the forms of the steps its
//! state allows, whistles, and the dashboard of the three rates per node and period. The
//! resident's own pages (`/r/…`, no login) are in `requests/public.rs`; the photo form, the
//! field labels and the refusal messages they share live here.

pub mod api_keys;
pub mod categories;
pub mod open311_settings;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{
    self as rules, Action, Actor, Channel, RequestDraft, RequestInput, Status, Target,
    WhistleState, MAX_PHOTO_BYTES,
};
use linli_core::{CoreError, NodeKind};
use linli_store::accounts::Principal;
use linli_store::requests::{self, InboxFilter, Request};
use linli_store::tree::{self, Node};
use linli_store::{Listed, Page, StoreError, MAX_LIST_ROWS};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::{csrf_ok, csrf_refused};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::Choice;
use crate::ui::{error_page, field_label, form_status, store_error_page, ListExport, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(inbox))
        .route("/requests.xlsx", get(inbox_export))
        .route("/requests/new", get(new_form))
        .route("/requests/rates", get(rates_page))
        .route("/requests/{id}", get(request_page))
        .route("/requests/{id}/photo", get(photo))
        .route("/requests/{id}/act", post(act))
        .route("/requests/{id}/whistle", post(whistle))
        .route("/requests/whistles/{id}/ack", post(acknowledge))
}

/// The staff forms that carry a photo (multipart, or urlencoded without one) and the API's
/// photo upload, with a body limit of [`MAX_PHOTO_BODY`] instead of the 2 MiB of the other
/// routes. The resident's form has its own, in `public.rs`.
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/requests/new", post(create))
        .route("/requests/{id}/photo", post(add_photo))
        .route(
            "/api/v1/requests/{id}/photo",
            post(crate::requests::api::upload_photo),
        )
        .layer(DefaultBodyLimit::max(MAX_PHOTO_BODY))
}

/// A photo of up to 5 MB and the form's other fields.
pub(super) const MAX_PHOTO_BODY: usize = MAX_PHOTO_BYTES + 256 * 1024;

/// A form that may carry a `photo` file: `multipart/form-data` (the pages send this), or
/// urlencoded without a photo. The `csrf` field is kept for the handler to check (signed-in
/// forms); the photo's type is decided by the store from its bytes.
pub(super) struct PhotoForm<T> {
    pub(super) form: T,
    pub(super) csrf: String,
    pub(super) photo: Option<Bytes>,
}

fn upload_error(status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_page(status, "照片太大：上限 5 MB，请压缩或换一张后重试。")
    } else {
        error_page(status, "表单无法解析，请返回重试。")
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PhotoForm<T> {
    type Rejection = Response;
    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut photo = None;
        if multipart {
            let mut m = Multipart::from_request(req, state)
                .await
                .map_err(|e| upload_error(e.status()))?;
            while let Some(field) = m.next_field().await.map_err(|e| upload_error(e.status()))? {
                let name = field.name().unwrap_or_default().to_owned();
                if name == "photo" {
                    let bytes = field.bytes().await.map_err(|e| upload_error(e.status()))?;
                    // A file input left empty still sends an empty part.
                    if !bytes.is_empty() {
                        photo = Some(bytes);
                    }
                    continue;
                }
                let value = field.text().await.map_err(|e| upload_error(e.status()))?;
                pairs.push((name, value));
            }
        } else {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            pairs = serde_urlencoded::from_bytes(&bytes)
                .map_err(|_| error_page(StatusCode::BAD_REQUEST, "表单无法解析"))?;
        }
        // Multipart text is not seen by `ui::input::refuse_nul`, which reads no multipart body.
        if let Some(field) =
            crate::ui::input::nul_field(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            return Err(error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &crate::ui::input::nul_message(field),
            ));
        }
        let csrf = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let encoded = serde_urlencoded::to_string(&pairs)
            .map_err(|_| error_page(StatusCode::BAD_REQUEST, "表单无法解析"))?;
        let form: T = serde_urlencoded::from_str(&encoded).map_err(|e| {
            error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("表单字段有误：{e}"),
            )
        })?;
        Ok(PhotoForm { form, csrf, photo })
    }
}

/// `GET /requests/{id}/photo`: the request's photo, scoped like the request (404 outside the
/// caller's jurisdiction or when it has none). Only signed-in staff see photos: the resident's
/// status page (tracking number + last 4 digits of a phone, a weak proof) never shows it.
async fn photo(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    match requests::photo(&state.db, &user.scope, id).await {
        Ok(p) => photo_response(p),
        Err(e) => store_error_page(e),
    }
}

/// A stored photo as a response: its sniffed type, private to the browser's cache.
pub(crate) fn photo_response(p: requests::Photo) -> Response {
    (
        [
            (header::CONTENT_TYPE, p.content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        p.bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct NoFields {}

/// `POST /requests/{id}/photo`: the handling unit adds the photo later (one per request).
async fn add_photo(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    form: PhotoForm<NoFields>,
) -> Response {
    if !csrf_ok(&user, &form.csrf) {
        return csrf_refused();
    }
    let Some(bytes) = form.photo else {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, "照片：请选择要上传的照片");
    };
    match requests::attach_photo(&state.db, &user.scope, id, &bytes, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/requests/{id}?notice=photo")).into_response(),
        Err(StoreError::Invalid(errs)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &errs
                .iter()
                .map(|e| format!("{}：{}", label(&e.field), e.message))
                .collect::<Vec<_>>()
                .join("；"),
        ),
        Err(StoreError::Conflict { message, .. }) => {
            error_page(StatusCode::CONFLICT, &format!("照片：{message}"))
        }
        Err(e) => store_error_page(e),
    }
}

/// Field names in Chinese.
pub(super) fn label(field: &str) -> &str {
    match field {
        "description" => "诉求内容",
        "address" => "地点",
        "reporter_phone" => "手机号码",
        "reporter_name" => "姓名",
        "category" => "类别",
        "photo" => "照片",
        "channel" => "渠道",
        "tracking_number" => "受理编号",
        "phone_last4" => "手机后 4 位",
        "rating" => "评价",
        "reason" => "原因",
        "outcome" => "办理结果",
        "action" => "操作",
        "department_id" | "department_ids" => "部门",
        "response" => "报到情况",
        "lat" => "纬度",
        "long" => "经度",
        other => field_label(other),
    }
}

pub(super) fn messages(errs: &[CoreError]) -> Vec<String> {
    errs.iter()
        .map(|e| format!("{}：{}", label(&e.field), e.message))
        .collect()
}

/// The messages of a refused form, or the error for an error page.
pub(super) fn refusal(e: StoreError) -> Result<Vec<String>, StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok(messages(&errs)),
        StoreError::Conflict { field, message } => {
            Ok(vec![format!("{}：{message}", label(&field))])
        }
        other => Err(other),
    }
}

/// The categories as choices, `current` selected (the resident's form and the hotline form).
pub(super) async fn category_choices(
    state: &AppState,
    current: &str,
) -> Result<Vec<Choice>, StoreError> {
    Ok(requests::categories(&state.db)
        .await?
        .into_iter()
        .map(|c| Choice {
            selected: c.rule.code == current,
            label: format!("{}（{}）", c.rule.name, c.rule.description),
            value: c.rule.code,
        })
        .collect())
}

/// The CSS class of a status badge (the inbox, one request, the resident's status page).
pub(super) fn status_class(s: Status) -> &'static str {
    match s {
        Status::Closed | Status::Rated => "state-received",
        Status::Resolved => "state-received",
        Status::Returned => "overdue",
        _ => "state-sent",
    }
}

// ---------------------------------------------------------------------------------------------
// The inbox

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InboxQuery {
    node_id: Option<i64>,
    view: Option<String>,
    notice: Option<String>,
    /// A status code (`received`, …), blank for any.
    status: String,
    /// A category code, blank for any.
    category: String,
    q: String,
    /// Received from / to these days (`YYYY-MM-DD`, both included).
    from: String,
    to: String,
    page: Option<i64>,
}

/// Requests a page of the inbox.
const INBOX_PER_PAGE: i64 = 50;

impl InboxQuery {
    fn view_name(&self) -> &'static str {
        match self.view.as_deref() {
            Some("new") => "new",
            Some("pending") => "pending",
            Some("overdue") => "overdue",
            Some("mine") => "mine",
            _ => "all",
        }
    }

    /// The store's filter under `node_id`, and what in the query was refused (left out of the
    /// filter, each named precisely).
    fn filter(&self, node_id: i64) -> (InboxFilter, Vec<String>) {
        let mut errors = Vec::new();
        let status = match self.status.trim() {
            "" => None,
            s => match s.parse::<Status>() {
                Ok(st) => Some(st),
                Err(_) => {
                    errors.push(format!("状态：「{s}」不是诉求的状态"));
                    None
                }
            },
        };
        let received = match crate::ui::day_range(&self.from, &self.to) {
            Ok(r) => r.bounds(),
            Err(e) => {
                errors.push(e);
                (None, None)
            }
        };
        let filter = InboxFilter {
            node_id: Some(node_id),
            view: self.view_name().parse().unwrap_or_default(),
            status,
            category: Some(self.category.trim().to_owned()).filter(|c| !c.is_empty()),
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            received,
        };
        (filter, errors)
    }

    /// The inbox's filters as a query string (for the pager and the export).
    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("view", self.view_name()),
            ("status", &self.status),
            ("category", &self.category),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

/// The inbox under the node asked for (or the caller's first root): the node, the roots to
/// pick from, `limit` matching requests from `offset` and what in the query was refused.
/// `None` for a caller with no jurisdiction.
async fn load_inbox(
    state: &AppState,
    user: &Principal,
    q: &InboxQuery,
    page: (i64, i64),
    now: i64,
) -> Result<Option<(Node, Vec<Choice>, Listed<Request>, Vec<String>)>, StoreError> {
    let Some((node, roots)) = chosen_node(state, user, q.node_id).await? else {
        return Ok(None);
    };
    let (filter, errors) = q.filter(node.id);
    let list = requests::inbox(&state.db, &user.scope, &filter, page, now).await?;
    Ok(Some((node, roots, list, errors)))
}

struct Row {
    id: i64,
    tracking_number: String,
    category: String,
    description: String,
    node_name: String,
    status: &'static str,
    status_class: &'static str,
    received_at: String,
    late: &'static str,
    escalated: bool,
    channel: &'static str,
}

/// 「办理超时」, 「响应超时」 or nothing.
fn late_label(r: &Request, now: i64) -> &'static str {
    if r.resolution_late(now) {
        "办理超时"
    } else if r.response_late(now) && r.status.is_pending() {
        "响应超时"
    } else {
        ""
    }
}

fn row(r: Request, now: i64) -> Row {
    let late = late_label(&r, now);
    Row {
        id: r.id,
        tracking_number: r.tracking_number,
        category: r.category_name,
        description: r.description.chars().take(60).collect(),
        node_name: r.department_name.unwrap_or(r.node_name),
        status: r.status.label_zh(),
        status_class: status_class(r.status),
        received_at: display(r.received_at),
        late,
        escalated: r.escalated_at.is_some(),
        channel: r.channel.label_zh(),
    }
}

struct RedWhistle {
    request_id: i64,
    department: String,
    due_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/requests.html")]
struct InboxPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    roots: Vec<Choice>,
    view: &'static str,
    /// The filter form: the nodes, statuses and categories to pick, what was typed.
    nodes: Vec<Choice>,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    q: String,
    from: String,
    to: String,
    total: i64,
    export: String,
    pager: Pager,
    rows: Vec<Row>,
    red: Vec<RedWhistle>,
    notice: String,
    /// What in the filters was refused.
    error: String,
    /// Whether the node takes residents' requests itself (a community or below).
    serves_residents: bool,
    public_link: String,
    /// The public link's QR code, an inline `<svg>`.
    public_qr: String,
}

/// The caller's root nodes as choices (the first selected when none is given).
/// The node a list is about (`asked`, else the caller's first root) and the picker's choices:
/// the caller's roots, and the node itself when it lies below them. `None` for a caller with
/// no jurisdiction.
async fn chosen_node(
    state: &AppState,
    user: &Principal,
    asked: Option<i64>,
) -> Result<Option<(Node, Vec<Choice>)>, StoreError> {
    let visible = tree::visible_roots(&state.db, &user.scope).await?;
    let Some(node_id) = asked.or_else(|| visible.first().map(|r| r.node.id)) else {
        return Ok(None);
    };
    let mut roots: Vec<Choice> = visible
        .into_iter()
        .enumerate()
        .map(|(i, r)| Choice {
            selected: asked.map_or(i == 0, |c| c == r.node.id),
            value: r.node.id.to_string(),
            label: r.node.name,
        })
        .collect();
    let node = tree::get(&state.db, &user.scope, node_id).await?;
    if !roots.iter().any(|c| c.selected) {
        roots.push(Choice {
            value: node.id.to_string(),
            label: node.name.clone(),
            selected: true,
        });
    }
    Ok(Some((node, roots)))
}

async fn inbox(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Query(q): Query<InboxQuery>,
) -> Response {
    let now = now_ms();
    let page_no = Pager::asked(q.page);
    let result = async {
        let Some((node, roots, list, errors)) = load_inbox(
            &state,
            &user,
            &q,
            (INBOX_PER_PAGE, Pager::offset(page_no, INBOX_PER_PAGE)),
            now,
        )
        .await?
        else {
            return Ok(None);
        };
        let red = requests::unanswered_whistles(&state.db, &user.scope, now).await?;
        let nodes = crate::ui::node_picker(&state.db, &user, node.id).await?;
        let categories = requests::categories(&state.db).await?;
        Ok::<_, StoreError>(Some((roots, node, list, errors, red, nodes, categories)))
    }
    .await;
    let (roots, node, list, errors, red, nodes, categories) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到诉求。"),
        Err(e) => return store_error_page(e),
    };
    let notice = match q.notice.as_deref() {
        Some("created") => "已登记诉求。",
        _ => "",
    };
    // A street or district takes no residents' requests itself (its link would be a 404).
    let serves_residents = node.kind.serves_residents();
    let (public_link, public_qr) = if serves_residents {
        crate::ui::qr::link_and_svg(format!("{base}/r/{}", node.id), 120)
    } else {
        (String::new(), String::new())
    };
    let qs = q.query_string(node.id);
    let page = InboxPage {
        shell: Shell::of(&user, "requests"),
        node_id: node.id,
        serves_residents,
        public_link,
        public_qr,
        node_name: node.name,
        roots,
        nodes,
        statuses: Choice::filter_of::<Status>(&q.status),
        categories: Choice::filter(
            &q.category,
            categories.into_iter().map(|c| (c.rule.code, c.rule.name)),
        ),
        view: q.view_name(),
        q: q.q.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        total: list.total,
        export: format!("/requests.xlsx?{qs}"),
        pager: Pager::new(page_no, list.total, INBOX_PER_PAGE, |n| {
            format!("/requests?{qs}&page={n}")
        }),
        rows: list.items.into_iter().map(|r| row(r, now)).collect(),
        red: red
            .into_iter()
            .map(|w| RedWhistle {
                request_id: w.request_id,
                department: w.department_name,
                due_at: display(w.due_at),
            })
            .collect(),
        notice: notice.to_owned(),
        error: errors.join("；"),
    };
    (form_status(!page.error.is_empty()), page).into_response()
}

/// The inbox as filtered, every page (up to [`MAX_LIST_ROWS`]), as xlsx: audited, since it
/// names residents; their phones stay masked (unmasking is one request at a time, audited).
async fn inbox_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<InboxQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let now = now_ms();
    // Bad filters refuse the file rather than export more than was asked for.
    let (_, errors) = q.filter(0);
    if !errors.is_empty() {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, &errors.join("；"));
    }
    let (node, list) = match load_inbox(&state, &user, &q, (MAX_LIST_ROWS, 0), now).await {
        Ok(Some((node, _, list, _))) => (node, list),
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到诉求。"),
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|r| {
            let late = late_label(&r, now).to_owned();
            vec![
                r.tracking_number,
                display(r.received_at),
                r.status.label_zh().to_owned(),
                r.category_name,
                r.description,
                r.address.unwrap_or_default(),
                r.reporter_name.unwrap_or_default(),
                r.reporter_phone_masked.unwrap_or_default(),
                r.department_name.unwrap_or(r.node_name),
                r.channel.label_zh().to_owned(),
                late,
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "request",
            name: "诉求",
            header: &[
                "编号",
                "登记时间",
                "状态",
                "类别",
                "诉求内容",
                "地址",
                "反映人",
                "联系电话",
                "承办",
                "渠道",
                "超时",
            ],
            node_id: Some(node.id),
            place: node.name,
            key: node.id.to_string(),
            query: raw,
        },
        list.total,
        rows,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The hotline / patrol form

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewFields {
    node_id: String,
    channel: String,
    category: String,
    description: String,
    address: String,
    reporter_name: String,
    reporter_phone: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_form.html")]
struct NewPage {
    shell: Shell,
    f: NewFields,
    places: Vec<Choice>,
    categories: Vec<Choice>,
    channels: Vec<Choice>,
    errors: Vec<String>,
}

async fn render_new(
    state: &AppState,
    user: &Principal,
    f: NewFields,
    status: StatusCode,
    errors: Vec<String>,
) -> Response {
    let result = async {
        let subtree = tree::subtree(&state.db, &user.scope, None).await?;
        let categories = category_choices(state, &f.category).await?;
        Ok::<_, StoreError>((subtree, categories))
    }
    .await;
    let (subtree, categories) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let places = subtree
        .into_iter()
        .filter(|n| n.is_open() && n.kind != NodeKind::Building)
        .take(500)
        .map(|n| Choice {
            selected: f.node_id == n.id.to_string(),
            label: format!(
                "{}{} {}",
                "\u{3000}".repeat(usize::try_from(n.depth).unwrap_or(0).min(6)),
                crate::ui::short_label(n.kind),
                n.name
            ),
            value: n.id.to_string(),
        })
        .collect();
    let default_channel = if user.scope.role() == linli_core::Role::GridWorker {
        "patrol"
    } else {
        "hotline"
    };
    let current = if f.channel.is_empty() {
        default_channel
    } else {
        f.channel.as_str()
    };
    let channels = [Channel::Hotline, Channel::Patrol]
        .into_iter()
        .map(|c| Choice {
            selected: c.as_str() == current,
            value: c.as_str().to_owned(),
            label: c.label_zh().to_owned(),
        })
        .collect();
    (
        status,
        NewPage {
            shell: Shell::of(user, "requests"),
            f,
            places,
            categories,
            channels,
            errors,
        },
    )
        .into_response()
}

async fn new_form(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let f = NewFields {
        category: "general".into(),
        ..Default::default()
    };
    render_new(&state, &user, f, StatusCode::OK, Vec::new()).await
}

async fn create(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    form: PhotoForm<NewFields>,
) -> Response {
    let PhotoForm {
        form: f,
        csrf,
        photo,
    } = form;
    if !csrf_ok(&user, &csrf) {
        return csrf_refused();
    }
    let channel = f.channel.parse::<Channel>();
    let node_id = f
        .node_id
        .trim()
        .parse::<i64>()
        .map_err(|_| CoreError::invalid("node_id", "请选择诉求所在的社区或网格"));
    let draft = RequestDraft::parse(&RequestInput {
        description: &f.description,
        address: Some(&f.address),
        reporter_name: Some(&f.reporter_name),
        reporter_phone: Some(&f.reporter_phone),
        ..Default::default()
    });
    let result = match (channel, node_id, draft) {
        (Ok(channel), Ok(node_id), Ok(draft)) => {
            requests::create_with_photo(
                &state.db,
                &user.scope,
                node_id,
                &f.category,
                channel,
                &draft,
                photo.as_deref(),
                now_ms(),
            )
            .await
        }
        (c, n, d) => {
            let mut errs: Vec<CoreError> = Vec::new();
            errs.extend(n.err());
            errs.extend(c.err());
            errs.extend(d.err().unwrap_or_default());
            Err(StoreError::Invalid(errs))
        }
    };
    match result {
        Ok(r) => Redirect::to(&format!("/requests/{}?notice=created", r.id)).into_response(),
        Err(e) => match refusal(e) {
            Ok(errors) => {
                render_new(&state, &user, f, StatusCode::UNPROCESSABLE_ENTITY, errors).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One request

struct EventRow {
    at: String,
    label: &'static str,
    actor: String,
    note: String,
    system: bool,
}

struct WhistleRow {
    id: i64,
    department: String,
    blown: String,
    due_at: String,
    state: &'static str,
    state_class: &'static str,
    response: String,
    open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request.html")]
struct RequestPage {
    shell: Shell,
    r: Request,
    status: &'static str,
    status_class: &'static str,
    channel: &'static str,
    received_at: String,
    respond_by: String,
    resolve_by: String,
    response_late: bool,
    resolution_late: bool,
    rating: String,
    events: Vec<EventRow>,
    whistles: Vec<WhistleRow>,
    places: Vec<Choice>,
    departments: Vec<Choice>,
    /// The steps the state allows (and the role may take).
    can: Vec<String>,
    errors: Vec<String>,
    notice: String,
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn request_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("created") => "已登记诉求，可以派单了。",
        Some("done") => "已保存。",
        Some("whistle") => "已吹哨，被召集部门须在 30 分钟内报到。",
        Some("photo") => "已上传照片。",
        _ => "",
    };
    render_request(&state, &user, id, StatusCode::OK, Vec::new(), notice).await
}

async fn render_request(
    state: &AppState,
    user: &Principal,
    id: i64,
    status: StatusCode,
    errors: Vec<String>,
    notice: &str,
) -> Response {
    let now = now_ms();
    let result = async {
        let r = requests::get(&state.db, &user.scope, id).await?;
        let mut events = requests::timeline(&state.db, &user.scope, id).await?;
        let mut whistles = requests::whistles(&state.db, &user.scope, id, now).await?;
        // The timeline names people, not their logins; the server's own steps are greyed.
        let system: Vec<bool> = events.iter().map(|e| e.actor == "system").collect();
        let actors = events.iter_mut().map(|e| &mut e.actor);
        let blowers = whistles.iter_mut().map(|w| &mut w.blown_by);
        crate::auth::names::name_actors(&state.db, actors.chain(blowers).collect()).await?;
        let subtree = tree::subtree(&state.db, &user.scope, None).await?;
        let deps = requests::departments(&state.db).await?;
        Ok::<_, StoreError>((r, events.into_iter().zip(system), whistles, subtree, deps))
    }
    .await;
    let (r, events, whistles, subtree, deps) = match result {
        Ok(x) => x,
        Err(e) => return store_error_page(e),
    };
    let places = subtree
        .into_iter()
        .filter(|n| n.is_open() && n.kind != NodeKind::Building && n.id != r.node_id)
        .take(500)
        .map(|n| Choice {
            selected: false,
            label: format!(
                "{}{} {}",
                "\u{3000}".repeat(usize::try_from(n.depth).unwrap_or(0).min(6)),
                crate::ui::short_label(n.kind),
                n.name
            ),
            value: n.id.to_string(),
        })
        .collect();
    RequestPage {
        shell: Shell::of(user, "requests"),
        status: r.status.label_zh(),
        status_class: status_class(r.status),
        channel: r.channel.label_zh(),
        received_at: display(r.received_at),
        respond_by: display(r.respond_by),
        resolve_by: display(r.resolve_by),
        response_late: r.response_late(now),
        resolution_late: r.resolution_late(now),
        rating: r
            .rating
            .map(|x| x.label_zh().to_owned())
            .unwrap_or_default(),
        events: events
            .map(|(e, system)| EventRow {
                at: display(e.at),
                label: e.label_zh(),
                system,
                actor: e.actor,
                note: e.note.unwrap_or_default(),
            })
            .collect(),
        whistles: whistles
            .into_iter()
            .map(|w| WhistleRow {
                id: w.id,
                department: w.department_name,
                blown: format!("{} {}", display(w.blown_at), w.blown_by),
                due_at: display(w.due_at),
                state: w.state.label_zh(),
                state_class: match w.state {
                    WhistleState::Unanswered => "low",
                    WhistleState::Late => "overdue",
                    WhistleState::OnTime => "state-received",
                    WhistleState::Waiting => "state-sent",
                },
                response: w.response.unwrap_or_default(),
                open: w.acknowledged_at.is_none(),
            })
            .collect(),
        places,
        departments: deps
            .into_iter()
            .map(|d| Choice {
                selected: false,
                value: d.id.to_string(),
                label: d.name,
            })
            .collect(),
        can: rules::allowed(r.status, r.rating, Actor::User(user.scope.role()))
            .into_iter()
            .map(|step| step.as_str().to_owned())
            .collect(),
        r,
        errors,
        notice: notice.to_owned(),
    }
    .into_response()
    .map_status(status)
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Response;
}

impl MapStatus for Response {
    fn map_status(mut self, status: StatusCode) -> Response {
        if self.status() == StatusCode::OK {
            *self.status_mut() = status;
        }
        self
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActFields {
    action: String,
    target: String,
    reason: String,
    outcome: String,
    rating: String,
    comment: String,
}

fn parse_action(f: &ActFields) -> Result<Action, CoreError> {
    match f.action.as_str() {
        "dispatch" => {
            let bad = || CoreError::invalid("target", "请选择派往的社区、网格或部门");
            let target = match f.target.split_once(':') {
                Some(("node", id)) => Target::Node(id.parse().map_err(|_| bad())?),
                Some(("department", id)) => Target::Department(id.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            };
            Ok(Action::Dispatch { target })
        }
        "accept" => Ok(Action::Accept),
        "return" => Action::return_with(&f.reason),
        "start" => Ok(Action::Start),
        "resolve" => Action::resolve_with(&f.outcome),
        "rate" => Action::rate_with(&f.rating, &f.comment),
        "close" => Action::close_with(&f.comment),
        "reopen" => Action::reopen_with(&f.reason),
        other => Err(CoreError::invalid(
            "action",
            format!("「{other}」不是有效的操作"),
        )),
    }
}

async fn act(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<ActFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let result = match parse_action(&f) {
        Ok(action) => requests::transition(&state.db, &user.scope, id, &action, now_ms())
            .await
            .map(|_| ()),
        Err(e) => Err(StoreError::from(e)),
    };
    after(&state, &user, id, result, "done").await
}

async fn after(
    state: &AppState,
    user: &Principal,
    id: i64,
    result: Result<(), StoreError>,
    notice: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/requests/{id}?notice={notice}")).into_response(),
        Err(e) => {
            let status = match &e {
                StoreError::Conflict { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            match refusal(e) {
                Ok(errors) => render_request(state, user, id, status, errors, "").await,
                Err(e) => store_error_page(e),
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct WhistleFields {
    #[serde(default)]
    department_id: String,
}

async fn whistle(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<WhistleFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let result = match f.department_id.trim().parse::<i64>() {
        Ok(d) => requests::blow_whistle(&state.db, &user.scope, id, &[d], now_ms())
            .await
            .map(|_| ()),
        Err(_) => Err(StoreError::invalid("department_ids", "请选择要召集的部门")),
    };
    after(&state, &user, id, result, "whistle").await
}

#[derive(Debug, Default, Deserialize)]
struct AckFields {
    #[serde(default)]
    request_id: i64,
    #[serde(default)]
    response: String,
}

async fn acknowledge(
    State(state): State<AppState>,
    Path(wid): Path<i64>,
    form: CsrfForm<AckFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let result = requests::acknowledge_whistle(&state.db, &user.scope, wid, &f.response, now_ms())
        .await
        .map(|_| ());
    after(&state, &user, f.request_id, result, "done").await
}

// ---------------------------------------------------------------------------------------------
// The three rates

#[derive(Debug, Deserialize)]
struct RatesQuery {
    node_id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

/// One node's rates for the page: percentages and bar widths.
struct RateRow {
    node_id: i64,
    name: String,
    received: i64,
    response: String,
    resolution: String,
    satisfaction: String,
    response_w: i64,
    resolution_w: i64,
    satisfaction_w: i64,
}

fn pct(r: Option<f64>) -> (String, i64) {
    match r {
        Some(x) => (format!("{:.1}%", x * 100.0), (x * 100.0).round() as i64),
        None => ("—".to_owned(), 0),
    }
}

fn rate_row(node_id: i64, name: String, r: &linli_core::requests::Rates) -> RateRow {
    let (response, response_w) = pct(r.response_rate);
    let (resolution, resolution_w) = pct(r.resolution_rate);
    let (satisfaction, satisfaction_w) = pct(r.satisfaction_rate);
    RateRow {
        node_id,
        name,
        received: r.received,
        response,
        resolution,
        satisfaction,
        response_w,
        resolution_w,
        satisfaction_w,
    }
}

fn duration_text(ms: Option<i64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 3_600_000 => format!("{} 分钟", ms / 60_000),
        Some(ms) if ms < 2 * 86_400_000 => format!("{:.1} 小时", ms as f64 / 3_600_000.0),
        Some(ms) => format!("{:.1} 天", ms as f64 / 86_400_000.0),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_rates.html")]
struct RatesPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    roots: Vec<Choice>,
    from: String,
    to: String,
    total: RateRow,
    counts: linli_core::requests::Rates,
    median_response: String,
    median_resolution: String,
    children: Vec<RateRow>,
    errors: Vec<String>,
}

async fn rates_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<RatesQuery>,
) -> Response {
    let mut errors = Vec::new();
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_date("to", s).unwrap_or_else(|e| {
            errors.push(format!("结束日期：{}", e.message));
            today()
        }),
        None => today(),
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse_date("from", s).unwrap_or_else(|e| {
            errors.push(format!("开始日期：{}", e.message));
            to - time::Duration::days(29)
        }),
        None => to - time::Duration::days(29),
    };
    let (from, to) = if from > to {
        errors.push("开始日期不能晚于结束日期".to_owned());
        (to, to)
    } else {
        (from, to)
    };
    let result = async {
        let Some((node, roots)) = chosen_node(&state, &user, q.node_id).await? else {
            return Ok(None);
        };
        let total = requests::rates(&state.db, &user.scope, node.id, from, to).await?;
        let mut children = Vec::new();
        for c in tree::children(
            &state.db,
            &user.scope,
            node.id,
            false,
            Page::new(Some(100), None),
        )
        .await?
        {
            let r = requests::rates(&state.db, &user.scope, c.node.id, from, to).await?;
            children.push(rate_row(c.node.id, c.node.name, &r));
        }
        Ok::<_, StoreError>(Some((roots, node, total, children)))
    }
    .await;
    let (roots, node, total, children) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区。"),
        Err(e) => return store_error_page(e),
    };
    RatesPage {
        shell: Shell::of(&user, "requests"),
        node_id: node.id,
        total: rate_row(node.id, node.name.clone(), &total),
        node_name: node.name,
        roots,
        from: format_date(from),
        to: format_date(to),
        median_response: duration_text(total.median_response_ms),
        median_resolution: duration_text(total.median_resolution_ms),
        counts: total,
        children,
        errors,
    }
    .into_response()
}
