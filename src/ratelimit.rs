//! Throttling counted in the database, so that every instance sees the same
//! count: failed logins, status look-ups and web submissions.

use crate::error::{AppError, AppResult};
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};

/// A limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bucket: &'static str,
    pub max: i64,
    pub window: Duration,
}

pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    bucket: "login-account",
    max: 10,
    window: Duration::minutes(15),
};
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    bucket: "login-address",
    max: 10,
    window: Duration::minutes(15),
};

fn retry_after(limit: Limit, oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
    let until = oldest.unwrap_or(now) + limit.window;
    (until - now).num_seconds().max(1) as u64
}

/// Refuses with `RATE_LIMITED` when the key holds more than `allowed` hits in the window.
async fn refuse_beyond(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
    allowed: i64,
) -> AppResult<()> {
    let w = store
        .rate_window(limit.bucket, key, now - limit.window)
        .await?;
    if w.count > allowed {
        return Err(AppError::RateLimited {
            retry_after: retry_after(limit, w.oldest, now),
        });
    }
    Ok(())
}

/// Refuses with `RATE_LIMITED` when the key already used up its window.
pub async fn check(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refuse_beyond(store, limit, key, now, limit.max - 1).await
}

/// Counts one hit, then refuses when it went over the limit (for look-ups where
/// every attempt counts, even the refused ones).
pub async fn hit_and_check(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store.rate_hit(limit.bucket, key, now).await?;
    refuse_beyond(store, limit, key, now, limit.max).await
}

/// Records a hit without checking (a failed login).
pub async fn record(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store.rate_hit(limit.bucket, key, now).await
}

/// `caseStatus` look-ups per reference (every attempt counts, aliases one by one).
pub const STATUS_PER_REFERENCE: Limit = Limit {
    bucket: "status-reference",
    max: 10,
    window: Duration::minutes(1),
};
/// `caseStatus` look-ups per client address.
pub const STATUS_PER_ADDRESS: Limit = Limit {
    bucket: "status-address",
    max: 10,
    window: Duration::minutes(1),
};
/// Web-form consultations per client address.
pub const SUBMIT_PER_ADDRESS: Limit = Limit {
    bucket: "submit-address",
    max: 5,
    window: Duration::hours(1),
};
