//! Enterprise pages (企业复工复产): the businesses of a node with where each stands and why the
//! rest have not reopened, the register form, a business's page (its reopening application,
//! the community's decision, inspections, the public link), and the public link itself
//! (`/e/{token}`): a standalone, phone-sized form, no login, that shows nothing but the
//! business's own name, through which the business applies by itself.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::enterprises::{
    ChecklistItem, EnterpriseInput, EnterpriseKind, InspectionInput, NotReopened,
    NotReopenedReason, ReopeningDecision, ReopeningInput, ReopeningStatus,
};
use linli_core::kernel::clock::{display, format_date, today};
use linli_core::Role;
use linli_store::accounts::Principal;
use linli_store::enterprises::{self, Enterprise, EnterpriseFilter, Standing};
use linli_store::{tree, StoreError, MAX_LIST_ROWS};
use serde::Deserialize;

use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::Choice;
use crate::ui::{
    error_page, field_errors, field_label, store_error_page, Empty, FieldErrors, NoticeQuery, Shell,
};
use crate::ui::{form_status, ListExport, Pager};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/enterprises", get(list_page))
        .route("/enterprises.xlsx", get(list_export))
        .route("/enterprises/new", get(new_form).post(new_submit))
        .route("/enterprises/{id}", get(enterprise_page))
        .route("/enterprises/{id}/reopening", post(apply_submit))
        .route("/enterprises/{id}/not-reopened", post(not_reopened_submit))
        .route("/enterprises/{id}/inspections", post(inspection_submit))
        .route("/enterprises/{id}/link", post(link_submit))
        // A reload of the unmasked page lands here by GET: back to the masked page.
        .route(
            "/enterprises/{id}/unmask",
            post(unmask_submit).get(back_to_enterprise),
        )
        .route("/reopenings/{id}/decision", post(decision_submit))
}

// ---------------------------------------------------------------------------------------------
// Shared bits

pub(crate) fn label(field: &str) -> &str {
    match field {
        "name" => "名称",
        "kind" => "类型",
        "address" => "经营地址",
        "status" => "审批状态",
        "note" => "说明",
        "reason" => "原因",
        other => field_label(other),
    }
}

fn can_write(user: &Principal) -> bool {
    matches!(user.scope.role(), Role::Admin | Role::Staff)
}

fn standing_class(s: Standing) -> &'static str {
    match s {
        Standing::Reopened => "reopened",
        Standing::Pending => "pending",
        Standing::NotReopened => "not-reopened",
    }
}

/// Form pairs, for forms with repeated keys (checkboxes).
fn values<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn value(pairs: &[(String, String)], key: &str) -> String {
    values(pairs, key).first().copied().unwrap_or("").to_owned()
}

/// The absolute address of a public link, for copying into a message to the business.
fn link_url(base: &str, token: &str) -> String {
    format!("{base}{}", crate::enterprises::api::link_path(token))
}

// ---------------------------------------------------------------------------------------------
// The list of a node

struct EnterpriseRow {
    id: i64,
    name: String,
    kind: &'static str,
    node_name: String,
    standing: &'static str,
    standing_class: &'static str,
    reason: String,
}

/// One child node's counts, for the table one level down.
struct ChildRow {
    id: i64,
    name: String,
    total: i64,
    reopened: i64,
    pending: i64,
    not_reopened: i64,
}

struct CountTile {
    label: String,
    count: i64,
    class: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "enterprises/enterprise_list.html")]
struct ListPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    total: i64,
    tiles: Vec<CountTile>,
    reasons: Vec<CountTile>,
    rows: Vec<EnterpriseRow>,
    children: Vec<ChildRow>,
    can_write: bool,
    notice: Option<String>,
    // The list's filters, how many match, its pages and its export.
    kinds: Vec<Choice>,
    standings: Vec<Choice>,
    q: String,
    matched: i64,
    pager: Pager,
    export: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    node_id: Option<String>,
    notice: Option<String>,
    /// Words in the name or the credit code.
    q: String,
    /// `enterprise` or `individual`, blank for both.
    kind: String,
    /// `reopened`, `pending` or `not_reopened`, blank for all.
    standing: String,
    page: Option<i64>,
}

/// Businesses a page.
const PER_PAGE: i64 = 50;

impl ListQuery {
    /// The node asked for (an unreadable number is none asked).
    fn asked(&self) -> Option<i64> {
        self.node_id
            .as_deref()
            .and_then(|s| s.trim().parse::<i64>().ok())
    }

    fn filter(&self) -> EnterpriseFilter {
        EnterpriseFilter {
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            kind: EnterpriseKind::from_code(self.kind.trim()),
            standing: Standing::from_code(self.standing.trim()),
        }
    }

    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("q", &self.q),
            ("kind", &self.kind),
            ("standing", &self.standing),
        ])
    }
}

/// The node of the list: the one asked for, else the user's default; `None` without any.
async fn list_node(
    state: &AppState,
    user: &Principal,
    q: &ListQuery,
) -> Result<Option<i64>, StoreError> {
    match q.asked() {
        Some(n) => Ok(Some(n)),
        None => default_node(state, user).await,
    }
}

/// The node to show when none is asked for: the user's first bound node, else the first root.
async fn default_node(state: &AppState, user: &Principal) -> Result<Option<i64>, StoreError> {
    if let Some(n) = user.user.nodes.first() {
        return Ok(Some(n.id));
    }
    Ok(tree::visible_roots(&state.db, &user.scope)
        .await?
        .first()
        .map(|r| r.node.id))
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let node_id = match list_node(&state, &user, &q).await {
        Ok(Some(n)) => n,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您还没有绑定辖区。"),
        Err(e) => return store_error_page(e),
    };
    let page_no = Pager::asked(q.page);
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let counts = enterprises::counts(&state.db, &user.scope, node_id).await?;
        let list = enterprises::page(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let choices = crate::ui::node_picker(&state.db, &user, node_id).await?;
        let children = enterprises::counts_by_child(&state.db, &user.scope, node_id).await?;
        Ok::<_, StoreError>((node, counts, list, choices, children))
    }
    .await;
    let (node, counts, list, choices, children) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let mut children: Vec<ChildRow> = children
        .into_iter()
        .map(|c| ChildRow {
            id: c.node_id,
            name: c.node_name,
            total: c.counts.total,
            reopened: c.counts.reopened,
            pending: c.counts.pending,
            not_reopened: c.counts.not_reopened,
        })
        .collect();
    // Businesses registered on the node itself, not under any child, get a row of their own
    // so the table adds up to the tiles.
    if !children.is_empty() {
        let sum = |f: fn(&ChildRow) -> i64| children.iter().map(f).sum::<i64>();
        let own = ChildRow {
            id: node_id,
            name: format!("{}（本级直属）", node.name),
            total: counts.total - sum(|c| c.total),
            reopened: counts.reopened - sum(|c| c.reopened),
            pending: counts.pending - sum(|c| c.pending),
            not_reopened: counts.not_reopened - sum(|c| c.not_reopened),
        };
        if own.total > 0 {
            children.push(own);
        }
    }
    let notice = q.notice.as_deref().map(|n| match n {
        "created" => "已登记。".to_owned(),
        _ => "已保存。".to_owned(),
    });
    ListPage {
        shell: Shell::of(&user, "enterprises"),
        node_id,
        node_name: node.name,
        nodes: choices,
        total: counts.total,
        tiles: vec![
            CountTile {
                label: "已复工".into(),
                count: counts.reopened,
                class: "ok",
            },
            CountTile {
                label: "待审核".into(),
                count: counts.pending,
                class: "flag",
            },
            CountTile {
                label: "未复工".into(),
                count: counts.not_reopened,
                class: "bad",
            },
        ],
        reasons: counts
            .by_reason
            .iter()
            .map(|r| CountTile {
                label: r.reason.label_zh().into(),
                count: r.count,
                class: "bad",
            })
            .chain(std::iter::once(CountTile {
                label: "未说明原因".into(),
                count: counts.reason_unknown,
                class: "dup",
            }))
            .collect(),
        matched: list.total,
        rows: list.items.into_iter().map(row_of).collect(),
        children,
        can_write: can_write(&user),
        notice,
        kinds: Choice::filter_of::<EnterpriseKind>(&q.kind),
        standings: Choice::filter_of::<Standing>(&q.standing),
        q: q.q.clone(),
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/enterprises?{}&page={n}", q.query_string(node_id))
        }),
        export: format!("/enterprises.xlsx?{}", q.query_string(node_id)),
    }
    .into_response()
}

/// The businesses as filtered (up to [`MAX_LIST_ROWS`]) as xlsx, contact phones masked;
/// audited, as it names contact people.
async fn list_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = async {
        let Some(node_id) = list_node(&state, &user, &q).await? else {
            return Ok(None);
        };
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let list = enterprises::page(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            (MAX_LIST_ROWS, 0),
        )
        .await?;
        Ok::<_, StoreError>(Some((node, list)))
    }
    .await;
    let (node, list) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您还没有绑定辖区。"),
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|e| {
            let reason = reason_text(&e);
            vec![
                e.name,
                e.kind.label_zh().to_owned(),
                e.credit_code.unwrap_or_default(),
                e.node_name,
                e.address.unwrap_or_default(),
                e.employees.map(|n| n.to_string()).unwrap_or_default(),
                e.contact_name.unwrap_or_default(),
                e.contact_phone_masked.unwrap_or_default(),
                e.standing.label_zh().to_owned(),
                reason,
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "enterprise",
            name: "企业复工",
            header: &[
                "名称",
                "类型",
                "统一社会信用代码",
                "所在辖区",
                "地址",
                "从业人数",
                "联系人",
                "联系电话",
                "复工状态",
                "未复工原因",
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

/// Why a business has not reopened, in words (empty when it has or waits), with a rejected
/// application's reason.
fn reason_text(e: &Enterprise) -> String {
    let reason = match (e.standing, e.not_reopened_reason) {
        (Standing::NotReopened, Some(r)) => match (&e.not_reopened_note, r) {
            (Some(n), NotReopenedReason::Other) => format!("其他：{n}"),
            _ => r.label_zh().to_owned(),
        },
        _ => String::new(),
    };
    // A rejected application says why, beside (or instead of) the reason.
    match (&e.rejected_reason, reason.is_empty()) {
        (Some(r), true) => format!("申请未通过（{r}）"),
        (Some(r), false) => format!("{reason}；申请未通过（{r}）"),
        (None, _) => reason,
    }
}

fn row_of(e: Enterprise) -> EnterpriseRow {
    let reason = reason_text(&e);
    EnterpriseRow {
        id: e.id,
        name: e.name,
        kind: e.kind.label_zh(),
        node_name: e.node_name,
        standing: e.standing.label_zh(),
        standing_class: standing_class(e.standing),
        reason,
    }
}

// ---------------------------------------------------------------------------------------------
// Register

#[derive(Default, Deserialize)]
#[serde(default)]
struct EnterpriseFields {
    node_id: String,
    name: String,
    kind: String,
    credit_code: String,
    address: String,
    employees: String,
    contact_name: String,
    contact_phone: String,
}

impl EnterpriseFields {
    /// The business as typed, for the store (the node is parsed apart).
    fn input(&self) -> EnterpriseInput<'_> {
        EnterpriseInput {
            name: &self.name,
            kind: &self.kind,
            credit_code: Some(&self.credit_code),
            address: Some(&self.address),
            employees: Some(&self.employees),
            contact_name: Some(&self.contact_name),
            contact_phone: Some(&self.contact_phone),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "enterprises/enterprise_form.html")]
struct FormPage {
    shell: Shell,
    f: EnterpriseFields,
    nodes: Vec<Choice>,
    kinds: Vec<Choice>,
    errors: FieldErrors,
    others: Vec<String>,
}

const FORM_FIELDS: [&str; 8] = [
    "node_id",
    "name",
    "kind",
    "credit_code",
    "address",
    "employees",
    "contact_name",
    "contact_phone",
];

async fn render_form(
    state: &AppState,
    user: &Principal,
    f: EnterpriseFields,
    errors: FieldErrors,
) -> Response {
    if !can_write(user) {
        return error_page(
            StatusCode::FORBIDDEN,
            "企业由社区工作人员登记；您的账号只能查看。",
        );
    }
    let tree = match tree::subtree(&state.db, &user.scope, None).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let writable: Vec<_> = tree
        .iter()
        .filter(|n| n.is_open() && n.kind.serves_residents())
        .collect();
    let base = writable.iter().map(|n| n.depth).min().unwrap_or(0);
    let nodes = writable
        .iter()
        .map(|n| Choice::node(n, base, n.id.to_string() == f.node_id))
        .collect();
    let kinds = EnterpriseKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: k.label_zh().to_owned(),
            selected: k.as_str() == f.kind,
        })
        .collect();
    let status = form_status(!errors.is_empty());
    let others = errors.others(&FORM_FIELDS, label);
    let page = FormPage {
        shell: Shell::of(user, "enterprises"),
        f,
        nodes,
        kinds,
        errors,
        others,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct NewQuery {
    node_id: Option<String>,
}

async fn new_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let f = EnterpriseFields {
        node_id: q.node_id.unwrap_or_default(),
        kind: "enterprise".into(),
        ..Default::default()
    };
    render_form(&state, &user, f, FieldErrors::default()).await
}

async fn new_submit(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    form: CsrfForm<EnterpriseFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Ok(node_id) = f.node_id.trim().parse::<i64>() else {
        let mut errors = enterprises_parse_errors(&f).unwrap_or_default();
        errors
            .0
            .insert(0, ("node_id".into(), "请选择所在的社区、网格或楼栋".into()));
        return render_form(&state, &user, f, errors).await;
    };
    let input = f.input();
    match enterprises::create(&state.db, &user.scope, node_id, &input, now_ms()).await {
        Ok(reg) => {
            let link = link_url(&base, &reg.link_token);
            render_enterprise(
                &state,
                &user,
                reg.enterprise.id,
                Detail {
                    new_link: Some(crate::ui::qr::link_and_svg(link, 160)),
                    notice: Some("已登记。下面的申请链接只显示这一次，请复制发给企业。".into()),
                    ..Detail::default()
                },
            )
            .await
        }
        Err(e) => match field_errors(e) {
            Ok(errors) => render_form(&state, &user, f, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

/// The field errors of the fields alone (when the node is missing, so the rest is still told).
fn enterprises_parse_errors(f: &EnterpriseFields) -> Option<FieldErrors> {
    linli_core::enterprises::EnterpriseDraft::parse(&f.input())
        .err()
        .map(|e| FieldErrors::from_core(&e))
}

// ---------------------------------------------------------------------------------------------
// A business's page

pub(crate) struct ItemRow {
    pub(crate) code: &'static str,
    pub(crate) label: &'static str,
    pub(crate) checked: bool,
}

struct ReopeningRow {
    id: i64,
    status: &'static str,
    status_class: &'static str,
    pending: bool,
    items: Vec<ItemRow>,
    extra_items: Vec<String>,
    employees_back: String,
    planned_on: String,
    note: String,
    channel: &'static str,
    submitted: String,
    decided: String,
    decision_reason: String,
    complete: bool,
}

struct InspectionRow {
    inspected_on: String,
    inspector: String,
    findings: String,
    passed: bool,
}

/// What a re-rendered enterprise page carries besides the records: a link made just now,
/// a notice, and the errors (with the typed values) of the form that failed.
#[derive(Default)]
struct Detail {
    /// The application link shown once, with its QR code (an inline `<svg>`).
    new_link: Option<(String, String)>,
    notice: Option<String>,
    /// Which form failed: `reopening`, `decision`, `inspection`, `reason`.
    failed: &'static str,
    errors: FieldErrors,
    apply: ApplyFields,
    inspection: InspectionFields,
    decision_reason: String,
    /// The contact phone in clear, right after a deliberate (audited) unmask.
    clear_phone: Option<String>,
}

#[derive(Default)]
pub(crate) struct ApplyFields {
    pub(crate) checked: Vec<String>,
    pub(crate) extra_items: String,
    pub(crate) employees_back: String,
    pub(crate) planned_on: String,
    pub(crate) note: String,
}

#[derive(Default)]
struct InspectionFields {
    inspected_on: String,
    inspector: String,
    findings: String,
    passed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "enterprises/enterprise.html")]
struct EnterprisePage {
    shell: Shell,
    e: Enterprise,
    kind: &'static str,
    standing: &'static str,
    standing_class: &'static str,
    reason: String,
    reopenings: Vec<ReopeningRow>,
    inspections: Vec<InspectionRow>,
    can_write: bool,
    can_apply: bool,
    can_inspect: bool,
    not_reopened: bool,
    apply_items: Vec<ItemRow>,
    reasons: Vec<Choice>,
    d: Detail,
    others: Vec<String>,
    today: String,
    created: String,
}

async fn render_enterprise(state: &AppState, user: &Principal, id: i64, d: Detail) -> Response {
    let result = async {
        let mut e = enterprises::get(&state.db, &user.scope, id).await?;
        let mut r = enterprises::reopenings(&state.db, &user.scope, id).await?;
        let i = enterprises::inspections(&state.db, &user.scope, id).await?;
        // Who registered, submitted and decided, by name (records keep logins).
        let actors = std::iter::once(&mut e.created_by).chain(
            r.iter_mut()
                .flat_map(|x| std::iter::once(&mut x.submitted_by).chain(x.decided_by.as_mut())),
        );
        crate::auth::names::name_actors(&state.db, actors.collect()).await?;
        Ok::<_, StoreError>((e, r, i))
    }
    .await;
    let (e, reopenings, inspections) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let writer = can_write(user);
    let reopenings: Vec<ReopeningRow> = reopenings
        .into_iter()
        .map(|r| ReopeningRow {
            id: r.id,
            status: r.status.label_zh(),
            status_class: match r.status {
                ReopeningStatus::Approved => "reopened",
                ReopeningStatus::Submitted => "pending",
                ReopeningStatus::Rejected => "not-reopened",
            },
            pending: r.status == ReopeningStatus::Submitted,
            items: ChecklistItem::ALL
                .iter()
                .map(|i| ItemRow {
                    code: i.as_str(),
                    label: i.label_zh(),
                    checked: r.checked.contains(i),
                })
                .collect(),
            complete: r.missing.is_empty(),
            extra_items: r.extra_items,
            employees_back: r.employees_back.map(|n| n.to_string()).unwrap_or_default(),
            planned_on: r.planned_on.unwrap_or_default(),
            note: r.note.unwrap_or_default(),
            channel: if r.channel == "link" {
                "企业通过链接提交"
            } else {
                "工作人员代为提交"
            },
            submitted: format!("{} {}", display(r.submitted_at), r.submitted_by),
            decided: match (r.decided_at, r.decided_by) {
                (Some(at), Some(by)) => format!("{} {by}", display(at)),
                _ => String::new(),
            },
            decision_reason: r.decision_reason.unwrap_or_default(),
        })
        .collect();
    let not_reopened = e.standing == Standing::NotReopened;
    let apply_items = ChecklistItem::ALL
        .iter()
        .map(|i| ItemRow {
            code: i.as_str(),
            label: i.label_zh(),
            checked: d.apply.checked.iter().any(|c| c == i.as_str()),
        })
        .collect();
    let reason = row_of(e.clone()).reason;
    let reasons = NotReopenedReason::ALL
        .iter()
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            label: r.label_zh().to_owned(),
            selected: e.not_reopened_reason == Some(*r),
        })
        .collect();
    let shown: &[&str] = match d.failed {
        "reopening" => &[
            "checklist",
            "extra_items",
            "employees_back",
            "planned_on",
            "note",
        ],
        "inspection" => &["inspected_on", "inspector", "findings", "passed"],
        "reason" => &["reason", "note"],
        "decision" => &["reason"],
        _ => &[],
    };
    let others = d.errors.others(shown, label);
    let status = form_status(!d.errors.is_empty());
    let page = EnterprisePage {
        shell: Shell::of(user, "enterprises"),
        kind: e.kind.label_zh(),
        standing: e.standing.label_zh(),
        standing_class: standing_class(e.standing),
        reason,
        can_write: writer,
        can_apply: writer && not_reopened,
        can_inspect: writer && e.standing == Standing::Reopened,
        not_reopened,
        created: format!("{} {}", display(e.created_at), e.created_by),
        e,
        reopenings,
        inspections: inspections
            .into_iter()
            .map(|i| InspectionRow {
                inspected_on: i.inspected_on,
                inspector: i.inspector,
                findings: i.findings.unwrap_or_default(),
                passed: i.passed,
            })
            .collect(),
        apply_items,
        reasons,
        others,
        today: format_date(today()),
        d,
    };
    (status, page).into_response()
}

async fn enterprise_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = q.notice.map(|n| match n.as_str() {
        "applied" => "已提交复工申请，等待社区审批。".to_owned(),
        "approved" => "已同意复工。".to_owned(),
        "rejected" => "已记录不同意复工及理由。".to_owned(),
        "inspected" => "已记录检查。".to_owned(),
        _ => "已保存。".to_owned(),
    });
    render_enterprise(
        &state,
        &user,
        id,
        Detail {
            notice,
            ..Detail::default()
        },
    )
    .await
}

pub(crate) fn apply_fields(pairs: &[(String, String)]) -> ApplyFields {
    ApplyFields {
        checked: values(pairs, "checked")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        extra_items: value(pairs, "extra_items"),
        employees_back: value(pairs, "employees_back"),
        planned_on: value(pairs, "planned_on"),
        note: value(pairs, "note"),
    }
}

impl ApplyFields {
    /// The application as the store takes it; `extra` holds the lines of `extra_items`.
    pub(crate) fn input<'a>(&'a self, extra: &'a [String]) -> ReopeningInput<'a> {
        ReopeningInput {
            checked: &self.checked,
            extra_items: extra,
            employees_back: Some(&self.employees_back),
            planned_on: Some(&self.planned_on),
            note: Some(&self.note),
        }
    }
}

pub(crate) fn extra_lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

async fn apply_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let CsrfForm { user, form } = form;
    let f = apply_fields(&form);
    let extra = extra_lines(&f.extra_items);
    let input = f.input(&extra);
    let applied = enterprises::apply(&state.db, &user.scope, id, &input, now_ms()).await;
    after_form(&state, &user, id, applied.map(|_| "applied"), |errors| {
        Detail {
            failed: "reopening",
            errors,
            apply: f,
            ..Detail::default()
        }
    })
    .await
}

/// After one of the enterprise page's forms: back to the page with the notice `result` names,
/// or the page again with the refused form (placed by `refused`) and its messages.
async fn after_form(
    state: &AppState,
    user: &Principal,
    id: i64,
    result: Result<&str, StoreError>,
    refused: impl FnOnce(FieldErrors) -> Detail,
) -> Response {
    match result {
        Ok(notice) => Redirect::to(&format!("/enterprises/{id}?notice={notice}")).into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => render_enterprise(state, user, id, refused(errors)).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct DecisionFields {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn decision_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<DecisionFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    // Scope first: an application outside the jurisdiction is not found, whatever was posted.
    let current = match enterprises::reopening(&state.db, &user.scope, id).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let decided = match ReopeningDecision::parse(&f.decision, Some(&f.reason)) {
        Ok(d) => enterprises::decide(&state.db, &user.scope, id, &d, now_ms()).await,
        Err(errors) => Err(StoreError::Invalid(errors)),
    };
    let notice = decided.map(|r| {
        if r.status == ReopeningStatus::Approved {
            "approved"
        } else {
            "rejected"
        }
    });
    after_form(&state, &user, current.enterprise_id, notice, |errors| {
        Detail {
            failed: "decision",
            errors,
            decision_reason: f.reason,
            ..Detail::default()
        }
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct InspectionForm {
    inspected_on: String,
    inspector: String,
    findings: String,
    passed: String,
}

async fn inspection_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<InspectionForm>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let input = InspectionInput {
        inspected_on: &f.inspected_on,
        inspector: &f.inspector,
        findings: Some(&f.findings),
        passed: Some(&f.passed),
    };
    let added = enterprises::add_inspection(&state.db, &user.scope, id, &input, now_ms()).await;
    after_form(&state, &user, id, added.map(|_| "inspected"), |errors| {
        Detail {
            failed: "inspection",
            errors,
            inspection: InspectionFields {
                passed: !f.passed.is_empty(),
                inspected_on: f.inspected_on,
                inspector: f.inspector,
                findings: f.findings,
            },
            ..Detail::default()
        }
    })
    .await
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

async fn not_reopened_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<ReasonForm>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let saved = if f.reason.trim().is_empty() {
        enterprises::set_not_reopened(&state.db, &user.scope, id, None, now_ms()).await
    } else {
        match NotReopened::parse(&f.reason, Some(&f.note)) {
            Ok(r) => {
                enterprises::set_not_reopened(&state.db, &user.scope, id, Some(&r), now_ms()).await
            }
            Err(errors) => Err(StoreError::Invalid(errors)),
        }
    };
    after_form(&state, &user, id, saved.map(|_| "saved"), |errors| Detail {
        failed: "reason",
        errors,
        ..Detail::default()
    })
    .await
}

async fn back_to_enterprise(Path(id): Path<i64>) -> Redirect {
    Redirect::to(&format!("/enterprises/{id}"))
}

/// Shows the contact phone in clear (staff and admins), audited with the caller's address.
async fn unmask_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    let CsrfForm { user, .. } = form;
    match enterprises::unmask_contact(&state.db, &user.scope, id, Some(&ip), now_ms()).await {
        Ok(phone) => {
            render_enterprise(
                &state,
                &user,
                id,
                Detail {
                    notice: Some("已显示完整联系电话（本次查看已记入审计日志）。".into()),
                    clear_phone: Some(phone.unwrap_or_default()),
                    ..Detail::default()
                },
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn link_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    PublicBase(base): PublicBase,
    form: CsrfForm<Empty>,
) -> Response {
    let CsrfForm { user, .. } = form;
    match enterprises::renew_link(&state.db, &user.scope, id, now_ms()).await {
        Ok(token) => {
            render_enterprise(
                &state,
                &user,
                id,
                Detail {
                    new_link: Some(crate::ui::qr::link_and_svg(link_url(&base, &token), 160)),
                    notice: Some(
                        "已生成新的申请链接，旧链接已失效。链接只显示这一次，请复制发给企业。"
                            .into(),
                    ),
                    ..Detail::default()
                },
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
