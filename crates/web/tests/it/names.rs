//! Pages name the people who acted by their display names, never their logins (issue 19 item
//! 7): the person's change history (修改人) and the request timeline, on SQLite and PostgreSQL.

use crate::support::*;
use linli_core::kernel::clock::now_ms;
use linli_core::{Role, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::registry::{self, PersonPatch};
use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn names_not_logins(t: TestDb) {
    let app = spawn(t).await;
    let db = &app.t.db;
    let town = town(db).await;
    let id = accounts::create(
        db,
        &Scope::operator(),
        NewUser {
            username: "libuga-staff",
            display_name: Some("李秀英"),
            password: PASSWORD,
            role: "staff",
            node_ids: &[town.community.id],
        },
        now_ms(),
    )
    .await
    .unwrap()
    .id;
    let p = named(db, town.community.id, "张三").await;
    let staff = Scope::for_user(
        id,
        "libuga-staff",
        Role::Staff,
        vec![town.community.path.clone()],
    );
    let patch = PersonPatch {
        tags: Some(vec!["独居老人".into()]),
        ..Default::default()
    };
    registry::update(db, &staff, p.id, &patch, now_ms())
        .await
        .unwrap();

    // Read by someone else, so the name on the page is the editor's, not the reader's.
    user(db, "reader", "staff", &[town.community.id]).await;
    let (c, _) = sign_in(&app, "reader").await;
    let (s, html) = get(&c, app.url(&format!("/persons/{}", p.id))).await;
    assert_eq!(s, StatusCode::OK);
    let text = text_of(&html);
    assert!(text.contains("李秀英"), "the editor by name: {text}");
    assert!(!text.contains("libuga-staff"), "never the login: {text}");
    app.t.finish().await;
}

on_both!(pages_name_people_not_logins, names_not_logins);
