//! Registry pages: the persons list (`roll.rs`), register, view (masked; deliberate, audited unmask), edit, history.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::display;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::registry::{Category, PersonInput, Relation};
use linli_core::DocumentKind;
use linli_store::epidemic::timeline::{records_of_person, PersonRecord, RecordKind};
use linli_store::registry::{self, dwellings, Person, PersonPatch, Placement};
use linli_store::{tree, StoreError};
use serde::Deserialize;

use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::registry::api::{export_file, ExportFormat};
use crate::registry::roll;
use crate::ui::form_status;
use crate::ui::{choices, Choice};
use crate::ui::{form_errors, store_error_page, Empty, NoticeQuery, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/persons", get(roll::list_page).post(create))
        .route(
            "/persons.xlsx",
            get(roll::export_masked).post(roll::export_clear),
        )
        .route("/persons/new", get(new_page))
        .route("/persons/{id}", get(person_page))
        .route("/persons/{id}/edit", get(edit_page).post(edit))
        // A reload of the unmasked page lands here by GET: back to the masked page.
        .route("/persons/{id}/unmask", post(unmask).get(back_to_person))
        .route("/persons/export", post(export_unmasked))
}

// ---------------------------------------------------------------------------------------------
// Register and edit

/// The form's values as typed, so a refused form comes back filled in.
#[derive(Default, Clone)]
pub struct PersonFields {
    pub node_id: String,
    /// Joining this household (from 添加同户成员): its room and node are the member's.
    pub household_id: String,
    pub name: String,
    pub id_kind: String,
    pub id_number: String,
    pub gender: String,
    pub birth_date: String,
    pub ethnic_group: String,
    pub phone: String,
    pub hukou_address: String,
    pub category: String,
    pub address: String,
    pub relation: String,
    pub tags: Vec<String>,
    pub state: String,
    pub moved_out_on: String,
    pub moved_to: String,
    pub deceased_on: String,
    pub away_since: String,
    pub away_to: String,
}

impl PersonFields {
    /// From an urlencoded body (tags repeat, so a map will not do).
    fn from_pairs(pairs: Vec<(String, String)>) -> PersonFields {
        let mut f = PersonFields::default();
        for (k, v) in pairs {
            match k.as_str() {
                "node_id" => f.node_id = v,
                "household_id" => f.household_id = v,
                "name" => f.name = v,
                "id_kind" => f.id_kind = v,
                "id_number" => f.id_number = v,
                "gender" => f.gender = v,
                "birth_date" => f.birth_date = v,
                "ethnic_group" => f.ethnic_group = v,
                "phone" => f.phone = v,
                "hukou_address" => f.hukou_address = v,
                "category" => f.category = v,
                "address" => f.address = v,
                "relation" => f.relation = v,
                "tags" => f.tags.push(v),
                "state" => f.state = v,
                "moved_out_on" => f.moved_out_on = v,
                "moved_to" => f.moved_to = v,
                "deceased_on" => f.deceased_on = v,
                "away_since" => f.away_since = v,
                "away_to" => f.away_to = v,
                _ => {}
            }
        }
        f
    }
}

pub struct TagChoice {
    pub name: String,
    pub checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/person_form.html")]
struct FormPage {
    shell: Shell,
    title: &'static str,
    action: String,
    editing: bool,
    f: PersonFields,
    nodes: Vec<Choice>,
    id_kinds: Vec<Choice>,
    genders: Vec<Choice>,
    categories: Vec<Choice>,
    relations: Vec<Choice>,
    states: Vec<Choice>,
    tags: Vec<TagChoice>,
    errors: Vec<String>,
    id_masked: String,
    phone_masked: String,
    /// The household a new member joins: 「3栋2单元501室 · 户主 张三」.
    joining: Option<String>,
}

async fn render_form(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    editing: Option<&Person>,
    f: PersonFields,
    errors: Vec<String>,
) -> Response {
    let tree = match tree::subtree(&state.db, &user.scope, None).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let all_tags = match registry::tags(&state.db).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let node_choices = tree
        .iter()
        .filter(|n| n.is_open() && n.kind.serves_residents())
        .map(|n| Choice::node(n, 0, n.id.to_string() == f.node_id))
        .collect();
    let joining = match f.household_id.trim().parse::<i64>() {
        Ok(h) if editing.is_none() => {
            match dwellings::household_home(&state.db, &user.scope, h).await {
                // The address names the building already; a household with no room, its node.
                Ok(home) => Some(format!(
                    "{}{}",
                    home.address.unwrap_or(home.node_name),
                    home.head
                        .map(|n| format!(" · 户主 {n}"))
                        .unwrap_or_default()
                )),
                Err(e) => return store_error_page(e),
            }
        }
        _ => None,
    };
    let status = form_status(!errors.is_empty());
    let page = FormPage {
        joining,
        shell: Shell::of(user, "persons"),
        title: if editing.is_some() {
            "修改居民信息"
        } else {
            "登记居民"
        },
        action: editing.map_or_else(
            || "/persons".to_owned(),
            |p| format!("/persons/{}/edit", p.id),
        ),
        editing: editing.is_some(),
        id_masked: editing
            .and_then(|p| p.id_number_masked.clone())
            .unwrap_or_default(),
        phone_masked: editing
            .and_then(|p| p.phone_masked.clone())
            .unwrap_or_default(),
        nodes: node_choices,
        id_kinds: choices(
            DocumentKind::ALL.iter().map(|k| (k.as_str(), k.label_zh())),
            if f.id_kind.is_empty() {
                "resident_id"
            } else {
                &f.id_kind
            },
        ),
        genders: choices(
            [("", "由身份证号推算"), ("male", "男"), ("female", "女")].into_iter(),
            &f.gender,
        ),
        categories: choices(
            Category::ALL.iter().map(|c| (c.as_str(), c.label_zh())),
            if f.category.is_empty() {
                "resident"
            } else {
                &f.category
            },
        ),
        relations: choices(
            std::iter::once(("", "—"))
                .chain(Relation::ALL.iter().map(|r| (r.as_str(), r.label_zh()))),
            &f.relation,
        ),
        states: choices(
            linli_core::registry::PersonState::ALL
                .iter()
                .map(|s| (s.as_str(), s.label_zh())),
            &f.state,
        ),
        tags: all_tags
            .into_iter()
            .map(|t| TagChoice {
                checked: f.tags.contains(&t),
                name: t,
            })
            .collect(),
        f,
        errors,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct NewQuery {
    node_id: Option<i64>,
    /// 添加同户成员: the household the new person joins.
    household_id: Option<i64>,
    /// 登记新住户 from a room's page: its address.
    address: Option<String>,
}

async fn new_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let mut f = PersonFields {
        node_id: q.node_id.map(|n| n.to_string()).unwrap_or_default(),
        address: q.address.unwrap_or_default(),
        ..Default::default()
    };
    if let Some(h) = q.household_id {
        match dwellings::household_home(&state.db, &user.scope, h).await {
            Ok(home) => {
                f.household_id = h.to_string();
                f.node_id = home.node_id.to_string();
            }
            Err(e) => return store_error_page(e),
        }
    }
    render_form(&state, &user, None, f, Vec::new()).await
}

/// Form errors with the person form's own labels (a person's `name` is 姓名, not 名称).
fn person_form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors(e).map(|errs| {
        errs.into_iter()
            .map(|m| match m.strip_prefix("名称：") {
                Some(rest) => format!("姓名：{rest}"),
                None => m,
            })
            .collect()
    })
}

fn pairs(form: &CsrfForm<Vec<(String, String)>>) -> PersonFields {
    PersonFields::from_pairs(form.form.clone())
}

async fn create(State(state): State<AppState>, form: CsrfForm<Vec<(String, String)>>) -> Response {
    let f = pairs(&form);
    let user = &form.user;
    let result = async {
        let node_id = f
            .node_id
            .trim()
            .parse::<i64>()
            .map_err(|_| StoreError::invalid("node_id", "请选择居民的登记辖区"))?;
        let input = PersonInput {
            name: &f.name,
            gender: Some(&f.gender),
            birth_date: Some(&f.birth_date),
            ethnic_group: Some(&f.ethnic_group),
            id_kind: Some(&f.id_kind),
            id_number: Some(&f.id_number),
            phone: Some(&f.phone),
            hukou_address: Some(&f.hukou_address),
            category: Some(&f.category),
            tags: &f.tags,
            relation: Some(&f.relation),
            address: Some(&f.address),
        };
        registry::create(
            &state.db,
            &user.scope,
            &Placement {
                node_id,
                household_id: f.household_id.trim().parse().ok(),
                ..Default::default()
            },
            &input,
            now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok((p, _)) => Redirect::to(&format!("/persons/{}?notice=created", p.id)).into_response(),
        Err(e) => match person_form_errors(e) {
            Ok(errors) => render_form(&state, user, None, f, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

fn fields_of(p: &Person) -> PersonFields {
    PersonFields {
        node_id: p.node_id.to_string(),
        household_id: String::new(),
        name: p.name.clone(),
        id_kind: p.id_kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        gender: p.gender.map(|g| g.as_str().to_owned()).unwrap_or_default(),
        birth_date: p.birth_date.clone().unwrap_or_default(),
        ethnic_group: p.ethnic_group.clone().unwrap_or_default(),
        hukou_address: p.hukou_address.clone().unwrap_or_default(),
        category: p.category.as_str().to_owned(),
        address: p.address.clone().unwrap_or_default(),
        relation: p
            .relation
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        tags: p.tags.clone(),
        state: p.state.as_str().to_owned(),
        moved_out_on: p.moved_out_on.clone().unwrap_or_default(),
        moved_to: p.moved_to.clone().unwrap_or_default(),
        deceased_on: p.deceased_on.clone().unwrap_or_default(),
        away_since: p.away_since.clone().unwrap_or_default(),
        away_to: p.away_to.clone().unwrap_or_default(),
        // The numbers are never put back into a page: blank means "unchanged".
        id_number: String::new(),
        phone: String::new(),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    match registry::get(&state.db, &user.scope, id).await {
        Ok(p) => render_form(&state, &user, Some(&p), fields_of(&p), Vec::new()).await,
        Err(e) => store_error_page(e),
    }
}

async fn edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let f = pairs(&form);
    let user = &form.user;
    let current = match registry::get(&state.db, &user.scope, id).await {
        Ok(p) => p,
        Err(e) => return store_error_page(e),
    };
    let keep_blank = |s: &str| {
        if s.trim().is_empty() {
            None
        } else {
            Some(s.to_owned())
        }
    };
    let patch = PersonPatch {
        name: Some(f.name.clone()),
        gender: Some(f.gender.clone()),
        birth_date: Some(f.birth_date.clone()),
        ethnic_group: Some(f.ethnic_group.clone()),
        id_kind: keep_blank(&f.id_number).map(|_| f.id_kind.clone()),
        id_number: keep_blank(&f.id_number),
        phone: keep_blank(&f.phone),
        hukou_address: Some(f.hukou_address.clone()),
        category: Some(f.category.clone()),
        tags: Some(f.tags.clone()),
        relation: Some(f.relation.clone()),
        state: Some(f.state.clone()),
        moved_out_on: Some(f.moved_out_on.clone()),
        moved_to: Some(f.moved_to.clone()),
        deceased_on: Some(f.deceased_on.clone()),
        away_since: Some(f.away_since.clone()),
        away_to: Some(f.away_to.clone()),
    };
    match registry::update(&state.db, &user.scope, id, &patch, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/persons/{id}?notice=saved")).into_response(),
        Err(e) => match person_form_errors(e) {
            Ok(errors) => render_form(&state, user, Some(&current), f, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One person

pub struct ChangeRow {
    pub at: String,
    pub actor: String,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/person.html")]
struct PersonPage {
    shell: Shell,
    p: Person,
    gender: String,
    relation: String,
    id_kind: String,
    clear_id: Option<String>,
    clear_phone: Option<String>,
    can_unmask: bool,
    can_write: bool,
    members: Vec<Person>,
    history: Vec<ChangeRow>,
    /// The person's records in other areas (arrivals, observations, a case), newest first.
    records: Vec<RecordLine>,
    notice: Option<&'static str>,
}

/// One of a person's other records on their page: date, kind, what, outcome, link.
struct RecordLine {
    on: String,
    kind: &'static str,
    what: String,
    outcome: String,
    href: String,
}

impl RecordLine {
    fn of(person_id: i64, r: PersonRecord) -> RecordLine {
        let (kind, href) = match r.kind {
            RecordKind::Arrival => ("抵达登记", format!("/epidemic/arrivals/{}", r.id)),
            // An observation has no page of its own: the person's timeline shows its rounds.
            RecordKind::Observation => ("隔离观察", format!("/persons/{person_id}/epidemic")),
            RecordKind::Case => ("病例", format!("/epidemic/cases/{}", r.id)),
        };
        RecordLine {
            on: r.on,
            kind,
            what: r.what,
            outcome: r.outcome,
            href,
        }
    }
}

fn field_label_zh(field: &str) -> &str {
    match field {
        "created" => "登记",
        "name" => "姓名",
        "gender" => "性别",
        "birth_date" => "出生日期",
        "ethnic_group" => "民族",
        "id_number" => "证件号码",
        "phone" => "电话",
        "hukou_address" => "户籍地址",
        "category" => "人员类别",
        "relation" => "与户主关系",
        "tags" => "重点人群",
        "state" => "状态",
        "moved_out_on" => "迁出日期",
        "moved_to" => "迁往",
        "deceased_on" => "死亡日期",
        "away_since" => "外出日期",
        "away_to" => "外出去向",
        other => other,
    }
}

async fn render_person(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    id: i64,
    clear: Option<registry::Unmasked>,
    notice: Option<&'static str>,
) -> Response {
    let p = match registry::get(&state.db, &user.scope, id).await {
        Ok(p) => p,
        Err(e) => return store_error_page(e),
    };
    // 修改人 by name (the change log keeps logins).
    let history = match async {
        let mut h = registry::history(&state.db, &user.scope, "person", id).await?;
        let actors = h.iter_mut().map(|c| &mut c.actor).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        Ok::<_, StoreError>(h)
    }
    .await
    {
        Ok(h) => h,
        Err(e) => return store_error_page(e),
    };
    let records = match records_of_person(&state.db, &user.scope, id).await {
        Ok(r) => r.into_iter().map(|r| RecordLine::of(id, r)).collect(),
        Err(e) => return store_error_page(e),
    };
    let members = match p.household_id {
        Some(h) => registry::household_members(&state.db, &user.scope, h)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    PersonPage {
        shell: Shell::of(user, "persons"),
        gender: p
            .gender
            .map(|g| g.label_zh().to_owned())
            .unwrap_or_else(|| "—".into()),
        relation: p
            .relation
            .map(|r| r.label_zh().to_owned())
            .unwrap_or_else(|| "—".into()),
        id_kind: p
            .id_kind
            .map(|k| k.label_zh().to_owned())
            .unwrap_or_else(|| "证件".into()),
        clear_id: clear.as_ref().and_then(|c| c.id_number.clone()),
        clear_phone: clear.as_ref().and_then(|c| c.phone.clone()),
        can_unmask: user.scope.can_unmask(&p.node_path),
        can_write: user.scope.can_write_records(&p.node_path),
        members: members.into_iter().filter(|m| m.id != p.id).collect(),
        history: history
            .into_iter()
            .map(|c| ChangeRow {
                at: display(c.at),
                actor: c.actor,
                field: field_label_zh(&c.field).to_owned(),
                old_value: c.old_value.unwrap_or_default(),
                new_value: c.new_value.unwrap_or_default(),
            })
            .collect(),
        records,
        p,
        notice,
    }
    .into_response()
}

async fn person_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "created" => "已登记。",
        "saved" => "已保存，变更已记入变更记录。",
        _ => "完成。",
    });
    render_person(&state, &user, id, None, notice).await
}

async fn back_to_person(Path(id): Path<i64>) -> Redirect {
    Redirect::to(&format!("/persons/{id}"))
}

async fn unmask(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    form: CsrfForm<Empty>,
) -> Response {
    let _ = &form.form;
    match registry::unmask(&state.db, &form.user.scope, id, Some(&ip), now_ms()).await {
        Ok(clear) => {
            render_person(
                &state,
                &form.user,
                id,
                Some(clear),
                Some("已显示完整号码（本次查看已记入审计日志）。"),
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

#[derive(Deserialize)]
struct ExportForm {
    node_id: i64,
    /// `csv` or `xlsx`.
    format: String,
}

/// The node page's "导出完整号码" buttons: a form post with the session's CSRF token, so that
/// only a deliberate click in Linli exports the clear roster (audited by the store).
async fn export_unmasked(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    f: CsrfForm<ExportForm>,
) -> Response {
    let format = match f.form.format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => {
            return crate::ui::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "导出格式应为 csv 或 xlsx",
            )
        }
    };
    match export_file(&state, &f.user.scope, &ip, f.form.node_id, format, true).await {
        Ok(resp) => resp,
        Err(e) => crate::ui::error_page(e.status, &e.message),
    }
}
