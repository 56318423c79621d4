//! The connection: one `AnyPool` for SQLite or PostgreSQL, migrations for each, and the small
//! helpers every module shares.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

use crate::StoreError;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How a multi-row INSERT starts. On SQLite `OR FAIL`: a failed row ends the statement
    /// without undoing the rows before it, so SQLite keeps no statement journal (a copy of every
    /// page the statement touches) unless a foreign key still needs one. For bulk inserts only,
    /// inside a transaction that a failure rolls back whole.
    pub(crate) fn bulk_insert(self) -> &'static str {
        match self {
            Backend::Sqlite => "INSERT OR FAIL",
            Backend::Postgres => "INSERT",
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    keys: Option<std::sync::Arc<crate::infra::secret::Keyring>>,
    /// The areas' in-process caches, shared by every clone.
    pub(crate) caches: std::sync::Arc<crate::Caches>,
    /// On PostgreSQL, how to open a connection of the driver's own type, outside the pool:
    /// `COPY` (the roster import) is not part of sqlx's `Any` API.
    pg: Option<std::sync::Arc<PgTarget>>,
}

/// Where the pool's PostgreSQL connections go, for [`Db::pg_connection`].
struct PgTarget {
    options: sqlx::postgres::PgConnectOptions,
    schema: Option<String>,
}

impl std::fmt::Debug for PgTarget {
    // The options hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The file the embedded database lives in, inside the data directory.
pub const SQLITE_FILE: &str = "linli.db";

/// The `setting` row `linli demo` leaves: its value is when (Unix milliseconds) it first ran.
const DEMO_SETTING: &str = "demo_built_at";

impl Db {
    /// Opens (creating if needed) the embedded SQLite database in `dir`.
    pub async fn open_sqlite_dir(dir: &Path) -> Result<Db, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Internal(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let file = dir.join(SQLITE_FILE);
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Db::connect(&url, None).await
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`). On PostgreSQL, `schema` (when given)
    /// is created if missing and put first on every connection's search path, which is how the
    /// tests give each run its own throw-away namespace in one database.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Internal(format!(
                "unsupported database URL `{}`: use sqlite://… or postgres://…",
                redact_url(url)
            )));
        };
        let options = AnyConnectOptions::from_str(url)?;
        if let (Backend::Postgres, Some(schema)) = (backend, schema) {
            if !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(StoreError::Internal(format!("bad schema name `{schema}`")));
            }
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options).await?;
            conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                .await?;
        }
        if backend == Backend::Sqlite {
            // WAL is a property of the file, kept across connections. Switching to it needs an
            // exclusive lock that the busy timeout cannot wait for, so it is done once, here, on
            // a lone connection before the pool exists — not by every pooled connection, where a
            // new connection opened while another one wrote failed with "database is locked"
            // (seen once in CI under load). WAL lets readers run beside the one writer.
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options).await?;
            conn.execute("PRAGMA journal_mode = WAL").await?;
            sqlx::Connection::close(conn).await?;
        }
        let schema = schema.map(str::to_owned);
        let pg = match backend {
            Backend::Postgres => Some(std::sync::Arc::new(PgTarget {
                options: sqlx::postgres::PgConnectOptions::from_str(url)?,
                schema: schema.clone(),
            })),
            Backend::Sqlite => None,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // The busy timeout makes a second writer wait instead of failing
                            // at once (WAL was set when the database was opened, above).
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            // 64 MiB of page cache per connection (the default is 2 MiB): the
                            // registry's hash and name indexes are written at random positions.
                            conn.execute("PRAGMA cache_size = -65536").await?;
                            conn.execute("PRAGMA temp_store = MEMORY").await?;
                        }
                        Backend::Postgres => {
                            if let Some(schema) = schema {
                                conn.execute(format!("SET search_path TO {schema}").as_str())
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            backend,
            keys: None,
            caches: Default::default(),
            pg,
        })
    }

    /// On PostgreSQL, a new connection of the driver's own type (not from the pool, on the same
    /// schema), for what sqlx's `Any` cannot do; `None` on SQLite.
    pub(crate) async fn pg_connection(&self) -> Result<Option<sqlx::PgConnection>, StoreError> {
        let Some(target) = &self.pg else {
            return Ok(None);
        };
        let mut conn =
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&target.options).await?;
        if let Some(schema) = &target.schema {
            // Checked to be a plain identifier by `connect`.
            conn.execute(format!("SET search_path TO {schema}").as_str())
                .await?;
        }
        Ok(Some(conn))
    }

    /// A new pool on the same database (and schema), with the same keys and caches of its own:
    /// what another server process would hold (the tests of several servers).
    #[cfg(feature = "testing")]
    pub(crate) async fn reconnect(&self) -> Result<Db, StoreError> {
        let url = self.pool.connect_options().database_url.to_string();
        let schema = self.pg.as_ref().and_then(|t| t.schema.clone());
        let mut other = Db::connect(&url, schema.as_deref()).await?;
        other.keys = self.keys.clone();
        Ok(other)
    }

    /// Attaches the keys that protect personal data.
    pub fn with_keys(mut self, keys: crate::infra::secret::Keyring) -> Db {
        self.keys = Some(std::sync::Arc::new(keys));
        self
    }

    /// The keys; personal data cannot be written or read without them.
    pub(crate) fn keys(&self) -> Result<&crate::infra::secret::Keyring, StoreError> {
        self.keys
            .as_deref()
            .ok_or_else(|| StoreError::Internal("no encryption key is configured".into()))
    }

    /// Checks the attached key against the fingerprint recorded by the first start, so a wrong
    /// or lost key is noticed at once rather than when someone opens a record.
    pub async fn check_key(&self) -> Result<(), StoreError> {
        let keys = self.keys()?;
        let row = sqlx::query("SELECT value FROM setting WHERE name = 'key_fingerprint'")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let stored: String = r.try_get(0)?;
                if stored != keys.fingerprint() {
                    return Err(StoreError::Internal(format!(
                        "the encryption key (fingerprint {}) is not the one this database was created with ({stored}): \
                         restore linli.key or set LINLI_KEY",
                        keys.fingerprint()
                    )));
                }
            }
            None => {
                let persons = sqlx::query("SELECT COUNT(*) FROM person")
                    .fetch_one(&self.pool)
                    .await?;
                let n: i64 = persons.try_get(0)?;
                if n > 0 {
                    return Err(StoreError::Internal(
                        "the database holds encrypted personal data but records no key: restore linli.key or set LINLI_KEY".into(),
                    ));
                }
                sqlx::query("INSERT INTO setting (name, value) VALUES ('key_fingerprint', $1)")
                    .bind(keys.fingerprint())
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records that `linli demo` has run on this database (kept once, with the first time), so
    /// that demo-only modes such as `serve --as-of` can tell a demo from real data.
    pub async fn mark_demo(&self, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO setting (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(DEMO_SETTING)
        .bind(now.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The value of a `setting` row, if there is one.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM setting WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Whether `linli demo` has run on this database ([`Db::mark_demo`]).
    pub async fn is_demo(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT value FROM setting WHERE name = $1")
            .bind(DEMO_SETTING)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting on the busy timeout while another connection holds it. A deferred
    /// transaction that has read is refused at once ("database is locked": SQLite does not
    /// wait once it holds a read snapshot) when it comes to write while another connection
    /// holds the lock — even a transaction just dropped, whose rollback its connection's worker
    /// runs a moment later (seen as a rare failure of the store tests).
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Applies the schema migrations this backend has not seen yet (`Db::migrate` adds the
    /// data every database starts with).
    pub(crate) async fn migrate_schema(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Applies the schema migrations up to `version` only: an upgrade test builds a database
    /// as an earlier release left it, fills it, then migrates the rest.
    #[cfg(feature = "testing")]
    pub async fn migrate_schema_until(&self, version: i64) -> Result<(), StoreError> {
        let all = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        let mut some = sqlx::migrate::Migrator::DEFAULT;
        some.migrations = all
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        some.run(&self.pool).await?;
        Ok(())
    }

    /// Answers a trivial query: the database is reachable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Every table of the application (migration bookkeeping excluded) with its columns and a
    /// backend-neutral column type (`integer`, `real`, `text`, `blob`). Used to prove both
    /// backends carry the same schema.
    pub async fn schema(&self) -> Result<BTreeMap<String, Vec<(String, String)>>, StoreError> {
        let rows = match self.backend {
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
                     ORDER BY m.name, p.cid",
                )
                .fetch_all(&self.pool)
                .await?
            }
            Backend::Postgres => {
                sqlx::query(
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for row in rows {
            let table: String = row.try_get(0)?;
            let column: String = row.try_get(1)?;
            let ty: String = row.try_get(2)?;
            out.entry(table)
                .or_default()
                .push((column, neutral_type(&ty).to_owned()));
        }
        Ok(out)
    }

    /// Reads one SQLite pragma (tests check WAL and foreign keys).
    pub async fn sqlite_pragma(&self, name: &str) -> Result<String, StoreError> {
        if self.backend != Backend::Sqlite
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(StoreError::Internal(format!("no pragma `{name}` here")));
        }
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(&self.pool)
            .await?;
        // journal_mode answers text, foreign_keys an integer.
        if let Ok(s) = row.try_get::<String, _>(0) {
            return Ok(s);
        }
        Ok(row.try_get::<i64, _>(0)?.to_string())
    }

    /// Drops a PostgreSQL test schema and everything in it.
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres
            && schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn neutral_type(ty: &str) -> &'static str {
    let t = ty.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("real") || t.contains("double") || t.contains("float") {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else {
        "text"
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Builds the `$n` placeholders of a dynamic query by hand, because sqlx's `QueryBuilder<Any>`
/// emits `?`, which PostgreSQL rejects.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) values: Vec<ParamValue>,
    /// Anonymous `?` placeholders instead of `$n` (SQLite only; each value used exactly once,
    /// in order). sqlx's SQLite driver resolves every numbered parameter by name, and SQLite's
    /// name lookup scans the parameter list, so binding `$n` costs grow with the square of the
    /// parameter count; anonymous ones bind in constant time each.
    anonymous: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ParamValue {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
    OptBytes(Option<Vec<u8>>),
}

impl ParamValue {
    /// Appends the value as a field of PostgreSQL's `COPY … FROM STDIN` text format: `\N` for
    /// NULL; backslash, tab, newline and carriage return escaped; bytea as `\x` and hex, its
    /// backslash escaped in turn (so `\\x…` on the wire). PostgreSQL docs, "COPY", "Text Format".
    pub(crate) fn write_copy(&self, out: &mut Vec<u8>) {
        match self {
            ParamValue::Text(s) | ParamValue::OptText(Some(s)) => copy_text(s, out),
            ParamValue::Int(i) | ParamValue::OptInt(Some(i)) => {
                out.extend_from_slice(i.to_string().as_bytes())
            }
            ParamValue::OptBytes(Some(b)) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\\\x");
                for byte in b {
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 0x0f)]);
                }
            }
            ParamValue::OptText(None) | ParamValue::OptInt(None) | ParamValue::OptBytes(None) => {
                out.extend_from_slice(b"\\N")
            }
        }
    }
}

/// Text as a field of `COPY`'s text format (see [`ParamValue::write_copy`]).
pub(crate) fn copy_text(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// What a person typed, with LIKE's wildcards (and the escape itself) escaped by `\\`.
fn like_literal(typed: &str) -> String {
    typed
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Params {
    pub(crate) fn new() -> Params {
        Params::default()
    }

    /// Placeholders for a large statement run on `backend` (see `anonymous`).
    pub(crate) fn for_bulk(backend: Backend) -> Params {
        Params {
            values: Vec::new(),
            anonymous: backend == Backend::Sqlite,
        }
    }

    fn placeholder(&self) -> String {
        if self.anonymous {
            "?".to_owned()
        } else {
            format!("${}", self.values.len())
        }
    }

    /// Adds a value; returns its placeholder (`$3`).
    pub(crate) fn text(&mut self, v: impl Into<String>) -> String {
        self.values.push(ParamValue::Text(v.into()));
        self.placeholder()
    }

    pub(crate) fn int(&mut self, v: i64) -> String {
        self.values.push(ParamValue::Int(v));
        self.placeholder()
    }

    /// `column LIKE 'prefix%'` for what a person typed, LIKE's wildcards in it taken literally.
    pub(crate) fn prefix_like(&mut self, column: &str, typed: &str) -> String {
        let escaped = like_literal(typed);
        format!(
            "{column} LIKE {} ESCAPE '\\'",
            self.text(format!("{escaped}%"))
        )
    }

    /// Whether any of `columns` contains what a person typed (`LIKE '%…%'`, LIKE's wildcards
    /// in it taken literally), as one parenthesised condition.
    pub(crate) fn contains_any(&mut self, columns: &[&str], typed: &str) -> String {
        let escaped = like_literal(typed);
        let each: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE {} ESCAPE '\\'", self.text(format!("%{escaped}%"))))
            .collect();
        format!("({})", each.join(" OR "))
    }

    /// `column` within the half-open range `[from, before)` of instants, either end open: the
    /// conditions to add (none for an open range).
    pub(crate) fn in_range(
        &mut self,
        column: &str,
        (from, before): (Option<i64>, Option<i64>),
    ) -> Vec<String> {
        let mut conds = Vec::new();
        if let Some(f) = from {
            conds.push(format!("{column} >= {}", self.int(f)));
        }
        if let Some(b) = before {
            conds.push(format!("{column} < {}", self.int(b)));
        }
        conds
    }

    pub(crate) fn opt_text(&mut self, v: Option<String>) -> String {
        self.values.push(ParamValue::OptText(v));
        self.placeholder()
    }

    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> String {
        self.values.push(ParamValue::OptInt(v));
        self.placeholder()
    }

    pub(crate) fn opt_bytes(&mut self, v: Option<Vec<u8>>) -> String {
        self.values.push(ParamValue::OptBytes(v));
        self.placeholder()
    }

    /// Binds the values, moving them (large statements carry tens of thousands) — to a query
    /// through sqlx's `Any`, or on a PostgreSQL connection of the driver's own type.
    pub(crate) fn bind_owned<'q, DB>(
        self,
        mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: sqlx::Encode<'q, DB>,
        Option<i64>: sqlx::Encode<'q, DB>,
        Option<Vec<u8>>: sqlx::Encode<'q, DB>,
    {
        for v in self.values {
            q = match v {
                ParamValue::Text(s) => q.bind(s),
                ParamValue::Int(i) => q.bind(i),
                ParamValue::OptText(s) => q.bind(s),
                ParamValue::OptInt(i) => q.bind(i),
                ParamValue::OptBytes(b) => q.bind(b),
            };
        }
        q
    }

    /// The one row `sql` selects with these values bound: none is [`StoreError::NotFound`]
    /// (which callers also give for a row outside the caller's scope).
    pub(crate) async fn one_row(&self, db: &Db, sql: &str) -> Result<AnyRow, StoreError> {
        self.bind(sqlx::query(sql))
            .fetch_optional(db.pool())
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub(crate) fn bind<'q>(
        &self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in &self.values {
            q = match v {
                ParamValue::Text(s) => q.bind(s.clone()),
                ParamValue::Int(i) => q.bind(*i),
                ParamValue::OptText(s) => q.bind(s.clone()),
                ParamValue::OptInt(i) => q.bind(*i),
                ParamValue::OptBytes(b) => q.bind(b.clone()),
            };
        }
        q
    }
}

/// A filtered list: how many rows match in all, and the `limit` rows from `offset` in `order`.
/// `conditions` writes the WHERE clause into fresh parameters; it is called twice, once for the
/// count and once for the page, so the filter is written once and both statements agree.
pub(crate) async fn counted_page(
    db: &Db,
    columns: &str,
    from: &str,
    conditions: impl Fn(&mut Params) -> String,
    order: &str,
    (limit, offset): (i64, i64),
) -> Result<(i64, Vec<AnyRow>), StoreError> {
    let mut params = Params::new();
    let where_ = conditions(&mut params);
    let total: i64 = params
        .bind(sqlx::query(&format!(
            "SELECT COUNT(*) FROM {from} WHERE {where_}"
        )))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let mut params = Params::new();
    let where_ = conditions(&mut params);
    let (lim, off) = (params.int(limit.max(1)), params.int(offset.max(0)));
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT {columns} FROM {from} WHERE {where_} ORDER BY {order} LIMIT {lim} OFFSET {off}"
        )))
        .fetch_all(db.pool())
        .await?;
    Ok((total, rows))
}

/// The one row `sql` selects with `id` bound to `$1`: none is [`StoreError::NotFound`].
pub(crate) async fn row_by_id(db: &Db, sql: &str, id: i64) -> Result<AnyRow, StoreError> {
    sqlx::query(sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Stored names as an SQL list (`'sent', 'received'`) for `IN (…)` or `=`, rendered from the
/// enums so no status or kind is typed again in SQL. The names are core's static ASCII words, never
/// input, so inlining them is safe (and keeps each statement's text constant for the planner).
pub(crate) fn sql_names<T: Copy>(
    values: impl IntoIterator<Item = T>,
    name: fn(T) -> &'static str,
) -> String {
    let names: Vec<String> = values
        .into_iter()
        .map(|v| {
            let n = name(v);
            debug_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            format!("'{n}'")
        })
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_escape_what_copy_text_format_would_read_as_syntax() {
        let field = |v: ParamValue| {
            let mut out = Vec::new();
            v.write_copy(&mut out);
            String::from_utf8(out).unwrap()
        };
        // A literal backslash-N must not read back as NULL, nor a tab split the field.
        assert_eq!(
            field(ParamValue::Text("C:\\N\t路\n5号\r".into())),
            "C:\\\\N\\t路\\n5号\\r"
        );
        assert_eq!(field(ParamValue::OptText(None)), "\\N");
        assert_eq!(field(ParamValue::OptInt(Some(-42))), "-42");
        assert_eq!(
            field(ParamValue::OptBytes(Some(vec![0x00, 0xab, 0x5c]))),
            "\\\\x00ab5c"
        );
        assert_eq!(field(ParamValue::OptBytes(None)), "\\N");
    }

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(
            redact_url("postgres://linli:s3cret@db:5432/linli"),
            "postgres://linli:***@db:5432/linli"
        );
        assert_eq!(redact_url("postgres://db/linli"), "postgres://db/linli");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn types_are_compared_by_family() {
        assert_eq!(neutral_type("INTEGER"), "integer");
        assert_eq!(neutral_type("bigint"), "integer");
        assert_eq!(neutral_type("TEXT"), "text");
        assert_eq!(neutral_type("double precision"), "real");
        assert_eq!(neutral_type("bytea"), "blob");
    }
}
