//! Signing in and out of the HTML app.

use crate::auth::{self, ClientIp, CsrfForm};
use crate::ui::{store_error_page, Empty};
use crate::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use linli_store::accounts::LoginError;
use linli_store::infra::secret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after login: one leading `/` and then no second `/` or
/// `\` right after it, and no whitespace or control character anywhere — browsers drop tabs and
/// newlines from URLs, so `/\t/evil.example` would become `//evil.example`, another host (and a
/// newline cannot go in a `Location` header at all).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with(['/', '\\'])
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: String,
    username: String,
    error: Option<String>,
) -> Response {
    // Login CSRF: a random value in a SameSite=Strict cookie and in the form must agree.
    let csrf = secret::random_token(16);
    let cookie = auth::set_cookie(
        auth::LOGIN_CSRF_COOKIE,
        &csrf,
        Some(3600),
        "Strict",
        state.config.secure_cookies,
    );
    let page = LoginPage {
        csrf,
        next,
        username,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login_form(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_page(
        &state,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        String::new(),
        None,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let cookie_csrf = auth::cookie(&headers, auth::LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cookie_csrf.is_empty() || !secret::constant_time_eq(cookie_csrf, &form.csrf) {
        let msg = "登录表单已过期，请重新输入。".to_owned();
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            next,
            form.username,
            Some(msg),
        );
    }
    match auth::sign_in(&state, &ip, &headers, &form.username, &form.password).await {
        Ok((_, cookie)) => {
            let clear = auth::set_cookie(
                auth::LOGIN_CSRF_COOKIE,
                "",
                Some(0),
                "Strict",
                state.config.secure_cookies,
            );
            let mut resp = Redirect::to(&next).into_response();
            for c in [cookie, clear] {
                if let Ok(v) = c.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(LoginError::BadCredentials) => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            next,
            form.username,
            Some("用户名或密码错误。".to_owned()),
        ),
        Err(LoginError::Throttled { retry_after_s }) => login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            form.username,
            Some(format!(
                "登录失败次数过多，请 {} 分钟后再试。",
                (retry_after_s + 59) / 60
            )),
        ),
        Err(LoginError::Store(e)) => store_error_page(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    f: CsrfForm<Empty>,
) -> Response {
    let _ = f.form;
    match auth::sign_out(&state, &ip, &headers).await {
        Ok(clear) => ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response(),
        Err(e) => store_error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/nodes/3")), "/nodes/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        // Issue 24, finding 3: what browsers strip or cannot carry in a header.
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/x")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
        assert_eq!(safe_next(Some("/\u{3000}/x")), "/");
        assert_eq!(
            safe_next(Some("/nodes/3?tab=people")),
            "/nodes/3?tab=people"
        );
        assert_eq!(safe_next(None), "/");
    }
}
