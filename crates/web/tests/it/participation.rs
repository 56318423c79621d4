//! Notices and 居务公开 through the server (issue 20 item 5): the staff pages and their scope,
//! read receipts, attachments refused by their bytes, a published entry that cannot change,
//! corrections, the community's public page (nothing personal; a replaced code is 404) and the
//! API. Both databases.

use crate::support::*;
use linli_core::Scope;
use linli_store::participation::affairs;
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// POST a multipart form with one file (or none): status and redirect target or body.
async fn upload(
    c: &reqwest::Client,
    url: String,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, String) {
    let (ct, body) = multipart(
        fields,
        file.map(|(name, bytes)| ("attachment", name, "application/octet-stream", bytes)),
    );
    let r = c
        .post(url)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    target_or_body(r).await
}

fn id_after(location: &str, prefix: &str) -> i64 {
    location
        .strip_prefix(prefix)
        .unwrap()
        .split(['?', '/'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let n = neighbours(&db).await;
    let a = n.community_a.id.to_string();
    let url = |p: &str| app.url(p);
    let (staff, csrf) = sign_in(&app, "staff_a").await;
    let (worker, _) = sign_in(&app, "worker").await;
    let (other, other_csrf) = sign_in(&app, "staff_b").await;

    // ---- Notices
    let (status, html) = get(&staff, url(&format!("/notices/new?node_id={a}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("独居老人"), "the key groups are offered");
    let bad = [
        ("csrf", csrf.as_str()),
        ("node_id", a.as_str()),
        ("title", ""),
        ("body", "明天停水"),
        ("valid_from", "2026-02-30"),
    ];
    let (status, html) = post_form(&staff, url("/notices/new"), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("请填写标题") && html.contains("不是有效日期"),
        "{html}"
    );
    let notice = |title: &'static str, public: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("node_id", a.clone()),
            ("title", title.to_owned()),
            ("body", "第一段\r\n\r\n第二段".to_owned()),
            ("valid_from", "2020-01-01".to_owned()),
            ("public", public.to_owned()),
        ]
    };
    let (status, to) = post_any(&staff, url("/notices/new"), &notice("停水通知", "1")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let public_id = id_after(&to, "/notices/");
    let (_, to) = post_any(&staff, url("/notices/new"), &notice("内部排班表", "")).await;
    let staff_only_id = id_after(&to, "/notices/");

    // The grid worker is in the audience: opening leaves a receipt the author sees by name.
    let (status, html) = get(&worker, url(&format!("/notices/{public_id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("第二段") && !html.contains("id=\"receipts\""),
        "{html}"
    );
    let (_, html) = get(&staff, url(&format!("/notices/{public_id}"))).await;
    let receipts = between(&html, "id=\"receipts\"", "</section>");
    // The author is not counted; the worker is the audience's one staff member.
    assert!(
        text_of(receipts).contains("已读 1 人 · 未读 0 人"),
        "{receipts}"
    );
    assert!(receipts.contains("worker"), "{receipts}");
    // Another community sees nothing of them.
    let (status, _) = get(&other, url(&format!("/notices/{public_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = get(&other, url("/notices")).await;
    assert!(
        !html.contains("停水通知") && html.contains("符合条件 0 条"),
        "{html}"
    );
    let (status, _) = post_form(
        &other,
        url(&format!("/notices/{public_id}/withdraw")),
        &[("csrf", other_csrf.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The author's list: unread per node, filters, export.
    let (_, html) = get(&staff, url("/notices")).await;
    let unread = between(&html, "id=\"unread\"", "</section>");
    // The staff-only notice is still unread by the worker.
    assert!(text_of(unread).contains("1 甲网格"), "{unread}");
    let (_, html) = get(&worker, url(&format!("/notices/{staff_only_id}"))).await;
    assert!(html.contains("内部排班表"));
    let (_, html) = get(&staff, url("/notices")).await;
    assert!(html.contains("当前有效的通知都已读"), "{html}");
    let (_, html) = get(&staff, url("/notices?q=%E5%81%9C%E6%B0%B4")).await;
    assert!(
        html.contains("符合条件 1 条") && html.contains("停水通知"),
        "{html}"
    );
    let rows = xlsx_rows(&staff, url("/notices.xlsx?public=0"), "通知公告").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2][0], "内部排班表");
    assert_eq!(audited(&db, "list.export").await.len(), 1);

    // ---- 居务公开
    let (status, html) = get(&staff, url("/affairs/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("财务收支") && html.contains("multipart/form-data"));
    let entry = |title: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("node_id", a.as_str()),
            ("category", "finance"),
            ("title", title),
            ("body", "收入 12,000 元；支出 8,500 元。"),
            ("period_from", "2026-07-01"),
            ("period_until", "2026-09-30"),
        ]
    };
    // A GIF named .pdf is refused by its bytes, and no draft is left behind.
    let (status, html) = upload(
        &staff,
        url("/affairs/new"),
        &entry("三季度"),
        Some(("a.pdf", b"GIF89a...")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("附件只能是 PDF、PNG 或 JPEG"), "{html}");
    let count = affairs::list(&db, &Scope::operator(), &Default::default(), (10, 0))
        .await
        .unwrap();
    assert_eq!(count.total, 0);
    let (status, to) = upload(
        &staff,
        url("/affairs/new"),
        &entry("第三季度财务收支"),
        Some(("三季度账目.pdf", PDF)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let entry_id = id_after(&to, "/affairs/");
    let stored = affairs::get(&db, &Scope::operator(), entry_id)
        .await
        .unwrap();
    assert_eq!(stored.attachments[0].name, "三季度账目.pdf");
    let file_id = stored.attachments[0].id;
    let r = fetch(&staff, url(&format!("/affairs/{entry_id}/files/{file_id}"))).await;
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);
    for path in [
        format!("/affairs/{entry_id}"),
        format!("/affairs/{entry_id}/files/{file_id}"),
    ] {
        assert_eq!(
            get(&other, url(&path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            get(&worker, url(&path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = post_form(
        &other,
        url(&format!("/affairs/{entry_id}/publish")),
        &[("csrf", other_csrf.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, to) = post_form(
        &staff,
        url(&format!("/affairs/{entry_id}/publish")),
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (
            StatusCode::SEE_OTHER,
            format!("/affairs/{entry_id}?notice=published").as_str()
        )
    );
    // Published: no more files, no second publication; the page offers only a correction.
    let (status, html) = upload(
        &staff,
        url(&format!("/affairs/{entry_id}/attachments")),
        &[("csrf", csrf.as_str())],
        Some(("b.pdf", PDF)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("不能修改或删除"), "{html}");
    let (status, _) = post_form(
        &staff,
        url(&format!("/affairs/{entry_id}/publish")),
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        affairs::get(&db, &Scope::operator(), entry_id)
            .await
            .unwrap()
            .attachments
            .len(),
        1
    );
    let (_, html) = get(&staff, url(&format!("/affairs/{entry_id}"))).await;
    assert!(
        html.contains(&format!("/affairs/new?corrects={entry_id}")) && !html.contains("/publish\""),
        "{html}"
    );
    // A correction, then published: the old entry says so.
    let corrects = entry_id.to_string();
    let mut fix = entry("第三季度财务收支（更正）");
    fix.push(("corrects_id", corrects.as_str()));
    let (status, to) = upload(&staff, url("/affairs/new"), &fix, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let fix_id = id_after(&to, "/affairs/");
    post_form(
        &staff,
        url(&format!("/affairs/{fix_id}/publish")),
        &[("csrf", csrf.as_str())],
    )
    .await;
    let (_, html) = get(&staff, url(&format!("/affairs/{entry_id}"))).await;
    assert!(
        text_of(between(&html, "id=\"corrected\"", "</p>"))
            .contains("已更正，见 「第三季度财务收支（更正）」"),
        "{html}"
    );
    // A draft stays off the public page.
    upload(&staff, url("/affairs/new"), &entry("未公开的草稿"), None).await;
    let (_, html) = get(&staff, url("/affairs?status=draft")).await;
    assert!(
        html.contains("符合条件 1 条") && html.contains("未公开的草稿"),
        "{html}"
    );
    let (status, html) = get(&staff, url("/affairs?from=2026-13-01")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("期间开始"), "{html}");
    let rows = xlsx_rows(&staff, url("/affairs.xlsx?status=published"), "居务公开").await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[3][9], "第三季度财务收支（更正）");
    let (_, html) = get(&other, url("/affairs")).await;
    assert!(html.contains("符合条件 0 条"), "{html}");
    // Writing into another community: refused as missing, nothing stored.
    let (status, _) = upload(
        &other,
        url(&format!("/affairs/{fix_id}/attachments")),
        &[("csrf", other_csrf.as_str())],
        Some(("c.pdf", PDF)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut theirs = entry("入侵条目");
    theirs[0] = ("csrf", other_csrf.as_str());
    let (status, _) = upload(&other, url("/affairs/new"), &theirs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_any(
        &other,
        url("/notices/new"),
        &[
            ("csrf", other_csrf.as_str()),
            ("node_id", a.as_str()),
            ("title", "入侵通知"),
            ("body", "x"),
            ("valid_from", "2020-01-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        xlsx_rows(&other, url("/affairs.xlsx"), "居务公开")
            .await
            .len(),
        2,
        "title and header only"
    );
    assert_eq!(
        xlsx_rows(&other, url("/notices.xlsx"), "通知公告")
            .await
            .len(),
        2,
        "title and header only"
    );
    assert_eq!(
        get(&other, url(&format!("/notices.xlsx?node_id={a}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&worker, url(&format!("/affairs.xlsx?node_id={a}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        affairs::get(&db, &Scope::operator(), fix_id)
            .await
            .unwrap()
            .attachments
            .len(),
        0
    );

    // ---- The public page
    let code_url = format!("/affairs/page/{a}/code");
    assert_eq!(
        post_form(&other, url(&code_url), &[("csrf", other_csrf.as_str())])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, to) = post_form(&staff, url(&code_url), &[("csrf", csrf.as_str())]).await;
    assert_eq!(
        (status, to.as_str()),
        (
            StatusCode::SEE_OTHER,
            format!("/affairs/page?node_id={a}&notice=created").as_str()
        )
    );
    let code = affairs::page_code(&db, &Scope::operator(), n.community_a.id)
        .await
        .unwrap()
        .1
        .unwrap()
        .code;
    let (_, html) = get(&staff, url(&format!("/affairs/page?node_id={a}"))).await;
    assert!(
        html.contains(&format!("/c/{code}")) && html.contains("<svg"),
        "{html}"
    );
    let (_, poster) = get(&staff, url(&format!("/affairs/page/{a}/poster"))).await;
    assert!(
        poster.contains(&linli_core::kernel::token::grouped(&code)),
        "{poster}"
    );
    assert_eq!(
        get(&other, url(&format!("/affairs/page?node_id={a}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&other, url(&format!("/affairs/page/{a}/poster")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let anonymous = client();
    let (status, html) = get(&anonymous, url(&format!("/c/{}", code.to_lowercase()))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("里布嘎社区")
            && html.contains("停水通知")
            && html.contains("第三季度财务收支"),
        "{html}"
    );
    assert!(
        text_of(&html).contains("已更正，见 「第三季度财务收支（更正）」"),
        "{html}"
    );
    // Nothing staff-only, no draft, no names of people or accounts.
    for secret in ["内部排班表", "未公开的草稿", "staff_a", "worker"] {
        assert!(!html.contains(secret), "{secret} leaked: {html}");
    }
    let r = fetch(
        &anonymous,
        url(&format!("/c/{code}/files/{entry_id}/{file_id}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);
    let (_, html) = get(&anonymous, url(&format!("/c/{code}?category=decision"))).await;
    assert!(
        !html.contains("第三季度财务收支") && html.contains("共 0 条"),
        "{html}"
    );
    let (_, html) = get(&anonymous, url(&format!("/c/{code}?entry={fix_id}"))).await;
    assert!(html.contains("本条更正"), "{html}");
    let draft_id = affairs::list(&db, &Scope::operator(), &Default::default(), (1, 0))
        .await
        .unwrap()
        .items[0]
        .id;
    assert_eq!(
        get(&anonymous, url(&format!("/c/{code}?entry={draft_id}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Replacing the code: the old one is 404 at once.
    post_form(&staff, url(&code_url), &[("csrf", csrf.as_str())]).await;
    let new_code = affairs::page_code(&db, &Scope::operator(), n.community_a.id)
        .await
        .unwrap()
        .1
        .unwrap()
        .code;
    assert_ne!(new_code, code);
    assert_eq!(
        get(&anonymous, url(&format!("/c/{code}"))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(
            &anonymous,
            url(&format!("/c/{code}/files/{entry_id}/{file_id}"))
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&anonymous, url(&format!("/c/{new_code}"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&anonymous, url("/c/NOTACODE99")).await.0,
        StatusCode::NOT_FOUND
    );
    let actions: Vec<String> = audited(&db, "community_page")
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    // Newest first.
    assert_eq!(actions, ["community_page.rotate", "community_page.create"]);

    // ---- API
    let api_staff = api_as(&app, "staff_a").await;
    let api_worker = api_as(&app, "worker").await;
    let api_other = api_as(&app, "staff_b").await;
    let body = json!({"node_id": n.community_a.id, "title": "API 通知", "body": "正文",
        "valid_from": "2020-01-01", "public": true, "tag": "独居老人"});
    let (status, out) = api_staff.post("/api/v1/notices", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(
        (out["tag"].as_str(), out["state"].as_str()),
        (Some("独居老人"), Some("current"))
    );
    assert_eq!(
        api_worker.post("/api/v1/notices", body.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, out) = api_staff
        .post(
            "/api/v1/notices",
            json!({"node_id": n.community_a.id, "title": "", "body": "x", "valid_from": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&out), ["title", "valid_from"]);
    let (_, out) = api_staff.get("/api/v1/notices").await;
    assert_eq!(out["total"], 3, "{out}");
    let (_, out) = api_other.get("/api/v1/notices").await;
    assert_eq!(out["total"], 0, "{out}");
    let (status, out) = api_staff.post("/api/v1/affairs", json!({"node_id": n.community_a.id, "category": "重大事项决定",
        "title": "加装电梯表决结果", "body": "同意 86 户。", "period_from": "2026-11-20", "publish": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(
        (
            out["status"].as_str(),
            out["category"].as_str(),
            out["period_until"].as_str()
        ),
        (Some("published"), Some("decision"), Some("2026-11-20"))
    );
    let (status, out) = api_staff
        .post(&format!("/api/v1/affairs/{}/publish", out["id"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert_eq!(error_fields(&out), ["status"]);
    let (_, out) = api_staff
        .get(&format!("/api/v1/affairs?node_id={a}&status=published"))
        .await;
    assert_eq!(out["total"], 3, "{out}");
    assert_eq!(
        api_other
            .get(&format!("/api/v1/affairs?node_id={a}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api_worker
            .post(
                "/api/v1/affairs",
                json!({"node_id": n.community_a.id, "category": "finance",
        "title": "t", "body": "b", "period_from": "2026-11-20"})
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, out) = api_staff.get("/api/v1/affairs?category=other").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&out), ["category"]);

    app.finish().await;
}

on_both!(notices_affairs_and_the_public_page, flow);
