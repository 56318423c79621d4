//! Pages of cases and close contacts: the list of cases, a case's chain of transmission (an SVG
//! drawn on the server, no script, and the same chain as a list), and a person's contacts page
//! with the forms to mark them a case or link them to a source. Names of other persons are
//! masked; persons outside the caller's jurisdiction are 「辖区外人员」.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::contact::{contact_short_zh, mask_name, parse_contact_kind, CaseKind};
use linli_core::epidemic::policy::{ContactKind, Measure};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::CoreError;
use linli_store::epidemic::contacts::{
    self, Chain, ContactInput, LinkRow, PersonContacts, SourceOption,
};
use linli_store::registry::{self, Person};
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::{form_errors_with, store_error_page, NoticeQuery, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epidemic/cases", get(cases_page))
        .route("/epidemic/cases/{id}", get(chain_page))
        // A reload of the unmasked page lands here by GET: back to the masked page.
        .route(
            "/epidemic/cases/{id}/unmask",
            axum::routing::post(chain_unmask).get(back_to_chain),
        )
        .route("/persons/{id}/contacts", get(person_page).post(add_contact))
        .route("/persons/{id}/case", axum::routing::post(mark_case))
}

fn measure_label(m: Option<Measure>) -> &'static str {
    m.map_or("", |m| m.label_zh())
}

fn measure_class(m: Option<Measure>) -> &'static str {
    match m {
        Some(Measure::CentralizedQuarantine) => "centralized",
        Some(Measure::HomeQuarantine) => "home",
        Some(Measure::HealthMonitoring) => "monitoring",
        _ => "none",
    }
}

// ---------------------------------------------------------------------------------------------
// The SVG drawing (shared with `GET /api/v1/cases/{id}/chain.svg`)

/// A box of the drawing with its two lines of text.
pub(crate) struct SvgNode {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub tx: u32,
    pub ty1: u32,
    pub ty2: u32,
    pub line1: String,
    pub line2: String,
    pub fill: &'static str,
    pub stroke: &'static str,
    pub dashed: bool,
    /// The person's contacts page, for persons in scope.
    pub href: Option<String>,
}

pub(crate) struct SvgEdge {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
    pub dashed: bool,
}

/// The chain as the SVG template draws it.
pub(crate) struct ChainSvg {
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub nodes: Vec<SvgNode>,
    pub edges: Vec<SvgEdge>,
}

/// A standalone SVG document (`image/svg+xml`).
#[derive(Template)]
#[template(path = "epidemic/contact_chain_svg.html")]
pub(crate) struct ChainSvgDoc {
    pub svg: ChainSvg,
}

/// Lays the chain out for drawing: colours by role, masked names, dates in scope only.
pub(crate) fn chain_svg(chain: &Chain) -> ChainSvg {
    let (w, h) = (chain.node_width, chain.node_height);
    let nodes = chain
        .nodes
        .iter()
        .map(|n| {
            let (fill, stroke) = match (n.in_scope, n.case_kind, n.kind) {
                (false, _, _) => ("#eef1f4", "#9aa5b1"),
                (true, Some(_), _) => ("#fdecea", "#b71c1c"),
                (true, None, Some(ContactKind::CloseContact)) => ("#fff0e0", "#b35c00"),
                (true, None, _) => ("#fffbe6", "#a07a00"),
            };
            let role = match (n.case_kind, n.kind) {
                (Some(k), _) => k.short_zh(),
                (None, Some(k)) => contact_short_zh(k),
                (None, None) => "",
            };
            let line1 = if n.in_scope {
                format!("{} · {role}", n.label)
            } else {
                n.label.clone()
            };
            let line2 = match (n.in_scope, n.generation, n.diagnosed_on, n.last_contact_on) {
                (false, _, _, _) => role.to_owned(),
                (true, 0, Some(d), _) => format!("诊断 {}", format_date(d)),
                (true, _, _, Some(d)) => format!("末次接触 {}", format_date(d)),
                (true, _, Some(d), None) => format!("诊断 {}", format_date(d)),
                _ => String::new(),
            };
            SvgNode {
                x: n.x,
                y: n.y,
                w,
                h,
                tx: n.x + 8,
                ty1: n.y + 19,
                ty2: n.y + 37,
                line1,
                line2,
                fill,
                stroke,
                dashed: !n.in_scope,
                href: n.person_id.map(|id| format!("/persons/{id}/contacts")),
            }
        })
        .collect();
    let edges = chain
        .edges
        .iter()
        .map(|e| SvgEdge {
            x1: e.x1,
            y1: e.y1,
            x2: e.x2,
            y2: e.y2,
            dashed: e.kind == ContactKind::SecondaryContact,
        })
        .collect();
    ChainSvg {
        width: chain.width,
        height: chain.height,
        title: format!(
            "传播链：{}（{}），共 {} 人",
            chain.case_kind.label_zh(),
            format_date(chain.diagnosed_on),
            chain.nodes.len()
        ),
        nodes,
        edges,
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

struct CaseLine {
    person_id: i64,
    name: String,
    kind: &'static str,
    diagnosed_on: String,
    direct_contacts: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/contact_cases.html")]
struct CasesPage {
    shell: Shell,
    cases: Vec<CaseLine>,
}

async fn cases_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    match contacts::cases(&state.db, &user.scope).await {
        Ok(rows) => CasesPage {
            shell: Shell::of(&user, "epidemic"),
            cases: rows
                .into_iter()
                .map(|r| CaseLine {
                    person_id: r.case.person_id,
                    name: mask_name(&r.person_name),
                    kind: r.case.kind.label_zh(),
                    diagnosed_on: format_date(r.case.diagnosed_on),
                    direct_contacts: r.direct_contacts,
                })
                .collect(),
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// A case's chain

struct ChainLine {
    label: String,
    person_id: Option<i64>,
    generation: u32,
    role: String,
    date: String,
    measure: &'static str,
    measure_class: &'static str,
    until: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/contact_chain.html")]
struct ChainPage {
    shell: Shell,
    case_person_id: i64,
    can_unmask: bool,
    names_shown: bool,
    case_label: String,
    case_kind: &'static str,
    diagnosed_on: String,
    svg: ChainSvg,
    lines: Vec<ChainLine>,
    hidden: usize,
    truncated: bool,
}

async fn chain_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    match contacts::chain(&state.db, &user.scope, id).await {
        Ok(chain) => render_chain(&state, &user, chain, false).await,
        Err(e) => store_error_page(e),
    }
}

async fn back_to_chain(Path(id): Path<i64>) -> Redirect {
    Redirect::to(&format!("/epidemic/cases/{id}"))
}

#[derive(Deserialize)]
struct NoFields {}

/// Shows the chain with clear names (staff and above; audited).
async fn chain_unmask(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    form: CsrfForm<NoFields>,
) -> Response {
    let NoFields {} = form.form;
    match contacts::chain_with_names(&state.db, &form.user.scope, id, Some(&ip), now_ms()).await {
        Ok(chain) => render_chain(&state, &form.user, chain, true).await,
        Err(e) => store_error_page(e),
    }
}

async fn render_chain(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    chain: Chain,
    names_shown: bool,
) -> Response {
    let can_unmask = match registry::get(&state.db, &user.scope, chain.case_person_id).await {
        Ok(p) => user.scope.can_unmask(&p.node_path),
        Err(e) => return store_error_page(e),
    };
    let lines = chain
        .nodes
        .iter()
        .map(|n| ChainLine {
            label: n.label.clone(),
            person_id: n.person_id,
            generation: n.generation,
            role: match (n.case_kind, n.kind) {
                (Some(k), Some(c)) => format!("{}（{}）", k.label_zh(), contact_short_zh(c)),
                (Some(k), None) => k.label_zh().to_owned(),
                (None, Some(c)) => c.label_zh().to_owned(),
                (None, None) => String::new(),
            },
            date: match (n.generation, n.diagnosed_on, n.last_contact_on) {
                (0, Some(d), _) => format!("诊断 {}", format_date(d)),
                (_, _, Some(d)) => format!("末次接触 {}", format_date(d)),
                _ => String::new(),
            },
            measure: measure_label(n.measure),
            measure_class: measure_class(n.measure),
            until: n.until_on.clone().unwrap_or_default(),
        })
        .collect();
    ChainPage {
        shell: Shell::of(user, "epidemic"),
        case_person_id: chain.case_person_id,
        can_unmask,
        names_shown,
        case_label: chain
            .nodes
            .first()
            .map(|n| n.label.clone())
            .unwrap_or_default(),
        case_kind: chain.case_kind.label_zh(),
        diagnosed_on: format_date(chain.diagnosed_on),
        hidden: chain.nodes.iter().filter(|n| !n.in_scope).count(),
        truncated: chain.truncated,
        svg: chain_svg(&chain),
        lines,
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// A person's contacts

struct LinkLine {
    other_label: String,
    other_person_id: Option<i64>,
    kind: &'static str,
    last_contact_on: String,
    measure: &'static str,
    measure_class: &'static str,
    until: String,
    explanation: String,
    observation_id: Option<i64>,
}

impl LinkLine {
    fn of(l: LinkRow) -> LinkLine {
        let measure = Some(l.measure);
        LinkLine {
            other_label: l.other_label,
            other_person_id: l.other_person_id,
            kind: l.kind.label_zh(),
            last_contact_on: format_date(l.last_contact_on),
            measure: measure_label(measure),
            measure_class: measure_class(measure),
            until: l.until_on.unwrap_or_default(),
            explanation: l.explanation,
            observation_id: l.observation_id,
        }
    }
}

/// What the forms send back when refused.
#[derive(Debug, Default, Deserialize)]
struct ContactFields {
    #[serde(default)]
    source_person_id: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    last_contact_on: String,
}

#[derive(Debug, Default, Deserialize)]
struct CaseFields {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    diagnosed_on: String,
}

struct SourceChoice {
    value: i64,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/contact_person.html")]
struct PersonPage {
    shell: Shell,
    person_id: i64,
    name: String,
    place: String,
    can_write: bool,
    case: Option<(String, String)>,
    sources: Vec<LinkLine>,
    contacts: Vec<LinkLine>,
    upstream_cases: Vec<i64>,
    upstream_elsewhere: usize,
    choices: Vec<SourceChoice>,
    f: ContactFields,
    c: CaseFields,
    errors: Vec<String>,
    case_errors: Vec<String>,
    notice: Option<&'static str>,
    today: String,
}

fn label(field: &str) -> &str {
    match field {
        "source_person_id" => "来源",
        "type" => "接触类型",
        "last_contact_on" => "最后接触日期",
        "kind" => "病例类型",
        "diagnosed_on" => "诊断日期",
        "person_id" => "居民",
        other => other,
    }
}

/// Messages for a refused form; other errors are passed back for an error page.
fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, label)
}

struct Loaded {
    person: Person,
    data: PersonContacts,
    options: Vec<SourceOption>,
}

async fn load(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    id: i64,
) -> Result<Loaded, StoreError> {
    let person = registry::get(&state.db, &user.scope, id).await?;
    let data = contacts::person_contacts(&state.db, &user.scope, id).await?;
    let options = contacts::source_options(&state.db, &user.scope).await?;
    Ok(Loaded {
        person,
        data,
        options,
    })
}

fn render(
    user: &linli_store::accounts::Principal,
    l: Loaded,
    f: ContactFields,
    c: CaseFields,
    errors: Vec<String>,
    case_errors: Vec<String>,
    notice: Option<&'static str>,
) -> Response {
    let status = form_status(!errors.is_empty() || !case_errors.is_empty());
    let selected: Option<i64> = f.source_person_id.trim().parse().ok();
    let choices = l
        .options
        .into_iter()
        .filter(|o| o.person_id != l.person.id)
        .map(|o| SourceChoice {
            value: o.person_id,
            label: format!("{}（{}）", o.name, o.role_label),
            selected: selected == Some(o.person_id),
        })
        .collect();
    let place = match &l.person.address {
        Some(a) => format!("{} {a}", l.person.node_name),
        None => l.person.node_name.clone(),
    };
    let page = PersonPage {
        shell: Shell::of(user, "persons"),
        person_id: l.person.id,
        name: l.person.name.clone(),
        place,
        can_write: user.scope.can_write_records(&l.person.node_path),
        case: l
            .data
            .case
            .as_ref()
            .map(|c| (c.kind.label_zh().to_owned(), format_date(c.diagnosed_on))),
        sources: l.data.sources.into_iter().map(LinkLine::of).collect(),
        contacts: l.data.contacts.into_iter().map(LinkLine::of).collect(),
        // The person's own chain is linked from the case section.
        upstream_cases: l
            .data
            .upstream_cases
            .into_iter()
            .filter(|c| *c != l.person.id)
            .collect(),
        upstream_elsewhere: l.data.upstream_cases_elsewhere,
        choices,
        f,
        c,
        errors,
        case_errors,
        notice,
        today: format_date(today()),
    };
    (status, page).into_response()
}

async fn person_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "case" => "已标记为病例。",
        "contact" => "已登记接触关系：隔离期自最后接触之日起算，见下方判定。",
        _ => "完成。",
    });
    match load(&state, &user, id).await {
        Ok(l) => render(
            &user,
            l,
            ContactFields::default(),
            CaseFields::default(),
            Vec::new(),
            Vec::new(),
            notice,
        ),
        Err(e) => store_error_page(e),
    }
}

async fn add_contact(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<ContactFields>,
) -> Response {
    let user = form.user;
    let f = form.form;
    let mut errors: Vec<CoreError> = Vec::new();
    let source = match f.source_person_id.trim() {
        "" => {
            errors.push(CoreError::invalid(
                "source_person_id",
                "请选择来源（病例或密接）",
            ));
            None
        }
        s => s
            .parse::<i64>()
            .map_err(|_| errors.push(CoreError::invalid("source_person_id", "请从列表中选择来源")))
            .ok(),
    };
    let kind = parse_contact_kind(&f.kind).map_err(|e| errors.push(e)).ok();
    let on = parse_date("last_contact_on", &f.last_contact_on)
        .map_err(|e| errors.push(e))
        .ok();
    let result = match (source, kind, on, errors.is_empty()) {
        (Some(source_person_id), Some(kind), Some(last_contact_on), true) => {
            contacts::record_contact(
                &state.db,
                &user.scope,
                &ContactInput {
                    person_id: id,
                    source_person_id,
                    kind,
                    last_contact_on,
                },
                now_ms(),
            )
            .await
            .map(|_| ())
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/persons/{id}/contacts?notice=contact")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(msgs) => match load(&state, &user, id).await {
                Ok(l) => render(&user, l, f, CaseFields::default(), msgs, Vec::new(), None),
                Err(e) => store_error_page(e),
            },
            Err(e) => store_error_page(e),
        },
    }
}

async fn mark_case(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<CaseFields>,
) -> Response {
    let user = form.user;
    let c = form.form;
    let mut errors: Vec<CoreError> = Vec::new();
    let kind = c.kind.parse::<CaseKind>().map_err(|e| errors.push(e)).ok();
    let on = parse_date("diagnosed_on", &c.diagnosed_on)
        .map_err(|e| errors.push(e))
        .ok();
    let result = match (kind, on, errors.is_empty()) {
        (Some(kind), Some(on), true) => {
            contacts::mark_case(&state.db, &user.scope, id, kind, on, now_ms())
                .await
                .map(|_| ())
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/persons/{id}/contacts?notice=case")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(msgs) => match load(&state, &user, id).await {
                Ok(l) => render(
                    &user,
                    l,
                    ContactFields::default(),
                    c,
                    Vec::new(),
                    msgs,
                    None,
                ),
                Err(e) => store_error_page(e),
            },
            Err(e) => store_error_page(e),
        },
    }
}
