//! Idempotency keys of mutations, shared by every instance on the database: a
//! key is claimed with an `INSERT` (the primary key decides a race), marked
//! executed inside every write transaction the mutation runs (`db::Pool::begin_write`
//! reads the claim from a task-local), answered with an `UPDATE`, and released
//! by a `DELETE` when its execution failed before writing anything.

use super::db::{sql, HasDb};
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

#[async_trait]
impl<S: HasDb> IdempotencyStore for S {
    #[tracing::instrument(skip_all)]
    async fn idem_claim(
        &self,
        key: IdemKey<'_>,
        request_hash: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> AppResult<IdemClaim> {
        let pool = &self.db().pool;
        // A row can vanish between the INSERT and the SELECT (pruned, or
        // released by a failed execution): then try again.
        for _ in 0..3 {
            sql("DELETE FROM idempotency_keys WHERE scope = ")
                .bind(key.scope)
                .push(" AND key = ")
                .bind(key.key)
                .push(" AND (created_at < ")
                .bind(expired_before)
                .push(" OR (status IS NULL AND executed = ")
                .bind(false)
                .push(" AND created_at < ")
                .bind(abandoned_before)
                .push("))")
                .execute(pool)
                .await?;
            let inserted = sql(
                "INSERT INTO idempotency_keys (scope, key, claim_id, request_hash, created_at) VALUES (",
            )
            .bind_list([key.scope, key.key, key.claim_id, request_hash])
            .push(", ")
            .bind(now)
            .push(") ON CONFLICT (scope, key) DO NOTHING")
            .execute(pool)
            .await?;
            if inserted == 1 {
                return Ok(IdemClaim::Claimed);
            }
            let row: Option<IdemRow> = sql(
                "SELECT request_hash, executed, status, content_type, body, created_at \
                 FROM idempotency_keys WHERE scope = ",
            )
            .bind(key.scope)
            .push(" AND key = ")
            .bind(key.key)
            .fetch_optional(pool)
            .await?;
            if let Some(row) = row {
                return Ok(IdemClaim::Existing(row));
            }
        }
        Err(anyhow::anyhow!("idempotency key {:?} keeps changing hands", key.key).into())
    }

    #[tracing::instrument(skip_all)]
    async fn idem_complete(
        &self,
        key: IdemKey<'_>,
        status: i64,
        content_type: Option<&str>,
        body: &str,
    ) -> AppResult<()> {
        sql("UPDATE idempotency_keys SET status = ")
            .bind(status)
            .push(", content_type = ")
            .bind(content_type)
            .push(", body = ")
            .bind(body)
            .push(" WHERE scope = ")
            .bind(key.scope)
            .push(" AND key = ")
            .bind(key.key)
            .push(" AND claim_id = ")
            .bind(key.claim_id)
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn idem_release(&self, key: IdemKey<'_>) -> AppResult<()> {
        sql("DELETE FROM idempotency_keys WHERE scope = ")
            .bind(key.scope)
            .push(" AND key = ")
            .bind(key.key)
            .push(" AND claim_id = ")
            .bind(key.claim_id)
            .push(" AND status IS NULL AND executed = ")
            .bind(false)
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn idem_prune(&self, before: DateTime<Utc>) -> AppResult<u64> {
        Ok(sql("DELETE FROM idempotency_keys WHERE created_at < ")
            .bind(before)
            .execute(&self.db().pool)
            .await?)
    }
}
