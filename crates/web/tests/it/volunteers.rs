//! Volunteers (志愿服务) against the real server, on SQLite and on PostgreSQL: the JSON contract
//! (volunteers, activities, sign-ups, attendance with confirmed hours, counts), the pages (the
//! activity form, the public sign-up by short code, hours confirmed on the activity page, the
//! certificate, the xlsx export), scope over every new route, and the public link's rate limit.

use crate::support::*;
use linli_core::kernel::clock::{format_date, format_local, now_ms, today};
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

struct World {
    community: Node,
    grid: Node,
    staff_id: i64,
    /// Staff of 北门社区, the other community.
    other_staff_id: i64,
    /// A grid worker of 北门社区's grid.
    other_worker_id: i64,
}

async fn world(db: &Db) -> World {
    let n = neighbours(db).await;
    let grid_b = node(db, Some(n.community_b.id), "grid", "北门网格", Some("GB")).await;
    World {
        staff_id: user_id(db, "staff_a").await,
        other_staff_id: user_id(db, "staff_b").await,
        other_worker_id: user(db, "worker_b", "grid_worker", &[grid_b.id]).await,
        community: n.community_a,
        grid: n.grid,
    }
}

async fn user_id(db: &Db, name: &str) -> i64 {
    let users =
        linli_store::accounts::list(db, &linli_core::Scope::operator(), linli_store::Page::all())
            .await
            .unwrap();
    users.into_iter().find(|u| u.username == name).unwrap().id
}

/// An activity in the grid that started 2 hours ago and ends in an hour, for `n` people.
fn activity_body(grid: i64, n: i64) -> Value {
    let now = now_ms();
    json!({
        "node_id": grid, "title": "义诊进社区", "place": "社区广场",
        "starts_at": linli_core::kernel::clock::rfc3339(now - 2 * HOUR),
        "ends_at": linli_core::kernel::clock::rfc3339(now + HOUR),
        "needs": [{"skill": "医疗", "count": 1}, {"count": n - 1}]
    })
}

async fn contract(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let staff = bearer(&app, w.staff_id).await;

    // Volunteers: an outside person, and a registry person; the same person twice is a 409.
    let (s, v) = staff
        .post(
            "/api/v1/volunteers",
            json!({"person": {"name": "王师傅", "phone": "139 0887 1234"}, "node_id": w.grid.id,
                    "skills": ["电工", " 电工"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["phone"], "139****1234");
    assert_eq!(v["skills"], json!(["电工"]));
    assert_eq!(v["state"], "active");
    let wang = v["id"].as_i64().unwrap();
    let li = person(
        &db,
        w.grid.id,
        linli_core::registry::PersonInput {
            name: "李医生",
            phone: Some("13612348609"),
            ..Default::default()
        },
    )
    .await;
    let (s, v) = staff
        .post(
            "/api/v1/volunteers",
            json!({"person_id": li.id, "skills": ["医疗"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "李医生");
    assert_eq!(v["node_id"], w.grid.id);
    let li_v = v["id"].as_i64().unwrap();
    let (s, v) = staff
        .post("/api/v1/volunteers", json!({"person_id": li.id}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "person_id");
    let (s, v) = staff
        .post("/api/v1/volunteers", json!({"skills": ["医疗"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Activities: bad times are refused by field; a good one has its public link.
    let (s, v) = staff
        .post(
            "/api/v1/activities",
            json!({"node_id": w.grid.id, "title": "x", "starts_at": "明天", "ends_at": "2020-01-01T08:00:00+08:00",
                    "needs": [{"count": 1}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "starts_at");
    let (s, v) = staff
        .post("/api/v1/activities", activity_body(w.grid.id, 2))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["capacity"], 2);
    assert!(v["signup_link"].as_str().unwrap().starts_with("/v/"));
    let a = v["id"].as_i64().unwrap();

    // Sign-ups: twice is a 409; the third person finds it full.
    let (s, v) = staff
        .post(
            &format!("/api/v1/activities/{a}/signups"),
            json!({"volunteer_id": li_v}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["skill"], "医疗");
    let (s, _) = staff
        .post(
            &format!("/api/v1/activities/{a}/signups"),
            json!({"volunteer_id": li_v}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    staff
        .post(
            &format!("/api/v1/activities/{a}/signups"),
            json!({"volunteer_id": wang}),
        )
        .await;
    let (_, v) = staff
        .post(
            "/api/v1/volunteers",
            json!({"person": {"name": "赵阿姨", "phone": "13712345678"}, "node_id": w.grid.id}),
        )
        .await;
    let zhao = v["id"].as_i64().unwrap();
    let (s, v) = staff
        .post(
            &format!("/api/v1/activities/{a}/signups"),
            json!({"volunteer_id": zhao}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "activity");

    // Attendance: the hours rule, then confirmed hours with the record's id.
    for bad in [json!(0), json!(3.5), json!(1.2), json!("两小时")] {
        let (s, v) = staff
            .post(
                &format!("/api/v1/activities/{a}/attendance"),
                json!({"volunteer_id": li_v, "hours": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], "hours");
    }
    let (s, v) = staff
        .post(
            &format!("/api/v1/activities/{a}/attendance"),
            json!({"volunteer_id": li_v, "hours": 2.5}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "confirmed");
    assert_eq!(v["hours"], 2.5);
    assert!(v["id"].as_i64().unwrap() > 0);
    let (s, v) = staff.get(&format!("/api/v1/activities/{a}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["signups"][0]["attended"], true);
    assert_eq!(v["signups"][0]["hours"]["status"], "confirmed");
    assert_eq!(v["confirmed_hours"], 2.5);
    let (_, v) = staff
        .get(&format!(
            "/api/v1/volunteer-counts?node_id={}",
            w.community.id
        ))
        .await;
    assert_eq!(v["active"], 3);
    assert_eq!(v["hours_this_month"], 2.5);
    let (_, v) = staff
        .get(&format!(
            "/api/v1/volunteers?node_id={}&skill=医疗",
            w.community.id
        ))
        .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["volunteers"][0]["name"], "李医生");
    let (s, v) = staff
        .post(
            "/api/v1/volunteer-teams",
            json!({"node_id": w.community.id, "name": "里布嘎志愿服务队", "leader_id": li_v}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["leader_name"], "李医生");
    let team = v["id"].as_i64().unwrap();
    let (_, v) = staff
        .get(&format!(
            "/api/v1/volunteer-teams?node_id={}",
            w.community.id
        ))
        .await;
    assert_eq!(v["teams"].as_array().unwrap().len(), 1);

    // Another community's staff and grid worker get nothing, and change nothing.
    for other in [w.other_staff_id, w.other_worker_id] {
        let o = bearer(&app, other).await;
        for path in [
            format!("/api/v1/volunteers/{li_v}"),
            format!("/api/v1/activities/{a}"),
            format!("/api/v1/volunteers?node_id={}", w.community.id),
            format!("/api/v1/activities?node_id={}", w.community.id),
            format!("/api/v1/volunteer-teams?node_id={}", w.community.id),
            format!("/api/v1/volunteer-counts?node_id={}", w.grid.id),
        ] {
            let (s, v) = o.get(&path).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
            assert!(!v.to_string().contains("李医生"), "{path}");
        }
        let (s, _) = o
            .post(
                &format!("/api/v1/activities/{a}/attendance"),
                json!({"volunteer_id": wang, "hours": 1}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = o
            .post(
                &format!("/api/v1/activities/{a}/signups"),
                json!({"volunteer_id": zhao}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = o
            .post("/api/v1/volunteers", json!({"person_id": li.id}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = o
            .post("/api/v1/activities", activity_body(w.grid.id, 2))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = o
            .post(
                "/api/v1/volunteer-teams",
                json!({"node_id": w.grid.id, "name": "入侵队"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // The pages of another community's worker: every new route refuses, nothing is shown.
    let (c, csrf) = sign_in(&app, "worker_b").await;
    let day = format_date(today());
    for path in [
        format!("/volunteers?node_id={}", w.community.id),
        format!("/volunteers.xlsx?node_id={}", w.community.id),
        format!("/volunteers/{li_v}"),
        format!("/volunteers/{li_v}/certificate?from={day}&to={day}"),
        format!("/volunteer-teams?node_id={}", w.community.id),
        format!("/volunteer-teams/{team}"),
        format!("/activities?node_id={}", w.community.id),
        format!("/activities.xlsx?node_id={}", w.community.id),
        format!("/activities/{a}"),
        format!("/activities/{a}/poster"),
    ] {
        let (s, body) = get(&c, app.url(&path)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("李医生") && !body.contains("义诊"), "{path}");
    }
    let vid = wang.to_string();
    for (path, fields) in [
        (
            format!("/activities/{a}/attendance"),
            vec![("volunteer_id", vid.as_str()), ("hours", "1")],
        ),
        (
            format!("/activities/{a}/absent"),
            vec![("volunteer_id", vid.as_str())],
        ),
        (
            format!("/activities/{a}/reject"),
            vec![("volunteer_id", vid.as_str()), ("reason", "x")],
        ),
        (
            format!("/activities/{a}/signups"),
            vec![("volunteer_id", vid.as_str())],
        ),
        (format!("/volunteers/{wang}/state"), vec![("to", "left")]),
        (
            format!("/volunteer-teams/{team}/members"),
            vec![("volunteer_id", vid.as_str())],
        ),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let (s, _) = post_form(&c, app.url(&path), &form).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, body) = post_form(
        &c,
        app.url("/activities/new"),
        &[
            ("csrf", csrf.as_str()),
            ("node_id", &w.grid.id.to_string()),
            ("title", "入侵活动"),
            ("starts_at", "2020-01-01T08:00"),
            ("ends_at", "2020-01-01T10:00"),
            ("needs", "2"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Nothing changed: wang is still active and signed up without hours.
    let (_, v) = staff.get(&format!("/api/v1/activities/{a}")).await;
    assert_eq!(v["signups"][1]["hours"], Value::Null);
    let (_, v) = staff.get(&format!("/api/v1/volunteers/{wang}")).await;
    assert_eq!(v["state"], "active");
    app.t.finish().await;
}

on_both!(the_api_follows_the_contract_and_scope, contract);

async fn pages_and_public_link(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let (c, csrf) = sign_in(&app, "staff_a").await;
    let grid = w.grid.id.to_string();

    // Register a volunteer by form; a bad phone comes back with its field.
    let (s, body) = post_form(
        &c,
        app.url("/volunteers/new"),
        &[
            ("csrf", &csrf),
            ("node_id", &grid),
            ("name", "王师傅"),
            ("phone", "123"),
            ("skills", "电工、驾驶"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("aria-invalid"), "{body}");
    let (s, to) = post_form(
        &c,
        app.url("/volunteers/new"),
        &[
            ("csrf", &csrf),
            ("node_id", &grid),
            ("name", "王师傅"),
            ("phone", "13908871234"),
            ("skills", "电工、驾驶"),
            ("weekdays", "六 日"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(&c, app.url(&to)).await;
    assert!(
        page.contains("139****1234") && !page.contains("13908871234"),
        "{page}"
    );
    assert!(page.contains("周六、周日"));
    // A resident found by the search and registered with her registry phone.
    let mei = person(
        &db,
        w.grid.id,
        linli_core::registry::PersonInput {
            name: "杨春梅",
            phone: Some("13712340000"),
            ..Default::default()
        },
    )
    .await;
    let (_, page) = get(&c, app.url("/volunteers/new?find=杨春梅")).await;
    assert!(
        page.contains(&format!("/volunteers/new?person_id={}", mei.id)),
        "{page}"
    );
    let (_, page) = get(
        &c,
        app.url(&format!("/volunteers/new?person_id={}", mei.id)),
    )
    .await;
    assert!(page.contains("137****0000"), "{page}");
    let (s, to_mei) = post_form(
        &c,
        app.url("/volunteers/new"),
        &[
            ("csrf", &csrf),
            ("person_id", &mei.id.to_string()),
            ("skills", "心理"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to_mei}");
    let (_, page) = get(&c, app.url(&to_mei)).await;
    assert!(
        page.contains("辖区居民") && page.contains("137****0000") && page.contains("甲网格"),
        "{page}"
    );
    // A team led by him, formed by form.
    let wang_id = to
        .trim_start_matches("/volunteers/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (s, team_to) = post_form(
        &c,
        app.url("/volunteer-teams"),
        &[
            ("csrf", &csrf),
            ("node_id", &grid),
            ("name", "甲网格志愿服务队"),
            ("leader_id", &wang_id),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{team_to}");
    let (_, page) = get(&c, app.url(&team_to)).await;
    assert!(page.contains("<dt>队长</dt><dd>王师傅</dd>"), "{page}");
    let (s, page) = post_form(
        &c,
        app.url("/volunteer-teams"),
        &[
            ("csrf", &csrf),
            ("node_id", &grid),
            ("name", "甲网格志愿服务队"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("同名"), "{page}");

    // An activity by form, for two.
    let now = now_ms();
    let (s, to) = post_form(
        &c,
        app.url("/activities/new"),
        &[
            ("csrf", &csrf),
            ("node_id", &grid),
            ("title", "敬老院陪伴"),
            ("place", "幸福敬老院"),
            ("starts_at", &format_local(now - 2 * HOUR)),
            ("ends_at", &format_local(now + HOUR)),
            ("needs", "医疗 1\n不限 1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let a: i64 = to
        .trim_start_matches("/activities/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (_, page) = get(&c, app.url(&to)).await;
    let marker = "id=\"short-code\">";
    let at = page.find(marker).unwrap() + marker.len();
    let short = page[at..].split('<').next().unwrap().to_owned();
    assert_eq!(short.len(), 12, "{short}"); // 10 characters in groups of four
    assert!(page.contains("<svg"), "a QR code is drawn");
    let (s, poster) = get(&c, app.url(&format!("/activities/{a}/poster"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(poster.contains(&short) && poster.contains("里布嘎社区"));

    // A resident signs up through the short code, typed in lower case.
    let public = client();
    let link = app.url(&format!("/v/{}", short.to_lowercase()));
    let (s, page) = get(&public, link.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("敬老院陪伴") && !page.contains("王师傅"));
    let (s, page) = post(
        &public,
        link.clone(),
        &[("name", "钱同学"), ("phone", "15812345678")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let receipt = |page: &str| {
        let at = page.find("报名已提交").expect("a receipt");
        page[at..].split('<').next().unwrap_or_default().to_owned()
    };
    let unknown = receipt(&page);
    let (s, page) = post(
        &public,
        link.clone(),
        &[("name", "钱同学"), ("phone", "158 1234 5678")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("不能重复报名"), "{page}");
    // 王师傅 signs up by his phone: he is known (signed up at once, staff see it below).
    let (s, page) = post(
        &public,
        link.clone(),
        &[("name", "王"), ("phone", "13908871234")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The same receipt as a stranger's: the public page does not tell who volunteers here.
    assert_eq!(receipt(&page), unknown);
    // Full now.
    let (s, page) = post(
        &public,
        link.clone(),
        &[("name", "孙"), ("phone", "15912345678")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("已满员"), "{page}");
    // 钱同学 reports 2 hours; it waits.
    let (s, page) = post(
        &public,
        app.url(&format!("/v/{}/hours", short)),
        &[("phone", "15812345678"), ("hours", "2")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("等待活动组织者确认"));
    let (s, _) = get(&public, app.url("/v/ZZZZZZZZZZ")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Staff see the sign-ups, confirm 王师傅's hours and reject 钱同学's report.
    let (_, page) = get(&c, app.url(&format!("/activities/{a}"))).await;
    assert!(
        page.contains("待确认志愿者") && page.contains("扫码报名"),
        "{page}"
    );
    let vols: Value = json_at(&c, app.url(&format!("/api/v1/activities/{a}"))).await;
    let id_of = |name: &str| {
        vols["signups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["volunteer_name"] == name)
            .unwrap()["volunteer_id"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let (wang, qian) = (id_of("王师傅"), id_of("钱同学"));
    let (s, body) = post_form(
        &c,
        app.url(&format!("/activities/{a}/attendance")),
        &[("csrf", &csrf), ("volunteer_id", &wang), ("hours", "4")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("不能超过活动时长 3 小时"), "{body}");
    let (s, _) = post_form(
        &c,
        app.url(&format!("/activities/{a}/attendance")),
        &[("csrf", &csrf), ("volunteer_id", &wang), ("hours", "2.5")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = post_form(
        &c,
        app.url(&format!("/activities/{a}/reject")),
        &[
            ("csrf", &csrf),
            ("volunteer_id", &qian),
            ("reason", "当天未到场"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = get(&c, app.url(&format!("/activities/{a}"))).await;
    assert!(page.contains("退回原因：当天未到场"), "{page}");

    // The volunteer page and the certificate count confirmed hours only.
    let (_, page) = get(&c, app.url(&format!("/volunteers/{wang}"))).await;
    assert!(page.contains("id=\"total-hours\">2.5<"), "{page}");
    let day = format_date(today());
    let (s, cert) = get(
        &c,
        app.url(&format!(
            "/volunteers/{wang}/certificate?from={day}&to={day}"
        )),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(cert.contains("id=\"cert-total\">2.5<"), "{cert}");
    assert!(cert.contains(&format!("ZY{:06}-", wang.parse::<i64>().unwrap())));
    let (_, cert) = get(
        &c,
        app.url(&format!(
            "/volunteers/{qian}/certificate?from={day}&to={day}"
        )),
    )
    .await;
    assert!(cert.contains("id=\"cert-total\">0<"), "{cert}");

    // Lists: the pending volunteer by filter, the export with masked phones, audited.
    let (_, page) = get(
        &c,
        app.url(&format!(
            "/volunteers?node_id={}&state=pending",
            w.community.id
        )),
    )
    .await;
    assert!(
        page.contains("钱同学") && !page.contains("王师傅"),
        "{page}"
    );
    let rows = xlsx_rows(
        &c,
        app.url(&format!("/volunteers.xlsx?node_id={}", w.community.id)),
        "志愿者",
    )
    .await;
    let wang_row = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("王师傅"))
        .unwrap();
    assert_eq!(wang_row[2], "139****1234");
    assert_eq!(wang_row[3], "电工、驾驶");
    let rows = xlsx_rows(
        &c,
        app.url(&format!("/activities.xlsx?node_id={}", w.community.id)),
        "服务活动",
    )
    .await;
    assert!(rows
        .iter()
        .any(|r| r.first().map(String::as_str) == Some("敬老院陪伴")));
    assert!(!audited(&db, "list.export").await.is_empty());
    let (_, page) = get(
        &c,
        app.url(&format!("/activities?node_id={}", w.community.id)),
    )
    .await;
    assert!(page.contains("本月服务时长"), "{page}");

    // The public link is rate-limited per address.
    let mut limited = false;
    for _ in 0..12 {
        let (s, _) = post(&public, link.clone(), &[("name", "刷"), ("phone", "1")]).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the public link is rate-limited");
    app.t.finish().await;
}

on_both!(pages_and_the_public_link_work, pages_and_public_link);
