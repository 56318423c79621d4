//! 外出登记 over HTTP: local work registered through the API and logged daily (a fever answers
//! an alert id), the list's 今日待记录 filter and its inline log form, the trip page, the xlsx
//! export, an organised trip through the group page (refused whole naming the person who may
//! not go, the ticks kept) and through the API; another grid's worker sees none of it.

use crate::support::*;

use linli_core::kernel::clock::{format_date, today};
use linli_core::registry::PersonInput;
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let town = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, town.community.id).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    user(&db, "worker_b", "grid_worker", &[grid_b.id]).await;
    let named = |name: &'static str| PersonInput {
        name,
        ..Default::default()
    };
    let he = person(&db, grid_a.id, named("和建国")).await.id;
    let li = person(&db, grid_a.id, named("李秀英")).await.id;
    let wang = person(&db, grid_a.id, named("王芳")).await.id;
    let zhao = person(&db, grid_a.id, named("赵明")).await.id;
    let day = format_date(today());
    let week = format_date(today() + time::Duration::days(6));
    let api = api_login(&app, "worker_a").await;

    // Local work through the API: the period's last day is required.
    let (status, body) = post_json(
        &api,
        app.url("/api/v1/trips"),
        json!({"person_id": he, "kind": "local_work", "destination": "城区建筑工地", "leave_on": day}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["return_on"]);
    let (status, body) = post_json(
        &api,
        app.url("/api/v1/trips"),
        json!({"person_id": he, "kind": "市内务工", "destination": "城区建筑工地",
               "leave_on": day, "return_on": week}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let he_trip = body["id"].as_i64().unwrap();
    let (status, body) = get_json(
        &api,
        app.url(&format!(
            "/api/v1/trips?node_id={}&state=log_due",
            grid_a.id
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["trips"][0]["kind_zh"], "市内务工");
    assert_eq!(body["trips"][0]["log_due"], true);
    // A fever on coming back answers the alert it raised; the same day again is a conflict.
    let (status, body) = post_json(
        &api,
        app.url(&format!("/api/v1/trips/{he_trip}/log")),
        json!({"temperature": 37.9}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["alert_id"].as_i64().is_some(), "{body}");
    let (status, body) = post_json(
        &api,
        app.url(&format!("/api/v1/trips/{he_trip}/log")),
        json!({"temperature": "36.5"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        (body["error"]["code"].as_str(), error_fields(&body)),
        (Some("conflict"), vec!["on"])
    );
    let (_, body) = get_json(&api, app.url(&format!("/api/v1/trips/{he_trip}"))).await;
    assert_eq!(body["logs"][0]["temperature"], 37.9);
    assert_eq!(body["trip"]["log_due"], false);

    // Field work through the page; the list's filter shows it due, and its row logs inline.
    let (worker, csrf) = sign_in(&app, "worker_a").await;
    let li_s = li.to_string();
    let (status, to) = post_form(
        &worker,
        app.url("/trips"),
        &[
            ("csrf", &csrf),
            ("person_id", &li_s),
            ("kind", "field_work"),
            ("destination", "后山茶园"),
            ("leave_on", &day),
            ("return_on", &week),
        ],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/trips?notice=added")
    );
    let (_, html) = get(&worker, app.url("/trips?state=log_due")).await;
    let text = text_of(&html);
    assert!(
        text.contains("共 1 条") && html.contains(">李秀英</a>"),
        "{text}"
    );
    assert!(!html.contains(">和建国</a>"), "logged today: {text}");
    let (_, body) = get_json(
        &api,
        app.url(&format!(
            "/api/v1/trips?node_id={}&kind=field_work",
            grid_a.id
        )),
    )
    .await;
    let li_trip = body["trips"][0]["id"].as_i64().unwrap();
    let (status, to) = post_form(
        &worker,
        app.url(&format!("/trips/{li_trip}/log")),
        &[("csrf", &csrf), ("back", "list"), ("temperature", "36.6")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/trips?state=log_due&notice=logged")
    );
    let (_, html) = get(&worker, app.url(&format!("/trips/{li_trip}"))).await;
    let text = text_of(&html);
    assert!(text.contains(&format!("{day} 体温 36.6℃")), "{text}");
    assert!(text.contains("每日日志 1 天"), "{text}");
    // A reading out of range is named and stores nothing.
    let (status, html) = post(
        &worker,
        app.url(&format!("/trips/{he_trip}/log")),
        &[("csrf", &csrf), ("on", &day), ("temperature", "3.65")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&html).contains("体温："), "{}", text_of(&html));

    // The export holds the listed rows.
    let rows = xlsx_rows(
        &worker,
        app.url(&format!("/trips.xlsx?node_id={}&state=all", grid_a.id)),
        "外出登记",
    )
    .await;
    assert_eq!(rows[1][..3], ["姓名", "事由", "去向"]);
    let mut got: Vec<(&str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[9].as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("和建国", "市内务工", "37.9℃"),
            ("李秀英", "出山劳作", "36.6℃")
        ]
    );
    // The download is audited: who, which list, under which node, with which filters, how many.
    let exported = linli_store::infra::audit::list(
        &db,
        &linli_core::Scope::operator(),
        &linli_store::infra::audit::AuditFilter {
            action_prefix: Some("list.export".into()),
            ..Default::default()
        },
        linli_store::Page::new(Some(10), None),
    )
    .await
    .unwrap();
    assert_eq!(exported.len(), 1);
    let e = &exported[0];
    assert_eq!((e.actor.as_str(), e.entity.as_str()), ("worker_a", "trip"));
    assert_eq!(e.detail["rows"], 2);
    assert_eq!(
        e.detail["query"],
        format!("node_id={}&state=all", grid_a.id)
    );

    // An organised trip through the group page: everyone of the grid is listed to tick.
    let group_page = app.url(&format!("/trips/groups/new?node_id={}", grid_a.id));
    let (status, html) = get(&worker, group_page).await;
    assert_eq!(status, StatusCode::OK);
    for name in ["和建国", "李秀英", "王芳"] {
        assert!(html.contains(name), "{name}");
    }
    // 和建国 already has local work these days; 王芳 is put under quarantine: both named.
    quarantine_from_today(&db).await;
    arrival(&db, wang, "420111", today(), None).await;
    let grid = grid_a.id.to_string();
    let (he_s, wang_s, zhao_s) = (he.to_string(), wang.to_string(), zhao.to_string());
    let group_form = [
        ("csrf", csrf.as_str()),
        ("node_id", &grid),
        ("person_id", &zhao_s),
        ("person_id", &he_s),
        ("person_id", &wang_s),
        ("kind", "local_work"),
        ("destination", "工业园区"),
        ("leave_on", &day),
        ("return_on", &week),
        ("organiser", "和师傅"),
        ("vehicle_plate", "云R12345"),
    ];
    let (status, html) = post(&worker, app.url("/trips/groups/new"), &group_form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = text_of(&html);
    assert!(text.contains("同行人员：王芳：此人为集中隔离"), "{text}");
    assert!(
        text.contains("同行人员：和建国：与已有的市内务工"),
        "{text}"
    );
    assert!(
        html.contains(&format!("value=\"{wang}\" checked")) && html.contains("value=\"工业园区\""),
        "the ticks and fields stay"
    );
    let (_, body) = get_json(
        &api,
        app.url(&format!("/api/v1/trips?node_id={}&state=all", grid_a.id)),
    )
    .await;
    let trips_before = body["total"].as_i64().unwrap();
    assert_eq!(trips_before, 2, "nothing stored");
    let form: Vec<_> = group_form
        .iter()
        .filter(|(_, v)| *v != wang_s && *v != he_s)
        .copied()
        .collect();
    let (status, to) = post_form(&worker, app.url("/trips/groups/new"), &form).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/trips?notice=group")
    );
    let (_, html) = get(&worker, app.url("/trips?kind=local_work")).await;
    assert!(text_of(&html).contains("共 2 条"), "{}", text_of(&html));
    assert!(html.contains("集体出行</span>"));

    // The same through the API names the refused person by position.
    let (status, body) = post_json(
        &api,
        app.url("/api/v1/trip-groups"),
        json!({"node_id": grid_a.id, "kind": "medical", "destination": "县人民医院",
               "leave_on": day, "organiser": "村医", "person_ids": [li, wang]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["person_ids[1]"]);

    // Another grid's worker sees none of it, through the page or the API.
    let (other, _) = sign_in(&app, "worker_b").await;
    let (status, html) = get(&other, app.url(&format!("/trips/{li_trip}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("李秀英"));
    let (_, html) = get(&other, app.url("/trips?state=all")).await;
    assert!(!html.contains("李秀英") && !html.contains("和建国"));
    let other_api = api_login(&app, "worker_b").await;
    let (status, _) = get_json(
        &other_api,
        app.url(&format!("/api/v1/trips?node_id={}", grid_a.id)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish().await;
}

on_both!(trips_by_kind_daily_log_and_groups, flow);

/// An official stops visits to relatives in a new policy version through the editor's
/// checkboxes; the policies page says so and a worker's visit is refused naming the version.
async fn suspension_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let town = town(&db).await;
    let (grid_a, _) = grids_ab(&db, town.community.id).await;
    user(&db, "official", "official", &[town.street.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    let he = person(
        &db,
        grid_a.id,
        PersonInput {
            name: "和建国",
            ..Default::default()
        },
    )
    .await
    .id;
    let (official, csrf) = sign_in(&app, "official").await;
    let (status, form) = get(&official, app.url("/epidemic/policies/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("name=\"suspend_relatives\" value=\"1\">")
            && !form.contains("suspend_medical"),
        "探亲访友 offered unticked, 就医 never: {form}"
    );
    // Today's policy (Class B) has one rule and no stages: post its fields back with the box.
    let base_id = between(&form, "name=\"base_id\" value=\"", "\"").to_owned();
    let value_of =
        |name: &str| between(&form, &format!("name=\"{name}\" value=\""), "\"").to_owned();
    let day = format_date(today());
    let fields: Vec<(String, String)> = [
        ("csrf", csrf.clone()),
        ("base_id", base_id),
        ("mode", "form".to_owned()),
        ("key", value_of("key")),
        ("name", value_of("name")),
        ("effective_from", day.clone()),
        ("version", value_of("version")),
        ("check_ins_0", value_of("check_ins_0")),
        ("note_0", String::new()),
        ("suspend_relatives", "1".to_owned()),
        ("action", "publish".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (status, to) = post_any(&official, app.url("/epidemic/policies/edit"), &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(&official, app.url("/epidemic/policies")).await;
    assert!(
        text_of(&page).contains("暂停外出登记：探亲访友"),
        "{}",
        text_of(&page)
    );

    let api = api_login(&app, "worker_a").await;
    let (status, body) = post_json(
        &api,
        app.url("/api/v1/trips"),
        json!({"person_id": he, "kind": "relatives", "destination": "奔子栏镇", "leave_on": day}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["kind"]);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("探亲访友暂停"),
        "{body}"
    );
    let (status, _) = post_json(
        &api,
        app.url("/api/v1/trips"),
        json!({"person_id": he, "kind": "medical", "destination": "县人民医院", "leave_on": day}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a medical visit is never stopped"
    );
    app.finish().await;
}

on_both!(trips_suspended_by_the_policy_editor, suspension_flow);
