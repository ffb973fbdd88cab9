//! Accounts and lab settings (issue 11): changing and resetting passwords,
//! set-password links, an admin's edits of a user, the lab's settings.

use super::types::{Institution, User};
use super::users::AuthPayload;
use super::{admin, parse_id, request, state, viewer};
use crate::auth::service::SessionFamily;
use crate::domain::types::Role;
use crate::error::AppResult;
use crate::service::accounts::{self as svc, UpdateUser};
use crate::service::lab_settings::{self as settings, LabSettings as Settings, SettingsInput};
use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};

/// An admin's edit of a user; absent fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateUserInput {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// A `PARTNER`'s institution; an empty string removes it (other roles have none).
    pub institution_id: Option<ID>,
    /// `JA` or `EN`.
    pub language: Option<String>,
}

/// The lab's settings; absent fields stay as they are.
#[derive(InputObject, Default)]
pub struct LabSettingsInput {
    /// Business days a partner has to pick up a referral (1–30, default 3).
    pub pickup_days: Option<i64>,
    /// Extra closure days beyond 12/29–1/3: dates `2025-08-13` or month-days every year `--08-14`.
    pub closure_days: Option<Vec<String>>,
    /// Days between repeated escalation notices of an overdue referral (1–30).
    pub escalation_repeat_days: Option<i64>,
    /// The lab's name as the public pages show it.
    pub display_name: Option<String>,
    /// The desk's contact line on the public pages (phone, mail, hours).
    pub contact_line: Option<String>,
}

/// A lab's settings.
pub struct LabSettings(pub Settings);

#[Object]
impl LabSettings {
    async fn pickup_days(&self) -> i64 {
        self.0.pickup_days
    }
    async fn closure_days(&self) -> &[String] {
        &self.0.closure_days
    }
    async fn escalation_repeat_days(&self) -> i64 {
        self.0.escalation_repeat_days
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn contact_line(&self) -> &str {
        &self.0.contact_line
    }
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.updated_at
    }
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The viewer's lab's settings.
    async fn lab_settings(&self, ctx: &Context<'_>) -> AppResult<LabSettings> {
        Ok(LabSettings(settings::get(state(ctx), viewer(ctx)?).await?))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Changes the viewer's password (12–128 characters, not a common one);
    /// the viewer's other sessions end.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> AppResult<bool> {
        let v = viewer(ctx)?;
        let keep = ctx.data_opt::<SessionFamily>().and_then(|f| f.0);
        svc::change_password(state(ctx), v, keep, &current_password, &new_password).await
    }

    /// Asks for a password-reset link by mail. Always `true` (whether the
    /// account exists is not told); throttled.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> AppResult<bool> {
        svc::request_password_reset(state(ctx), &email, &request(ctx).client).await
    }

    /// Sets a password with a set-password or reset link's token (single use,
    /// expiring); every other session of the user ends, and a new one starts.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> AppResult<AuthPayload> {
        Ok(
            svc::reset_password(state(ctx), &token, &new_password, &request(ctx).client)
                .await?
                .into(),
        )
    }

    /// Changes a user's name, role, institution or language (admin).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> AppResult<User> {
        let v = admin(ctx)?;
        let uid = parse_id(&id, "ユーザー", "User")?;
        let edit = UpdateUser {
            display_name: input.display_name,
            role: input.role,
            institution_id: input.institution_id.map(|i| i.0),
            language: input.language,
        };
        Ok(User(svc::update_user(state(ctx), v, uid, edit).await?))
    }

    /// A single-use set-password link for a user (admin; valid 72 hours, shown once).
    async fn issue_password_link(&self, ctx: &Context<'_>, user_id: ID) -> AppResult<String> {
        let v = admin(ctx)?;
        let uid = parse_id(&user_id, "ユーザー", "User")?;
        svc::issue_password_link(state(ctx), v, uid).await
    }

    /// Changes the lab's settings (admin).
    async fn update_lab_settings(
        &self,
        ctx: &Context<'_>,
        input: LabSettingsInput,
    ) -> AppResult<LabSettings> {
        let v = admin(ctx)?;
        let s = settings::update(
            state(ctx),
            v,
            SettingsInput {
                pickup_days: input.pickup_days,
                closure_days: input.closure_days,
                escalation_repeat_days: input.escalation_repeat_days,
                display_name: input.display_name,
                contact_line: input.contact_line,
            },
        )
        .await?;
        Ok(LabSettings(s))
    }

    /// An institution's own pick-up days (admin); null: the lab's.
    async fn set_institution_pickup_days(
        &self,
        ctx: &Context<'_>,
        id: ID,
        days: Option<i64>,
    ) -> AppResult<Institution> {
        let v = admin(ctx)?;
        let iid = parse_id(&id, "連携機関", "Institution")?;
        Ok(Institution(
            settings::set_institution_pickup_days(state(ctx), v, iid, days).await?,
        ))
    }
}
