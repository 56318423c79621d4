//! The policy editor over HTTP: what-if and publish through the API and through the page, for
//! officials only; each flow on SQLite and PostgreSQL.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::epidemic::policy::{self, DivisionCode, RiskArea, RiskLevel};
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::epidemic::{self};
use linli_store::testing::TestDb;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn date(s: &str) -> time::Date {
    parse_date("date", s).unwrap()
}

/// A street with one community and grid; an official on the street, staff on the community;
/// two residents screened in July 2022 from a high-risk area (9th edition: 7 days centralised).
async fn world(db: &Db) {
    let Town {
        street, community, ..
    } = town(db).await;
    let grid = node(db, Some(community.id), "grid", "甲网格", None).await;
    user(db, "official", "official", &[street.id]).await;
    user(db, "staff", "staff", &[community.id]).await;
    epidemic::add_risk_area(
        db,
        &Scope::operator(),
        &RiskArea::new(
            DivisionCode::parse("420111").unwrap(),
            None,
            RiskLevel::High,
            date("2022-07-01"),
            Some(date("2022-07-20")),
        )
        .unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
    for (name, body, on) in [
        ("张三", "53340119850312001", "2022-07-02"),
        ("李四", "53340119900101002", "2022-07-04"),
    ] {
        let id = format!(
            "{body}{}",
            linli_core::kernel::idnumber::check_char(body.as_bytes())
        );
        let p = person(
            db,
            grid.id,
            PersonInput {
                name,
                id_number: Some(&id),
                ..Default::default()
            },
        )
        .await;
        arrival(db, p.id, "420111", date(on), Some("36.6")).await;
    }
}

/// The 9th edition with `days` days for arrivals from high-risk areas, as JSON.
fn ninth(days: u16, version: u32, from: &str) -> Value {
    let mut draft = policy::presets()
        .into_iter()
        .find(|p| p.key() == "ninth-edition")
        .unwrap()
        .to_draft();
    draft.rules[2].stages[0].days = days;
    draft.version = version;
    draft.effective_from = date(from);
    serde_json::to_value(&draft).unwrap()
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    world(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let (official, csrf) = sign_in(&app, "official").await;
    let (staff, _) = sign_in(&app, "staff").await;

    // API: staff may not try a policy; an official sees who would change.
    let body = json!({"policy": ninth(5, 2, "2022-07-06"), "on": "2022-07-06"});
    let r = send_json(&staff, url("/api/v1/policies/what-if"), &body).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send_json(&official, url("/api/v1/policies/what-if"), &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["counts"]["shortened"], 2, "{out}");
    let first = &out["changes"][0];
    assert_eq!(first["person_name"], "张三");
    assert_eq!(first["from_until"], "2022-07-08");
    assert_eq!(first["to_until"], "2022-07-06");
    assert_eq!(first["until_delta_days"], -2);

    // A broken draft names the field; nothing is published.
    let bad = json!({"policy": ninth(0, 2, "2022-07-06")});
    let r = send_json(&official, url("/api/v1/policies/what-if"), &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        e["error"]["fields"][0]["field"], "rules[2].stages[0].days",
        "{e}"
    );

    // Publishing: not backdated, numbered above the last, then 409 on a second try.
    let r = send_json(
        &official,
        url("/api/v1/policies"),
        &ninth(5, 2, "2022-07-06"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let today_s = format_date(today());
    let r = send_json(&staff, url("/api/v1/policies"), &ninth(5, 2, &today_s)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send_json(&official, url("/api/v1/policies"), &ninth(5, 2, &today_s)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["policy_version"], "ninth-edition@2");
    let r = send_json(&official, url("/api/v1/policies"), &ninth(5, 2, &today_s)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let all: Value = json_at(&official, url("/api/v1/policies")).await;
    assert_eq!(all["policies"].as_array().unwrap().len(), 5);

    // Pages: staff are refused the editor.
    let r = fetch(&staff, url("/epidemic/policies/edit")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, listing) = get(&official, url("/epidemic/policies")).await;
    assert!(listing.contains("/epidemic/policies/edit?from="));
    let ninth_id = all["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "ninth-edition" && p["version"] == 1)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, form) = get(
        &official,
        url(&format!("/epidemic/policies/edit?from={ninth_id}")),
    )
    .await;
    assert!(form.contains("name=\"days_2_0\" value=\"7\""), "{form}");
    // The next free version number is offered.
    assert!(form.contains("name=\"version\" value=\"3\""));

    let fields = |days: &str, action: &str, effective: &str| {
        let ninth = policy::presets()
            .into_iter()
            .find(|p| p.key() == "ninth-edition")
            .unwrap();
        let mut f: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("base_id".into(), ninth_id.to_string()),
            ("mode".into(), "form".into()),
            ("key".into(), "ninth-edition".into()),
            ("name".into(), ninth.name().into()),
            ("effective_from".into(), effective.into()),
            ("version".into(), "3".into()),
            ("on".into(), "2022-07-06".into()),
            ("action".into(), action.into()),
        ];
        for (r, rule) in ninth.rules().iter().enumerate() {
            for (s, stage) in rule.stages.iter().enumerate() {
                let v = if (r, s) == (2, 0) {
                    days.to_owned()
                } else {
                    stage.days.to_string()
                };
                f.push((format!("days_{r}_{s}"), v));
            }
            f.push((format!("check_ins_{r}"), rule.check_ins_per_day.to_string()));
            f.push((format!("note_{r}"), rule.note.clone().unwrap_or_default()));
        }
        f
    };
    // 试算: the page lists both residents as shortened; nothing is stored.
    let (r, page) = post_any(
        &official,
        url("/epidemic/policies/edit"),
        &fields("5", "whatif", &today_s),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    assert!(
        page.contains("试算结果 <span class=\"muted small\">2022-07-06 · "),
        "the what-if is for the day asked: {page}"
    );
    assert!(page.contains("<strong>2</strong> 缩短"), "{page}");
    // 张三's own row: shortened by two days.
    assert_eq!(row_cells(&page, ">张三</a>")[..2], ["张三", "缩短 -2 天"]);
    // A typo comes back with the field in words and the value as typed.
    let (r, page) = post_any(
        &official,
        url("/epidemic/policies/edit"),
        &fields("五", "whatif", &today_s),
    )
    .await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("第 3 条规则 · 第 1 阶段 · 天数"), "{page}");
    assert!(page.contains("name=\"days_2_0\" value=\"五\""));
    // Publishing from the page.
    assert_eq!(
        post_any(
            &official,
            url("/epidemic/policies/edit"),
            &fields("5", "publish", &today_s)
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(epidemic::published_policies(&db).await.unwrap().len(), 6);

    app.t.finish().await;
}

on_both!(policy_editor, flow);
