//! `GET /api/v1/nodes/{id}/counts` (issue 19 item 3) against the real server on SQLite and
//! PostgreSQL: the community's numbers, the breakdown by child, a bad `by`, and scope.

use crate::support::*;
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
