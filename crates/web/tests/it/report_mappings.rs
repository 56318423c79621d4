//! Other offices' layouts (collect once, fill many) in the browser, against the real server on
//! SQLite and on PostgreSQL: admins publish a layout and a later version through the form (a
//! bad column comes back named, nothing stored), others get 403; the report prints in the
//! office's layout with a total row that is the sum of its rows, within the viewer's scope only.

use crate::support::*;

use linli_core::kernel::clock::{format_date, today};
use linli_store::reports::mappings;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::json;

struct World {
    street: Node,
    a: Node,
    b: Node,
    grid_b: Node,
}

/// A street with two communities, each with a grid; an admin, an official on the street,
/// staff on A, on B and on the street, a grid worker in A's grid.
async fn world(db: &Db) -> World {
    let n = neighbours(db).await;
    let grid_b = node(db, Some(n.community_b.id), "grid", "乙网格", None).await;
    user(db, "admin", "admin", &[]).await;
    user(db, "street_staff", "staff", &[n.street.id]).await;
    World {
        street: n.street,
        a: n.community_a,
        b: n.community_b,
        grid_b,
    }
}

fn owned(form: &[(&str, &str)]) -> Vec<(String, String)> {
    form.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn set(form: &mut Vec<(String, String)>, key: &str, value: &str) {
    form.retain(|(k, _)| k != key);
    form.push((key.to_owned(), value.to_owned()));
}

async fn publish_count(db: &Db) -> usize {
    audited(db, "report_mapping.").await.len()
}

async fn editing(t: TestDb) {
    let app = spawn(t).await;
    world(&app.t.db).await;
    let day = format_date(today());
    let tomorrow = format_date(today().next_day().unwrap());
    let new = app.url("/reports/mappings/new");
    let edit = app.url("/reports/mappings/street-weekly/edit");

    // Staff: 403 on the forms, with or without a valid token; no edit links on the list.
    let (staff, staff_csrf) = sign_in(&app, "street_staff").await;
    assert_eq!(get(&staff, new.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        get(
            &staff,
            app.url("/reports/mappings/health-bureau-daily/edit")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = post(
        &staff,
        new.clone(),
        &[("csrf", staff_csrf.as_str()), ("key", "x"), ("cols", "0")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, html) = get(&staff, app.url("/reports/templates")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("卫健局") && !html.contains("/reports/mappings/"));

    // The admin's new form starts from the source template's indicators.
    let (admin, csrf) = sign_in(&app, "admin").await;
    let (s, html) = get(&admin, new.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("name=\"c0.header\""), "{html}");
    assert!(html.contains("name=\"c0.s1\""), "one more indicator to add");
    // Without the token: refused.
    let (s, _) = post(&admin, new.clone(), &[("key", "street-weekly")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A column with an unknown indicator: refused, named, the form kept, nothing stored.
    let mut form = owned(&[
        ("csrf", &csrf),
        ("source", "epidemic-daily"),
        ("key", "street-weekly"),
        ("name", "街道疫情统计表"),
        ("office", "街道办"),
        ("unit_header", "社区"),
        ("effective_from", &day),
        ("cols", "4"),
        ("c0.header", "返回人员"),
        ("c0.unit", "人"),
        ("c0.s0", "arrivals_new"),
        ("c1.header", "隔离合计"),
        ("c1.unit", "人"),
        ("c1.s0", "under_centralized_quarantine"),
        ("c1.s1", "under_home_quarantine"),
        ("c2.header", "口罩"),
        ("c2.unit", "个"),
        ("c2.s0", "masks"),
        ("action", "publish"),
    ]);
    let (s, html) = post_any(&admin, new.clone(), &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("第 3 列（口罩）的取数指标"), "{html}");
    assert!(html.contains("没有「masks」这项指标"), "{html}");
    assert!(html.contains("<option value=\"masks\" selected>"), "kept");
    assert!(html.contains("value=\"返回人员\"") && html.contains("value=\"街道疫情统计表\""));
    assert!(!mappings::is_mapping(&app.t.db, "street-weekly")
        .await
        .unwrap());
    assert_eq!(publish_count(&app.t.db).await, 0);

    // 增加一列 gives one more column, nothing published.
    let mut add = form.clone();
    set(&mut add, "action", "add");
    let (s, html) = post_any(&admin, new.clone(), &add).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("name=\"c4.header\""), "{html}");

    // Fixed: published as version 1 from today.
    set(&mut form, "c2.s0", "disinfection_rounds");
    set(&mut form, "c2.header", "消杀");
    set(&mut form, "c2.unit", "次");
    let (s, to) = post_any(&admin, new.clone(), &form).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(
        to,
        format!("/reports/templates?published=1:{day}#m-street-weekly")
    );
    let v1 = mappings::mapping_on(&app.t.db, "street-weekly", today())
        .await
        .unwrap();
    assert_eq!(v1.mapping.version, 1);
    assert_eq!(v1.mapping.office, "街道办");
    let keys: Vec<&str> = v1.mapping.columns.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "arrivals_new",
            "under_centralized_quarantine",
            "disinfection_rounds"
        ]
    );
    assert_eq!(v1.mapping.columns[1].sources.len(), 2, "a sum");
    // The same key again on the new form: refused (it would publish over the layout).
    let (s, html) = post_any(&admin, new.clone(), &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("表样代码「street-weekly」已被使用"), "{html}");

    // A new version from tomorrow: a column added and moved first, one removed.
    let (s, html) = get(&admin, edit.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("value=\"街道疫情统计表\""));
    assert!(html.contains("name=\"c2.key\" value=\"disinfection_rounds\""));
    assert!(html.contains(&format!("value=\"{tomorrow}\"")), "{html}");
    let mut form = owned(&[
        ("csrf", &csrf),
        ("name", "街道疫情统计表"),
        ("office", "街道办"),
        ("unit_header", "社区（村）"),
        ("effective_from", &tomorrow),
        ("cols", "4"),
        ("action", "publish"),
    ]);
    for (i, c) in v1.mapping.columns.iter().enumerate() {
        form.push((format!("c{i}.existing"), "1".into()));
        form.push((format!("c{i}.key"), c.key.clone()));
        form.push((format!("c{i}.header"), c.header.clone()));
        form.push((format!("c{i}.unit"), c.unit.clone()));
        form.push((format!("c{i}.pos"), (i + 1).to_string()));
        for (j, s) in c.sources.iter().enumerate() {
            form.push((format!("c{i}.s{j}"), s.clone()));
        }
    }
    form.push(("c0.remove".into(), "1".into()));
    form.push(("c3.header".into(), "备注".into()));
    form.push(("c3.s0".into(), "notes".into()));
    form.push(("c3.pos".into(), "1".into()));
    // A date in the past first: refused, named.
    let mut past = form.clone();
    set(&mut past, "effective_from", "2020-01-01");
    let (s, html) = post_any(&admin, edit.clone(), &past).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("生效日期：生效日期不能早于今天"), "{html}");
    let (s, to) = post_any(&admin, edit.clone(), &form).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(
        to,
        format!("/reports/templates?published=2:{tomorrow}#m-street-weekly")
    );
    // Today keeps version 1; tomorrow has version 2 in its new order.
    let now = mappings::mapping_on(&app.t.db, "street-weekly", today())
        .await
        .unwrap();
    assert_eq!(now.mapping.version, 1);
    let v2 = mappings::mapping_on(&app.t.db, "street-weekly", today().next_day().unwrap())
        .await
        .unwrap();
    assert_eq!(v2.mapping.version, 2);
    let headers: Vec<&str> = v2
        .mapping
        .columns
        .iter()
        .map(|c| c.header.as_str())
        .collect();
    assert_eq!(headers, vec!["备注", "隔离合计", "消杀"]);
    assert_eq!(v2.mapping.unit_header, "社区（村）");
    let (_, html) = get(&admin, app.url("/reports/templates")).await;
    assert!(html.contains("id=\"m-street-weekly\""));
    // The layout's own versions: 1 in force, 2 pending from tomorrow (the template's version
    // table above has the same state words).
    let section = enclosing(&html, "section", "id=\"m-street-weekly\"");
    let v1 = row_cells(section, "第 1 版");
    assert_eq!((v1[0].as_str(), v1[2].as_str()), ("第 1 版", "现行"));
    assert_eq!(
        row_cells(section, "第 2 版")[..4],
        ["第 2 版", tomorrow.as_str(), "待生效", "3"]
    );
    assert!(html.contains("/reports/mappings/street-weekly/edit"));
    // Both publications audited, by the admin.
    assert_eq!(publish_count(&app.t.db).await, 2);
    app.finish().await;
}

on_both!(admins_publish_mappings_through_the_form, editing);

/// The cells (`<td>` texts) of each `<tr>` between `from` and `to`.
fn rows_between(html: &str, from: &str, to: &str) -> Vec<Vec<String>> {
    let start = html.find(from).unwrap() + from.len();
    let end = start + html[start..].find(to).unwrap();
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| {
                    let inner = &td[td.find('>').unwrap() + 1..];
                    inner[..inner.find("</td>").unwrap()].to_owned()
                })
                .collect()
        })
        .collect()
}

async fn printing(t: TestDb) {
    let app = spawn(t).await;
    let w = world(&app.t.db).await;
    let day = format_date(today());
    let submit = |n: &Node| {
        app.url(&format!(
            "/api/v1/reports/epidemic-daily/{}/{day}/submit",
            n.id
        ))
    };
    let (staff_a, staff_b) = (
        api_login(&app, "staff_a").await,
        api_login(&app, "staff_b").await,
    );
    let (s, r) = post_json(
        &staff_a,
        submit(&w.a),
        json!({"manual": {"disinfection_rounds": 3, "notes": "入户排查"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = post_json(
        &staff_b,
        submit(&w.b),
        json!({"manual": {"disinfection_rounds": 2}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // The report page offers both the workbook and the print view in the bureau's layout.
    let (official, _) = sign_in(&app, "official").await;
    let (s, html) = get(
        &official,
        app.url(&format!("/reports?node_id={}&date={day}", w.street.id)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let print = format!(
        "/reports/print/mapped?mapping=health-bureau-daily&#38;node_id={}&#38;date={day}",
        w.street.id
    );
    assert!(html.contains("按卫健局表样导出") && html.contains("按卫健局表样打印"));
    assert!(html.contains(&print), "{html}");

    let (s, html) = get(&official, app.url(&print.replace("&#38;", "&"))).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("建塘镇疫情防控每日统计表"), "its title");
    assert!(html.contains("社区（村）") && html.contains(&day));
    assert!(
        html.contains(&format!("填报单位：建塘镇　日期：{day}")),
        "{html}"
    );
    assert!(html.contains("打印：official"), "printed by");
    assert!(html.contains("@media print") || html.contains("/static/reports.css"));
    // The bureau's headings, in its order.
    let preset = linli_core::reports::mapping::Mapping::health_bureau_daily();
    let mut at = 0;
    for c in &preset.columns {
        let found = html[at..]
            .find(&format!(">{}</th>", c.header))
            .unwrap_or_else(|| panic!("{} in order", c.header));
        at += found;
    }
    // One row per community, the total their sum, column by column.
    let rows = rows_between(&html, "<tbody>", "</tbody>");
    let total = &rows_between(&html, "<tfoot>", "</tfoot>")[0];
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, vec!["里布嘎社区", "北门社区"], "{html}");
    assert_eq!(total[1], "合计");
    for (i, c) in preset.columns.iter().enumerate() {
        if c.key == "remarks" {
            continue;
        }
        let sum: i64 = rows
            .iter()
            .map(|r| r[2 + i].parse::<i64>().unwrap_or(0))
            .sum();
        assert_eq!(
            total[2 + i].parse::<i64>().unwrap_or(0),
            sum,
            "{}",
            c.header
        );
    }
    let disinfection = 2 + preset
        .columns
        .iter()
        .position(|c| c.key == "disinfection")
        .unwrap();
    assert_eq!(total[disinfection], "5");
    assert_eq!(rows[0][disinfection], "3");
    assert!(
        rows[0].iter().any(|c| c == "入户排查"),
        "the text column is copied into 里布嘎社区's row: {html}"
    );

    // Scope as for the report: a grid worker can't print another grid's or community's, nor
    // can staff print their street's; an unknown layout is 404 too.
    let (worker, _) = sign_in(&app, "worker").await;
    let (staff, _) = sign_in(&app, "staff_a").await;
    let url = |n: &Node, key: &str| {
        app.url(&format!(
            "/reports/print/mapped?mapping={key}&node_id={}&date={day}",
            n.id
        ))
    };
    for n in [&w.grid_b, &w.b, &w.street] {
        let (s, html) = get(&worker, url(n, "health-bureau-daily")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{}", n.name);
        assert!(!html.contains("入户排查"));
    }
    assert_eq!(
        get(&staff, url(&w.street, "health-bureau-daily")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&staff, url(&w.b, "health-bureau-daily")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&staff, url(&w.a, "health-bureau-daily")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&official, url(&w.a, "no-such-form")).await.0,
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

on_both!(the_report_prints_in_the_bureau_layout, printing);
