//! The shell: a grid worker's home is the day's to-do of their grid (alerts, check-ins due,
//! requests, releases), with the same counts as the lists it links to and nobody from another
//! grid; community staff get the same counts for their community above their nodes' cards,
//! officials the cards alone. Phone numbers seen in the clear dial.

use crate::support::*;

use linli_core::kernel::clock::{now_ms, parse_date, today};
use linli_core::requests::{Action, Channel, RequestDraft, RequestInput, Target};
use linli_core::{Role, Scope};
use linli_store::requests;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;

/// A request filed by the operator at `at`, waiting there; its tracking number and id.
async fn request_at(db: &Db, at: &Node, what: &str) -> (String, i64) {
    let draft = RequestDraft::parse(&RequestInput {
        description: what,
        ..Default::default()
    })
    .unwrap();
    let r = requests::create(
        db,
        &Scope::operator(),
        at.id,
        "general",
        Channel::Hotline,
        &draft,
        now_ms(),
    )
    .await
    .unwrap();
    (r.tracking_number, r.id)
}

/// The text of the to-do line `key` on a home page.
fn line(html: &str, key: &str) -> String {
    let start = html
        .find(&format!("data-todo=\"{key}\""))
        .unwrap_or_else(|| panic!("no line {key} in {html}"));
    let rest = &html[start..];
    let end = rest[1..]
        .find("data-todo=")
        .or_else(|| rest.find("</section>"))
        .unwrap_or(rest.len());
    text_of(&format!("<li {}", &rest[..end]))
}

async fn todo_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let Town { community, .. } = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, community.id).await;
    let building = node(&db, Some(grid_a.id), "building", "3栋", None).await;
    let worker = user(&db, "worker", "grid_worker", &[grid_a.id]).await;
    user(&db, "staff", "staff", &[community.id]).await;
    quarantine_from_today(&db).await;

    // Grid A: a fever on arrival today (an alert, and check-ins due), a plain arrival today in a
    // building of the grid (check-ins due), an observation of 2020 long over (to release).
    let zhang = named(&db, grid_a.id, "张一").await;
    arrival(&db, zhang.id, "420111", today(), Some("38.5")).await;
    let li = named(&db, building.id, "李二").await;
    arrival(&db, li.id, "420111", today(), None).await;
    let zhao = named(&db, grid_a.id, "赵四").await;
    let long_ago = parse_date("d", "2020-02-01").unwrap();
    arrival(&db, zhao.id, "110101", long_ago, None).await;
    // Grid B: the same kinds of work, none of it the worker's.
    let wang = named(&db, grid_b.id, "王三").await;
    arrival(&db, wang.id, "420111", today(), Some("38.6")).await;
    let qian = named(&db, grid_b.id, "钱五").await;
    arrival(&db, qian.id, "110101", long_ago, None).await;

    // Requests: one the worker took, one waiting in the grid, one in grid B.
    let (taken, taken_id) = request_at(&db, &grid_a, "楼道灯坏了").await;
    let (waiting, _) = request_at(&db, &grid_a, "垃圾没有清运").await;
    let (elsewhere, _) = request_at(&db, &grid_b, "路面积水").await;
    let dispatch = Action::Dispatch {
        target: Target::Node(grid_a.id),
    };
    requests::transition(&db, &Scope::operator(), taken_id, &dispatch, now_ms())
        .await
        .unwrap();
    let worker_scope = Scope::for_user(worker, "worker", Role::GridWorker, vec![grid_a.path]);
    requests::transition(&db, &worker_scope, taken_id, &Action::Accept, now_ms())
        .await
        .unwrap();

    let (c, _) = sign_in(&app, "worker").await;
    let (status, home) = get(&c, app.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&home).contains("今日待办"), "{home}");
    assert!(home.contains(&format!("href=\"/nodes/{}\"", grid_a.id)));

    let alerts = line(&home, "alerts");
    assert!(alerts.starts_with("1 待处理预警"), "{alerts}");
    assert!(alerts.contains("张一 发热"), "{alerts}");

    let checkins = line(&home, "checkins");
    assert!(checkins.starts_with("2 今日未打卡"), "{checkins}");
    assert!(
        checkins.contains("张一 集中隔离") && checkins.contains("李二 集中隔离"),
        "{checkins}"
    );
    assert!(home.contains(&format!("/epidemic/rounds?node_id={}", grid_a.id)));

    let reqs = line(&home, "requests");
    assert!(reqs.starts_with("2 待办诉求 其中我已接单 1"), "{reqs}");
    // The worker's own first, each by what was asked.
    let (first, second) = (
        reqs.find("楼道灯坏了").unwrap(),
        reqs.find("垃圾没有清运").unwrap(),
    );
    assert!(first < second, "{reqs}");
    assert!(reqs.contains("已接单"), "{reqs}");
    assert!(!reqs.contains("路面积水"), "grid B's request: {reqs}");

    let releases = line(&home, "releases");
    assert!(releases.starts_with("1 到期待解除"), "{releases}");
    assert!(
        releases.contains("赵四 居家隔离 · 至 2020-02-14"),
        "{releases}"
    );

    // Nobody and nothing of grid B, anywhere on the page.
    for other in ["王三", "钱五", elsewhere.as_str(), "乙网格"] {
        assert!(
            !home.contains(other),
            "{other} on the worker's home: {home}"
        );
    }

    // Each count is the count of the list it links to.
    let (_, list) = get(
        &c,
        app.url(&format!("/epidemic/alerts?node_id={}", grid_a.id)),
    )
    .await;
    assert!(text_of(&list).contains("共 1 条"), "{list}");
    let (_, list) = get(
        &c,
        app.url(&format!(
            "/epidemic/observations?node_id={}&pending=1",
            grid_a.id
        )),
    )
    .await;
    assert!(text_of(&list).contains("共 2 人"), "{list}");
    let (_, list) = get(
        &c,
        app.url(&format!(
            "/epidemic/observations?node_id={}&ending=1",
            grid_a.id
        )),
    )
    .await;
    assert!(text_of(&list).contains("共 1 人"), "{list}");

    // The requests line leads to the pending view; the API lists the same two.
    let link = format!("/requests?node_id={}&#38;view=pending", grid_a.id);
    assert!(home.contains(&link), "{link} not in {home}");
    let api = api_as(&app, "worker").await;
    let (status, body) = api
        .get(&format!(
            "/api/v1/requests?view=pending&node_id={}",
            grid_a.id
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut numbers: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tracking_number"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    let mut expected = vec![taken.as_str(), waiting.as_str()];
    expected.sort_unstable();
    assert_eq!(numbers, expected);
    // The inbox page offers the view (待办) and counts the same two.
    let (w, _) = sign_in(&app, "worker").await;
    let (_, inbox) = get(
        &w,
        app.url(&format!("/requests?node_id={}&view=pending", grid_a.id)),
    )
    .await;
    assert!(text_of(&inbox).contains("共 2 条"), "{inbox}");
    assert!(
        inbox.contains("class=\"pill on\" href=\"/requests?node_id="),
        "{inbox}"
    );

    // Staff keep the cards of their nodes, under the same counts for their community: both
    // grids, none of it theirs.
    let (s, _) = sign_in(&app, "staff").await;
    let (_, home) = get(&s, app.url("/")).await;
    assert!(
        home.contains("<ul class=\"cards\">")
            && home.contains(&format!("href=\"/nodes/{}\"", community.id)),
        "{home}"
    );
    assert!(line(&home, "alerts").starts_with("2 待处理预警"), "{home}");
    let checkins = line(&home, "checkins");
    assert!(checkins.starts_with("3 今日未打卡"), "{checkins}");
    assert!(checkins.contains("王三"), "{checkins}");
    assert!(line(&home, "requests").starts_with("3 待办诉求 "), "{home}");
    assert!(!line(&home, "requests").contains("其中我已接单"), "{home}");
    let releases = line(&home, "releases");
    assert!(releases.starts_with("2 到期待解除"), "{releases}");
    assert!(
        releases.contains("钱五") && releases.contains("赵四"),
        "{releases}"
    );

    // An official keeps the cards alone (the dashboard has their figures).
    user(&db, "official", "official", &[community.id]).await;
    let (o, _) = sign_in(&app, "official").await;
    let (_, home) = get(&o, app.url("/")).await;
    assert!(
        !home.contains("data-todo") && home.contains("<ul class=\"cards\">"),
        "{home}"
    );
    app.finish().await;
}
on_both!(a_grid_workers_home_is_the_days_todo, todo_flow);

async fn tel_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let Town { community, .. } = town(&db).await;
    user(&db, "staff", "staff", &[community.id]).await;
    let p = person(
        &db,
        community.id,
        linli_core::registry::PersonInput {
            name: "张三",
            phone: Some("136-1234-8609"),
            ..Default::default()
        },
    )
    .await;
    let (c, html) = sign_in(&app, "staff").await;
    let _ = html;
    let url = app.url(&format!("/persons/{}", p.id));
    let (_, masked) = get(&c, url.clone()).await;
    // Masked: shown, not dialled.
    assert!(masked.contains("136****8609"), "{masked}");
    assert!(!masked.contains("tel:"), "{masked}");
    let csrf = csrf_in(&masked);
    let (status, clear) = post(&c, format!("{url}/unmask"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        clear.contains("<a class=\"tel\" href=\"tel:13612348609\">13612348609</a>"),
        "{clear}"
    );
    app.finish().await;
}
on_both!(a_phone_number_seen_in_the_clear_dials, tel_flow);
