//! 入户测温 (a round): a grid worker walks a building or a grid and enters everyone's check-in
//! on one page — one row per person under observation, temperature and symptoms, one submit
//! for all — marked as entered on their behalf (代录). The check-ins go through the batching
//! writer together; a refused row is named and keeps what was typed, the others are stored.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::observation::{CheckinChannel, SYMPTOM_CHOICES};
use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::{format_local, now_ms, parse_local, today};
use linli_core::kernel::labels::Labelled;
use linli_store::accounts::Principal;
use linli_store::epidemic::observations::{self, ObservationFilter, UnderObservation};
use linli_store::epidemic::{CheckinInput, CheckinJob};
use linli_store::StoreError;
use serde::Deserialize;

use super::observations::node_and_choices;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::{store_error_page, Choice, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/epidemic/rounds", get(round_page).post(round_submit))
}

/// People on one round page: a building's residents under observation, or a page of a grid's.
const PER_ROUND: i64 = 40;

#[derive(Debug, Default, Deserialize)]
struct RoundQuery {
    node_id: Option<i64>,
    #[serde(default)]
    pending: String,
    page: Option<i64>,
    /// Set after a submit: how many were stored and how many raised alerts.
    saved: Option<i64>,
    alerts: Option<i64>,
}

struct Person {
    observation_id: i64,
    person_id: i64,
    name: String,
    measure: &'static str,
    day: String,
    checkins: String,
    owes: bool,
    place: String,
    temperature: String,
    symptoms: Vec<(&'static str, bool)>,
    error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/round.html")]
struct RoundPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    pending: bool,
    at: String,
    at_error: String,
    persons: Vec<Person>,
    total: i64,
    pager: Pager,
    saved: Option<i64>,
    alerts: i64,
    refused: usize,
    /// Refusals of rows the page no longer shows (moved away, out of the caller's scope).
    elsewhere: Vec<String>,
}

fn person_of(o: UnderObservation) -> Person {
    Person {
        owes: o.owes_checkins(),
        observation_id: o.id,
        person_id: o.person_id,
        measure: o.measure.label_zh(),
        day: format!("第 {} / {} 天", o.day, o.days),
        checkins: format!("{}/{}", o.checkins_done, o.checkins_due),
        place: o.node_name,
        name: o.person_name,
        temperature: String::new(),
        symptoms: SYMPTOM_CHOICES.iter().map(|s| (*s, false)).collect(),
        error: String::new(),
    }
}

/// One page of a round as loaded: the node, the node picker, the people and how many in all.
struct Loaded {
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    persons: Vec<Person>,
    total: i64,
}

impl RoundPage {
    /// The page as first shown (nothing saved, nothing refused).
    fn of(user: &Principal, loaded: Loaded, pending: bool, page: i64) -> RoundPage {
        let Loaded {
            node_id,
            node_name,
            nodes,
            persons,
            total,
        } = loaded;
        let pending_q = if pending { "&pending=1" } else { "" };
        RoundPage {
            shell: Shell::of(user, "epidemic"),
            node_id,
            node_name,
            nodes,
            pending,
            at: format_local(now_ms()),
            at_error: String::new(),
            persons,
            total,
            pager: Pager::new(page, total, PER_ROUND, |n| {
                format!("/epidemic/rounds?node_id={node_id}&page={n}{pending_q}")
            }),
            saved: None,
            alerts: 0,
            refused: 0,
            elsewhere: Vec::new(),
        }
    }
}

async fn load(
    state: &AppState,
    user: &Principal,
    node_id: Option<i64>,
    pending: bool,
    page: i64,
) -> Result<Loaded, StoreError> {
    let (node_id, node_name, nodes) = node_and_choices(state, user, node_id).await?;
    let filter = ObservationFilter {
        pending,
        ..ObservationFilter::default()
    };
    let found = observations::under_observation(
        &state.db,
        &user.scope,
        node_id,
        &filter,
        today(),
        PER_ROUND,
        Pager::offset(page, PER_ROUND),
    )
    .await?;
    Ok(Loaded {
        node_id,
        node_name,
        nodes,
        persons: found.items.into_iter().map(person_of).collect(),
        total: found.total,
    })
}

async fn round_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<RoundQuery>,
) -> Response {
    let page = Pager::asked(q.page);
    let pending = !q.pending.is_empty();
    let loaded = match load(&state, &user, q.node_id, pending, page).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    RoundPage {
        saved: q.saved,
        alerts: q.alerts.unwrap_or(0),
        ..RoundPage::of(&user, loaded, pending, page)
    }
    .into_response()
}

/// What one row of the submitted form says.
#[derive(Default)]
struct Entry {
    temperature: String,
    symptoms: Vec<String>,
}

async fn round_submit(
    State(state): State<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Response {
    let user = form.user;
    let mut node_id = None;
    let mut pending = false;
    let mut page = 1;
    let mut at_raw = String::new();
    // Row order as on the page; each row's fields are keyed by its observation id.
    let mut order: Vec<i64> = Vec::new();
    let mut entries: std::collections::HashMap<i64, Entry> = Default::default();
    for (k, v) in form.form {
        match k.as_str() {
            "node_id" => node_id = v.parse().ok(),
            "pending" => pending = !v.is_empty(),
            "page" => page = v.parse().unwrap_or(1).max(1),
            "at" => at_raw = v,
            "obs" => {
                if let Ok(id) = v.parse() {
                    order.push(id);
                    entries.entry(id).or_default();
                }
            }
            _ => {
                let Some((field, id)) = k.split_once('_') else {
                    continue;
                };
                let Ok(id) = id.parse::<i64>() else {
                    continue;
                };
                let e = entries.entry(id).or_default();
                match field {
                    "t" => e.temperature = v,
                    "s" => e.symptoms.push(v),
                    _ => {}
                }
            }
        }
    }
    let now = now_ms();
    // An empty time is now; a past one enters a late round (the writer checks the period).
    let at = match at_raw.trim() {
        "" => Ok(now),
        raw => parse_local("at", raw).map_err(|e| e.message),
    };
    // Parse every row first: a bad temperature anywhere is named before anything is stored.
    let mut errors: std::collections::HashMap<i64, String> = Default::default();
    let mut jobs = Vec::new();
    for id in &order {
        let Some(e) = entries.get(id) else { continue };
        let temperature = match e.temperature.trim() {
            "" => None,
            t => match Temperature::parse(t) {
                Ok(t) => Some(t),
                Err(err) => {
                    errors.insert(*id, err.message);
                    continue;
                }
            },
        };
        if temperature.is_none() && e.symptoms.is_empty() {
            continue; // not seen on this round
        }
        if let Ok(at) = at {
            jobs.push(CheckinJob {
                scope: user.scope.clone(),
                observation_id: *id,
                input: CheckinInput {
                    at,
                    temperature,
                    symptoms: e.symptoms.clone(),
                },
                now,
                channel: CheckinChannel::Round,
            });
        }
    }
    let at_error = at.as_ref().err().cloned().unwrap_or_default();
    let mut saved = 0;
    let mut alerts = 0;
    if errors.is_empty() && at_error.is_empty() {
        // All at once: the writer puts them in one batch and one commit.
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let writer = state.checkins.clone();
            let id = job.observation_id;
            set.spawn(async move { (id, writer.add(job).await) });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((_, Ok(recorded))) => {
                    saved += 1;
                    alerts += i64::from(recorded.alert_id.is_some());
                }
                Ok((id, Err(e))) => {
                    errors.insert(id, refusal(e));
                }
                Err(e) => {
                    tracing::error!(error = %e, "round check-in task failed");
                    return store_error_page(StoreError::Internal(e.to_string()));
                }
            }
        }
        if errors.is_empty() {
            let mut to = format!("/epidemic/rounds?saved={saved}&alerts={alerts}&page={page}");
            if let Some(n) = node_id {
                to.push_str(&format!("&node_id={n}"));
            }
            if pending {
                to.push_str("&pending=1");
            }
            return axum::response::Redirect::to(&to).into_response();
        }
    }
    // Something was refused: the page again, the refused rows keeping what was typed.
    let mut loaded = match load(&state, &user, node_id, pending, page).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let persons = &mut loaded.persons;
    for p in persons.iter_mut() {
        if let Some(msg) = errors.get(&p.observation_id) {
            p.error = msg.clone();
        }
        // Rows not stored keep their values (a stored row shows its new count instead).
        if errors.contains_key(&p.observation_id) || !at_error.is_empty() {
            if let Some(e) = entries.get(&p.observation_id) {
                p.temperature = e.temperature.clone();
                for (name, checked) in &mut p.symptoms {
                    *checked = e.symptoms.iter().any(|s| s == name);
                }
            }
        }
    }
    let elsewhere = errors
        .iter()
        .filter(|(id, _)| !persons.iter().any(|p| p.observation_id == **id))
        .map(|(_, msg)| msg.clone())
        .collect();
    let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    (
        status,
        RoundPage {
            at: at_raw,
            at_error,
            saved: Some(saved),
            alerts,
            refused: errors.len(),
            elsewhere,
            ..RoundPage::of(&user, loaded, pending, page)
        },
    )
        .into_response()
}

/// A refused check-in as its row shows it.
fn refusal(e: StoreError) -> String {
    match e {
        StoreError::Invalid(errors) => crate::ui::forms::messages(&errors),
        StoreError::NotFound => "找不到该观察记录（可能已移出您的辖区）".to_owned(),
        StoreError::Forbidden(m) => m,
        other => {
            tracing::error!(error = %other, "round check-in");
            "保存失败，请重试".to_owned()
        }
    }
}
