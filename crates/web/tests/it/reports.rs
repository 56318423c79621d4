//! Daily reports over HTTP, against the real server on SQLite and on PostgreSQL: the API
//! contract (templates, a report's values computed from the records, submit with the zero
//! report refused on a day with events, approve, completeness, reminders, the xlsx) and who may
//! do what where.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::kernel::clock::parse_date;
use linli_core::{NewNode, NodeInput, Scope};
use linli_store::testing::TestDb;
use linli_store::tree::{self, Node};
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

const DAY: &str = "2022-07-02";

/// A node open since 2020, so that it is expected to report on the test's dates.
async fn node(db: &Db, parent: Option<i64>, kind: &str, name: &str, code: Option<&str>) -> Node {
    let new = NewNode::parse(NodeInput {
        parent_id: parent,
        kind,
        name,
        code,
        opened_on: Some("2020-01-01"),
        ..Default::default()
    })
    .unwrap();
    tree::create(db, &Scope::operator(), new, now_ms())
        .await
        .unwrap()
}

struct World {
    street: Node,
    a: Node,
    b: Node,
    c: Node,
    grid: Node,
}

/// A street with three communities and a grid in A; an official on the street and one on the
/// district, staff on A and B, a grid worker in A's grid. A has one arrival on the day.
async fn world(db: &Db) -> World {
    // This file's own `node`, opened in 2020: the report dates lie before today.
    let d = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let street = node(db, Some(d.id), "street", "建塘镇", Some("533401100")).await;
    let community = |name, code| node(db, Some(street.id), "community", name, Some(code));
    let a = community("里布嘎社区", "533401100003").await;
    let b = community("北门社区", "533401100004").await;
    let c = community("长征社区", "533401100005").await;
    let grid = node(db, Some(a.id), "grid", "甲网格", None).await;
    user(db, "official", "official", &[street.id]).await;
    user(db, "district", "official", &[d.id]).await;
    user(db, "staff_a", "staff", &[a.id]).await;
    user(db, "staff_b", "staff", &[b.id]).await;
    user(db, "street_staff", "staff", &[street.id]).await;
    user(db, "worker", "grid_worker", &[grid.id]).await;
    let p = named(db, grid.id, "张三").await;
    arrival(db, p.id, "110101", parse_date("d", DAY).unwrap(), None).await;
    World {
        street,
        a,
        b,
        c,
        grid,
    }
}

async fn api_contract(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let url = |n: &Node, rest: &str| {
        format!(
            "{}/api/v1/reports/epidemic-daily/{}/{DAY}{rest}",
            app.base, n.id
        )
    };
    let (staff_a, staff_b, official) = (
        api_login(&app, "staff_a").await,
        api_login(&app, "staff_b").await,
        api_login(&app, "official").await,
    );

    // The templates: the preset, with its indicators.
    let (s, body) = get_json(&staff_a, format!("{}/api/v1/reports/templates", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    let t = &body["templates"][0];
    assert_eq!(t["key"], "epidemic-daily");
    assert_eq!(t["level"], "community");
    assert_eq!(t["deadline"], "16:00");
    assert_eq!(t["indicators"][0]["key"], "arrivals_new");
    assert_eq!(t["indicators"][0]["kind"], "computed");

    // A's report: computed from the records, nothing reported yet.
    let (s, r) = get_json(&staff_a, url(&w.a, "")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["values"]["arrivals_new"], 1);
    assert_eq!(r["values"]["under_centralized_quarantine"], 0);
    assert_eq!(r["values"]["fevers_open"], 0);
    assert_eq!(r["values"]["disinfection_rounds"], Value::Null);
    assert_eq!(r["status"], "draft");
    assert_eq!(r["role"], "reporting");
    assert_eq!(r["submitted_by"], Value::Null);
    assert_eq!(r["due_at"], "2022-07-02T16:00:00+08:00");
    assert_eq!(r["children"][0]["node_id"], w.grid.id);
    assert_eq!(r["children"][0]["values"]["arrivals_new"], 1);

    // A zero report on a day with an arrival is refused, saying why; nothing is stored.
    let (s, e) = post_json(
        &staff_a,
        url(&w.a, "/submit"),
        json!({"manual": {}, "zero": true}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "zero");
    let msg = e["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("当日新增来返人员 1人"), "{msg}");
    // Bad manual values are named field by field.
    let (s, e) = post_json(
        &staff_a,
        url(&w.a, "/submit"),
        json!({"manual": {"disinfection_rounds": "abc", "notes": true}, "zero": false}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = error_fields(&e);
    assert_eq!(fields, vec!["manual.notes"]);
    let (s, e) = post_json(
        &staff_a,
        url(&w.a, "/submit"),
        json!({"manual": {"disinfection_rounds": "abc"}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["error"]["fields"][0]["field"],
        "manual.disinfection_rounds"
    );
    let (_, r) = get_json(&staff_a, url(&w.a, "")).await;
    assert_eq!(r["status"], "draft");

    // An ordinary report.
    let (s, r) = post_json(
        &staff_a,
        url(&w.a, "/submit"),
        json!({"manual": {"disinfection_rounds": 3, "notes": "入户排查"}, "zero": false}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "submitted");
    assert_eq!(r["values"]["disinfection_rounds"], 3);
    assert_eq!(r["values"]["notes"], "入户排查");
    assert_eq!(r["submitted_by"], "staff_a");
    assert!(r["submitted_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(r["timeliness"], "late");
    // B has nothing to report: a zero report.
    let (s, r) = post_json(&staff_b, url(&w.b, "/submit"), json!({"zero": true})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["zero"].as_bool().unwrap());
    assert_eq!(r["values"]["disinfection_rounds"], 0);

    // Completeness under the street: C is missing.
    let (s, c) = get_json(&official, url(&w.street, "/completeness")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["expected"], 3);
    assert_eq!(c["submitted"], 2);
    assert_eq!(c["on_time"], 0);
    assert_eq!(c["late"], 2);
    assert_eq!(c["missing"], json!([w.c.id]));
    assert_eq!(c["missing_nodes"][0]["name"], "长征社区");
    let (s, rem) = post_json(&official, url(&w.c, "/remind"), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{rem}");
    assert_eq!(rem["created_by"], "official");
    let (_, c) = get_json(&official, url(&w.street, "/completeness")).await;
    assert_eq!(c["missing_nodes"][0]["reminders"], 1);

    // Returned with a reason (退回): not by the community itself, not without a reason; while
    // returned it is not counted as reported; submitted again, the reason goes.
    let (s, e) = post_json(&official, url(&w.b, "/return"), json!({"reason": " "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "reason");
    let (s, _) = post_json(&staff_b, url(&w.b, "/return"), json!({"reason": "自己退"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = post_json(
        &official,
        url(&w.b, "/return"),
        json!({"reason": "零报告与预警记录不符，请核对"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (&r["status"], &r["return_reason"], &r["returned_by"]),
        (
            &json!("returned"),
            &json!("零报告与预警记录不符，请核对"),
            &json!("official")
        )
    );
    let (_, c) = get_json(&official, url(&w.street, "/completeness")).await;
    assert_eq!(c["submitted"], 1, "{c}");
    let (s, r) = post_json(&staff_b, url(&w.b, "/submit"), json!({"zero": true})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (&r["status"], &r["return_reason"]),
        (&json!("submitted"), &Value::Null)
    );

    // Approval: not by the community itself; by the street official; then locked.
    let (s, _) = post_json(&staff_a, url(&w.a, "/approve"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = post_json(&official, url(&w.a, "/approve"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "approved");
    assert_eq!(r["approved_by"], "official");
    assert!(r["approved_at"].is_string());
    let (s, e) = post_json(
        &staff_a,
        url(&w.a, "/submit"),
        json!({"manual": {"disinfection_rounds": 5}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "status");
    // The street's report sums its communities; it cannot be submitted while C is missing.
    let (_, r) = get_json(&official, url(&w.street, "")).await;
    assert_eq!(r["role"], "rollup");
    assert_eq!(r["values"]["arrivals_new"], 1);
    assert_eq!(r["values"]["disinfection_rounds"], 3);
    assert_eq!(r["children"].as_array().unwrap().len(), 3);
    let street_staff = api_login(&app, "street_staff").await;
    let (s, e) = post_json(&street_staff, url(&w.street, "/submit"), json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("长征社区（未报送）"));

    // The xlsx, in the offices' layout.
    let r = official
        .get(format!(
            "{}/api/v1/reports/epidemic-daily/{}/{DAY}.xlsx",
            app.base, w.street.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK"), "a zip");

    // Scope and roles: B's staff and A's grid worker do not see A; the worker submits nothing.
    let worker = api_login(&app, "worker").await;
    for c in [&staff_b, &worker] {
        assert_eq!(get_json(c, url(&w.a, "")).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            get_json(c, url(&w.street, "/completeness")).await.0,
            StatusCode::NOT_FOUND
        );
        let r = c
            .get(format!(
                "{}/api/v1/reports/epidemic-daily/{}/{DAY}.xlsx",
                app.base, w.a.id
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            post_json(c, url(&w.a, "/approve"), json!({})).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (s, _) = post_json(&worker, url(&w.grid, "/submit"), json!({"zero": true})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Bad dates and unknown templates.
    let (s, e) = get_json(
        &staff_a,
        format!(
            "{}/api/v1/reports/epidemic-daily/{}/2022-13-01",
            app.base, w.a.id
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "date");
    let (s, _) = get_json(
        &staff_a,
        format!("{}/api/v1/reports/no-such/{}/{DAY}", app.base, w.a.id),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Signed out: nothing.
    assert_eq!(
        get_json(&client(), url(&w.a, "")).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.t.finish().await;
}

async fn pages_flow(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let (staff, csrf) = sign_in(&app, "staff_a").await;
    let at = |n: &Node| format!("{}/reports?node_id={}&date={DAY}", app.base, n.id);
    let (s, html) = get(&staff, at(&w.a)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("疫情防控日报表") && html.contains("里布嘎社区"),
        "{html}"
    );
    assert!(
        html.contains("name=\"m.disinfection_rounds\""),
        "the submit form"
    );
    // The figures are the records': A's one arrival, no manual figure yet, not yet reported.
    assert_eq!(
        row_cells(&html, "当日新增来返人员"),
        ["当日新增来返人员", "1", "人"]
    );
    assert_eq!(row_cells(&html, "公共区域消杀")[1], "—");
    assert!(html.contains("<span class=\"badge st-draft\">"), "{html}");
    // A form without its CSRF token is refused; a zero report on a day with events comes back
    // refused with the reason and the typed values.
    let submit = format!("{}/reports/submit", app.base);
    let node = w.a.id.to_string();
    assert_eq!(
        post_any(
            &staff,
            &submit,
            &[("node_id", node.as_str()), ("date", DAY), ("zero", "1")]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // The day's report as submitted: zero or not, and one manual value.
    let report = |zero, manual: (&'static str, &'static str)| {
        [
            ("csrf", csrf.as_str()),
            ("node_id", node.as_str()),
            ("date", DAY),
            ("zero", zero),
            manual,
        ]
    };
    let zero_report = report("1", ("m.notes", "今日平安"));
    let (status, html) = post_any(&staff, &submit, &zero_report).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("不能报零报告：当日新增来返人员 1人"),
        "the refusal names the arrival: {html}"
    );
    assert!(html.contains("今日平安"), "the form is filled back");
    let figures = report("0", ("m.disinfection_rounds", "2"));
    assert_eq!(
        post_any(&staff, &submit, &figures).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, html) = get(&staff, at(&w.a)).await;
    assert!(
        html.contains("<span class=\"badge st-submitted\">已报送</span>"),
        "{html}"
    );
    assert_eq!(row_cells(&html, "公共区域消杀")[1..], ["2", "次"]);
    // Another community's report is not found; the print view, the chart and the styles load.
    assert_eq!(get(&staff, at(&w.b)).await.0, StatusCode::NOT_FOUND);
    let (s, html) = get(
        &staff,
        format!("{}/reports/print?node_id={}&date={DAY}", app.base, w.a.id),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The total row under the 合计 label holds A's figures: one arrival, two disinfections.
    let heads = row_cells(&html, "<th>序号</th>");
    let col = |label: &str| heads.iter().position(|h| h == label).unwrap();
    let total = row_cells(&html, "合计");
    assert_eq!(total[1], "合计");
    assert_eq!(total[col("当日新增来返人员")], "1", "{html}");
    assert_eq!(total[col("公共区域消杀")], "2", "{html}");
    assert_eq!(total[col("集中隔离人数")], "0", "{html}");
    assert_eq!(row_cells(&html, "甲网格")[col("当日新增来返人员")], "1");
    let (s, html) = get(
        &staff,
        format!(
            "{}/reports/trend?node_id={}&indicator=arrivals_new&from=2022-06-28&to={DAY}",
            app.base, w.a.id
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("<polyline"), "{html}");
    assert!(
        html.contains("2022-07-02：1人"),
        "the day's point says its value"
    );
    assert_eq!(
        get(&staff, format!("{}/static/reports.css", app.base))
            .await
            .0,
        StatusCode::OK
    );
    // The district is the top of the tree: its page sums the street and offers no 报送, and
    // its own status is not 未报送.
    let (district, _) = sign_in(&app, "district").await;
    let top = w.street.parent_id.unwrap();
    let (s, html) = get(
        &district,
        format!("{}/reports?node_id={top}&date={DAY}", app.base),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("<span class=\"badge st-top\">汇总（最高一级，无需报送）</span>"),
        "{html}"
    );
    assert!(!html.contains("action=\"/reports/submit\""), "{html}");
    assert_eq!(row_cells(&html, "当日新增来返人员")[1], "1");
    app.t.finish().await;
}

on_both!(the_pages_show_submit_and_chart, pages_flow);

on_both!(the_api_follows_the_contract, api_contract);

/// The source line's value of each of a column's indicators, summed (null when none is there).
fn column_value(sources: &[Value], values: &Value) -> Value {
    let parts: Vec<&Value> = sources
        .iter()
        .map(|k| &values[k.as_str().unwrap()])
        .filter(|v| !v.is_null())
        .collect();
    match parts.as_slice() {
        [] => Value::Null,
        [one] if sources.len() == 1 => (*one).clone(),
        many => json!(many.iter().map(|v| v.as_i64().unwrap()).sum::<i64>()),
    }
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn mapping_flow(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let (staff_a, staff_b, official) = (
        api_login(&app, "staff_a").await,
        api_login(&app, "staff_b").await,
        api_login(&app, "official").await,
    );
    let at = |key: &str, n: &Node, rest: &str| {
        format!("{}/api/v1/reports/{key}/{}/{DAY}{rest}", app.base, n.id)
    };
    let (s, _) = post_json(
        &staff_a,
        at("epidemic-daily", &w.a, "/submit"),
        json!({"manual": {"disinfection_rounds": 3, "notes": "入户排查"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post_json(
        &staff_b,
        at("epidemic-daily", &w.b, "/submit"),
        json!({"zero": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The layouts on offer.
    let (s, list) = get_json(&official, format!("{}/api/v1/reports/mappings", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["mappings"][0]["key"], "health-bureau-daily");
    assert_eq!(list["mappings"][0]["office"], "卫健局");

    for n in [&w.street, &w.a] {
        let (s, src) = get_json(&official, at("epidemic-daily", n, "")).await;
        assert_eq!(s, StatusCode::OK);
        let (s, m) = get_json(&official, at("health-bureau-daily", n, "")).await;
        assert_eq!(s, StatusCode::OK, "{m}");
        assert_eq!(m["mapping"], "health-bureau-daily");
        assert_eq!(m["source"], "epidemic-daily");
        assert_eq!(m["status"], src["status"]);
        let columns = m["columns"].as_array().unwrap();
        let sum = columns
            .iter()
            .find(|c| c["key"] == "isolation_total")
            .unwrap();
        assert_eq!(sum["sources"].as_array().unwrap().len(), 2);
        // The total row is the node's report; each child's row is that child's line.
        for c in columns {
            let key = c["key"].as_str().unwrap();
            let sources = c["sources"].as_array().unwrap();
            assert_eq!(
                m["values"][key],
                column_value(sources, &src["values"]),
                "{key}"
            );
            for child in src["children"].as_array().unwrap() {
                let row = m["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["node_id"] == child["node_id"])
                    .unwrap();
                assert_eq!(row["values"][key], column_value(sources, &child["values"]));
            }
        }
        // The combined column is the sum of its two indicators.
        assert_eq!(
            m["values"]["isolation_total"].as_i64().unwrap(),
            src["values"]["under_centralized_quarantine"]
                .as_i64()
                .unwrap()
                + src["values"]["under_home_quarantine"].as_i64().unwrap()
        );

        // The workbook holds the same numbers, in the bureau's column order.
        let r = fetch(&official, at("health-bureau-daily", n, ".xlsx")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let rows = linli_core::reports::mapping::read_form(&r.bytes().await.unwrap()).unwrap();
        assert!(rows[0][0].contains("疫情防控每日统计表"), "{:?}", rows[0]);
        let headers: Vec<&str> = columns
            .iter()
            .map(|c| c["header"].as_str().unwrap())
            .collect();
        assert_eq!(&rows[2][2..2 + headers.len()], headers.as_slice());
        let mut lines: Vec<(String, &Value)> = m["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_owned(), &r["values"]))
            .collect();
        lines.push(("合计".to_owned(), &m["values"]));
        for (name, values) in lines {
            let row = rows.iter().find(|r| r.get(1) == Some(&name)).unwrap();
            for (i, c) in columns.iter().enumerate() {
                let want = cell_text(&values[c["key"].as_str().unwrap()]);
                assert_eq!(
                    row.get(2 + i).cloned().unwrap_or_default(),
                    want,
                    "{name} {}",
                    c["header"]
                );
            }
        }
    }
    let (_, m) = get_json(&official, at("health-bureau-daily", &w.street, "")).await;
    assert_eq!(m["values"]["disinfection"], 3);
    assert_eq!(m["values"]["arrivals"], 1);

    // Scope as for the report; the page offers the export.
    assert_eq!(
        get_json(&staff_b, at("health-bureau-daily", &w.a, ""))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let r = fetch(&staff_b, at("health-bureau-daily", &w.a, ".xlsx")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (pc, _) = sign_in(&app, "staff_a").await;
    let (s, html) = get(
        &pc,
        format!("{}/reports?node_id={}&date={DAY}", app.base, w.a.id),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("按卫健局表样导出"), "{html}");
    assert!(html.contains(&format!(
        "/api/v1/reports/health-bureau-daily/{}/{DAY}.xlsx",
        w.a.id
    )));
    app.t.finish().await;
}

on_both!(the_health_bureau_form_needs_no_retyping, mapping_flow);

async fn template_editing(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    user(&app.t.db, "admin", "admin", &[]).await;
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let api = format!("{}/api/v1/reports/templates", app.base);
    let (admin, official) = (
        api_login(&app, "admin").await,
        api_login(&app, "official").await,
    );
    let (_, list) = get_json(&admin, api.clone()).await;
    let mut body = list["templates"][0].clone();
    body["deadline"] = json!("15:30");
    body["effective_from"] = json!(today);
    body["indicators"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "volunteers", "label": "在岗志愿者", "unit": "人", "kind": "manual", "value": "number"}));

    // Not an admin: refused.
    let (s, _) = post_json(&official, api.clone(), body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Every bad field named; nothing stored.
    let mut bad = body.clone();
    bad["deadline"] = json!("25:00");
    bad["effective_from"] = json!("2020-01-01");
    bad["indicators"][1]["aggregate"] = json!("masks");
    let (s, e) = post_json(&admin, api.clone(), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields = error_fields(&e);
    assert_eq!(
        fields,
        vec!["deadline", "indicators[1].kind", "effective_from"]
    );
    let (_, list) = get_json(&admin, api.clone()).await;
    assert_eq!(list["templates"][0]["version"], 1);
    // Published: version 2 from today; today's report has the new deadline and indicator.
    let (s, v2) = post_json(&admin, api.clone(), body).await;
    assert_eq!(s, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["deadline"], "15:30");
    let (_, r) = get_json(
        &official,
        format!(
            "{}/api/v1/reports/epidemic-daily/{}/{today}",
            app.base, w.a.id
        ),
    )
    .await;
    assert_eq!(r["template_version"], 2);
    assert!(r["due_at"].as_str().unwrap().contains("T15:30:00+08:00"));
    assert!(r["values"].get("volunteers").is_some());
    // A past day keeps version 1.
    let (_, r) = get_json(
        &official,
        format!(
            "{}/api/v1/reports/epidemic-daily/{}/{DAY}",
            app.base, w.a.id
        ),
    )
    .await;
    assert_eq!(r["template_version"], 1);

    // The pages: non-admins get 403, the admin edits the deadline with the form kept on faults.
    let edit = format!("{}/reports/templates/epidemic-daily/edit", app.base);
    let (staff, staff_csrf) = sign_in(&app, "street_staff").await;
    assert_eq!(get(&staff, edit.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        post_any(
            &staff,
            &edit,
            &[("csrf", staff_csrf.as_str()), ("deadline", "10:00")]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, html) = get(&staff, format!("{}/reports/templates", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("第 2 版") && !html.contains("/edit\""),
        "no edit link"
    );
    assert_eq!(
        row_cells(&html, "第 2 版")[..4],
        ["第 2 版", today.as_str(), "现行", "15:30"]
    );

    let (adm, csrf) = sign_in(&app, "admin").await;
    let (s, html) = get(&adm, edit.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("name=\"deadline\" value=\"15:30\""), "{html}");
    // The form as the page has it: 11 indicators of version 2 and one empty row.
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("name".into(), "疫情防控日报表".into()),
        ("deadline".into(), "17:6".into()),
        ("level".into(), "community".into()),
        ("effective_from".into(), "2021-01-01".into()),
        ("rows".into(), "12".into()),
        ("action".into(), "publish".into()),
    ];
    for (i, ind) in v2["indicators"].as_array().unwrap().iter().enumerate() {
        let kind = match ind["kind"].as_str().unwrap() {
            "computed" => ind["aggregate"].as_str().unwrap().to_owned(),
            _ => format!("manual:{}", ind["value"].as_str().unwrap()),
        };
        for (k, v) in [
            ("existing", "1".to_owned()),
            ("key", ind["key"].as_str().unwrap().to_owned()),
            ("label", ind["label"].as_str().unwrap().to_owned()),
            ("unit", ind["unit"].as_str().unwrap().to_owned()),
            ("kind", kind),
        ] {
            form.push((format!("r{i}.{k}"), v));
        }
    }
    // Remove the volunteers, add a text, blank a label.
    form.push(("r10.remove".into(), "1".into()));
    form.push(("r11.label".into(), "防控物资缺口".into()));
    form.push(("r11.kind".into(), "manual:text".into()));
    form.push(("r11.key".into(), "shortages".into()));
    let at = form.iter().position(|(k, _)| k == "r2.label").unwrap();
    form[at].1 = String::new();
    let r = adm.post(&edit).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("截止时间：「17:6」不是有效的截止时间"),
        "{html}"
    );
    assert!(html.contains("生效日期不能早于今天"), "{html}");
    assert!(html.contains("第 3 项指标的名称"), "{html}");
    assert!(html.contains("value=\"防控物资缺口\""), "the form is kept");
    assert!(html.contains("value=\"17:6\""), "the form is kept");
    // 增加一项 gives one more row.
    let mut add = form.clone();
    add.retain(|(k, _)| k != "action");
    add.push(("action".into(), "add".into()));
    let r = adm.post(&edit).form(&add).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("name=\"r12.label\""));
    // Fixed: published as version 3 from tomorrow.
    let tomorrow = linli_core::kernel::clock::format_date(
        linli_core::kernel::clock::today().next_day().unwrap(),
    );
    form[at].1 = "集中隔离人数".into();
    for (k, v) in form.iter_mut() {
        match k.as_str() {
            "deadline" => *v = "17:00".into(),
            "effective_from" => *v = tomorrow.clone(),
            _ => {}
        }
    }
    let r = adm.post(&edit).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&adm, format!("{}/reports/templates", app.base)).await;
    assert_eq!(
        row_cells(&html, "第 3 版")[..4],
        ["第 3 版", tomorrow.as_str(), "待生效", "17:00"],
        "{html}"
    );
    let (_, list) = get_json(&admin, api.clone()).await;
    let v3 = &list["templates"][0];
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["deadline"], "17:00");
    assert_eq!(v3["effective_from"], tomorrow);
    let keys: Vec<&str> = v3["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"shortages") && !keys.contains(&"volunteers"));
    // Both publications are in the audit log.
    let log = audited(&app.t.db, "report_template.").await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|a| a.actor == "admin"));
    app.t.finish().await;
}

on_both!(admins_edit_templates, template_editing);
