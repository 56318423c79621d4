//! The persons list and its key groups (issue 19 item 5) against the real server on SQLite and
//! PostgreSQL: `GET /api/v1/persons` with filters, cursor paging, 422s naming the field, scope;
//! the `/persons` page with its count and rows; the spreadsheet masked by default, clear only
//! for a role that may unmask, every export audited.

use crate::support::*;
use linli_core::kernel::clock::{format_date, today};
use linli_core::registry::age::birthday_years_before;
use linli_core::registry::PersonInput;
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::Value;

fn names(body: &Value) -> Vec<&str> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

async fn world(db: &linli_store::Db) -> Neighbours {
    let n = neighbours(db).await;
    let alone = vec!["独居老人".to_owned()];
    // 60 today, and 60 tomorrow (59 today).
    let sixty = format_date(birthday_years_before(today(), 60));
    let almost = birthday_years_before(today(), 60).next_day().unwrap();
    let almost = format_date(almost);
    for (at, name, category, born, address, tags) in [
        (
            n.grid.id,
            "张一",
            "registered",
            "1950-01-01",
            Some("1栋1单元101室"),
            &alone,
        ),
        (
            n.grid.id,
            "王五",
            "floating",
            sixty.as_str(),
            Some("2栋1单元201室"),
            &alone,
        ),
        (
            n.grid.id,
            "赵六",
            "registered",
            almost.as_str(),
            Some("2栋1单元202室"),
            &alone,
        ),
        (
            n.community_a.id,
            "李三",
            "floating",
            "1990-01-01",
            None,
            &Vec::new(),
        ),
        (
            n.community_b.id,
            "钱七",
            "registered",
            "1945-05-05",
            None,
            &alone,
        ),
    ] {
        person(
            db,
            at,
            PersonInput {
                name,
                category: Some(category),
                birth_date: Some(born),
                address,
                phone: Some("13612348609"),
                tags,
                ..Default::default()
            },
        )
        .await;
    }
    n
}

async fn list_api(t: TestDb) {
    let app = spawn(t).await;
    let n = world(&app.t.db).await;
    let staff = api_as(&app, "staff_a").await;
    let alone = "%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA";
    let (s, b) = staff
        .get(&format!(
            "/api/v1/persons?node_id={}&tag={alone}&min_age=60",
            n.community_a.id
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(names(&b), ["王五", "张一"]);
    assert_eq!(b["total"], 2);
    assert_eq!(b["next"], Value::Null);
    assert_eq!(b["items"][0]["age"], 60);
    assert_eq!(b["items"][0]["phone_masked"], "136****8609");
    assert_eq!(b["items"][0]["tags"][0], "独居老人");
    assert_eq!(b["items"][0]["category"], "floating");
    // Combined with residence and building; at most 59 is the one turning 60 tomorrow.
    let (_, b) = staff
        .get(&format!(
            "/api/v1/persons?tag={alone}&residence=floating&building=2"
        ))
        .await;
    assert_eq!(names(&b), ["王五"]);
    let (_, b) = staff
        .get(&format!("/api/v1/persons?tag={alone}&max_age=59"))
        .await;
    assert_eq!(names(&b), ["赵六"]);

    // Cursor paging: every person of the community once, one a page.
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/persons?node_id={}&limit=1", n.community_a.id);
    loop {
        let (s, b) = staff.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["total"], 4);
        seen.extend(names(&b).into_iter().map(str::to_owned));
        match b["next"].as_i64() {
            Some(next) => {
                path = format!(
                    "/api/v1/persons?node_id={}&limit=1&after={next}",
                    n.community_a.id
                )
            }
            None => break,
        }
    }
    assert_eq!(seen, ["李三", "王五", "张一", "赵六"]);
    // q reads a key group's name as the search did.
    let (_, b) = staff.get(&format!("/api/v1/persons?q={alone}")).await;
    assert_eq!(
        (b["kind"].as_str(), b["total"].as_i64()),
        (Some("name"), Some(3))
    );

    // Bad parameters: 422 naming each field.
    for (query, fields) in [
        ("min_age=70&max_age=60", vec!["min_age"]),
        ("min_age=abc", vec!["min_age"]),
        ("residence=martian", vec!["residence"]),
        ("tag=%E5%A4%96%E6%98%9F%E4%BA%BA", vec!["tag"]),
        ("after=xyz&node_id=abc", vec!["after", "node_id"]),
        ("state=gone", vec!["state"]),
    ] {
        let (s, e) = staff.get(&format!("/api/v1/persons?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
        assert_eq!(error_fields(&e), fields, "{query}");
    }

    // Scope: another community is not found; the grid worker gets the grid only.
    let (s, _) = staff
        .get(&format!("/api/v1/persons?node_id={}", n.community_b.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let worker = api_as(&app, "worker").await;
    let (_, b) = worker.get(&format!("/api/v1/persons?tag={alone}")).await;
    assert_eq!(names(&b), ["王五", "张一", "赵六"]);
    let (s, _) = worker
        .get(&format!("/api/v1/persons?node_id={}", n.community_a.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.t.finish().await;
}

on_both!(the_persons_list_over_the_api, list_api);

async fn list_page(t: TestDb) {
    let app = spawn(t).await;
    let n = world(&app.t.db).await;
    let (staff, csrf) = sign_in(&app, "staff_a").await;
    let query = format!(
        "node_id={}&tag=%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA&min_age=60",
        n.community_a.id
    );
    let (s, html) = get(&staff, app.url(&format!("/persons?{query}"))).await;
    assert_eq!(s, StatusCode::OK);
    let text = text_of(&html);
    assert!(text.contains("重点人群 · 独居老人"), "{text}");
    assert!(text.contains("共 2 人"), "{text}");
    let roll = between(&html, "<tbody>", "</tbody>");
    assert!(roll.contains("王五") && roll.contains("张一"), "{roll}");
    assert!(!roll.contains("赵六") && !roll.contains("李三"), "{roll}");
    assert!(roll.contains("136****8609") && !roll.contains("13612348609"));
    assert!(
        row_cells(roll, "王五").contains(&"60 岁".to_owned()),
        "{roll}"
    );
    // The node page's key-group figure leads here.
    let (_, node) = get(&staff, app.url(&format!("/nodes/{}", n.community_a.id))).await;
    assert!(
        node.contains(&format!(
            "/persons?node_id={}&#38;tag=%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA",
            n.community_a.id
        )),
        "{node}"
    );
    // A bad filter is said on the page, with nothing listed.
    let (s, html) = get(&staff, app.url("/persons?min_age=70&max_age=60")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&html).contains("起始年龄 70 大于截止年龄 60"),
        "{html}"
    );

    // The spreadsheet: masked by GET, audited with the filters.
    let rows = xlsx_rows(
        &staff,
        app.url(&format!("/persons.xlsx?{query}")),
        "重点人群",
    )
    .await;
    let body: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[0].parse::<i64>().is_ok())
        .collect();
    assert_eq!(body.len(), 2, "{rows:?}");
    assert_eq!(body[0][1], "王五");
    assert_eq!(body[0][6], "136****8609");
    // Clear numbers by the deliberate POST, for staff.
    let mut pairs: Vec<(&str, String)> = vec![("csrf", csrf.clone())];
    pairs.push(("node_id", n.community_a.id.to_string()));
    pairs.push(("tag", "独居老人".into()));
    pairs.push(("min_age", "60".into()));
    let r = staff
        .post(app.url("/persons.xlsx"))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range("重点人群").unwrap();
    let clear: Vec<String> = range.rows().map(|r| r[6].to_string()).collect();
    assert!(clear.contains(&"13612348609".to_owned()), "{clear:?}");
    let entries = audited(&app.t.db, "list.export").await;
    let details: Vec<String> = entries.iter().map(|e| format!("{:?}", e)).collect();
    assert_eq!(entries.len(), 2, "{details:?}");
    assert!(
        details.iter().any(|d| d.contains("unmask=1")),
        "{details:?}"
    );

    // A grid worker sees the grid's list, and may not take clear numbers.
    let (worker, wcsrf) = sign_in(&app, "worker").await;
    let (_, html) = get(
        &worker,
        app.url("/persons?tag=%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA"),
    )
    .await;
    assert!(text_of(&html).contains("共 3 人"));
    assert!(!html.contains("导出完整号码"));
    let r = worker
        .post(app.url("/persons.xlsx"))
        .form(&[("csrf", wcsrf.as_str()), ("tag", "独居老人")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.t.finish().await;
}

on_both!(the_key_group_page_and_its_export, list_page);
