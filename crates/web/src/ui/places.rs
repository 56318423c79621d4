//! Places by name: the picker every form that asks for a place shows (a text box taking a
//! name, pinyin, initials or a code, with a list of suggestions and, for an ambiguous name, the
//! candidates to choose from — all without JavaScript), `GET /api/v1/places` for the little
//! script that suggests counties as one types, and the names pages print. The rules (the
//! table, search, resolution) are `linli_core::kernel::division`.

use std::sync::OnceLock;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use linli_core::kernel::division::{self, Division, DivisionKind, ResolveError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_places))
}

/// The picker's script (the picker works without it).
pub fn router() -> Router<AppState> {
    Router::new().route("/static/places.js", get(script))
}

async fn script() -> axum::response::Response {
    super::shell::static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/places.js"),
    )
}

/// How the picker and the pages write a place: 「云南省昆明市（530100）」. The picker's list
/// offers these, and they resolve back to their code.
pub fn labelled(d: &Division) -> String {
    format!("{}（{}）", d.full_name(), d.code)
}

/// A stored code as pages print it: 「云南省昆明市（530100）」, a street by its county
/// (「湖北省武汉市洪山区（街道 420111001）」), a code the table does not know as itself.
pub fn place_label(code: &str) -> String {
    match division::get(code.trim()) {
        Some(d) => labelled(d),
        None => division::describe(code),
    }
}

/// The suggestions every picker offers without a script: the provinces and prefectures
/// (about 370; counties are found by typing their name, or suggested by the script).
fn suggestions() -> &'static [String] {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        division::table()
            .iter()
            .filter(|d| {
                !d.is_retired()
                    && matches!(d.kind, DivisionKind::Province | DivisionKind::Prefecture)
            })
            .map(labelled)
            .collect()
    })
}

/// One candidate of an ambiguous name, as a radio button.
pub struct Candidate {
    pub code: &'static str,
    pub label: String,
}

/// A place field of a form, as the template `ui/place_picker.html` shows it.
pub struct PlacePicker {
    /// The form field: `origin_code`, `division_code`.
    pub field: &'static str,
    pub label: &'static str,
    /// What was typed (or the code chosen).
    pub value: String,
    /// What the value reads as, when it resolves: 「云南省昆明市（530100）」.
    pub named: String,
    /// An ambiguous name's candidates, posted back as `{field}_pick`.
    pub candidates: Vec<Candidate>,
    pub options: &'static [String],
    pub invalid: bool,
}

impl PlacePicker {
    pub fn new(field: &'static str, label: &'static str, value: &str) -> PlacePicker {
        let typed = value.trim();
        let (named, candidates) = match division::resolve(typed) {
            Ok(d) if typed.bytes().all(|b| b.is_ascii_digit()) || !typed.contains(d.code) => {
                (labelled(d), Vec::new())
            }
            // The value is already the label: nothing to add.
            Ok(_) => (String::new(), Vec::new()),
            Err(ResolveError::Ambiguous { candidates, .. }) => (
                String::new(),
                candidates
                    .into_iter()
                    .map(|h| Candidate {
                        code: h.division.code,
                        label: format!("{}（{}）", h.full_name, h.division.code),
                    })
                    .collect(),
            ),
            Err(_) => (String::new(), Vec::new()),
        };
        PlacePicker {
            field,
            label,
            value: value.to_owned(),
            named,
            candidates,
            options: suggestions(),
            invalid: false,
        }
    }

    /// Marks the field as refused (`aria-invalid`).
    pub fn invalid(mut self, invalid: bool) -> PlacePicker {
        self.invalid = invalid;
        self
    }
}

/// The place a form asks for: the candidate chosen (`{field}_pick`) when there is one, else
/// what was typed.
pub fn chosen(typed: &mut String, pick: &str) {
    if !pick.trim().is_empty() {
        *typed = pick.trim().to_owned();
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PlacesQuery {
    /// A name, full name, pinyin, initials or code: 「昆明」, 「kunming」, 「km」, 「530100」.
    pub q: Option<String>,
    /// Instead of `q`: the divisions directly under this code (`110000` gives Beijing's
    /// districts).
    pub parent: Option<String>,
    /// At most this many (default 12, at most 50).
    pub limit: Option<usize>,
}

/// One division.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceOut {
    /// Six digits.
    pub code: String,
    /// 「五华区」
    pub name: String,
    /// 「云南省昆明市五华区」
    pub full_name: String,
    /// `province`, `prefecture` or `county`.
    pub level: &'static str,
    pub parent: Option<String>,
    /// One syllable per character: 「wu hua qu」.
    pub pinyin: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlacesOut {
    pub items: Vec<PlaceOut>,
}

fn place_out(d: &Division, full_name: String) -> PlaceOut {
    PlaceOut {
        code: d.code.to_owned(),
        name: d.name.to_owned(),
        full_name,
        level: match d.kind {
            DivisionKind::Province => "province",
            DivisionKind::Prefecture | DivisionKind::Grouping => "prefecture",
            DivisionKind::County => "county",
        },
        parent: d
            .parent
            .and_then(division::get)
            // The statistical grouping (北京市市辖区) is looked through, as in names.
            .map(|p| {
                if p.kind == DivisionKind::Grouping {
                    p.parent.unwrap_or(p.code)
                } else {
                    p.code
                }
            })
            .map(str::to_owned),
        pinyin: d.pinyin.to_owned(),
    }
}

/// Places (GB/T 2260 divisions) by name, pinyin, initials or code, best first; or the children
/// of a division. Public reference data: no sign-in needed (the residents' declaration form
/// uses it too), and nothing about any person.
#[utoipa::path(get, path = "/api/v1/places", tag = "places", params(PlacesQuery),
    responses((status = 200, body = PlacesOut)))]
async fn list_places(Query(q): Query<PlacesQuery>) -> Json<PlacesOut> {
    let limit = q.limit.unwrap_or(12).clamp(1, 50);
    let items = match (q.parent.as_deref().map(str::trim), q.q.as_deref()) {
        (Some(parent), _) if !parent.is_empty() => division::children(parent)
            .into_iter()
            .take(limit)
            .map(|d| place_out(d, d.full_name()))
            .collect(),
        (_, Some(text)) => {
            let text = text.trim();
            let by_code = division::get(text).filter(|_| text.len() == 6);
            match by_code {
                Some(d) => vec![place_out(d, d.full_name())],
                None => division::search(text, limit)
                    .into_iter()
                    .map(|h| place_out(h.division, h.full_name))
                    .collect(),
            }
        }
        _ => Vec::new(),
    };
    Json(PlacesOut { items })
}
