//! Group commit of `openCase`: concurrent intakes of one lab and (Japan-time)
//! year queue up while a batch is being written, and the next batch writes
//! them all in one short transaction — the reference counter raised once by
//! N, one multi-row insert per table, one commit (one fsync) for all. Every
//! caller gets its own answer only after that commit. No window is waited
//! for: an intake that finds the lane idle is written at once (a batch of
//! one), so batching only happens when intakes would otherwise queue on the
//! counter row's lock anyway.
//!
//! One bad item fails alone: the items checkable before the counter (an
//! existing business that is gone) are answered before the transaction; if
//! the batch transaction fails before its commit, it rolls back and every
//! item is retried on its own (a batch of one), so only the item the
//! database refuses gets the error. Several instances on one database stay
//! correct: the counter row lock orders their batches.
//!
//! Idempotency keys: each item carries its request's claim (the task-local
//! `idempotency::CURRENT` of the caller), and the batch marks the claims of
//! its items executed inside its own transaction.
//!
//! Where other per-case writes go: [`item_rows`] builds every row one intake
//! writes (per table, merged into one insert per table); [`write_batch`]
//! holds the places for per-batch statements (aggregates) and for what runs
//! after the commit (notifications).

use super::*;
use crate::domain::events::{EventPayload, Opened};
use crate::store::db::{mark_executed, Db};
use crate::store::idempotency::{CurrentClaim, CURRENT};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::oneshot;
use tracing::Instrument;

/// Most intakes written in one transaction.
pub const MAX_BATCH: usize = 64;
/// Most bind values in one statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BINDS: usize = 30_000;

/// The queues of intakes waiting for their lane's writer, per (lab, year).
#[derive(Default)]
pub struct IntakeQueue {
    lanes: Mutex<HashMap<(Uuid, i32), Lane>>,
    /// Intakes taken by a writer whose batch is not finished.
    writing: std::sync::atomic::AtomicUsize,
}

impl IntakeQueue {
    /// Intakes queued and not yet taken by a writer (for metrics and tests).
    pub fn queued(&self) -> usize {
        let lanes = self.lanes.lock().expect("intake lanes");
        lanes.values().map(|l| l.pending.len()).sum()
    }

    /// Intakes taken by a writer whose batch is not finished (for tests; the
    /// answers are sent just before the batch finishes).
    pub fn writing(&self) -> usize {
        self.writing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// No intake queued or being written, and no writer running (for tests:
    /// an intake that arrives while a writer is still running is written by
    /// that writer, in its task).
    pub fn idle(&self) -> bool {
        let lanes = self.lanes.lock().expect("intake lanes");
        lanes.is_empty() && self.writing() == 0
    }
}

impl std::fmt::Debug for IntakeQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeQueue").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Lane {
    pending: VecDeque<Item>,
    /// A writer task is draining this lane.
    running: bool,
}

struct Item {
    new: NewCase,
    claim: Option<CurrentClaim>,
    reply: oneshot::Sender<AppResult<CaseSnapshot>>,
}

/// Queues `new` on its lane and waits for the commit that wrote it.
pub(super) async fn open(db: &Db, new: NewCase) -> AppResult<CaseSnapshot> {
    let claim = CURRENT.try_with(|c| c.clone()).ok();
    let key = (new.lab_id, crate::domain::jst::date_of(new.now).year());
    let (reply, answer) = oneshot::channel();
    let start = {
        let mut lanes = db.intake.lanes.lock().expect("intake lanes");
        let lane = lanes.entry(key).or_default();
        lane.pending.push_back(Item { new, claim, reply });
        !std::mem::replace(&mut lane.running, true)
    };
    if start {
        // A task of its own, so that a caller that goes away (a closed
        // connection) cannot abort a transaction that holds other intakes.
        let span = tracing::info_span!("intake_writer");
        tokio::spawn(drain(db.clone(), key).instrument(span));
    }
    answer.await.unwrap_or_else(|_| {
        Err(AppError::internal(anyhow::anyhow!(
            "the intake writer stopped before answering"
        )))
    })
}

/// Clears the lane's `running` flag if its writer panics, so that the next
/// intake starts a new writer instead of waiting forever.
struct RunningGuard<'a> {
    db: &'a Db,
    key: (Uuid, i32),
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(mut lanes) = self.db.intake.lanes.lock() {
                if let Some(lane) = lanes.get_mut(&self.key) {
                    lane.running = false;
                }
            }
        }
    }
}

/// Writes the lane's batches until it is empty.
async fn drain(db: Db, key: (Uuid, i32)) {
    let _guard = RunningGuard { db: &db, key };
    loop {
        let batch: Vec<Item> = {
            let mut lanes = db.intake.lanes.lock().expect("intake lanes");
            let Some(lane) = lanes.get_mut(&key) else {
                return;
            };
            if lane.pending.is_empty() {
                lanes.remove(&key);
                return;
            }
            let n = lane.pending.len().min(MAX_BATCH);
            lane.pending.drain(..n).collect()
        };
        let n = batch.len();
        db.intake
            .writing
            .fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        write_batch(&db, batch).await;
        db.intake
            .writing
            .fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Why a batch was not written.
enum Failed {
    /// Rolled back before the commit: the items may be tried again one by one.
    Retry(AppError),
    /// The commit failed: whether it took effect is unknown, so no retry.
    Final(AppError),
}

/// Writes one batch and answers every item of it.
async fn write_batch(db: &Db, items: Vec<Item>) {
    let news: Vec<(&NewCase, Option<&CurrentClaim>)> =
        items.iter().map(|i| (&i.new, i.claim.as_ref())).collect();
    match try_batch(db, &news).await {
        Ok(answers) => {
            for (item, answer) in items.into_iter().zip(answers) {
                let _ = item.reply.send(answer);
            }
            // After the commit, per written case (live updates, wake-ups): here.
        }
        Err(Failed::Retry(_)) if items.len() > 1 => {
            tracing::warn!(
                items = items.len(),
                "an intake batch failed; writing its items one by one"
            );
            for item in items {
                Box::pin(write_batch(db, vec![item])).await;
            }
        }
        Err(Failed::Retry(e) | Failed::Final(e)) => {
            for item in items {
                let _ = item.reply.send(Err(e.clone()));
            }
        }
    }
}

/// The batch transaction: businesses, then the counter (its row lock is held
/// from here to the commit), then one insert per table. One answer per item:
/// an item refused before the counter is answered with its error and written
/// no row, and its idempotency claim is not marked executed.
async fn try_batch(
    db: &Db,
    items: &[(&NewCase, Option<&CurrentClaim>)],
) -> Result<Vec<AppResult<CaseSnapshot>>, Failed> {
    let retry = |e: sqlx::Error| Failed::Retry(e.into());
    let news: Vec<&NewCase> = items.iter().map(|i| i.0).collect();
    let mut tx = db.pool.begin_write_for(&[]).await.map_err(retry)?;
    let answers: Vec<AppResult<BusinessRow>> =
        businesses(&mut tx, &news).await.map_err(Failed::Retry)?;
    let live = answers.iter().filter(|a| a.is_ok()).count();
    if live == 0 {
        return Ok(answers
            .into_iter()
            .map(|a| a.map(|_| unreachable!()))
            .collect());
    }
    let claims: Vec<CurrentClaim> = items
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.is_ok())
        .filter_map(|((_, c), _)| c.cloned())
        .collect();
    mark_executed(&mut tx, &claims).await.map_err(retry)?;
    let (lab_id, now) = (news[0].lab_id, news[0].now);
    let year = crate::domain::jst::date_of(now).year();
    let live = i64::try_from(live).expect("a small batch");
    let last = reserve_references(&mut tx, lab_id, year, live)
        .await
        .map_err(retry)?;
    let mut seq = last - live;
    let mut rows = TableRows::default();
    let out: Vec<AppResult<CaseSnapshot>> = answers
        .into_iter()
        .zip(&news)
        .map(|(business, &new)| {
            business.map(|business| {
                seq += 1;
                let reference =
                    crate::domain::reference::format_reference(&new.lab_code, year, seq);
                item_rows(&mut rows, db.seal_key.as_deref(), new, business, reference)
            })
        })
        .collect();
    rows.insert_all(&mut tx).await.map_err(retry)?;
    // Rows other features keep in the same transaction, one statement per
    // table for the whole batch: the search index, the report's rollup (an
    // opening moves no stage) and the notifications the intakes cause.
    let written: Vec<(&CaseSnapshot, &NewCase)> = out
        .iter()
        .zip(&news)
        .filter_map(|(snap, new)| snap.as_ref().ok().map(|s| (s, *new)))
        .collect();
    let indexed: Vec<(&CaseRow, &str)> = written
        .iter()
        .map(|(s, _)| (&s.case, s.business.name.as_str()))
        .collect();
    crate::store::search::index_new_cases(&mut tx, &indexed)
        .await
        .map_err(Failed::Retry)?;
    let snaps: Vec<&CaseSnapshot> = written.iter().map(|(s, _)| *s).collect();
    crate::store::rollup::new_cases(&mut tx, &snaps, now)
        .await
        .map_err(Failed::Retry)?;
    let opened: Vec<(&CaseSnapshot, Option<&str>, DateTime<Utc>)> = written
        .iter()
        .map(|(s, new)| (*s, new.mail_access_code.as_deref(), new.now))
        .collect();
    crate::store::outbox::after_open_many(&mut tx, &opened)
        .await
        .map_err(Failed::Retry)?;
    // Per-batch statements (aggregates over the batch's cases) go here.
    let signals: Vec<crate::store::live::Signal> = out
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .map(|s| {
            crate::store::live::Signal::new(
                s.case.lab_id,
                s.case.id,
                [crate::domain::types::EventKind::Opened],
            )
        })
        .collect();
    crate::store::live::commit_many(tx, db, signals)
        .await
        .map_err(|e| Failed::Final(AppError::from(e)))?;
    Ok(out)
}

/// Raises the lab-year counter by `n`; the last reference number reserved.
async fn reserve_references(tx: &mut Tx, lab_id: Uuid, year: i32, n: i64) -> sqlx::Result<i64> {
    let (last,): (i64,) = Sql::default()
        .insert(
            "case_counters",
            vec![
                ("lab_id", lab_id.into()),
                ("year", i64::from(year).into()),
                ("last_seq", n.into()),
            ],
        )
        .push(" ON CONFLICT (lab_id, year) DO UPDATE SET last_seq = case_counters.last_seq + ")
        .bind(n)
        .push(" RETURNING last_seq")
        .fetch_one(&mut *tx)
        .await?;
    Ok(last)
}

/// The business of every item: existing ones read in one statement, new ones
/// inserted in one (a corporate number the lab already has — also one an
/// earlier item of the batch registers — inserts nothing: that business is
/// used and its blank fields are filled in, one update per such business).
async fn businesses(tx: &mut Tx, news: &[&NewCase]) -> AppResult<Vec<AppResult<BusinessRow>>> {
    let lab_id = news[0].lab_id;
    let mut out: Vec<AppResult<BusinessRow>> = news
        .iter()
        .map(|_| Err(AppError::not_found("事業者", "Business")))
        .collect();
    let existing: Vec<Uuid> = news
        .iter()
        .filter_map(|n| match n.business {
            BusinessChoice::Existing(id) => Some(id),
            BusinessChoice::New(_) => None,
        })
        .collect();
    if !existing.is_empty() {
        let found: Vec<BusinessRow> = sql(&format!(
            "SELECT {BUSINESS_COLS} FROM businesses WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" AND erased_at IS NULL AND id IN (")
        .bind_list(existing.iter().copied())
        .push(")")
        .fetch_all(&mut *tx)
        .await?;
        let found: HashMap<Uuid, BusinessRow> = found.into_iter().map(|b| (b.id, b)).collect();
        for (i, n) in news.iter().enumerate() {
            if let BusinessChoice::Existing(id) = n.business {
                if let Some(b) = found.get(&id) {
                    out[i] = Ok(b.clone());
                }
            }
        }
    }
    let fresh: Vec<(usize, BusinessRow)> = news
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match &n.business {
            BusinessChoice::New(b) => {
                let mut b = b.clone();
                b.lab_id = lab_id;
                Some((i, b))
            }
            BusinessChoice::Existing(_) => None,
        })
        .collect();
    if fresh.is_empty() {
        return Ok(out);
    }
    // Inserted unless the lab already knows the corporate number — also when
    // a concurrent writer registered it a moment ago: the insert then waits
    // for that writer and does nothing.
    let mut inserted: Vec<Uuid> = Vec::with_capacity(fresh.len());
    for chunk in chunks(&fresh, business_row(&fresh[0].1).len()) {
        let ids: Vec<(Uuid,)> = Sql::default()
            .insert_many(
                "businesses",
                chunk.iter().map(|(_, b)| business_row(b)).collect(),
            )
            .push(
                " ON CONFLICT (lab_id, corporate_number) \
                 WHERE corporate_number IS NOT NULL AND erased_at IS NULL \
                 DO NOTHING RETURNING id",
            )
            .fetch_all(&mut *tx)
            .await?;
        inserted.extend(ids.into_iter().map(|r| r.0));
    }
    let mut known: Vec<(usize, BusinessRow)> = Vec::new();
    for (i, b) in fresh {
        if inserted.contains(&b.id) {
            // Its primary contact, and the link to an erased record of the same number.
            crate::store::business::after_intake(tx, &b, true).await?;
            out[i] = Ok(b);
        } else {
            known.push((i, b));
        }
    }
    if known.is_empty() {
        return Ok(out);
    }
    let numbers: Vec<String> = known
        .iter()
        .filter_map(|(_, b)| b.corporate_number.clone())
        .collect();
    let rows: Vec<BusinessRow> = sql(&format!(
        "SELECT {BUSINESS_COLS} FROM businesses WHERE lab_id = "
    ))
    .bind(lab_id)
    .push(" AND erased_at IS NULL AND corporate_number IN (")
    .bind_list(numbers)
    .push(")")
    .fetch_all(&mut *tx)
    .await?;
    let mut by_number: HashMap<String, BusinessRow> = rows
        .into_iter()
        .filter_map(|b| b.corporate_number.clone().map(|n| (n, b)))
        .collect();
    let mut touched: Vec<String> = Vec::new();
    for (i, b) in known {
        let number = b
            .corporate_number
            .clone()
            .expect("only numbered rows conflict");
        let k = by_number
            .get_mut(&number)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("business vanished")))?;
        // Fill in what the record lacked; keep what it had.
        let fill = |old: &mut Option<String>, new: &Option<String>| {
            if old.is_none() {
                old.clone_from(new);
            }
        };
        fill(&mut k.industry, &b.industry);
        fill(&mut k.employee_band, &b.employee_band);
        fill(&mut k.municipality, &b.municipality);
        fill(&mut k.region, &b.region);
        fill(&mut k.contact_name, &b.contact_name);
        fill(&mut k.email, &b.email);
        fill(&mut k.phone, &b.phone);
        k.updated_at = news[i].now;
        out[i] = Ok(k.clone());
        if !touched.contains(&number) {
            touched.push(number);
        }
    }
    for number in touched {
        write_business(tx, &by_number[&number], false).await?;
        crate::store::business::after_intake(tx, &by_number[&number], false).await?;
    }
    Ok(out)
}

/// Rows of `cols` columns in statements of at most [`MAX_BINDS`] binds.
fn chunks<T>(rows: &[T], cols: usize) -> std::slice::Chunks<'_, T> {
    rows.chunks((MAX_BINDS / cols.max(1)).clamp(1, MAX_BATCH * 16))
}

/// Rows to insert, per table, in the order the tables first appear (so that
/// a row comes after the rows it references).
#[derive(Default)]
pub struct TableRows {
    tables: Vec<(&'static str, Vec<Vec<Col>>)>,
}

impl TableRows {
    pub fn push(&mut self, table: &'static str, row: Vec<Col>) {
        match self.tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, rows)) => rows.push(row),
            None => self.tables.push((table, vec![row])),
        }
    }

    /// One multi-row insert per table (more past [`MAX_BINDS`]).
    async fn insert_all(self, tx: &mut Tx) -> sqlx::Result<()> {
        for (table, rows) in self.tables {
            let cols = rows.first().map_or(1, Vec::len);
            for chunk in chunks(&rows, cols) {
                Sql::default()
                    .insert_many(table, chunk.to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Everything one intake writes once its business and reference are known:
/// the case row (already carrying its first event's chain values), its
/// topics, its `OPENED` event and its seal — and returns the case as stored.
/// A per-case row another feature keeps (an outbox message, search tokens)
/// is one more `rows.push(table, row)` here.
fn item_rows(
    rows: &mut TableRows,
    key: Option<&crate::domain::seal::SealKey>,
    new: &NewCase,
    business: BusinessRow,
    reference: String,
) -> CaseSnapshot {
    let mut topics = new.topics.clone();
    topics.sort();
    let opened = NewEvent::new(
        new.actor,
        EventPayload::Opened(Opened {
            reference: reference.clone(),
            stage: new.stage,
            channel: new.channel,
            consent_to_share: new.consent_to_share,
            priority: new.priority,
            topics: new.topics.clone(),
        }),
    );
    let (event_rows, event_count, last_event_hash) = chain_rows(
        new.lab_id,
        new.id,
        0,
        GENESIS.to_owned(),
        std::slice::from_ref(&opened),
        new.now,
    );
    let case = CaseRow {
        id: new.id,
        lab_id: new.lab_id,
        reference,
        business_id: business.id,
        title: new.title.clone(),
        description: new.description.clone(),
        channel: new.channel,
        stage: new.stage,
        status: new.status,
        priority: new.priority,
        assigned_to: new.assigned_to,
        consent_to_share: new.consent_to_share,
        consent_at: new.consent_to_share.then_some(new.now),
        consent_by: if new.consent_to_share {
            new.consent_by
        } else {
            None
        },
        email_updates: new.email_updates,
        access_code_hash: new.access_code_hash.clone(),
        outcomes: sqlx::types::Json(Vec::new()),
        outcome_summary: None,
        version: 1,
        event_count,
        last_event_hash,
        created_by: new.actor,
        created_at: new.now,
        updated_at: new.now,
        resolved_at: None,
        closed_at: None,
        has_pending: false,
    };
    rows.push("cases", case_row(&case, None));
    for t in &topics {
        rows.push(
            "case_topics",
            vec![
                ("case_id", new.id.into()),
                ("lab_id", new.lab_id.into()),
                ("topic", t.into()),
            ],
        );
    }
    for r in event_rows {
        rows.push("case_events", r);
    }
    let snap = CaseSnapshot {
        case,
        topics,
        referrals: Vec::new(),
        business,
    };
    if let Some(key) = key {
        rows.push("case_seals", seal_row(key, &snap, &[], new.now));
    }
    snap
}
