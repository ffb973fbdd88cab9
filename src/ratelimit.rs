//! Throttling counted in the database, so that every instance sees the same
//! count: logins, status look-ups, web submissions and password resets.
//!
//! Every limit is record-and-check in one step (`Store::rate_take`, a
//! transaction holding the key's row lock): an attempt takes a slot *before*
//! the work it guards, so concurrent requests cannot all pass a check that
//! none of them has recorded yet. A slot can be given back afterwards
//! (`release`) when the attempt turned out not to count (a correct password,
//! a submission refused for its content).

use crate::error::{AppError, AppResult};
use crate::store::{RateTake, RateWindow, Store};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// A limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bucket: &'static str,
    pub max: i64,
    pub window: Duration,
}

// Login throttling (issue 11): failures are counted per account and per
// (account, address); an address the account signed in from before is not held
// back by the account's count (the owner is not refused because of someone
// else's guessing elsewhere); the per-address limit counts *different*
// accounts failed from it (spraying), with a higher threshold. See
// `auth::service::login` and the README's "Login throttling".

/// Failed logins per account from addresses it has not signed in from: past
/// it, such addresses are refused until the window moves on (the account is
/// slowed, not closed: its known addresses still get in). A successful login
/// clears it.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    bucket: "login-account",
    max: 10,
    window: Duration::minutes(15),
};
/// Failed logins per (account, address), known addresses included.
pub const LOGIN_PER_ACCOUNT_ADDRESS: Limit = Limit {
    bucket: "login-account-address",
    max: 10,
    window: Duration::minutes(15),
};
/// Different accounts that failed to sign in from one address (password
/// spraying); an account's own known address is not held back by it.
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    bucket: "login-address",
    max: 50,
    window: Duration::minutes(15),
};

/// `caseStatus` look-ups per client address, every attempt counted (aliases
/// one by one): bounds the work one address can cause.
pub const STATUS_PER_ADDRESS: Limit = Limit {
    bucket: "status-address",
    max: 10,
    window: Duration::minutes(1),
};
/// Failed `caseStatus` look-ups per client address, over all references.
pub const STATUS_FAILS_PER_ADDRESS: Limit = Limit {
    bucket: "status-fail-address",
    max: 20,
    window: Duration::hours(1),
};
/// Failed `caseStatus` look-ups per (reference, client address).
pub const STATUS_FAILS_PER_REFERENCE_ADDRESS: Limit = Limit {
    bucket: "status-fail-ref-address",
    max: 5,
    window: Duration::minutes(15),
};
/// The per-reference ceiling: once a reference collected this many failures
/// (from all addresses) in the window, an address may only try it while it has
/// no failure of its own on it. An address that has not failed on the
/// reference — its owner's — is never refused by the ceiling.
pub const STATUS_FAILS_PER_REFERENCE: Limit = Limit {
    bucket: "status-fail-reference",
    max: 30,
    window: Duration::minutes(15),
};
/// Web-form consultations per client address.
pub const SUBMIT_PER_ADDRESS: Limit = Limit {
    bucket: "submit-address",
    max: 5,
    window: Duration::hours(1),
};
/// Password-reset requests per account (for the reset flow; same primitive).
pub const PASSWORD_RESET_PER_ACCOUNT: Limit = Limit {
    bucket: "reset-account",
    max: 3,
    window: Duration::hours(1),
};
/// Password-reset requests per client address.
pub const PASSWORD_RESET_PER_ADDRESS: Limit = Limit {
    bucket: "reset-address",
    max: 10,
    window: Duration::hours(1),
};

/// A hit that `take` recorded, which `release` can give back.
#[derive(Debug, Clone)]
pub struct Slot {
    bucket: &'static str,
    key: String,
    token: String,
    /// Hits the key held in the window before this one.
    prior: i64,
}

impl Slot {
    /// How many hits the key held in the window before this slot was taken.
    pub fn prior(&self) -> i64 {
        self.prior
    }
}

/// Seconds until the oldest hit of the window leaves it (at least 1).
pub fn retry_after(window: Duration, oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
    let until = oldest.unwrap_or(now) + window;
    (until - now).num_seconds().max(1) as u64
}

fn refused(limit: Limit, w: RateWindow, now: DateTime<Utc>) -> AppError {
    crate::metrics::rate_limit_refused(limit.bucket);
    AppError::RateLimited {
        retry_after: retry_after(limit.window, w.oldest, now),
    }
}

async fn take_inner(
    store: &dyn Store,
    limit: Limit,
    max: i64,
    key: &str,
    now: DateTime<Utc>,
    count_refused: bool,
) -> AppResult<Slot> {
    let token = Uuid::new_v4().to_string();
    let taken = store
        .rate_take(&RateTake {
            bucket: limit.bucket,
            key,
            token: &token,
            at: now,
            since: now - limit.window,
            max,
            count_refused,
        })
        .await?;
    if !taken.allowed {
        return Err(refused(limit, taken.before, now));
    }
    Ok(Slot {
        bucket: limit.bucket,
        key: key.to_owned(),
        token,
        prior: taken.before.count,
    })
}

/// Takes a slot: records the attempt and lets it through while the key holds
/// fewer than `limit.max` hits in the window, atomically; else `RATE_LIMITED`
/// (and the refused attempt is not counted).
pub async fn take(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Slot> {
    take_inner(store, limit, limit.max, key, now, false).await
}

/// `take` with a tighter maximum than the limit's own (at most `limit.max`).
pub async fn take_at_most(
    store: &dyn Store,
    limit: Limit,
    max: i64,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Slot> {
    take_inner(store, limit, max.min(limit.max), key, now, false).await
}

/// Counts one hit, refused or not, and refuses when it went over the limit
/// (for look-ups where every attempt counts), atomically.
pub async fn hit_and_check(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    take_inner(store, limit, limit.max, key, now, true)
        .await
        .map(|_| ())
}

/// Gives a slot back: the attempt does not count after all.
pub async fn release(store: &dyn Store, slot: &Slot) -> AppResult<()> {
    store
        .rate_release(slot.bucket, &slot.key, &slot.token)
        .await
}

/// Records a hit without a check (an event that only feeds another decision,
/// like a reference's failure count).
pub async fn record(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store.rate_hit(limit.bucket, key, now).await
}

/// How many hits the key holds in the limit's window.
pub async fn count(
    store: &dyn Store,
    limit: Limit,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    Ok(store
        .rate_window(limit.bucket, key, now - limit.window)
        .await?
        .count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_counts_from_the_oldest_hit() {
        let now = Utc::now();
        let w = Duration::minutes(15);
        assert_eq!(retry_after(w, Some(now - Duration::minutes(5)), now), 600);
        assert_eq!(retry_after(w, None, now), 900);
        assert_eq!(retry_after(w, Some(now - Duration::minutes(20)), now), 1);
    }
}
