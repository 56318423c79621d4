//! Issue 24's findings, each pinned by the request that exposed it: what a probe of the running
//! server could do before the fix, and must not do again.

use crate::support::*;

use linli_core::Scope;
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::testing::TestDb;
use linli_store::{Db, Page};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A community with one grid, its staff, an admin, and a person registered in the grid.
struct World {
    grid: i64,
    staff: i64,
    admin: i64,
    person: i64,
}

async fn world(db: &Db) -> World {
    let Town { community, .. } = town(db).await;
    let grid = node(db, Some(community.id), "grid", "一网格", Some("G1")).await;
    let staff = user(db, "staff", "staff", &[community.id]).await;
    let admin = user(db, "admin", "admin", &[]).await;
    let id = id_number("53340119800101001");
    let person = person(
        db,
        grid.id,
        linli_core::registry::PersonInput {
            name: "王五",
            id_number: Some(&id),
            phone: Some("13800000001"),
            ..Default::default()
        },
    )
    .await;
    let person = person.id;
    World {
        grid: grid.id,
        staff,
        admin,
        person,
    }
}

async fn audit_of(db: &Db, action: &str) -> Vec<audit::AuditRecord> {
    audit::list(
        db,
        &Scope::operator(),
        &AuditFilter {
            action_prefix: Some(action.into()),
            ..AuditFilter::default()
        },
        Page::new(None, None),
    )
    .await
    .unwrap()
}

/// Finding 3: `next=/%09/evil.example` redirected to `/\t/evil.example`, which browsers read as
/// `//evil.example`; `next=/%0a/x` gave a 500.
async fn login_redirects_stay_on_site(t: TestDb) {
    let app = spawn(t).await;
    world(&app.t.db).await;
    for next in [
        "/%09/evil.example",
        "/%0a/x",
        "/%20/evil.example",
        "//evil.example",
    ] {
        let c = client();
        let (status, page) = get(&c, app.url(&format!("/login?next={next}"))).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        assert!(page.contains(r#"name="next" value="/""#), "{next}");
    }
    for next in ["/\t/evil.example", "/\n/x", "/\\evil.example"] {
        let c = client();
        let (_, page) = get(&c, app.url("/login")).await;
        let (status, location) = post_form(
            &c,
            app.url("/login"),
            &[
                ("username", "staff"),
                ("password", PASSWORD),
                ("csrf", &csrf_in(&page)),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "{next:?}"
        );
    }
    app.finish().await;
}

/// Finding 4: a session changed its own password without the current one, so a stolen cookie
/// or token became a permanent takeover.
async fn own_password_needs_the_current_one(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let staff = api_login(&app, "staff").await;
    let url = app.url(&format!("/api/v1/users/{}/password", w.staff));
    let put = |body: Value| staff.put(&url).json(&body).send();

    let r = put(json!({"password": "taken-over-1"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "current_password");
    let r = put(json!({"password": "taken-over-1", "current_password": "a-guess-1"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Neither attempt changed anything: the old password still signs in.
    api_login(&app, "staff").await;
    let failed = audit_of(&app.t.db, "user.password.failed").await;
    assert_eq!(failed.len(), 1, "the wrong guess is audited");

    // Nor can an admin's session skip the check for itself, through the reset either.
    let admin = api_login(&app, "admin").await;
    let r = admin
        .put(app.url(&format!("/api/v1/users/{}/password", w.admin)))
        .json(&json!({"password": "taken-over-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The admin resets someone else's without it.
    let r = admin
        .put(&url)
        .json(&json!({"password": "reset-by-admin-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // With the right current password the owner changes it, and every session ends.
    let staff = client();
    let r = send_json(
        &staff,
        app.url("/api/v1/session"),
        &json!({"username": "staff", "password": "reset-by-admin-1"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = staff
        .put(&url)
        .json(&json!({"password": "my-own-pass-2", "current_password": "reset-by-admin-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = get_json(&staff, app.url("/api/v1/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

/// Finding 6: a NUL byte in search, login, forms or notes gave a 500 on PostgreSQL (and was
/// stored on SQLite). Now every route refuses it with 422 and the field at fault.
async fn nul_bytes_are_refused_with_the_field(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let anon = client();
    let r = send_json(
        &anon,
        app.url("/api/v1/session"),
        &json!({"username": "staff\u{0}", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "username");

    let staff = api_login(&app, "staff").await;
    let (status, body) = get_json(&staff, app.url("/api/v1/persons?q=%E7%8E%8B%00")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "q");
    let r = staff
        .patch(app.url(&format!("/api/v1/persons/{}", w.person)))
        .json(&json!({"name": "王\u{0}五"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A page form too (the login form, before any session).
    let c = client();
    let (_, page) = get(&c, app.url("/login")).await;
    let (status, _) = post(
        &c,
        app.url("/login"),
        &[
            ("username", "st\0aff"),
            ("password", PASSWORD),
            ("csrf", &csrf_in(&page)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was stored: the person's record is as registered.
    let (status, person) =
        get_json(&staff, app.url(&format!("/api/v1/persons/{}", w.person))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!person.to_string().contains("\\u0000"), "{person}");
    let _ = w.grid;
    app.finish().await;
}

/// Finding 9: unmask answers could be kept by a browser or proxy cache.
async fn unmasked_answers_are_not_cached(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let staff = api_login(&app, "staff").await;
    let r = send_json(
        &staff,
        app.url(&format!("/api/v1/persons/{}/unmask", w.person)),
        &json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["phone"], "13800000001");
    // The stylesheet, which holds nothing personal, may still be cached.
    let r = client()
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()["cache-control"], "no-store");
    app.finish().await;
}

/// Finding 9: staff created catalogue items that the docs reserve for admins.
async fn only_admins_define_supply_items(t: TestDb) {
    let app = spawn(t).await;
    world(&app.t.db).await;
    let item = json!({"name": "防护面屏", "unit": "个", "category": "protective"});
    let staff = api_login(&app, "staff").await;
    let (status, _) = post_json(&staff, app.url("/api/v1/supplies/items"), item.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = api_login(&app, "admin").await;
    let (status, made) = post_json(&admin, app.url("/api/v1/supplies/items"), item).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(made["name"], "防护面屏");
    app.finish().await;
}

/// Finding 9: behind a proxy the leftmost `X-Forwarded-For` hop (the client's own words) was
/// taken as its address, so it could dodge rate limits and put any address in the audit log.
async fn the_rightmost_forwarded_hop_is_the_address(t: TestDb) {
    let config = linli_web::WebConfig {
        trust_forwarded_for: true,
        ..Default::default()
    };
    let app = spawn_with(t, config).await;
    world(&app.t.db).await;
    for spoofed in ["1.1.1.1", "2.2.2.2"] {
        let r = client()
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", format!("{spoofed}, 10.9.8.7"))
            .json(&json!({"username": "staff", "password": "wrong-pass-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let failed = audit_of(&app.t.db, "login.failed").await;
    let ips: Vec<_> = failed.iter().map(|e| e.ip.as_deref()).collect();
    assert_eq!(ips, [Some("10.9.8.7"), Some("10.9.8.7")]);
    app.finish().await;
}

/// Finding 7: five wrong passwords from anywhere locked the account for everyone.
async fn a_guesser_does_not_lock_the_owner_out(t: TestDb) {
    let app = spawn_with(
        t,
        linli_web::WebConfig {
            trust_forwarded_for: true,
            ..Default::default()
        },
    )
    .await;
    world(&app.t.db).await;
    let login = |from: &'static str, password: &'static str| {
        client()
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", from)
            .json(&json!({"username": "staff", "password": password}))
            .send()
    };
    for _ in 0..6 {
        login("203.0.113.9", "guess-guess-1").await.unwrap();
    }
    let r = login("203.0.113.9", PASSWORD).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser waits"
    );
    let r = login("198.51.100.7", PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the owner, elsewhere, does not");
    app.finish().await;
}

on_both!(login_redirects, login_redirects_stay_on_site);
on_both!(own_password, own_password_needs_the_current_one);
on_both!(nul_bytes, nul_bytes_are_refused_with_the_field);
on_both!(no_store, unmasked_answers_are_not_cached);
on_both!(supply_items, only_admins_define_supply_items);
on_both!(forwarded_for, the_rightmost_forwarded_hop_is_the_address);
on_both!(lockout, a_guesser_does_not_lock_the_owner_out);
