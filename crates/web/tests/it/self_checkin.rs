//! Following a quarantine day by day (issue 18 items 2 and 3): the resident's own check-in
//! link and its QR code, the grid worker's round page entering everyone at once (代录), and
//! the person's timeline that shows who entered what.

use crate::support::*;

use linli_core::kernel::clock::{format_date, now_ms, parse_date, today};
use linli_core::kernel::token::ALPHABET;
use linli_core::Scope;
use linli_store::epidemic;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::json;

/// The server on `t` with the [`Town`]: the app, its database and the community.
async fn in_town(t: TestDb) -> (App, Db, Node) {
    let app = spawn(t).await;
    let db = app.db();
    let Town { community, .. } = town(&db).await;
    (app, db, community)
}

/// `c` asks for the self check-in link of observation `obs` through the API.
async fn self_link(c: &Api<'_>, obs: i64) -> (StatusCode, serde_json::Value) {
    c.post(&format!("/api/v1/observations/{obs}/self-link"), json!({}))
        .await
}

/// The round form: the CSRF token, the building and the time when given, then per row the
/// observation, its temperature and its symptoms when any.
fn round_form(
    csrf: &str,
    node_id: Option<&str>,
    at: Option<&str>,
    rows: &[(i64, &str, Option<&str>)],
) -> Vec<(String, String)> {
    let mut form = vec![("csrf".to_owned(), csrf.to_owned())];
    form.extend(node_id.map(|n| ("node_id".to_owned(), n.to_owned())));
    form.extend(at.map(|t| ("at".to_owned(), t.to_owned())));
    for &(obs, temperature, symptoms) in rows {
        form.push(("obs".to_owned(), obs.to_string()));
        form.push((format!("t_{obs}"), temperature.to_owned()));
        form.extend(symptoms.map(|s| (format!("s_{obs}"), s.to_owned())));
    }
    form
}

/// `name` at `at`, arrived today from the high-risk area: their person id and observation id.
async fn observed_today(db: &Db, at: &Node, name: &str) -> (i64, i64) {
    let p = named(db, at.id, name).await;
    let a = arrival(db, p.id, "420111", today(), None).await;
    (p.id, a.observation_id.expect("an observation"))
}

/// How many check-ins a person has, as their timeline lists them.
async fn checkins_of(db: &Db, person_id: i64) -> usize {
    epidemic::timeline::of_person(db, &Scope::operator(), person_id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == linli_core::epidemic::timeline::EventKind::Checkin)
        .count()
}

async fn self_checkin_flow(t: TestDb) {
    let app = spawn_public(t).await;
    let db = app.db();
    let Town { community, .. } = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, community.id).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "worker_b", "grid_worker", &[grid_b.id]).await;
    quarantine_from_today(&db).await;
    let (zhang, obs) = observed_today(&db, &grid_a, "张一").await;

    // The API makes the link once: a 10-character code of the unambiguous alphabet, at the
    // public address; asking again gives the same link.
    let staff = api_as(&app, "staff").await;
    let (status, body) = self_link(&staff, obs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 10);
    assert!(token.bytes().all(|b| ALPHABET.contains(&b)), "{token}");
    assert_eq!(body["url"], format!("https://linli.example.org/o/{token}"));
    let (_, again) = self_link(&staff, obs).await;
    assert_eq!(again["token"], token.as_str());
    // A grid worker of another grid cannot see that observation, let alone its link.
    let worker_b = api_as(&app, "worker_b").await;
    let (status, _) = self_link(&worker_b, obs).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The QR code of the link decodes to the link.
    assert_eq!(
        crate::qr::png_target(&app, &staff.client, &format!("/o/{token}")).await,
        format!("{PUBLIC_URL}/o/{token}")
    );

    // The resident, with no login: their masked name, day 1 of 7, nothing reported yet. The
    // code may be typed in lower case and in groups.
    let resident = client();
    let typed = format!(
        "{}-{}",
        token[..5].to_ascii_lowercase(),
        token[5..].to_ascii_lowercase()
    );
    let (status, html) = get(&resident, app.url(&format!("/o/{typed}"))).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let status_box = text_of(enclosing(&html, "div", "self-name"));
    assert!(
        status_box.starts_with("张* 集中隔离 第 1 / 7 天"),
        "{status_box}"
    );
    assert!(!html.contains("张一"), "only the masked name: {html}");
    assert_eq!(
        text_of(enclosing(&html, "p", "id=\"today\"")),
        "今日已打卡 0 次，应打卡 2 次"
    );

    // A normal temperature through the form: stored, counted, no alert.
    let (status, html) = post(
        &resident,
        app.url(&format!("/o/{token}")),
        &[("temperature", "36.5")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        text_of(enclosing(&html, "p", "id=\"done\"")),
        "已收到：体温 36.5℃。谢谢！"
    );
    assert_eq!(
        text_of(enclosing(&html, "p", "id=\"today\"")),
        "今日已打卡 1 次，应打卡 2 次"
    );
    assert!(!html.contains("id=\"fever\""));

    // A bad temperature is named and stores nothing.
    let (status, html) = post(
        &resident,
        app.url(&format!("/o/{token}")),
        &[("temperature", "3.65")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"error\""), "{html}");
    assert_eq!(checkins_of(&db, zhang).await, 1);

    // A fever through JSON raises the alert, as any check-in does.
    let (status, body) = post_json(
        &resident,
        app.url(&format!("/o/{token}")),
        json!({"temperature": 38.2, "symptoms": ["咳嗽"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["observation_id"], obs);
    assert!(body["alert_id"].as_i64().is_some(), "{body}");
    let alerts = epidemic::open_alerts(&db, &Scope::operator(), community.id, Some("fever"))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].person_id, zhang);

    // The person's timeline says who entered each check-in.
    let (staff_page, _) = sign_in(&app, "staff").await;
    let (status, html) = get(&staff_page, app.url(&format!("/persons/{zhang}/epidemic"))).await;
    assert_eq!(status, StatusCode::OK);
    let checkins: Vec<String> = html
        .split("<li data-kind=\"checkin\"")
        .skip(1)
        .map(|li| text_of(li.split("</li>").next().unwrap()))
        .collect();
    assert_eq!(checkins.len(), 2, "{html}");
    assert!(
        checkins[0].ends_with("健康打卡 体温 38.2℃；症状 咳嗽（本人打卡）"),
        "{checkins:?}"
    );
    assert!(
        checkins[1].ends_with("健康打卡 体温 36.5℃（本人打卡）"),
        "{checkins:?}"
    );
    assert!(
        html.contains("data-kind=\"alert\" class=\"warn\""),
        "{html}"
    );
    // A grid worker of another grid cannot open it.
    let (worker_b_page, _) = sign_in(&app, "worker_b").await;
    let (status, _) = get(
        &worker_b_page,
        app.url(&format!("/persons/{zhang}/epidemic")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Codes that name nothing: 404, the same for a well-formed guess and for junk.
    for guess in ["ABCDEFGHJK", "not-a-code"] {
        let (status, _) = get(&resident, app.url(&format!("/o/{guess}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{guess}");
    }
    app.finish().await;
}

on_both!(self_checkin, self_checkin_flow);

/// The link dies with the release: 410 for the page and for a check-in.
async fn released_link_flow(t: TestDb) {
    let (app, db, community) = in_town(t).await;
    user(&db, "staff", "staff", &[community.id]).await;
    // An arrival of 2020 under the 2020 preset: home quarantine long over, not yet released.
    let p = named(&db, community.id, "李二").await;
    let a = arrival(
        &db,
        p.id,
        "110101",
        parse_date("d", "2020-02-01").unwrap(),
        None,
    )
    .await;
    let obs = a.observation_id.unwrap();
    let link = epidemic::self_checkin::self_link(&db, &Scope::operator(), obs, now_ms())
        .await
        .unwrap();
    let resident = client();
    let (status, _) = get(&resident, app.url(&format!("/o/{}", link.token))).await;
    assert_eq!(status, StatusCode::OK);
    // Outside the period a check-in is refused with the period named.
    let own_page = app.url(&format!("/o/{}", link.token));
    let check_in = || post(&resident, own_page.clone(), &[("temperature", "36.6")]);
    let (status, html) = check_in().await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("不在观察期 2020-02-01 至 2020-02-14 之内"),
        "{html}"
    );

    epidemic::release(&db, &Scope::operator(), &[obs], today(), now_ms())
        .await
        .unwrap();
    let (status, html) = get(&resident, app.url(&format!("/o/{}", link.token))).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("观察已解除"), "{html}");
    let (status, _) = check_in().await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(checkins_of(&db, p.id).await, 0);
    // And no new link for a released observation.
    let staff = api_as(&app, "staff").await;
    let (status, body) = self_link(&staff, obs).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.finish().await;
}

on_both!(self_checkin_released, released_link_flow);

/// The worker's page makes the link and prints a card whose QR code carries it.
async fn link_page_flow(t: TestDb) {
    let (app, db, community) = in_town(t).await;
    let (grid_a, _) = grids_ab(&db, community.id).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    quarantine_from_today(&db).await;
    let (_, obs) = observed_today(&db, &grid_a, "王五").await;
    let (worker, csrf) = sign_in(&app, "worker_a").await;

    // The list links each person to their link page.
    let (_, list) = get(&worker, app.url("/epidemic/observations")).await;
    assert!(
        list.contains(&format!("/epidemic/observations/{obs}/self-link")),
        "{list}"
    );
    let page = app.url(&format!("/epidemic/observations/{obs}/self-link"));
    let (status, html) = get(&worker, page.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("生成打卡码") && !html.contains("id=\"code\""));
    let (status, to) = post_form(&worker, page.clone(), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&worker, page).await;
    let code = text_of(enclosing(&html, "strong", "id=\"code\""));
    let plain = code.replace('-', "");
    assert_eq!(plain.len(), 10, "{code}");
    assert!(html.contains(&format!("/o/{plain}</p>")), "{html}");
    let (status, card) = get(
        &worker,
        app.url(&format!("/epidemic/observations/{obs}/self-link/card")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(card.contains("王*：请每天扫码报体温"), "{card}");
    assert!(card.contains(&code) && card.contains("<svg"), "{card}");
    assert!(card.contains("里布嘎社区 · 甲网格"), "{card}");
    app.finish().await;
}

on_both!(self_checkin_link_page, link_page_flow);

/// The round page: everyone under observation in a building, one submit, 代录 marked; a bad
/// value anywhere stores nothing; a refused row is named while the others are kept.
async fn round_flow(t: TestDb) {
    let (app, db, community) = in_town(t).await;
    let (grid_a, grid_b) = grids_ab(&db, community.id).await;
    let building = node(&db, Some(grid_a.id), "building", "3栋", None).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    user(&db, "worker_b", "grid_worker", &[grid_b.id]).await;
    quarantine_from_today(&db).await;
    let (zhang, obs_zhang) = observed_today(&db, &building, "张一").await;
    let (li, obs_li) = observed_today(&db, &building, "李二").await;
    let (worker, csrf) = sign_in(&app, "worker_a").await;

    let round = app.url("/epidemic/rounds");
    let (status, html) = get(&worker, format!("{round}?node_id={}", building.id)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for obs in [obs_zhang, obs_li] {
        assert!(html.contains(&format!("name=\"t_{obs}\"")), "{html}");
    }
    assert!(text_of(&html).contains("共 2 人"), "{html}");

    let node_id = building.id.to_string();
    // A bad temperature on one row: that row is named, nothing is stored.
    let rows = round_form(
        &csrf,
        Some(&node_id),
        None,
        &[(obs_zhang, "36.6", None), (obs_li, "365", None)],
    );
    let (status, html) = post_any(&worker, round.clone(), &rows).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = text_of(enclosing(&html, "li", "class=\"refused\""));
    assert!(refused.contains("李二："), "{refused}");
    assert!(
        html.contains("value=\"365\""),
        "what was typed stays: {html}"
    );
    assert_eq!(checkins_of(&db, zhang).await, 0);
    assert_eq!(checkins_of(&db, li).await, 0);

    // Both rows good, one with a fever and a symptom: both stored, one alert, back to the page.
    let rows = round_form(
        &csrf,
        Some(&node_id),
        None,
        &[(obs_zhang, "36.6", None), (obs_li, "37.8", Some("咳嗽"))],
    );
    let (status, to) = post_any(&worker, round.clone(), &rows).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert!(to.contains("saved=2&alerts=1"), "{to}");
    let (_, html) = get(&worker, app.url(&to)).await;
    assert!(
        text_of(enclosing(&html, "p", "id=\"saved\""))
            .starts_with("已保存 2 人的打卡（网格员代录），其中 1 人发热"),
        "{html}"
    );
    assert_eq!(checkins_of(&db, zhang).await, 1);
    assert_eq!(checkins_of(&db, li).await, 1);

    // A time before the period: each row is refused with the period; nothing stored.
    let yesterday = format!("{}T08:00", format_date(today().previous_day().unwrap()));
    let rows = round_form(
        &csrf,
        Some(&node_id),
        Some(&yesterday),
        &[(obs_zhang, "36.4", None)],
    );
    let (status, html) = post_any(&worker, round.clone(), &rows).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("不在观察期"), "{html}");
    assert_eq!(checkins_of(&db, zhang).await, 1);

    // The timeline marks the round's check-in as entered by the worker.
    let (_, html) = get(&worker, app.url(&format!("/persons/{zhang}/epidemic"))).await;
    let line = text_of(enclosing(&html, "li", "data-kind=\"checkin\""));
    assert!(
        line.ends_with("体温 36.6℃（网格员代录 worker_a）"),
        "{line}"
    );

    // Another grid's worker: the building is out of scope, and a forged row stores nothing.
    let (worker_b, csrf_b) = sign_in(&app, "worker_b").await;
    let (status, _) = get(&worker_b, format!("{round}?node_id={}", building.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let rows = round_form(&csrf_b, None, None, &[(obs_zhang, "36.6", None)]);
    let (status, html) = post_any(&worker_b, round, &rows).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        !html.contains("张一"),
        "nothing of the other grid shows: {html}"
    );
    assert_eq!(checkins_of(&db, zhang).await, 1);
    app.finish().await;
}

on_both!(round_page, round_flow);
