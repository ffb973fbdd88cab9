//! The SQLite backend: WAL, busy timeout, foreign keys on, writes in
//! `BEGIN IMMEDIATE` transactions so concurrent writers wait instead of failing.

use super::db::{Db, HasDb, Pool};
use super::Store;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    db: Db,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Bytes the WAL file is cut back to after a checkpoint lets it start over.
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Connections in the pool: two per core, from 4 to 16. SQLite writes one
/// at a time, and reads need no more connections than cores to run at once;
/// each connection keeps its own page and statement caches. Measured on two
/// cores and 10k cases (list c=50): 8 connections 380–436 req/s at a 54 MB
/// peak, 4 connections 448–460 req/s at 45 MB; openCase c=50 2,353 → 2,211/s.
fn pool_size(cores: usize) -> u32 {
    (cores * 2).clamp(4, 16) as u32
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("DATABASE_URL {url:?} is not a valid SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // The WAL file is reused, not shrunk, after each checkpoint: a burst
            // of writes (the first outbox scan of a 1M-case lab left 513 MB)
            // would otherwise keep its size on disk for good. SQLite truncates it
            // to this size when it starts over (docs/DESIGN.md, "SQLite's WAL").
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_size(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ))
            // No ping before every acquire (one round trip each): a connection
            // that has failed is still detected on use, as the statement errors
            // and sqlx drops the connection from the pool.
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying SQLite migrations")?;
        let db = Db::new(Pool::Sqlite(pool.clone()));
        // Migration 0008 leaves the rollup of existing cases to the first start.
        super::rollup::ensure_built(&db.pool).await?;
        Ok(Self { db, pool })
    }

    /// The same store, sealing every case write with `key` from now on.
    pub fn with_audit_key(mut self, key: Option<crate::domain::seal::SealKey>) -> Self {
        self.db.seal_key = key.map(std::sync::Arc::new);
        self
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl HasDb for SqliteStore {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Store for SqliteStore {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn backend(&self) -> &'static str {
        "sqlite"
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

#[cfg(test)]
mod tests {
    #[test]
    fn pool_is_two_connections_a_core_from_four_to_sixteen() {
        assert_eq!(super::pool_size(1), 4);
        assert_eq!(super::pool_size(2), 4);
        assert_eq!(super::pool_size(4), 8);
        assert_eq!(super::pool_size(64), 16);
    }

    /// Every connection of the pool caps the WAL file, not only the first.
    #[tokio::test]
    async fn every_connection_limits_the_wal_file() {
        let dir = std::env::temp_dir().join(format!("dxdesk-wal-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("wal.db").display());
        let store = super::SqliteStore::connect(&url).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..store.pool().options().get_max_connections() {
            let mut c = store.pool().acquire().await.unwrap();
            let (limit,): (i64,) = sqlx::query_as("PRAGMA journal_size_limit")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            assert_eq!(u64::try_from(limit).unwrap(), super::WAL_SIZE_LIMIT);
            held.push(c);
        }
        drop(held);
        store.pool().close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
