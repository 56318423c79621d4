//! Gates that know their passes (issue 18 item 6): a pass's QR code carries `/p/{code}`, which
//! opens the gate page with the code filled in for a signed-in guard (after the login when
//! needed); the pass page shows the code, and a printable card carries it.

use crate::support::*;

use linli_core::kernel::clock::{now_ms, today};
use linli_core::Scope;
use linli_store::epidemic::checkpoints::{self, Holder, PassInput};
use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn flow(t: TestDb) {
    let app = spawn_public(t).await;
    let db = app.db();
    let op = Scope::operator();
    let Town { community, .. } = town(&db).await;
    let (grid_a, _) = grids_ab(&db, community.id).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "worker_a", "grid_worker", &[grid_a.id]).await;
    let east = checkpoints::create_checkpoint(&db, &op, grid_a.id, "东门", now_ms())
        .await
        .unwrap();
    let west = checkpoints::create_checkpoint(&db, &op, community.id, "社区西门", now_ms())
        .await
        .unwrap();
    let resident = named(&db, grid_a.id, "扎西").await;
    let pass = checkpoints::issue_pass(
        &db,
        &op,
        &PassInput {
            node_id: grid_a.id,
            holder: Holder::Person(resident.id),
            purpose: Some("上班".into()),
            valid_from: today(),
            valid_to: today().next_day().unwrap(),
        },
        now_ms(),
    )
    .await
    .unwrap();
    let code = pass.code.clone();

    // The pass's QR code decodes to the gate link at the public address.
    let staff_api = api_login(&app, "staff").await;
    assert_eq!(
        crate::qr::png_target(&app, &staff_api, &format!("/p/{code}")).await,
        format!("{PUBLIC_URL}/p/{code}")
    );

    // A phone with no session is sent to the login, which comes back to the pass.
    let (status, to) = get_location(&client(), app.url(&format!("/p/{code}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/login?next=/p/{code}"));

    // A grid worker keeps one gate (东门 in their grid): straight to it, the code filled in —
    // also when the code arrives in lower case.
    let (worker, csrf) = sign_in(&app, "worker_a").await;
    let (status, to) = get_location(
        &worker,
        app.url(&format!("/p/{}", code.to_ascii_lowercase())),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/checkpoints/{}?code={code}", east.id));
    let (status, html) = get(&worker, app.url(&to)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("name=\"code\" value=\"{code}\"")),
        "{html}"
    );
    // One tap on 进 with the filled-in form lets them through.
    let (status, html) = post(
        &worker,
        app.url(&format!("/checkpoints/{}", east.id)),
        &[("csrf", &csrf), ("code", &code), ("direction", "in")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let verdict = text_of(enclosing(&html, "section", "cp-verdict"));
    assert!(verdict.starts_with("放行 扎*"), "{verdict}");

    // Staff keep both gates: a choice, each leading to its gate with the code.
    let (staff, _) = sign_in(&app, "staff").await;
    let (status, html) = get(&staff, app.url(&format!("/p/{code}"))).await;
    assert_eq!(status, StatusCode::OK);
    for gate in [east.id, west.id] {
        assert!(
            html.contains(&format!("href=\"/checkpoints/{gate}?code={code}\"")),
            "{html}"
        );
    }
    // A code that is not one is refused before anything else.
    let (status, _) = get(&staff, app.url("/p/NOT-A-CODE-0")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The pass page shows its QR; the card prints it with the masked name and the code.
    let (_, html) = get(&staff, app.url(&format!("/passes/{}", pass.id))).await;
    assert!(html.contains("id=\"qr\"><svg"), "{html}");
    let (status, card) = get(&staff, app.url(&format!("/passes/{}/card", pass.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of(enclosing(&card, "p", "id=\"holder\"")), "扎*");
    assert_eq!(
        text_of(enclosing(&card, "strong", "id=\"code\"")),
        format!("{}-{}", &code[..4], &code[4..])
    );
    assert!(
        card.contains(&format!("https://linli.example.org/p/{code}")),
        "{card}"
    );
    app.finish().await;
}

/// A GET's status and where it redirects.
async fn get_location(c: &reqwest::Client, url: String) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    let to = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to)
}

on_both!(pass_cards, flow);
