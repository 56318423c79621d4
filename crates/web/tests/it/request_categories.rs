//! The request categories and departments pages over HTTP, on SQLite and on PostgreSQL: an
//! admin's edit makes a new version that only later requests follow, a refused value comes
//! back on the form naming its field with nothing stored, non-admins get 403, a retired
//! category leaves the resident's form, and an official's department reaches the dispatch form.

use crate::support::*;

use linli_core::kernel::clock::now_ms;
use linli_core::requests::{Channel, RequestDraft};
use linli_core::Scope;
use linli_store::requests;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;

const DAY_MS: i64 = 24 * 3600 * 1000;

struct World {
    community: Node,
}

async fn world(db: &Db) -> World {
    let Town {
        street, community, ..
    } = town(db).await;
    user(db, "admin", "admin", &[]).await;
    user(db, "official", "official", &[street.id]).await;
    user(db, "staff", "staff", &[community.id]).await;
    let grid = node(db, Some(community.id), "grid", "甲网格", None).await;
    user(db, "worker", "grid_worker", &[grid.id]).await;
    World { community }
}

async fn new_request(db: &Db, node_id: i64, category: &str) -> requests::Request {
    let draft = RequestDraft {
        description: "楼道灯坏了".into(),
        address: None,
        lat: None,
        long: None,
        reporter_name: None,
        reporter_phone: None,
    };
    requests::create(
        db,
        &Scope::operator(),
        node_id,
        category,
        Channel::Hotline,
        &draft,
        now_ms(),
    )
    .await
    .unwrap()
}

/// Posts the categories form (see [`form`]): the status, and where it redirects or the page.
async fn save_category(
    c: &reqwest::Client,
    app: &App,
    csrf: Option<&str>,
    pairs: &str,
) -> (StatusCode, String) {
    post_any(c, app.url("/requests/categories"), &form(csrf, pairs)).await
}

async fn versions(db: &Db, code: &str) -> Vec<requests::Category> {
    requests::category_versions(db, code).await.unwrap()
}

// ---------------------------------------------------------------------------------------------

async fn edit_makes_a_new_version(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let w = world(&db).await;
    let before = new_request(&db, w.community.id, "general").await;
    assert_eq!(before.resolve_by - before.received_at, 7 * DAY_MS);

    let (c, _) = sign_in(&app, "admin").await;
    let (s, list) = get(&c, app.url("/requests/categories")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(list.contains("一般诉求") && list.contains("7 天"), "{list}");
    assert!(list.contains("已收到的诉求仍按受理时的时限计算"));
    let (s, page) = get(&c, app.url("/requests/categories/general")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("name=\"version\" value=\"1\""), "{page}");
    let csrf = csrf_in(&page);

    let pairs = concat!(
        "code=general&version=1&name=一般诉求",
        "&description=环境卫生、噪声、物业、邻里等一般事项&respond_hours=12",
        "&resolve_days=5&escalation=on_late_resolution",
    );
    let (s, to) = save_category(&c, &app, Some(&csrf), pairs).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    assert!(to.starts_with("/requests/categories?notice=saved"), "{to}");
    let v = versions(&db, "general").await;
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].version, 2);
    assert_eq!((v[0].rule.respond_hours, v[0].rule.resolve_days), (12, 5));
    assert_eq!(v[0].created_by, "admin");

    // The list shows the new version; the category's page keeps the history newest first.
    let (_, list) = get(&c, app.url(&to)).await;
    assert!(list.contains("已保存类别「general」的新版本"), "{list}");
    assert!(list.contains("5 天") && list.contains("第 2 版"), "{list}");
    let (_, page) = get(&c, app.url("/requests/categories/general")).await;
    let v2 = page.find("第 2 版").unwrap();
    let v1 = page.rfind("第 1 版").unwrap();
    assert!(v2 < v1, "newest first");

    // Requests received before keep their deadline; those after follow the new one.
    let after = new_request(&db, w.community.id, "general").await;
    assert_eq!(after.resolve_by - after.received_at, 5 * DAY_MS);
    assert_eq!(after.respond_by - after.received_at, 12 * 3600 * 1000);
    let again = requests::get(&db, &Scope::operator(), before.id)
        .await
        .unwrap();
    assert_eq!(again.resolve_by - again.received_at, 7 * DAY_MS);

    // A second save from the same (now stale) form is refused, naming why.
    let (s, body) = save_category(
        &c,
        &app,
        Some(&csrf),
        "code=general&version=1&name=一般诉求&respond_hours=24&resolve_days=9&escalation=never",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("改为第 2 版"), "{body}");
    assert_eq!(versions(&db, "general").await.len(), 2);

    // A new category from the add form; reusing a code in force is refused.
    let new = [
        ("csrf", csrf.as_str()),
        ("code", "noise"),
        ("name", "噪声扰民"),
        ("description", "施工、商铺、邻里噪声"),
        ("respond_hours", "6"),
        ("resolve_days", "3"),
        ("escalation", "on_late_response"),
    ];
    let (s, _) = post_form(&c, app.url("/requests/categories"), &new).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cat = requests::category(&db, "noise", "category").await.unwrap();
    assert_eq!((cat.version, cat.rule.respond_hours), (1, 6));
    let (s, body) = post(&c, app.url("/requests/categories"), &new).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("已有代码为「noise」的类别"), "{body}");
    assert_eq!(versions(&db, "noise").await.len(), 1);
    app.finish().await;
}

on_both!(edit_makes_a_new_version, edit_makes_a_new_version);

// ---------------------------------------------------------------------------------------------

async fn bad_values_come_back_on_the_form(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    world(&db).await;
    let (c, csrf) = sign_in(&app, "admin").await;

    // Zero hours on the edit form: the category's page again, the field named, input kept.
    let pairs = concat!(
        "code=general&version=1&name=一般诉求（改）&respond_hours=0",
        "&resolve_days=7&escalation=never",
    );
    let (s, body) = save_category(&c, &app, Some(&csrf), pairs).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("响应时限：响应时限应为 1 到 720 小时"),
        "{body}"
    );
    assert!(
        body.contains("value=\"一般诉求（改）\""),
        "input kept: {body}"
    );
    assert!(
        body.contains("name=\"respond_hours\" value=\"0\""),
        "{body}"
    );
    assert!(body.contains("历史版本"), "the category's page: {body}");

    // Text in the days on the add form: the list page with the add form open.
    let (s, body) = save_category(
        &c,
        &app,
        Some(&csrf),
        "code=water&name=供水&respond_hours=二十四&resolve_days=three&escalation=never",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("响应时限：响应时限应填整数小时"), "{body}");
    assert!(body.contains("办结时限：办结时限应填整数天数"), "{body}");
    assert!(body.contains("value=\"二十四\"") && body.contains("value=\"three\""));
    assert!(
        body.contains("<details class=\"card\" id=\"new\" open>"),
        "{body}"
    );

    // A bad code is named too.
    let (s, body) = save_category(
        &c,
        &app,
        Some(&csrf),
        "code=Water!&name=供水&respond_hours=24&resolve_days=1&escalation=never",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("类别代码：类别代码应为"), "{body}");

    // Nothing stored.
    assert_eq!(versions(&db, "general").await.len(), 1);
    assert!(versions(&db, "water").await.is_empty());
    assert!(versions(&db, "Water!").await.is_empty());

    // Without the CSRF token nothing is saved either.
    let (s, _) = save_category(
        &c,
        &app,
        None,
        "code=general&version=1&name=一般诉求&respond_hours=24&resolve_days=3&escalation=never",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(versions(&db, "general").await.len(), 1);
    app.finish().await;
}

on_both!(
    bad_values_come_back_on_the_form,
    bad_values_come_back_on_the_form
);

// ---------------------------------------------------------------------------------------------

async fn only_admins_save(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    world(&db).await;
    for who in ["staff", "official", "worker"] {
        let (c, csrf) = sign_in(&app, who).await;
        let (s, list) = get(&c, app.url("/requests/categories")).await;
        assert_eq!(s, StatusCode::OK, "{who} reads");
        assert!(list.contains("一般诉求"));
        assert!(
            !list.contains("action=\"/requests/categories\""),
            "{who}: no form"
        );
        let (s, page) = get(&c, app.url("/requests/categories/general")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!page.contains("name=\"respond_hours\""), "{who}: no form");
        let (s, body) = save_category(
            &c,
            &app,
            Some(&csrf),
            "code=general&version=1&name=一般诉求&respond_hours=24&resolve_days=3&escalation=never",
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {body}");
        let (s, _) = get(&c, app.url("/requests/categories/general/retire")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = post(
            &c,
            app.url("/requests/categories/general/retire"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // Staff and grid workers may not add departments either; officials may (below).
    let (c, csrf) = sign_in(&app, "staff").await;
    let (s, _) = post(
        &c,
        app.url("/requests/departments"),
        &[("csrf", &csrf), ("name", "城管执法队")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(versions(&db, "general").await.len(), 1);
    assert!(requests::departments(&db).await.unwrap().is_empty());
    // Signed out: the login page.
    let (s, to) = get(&client(), app.url("/requests/categories")).await;
    assert!(s.is_redirection(), "{s} {to}");
    app.finish().await;
}

on_both!(only_admins_save, only_admins_save);

// ---------------------------------------------------------------------------------------------

async fn retired_categories_leave_the_resident_form(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let w = world(&db).await;
    let received = new_request(&db, w.community.id, "complex").await;
    let public = app.url(&format!("/r/{}", w.community.id));
    let (s, form) = get(&client(), public.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(form.contains("value=\"complex\""), "{form}");

    let (c, csrf) = sign_in(&app, "admin").await;
    // The confirmation step first; a post without the confirmation changes nothing.
    let (s, confirm) = get(&c, app.url("/requests/categories/complex/retire")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(confirm.contains("确认停用"), "{confirm}");
    let (s, to) = post_form(
        &c,
        app.url("/requests/categories/complex/retire"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(to, "/requests/categories/complex/retire");
    assert_eq!(versions(&db, "complex").await.len(), 1);

    let (s, to) = post_form(
        &c,
        app.url("/requests/categories/complex/retire"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let v = versions(&db, "complex").await;
    assert_eq!(v.len(), 2);
    assert!(!v[0].active);
    let (_, list) = get(&c, app.url(&to)).await;
    assert!(list.contains("已停用类别「complex」"), "{list}");
    assert!(!list.contains("data-code=\"complex\""), "{list}");

    let (_, form) = get(&client(), public).await;
    assert!(!form.contains("value=\"complex\""), "{form}");
    assert!(form.contains("value=\"general\""));
    // The request received before keeps its category and deadline.
    let again = requests::get(&db, &Scope::operator(), received.id)
        .await
        .unwrap();
    assert_eq!(again.category_code, "complex");
    assert_eq!(again.resolve_by, received.resolve_by);

    // Its page still shows the history, and the add form with the same code brings it back.
    let (s, page) = get(&c, app.url("/requests/categories/complex")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("已停用"), "{page}");
    let (s, _) = save_category(
        &c,
        &app,
        Some(&csrf),
        "code=complex&name=复杂诉求&respond_hours=24&resolve_days=15&escalation=never",
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(
        requests::category(&db, "complex", "c")
            .await
            .unwrap()
            .active
    );
    app.finish().await;
}

on_both!(
    retired_categories_leave_the_resident_form,
    retired_categories_leave_the_resident_form
);

// ---------------------------------------------------------------------------------------------

async fn departments_reach_the_dispatch_form(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let w = world(&db).await;
    let r = new_request(&db, w.community.id, "general").await;

    let (c, csrf) = sign_in(&app, "official").await;
    let (_, list) = get(&c, app.url("/requests/categories")).await;
    assert!(list.contains("action=\"/requests/departments\""), "{list}");
    let (s, to) = post_form(
        &c,
        app.url("/requests/departments"),
        &[("csrf", &csrf), ("name", " 城管执法队 ")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, list) = get(&c, app.url(&to)).await;
    assert!(list.contains("<li>城管执法队</li>"), "{list}");

    // A blank name and a duplicate come back on the form.
    let (s, body) = post(
        &c,
        app.url("/requests/departments"),
        &[("csrf", &csrf), ("name", "  ")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("部门名称：请填写部门名称"), "{body}");
    let (s, body) = post(
        &c,
        app.url("/requests/departments"),
        &[("csrf", &csrf), ("name", "城管执法队")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("已有同名部门") && body.contains("value=\"城管执法队\""));
    assert_eq!(requests::departments(&db).await.unwrap().len(), 1);

    // The staff handling the request can dispatch to it.
    let (c, _) = sign_in(&app, "staff").await;
    let (s, page) = get(&c, app.url(&format!("/requests/{}", r.id))).await;
    assert_eq!(s, StatusCode::OK);
    let dep = requests::departments(&db).await.unwrap()[0].id;
    assert!(
        page.contains(&format!(
            "<option value=\"department:{dep}\">城管执法队</option>"
        )),
        "{page}"
    );
    // The inbox links the categories page.
    let (_, inbox) = get(&c, app.url("/requests")).await;
    assert!(inbox.contains("href=\"/requests/categories\""), "{inbox}");
    app.finish().await;
}

on_both!(
    departments_reach_the_dispatch_form,
    departments_reach_the_dispatch_form
);
