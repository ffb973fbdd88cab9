//! Live updates' delivery: every committed case write announces a small
//! [`Signal`] (lab, case, event kinds — ids and enum values only) to the
//! subscribers of every instance. PostgreSQL: `pg_notify` inside the writing
//! transaction (delivered on commit, never for a rollback) and one `LISTEN`
//! connection per instance fanning out through a tokio broadcast, reconnecting
//! when lost; SQLite (one instance): the same broadcast, sent after commit.
//! A signal only says "look again": subscribers re-read through the service.
//! The same `LISTEN` connection hears the row cache's invalidations
//! ([`super::cache`]), and tells the cache when it is lost and back.

use super::cache::{Key, RowCache};
use super::db::{sql, Db, HasDb, Pool, Tx};
use crate::domain::types::EventKind;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, OnceCell};
use uuid::Uuid;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "dxdesk_live";
/// Signals a slow subscriber may fall behind by before it is told to re-read everything.
const BUFFER: usize = 1024;
/// Wait between attempts to re-open a lost `LISTEN` connection.
const RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// What a committed write announces: the payload of the notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub lab: Uuid,
    pub case: Uuid,
    /// The stored names of the kinds of the events the write appended.
    pub kinds: Vec<String>,
}

impl Signal {
    pub fn new(lab: Uuid, case: Uuid, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        Self {
            lab,
            case,
            kinds: kinds.into_iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }

    pub fn has(&self, kind: EventKind) -> bool {
        self.kinds.iter().any(|k| k == kind.as_str())
    }
}

/// What a subscriber hears.
#[derive(Debug, Clone)]
pub enum Heard {
    Signal(Arc<Signal>),
    /// Signals may have been missed (the `LISTEN` connection was lost and is
    /// back, or the subscriber fell behind): re-read everything.
    Resync,
}

/// One instance's fan-out of signals to its subscribers.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Heard>,
    /// Set once this instance's `LISTEN` connection is listening (PostgreSQL only).
    listening: Arc<OnceCell<()>>,
    /// Never sent on: its receivers learn that the hub is gone when it is
    /// dropped, which ends the `LISTEN` task (and returns its connection).
    alive: Arc<watch::Sender<()>>,
    /// The server process of the `LISTEN` connection now (0 before it opens).
    pid: Arc<AtomicI32>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            listening: Arc::new(OnceCell::new()),
            alive: Arc::new(watch::channel(()).0),
            pid: Arc::new(AtomicI32::new(0)),
        }
    }
}

impl Hub {
    /// Opens this instance's `LISTEN` connection once (PostgreSQL): live
    /// updates and the row cache's invalidations from now on are heard.
    pub async fn start(&self, pool: &sqlx::PgPool, cache: &Arc<RowCache>) -> AppResult<()> {
        self.listening
            .get_or_try_init(|| {
                start_listener(Task {
                    pool: pool.clone(),
                    tx: self.tx.downgrade(),
                    cache: cache.clone(),
                    alive: self.alive.subscribe(),
                    pid: self.pid.clone(),
                })
            })
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(error = %e, "cannot LISTEN for live updates and the row cache");
                AppError::internal(anyhow::anyhow!("LISTEN {CHANNEL}: {e}"))
            })
    }

    /// The PostgreSQL server process (`pg_stat_activity.pid`) of this
    /// instance's `LISTEN` connection, once open: what an operator (or a
    /// test) terminates to see the reconnect.
    pub fn listen_pid(&self) -> Option<i32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

/// Commits a case write and announces it: on PostgreSQL the notification is
/// sent inside the transaction (so it is delivered exactly when the write
/// commits), on SQLite the broadcast follows the commit. The one call
/// `open_case`/`update_case` make instead of `tx.commit()`.
/// [`commit`] for a write of several cases (a batch of intakes): one signal each.
pub async fn commit_many(mut tx: Tx, db: &Db, signals: Vec<Signal>) -> sqlx::Result<()> {
    let postgres = matches!(tx.dialect(), super::db::Dialect::Postgres);
    let mut payloads = Vec::with_capacity(signals.len());
    for signal in &signals {
        payloads.push(serde_json::to_string(signal).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
    }
    if postgres {
        for payload in payloads {
            sql("SELECT pg_notify(")
                .bind(CHANNEL)
                .push(", ")
                .bind(payload)
                .push(")")
                .execute(&mut tx)
                .await?;
        }
    }
    tx.commit().await?;
    if !postgres {
        for signal in signals {
            let _ = db.live.tx.send(Heard::Signal(Arc::new(signal)));
        }
    }
    Ok(())
}

pub async fn commit(mut tx: Tx, db: &Db, signal: Signal) -> sqlx::Result<()> {
    if signal.kinds.is_empty() {
        // A write that appended no event (an edit that changed nothing) has nothing to say.
        return tx.commit().await;
    }
    let payload = serde_json::to_string(&signal).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let local = match tx.dialect() {
        super::db::Dialect::Postgres => {
            sql("SELECT pg_notify(")
                .bind(CHANNEL)
                .push(", ")
                .bind(payload)
                .push(")")
                .execute(&mut tx)
                .await?;
            false
        }
        super::db::Dialect::Sqlite => true,
    };
    tx.commit().await?;
    if local {
        // No receiver is not an error: nobody is subscribed.
        let _ = db.live.tx.send(Heard::Signal(Arc::new(signal)));
    }
    Ok(())
}

#[async_trait]
pub trait LiveStore: Send + Sync {
    /// A receiver of every signal committed from now on (on PostgreSQL, once
    /// this instance's `LISTEN` is in place, so nothing committed after this
    /// returns is missed).
    async fn live_subscribe(&self) -> AppResult<broadcast::Receiver<Heard>>;
}

#[async_trait]
impl<S: HasDb> LiveStore for S {
    async fn live_subscribe(&self) -> AppResult<broadcast::Receiver<Heard>> {
        let db = self.db();
        let rx = db.live.tx.subscribe();
        if let Pool::Postgres(pool) = &db.pool {
            db.live.start(pool, &db.cache).await?;
        }
        Ok(rx)
    }
}

/// Waits until this instance has heard every change to the cached rows
/// committed before the call (PostgreSQL delivers notifications in commit
/// order, so a `sync:<id>` notified now comes back after them all); at once
/// on SQLite, which keeps no cache. For tests and tools that need one
/// instance to see another's writes.
pub async fn heard_all(db: &Db) -> AppResult<()> {
    let Pool::Postgres(pool) = &db.pool else {
        return Ok(());
    };
    db.live.start(pool, &db.cache).await?;
    let (id, heard) = db.cache.expect_sync();
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(super::cache::CHANNEL)
        .bind(format!("{}{id}", super::cache::SYNC))
        .execute(pool)
        .await;
    if let Err(e) = sent {
        db.cache.drop_sync(id);
        return Err(e.into());
    }
    match tokio::time::timeout(Duration::from_secs(10), heard).await {
        Ok(Ok(())) => Ok(()),
        _ => {
            db.cache.drop_sync(id);
            Err(AppError::internal(anyhow::anyhow!(
                "LISTEN {}: the sync notification was not heard",
                super::cache::CHANNEL
            )))
        }
    }
}

/// What the `LISTEN` task holds: weak or shared handles, so that it ends when
/// the hub is gone.
struct Task {
    pool: sqlx::PgPool,
    tx: broadcast::WeakSender<Heard>,
    cache: Arc<RowCache>,
    /// Only ever changes (to an error) when the hub is dropped.
    alive: watch::Receiver<()>,
    pid: Arc<AtomicI32>,
}

impl Task {
    async fn listen(&self) -> sqlx::Result<sqlx::postgres::PgListener> {
        let mut l = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        // A lost connection is reported at once (`Ok(None)`), not after sqlx
        // has waited for a new one: [`forward`] empties the cache first.
        l.eager_reconnect(false);
        l.listen_all([CHANNEL, super::cache::CHANNEL]).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut l)
            .await?;
        self.pid.store(pid, Ordering::SeqCst);
        Ok(l)
    }

    fn gone(&self) -> bool {
        self.tx.upgrade().is_none() || self.alive.has_changed().is_err()
    }
}

/// Opens the instance's `LISTEN` connection and leaves a task forwarding its
/// notifications; the task ends when the hub is gone.
async fn start_listener(task: Task) -> sqlx::Result<()> {
    let listener = task.listen().await?;
    task.cache.set_listening(true);
    tokio::spawn(forward(task, listener));
    Ok(())
}

async fn forward(mut task: Task, mut listener: sqlx::postgres::PgListener) {
    loop {
        let heard = tokio::select! {
            heard = listener.try_recv() => heard,
            // Only ever an error: the hub is gone.
            _ = task.alive.changed() => return,
        };
        let lost = match heard {
            Ok(Some(n)) if n.channel() == super::cache::CHANNEL => {
                if !task.cache.heard_sync(n.payload()) {
                    task.cache.forget(Key::parse(n.payload()));
                }
                false
            }
            Ok(Some(n)) => {
                let Some(tx) = task.tx.upgrade() else { return };
                match serde_json::from_str::<Signal>(n.payload()) {
                    Ok(s) => {
                        let _ = tx.send(Heard::Signal(Arc::new(s)));
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed live signal"),
                }
                false
            }
            Ok(None) => true,
            Err(e) => {
                tracing::warn!(error = %e, "live updates: LISTEN connection failed");
                true
            }
        };
        if !lost {
            continue;
        }
        // Nothing is heard from now until LISTEN is back: the cache is
        // emptied and not used meanwhile.
        task.cache.set_listening(false);
        task.pid.store(0, Ordering::SeqCst);
        // Re-open explicitly (rather than on the next receive), so that the
        // subscribers are told to re-read only once LISTEN is back in place:
        // a write committed after their re-read is then announced.
        drop(listener);
        listener = loop {
            if task.gone() {
                return;
            }
            match task.listen().await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: re-opening LISTEN");
                    tokio::time::sleep(RECONNECT_WAIT).await;
                }
            }
        };
        task.cache.set_listening(true);
        tracing::info!("live updates: LISTEN connection re-opened");
        let Some(tx) = task.tx.upgrade() else { return };
        let _ = tx.send(Heard::Resync);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_is_ids_and_kind_names_only() {
        let (lab, case) = (Uuid::nil(), Uuid::max());
        let s = Signal::new(lab, case, [EventKind::Referred, EventKind::StatusChanged]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"lab":"{lab}","case":"{case}","kinds":["REFERRED","STATUS_CHANGED"]}}"#)
        );
        assert!(s.has(EventKind::Referred));
        assert!(!s.has(EventKind::Opened));
        assert_eq!(serde_json::from_str::<Signal>(&json).unwrap(), s);
    }
}
