//! The rows nearly every request reads again — its token's access check and
//! the viewer's lab — kept in memory on PostgreSQL, where each read is a
//! round trip. Triggers on `labs`, `users` and `refresh_sessions` (migration
//! 0017) notify [`CHANNEL`] with the key of every row changed, whoever writes
//! it (an instance, the CLI, psql); each instance's `LISTEN` connection (the
//! one of live updates, [`super::live`]) drops what a notification names.
//!
//! The cache is consulted only while that `LISTEN` is in place, and emptied
//! when it is lost, so a change committed while nobody listened is never
//! missed. A row read while a notification for it arrives is not kept (the
//! generation check of [`RowCache::ticket`]). The writing instance also
//! empties its own cache right after its commit, so its next request cannot
//! see the old row before its own notification is heard. Entries live at
//! most [`MAX_AGE`]. [`super::live::heard_all`] waits until every change
//! committed before it has been heard (a `sync:<id>` notification comes back
//! after all notifications of earlier commits). SQLite keeps no cache: its reads are local, and another
//! process may write the file unseen.

use super::models::{LabRow, UserRow};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The PostgreSQL notification channel the triggers notify.
pub const CHANNEL: &str = "dxdesk_cache";
/// The payload prefix of [`super::live::heard_all`]'s barrier: it names no row.
pub const SYNC: &str = "sync:";
/// Longest an entry is used without being read again.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// Entries per map before it is emptied (a bound, not a working size).
const MAX_ENTRIES: usize = 10_000;

/// What a notification names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Lab(Uuid),
    /// The user's row or one of its sessions.
    User(Uuid),
    /// A table was emptied: everything.
    All,
}

impl Key {
    /// The key of a notification's payload (`lab:<id>`, `user:<id>`, `*`);
    /// anything else empties the cache, to be safe.
    pub fn parse(payload: &str) -> Self {
        let id = |s: &str| s.parse::<Uuid>().ok();
        match payload.split_once(':') {
            Some(("lab", s)) => id(s).map_or(Key::All, Key::Lab),
            Some(("user", s)) => id(s).map_or(Key::All, Key::User),
            _ => Key::All,
        }
    }
}

/// A permission to keep what is read next: taken before the read, honoured
/// only if nothing was forgotten in between.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

#[derive(Default)]
struct Inner {
    /// The `LISTEN` connection is in place.
    listening: bool,
    /// Raised by every forget.
    generation: u64,
    labs: HashMap<Uuid, (Instant, LabRow)>,
    /// Keyed by (user, session family).
    access: HashMap<(Uuid, Uuid), (Instant, UserRow)>,
}

/// One instance's cache of lab rows and access checks.
#[derive(Default)]
pub struct RowCache {
    inner: Mutex<Inner>,
    /// Waiters of [`super::live::heard_all`], by their `sync:<id>` payload.
    syncs: Mutex<HashMap<Uuid, tokio::sync::oneshot::Sender<()>>>,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache").finish_non_exhaustive()
    }
}

fn fresh<V: Clone>(entry: Option<&(Instant, V)>) -> Option<V> {
    entry
        .filter(|(at, _)| at.elapsed() < MAX_AGE)
        .map(|(_, v)| v.clone())
}

fn keep<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, (Instant, V)>, k: K, v: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(k, (Instant::now(), v));
}

impl RowCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps hold plain copies: a panic elsewhere cannot leave them half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lab(&self, id: Uuid) -> Option<LabRow> {
        fresh(self.lock().labs.get(&id))
    }

    pub fn access(&self, user: Uuid, family: Uuid) -> Option<UserRow> {
        fresh(self.lock().access.get(&(user, family)))
    }

    /// Taken before a read whose row may be kept; `None` while not listening.
    pub fn ticket(&self) -> Option<Ticket> {
        let inner = self.lock();
        inner.listening.then_some(Ticket(inner.generation))
    }

    pub fn keep_lab(&self, t: Ticket, row: &LabRow) {
        let mut inner = self.lock();
        if inner.listening && inner.generation == t.0 {
            keep(&mut inner.labs, row.id, row.clone());
        }
    }

    pub fn keep_access(&self, t: Ticket, family: Uuid, row: &UserRow) {
        let mut inner = self.lock();
        if inner.listening && inner.generation == t.0 {
            keep(&mut inner.access, (row.id, family), row.clone());
        }
    }

    /// Drops what `key` names (and voids every ticket taken before).
    pub fn forget(&self, key: Key) {
        let mut inner = self.lock();
        inner.generation += 1;
        match key {
            Key::Lab(id) => {
                inner.labs.remove(&id);
            }
            Key::User(id) => inner.access.retain(|(user, _), _| *user != id),
            Key::All => {
                inner.labs.clear();
                inner.access.clear();
            }
        }
    }

    /// The `LISTEN` connection is in place (`true`) or lost (`false`, which
    /// also empties the cache).
    pub fn set_listening(&self, on: bool) {
        self.forget(Key::All);
        self.lock().listening = on;
    }

    /// A `sync:<id>` payload to notify, and what says it was heard.
    pub fn expect_sync(&self) -> (Uuid, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = Uuid::new_v4();
        let mut syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner());
        syncs.insert(id, tx);
        (id, rx)
    }

    /// A notification's payload was `sync:<id>`: its waiter (if it is this
    /// instance's) is answered. `false` if the payload is not a sync.
    pub fn heard_sync(&self, payload: &str) -> bool {
        let Some(id) = payload.strip_prefix(SYNC) else {
            return false;
        };
        if let Ok(id) = id.parse::<Uuid>() {
            let mut syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(tx) = syncs.remove(&id) {
                let _ = tx.send(());
            }
        }
        true
    }

    /// Gives up a sync that was not heard.
    pub fn drop_sync(&self, id: Uuid) {
        let mut syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner());
        syncs.remove(&id);
    }

    /// Entries now (for tests).
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.labs.len() + inner.access.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use proptest::prelude::*;

    fn lab(id: Uuid) -> LabRow {
        LabRow {
            id,
            code: "AOM".into(),
            name: "青森".into(),
            name_en: String::new(),
            regions: sqlx::types::Json(Vec::new()),
            pickup_days: 3,
            created_at: Utc::now(),
        }
    }

    fn user(id: Uuid) -> UserRow {
        UserRow {
            id,
            lab_id: Uuid::nil(),
            email: "a@example.jp".into(),
            display_name: "窓口".into(),
            password_hash: String::new(),
            role: crate::domain::types::Role::Concierge,
            institution_id: None,
            active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn nothing_is_kept_while_not_listening() {
        let c = RowCache::default();
        assert!(c.ticket().is_none());
        c.set_listening(true);
        let t = c.ticket().unwrap();
        c.set_listening(false);
        c.keep_lab(t, &lab(Uuid::nil()));
        assert!(c.is_empty());
    }

    #[test]
    fn a_row_read_across_a_forget_is_not_kept() {
        let c = RowCache::default();
        c.set_listening(true);
        let (l, u, f) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let t = c.ticket().unwrap();
        c.forget(Key::Lab(Uuid::now_v7()));
        c.keep_lab(t, &lab(l));
        c.keep_access(t, f, &user(u));
        assert!(c.is_empty());
        let t = c.ticket().unwrap();
        c.keep_lab(t, &lab(l));
        c.keep_access(t, f, &user(u));
        assert_eq!(c.lab(l).unwrap().id, l);
        assert_eq!(c.access(u, f).unwrap().id, u);
        assert!(c.access(u, Uuid::now_v7()).is_none());
    }

    #[test]
    fn losing_the_listen_connection_empties_the_cache() {
        let c = RowCache::default();
        c.set_listening(true);
        c.keep_lab(c.ticket().unwrap(), &lab(Uuid::now_v7()));
        c.set_listening(false);
        assert!(c.is_empty());
        c.set_listening(true);
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn a_sync_payload_answers_its_waiter_only() {
        let c = RowCache::default();
        let (id, rx) = c.expect_sync();
        assert!(!c.heard_sync(&format!("user:{id}")));
        assert!(c.heard_sync(&format!("sync:{}", Uuid::new_v4())));
        assert!(c.heard_sync(&format!("sync:{id}")));
        rx.await.unwrap();
        let (id, rx) = c.expect_sync();
        c.drop_sync(id);
        assert!(rx.await.is_err());
    }

    #[test]
    fn payloads_name_keys_and_anything_else_is_everything() {
        let id = Uuid::now_v7();
        assert_eq!(Key::parse(&format!("lab:{id}")), Key::Lab(id));
        assert_eq!(Key::parse(&format!("user:{id}")), Key::User(id));
        assert_eq!(Key::parse("*"), Key::All);
        assert_eq!(Key::parse("lab:nonsense"), Key::All);
        assert_eq!(Key::parse(""), Key::All);
    }

    proptest! {
        /// After any sequence of reads kept and keys forgotten, an entry is
        /// present only if it was kept after the last forget that names it.
        #[test]
        fn a_forgotten_key_is_never_served(ops in prop::collection::vec((0u8..4, 0usize..3), 0..40)) {
            let c = RowCache::default();
            c.set_listening(true);
            let users: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
            let family = Uuid::nil();
            let mut present = [false; 3];
            for (op, i) in ops {
                match op {
                    0 | 1 => {
                        c.keep_access(c.ticket().unwrap(), family, &user(users[i]));
                        present[i] = true;
                    }
                    2 => {
                        c.forget(Key::User(users[i]));
                        present[i] = false;
                    }
                    _ => {
                        // A read that a forget of another user overtakes is not kept.
                        let t = c.ticket().unwrap();
                        c.forget(Key::User(users[(i + 1) % 3]));
                        present[(i + 1) % 3] = false;
                        c.keep_access(t, family, &user(users[i]));
                    }
                }
                for (k, u) in users.iter().enumerate() {
                    prop_assert_eq!(c.access(*u, family).is_some(), present[k]);
                }
            }
        }
    }
}
