//! `AppState`: what every request shares — the store, the configuration, the
//! clock and the token keys. Nothing here is per-instance state a second
//! instance would need: sessions and counters live in the database.

use crate::auth::jwt::JwtKeys;
use crate::auth::password::Hasher;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::store::SharedStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub jwt: Arc<JwtKeys>,
    /// Bounds concurrent password hashes (per instance: it guards this process's memory).
    pub hasher: Arc<Hasher>,
    /// Large case-list counts, answered from memory for a minute (a cache).
    pub case_counts: Arc<crate::service::cases::count::CountCache>,
    /// Parsed GraphQL documents by query text (a cache).
    pub parsed: Arc<crate::http::parse_cache::ParseCache>,
    /// Turns for executing a GraphQL query (`ConnLimits::max_queries`).
    pub queries: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(store: SharedStore, config: Config) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: SharedStore, config: Config, clock: SharedClock) -> Self {
        let jwt = Arc::new(JwtKeys::from_config(&config));
        let hasher = Arc::new(Hasher::new(config.hash_concurrency, config.hash_queue_wait));
        let queries = Arc::new(tokio::sync::Semaphore::new(config.conn.max_queries));
        Self {
            store,
            config: Arc::new(config),
            clock,
            jwt,
            hasher,
            case_counts: Default::default(),
            parsed: Default::default(),
            queries,
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
