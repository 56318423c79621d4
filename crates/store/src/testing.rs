//! Throw-away databases for tests: a fresh SQLite file in a temporary directory, or a fresh
//! schema in the PostgreSQL database named by `LINLI_TEST_PG_URL`. Used by the store, web and
//! CLI tests alike, so every one of them can run on both backends.

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

/// A migrated, empty database that is removed by [`TestDb::finish`].
pub struct TestDb {
    pub db: Db,
    /// For SQLite: the data directory (the CLI tests pass it as `--data`).
    pub dir: PathBuf,
    schema: Option<String>,
}

impl TestDb {
    /// A fresh SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("linli-test-{}", random_token(8)));
        let db = Db::open_sqlite_dir(&dir)
            .await
            .expect("open sqlite")
            .with_keys(test_key(&dir));
        db.migrate().await.expect("migrate sqlite");
        db.check_key().await.expect("record the key");
        TestDb {
            db,
            dir,
            schema: None,
        }
    }

    /// A fresh schema in the PostgreSQL test database, or `None` (with a notice on stderr) when
    /// `LINLI_TEST_PG_URL` is not set.
    pub async fn postgres() -> Option<TestDb> {
        let url = TestDb::pg_url()?;
        let schema = format!("t_{}", random_token(8));
        let dir = std::env::temp_dir().join(format!("linli-test-{schema}"));
        let db = Db::connect(&url, Some(&schema))
            .await
            .expect("connect postgres")
            .with_keys(test_key(&dir));
        db.migrate().await.expect("migrate postgres");
        db.check_key().await.expect("record the key");
        Some(TestDb {
            db,
            dir,
            schema: Some(schema),
        })
    }

    /// The PostgreSQL URL for tests, printing a notice when there is none.
    pub fn pg_url() -> Option<String> {
        match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => {
                eprintln!(
                    "notice: {PG_URL_VAR} is not set; skipping the PostgreSQL run of this test"
                );
                None
            }
        }
    }

    /// The schema of a PostgreSQL test database (for tools that connect by URL).
    pub fn pg_schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Removes the database.
    pub async fn finish(self) {
        if let Some(schema) = &self.schema {
            let _ = self.db.drop_schema(schema).await;
        }
        self.db.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one async test body on SQLite and on PostgreSQL: `both_backends!(name, |db| async move {…})`
/// defines `name::sqlite` and `name::postgres` (the latter skipped with a notice when no
/// PostgreSQL URL is set).
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
            async fn postgres() {
                let Some(t) = $crate::testing::TestDb::postgres().await else {
                    return;
                };
                ($body)(t.db.clone()).await;
                t.finish().await;
            }
        }
    };
}
