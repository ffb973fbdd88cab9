//! The PostgreSQL backend, for production and for several instances sharing one database.

use super::db::{Db, HasDb, Pool};
use super::Store;
use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    db: Db,
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
            // No ping before every acquire (one round trip each): a connection
            // that has failed is still detected on use, as the statement errors
            // and sqlx drops the connection from the pool.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .context("cannot connect to PostgreSQL")?;
        migrate_if_needed(&pool).await?;
        let db = Db::new(Pool::Postgres(pool.clone()));
        // Live updates and the row cache's invalidations are heard from the
        // start, so the cache serves the first requests. Without LISTEN (a
        // pooler in transaction mode) the app still serves, uncached; the
        // first live subscription tries again.
        let _ = db.live.start(&pool, &db.cache).await;
        // Migration 0008 leaves the rollup of existing cases to the first start.
        super::rollup::ensure_built(&db.pool).await?;
        Ok(Self { db, pool })
    }

    /// The same store, sealing every case write with `key` from now on.
    pub fn with_audit_key(mut self, key: Option<crate::domain::seal::SealKey>) -> Self {
        self.db.seal_key = key.map(std::sync::Arc::new);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The versions of the embedded migrations this database has not applied
/// (successfully, with the same checksum). Reads only: an app role without
/// DDL rights can call it.
pub async fn pending_migrations(pool: &PgPool) -> anyhow::Result<Vec<i64>> {
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .context("reading the migration state")?;
    let applied: Vec<(i64, Vec<u8>, bool)> = if exists {
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(pool)
            .await
            .context("reading _sqlx_migrations")?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .filter(|m| {
            !applied
                .iter()
                .any(|(v, sum, ok)| *v == m.version && *ok && sum[..] == m.checksum[..])
        })
        .map(|m| m.version)
        .collect())
}

/// Applies the pending migrations, if any. With none pending nothing is
/// written (no DDL, no lock), so an app role that owns nothing starts; with
/// some pending and a role that may not apply them, one clear error.
pub async fn migrate_if_needed(pool: &PgPool) -> anyhow::Result<()> {
    let pending = pending_migrations(pool).await?;
    if pending.is_empty() {
        return Ok(());
    }
    if let Err(e) = MIGRATOR.run(pool).await {
        let list: Vec<String> = pending.iter().map(|v| format!("{v:04}")).collect();
        anyhow::bail!(
            "PostgreSQL migrations {} are not applied and this database role could not apply them ({e}): run `dxdesk migrate` as the owner role (DXDESK_MIGRATE_DATABASE_URL) first",
            list.join(", ")
        );
    }
    Ok(())
}

impl HasDb for PgStore {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Store for PgStore {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }
    fn pool_stats(&self) -> crate::metrics::PoolStats {
        let pool = self.pool();
        crate::metrics::PoolStats {
            size: pool.size(),
            idle: pool.num_idle() as u32,
            max: pool.options().get_max_connections(),
        }
    }
}
