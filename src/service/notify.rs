//! Notifications as use-cases: who hears what (case changes enqueue in their
//! own transaction, `store::outbox`), the password-reset mail other areas
//! call, each user's preferences, the admin's outbox (addresses masked,
//! retry of a failed message) and the institutions' webhooks.
//!
//! Who hears what:
//! - a referral arrives → the institution's active users;
//! - reminder (09:00 JST on the last business day before the deadline, still
//!   pending) → the institution's users;
//! - escalation (past the deadline, then every `escalation_repeat_days`
//!   business days while pending) → the assigned concierge and the lab's admins;
//! - accepted / declined / completed → the assigned concierge (no assignee:
//!   the lab's concierges);
//! - a web-form consultation → the lab's concierges;
//! - the business (web form, with an address) → its reference and access
//!   code, then each public milestone in the status page's words;
//! - password reset → the user.

use crate::domain::notify::{mask_address, NotifyKind};
use crate::domain::permissions::{require_admin, Viewer};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::outbox::{NewOutbox, OutboxRow, WebhookRow};
use crate::store::UserRow;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

/// The outbox row of a password-reset mail to `user` with the single-use
/// `link` (absolute URL) valid until `expires`. Enqueue it in the caller's
/// own transaction with `store::outbox::enqueue(tx, &[row], now)`, or use
/// [`enqueue_password_reset`].
pub fn password_reset_row(user: &UserRow, link: &str, expires: DateTime<Utc>) -> NewOutbox {
    NewOutbox {
        lab_id: user.lab_id,
        kind: NotifyKind::PasswordReset,
        channel: "FANOUT",
        dedupe_key: format!("reset:{}:{}", user.id, Uuid::now_v7()),
        case_id: None,
        recipient_user_id: None,
        recipient: None,
        payload: json!({ "audience": { "user": user.id }, "link": link, "expiresAt": expires }),
    }
}

/// Enqueues a password-reset mail (its own transaction).
pub async fn enqueue_password_reset(
    st: &AppState,
    user: &UserRow,
    link: &str,
    expires: DateTime<Utc>,
) -> AppResult<()> {
    st.store
        .outbox_enqueue(vec![password_reset_row(user, link, expires)], st.now())
        .await?;
    Ok(())
}

/// A user's notification settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub language: String,
    pub disabled: Vec<NotifyKind>,
}

pub async fn settings(st: &AppState, v: &Viewer) -> AppResult<Settings> {
    let (language, disabled) = st.store.notification_settings(v.user_id).await?;
    Ok(Settings {
        language,
        disabled: disabled
            .iter()
            .filter_map(|k| NotifyKind::parse(k))
            .collect(),
    })
}

/// Sets the viewer's mail language (`JA`/`EN`) and the kinds switched off;
/// a safety-critical kind cannot be switched off (`BAD_USER_INPUT`).
pub async fn set_settings(
    st: &AppState,
    v: &Viewer,
    language: Option<&str>,
    disabled: Vec<NotifyKind>,
) -> AppResult<Settings> {
    let current = settings(st, v).await?;
    let language = match language {
        None => current.language,
        Some(l @ ("JA" | "EN")) => l.to_owned(),
        Some(_) => {
            return Err(AppError::bad_input(
                Some("language"),
                "言語は JA または EN を指定してください。",
                "The language must be JA or EN.",
            ))
        }
    };
    if let Some(k) = disabled
        .iter()
        .find(|k| !NotifyKind::user_optional().contains(k))
    {
        return Err(AppError::bad_input(
            Some("disabledKinds"),
            format!("「{}」の通知は止められません。", k.label(false)),
            format!(
                "The notification \"{}\" cannot be switched off.",
                k.label(true)
            ),
        ));
    }
    let names: Vec<String> = disabled.iter().map(|k| k.as_str().to_owned()).collect();
    st.store
        .set_notification_settings(v.user_id, &language, &names, st.now())
        .await?;
    Ok(Settings { language, disabled })
}

/// An outbox row as the admin sees it: the address masked, no payload.
#[derive(Debug, Clone)]
pub struct Entry {
    pub row: OutboxRow,
    pub recipient_masked: String,
}

fn entry(row: OutboxRow) -> Entry {
    let recipient_masked = row
        .recipient
        .as_deref()
        .map(mask_address)
        .unwrap_or_default();
    Entry {
        row,
        recipient_masked,
    }
}

const STATUSES: [&str; 4] = ["PENDING", "SENT", "FAILED", "SKIPPED"];

/// The admin's lab's outbox, newest first.
pub async fn outbox(
    st: &AppState,
    v: &Viewer,
    status: Option<&str>,
    first: Option<i32>,
) -> AppResult<Vec<Entry>> {
    require_admin(v)?;
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(AppError::bad_input(
                Some("status"),
                "状態は PENDING, SENT, FAILED, SKIPPED のいずれかです。",
                "The status is one of PENDING, SENT, FAILED, SKIPPED.",
            ));
        }
    }
    let limit = i64::from(first.unwrap_or(100).clamp(1, 500));
    let rows = st.store.outbox_for_lab(v.lab_id, status, limit).await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// Makes a failed message of the admin's lab due again now.
pub async fn retry(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<Entry> {
    require_admin(v)?;
    let not_found = || AppError::not_found("通知", "Notification");
    let row = st.store.outbox_row(id).await?.ok_or_else(not_found)?;
    if row.lab_id != v.lab_id || row.channel == "FANOUT" {
        return Err(not_found());
    }
    if !st.store.outbox_retry(v.lab_id, id, st.now()).await? {
        return Err(AppError::conflict(
            format!(
                "送信に失敗した通知だけを再送できます(現在: {})。",
                row.status
            ),
            format!(
                "Only a failed notification can be retried (now: {}).",
                row.status
            ),
        ));
    }
    Ok(entry(st.store.outbox_row(id).await?.ok_or_else(not_found)?))
}

/// The lab's webhooks (secrets are never shown again).
pub async fn webhooks(st: &AppState, v: &Viewer) -> AppResult<Vec<WebhookRow>> {
    require_admin(v)?;
    st.store.webhooks_for_lab(v.lab_id).await
}

/// Registers a webhook for an institution of the admin's lab; returns it and
/// its signing secret (shown once).
pub async fn create_webhook(
    st: &AppState,
    v: &Viewer,
    institution: Uuid,
    url: &str,
) -> AppResult<(WebhookRow, String)> {
    require_admin(v)?;
    st.store
        .institution(v.lab_id, institution)
        .await?
        .ok_or_else(|| AppError::not_found("機関", "Institution"))?;
    let url = url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && url.split_once("://").is_some_and(|(_, r)| !r.is_empty());
    if !ok {
        return Err(AppError::bad_input(
            Some("url"),
            "URL は https:// で始まる形で入力してください。",
            "Enter a URL starting with https://.",
        ));
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
    let w = WebhookRow {
        id: Uuid::now_v7(),
        lab_id: v.lab_id,
        institution_id: institution,
        url: url.to_owned(),
        secret: secret.clone(),
        active: true,
        created_at: st.now(),
    };
    st.store.insert_webhook(&w, v.user_id).await?;
    Ok((w, secret))
}

pub async fn set_webhook_active(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    active: bool,
) -> AppResult<WebhookRow> {
    require_admin(v)?;
    let not_found = || AppError::not_found("Webhook", "Webhook");
    if !st.store.set_webhook_active(v.lab_id, id, active).await? {
        return Err(not_found());
    }
    st.store.webhook(id).await?.ok_or_else(not_found)
}
