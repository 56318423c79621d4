//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>): request categories as
//! services, and service requests filed into (and read from) the node an API key is bound to.
//! Both formats, chosen by the resource's extension: `.json` and `.xml` (written by hand, with
//! escaping). Errors are what the spec says: an array of `{code, description}` (`<errors>` in
//! XML) with the same HTTP status.
//!
//! - `GET  /open311/v2/services.{fmt}` and `/services/{service_code}.{fmt}`: public.
//! - `POST /open311/v2/requests.{fmt}`: form-encoded, `api_key` required.
//! - `GET  /open311/v2/requests.{fmt}` and `/requests/{id}.{fmt}` **without** `api_key` (the
//!   spec's GET calls take none, so standard clients send none): the public, redacted view of
//!   the requests of every node whose public reading is on (the default; a node setting turns
//!   it off, see `store::requests::Open311Setting`): status, service, times, the address at
//!   building level, coordinates to about 11 m, the agency and its public response; never the
//!   reporter's name or phone, nor the photo, and the description only where the community
//!   publishes descriptions. A request of a node whose reading is off answers 404 as if it did
//!   not exist. Not audited (nothing personal); rate-limited per client address, as the other
//!   keyless calls (services) are.
//! - The same GETs **with** `api_key`, and `/tokens/{token}.{fmt}` (key required): the full
//!   view of the key's node, every read audited, as before. A wrong key is refused (403), never
//!   served the public view.
//!
//! Linli's states map onto the spec's two: `closed` once closed, `open` before. The
//! `service_request_id` is the request's 14-digit tracking number.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use linli_core::kernel::clock::{now_ms, parse_instant, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::open311::list_values;
use linli_core::requests::{RequestDraft, RequestInput};
use linli_store::requests::{self, ApiKey, Category, Open311Filter, PublicRequest, Request};
use linli_store::StoreError;

use crate::auth::ClientIp;
use crate::ui::{self, RateLimiter};
use crate::AppState;

/// The longest description the spec allows.
const MAX_DESCRIPTION: usize = 4000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{resource}", get(get_root).post(post_root))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(get_request))
        .route("/open311/v2/tokens/{file}", get(get_token))
        .layer(Extension(Arc::new(Limits::default())))
}

/// The keyless calls per client address: 120 per 10 minutes, twice a public page's 60 since
/// a client reads the services and then the requests, and pages through them by date.
struct Limits {
    keyless_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            keyless_per_address: RateLimiter::new(120, Duration::from_secs(600)),
        }
    }
}

/// Counts a keyless call from `ip`: `None` when allowed, else the spec's error document with
/// 429 and `Retry-After`.
fn keyless_refusal(limits: &Limits, ip: &str, format: Format) -> Option<Response> {
    let retry = limits.keyless_per_address.hit(ip).err()?;
    tracing::warn!(%ip, "open311: rate limit per address");
    Some(ui::too_many(retry, |minutes| {
        error(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests from this address: retry in {minutes} minutes"),
        )
    }))
}

/// The key a GET names: `None` without one (the public view), the key, or the refusal of a
/// key that is not live.
async fn optional_key(
    state: &AppState,
    format: Format,
    q: &HashMap<String, String>,
) -> Result<Option<ApiKey>, Response> {
    match q.get("api_key").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(raw) => key_of(state, format, Some(raw)).await.map(Some),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// Splits `name.json` / `name.xml` into the name and the format.
fn split_format(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    (!name.is_empty()).then_some((name, format))
}

// ---------------------------------------------------------------------------------------------
// Output: one small value tree written as JSON or XML

/// A value as the spec's documents hold them.
enum V {
    Str(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    Null,
    /// An element with named children (a JSON object).
    Obj(Vec<(&'static str, V)>),
    /// Repeated elements named `item` inside (a JSON array).
    List(&'static str, Vec<V>),
}

fn s(v: impl Into<String>) -> V {
    V::Str(v.into())
}

fn opt(v: Option<String>) -> V {
    v.map_or(V::Null, V::Str)
}

fn json_of(v: &V) -> serde_json::Value {
    match v {
        V::Str(x) => serde_json::Value::String(x.clone()),
        V::Int(x) => serde_json::json!(x),
        V::Num(x) => serde_json::json!(x),
        V::Bool(x) => serde_json::Value::Bool(*x),
        V::Null => serde_json::Value::Null,
        V::Obj(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json_of(v)))
                .collect(),
        ),
        V::List(_, items) => serde_json::Value::Array(items.iter().map(json_of).collect()),
    }
}

/// Escapes text for XML content, dropping characters XML 1.0 cannot hold.
pub fn xml_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn xml_into(out: &mut String, name: &str, v: &V) {
    match v {
        V::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        V::Str(x) => {
            out.push_str(&format!("<{name}>{}</{name}>", xml_escape(x)));
        }
        V::Int(x) => out.push_str(&format!("<{name}>{x}</{name}>")),
        V::Num(x) => out.push_str(&format!("<{name}>{x}</{name}>")),
        V::Bool(x) => out.push_str(&format!("<{name}>{x}</{name}>")),
        V::Obj(fields) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in fields {
                xml_into(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        V::List(item, items) => {
            out.push_str(&format!("<{name}>"));
            for v in items {
                xml_into(out, item, v);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// Renders `v` (the XML root element named `root`) with `status`.
fn render(format: Format, status: StatusCode, root: &str, v: &V) -> Response {
    match format {
        Format::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            json_of(v).to_string(),
        )
            .into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            xml_into(&mut out, root, v);
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                out,
            )
                .into_response()
        }
    }
}

/// The spec's error document: `[{code, description}]` / `<errors><error>…`.
fn error(format: Format, status: StatusCode, description: impl Into<String>) -> Response {
    let v = V::List(
        "error",
        vec![V::Obj(vec![
            ("code", V::Int(i64::from(status.as_u16()))),
            ("description", s(description)),
        ])],
    );
    render(format, status, "errors", &v)
}

fn store_error(format: Format, e: StoreError) -> Response {
    match e {
        StoreError::NotFound => error(format, StatusCode::NOT_FOUND, "not found"),
        StoreError::Invalid(errs) => error(
            format,
            StatusCode::BAD_REQUEST,
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        StoreError::Forbidden(m) => error(format, StatusCode::FORBIDDEN, m),
        other => {
            tracing::error!(error = %other, "open311: internal error");
            error(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                "General service error",
            )
        }
    }
}

/// A bad extension: the format is unknown, so the error is in XML (the spec's required one).
fn no_such_resource() -> Response {
    error(
        Format::Xml,
        StatusCode::NOT_FOUND,
        "unknown resource: use .json or .xml",
    )
}

// ---------------------------------------------------------------------------------------------
// Services

fn service(c: &Category) -> V {
    V::Obj(vec![
        ("service_code", s(c.rule.code.clone())),
        ("service_name", s(c.rule.name.clone())),
        ("description", s(c.rule.description.clone())),
        ("metadata", V::Bool(false)),
        ("type", s("realtime")),
        ("keywords", s("")),
        ("group", s("接诉即办")),
    ])
}

async fn services(state: &AppState, format: Format) -> Response {
    match requests::categories(&state.db).await {
        Ok(cats) => render(
            format,
            StatusCode::OK,
            "services",
            &V::List("service", cats.iter().map(service).collect()),
        ),
        Err(e) => store_error(format, e),
    }
}

async fn service_definition(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
) -> Response {
    let Some((code, format)) = split_format(&file) else {
        return no_such_resource();
    };
    if let Some(r) = keyless_refusal(&limits, &ip, format) {
        return r;
    }
    let cats = match requests::categories(&state.db).await {
        Ok(c) => c,
        Err(e) => return store_error(format, e),
    };
    if !cats.iter().any(|c| c.rule.code == code) {
        return error(
            format,
            StatusCode::NOT_FOUND,
            format!("service_code {code} was not found"),
        );
    }
    // No Linli category asks for extra attributes (metadata is false on every service).
    let v = V::Obj(vec![
        ("service_code", s(code)),
        ("attributes", V::List("attribute", Vec::new())),
    ]);
    render(format, StatusCode::OK, "service_definition", &v)
}

// ---------------------------------------------------------------------------------------------
// Keys

async fn key_of(state: &AppState, format: Format, raw: Option<&str>) -> Result<ApiKey, Response> {
    let Some(raw) = raw.map(str::trim).filter(|k| !k.is_empty()) else {
        return Err(error(
            format,
            StatusCode::FORBIDDEN,
            "api_key was not provided",
        ));
    };
    match requests::api_key(&state.db, raw).await {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(error(format, StatusCode::FORBIDDEN, "Invalid api_key")),
        Err(e) => Err(store_error(format, e)),
    }
}

/// A `{name}.{fmt}` path of one resource and the query's `api_key`: the name, the format and
/// the key, or the answer that refuses them.
async fn named_with_key<'a>(
    state: &AppState,
    file: &'a str,
    q: &HashMap<String, String>,
) -> Result<(&'a str, Format, ApiKey), Response> {
    let Some((name, format)) = split_format(file) else {
        return Err(no_such_resource());
    };
    let key = key_of(state, format, q.get("api_key").map(String::as_str)).await?;
    Ok((name, format, key))
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A request as keyed clients read it: every field of the public view ([`doc`]), the
/// description always, and the photo's address.
fn request_doc(r: &Request) -> V {
    let view = PublicRequest {
        tracking_number: r.tracking_number.clone(),
        status: r.status,
        outcome: r.outcome.clone(),
        category_code: r.category_code.clone(),
        category_name: r.category_name.clone(),
        agency: r
            .department_name
            .clone()
            .unwrap_or_else(|| r.node_name.clone()),
        description: Some(r.description.clone()),
        address: r.address.clone(),
        lat: r.lat,
        long: r.long,
        received_at: r.received_at,
        updated_at: r.updated_at,
        resolve_by: r.resolve_by,
    };
    // The photo's address on this server (relative: the server does not know the name it is
    // reached by); reading it takes a signed-in account of the request's jurisdiction.
    let media_url = if r.has_photo {
        s(format!("/api/v1/requests/{}/photo", r.id))
    } else {
        V::Null
    };
    doc(&view, media_url)
}

fn requests_doc(rs: &[Request]) -> V {
    V::List("request", rs.iter().map(request_doc).collect())
}

/// The public view of a request: what is withheld is null (`description` unless published,
/// `media_url` always) so that clients see one shape.
fn public_request_doc(r: &PublicRequest) -> V {
    doc(r, V::Null)
}

/// One request in GeoReport v2's fields, keyed or public alike.
fn doc(r: &PublicRequest, media_url: V) -> V {
    let status_notes = match (&r.outcome, r.status) {
        (Some(o), _) => o.clone(),
        (None, st) => st.label_zh().to_owned(),
    };
    V::Obj(vec![
        ("service_request_id", s(r.tracking_number.clone())),
        ("status", s(r.status.open311())),
        ("status_notes", s(status_notes)),
        ("service_name", s(r.category_name.clone())),
        ("service_code", s(r.category_code.clone())),
        ("description", opt(r.description.clone())),
        ("agency_responsible", s(r.agency.clone())),
        ("service_notice", s("")),
        ("requested_datetime", s(rfc3339(r.received_at))),
        ("updated_datetime", s(rfc3339(r.updated_at))),
        ("expected_datetime", s(rfc3339(r.resolve_by))),
        ("address", opt(r.address.clone())),
        ("address_id", V::Null),
        ("zipcode", V::Null),
        ("lat", r.lat.map_or(V::Null, V::Num)),
        ("long", r.long.map_or(V::Null, V::Num)),
        ("media_url", media_url),
    ])
}

fn public_requests_doc(rs: &[PublicRequest]) -> V {
    V::List("request", rs.iter().map(public_request_doc).collect())
}

/// `GET /open311/v2/services.{fmt}` and `GET /open311/v2/requests.{fmt}`.
async fn get_root(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match split_format(&resource) {
        Some(("services", format)) => {
            if let Some(r) = keyless_refusal(&limits, &ip, format) {
                return r;
            }
            services(&state, format).await
        }
        Some(("requests", format)) => {
            let key = match optional_key(&state, format, &q).await {
                Ok(k) => k,
                Err(r) => return r,
            };
            if key.is_none() {
                if let Some(r) = keyless_refusal(&limits, &ip, format) {
                    return r;
                }
            }
            list_requests(&state, format, &q, key.as_ref()).await
        }
        Some((_, format)) => error(format, StatusCode::NOT_FOUND, "unknown resource"),
        None => no_such_resource(),
    }
}

/// `key`: the full view of its node; `None`: the public view.
async fn list_requests(
    state: &AppState,
    format: Format,
    q: &HashMap<String, String>,
    key: Option<&ApiKey>,
) -> Response {
    // A bad date is the message of a 400.
    let date = |field: &str| -> Result<Option<i64>, String> {
        match q.get(field).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_instant(field, v)
                .map(Some)
                .map_err(|e| format!("{field}: {}", e.message)),
        }
    };
    let (start, end) = match (date("start_date"), date("end_date")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(m), _) | (_, Err(m)) => return error(format, StatusCode::BAD_REQUEST, m),
    };
    let statuses = match list_values("status", q.get("status").map(String::as_str)) {
        Ok(s) => s,
        Err(m) => return error(format, StatusCode::BAD_REQUEST, m),
    };
    if let Some(bad) = statuses
        .iter()
        .find(|s| !matches!(s.as_str(), "open" | "closed"))
    {
        return error(
            format,
            StatusCode::BAD_REQUEST,
            format!("status {bad} is not open or closed"),
        );
    }
    // Both states asked for is the same as none.
    let status = match statuses.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let list = |field: &str| list_values(field, q.get(field).map(String::as_str));
    let (service_codes, ids) = match (list("service_code"), list("service_request_id")) {
        (Ok(c), Ok(i)) => (c, i),
        (Err(m), _) | (_, Err(m)) => return error(format, StatusCode::BAD_REQUEST, m),
    };
    // One query and one audited read, however many codes were asked for.
    let filter = Open311Filter {
        ids,
        service_codes,
        start,
        end,
        status,
    };
    // Newest first, at most 1000: the store's order and bound.
    let doc = match key {
        Some(key) => requests::open311_list(&state.db, key, &filter, now_ms())
            .await
            .map(|rs| requests_doc(&rs)),
        None => requests::open311_public_list(&state.db, &filter, now_ms())
            .await
            .map(|rs| public_requests_doc(&rs)),
    };
    match doc {
        Ok(doc) => render(format, StatusCode::OK, "service_requests", &doc),
        Err(e) => store_error(format, e),
    }
}

/// `GET /open311/v2/requests/{service_request_id}.{fmt}`.
async fn get_request(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some((id, format)) = split_format(&file) else {
        return no_such_resource();
    };
    let key = match optional_key(&state, format, &q).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    if key.is_none() {
        if let Some(r) = keyless_refusal(&limits, &ip, format) {
            return r;
        }
    }
    let filter = Open311Filter {
        ids: vec![id.to_owned()],
        ..Default::default()
    };
    let found = match &key {
        Some(key) => requests::open311_list(&state.db, key, &filter, now_ms())
            .await
            .map(|rs| (!rs.is_empty()).then(|| requests_doc(&rs))),
        None => requests::open311_public_list(&state.db, &filter, now_ms())
            .await
            .map(|rs| (!rs.is_empty()).then(|| public_requests_doc(&rs))),
    };
    match found {
        Ok(Some(doc)) => render(format, StatusCode::OK, "service_requests", &doc),
        Ok(None) => error(
            format,
            StatusCode::NOT_FOUND,
            format!("service_request_id {id} was not found"),
        ),
        Err(e) => store_error(format, e),
    }
}

/// `GET /open311/v2/tokens/{token}.{fmt}`.
async fn get_token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (token, format, key) = match named_with_key(&state, &file, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match requests::open311_by_token(&state.db, &key, token).await {
        Ok(r) => render(
            format,
            StatusCode::OK,
            "service_requests",
            &V::List(
                "request",
                vec![V::Obj(vec![
                    ("service_request_id", s(r.tracking_number)),
                    ("token", s(token)),
                ])],
            ),
        ),
        Err(StoreError::NotFound) => error(
            format,
            StatusCode::NOT_FOUND,
            format!("token {token} was not found"),
        ),
        Err(e) => store_error(format, e),
    }
}

/// `POST /open311/v2/requests.{fmt}`: a form-encoded service request.
async fn post_root(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let format = match split_format(&resource) {
        Some(("requests", f)) => f,
        Some((_, f)) => return error(f, StatusCode::NOT_FOUND, "unknown resource"),
        None => return no_such_resource(),
    };
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return error(
            format,
            StatusCode::BAD_REQUEST,
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let form: HashMap<String, String> = pairs.into_iter().collect();
    let field = |k: &str| {
        form.get(k)
            .or_else(|| q.get(k))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let key = match key_of(&state, format, field("api_key")).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(code) = field("service_code") else {
        return error(
            format,
            StatusCode::BAD_REQUEST,
            "service_code was not provided",
        );
    };
    let category = match requests::category(&state.db, code, "service_code").await {
        Ok(c) => c,
        Err(StoreError::Invalid(_)) => {
            return error(
                format,
                StatusCode::NOT_FOUND,
                format!("service_code {code} was not found"),
            )
        }
        Err(e) => return store_error(format, e),
    };
    // A bad number is the message of a 400.
    let coordinate = |k: &str| -> Result<Option<f64>, String> {
        match field(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{k} is not a number")),
        }
    };
    let (lat, long) = match (coordinate("lat"), coordinate("long")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(m), _) | (_, Err(m)) => return error(format, StatusCode::BAD_REQUEST, m),
    };
    let address = field("address_string").or(field("address_id"));
    if (lat.is_none() || long.is_none()) && address.is_none() {
        return error(
            format,
            StatusCode::BAD_REQUEST,
            "a location is required: lat and long, address_string or address_id",
        );
    }
    let description = field("description").unwrap_or(category.rule.name.as_str());
    if description.chars().count() > MAX_DESCRIPTION {
        return error(
            format,
            StatusCode::BAD_REQUEST,
            format!("description is longer than {MAX_DESCRIPTION} characters"),
        );
    }
    // Chinese names are family name first.
    let name: String = [field("last_name"), field("first_name")]
        .into_iter()
        .flatten()
        .collect();
    let draft = match RequestDraft::parse(&RequestInput {
        description,
        address,
        lat,
        long,
        reporter_name: Some(name.as_str()),
        reporter_phone: field("phone"),
        phone_required: false,
    }) {
        Ok(d) => d,
        Err(errs) => return store_error(format, StoreError::Invalid(errs)),
    };
    match requests::create_open311(&state.db, &key, &category.rule.code, &draft, now_ms()).await {
        Ok(r) => render(
            format,
            StatusCode::OK,
            "service_requests",
            &V::List(
                "request",
                vec![V::Obj(vec![
                    ("service_request_id", s(r.tracking_number)),
                    ("token", s(r.open311_token)),
                    (
                        "service_notice",
                        s(format!(
                            "已受理，{} 小时内响应，{} 天内办结",
                            category.rule.respond_hours, category.rule.resolve_days
                        )),
                    ),
                    ("account_id", V::Null),
                ])],
            ),
        ),
        Err(e) => store_error(format, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\u{1}e"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;e"
        );
    }

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            split_format("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(split_format("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(split_format("services.html"), None);
        assert_eq!(split_format(".json"), None);
        assert_eq!(split_format("services"), None);
    }
}
