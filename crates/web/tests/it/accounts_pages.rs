//! The accounts page as an admin reads it: its title is the page's name, and the key-group tag
//! form appears once, in the page (it once sat inside `<title>` as well, CSRF token and all).

use crate::support::*;

use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    town(&db).await;
    user(&db, "admin", "admin", &[]).await;
    let (admin, _) = sign_in(&app, "admin").await;
    let (status, html) = get(&admin, app.url("/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(between(&html, "<title>", "</title>"), "账号管理 · 邻里");
    assert_eq!(html.matches("action=\"/tags\"").count(), 1, "{html}");
    app.finish().await;
}

on_both!(users_page, flow);
