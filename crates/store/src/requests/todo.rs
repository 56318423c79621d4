//! The requests on a worker's to-do list: those still waiting on someone within a node, how
//! many of them the caller has taken, and the most urgent few.

use linli_core::kernel::clock;
use linli_core::requests::Status;
use linli_core::Scope;
use sqlx::Row;

use super::{readable_requests, status_in, Request, REQUEST_SELECT};
use crate::infra::db::Params;
use crate::{Db, StoreError};

/// What a to-do list says of the requests within a node.
#[derive(Debug, Clone)]
pub struct RequestTodo {
    /// Pending within the node (waiting on someone: received, dispatched, accepted, returned,
    /// in progress).
    pub pending: i64,
    /// Of those, the ones the caller accepted (their handler is the caller).
    pub mine: i64,
    /// The first `limit` of them: the caller's own first, then by the resolution deadline.
    pub first: Vec<Request>,
}

/// The pending requests within `node_id`'s subtree (a node outside the caller's scope is
/// `NotFound`). As of a past day (`serve --as-of`, a demo) pending means received before the
/// day's end and neither resolved nor closed by then — as far as the record still tells: a
/// request resolved then and reopened since counts as pending, and its handler is today's.
pub async fn todo(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    limit: i64,
) -> Result<RequestTodo, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let day_end = clock::as_of().map(|_| clock::day_bounds(clock::today()).1);
    let me = scope.user_id().unwrap_or(0);
    let conditions = |params: &mut Params| {
        let mut conds = vec![crate::under_node(&node.path, scope, "r.node_path", params)];
        match day_end {
            Some(end) => {
                let e = params.int(end);
                conds.push(format!(
                    "r.received_at < {e} AND (r.resolved_at IS NULL OR r.resolved_at >= {e}) \
                     AND (r.closed_at IS NULL OR r.closed_at >= {e})"
                ));
            }
            None => conds.push(status_in("r.status", &Status::PENDING)),
        }
        conds.join(" AND ")
    };

    let mut params = Params::new();
    let where_ = conditions(&mut params);
    let m = params.int(me);
    let sql = format!(
        "SELECT COUNT(*), COUNT(CASE WHEN r.handler_user_id = {m} THEN 1 END) \
         FROM request r WHERE {where_}"
    );
    let row = params.bind(sqlx::query(&sql)).fetch_one(db.pool()).await?;
    let (pending, mine): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);

    let mut params = Params::new();
    let where_ = conditions(&mut params);
    let m = params.int(me);
    let lim = params.int(limit.clamp(0, 100));
    let sql = format!(
        "{REQUEST_SELECT} WHERE {where_} \
         ORDER BY CASE WHEN r.handler_user_id = {m} THEN 0 ELSE 1 END, r.resolve_by, r.id \
         LIMIT {lim}"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let first = readable_requests(db.keys()?, scope, &rows)?;
    Ok(RequestTodo {
        pending,
        mine,
        first,
    })
}
