//! Supplies over HTTP, against the real server on SQLite and on PostgreSQL: the API contract
//! (presets, sites, the ledger with its 409, stock over a subtree, transfers) and the pages
//! (stock, a site's form re-rendered when refused, CSRF, a transfer between two communities).

use crate::support::*;

use linli_core::kernel::clock::now_ms;
use linli_core::Scope;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn ledger_rows(db: &Db) -> i64 {
    let op = Scope::operator();
    let mut n = 0;
    for site in linli_store::supplies::sites_in_scope(db, &op)
        .await
        .unwrap()
    {
        n += linli_store::supplies::ledger(db, &op, site.id, linli_store::Page::all())
            .await
            .unwrap()
            .len() as i64;
    }
    n
}

/// The quantity of `name` in a stock answer.
fn stock_of(stock: &Value, name: &str) -> (i64, i64) {
    let line = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap();
    (
        line["quantity"].as_i64().unwrap(),
        line["in_transit"].as_i64().unwrap(),
    )
}

/// The stock answer for `node` as `c` sees it.
async fn stock(c: &Api<'_>, node: i64) -> Value {
    c.get(&format!("/api/v1/supplies/stock?node_id={node}"))
        .await
        .1
}

/// `c` takes step `what` (submit, approve, fulfil, …) on supplies request `request`.
async fn step(c: &Api<'_>, request: i64, what: &str, body: Value) -> (StatusCode, Value) {
    c.post(&format!("/api/v1/supplies/requests/{request}/{what}"), body)
        .await
}

async fn api_contract(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = neighbours(&db).await;
    let staff_a = api_as(&app, "staff_a").await;
    let staff_b = api_as(&app, "staff_b").await;

    // Items: the seven presets the store seeds (the store tests name them), every one listed.
    let items: Value = staff_a.get("/api/v1/supplies/items").await.1;
    let names: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    let presets = linli_store::supplies::items(&db).await.unwrap();
    assert_eq!(presets.len(), 7);
    for preset in &presets {
        let name = preset.name.as_str();
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
    let masks = items["items"][0]["id"].as_i64().unwrap();
    assert!(items["items"][0]["unit"].is_string());

    // Sites: 201 with the id; outside the jurisdiction 404.
    let (s, site_a) = staff_a
        .post(
            "/api/v1/supplies/sites",
            json!({"node_id": w.community_a.id, "name": "里布嘎物资点"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site_a}");
    let site_a = site_a["id"].as_i64().unwrap();
    let (s, _) = staff_a
        .post(
            "/api/v1/supplies/sites",
            json!({"node_id": w.community_b.id, "name": "越界"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, site_b) = staff_b
        .post(
            "/api/v1/supplies/sites",
            json!({"node_id": w.community_b.id, "name": "北门物资点"}),
        )
        .await;
    let site_b = site_b["id"].as_i64().unwrap();

    // Ledger: a receipt, an issue, an adjustment; bad input names the field.
    let entry = |kind: &str, q: i64, reason: Option<&str>| json!({"site_id": site_a, "item_id": masks, "kind": kind, "quantity": q, "reason": reason});
    let (s, e) = staff_a
        .post("/api/v1/supplies/ledger", entry("receipt", 500, None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["balance_after"], 500);
    let (s, e) = staff_a
        .post("/api/v1/supplies/ledger", entry("issue", 120, None))
        .await;
    assert_eq!((s, e["delta"].as_i64()), (StatusCode::CREATED, Some(-120)));
    let (s, e) = staff_a
        .post(
            "/api/v1/supplies/ledger",
            entry("adjustment", 5, Some("damaged")),
        )
        .await;
    assert_eq!(
        (s, e["balance_after"].as_i64()),
        (StatusCode::CREATED, Some(375))
    );
    let (s, e) = staff_a
        .post("/api/v1/supplies/ledger", entry("adjustment", 5, None))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "reason");

    // An issue beyond the balance: 409, and nothing written.
    let before = ledger_rows(&db).await;
    let (s, e) = staff_a
        .post("/api/v1/supplies/ledger", entry("issue", 376, None))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "quantity");
    assert_eq!(ledger_rows(&db).await, before);

    // A transfer from A to B: in transit, then received by B (A may not receive it).
    let (s, t) = staff_a
        .post(
            "/api/v1/supplies/transfers",
            json!({"from_site_id": site_a, "to_site_id": site_b, "item_id": masks, "quantity": 75}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["state"], "sent");
    let transfer = t["id"].as_i64().unwrap();
    let official = api_as(&app, "official").await;
    assert_eq!(
        stock_of(&stock(&official, w.street.id).await, "医用外科口罩"),
        (300, 75)
    );
    assert_eq!(
        stock_of(&stock(&staff_b, w.community_b.id).await, "医用外科口罩"),
        (0, 75)
    );
    // Only B receives it, once.
    let receive = format!("/api/v1/supplies/transfers/{transfer}/receive");
    for (who, status, state) in [
        (&staff_a, StatusCode::FORBIDDEN, None),
        (&staff_b, StatusCode::OK, Some("received")),
        (&staff_b, StatusCode::CONFLICT, None),
    ] {
        let (s, t) = who.post(&receive, json!({})).await;
        assert_eq!(s, status, "{t}");
        if state.is_some() {
            assert_eq!(t["state"].as_str(), state);
        }
    }
    assert_eq!(
        stock_of(&stock(&official, w.street.id).await, "医用外科口罩"),
        (375, 0)
    );
    // Staff of A cannot read the street's sum; the consistency check holds.
    assert_eq!(
        staff_a
            .get(&format!("/api/v1/supplies/stock?node_id={}", w.street.id))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let check: Value = official.get("/api/v1/supplies/consistency").await.1;
    assert_eq!(check["consistent"], true);

    // A request from A to the street: drafted, submitted, approved in part, fulfilled from the
    // reserve.
    let reserve = supply_site(&db, w.street.id, "街道储备库", true).await;
    stock_up(&db, reserve, masks, 1000).await;
    let (s, r) = staff_a.post("/api/v1/supplies/requests",
        json!({"site_id": site_a, "lines": [{"item_id": masks, "quantity": 500}], "note": "隔离户增多"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["state"], "draft");
    let request = r["id"].as_i64().unwrap();
    let (s, r) = step(&staff_a, request, "submit", json!({})).await;
    assert_eq!(
        (s, r["state"].as_str()),
        (StatusCode::OK, Some("submitted"))
    );
    let (s, _) = step(
        &staff_a,
        request,
        "approve",
        json!({"lines": [{"item_id": masks, "quantity": 500}]}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = step(
        &official,
        request,
        "approve",
        json!({"lines": [{"item_id": masks, "quantity": 300}]}),
    )
    .await;
    assert_eq!((s, r["state"].as_str()), (StatusCode::OK, Some("approved")));
    let (s, r) = step(
        &official,
        request,
        "fulfil",
        json!({"from_site_id": reserve, "lines": [{"item_id": masks, "quantity": 300}]}),
    )
    .await;
    assert_eq!(
        (s, r["state"].as_str()),
        (StatusCode::OK, Some("fulfilled")),
        "{r}"
    );
    assert_eq!(r["lines"][0]["fulfilled"], 300);
    let (s, _) = step(&official, request, "approve", json!({"lines": []})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let listed: Value = staff_a
        .get(&format!(
            "/api/v1/supplies/requests?node_id={}",
            w.community_a.id
        ))
        .await
        .1;
    assert_eq!(listed["requests"].as_array().unwrap().len(), 1);
    app.t.finish().await;
}

async fn pages_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = neighbours(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let (staff, csrf) = sign_in(&app, "staff_a").await;

    // The nav entry and the stock page of the viewer's node.
    let (status, html) = get(&staff, url("/supplies")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/supplies\" class=\"on\">物资"),
        "{html}"
    );
    assert!(html.contains("医用外科口罩"));
    assert!(html.contains("设立物资点"));

    // Set up a site through the form.
    let community = w.community_a.id.to_string();
    let (status, location) = post_form(
        &staff,
        url("/supplies/sites"),
        &[
            ("csrf", &csrf),
            ("node_id", &community),
            ("name", "里布嘎物资点"),
            ("kind", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let site: i64 = location
        .trim_start_matches("/supplies/sites/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let masks = linli_store::supplies::items(&db).await.unwrap()[0]
        .id
        .to_string();
    let entries = url(&format!("/supplies/sites/{site}/entries"));
    let entry = |csrf: &str, kind: &str, q: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("item_id".to_owned(), masks.clone()),
            ("kind".to_owned(), kind.to_owned()),
            ("quantity".to_owned(), q.to_owned()),
            ("reason".to_owned(), String::new()),
            ("note".to_owned(), "区里调拨".to_owned()),
        ]
    };

    // Without the CSRF token nothing is recorded.
    assert_eq!(
        post_any(&staff, &entries, &entry("guess", "receipt", "300"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(ledger_rows(&db).await, 0);

    assert_eq!(
        post_any(&staff, &entries, &entry(&csrf, "receipt", "300"))
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    // A bad quantity comes back with the field's message, the form filled in.
    let (r, html) = post_any(&staff, &entries, &entry(&csrf, "issue", "三十")).await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("数量："), "{html}");
    assert!(html.contains("value=\"三十\""));
    assert!(html.contains("<option value=\"issue\" selected>"));
    // An issue beyond the balance: 409 with what is on hand, nothing recorded.
    let r = staff
        .post(&entries)
        .form(&entry(&csrf, "issue", "301"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("库存不足：现有 300"));
    assert_eq!(ledger_rows(&db).await, 1);
    assert_eq!(
        post_any(&staff, &entries, &entry(&csrf, "issue", "40"))
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    let (_, html) = get(&staff, url(&format!("/supplies/sites/{site}"))).await;
    assert!(html.contains("260 只"), "{html}");
    assert!(html.contains("-40 只"));

    // A threshold above the balance marks it low on the site and on the stock page.
    let (status, _) = post_form(
        &staff,
        url(&format!("/supplies/sites/{site}/thresholds")),
        &[("csrf", &csrf), ("item_id", &masks), ("minimum", "500")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = get(&staff, url("/supplies")).await;
    assert!(html.contains("1 个物资点库存不足"), "{html}");

    // A transfer to the neighbouring community, received by its staff on their page.
    let site_b = supply_site(&db, w.community_b.id, "北门物资点", false)
        .await
        .to_string();
    let (status, _) = post_form(
        &staff,
        url(&format!("/supplies/sites/{site}/transfers")),
        &[
            ("csrf", &csrf),
            ("to_site_id", &site_b),
            ("item_id", &masks),
            ("quantity", "60"),
            ("note", "支援"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (staff_b, csrf_b) = sign_in(&app, "staff_b").await;
    let (_, html) = get(&staff_b, url("/supplies")).await;
    assert!(html.contains("在途"), "{html}");
    assert!(html.contains("确认接收"));
    let transfer = linli_store::supplies::transfers(&db, &Scope::operator(), w.street.id, None)
        .await
        .unwrap()[0]
        .id;
    // The sender cannot receive it.
    let (status, _) = post_form(
        &staff,
        url(&format!("/supplies/transfers/{transfer}/receive")),
        &[("csrf", &csrf), ("back", "/supplies")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location) = post_form(
        &staff_b,
        url(&format!("/supplies/transfers/{transfer}/receive")),
        &[("csrf", &csrf_b), ("back", "https://evil.example/")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/supplies?"), "{location}");
    let (_, html) = get(&staff_b, url(&location)).await;
    assert!(html.contains("已确认接收"));
    assert!(html.contains("60 只"));

    // A grid worker reads their grid: no form, no other community's site.
    let (worker, _) = sign_in(&app, "worker").await;
    let (status, _) = get(&worker, url(&format!("/supplies/sites/{site}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = get(&worker, url("/supplies")).await;
    assert!(!html.contains("里布嘎物资点"));
    assert!(!html.contains("设立物资点"));

    // The export is an xlsx.
    let r = fetch(
        &staff,
        url(&format!(
            "/supplies/stock.xlsx?node_id={}",
            w.community_a.id
        )),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK");

    // An official allocates from the street's reserve: the suggestion, then the transfers.
    let op = Scope::operator();
    let reserve = supply_site(&db, w.street.id, "街道储备库", true).await;
    stock_up(&db, reserve, masks.parse().unwrap(), 1000).await;
    let (official, csrf_o) = sign_in(&app, "official").await;
    let (status, html) = get(&official, url(&format!("/supplies/sites/{reserve}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("按需分配给各社区"));
    let (status, html) = get(
        &official,
        url(&format!(
            "/supplies/sites/{reserve}/allocate?item_id={masks}"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("里布嘎社区") && html.contains("北门社区"),
        "{html}"
    );
    let (status, location) = post_form(
        &official,
        url(&format!("/supplies/sites/{reserve}/allocate")),
        &[
            ("csrf", &csrf_o),
            ("item_id", &masks),
            ("to", &site.to_string()),
            ("q", "300"),
            ("to", &site_b),
            ("q", "200"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let in_transit = linli_store::supplies::transfers(&db, &op, w.street.id, Some("sent"))
        .await
        .unwrap();
    assert_eq!(in_transit.len(), 2);
    // Staff see the allocation page of no reserve of theirs.
    let (status, _) = get(&staff, url(&format!("/supplies/sites/{reserve}/allocate"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A request from the site's page, submitted; the official approves and fulfils it.
    let (status, location) = post_form(
        &staff,
        url(&format!("/supplies/sites/{site}/requests")),
        &[
            ("csrf", &csrf),
            ("item", &masks),
            ("q", "120"),
            ("item", &masks),
            ("q", ""),
            ("note", "隔离户增多"),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let street_q = format!("/supplies/requests?node_id={}", w.street.id);
    let (status, html) = get(&official, url(&street_q)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("已提交") && html.contains("申领 120"),
        "{html}"
    );
    let request = linli_store::supplies::requests(&db, &op, w.street.id)
        .await
        .unwrap()[0]
        .id;
    let street = w.street.id.to_string();
    let (status, location) = post_form(
        &official,
        url(&format!("/supplies/requests/{request}/approve")),
        &[
            ("csrf", &csrf_o),
            ("node_id", &street),
            ("item", &masks),
            ("q", "100"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    // More than approved: refused on the page, nothing sent.
    let reserve = reserve.to_string();
    let fulfil = |q| {
        [
            ("csrf", csrf_o.as_str()),
            ("node_id", &street),
            ("from_site_id", &reserve),
            ("item", &masks),
            ("q", q),
        ]
    };
    let fulfil_url = url(&format!("/supplies/requests/{request}/fulfil"));
    let (status, html) = post_form(&official, fulfil_url.clone(), &fulfil("101")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("还可发放 100"), "{html}");
    let (status, _) = post_form(&official, fulfil_url, &fulfil("100")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = get(&staff, url("/supplies/requests")).await;
    assert!(
        html.contains("已发放") && html.contains("已发 100"),
        "{html}"
    );
    app.t.finish().await;
}

on_both!(the_api_follows_the_contract, api_contract);

on_both!(staff_keep_the_ledger_and_transfer_on_the_pages, pages_flow);

/// A person in `at` under observation: arrived from a high-risk area (2022 policy).
async fn observed_person(db: &Db, at: &Node, name: &str, id_body: &str) {
    use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel};
    let op = Scope::operator();
    let date = |s: &str| linli_core::kernel::clock::parse_date("d", s).unwrap();
    if linli_store::epidemic::risk_areas(db)
        .await
        .unwrap()
        .is_empty()
    {
        let area = RiskArea::new(
            DivisionCode::parse("420111").unwrap(),
            None,
            RiskLevel::High,
            date("2022-06-30"),
            None,
        )
        .unwrap();
        linli_store::epidemic::add_risk_area(db, &op, &area, now_ms())
            .await
            .unwrap();
    }
    let number = format!(
        "{id_body}{}",
        linli_core::kernel::idnumber::check_char(id_body.as_bytes())
    );
    let person = person(
        db,
        at.id,
        linli_core::registry::PersonInput {
            name,
            id_number: Some(&number),
            address: Some("1栋1单元101室"),
            ..Default::default()
        },
    )
    .await;
    let recorded = arrival(db, person.id, "420111", date("2022-07-02"), Some("36.5")).await;
    assert!(recorded.observation_id.is_some());
}

/// `GET /api/v1/supplies/allocation` answers what the allocation page suggests (need, stock,
/// in transit, suggested quantity per community), for those who may dispatch from the reserve
/// only, names a bad parameter, and moves nothing.
async fn allocation_api(t: TestDb) {
    use linli_store::supplies;
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = neighbours(&db).await;
    let op = Scope::operator();
    let url = |p: &str| format!("{}{p}", app.base);
    let masks = supplies::items(&db).await.unwrap()[0].id;
    let reserve = supply_site(&db, w.street.id, "街道储备库", true).await;
    let store_a = supply_site(&db, w.community_a.id, "甲物资点", false).await;
    let store_b = supply_site(&db, w.community_b.id, "乙物资点", false).await;
    stock_up(&db, reserve, masks, 1000).await;
    stock_up(&db, store_a, masks, 5).await;
    // 3 masks on their way to A.
    supplies::send_transfer(
        &db,
        &op,
        &supplies::TransferInput {
            item_id: masks,
            from_site_id: reserve,
            to_site_id: store_a,
            quantity: linli_core::supplies::Quantity::parse("quantity", "3").unwrap(),
            note: None,
        },
        now_ms(),
    )
    .await
    .unwrap();
    observed_person(&db, &w.community_a, "张观察", "53340119900101001").await;
    observed_person(&db, &w.community_b, "李观察", "53340119900101002").await;
    let transfers_before = supplies::transfers(&db, &op, w.street.id, None)
        .await
        .unwrap()
        .len();

    let official = api_as(&app, "official").await;
    let q = format!(
        "/api/v1/supplies/allocation?site_id={reserve}&item_id={masks}&quantity=20&daily_use=2&days=7"
    );
    let (status, v) = official.get(&q).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["in_reserve"], 997, "{v}");
    assert_eq!(v["available"], 20);
    let lines = v["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{v}");
    let line = |name: &str| {
        lines
            .iter()
            .find(|l| l["community"] == name)
            .unwrap()
            .clone()
    };
    let a = line("里布嘎社区");
    let b = line("北门社区");
    // One person × 2 a day × 7 days = 14; A holds 5 and has 3 coming: short of 6; B of 14.
    assert_eq!(
        (&a["need"], &a["stock"], &a["in_transit"], &a["shortfall"]),
        (&json!(14), &json!(5), &json!(3), &json!(6)),
        "{a}"
    );
    assert_eq!(
        (&b["stock"], &b["shortfall"]),
        (&json!(0), &json!(14)),
        "{b}"
    );
    assert_eq!(
        (&a["site_id"], &b["site_id"]),
        (&json!(store_a), &json!(store_b))
    );
    assert_eq!(a["quantity"], 6);
    assert_eq!(b["quantity"], 14);
    assert_eq!(v["suggested"], 20);
    // Less than needed: shared by shortfall, never more than available.
    let v: Value = official
        .get(&format!(
            "/api/v1/supplies/allocation?site_id={reserve}&item_id={masks}&quantity=10"
        ))
        .await
        .1;
    assert_eq!(v["suggested"], 10, "{v}");
    // The page shows the same suggestion.
    let (page, _) = sign_in(&app, "official").await;
    let (status, html) = get(
        &page,
        url(&format!(
            "/supplies/sites/{reserve}/allocate?item_id={masks}&available=20&daily_use=2&days=7"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("name=\"q\" value=\"6\"") && html.contains("name=\"q\" value=\"14\""),
        "{html}"
    );

    // Bad parameters are named.
    for (query, field) in [
        (format!("site_id={reserve}&item_id={masks}&days=0"), "days"),
        (
            format!("site_id={reserve}&item_id={masks}&daily_use=-1"),
            "daily_use",
        ),
        (
            format!("site_id={reserve}&item_id={masks}&quantity=-5"),
            "quantity",
        ),
        (format!("item_id={masks}"), "site_id"),
        (format!("site_id={reserve}"), "item_id"),
    ] {
        let (status, e) = official
            .get(&format!("/api/v1/supplies/allocation?{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(e["error"]["fields"][0]["field"], field, "{query}: {e}");
    }
    // An official dispatches from reserves only: a community's store is refused.
    assert_eq!(
        official
            .get(&format!(
                "/api/v1/supplies/allocation?site_id={store_a}&item_id={masks}"
            ))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Staff of a community cannot dispatch from the street's reserve: it is not theirs (404).
    let staff = api_as(&app, "staff_a").await;
    assert_eq!(staff.get(&q).await.0, StatusCode::NOT_FOUND);
    let worker = api_as(&app, "worker").await;
    assert_eq!(worker.get(&q).await.0, StatusCode::NOT_FOUND);
    // Nothing moved.
    assert_eq!(
        supplies::transfers(&db, &op, w.street.id, None)
            .await
            .unwrap()
            .len(),
        transfers_before
    );
    app.t.finish().await;
}

on_both!(
    the_allocation_api_answers_the_pages_suggestion,
    allocation_api
);

/// Admins add items on the stock page: a refused form is shown again as typed with the field
/// named, a duplicate is refused, a good one lands in the catalogue; staff see no form and are
/// refused (403) when posting it.
async fn items_form(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = neighbours(&db).await;
    user(&db, "admin", "admin", &[]).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let count = || async { linli_store::supplies::items(&db).await.unwrap().len() };
    let before = count().await;

    let (admin, csrf) = sign_in(&app, "admin").await;
    let (status, html) = get(&admin, url("/supplies")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("新增物资品类"), "{html}");
    let action = format!("/supplies/items?node_id={}", w.street.id);

    // The item form as the admin fills it in.
    let item = |name: &str, unit: &str, category: &str, shelf_life_days: &str| {
        [
            ("csrf", csrf.as_str()),
            ("name", name),
            ("unit", unit),
            ("category", category),
            ("shelf_life_days", shelf_life_days),
        ]
        .map(|(k, v)| (k, v.to_owned()))
    };

    // Bad input: the fields named, the form open and filled back, nothing added. A preset's
    // name is taken.
    let refused = [
        (
            item("隔离衣", "", "equipment", "三年"),
            &[
                "保质期：请填写整数天数",
                "value=\"隔离衣\"",
                "value=\"三年\"",
                "value=\"equipment\" selected",
            ][..],
        ),
        (
            item("隔离衣", "", "protective", "0"),
            &["计量单位：", "保质期："],
        ),
        (
            item("医用外科口罩", "只", "protective", ""),
            &["物资名称：已有同名物资"],
        ),
    ];
    for (form, says) in refused {
        let (status, html) = post_any(&admin, url(&action), &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for s in says {
            assert!(html.contains(s), "{s}: {html}");
        }
    }
    assert_eq!(count().await, before);

    // A good one.
    let gown = item("隔离衣", "件", "protective", "730");
    let (status, location) = post_any(&admin, url(&action), &gown).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(
        location,
        format!("/supplies?node_id={}&notice=item", w.street.id)
    );
    let items = linli_store::supplies::items(&db).await.unwrap();
    let gown = items.iter().find(|i| i.name == "隔离衣").unwrap();
    assert_eq!(
        (
            gown.unit.as_str(),
            gown.category.as_str(),
            gown.shelf_life_days
        ),
        ("件", "protective", Some(730))
    );
    let (_, html) = get(&admin, url(&location)).await;
    assert!(html.contains("已新增物资品类"), "{html}");

    // Staff: no form, and a post is refused.
    let (staff, csrf_s) = sign_in(&app, "staff_a").await;
    let (_, html) = get(&staff, url("/supplies")).await;
    assert!(!html.contains("新增物资品类"));
    let (status, _) = post_form(
        &staff,
        url("/supplies/items"),
        &[
            ("csrf", &csrf_s),
            ("name", "防护面屏"),
            ("unit", "个"),
            ("category", "protective"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without the CSRF token nothing is added either.
    let (status, _) = post_form(
        &admin,
        url("/supplies/items"),
        &[
            ("name", "防护面屏"),
            ("unit", "个"),
            ("category", "protective"),
        ],
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(count().await, before + 1);
    app.t.finish().await;
}

on_both!(admins_add_items_on_the_stock_page, items_form);

/// A site's ledger page: the item, kind, words and days change its rows; the export holds the
/// filtered entries and is audited; another community's staff do not find the site.
async fn the_ledger_filters_and_exports(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = neighbours(&db).await;
    let site = supply_site(&db, w.community_a.id, "社区物资点", false).await;
    let items = linli_store::supplies::items(&db).await.unwrap();
    let (masks, other) = (&items[0], &items[1]);
    let op = Scope::operator();
    for (item, kind, q, note) in [
        (masks.id, "receipt", 100, Some("红十字会捐赠")),
        (masks.id, "issue", 30, Some("发给甲网格")),
        (other.id, "receipt", 8, None),
    ] {
        let m = linli_core::supplies::Movement::parse(kind, q, None).unwrap();
        linli_store::supplies::record(&db, &op, site, item, &m, note, now_ms())
            .await
            .unwrap();
    }
    let (c, _) = sign_in(&app, "staff_a").await;
    let base = format!("/supplies/sites/{site}/ledger");
    let (st, html) = get(&c, app.url(&base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(text_of(&html).contains("共 3 笔"), "{html}");
    let (_, html) = get(&c, app.url(&format!("{base}?item={}", masks.id))).await;
    assert!(text_of(&html).contains("共 2 笔"), "{html}");
    let (_, html) = get(&c, app.url(&format!("{base}?kind=issue"))).await;
    let text = text_of(&html);
    assert!(
        text.contains("共 1 笔") && text.contains("发给甲网格"),
        "{text}"
    );
    let (_, html) = get(
        &c,
        app.url(&format!("{base}?q=%E7%BA%A2%E5%8D%81%E5%AD%97")),
    )
    .await;
    let text = text_of(&html);
    assert!(
        text.contains("共 1 笔") && text.contains("红十字会捐赠"),
        "{text}"
    );
    let (_, html) = get(&c, app.url(&format!("{base}?to=2020-01-01"))).await;
    assert!(text_of(&html).contains("共 0 笔"));
    let (st, html) = get(&c, app.url(&format!("{base}?kind=gift"))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&html).contains("「gift」不是台账的类别"), "{html}");
    // The site's page links to it.
    let (_, html) = get(&c, app.url(&format!("/supplies/sites/{site}"))).await;
    assert!(html.contains(&format!("href=\"{base}\"")), "{html}");

    let rows = xlsx_rows(
        &c,
        app.url(&format!("{base}.xlsx?item={}", masks.id)),
        "物资台账",
    )
    .await;
    assert!(rows[0][0].contains("共 2 条"), "{:?}", rows[0]);
    let got: Vec<(&str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[1].as_str(), r[4].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(got, [("发放", "-30", "70"), ("入库", "100", "100")]);
    let audit = audited(&db, "list.export").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity, "supply_ledger");
    assert_eq!(audit[0].detail["rows"], 2);

    let (b, _) = sign_in(&app, "staff_b").await;
    for path in [base.clone(), format!("{base}.xlsx")] {
        let (st, _) = get(&b, app.url(&path)).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
    }
    app.t.finish().await;
}

on_both!(
    the_ledger_filters_and_exports,
    the_ledger_filters_and_exports
);
