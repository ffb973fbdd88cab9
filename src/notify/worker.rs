//! The outbox worker inside every `dxdesk serve`: it leases due rows (a lease
//! that expires if this process dies), expands audiences into one message per
//! recipient (preferences and language applied then), sends mails and webhook
//! POSTs, and records each outcome — retry with exponential backoff and
//! jitter, `FAILED` after the last attempt, `SKIPPED` for mail while
//! `DXDESK_SMTP_URL` is unset. A periodic scan enqueues reminders and
//! escalations under one key per referral, kind and occurrence, so several
//! instances scanning at once enqueue each only once.
//!
//! Delivery is at-least-once: a process that dies after the SMTP server or
//! the webhook receiver accepted a message but before its `SENT` mark
//! committed leaves the row leased; when the lease expires another instance
//! sends it again. Nothing else can duplicate a message.

use super::render;
use super::send::{self, SendError, Smtp};
use crate::domain::notify::{self as rules, NotifyKind};
use crate::domain::types::{EventKind, ReferralStatus, Role};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::outbox::{Attempt, NewOutbox, OutboxRow};
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// Reminder scans this process finished (for `/metrics`: a benchmark or an
/// operator can tell that the first scan after start is done).
pub static SCANS: AtomicU64 = AtomicU64::new(0);
/// How long this process's last scan took, in milliseconds.
pub static LAST_SCAN_MS: AtomicU64 = AtomicU64::new(0);
/// How many referrals this process's last scan read (those with a notice due).
pub static LAST_SCAN_REFERRALS: AtomicU64 = AtomicU64::new(0);

/// Starts this instance's worker unless `DXDESK_OUTBOX_WORKER=0`.
pub fn spawn(st: &AppState) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !st.config.notify.worker {
        return Ok(None);
    }
    let w = Worker::new(st.clone())?;
    Ok(Some(tokio::spawn(w.run())))
}

/// One instance's worker.
pub struct Worker {
    st: AppState,
    owner: String,
    smtp: Option<Smtp>,
    http: reqwest::Client,
}

impl Worker {
    pub fn new(st: AppState) -> anyhow::Result<Self> {
        let smtp = match &st.config.notify.smtp_url {
            Some(u) => Some(send::transport_for(u)?),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            owner: format!("{}:{}", std::process::id(), Uuid::new_v4()),
            st,
            smtp,
            http,
        })
    }

    /// Runs until the task is aborted: a delivery round every poll interval,
    /// a reminder scan every scan interval.
    pub async fn run(self) {
        let cfg = self.st.config.notify.clone();
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            if last_scan.is_none_or(|t| t.elapsed() >= cfg.scan) {
                match self.scan().await {
                    Ok(_) => {
                        SCANS.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(error = ?e, "reminder scan failed"),
                }
                last_scan = Some(std::time::Instant::now());
            }
            loop {
                match self.deliver_due().await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = ?e, "outbox round failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(cfg.poll).await;
        }
    }

    /// Scans, then delivers until nothing is due (tests and tools).
    pub async fn run_once(&self) -> AppResult<usize> {
        self.scan().await?;
        let mut total = 0;
        loop {
            let n = self.deliver_due().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Leases one batch of due rows and processes it; the number of rows.
    pub async fn deliver_due(&self) -> AppResult<usize> {
        let cfg = &self.st.config.notify;
        let now = self.st.now();
        let lease = chrono::Duration::from_std(cfg.lease).unwrap_or(chrono::Duration::minutes(1));
        let rows = self
            .st
            .store
            .outbox_claim(&self.owner, now, now + lease, cfg.batch)
            .await?;
        let n = rows.len();
        let results: Vec<AppResult<()>> = futures::stream::iter(rows)
            .map(|r| self.process(r))
            .buffer_unordered(8)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    async fn process(&self, row: OutboxRow) -> AppResult<()> {
        let Some(kind) = NotifyKind::parse(&row.kind) else {
            return self
                .finish(&row, Attempt::Failed(format!("unknown kind {}", row.kind)))
                .await;
        };
        match row.channel.as_str() {
            "FANOUT" => self.expand(kind, &row).await,
            "EMAIL" => {
                let outcome = match &self.smtp {
                    None => {
                        Attempt::Skipped("DXDESK_SMTP_URL が未設定のため送信していません".into())
                    }
                    Some(smtp) => {
                        let to = row.recipient.clone().unwrap_or_default();
                        let mail = self.mail(kind, &row);
                        let res =
                            send::send_mail(smtp, &self.st.config.notify.mail_from, &to, &mail)
                                .await;
                        self.outcome(&row, res)
                    }
                };
                self.finish(&row, outcome).await
            }
            "WEBHOOK" => {
                let p = &row.payload.0;
                let hook = match p
                    .get("webhookId")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                {
                    Some(id) => self.st.store.webhook(id).await?,
                    None => None,
                };
                let outcome = match hook {
                    Some(h) if h.active => {
                        let body = serde_json::to_vec(&p["body"]).unwrap_or_default();
                        let res = send::post_webhook(
                            &self.http,
                            &h.url,
                            &h.secret,
                            &body,
                            self.st.now().timestamp(),
                        )
                        .await;
                        self.outcome(&row, res)
                    }
                    _ => Attempt::Skipped("Webhook は削除または停止されています".into()),
                };
                self.finish(&row, outcome).await
            }
            other => {
                self.finish(&row, Attempt::Failed(format!("unknown channel {other}")))
                    .await
            }
        }
    }

    fn outcome(&self, row: &OutboxRow, res: Result<(), SendError>) -> Attempt {
        let cfg = &self.st.config.notify;
        match res {
            Ok(()) => Attempt::Sent,
            Err(SendError::Permanent(e)) => Attempt::Failed(e),
            Err(SendError::Transient(e)) if row.attempts >= cfg.max_attempts => Attempt::Failed(e),
            Err(SendError::Transient(e)) => {
                let delay = rules::backoff(cfg.backoff, row.attempts, rand::random::<f64>());
                Attempt::Retry(self.st.now() + delay, e)
            }
        }
    }

    async fn finish(&self, row: &OutboxRow, outcome: Attempt) -> AppResult<()> {
        // Secrets (an access code, a reset link) leave the row once it is final.
        let final_ = !matches!(outcome, Attempt::Retry(..));
        let scrub = (final_
            && matches!(row.kind.as_str(), "BUSINESS_REFERENCE" | "PASSWORD_RESET"))
        .then(|| {
            let mut p = row.payload.0.clone();
            for k in ["accessCode", "link"] {
                if p.get(k).is_some() {
                    p[k] = json!("(削除済み)");
                }
            }
            p
        });
        let now = self.st.now();
        if !self
            .st
            .store
            .outbox_finish(row.id, &self.owner, outcome, scrub, now)
            .await?
        {
            tracing::warn!(id = %row.id, "outbox lease lost before the outcome was recorded");
        }
        Ok(())
    }

    fn mail(&self, kind: NotifyKind, row: &OutboxRow) -> render::Mail {
        let p = &row.payload.0;
        let en = p.get("lang").and_then(Value::as_str) == Some("EN");
        let milestone = (kind == NotifyKind::BusinessMilestone)
            .then(|| {
                let kind = EventKind::parse(p.get("eventKind")?.as_str()?)?;
                let ev = crate::store::EventRow {
                    id: Uuid::nil(),
                    lab_id: row.lab_id,
                    case_id: row.case_id.unwrap_or_default(),
                    seq: 0,
                    kind,
                    actor_id: None,
                    at: row.created_at,
                    payload: sqlx::types::Json(
                        p.get("eventPayload").cloned().unwrap_or(Value::Null),
                    ),
                    prev_hash: String::new(),
                    hash: String::new(),
                };
                crate::service::status::milestone_label(&ev)
            })
            .flatten();
        render::render(
            kind,
            p,
            en,
            &self.st.config.notify.public_url,
            milestone.as_deref(),
        )
    }

    /// Replaces a fan-out row by one row per recipient.
    async fn expand(&self, kind: NotifyKind, row: &OutboxRow) -> AppResult<()> {
        let store = &self.st.store;
        let p = &row.payload.0;
        let aud = &p["audience"];
        let uuid = |v: &Value| v.as_str().and_then(|s| s.parse::<Uuid>().ok());
        let mut out: Vec<NewOutbox> = Vec::new();
        // A reminder or escalation for a referral picked up since is dropped.
        let still_pending = match (kind, p.get("referralId").and_then(uuid)) {
            (NotifyKind::Reminder | NotifyKind::Escalation, Some(r)) => store
                .referral(r)
                .await?
                .is_some_and(|r| r.status == ReferralStatus::Pending),
            _ => true,
        };
        if let Some(inst) = aud.get("webhooks").and_then(uuid) {
            for h in store.webhooks_of_institution(inst).await? {
                out.push(NewOutbox {
                    lab_id: row.lab_id,
                    kind,
                    channel: "WEBHOOK",
                    dedupe_key: format!("{}:{}", row.dedupe_key, h.id),
                    case_id: row.case_id,
                    recipient_user_id: None,
                    recipient: Some(h.url.clone()),
                    payload: json!({ "webhookId": h.id, "body": p["body"] }),
                });
            }
        } else if still_pending {
            let institution = aud.get("institution").and_then(uuid);
            let mut roles = Vec::new();
            let mut user = None;
            if aud.get("concierges").is_some() {
                roles.push(Role::Concierge);
            }
            if aud.get("admins").is_some() {
                roles.push(Role::Admin);
            }
            if let Some(a) = aud.get("assignee") {
                match uuid(a) {
                    Some(u) => user = Some(u),
                    None => roles.push(Role::Concierge),
                }
            }
            if let Some(u) = aud.get("user").and_then(uuid) {
                user = Some(u);
            }
            let users = if institution.is_none() && roles.is_empty() && user.is_none() {
                Vec::new()
            } else {
                store
                    .audience_users(row.lab_id, institution, &roles, user)
                    .await?
            };
            let mut payload = p.clone();
            if let Some(o) = payload.as_object_mut() {
                o.remove("audience");
            }
            for u in users {
                // Partner mails only to the institution's own users, desk mails to desk staff.
                if institution.is_some() && u.role != Role::Partner {
                    continue;
                }
                let disabled = u
                    .disabled_kinds
                    .as_ref()
                    .is_some_and(|d| d.0.iter().any(|k| k == kind.as_str()));
                if disabled && !kind.safety_critical() {
                    continue;
                }
                let mut pl = payload.clone();
                pl["lang"] = json!(u.language.as_deref().unwrap_or("JA"));
                out.push(NewOutbox {
                    lab_id: row.lab_id,
                    kind,
                    channel: "EMAIL",
                    dedupe_key: format!("{}:{}", row.dedupe_key, u.id),
                    case_id: row.case_id,
                    recipient_user_id: Some(u.id),
                    recipient: Some(u.email.clone()),
                    payload: pl,
                });
            }
        }
        let now = self.st.now();
        store.outbox_expand(row.id, &self.owner, out, now).await?;
        Ok(())
    }

    /// Enqueues the reminders and escalations due now (each once, by key).
    /// It reads only the pending referrals whose next notice has come
    /// (`referrals.next_notice_at`), 500 at a time, and moves each one's mark
    /// on to its next notice after enqueuing: a scan costs what is due, not
    /// what is pending.
    pub async fn scan(&self) -> AppResult<u64> {
        const PAGE: i64 = 500;
        let started = std::time::Instant::now();
        let now = self.st.now();
        let store = &self.st.store;
        let (mut enqueued, mut seen) = (0, std::collections::HashSet::new());
        loop {
            let page = store.referrals_to_notify(now, PAGE).await?;
            // Each page's marks move past `now`, so a referral comes back
            // only if its mark did not move: stop rather than loop on it.
            if page.iter().any(|r| !seen.insert(r.id)) {
                tracing::warn!("a referral's next notice did not move on; the scan stops");
                break;
            }
            let (mut rows, next) = due_notices(&page, now);
            let keys: Vec<String> = rows.iter().map(|r| r.dedupe_key.clone()).collect();
            let have = store.outbox_existing_keys(&keys).await?;
            rows.retain(|r| !have.contains(&r.dedupe_key));
            enqueued += store.outbox_enqueue(rows, now).await?;
            // Only after the notices are in: a failure before this line
            // leaves the marks due, and the next scan tries again.
            store.set_next_notices(&next).await?;
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        LAST_SCAN_MS.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        LAST_SCAN_REFERRALS.store(seen.len() as u64, Ordering::Relaxed);
        Ok(enqueued)
    }
}

/// The reminders and escalations of these pending referrals due at `now`
/// (each under its one key per referral, kind and occurrence), and each
/// referral's next-notice mark after them.
fn due_notices(
    page: &[crate::store::outbox::PendingReferral],
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<NewOutbox>, Vec<(Uuid, chrono::DateTime<chrono::Utc>)>) {
    let (mut rows, mut next) = (Vec::new(), Vec::with_capacity(page.len()));
    for r in page {
        let base = json!({
            "caseId": r.case_id, "reference": r.reference, "title": r.title,
            "referralId": r.id, "institutionName": r.institution_name,
            "deadline": r.pickup_deadline, "link": format!("/cases/{}", r.case_id),
        });
        let every = u32::try_from(r.escalation_repeat_days).unwrap_or(2);
        let due = rules::due_notices(r.created_at, r.pickup_deadline, every, now);
        next.push((
            r.id,
            rules::next_notice_after(r.created_at, r.pickup_deadline, every, now),
        ));
        if due.reminder {
            let mut p = base.clone();
            p["audience"] = crate::store::outbox::audience_institution(r.institution_id);
            rows.push(NewOutbox::fanout(
                r.lab_id,
                NotifyKind::Reminder,
                format!("reminder:{}", r.id),
                Some(r.case_id),
                p,
            ));
        }
        if let Some(k) = due.escalation {
            let mut p = base;
            p["occurrence"] = json!(k);
            p["audience"] = json!({ "assignee": r.assigned_to, "admins": true });
            rows.push(NewOutbox::fanout(
                r.lab_id,
                NotifyKind::Escalation,
                format!("escalation:{}:{k}", r.id),
                Some(r.case_id),
                p,
            ));
        }
    }
    (rows, next)
}
