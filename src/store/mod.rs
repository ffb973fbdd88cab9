//! Storage: the `Store` trait of domain operations (split by area into
//! sub-traits) and its two implementations, SQLite (`sqlite.rs`) and PostgreSQL
//! (`postgres.rs`), chosen from the database URL at start.
//!
//! Each area's SQL is written once, as plain functions over the seam in
//! [`db`] (a pool or transaction of either backend and a query builder that
//! numbers its binds per dialect), and implemented once for every backend
//! store (`impl<S: HasDb> … for S`), so the two cannot drift. The domain
//! rules SQL needs come from [`rules`].

pub mod accounts;
#[cfg(feature = "bench")]
pub mod bulk;
pub mod business;
pub mod cache;
pub mod case_list;
pub mod case_models;
pub mod cases;
pub mod codec;
pub mod db;
pub mod directory;
pub mod idempotency;
pub mod live;
pub mod models;
pub mod outbox;
pub mod postgres;
pub mod reports;
pub mod roles;
pub mod rollup;
pub mod rules;
pub mod search;
pub mod sqlite;

use crate::config::{backend_of, Backend};
use std::sync::Arc;

pub use accounts::AccountStore;
pub use business::{
    BusinessChange, BusinessRecord, BusinessStore, ContactRow, DecideBusiness, DuplicateProbe,
    HistoryRow,
};
pub use case_list::{CaseListStore, ListedCase, PageWith};
pub use case_models::*;
pub use cases::CaseStore;
pub use directory::DirectoryStore;
pub use idempotency::{IdemClaim, IdemKey, IdemRow, IdempotencyStore};
pub use live::LiveStore;
pub use models::*;
pub use outbox::OutboxStore;
pub use postgres::PgStore;
pub use reports::{ReportScope, ReportStore};
pub use sqlite::SqliteStore;

/// Every domain operation the service needs from storage.
pub trait Store:
    DirectoryStore
    + CaseStore
    + CaseListStore
    + BusinessStore
    + ReportStore
    + IdempotencyStore
    + OutboxStore
    + LiveStore
    + AccountStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// For tests and tools that need the concrete backend (its pool).
    fn as_any(&self) -> &dyn std::any::Any;
    /// The pool's connections now, for `/metrics`.
    fn pool_stats(&self) -> crate::metrics::PoolStats;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the database the URL names, applies the migrations and returns the store.
pub async fn connect(url: &str) -> anyhow::Result<SharedStore> {
    Ok(match backend_of(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url).await?),
    })
}

/// [`connect`] to the configured database, sealing case writes with the
/// configured `DXDESK_AUDIT_KEY` (if any).
pub async fn connect_for(config: &crate::config::Config) -> anyhow::Result<SharedStore> {
    let key = config.audit_key.clone();
    let url = config.database_url.as_str();
    Ok(match backend_of(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?.with_audit_key(key)),
        Backend::Postgres => Arc::new(PgStore::connect(url).await?.with_audit_key(key)),
    })
}

/// `dxdesk migrate`: opens the database at `url` (applying the migrations)
/// and, on PostgreSQL, grants `app_role` the app's rights (see [`roles`]).
pub async fn migrate(url: &str, app_role: Option<&str>) -> anyhow::Result<()> {
    match backend_of(url)? {
        Backend::Sqlite => {
            SqliteStore::connect(url).await?;
            if app_role.is_some() {
                anyhow::bail!("SQLite has no roles: the database file's permissions are the boundary (let only the app's user read and write it)");
            }
        }
        Backend::Postgres => {
            let store = PgStore::connect(url).await?;
            if let Some(role) = app_role {
                roles::grant_app_role(store.pool(), role).await?;
            }
        }
    }
    Ok(())
}

/// Runs `<head> (<one bind per id>) <tail>` and returns the rows; an empty id
/// list returns no rows without a query. Used by every "load by ids" read
/// (the DataLoaders' batches).
pub(crate) async fn fetch_in<T: db::Rows>(
    pool: &db::Pool,
    head: &str,
    ids: &[uuid::Uuid],
    tail: &str,
) -> Result<Vec<T>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = db::sql(head);
    q.push(" (")
        .bind_list(ids.iter().copied())
        .push(") ")
        .push(tail);
    q.fetch_all(pool).await
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A write's result, with a unique-constraint violation turned into the
/// user-facing conflict `on_duplicate` describes.
pub(crate) fn unique_or<T>(
    res: Result<T, sqlx::Error>,
    on_duplicate: impl FnOnce() -> crate::error::AppError,
) -> crate::error::AppResult<T> {
    match res {
        Err(e) if is_unique_violation(&e) => Err(on_duplicate()),
        other => Ok(other?),
    }
}
