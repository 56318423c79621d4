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
    named(db, n.community_b.id, "王五").await;

    let staff = api_as(&app, "staff_a").await;
    let (s, c) = staff
        .get(&format!("/api/v1/nodes/{}/counts", n.community_a.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["persons"], 2);
    assert_eq!(c["by_residence"]["registered"], 1);
    assert_eq!(c["by_residence"]["floating"], 1);
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
    assert_eq!(got, [("甲网格".to_owned(), 1), ("本级直属".to_owned(), 1)]);

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
        text.contains("登记人口 2 人：户籍人口 1 · 常住人口 0 · 流动人口 1"),
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
    app.t.finish().await;
}

on_both!(a_nodes_numbers_over_the_api, counts_api);
