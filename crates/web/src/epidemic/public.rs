//! The public self-declaration form behind a compound's QR code (`/d/{token}`): no login,
//! rate-limited, standalone pages that show nothing but the compound's name and what the
//! resident typed.
//!
//! The public post carries no CSRF token on purpose: no cookie authenticates it, so a forged
//! cross-site post can do nothing a stranger with the address could not do anyway; the rate
//! limits (per client address and per link) and the review by a worker are what keep abuse
//! out of the registry.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use linli_core::epidemic::policy::{Classification, Measure};
use linli_core::kernel::clock::{format_date, today};
use linli_store::epidemic::declarations::{self, DeclarationInput};
use linli_store::StoreError;

use super::pages::{pieces, Piece};
use crate::auth::ClientIp;
use crate::ui::form_status;
use crate::ui::places::{self, PlacePicker};
use crate::ui::{self, RateLimiter};
use crate::ui::{field_label, store_error_page, FieldErrors};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/d/{token}", get(public_form).post(public_submit))
        // Each app gets its own counters (tests run several apps in one process).
        .layer(Extension(Arc::new(Limits::default())))
}

// ---------------------------------------------------------------------------------------------
// Rate limits (in memory, per process)

/// The public form's limits: submissions per client address (10 per 10 minutes — a family
/// declaring one by one on one phone fits) and per link (300 per 10 minutes — a compound's
/// gate at rush hour), and page views per address.
struct Limits {
    post_per_address: RateLimiter,
    post_per_link: RateLimiter,
    get_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        let ten_minutes = Duration::from_secs(600);
        Limits {
            post_per_address: RateLimiter::new(10, ten_minutes),
            post_per_link: RateLimiter::new(300, ten_minutes),
            get_per_address: RateLimiter::new(60, ten_minutes),
        }
    }
}

/// The service's name on its message pages (the self check-in pages use it too).
pub(crate) const SERVICE: &str = "来返人员健康申报";

fn message(status: StatusCode, title: &'static str, message: String) -> Response {
    let page = ui::PublicMessage {
        service: SERVICE,
        title,
        message: &message,
        link: None,
    };
    (status, page).into_response()
}

fn too_many(retry: Duration) -> Response {
    ui::too_many(retry, |minutes| {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "提交过于频繁",
            format!(
                "同一网络提交次数过多，请 {minutes} 分钟后再试。如有急事，请直接联系社区工作人员。"
            ),
        )
    })
}

fn link_gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "该申报链接无效或已停用，请扫描小区最新张贴的二维码，或联系社区工作人员。".to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The public form

/// An arrival's form as typed, so a refused form comes back filled in: the resident's form
/// here, and the worker's (`pages`), which adds the person, the node and `proxy` (the resident's
/// form never reads those three).
#[derive(Default, Clone)]
pub(crate) struct ArrivalFields {
    pub person_id: String,
    pub node_id: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub address: String,
    pub origin_code: String,
    /// The candidate chosen for an ambiguous place name.
    pub origin_code_pick: String,
    pub arrived_on: String,
    pub purpose: String,
    pub symptoms: Vec<String>,
    pub symptoms_other: String,
    pub temperature: String,
    pub proxy: bool,
}

impl ArrivalFields {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> ArrivalFields {
        let mut f = ArrivalFields::default();
        for (k, v) in pairs {
            match k.as_str() {
                "person_id" => f.person_id = v,
                "node_id" => f.node_id = v,
                "name" => f.name = v,
                "id_number" => f.id_number = v,
                "phone" => f.phone = v,
                "address" => f.address = v,
                "origin_code" => f.origin_code = v,
                "origin_code_pick" => f.origin_code_pick = v,
                "arrived_on" => f.arrived_on = v,
                "purpose" => f.purpose = v,
                "symptoms" => f.symptoms.push(v),
                "symptoms_other" => f.symptoms_other = v,
                "temperature" => f.temperature = v,
                "proxy" => f.proxy = !v.is_empty(),
                _ => {}
            }
        }
        places::chosen(&mut f.origin_code, &f.origin_code_pick);
        f
    }

    /// The ticked symptoms and the free text, split on Chinese and Latin separators.
    pub fn all_symptoms(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .symptoms
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for s in self
            .symptoms_other
            .split(|c: char| "，,、；;。".contains(c) || c.is_whitespace())
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        out
    }

    fn input(&self) -> DeclarationInput {
        DeclarationInput {
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            origin_code: self.origin_code.clone(),
            arrived_on: self.arrived_on.clone(),
            purpose: self.purpose.clone(),
            symptoms: self.all_symptoms(),
            temperature: self.temperature.clone(),
        }
    }
}

/// A symptom's checkbox on a form.
pub(crate) struct SymptomChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// The symptoms offered as checkboxes (free text adds others), those in `ticked` checked: the
/// declaration forms' and the self check-in page's.
pub(crate) fn symptom_choices(ticked: &[String]) -> Vec<SymptomChoice> {
    linli_core::epidemic::observation::SYMPTOM_CHOICES
        .iter()
        .map(|s| SymptomChoice {
            name: s,
            checked: ticked.iter().any(|c| c == s),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_form.html")]
struct FormPage {
    token: String,
    place: String,
    f: ArrivalFields,
    symptoms: Vec<SymptomChoice>,
    picker: PlacePicker,
    errors: FieldErrors,
    today: String,
}

impl FormPage {
    /// Messages of fields the form has no place for.
    fn other_errors(&self) -> Vec<String> {
        const SHOWN: [&str; 9] = [
            "name",
            "id_number",
            "phone",
            "address",
            "origin_code",
            "arrived_on",
            "purpose",
            "symptoms",
            "temperature",
        ];
        self.errors.others(&SHOWN, field_label)
    }
}

fn render_form(token: String, place: String, f: ArrivalFields, errors: FieldErrors) -> Response {
    let status = form_status(!errors.is_empty());
    let page = FormPage {
        symptoms: symptom_choices(&f.symptoms),
        token,
        place,
        picker: PlacePicker::new(
            "origin_code",
            "从哪里来（地名、拼音或行政区划代码）",
            &f.origin_code,
        )
        .invalid(!errors.of("origin_code").is_empty()),
        f,
        errors,
        today: format_date(today()),
    };
    // Whatever was typed must not outlive the tab in a shared phone's cache.
    (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
}

async fn public_form(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip) {
        return too_many(retry);
    }
    match declarations::link_for_token(&state.db, &token).await {
        Ok(link) => render_form(
            token,
            link.node_name,
            ArrivalFields {
                arrived_on: format_date(today()),
                ..ArrivalFields::default()
            },
            FieldErrors::default(),
        ),
        Err(StoreError::NotFound) => link_gone(),
        Err(e) => store_error_page(e),
    }
}

pub(crate) struct StageRow {
    pub(crate) label: &'static str,
    pub(crate) days: u16,
    pub(crate) start: String,
    pub(crate) until: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/declare_receipt.html")]
struct ReceiptPage {
    place: String,
    name: String,
    reference: String,
    verdict: Option<Verdict>,
}

/// A classification as the pages show it.
pub(crate) struct Verdict {
    pub(crate) measure: &'static str,
    pub(crate) measure_class: &'static str,
    pub(crate) none: bool,
    pub(crate) days: u16,
    pub(crate) start: String,
    pub(crate) until: String,
    pub(crate) check_ins_per_day: u8,
    pub(crate) stages: Vec<StageRow>,
    pub(crate) explanation: Vec<Piece>,
    pub(crate) fever_alert: bool,
    /// The measure and the alerts beside it, in one line.
    pub(crate) headline: String,
    /// One line per alert (a fever: the alert and the referral).
    pub(crate) alerts: Vec<String>,
}

/// The colour of the verdict box: no measure with an alert is not the calm green of 无需管控.
pub(crate) fn measure_class(c: &Classification) -> &'static str {
    match c.measure {
        Measure::CentralizedQuarantine => "centralized",
        Measure::HomeQuarantine => "home",
        Measure::HealthMonitoring => "monitoring",
        Measure::None if c.fever_alert => "alerted",
        Measure::None => "none",
    }
}

impl Verdict {
    /// For the resident's receipt: the alert is raised when a worker confirms the declaration,
    /// so the resident is told where to go rather than that an alert went out.
    pub(crate) fn for_resident(c: &Classification) -> Verdict {
        Verdict {
            headline: c.headline_for_resident(),
            alerts: c.alerts.iter().map(|a| a.advice_zh()).collect(),
            ..Verdict::of(c)
        }
    }

    pub(crate) fn of(c: &Classification) -> Verdict {
        Verdict {
            headline: c.headline(),
            alerts: c.alerts.iter().map(|a| a.message.clone()).collect(),
            measure: c.measure.label_zh(),
            measure_class: measure_class(c),
            none: c.measure == Measure::None,
            days: c.days_total,
            start: format_date(c.start),
            until: format_date(c.until),
            check_ins_per_day: c.check_ins_per_day,
            stages: c
                .stages
                .iter()
                .map(|s| StageRow {
                    label: s.measure.label_zh(),
                    days: s.days,
                    start: format_date(s.start),
                    until: format_date(s.until),
                })
                .collect(),
            explanation: pieces(&c.explanation),
            fever_alert: c.fever_alert,
        }
    }
}

async fn public_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(retry) = limits.post_per_address.hit(&ip) {
        tracing::warn!(%ip, "declaration form: rate limit per address");
        return too_many(retry);
    }
    let link = match declarations::link_for_token(&state.db, &token).await {
        Ok(l) => l,
        Err(StoreError::NotFound) => return link_gone(),
        Err(e) => return store_error_page(e),
    };
    if let Err(retry) = limits.post_per_link.hit(&token) {
        tracing::warn!(link = link.id, "declaration form: rate limit per link");
        return too_many(retry);
    }
    let f = ArrivalFields::from_pairs(pairs);
    match declarations::submit(&state.db, &token, &f.input(), Some(&ip), now_ms()).await {
        Ok(receipt) => {
            let page = ReceiptPage {
                place: link.node_name,
                name: f.name.trim().to_owned(),
                reference: receipt.reference,
                verdict: receipt.preliminary.as_ref().map(Verdict::for_resident),
            };
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], page).into_response()
        }
        Err(StoreError::Invalid(errors)) => render_form(
            token,
            link.node_name,
            f,
            FieldErrors(errors.into_iter().map(|e| (e.field, e.message)).collect()),
        ),
        Err(StoreError::NotFound) => link_gone(),
        Err(e) => store_error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symptoms_typed_freely_are_split() {
        let f = ArrivalFields {
            symptoms: vec!["咳嗽".into()],
            symptoms_other: "头痛，流涕".into(),
            ..ArrivalFields::default()
        };
        assert_eq!(f.input().symptoms, vec!["咳嗽", "头痛", "流涕"]);
    }
}
