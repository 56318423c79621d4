//! Rooms in buildings through the web (issue 19 items 4 and 6): a building's rooms with the
//! empty ones, adding rooms, a room's page, adding a household member (page and API), moving a
//! household, the door-to-door list, and scope — on SQLite and PostgreSQL.

use crate::support::*;
use linli_core::registry::PersonInput;
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

async fn rooms_through_the_web(t: TestDb) {
    let app = spawn(t).await;
    let db = &app.t.db;
    let town = town(db).await;
    let (ga, gb) = grids_ab(db, town.community.id).await;
    let building = node(db, Some(ga.id), "building", "3栋", None).await;
    let head = person(
        db,
        ga.id,
        PersonInput {
            name: "张三",
            relation: Some("head"),
            address: Some("3栋1单元201室"),
            tags: &["独居老人".to_owned()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(head.node_id, building.id, "placed in its building");
    user(db, "staff", "staff", &[town.community.id]).await;
    user(db, "worker_b", "grid_worker", &[gb.id]).await;
    let (c, csrf) = sign_in(&app, "staff").await;

    // Six rooms added at once, then listed with the one lived in.
    let (s, to) = post_form(
        &c,
        app.url(&format!("/nodes/{}/rooms", building.id)),
        &form(Some(&csrf), "unit=1&floor_from=1&floor_to=3&per_floor=2")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    assert!(to.ends_with("notice=5"), "201 was there already: {to}");
    let (s, html) = get(&c, app.url(&format!("/nodes/{}/rooms", building.id))).await;
    assert_eq!(s, StatusCode::OK);
    let text = text_of(&html);
    assert!(text.contains("共 6 套，有人居住 1 套，空置 5 套"), "{text}");
    let (_, html) = get(
        &c,
        app.url(&format!("/nodes/{}/rooms?show=empty", building.id)),
    )
    .await;
    assert!(!text_of(&html).contains("户主 张三"), "only empty rooms");
    // A bad plan: the field and why, and nothing added.
    let (s, html) = post(
        &c,
        app.url(&format!("/nodes/{}/rooms", building.id)),
        &[
            ("csrf", csrf.as_str()),
            ("floor_from", "9"),
            ("floor_to", "2"),
            ("per_floor", "2"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&html).contains("最高层不能低于起始层"));

    // The API lists the rooms with their households.
    let api = api_as(&app, "staff").await;
    let (s, rooms) = api
        .get(&format!("/api/v1/dwellings?node_id={}", building.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{rooms}");
    let rooms = rooms.as_array().unwrap();
    assert_eq!(rooms.len(), 6);
    let lived: Vec<&serde_json::Value> = rooms.iter().filter(|r| r["living"] == 1).collect();
    assert_eq!(lived.len(), 1);
    assert_eq!(lived[0]["address"], "3栋1单元201室");
    assert_eq!(lived[0]["tags"], json!(["独居老人"]));
    let household = head.household_id.unwrap();
    assert_eq!(lived[0]["household_ids"], json!([household]));

    // A member through the API: no node or address needed; they live in the room.
    let (s, m) = api
        .post(
            &format!("/api/v1/households/{household}/members"),
            json!({"name": "张小", "relation": "son"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["address"], "3栋1单元201室");
    assert_eq!(m["node_id"], building.id);
    // A member through the page's form.
    let (s, html) = get(
        &c,
        app.url(&format!("/persons/new?household_id={household}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        text_of(&html).contains("加入住户： 3栋1单元201室 · 户主 张三"),
        "{}",
        text_of(&html)
    );
    let (s, to) = post_form(
        &c,
        app.url("/persons"),
        &[
            ("csrf", csrf.as_str()),
            ("household_id", &household.to_string()),
            ("node_id", &building.id.to_string()),
            ("name", "李梅"),
            ("relation", "spouse"),
            ("category", "resident"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let room = lived[0]["id"].as_i64().unwrap();
    let (_, html) = get(&c, app.url(&format!("/dwellings/{room}"))).await;
    let text = text_of(&html);
    assert!(text.contains("在住 3 人"), "{text}");
    for name in ["张三", "张小", "李梅"] {
        assert!(text.contains(name), "{name} in {text}");
    }

    // The household moves to 302: the old room is empty, the new one has all three.
    let (s, to) = post_form(
        &c,
        app.url(&format!("/households/{household}/move")),
        &[
            ("csrf", csrf.as_str()),
            ("from", &room.to_string()),
            ("node_id", &building.id.to_string()),
            ("address", "1单元302"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&c, app.url(&to)).await;
    let text = text_of(&html);
    assert!(
        text.contains("3栋1单元302室") && text.contains("在住 3 人"),
        "{text}"
    );

    // The door-to-door list has every room, the empty ones marked.
    let (s, html) = get(&c, app.url(&format!("/nodes/{}/doors", building.id))).await;
    assert_eq!(s, StatusCode::OK);
    let text = text_of(&html);
    assert_eq!(text.matches("（空置）").count(), 5, "{text}");
    assert!(text.contains("3栋1单元302室 张三 3 独居老人"), "{text}");

    // Another grid's worker sees none of it, through any of the ways in.
    let (cb, _) = sign_in(&app, "worker_b").await;
    for path in [
        format!("/nodes/{}/rooms", building.id),
        format!("/nodes/{}/doors", building.id),
        format!("/dwellings/{room}"),
        format!("/persons/new?household_id={household}"),
    ] {
        let (s, _) = get(&cb, app.url(&path)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let api_b = api_as(&app, "worker_b").await;
    let (s, _) = api_b
        .get(&format!("/api/v1/dwellings?node_id={}", building.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api_b
        .post(
            &format!("/api/v1/households/{household}/members"),
            json!({"name": "王五"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(
    rooms_are_browsed_filled_and_moved_in_the_browser_way,
    rooms_through_the_web
);
