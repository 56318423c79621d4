//! Throw-away databases for tests: a fresh SQLite file in a temporary directory, or a fresh
//! schema in the PostgreSQL database named by `LINLI_TEST_PG_URL`. Used by the store, web and
//! CLI tests alike, so every one of them can run on both backends.
//!
//! A PostgreSQL half never passes by skipping. Each crate with tests has a build script that
//! sets the cfg `linli_pg` when `LINLI_TEST_PG_URL` is set at build time; without it the
//! PostgreSQL halves are marked `#[ignore]`, so `cargo test` counts them as ignored at the end
//! of its run, and `.ci/run` fails on any ignored test. A half compiled to run that finds no
//! URL at run time fails.

use linli_core::kernel::clock::now_ms;
use std::path::PathBuf;

use crate::infra::secret::{random_token, Keyring};
use crate::Db;

/// The environment variable naming the PostgreSQL database tests may use.
pub const PG_URL_VAR: &str = "LINLI_TEST_PG_URL";

/// A fresh key, also written to `dir/linli.key` so the `linli` binary finds the same one.
fn test_key(dir: &std::path::Path) -> Keyring {
    let (keys, hex) = Keyring::generate();
    std::fs::create_dir_all(dir).expect("create test dir");
    std::fs::write(dir.join(crate::infra::secret::KEY_FILE), hex).expect("write test key");
    keys
}

/// A migrated, empty database, removed by [`TestDb::finish`] or, when a test panics before it
/// gets there, when it is dropped.
pub struct TestDb {
    pub db: Db,
    /// For SQLite: the data directory (the CLI tests pass it as `--data`).
    pub dir: PathBuf,
    schema: Option<String>,
    finished: bool,
}

impl TestDb {
    /// A fresh SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let t = TestDb::sqlite_until(i64::MAX).await;
        t.db.migrate(now_ms()).await.expect("migrate sqlite");
        t.db.check_key().await.expect("record the key");
        t
    }

    /// A fresh SQLite database with the schema migrations up to `version` only, as an earlier
    /// release left it (an upgrade test fills it, then runs `Db::migrate`).
    pub async fn sqlite_until(version: i64) -> TestDb {
        let dir = std::env::temp_dir().join(format!("linli-test-{}", random_token(8)));
        let db = Db::open_sqlite_dir(&dir)
            .await
            .expect("open sqlite")
            .with_keys(test_key(&dir));
        db.migrate_schema_until(version)
            .await
            .expect("migrate sqlite");
        TestDb {
            db,
            dir,
            schema: None,
            finished: false,
        }
    }

    /// A fresh schema in the PostgreSQL test database. Panics when `LINLI_TEST_PG_URL` is not
    /// set: a PostgreSQL test without its database fails, it does not pass.
    pub async fn postgres() -> TestDb {
        let t = TestDb::postgres_until(i64::MAX).await;
        t.db.migrate(now_ms()).await.expect("migrate postgres");
        t.db.check_key().await.expect("record the key");
        t
    }

    /// [`TestDb::sqlite_until`] on PostgreSQL.
    pub async fn postgres_until(version: i64) -> TestDb {
        let url = TestDb::pg_url();
        let schema = format!("t_{}", random_token(8));
        let dir = std::env::temp_dir().join(format!("linli-test-{schema}"));
        let db = Db::connect(&url, Some(&schema))
            .await
            .expect("connect postgres")
            .with_keys(test_key(&dir));
        db.migrate_schema_until(version)
            .await
            .expect("migrate postgres");
        TestDb {
            db,
            dir,
            schema: Some(schema),
            finished: false,
        }
    }

    /// A copy of a SQLite data directory an earlier release made (`linli.db` and its key,
    /// `linli.key`) in a new temporary directory, opened with that key and not migrated: an
    /// upgrade test runs `Db::migrate` on it.
    pub async fn sqlite_copy_of(from: &std::path::Path) -> TestDb {
        let dir = std::env::temp_dir().join(format!("linli-test-{}", random_token(8)));
        std::fs::create_dir_all(&dir).expect("create test dir");
        for file in ["linli.db", crate::infra::secret::KEY_FILE] {
            std::fs::copy(from.join(file), dir.join(file)).expect("copy the fixture");
        }
        let keys = Keyring::from_hex(
            &std::fs::read_to_string(dir.join(crate::infra::secret::KEY_FILE))
                .expect("read the fixture key"),
        )
        .expect("a valid fixture key");
        let db = Db::open_sqlite_dir(&dir)
            .await
            .expect("open sqlite")
            .with_keys(keys);
        TestDb {
            db,
            dir,
            schema: None,
            finished: false,
        }
    }

    /// [`TestDb::sqlite_copy_of`] on PostgreSQL: a fresh schema into which `dump` is replayed,
    /// opened with `keys` and not migrated. `dump` is plain SQL as `pg_dump --inserts` writes
    /// it, with the `public.` qualifiers and the `search_path` setting removed, so it lands in
    /// the schema of the connection (see `tests/fixtures/README.md`).
    pub async fn postgres_from_dump(dump: &str, keys: Keyring) -> TestDb {
        let url = TestDb::pg_url();
        let schema = format!("t_{}", random_token(8));
        let dir = std::env::temp_dir().join(format!("linli-test-{schema}"));
        let db = Db::connect(&url, Some(&schema))
            .await
            .expect("connect postgres")
            .with_keys(keys);
        let t = TestDb {
            db,
            dir,
            schema: Some(schema),
            finished: false,
        };
        // One connection on the schema, for the many statements of the dump at once.
        let mut conn =
            t.db.pg_connection()
                .await
                .expect("connect postgres")
                .expect("a PostgreSQL database");
        sqlx::raw_sql(dump)
            .execute(&mut conn)
            .await
            .expect("replay the dump");
        let _ = sqlx::Connection::close(conn).await;
        t
    }

    /// The PostgreSQL URL for tests. Panics when there is none.
    pub fn pg_url() -> String {
        match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!(
                "{PG_URL_VAR} is not set: this PostgreSQL test cannot run (build and run the \
                 tests with it set, or leave it unset at build time to have them ignored)"
            ),
        }
    }

    /// The schema of a PostgreSQL test database (for tools that connect by URL).
    pub fn pg_schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Removes the database.
    pub async fn finish(mut self) {
        if let Some(schema) = &self.schema {
            let _ = self.db.drop_schema(schema).await;
        }
        self.db.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        self.finished = true;
    }
}

impl Drop for TestDb {
    /// A test that panicked never reached `finish`: remove its directory, and its schema over a
    /// connection of its own (on a thread of its own, since this may run inside the test's
    /// runtime, which cannot be blocked on).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some(schema) = self.schema.take() else {
            return;
        };
        let Ok(url) = std::env::var(PG_URL_VAR) else {
            return;
        };
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(db) = Db::connect(&url, None).await else {
                    return;
                };
                // The panicking test's runtime is blocked on this thread: a transaction it left
                // open cannot roll back until we return, so never wait on its locks for long.
                if let Ok(mut conn) = db.pool().acquire().await {
                    let _ = sqlx::query("SET lock_timeout = '3s'")
                        .execute(&mut *conn)
                        .await;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut *conn)
                        .await;
                }
                db.close().await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs one async test body on SQLite and on PostgreSQL: `both_backends!(name, |db| async move {…})`
/// defines `name::sqlite` and `name::postgres` (the latter ignored when the tests were built
/// without `LINLI_TEST_PG_URL`; see the module's notes).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let t = $crate::testing::TestDb::sqlite().await;
                ($body)(t.db.clone()).await;
                t.finish().await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(linli_pg),
                ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
            )]
            async fn postgres() {
                let t = $crate::testing::TestDb::postgres().await;
                ($body)(t.db.clone()).await;
                t.finish().await;
            }
        }
    };
}

/// Creates a node as the operator: how the store, web and CLI tests grow their trees.
pub async fn node(
    db: &Db,
    parent: Option<i64>,
    kind: &str,
    name: &str,
    code: Option<&str>,
) -> crate::tree::Node {
    node_opened(db, parent, kind, name, code, None).await
}

/// [`node`], opened on `opened_on` (`YYYY-MM-DD`) when given.
pub async fn node_opened(
    db: &Db,
    parent: Option<i64>,
    kind: &str,
    name: &str,
    code: Option<&str>,
    opened_on: Option<&str>,
) -> crate::tree::Node {
    let new = linli_core::NewNode::parse(linli_core::NodeInput {
        parent_id: parent,
        kind,
        name,
        code,
        opened_on,
        ..Default::default()
    })
    .expect("a valid test node");
    crate::tree::create(db, &linli_core::Scope::operator(), new, now_ms())
        .await
        .expect("the test node is stored")
}

/// Another server on `db`'s database: a new pool with its own in-process caches (the counts'
/// tallies, the principal cache) and the same keys, as a second `linli serve` behind a load
/// balancer would have — for tests that what one server writes, the other reads.
pub async fn another_server(db: &Db) -> Db {
    db.reconnect()
        .await
        .expect("a second pool on the same database")
}
