//! Sign-in operations, the viewer (`me`, `lab`), and user administration for the
//! lab secretariat.

use super::types::{Lab, User};
use super::{admin, parse_id, request, state, viewer};
use crate::auth;
use crate::auth::password;
use crate::domain::types::Role;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::store::UserRow;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use uuid::Uuid;

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
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        let v = viewer(ctx)?;
        let row = state(ctx)
            .store
            .user(v.user_id)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
        Ok(User(row))
    }

    /// The viewer's lab, with its regions and municipalities.
    async fn lab(&self, ctx: &Context<'_>) -> AppResult<Lab> {
        let v = viewer(ctx)?;
        let row = state(ctx)
            .store
            .lab(v.lab_id)
            .await?
            .ok_or_else(|| AppError::not_found("ラボ", "Lab"))?;
        Ok(Lab { row })
    }

    /// The lab's staff accounts (admin only).
    async fn users(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        let v = admin(ctx)?;
        Ok(state(ctx)
            .store
            .users(v.lab_id)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }

    /// The labs of this deployment, for the public consultation form (no login).
    async fn public_labs(&self, ctx: &Context<'_>) -> AppResult<Vec<PublicLab>> {
        Ok(state(ctx)
            .store
            .labs()
            .await?
            .into_iter()
            .map(|l| PublicLab {
                code: l.code.clone(),
                name: l.name.clone(),
                regions: l.regions.iter().map(Into::into).collect(),
            })
            .collect())
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
        let st = state(ctx);
        let email = validation::email("email", &input.email)?;
        let display_name =
            validation::required_text("displayName", "表示名", &input.display_name, 100)?;
        password::check_strength(&input.password)?;
        let institution_id = match (input.role, &input.institution_id) {
            (Role::Partner, Some(id)) => {
                let iid = parse_id(id, "連携機関", "Institution")?;
                st.store
                    .institution(v.lab_id, iid)
                    .await?
                    .ok_or_else(|| AppError::not_found("連携機関", "Institution"))?;
                Some(iid)
            }
            (Role::Partner, None) => {
                return Err(AppError::bad_input(
                    Some("institutionId"),
                    "連携機関の担当者には所属機関を指定してください。",
                    "A partner user needs an institution.",
                ))
            }
            (_, Some(_)) => {
                return Err(AppError::bad_input(
                    Some("institutionId"),
                    "所属機関を指定できるのは連携機関の担当者だけです。",
                    "Only partner users belong to an institution.",
                ))
            }
            (_, None) => None,
        };
        let hash = st.hasher.hash(input.password).await?;
        let now = st.now();
        let row = UserRow {
            id: Uuid::now_v7(),
            lab_id: v.lab_id,
            email,
            display_name,
            password_hash: hash,
            role: input.role,
            institution_id,
            active: true,
            created_at: now,
            updated_at: now,
        };
        st.store.insert_user(&row).await?;
        Ok(User(row))
    }

    /// Deactivates an account: all its sessions end and its next request is refused.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<User> {
        let v = admin(ctx)?;
        let uid = parse_id(&id, "ユーザー", "User")?;
        if uid == v.user_id {
            return Err(AppError::bad_input(
                Some("id"),
                "自分自身を無効にすることはできません。",
                "You cannot deactivate your own account.",
            ));
        }
        set_active(ctx, uid, false).await
    }

    /// Re-activates an account.
    async fn activate_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<User> {
        admin(ctx)?;
        let uid = parse_id(&id, "ユーザー", "User")?;
        set_active(ctx, uid, true).await
    }
}

async fn set_active(ctx: &Context<'_>, uid: Uuid, active: bool) -> AppResult<User> {
    let v = admin(ctx)?;
    let st = state(ctx);
    st.store
        .set_user_active(v.lab_id, uid, active, st.now())
        .await?
        .map(User)
        .ok_or_else(|| AppError::not_found("ユーザー", "User"))
}
