//! The epidemic dashboard on /epidemic and /api/v1/epidemic/dashboard against the real server on
//! SQLite and on PostgreSQL: a community's table has a row per grid plus 本级直属 and the total,
//! rows drill down, and a grid worker cannot open a node outside their grid.

use crate::support::*;

use linli_core::kernel::clock::today;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::Value;

/// A resident of `at` screened on arrival today.
async fn arrived_today(db: &Db, at: &Node, name: &str) {
    let p = named(db, at.id, name).await;
    arrival(db, p.id, "110101", today(), None).await;
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let base = app.base.clone();
    let db = app.db();
    let Town {
        street, community, ..
    } = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, community.id).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    arrived_today(&db, &grid_a, "甲一").await;
    arrived_today(&db, &grid_a, "甲二").await;
    arrived_today(&db, &grid_b, "乙一").await;
    arrived_today(&db, &community, "直属一").await;

    // Staff open their community: a row per grid linking down, 本级直属 and the total.
    let staff = sign_in(&app, "staff").await.0;
    let (status, html) = get(&staff, format!("{base}/epidemic")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("疫情看板 · 里布嘎社区"), "{html}");
    assert!(html.contains(&format!("href=\"/epidemic?node_id={}\">甲网格", grid_a.id)));
    assert!(html.contains(&format!("href=\"/epidemic?node_id={}\">乙网格", grid_b.id)));
    // Each row's arrivals today: two in A, one in B, one directly under the community, four in all.
    let arrivals = |needle: &str| row_cells(&html, needle)[..2].to_vec();
    assert_eq!(arrivals(">甲网格<"), ["甲网格", "2"]);
    assert_eq!(arrivals(">乙网格<"), ["乙网格", "1"]);
    assert_eq!(arrivals("本级直属"), ["本级直属", "1"]);
    assert_eq!(arrivals("合计"), ["合计", "4"]);
    assert!(
        html.contains("<span class=\"n\">4</span><span class=\"label\">今日来返</span>"),
        "the tile counts all four: {html}"
    );
    // Drill down to grid A: its own dashboard, with a link back up.
    let (status, html) = get(&staff, format!("{base}/epidemic?node_id={}", grid_a.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("疫情看板 · 甲网格"));
    assert!(html.contains(&format!(
        "href=\"/epidemic?node_id={}\">↑ 上级：里布嘎社区",
        community.id
    )));

    // The API gives the same figures, and they add up.
    let r = staff
        .get(format!(
            "{base}/api/v1/epidemic/dashboard?node_id={}",
            community.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["total"]["arrivals_today"], 4);
    assert_eq!(v["direct"]["arrivals_today"], 1);
    assert_eq!(v["children"][0]["name"], "甲网格");
    assert_eq!(v["children"][0]["figures"]["arrivals_today"], 2);
    assert_eq!(v["children"][1]["figures"]["arrivals_today"], 1);
    // Above the staff's community: not found.
    let (status, _) = get(&staff, format!("{base}/epidemic?node_id={}", street.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A grid worker: their grid by default; grid B, the community or nonsense are not found.
    let worker = sign_in(&app, "worker_a").await.0;
    let (status, html) = get(&worker, format!("{base}/epidemic")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("疫情看板 · 甲网格"));
    assert!(
        !html.contains("上级：里布嘎社区"),
        "the community is not theirs"
    );
    for q in [
        grid_b.id.to_string(),
        community.id.to_string(),
        "abc".to_owned(),
    ] {
        let (status, html) = get(&worker, format!("{base}/epidemic?node_id={q}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{q}");
        assert!(!html.contains("乙网格"), "{q}");
        let r = fetch(
            &worker,
            format!("{base}/api/v1/epidemic/dashboard?node_id={q}"),
        )
        .await;
        assert!(
            matches!(r.status().as_u16(), 400 | 404),
            "{q}: {}",
            r.status()
        );
    }
    app.finish().await;
}

on_both!(epidemic_dashboard, flow);
