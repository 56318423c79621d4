//! 集中隔离点 over HTTP: an official sets up a site and its rooms through the forms, arrivals
//! under centralised quarantine get rooms by themselves (the API answer and the result page name
//! the room; none free says 暂无空床), the dashboard tile counts beds, the list filters and
//! exports, the site page names only the viewer's own people, check-out and refusals; the API
//! answers in scope and 404 outside it.

use crate::support::*;

use linli_core::kernel::clock::{format_date, today};
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Screens `name`, registered now at `node_id`, arriving today from 420111; the API answer.
/// The new-site form as `c` posts it (the site's name, address and phone): the status, and where it leads or the page again.
async fn new_site(
    app: &App,
    c: &reqwest::Client,
    csrf: &str,
    node_id: &str,
    [name, address, phone]: [&str; 3],
) -> (StatusCode, String) {
    let form = [
        ("csrf", csrf),
        ("node_id", node_id),
        ("name", name),
        ("address", address),
        ("phone", phone),
    ];
    post_any(c, app.url("/epidemic/sites/new"), &form).await
}

/// The id of the site whose page `to` is.
fn site_in(to: &str) -> i64 {
    let path = to.trim_start_matches("/epidemic/sites/");
    path.split('?').next().unwrap().parse().unwrap()
}

async fn arrives(c: &reqwest::Client, app: &App, node_id: i64, name: &str) -> Value {
    let (status, body) = post_json(
        c,
        app.url("/api/v1/arrivals"),
        json!({
            "person": {"node_id": node_id, "name": name},
            "origin_code": "420111",
            "arrived_on": format_date(today()),
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["classification"]["measure"], "centralized_quarantine");
    body
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let town = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, town.community.id).await;
    user(&db, "official", "official", &[town.street.id]).await;
    user(&db, "staff", "staff", &[town.community.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    quarantine_from_today(&db).await;
    let (official, csrf) = sign_in(&app, "official").await;

    // The dashboard shows no beds before there is a site.
    let (_, html) = get(&official, app.url("/epidemic")).await;
    assert!(
        text_of(&html).contains("隔离床位 空闲 0 / 共 0"),
        "{}",
        text_of(&html)
    );

    // A site at the street, through the form; a refused form comes back filled in.
    let (status, html) = get(&official, app.url("/epidemic/sites/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("建塘镇"));
    let street = town.street.id.to_string();
    let site = ["建塘宾馆", "金龙街 8 号", "12"];

    let (status, html) = new_site(&app, &official, &csrf, &street, site).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("联系电话") && html.contains("金龙街 8 号"),
        "{html}"
    );
    let site = ["建塘宾馆", "金龙街 8 号", "0887-8221234"];

    let (status, to) = new_site(&app, &official, &csrf, &street, site).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let site_id = site_in(&to);
    // Rooms in bulk: floor 2, rooms 01–02, 1 bed each; again is refused (numbers taken).
    let rooms_url = app.url(&format!("/epidemic/sites/{site_id}/rooms"));
    let block = form(
        Some(&csrf),
        "floor_from=2&floor_to=2&room_from=1&room_to=2&beds=1",
    );
    let (status, to) = post_any(&official, rooms_url.clone(), &block).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (status, html) = post_any(&official, rooms_url.clone(), &block).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("房间号已存在"), "{html}");
    let (status, html) = post_any(
        &official,
        rooms_url.clone(),
        &form(
            Some(&csrf),
            "floor_from=5&floor_to=2&room_from=1&room_to=2&beds=0",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("楼层") && html.contains("每间床位"), "{html}");

    // Arrivals under centralised quarantine get the rooms in order; the third finds none.
    let staff = api_login(&app, "staff").await;
    let a = arrives(&staff, &app, grid_a.id, "甲居民").await;
    let b = arrives(&staff, &app, grid_b.id, "乙居民").await;
    let c = arrives(&staff, &app, grid_b.id, "丙居民").await;
    assert_eq!(a["quarantine_room"]["room"], "201", "{a}");
    assert_eq!(a["quarantine_room"]["site_name"], "建塘宾馆");
    assert_eq!(b["quarantine_room"]["room"], "202");
    assert_eq!(c["quarantine_room"], Value::Null);
    assert_eq!(c["no_bed"], true);
    assert!(c["classification"]["explanation"]
        .as_str()
        .unwrap()
        .contains("暂无空床，请联系隔离点"));

    // The result pages name the room, or say there is none.
    let (_, html) = get(
        &official,
        app.url(&format!("/epidemic/arrivals/{}", a["id"])),
    )
    .await;
    let text = text_of(&html).replace(' ', "");
    assert!(text.contains("集中隔离房间：建塘宾馆2楼201室"), "{text}");
    let (_, html) = get(
        &official,
        app.url(&format!("/epidemic/arrivals/{}", c["id"])),
    )
    .await;
    assert!(html.contains("id=\"no-bed\""), "{html}");

    // The dashboard tile: no bed free of 2; it links to the list.
    let (_, html) = get(&official, app.url("/epidemic")).await;
    assert!(
        text_of(&html).contains("隔离床位 空闲 0 / 共 2"),
        "{}",
        text_of(&html)
    );
    assert!(html.contains(&format!("/epidemic/sites?node_id={}", town.street.id)));

    // The list, its filters and its export.
    let (status, html) = get(&official, app.url("/epidemic/sites")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text_of(&html).contains("空闲 0 / 共 2 床"),
        "{}",
        text_of(&html)
    );
    let (_, html) = get(&official, app.url("/epidemic/sites?free=1")).await;
    assert!(html.contains("没有符合条件的隔离点"));
    let (_, html) = get(&official, app.url("/epidemic/sites?q=%E5%AE%BE%E9%A6%86")).await;
    assert!(html.contains("建塘宾馆"));
    let (_, html) = get(&official, app.url("/epidemic/sites?status=closed")).await;
    assert!(html.contains("没有符合条件的隔离点"));
    let r = official
        .get(app.url("/epidemic/sites.xlsx?status=all"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));

    // The official's site page names both; a grid worker of A sees only A's person.
    let site_url = app.url(&format!("/epidemic/sites/{site_id}"));
    let (_, html) = get(&official, site_url.clone()).await;
    assert!(html.contains("甲居民") && html.contains("乙居民"));
    assert!(html.contains("退房"));
    let (worker, worker_csrf) = sign_in(&app, "worker_a").await;
    let (status, html) = get(&worker, site_url.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("甲居民"));
    assert!(
        !html.contains("乙居民"),
        "a person outside the grid is named"
    );
    assert!(html.contains("辖区外人员"));
    assert!(!html.contains("退房"), "a grid worker runs no site");
    let (_, html) = get(&worker, app.url("/epidemic/sites")).await;
    assert!(html.contains("建塘宾馆"));
    let (status, _) = get(&worker, app.url("/epidemic/sites/new")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The API, as the grid worker: the site serving their grid; occupants of B unnamed.
    let w_api = api_login(&app, "worker_a").await;
    let (status, list) = get_json(
        &w_api,
        app.url(&format!("/api/v1/quarantine-sites?node_id={}", grid_a.id)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["beds_total"], 2);
    assert_eq!(list["items"][0]["beds_free"], 0);
    let (status, _) = get_json(
        &w_api,
        app.url(&format!("/api/v1/quarantine-sites?node_id={}", grid_b.id)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, occ) = get_json(
        &w_api,
        app.url(&format!("/api/v1/quarantine-sites/{site_id}/occupancy")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{occ}");
    let names: Vec<Value> = occ["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["occupants"].as_array().unwrap().clone())
        .map(|o| o["person_name"].clone())
        .collect();
    assert_eq!(names, [json!("甲居民"), Value::Null]);
    assert!(!occ.to_string().contains("乙居民"));
    let (status, _) = get_json(&w_api, app.url("/api/v1/quarantine-sites/9999/occupancy")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(
        &w_api,
        app.url(&format!(
            "/api/v1/quarantine-sites/{site_id}/occupancy?date=2022-13-01"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A room's beds from the site page: the grid worker may not; a typo or fewer beds than
    // sleepers is refused, naming the field; one bed more counts at once.
    let room = occ["rooms"][0]["id"].to_string();
    let beds_url = app.url(&format!("/epidemic/rooms/{room}/beds"));
    let site_s = site_id.to_string();
    let (status, _) = post(
        &worker,
        beds_url.clone(),
        &[("csrf", &worker_csrf), ("site_id", &site_s), ("beds", "2")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (beds, says) in [("两", "床位数请填整数"), ("0", "每间床位数应为 1–")] {
        let (status, html) = post_any(
            &official,
            beds_url.clone(),
            &[
                ("csrf", csrf.as_str()),
                ("site_id", &site_s),
                ("beds", beds),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{beds}");
        assert!(text_of(&html).contains(says), "{beds}: {}", text_of(&html));
    }
    let (status, to) = post_form(
        &official,
        beds_url.clone(),
        &[("csrf", &csrf), ("site_id", &site_s), ("beds", "2")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(to, format!("/epidemic/sites/{site_id}?notice=beds"));
    let (_, list) = get_json(
        &w_api,
        app.url(&format!("/api/v1/quarantine-sites?node_id={}", grid_a.id)),
    )
    .await;
    assert_eq!(
        (
            &list["items"][0]["beds_total"],
            &list["items"][0]["beds_free"]
        ),
        (&json!(3), &json!(1))
    );

    // Check-out: a grid worker may not; the official may. The bed is free from tomorrow.
    let stay = a["quarantine_room"]["stay_id"].to_string();
    let checkout = app.url(&format!("/epidemic/stays/{stay}/check-out"));
    let (status, _) = post(
        &worker,
        checkout.clone(),
        &[("csrf", &worker_csrf), ("site_id", &site_s)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, to) = post_form(
        &official,
        checkout.clone(),
        &[("csrf", &csrf), ("site_id", &site_s)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let tomorrow = format_date(today().next_day().unwrap());
    let (_, occ) = get_json(
        &w_api,
        app.url(&format!(
            "/api/v1/quarantine-sites/{site_id}/occupancy?date={tomorrow}"
        )),
    )
    .await;
    assert_eq!(occ["beds_occupied"], 1, "{occ}");
    let (_, occ) = get_json(
        &w_api,
        app.url(&format!("/api/v1/quarantine-sites/{site_id}/occupancy")),
    )
    .await;
    assert_eq!(
        occ["beds_occupied"], 2,
        "the night of the check-out is still taken"
    );

    // The site closed: listed under 已关闭, and the dashboard counts open sites only.
    let (status, to) = post_form(
        &official,
        site_url.clone(),
        &[
            ("csrf", &csrf),
            ("name", "建塘宾馆"),
            ("address", ""),
            ("phone", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&official, app.url("/epidemic/sites?status=closed")).await;
    assert!(html.contains("建塘宾馆") && html.contains("已关闭"));
    let (_, html) = get(&official, app.url("/epidemic")).await;
    assert!(text_of(&html).contains("隔离床位 空闲 0 / 共 0"));
    app.finish().await;
}

on_both!(sites_rooms_and_rooms_given_to_arrivals, flow);

/// A room by hand for someone screened when no bed was free: the page says there is none, a
/// site opened later is offered with its free rooms, the chosen room is taken and named; a
/// grid worker of another grid cannot open the page.
async fn room_by_hand_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let town = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, town.community.id).await;
    user(&db, "staff", "staff", &[town.community.id]).await;
    user(&db, "worker_b", "grid_worker", &[grid_b.id]).await;
    quarantine_from_today(&db).await;
    let staff_api = api_login(&app, "staff").await;
    let screened = arrives(&staff_api, &app, grid_a.id, "赵六").await;
    assert_eq!(screened["no_bed"], true, "{screened}");
    let obs = screened["observation_id"].as_i64().unwrap();
    let (staff, csrf) = sign_in(&app, "staff").await;
    let page = app.url(&format!("/epidemic/observations/{obs}/room"));
    let (status, html) = get(&staff, page.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"no-site\""), "{html}");

    // A community site with one 2-bed room opens.
    let community = town.community.id.to_string();
    let site = ["社区卫生院", "团结街 1 号", ""];

    let (status, to) = new_site(&app, &staff, &csrf, &community, site).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let site_id = site_in(&to);
    let (status, to) = post_any(
        &staff,
        app.url(&format!("/epidemic/sites/{site_id}/rooms")),
        &form(
            Some(&csrf),
            "floor_from=1&floor_to=1&room_from=1&room_to=1&beds=2",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&staff, page.clone()).await;
    assert!(html.contains("社区卫生院（空床 2）"), "{html}");
    let (_, html) = get(&staff, format!("{page}?site_id={site_id}")).await;
    let room_id = between(&html, "name=\"room_id\" value=\"", "\"").to_owned();
    assert!(html.contains("1 楼 101 室"), "{html}");

    // No room chosen: refused, nothing taken; then the room.
    let site = site_id.to_string();
    let (status, html) = post(&staff, page.clone(), &[("csrf", &csrf), ("site_id", &site)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请选择一个房间"), "{html}");
    let (status, to) = post_form(
        &staff,
        page.clone(),
        &[("csrf", &csrf), ("site_id", &site), ("room_id", &room_id)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&staff, app.url(&to)).await;
    assert_eq!(
        text_of(enclosing(&html, "p", "id=\"done\"")),
        "已安排入住：社区卫生院 1 楼 101 室。"
    );
    // The same room again is refused: the person already stays there those nights.
    let (status, _) = post(
        &staff,
        page.clone(),
        &[("csrf", &csrf), ("site_id", &site), ("room_id", &room_id)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (worker_b, _) = sign_in(&app, "worker_b").await;
    let (status, html) = get(&worker_b, page).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("赵六"));
    app.finish().await;
}

on_both!(sites_room_by_hand, room_by_hand_flow);
