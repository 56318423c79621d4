//! A grid worker's home (and the top of a community worker's): the day's work in each of their
//! nodes as a to-do list — open alerts, check-ins due today and not yet in, pending requests,
//! observations due for release — each a count, the first few by name, and a link to where the
//! work is done. (Tasks do not exist yet; they join the list when they do.)
//!
//! Every figure comes from the list it links to (the same store function and filter), so the
//! count on the home page is the count on the list; each reads the as-of day as its list does
//! (requests link to the inbox's 待办 view, `view=pending`; the inbox does not read as-of yet).

use linli_core::kernel::clock::{display, format_date, today};
use linli_core::kernel::labels::Labelled;
use linli_store::accounts::Principal;
use linli_store::epidemic::alerts::{self, AlertFilter, AlertState};
use linli_store::epidemic::observations::{self, ObservationFilter};
use linli_store::requests;
use linli_store::{Db, StoreError};

/// How many items of each line the home page names.
pub const FIRST: i64 = 3;

/// One item of a line: who or what, a detail, and where to act on it.
pub struct TodoItem {
    pub text: String,
    pub detail: String,
    pub href: String,
}

/// One line of the to-do: what, how many, the first few, and the list that holds them all.
pub struct TodoLine {
    pub key: &'static str,
    pub label: &'static str,
    pub count: i64,
    /// A note beside the count (e.g. how many requests are the worker's own).
    pub note: String,
    pub items: Vec<TodoItem>,
    pub href: String,
    /// A second place to act, with its words (e.g. 入户测温 for the check-ins due).
    pub action: Option<(String, &'static str)>,
}

/// The to-do of one grid.
pub struct GridTodo {
    pub node_id: i64,
    pub node_name: String,
    pub lines: Vec<TodoLine>,
}

impl GridTodo {
    /// Nothing to do in this grid today.
    pub fn is_clear(&self) -> bool {
        self.lines.iter().all(|l| l.count == 0)
    }
}

/// The to-do of every node the user is bound to (a grid worker's grids, a community worker's
/// communities), in the order of their account.
pub async fn for_bound_nodes(db: &Db, user: &Principal) -> Result<Vec<GridTodo>, StoreError> {
    let mut out = Vec::with_capacity(user.user.nodes.len());
    for node in &user.user.nodes {
        out.push(of_node(db, user, node.id, &node.name).await?);
    }
    Ok(out)
}

async fn of_node(
    db: &Db,
    user: &Principal,
    node_id: i64,
    node_name: &str,
) -> Result<GridTodo, StoreError> {
    let scope = &user.scope;
    let on = today();

    let open = alerts::alerts(
        db,
        scope,
        node_id,
        &AlertFilter {
            state: AlertState::Open,
            ..Default::default()
        },
        FIRST,
        0,
    )
    .await?;
    let alert_line = TodoLine {
        key: "alerts",
        label: "待处理预警",
        count: open.total,
        note: String::new(),
        items: open
            .items
            .into_iter()
            .map(|a| TodoItem {
                href: format!(
                    "/epidemic/alerts?node_id={node_id}&q={}",
                    crate::ui::url_encode(&a.alert.person_name)
                ),
                detail: format!(
                    "{} · {}",
                    alerts::kind_zh(&a.alert.kind),
                    display(a.alert.raised_at)
                ),
                text: a.alert.person_name,
            })
            .collect(),
        href: format!("/epidemic/alerts?node_id={node_id}"),
        action: None,
    };

    let observed = |pending: bool, ending: bool| ObservationFilter {
        pending,
        ending,
        ..Default::default()
    };
    let due =
        observations::under_observation(db, scope, node_id, &observed(true, false), on, FIRST, 0)
            .await?;
    let checkin_line = TodoLine {
        key: "checkins",
        label: "今日未打卡",
        count: due.total,
        note: String::new(),
        items: due
            .items
            .into_iter()
            .map(|o| TodoItem {
                href: format!("/persons/{}", o.person_id),
                detail: format!(
                    "{} · 今日打卡 {}/{}",
                    o.measure.label_zh(),
                    o.checkins_done,
                    o.checkins_due
                ),
                text: o.person_name,
            })
            .collect(),
        href: format!("/epidemic/observations?node_id={node_id}&pending=1"),
        action: Some((format!("/epidemic/rounds?node_id={node_id}"), "入户测温")),
    };

    let pending = requests::todo(db, scope, node_id, FIRST).await?;
    let request_line = TodoLine {
        key: "requests",
        label: "待办诉求",
        count: pending.pending,
        note: if pending.mine > 0 {
            format!("其中我已接单 {}", pending.mine)
        } else {
            String::new()
        },
        items: pending
            .first
            .into_iter()
            .map(|r| TodoItem {
                href: format!("/requests/{}", r.id),
                // What was asked and when, not the state today: as of a past day (a demo) the
                // request may have been closed since.
                detail: format!("{} 受理 · {}", display(r.received_at), r.category_name),
                text: r.description.chars().take(14).collect(),
            })
            .collect(),
        href: format!("/requests?node_id={node_id}&view=pending"),
        action: None,
    };

    let ending =
        observations::under_observation(db, scope, node_id, &observed(false, true), on, FIRST, 0)
            .await?;
    let release_line = TodoLine {
        key: "releases",
        label: "到期待解除",
        count: ending.total,
        note: String::new(),
        items: ending
            .items
            .into_iter()
            .map(|o| TodoItem {
                href: format!("/persons/{}", o.person_id),
                detail: format!("{} · 至 {}", o.measure.label_zh(), format_date(o.until)),
                text: o.person_name,
            })
            .collect(),
        href: format!("/epidemic/observations?node_id={node_id}&ending=1"),
        action: Some(("/epidemic/releases".to_owned(), "解除观察")),
    };

    Ok(GridTodo {
        node_id,
        node_name: node_name.to_owned(),
        lines: vec![alert_line, checkin_line, request_line, release_line],
    })
}
