//! Residents' requests over HTTP, against the real server on SQLite and on PostgreSQL: intake,
//! the inbox, the lifecycle step by step with the timeline, refusals (422 naming why, 404
//! outside the jurisdiction), whistles, categories, departments and the rates' exact shape.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::Scope;
use linli_store::accounts::{self};
use linli_store::testing::TestDb;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(app: &App, c: &reqwest::Client, path: &str, body: Value) -> (StatusCode, Value) {
    post_json(c, app.url(path), body).await
}

/// POST one step of a request's lifecycle (`accept`, `start`, `resolve`, …) through the API.
async fn act(c: &Api<'_>, id: i64, step: &str, body: Value) -> (StatusCode, Value) {
    c.post(&format!("/api/v1/requests/{id}/{step}"), body).await
}

async fn api_get(app: &App, c: &reqwest::Client, path: &str) -> (StatusCode, Value) {
    get_json(c, app.url(path)).await
}

async fn the_lifecycle_over_http(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let official = api_as(&app, "official").await;
    let staff_a = api_as(&app, "staff_a").await;
    let staff_b = api_as(&app, "staff_b").await;
    let worker = api_as(&app, "worker").await;

    // Bad intake: every field named, nothing stored.
    let (st, e) = official.post("/api/v1/requests", json!({
        "node_id": w.street.id, "category": "general", "description": " ", "reporter_phone": "12", "lat": 100.0, "long": 1.0
    }))
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = error_fields(&e);
    assert_eq!(fields, ["description", "lat", "reporter_phone"]);
    // An unknown category; a node outside the caller's jurisdiction.
    for (who, node, category, field) in [
        (&official, w.street.id, "nope", "category"),
        (&staff_b, w.community_a.id, "general", "node_id"),
    ] {
        let body = json!({"node_id": node, "category": category, "description": "x"});
        let (st, e) = who.post("/api/v1/requests", body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["fields"][0]["field"], field);
    }

    // The hotline operator at the street records a call.
    let (st, r) = official
        .post(
            "/api/v1/requests",
            json!({
                "node_id": w.street.id, "category": "utilities", "description": "3栋停水一天了",
                "address": "3栋", "reporter_name": "王阿姨", "reporter_phone": "13612348609"
            }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["status"], "received");
    assert_eq!(r["channel"], "hotline");
    assert_eq!(r["reporter_phone"], "136****8609");
    assert_eq!(r["tracking_number"].as_str().unwrap().len(), 14);
    assert!(r["received_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(r["response_late"], false);

    // Community A cannot see it until it is dispatched there.
    assert_eq!(
        staff_a.get(&format!("/api/v1/requests/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, e) = act(&staff_a, id, "accept", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{e}");
    let (st, d) = act(
        &official,
        id,
        "dispatch",
        json!({"node_id": w.community_a.id}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["request"]["status"], "dispatched");
    assert_eq!(d["request"]["node_id"], w.community_a.id);

    // A step the state does not allow: 422 naming why.
    let (st, e) = act(&staff_a, id, "resolve", json!({"outcome": "修好了"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "action");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("不能办结"),
        "{e}"
    );
    let (st, e) = act(&staff_a, id, "return", json!({"reason": ""})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "reason");
    let (st, _) = act(&official, id, "dispatch", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // Staff A sends it to the grid; the grid worker accepts, works, resolves.
    let (st, _) = act(&staff_a, id, "accept", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = act(&worker, id, "start", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "not dispatched to the grid: {e}");
    let (st, _) = act(&staff_a, id, "start", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, d) = act(
        &staff_a,
        id,
        "resolve",
        json!({"outcome": "联系水务所抢修，已恢复供水"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["request"]["status"], "resolved");
    assert_eq!(d["request"]["outcome"], "联系水务所抢修，已恢复供水");

    // The call back: 不满意; reopened; resolved again; 满意 closes it.
    let (st, e) = act(&staff_a, id, "rate", json!({"rating": "great"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "rating");
    let (st, d) = act(
        &staff_a,
        id,
        "rate",
        json!({"rating": "dissatisfied", "comment": "水压还是很低"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["request"]["status"], "rated");
    let (st, _) = act(&worker, id, "reopen", json!({"reason": "x"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, d) = act(&staff_a, id, "reopen", json!({"reason": "水压仍低"})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["request"]["status"], "received");
    assert_eq!(d["request"]["rating"], Value::Null);
    act(&staff_a, id, "dispatch", json!({"node_id": w.grid.id})).await;
    let (st, _) = act(&worker, id, "accept", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = act(&worker, id, "resolve", json!({"outcome": "更换了减压阀"})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = act(&worker, id, "rate", json!({"rating": "satisfied"})).await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "grid workers do not record ratings: {e}"
    );
    let (st, d) = act(&staff_a, id, "rate", json!({"rating": "satisfied"})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["request"]["status"], "closed");
    let kinds: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "dispatched",
            "accepted",
            "started",
            "resolved",
            "rated",
            "reopened",
            "dispatched",
            "accepted",
            "resolved",
            "rated",
            "closed"
        ]
    );
    assert_eq!(d["timeline"][0]["actor"], "official");
    assert_eq!(d["timeline"][1]["label"], "派单");
    assert_eq!(d["timeline"][5]["note"], "水压还是很低");

    // The inbox: "mine" is what I filed or last accepted.
    for (c, n) in [(&official, 1), (&worker, 1), (&staff_a, 0)] {
        let (_, l) = c.get("/api/v1/requests?view=mine").await;
        assert_eq!(l["items"].as_array().unwrap().len(), n);
    }
    let (_, l) = staff_a.get("/api/v1/requests").await;
    assert_eq!(l["items"][0]["id"], id);
    let (_, l) = staff_b.get("/api/v1/requests").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 0);
    let (_, l) = official.get("/api/v1/requests?view=new").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 0);
    let (st, e) = official.get("/api/v1/requests?view=everything").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "view");
    let (st, _) = staff_a
        .get(&format!("/api/v1/requests?node_id={}", w.community_b.id))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(the_lifecycle_over_http, the_lifecycle_over_http);

async fn whistles_rates_and_data(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let official = api_as(&app, "official").await;
    let staff_a = api_as(&app, "staff_a").await;
    let worker = api_as(&app, "worker").await;

    // Departments and categories.
    let (st, _) = staff_a
        .post("/api/v1/departments", json!({"name": "水务所"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, d) = official
        .post("/api/v1/departments", json!({"name": "水务所"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let water = d["id"].as_i64().unwrap();
    let (st, e) = official
        .post("/api/v1/departments", json!({"name": "水务所"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "name");
    let (_, cats) = worker.get("/api/v1/request-categories").await;
    let codes: Vec<&str> = cats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["emergency", "utilities", "general", "complex"]);
    assert_eq!(cats[0]["respond_hours"], 2);
    assert_eq!(cats[3]["resolve_days"], 15);
    let (st, _) = official.post("/api/v1/request-categories", json!({
        "code": "general", "name": "一般诉求", "respond_hours": 12, "resolve_days": 5, "escalation": "never"
    }))
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // A whistle on a request at community A.
    let (_, r) = staff_a.post("/api/v1/requests", json!({
        "node_id": w.community_a.id, "category": "complex", "channel": "patrol", "description": "河道垃圾堆积"
    }))
    .await;
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["channel"], "patrol");
    let (st, _) = act(&worker, id, "whistles", json!({"department_ids": [water]})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, ws) = act(
        &official,
        id,
        "whistles",
        json!({"department_ids": [water]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{ws}");
    assert_eq!(ws[0]["state"], "waiting");
    assert_eq!(ws[0]["department_name"], "水务所");
    let wid = ws[0]["id"].as_i64().unwrap();
    let (st, e) = staff_a
        .post(
            &format!("/api/v1/whistles/{wid}/acknowledge"),
            json!({"response": ""}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "response");
    let (st, a) = official
        .post(
            &format!("/api/v1/whistles/{wid}/acknowledge"),
            json!({"response": "已到场"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(a["state"], "on_time");
    let (st, _) = official
        .post(
            &format!("/api/v1/whistles/{wid}/acknowledge"),
            json!({"response": "again"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, d) = staff_a.get(&format!("/api/v1/requests/{id}")).await;
    assert_eq!(d["whistles"][0]["response"], "已到场");

    // The rates: exactly the contract's keys.
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let (st, rates) = official
        .get(&format!(
            "/api/v1/requests/rates?node_id={}&from={today}&to={today}",
            w.street.id
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{rates}");
    let keys = keys_of(&rates);
    assert_eq!(
        keys,
        [
            "closed",
            "rated",
            "received",
            "resolution_rate",
            "resolved",
            "responded_on_time",
            "response_rate",
            "satisfaction_rate",
            "satisfied"
        ]
    );
    assert_eq!(rates["received"], 1);
    assert_eq!(rates["response_rate"], 0.0);
    assert_eq!(rates["resolution_rate"], Value::Null);
    let (st, e) = official.get("/api/v1/requests/rates?from=2026-13-01").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = error_fields(&e);
    assert_eq!(fields, ["node_id", "from", "to"]);
    let (st, _) = staff_a
        .get(&format!(
            "/api/v1/requests/rates?node_id={}&from={today}&to={today}",
            w.community_b.id
        ))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Every operation is in the OpenAPI document.
    let (_, doc) = official.get("/api/v1/openapi.json").await;
    for p in [
        "/api/v1/requests",
        "/api/v1/requests/{id}",
        "/api/v1/requests/{id}/dispatch",
        "/api/v1/requests/rates",
        "/api/v1/whistles/{id}/acknowledge",
        "/api/v1/request-categories",
        "/api/v1/departments",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p}");
    }
    assert!(doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("/open311")));
    app.t.finish().await;
}

on_both!(whistles_rates_and_data, whistles_rates_and_data);

// ---------------------------------------------------------------------------------------------
// Pages

/// The resident checks request `tracking` with the last four digits of their phone.
async fn check_status(
    c: &reqwest::Client,
    base: &str,
    tracking: &str,
    last4: &str,
) -> (StatusCode, String) {
    let form = [("tracking_number", tracking), ("last4", last4)];
    post_form(c, format!("{base}/r/status"), &form).await
}

/// The resident (phone ending 5678) rates request `tracking`.
async fn rate_it(
    c: &reqwest::Client,
    base: &str,
    tracking: &str,
    rating: &str,
) -> (StatusCode, String) {
    let form = [
        ("tracking_number", tracking),
        ("last4", "5678"),
        ("rating", rating),
    ];
    post_form(c, format!("{base}/r/rate"), &form).await
}

fn tracking_in(html: &str) -> String {
    let marker = "id=\"tracking-number\">";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..].split('<').next().unwrap().trim().to_owned()
}

async fn pages_from_resident_to_rating(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let resident = client();
    let base = app.base.clone();

    // The public form: no login; a street is not a place to file to.
    let r = fetch(&resident, format!("{base}/r/{}", w.community_a.id)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("里布嘎社区"));
    let r = fetch(&resident, format!("{base}/r/{}", w.street.id)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (st, html) = post_form(
        &resident,
        format!("{base}/r/{}", w.community_a.id),
        &[
            ("phone", ""),
            ("category", "general"),
            ("description", "楼道灯坏了"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("手机号码：必填"), "{html}");
    assert!(html.contains("楼道灯坏了"), "the words come back");
    let (st, html) = post_form(
        &resident,
        format!("{base}/r/{}", w.community_a.id),
        &[
            ("phone", "139 0000 5678"),
            ("name", "李大爷"),
            ("category", "general"),
            ("description", "楼道灯坏了"),
            ("address", "5栋"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    let tracking = tracking_in(&html);
    assert_eq!(tracking.len(), 14);

    // Status: wrong digits reveal nothing; right ones show the state, not the people.
    let (st, html) = check_status(&resident, &base, &tracking, "1234").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(!html.contains("楼道灯"));
    let (st, html) = check_status(&resident, &base, &tracking, "5678").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("已受理"));
    assert!(!html.contains("提交评价"), "nothing to rate yet");

    // Staff see it in the inbox, masked; act on it through the forms.
    let (staff, csrf) = sign_in(&app, "staff_a").await;
    let inbox = get(&staff, format!("{base}/requests")).await.1;
    assert!(inbox.contains("楼道灯坏了"));
    let id = app.t.db.clone();
    let list = linli_store::requests::list(
        &id,
        &Scope::operator(),
        &Default::default(),
        linli_store::Page::new(None, None),
        0,
    )
    .await
    .unwrap();
    let rid = list[0].id;
    let page = get(&staff, format!("{base}/requests/{rid}")).await.1;
    assert!(page.contains("139****5678") && !page.contains("13900005678"));
    // Without the CSRF token: refused.
    let (st, _) = post_form(
        &staff,
        format!("{base}/requests/{rid}/act"),
        &[
            ("action", "dispatch"),
            ("target", &format!("node:{}", w.grid.id)),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, loc) = post_form(
        &staff,
        format!("{base}/requests/{rid}/act"),
        &[
            ("csrf", &csrf),
            ("action", "dispatch"),
            ("target", &format!("node:{}", w.grid.id)),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{loc}");
    // A refused step comes back with its reason.
    let (st, html) = post_form(
        &staff,
        format!("{base}/requests/{rid}/act"),
        &[("csrf", &csrf), ("action", "resolve"), ("outcome", "x")],
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("不能办结"), "{html}");
    let (worker, wcsrf) = sign_in(&app, "worker").await;
    for (action, extra) in [("accept", ("", "")), ("resolve", ("outcome", "已更换灯泡"))] {
        let mut fields = vec![("csrf", wcsrf.as_str()), ("action", action)];
        if !extra.0.is_empty() {
            fields.push(extra);
        }
        let (st, loc) = post_form(&worker, format!("{base}/requests/{rid}/act"), &fields).await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{action}: {loc}");
    }
    // Staff B cannot open it.
    let (staff_b, _) = sign_in(&app, "staff_b").await;
    let r = fetch(&staff_b, format!("{base}/requests/{rid}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The resident sees the outcome and rates it; satisfied closes it.
    let (_, html) = check_status(&resident, &base, &tracking, "5678").await;
    assert!(html.contains("已更换灯泡") && html.contains("提交评价"));
    assert!(
        !html.contains("worker") && !html.contains("staff_a"),
        "who handled it is not shown"
    );
    let (st, html) = rate_it(&resident, &base, &tracking, "nope").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("评价："), "{html}");
    let (st, html) = rate_it(&resident, &base, &tracking, "fairly_satisfied").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("谢谢您的评价") && html.contains("已关闭"));

    // The dashboard.
    let (official, _) = sign_in(&app, "official").await;
    let html = get(&official, format!("{base}/requests/rates")).await.1;
    assert!(
        html.contains("100.0%") && html.contains("里布嘎社区"),
        "{html}"
    );

    // Status checks are rate-limited per address (20 per 10 minutes; 3 used above).
    let mut last = StatusCode::OK;
    for _ in 0..20 {
        let (st, _) = check_status(&resident, &base, &tracking, "0000").await;
        last = st;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    app.t.finish().await;
}

on_both!(pages_from_resident_to_rating, pages_from_resident_to_rating);

async fn the_reporter_phone_is_unmasked_only_with_an_audit(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let staff_a = api_as(&app, "staff_a").await;
    let worker = api_as(&app, "worker").await;
    let (_, r) = staff_a.post("/api/v1/requests", json!({
        "node_id": w.grid.id, "category": "general", "description": "噪声扰民", "reporter_phone": "13612348609"
    }))
    .await;
    let id = r["id"].as_i64().unwrap();
    let (st, _) = act(&worker, id, "unmask", json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, u) = act(&staff_a, id, "unmask", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(u["reporter_phone"], "13612348609");
    let audit = audited(&app.t.db, "request.unmask").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "staff_a");
    app.t.finish().await;
}

on_both!(
    the_reporter_phone_is_unmasked_only_with_an_audit,
    the_reporter_phone_is_unmasked_only_with_an_audit
);

// ---------------------------------------------------------------------------------------------
// Photos

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";

async fn upload(
    c: &reqwest::Client,
    url: String,
    fields: &[(&str, &str)],
    photo: Option<(&str, &[u8])>,
) -> (StatusCode, String) {
    let (content_type, body) = multipart(fields, photo.map(|(n, b)| ("photo", n, "image/jpeg", b)));
    let r = c
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    target_or_body(r).await
}

async fn token_of(db: &Db, username: &str) -> String {
    let all = accounts::list(db, &Scope::operator(), linli_store::Page::all())
        .await
        .unwrap();
    let u = all.iter().find(|u| u.username == username).unwrap();
    accounts::issue_token(db, &Scope::operator(), u.id, "test", now_ms())
        .await
        .unwrap()
}

async fn count(app: &App, c: &reqwest::Client) -> usize {
    let (_, list) = api_get(app, c, "/api/v1/requests?limit=500").await;
    list["items"].as_array().unwrap().len()
}

async fn photos_over_http(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let base = app.base.clone();
    let resident = client();
    let staff_a_api = api_login(&app, "staff_a").await;
    let staff_b_api = api_login(&app, "staff_b").await;
    let public = format!("{base}/r/{}", w.community_a.id);
    let fields = [
        ("phone", "13900005678"),
        ("category", "general"),
        ("description", "井盖丢了"),
        ("address", "5栋门口"),
    ];

    // A text file named .jpg: refused on the photo, nothing stored, the words come back.
    let (st, html) = upload(
        &resident,
        public.clone(),
        &fields,
        Some(("photo.jpg", b"not a photo at all")),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("照片：只能上传 JPEG、PNG 或 WebP"), "{html}");
    assert!(html.contains("井盖丢了"));
    // Over 5 MB but within the body limit: refused by the store with the limit named.
    let mut big = JPEG.to_vec();
    big.resize(5 * 1024 * 1024 + 10, 0);
    let (st, html) = upload(&resident, public.clone(), &fields, Some(("big.jpg", &big))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("上限 5 MB"), "{html}");
    // Far over: the body limit answers 413 before anything is read.
    big.resize(7 * 1024 * 1024, 0);
    let (st, _) = upload(&resident, public.clone(), &fields, Some(("big.jpg", &big))).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&app, &staff_a_api).await, 0);

    // A resident's PNG; an empty file input is no photo.
    let (st, html) = upload(&resident, public.clone(), &fields, Some(("灯.png", PNG))).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    let tracking = tracking_in(&html);
    let (st, _) = upload(&resident, public.clone(), &fields, Some(("", b""))).await;
    assert_eq!(st, StatusCode::OK);
    let (_, list) = api_get(&app, &staff_a_api, "/api/v1/requests?limit=500").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let with = items
        .iter()
        .find(|r| r["tracking_number"] == tracking.as_str())
        .unwrap();
    let id = with["id"].as_i64().unwrap();
    assert_eq!(with["photo_url"], format!("/api/v1/requests/{id}/photo"));
    let without = items.iter().find(|r| r["id"] != id).unwrap();
    let plain = without["id"].as_i64().unwrap();
    assert_eq!(without["photo_url"], Value::Null);

    // The resident's status page does not show it.
    let (st, html) = check_status(&resident, &base, &tracking, "5678").await;
    assert_eq!(st, StatusCode::OK);
    assert!(!html.contains("/photo"));
    let r = fetch(&resident, format!("{base}/requests/{id}/photo")).await;
    assert_ne!(r.status(), StatusCode::OK);

    // Staff of the community see it on the request page and get its bytes, typed by them.
    let (staff_a, csrf) = sign_in(&app, "staff_a").await;
    let page = get(&staff_a, format!("{base}/requests/{id}")).await.1;
    assert!(
        page.contains(&format!("<img src=\"/requests/{id}/photo\"")),
        "{page}"
    );
    for c in [&staff_a, &staff_a_api] {
        for path in [
            format!("/requests/{id}/photo"),
            format!("/api/v1/requests/{id}/photo"),
        ] {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()["content-type"], "image/png");
            assert!(r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private"));
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
            assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
        }
    }
    // Another community: as if there were none.
    let (staff_b, _) = sign_in(&app, "staff_b").await;
    for (c, path) in [
        (&staff_b, format!("/requests/{id}/photo")),
        (&staff_b_api, format!("/api/v1/requests/{id}/photo")),
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // No photo: 404.
    let r = fetch(&staff_a, format!("{base}/requests/{plain}/photo")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The staff form with a JPEG: the CSRF token is required.
    let staff_fields = [
        ("node_id", &*w.grid.id.to_string()),
        ("channel", "patrol"),
        ("category", "general"),
        ("description", "路面塌陷"),
    ];
    let (st, _) = upload(
        &staff_a,
        format!("{base}/requests/new"),
        &staff_fields,
        Some(("p.jpg", JPEG)),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let mut with_csrf = vec![("csrf", csrf.as_str())];
    with_csrf.extend_from_slice(&staff_fields);
    let (st, location) = upload(
        &staff_a,
        format!("{base}/requests/new"),
        &with_csrf,
        Some(("p.jpg", JPEG)),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{location}");
    let patrol: i64 = location
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = fetch(&staff_a, format!("{base}/requests/{patrol}/photo")).await;
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(count(&app, &staff_a_api).await, 3);

    // Added later on the request page (once), by the community, not by another one.
    let (st, _) = upload(
        &staff_b,
        format!("{base}/requests/{plain}/photo"),
        &[("csrf", &csrf_in(&page))],
        Some(("x.png", PNG)),
    )
    .await;
    assert_ne!(st, StatusCode::SEE_OTHER);
    let (st, location) = upload(
        &staff_a,
        format!("{base}/requests/{plain}/photo"),
        &[("csrf", csrf.as_str())],
        Some(("x.png", PNG)),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{location}");
    let (st, html) = upload(
        &staff_a,
        format!("{base}/requests/{plain}/photo"),
        &[("csrf", csrf.as_str())],
        Some(("x.png", PNG)),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(html.contains("已有照片"), "{html}");

    // The API upload: raw bytes with a token; a cookie caller and a JSON body are refused.
    let (_, created) = post(
        &app,
        &staff_a_api,
        "/api/v1/requests",
        json!({"node_id": w.community_a.id, "category": "general", "channel": "hotline",
            "description": "噪音扰民"}),
    )
    .await;
    let api_id = created["id"].as_i64().unwrap();
    let url = format!("{base}/api/v1/requests/{api_id}/photo");
    let token_a = token_of(&app.t.db, "staff_a").await;
    let token_b = token_of(&app.t.db, "staff_b").await;
    let bare = reqwest::Client::new();
    let send = |token: Option<&str>, content_type: &str, body: Vec<u8>| {
        let mut req = bare
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let r = staff_a_api
        .post(&url)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = send(Some(&token_b), "image/png", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(
        Some(&token_a),
        "application/json",
        b"{\"photo\":1}".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["fields"][0]["field"], "photo", "{e}");
    let r = send(Some(&token_a), "image/jpeg", b"hello".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(Some(&token_a), "image/jpeg", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "declared type must match"
    );
    let mut big = PNG.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let r = send(Some(&token_a), "image/png", big).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, still) = api_get(&app, &staff_a_api, &format!("/api/v1/requests/{api_id}")).await;
    assert_eq!(still["request"]["photo_url"], Value::Null);
    let r = send(Some(&token_a), "image/png", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["photo_url"], format!("/api/v1/requests/{api_id}/photo"));
    let r = send(Some(&token_a), "image/png", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (_, detail) = api_get(&app, &staff_a_api, &format!("/api/v1/requests/{api_id}")).await;
    assert!(detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "photo_added"));

    // Both operations are in the OpenAPI document (so the scope walk in api.rs calls them).
    let (_, doc) = api_get(&app, &bare, "/api/v1/openapi.json").await;
    let item = &doc["paths"]["/api/v1/requests/{id}/photo"];
    assert!(
        item["get"].is_object() && item["post"].is_object(),
        "{item}"
    );
    app.t.finish().await;
}

on_both!(photos_over_http, photos_over_http);

/// The resident link the requests page prints is one a resident can open: a community's for
/// its staff; none for a street official (a street takes no requests itself, `/r/{street}` was
/// a 404 printed on the page).
async fn the_printed_resident_link_opens(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let town = town(&db).await;
    user(&db, "official", "official", &[town.street.id]).await;
    user(&db, "staff", "staff", &[town.community.id]).await;
    let anonymous = client();
    for (who, node, printed) in [
        ("staff", town.community.id, true),
        ("official", town.street.id, false),
    ] {
        let (c, _) = sign_in(&app, who).await;
        let (status, html) = get(&c, app.url("/requests")).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        let link = format!("href=\"/r/{node}\"");
        assert_eq!(html.contains(&link), printed, "{who}: {html}");
        for href in html.split("href=\"/r/").skip(1) {
            let path = format!("/r/{}", href.split('"').next().unwrap());
            let (status, _) = get(&anonymous, app.url(&path)).await;
            assert_eq!(status, StatusCode::OK, "{who} printed {path}");
        }
    }
    app.finish().await;
}

on_both!(
    the_printed_resident_link_opens,
    the_printed_resident_link_opens
);

/// The resident's pages carry two limiters, one per router: submissions (10 per 10 minutes)
/// on the upload router, page views and status checks on the other. Each counter lives in one
/// of them only, so submissions used up still leave the form and the status check open, and
/// the 11th submission is refused.
async fn resident_limits_are_counted_once_each(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let resident = client();
    let base = app.base.clone();
    let form = format!("{base}/r/{}", w.community_a.id);
    for i in 0..10 {
        let (st, _) = post_form(&resident, form.clone(), &[("category", "general")]).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "submission {i}");
    }
    let (st, _) = post_form(&resident, form.clone(), &[("category", "general")]).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fetch(&resident, form).await.status(), StatusCode::OK);
    let r = fetch(&resident, format!("{base}/r/status")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (st, _) = check_status(&resident, &base, "20260101000000", "0000").await;
    assert_ne!(st, StatusCode::TOO_MANY_REQUESTS);
    app.t.finish().await;
}

on_both!(
    resident_limits_are_counted_once_each,
    resident_limits_are_counted_once_each
);

/// The inbox's filters change its rows; its export holds the filtered rows, phones masked, and
/// leaves an audit entry; bad days are refused by name.
async fn the_inbox_filters_pages_and_exports(t: TestDb) {
    let app = spawn(t).await;
    let w = neighbours(&app.t.db).await;
    let official = api_as(&app, "official").await;
    for (node, category, description, name) in [
        (w.community_a.id, "utilities", "3栋停水一天了", "王阿姨"),
        (w.community_a.id, "general", "楼道灯坏了", "李大爷"),
        (w.community_b.id, "general", "夜间施工噪音", "赵大妈"),
    ] {
        let (st, r) = official
            .post(
                "/api/v1/requests",
                json!({"node_id": node, "category": category, "description": description,
                       "address": "幸福路8号", "reporter_name": name, "reporter_phone": "13612348609"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
    }
    let (c, _) = sign_in(&app, "official").await;
    let url = |p: &str| app.url(p);
    let street = w.street.id;
    let (st, html) = get(&c, url(&format!("/requests?node_id={street}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert!(text_of(&html).contains("共 3 条"), "{html}");
    // Search by reporter, by words; category; node.
    let (_, html) = get(&c, url(&format!("/requests?node_id={street}&q=%E8%B5%B5"))).await;
    assert!(
        html.contains("夜间施工噪音") && !html.contains("楼道灯坏了"),
        "{html}"
    );
    let (_, html) = get(
        &c,
        url(&format!("/requests?node_id={street}&category=general")),
    )
    .await;
    assert!(html.contains("夜间施工噪音") && html.contains("楼道灯坏了"));
    assert!(!html.contains("3栋停水一天了"), "{html}");
    let (_, html) = get(&c, url(&format!("/requests?node_id={}", w.community_a.id))).await;
    assert!(html.contains("3栋停水一天了") && !html.contains("夜间施工噪音"));
    // A whole phone number finds its reporter's requests; part of one finds nothing.
    let (_, html) = get(
        &c,
        url(&format!("/requests?node_id={street}&q=13612348609")),
    )
    .await;
    assert!(text_of(&html).contains("共 3 条"), "{html}");
    let (_, html) = get(&c, url(&format!("/requests?node_id={street}&q=8609"))).await;
    assert!(text_of(&html).contains("共 0 条"), "{html}");
    // The days received: today holds all three, yesterday none.
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let (_, html) = get(
        &c,
        url(&format!(
            "/requests?node_id={street}&from={today}&to={today}"
        )),
    )
    .await;
    assert!(text_of(&html).contains("共 3 条"));
    let (_, html) = get(
        &c,
        url(&format!("/requests?node_id={street}&to=2020-01-01")),
    )
    .await;
    assert!(text_of(&html).contains("共 0 条"), "{html}");
    let (st, html) = get(
        &c,
        url(&format!("/requests?node_id={street}&from=2020-02-30")),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&html).contains("开始日期：「2020-02-30」不是有效日期"),
        "{html}"
    );
    let (st, _) = get(&c, url(&format!("/requests.xlsx?node_id={street}&to=x"))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        audited(&app.t.db, "list.export").await.is_empty(),
        "a refused export is not one"
    );

    // The export: the filtered rows, the phone masked, and audited with the filters.
    let rows = xlsx_rows(
        &c,
        url(&format!("/requests.xlsx?node_id={street}&category=general")),
        "诉求",
    )
    .await;
    assert!(rows[0][0].contains("共 2 条"), "{:?}", rows[0]);
    assert_eq!(rows[1][0], "编号");
    let mut got: Vec<(&str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[4].as_str(), r[6].as_str(), r[7].as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("夜间施工噪音", "赵大妈", "136****8609"),
            ("楼道灯坏了", "李大爷", "136****8609")
        ]
    );
    let audit = audited(&app.t.db, "list.export").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].entity.as_str(), audit[0].actor.as_str()),
        ("request", "official")
    );
    assert_eq!(audit[0].detail["rows"], 2);
    assert!(audit[0].detail["query"]
        .as_str()
        .unwrap()
        .contains("category=general"));

    // Another community's staff export only their own.
    let (b, _) = sign_in(&app, "staff_b").await;
    let rows = xlsx_rows(&b, url("/requests.xlsx"), "诉求").await;
    let got: Vec<&str> = rows[2..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(got, ["夜间施工噪音"]);
    let (st, _) = get(
        &b,
        url(&format!("/requests.xlsx?node_id={}", w.community_a.id)),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(
    the_inbox_filters_pages_and_exports,
    the_inbox_filters_pages_and_exports
);
