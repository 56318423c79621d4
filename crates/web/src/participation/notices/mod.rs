//! Notice pages (通知公告): the list with its filters, unread counts and export, the form, and
//! a notice's page (opening it leaves the reader's receipt; the author's side sees who has read).

pub mod api;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, today};
use linli_core::participation::notices::{paragraphs, NoticeInput};
use linli_core::{NodeKind, Role};
use linli_store::accounts::Principal;
use linli_store::participation::notices::{self, NewNotice, Notice, NoticeFilter, NoticeState};
use linli_store::{tree, StoreError, MAX_LIST_ROWS};
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{
    field_errors, field_label, form_status, store_error_page, Choice, Empty, FieldErrors,
    ListExport, Pager, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notices", get(list_page))
        .route("/notices.xlsx", get(list_export))
        .route("/notices/new", get(new_form).post(new_submit))
        .route("/notices/{id}", get(notice_page))
        .route("/notices/{id}/withdraw", post(withdraw))
}

pub(crate) fn label(field: &str) -> &str {
    match field {
        "title" => "标题",
        "body" => "正文",
        "valid_from" => "生效日期",
        "valid_until" => "截止日期",
        "building_id" => "楼栋",
        "tag" => "重点人群",
        other => field_label(other),
    }
}

fn can_write(user: &Principal) -> bool {
    !matches!(user.scope.role(), Role::Official) || user.scope.is_admin()
}

/// The state of a notice in words, and its CSS class.
fn state_of(n: &Notice) -> (&'static str, &'static str) {
    let s = NoticeState::of(n);
    let class = match s {
        NoticeState::Current => "ok",
        NoticeState::Upcoming => "flag",
        NoticeState::Expired | NoticeState::Withdrawn => "dup",
    };
    (s.label_zh(), class)
}

fn audience_text(n: &Notice) -> String {
    let mut s = n.audience_name.clone();
    if let Some(t) = &n.tag {
        s.push_str(&format!(" · {t}"));
    }
    s
}

fn days(n: &Notice) -> String {
    match &n.valid_until {
        Some(u) => format!("{} 至 {u}", n.valid_from),
        None => format!("{} 起", n.valid_from),
    }
}

// ---------------------------------------------------------------------------------------------
// The list

struct Row {
    id: i64,
    title: String,
    node_name: String,
    audience: String,
    days: String,
    state: &'static str,
    state_class: &'static str,
    public: bool,
    author: String,
    read: i64,
}

struct UnreadRow {
    node_name: String,
    unread: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/notices.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    unread: Vec<UnreadRow>,
    nodes: Vec<Choice>,
    states: Vec<Choice>,
    publics: Vec<Choice>,
    q: String,
    matched: i64,
    pager: Pager,
    export: String,
    can_write: bool,
    notice: Option<&'static str>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    node_id: String,
    q: String,
    state: String,
    public: String,
    page: Option<i64>,
    notice: Option<String>,
}

const PER_PAGE: i64 = 30;

impl ListQuery {
    fn node(&self) -> Option<i64> {
        self.node_id.trim().parse().ok()
    }
    fn filter(&self) -> NoticeFilter {
        NoticeFilter {
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            node_id: self.node(),
            state: NoticeState::parse(self.state.trim()),
            public: match self.public.trim() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            },
        }
    }
    fn query_string(&self) -> String {
        crate::ui::query_string(&[
            ("node_id", &self.node_id),
            ("q", &self.q),
            ("state", &self.state),
            ("public", &self.public),
        ])
    }
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let result = async {
        let list = notices::list(
            &state.db,
            &user.scope,
            &q.filter(),
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let unread = notices::unread_by_node(&state.db, &user.scope, q.node()).await?;
        let nodes = node_filter(&state, &user, q.node()).await?;
        Ok::<_, StoreError>((list, unread, nodes))
    }
    .await;
    let (list, unread, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    ListPage {
        shell: Shell::of(&user, "participation"),
        rows: list
            .items
            .into_iter()
            .map(|r| {
                let (state, state_class) = state_of(&r.notice);
                Row {
                    id: r.notice.id,
                    audience: audience_text(&r.notice),
                    days: days(&r.notice),
                    title: r.notice.title,
                    node_name: r.notice.node_name,
                    state,
                    state_class,
                    public: r.notice.public,
                    author: r.notice.author,
                    read: r.read,
                }
            })
            .collect(),
        unread: unread
            .into_iter()
            .map(|u| UnreadRow {
                node_name: u.node_name,
                unread: u.unread,
            })
            .collect(),
        nodes,
        states: Choice::filter(
            &q.state,
            NoticeState::ALL.map(|s| (s.as_str().to_owned(), s.label_zh().to_owned())),
        ),
        publics: Choice::filter(
            &q.public,
            [
                ("1".to_owned(), "公开".to_owned()),
                ("0".to_owned(), "仅工作人员".to_owned()),
            ],
        ),
        q: q.q.clone(),
        matched: list.total,
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/notices?{}&page={n}", q.query_string())
        }),
        export: format!("/notices.xlsx?{}", q.query_string()),
        can_write: can_write(&user),
        notice: q.notice.as_deref().map(|n| match n {
            "withdrawn" => "已撤回。",
            _ => "已发布。",
        }),
    }
    .into_response()
}

/// The nodes a list may be narrowed to (全部 first).
async fn node_filter(
    state: &AppState,
    user: &Principal,
    current: Option<i64>,
) -> Result<Vec<Choice>, StoreError> {
    let picker = crate::ui::node_picker(&state.db, user, current.unwrap_or(0)).await?;
    let mut out = vec![Choice {
        value: String::new(),
        label: "全部".into(),
        selected: current.is_none(),
    }];
    out.extend(picker);
    Ok(out)
}

async fn list_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let list = match notices::list(&state.db, &user.scope, &q.filter(), (MAX_LIST_ROWS, 0)).await {
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
        .map(|r| {
            let n = r.notice;
            vec![
                n.title.clone(),
                n.node_name.clone(),
                audience_text(&n),
                n.valid_from.clone(),
                n.valid_until.clone().unwrap_or_default(),
                if n.public {
                    "公开"
                } else {
                    "仅工作人员"
                }
                .to_owned(),
                NoticeState::of(&n).label_zh().to_owned(),
                n.author.clone(),
                display(n.created_at),
                r.read.to_string(),
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "notice",
            name: "通知公告",
            header: &[
                "标题",
                "发布辖区",
                "面向",
                "生效日期",
                "截止日期",
                "范围",
                "状态",
                "发布人",
                "发布时间",
                "已读人数",
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
// The form

#[derive(Default, Deserialize, Clone)]
#[serde(default)]
struct NoticeForm {
    node_id: String,
    building_id: String,
    tag: String,
    title: String,
    body: String,
    valid_from: String,
    valid_until: String,
    public: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/notice_new.html")]
struct NewPage {
    shell: Shell,
    nodes: Vec<Choice>,
    buildings: Vec<Choice>,
    tags: Vec<Choice>,
    f: NoticeForm,
    errors: FieldErrors,
    others: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    node_id: String,
}

async fn render_form(
    state: &AppState,
    user: &Principal,
    f: NoticeForm,
    errors: FieldErrors,
) -> Response {
    let node_id: i64 = match f.node_id.trim().parse() {
        Ok(n) => n,
        Err(_) => match user.user.nodes.first() {
            Some(n) => n.id,
            None => 0,
        },
    };
    let result = async {
        let nodes = crate::ui::node_picker(&state.db, user, node_id).await?;
        let node_id = match nodes.iter().find(|c| c.selected).or(nodes.first()) {
            Some(c) => c.value.parse().unwrap_or(node_id),
            None => node_id,
        };
        let buildings = if node_id > 0 {
            tree::subtree(&state.db, &user.scope, Some(node_id))
                .await?
                .into_iter()
                .filter(|n| n.kind == NodeKind::Building && n.is_open())
                .map(|n| (n.id.to_string(), n.name))
                .collect()
        } else {
            Vec::new()
        };
        let tags = linli_store::registry::tags(&state.db).await?;
        Ok::<_, StoreError>((nodes, buildings, tags))
    }
    .await;
    let (nodes, buildings, tags) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let others = errors.others(
        &[
            "title",
            "body",
            "valid_from",
            "valid_until",
            "building_id",
            "tag",
        ],
        label,
    );
    let mut f = f;
    if f.valid_from.is_empty() {
        f.valid_from = format_date(today());
    }
    let mut buildings_c = vec![Choice {
        value: String::new(),
        label: "整个辖区".into(),
        selected: f.building_id.trim().is_empty(),
    }];
    buildings_c.extend(buildings.into_iter().map(|(v, l)| Choice {
        selected: v == f.building_id.trim(),
        value: v,
        label: l,
    }));
    let mut tags_c = vec![Choice {
        value: String::new(),
        label: "不限".into(),
        selected: f.tag.trim().is_empty(),
    }];
    tags_c.extend(tags.into_iter().map(|t| Choice {
        selected: t == f.tag.trim(),
        value: t.clone(),
        label: t,
    }));
    let status = form_status(!errors.is_empty());
    (
        status,
        NewPage {
            shell: Shell::of(user, "participation"),
            nodes,
            buildings: buildings_c,
            tags: tags_c,
            f,
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
    let f = NoticeForm {
        node_id: q.node_id,
        public: "1".into(),
        ..Default::default()
    };
    render_form(&state, &user, f, FieldErrors::default()).await
}

async fn new_submit(State(state): State<AppState>, form: CsrfForm<NoticeForm>) -> Response {
    let CsrfForm { user, form: f } = form;
    let node_id: i64 = f.node_id.trim().parse().unwrap_or(0);
    let building_id = f.building_id.trim().parse().ok();
    let created = notices::create(
        &state.db,
        &user.scope,
        NewNotice {
            node_id,
            building_id,
            tag: Some(f.tag.as_str()),
            input: NoticeInput {
                title: &f.title,
                body: &f.body,
                valid_from: &f.valid_from,
                valid_until: &f.valid_until,
                public: f.public == "1",
            },
        },
        now_ms(),
    )
    .await;
    match created {
        Ok(n) => Redirect::to(&format!("/notices/{}?notice=created", n.id)).into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => render_form(&state, &user, f, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One notice

struct ReaderRow {
    name: String,
    node_name: String,
    read_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/notice.html")]
struct NoticePage {
    shell: Shell,
    n: Notice,
    paragraphs: Vec<String>,
    audience: String,
    days: String,
    state: &'static str,
    state_class: &'static str,
    created_at: String,
    /// The author's side: who has read and who has not.
    readers: Option<(Vec<ReaderRow>, Vec<ReaderRow>)>,
    can_withdraw: bool,
    notice: Option<&'static str>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn notice_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let n = match notices::open(&state.db, &user.scope, id, now_ms()).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let readers = if user.scope.can_read(&n.node_path) {
        match notices::readers(&state.db, &user.scope, id).await {
            Ok(rs) => {
                let (read, unread): (Vec<_>, Vec<_>) =
                    rs.into_iter().partition(|r| r.read_at.is_some());
                let row = |r: notices::Reader| ReaderRow {
                    read_at: r.read_at.map(display).unwrap_or_default(),
                    name: r.name,
                    node_name: r.node_name,
                };
                Some((
                    read.into_iter().map(row).collect(),
                    unread.into_iter().map(row).collect(),
                ))
            }
            Err(e) => return store_error_page(e),
        }
    } else {
        None
    };
    let (st, class) = state_of(&n);
    NoticePage {
        shell: Shell::of(&user, "participation"),
        paragraphs: paragraphs(&n.body),
        audience: audience_text(&n),
        days: days(&n),
        state: st,
        state_class: class,
        created_at: display(n.created_at),
        can_withdraw: n.withdrawn_at.is_none()
            && user.scope.can_write_records(&n.node_path)
            && can_write(&user),
        readers,
        notice: q.notice.as_deref().map(|n| match n {
            "withdrawn" => "已撤回：通知不再显示，记录保留。",
            _ => "已发布。",
        }),
        n,
    }
    .into_response()
}

async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    match notices::withdraw(&state.db, &form.user.scope, id, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/notices/{id}?notice=withdrawn")).into_response(),
        Err(e) => store_error_page(e),
    }
}
