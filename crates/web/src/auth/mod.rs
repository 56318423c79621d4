//! Who is calling: session cookies and bearer tokens, resolved once per request into a
//! `Principal` (account + scope); CSRF checks for HTML forms; the client's address.

use linli_core::kernel::clock::now_ms;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_client_ip::RightmostXForwardedFor;
use linli_store::accounts::{self, Principal};
use linli_store::infra::secret::constant_time_eq;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

pub mod names;

pub const SESSION_COOKIE: &str = "linli_session";
pub const LOGIN_CSRF_COOKIE: &str = "linli_login_csrf";

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite, path /, Secure when served over TLS.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: Option<i64>,
    same_site: &str,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age_s {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Signs in with a name and a password (the login form, the API): the new session and the
/// `Set-Cookie` that carries it.
pub async fn sign_in(
    state: &AppState,
    ip: &str,
    headers: &HeaderMap,
    username: &str,
    password: &str,
) -> Result<(accounts::NewSession, String), accounts::LoginError> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let session = accounts::login(&state.db, username, password, ip, ua, now_ms()).await?;
    let cookie = set_cookie(
        SESSION_COOKIE,
        &session.token,
        Some(accounts::SESSION_MAX_MS / 1000),
        "Lax",
        state.config.secure_cookies,
    );
    Ok((session, cookie))
}

/// Ends the session of the cookie sent, if there is one: the `Set-Cookie` that clears it.
pub async fn sign_out(
    state: &AppState,
    ip: &str,
    headers: &HeaderMap,
) -> Result<String, linli_store::StoreError> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        accounts::logout(&state.db, token, ip, now_ms()).await?;
    }
    Ok(set_cookie(
        SESSION_COOKIE,
        "",
        Some(0),
        "Lax",
        state.config.secure_cookies,
    ))
}

/// The caller's address: the peer, or — when Linli is configured to sit behind one trusted
/// proxy — the rightmost `X-Forwarded-For` hop, the one that proxy appended. The leftmost hops
/// are whatever the client chose to send, so trusting them would let anyone pick the address
/// that rate limits and the audit log see.
pub async fn client_ip(parts: &mut Parts, trust_forwarded: bool) -> String {
    if trust_forwarded {
        if let Ok(RightmostXForwardedFor(ip)) =
            RightmostXForwardedFor::from_request_parts(parts, &()).await
        {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The address of the caller, as an extractor.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            client_ip(parts, state.config.trust_forwarded_for).await,
        ))
    }
}

/// Resolves the caller once per request (the result is kept in the request's extensions).
async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Option<Arc<Principal>>, ApiError> {
    if let Some(p) = parts.extensions.get::<Option<Arc<Principal>>>() {
        return Ok(p.clone());
    }
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let principal = match (bearer, cookie(&parts.headers, SESSION_COOKIE)) {
        (Some(token), _) => accounts::principal_for_token(&state.db, token, now_ms()).await?,
        (None, Some(token)) => accounts::principal_for_session(&state.db, token, now_ms()).await?,
        (None, None) => None,
    };
    let principal = principal.map(Arc::new);
    parts.extensions.insert(principal.clone());
    Ok(principal)
}

/// A signed-in caller of the JSON API; 401 otherwise.
pub struct ApiUser(pub Arc<Principal>);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, state)
            .await?
            .map(ApiUser)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// A signed-in caller of an HTML page (session cookie only); redirected to the login page
/// otherwise.
pub struct PageUser(pub Arc<Principal>);

pub enum PageRejection {
    Login(String),
    Error(ApiError),
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        match self {
            PageRejection::Login(next) => {
                Redirect::to(&format!("/login?next={}", crate::ui::url_encode(&next)))
                    .into_response()
            }
            PageRejection::Error(e) => crate::ui::error_page(e.status, &e.message),
        }
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageRejection;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path().to_owned();
        match resolve(parts, state).await {
            Ok(Some(p)) if p.csrf_token.is_some() => Ok(PageUser(p)),
            Ok(_) => Err(PageRejection::Login(next)),
            Err(e) => Err(PageRejection::Error(e)),
        }
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// An HTML form post from a signed-in user whose `csrf` field matches their session's token.
/// Every form handler takes its fields through this, so none can skip the check.
pub struct CsrfForm<T> {
    pub user: Arc<Principal>,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let PageUser(user) = PageUser::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let given: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| crate::ui::error_page(StatusCode::BAD_REQUEST, "表单无法解析"))?;
        if !csrf_ok(&user, &given.csrf) {
            return Err(csrf_refused());
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            crate::ui::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("表单字段有误：{e}"),
            )
        })?;
        Ok(CsrfForm { user, form })
    }
}

/// Whether a form's `csrf` field carries the session's CSRF token: the one check behind
/// `CsrfForm` and the multipart forms (roster upload, request photos), which read their fields
/// themselves.
pub fn csrf_ok(user: &Principal, given: &str) -> bool {
    let expected = user.csrf_token.as_deref().unwrap_or_default();
    !expected.is_empty() && constant_time_eq(given, expected)
}

/// The page a form with a wrong or missing CSRF token gets.
pub fn csrf_refused() -> Response {
    crate::ui::error_page(
        StatusCode::FORBIDDEN,
        "表单已过期或来源不明（CSRF 校验失败），请返回刷新后重试。",
    )
}
