//! The PostgreSQL backend, for production and for several instances sharing one database.

use super::Store;
use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let opts = PgConnectOptions::from_str(url).with_context(|| {
            format!(
                "DATABASE_URL {:?} is not a valid PostgreSQL URL",
                crate::config::redact_url(url)
            )
        })?;
        Self::connect_with(opts).await
    }

    pub async fn connect_with(opts: PgConnectOptions) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .context("cannot connect to PostgreSQL")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying PostgreSQL migrations")?;
        Ok(Self { pool })
    }

    /// What a `SELECT` appends to lock the rows it reads until commit (SQLite's
    /// `BEGIN IMMEDIATE` already holds the database's write lock).
    pub(crate) const LOCK_ROWS: &'static str = " FOR UPDATE";

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // A keyed mutation's claim is marked executed with its own writes.
        super::idempotency::mark_executed!(tx);
        Ok(tx)
    }
}

impl Store for PgStore {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
