//! Delivering notifications: the configuration (`DXDESK_SMTP_URL`,
//! `DXDESK_MAIL_FROM`, `DXDESK_PUBLIC_URL`, the worker's knobs), the mails'
//! wording (`render`), the SMTP and webhook senders and the outbox worker
//! every `dxdesk serve` runs (`worker`). What is enqueued, and when, is in
//! `store::outbox` (case changes) and `service::notify` (everything else).

pub mod render;
pub mod send;
pub mod worker;

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::time::Duration;

/// The notification settings, from the environment.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `DXDESK_SMTP_URL`: `smtp://host:port` (plain), `smtp://user:pass@host:587`
    /// (STARTTLS), `smtps://…` (TLS). `None`: e-mail rows are kept as `SKIPPED`.
    pub smtp_url: Option<String>,
    /// `DXDESK_MAIL_FROM`, e.g. `DX総合窓口 <desk@example.jp>`.
    pub mail_from: String,
    /// `DXDESK_PUBLIC_URL`: the base of the links in mails (no trailing slash).
    pub public_url: String,
    /// `DXDESK_OUTBOX_WORKER=0` runs no worker in this process (default: on).
    pub worker: bool,
    /// `DXDESK_OUTBOX_POLL_MS`: how often the worker looks for due rows (500).
    pub poll: Duration,
    /// `DXDESK_OUTBOX_LEASE_SECS`: how long a claimed row stays with its worker (60).
    pub lease: Duration,
    /// `DXDESK_OUTBOX_MAX_ATTEMPTS`: attempts before a row is `FAILED` (8).
    pub max_attempts: i64,
    /// `DXDESK_OUTBOX_BACKOFF_MS`: the first retry's delay, doubled each time (5000).
    pub backoff: Duration,
    /// `DXDESK_OUTBOX_SCAN_SECS`: how often reminders and escalations are looked for (60).
    pub scan: Duration,
    /// `DXDESK_OUTBOX_BATCH`: rows claimed at once (20).
    pub batch: i64,
}

impl NotifyConfig {
    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        bind: SocketAddr,
    ) -> anyhow::Result<Self> {
        use crate::config::parse_number;
        let smtp_url = get("DXDESK_SMTP_URL").filter(|s| !s.trim().is_empty());
        if let Some(u) = &smtp_url {
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                bail!(
                    "DXDESK_SMTP_URL must start with smtp:// or smtps:// (got {:?})",
                    u.split("://").next().unwrap_or("")
                );
            }
            send::transport_for(u).context("DXDESK_SMTP_URL")?;
        }
        let mail_from = get("DXDESK_MAIL_FROM")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "DX総合窓口 <no-reply@localhost>".to_owned());
        mail_from.parse::<lettre::message::Mailbox>().map_err(|e| {
            anyhow::anyhow!("DXDESK_MAIL_FROM {mail_from:?} is not an address: {e}")
        })?;
        let public_url = get("DXDESK_PUBLIC_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        let worker = !matches!(
            get("DXDESK_OUTBOX_WORKER").as_deref(),
            Some("0" | "false" | "off")
        );
        let ms = |name, def: u64| -> anyhow::Result<Duration> {
            Ok(Duration::from_millis(
                parse_number(get, name, 1..=86_400_000u64)?.unwrap_or(def),
            ))
        };
        Ok(Self {
            smtp_url,
            mail_from,
            public_url,
            worker,
            poll: ms("DXDESK_OUTBOX_POLL_MS", 500)?,
            lease: Duration::from_secs(
                parse_number(get, "DXDESK_OUTBOX_LEASE_SECS", 1..=86_400u64)?.unwrap_or(60),
            ),
            max_attempts: parse_number(get, "DXDESK_OUTBOX_MAX_ATTEMPTS", 1..=100i64)?.unwrap_or(8),
            backoff: ms("DXDESK_OUTBOX_BACKOFF_MS", 5000)?,
            scan: Duration::from_secs(
                parse_number(get, "DXDESK_OUTBOX_SCAN_SECS", 1..=86_400u64)?.unwrap_or(60),
            ),
            batch: parse_number(get, "DXDESK_OUTBOX_BATCH", 1..=500i64)?.unwrap_or(20),
        })
    }
}
