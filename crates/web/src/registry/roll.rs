//! The persons list (人员名单) and key groups (重点人群, issue 19 item 5): `/persons` with its
//! filters, a page at a time, and its spreadsheet (`/persons.xlsx`: masked by GET; clear
//! numbers by a deliberate POST, for roles that may unmask), every export audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use linli_core::kernel::clock::today;
use linli_core::kernel::labels::Labelled;
use linli_core::registry::Category;
use linli_core::CoreError;
use linli_store::registry::roll::{self, Listed, RollFilter};
use linli_store::{registry, StoreError};

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{
    form_errors, form_status, query_string, store_error_page, Choice, ListExport, Shell,
};
use crate::AppState;

/// The list's filters and page as asked: from a query string or a form (tags repeat).
#[derive(Debug, Clone, Default)]
pub struct ListAsk {
    pub filter: RollFilter,
    pub after: Option<i64>,
    pub limit: Option<i64>,
    /// The raw values, to fill the form and build links.
    pub node_id: String,
    pub tag: String,
}

/// Reads the list's parameters; a number that does not parse is named (`node_id`, `after`,
/// `limit`), every one at once.
pub fn ask_of(pairs: &[(String, String)]) -> Result<ListAsk, StoreError> {
    let mut a = ListAsk::default();
    let mut errors = Vec::new();
    let mut number = |field: &str, v: &str| -> Option<i64> {
        let t = v.trim();
        if t.is_empty() {
            return None;
        }
        t.parse::<i64>()
            .map_err(|_| errors.push(CoreError::invalid(field, format!("「{t}」不是有效的编号"))))
            .ok()
    };
    for (k, v) in pairs {
        let text = || Some(v.clone()).filter(|s| !s.trim().is_empty());
        match k.as_str() {
            "node_id" => {
                a.node_id = v.trim().to_owned();
                a.filter.node_id = number("node_id", v);
            }
            "tag" if !v.trim().is_empty() => {
                a.tag = v.trim().to_owned();
                a.filter.tags.push(v.trim().to_owned());
            }
            "residence" => a.filter.residence = text(),
            "min_age" => a.filter.min_age = text(),
            "max_age" => a.filter.max_age = text(),
            "building" => a.filter.building = text(),
            "state" => a.filter.state = text(),
            "q" => a.filter.q = text(),
            "after" => a.after = number("after", v),
            "limit" => a.limit = number("limit", v),
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(a)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

impl ListAsk {
    /// The filters as a query string (no page), for links and the export.
    pub fn query(&self) -> String {
        let f = &self.filter;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut pairs: Vec<(&str, String)> = vec![("node_id", self.node_id.clone())];
        for t in &f.tags {
            pairs.push(("tag", t.clone()));
        }
        pairs.extend([
            ("residence", o(&f.residence)),
            ("min_age", o(&f.min_age)),
            ("max_age", o(&f.max_age)),
            ("building", o(&f.building)),
            ("state", o(&f.state)),
            ("q", o(&f.q)),
        ]);
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        query_string(&borrowed)
    }
}

/// One person as a row of the list (masked).
pub struct Row {
    pub id: i64,
    pub name: String,
    pub gender: String,
    pub age: String,
    pub id_masked: String,
    pub phone_masked: String,
    pub place: String,
    pub category: String,
    pub tags: String,
    pub state: String,
    pub active: bool,
}

impl From<Listed> for Row {
    fn from(p: Listed) -> Row {
        Row {
            id: p.id,
            name: p.name,
            gender: p
                .gender
                .map(|g| g.label_zh().to_owned())
                .unwrap_or_default(),
            age: p.age.map(|a| format!("{a} 岁")).unwrap_or_default(),
            id_masked: p.id_number_masked.unwrap_or_default(),
            phone_masked: p.phone_masked.unwrap_or_default(),
            place: match p.address {
                Some(a) => format!("{} {a}", p.node_name),
                None => p.node_name,
            },
            category: p.category.label_zh().to_owned(),
            tags: p.tags.join("、"),
            active: p.state == linli_core::registry::PersonState::Active,
            state: p.state.label_zh().to_owned(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/persons.html")]
struct ListPage {
    shell: Shell,
    title: String,
    nodes: Vec<Choice>,
    tags: Vec<Choice>,
    categories: Vec<Choice>,
    states: Vec<Choice>,
    min_age: String,
    max_age: String,
    building: String,
    q: String,
    total: i64,
    rows: Vec<Row>,
    next: String,
    first: String,
    paged: bool,
    export: String,
    /// Hidden fields of the unmasked export's form: the filters again.
    hidden: Vec<(String, String)>,
    can_unmask: bool,
    can_write: bool,
    errors: Vec<String>,
}

/// `GET /persons`: the list, filtered.
pub async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let (ask, mut errors) = match ask_of(&pairs) {
        Ok(a) => (a, Vec::new()),
        Err(e) => match form_errors(e) {
            Ok(errs) => (ListAsk::default(), errs),
            Err(e) => return store_error_page(e),
        },
    };
    let roll = if errors.is_empty() {
        match roll::list(
            &state.db,
            &user.scope,
            &ask.filter,
            ask.after,
            ask.limit,
            today(),
        )
        .await
        {
            Ok(r) => Some(r),
            Err(e) => match form_errors(e) {
                Ok(errs) => {
                    errors = errs;
                    None
                }
                Err(e) => return store_error_page(e),
            },
        }
    } else {
        None
    };
    let all_tags = match registry::tags(&state.db).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let current = ask.filter.node_id.unwrap_or(0);
    let mut nodes = match crate::ui::node_picker(&state.db, &user, current).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    // A building (or compound) reached by a link is not among the picker's nodes: add it.
    if let Some(node) = roll.as_ref().and_then(|r| r.node.as_ref()) {
        if !nodes.iter().any(|c| c.selected) {
            nodes.insert(0, Choice::node(node, node.depth, true));
        }
    }
    nodes.insert(
        0,
        Choice {
            value: String::new(),
            label: "全部辖区".into(),
            selected: current == 0,
        },
    );
    let f = &ask.filter;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let query = ask.query();
    let title = match f.tags.as_slice() {
        [] => "人员名单".to_owned(),
        tags => format!("重点人群 · {}", tags.join("、")),
    };
    let can_unmask = roll
        .as_ref()
        .is_some_and(|r| roll::may_unmask(&user.scope, r.node.as_ref()));
    let (total, rows, next) = match roll {
        Some(r) => (
            r.total,
            r.items.into_iter().map(Row::from).collect::<Vec<_>>(),
            r.next,
        ),
        None => (0, Vec::new(), None),
    };
    let sep = if query.is_empty() { "" } else { "&" };
    let page = ListPage {
        shell: Shell::of(&user, "persons"),
        title,
        nodes,
        tags: Choice::filter(&ask.tag, all_tags.into_iter().map(|t| (t.clone(), t))),
        categories: Choice::filter_of::<Category>(f.residence.as_deref().unwrap_or("")),
        states: crate::ui::choices(
            [
                ("", "在册"),
                ("away", "暂时外出"),
                ("moved_out", "迁出"),
                ("deceased", "死亡"),
                ("all", "全部"),
            ]
            .into_iter(),
            f.state.as_deref().unwrap_or(""),
        ),
        min_age: o(&f.min_age),
        max_age: o(&f.max_age),
        building: o(&f.building),
        q: o(&f.q),
        total,
        rows,
        next: next
            .map(|n| format!("/persons?{query}{sep}after={n}"))
            .unwrap_or_default(),
        first: format!("/persons?{query}"),
        paged: ask.after.is_some(),
        export: format!("/persons.xlsx?{query}"),
        hidden: pairs
            .iter()
            .filter(|(k, v)| {
                !v.trim().is_empty() && !matches!(k.as_str(), "after" | "limit" | "csrf")
            })
            .cloned()
            .collect(),
        can_unmask,
        can_write: user.scope.role() != linli_core::Role::Official,
        errors,
    };
    (form_status(!page.errors.is_empty()), page).into_response()
}

/// The columns of the list's spreadsheet.
const HEADER: &[&str] = &[
    "序号",
    "姓名",
    "性别",
    "年龄",
    "出生日期",
    "证件号码",
    "联系电话",
    "人口类别",
    "重点人群",
    "所属辖区",
    "住址",
    "状态",
];

async fn export(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    pairs: &[(String, String)],
    unmask: bool,
) -> Response {
    let ask = match ask_of(pairs) {
        Ok(a) => a,
        Err(e) => return store_error_page(e),
    };
    let (node, people) =
        match roll::export(&state.db, &user.scope, &ask.filter, unmask, today()).await {
            Ok(r) => r,
            Err(e) => return store_error_page(e),
        };
    let total = people.len() as i64;
    let rows = people
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            let p = x.person;
            vec![
                (i + 1).to_string(),
                p.name,
                p.gender
                    .map(|g| g.label_zh().to_owned())
                    .unwrap_or_default(),
                p.age.map(|a| a.to_string()).unwrap_or_default(),
                p.birth_date.unwrap_or_default(),
                x.id_number.unwrap_or_default(),
                x.phone.unwrap_or_default(),
                p.category.label_zh().to_owned(),
                p.tags.join("、"),
                p.node_name,
                p.address.unwrap_or_default(),
                p.state.label_zh().to_owned(),
            ]
        })
        .collect();
    let mut query = ask.query();
    if unmask {
        // The audit entry says the numbers went out in clear.
        query = format!("{query}{}unmask=1", if query.is_empty() { "" } else { "&" });
    }
    let (place, key) = match &node {
        Some(n) => (n.name.clone(), n.id.to_string()),
        None => ("本辖区".to_owned(), "all".to_owned()),
    };
    crate::ui::audited_list(
        state,
        user,
        ListExport {
            entity: "person",
            name: if ask.filter.tags.is_empty() {
                "人员名单"
            } else {
                "重点人群"
            },
            header: HEADER,
            node_id: node.as_ref().map(|n| n.id),
            place,
            key,
            query: Some(query),
        },
        total,
        rows,
    )
    .await
}

/// `GET /persons.xlsx`: the filtered list with numbers masked.
pub async fn export_masked(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    export(&state, &user, &pairs, false).await
}

/// `POST /persons.xlsx`: the same list with numbers in clear, by a deliberate click (the form
/// carries the session's CSRF token); refused to roles that may not unmask.
pub async fn export_clear(
    State(state): State<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Response {
    export(&state, &form.user, &form.form, true).await
}
