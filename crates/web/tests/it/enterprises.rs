//! Enterprises (企业复工) against the real server, on SQLite and on PostgreSQL: the JSON
//! contract (credit code check, 409 on a duplicate, application, decision), the pages (sticky
//! register form, the public link, the decision), scope, CSRF and the link's rate limit.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::enterprises::credit_check_char;
use linli_core::Scope;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct World {
    community: Node,
    grid_a: Node,
    grid_b: Node,
    staff_id: i64,
    official_id: i64,
    worker_a_id: i64,
}

async fn world(db: &Db) -> World {
    let Town {
        street, community, ..
    } = town(db).await;
    let (grid_a, grid_b) = grids_ab(db, community.id).await;
    World {
        staff_id: user(db, "staff", "staff", &[community.id]).await,
        official_id: user(db, "official", "official", &[street.id]).await,
        worker_a_id: user(db, "worker_a", "grid_worker", &[grid_a.id]).await,
        community,
        grid_a,
        grid_b,
    }
}

fn code(body: &str) -> String {
    format!("{body}{}", credit_check_char(body.as_bytes()).unwrap())
}

/// The same code with a wrong check character.
fn wrong(body: &str) -> String {
    let good = code(body);
    let last = good.chars().last().unwrap();
    format!("{body}{}", if last == '0' { '1' } else { '0' })
}

/// `who` decides reopening application `rid`.
async fn decide(who: &Bearer<'_>, rid: i64, decision: Value) -> (StatusCode, Value) {
    who.post(&format!("/api/v1/reopenings/{rid}/decision"), decision)
        .await
}

async fn contract(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let staff = bearer(&app, w.staff_id).await;
    let body = "91533401MA6K12345";

    // A wrong check character: 422 naming credit_code, nothing stored.
    let (s, v) = staff
        .post(
            "/api/v1/enterprises",
            json!({"node_id": w.grid_a.id, "name": "格桑商贸有限公司", "kind": "enterprise",
                    "credit_code": wrong(body)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "credit_code");
    // Lower case is accepted, normalised.
    let (s, v) = staff
        .post(
            "/api/v1/enterprises",
            json!({"node_id": w.grid_a.id, "name": "格桑商贸有限公司", "kind": "enterprise",
                    "credit_code": code(body).to_lowercase(), "employees": 46,
                    "contact_phone": "13612348609"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["credit_code"], code(body));
    assert_eq!(v["contact_phone"], "136****8609");
    assert_eq!(v["standing"], "not_reopened");
    assert!(v["application_link"].as_str().unwrap().starts_with("/e/"));
    let id = v["id"].as_i64().unwrap();
    // The same code again: 409 naming credit_code.
    let (s, v) = staff
        .post(
            "/api/v1/enterprises",
            json!({"node_id": w.grid_b.id, "name": "另一家", "kind": "enterprise",
                    "credit_code": code(body)}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "credit_code");

    // Apply, with the four items; an official may not decide, staff approve.
    let (s, v) = staff
        .post(
            &format!("/api/v1/enterprises/{id}/reopening"),
            json!({"checked": ["thermometers", "disinfection", "masks", "staff_registration"],
                    "extra_items": ["设置临时隔离室"], "employees_back": "40"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "submitted");
    let rid = v["id"].as_i64().unwrap();
    let official = bearer(&app, w.official_id).await;
    let (s, _) = decide(&official, rid, json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = decide(&staff, rid, json!({"decision": "reject"})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason"
    );
    assert_eq!(v["error"]["fields"][0]["field"], "reason");
    let (s, v) = decide(
        &staff,
        rid,
        json!({"decision": "approve", "reason": "条件齐备"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "approved");
    assert_eq!(v["decided_by"], "staff");
    // Deciding again is a conflict.
    let (s, _) = decide(&staff, rid, json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Inspections after approval.
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let (s, v) = staff
        .post(
            &format!("/api/v1/enterprises/{id}/inspections"),
            json!({"inspected_on": today, "inspector": "李四", "passed": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = staff
        .get(&format!("/api/v1/enterprises/{id}/inspections"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["inspections"].as_array().unwrap().len(), 1);

    // A second business in grid B, not reopened for want of workers.
    let (_, v) = staff
        .post(
            "/api/v1/enterprises",
            json!({"node_id": w.grid_b.id, "name": "卓玛小吃", "kind": "individual"}),
        )
        .await;
    let b = v["id"].as_i64().unwrap();
    let (s, v) = staff
        .put(
            &format!("/api/v1/enterprises/{b}/not-reopened"),
            json!({"reason": "workers_short"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = staff
        .get(&format!(
            "/api/v1/enterprise-counts?node_id={}",
            w.community.id
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["total"].as_i64(), v["reopened"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["by_reason"][0]["reason"], "workers_short");
    assert_eq!(v["by_reason"][0]["count"], 1);
    // One level down: grid A (reopened) and grid B (waiting for workers).
    assert_eq!(v["children"][0]["node_id"], w.grid_a.id);
    assert_eq!(v["children"][1]["not_reopened"], 1);
    let (s, v) = staff
        .get(&format!("/api/v1/enterprises?node_id={}", w.community.id))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["enterprises"].as_array().unwrap().len(), 2);

    // Grid A's worker sees grid A's business, not grid B's.
    let worker = bearer(&app, w.worker_a_id).await;
    let (s, v) = worker.get(&format!("/api/v1/enterprises/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["reopenings"].as_array().unwrap().len(), 1);
    let (s, _) = worker.get(&format!("/api/v1/enterprises/{b}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(the_api_follows_the_contract, contract);

// ---------------------------------------------------------------------------------------------
// Pages

/// The `/e/{token}` path shown on the enterprise page after registering.
fn link_in(html: &str) -> String {
    let start = html.find("/e/").unwrap();
    let code: String = html[start + 3..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    assert_eq!(code.len(), 12, "a code a person can type: {code}");
    format!("/e/{code}")
}

async fn pages(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let (staff, csrf) = sign_in(&app, "staff").await;
    let grid_a = w.grid_a.id.to_string();

    // The list and the nav entry.
    let (s, page) = get(&staff, url("/enterprises")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("href=\"/enterprises\" class=\"on\""));
    assert!(page.contains("里布嘎社区"));
    let before = between(&page, "<p class=\"muted small\">共 ", " 家企业")
        .parse::<usize>()
        .unwrap();

    // A wrong check character: the form comes back with the error under the field and the
    // values kept.
    let bad = wrong("91533401MA6K12345");
    let form = |credit: String| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("node_id".to_owned(), grid_a.clone()),
            ("kind".to_owned(), "enterprise".to_owned()),
            ("name".to_owned(), "格桑商贸有限公司".to_owned()),
            ("credit_code".to_owned(), credit),
            ("employees".to_owned(), "46".to_owned()),
            ("contact_name".to_owned(), "格桑".to_owned()),
            ("contact_phone".to_owned(), "13612348609".to_owned()),
        ]
    };
    let (r, page) = post_any(&staff, url("/enterprises/new"), &form(bad.clone())).await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("校验位"), "{page}");
    assert!(page.contains(&format!("value=\"{bad}\"")));
    assert!(page.contains("value=\"格桑商贸有限公司\""));
    assert!(page.contains("aria-invalid=\"true\""));
    // Without the CSRF token nothing happens.
    let mut no_csrf = form(code("91533401MA6K12345"));
    no_csrf.remove(0);
    assert_eq!(
        post_any(&staff, url("/enterprises/new"), &no_csrf).await.0,
        StatusCode::FORBIDDEN
    );

    // Registered: the page shows the public link once, the phone masked.
    let (r, page) = post_any(
        &staff,
        url("/enterprises/new"),
        &form(code("91533401MA6K12345")),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    assert!(page.contains("136****8609"));
    assert!(!page.contains("13612348609"));
    let link = link_in(&page);
    let (_, again) = get(&staff, url("/enterprises")).await;
    // Listed, one more than before, standing 未复工 in its own row.
    assert_eq!(
        text_of(enclosing(&again, "li", ">格桑商贸有限公司</a>"))
            .split(' ')
            .take(2)
            .collect::<Vec<_>>(),
        ["未复工", "格桑商贸有限公司"]
    );
    assert!(
        again.contains(&format!("共 {} 家企业", before + 1)),
        "{again}"
    );
    assert!(!again.contains(&link), "the link is shown only once");

    // The public link: no login, the business's own name only.
    let public = reqwest::Client::new();
    let (s, page) = get(&public, url(&link)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("格桑商贸有限公司"));
    for private in ["136****8609", "格桑</", "甲网格", "里布嘎社区", "91533401"] {
        assert!(!page.contains(private), "public page shows {private}");
    }
    // Typed off a slip of paper, in lower case and with a dash, it still opens.
    let typed = format!("{}-{}", link[..9].to_ascii_lowercase(), &link[9..]);
    let (s, page) = get(&public, url(&typed)).await;
    assert_eq!(s, StatusCode::OK, "{typed}");
    assert!(page.contains("格桑商贸有限公司"));
    // A made-up token is not found, in the old form and in the new.
    for made_up in ["ab".repeat(32), "ABCDEFGHJKMN".to_owned()] {
        let (s, _) = get(&public, url(&format!("/e/{made_up}"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // The business applies with two items missing, then staff see it pending.
    let (s, page) = post(
        &public,
        url(&link),
        &[
            ("checked", "thermometers"),
            ("checked", "masks"),
            ("employees_back", "x"),
        ],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a bad count is refused"
    );
    assert!(page.contains("返岗人数"), "{page}");
    assert!(
        page.contains("name=\"employees_back\" value=\"x\" inputmode=\"numeric\" maxlength=\"7\" aria-invalid=\"true\""),
        "the error is on the count, kept as typed: {page}"
    );
    assert!(page.contains("value=\"thermometers\" checked"));
    let (s, page) = post(
        &public,
        url(&link),
        &[
            ("checked", "thermometers"),
            ("checked", "disinfection"),
            ("checked", "masks"),
            ("checked", "staff_registration"),
            ("extra_items", "设置临时隔离室\n"),
            ("employees_back", "40"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("<p class=\"standing pending big\">已提交</p>"));
    let (_, page) = get(&public, url(&link)).await;
    assert!(
        page.contains("<p class=\"standing pending big\">待审核</p>"),
        "{page}"
    );
    assert!(!page.contains("name=\"checked\""), "no second application");

    // Staff approve it on the business's page.
    let (_, list) = get(&staff, url(&format!("/enterprises?node_id={grid_a}"))).await;
    // The business's own link (the register button's has a class before its href).
    let marker = "<a href=\"/enterprises/";
    let at = list.find(marker).unwrap() + marker.len();
    let id: i64 = list[at..].split('"').next().unwrap().parse().unwrap();
    let (s, page) = get(&staff, url(&format!("/enterprises/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    // The pending application as the business sent it.
    let pending = enclosing(&page, "section", "id=\"pending\"");
    assert!(pending.contains("企业通过链接提交"), "{pending}");
    assert!(
        pending.contains("<span>返岗 40 人</span>")
            && pending.contains("<li class=\"yes\">✔ 设置临时隔离室</li>"),
        "{pending}"
    );
    let marker = "action=\"/reopenings/";
    let start = page.find(marker).unwrap() + marker.len();
    let rid = page[start..].split('/').next().unwrap().to_owned();
    // A grid worker of another grid and an official cannot decide.
    let (official, official_csrf) = sign_in(&app, "official").await;
    let (s, _) = post(
        &official,
        url(&format!("/reopenings/{rid}/decision")),
        &[("csrf", &official_csrf), ("decision", "approve")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(
        &staff,
        url(&format!("/reopenings/{rid}/decision")),
        &[("csrf", &csrf), ("decision", "approve"), ("reason", "")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = get(&staff, url(&format!("/enterprises/{id}?notice=approved"))).await;
    assert!(page.contains("已同意复工"));
    // The standing itself (the notice above comes from the query string).
    assert!(
        page.contains("格桑商贸有限公司 <span class=\"standing reopened\">已复工</span></h1>"),
        "{page}"
    );
    assert!(page.contains("<h2>记录复工检查</h2>"));
    let (_, page) = get(&public, url(&link)).await;
    assert!(
        page.contains("<p class=\"standing reopened big\">已复工</p>"),
        "{page}"
    );

    // The link is rate limited: a flood of submissions gets 429.
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        let (s, _) = post(&public, url(&link), &[("checked", "masks")]).await;
        last = s;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // Grid A's worker reads grid A; a business of grid B is not found.
    let (_, v) = {
        let staff_token = bearer(&app, w.staff_id).await;
        staff_token
            .post(
                "/api/v1/enterprises",
                json!({"node_id": w.grid_b.id, "name": "乙小店", "kind": "individual"}),
            )
            .await
    };
    let b = v["id"].as_i64().unwrap();
    let (worker, _) = sign_in(&app, "worker_a").await;
    let (s, _) = get(&worker, url(&format!("/enterprises/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, page) = get(&worker, url(&format!("/enterprises/{b}"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!page.contains("乙小店"));
    let (s, _) = get(&worker, url("/enterprises/new")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.t.finish().await;
}

on_both!(
    staff_register_the_business_applies_by_link_and_staff_approve,
    pages
);

/// The contact phone is masked until staff or an admin reveal it (API and page), each reveal
/// audited with the caller's address; officials and grid workers get 403, outsiders 404.
async fn unmask_contact(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let admin_id = user(&db, "admin", "admin", &[]).await;
    let staff_b_id = user(&db, "staff_b", "staff", &[w.grid_b.id]).await;
    let c = code("92533401MA6N12345");
    let id = linli_store::enterprises::create(
        &db,
        &Scope::operator(),
        w.grid_a.id,
        &linli_core::enterprises::EnterpriseInput {
            name: "康珠饭店",
            kind: "individual",
            credit_code: Some(&c),
            contact_phone: Some("13612348609"),
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap()
    .enterprise
    .id;
    let path = format!("/api/v1/enterprises/{id}/unmask");
    let audited = || async { audited(&db, "enterprise.unmask").await };

    // The read stays masked.
    let staff = bearer(&app, w.staff_id).await;
    let (s, v) = staff.get(&format!("/api/v1/enterprises/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v.to_string().contains("13612348609"), "{v}");
    for user_id in [w.staff_id, admin_id] {
        let token = bearer(&app, user_id).await;
        let (s, v) = token.call("POST", &path, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["contact_phone"], "13612348609");
    }
    for (user_id, want) in [
        (w.official_id, StatusCode::FORBIDDEN),
        (w.worker_a_id, StatusCode::FORBIDDEN),
        (staff_b_id, StatusCode::NOT_FOUND),
    ] {
        let token = bearer(&app, user_id).await;
        let (s, v) = token.call("POST", &path, None).await;
        assert_eq!(s, want, "{v}");
        assert!(!v.to_string().contains("13612348609"));
    }
    let (s, _) = staff
        .call(
            "POST",
            &format!("/api/v1/enterprises/{}/unmask", id + 1000),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let a = audited().await;
    assert_eq!(a.len(), 2, "each reveal audited, refusals not");
    assert!(
        a.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")),
        "{a:?}"
    );

    // The page: masked with a button for staff; the reveal shows the number and is audited.
    let (page, csrf) = sign_in(&app, "staff").await;
    let url = format!("{}/enterprises/{id}", app.base);
    let (s, html) = get(&page, url.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("136****8609") && !html.contains("13612348609"));
    assert!(html.contains(&format!("action=\"/enterprises/{id}/unmask\"")));
    let (s, html) = post(&page, format!("{url}/unmask"), &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("13612348609"), "{html}");
    assert!(html.contains("记入审计日志"));
    assert_eq!(audited().await.len(), 3);
    // Without the token nothing is revealed.
    let (s, html) = post(&page, format!("{url}/unmask"), &[]).await;
    assert!(s.is_client_error(), "{s}");
    assert!(!html.contains("13612348609"));
    // Officials: no button, and a post is refused.
    let (official, csrf_o) = sign_in(&app, "official").await;
    let (_, html) = get(&official, url.clone()).await;
    assert!(html.contains("136****8609"));
    assert!(!html.contains("/unmask\""), "{html}");
    let (s, html) = post(&official, format!("{url}/unmask"), &[("csrf", &csrf_o)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!html.contains("13612348609"));
    assert_eq!(audited().await.len(), 3);
    app.t.finish().await;
}

on_both!(staff_and_admins_unmask_a_contact_phone, unmask_contact);

/// The list's search and filters change its rows; its export holds the filtered businesses,
/// phones masked, and is audited; a grid worker's holds their grid's only.
async fn the_list_filters_and_exports(t: TestDb) {
    use linli_core::enterprises::EnterpriseInput;
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let staff = Scope::for_user(
        w.staff_id,
        "staff",
        linli_core::Role::Staff,
        vec![w.community.path.clone()],
    );
    let gesang = code("91533401MA6K12345");
    for (at, name, kind, credit) in [
        (
            &w.grid_a,
            "格桑商贸有限公司",
            "enterprise",
            Some(gesang.as_str()),
        ),
        (&w.grid_b, "卓玛酒店", "individual", None),
        (&w.grid_a, "扎西便利店", "individual", None),
    ] {
        let input = EnterpriseInput {
            name,
            kind,
            credit_code: credit,
            contact_name: Some("格桑"),
            contact_phone: Some("13612348609"),
            ..Default::default()
        };
        linli_store::enterprises::create(&db, &staff, at.id, &input, now_ms())
            .await
            .unwrap();
    }
    let (c, _) = sign_in(&app, "staff").await;
    let base = format!("/enterprises?node_id={}", w.community.id);
    let (st, html) = get(&c, app.url(&base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(text_of(&html).contains("符合条件 3 家"), "{html}");
    let (_, html) = get(&c, app.url(&format!("{base}&q=MA6K1234"))).await;
    assert!(
        html.contains("格桑商贸有限公司") && !html.contains("扎西便利店"),
        "{html}"
    );
    let (_, html) = get(&c, app.url(&format!("{base}&kind=individual"))).await;
    assert!(html.contains("扎西便利店") && html.contains("卓玛酒店"));
    assert!(!html.contains("格桑商贸有限公司"), "{html}");
    let (_, html) = get(&c, app.url(&format!("{base}&standing=reopened"))).await;
    assert!(text_of(&html).contains("符合条件 0 家"), "{html}");

    let rows = xlsx_rows(
        &c,
        app.url(&format!(
            "/enterprises.xlsx?node_id={}&kind=individual",
            w.community.id
        )),
        "企业复工",
    )
    .await;
    assert!(rows[0][0].contains("共 2 条"), "{:?}", rows[0]);
    let mut got: Vec<(&str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[0].as_str(), r[7].as_str(), r[8].as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("卓玛酒店", "136****8609", "未复工"),
            ("扎西便利店", "136****8609", "未复工")
        ]
    );
    let audit = audited(&db, "list.export").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity, "enterprise");
    assert_eq!(
        audit[0].node_path.as_deref(),
        Some(w.community.path.as_str())
    );

    let (worker, _) = sign_in(&app, "worker_a").await;
    let rows = xlsx_rows(&worker, app.url("/enterprises.xlsx"), "企业复工").await;
    let mut names: Vec<&str> = rows[2..].iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(names, ["扎西便利店", "格桑商贸有限公司"]);
    let (st, _) = get(
        &worker,
        app.url(&format!("/enterprises.xlsx?node_id={}", w.grid_b.id)),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(the_list_filters_and_exports, the_list_filters_and_exports);
