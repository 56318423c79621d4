//! The home page and a node's page: its figures, its children, and the forms that change the
//! tree.

use super::todo::{self, GridTodo};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::{form_errors, short_label, store_error_page, Shell};
use crate::ui::{optional_number, ParentOption};
use crate::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::{NewNode, NodeInput, NodeKind, Role};
use linli_store::accounts::Principal;
use linli_store::tree::{self, Crumb, NodeCounts, NodePatch, NodeSummary};
use linli_store::{Page, StoreError};
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/nodes/{id}", get(node_page))
        .route("/nodes/{id}/counts.xlsx", get(counts_xlsx))
        .route("/nodes/{id}/children", post(node_add_child))
        .route("/nodes/{id}/edit", post(node_edit))
        .route("/nodes/{id}/move", post(node_move))
        .route("/nodes/{id}/close", post(node_close))
}

/// A node as a row of a list.
struct NodeRow {
    id: i64,
    name: String,
    kind_label: &'static str,
    code: String,
    counts: String,
    households: String,
    closed: bool,
}

fn counts_text(c: &NodeCounts) -> String {
    let parts: Vec<String> = NodeKind::ALL
        .iter()
        .filter(|k| c.of(**k) > 0)
        .map(|k| format!("{} {}", short_label(*k), c.of(*k)))
        .collect();
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// Households as counted, with the grids' typed estimate beside them where there is one:
/// 「1234 户（网格估计 1300 户）」.
fn counted_households(c: &linli_store::registry::counts::Counts) -> String {
    match c.estimate_households {
        Some(e) => format!("{} 户（网格估计 {e} 户）", c.households),
        None => format!("{} 户", c.households),
    }
}

/// 人户一致率 as a percent, or 「—」 when nobody is registered here.
fn consistency_percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// A root's card on the home dashboard: the node and its counted registry numbers.
struct RootCard {
    row: NodeRow,
    persons: i64,
    households: String,
    consistency: String,
    occupied: i64,
    dwellings: i64,
}

impl RootCard {
    fn of(s: &NodeSummary, c: &linli_store::registry::counts::Counts) -> RootCard {
        RootCard {
            row: NodeRow::of(s),
            persons: c.persons,
            households: counted_households(c),
            consistency: consistency_percent(c.consistency_rate),
            occupied: c.occupied,
            dwellings: c.dwellings,
        }
    }
}

/// The registry's numbers of a node, as its page states them.
struct RegistryFacts {
    households: String,
    persons: String,
    /// 人户一致率 as a percent with its fraction, or 「—」 when nobody is registered here.
    consistency: String,
    ages: String,
    dwellings: String,
    /// Key groups: name, count, the filtered persons list under the node that lists them.
    groups: Vec<(String, i64, String)>,
}

impl RegistryFacts {
    fn of(node_id: i64, c: &linli_store::registry::counts::Counts) -> RegistryFacts {
        use linli_core::registry::Category;
        use linli_store::registry::counts::AGE_BANDS;
        let residence: Vec<String> = Category::ALL
            .iter()
            .map(|k| {
                let n = c.by_residence.get(k.as_str()).copied().unwrap_or(0);
                format!("{} {n}", k.short_label())
            })
            .collect();
        let of = |k: Category| c.by_residence.get(k.as_str()).copied().unwrap_or(0);
        let (here, away) = (of(Category::Registered), of(Category::RegisteredAway));
        let consistency = match c.consistency_rate {
            Some(r) => format!(
                "{:.1}%（户籍常住 {here} ÷ 户籍在本地 {}）",
                r * 100.0,
                here + away
            ),
            None => "—（无户籍在本地人口）".to_owned(),
        };
        let ages: Vec<String> = AGE_BANDS
            .iter()
            .filter_map(|(key, label)| {
                let n = c.by_age.get(*key).copied().unwrap_or(0);
                (*key != "unknown" || n > 0).then(|| format!("{label} {n}"))
            })
            .collect();
        RegistryFacts {
            households: counted_households(c),
            persons: if c.away > 0 {
                format!(
                    "{} 人（含暂时外出 {} 人）：{}",
                    c.persons,
                    c.away,
                    residence.join(" · ")
                )
            } else {
                format!("{} 人：{}", c.persons, residence.join(" · "))
            },
            consistency,
            ages: ages.join(" · "),
            dwellings: format!("{} 套，有人居住 {} 套", c.dwellings, c.occupied),
            groups: c
                .by_tag
                .iter()
                .map(|(g, n)| {
                    (
                        g.clone(),
                        *n,
                        format!(
                            "/persons?node_id={node_id}&tag={}",
                            crate::ui::url_encode(g)
                        ),
                    )
                })
                .collect(),
        }
    }
}

/// Residents taking part under a node (issue 20 item 7), as its page states them: volunteers
/// in service and waiting, this month's confirmed hours and activities, and the notices staff
/// under it have not opened yet.
struct TakingPart {
    volunteers: String,
    month: String,
    unread: i64,
}

impl TakingPart {
    async fn of(state: &AppState, scope: &linli_core::Scope, id: i64) -> Result<Self, StoreError> {
        use linli_store::participation::{notices, volunteers};
        let now = linli_core::kernel::clock::now_ms();
        let v = volunteers::counts(&state.db, scope, id, now).await?;
        let unread = notices::unread_by_node(&state.db, scope, Some(id))
            .await?
            .iter()
            .map(|u| u.unread)
            .sum();
        Ok(TakingPart {
            volunteers: if v.pending > 0 {
                format!("在册 {} 人（待确认 {} 人）", v.active, v.pending)
            } else {
                format!("在册 {} 人", v.active)
            },
            month: format!(
                "服务 {} 小时 · 活动 {} 场",
                v.month_hours().display(),
                v.month_activities
            ),
            unread,
        })
    }
}

fn households_text(h: Option<i64>) -> String {
    h.map_or_else(|| "—".to_owned(), |n| format!("{n} 户"))
}

impl NodeRow {
    fn of(s: &NodeSummary) -> NodeRow {
        NodeRow {
            id: s.node.id,
            name: s.node.name.clone(),
            kind_label: s.node.kind.label_zh(),
            code: s.node.code.clone().unwrap_or_default(),
            counts: counts_text(&s.counts),
            households: households_text(s.counts.households),
            closed: !s.node.is_open(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/home.html")]
struct HomePage {
    shell: Shell,
    /// Each root with its counted numbers (persons, households beside the grids' estimate,
    /// 人户一致率, rooms), as its node page counts them.
    roots: Vec<RootCard>,
    greeting: String,
    /// The day's work in each bound node: a grid worker's whole home, above the cards for
    /// community staff; none for officials and admins (their scope is the dashboard's).
    todos: Vec<GridTodo>,
    /// A grid worker: the to-do replaces the cards.
    worker: bool,
    today: String,
}

async fn home(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let result = async {
        let todos = match user.user.role {
            Role::GridWorker | Role::Staff => todo::for_bound_nodes(&state.db, &user).await?,
            Role::Official | Role::Admin => Vec::new(),
        };
        let mut roots = Vec::new();
        for r in tree::visible_roots(&state.db, &user.scope).await? {
            let c =
                linli_store::registry::counts::counts(&state.db, &user.scope, r.node.id).await?;
            roots.push(RootCard::of(&r, &c));
        }
        Ok::<_, StoreError>((roots, todos))
    }
    .await;
    match result {
        Ok((roots, todos)) => HomePage {
            shell: Shell::of(&user, "home"),
            roots,
            greeting: format!(
                "{}（{}）",
                user.user.display_name,
                user.user.role.label_zh()
            ),
            todos,
            worker: user.user.role == Role::GridWorker,
            today: format_date(linli_core::kernel::clock::today()),
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

struct KindOption {
    value: &'static str,
    label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/node.html")]
struct NodePageView {
    shell: Shell,
    crumbs: Vec<Crumb>,
    id: i64,
    name: String,
    kind_label: &'static str,
    code: String,
    opened_on: String,
    closed_on: Option<String>,
    is_grid: bool,
    household_estimate: String,
    counts: String,
    registry: RegistryFacts,
    taking_part: TakingPart,
    children: Vec<NodeRow>,
    show_closed: bool,
    can_add: bool,
    can_edit: bool,
    can_unmask: bool,
    can_import: bool,
    child_kinds: Vec<KindOption>,
    parents: Vec<ParentOption>,
    errors: Vec<String>,
    notice: Option<String>,
    today: String,
}

#[derive(Deserialize, Default)]
struct NodePageQuery {
    closed: Option<String>,
    notice: Option<String>,
}

async fn render_node(
    state: &AppState,
    user: &Arc<Principal>,
    id: i64,
    show_closed: bool,
    errors: Vec<String>,
    notice: Option<String>,
) -> Response {
    let scope = &user.scope;
    let summary = match tree::summary(&state.db, scope, id).await {
        Ok(s) => s,
        Err(e) => return store_error_page(e),
    };
    let result = async {
        let crumbs = tree::ancestors(&state.db, scope, &summary.node).await?;
        let kids = tree::children(
            &state.db,
            scope,
            id,
            show_closed,
            Page::new(Some(Page::MAX_LIMIT), None),
        )
        .await?;
        let numbers = linli_store::registry::counts::counts(&state.db, scope, id).await?;
        let taking_part = TakingPart::of(state, scope, id).await?;
        let node = &summary.node;
        let can_edit = scope.can_edit_node(&node.path) && node.is_open();
        // Where this node could move: open nodes in scope that may contain it, outside its subtree.
        let parents = if can_edit {
            tree::subtree(&state.db, scope, None)
                .await?
                .into_iter()
                .filter(|p| {
                    p.is_open()
                        && p.kind.may_contain(node.kind)
                        && !p.path.is_within(&node.path)
                        && Some(p.id) != node.parent_id
                })
                .take(500)
                .map(|p| ParentOption {
                    id: p.id,
                    label: format!("{} · {}", p.kind.label_zh(), p.name),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((crumbs, kids, parents, numbers, taking_part))
    }
    .await;
    let (crumbs, kids, parents, numbers, taking_part) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let node = &summary.node;
    let status = form_status(!errors.is_empty());
    let view = NodePageView {
        shell: Shell::of(user, "tree"),
        crumbs,
        id: node.id,
        name: node.name.clone(),
        kind_label: node.kind.label_zh(),
        code: node.code.clone().unwrap_or_default(),
        opened_on: node.opened_on.clone(),
        closed_on: node.closed_on.clone(),
        is_grid: node.kind == NodeKind::Grid,
        household_estimate: node
            .household_estimate
            .map(|h| h.to_string())
            .unwrap_or_default(),
        counts: counts_text(&summary.counts),
        registry: RegistryFacts::of(node.id, &numbers),
        taking_part,
        children: kids.iter().map(NodeRow::of).collect(),
        show_closed,
        can_add: scope.can_add_under(&node.path) && node.is_open(),
        can_edit: scope.can_edit_node(&node.path) && node.is_open(),
        can_unmask: scope.can_unmask(&node.path),
        can_import: scope.can_write_records(&node.path)
            && node.is_open()
            && node.kind.serves_residents(),
        child_kinds: NodeKind::ALL
            .iter()
            .filter(|k| node.kind.may_contain(**k))
            .map(|k| KindOption {
                value: k.as_str(),
                label: k.label_zh(),
            })
            .collect(),
        parents,
        errors,
        notice,
        today: format_date(linli_core::kernel::clock::today()),
    };
    (status, view).into_response()
}

async fn node_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NodePageQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "added" => "已添加下级。",
        "saved" => "已保存。",
        "moved" => "已迁移。",
        "closed" => "已撤销（历史记录保留）。",
        _ => "完成。",
    });
    render_node(
        &state,
        &user,
        id,
        q.closed.is_some(),
        Vec::new(),
        notice.map(str::to_owned),
    )
    .await
}

#[derive(Deserialize)]
struct AddChildForm {
    kind: String,
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    household_estimate: String,
    #[serde(default)]
    opened_on: String,
}

async fn node_add_child(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<AddChildForm>,
) -> Response {
    let form = f.form;
    let result = async {
        let estimate = optional_number("household_estimate", &form.household_estimate)?;
        let new = NewNode::parse(NodeInput {
            parent_id: Some(id),
            kind: &form.kind,
            name: &form.name,
            code: Some(&form.code),
            household_estimate: estimate,
            opened_on: Some(&form.opened_on),
        })
        .map_err(StoreError::Invalid)?;
        tree::create(&state.db, &f.user.scope, new, now_ms()).await
    }
    .await;
    after_node_form(&state, &f.user, id, result.map(|_| ()), "added").await
}

async fn after_node_form(
    state: &AppState,
    user: &Arc<Principal>,
    id: i64,
    result: Result<(), StoreError>,
    notice: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/nodes/{id}?notice={notice}")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_node(state, user, id, false, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct EditForm {
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    household_estimate: Option<String>,
}

async fn node_edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<EditForm>,
) -> Response {
    let form = f.form;
    let result = async {
        let estimate = match &form.household_estimate {
            Some(raw) => Some(optional_number("household_estimate", raw)?),
            None => None,
        };
        let patch = NodePatch {
            name: Some(&form.name),
            code: Some(&form.code),
            household_estimate: estimate,
        };
        tree::update(&state.db, &f.user.scope, id, patch, now_ms())
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "saved").await
}

#[derive(Deserialize)]
struct MoveForm {
    new_parent_id: String,
}

async fn node_move(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<MoveForm>,
) -> Response {
    let result = async {
        let target = optional_number("new_parent_id", &f.form.new_parent_id)?
            .ok_or_else(|| StoreError::invalid("new_parent_id", "请选择新的上级节点"))?;
        tree::move_subtree(&state.db, &f.user.scope, id, target, now_ms())
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "moved").await
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    closed_on: String,
}

async fn node_close(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<CloseForm>,
) -> Response {
    let result = async {
        let on = match f.form.closed_on.trim() {
            "" => None,
            d => Some(parse_date("closed_on", d)?),
        };
        tree::close(&state.db, &f.user.scope, id, on, now_ms())
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "closed").await
}

/// The registry's numbers of a node as a spreadsheet: a row per child, the node's own direct
/// records (本级直属), and the total; audited like every export.
async fn counts_xlsx(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    use linli_core::registry::Category;
    use linli_store::registry::counts::{self, Counts, AGE_BANDS};
    let scope = &user.scope;
    let loaded = async {
        let node = tree::get(&state.db, scope, id).await?;
        let lines = counts::counts_by_children(&state.db, scope, id).await?;
        let total = counts::counts(&state.db, scope, id).await?;
        Ok::<_, StoreError>((node, lines, total))
    }
    .await;
    let (node, lines, total) = match loaded {
        Ok(v) => v,
        Err(e) => return store_error_page(e),
    };
    if let Err(page) =
        crate::ui::xlsx::audit_export(&state, &user, "node_counts", id, None, lines.len() + 1).await
    {
        return page;
    }
    let row = |name: String, c: &Counts| {
        let mut r = vec![name, c.persons.to_string(), c.away.to_string()];
        for k in Category::ALL {
            r.push(
                c.by_residence
                    .get(k.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        r.push(
            c.consistency_rate
                .map_or_else(String::new, |x| format!("{:.1}%", x * 100.0)),
        );
        r.push(c.households.to_string());
        r.push(
            c.estimate_households
                .map_or_else(String::new, |e| e.to_string()),
        );
        r.push(c.dwellings.to_string());
        r.push(c.occupied.to_string());
        for (band, _) in AGE_BANDS {
            r.push(c.by_age.get(band).copied().unwrap_or(0).to_string());
        }
        r
    };
    let mut rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let name = l
                .node
                .as_ref()
                .map_or_else(|| "本级直属".to_owned(), |n| n.name.clone());
            row(name, &l.counts)
        })
        .collect();
    rows.push(row("合计".to_owned(), &total));
    let day = format_date(linli_core::kernel::clock::today());
    crate::ui::xlsx_table(
        "node_counts",
        &format!("{}-人口统计-{day}.xlsx", node.name),
        "人口统计",
        format!("{} 人口统计（{day}）", node.name),
        &[
            "下级",
            "登记人口",
            "其中暂时外出",
            "户籍常住",
            "人户分离",
            "寄住",
            "流动人口",
            "境外人员",
            "人户一致率",
            "登记户数",
            "网格估计户数",
            "住房套数",
            "有人居住套数",
            "未成年",
            "18—59 岁",
            "60—79 岁",
            "80 岁以上",
            "出生日期不详",
        ],
        rows,
    )
    .await
}
