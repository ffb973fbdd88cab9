//! The SQLite backend: WAL, busy timeout, foreign keys on, writes in
//! `BEGIN IMMEDIATE` transactions so concurrent writers wait instead of failing.

use super::Store;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// Seals every case write when set (`DXDESK_AUDIT_KEY`).
    pub(crate) seal_key: Option<std::sync::Arc<crate::domain::seal::SealKey>>,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("DATABASE_URL {url:?} is not a valid SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying SQLite migrations")?;
        Ok(Self {
            pool,
            seal_key: None,
        })
    }

    /// What a `SELECT` appends to lock the rows it reads until commit (SQLite's
    /// `BEGIN IMMEDIATE` already holds the database's write lock).
    pub(crate) const LOCK_ROWS: &'static str = "";

    /// The same store, sealing every case write with `key` from now on.
    pub fn with_audit_key(mut self, key: Option<crate::domain::seal::SealKey>) -> Self {
        self.seal_key = key.map(std::sync::Arc::new);
        self
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction: takes the write lock at once, so two writers queue
    /// on the busy timeout instead of failing half-way with "database is locked".
    /// A write transaction for bookkeeping around a request (throttling
    /// counters): it does not mark an idempotency key executed, so a refused
    /// request can be retried with its key.
    pub(crate) async fn begin_bookkeeping(
        &self,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // A keyed mutation's claim is marked executed with its own writes.
        super::idempotency::mark_executed!(tx);
        Ok(tx)
    }
}

impl Store for SqliteStore {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
