//! The checkpoint pages (卡点, 通行证, 外出登记) against the real server on SQLite and on
//! PostgreSQL: the gate page's verdicts, a bad code kept with its error, scope, roles, pass
//! issuing and the trip form's rule for work travel.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::epidemic::checkpoints;
use linli_store::testing::TestDb;
use linli_store::Db;
use reqwest::StatusCode;

async fn resident(db: &Db, node_id: i64, name: &str) -> i64 {
    let p = person(
        db,
        node_id,
        PersonInput {
            name,
            address: Some("3栋2单元501室"),
            ..Default::default()
        },
    )
    .await;
    p.id
}

/// Where a redirect points.
async fn post_location(c: &reqwest::Client, url: String, form: &[(&str, &str)]) -> String {
    let r = c.post(url).form(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let url = |p: &str| format!("{}{p}", app.base);
    let op = Scope::operator();

    let Town {
        street, community, ..
    } = town(&db).await;
    let (grid_a, grid_b) = grids_ab(&db, community.id).await;
    user(&db, "official", "official", &[street.id]).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    let resident = resident(&db, grid_a.id, "扎西").await;
    let b_gate = checkpoints::create_checkpoint(&db, &op, grid_b.id, "乙网格北门", now_ms())
        .await
        .unwrap();

    // Staff sets up a checkpoint at grid A from the list page.
    let (staff, staff_csrf) = sign_in(&app, "staff").await;
    let (status, html) = get(&staff, url("/checkpoints")).await;
    assert_eq!(status, StatusCode::OK);
    // The form is offered (设置卡点), and the existing checkpoint is listed under its grid.
    assert!(
        html.contains("<summary>设置卡点</summary>")
            && html.contains(&format!(
                "href=\"/checkpoints/{}\">乙网格北门</a><span class=\"muted small\">乙网格</span>",
                b_gate.id
            )),
        "{html}"
    );
    let grid_a_id = grid_a.id.to_string();
    let (status, html) = post(
        &staff,
        url("/checkpoints"),
        &[
            ("csrf", &staff_csrf),
            ("node_id", &grid_a_id),
            ("name", " "),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("卡点名称：卡点名称应为"), "{html}");
    let to = post_location(
        &staff,
        url("/checkpoints"),
        &[
            ("csrf", &staff_csrf),
            ("node_id", &grid_a_id),
            ("name", "东门"),
        ],
    )
    .await;
    assert_eq!(to, "/checkpoints?notice=created");
    let gate = checkpoints::checkpoints(&db, &op, grid_a.id).await.unwrap();
    assert_eq!(gate.len(), 1);
    let gate = format!("/checkpoints/{}", gate[0].id);

    // Staff issues a pass to the resident: the code is shown large on the pass's page.
    let (status, html) = get(&staff, url("/passes?q=扎西")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("/passes?person_id={resident}")),
        "{html}"
    );
    let resident_id = resident.to_string();
    let (status, html) = post(
        &staff,
        url("/passes"),
        &[
            ("csrf", &staff_csrf),
            ("person_id", &resident_id),
            ("node_id", &grid_a_id),
            ("valid_from", "2022-03-02"),
            ("valid_to", "2022-03-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("有效期止：有效期结束日期早于开始日期"),
        "{html}"
    );
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let to = post_location(
        &staff,
        url("/passes"),
        &[
            ("csrf", &staff_csrf),
            ("person_id", &resident_id),
            ("node_id", &grid_a_id),
            ("valid_from", &today),
            ("valid_to", &today),
            ("purpose", "住户"),
        ],
    )
    .await;
    assert!(
        to.starts_with("/passes/") && to.ends_with("?issued=1"),
        "{to}"
    );
    let issued = checkpoints::passes(&db, &op, grid_a.id).await.unwrap();
    let code = issued[0].code.clone();
    let (status, html) = get(&staff, url(&to)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("<p class=\"cp-code\">{code}</p>")) && html.contains("扎西"),
        "{html}"
    );

    // The grid worker at the gate: allowed with the code (typed in lower case with a dash).
    let (worker, w_csrf) = sign_in(&app, "worker_a").await;
    let (status, html) = get(&worker, url(&gate)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"direction\" value=\"in\""), "{html}");
    let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    let (status, html) = post(
        &worker,
        url(&gate),
        &[
            ("csrf", &w_csrf),
            ("code", &typed),
            ("temperature", "36.5"),
            ("direction", "in"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("cp-verdict allowed"), "{html}");
    assert_eq!(verdict(&html), "放行 扎* 进 · 36.5℃");

    // A code nobody was given: 422, nothing logged, the value kept.
    let (status, html) = post(
        &worker,
        url(&gate),
        &[("csrf", &w_csrf), ("code", "ZZZZ2222"), ("direction", "in")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("通行证编码：没有这个通行证编码") && html.contains("value=\"ZZZZ2222\""),
        "{html}"
    );
    // A malformed code and a malformed plate: the precise message, the value kept.
    let (status, html) = post(
        &worker,
        url(&gate),
        &[
            ("csrf", &w_csrf),
            ("code", "ab1"),
            ("temperature", "36.6"),
            ("direction", "in"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("通行证编码应为 8 位")
            && html.contains("value=\"ab1\"")
            && html.contains("value=\"36.6\""),
        "{html}"
    );
    let (status, html) = post(
        &worker,
        url(&gate),
        &[("csrf", &w_csrf), ("code", "云P12"), ("direction", "in")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("车牌：车牌「云P12」格式不对"), "{html}");

    // A fever stops a pass holder.
    let (status, html) = post(
        &worker,
        url(&gate),
        &[
            ("csrf", &w_csrf),
            ("code", &code),
            ("temperature", "37.8"),
            ("direction", "in"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("cp-verdict fever"), "{html}");
    assert_eq!(
        verdict(&html),
        "体温异常 扎* 进 · 37.8℃ 已发出发热预警，引导至发热门诊"
    );

    // A plate without a pass: no valid pass, with the reason; leaving is allowed.
    let (status, html) = post(
        &worker,
        url(&gate),
        &[
            ("csrf", &w_csrf),
            ("code", "云p·12345"),
            ("direction", "in"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("cp-verdict no-pass"), "{html}");
    assert_eq!(verdict(&html), "无有效通行证 云P12345 进 没有通行证");
    let (status, html) = post(
        &worker,
        url(&gate),
        &[
            ("csrf", &w_csrf),
            ("code", "云P12345"),
            ("direction", "out"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("cp-verdict allowed"), "{html}");
    assert_eq!(verdict(&html), "放行 云P12345 出");
    // Today's counts: 3 in, 1 out, 1 without pass, 1 fever.
    assert!(
        html.contains("<span class=\"n\">3</span>进")
            && html.contains("<span class=\"n\">1</span>出")
            && html.contains("<span class=\"n\">1</span>无证")
            && html.contains("<span class=\"n\">1</span>体温异常"),
        "{html}"
    );

    // Another grid's checkpoint is not there for this worker.
    let b_url = format!("/checkpoints/{}", b_gate.id);
    let (status, _) = get(&worker, url(&b_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &worker,
        url(&b_url),
        &[("csrf", &w_csrf), ("code", &code), ("direction", "in")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = get(&worker, url("/checkpoints")).await;
    assert!(
        html.contains("东门") && !html.contains("乙网格北门"),
        "{html}"
    );

    // Trips: work travel without a health certificate is refused, with the form kept.
    let trip = |cert: bool| {
        let mut f = vec![
            ("csrf", w_csrf.clone()),
            ("person_id", resident_id.clone()),
            ("kind", "work".to_owned()),
            ("destination", "昆明".to_owned()),
            ("leave_on", today.clone()),
        ];
        if cert {
            f.push(("health_certificate", "1".to_owned()));
        }
        f
    };
    let (r, html) = post_any(&worker, url("/trips"), &trip(false)).await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("健康证明：务工外出须持健康证明") && html.contains("value=\"昆明\""),
        "{html}"
    );
    let trips_of = || async {
        linli_store::epidemic::trips::trips(
            &db,
            &op,
            grid_a.id,
            &Default::default(),
            linli_core::kernel::clock::today(),
            50,
            0,
        )
        .await
        .unwrap()
        .items
    };
    assert!(trips_of().await.is_empty());
    assert_eq!(
        post_any(&worker, url("/trips"), &trip(true)).await.0,
        StatusCode::SEE_OTHER
    );
    let trips = trips_of().await;
    assert_eq!(trips.len(), 1);
    let (_, html) = get(&worker, url("/trips")).await;
    assert!(
        html.contains("已返回</button>") && html.contains("昆明"),
        "{html}"
    );
    let to = post_location(
        &worker,
        url(&format!("/trips/{}/returned", trips[0].id)),
        &[("csrf", &w_csrf)],
    )
    .await;
    assert_eq!(to, "/trips?notice=returned");
    let (_, html) = get(&worker, url("/trips?state=all")).await;
    assert!(
        html.contains(&format!("<span class=\"tag grey\">{today} 已返回</span>"))
            && !html.contains("已返回</button>"),
        "{html}"
    );

    // The official reads the gate's log but has no form, and a scan is refused.
    let (official, o_csrf) = sign_in(&app, "official").await;
    let (status, html) = get(&official, url(&gate)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        // The gate's log shows names masked, as the verdict does.
        !html.contains("name=\"direction\"") && html.contains("扎*") && !html.contains("扎西"),
        "{html}"
    );
    let (status, _) = post(
        &official,
        url(&gate),
        &[("csrf", &o_csrf), ("code", &code), ("direction", "in")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = get(&official, url("/passes")).await;
    assert!(
        !html.contains("发放通行证") && html.contains(&code),
        "{html}"
    );

    // Revoking: the pass is greyed and the gate refuses it.
    let pass_id = issued[0].id;
    let to = post_location(
        &staff,
        url(&format!("/passes/{pass_id}/revoke")),
        &[("csrf", &staff_csrf)],
    )
    .await;
    assert_eq!(to, "/passes?notice=revoked");
    let (_, html) = post(
        &worker,
        url(&gate),
        &[("csrf", &w_csrf), ("code", &code), ("direction", "in")],
    )
    .await;
    assert!(
        html.contains("cp-verdict no-pass") && html.contains("通行证已收回"),
        "{html}"
    );
    assert!(verdict(&html).starts_with("无有效通行证 扎*"), "{html}");

    // Gates that know: a confirmed case is refused going out, with the reason, on the page...
    linli_store::epidemic::contacts::mark_case(
        &db,
        &op,
        resident,
        linli_core::epidemic::contact::CaseKind::Confirmed,
        linli_core::kernel::clock::today(),
        now_ms(),
    )
    .await
    .unwrap();
    let (status, html) = post(
        &worker,
        url(&gate),
        &[("csrf", &w_csrf), ("code", &code), ("direction", "out")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let said = verdict(&html);
    assert!(
        said.starts_with("隔离管控中，不得外出 扎* 出") && said.contains("不予放行：确诊病例（"),
        "{said}"
    );
    // ...and through the API: 200 with the outcome; no pass for them (422 naming why).
    let gate_id = checkpoints::checkpoints(&db, &op, grid_a.id).await.unwrap()[0].id;
    let r = send_json(
        &worker,
        url(&format!("/api/v1/checkpoints/{gate_id}/scans")),
        &serde_json::json!({"direction": "out", "person_id": resident}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "under_quarantine", "{body}");
    assert_eq!(body["holder"], "扎*");
    assert!(
        body["message"].as_str().unwrap().contains("确诊病例"),
        "{body}"
    );
    let day = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let r = staff
        .post(url("/api/v1/passes"))
        .json(
            &serde_json::json!({"node_id": grid_a.id, "person_id": resident,
            "valid_from": day, "valid_to": day}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "person_id", "{body}");
    assert!(body.to_string().contains("确诊病例"), "{body}");
    // A fever at the gate raises an alert in the gate's node.
    let r = send_json(
        &worker,
        url(&format!("/api/v1/checkpoints/{gate_id}/scans")),
        &serde_json::json!({"direction": "in", "person_id": resident, "temperature": 38.1}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "fever");
    assert!(body["alert_id"].as_i64().is_some(), "{body}");

    app.t.finish().await;
}

on_both!(checkpoint_pages, flow);

/// The gate's verdict box as text: verdict, holder, direction and temperature.
fn verdict(html: &str) -> String {
    text_of(between(html, "aria-live=\"polite\">", "</section>"))
}
