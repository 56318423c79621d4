//! Linli's storage layer: the only crate with SQL. One query code base serves the embedded
//! SQLite database and PostgreSQL through sqlx's `Any` driver (see `docs/architecture.md`, "Storage").
//!
//! Every function that reads or changes jurisdiction data takes the caller's [`Scope`] and
//! applies it itself, so a handler cannot forget it.

// Areas: one folder each, the same word in every crate (see docs/architecture.md).
pub mod accounts;
pub mod enterprises;
pub mod epidemic;
pub mod participation;
pub mod registry;
pub mod reports;
pub mod requests;
pub mod supplies;
pub mod tree;

// What the areas share; it imports no area.
pub mod infra;

#[cfg(feature = "testing")]
pub mod testing;

pub use infra::db::{redact_url, Backend, Db, SQLITE_FILE};

use linli_core::{CoreError, Scope};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Missing, or outside the caller's scope: the two are not told apart.
    #[error("not found")]
    NotFound,
    /// Visible to the caller, but their role may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Input broke a rule; every broken field is listed.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<CoreError>),
    /// Input clashes with what is stored (a name or code already taken).
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Internal(String),
}

impl StoreError {
    pub fn invalid(field: &str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(vec![CoreError::invalid(field, message)])
    }

    /// PostgreSQL refused text it cannot store (SQLSTATE 22021, a NUL byte; 22P05): bad input,
    /// not a fault of the server. SQLite stores such text, so this happens on PostgreSQL only.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => {
                matches!(d.code().as_deref(), Some("22021" | "22P05"))
            }
            _ => false,
        }
    }
}

impl From<CoreError> for StoreError {
    fn from(e: CoreError) -> Self {
        StoreError::Invalid(vec![e])
    }
}

/// One page of a filtered list, and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// The most rows one list page or export reads at once: an export holds every matching row up
/// to this, so a spreadsheet stays a size a worker's computer opens.
pub const MAX_LIST_ROWS: i64 = 10_000;

/// A page of a list ordered by id: at most `limit` rows after the id `after`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub after: Option<i64>,
}

impl Page {
    pub const MAX_LIMIT: i64 = 500;

    /// A page with the limit clamped to `1..=MAX_LIMIT` (100 when not given).
    pub fn new(limit: Option<i64>, after: Option<i64>) -> Page {
        Page {
            limit: limit.unwrap_or(100).clamp(1, Page::MAX_LIMIT),
            after,
        }
    }

    pub fn all() -> Page {
        Page {
            limit: i64::MAX,
            after: None,
        }
    }
}

/// The SQL condition restricting `column` (a materialised path) to the caller's jurisdiction:
/// no condition for an admin, one range per root otherwise, and a condition that matches
/// nothing for a scope without roots.
pub(crate) fn scope_filter(scope: &Scope, column: &str, params: &mut infra::db::Params) -> String {
    if scope.is_admin() {
        return "1 = 1".to_owned();
    }
    if scope.roots().is_empty() {
        return "1 = 0".to_owned();
    }
    let ranges: Vec<String> = scope
        .roots()
        .iter()
        .map(|root| {
            let (lo, hi) = root.subtree_bounds();
            format!(
                "({column} >= {} AND {column} < {})",
                params.text(lo),
                params.text(hi)
            )
        })
        .collect();
    format!("({})", ranges.join(" OR "))
}

/// The SQL condition restricting `column` (a materialised path) to the subtree under `path`
/// (itself included) and to the caller's jurisdiction: what a list under a node selects.
pub(crate) fn under_node(
    path: &linli_core::JurisdictionPath,
    scope: &Scope,
    column: &str,
    params: &mut infra::db::Params,
) -> String {
    let (lo, hi) = path.subtree_bounds();
    let (lo, hi) = (params.text(lo), params.text(hi));
    let scoped = scope_filter(scope, column, params);
    format!("{column} >= {lo} AND {column} < {hi} AND {scoped}")
}

/// The one row of `select` (its columns and `FROM`) whose `id_column` is `id` and whose
/// `path_column` lies in the caller's jurisdiction: none is [`StoreError::NotFound`], so a row
/// outside the jurisdiction is not told apart from a missing one.
pub(crate) async fn scoped_row(
    db: &Db,
    scope: &Scope,
    select: &str,
    id_column: &str,
    path_column: &str,
    id: i64,
) -> Result<sqlx::any::AnyRow, StoreError> {
    let mut params = infra::db::Params::new();
    let filter = scope_filter(scope, path_column, &mut params);
    let id_param = params.int(id);
    let sql = format!("{select} WHERE {id_column} = {id_param} AND {filter}");
    params.one_row(db, &sql).await
}

/// What every clone of a [`Db`] shares beside the pool: the areas' in-process caches. Declared
/// here, where the areas are composed, so the database module names none of them.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    /// Callers resolved recently (see [`accounts::PrincipalCache`]).
    pub(crate) principals: accounts::PrincipalCache,
}

impl Db {
    /// Applies the migrations this backend has not seen yet, then writes the data every
    /// database starts with (the quarantine policy presets).
    pub async fn migrate(&self, now: i64) -> Result<(), StoreError> {
        self.migrate_schema().await?;
        epidemic::ensure_presets(self, now).await?;
        let a = registry::dwellings::attach_existing(self, now).await?;
        if a.attached + a.unattached > 0 {
            tracing::info!(
                attached = a.attached,
                unattached = a.unattached,
                buildings_made = a.homes_created,
                "rooms registered before buildings held them were moved into their buildings"
            );
        }
        Ok(())
    }
}
