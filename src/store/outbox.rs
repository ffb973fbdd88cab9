//! The notification outbox: rows derived from a case change and written in
//! its transaction ([`after_open_many`], [`after_change`]), and what the worker of
//! every instance needs — leasing due rows (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the write lock on SQLite: one statement for both), expanding an
//! audience into one message per recipient, marking the outcome — plus the
//! preferences, webhooks and the admin's view.

use super::case_models::{CaseChange, CaseSnapshot, NewEvent};
use super::db::{sql, Col, Dialect, HasDb, Sql, Tx, Val};
use crate::domain::events::EventPayload;
use crate::domain::notify::NotifyKind;
use crate::domain::types::{Channel, NoteVisibility, ReferralStatus, Role};
use crate::error::AppResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;
use std::sync::LazyLock;
use uuid::Uuid;

/// `DXDESK_OUTBOX=off` writes no outbox rows at all (for the benchmark that
/// measures what the outbox adds to a write); anything else keeps it on.
pub static ENABLED: LazyLock<bool> =
    LazyLock::new(|| !matches!(std::env::var("DXDESK_OUTBOX").as_deref(), Ok("off" | "0")));

/// A row to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub lab_id: Uuid,
    pub kind: NotifyKind,
    /// `EMAIL`, `WEBHOOK` or `FANOUT` (an audience the worker expands).
    pub channel: &'static str,
    pub dedupe_key: String,
    pub case_id: Option<Uuid>,
    pub recipient_user_id: Option<Uuid>,
    pub recipient: Option<String>,
    pub payload: Value,
}

impl NewOutbox {
    pub fn fanout(
        lab_id: Uuid,
        kind: NotifyKind,
        key: String,
        case: Option<Uuid>,
        payload: Value,
    ) -> Self {
        NewOutbox {
            lab_id,
            kind,
            channel: "FANOUT",
            dedupe_key: key,
            case_id: case,
            recipient_user_id: None,
            recipient: None,
            payload,
        }
    }

    fn row(&self, now: DateTime<Utc>) -> Vec<Col> {
        vec![
            ("id", Uuid::now_v7().into()),
            ("lab_id", self.lab_id.into()),
            ("kind", self.kind.as_str().into()),
            ("channel", self.channel.into()),
            ("dedupe_key", (&self.dedupe_key).into()),
            ("case_id", self.case_id.into()),
            ("recipient_user_id", self.recipient_user_id.into()),
            ("recipient", (&self.recipient).into()),
            ("payload", Val::json(&self.payload)),
            ("status", "PENDING".into()),
            ("attempts", 0_i64.into()),
            ("next_attempt_at", now.into()),
            ("created_at", now.into()),
        ]
    }
}

/// Inserts `rows` in one statement; a row whose `dedupe_key` exists is left
/// out (enqueueing is idempotent). No rows: no statement.
pub async fn enqueue(tx: &mut Tx, rows: &[NewOutbox], now: DateTime<Utc>) -> AppResult<u64> {
    insert_rows(tx, rows.iter().map(|r| r.row(now)).collect()).await
}

/// Inserts outbox rows (as [`NewOutbox::row`] gives them) in one statement,
/// leaving out a row whose `dedupe_key` exists; no rows, or the outbox off:
/// no statement.
async fn insert_rows(tx: &mut Tx, rows: Vec<Vec<Col>>) -> AppResult<u64> {
    if rows.is_empty() || !*ENABLED {
        return Ok(0);
    }
    let n = Sql::default()
        .insert_many("outbox", rows)
        .push(" ON CONFLICT (dedupe_key) DO NOTHING")
        .execute(&mut *tx)
        .await?;
    Ok(n)
}

/// The audience of a fan-out row, kept in its payload under `audience`.
pub fn audience_institution(id: Uuid) -> Value {
    json!({ "institution": id })
}

fn case_link(case_id: Uuid) -> String {
    format!("/cases/{case_id}")
}

/// The rows an intake causes: the desk hears of a web-form consultation, and
/// a business that agreed to be mailed (`email_updates`) gets its reference —
/// with the access code only from the web form, where the business typed the
/// address itself (`access_code` is `None` for a desk intake).
pub fn for_open(snap: &CaseSnapshot, access_code: Option<&str>) -> Vec<NewOutbox> {
    let c = &snap.case;
    let mut out = Vec::new();
    if c.channel == Channel::WebForm {
        let mut p = json!({
            "caseId": c.id, "reference": c.reference, "title": c.title, "link": case_link(c.id),
        });
        p["audience"] = json!({ "concierges": true });
        out.push(NewOutbox::fanout(
            c.lab_id,
            NotifyKind::WebConsultation,
            format!("webform:{}", c.id),
            Some(c.id),
            p,
        ));
    }
    if !c.email_updates || snap.business.erased_at.is_some() {
        return out;
    }
    if let Some(email) = snap.business.mail_address() {
        out.push(NewOutbox {
            lab_id: c.lab_id,
            kind: NotifyKind::BusinessReference,
            channel: "EMAIL",
            dedupe_key: format!("bizref:{}", c.id),
            case_id: Some(c.id),
            recipient_user_id: None,
            recipient: Some(email.to_owned()),
            payload: json!({
                "reference": c.reference, "title": c.title, "accessCode": access_code,
                "link": "/status", "lang": "JA",
            }),
        });
    }
    out
}

/// The webhook body (version 1) of one event for one institution. Holds what
/// the institution's users may read: the case's reference, title, stage and
/// status, and that institution's own referral; never notes or other
/// institutions' referrals.
#[allow(clippy::too_many_arguments)]
pub fn webhook_body(
    snap: &CaseSnapshot,
    title: &str,
    status: &str,
    ev: &NewEvent,
    seq: i64,
    institution: Uuid,
    referral: Option<&super::case_models::ReferralRow>,
    now: DateTime<Utc>,
) -> Value {
    let c = &snap.case;
    let mut event = json!({ "seq": seq, "kind": ev.kind });
    if let Ok(EventPayload::NoteAdded(n)) = EventPayload::from_json(ev.kind, &ev.payload) {
        event["noteVisibility"] = json!(n.visibility);
    }
    json!({
        "version": 1,
        "id": format!("{}:{seq}", c.id),
        "type": ev.kind,
        "occurredAt": now,
        "institutionId": institution,
        "case": { "id": c.id, "reference": c.reference, "title": title, "status": status },
        "referral": referral.map(|r| json!({
            "id": r.id, "status": r.status, "pickupDeadline": r.pickup_deadline,
            "reason": r.reason, "decidedAt": r.decided_at,
        })),
        "event": event,
    })
}

/// The rows a case change causes (see the module doc of `service::notify`
/// for who hears what). Pure: `snap` is the locked state before the change.
pub fn for_change(snap: &CaseSnapshot, change: &CaseChange, now: DateTime<Utc>) -> Vec<NewOutbox> {
    let before = &snap.case;
    let case = change.case.as_ref().unwrap_or(before);
    let (lab, case_id) = (before.lab_id, before.id);
    let title = case.title.as_str();
    // The referrals as they stand after the change.
    let mut referrals = snap.referrals.clone();
    for r in &change.updated_referrals {
        if let Some(slot) = referrals.iter_mut().find(|x| x.id == r.id) {
            *slot = r.clone();
        }
    }
    referrals.extend(change.new_referrals.iter().cloned());
    let has_pending = referrals
        .iter()
        .any(|r| r.status == ReferralStatus::Pending);
    let status = crate::domain::case_state::displayed_status(case.status, has_pending);
    let status_s = serde_json::to_value(status).unwrap_or(Value::Null);
    let status_s = status_s.as_str().unwrap_or("").to_owned();
    let business_mail =
        (case.email_updates && snap.business.erased_at.is_none() && change.redact_notes.is_none())
            .then(|| change.business.as_ref().unwrap_or(&snap.business))
            .and_then(|b| b.mail_address().map(str::to_owned));
    let mut out = Vec::new();
    for (i, ev) in change.events.iter().enumerate() {
        let seq = before.event_count + 1 + i as i64;
        let Ok(payload) = EventPayload::from_json(ev.kind, &ev.payload) else {
            continue;
        };
        let base = json!({
            "caseId": case_id, "reference": before.reference, "title": title,
            "link": case_link(case_id),
        });
        // Institutions hearing of this event by webhook.
        let mut hooks: Vec<Uuid> = Vec::new();
        match &payload {
            EventPayload::Referred(r) => {
                let deadline = referrals
                    .iter()
                    .find(|x| x.id == r.referral_id)
                    .map(|x| x.pickup_deadline);
                let mut p = base.clone();
                p["referralId"] = json!(r.referral_id);
                p["institutionName"] = json!(r.institution_name);
                p["deadline"] = json!(deadline);
                p["audience"] = audience_institution(r.institution_id);
                out.push(NewOutbox::fanout(
                    lab,
                    NotifyKind::ReferralArrived,
                    format!("arrived:{}", r.referral_id),
                    Some(case_id),
                    p,
                ));
                hooks.push(r.institution_id);
            }
            EventPayload::Accepted(r) | EventPayload::Declined(r) | EventPayload::Completed(r) => {
                let row = referrals.iter().find(|x| x.id == r.referral_id);
                let mut p = base.clone();
                p["referralId"] = json!(r.referral_id);
                p["institutionName"] = json!(r.institution_name);
                p["status"] = json!(r.status);
                p["reason"] = json!(r.reason);
                p["note"] = json!(row.and_then(|x| x.decision_note.clone()));
                p["summary"] = json!(row.and_then(|x| x.summary.clone()));
                p["audience"] = json!({ "assignee": case.assigned_to });
                out.push(NewOutbox::fanout(
                    lab,
                    NotifyKind::ReferralAnswered,
                    format!(
                        "answered:{}:{}",
                        r.referral_id,
                        json!(r.status).as_str().unwrap_or("")
                    ),
                    Some(case_id),
                    p,
                ));
                hooks.push(r.institution_id);
            }
            EventPayload::Withdrawn(r) => hooks.push(r.institution_id),
            EventPayload::NoteAdded(n) if n.visibility == NoteVisibility::Desk => {}
            _ => {
                for r in &referrals {
                    if crate::domain::referral_state::partner_can_see(r.status)
                        && !hooks.contains(&r.institution_id)
                    {
                        hooks.push(r.institution_id);
                    }
                }
            }
        }
        for inst in hooks {
            let referral = referrals
                .iter()
                .filter(|r| r.institution_id == inst)
                .max_by_key(|r| (r.created_at, r.id));
            let body = webhook_body(snap, title, &status_s, ev, seq, inst, referral, now);
            out.push(NewOutbox::fanout(
                lab,
                NotifyKind::WebhookEvent,
                format!("hook:{case_id}:{seq}:{inst}"),
                Some(case_id),
                json!({ "audience": { "webhooks": inst }, "body": body }),
            ));
        }
        // The business hears of public milestones.
        if let Some(email) = &business_mail {
            let public = !matches!(
                payload,
                EventPayload::Updated(_)
                    | EventPayload::NoteAdded(_)
                    | EventPayload::AccessCodeRotated
                    | EventPayload::PersonalDataErased(_)
                    | EventPayload::Opened(_)
            );
            if public {
                out.push(NewOutbox {
                    lab_id: lab,
                    kind: NotifyKind::BusinessMilestone,
                    channel: "EMAIL",
                    dedupe_key: format!("milestone:{case_id}:{seq}"),
                    case_id: Some(case_id),
                    recipient_user_id: None,
                    recipient: Some(email.clone()),
                    payload: json!({
                        "reference": before.reference, "eventKind": ev.kind,
                        "eventPayload": ev.payload, "link": "/status", "lang": "JA",
                    }),
                });
            }
        }
    }
    out
}

/// The outbox rows of cases opened together (a batch of intakes), in one
/// statement: `(case, its access code for the mail, the intake's time)`.
pub async fn after_open_many(
    tx: &mut Tx,
    opened: &[(&CaseSnapshot, Option<&str>, DateTime<Utc>)],
) -> AppResult<()> {
    let rows: Vec<Vec<Col>> = opened
        .iter()
        .flat_map(|(snap, code, now)| for_open(snap, *code).into_iter().map(move |r| r.row(*now)))
        .collect();
    insert_rows(tx, rows).await?;
    Ok(())
}

/// The outbox rows of a case change, written in its transaction.
pub async fn after_change(
    tx: &mut Tx,
    snap: &CaseSnapshot,
    change: &CaseChange,
    now: DateTime<Utc>,
) -> AppResult<()> {
    enqueue(tx, &for_change(snap, change, now), now).await?;
    Ok(())
}

pub const OUTBOX_COLS: &str = "id, lab_id, kind, channel, dedupe_key, case_id, recipient_user_id, \
     recipient, payload, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, \
     created_at, sent_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub kind: String,
    pub channel: String,
    pub dedupe_key: String,
    pub case_id: Option<Uuid>,
    pub recipient_user_id: Option<Uuid>,
    pub recipient: Option<String>,
    pub payload: Json<Value>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A user an audience resolves to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recipient {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub language: Option<String>,
    pub disabled_kinds: Option<Json<Vec<String>>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub institution_id: Uuid,
    pub url: String,
    pub secret: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A pending referral, with what the reminder scan needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingReferral {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub case_id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub created_at: DateTime<Utc>,
    pub pickup_deadline: DateTime<Utc>,
    pub reference: String,
    pub title: String,
    pub assigned_to: Option<Uuid>,
    pub escalation_repeat_days: i64,
}

/// The undelivered part of the outbox (all labs): what `/metrics` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Waiting to be delivered (leased ones and fan-outs included).
    pub pending: i64,
    /// Of those, due now.
    pub due: i64,
    /// Given up on after their last attempt (kept until retried).
    pub failed: i64,
    /// Seconds the longest-waiting due message has been due (0 when none).
    pub oldest_due_seconds: i64,
}

/// What an outcome of a delivery attempt writes.
#[derive(Debug, Clone)]
pub enum Attempt {
    Sent,
    Skipped(String),
    /// Try again at this time.
    Retry(DateTime<Utc>, String),
    Failed(String),
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Leases up to `limit` due rows to `owner` until `until` and returns them.
    async fn outbox_claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> AppResult<Vec<OutboxRow>>;
    /// Records the outcome of `owner`'s attempt; false when the lease was lost.
    async fn outbox_finish(
        &self,
        id: Uuid,
        owner: &str,
        outcome: Attempt,
        scrub: Option<Value>,
        now: DateTime<Utc>,
    ) -> AppResult<bool>;
    /// Replaces a fan-out row by its messages, in one transaction.
    async fn outbox_expand(
        &self,
        id: Uuid,
        owner: &str,
        rows: Vec<NewOutbox>,
        now: DateTime<Utc>,
    ) -> AppResult<bool>;
    /// Enqueues rows outside a case write (reminders, password resets).
    async fn outbox_enqueue(&self, rows: Vec<NewOutbox>, now: DateTime<Utc>) -> AppResult<u64>;
    /// Which of these keys are already in the outbox.
    async fn outbox_existing_keys(&self, keys: &[String]) -> AppResult<Vec<String>>;
    /// The lab's outbox, newest first (fan-out rows left out).
    async fn outbox_for_lab(
        &self,
        lab_id: Uuid,
        status: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<OutboxRow>>;
    async fn outbox_row(&self, id: Uuid) -> AppResult<Option<OutboxRow>>;
    /// Every lab's undelivered messages, for `/metrics`.
    async fn outbox_backlog(&self, now: DateTime<Utc>) -> AppResult<OutboxBacklog>;
    /// A failed row of the lab due again now; false when it is not failed.
    async fn outbox_retry(&self, lab_id: Uuid, id: Uuid, now: DateTime<Utc>) -> AppResult<bool>;
    /// The active users of the lab an audience names.
    async fn audience_users(
        &self,
        lab_id: Uuid,
        institution: Option<Uuid>,
        roles: &[Role],
        user: Option<Uuid>,
    ) -> AppResult<Vec<Recipient>>;
    /// Up to `limit` pending referrals of every lab whose next notice is due
    /// at `now`, soonest first (a partial index on `next_notice_at` keeps a
    /// page as cheap as its rows, however many referrals are pending).
    async fn referrals_to_notify(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> AppResult<Vec<PendingReferral>>;
    /// Moves each referral's next-notice mark to the moment given.
    async fn set_next_notices(&self, next: &[(Uuid, DateTime<Utc>)]) -> AppResult<()>;
    async fn notification_settings(&self, user: Uuid) -> AppResult<(String, Vec<String>)>;
    async fn set_notification_settings(
        &self,
        user: Uuid,
        language: &str,
        disabled: &[String],
        now: DateTime<Utc>,
    ) -> AppResult<()>;
    async fn webhooks_for_lab(&self, lab_id: Uuid) -> AppResult<Vec<WebhookRow>>;
    async fn webhooks_of_institution(&self, institution: Uuid) -> AppResult<Vec<WebhookRow>>;
    async fn webhook(&self, id: Uuid) -> AppResult<Option<WebhookRow>>;
    async fn insert_webhook(&self, w: &WebhookRow, by: Uuid) -> AppResult<()>;
    async fn set_webhook_active(&self, lab_id: Uuid, id: Uuid, active: bool) -> AppResult<bool>;
}

fn skip_locked(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    }
}

const WEBHOOK_COLS: &str = "id, lab_id, institution_id, url, secret, active, created_at";

#[async_trait]
impl<S: HasDb> OutboxStore for S {
    #[tracing::instrument(skip_all)]
    async fn outbox_claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> AppResult<Vec<OutboxRow>> {
        let pool = &self.db().pool;
        let mut tx = pool.begin_bookkeeping().await?;
        let d = tx.dialect();
        let rows: Vec<OutboxRow> = sql("UPDATE outbox SET lease_owner = ")
            .bind(owner)
            .push(", lease_until = ")
            .bind(until)
            .push(", attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ")
            .bind(now)
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(now)
            .push(") ORDER BY next_attempt_at LIMIT ")
            .bind(limit)
            .push(skip_locked(d))
            .push(&format!(") RETURNING {OUTBOX_COLS}"))
            .fetch_all(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    #[tracing::instrument(skip_all)]
    async fn outbox_finish(
        &self,
        id: Uuid,
        owner: &str,
        outcome: Attempt,
        scrub: Option<Value>,
        now: DateTime<Utc>,
    ) -> AppResult<bool> {
        let mut q = sql("UPDATE outbox SET lease_owner = NULL, lease_until = NULL, ");
        if let Some(p) = scrub {
            q.push("payload = ").bind(Val::json(&p)).push(", ");
        }
        match outcome {
            Attempt::Sent => q
                .push("status = 'SENT', last_error = NULL, sent_at = ")
                .bind(now),
            Attempt::Skipped(why) => q
                .push("status = 'SKIPPED', sent_at = NULL, last_error = ")
                .bind(why),
            Attempt::Retry(at, why) => q
                .push("status = 'PENDING', next_attempt_at = ")
                .bind(at)
                .push(", last_error = ")
                .bind(why),
            Attempt::Failed(why) => q.push("status = 'FAILED', last_error = ").bind(why),
        };
        let n = q
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lease_owner = ")
            .bind(owner)
            .execute(&self.db().pool)
            .await?;
        Ok(n == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn outbox_expand(
        &self,
        id: Uuid,
        owner: &str,
        rows: Vec<NewOutbox>,
        now: DateTime<Utc>,
    ) -> AppResult<bool> {
        let mut tx = self.db().pool.begin_bookkeeping().await?;
        let n = sql("UPDATE outbox SET status = 'EXPANDED', lease_owner = NULL, lease_until = NULL, sent_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lease_owner = ")
            .bind(owner)
            .push(" AND status = 'PENDING'")
            .execute(&mut tx)
            .await?;
        if n != 1 {
            return Ok(false);
        }
        for chunk in rows.chunks(200) {
            enqueue(&mut tx, chunk, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn outbox_enqueue(&self, rows: Vec<NewOutbox>, now: DateTime<Utc>) -> AppResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db().pool.begin_bookkeeping().await?;
        let mut n = 0;
        for chunk in rows.chunks(200) {
            n += enqueue(&mut tx, chunk, now).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn outbox_existing_keys(&self, keys: &[String]) -> AppResult<Vec<String>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(500) {
            let rows: Vec<(String,)> = sql("SELECT dedupe_key FROM outbox WHERE dedupe_key IN (")
                .bind_list(chunk.iter())
                .push(")")
                .fetch_all(&self.db().pool)
                .await?;
            out.extend(rows.into_iter().map(|r| r.0));
        }
        Ok(out)
    }

    async fn outbox_for_lab(
        &self,
        lab_id: Uuid,
        status: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<OutboxRow>> {
        let mut q = sql(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE channel <> 'FANOUT' AND lab_id = "
        ));
        q.bind(lab_id);
        if let Some(s) = status {
            q.push(" AND status = ").bind(s);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(limit);
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    async fn outbox_row(&self, id: Uuid) -> AppResult<Option<OutboxRow>> {
        Ok(
            sql(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = "))
                .bind(id)
                .fetch_optional(&self.db().pool)
                .await?,
        )
    }

    async fn outbox_backlog(&self, now: DateTime<Utc>) -> AppResult<OutboxBacklog> {
        let pool = &self.db().pool;
        // Per status: how many, and how many of them are due now.
        let counts: Vec<(String, i64, i64)> = sql(
            "SELECT status, COUNT(*), CAST(COALESCE(SUM(CASE WHEN next_attempt_at <= ",
        )
        .bind(now)
        .push(" THEN 1 ELSE 0 END), 0) AS BIGINT) FROM outbox WHERE status IN ('PENDING', 'FAILED') GROUP BY status")
        .fetch_all(pool)
        .await?;
        let oldest: Option<(DateTime<Utc>,)> = sql(
            "SELECT next_attempt_at FROM outbox WHERE status = 'PENDING' ORDER BY next_attempt_at LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        let of = |status: &str| {
            counts
                .iter()
                .find(|(s, ..)| s == status)
                .map_or((0, 0), |(_, n, due)| (*n, *due))
        };
        Ok(OutboxBacklog {
            pending: of("PENDING").0,
            due: of("PENDING").1,
            failed: of("FAILED").0,
            oldest_due_seconds: oldest.map_or(0, |(t,)| (now - t).num_seconds().max(0)),
        })
    }

    async fn outbox_retry(&self, lab_id: Uuid, id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
        let n = sql("UPDATE outbox SET status = 'PENDING', attempts = 0, lease_owner = NULL, lease_until = NULL, next_attempt_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .push(" AND status = 'FAILED'")
            .execute(&self.db().pool)
            .await?;
        Ok(n == 1)
    }

    async fn audience_users(
        &self,
        lab_id: Uuid,
        institution: Option<Uuid>,
        roles: &[Role],
        user: Option<Uuid>,
    ) -> AppResult<Vec<Recipient>> {
        let mut q = sql(
            "SELECT u.id, u.email, u.role, ns.language, ns.disabled_kinds FROM users u \
             LEFT JOIN notification_settings ns ON ns.user_id = u.id WHERE u.active = ",
        );
        q.bind(true)
            .push(" AND u.lab_id = ")
            .bind(lab_id)
            .push(" AND (1 = 0");
        if let Some(i) = institution {
            q.push(" OR u.institution_id = ").bind(i);
        }
        if !roles.is_empty() {
            q.push(" OR u.role IN (")
                .bind_list(roles.iter().map(|r| r.as_str()))
                .push(")");
        }
        if let Some(u) = user {
            q.push(" OR u.id = ").bind(u);
        }
        q.push(") ORDER BY u.email");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    async fn referrals_to_notify(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> AppResult<Vec<PendingReferral>> {
        Ok(sql(
            "SELECT r.id, r.lab_id, r.case_id, r.institution_id, i.name AS institution_name, \
             r.created_at, r.pickup_deadline, c.reference, c.title, c.assigned_to, \
             l.escalation_repeat_days FROM referrals r JOIN cases c ON c.id = r.case_id \
             JOIN institutions i ON i.id = r.institution_id JOIN labs l ON l.id = r.lab_id \
             WHERE r.status = 'PENDING' AND r.next_notice_at <= ",
        )
        .bind(now)
        .push(" ORDER BY r.next_notice_at, r.id LIMIT ")
        .bind(limit)
        .fetch_all(&self.db().pool)
        .await?)
    }

    async fn set_next_notices(&self, next: &[(Uuid, DateTime<Utc>)]) -> AppResult<()> {
        if next.is_empty() {
            return Ok(());
        }
        // One statement for the page: a CASE on the id, not one per row.
        let mut q = sql("UPDATE referrals SET next_notice_at = CASE id");
        for (id, at) in next {
            q.push(" WHEN ").bind(*id).push(" THEN ").bind(*at);
        }
        q.push(" END WHERE id IN (")
            .bind_list(next.iter().map(|(id, _)| *id))
            .push(")")
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    async fn notification_settings(&self, user: Uuid) -> AppResult<(String, Vec<String>)> {
        let row: Option<(String, Json<Vec<String>>)> =
            sql("SELECT language, disabled_kinds FROM notification_settings WHERE user_id = ")
                .bind(user)
                .fetch_optional(&self.db().pool)
                .await?;
        Ok(row.map_or_else(|| ("JA".to_owned(), Vec::new()), |r| (r.0, r.1 .0)))
    }

    async fn set_notification_settings(
        &self,
        user: Uuid,
        language: &str,
        disabled: &[String],
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        Sql::default()
            .insert(
                "notification_settings",
                vec![
                    ("user_id", user.into()),
                    ("language", language.into()),
                    ("disabled_kinds", Val::json(&disabled)),
                    ("updated_at", now.into()),
                ],
            )
            .push(" ON CONFLICT (user_id) DO UPDATE SET language = excluded.language, disabled_kinds = excluded.disabled_kinds, updated_at = excluded.updated_at")
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    async fn webhooks_for_lab(&self, lab_id: Uuid) -> AppResult<Vec<WebhookRow>> {
        Ok(sql(&format!(
            "SELECT {WEBHOOK_COLS} FROM webhooks WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" ORDER BY created_at, id")
        .fetch_all(&self.db().pool)
        .await?)
    }

    async fn webhooks_of_institution(&self, institution: Uuid) -> AppResult<Vec<WebhookRow>> {
        Ok(sql(&format!(
            "SELECT {WEBHOOK_COLS} FROM webhooks WHERE active = "
        ))
        .bind(true)
        .push(" AND institution_id = ")
        .bind(institution)
        .push(" ORDER BY created_at, id")
        .fetch_all(&self.db().pool)
        .await?)
    }

    async fn webhook(&self, id: Uuid) -> AppResult<Option<WebhookRow>> {
        Ok(
            sql(&format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = "))
                .bind(id)
                .fetch_optional(&self.db().pool)
                .await?,
        )
    }

    async fn insert_webhook(&self, w: &WebhookRow, by: Uuid) -> AppResult<()> {
        Sql::default()
            .insert(
                "webhooks",
                vec![
                    ("id", w.id.into()),
                    ("lab_id", w.lab_id.into()),
                    ("institution_id", w.institution_id.into()),
                    ("url", (&w.url).into()),
                    ("secret", (&w.secret).into()),
                    ("active", w.active.into()),
                    ("created_by", by.into()),
                    ("created_at", w.created_at.into()),
                ],
            )
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    async fn set_webhook_active(&self, lab_id: Uuid, id: Uuid, active: bool) -> AppResult<bool> {
        let n = sql("UPDATE webhooks SET active = ")
            .bind(active)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .execute(&self.db().pool)
            .await?;
        Ok(n == 1)
    }
}
