//! Text that no database can store: the NUL character (U+0000). PostgreSQL refuses it in text
//! columns (SQLite keeps it), so one stray `%00` or `\u0000` in a search, a login or a note would
//! end in a 500 on one database and in stored garbage on the other. It is refused here, for
//! every route, before any handler runs, with the field that carried it.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Bodies read whole by this check: the same bound as every small body (roster uploads and
/// photos are multipart and checked field by field by their own readers).
const MAX_CHECKED_BODY: usize = 2 * 1024 * 1024;

/// The message for a field carrying a NUL.
pub fn nul_message(field: &str) -> String {
    format!("「{field}」含有空字符（U+0000），请删除后重试")
}

/// The first name or value among `pairs` that contains a NUL: the field to blame.
pub fn nul_field<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    pairs
        .into_iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| if k.contains('\0') { "?" } else { k })
}

fn refuse(field: &str) -> Response {
    ApiError::invalid(field, nul_message(field)).into_response()
}

/// In a urlencoded query or form, the field whose name or value decodes to a NUL.
fn urlencoded_nul(raw: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).ok()?;
    nul_field(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map(str::to_owned)
}

/// In a JSON document, the dotted path of the first string (or key) holding a NUL.
fn json_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_nul(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(at)
            } else {
                json_nul(v, &at)
            }
        }),
        _ => None,
    }
}

/// The middleware: refuses a request whose path, query, urlencoded form or JSON body holds a
/// NUL, with 422 and the field at fault.
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    if req.uri().path().contains("%00") {
        return refuse("path");
    }
    if let Some(field) = req.uri().query().and_then(|q| urlencoded_nul(q.as_bytes())) {
        return refuse(&field);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let json = content_type.starts_with("application/json");
    if !form && !json {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_CHECKED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "请求内容超过 2 MB 上限",
            )
            .into_response()
        }
    };
    let field = if form {
        urlencoded_nul(&bytes)
    } else if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        // Only a document that spells the escape is parsed, to name the field.
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| json_nul(&v, ""))
    } else {
        None
    };
    if let Some(field) = field {
        return refuse(if field.is_empty() { "body" } else { &field });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_holding_a_nul_is_named() {
        assert_eq!(urlencoded_nul(b"q=ab%00c&x=1").as_deref(), Some("q"));
        assert_eq!(urlencoded_nul(b"q=abc&note=%00").as_deref(), Some("note"));
        assert_eq!(
            urlencoded_nul(b"q=abc%2500"),
            None,
            "an escaped percent is no NUL"
        );
        let doc = serde_json::json!({"a": "ok", "b": {"c": ["x", "y\u{0}"]}});
        assert_eq!(json_nul(&doc, "").as_deref(), Some("b.c[1]"));
        assert_eq!(json_nul(&serde_json::json!({"a": "\\u0000"}), ""), None);
    }
}
