//! The accounts page as an admin reads it: its title is the page's name, and the key-group tag
//! form appears once, in the page (it once sat inside `<title>` as well, CSRF token and all).

use crate::support::*;

use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    town(&db).await;
    user(&db, "admin", "admin", &[]).await;
    let (admin, _) = sign_in(&app, "admin").await;
    let (status, html) = get(&admin, app.url("/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(between(&html, "<title>", "</title>"), "账号管理 · 邻里");
    assert_eq!(html.matches("action=\"/tags\"").count(), 1, "{html}");
    app.finish().await;
}

on_both!(users_page, flow);

/// The audit list: the search and the days change its rows; its export holds the filtered
/// entries and is itself audited; an official's covers their jurisdiction only.
async fn the_audit_list_filters_and_exports(t: TestDb) {
    use linli_store::infra::audit::{self, AuditEntry};
    let app = spawn(t).await;
    let db = app.db();
    let w = neighbours(&db).await;
    user(&db, "admin", "admin", &[]).await;
    // 2020-02-01T10:00+08:00 and a day later: two unmasks, in two communities.
    const T0: i64 = 1_580_522_400_000;
    for (actor, path, at) in [
        ("staff_a", &w.community_a.path, T0),
        ("staff_b", &w.community_b.path, T0 + 86_400_000),
    ] {
        let e = AuditEntry::by_name(None, actor, "person.unmask", "person").node_path(path);
        audit::record(db.pool(), e, at).await.unwrap();
    }
    let (admin, _) = sign_in(&app, "admin").await;
    let url = |p: &str| app.url(p);
    let (st, html) = get(&admin, url("/audit?from=2020-02-01&to=2020-02-01")).await;
    assert_eq!(st, StatusCode::OK);
    let text = text_of(&html);
    assert!(
        text.contains("共 1 条") && text.contains("staff_a"),
        "{text}"
    );
    assert!(!text.contains("staff_b"), "{text}");
    let (_, html) = get(&admin, url("/audit?q=staff_b")).await;
    let text = text_of(&html);
    assert!(
        text.contains("共 1 条") && text.contains("staff_b"),
        "{text}"
    );
    let (st, html) = get(&admin, url("/audit?to=2020-13-01")).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&html).contains("结束日期"), "{html}");

    let rows = xlsx_rows(
        &admin,
        url("/audit.xlsx?action=person.&from=2020-02-01"),
        "审计日志",
    )
    .await;
    assert!(rows[0][0].contains("共 2 条"), "{:?}", rows[0]);
    let got: Vec<(&str, &str)> = rows[2..]
        .iter()
        .map(|r| (r[2].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("staff_b", w.community_b.path.as_str()),
            ("staff_a", w.community_a.path.as_str())
        ]
    );
    let exports = audited(&db, "list.export").await;
    assert_eq!(exports.len(), 1, "reading the audit out is audited");
    assert_eq!(
        (exports[0].entity.as_str(), exports[0].actor.as_str()),
        ("audit", "admin")
    );
    assert_eq!(exports[0].detail["rows"], 2);

    // An official of the street sees both; staff may not read the audit at all.
    let (official, _) = sign_in(&app, "official").await;
    let rows = xlsx_rows(&official, url("/audit.xlsx?action=person."), "审计日志").await;
    assert_eq!(rows.len() - 2, 2);
    let (staff, _) = sign_in(&app, "staff_a").await;
    let (st, _) = get(&staff, url("/audit.xlsx")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    app.finish().await;
}

on_both!(audit_list, the_audit_list_filters_and_exports);
