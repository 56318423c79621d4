//! The epidemic pages (summary, alerts, risk areas, policies, 三问一测 screening) against the
//! real server on SQLite and on PostgreSQL: CSRF, scope, roles, and what the result page says.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel};
use linli_core::kernel::clock::parse_date;
use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::registry::{self};
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::{epidemic, Db, Page};
use reqwest::StatusCode;

struct World {
    grid_a: Node,
    grid_b: Node,
    /// A resident of grid B, registered by the operator.
    b_person: i64,
}

/// A community with two grids; an official on the street, staff on the community, a worker on
/// grid A; one resident in grid B; a high-risk area declared for Hongshan, Wuhan in July 2022.
async fn world(db: &Db) -> World {
    let Town {
        street, community, ..
    } = town(db).await;
    let (grid_a, grid_b) = grids_ab(db, community.id).await;
    user(db, "official", "official", &[street.id]).await;
    user(db, "staff", "staff", &[community.id]).await;
    user(db, "worker_a", "grid_worker", &[grid_a.id]).await;
    let b = person(
        db,
        grid_b.id,
        PersonInput {
            name: "乙居民",
            address: Some("9栋1单元101室"),
            ..Default::default()
        },
    )
    .await;
    let area = RiskArea::new(
        DivisionCode::parse("420111").unwrap(),
        Some("武汉市洪山区"),
        RiskLevel::High,
        parse_date("from", "2022-07-01").unwrap(),
        Some(parse_date("to", "2022-07-20").unwrap()),
    )
    .unwrap();
    epidemic::add_risk_area(db, &Scope::operator(), &area, now_ms())
        .await
        .unwrap();
    World {
        grid_a,
        grid_b,
        b_person: b.id,
    }
}

/// Arrival screenings recorded so far (each is audited).
async fn screenings(db: &Db) -> usize {
    audit::list(
        db,
        &Scope::operator(),
        &AuditFilter {
            action_prefix: Some("arrival.".into()),
            ..AuditFilter::default()
        },
        Page::new(Some(Page::MAX_LIMIT), None),
    )
    .await
    .unwrap()
    .len()
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let (staff, csrf) = sign_in(&app, "staff").await;
    let zhang = id_number("53340119800101001");
    let grid_a = w.grid_a.id.to_string();
    let arrival = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("node_id".to_owned(), grid_a.clone()),
            ("name".to_owned(), "张三".to_owned()),
            ("id_number".to_owned(), zhang.clone()),
            ("address".to_owned(), "3栋2单元501室".to_owned()),
            ("origin_code".to_owned(), "420111".to_owned()),
            ("arrived_on".to_owned(), "2022-07-05".to_owned()),
            ("purpose".to_owned(), "返岗".to_owned()),
            ("temperature".to_owned(), "36.5".to_owned()),
        ]
    };

    // The summary and the nav entry.
    let (status, html) = get(&staff, url("/epidemic")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/epidemic\" class=\"on\">防疫"),
        "{html}"
    );
    assert!(html.contains("登记来返人员"), "staff may screen");
    assert!(html.contains("疫情看板 · 里布嘎社区"), "{html}");

    // CSRF: without the token, or with a wrong one, nothing is recorded.
    let mut forged = arrival("guess");
    assert_eq!(
        post_any(&staff, url("/epidemic/arrivals/new"), &forged)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    forged.remove(0);
    assert_eq!(
        post_any(&staff, url("/epidemic/arrivals/new"), &forged)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(screenings(&db).await, 0);

    // A refused form comes back with field messages, filled in.
    let mut bad = arrival(&csrf);
    for (k, v) in bad.iter_mut() {
        match k.as_str() {
            "origin_code" => *v = "12".into(),
            "temperature" => *v = "55".into(),
            _ => {}
        }
    }
    let (r, html) = post_any(&staff, url("/epidemic/arrivals/new"), &bad).await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        errors(&html),
        [
            "来源地：「12」不是行政区划代码：应为 6 位（省、市、县）、9 位（街道）或 12 位（社区/村）数字",
            "体温：体温 55.0℃ 不在 34.0 至 43.0℃ 之间，请重新测量"
        ],
        "{html}"
    );
    assert!(html.contains("value=\"张三\""), "the name comes back");
    assert_eq!(screenings(&db).await, 0);

    // Staff screens a new arrival from the high-risk area: 集中隔离 under the 9th edition, with
    // the explanation to read aloud.
    // Post/redirect/get: the answer is the stored screening's own page.
    let form = arrival(&csrf);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, location) = post_form(&staff, url("/epidemic/arrivals/new"), &pairs).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert!(location.starts_with("/epidemic/arrivals/"), "{location}");
    let (status, html) = get(&staff, url(&location)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<div class=\"measure\">集中隔离</div>"),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"days\">7 天</div>")
            && html.contains("2022-07-05</span> 至 <span class=\"nowrap\">2022-07-11"),
        "{html}"
    );
    assert!(html.contains("请向居民宣读"));
    assert!(html.contains("ninth-edition@1"));
    let explain = html
        .split("请向居民宣读</h2>")
        .nth(1)
        .unwrap()
        .split("</p>")
        .next()
        .unwrap();
    assert!(explain.contains("从湖北省武汉市洪山区抵达"), "{explain}");
    assert!(explain.contains("高风险"), "{explain}");
    assert!(explain.contains("2022-07-11"), "{explain}");
    assert!(!html.contains("已发出发热预警"));
    assert!(!html.contains(&zhang), "the full ID number is never shown");
    assert_eq!(screenings(&db).await, 1);
    // Reloading the result shows it again and stores nothing more.
    let (status, again) = get(&staff, url(&location)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.contains("请向居民宣读"));
    assert!(
        text_of(&again).contains("集中隔离 7 天 2022-07-05 至 2022-07-11"),
        "{again}"
    );
    assert_eq!(screenings(&db).await, 1);

    // A fever raises an alert: the banner, then the alerts page.
    let mut fever = arrival(&csrf);
    for (k, v) in fever.iter_mut() {
        match k.as_str() {
            "temperature" => *v = "38.2".into(),
            "origin_code" => *v = "533401".into(),
            // The 2020 rules raise a fever alert at screening; those of 2022 do not.
            "arrived_on" => *v = "2020-02-01".into(),
            _ => {}
        }
    }
    fever.push(("symptoms".into(), "咳嗽".into()));
    let (status, location) = post_form(
        &staff,
        url("/epidemic/arrivals/new"),
        &fever
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = get(&staff, url(&location)).await;
    assert!(html.contains("已发出发热预警"), "{html}");
    // The fever adds an alert to the origin's measure (from the same city: none), never a
    // measure of its own; the page says both, and not in the calm green of 无需管控.
    assert!(
        html.contains("无需管控；体温 38.2 ℃、有症状（咳嗽）已发出发热预警，请立即送发热门诊"),
        "{html}"
    );
    assert!(html.contains("verdict-box alerted"), "{html}");
    assert!(
        html.contains("<dt>体温</dt><dd>38.2 ℃</dd>") && html.contains("<dd>咳嗽</dd>"),
        "{html}"
    );
    // The grid B resident has a fever too (entered by staff, who may).
    let b_id = w.b_person.to_string();
    let (status, b_screening) = post_form(
        &staff,
        url("/epidemic/arrivals/new"),
        &[
            ("csrf", csrf.as_str()),
            ("person_id", b_id.as_str()),
            ("origin_code", "533401"),
            ("arrived_on", "2020-02-02"),
            ("temperature", "38.5"),
            ("proxy", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, html) = get(&staff, url(&b_screening)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("38.5") && html.contains("乙居民"), "{html}");
    let (_, html) = get(&staff, url("/epidemic/alerts?kind=fever")).await;
    assert!(html.contains("张三") && html.contains("乙居民"), "{html}");
    // Searched by name; handled, an alert leaves the open list and stays under 已处理 with
    // its outcome; the export holds what the filters hold.
    let (_, html) = get(&staff, url("/epidemic/alerts?q=%E5%BC%A0")).await;
    assert!(html.contains("张三") && !html.contains("乙居民"), "{html}");
    let zhang = between(&html, "id=\"alert-", "\"").to_owned();
    let (status, to) = post_form(
        &staff,
        url(&format!("/epidemic/alerts/{zhang}/handle")),
        &[
            ("csrf", csrf.as_str()),
            ("outcome", "transferred"),
            ("note", "县医院发热门诊"),
            ("state", "open"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let (_, html) = get(&staff, url("/epidemic/alerts?kind=fever")).await;
    assert!(!html.contains("张三") && html.contains("乙居民"), "{html}");
    let (_, html) = get(&staff, url("/epidemic/alerts?state=handled")).await;
    let text = text_of(&html);
    assert!(
        text.contains("张三") && text.contains("已处理：已转诊定点医院（县医院发热门诊）"),
        "{text}"
    );
    let rows = xlsx_rows(
        &staff,
        url("/epidemic/alerts.xlsx?state=all&kind=fever"),
        "预警",
    )
    .await;
    let mut got: Vec<(&str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[0].as_str(), r[4].as_str()))
        .collect();
    got.sort();
    assert_eq!(got, [("乙居民", "待处理"), ("张三", "已处理")]);

    // A grid worker: their grid only.
    let (worker, worker_csrf) = sign_in(&app, "worker_a").await;
    let (_, html) = get(&worker, url("/epidemic/alerts?state=all")).await;
    assert!(html.contains("张三"), "{html}");
    assert!(!html.contains("乙居民"), "another grid's alert: {html}");
    // Nor another grid's screening, nor one that does not exist: the same 404.
    let (status, html) = get(&worker, url(&b_screening)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
    assert!(!html.contains("乙居民"));
    let (status, _) = get(&worker, url("/epidemic/arrivals/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = get(&worker, url("/epidemic/arrivals/new?q=%E5%BC%A0")).await;
    assert!(
        html.contains("person_id="),
        "finds 张三 in their grid: {html}"
    );
    let (_, html) = get(&worker, url("/epidemic/arrivals/new?q=%E4%B9%99")).await;
    assert!(!html.contains("乙居民"), "{html}");
    let before = screenings(&db).await;
    let (status, _) = get(
        &worker,
        url(&format!("/epidemic/arrivals/new?person_id={b_id}")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = post(
        &worker,
        url("/epidemic/arrivals/new"),
        &[
            ("csrf", worker_csrf.as_str()),
            ("person_id", b_id.as_str()),
            ("origin_code", "420111"),
            ("arrived_on", "2022-07-05"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("乙居民"));
    // Nor register someone new into grid B (the store refuses the node as not in the scope).
    let grid_b = w.grid_b.id.to_string();
    let (status, html) = post(
        &worker,
        url("/epidemic/arrivals/new"),
        &[
            ("csrf", worker_csrf.as_str()),
            ("node_id", grid_b.as_str()),
            ("name", "丙某"),
            ("origin_code", "420111"),
            ("arrived_on", "2022-07-05"),
        ],
    )
    .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY && html.contains("您的辖区内没有这个节点"),
        "{status} {html}"
    );
    assert_eq!(screenings(&db).await, before, "nothing stored");
    let (_, hits) = registry::search(&db, &Scope::operator(), "丙某", 5)
        .await
        .unwrap();
    assert!(hits.is_empty(), "no one registered");
    // Their own grid's resident, on behalf of someone without a phone: fine.
    let (status, location) = post_form(
        &worker,
        url("/epidemic/arrivals/new"),
        &[
            ("csrf", worker_csrf.as_str()),
            ("node_id", grid_a.as_str()),
            ("name", "丁老人"),
            ("origin_code", "110101"),
            ("arrived_on", "2022-07-05"),
            ("temperature", "36.4"),
            ("proxy", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (status, html) = get(&worker, url(&location)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<dt>登记方式</dt><dd>代老人/无智能手机者登记</dd>")
            && html.contains("<dt>体温</dt><dd>36.4 ℃</dd>")
            && html.contains("丁老人"),
        "{html}"
    );

    // Risk areas: staff sees the list but no form, and a post is refused.
    let (status, html) = get(&staff, url("/epidemic/risk-areas")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("武汉市洪山区"));
    assert!(!html.contains("action=\"/epidemic/risk-areas\""), "{html}");
    let new_area = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("division_code".to_owned(), "310115".to_owned()),
            ("name".to_owned(), "上海市浦东新区".to_owned()),
            ("level".to_owned(), "medium".to_owned()),
            ("from".to_owned(), "2022-07-02".to_owned()),
            ("to".to_owned(), String::new()),
        ]
    };
    assert_eq!(
        post_any(&staff, url("/epidemic/risk-areas"), &new_area(&csrf))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(epidemic::risk_areas(&db).await.unwrap().len(), 1);

    // An official declares one; screening is not theirs.
    let (official, official_csrf) = sign_in(&app, "official").await;
    let (_, html) = get(&official, url("/epidemic/risk-areas")).await;
    assert!(html.contains("action=\"/epidemic/risk-areas\""));
    assert_eq!(
        post_any(&official, url("/epidemic/risk-areas"), &new_area("guess"))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "CSRF on the area form"
    );
    let mut wrong = new_area(&official_csrf);
    wrong[1].1 = "31011".into();
    let (r, html) = post_any(&official, url("/epidemic/risk-areas"), &wrong).await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&html), ["地区：「31011」不是行政区划代码：应为 6 位（省、市、县）、9 位（街道）或 12 位（社区/村）数字"], "{html}");
    assert_eq!(
        post_any(
            &official,
            url("/epidemic/risk-areas"),
            &new_area(&official_csrf)
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    let (_, html) = get(&official, url("/epidemic/risk-areas?notice=added")).await;
    // The new area's own line: its level, code, dates and who declared it.
    assert_eq!(
        text_of(enclosing(&html, "li", "<strong>上海市浦东新区</strong>")),
        "中风险 上海市浦东新区 代码 310115 2022-07-02 至 今 发布：official"
    );
    let (status, _) = get(&official, url("/epidemic/arrivals/new")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The policies, readable.
    let (status, html) = get(&official, url("/epidemic/policies")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("新型冠状病毒肺炎防控方案（第九版）"));
    assert!(html.contains("2022-06-28 起，至 2022-11-10"), "{html}");
    assert!(html.contains("集中隔离 7 天 → 健康监测 3 天（共 10 天）"));
    assert!(html.contains("抵达前 7 天内到过高风险地区"));
    assert!(html.contains("每天报告体温 2 次"));
    // 现行 marks the policy in force today (乙类乙管), not the ninth edition.
    assert!(
        html.contains("“乙类乙管”总体方案<span class=\"tag now\">现行</span></h2>")
            && html.contains("<h2>新型冠状病毒肺炎防控方案（第九版）</h2>")
            && html.matches("<span class=\"tag now\">现行</span>").count() == 1,
        "{html}"
    );

    // Releases: B's 2020 home quarantine ended long ago, so it is due (overdue). Worker A does
    // not see it; staff release it in one batch and the list empties.
    let obs = crate::support::arrival(
        &db,
        w.b_person,
        "110101",
        parse_date("d", "2020-02-01").unwrap(),
        None,
    )
    .await
    .observation_id
    .unwrap();
    let (worker, _) = sign_in(&app, "worker_a").await;
    let (_, html) = get(&worker, url("/epidemic/releases")).await;
    assert!(!html.contains("乙居民"), "{html}");
    let (_, html) = get(&staff, url("/epidemic/releases")).await;
    let row = text_of(enclosing(&html, "li", ">乙居民</a>"));
    assert!(row.ends_with("已逾期") || row.contains("已逾期 "), "{row}");
    let id = obs.to_string();
    let (status, _) = post(
        &staff,
        url("/epidemic/releases"),
        &[("csrf", "wrong"), ("observation", id.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &staff,
        url("/epidemic/releases"),
        &[("csrf", csrf.as_str()), ("observation", id.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = get(&staff, url("/epidemic/releases?released=1")).await;
    assert!(
        html.contains("已解除 1 人") && !html.contains(&format!("value=\"{obs}\"")),
        "{html}"
    );
    // The notice comes from the query string; the list itself no longer has B's resident.
    let (_, html) = get(&staff, url("/epidemic/releases")).await;
    assert!(!html.contains("乙居民"), "{html}");

    app.t.finish().await;
}

on_both!(epidemic_pages, flow);

/// The messages of a refused form's error list.
fn errors(html: &str) -> Vec<String> {
    between(html, "<ul class=\"error\" role=\"alert\">", "</ul>")
        .split("<li>")
        .skip(1)
        .map(text_of)
        .collect()
}
