//! Cases, close contacts and the chain of transmission over HTTP, on SQLite and on PostgreSQL:
//! the API contract (201/200/409/422 with fields), the chain as JSON and as SVG (masked names,
//! anonymous out-of-scope persons), and the pages with their forms.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::accounts::{self};
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn resident(db: &Db, at: &Node, name: &str) -> i64 {
    let input = PersonInput {
        name,
        address: Some("3栋2单元501室"),
        ..Default::default()
    };
    person(db, at.id, input).await.id
}

/// Clear names that must never appear in a chain.
const NAMES: [&str; 5] = ["张病例", "李密接", "王密接", "乙网格秘密", "赵次密"];

struct World {
    case: i64,
    li: i64,
    wang: i64,
    b_person: i64,
    zhao: i64,
    worker: String,
    worker_b: String,
    staff: String,
}

async fn world(db: &Db) -> World {
    let district = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let community = add_community(db, district.id, "里布嘎社区", "533401100003").await;
    let (grid_a, grid_b) = grids_ab(db, community.id).await;
    let worker_id = user(db, "worker_a", "grid_worker", &[grid_a.id]).await;
    let worker_b_id = user(db, "worker_b", "grid_worker", &[grid_b.id]).await;
    let staff_id = user(db, "staff", "staff", &[community.id]).await;
    let token = |id| async move {
        accounts::issue_token(db, &Scope::operator(), id, "test", now_ms())
            .await
            .unwrap()
    };
    World {
        case: resident(db, &grid_a, "张病例").await,
        li: resident(db, &grid_a, "李密接").await,
        wang: resident(db, &grid_a, "王密接").await,
        b_person: resident(db, &grid_b, "乙网格秘密").await,
        zhao: resident(db, &grid_a, "赵次密").await,
        worker: token(worker_id).await,
        worker_b: token(worker_b_id).await,
        staff: token(staff_id).await,
    }
}

async fn post_json(app: &App, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `token` reports `person` a case of `kind`, diagnosed `on`.
async fn case(app: &App, token: &str, person: i64, kind: &str, on: &str) -> (StatusCode, Value) {
    let body = json!({"person_id": person, "kind": kind, "diagnosed_on": on});
    post_json(app, token, "/api/v1/cases", body).await
}

/// `token` records that `person` was last in contact with `source` on `on`, as a `kind`.
async fn contact(
    app: &App,
    token: &str,
    person: i64,
    source: i64,
    kind: &str,
    on: &str,
) -> (StatusCode, Value) {
    let body = json!({
        "person_id": person,
        "source_person_id": source,
        "type": kind,
        "last_contact_on": on,
    });
    post_json(app, token, "/api/v1/contacts", body).await
}

async fn get_text(app: &App, token: &str, path: &str) -> (StatusCode, String, String) {
    let r = client()
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

async fn api(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;

    // Cases.
    let (s, body) = post_json(&app, &w.worker, "/api/v1/cases", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["person_id", "kind", "diagnosed_on"]);
    let (s, body) = case(&app, &w.worker, w.case, "confirmed", "2022-07-03").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind_label"], "确诊病例");
    let (s, body) = case(&app, &w.worker, w.case, "asymptomatic", "2022-07-03").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(error_fields(&body), ["person_id"]);
    // Another grid's person: not found for the worker.
    let (s, _) = case(&app, &w.worker, w.b_person, "confirmed", "2022-07-03").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Contacts: bad input names each field, nothing stored.
    let (s, body) = contact(&app, &w.worker, w.li, w.case, "朋友", "2099-01-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["type"]);
    let (s, body) = contact(&app, &w.worker, w.li, w.case, "close_contact", "2099-01-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["last_contact_on"]);
    let (s, body) = contact(
        &app,
        &w.worker,
        w.li,
        w.wang,
        "secondary_contact",
        "2022-07-01",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("次密接"));

    // A close contact, then a later contact with the same case.
    let (s, body) = contact(&app, &w.worker, w.li, w.case, "close_contact", "2022-07-01").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["type"], "close_contact");
    assert_eq!(body["classification"]["measure"], "centralized_quarantine");
    assert_eq!(body["classification"]["start"], "2022-07-01");
    assert_eq!(body["classification"]["until"], "2022-07-10");
    assert_eq!(body["classification"]["policy_version"], "ninth-edition@1");
    let obs = body["observation_id"].as_i64().unwrap();
    let (s, body) = contact(&app, &w.worker, w.li, w.case, "密接", "2022-07-03").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(body["observation_id"], obs);
    assert_eq!(body["observation_until"], "2022-07-12");
    // A cycle: the case as a contact of its own contact.
    case(&app, &w.worker, w.li, "asymptomatic", "2022-07-04").await;
    let (s, body) = contact(&app, &w.worker, w.case, w.li, "close_contact", "2022-07-02").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("循环")
            || body.to_string().contains("循环")
    );

    // The community's staff link a person of grid B, and a secondary contact of them in grid A.
    let (s, body) = contact(
        &app,
        &w.staff,
        w.b_person,
        w.case,
        "close_contact",
        "2022-07-02",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = contact(
        &app,
        &w.staff,
        w.zhao,
        w.b_person,
        "secondary_contact",
        "2022-07-02",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["classification"]["measure"], "home_quarantine");
    contact(
        &app,
        &w.worker,
        w.wang,
        w.case,
        "close_contact",
        "2022-07-02",
    )
    .await;

    // The worker's chain: grid B's person is an anonymous node.
    let (s, _, text) = get_text(&app, &w.worker, &format!("/api/v1/cases/{}/chain", w.case)).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    for n in NAMES {
        assert!(!text.contains(n), "the chain shows {n}: {text}");
    }
    let chain: Value = serde_json::from_str(&text).unwrap();
    let nodes = chain["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    assert_eq!(chain["edges"].as_array().unwrap().len(), 4);
    assert_eq!(nodes[0]["label"], "张**");
    assert_eq!(nodes[0]["case_kind"], "confirmed");
    let hidden: Vec<&Value> = nodes.iter().filter(|n| n["in_scope"] == false).collect();
    assert_eq!(hidden.len(), 1);
    assert_eq!(hidden[0]["label"], "辖区外人员");
    assert!(hidden[0]["person_id"].is_null() && hidden[0]["last_contact_on"].is_null());
    assert!(!nodes.iter().any(|n| n["person_id"] == w.b_person));
    let zhao = nodes.iter().find(|n| n["person_id"] == w.zhao).unwrap();
    assert_eq!(zhao["generation"], 2);
    assert_eq!(zhao["type"], "secondary_contact");

    // The SVG: masked names only, the anonymous node, a line per link.
    let (s, ct, svg) = get_text(
        &app,
        &w.worker,
        &format!("/api/v1/cases/{}/chain.svg", w.case),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("image/svg+xml"), "{ct}");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    for n in NAMES {
        assert!(!svg.contains(n), "the SVG shows {n}");
    }
    assert!(svg.contains("张** · 确诊") && svg.contains("赵** · 次密接"));
    assert!(svg.contains("辖区外人员"));
    assert_eq!(svg.matches("<line ").count(), 4);
    assert_eq!(svg.matches("<rect ").count(), 5);
    assert!(!svg.contains(&format!("/persons/{}/", w.b_person)));

    // Staff see the whole chain; grid B's worker cannot open grid A's case.
    let (_, _, staff_svg) = get_text(
        &app,
        &w.staff,
        &format!("/api/v1/cases/{}/chain.svg", w.case),
    )
    .await;
    assert!(!staff_svg.contains("辖区外人员") && staff_svg.contains("乙*** · 密接"));
    for path in ["chain", "chain.svg"] {
        let (s, _, text) = get_text(
            &app,
            &w.worker_b,
            &format!("/api/v1/cases/{}/{path}", w.case),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!text.contains("张"));
    }
    // Clear names: refused to the grid worker, shown to staff.
    let (s, _) = post_json(
        &app,
        &w.worker,
        &format!("/api/v1/cases/{}/chain/unmask", w.case),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = post_json(
        &app,
        &w.staff,
        &format!("/api/v1/cases/{}/chain/unmask", w.case),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["nodes"][0]["label"], "张病例");
    assert!(body.to_string().contains("乙网格秘密"));
    // A person who is not a case has no chain.
    let (s, _, _) = get_text(&app, &w.worker, &format!("/api/v1/cases/{}/chain", w.wang)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The list of cases keeps to the scope.
    let (_, _, text) = get_text(&app, &w.worker, "/api/v1/cases").await;
    let cases: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(cases["cases"].as_array().unwrap().len(), 2);
    let (_, _, text) = get_text(&app, &w.worker_b, "/api/v1/cases").await;
    assert!(text.contains("\"cases\":[]"), "{text}");
    app.t.finish().await;
}

on_both!(contacts_api, api);

async fn pages(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let url = |p: String| format!("{}{p}", app.base);
    let (c, csrf) = sign_in(&app, "worker_a").await;
    let page = fetch(&c, url(format!("/persons/{}/contacts", w.case))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    // Not a case yet: the form to mark one is offered.
    assert!(
        page.contains("未登记为病例") && page.contains("<summary>标记为病例</summary>"),
        "{page}"
    );

    // Mark the case: a future date is refused with the form kept, then accepted.
    let (status, text) = post(
        &c,
        url(format!("/persons/{}/case", w.case)),
        &[
            ("csrf", csrf.as_str()),
            ("kind", "confirmed"),
            ("diagnosed_on", "2099-01-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text.contains("诊断日期：诊断日期 2099-01-01 晚于今天"),
        "{text}"
    );
    assert!(text.contains("value=\"2099-01-01\""), "the form is kept");
    assert_eq!(
        post(
            &c,
            url(format!("/persons/{}/case", w.case)),
            &[
                ("csrf", csrf.as_str()),
                ("kind", "confirmed"),
                ("diagnosed_on", "2022-07-03"),
            ]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    let (_, page) = get(&c, url(format!("/persons/{}/contacts", w.case))).await;
    assert!(
        page.contains("<span class=\"tag now\">确诊病例</span> 诊断日期 2022-07-03"),
        "{page}"
    );

    // Link a close contact from their page: the case is offered as a source.
    let (_, page) = get(&c, url(format!("/persons/{}/contacts", w.li))).await;
    assert!(page.contains(&format!(
        "<option value=\"{}\">张病例（确诊病例）</option>",
        w.case
    )));
    let case = w.case.to_string();
    let (status, text) = post(
        &c,
        url(format!("/persons/{}/contacts", w.li)),
        &[
            ("csrf", csrf.as_str()),
            ("type", "secondary_contact"),
            ("source_person_id", case.as_str()),
            ("last_contact_on", "2022-07-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text.contains("来源：「次密接」的来源必须是已登记的密接"),
        "{text}"
    );
    assert!(
        text.contains("value=\"2022-07-01\""),
        "the form is filled back"
    );
    assert_eq!(
        post(
            &c,
            url(format!("/persons/{}/contacts", w.li)),
            &[
                ("csrf", csrf.as_str()),
                ("type", "close_contact"),
                ("source_person_id", case.as_str()),
                ("last_contact_on", "2022-07-01"),
            ]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    let (_, page) = get(
        &c,
        url(format!("/persons/{}/contacts?notice=contact", w.li)),
    )
    .await;
    // The link as recorded: close contact of the (masked) case, the measure and its end date.
    let text = text_of(&page);
    assert!(
        text.contains("密切接触者 · 来源 张** 最后接触 2022-07-01 集中隔离 至 2022-07-10"),
        "{text}"
    );

    // A CSRF-less post changes nothing.
    assert_eq!(
        post(
            &c,
            url(format!("/persons/{}/contacts", w.wang)),
            &[
                ("type", "close_contact"),
                ("source_person_id", case.as_str()),
                ("last_contact_on", "2022-07-01"),
            ]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The chain page embeds the SVG, without clear names of the chain.
    let r = fetch(&c, url(format!("/epidemic/cases/{}", w.case))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("<svg") && page.contains("李** · 密接"));
    assert!(
        !page.contains("/unmask"),
        "a grid worker is not offered clear names"
    );
    assert_eq!(
        post_any(
            &c,
            url(format!("/epidemic/cases/{}/unmask", w.case)),
            &[("csrf", csrf.as_str())]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    for n in NAMES {
        assert!(!page.contains(n), "the chain page shows {n}");
    }
    let (_, list) = get(&c, url("/epidemic/cases".to_owned())).await;
    assert!(list.contains(&format!("/epidemic/cases/{}", w.case)));
    // Another grid's person page is not found.
    let r = fetch(&c, url(format!("/persons/{}/contacts", w.b_person))).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(contacts_pages, pages);
