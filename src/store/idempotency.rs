//! Idempotency keys of mutations, shared by every instance on the database: a
//! key is claimed with an `INSERT` (the primary key decides a race), marked
//! executed inside every write transaction the mutation runs (`begin_write`
//! reads the claim from a task-local), answered with an `UPDATE`, and released
//! by a `DELETE` when its execution failed before writing anything.

use super::{PgStore, SqliteStore};
use crate::error::AppResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A key's row as another request finds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdemRow {
    pub request_hash: String,
    /// A write transaction of the execution committed.
    pub executed: bool,
    /// `None` while the first request is still executing.
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub body: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemClaim {
    /// The key is this request's: execute, then complete or release it.
    Claimed,
    /// Another request holds or has answered the key.
    Existing(IdemRow),
}

/// The claim of the request the current task executes, owned.
#[derive(Debug, Clone)]
pub struct CurrentClaim {
    pub scope: String,
    pub key: String,
    pub claim_id: String,
}

tokio::task_local! {
    /// Set by the idempotency middleware around a keyed mutation's execution.
    pub static CURRENT: CurrentClaim;
}

/// Marks the current task's claim executed inside the write transaction `$tx`,
/// so the mark commits (or rolls back) with the mutation's own writes.
macro_rules! mark_executed {
    ($tx:expr) => {
        if let Ok(c) = $crate::store::idempotency::CURRENT.try_with(|c| c.clone()) {
            sqlx::query(
                "UPDATE idempotency_keys SET executed = $1 \
                 WHERE scope = $2 AND key = $3 AND claim_id = $4",
            )
            .bind(true)
            .bind(&c.scope)
            .bind(&c.key)
            .bind(&c.claim_id)
            .execute(&mut *$tx)
            .await?;
        }
    };
}
pub(crate) use mark_executed;

/// One claim: who, which key, which execution.
#[derive(Debug, Clone, Copy)]
pub struct IdemKey<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub claim_id: &'a str,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose body hashes to `request_hash`. A row
    /// created before `expired_before`, or unanswered, never executed and
    /// created before `abandoned_before` (its instance died), is replaced.
    async fn idem_claim(
        &self,
        key: IdemKey<'_>,
        request_hash: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> AppResult<IdemClaim>;
    /// Stores the answer of the claim's execution.
    async fn idem_complete(
        &self,
        key: IdemKey<'_>,
        status: i64,
        content_type: Option<&str>,
        body: &str,
    ) -> AppResult<()>;
    /// Gives the key up (its execution failed), so a retry runs again; not if
    /// the execution committed a write (then the retry must not run it twice).
    async fn idem_release(&self, key: IdemKey<'_>) -> AppResult<()>;
    /// Deletes keys created before `before`.
    async fn idem_prune(&self, before: DateTime<Utc>) -> AppResult<u64>;
}

macro_rules! impl_idempotency {
    ($store:ty) => {
        #[async_trait]
        impl IdempotencyStore for $store {
            async fn idem_claim(
                &self,
                key: IdemKey<'_>,
                request_hash: &str,
                now: DateTime<Utc>,
                expired_before: DateTime<Utc>,
                abandoned_before: DateTime<Utc>,
            ) -> AppResult<IdemClaim> {
                // A row can vanish between the INSERT and the SELECT (pruned, or
                // released by a failed execution): then try again.
                for _ in 0..3 {
                    sqlx::query(
                        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
                         AND (created_at < $3 OR (status IS NULL AND executed = $5 AND created_at < $4))",
                    )
                    .bind(key.scope)
                    .bind(key.key)
                    .bind(expired_before)
                    .bind(abandoned_before)
                    .bind(false)
                    .execute(&self.pool)
                    .await?;
                    let inserted = sqlx::query(
                        "INSERT INTO idempotency_keys (scope, key, claim_id, request_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING",
                    )
                    .bind(key.scope)
                    .bind(key.key)
                    .bind(key.claim_id)
                    .bind(request_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        return Ok(IdemClaim::Claimed);
                    }
                    let row: Option<IdemRow> = sqlx::query_as(
                        "SELECT request_hash, executed, status, content_type, body, created_at \
                         FROM idempotency_keys WHERE scope = $1 AND key = $2",
                    )
                    .bind(key.scope)
                    .bind(key.key)
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(row) = row {
                        return Ok(IdemClaim::Existing(row));
                    }
                }
                Err(anyhow::anyhow!("idempotency key {:?} keeps changing hands", key.key).into())
            }

            async fn idem_complete(
                &self,
                key: IdemKey<'_>,
                status: i64,
                content_type: Option<&str>,
                body: &str,
            ) -> AppResult<()> {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = $4, content_type = $5, body = $6 \
                     WHERE scope = $1 AND key = $2 AND claim_id = $3",
                )
                .bind(key.scope)
                .bind(key.key)
                .bind(key.claim_id)
                .bind(status)
                .bind(content_type)
                .bind(body)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn idem_release(&self, key: IdemKey<'_>) -> AppResult<()> {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
                     AND claim_id = $3 AND status IS NULL AND executed = $4",
                )
                .bind(key.scope)
                .bind(key.key)
                .bind(key.claim_id)
                .bind(false)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn idem_prune(&self, before: DateTime<Utc>) -> AppResult<u64> {
                Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}

impl_idempotency!(SqliteStore);
impl_idempotency!(PgStore);
