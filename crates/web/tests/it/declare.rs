//! The public self-declaration form `/d/{token}` and its review under 防疫, against the real
//! server on SQLite and on PostgreSQL: no login, rate limits, revoked links, nothing of anyone
//! else on the public pages, and the review queue confined to the worker's grid.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel};
use linli_core::kernel::clock::parse_date;
use linli_core::Scope;
use linli_store::epidemic::declarations;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::{epidemic, Db};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A community with two grids, a worker on each; 武汉市洪山区 high-risk in July 2022; a link
/// for grid A (returns its token).
async fn world(db: &Db) -> (Node, String) {
    let district = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let community = add_community(db, district.id, "里布嘎社区", "533401100003").await;
    let (grid_a, grid_b) = grids_ab(db, community.id).await;
    user(db, "worker_a", "grid_worker", &[grid_a.id]).await;
    user(db, "worker_b", "grid_worker", &[grid_b.id]).await;
    epidemic::add_risk_area(
        db,
        &Scope::operator(),
        &RiskArea::new(
            DivisionCode::parse("420111").unwrap(),
            Some("武汉市洪山区"),
            RiskLevel::High,
            parse_date("from", "2022-07-01").unwrap(),
            Some(parse_date("to", "2022-07-20").unwrap()),
        )
        .unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
    let link = declarations::create_link(db, &Scope::operator(), grid_a.id, now_ms())
        .await
        .unwrap();
    (grid_a, link.token)
}

fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn declaration<'a>(name: &'a str, id: &'a str, temperature: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("id_number", id),
        ("phone", "13912345678"),
        ("address", "3栋2单元501室"),
        // A place typed by name, as a resident would: resolved to 420111.
        ("origin_code", "武汉洪山"),
        ("arrived_on", "2022-07-05"),
        ("purpose", "探亲"),
        ("temperature", temperature),
    ]
}

/// The id of the only pending declaration with this name, as the store lists it.
async fn pending_id(db: &Db, name: &str) -> i64 {
    declarations::queue(db, &Scope::operator())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap()
        .id
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let (grid_a, token) = world(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let resident = anonymous();
    let zhang = id_number("53340119850312001");

    // The public form: no login, no app navigation, only the place's name.
    let (status, html) = get(&resident, url(&format!("/d/{token}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("甲网格") && html.contains("来返人员健康申报"));
    assert!(!html.contains("<nav") && !html.contains("乙网格") && !html.contains("里布嘎社区"));

    // A bad ID number: 422, the message under its field, what was typed kept.
    let bad_id = format!("{}0", &zhang[..17]);
    let bad_id = if bad_id == zhang {
        format!("{}1", &zhang[..17])
    } else {
        bad_id
    };
    let (status, html) = post(
        &resident,
        url(&format!("/d/{token}")),
        &declaration("张三", &bad_id, "36.6"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("class=\"field-error\""), "{html}");
    assert_eq!(
        field_errors(&html),
        ["校验码不符：18 位中有字符录入错误，请逐位核对"],
        "{html}"
    );
    assert!(html.contains("value=\"张三\"") && html.contains("value=\"36.6\""));
    assert_eq!(
        declarations::queue(&db, &Scope::operator())
            .await
            .unwrap()
            .len(),
        0
    );

    // Right: a receipt with a reference and the preliminary result, the ID number not echoed.
    let (status, html) = post(
        &resident,
        url(&format!("/d/{token}")),
        &declaration("张三", &zhang, "36.6"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("张三，您的健康申报已收到。社区工作人员核实后会联系您"),
        "{html}"
    );
    let reference = declarations::queue(&db, &Scope::operator()).await.unwrap()[0]
        .reference
        .clone();
    assert!(
        html.contains(&format!("<div class=\"reference\">{reference}</div>")),
        "{html}"
    );
    // The preliminary verdict: from high-risk 420111 on 2022-07-05, 集中隔离 for 7 days.
    assert_eq!(
        verdict(&html),
        "集中隔离 7 天 2022-07-05 至 2022-07-11 每天报告体温 2 次"
    );
    assert!(
        text_of(&html).contains("从湖北省武汉市洪山区抵达"),
        "the receipt names the place: {html}"
    );
    assert!(!html.contains(&zhang) && !html.contains(&zhang[6..14]));
    assert!(!html.contains("<nav"));

    // Another resident's pages never show the first one's data.
    let (_, form) = get(&anonymous(), url(&format!("/d/{token}"))).await;
    assert!(!form.contains("张三") && !form.contains(&zhang[14..]));
    let li = id_number("53340119900101002");
    let (status, receipt) = post(
        &anonymous(),
        url(&format!("/d/{token}")),
        &declaration("李四", &li, "38.2"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!receipt.contains("张三") && !receipt.contains(&zhang[14..]));
    assert!(receipt.contains("李四") && !receipt.contains(&li));
    // The receipt says both: the measure, and where a fever sends the resident.
    assert!(
        receipt.contains(
            "集中隔离 7 天；体温 38.2 ℃，请立即前往发热门诊就诊（途中戴好口罩，不乘公共交通），工作人员会联系您"
        ),
        "{receipt}"
    );

    // An out-of-scope worker sees nothing of either and can do nothing.
    let zhang_id = pending_id(&db, "张三").await;
    let li_id = pending_id(&db, "李四").await;
    let (b, b_csrf) = sign_in(&app, "worker_b").await;
    let (status, html) = get(&b, url("/epidemic/declarations")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("张三") && !html.contains("李四"));
    let (status, html) = get(&b, url(&format!("/epidemic/declarations/{zhang_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("张三"));
    let (status, _) = post(
        &b,
        url(&format!("/epidemic/declarations/{zhang_id}/confirm")),
        &[("csrf", b_csrf.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = get(&b, url("/epidemic/declaration-links")).await;
    assert!(!html.contains(&token));

    // Grid A's worker: the queue (masked), the review page, the confirmation with the result.
    let (a, a_csrf) = sign_in(&app, "worker_a").await;
    let (_, html) = get(&a, url("/epidemic/declarations")).await;
    assert!(html.contains("张三") && html.contains("李四"), "{html}");
    assert!(!html.contains(&zhang));
    let (_, html) = get(&a, url("/epidemic/declaration-links")).await;
    assert!(html.contains(&format!("/d/{token}")));
    let (status, html) = get(&a, url(&format!("/epidemic/declarations/{zhang_id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("确认并判定") && !html.contains(&zhang));
    assert!(html.contains("张三") && html.contains("420111"), "{html}");
    // Without the CSRF token nothing happens.
    let (status, _) = post(
        &a,
        url(&format!("/epidemic/declarations/{zhang_id}/confirm")),
        &[("node_id", grid_a.id.to_string().as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let node = grid_a.id.to_string();
    let confirm = [("csrf", a_csrf.as_str()), ("node_id", node.as_str())];
    let (status, html) = post(
        &a,
        url(&format!("/epidemic/declarations/{zhang_id}/confirm")),
        &confirm,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("请向居民宣读") && html.contains("从湖北省武汉市洪山区抵达"));
    assert_eq!(
        verdict(&html),
        "集中隔离 7 天 2022-07-05 至 2022-07-11 每天报告体温 2 次"
    );
    assert!(
        html.contains(&format!("申报 {reference} 已确认，已新登记为居民")),
        "{html}"
    );
    // Twice: refused cleanly.
    let (status, html) = post(
        &a,
        url(&format!("/epidemic/declarations/{zhang_id}/confirm")),
        &confirm,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("已审核过"), "{html}");

    // 李四 had a fever: confirming raises a fever alert, handled through the API.
    let (status, html) = post(
        &a,
        url(&format!("/epidemic/declarations/{li_id}/confirm")),
        &confirm,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("已发出发热预警"));
    let alerts: Value = json_at(
        &a,
        url(&format!("/api/v1/alerts?node_id={}&kind=fever", grid_a.id)),
    )
    .await;
    let alert_id = alerts["alerts"][0]["id"].as_i64().unwrap();
    let r = send_json(
        &b,
        url(&format!("/api/v1/alerts/{alert_id}/handle")),
        &json!({"outcome": "excluded"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send_json(
        &a,
        url(&format!("/api/v1/alerts/{alert_id}/handle")),
        &json!({"outcome": "contacted"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "outcome", "{body}");
    let r = send_json(
        &a,
        url(&format!("/api/v1/alerts/{alert_id}/handle")),
        &json!({"outcome": "excluded", "note": "发热门诊排除"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "excluded");
    assert_eq!(body["handled_by"], "worker_a");

    // A revoked link answers 404 to reading and to posting.
    let link = declarations::links(&db, &Scope::operator())
        .await
        .unwrap()
        .remove(0);
    declarations::revoke_link(&db, &Scope::operator(), link.id, now_ms())
        .await
        .unwrap();
    let (status, html) = get(&resident, url(&format!("/d/{token}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("已停用") && !html.contains("甲网格"));
    let (status, _) = post(
        &resident,
        url(&format!("/d/{token}")),
        &declaration("王五", &id_number("53340119900815002"), "36.5"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&resident, url(&format!("/d/{}", "0".repeat(64)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(declare_pages, flow);

/// The verdict box as text: measure, days, dates and check-ins.
fn verdict(html: &str) -> String {
    text_of(between(html, "<div class=\"measure\">", "\n</div>"))
}

/// The messages shown under fields.
fn field_errors(html: &str) -> Vec<String> {
    html.split("class=\"field-error\"")
        .skip(1)
        .map(|rest| text_of(&rest[rest.find('>').unwrap() + 1..rest.find("</").unwrap()]))
        .collect()
}

/// Ten submissions from one address in ten minutes, then 429 with Retry-After, in Chinese.
#[tokio::test]
async fn the_public_form_is_rate_limited_per_address() {
    let app = spawn(TestDb::sqlite().await).await;
    let (_, token) = world(&app.t.db).await;
    let url = format!("{}/d/{token}", app.base);
    let c = anonymous();
    for i in 0..10 {
        // Bad input counts as much as good.
        let (status, _) = post(&c, url.clone(), &[("name", "x")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "post {i}");
    }
    let r = c
        .post(url.clone())
        .form(&declaration(
            "张三",
            &id_number("53340119850312001"),
            "36.5",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let html = r.text().await.unwrap();
    assert!(html.contains("提交过于频繁"), "{html}");
    assert!(declarations::queue(&app.t.db, &Scope::operator())
        .await
        .unwrap()
        .is_empty());
    app.t.finish().await;
}
