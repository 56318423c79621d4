//! Change marks: which paths the registry's records were written on (migration `0034`,
//! table `registry_change`). A write marks its paths in its own transaction; a reader that
//! keeps numbers by path (the registry's counts) compares versions to know what to count
//! again. Here, not in an area, because the tree marks too: moving a subtree moves records.

use crate::infra::db::Params;
use crate::StoreError;

/// The change marks' key that stands for "everything": raised when records move between paths
/// wholesale (a subtree moved, rooms attached to their buildings).
pub(crate) const EPOCH: &str = "";

/// The change marks' key for the tree itself: raised when a node is renamed, re-coded, given
/// an estimate or closed, so a process that keeps the node list reads it again. (A new node is
/// seen by its id; a move raises the epoch.) Not a path: paths start with `/`.
pub(crate) const TREE: &str = "tree";

/// Marks the registry records on `paths` as changed, in the transaction that changes them, so
/// every process that counts by path counts them again on its next read. Sorted and once each: the
/// rows are locked in one order by every writer (no deadlock on PostgreSQL) and an upsert may
/// touch a row only once.
pub(crate) async fn touch(tx: &mut sqlx::AnyConnection, paths: &[&str]) -> Result<(), StoreError> {
    for (sql, p) in touch_statements(paths) {
        p.bind_owned(sqlx::query(&sql)).execute(&mut *tx).await?;
    }
    Ok(())
}

/// [`touch`]'s statements, for a connection that is not sqlx's `Any` (the roster import's).
pub(crate) fn touch_statements(paths: &[&str]) -> Vec<(String, Params)> {
    let mut paths: Vec<&str> = paths.to_vec();
    paths.sort_unstable();
    paths.dedup();
    paths
        .chunks(500)
        .map(|chunk| {
            let mut p = Params::new();
            let rows: Vec<String> = chunk
                .iter()
                .map(|path| format!("({}, 1)", p.text(*path)))
                .collect();
            let sql = format!(
                "INSERT INTO registry_change (path, version) VALUES {} \
                 ON CONFLICT (path) DO UPDATE SET version = registry_change.version + 1",
                rows.join(", ")
            );
            (sql, p)
        })
        .collect()
}

/// Marks every path as changed (see [`EPOCH`]).
pub(crate) async fn touch_all(tx: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    touch(tx, &[EPOCH]).await
}
