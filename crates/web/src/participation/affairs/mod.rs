//! 居务公开 pages: the ledger with its filters and export, the new-entry form with its
//! attachments, an entry's page (attach and publish while a draft; a published entry offers
//! only 「发布更正」), and the community's public page settings and poster. The public page
//! itself is in `public.rs`.

pub mod api;
pub mod public;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, today};
use linli_core::kernel::labels::Labelled;
use linli_core::kernel::token::grouped;
use linli_core::participation::affairs::{
    attachment_type, Category, EntryAction, EntryInput, EntryStatus, MAX_ATTACHMENTS,
    MAX_ATTACHMENT_BYTES,
};
use linli_core::participation::notices::paragraphs;
use linli_core::NodeKind;
use linli_store::accounts::Principal;
use linli_store::participation::affairs::{self, Attachment, Entry, EntryFilter};
use linli_store::{tree, StoreError, MAX_LIST_ROWS};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::{csrf_ok, csrf_refused, CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::{
    error_page, field_errors, field_label, form_status, store_error_page, Choice, Empty,
    FieldErrors, ListExport, Pager, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/affairs", get(list_page))
        .route("/affairs.xlsx", get(list_export))
        .route("/affairs/new", get(new_form))
        .route("/affairs/{id}", get(entry_page))
        .route("/affairs/{id}/publish", post(publish))
        .route("/affairs/{id}/files/{file}", get(file))
        .route("/affairs/page", get(page_settings))
        .route("/affairs/page/{node_id}/code", post(issue_code))
        .route("/affairs/page/{node_id}/poster", get(poster))
        .merge(public::router())
}

/// The forms that carry attachments, under a body limit of five files of 5 MB and the fields.
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/affairs/new", post(new_submit))
        .route("/affairs/{id}/attachments", post(attach))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY))
}

const MAX_UPLOAD_BODY: usize = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 512 * 1024;

pub(crate) fn label(field: &str) -> &str {
    match field {
        "category" => "类别",
        "title" => "标题",
        "body" => "内容",
        "period_from" => "期间开始",
        "period_until" => "期间结束",
        "corrects_id" => "更正的条目",
        "attachment" => "附件",
        "status" => "状态",
        other => field_label(other),
    }
}

fn status_class(s: EntryStatus) -> &'static str {
    match s {
        EntryStatus::Draft => "flag",
        EntryStatus::Published => "ok",
    }
}

fn period(e: &Entry) -> String {
    if e.period_from == e.period_until {
        e.period_from.clone()
    } else {
        format!("{} 至 {}", e.period_from, e.period_until)
    }
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

/// An attachment as a download: its sniffed type, its name for saving, private to the cache.
pub(crate) fn file_response(a: Attachment, cache: &'static str) -> Response {
    let disposition = format!(
        "inline; filename=\"attachment\"; filename*=UTF-8''{}",
        crate::ui::url_encode(&a.name)
    );
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        a.bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// The list

struct Row {
    id: i64,
    title: String,
    node_name: String,
    category: &'static str,
    period: String,
    status: &'static str,
    status_class: &'static str,
    files: usize,
    corrected: bool,
    is_correction: bool,
    when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/affairs.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    nodes: Vec<Choice>,
    categories: Vec<Choice>,
    statuses: Vec<Choice>,
    q: String,
    from: String,
    until: String,
    matched: i64,
    pager: Pager,
    export: String,
    error: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    node_id: String,
    q: String,
    category: String,
    status: String,
    from: String,
    until: String,
    page: Option<i64>,
}

const PER_PAGE: i64 = 30;

impl ListQuery {
    fn node(&self) -> Option<i64> {
        self.node_id.trim().parse().ok()
    }
    /// The filter, or the refusal of a day that is no date.
    fn filter(&self) -> Result<EntryFilter, String> {
        let day = |field: &str, s: &str| -> Result<Option<String>, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            linli_core::kernel::clock::parse_date(field, s)
                .map(|d| Some(format_date(d)))
                .map_err(|e| format!("{}：{}", label(field), e.message))
        };
        Ok(EntryFilter {
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            node_id: self.node(),
            category: Category::from_code(self.category.trim()),
            status: EntryStatus::from_code(self.status.trim()),
            from: day("period_from", &self.from)?,
            until: day("period_until", &self.until)?,
        })
    }
    fn query_string(&self) -> String {
        crate::ui::query_string(&[
            ("node_id", &self.node_id),
            ("q", &self.q),
            ("category", &self.category),
            ("status", &self.status),
            ("from", &self.from),
            ("until", &self.until),
        ])
    }
}

/// The communities the caller sees, as options.
async fn communities(
    state: &AppState,
    user: &Principal,
    current: Option<i64>,
    with_all: bool,
) -> Result<Vec<Choice>, StoreError> {
    let tree = tree::subtree(&state.db, &user.scope, None).await?;
    let mut out = Vec::new();
    if with_all {
        out.push(Choice {
            value: String::new(),
            label: "全部".into(),
            selected: current.is_none(),
        });
    }
    out.extend(
        tree.into_iter()
            .filter(|n| n.kind == NodeKind::Community && n.is_open())
            .map(|n| Choice {
                selected: Some(n.id) == current,
                value: n.id.to_string(),
                label: n.name,
            }),
    );
    Ok(out)
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let (filter, error) = match q.filter() {
        Ok(f) => (f, None),
        Err(e) => (
            EntryFilter {
                node_id: q.node(),
                ..Default::default()
            },
            Some(e),
        ),
    };
    let result = async {
        let list = affairs::list(
            &state.db,
            &user.scope,
            &filter,
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let nodes = communities(&state, &user, q.node(), true).await?;
        Ok::<_, StoreError>((list, nodes))
    }
    .await;
    let (list, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(error.is_some());
    (
        status,
        ListPage {
            shell: Shell::of(&user, "participation"),
            rows: list
                .items
                .into_iter()
                .map(|e| Row {
                    id: e.id,
                    period: period(&e),
                    category: e.category.label_zh(),
                    status: e.status.label_zh(),
                    status_class: status_class(e.status),
                    files: e.attachments.len(),
                    corrected: e.corrected_by_id.is_some(),
                    is_correction: e.corrects_id.is_some(),
                    when: display(e.published_at.unwrap_or(e.created_at)),
                    title: e.title,
                    node_name: e.node_name,
                })
                .collect(),
            nodes,
            categories: Choice::filter_of::<Category>(&q.category),
            statuses: Choice::filter_of::<EntryStatus>(&q.status),
            q: q.q.clone(),
            from: q.from.clone(),
            until: q.until.clone(),
            matched: list.total,
            pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
                format!("/affairs?{}&page={n}", q.query_string())
            }),
            export: format!("/affairs.xlsx?{}", q.query_string()),
            error,
        },
    )
        .into_response()
}

async fn list_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let list = match affairs::list(&state.db, &user.scope, &filter, (MAX_LIST_ROWS, 0)).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    let node = match q.node() {
        Some(id) => match tree::get(&state.db, &user.scope, id).await {
            Ok(n) => Some(n),
            Err(e) => return store_error_page(e),
        },
        None => None,
    };
    let rows = list
        .items
        .into_iter()
        .map(|e| {
            vec![
                e.node_name.clone(),
                e.category.label_zh().to_owned(),
                e.title.clone(),
                e.period_from.clone(),
                e.period_until.clone(),
                e.status.label_zh().to_owned(),
                e.published_at.map(display).unwrap_or_default(),
                e.published_by.clone().unwrap_or_default(),
                e.corrects_title.clone().unwrap_or_default(),
                e.corrected_by_title.clone().unwrap_or_default(),
                e.attachments.len().to_string(),
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "affair",
            name: "居务公开",
            header: &[
                "社区",
                "类别",
                "标题",
                "期间开始",
                "期间结束",
                "状态",
                "公开时间",
                "公开人",
                "更正的条目",
                "已被更正为",
                "附件数",
            ],
            node_id: node.as_ref().map(|n| n.id),
            place: node
                .as_ref()
                .map(|n| n.name.clone())
                .unwrap_or_else(|| crate::ui::jurisdiction(&user)),
            key: node
                .map(|n| n.id.to_string())
                .unwrap_or_else(|| "all".into()),
            query: raw,
        },
        list.total,
        rows,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Forms with files

/// A multipart form: its text fields, its `attachment` files (name, bytes), and the CSRF token.
struct FilesForm<T> {
    form: T,
    csrf: String,
    files: Vec<(String, Bytes)>,
}

fn upload_error(status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_page(
            status,
            "附件太大：每个附件上限 5 MB，每次最多 5 个，请压缩或分开上传。",
        )
    } else {
        error_page(status, "表单无法解析，请返回重试。")
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for FilesForm<T> {
    type Rejection = Response;
    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let mut m = Multipart::from_request(req, state)
            .await
            .map_err(|e| upload_error(e.status()))?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut files = Vec::new();
        while let Some(field) = m.next_field().await.map_err(|e| upload_error(e.status()))? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "attachment" {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| upload_error(e.status()))?;
                // A file input left empty still sends an empty part.
                if !bytes.is_empty() || !file_name.is_empty() {
                    files.push((file_name, bytes));
                }
                continue;
            }
            let value = field.text().await.map_err(|e| upload_error(e.status()))?;
            pairs.push((name, value));
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
        Ok(FilesForm { form, csrf, files })
    }
}

/// The files' refusals before anything is stored: each file's type and size, and their number.
fn check_files(files: &[(String, Bytes)], already: usize) -> Vec<linli_core::CoreError> {
    let mut errors: Vec<linli_core::CoreError> = files
        .iter()
        .filter_map(|(name, bytes)| {
            attachment_type(bytes).err().map(|mut e| {
                e.message = format!("「{name}」：{}", e.message);
                e
            })
        })
        .collect();
    if already + files.len() > MAX_ATTACHMENTS {
        errors.push(linli_core::CoreError::invalid(
            "attachment",
            format!("每个条目最多 {MAX_ATTACHMENTS} 个附件"),
        ));
    }
    errors
}

// ---------------------------------------------------------------------------------------------
// The new entry

#[derive(Default, Deserialize, Clone)]
#[serde(default)]
struct EntryForm {
    node_id: String,
    category: String,
    title: String,
    body: String,
    period_from: String,
    period_until: String,
    corrects_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/affair_new.html")]
struct NewPage {
    shell: Shell,
    nodes: Vec<Choice>,
    categories: Vec<Choice>,
    f: EntryForm,
    corrects: Option<Entry>,
    errors: FieldErrors,
    others: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    node_id: String,
    corrects: String,
}

async fn render_new(
    state: &AppState,
    user: &Principal,
    mut f: EntryForm,
    errors: FieldErrors,
) -> Response {
    let corrects = match f.corrects_id.trim().parse::<i64>() {
        Ok(id) => match affairs::get(&state.db, &user.scope, id).await {
            Ok(e) => {
                f.node_id = e.node_id.to_string();
                Some(e)
            }
            Err(e) => return store_error_page(e),
        },
        Err(_) => None,
    };
    let current = f
        .node_id
        .trim()
        .parse()
        .ok()
        .or(user.user.nodes.first().map(|n| n.id));
    let nodes = match communities(state, user, current, false).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let others = errors.others(
        &[
            "node_id",
            "category",
            "title",
            "body",
            "period_from",
            "period_until",
            "attachment",
        ],
        label,
    );
    if f.period_from.is_empty() {
        f.period_from = format_date(today());
    }
    let status = form_status(!errors.is_empty());
    (
        status,
        NewPage {
            shell: Shell::of(user, "participation"),
            nodes,
            categories: Category::ALL
                .iter()
                .map(|c| Choice {
                    value: c.as_str().to_owned(),
                    label: c.label_zh().to_owned(),
                    selected: c.as_str() == f.category,
                })
                .collect(),
            f,
            corrects,
            errors,
            others,
        },
    )
        .into_response()
}

async fn new_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let f = EntryForm {
        node_id: q.node_id,
        corrects_id: q.corrects,
        ..Default::default()
    };
    render_new(&state, &user, f, FieldErrors::default()).await
}

async fn new_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    form: FilesForm<EntryForm>,
) -> Response {
    if !csrf_ok(&user, &form.csrf) {
        return csrf_refused();
    }
    let f = form.form;
    let input = EntryInput {
        category: &f.category,
        title: &f.title,
        body: &f.body,
        period_from: &f.period_from,
        period_until: &f.period_until,
    };
    // Files are checked before anything is stored, with the fields, so one refusal names
    // everything to fix and a refused file leaves no draft behind.
    let file_errors = check_files(&form.files, 0);
    if !file_errors.is_empty() {
        let mut errors = linli_core::participation::affairs::EntryDraft::parse(input.clone())
            .err()
            .unwrap_or_default();
        errors.extend(file_errors);
        let errors = FieldErrors::from_core(&errors);
        return render_new(&state, &user, f.clone(), errors).await;
    }
    let created = affairs::create(
        &state.db,
        &user.scope,
        f.node_id.trim().parse().unwrap_or(0),
        input,
        f.corrects_id.trim().parse::<i64>().ok(),
        now_ms(),
    )
    .await;
    let entry = match created {
        Ok(e) => e,
        Err(e) => {
            return match field_errors(e) {
                Ok(errors) => render_new(&state, &user, f.clone(), errors).await,
                Err(e) => store_error_page(e),
            }
        }
    };
    for (name, bytes) in &form.files {
        if let Err(e) =
            affairs::attach(&state.db, &user.scope, entry.id, name, bytes, now_ms()).await
        {
            return store_error_page(e);
        }
    }
    Redirect::to(&format!("/affairs/{}?notice=created", entry.id)).into_response()
}

// ---------------------------------------------------------------------------------------------
// One entry

struct FileRow {
    id: i64,
    name: String,
    kind: &'static str,
    size: String,
}

fn file_rows(e: &Entry) -> Vec<FileRow> {
    e.attachments
        .iter()
        .map(|a| FileRow {
            id: a.id,
            name: a.name.clone(),
            kind: match a.content_type.as_str() {
                "application/pdf" => "PDF",
                "image/png" => "PNG 图片",
                _ => "JPEG 图片",
            },
            size: size_text(a.size),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/affair.html")]
struct EntryPage {
    shell: Shell,
    e: Entry,
    category: &'static str,
    status: &'static str,
    status_class: &'static str,
    period: String,
    paragraphs: Vec<String>,
    files: Vec<FileRow>,
    created_at: String,
    published_at: String,
    can_attach: bool,
    can_publish: bool,
    can_correct: bool,
    room_for_files: usize,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct EntryQuery {
    notice: Option<String>,
}

async fn render_entry(
    state: &AppState,
    user: &Principal,
    id: i64,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let e = match affairs::get(&state.db, &user.scope, id).await {
        Ok(e) => e,
        Err(e) => return store_error_page(e),
    };
    let writable = user.scope.can_write_records(&e.node_path);
    let offers = |a: EntryAction| writable && e.status.actions().contains(&a);
    let status = form_status(error.is_some());
    (
        status,
        EntryPage {
            shell: Shell::of(user, "participation"),
            category: e.category.label_zh(),
            status: e.status.label_zh(),
            status_class: status_class(e.status),
            period: period(&e),
            paragraphs: paragraphs(&e.body),
            files: file_rows(&e),
            created_at: display(e.created_at),
            published_at: e.published_at.map(display).unwrap_or_default(),
            can_attach: offers(EntryAction::Attach) && e.attachments.len() < MAX_ATTACHMENTS,
            can_publish: offers(EntryAction::Publish),
            can_correct: offers(EntryAction::Correct),
            room_for_files: MAX_ATTACHMENTS.saturating_sub(e.attachments.len()),
            notice,
            error,
            e,
        },
    )
        .into_response()
}

async fn entry_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "published" => "已公开：此条目从此不能修改或删除；如有错误，请发布更正。",
        "attached" => "附件已添加。",
        _ => "草稿已保存：确认内容和附件无误后，点「公开」。",
    });
    render_entry(&state, &user, id, notice, None).await
}

async fn attach(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    form: FilesForm<Empty>,
) -> Response {
    if !csrf_ok(&user, &form.csrf) {
        return csrf_refused();
    }
    let entry = match affairs::get(&state.db, &user.scope, id).await {
        Ok(e) => e,
        Err(e) => return store_error_page(e),
    };
    let mut errors = check_files(&form.files, entry.attachments.len());
    if form.files.is_empty() {
        errors.push(linli_core::CoreError::invalid(
            "attachment",
            "请选择要上传的文件",
        ));
    }
    if errors.is_empty() {
        for (name, bytes) in &form.files {
            if let Err(e) = affairs::attach(&state.db, &user.scope, id, name, bytes, now_ms()).await
            {
                match e {
                    StoreError::Invalid(mut es) => {
                        errors.append(&mut es);
                        break;
                    }
                    other => return store_error_page(other),
                }
            }
        }
    }
    if errors.is_empty() {
        return Redirect::to(&format!("/affairs/{id}?notice=attached")).into_response();
    }
    let message = errors
        .iter()
        .map(|e| format!("{}：{}", label(&e.field), e.message))
        .collect::<Vec<_>>()
        .join("；");
    render_entry(&state, &user, id, None, Some(message)).await
}

async fn publish(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match affairs::publish(&state.db, &form.user.scope, id, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/affairs/{id}?notice=published")).into_response(),
        Err(StoreError::Invalid(es)) => {
            let message = crate::ui::forms::messages(&es);
            render_entry(&state, &form.user, id, None, Some(message)).await
        }
        Err(e) => store_error_page(e),
    }
}

async fn file(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((id, file)): Path<(i64, i64)>,
) -> Response {
    match affairs::attachment(&state.db, &user.scope, id, file).await {
        Ok(a) => file_response(a, "private, max-age=3600"),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// The public page's settings and poster

#[derive(Template, WebTemplate)]
#[template(path = "participation/community_page.html")]
struct SettingsPage {
    shell: Shell,
    nodes: Vec<Choice>,
    node_id: i64,
    node_name: String,
    code: String,
    url: String,
    qr: String,
    can_write: bool,
    notice: Option<&'static str>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SettingsQuery {
    node_id: String,
    notice: Option<String>,
}

async fn page_settings(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Query(q): Query<SettingsQuery>,
) -> Response {
    let asked = q.node_id.trim().parse::<i64>().ok();
    let nodes = match communities(&state, &user, asked, false).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let Some(node_id) = asked.or_else(|| nodes.first().and_then(|c| c.value.parse().ok())) else {
        // A grid worker's jurisdiction holds no community: nothing to set up here.
        return SettingsPage {
            shell: Shell::of(&user, "participation"),
            nodes,
            node_id: 0,
            node_name: String::new(),
            code: String::new(),
            url: String::new(),
            qr: String::new(),
            can_write: false,
            notice: None,
        }
        .into_response();
    };
    let (node, code) = match affairs::page_code(&state.db, &user.scope, node_id).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    if node.kind != NodeKind::Community {
        return error_page(StatusCode::NOT_FOUND, "公开页按社区设立，请选择社区。");
    }
    let (url, qr) = match &code {
        Some(c) => crate::ui::qr::link_and_svg(format!("{base}/c/{}", c.code), 220),
        None => (String::new(), String::new()),
    };
    SettingsPage {
        shell: Shell::of(&user, "participation"),
        nodes: nodes
            .into_iter()
            .map(|c| Choice {
                selected: c.value == node_id.to_string(),
                ..c
            })
            .collect(),
        node_id,
        can_write: user.scope.can_write_records(&node.path),
        node_name: node.name,
        code: code.map(|c| grouped(&c.code)).unwrap_or_default(),
        url,
        qr,
        notice: q.notice.as_deref().map(|n| match n {
            "rotated" => "已更换公开码：旧的二维码和网址已失效，请重新打印张贴。",
            _ => "已生成公开码。",
        }),
    }
    .into_response()
}

async fn issue_code(
    State(state): State<AppState>,
    Path(node_id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    let had = match affairs::page_code(&state.db, &form.user.scope, node_id).await {
        Ok((_, c)) => c.is_some(),
        Err(e) => return store_error_page(e),
    };
    match affairs::issue_page_code(&state.db, &form.user.scope, node_id, now_ms()).await {
        Ok(_) => Redirect::to(&format!(
            "/affairs/page?node_id={node_id}&notice={}",
            if had { "rotated" } else { "created" }
        ))
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/community_poster.html")]
struct PosterPage {
    node_id: i64,
    place: String,
    code: String,
    url: String,
    qr: String,
}

async fn poster(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(node_id): Path<i64>,
) -> Response {
    let (node, code) = match affairs::page_code(&state.db, &user.scope, node_id).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let Some(code) = code else {
        return Redirect::to(&format!("/affairs/page?node_id={node_id}")).into_response();
    };
    let (url, qr) = crate::ui::qr::link_and_svg(format!("{base}/c/{}", code.code), 320);
    PosterPage {
        node_id,
        place: node.name,
        code: grouped(&code.code),
        url,
        qr,
    }
    .into_response()
}
