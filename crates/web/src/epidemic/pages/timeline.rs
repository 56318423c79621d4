//! 防疫记录: one person's screenings, observations, check-ins (and who entered them), alerts,
//! passes, gate scans and trips on one timeline, newest first.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::timeline::Event;
use linli_core::kernel::clock::display;
use linli_core::kernel::labels::Labelled;
use linli_store::epidemic::timeline;
use linli_store::{registry, StoreError};

use crate::auth::PageUser;
use crate::ui::{store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/persons/{id}/epidemic", get(timeline_page))
}

struct Line {
    at: String,
    kind: &'static str,
    kind_code: &'static str,
    detail: String,
    warn: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/timeline.html")]
struct TimelinePage {
    shell: Shell,
    person_id: i64,
    name: String,
    lines: Vec<Line>,
}

fn line(e: Event) -> Line {
    Line {
        at: display(e.at),
        kind: e.kind.label_zh(),
        kind_code: e.kind.as_str(),
        detail: e.detail,
        warn: e.warn,
    }
}

async fn timeline_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    let result = async {
        let person = registry::get(&state.db, &user.scope, id).await?;
        let events = timeline::of_person(&state.db, &user.scope, id).await?;
        Ok::<_, StoreError>((person, events))
    }
    .await;
    match result {
        Ok((person, events)) => TimelinePage {
            shell: Shell::of(&user, "epidemic"),
            person_id: id,
            name: person.name,
            lines: events.into_iter().map(line).collect(),
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}
