//! `GET /api/v1/nodes/{id}/counts` (issue 19 item 3) against the real server on SQLite and
//! PostgreSQL: the community's numbers, the breakdown by child, a bad `by`, and scope.

use crate::support::*;
use linli_core::kernel::clock::now_ms;
use linli_core::registry::PersonInput;
use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn counts_api(t: TestDb) {
    let app = spawn(t).await;
    let db = &app.t.db;
    let n = neighbours(db).await;
    let alone = vec!["独居老人".to_owned()];
    person(
        db,
        n.grid.id,
        PersonInput {
            name: "张一",
            category: Some("registered"),
            birth_date: Some("1950-01-01"),
            address: Some("1栋1单元101室"),
            relation: Some("head"),
            tags: &alone,
            ..Default::default()
        },
    )
    .await;
    person(
        db,
        n.community_a.id,
        PersonInput {
            name: "李三",
            category: Some("floating"),
            birth_date: Some("1990-01-01"),
            ..Default::default()
        },
    )
    .await;
    person(
        db,
        n.community_a.id,
        PersonInput {
            name: "赵四",
            category: Some("人户分离"),
            birth_date: Some("1980-01-01"),
            ..Default::default()
        },
    )
    .await;
    named(db, n.community_b.id, "王五").await;

    let staff = api_as(&app, "staff_a").await;
    let (s, c) = staff
        .get(&format!("/api/v1/nodes/{}/counts", n.community_a.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["persons"], 3);
    assert_eq!(c["away"], 0);
    let by: Vec<(&String, i64)> = c["by_residence"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k, v.as_i64().unwrap()))
        .collect();
    let want = [
        ("floating", 1),
        ("foreign", 0),
        ("registered", 1),
        ("registered_away", 1),
        ("resident", 0),
    ];
    assert_eq!(by.len(), want.len(), "{c}");
    for ((k, v), (wk, wv)) in by.into_iter().zip(want) {
        assert_eq!((k.as_str(), v), (wk, wv));
    }
    // 人户一致率: 1 registered and living here of 2 registered here.
    assert_eq!(c["consistency_rate"], 0.5);
    assert_eq!(c["by_age"]["60-79"], 1);
    assert_eq!(c["by_tag"]["独居老人"], 1);
    assert_eq!(c["dwellings"], 1);
    assert_eq!(c["occupied"], 1);

    let (s, lines) = staff
        .get(&format!(
            "/api/v1/nodes/{}/counts?by=children",
            n.community_a.id
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{lines}");
    let got: Vec<(String, i64)> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["counts"]["persons"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("甲网格".to_owned(), 1), ("本级直属".to_owned(), 2)]);
    assert_eq!(lines[0]["counts"]["consistency_rate"], 1.0);

    let (s, e) = staff
        .get(&format!(
            "/api/v1/nodes/{}/counts?by=street",
            n.community_a.id
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&e), ["by"]);
    // Another community's numbers are not found; the grid worker counts the grid only.
    let (s, _) = staff
        .get(&format!("/api/v1/nodes/{}/counts", n.community_b.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let worker = api_as(&app, "worker").await;
    let (_, c) = worker
        .get(&format!("/api/v1/nodes/{}/counts", n.grid.id))
        .await;
    assert_eq!(c["persons"], 1);
    // Nobody registered here: no rate (null, not 0).
    let (_, b) = api_as(&app, "staff_b")
        .await
        .get(&format!("/api/v1/nodes/{}/counts", n.community_b.id))
        .await;
    assert_eq!(b["persons"], 1);
    assert!(b["consistency_rate"].is_null(), "{b}");
    let (s, _) = worker
        .get(&format!("/api/v1/nodes/{}/counts", n.community_a.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The community's page states the same numbers, and its key group lists its members.
    let (page, _) = sign_in(&app, "staff_a").await;
    let (s, html) = get(&page, app.url(&format!("/nodes/{}", n.community_a.id))).await;
    assert_eq!(s, StatusCode::OK);
    let text = text_of(&html);
    assert!(
        text.contains("登记人口 3 人：户籍常住 1 · 人户分离 1 · 寄住 0 · 流动 1 · 境外 0"),
        "{text}"
    );
    assert!(
        text.contains("人户一致率 50.0%（户籍常住 1 ÷ 户籍在本地 2）"),
        "{text}"
    );
    assert!(text.contains("住房 1 套，有人居住 1 套"), "{text}");
    assert!(text.contains("60—79 岁 1"), "{text}");
    let link = format!(
        "/persons?node_id={}&#38;tag={}",
        n.community_a.id, "%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA"
    );
    assert!(html.contains(&link), "{html}");
    let (_, found) = get(&page, app.url(&link.replace("&#38;", "&"))).await;
    assert!(text_of(&found).contains("张一"), "{found}");
    // The spreadsheet: title, header, a row per child, the node's own records, the total
    // (name, persons, floating, 人户一致率).
    let rows = xlsx_rows(
        &page,
        app.url(&format!("/nodes/{}/counts.xlsx", n.community_a.id)),
        "人口统计",
    )
    .await;
    let lines: Vec<(&str, &str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[6].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("甲网格", "1", "0", "100.0%"),
            ("本级直属", "2", "1", "0.0%"),
            ("合计", "3", "1", "50.0%"),
        ]
    );
    app.t.finish().await;
}

on_both!(a_nodes_numbers_over_the_api, counts_api);

/// The text of the home page's card of root `id`.
fn card(html: &str, id: i64) -> String {
    let start = html
        .find(&format!("data-root=\"{id}\""))
        .unwrap_or_else(|| panic!("no card {id} in {html}"));
    let rest = &html[start..];
    text_of(&format!("<li {}", &rest[..rest.find("</li>").unwrap()]))
}

/// The home dashboard's cards count the registry (issue 19): persons, households with the
/// grids' typed estimate beside them, 人户一致率 and rooms, for each root the user sees.
async fn dashboard_counts(t: TestDb) {
    let app = spawn(t).await;
    let db = &app.t.db;
    let n = neighbours(db).await;
    let estimated = linli_core::NewNode::parse(linli_core::NodeInput {
        parent_id: Some(n.community_a.id),
        kind: "grid",
        name: "乙网格",
        household_estimate: Some(40),
        ..Default::default()
    })
    .unwrap();
    linli_store::tree::create(db, &linli_core::Scope::operator(), estimated, now_ms())
        .await
        .unwrap();
    for (at, name, category, address, relation) in [
        (
            n.grid.id,
            "张一",
            "registered",
            Some("1栋1单元101室"),
            Some("head"),
        ),
        (n.grid.id, "张二", "registered_away", None, None),
        (n.grid.id, "李三", "floating", Some("1栋1单元102室"), None),
        (n.community_a.id, "约翰", "foreign", None, None),
    ] {
        person(
            db,
            at,
            PersonInput {
                name,
                category: Some(category),
                address,
                relation,
                ..Default::default()
            },
        )
        .await;
    }
    named(db, n.community_b.id, "王五").await;
    // An empty room in the building the registrations made: counted, not occupied.
    let building = linli_store::tree::children(
        db,
        &linli_core::Scope::operator(),
        n.grid.id,
        false,
        linli_store::Page::all(),
    )
    .await
    .unwrap()
    .remove(0)
    .node;
    let plan = linli_core::registry::buildings::room_plan("1", "1", "1", "3").unwrap();
    linli_store::registry::dwellings::add_rooms(
        db,
        &linli_core::Scope::operator(),
        building.id,
        &plan,
        now_ms(),
    )
    .await
    .unwrap();

    let (staff, _) = sign_in(&app, "staff_a").await;
    let (s, html) = get(&staff, app.url("/")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        card(&html, n.community_a.id),
        "里布嘎社区 社区/村 下辖：网格 2 · 楼栋 1 \
         人口：4 人 户数：2 户（网格估计 40 户） 人户一致率：50.0% 房屋：有人居住 2 / 共 3 套 \
         代码 533401100003"
    );
    assert!(!html.contains(&format!("data-root=\"{}\"", n.community_b.id)));
    // The other community's staff see their own numbers only: no rate where nobody's hukou is.
    let (other, _) = sign_in(&app, "staff_b").await;
    let (_, html) = get(&other, app.url("/")).await;
    let b = card(&html, n.community_b.id);
    assert!(
        b.contains("人口：1 人 户数：0 户 人户一致率：— 房屋：有人居住 0 / 共 0 套"),
        "{b}"
    );
    assert!(!html.contains(&format!("data-root=\"{}\"", n.community_a.id)));
    // The street's official: both communities added up.
    let (official, _) = sign_in(&app, "official").await;
    let (_, html) = get(&official, app.url("/")).await;
    let street = card(&html, n.street.id);
    assert!(
        street.contains(
            "人口：5 人 户数：2 户（网格估计 40 户） 人户一致率：50.0% 房屋：有人居住 2 / 共 3 套"
        ),
        "{street}"
    );
    app.t.finish().await;
}

on_both!(the_dashboard_counts_the_registry, dashboard_counts);

/// A node's page states how residents take part under it (issue 20 item 7): volunteers in
/// service, this month's hours and activities, and the notices its staff have not opened —
/// counted from records made through the API, and nothing from another community.
async fn node_page_taking_part(t: TestDb) {
    let app = spawn(t).await;
    let n = neighbours(&app.t.db).await;
    let staff = api_as(&app, "staff_a").await;
    for (name, phone) in [("王芳", "13800000001"), ("李强", "13800000002")] {
        let (s, v) = staff
            .post(
                "/api/v1/volunteers",
                serde_json::json!({"person": {"name": name, "phone": phone},
                    "node_id": n.community_a.id, "skills": ["医疗"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let (s, v) = staff
        .post(
            "/api/v1/notices",
            serde_json::json!({"node_id": n.community_a.id, "title": "停水通知",
                "body": "明日停水。", "valid_from": today}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The grid worker is staff in the notice's audience who has not opened it.
    let (c, _) = sign_in(&app, "staff_a").await;
    let (_, html) = get(&c, app.url(&format!("/nodes/{}", n.community_a.id))).await;
    let text = text_of(&html);
    assert!(text.contains("志愿者 在册 2 人"), "{text}");
    assert!(
        text.contains("本月志愿服务 服务 0 小时 · 活动 0 场"),
        "{text}"
    );
    assert!(text.contains("通知未读 工作人员未读 1 条"), "{text}");
    let (c, _) = sign_in(&app, "staff_b").await;
    let (_, html) = get(&c, app.url(&format!("/nodes/{}", n.community_b.id))).await;
    let text = text_of(&html);
    assert!(text.contains("志愿者 在册 0 人"), "{text}");
    assert!(text.contains("通知未读 无未读"), "{text}");
    app.t.finish().await;
}

on_both!(
    a_node_page_states_how_residents_take_part,
    node_page_taking_part
);
