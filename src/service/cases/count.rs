//! `totalCount` of the case list: exact up to [`EXACT_UP_TO`] cases, an
//! estimate above (shown as 「約12,000件」). Counting a million cases takes a
//! fifth of a second, so a large list is counted once and the
//! number kept per lab and filter for [`FRESH`]; when it is older the next
//! request still answers from it at once and one background task recounts.
//! A small list is counted each time (at most `EXACT_UP_TO + 1` index
//! entries read), so the number a person checks by eye is always exact.
//! The store counts a lab-wide list filtered by stage, status or channel from
//! the report rollup's cells (`store::rollup::case_count_sql`), a few ms at
//! 1M cases instead of a full count.

use crate::error::AppResult;
use crate::state::AppState;
use crate::store::CaseQuery;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lists of at most this many cases are counted exactly on every request.
pub const EXACT_UP_TO: i64 = 1000;
/// How long a large count is answered from memory before it is recounted.
pub const FRESH: Duration = Duration::from_secs(60);
/// Filters remembered at most (the whole memory is dropped past it).
const MAX_KEYS: usize = 4096;

/// The number of cases a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseTotal {
    pub n: i64,
    /// False when `n` is above [`EXACT_UP_TO`]: counted at most [`FRESH`] ago
    /// (plus one recount) and shown as an estimate.
    pub exact: bool,
}

#[derive(Clone, Copy)]
struct Entry {
    n: i64,
    at: Instant,
    refreshing: bool,
}

/// Large counts by lab and filter, for this process.
#[derive(Default)]
pub struct CountCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The filter as a key: everything but the time `overdue` is measured at.
fn key_of(q: &CaseQuery) -> String {
    let mut k = q.clone();
    k.now = Default::default();
    format!("{k:?}")
}

impl CountCache {
    fn get(&self, key: &str) -> Option<Entry> {
        self.entries.lock().unwrap().get(key).copied()
    }

    fn put(&self, key: String, n: i64) {
        let mut m = self.entries.lock().unwrap();
        if m.len() >= MAX_KEYS && !m.contains_key(&key) {
            m.clear();
        }
        m.insert(
            key,
            Entry {
                n,
                at: Instant::now(),
                refreshing: false,
            },
        );
    }

    /// Marks the entry as being recounted; false when a recount already runs.
    fn claim_refresh(&self, key: &str) -> bool {
        let mut m = self.entries.lock().unwrap();
        match m.get_mut(key) {
            Some(e) if !e.refreshing => {
                e.refreshing = true;
                true
            }
            _ => false,
        }
    }

    fn forget(&self, key: &str) {
        self.entries.lock().unwrap().remove(key);
    }
}

/// The total of the list `q` (already narrowed to the viewer's scope).
pub async fn total(st: &AppState, q: &CaseQuery) -> AppResult<CaseTotal> {
    total_with(st, q, EXACT_UP_TO).await
}

/// [`total`] with another limit of exact counting (tests use a small one).
pub async fn total_with(st: &AppState, q: &CaseQuery, exact_up_to: i64) -> AppResult<CaseTotal> {
    let cache = &st.case_counts;
    let key = key_of(q);
    if let Some(e) = cache.get(&key).filter(|e| e.n > exact_up_to) {
        if e.at.elapsed() > FRESH && cache.claim_refresh(&key) {
            let (st2, q2, key2) = (st.clone(), q.clone(), key.clone());
            tokio::spawn(async move {
                match st2.store.count_cases(&q2).await {
                    Ok(n) if n > exact_up_to => st2.case_counts.put(key2, n),
                    Ok(_) => st2.case_counts.forget(&key2),
                    Err(e) => {
                        tracing::warn!(error = ?e, "recounting a case list failed");
                        st2.case_counts.forget(&key2);
                    }
                }
            });
        }
        return Ok(CaseTotal {
            n: e.n,
            exact: false,
        });
    }
    let n = st.store.count_cases_up_to(q, exact_up_to + 1).await?;
    if n <= exact_up_to {
        return Ok(CaseTotal { n, exact: true });
    }
    let n = st.store.count_cases(q).await?;
    if n > exact_up_to {
        cache.put(key, n);
    }
    Ok(CaseTotal {
        n,
        exact: n <= exact_up_to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_key_ignores_the_time_and_tells_filters_apart() {
        let a = CaseQuery {
            lab_id: Uuid::nil(),
            now: chrono::Utc::now(),
            ..Default::default()
        };
        let b = CaseQuery {
            now: a.now + chrono::Duration::seconds(5),
            ..a.clone()
        };
        assert_eq!(key_of(&a), key_of(&b));
        let c = CaseQuery {
            search: Some("在庫".into()),
            ..a.clone()
        };
        assert_ne!(key_of(&a), key_of(&c));
    }

    #[test]
    fn only_one_recount_at_a_time() {
        let c = CountCache::default();
        c.put("k".into(), 5000);
        assert!(c.claim_refresh("k"));
        assert!(!c.claim_refresh("k"));
        c.put("k".into(), 5001);
        assert!(c.claim_refresh("k"));
        assert!(!c.claim_refresh("missing"));
    }
}
