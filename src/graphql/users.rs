//! Sign-in operations, the viewer (`me`, `lab`), and user administration for the
//! lab secretariat.

use super::types::{Lab, User};
use super::{admin, parse_id, request, state, viewer};
use crate::auth;
use crate::domain::types::Role;
use crate::error::AppResult;
use crate::service::users::{self as svc, NewUser};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

/// Tokens of a new session. Send the access token as `Authorization: Bearer …`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    /// Single use: `refreshSession` returns a new one each time.
    pub refresh_token: String,
    pub user: User,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<auth::AuthOutcome> for AuthPayload {
    fn from(o: auth::AuthOutcome) -> Self {
        AuthPayload {
            access_token: o.access_token,
            refresh_token: o.refresh_token,
            user: User(o.user),
            expires_in: auth::service::ACCESS_TTL_SECS,
        }
    }
}

/// A new staff account.
#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    /// Required for `PARTNER` users, not allowed for others.
    pub institution_id: Option<ID>,
}

/// A lab as the public consultation form sees it.
#[derive(SimpleObject)]
pub struct PublicLab {
    pub code: String,
    pub name: String,
    pub regions: Vec<super::types::Region>,
    /// The name the public pages show (lab settings; the lab's name by default).
    pub display_name: String,
    /// The desk's contact line for the public pages (may be empty).
    pub contact_line: String,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        Ok(User(svc::me(state(ctx), viewer(ctx)?).await?))
    }

    /// The viewer's lab, with its regions and municipalities.
    async fn lab(&self, ctx: &Context<'_>) -> AppResult<Lab> {
        let row = svc::lab(state(ctx), viewer(ctx)?).await?;
        Ok(Lab { row })
    }

    /// The lab's staff accounts (admin only).
    async fn users(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        let v = admin(ctx)?;
        Ok(svc::list(state(ctx), v)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }

    /// The labs of this deployment, for the public consultation form (no login).
    async fn public_labs(&self, ctx: &Context<'_>) -> AppResult<Vec<PublicLab>> {
        let st = state(ctx);
        let mut out = Vec::new();
        for l in svc::public_labs(st).await? {
            let s = crate::service::lab_settings::of_lab(st, &l).await?;
            out.push(PublicLab {
                code: l.code.clone(),
                name: l.name.clone(),
                regions: l.regions.iter().map(Into::into).collect(),
                display_name: s.display_name,
                contact_line: s.contact_line,
            });
        }
        Ok(out)
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Signs in. Wrong password and unknown email get the same answer; repeated
    /// failures are throttled per account and per address (`RATE_LIMITED`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> AppResult<AuthPayload> {
        let out = auth::login(state(ctx), &email, &password, &request(ctx).client).await?;
        Ok(out.into())
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once;
    /// presenting a used one ends the whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> AppResult<AuthPayload> {
        Ok(auth::refresh(state(ctx), &refresh_token).await?.into())
    }

    /// Ends the session of this refresh token (its access tokens stop working too).
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> AppResult<bool> {
        auth::logout(state(ctx), &refresh_token).await
    }

    /// Creates a staff account in the admin's lab.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> AppResult<User> {
        let v = admin(ctx)?;
        let new = NewUser {
            email: input.email,
            display_name: input.display_name,
            password: input.password,
            role: input.role,
            institution_id: input.institution_id.map(|id| id.0),
        };
        Ok(User(svc::create_user(state(ctx), v, new).await?))
    }

    /// Deactivates an account: all its sessions end and its next request is refused.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<User> {
        let v = admin(ctx)?;
        let uid = parse_id(&id, "ユーザー", "User")?;
        Ok(User(svc::deactivate(state(ctx), v, uid).await?))
    }

    /// Re-activates an account.
    async fn activate_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<User> {
        let v = admin(ctx)?;
        let uid = parse_id(&id, "ユーザー", "User")?;
        Ok(User(svc::activate(state(ctx), v, uid).await?))
    }
}
