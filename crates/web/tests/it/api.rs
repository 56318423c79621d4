//! API tests against the real server on an ephemeral port, with a fresh database each.

use crate::support::*;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;

use linli_core::Scope;
use linli_store::accounts::{self};
use linli_store::testing::TestDb;
use linli_store::tree::{self, Node};
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A community with two grids, each with a building; accounts for each role.
struct World {
    district: Node,
    community: Node,
    grid_a: Node,
    grid_b: Node,
    building_b: Node,
    admin_id: i64,
    staff_id: i64,
    worker_a_id: i64,
    worker_b_id: i64,
    person_b: i64,
    household_b: i64,
    /// Person B's observation (from a screening with a fever, so B also has an open alert).
    observation_b: i64,
    /// Person B's open fever alert.
    alert_b: i64,
    /// A supplies site in grid B, and a transfer from it (see `supply_world`).
    site_b: i64,
    transfer_b: i64,
    /// An enterprise in grid B (its name carries B's secret) and its pending reopening.
    enterprise_b: i64,
    reopening_b: i64,
    /// A resident's request in grid B (its words carry B's secret) and a whistle on it.
    request_b: i64,
    whistle_b: i64,
    /// A checkpoint in grid B, a pass for person B and a trip of B (see `checkpoint_world`).
    checkpoint_b: i64,
    pass_b: i64,
    trip_b: i64,
    /// A quarantine site in grid B (its name carries B's secret).
    qsite_b: i64,
}

/// A quarantine site in grid B, and one at the community (seen from grid A, which it serves)
/// where person B has a room: A's worker must see neither B's site nor B's name.
async fn quarantine_world(db: &Db, grid_b: &Node, community: &Node, observation_b: i64) -> i64 {
    use linli_core::epidemic::sites::{NewRoom, RoomNumber};
    use linli_store::epidemic::sites::{self, SiteInput};
    let input = |name| SiteInput {
        name,
        address: Some("乙秘密路 1 号"),
        phone: None,
        open: true,
    };
    let hidden = sites::create_site(
        db,
        &Scope::operator(),
        grid_b.id,
        &input("乙秘密隔离点"),
        now_ms(),
    )
    .await
    .unwrap();
    let shared = SiteInput {
        address: None,
        ..input("社区隔离点")
    };
    let shared = sites::create_site(db, &Scope::operator(), community.id, &shared, now_ms())
        .await
        .unwrap();
    let room = NewRoom::new(1, RoomNumber::parse("101").unwrap(), 2).unwrap();
    sites::add_rooms(db, &Scope::operator(), shared.id, &[room], now_ms())
        .await
        .unwrap();
    // B's room, given by hand on a day of B's 2022 quarantine.
    let room_id: i64 = sites::site_day(
        db,
        &Scope::operator(),
        shared.id,
        linli_core::kernel::clock::today(),
        now_ms(),
    )
    .await
    .unwrap()
    .rooms[0]
        .id;
    let on = linli_core::kernel::clock::parse_date("d", "2022-07-03").unwrap();
    sites::assign(
        db,
        &Scope::operator(),
        observation_b,
        room_id,
        linli_core::kernel::clock::day_start_ms(on) + 12 * 3_600_000,
    )
    .await
    .unwrap();
    hidden.id
}

/// A gate in grid B, person B's pass (scanned once) and an outgoing trip of B.
async fn checkpoint_world(db: &Db, grid_b: &Node, person_b: i64) -> (i64, i64, i64) {
    use linli_store::epidemic::checkpoints::{self, Holder, PassInput, Passer, ScanInput};
    let d = |s: &str| linli_core::kernel::clock::parse_date("d", s).unwrap();
    let gate = checkpoints::create_checkpoint(db, &Scope::operator(), grid_b.id, "乙门", now_ms())
        .await
        .unwrap();
    let pass = checkpoints::issue_pass(
        db,
        &Scope::operator(),
        &PassInput {
            node_id: grid_b.id,
            holder: Holder::Person(person_b),
            purpose: None,
            valid_from: d("2022-03-01"),
            valid_to: d("2022-03-31"),
        },
        now_ms(),
    )
    .await
    .unwrap();
    checkpoints::record_scan(
        db,
        &Scope::operator(),
        gate.id,
        &ScanInput {
            direction: linli_core::epidemic::checkpoint::Direction::In,
            passer: Passer::Person(person_b),
            temperature: None,
            at: None,
        },
        now_ms(),
    )
    .await
    .unwrap();
    let trip = linli_core::epidemic::trips::TripDraft::parse(
        "medical",
        "州医院",
        Ok(d("2022-03-10")),
        None,
        false,
    )
    .unwrap();
    let trip =
        linli_store::epidemic::trips::add_trip(db, &Scope::operator(), person_b, &trip, now_ms())
            .await
            .unwrap();
    (gate.id, pass.id, trip)
}

/// A request in grid B with B's phone, and a department summoned to it (see `World`).
async fn request_world(db: &Db, grid_b: &Node) -> (i64, i64) {
    use linli_core::requests::{Channel, RequestDraft, RequestInput};
    use linli_store::requests;
    let op = Scope::operator();
    let now = linli_core::kernel::clock::now_ms();
    let draft = RequestDraft::parse(&RequestInput {
        description: "乙秘密家楼道漏水",
        reporter_phone: Some("13900001111"),
        ..Default::default()
    })
    .unwrap();
    let r = requests::create(db, &op, grid_b.id, "general", Channel::Hotline, &draft, now)
        .await
        .unwrap();
    let d = requests::create_department(db, &op, "水务所", now)
        .await
        .unwrap();
    let w = requests::blow_whistle(db, &op, r.id, &[d.id], now)
        .await
        .unwrap();
    (r.id, w[0].id)
}

/// An enterprise in grid B with a pending reopening application (see `World`).
async fn enterprise_world(db: &Db, grid_b: &Node) -> (i64, i64) {
    use linli_core::enterprises::{EnterpriseInput, ReopeningInput};
    let op = Scope::operator();
    let e = linli_store::enterprises::create(
        db,
        &op,
        grid_b.id,
        &EnterpriseInput {
            name: "乙秘密商店",
            kind: "individual",
            contact_phone: Some("13900001111"),
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap()
    .enterprise;
    let r = linli_store::enterprises::apply(db, &op, e.id, &ReopeningInput::default(), now_ms())
        .await
        .unwrap();
    (e.id, r.id)
}

/// A supplies site in grid B (its name carries B's secret) with stock, and a transfer of masks
/// from it to a store of the community, still in transit.
async fn supply_world(db: &Db, grid_b: &Node, community: &Node) -> (i64, i64) {
    use linli_core::supplies::{Movement, Quantity, SiteDraft};
    use linli_store::supplies;
    let op = Scope::operator();
    let site = |name: &str| SiteDraft::parse(name, None, false).unwrap();
    let b = supplies::create_site(
        db,
        &op,
        grid_b.id,
        &site("乙网格秘密物资柜"),
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    let c = supplies::create_site(
        db,
        &op,
        community.id,
        &site("社区物资点"),
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    let masks = supplies::items(db).await.unwrap()[0].id;
    let receipt = Movement::parse("receipt", 100, None).unwrap();
    supplies::record(
        db,
        &op,
        b.id,
        masks,
        &receipt,
        None,
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    let t = supplies::send_transfer(
        db,
        &op,
        &supplies::TransferInput {
            from_site_id: b.id,
            to_site_id: c.id,
            item_id: masks,
            quantity: Quantity::new("quantity", 10).unwrap(),
            note: None,
        },
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    (b.id, t.id)
}

/// POSTs `body` as JSON, checks the answer's status, and returns its JSON (`null` when the
/// answer is not JSON).
async fn expect_post<B: serde::Serialize + ?Sized>(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &B,
    status: StatusCode,
) -> Value {
    let r = send_json(c, url, body).await;
    assert_eq!(r.status(), status);
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn world(db: &Db) -> World {
    let Town {
        district,
        community,
        ..
    } = town(db).await;
    let grid_a = node(db, Some(community.id), "grid", "甲网格", Some("GA")).await;
    let grid_b = node(db, Some(community.id), "grid", "乙网格秘密", Some("GB")).await;
    node(db, Some(grid_a.id), "building", "甲楼", None).await;
    let building_b = node(db, Some(grid_b.id), "building", "乙楼秘密", None).await;
    let place = |n: &Node| linli_store::registry::Placement {
        node_id: n.id,
        ..Default::default()
    };
    let (_, _) = linli_store::registry::create(
        db,
        &Scope::operator(),
        &place(&grid_a),
        &linli_core::registry::PersonInput {
            name: "甲居民",
            address: Some("101"),
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap();
    let secret_id = id_number("53340119700101999");
    let (person_b, _) = linli_store::registry::create(
        db,
        &Scope::operator(),
        &place(&building_b),
        &linli_core::registry::PersonInput {
            name: "乙秘密",
            id_number: Some(&secret_id),
            phone: Some("13900001111"),
            address: Some("2-1-201"),
            relation: Some("户主"),
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap();
    // B's pass and trip come first: once under quarantine, B gets neither.
    let (checkpoint_b, pass_b, trip_b) = checkpoint_world(db, &grid_b, person_b.id).await;
    // B arrived from a high-risk area in 2022 with a fever: an observation and an alert.
    linli_store::epidemic::add_risk_area(
        db,
        &Scope::operator(),
        &linli_core::epidemic::policy::RiskArea::new(
            linli_core::epidemic::policy::DivisionCode::parse("420111").unwrap(),
            None,
            linli_core::epidemic::policy::RiskLevel::High,
            linli_core::kernel::clock::parse_date("d", "2022-06-30").unwrap(),
            None,
        )
        .unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
    let arrival = linli_store::epidemic::record_arrival(
        db,
        &Scope::operator(),
        linli_store::epidemic::ArrivalInput {
            person: linli_store::epidemic::ArrivalPerson::Registered(person_b.id),
            origin_code: linli_core::epidemic::policy::DivisionCode::parse("420111").unwrap(),
            arrived_on: linli_core::kernel::clock::parse_date("d", "2022-07-02").unwrap(),
            purpose: None,
            symptoms: vec!["咳嗽".into()],
            temperature: Some(linli_core::epidemic::policy::Temperature::parse("38.1").unwrap()),
            source: linli_store::epidemic::ArrivalSource::Worker,
        },
        now_ms(),
    )
    .await
    .unwrap();
    let (site_b, transfer_b) = supply_world(db, &grid_b, &community).await;
    let (enterprise_b, reopening_b) = enterprise_world(db, &grid_b).await;
    let (request_b, whistle_b) = request_world(db, &grid_b).await;
    let qsite_b = quarantine_world(db, &grid_b, &community, arrival.observation_id.unwrap()).await;
    World {
        qsite_b,
        checkpoint_b,
        pass_b,
        trip_b,
        enterprise_b,
        reopening_b,
        request_b,
        whistle_b,
        site_b,
        transfer_b,
        observation_b: arrival.observation_id.unwrap(),
        alert_b: arrival.alert_id.unwrap(),
        person_b: person_b.id,
        household_b: person_b.household_id.unwrap(),
        admin_id: user(db, "admin", "admin", &[]).await,
        staff_id: user(db, "staff", "staff", &[community.id]).await,
        worker_a_id: user(db, "worker_a", "grid_worker", &[grid_a.id]).await,
        worker_b_id: user(db, "worker_b", "grid_worker", &[grid_b.id]).await,
        district,
        community,
        grid_a,
        grid_b,
        building_b,
    }
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let app = spawn(TestDb::sqlite().await).await;
    let c = client();
    let r = fetch(&c, app.url("/healthz")).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Metrics are for admins: anonymous callers and other roles are refused (issue 24, 9).
    let r = fetch(&c, app.url("/metrics")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let district = node(&app.t.db, None, "district", "香格里拉市", Some("533401")).await;
    user(&app.t.db, "admin", "admin", &[]).await;
    user(&app.t.db, "official", "official", &[district.id]).await;
    let official = api_login(&app, "official").await;
    let r = fetch(&official, app.url("/metrics")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let admin = api_login(&app, "admin").await;
    let r = fetch(&admin, app.url("/metrics")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.contains("linli_up 1"));
    assert!(
        text.contains(
            "linli_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    let doc: Value = json_at(&c, app.url("/api/v1/openapi.json")).await;
    for path in [
        "/api/v1/session",
        "/api/v1/nodes",
        "/api/v1/nodes/{id}",
        "/api/v1/nodes/{id}/children",
        "/api/v1/users",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["paths"]["/api/v1/nodes"]["post"].is_object());
    // Unknown API paths answer in the API's error shape.
    let r = fetch(&c, app.url("/api/v1/nope")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    app.t.finish().await;
}

#[tokio::test]
async fn sessions_follow_the_contract() {
    let app = spawn(TestDb::sqlite().await).await;
    world(&app.t.db).await;
    let c = client();
    // Wrong password: 401 in the error shape; nothing is set.
    let body = expect_post(
        &c,
        app.url("/api/v1/session"),
        &json!({"username": "admin", "password": "wrong"}),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(body["error"]["fields"].is_array());
    assert_eq!(
        fetch(&c, app.url("/api/v1/me")).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Right password: a session cookie, HttpOnly and SameSite.
    let r = send_json(
        &c,
        app.url("/api/v1/session"),
        &json!({"username": "admin", "password": "test-pass-123"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("linli_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let me: Value = json_at(&c, app.url("/api/v1/me")).await;
    assert_eq!(me["user"]["username"], "admin");
    assert!(me["user"]["id"].is_i64());

    // A cookie-authenticated API write must be JSON (a cross-site form cannot send JSON).
    let r = c
        .post(app.url("/api/v1/nodes"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("kind=district&name=x&code=533402")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Logout ends it.
    let r = c.delete(app.url("/api/v1/session")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        fetch(&c, app.url("/api/v1/me")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.t.finish().await;
}

#[tokio::test]
async fn nodes_and_users_follow_the_contract() {
    let app = spawn(TestDb::sqlite().await).await;
    let w = world(&app.t.db).await;
    let admin = api_login(&app, "admin").await;
    let created = expect_post(
        &admin,
        app.url("/api/v1/nodes"),
        &json!({"parent_id": w.grid_a.id, "kind": "building", "name": "新楼", "code": null}),
        StatusCode::CREATED,
    )
    .await;
    assert!(created["id"].is_i64());
    assert_eq!(created["parent_id"], w.grid_a.id);
    assert_eq!(created["kind"], "building");
    assert_eq!(created["kind_label"], "楼栋");
    assert!(created["created_at"].as_str().unwrap().ends_with("+08:00"));

    let got: Value = json_at(
        &admin,
        format!("{}/api/v1/nodes/{}", app.base, w.community.id),
    )
    .await;
    assert_eq!(got["name"], "里布嘎社区");
    assert_eq!(got["counts"]["by_kind"]["grid"], 2);
    assert_eq!(got["counts"]["by_kind"]["building"], 3);
    let kids: Value = fetch(
        &admin,
        format!(
            "{}/api/v1/nodes/{}/children?limit=1",
            app.base, w.community.id
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(kids["items"].as_array().unwrap().len(), 1);
    assert_eq!(kids["next_after"], w.grid_a.id);

    // Bad input: 422 naming every field.
    let r = admin
        .post(app.url("/api/v1/nodes"))
        .json(
            &json!({"parent_id": w.district.id, "kind": "street", "name": "", "code": "53340110"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid");
    let fields = error_fields(&body);
    assert_eq!(fields, ["name", "code"]);

    // Accounts: admins create them; nobody else can.
    let u = expect_post(&admin, app.url("/api/v1/users"), &json!({"username": "wangge09", "password": "grid-pass-09", "role": "grid_worker", "node_ids": [w.grid_b.id]}), StatusCode::CREATED).await;
    assert_eq!(u["role"], "grid_worker");
    assert_eq!(u["nodes"][0]["id"], w.grid_b.id);
    let staff = api_login(&app, "staff").await;
    expect_post(
        &staff,
        app.url("/api/v1/users"),
        &json!({"username": "sneaky", "password": "sneaky-pass", "role": "admin", "node_ids": []}),
        StatusCode::FORBIDDEN,
    )
    .await;

    // A bearer token works on the API.
    let token = accounts::issue_token(&app.t.db, &Scope::operator(), w.staff_id, "test", now_ms())
        .await
        .unwrap();
    let r = client()
        .get(format!("{}/api/v1/nodes/{}", app.base, w.grid_b.id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let _ = (w.admin_id, w.worker_a_id, w.worker_b_id, &w.building_b);
    app.t.finish().await;
}

#[tokio::test]
async fn html_forms_need_their_csrf_token() {
    let app = spawn(TestDb::sqlite().await).await;
    let w = world(&app.t.db).await;
    let c = client();
    // The login form without its CSRF cookie is refused.
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", "test-pass-123"),
            ("csrf", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // With it, the login works and lands on the home page.
    let (_, page) = get(&c, app.url("/login")).await;
    let csrf = extract_csrf(&page);
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", "test-pass-123"),
            ("csrf", csrf.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = get(&c, app.url("/")).await;
    assert!(home.contains("香格里拉市"));
    // A form post with a wrong token changes nothing.
    assert_eq!(
        post_any(
            &c,
            format!("{}/nodes/{}/children", app.base, w.grid_a.id),
            &[("csrf", "wrong"), ("kind", "building"), ("name", "伪造楼")]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // With the session's token, it works.
    let csrf = extract_csrf(&home);
    let r = c
        .post(format!("{}/nodes/{}/children", app.base, w.grid_a.id))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "building"),
            ("name", "真楼"),
            ("code", ""),
            ("household_estimate", ""),
            ("opened_on", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let kids = tree::children(
        &app.t.db,
        &Scope::operator(),
        w.grid_a.id,
        false,
        linli_store::Page::new(None, None),
    )
    .await
    .unwrap();
    let names: Vec<_> = kids.iter().map(|k| k.node.name.as_str()).collect();
    assert_eq!(names, ["甲楼", "真楼"]);
    app.t.finish().await;
}

fn extract_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Everything of grid B that must never reach grid A's worker.
fn leaks(body: &str) -> bool {
    [
        "乙网格秘密",
        "乙楼秘密",
        "worker_b",
        "乙秘密",
        "1111",
        "139****",
        "53340119700101999",
    ]
    .iter()
    .any(|s| body.contains(s))
}

/// Walks every operation of the OpenAPI document as grid A's worker with ids from grid B (and
/// from other accounts), and proves nothing of B is read or changed. New routes are covered
/// without editing this test.
async fn scope_walk(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let token = accounts::issue_token(&db, &Scope::operator(), w.worker_a_id, "walk", now_ms())
        .await
        .unwrap();
    let before = tree::subtree(&db, &Scope::operator(), None).await.unwrap();
    let before_users = accounts::list(&db, &Scope::operator(), linli_store::Page::all())
        .await
        .unwrap();
    let before_json = serde_json::to_string(&(
        before.len(),
        &before_users
            .iter()
            .map(|u| (&u.username, u.role, u.disabled))
            .collect::<Vec<_>>(),
    ))
    .unwrap();

    let doc: Value = json_at(&client(), app.url("/api/v1/openapi.json")).await;
    let paths = doc["paths"].as_object().unwrap();
    let node_ids = [w.grid_b.id, w.building_b.id, w.community.id, w.district.id];
    let user_ids = [w.admin_id, w.staff_id, w.worker_b_id];
    // One body that fits every write: each field points into grid B or asks for power.
    let body = json!({
        "parent_id": w.grid_b.id, "new_parent_id": w.grid_b.id, "node_ids": [w.grid_b.id],
        "kind": "building", "name": "入侵楼", "code": "X1", "username": "intruder",
        "password": "intruder-pass-1", "role": "admin", "disabled": true, "closed_on": null,
        "household_estimate": 1, "node_id": w.grid_b.id, "household_id": w.household_b,
        "id_number": id_number("53340119700101999"), "phone": "13900001111",
        "person_id": w.person_b, "origin_code": "420111", "arrived_on": "2022-07-02",
        "temperature": 36.5, "division_code": "533401", "level": "high", "from": "2022-07-01",
        "at": "2022-07-03T08:00:00+08:00", "observation_ids": [w.observation_b],
        "outcome": "false_reading",
        "site_id": w.site_b, "from_site_id": w.site_b, "to_site_id": w.site_b, "item_id": 1,
        "quantity": 1, "minimum": 0,
        "decision": "approve", "checked": ["thermometers", "disinfection", "masks", "staff_registration"],
        "inspected_on": "2022-07-03", "inspector": "入侵者", "passed": true, "reason": "no_demand"
    });
    let node_b = format!("?node_id={}", w.grid_b.id);
    let community_q = format!("?node_id={}", w.community.id);
    // Endpoints keyed by a supplies site in the query (the allocation suggestion).
    let site_q = format!("?site_id={}&item_id=1&quantity=10", w.site_b);
    let mut operations = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let ids: Vec<i64> = if !path.contains('{') {
                vec![0]
            } else if path.starts_with("/api/v1/users") {
                user_ids.to_vec()
            } else if path.starts_with("/api/v1/persons") {
                vec![w.person_b]
            } else if path.starts_with("/api/v1/cases") {
                // Cases are keyed by the person's id (contacts module).
                vec![w.person_b]
            } else if path.starts_with("/api/v1/households") {
                vec![w.household_b]
            } else if path.starts_with("/api/v1/observations") {
                vec![w.observation_b]
            } else if path.starts_with("/api/v1/alerts") {
                vec![w.alert_b]
            } else if path.starts_with("/api/v1/enterprises") {
                vec![w.enterprise_b]
            } else if path.starts_with("/api/v1/reopenings") {
                vec![w.reopening_b]
            } else if path.starts_with("/api/v1/supplies/sites") {
                vec![w.site_b]
            } else if path.starts_with("/api/v1/supplies/transfers") {
                vec![w.transfer_b]
            // Residents' requests: B's request and the whistle on it.
            } else if path.starts_with("/api/v1/requests/") {
                vec![w.request_b]
            } else if path.starts_with("/api/v1/whistles") {
                vec![w.whistle_b]
            } else if path.starts_with("/api/v1/checkpoints") {
                vec![w.checkpoint_b]
            } else if path.starts_with("/api/v1/passes") {
                vec![w.pass_b]
            } else if path.starts_with("/api/v1/trips") {
                vec![w.trip_b]
            } else if path.starts_with("/api/v1/quarantine-sites") {
                vec![w.qsite_b]
            } else {
                node_ids.to_vec()
            };
            // Lists are also asked for B's people by every search key.
            let queries: &[&str] = if method == "get" && !path.contains('{') {
                &[
                    "",
                    "?q=乙",
                    "?q=ymm",
                    "?q=13900001111",
                    "?q=1111",
                    "?limit=500",
                    &node_b,
                    &community_q,
                    &site_q,
                ]
            } else {
                &[""]
            };
            for (id, query) in ids
                .iter()
                .flat_map(|id| queries.iter().map(move |q| (*id, *q)))
            {
                operations += 1;
                let url = format!(
                    "{}{}{query}",
                    app.base,
                    path.replace("{id}", &id.to_string())
                        // Reports: /api/v1/reports/{template}/{node_id}/{date}…
                        .replace("{node_id}", &id.to_string())
                        .replace("{template}", "epidemic-daily")
                        .replace("{date}", "2022-07-02")
                );
                let req = client()
                    .request(method.to_uppercase().parse().unwrap(), &url)
                    .bearer_auth(&token);
                let req = if method == "get" {
                    req
                } else {
                    req.json(&body)
                };
                let r = req.send().await.unwrap();
                let status = r.status();
                let text = r.text().await.unwrap();
                assert!(
                    !leaks(&text),
                    "{method} {path} ({id}) leaked grid B: {status} {text}"
                );
                let refused = matches!(status.as_u16(), 401 | 403 | 404 | 422);
                let harmless_ok =
                    status.is_success() && (method == "get" || path == "/api/v1/session");
                assert!(
                    refused || harmless_ok,
                    "{method} {path} ({id}) answered {status}: {text}"
                );
                if path.contains("{id}") && method == "get" {
                    assert!(
                        refused,
                        "{method} {path} ({id}) should be refused, got {status}"
                    );
                }
            }
        }
    }
    assert!(
        operations >= 30,
        "the walk covered only {operations} operations"
    );

    // HTML pages of grid B are refused too (session login as worker A).
    let c = client();
    let (_, login_page) = get(&c, app.url("/login")).await;
    let csrf = extract_csrf(&login_page);
    c.post(app.url("/login"))
        .form(&[
            ("username", "worker_a"),
            ("password", "test-pass-123"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    for id in node_ids {
        let r = fetch(&c, format!("{}/nodes/{id}", app.base)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(!leaks(&r.text().await.unwrap()));
    }
    for page in ["/", "/account", "/users", "/audit"] {
        let r = fetch(&c, format!("{}{page}", app.base)).await;
        let text = r.text().await.unwrap();
        assert!(!leaks(&text), "{page} leaked grid B");
    }
    let (_, home) = get(&c, app.url("/")).await;
    assert!(home.contains("甲网格"));

    // Nothing changed.
    let after = tree::subtree(&db, &Scope::operator(), None).await.unwrap();
    let after_users = accounts::list(&db, &Scope::operator(), linli_store::Page::all())
        .await
        .unwrap();
    let after_json = serde_json::to_string(&(
        after.len(),
        &after_users
            .iter()
            .map(|u| (&u.username, u.role, u.disabled))
            .collect::<Vec<_>>(),
    ))
    .unwrap();
    assert_eq!(before_json, after_json);
    let reopening_b = linli_store::enterprises::reopening(&db, &Scope::operator(), w.reopening_b)
        .await
        .unwrap();
    assert_eq!(reopening_b.status.as_str(), "submitted");
    for (a, b) in before.iter().zip(after.iter()) {
        assert_eq!(
            (a.id, &a.name, &a.path, &a.closed_on),
            (b.id, &b.name, &b.path, &b.closed_on)
        );
    }
    app.t.finish().await;
}

on_both!(a_grid_worker_reaches_nothing_of_another_grid, scope_walk);

#[tokio::test]
async fn persons_follow_the_contract() {
    let app = spawn(TestDb::sqlite().await).await;
    let w = world(&app.t.db).await;
    let staff = api_login(&app, "staff").await;
    let n = id_number("53340119850312001");
    // An invalid ID number is a 422 naming the field; nothing is stored.
    let bad = format!("{}{}", &n[..17], if n.ends_with('0') { '1' } else { '0' });
    let body = expect_post(
        &staff,
        app.url("/api/v1/persons"),
        &json!({"node_id": w.grid_a.id, "name": "张三", "id_number": bad, "phone": "13612348609"}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["field"], "id_number");

    let p = expect_post(&staff, app.url("/api/v1/persons"), &json!({"node_id": w.grid_a.id, "name": "张三", "id_number": n, "phone": "136 1234 8609", "address": "3栋2单元501室", "relation": "户主", "tags": ["独居老人"]}), StatusCode::CREATED).await;
    let pid = p["id"].as_i64().unwrap();
    assert_eq!(p["gender"], "male");
    assert_eq!(p["tags"][0], "独居老人");

    // Reading shows masks only.
    let (_, text) = get(&staff, format!("{}/api/v1/persons/{pid}", app.base)).await;
    assert!(
        !text.contains(&n) && !text.contains("13612348609") && !text.contains(&n[6..14]),
        "{text}"
    );
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["id_number_masked"], format!("533401********{}", &n[14..]));
    assert_eq!(p["phone_masked"], "136****8609");

    // Unmask: clear values, and an audit entry listed by entity.
    let u: Value = send_json(
        &staff,
        format!("{}/api/v1/persons/{pid}/unmask", app.base),
        &json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(u["id_number"], n.as_str());
    assert_eq!(u["phone"], "13612348609");
    let admin = api_login(&app, "admin").await;
    let log: Value = fetch(
        &admin,
        format!("{}/api/v1/audit?entity=person&entity_id={pid}", app.base),
    )
    .await
    .json()
    .await
    .unwrap();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"person.unmask") && actions.contains(&"person.create"),
        "{actions:?}"
    );
    // A grid worker may not unmask, even in their own grid.
    let worker = api_login(&app, "worker_a").await;
    expect_post(
        &worker,
        format!("{}/api/v1/persons/{pid}/unmask", app.base),
        &json!({}),
        StatusCode::FORBIDDEN,
    )
    .await;

    // Search by pinyin initials, last 4, phone.
    for q in ["zs", &n[14..], "13612348609", "张"] {
        let s: Value = worker
            .get(app.url("/api/v1/persons"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            s["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == pid),
            "{q}: {s}"
        );
    }

    // The tag list is data: admins add to it, nobody else.
    expect_post(
        &admin,
        app.url("/api/v1/tags"),
        &json!({"name": "留守儿童"}),
        StatusCode::CREATED,
    )
    .await;
    expect_post(
        &staff,
        app.url("/api/v1/tags"),
        &json!({"name": "别的"}),
        StatusCode::FORBIDDEN,
    )
    .await;
    let tags: Vec<String> = fetch(&staff, app.url("/api/v1/tags"))
        .await
        .json()
        .await
        .unwrap();
    assert!(tags.contains(&"留守儿童".to_owned()) && !tags.contains(&"别的".to_owned()));

    // PATCH and history.
    let r = staff
        .patch(format!("{}/api/v1/persons/{pid}", app.base))
        .json(&json!({"phone": "13712345678", "ethnic_group": "纳西"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["ethnic_group"], "纳西族");
    let h: Value = json_at(&staff, format!("{}/api/v1/persons/{pid}/history", app.base)).await;
    let phone = h
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "phone")
        .unwrap();
    assert_eq!(phone["old_value"], "136****8609");
    assert_eq!(phone["new_value"], "137****5678");
    app.t.finish().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_with_retry_after() {
    let app = spawn(TestDb::sqlite().await).await;
    world(&app.t.db).await;
    let c = client();
    for _ in 0..5 {
        expect_post(
            &c,
            app.url("/api/v1/session"),
            &json!({"username": "staff", "password": "guess-guess"}),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    // The sixth try is refused even with the right password, and says when to come back.
    let r = send_json(
        &c,
        app.url("/api/v1/session"),
        &json!({"username": "staff", "password": "test-pass-123"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");
    // Another account from the same address is not locked by it.
    expect_post(
        &c,
        app.url("/api/v1/session"),
        &json!({"username": "admin", "password": "test-pass-123"}),
        StatusCode::OK,
    )
    .await;
    app.t.finish().await;
}

#[tokio::test]
async fn epidemic_follows_the_contract() {
    let app = spawn(TestDb::sqlite().await).await;
    let w = world(&app.t.db).await;
    let admin = api_login(&app, "admin").await;
    let staff = api_login(&app, "staff").await;
    let url = |p: &str| format!("{}{p}", app.base);

    // Risk areas: staff may not declare one; an admin may; bad fields are named.
    let area = json!({"division_code": "110105", "level": "medium", "from": "2022-07-01", "to": "2022-07-20"});
    expect_post(
        &staff,
        url("/api/v1/risk-areas"),
        &area,
        StatusCode::FORBIDDEN,
    )
    .await;
    let body = expect_post(
        &admin,
        url("/api/v1/risk-areas"),
        &json!({"division_code": "99x", "level": "very", "from": "2022-13-01"}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields = error_fields(&body);
    assert_eq!(fields, vec!["division_code", "level", "from"]);
    expect_post(
        &admin,
        url("/api/v1/risk-areas"),
        &area,
        StatusCode::CREATED,
    )
    .await;
    let listed: Value = json_at(&staff, url("/api/v1/risk-areas")).await;
    assert!(listed["risk_areas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["division_code"] == "110105"));
    let policies: Value = json_at(&staff, url("/api/v1/policies")).await;
    assert_eq!(policies["policies"].as_array().unwrap().len(), 4);

    // An arrival with an inline new person, from the medium-risk area: 9th edition, 7 days home.
    let n = id_number("53340119900101003");
    let r = staff
        .post(url("/api/v1/arrivals"))
        .json(&json!({
            "person": {"node_id": w.grid_a.id, "name": "王五", "id_number": n, "address": "1-1-102"},
            "origin_code": "110105", "arrived_on": "2022-07-05", "purpose": "探亲",
            "symptoms": [], "temperature": 36.4
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["classification"]["measure"], "home_quarantine");
    assert_eq!(a["classification"]["days"], 7);
    assert_eq!(a["classification"]["until"], "2022-07-11");
    assert!(a["classification"]["policy_version"]
        .as_str()
        .unwrap()
        .contains('@'));
    let explanation = a["classification"]["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("北京市朝阳区") && explanation.contains("2022-07-11"),
        "{explanation}"
    );
    let obs = a["observation_id"].as_i64().unwrap();
    assert_eq!(a["alerts"], json!([]));

    // Class B with 38.4 at screening: no measure, and the alert beside it, with the referral.
    let r = staff
        .post(url("/api/v1/arrivals"))
        .json(&json!({
            "person": {"node_id": w.grid_a.id, "name": "赵六", "id_number": id_number("53340119900101011"), "address": "1-1-103"},
            "origin_code": "110105", "arrived_on": "2023-03-01", "temperature": 38.4
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["classification"]["measure"], "none");
    assert_eq!(b["classification"]["fever_alert"], true);
    assert_eq!(
        b["classification"]["headline"],
        "无需管控；体温 38.4 ℃ 已发出发热预警，请立即送发热门诊"
    );
    let alerts = b["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{b}");
    assert_eq!(alerts[0]["kind"], "fever");
    assert_eq!(alerts[0]["referral"], "fever_clinic");
    assert_eq!(alerts[0]["temperature"], 38.4);
    assert_eq!(alerts[0]["id"], b["alert_id"]);
    assert!(b["alert_id"].as_i64().is_some());

    // Check-ins: a late entry inside the period is fine; a fever raises an alert.
    expect_post(
        &staff,
        url(&format!("/api/v1/observations/{obs}/checkins")),
        &json!({"temperature": 36.6, "symptoms": [], "at": "2022-07-06T08:00:00+08:00"}),
        StatusCode::CREATED,
    )
    .await;
    let r = send_json(
        &staff,
        url(&format!("/api/v1/observations/{obs}/checkins")),
        &json!({"temperature": "37.8", "at": "2022-07-06T20:00:00+08:00"}),
    )
    .await;
    let c: Value = r.json().await.unwrap();
    assert!(c["alert_id"].is_i64(), "{c}");
    expect_post(
        &staff,
        url(&format!("/api/v1/observations/{obs}/checkins")),
        &json!({"temperature": 36.6, "at": "2022-07-20T08:00:00+08:00"}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let alerts: Value = fetch(
        &staff,
        url(&format!(
            "/api/v1/alerts?node_id={}&kind=fever",
            w.community.id
        )),
    )
    .await
    .json()
    .await
    .unwrap();
    let list = alerts["alerts"].as_array().unwrap();
    assert!(list
        .iter()
        .any(|x| x["observation_id"] == obs && x["kind"] == "fever"));
    assert!(list
        .iter()
        .all(|x| x["raised_at"].is_string() && x["person_id"].is_i64()));

    // Releases due on the last day, then released in one batch.
    let due: Value = fetch(
        &staff,
        url(&format!(
            "/api/v1/releases?node_id={}&on=2022-07-11",
            w.community.id
        )),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        due["due"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["observation_id"] == obs),
        "{due}"
    );
    let r = send_json(
        &staff,
        url("/api/v1/releases"),
        &json!({"observation_ids": [obs], "on": "2022-07-10"}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not due before its last day"
    );
    let r = expect_post(
        &staff,
        url("/api/v1/releases"),
        &json!({"observation_ids": [obs], "on": "2022-07-11"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["released"], 1);

    // Neither person_id nor person: a 422 naming the field.
    expect_post(
        &staff,
        url("/api/v1/arrivals"),
        &json!({"origin_code": "110105", "arrived_on": "2022-07-05"}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.t.finish().await;
}
