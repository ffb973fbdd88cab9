//! Notifications: the viewer's preferences, the admin's outbox (addresses
//! masked) with retry, and the institutions' webhooks.

use super::{parse_id, state, viewer};
use crate::domain::notify::NotifyKind;
use crate::error::{AppError, AppResult};
use crate::service::notify as svc;
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// One kind of notification and whether the viewer receives it.
#[derive(SimpleObject)]
pub struct NotificationKindSetting {
    pub kind: String,
    pub label: String,
    pub enabled: bool,
    /// Cannot be switched off (escalations, password resets).
    pub safety_critical: bool,
}

#[derive(SimpleObject)]
pub struct NotificationSettings {
    /// `JA` or `EN`: the language of the viewer's mails.
    pub language: String,
    pub kinds: Vec<NotificationKindSetting>,
}

fn settings_out(s: svc::Settings, en: bool) -> NotificationSettings {
    let mut kinds: Vec<NotifyKind> = NotifyKind::user_optional();
    kinds.extend([NotifyKind::Escalation, NotifyKind::PasswordReset]);
    NotificationSettings {
        language: s.language,
        kinds: kinds
            .into_iter()
            .map(|k| NotificationKindSetting {
                kind: k.as_str().to_owned(),
                label: k.label(en).to_owned(),
                enabled: !s.disabled.contains(&k),
                safety_critical: k.safety_critical(),
            })
            .collect(),
    }
}

/// A message of the outbox as the admin sees it.
pub struct OutboxEntry(pub svc::Entry);

#[Object]
impl OutboxEntry {
    async fn id(&self) -> ID {
        ID(self.0.row.id.to_string())
    }
    /// `REFERRAL_ARRIVED`, `REMINDER`, `ESCALATION`, `REFERRAL_ANSWERED`,
    /// `WEB_CONSULTATION`, `BUSINESS_REFERENCE`, `BUSINESS_MILESTONE`,
    /// `PASSWORD_RESET`, `WEBHOOK_EVENT`.
    async fn kind(&self) -> &str {
        &self.0.row.kind
    }
    async fn kind_label(&self, ctx: &Context<'_>) -> &'static str {
        let en = super::request(ctx).lang == crate::domain::labels::Lang::En;
        NotifyKind::parse(&self.0.row.kind).map_or("", |k| k.label(en))
    }
    /// `EMAIL` or `WEBHOOK`.
    async fn channel(&self) -> &str {
        &self.0.row.channel
    }
    /// The address or URL, masked (`ya****@ex****.jp`).
    async fn recipient(&self) -> &str {
        &self.0.recipient_masked
    }
    /// `PENDING`, `SENT`, `FAILED` or `SKIPPED`.
    async fn status(&self) -> &str {
        &self.0.row.status
    }
    async fn attempts(&self) -> i64 {
        self.0.row.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.row.last_error.as_deref()
    }
    async fn case_id(&self) -> Option<ID> {
        self.0.row.case_id.map(|c| ID(c.to_string()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.row.next_attempt_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.sent_at
    }
}

/// A partner system's endpoint for an institution's events.
pub struct Webhook(pub crate::store::outbox::WebhookRow);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn institution_id(&self) -> ID {
        ID(self.0.institution_id.to_string())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new webhook and its signing secret, shown only now.
#[derive(SimpleObject)]
pub struct CreateWebhookPayload {
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(Default)]
pub struct NotifyQuery;

#[Object]
impl NotifyQuery {
    /// The viewer's notification preferences.
    async fn notification_settings(&self, ctx: &Context<'_>) -> AppResult<NotificationSettings> {
        let v = viewer(ctx)?;
        let en = super::request(ctx).lang == crate::domain::labels::Lang::En;
        Ok(settings_out(svc::settings(state(ctx), v).await?, en))
    }

    /// The admin's lab's outbox, newest first (`first` default 100, max 500).
    async fn outbox(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
        first: Option<i32>,
    ) -> AppResult<Vec<OutboxEntry>> {
        let v = viewer(ctx)?;
        Ok(svc::outbox(state(ctx), v, status.as_deref(), first)
            .await?
            .into_iter()
            .map(OutboxEntry)
            .collect())
    }

    /// The lab's webhooks (admin).
    async fn webhooks(&self, ctx: &Context<'_>) -> AppResult<Vec<Webhook>> {
        let v = viewer(ctx)?;
        Ok(svc::webhooks(state(ctx), v)
            .await?
            .into_iter()
            .map(Webhook)
            .collect())
    }
}

#[derive(Default)]
pub struct NotifyMutation;

#[Object]
impl NotifyMutation {
    /// Sets the viewer's mail language and the kinds switched off.
    async fn update_notification_settings(
        &self,
        ctx: &Context<'_>,
        language: Option<String>,
        disabled_kinds: Vec<String>,
    ) -> AppResult<NotificationSettings> {
        let v = viewer(ctx)?;
        let mut kinds = Vec::new();
        for k in &disabled_kinds {
            kinds.push(NotifyKind::parse(k).ok_or_else(|| {
                AppError::bad_input(
                    Some("disabledKinds"),
                    format!("通知の種類 {k} はありません。"),
                    format!("There is no notification kind {k}."),
                )
            })?);
        }
        let en = super::request(ctx).lang == crate::domain::labels::Lang::En;
        let s = svc::set_settings(state(ctx), v, language.as_deref(), kinds).await?;
        Ok(settings_out(s, en))
    }

    /// Sends a failed message again (admin).
    async fn retry_outbox_entry(&self, ctx: &Context<'_>, id: ID) -> AppResult<OutboxEntry> {
        let v = viewer(ctx)?;
        let id = parse_id(&id, "通知", "Notification")?;
        Ok(OutboxEntry(svc::retry(state(ctx), v, id).await?))
    }

    /// Registers a webhook for an institution of the lab (admin); the secret
    /// signs every POST (`X-Dxdesk-Signature`) and is shown only now.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        institution_id: ID,
        url: String,
    ) -> AppResult<CreateWebhookPayload> {
        let v = viewer(ctx)?;
        let inst = parse_id(&institution_id, "機関", "Institution")?;
        let (w, secret) = svc::create_webhook(state(ctx), v, inst, &url).await?;
        Ok(CreateWebhookPayload {
            webhook: Webhook(w),
            secret,
        })
    }

    /// Pauses or resumes a webhook (admin).
    async fn set_webhook_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> AppResult<Webhook> {
        let v = viewer(ctx)?;
        let id = parse_id(&id, "Webhook", "Webhook")?;
        Ok(Webhook(
            svc::set_webhook_active(state(ctx), v, id, active).await?,
        ))
    }
}
