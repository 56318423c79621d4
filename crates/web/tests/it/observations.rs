//! 正在观察 in the browser's terms: the dashboard tile leads to the list, the list groups people
//! by where they live with their day and check-ins, filters and exports; the API answers the
//! contract; a grid worker sees only their grid.

use crate::support::*;

use linli_core::epidemic::policy::DivisionCode;
use linli_core::kernel::clock::{now_ms, parse_date};
use linli_core::Scope;
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalSource};
use linli_store::registry::{self, Placement};
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;

/// Registers `name` at `at` and screens their arrival from Beijing on 2020-02-01: home
/// quarantine to 2020-02-14 under the 2020 preset, long over and not yet released.
async fn observed(db: &Db, at: &Node, name: &str) {
    let (p, _) = registry::create(
        db,
        &Scope::operator(),
        &Placement {
            node_id: at.id,
            ..Default::default()
        },
        &linli_core::registry::PersonInput {
            name,
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap();
    epidemic::record_arrival(
        db,
        &Scope::operator(),
        ArrivalInput {
            person: ArrivalPerson::Registered(p.id),
            origin_code: DivisionCode::parse("110101").unwrap(),
            arrived_on: parse_date("d", "2020-02-01").unwrap(),
            purpose: None,
            symptoms: Vec::new(),
            temperature: None,
            source: ArrivalSource::Worker,
        },
        now_ms(),
    )
    .await
    .unwrap();
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let district = node(&db, None, "district", "香格里拉市", Some("533401")).await;
    let community = add_community(&db, district.id, "里布嘎社区", "533401100003").await;
    let grid_a = node(&db, Some(community.id), "grid", "甲网格", None).await;
    let grid_b = node(&db, Some(community.id), "grid", "乙网格", None).await;
    let building = node(&db, Some(grid_a.id), "building", "3栋", None).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    observed(&db, &building, "张一").await;
    observed(&db, &grid_b, "王三").await;

    // The dashboard's tile leads here.
    let (staff, _) = sign_in(&app, "staff").await;
    let (_, home) = get(&staff, app.url("/epidemic")).await;
    let tile = enclosing(&home, "a", "正在观察");
    assert!(
        tile.contains(&format!("/epidemic/observations?node_id={}", community.id)),
        "{tile}"
    );
    assert!(text_of(tile).starts_with("2 正在观察"), "{tile}");

    let (status, html) = get(&staff, app.url("/epidemic/observations")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&html).contains("共 2 人"), "{html}");
    assert_eq!(
        text_of(enclosing(&html, "h2", "甲网格 › 3栋")),
        "甲网格 › 3栋 1 人"
    );
    let zhang = text_of(enclosing(&html, "li", ">张一</a>"));
    assert!(
        zhang.contains("居家隔离")
            && zhang.contains("第 14 / 14 天")
            && zhang.contains("至 2020-02-14"),
        "{zhang}"
    );
    // The period is over: nothing is due today, so nothing is owed.
    assert!(
        zhang.contains("今日打卡 0/0") && !zhang.contains("今日未报齐"),
        "{zhang}"
    );
    // A name filter.
    let (_, html) = get(&staff, app.url("/epidemic/observations?q=%E7%8E%8B")).await;
    assert!(
        text_of(&html).contains("共 1 人") && html.contains(">王三</a>"),
        "{html}"
    );

    // The export holds the same rows.
    let rows = xlsx_rows(
        &staff,
        app.url(&format!(
            "/epidemic/observations.xlsx?node_id={}",
            community.id
        )),
        "正在观察",
    )
    .await;
    assert!(
        rows[0][0].starts_with("里布嘎社区 正在观察人员"),
        "{rows:?}"
    );
    assert_eq!(rows[1][..4], ["住址", "姓名", "管控措施", "第几天"]);
    let names: Vec<&str> = rows[2..].iter().map(|r| r[1].as_str()).collect();
    assert!(
        names.contains(&"张一") && names.contains(&"王三"),
        "{rows:?}"
    );

    // The API answers the contract's fields; past the period nobody is pending.
    let api = |query: String| {
        let staff = staff.clone();
        let url = app.url(&format!(
            "/api/v1/observations?node_id={}{query}",
            community.id
        ));
        async move { get_json(&staff, url).await }
    };
    let (status, body) = api("&pending=true".into()).await;
    assert_eq!(
        (status, body["total"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
    let (status, body) = api(String::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2);
    let first = &body["items"][0];
    for field in [
        "id",
        "person_id",
        "person_name",
        "measure",
        "start_on",
        "until",
        "day",
        "days",
        "checkins_done",
        "checkins_due",
        "last_temperature",
        "open_alerts",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(first["measure"], "home_quarantine");
    assert_eq!(
        (first["day"].as_i64(), first["days"].as_i64()),
        (Some(14), Some(14))
    );

    // A grid worker: their grid only, through the page and the API.
    let (worker, _) = sign_in(&app, "worker_a").await;
    let (_, html) = get(&worker, app.url("/epidemic/observations")).await;
    assert!(
        html.contains(">张一</a>") && !html.contains("王三"),
        "{html}"
    );
    let (status, _) = get(
        &worker,
        app.url(&format!("/epidemic/observations?node_id={}", grid_b.id)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(
        &worker,
        app.url(&format!("/api/v1/observations?node_id={}", grid_b.id)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish().await;
}

on_both!(observations_list, flow);
