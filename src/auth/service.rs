//! Login, refresh-token rotation with reuse detection, logout, and resolving a
//! bearer token to the request's viewer.

use super::jwt;
use crate::domain::permissions::Viewer;
use crate::error::{AppError, AppResult, Msg};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::{SessionRow, UserRow};
use base64::Engine;
use chrono::Duration;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const REFRESH_TTL_DAYS: i64 = 14;

/// What a successful login or refresh returns.
pub struct AuthOutcome {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserRow,
}

/// The result of reading the `Authorization` header.
#[derive(Debug, Clone)]
pub enum Authn {
    /// No header: anonymous (public operations only).
    Anonymous,
    /// A valid token of an active user.
    User(Viewer),
    /// A header that did not check out: operations needing a user say why.
    Invalid(&'static str, &'static str),
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn bad_credentials() -> AppError {
    AppError::Unauthenticated(Msg::new(
        "メールアドレスまたはパスワードが正しくありません。",
        "The email or password is incorrect.",
    ))
}

fn session_over() -> AppError {
    AppError::Unauthenticated(Msg::new(
        "セッションの有効期限が切れました。もう一度ログインしてください。",
        "Your session has ended. Please sign in again.",
    ))
}

async fn start_session(state: &AppState, user: UserRow, family_id: Uuid) -> AppResult<AuthOutcome> {
    let now = state.now();
    let refresh_token = new_refresh_token();
    state
        .store
        .insert_session(&SessionRow {
            id: Uuid::now_v7(),
            user_id: user.id,
            family_id,
            token_hash: hash_token(&refresh_token),
            created_at: now,
            expires_at: now + Duration::days(REFRESH_TTL_DAYS),
            used_at: None,
            revoked_at: None,
        })
        .await?;
    let access_token = state
        .jwt
        .issue(user.id, family_id, now.timestamp())
        .map_err(AppError::internal)?;
    Ok(AuthOutcome {
        access_token,
        refresh_token,
        user,
    })
}

/// `login(email, password)`: the same error, after the same work, for an unknown
/// email and a wrong password. Each attempt takes its slots *before* the
/// password is verified (atomically, see `ratelimit`), so concurrent guesses
/// cannot all pass:
/// - per (account, address), always;
/// - per account, unless the address is one the account signed in from before
///   (the owner is not refused because of guessing from elsewhere);
/// - per address over *different* accounts (spraying): the first failure of an
///   (account, address) pair in the window takes one, again except from the
///   account's known address.
///
/// A correct password gives every slot back, clears the account's and the
/// pair's counts and remembers the address. A saturated hasher answers
/// `RATE_LIMITED` and the attempt does not count.
pub async fn login(
    state: &AppState,
    email: &str,
    pw: &str,
    client: &str,
) -> AppResult<AuthOutcome> {
    let email = email.trim().to_lowercase();
    let _admitted = state.hasher.admit().await?;
    let now = state.now();
    let store = state.store.as_ref();
    let known = store.is_known_address(&email, client).await?;
    let pair_key = format!("{email}|{client}");
    let mut slots = Vec::new();
    let taken: AppResult<()> = async {
        let pair =
            ratelimit::take(store, ratelimit::LOGIN_PER_ACCOUNT_ADDRESS, &pair_key, now).await?;
        let first_of_pair = pair.prior() == 0;
        slots.push(pair);
        if !known {
            slots.push(ratelimit::take(store, ratelimit::LOGIN_PER_ACCOUNT, &email, now).await?);
            if first_of_pair {
                slots
                    .push(ratelimit::take(store, ratelimit::LOGIN_PER_ADDRESS, client, now).await?);
            }
        }
        Ok(())
    }
    .await;
    let release_all = |slots: Vec<ratelimit::Slot>| async move {
        for s in &slots {
            ratelimit::release(store, s).await?;
        }
        AppResult::Ok(())
    };
    if let Err(e) = taken {
        release_all(slots).await?;
        return Err(e);
    }
    let user = store.user_by_email(&email).await?;
    // An account without a usable password (created with a set-password link)
    // costs the same as an unknown one.
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|h| h.starts_with('$'));
    let verified = state.hasher.verify(pw.to_owned(), phc.clone()).await;
    let ok = match verified {
        Ok(ok) => ok && phc.is_some(),
        Err(e) => {
            // Not verified at all: the attempt does not count.
            release_all(slots).await?;
            return Err(e);
        }
    };
    match user {
        Some(user) if ok && user.active => {
            release_all(slots).await?;
            store
                .rate_clear(ratelimit::LOGIN_PER_ACCOUNT.bucket, &email)
                .await?;
            store
                .rate_clear(ratelimit::LOGIN_PER_ACCOUNT_ADDRESS.bucket, &pair_key)
                .await?;
            store.remember_address(&email, client, now).await?;
            tracing::info!(user = %user.id, "login");
            start_session(state, user, Uuid::now_v7()).await
        }
        _ => Err(bad_credentials()),
    }
}

/// A new session for `user` (after a password reset): new tokens, a new family.
pub async fn session_for(state: &AppState, user: UserRow) -> AppResult<AuthOutcome> {
    start_session(state, user, Uuid::now_v7()).await
}

/// The session family of a request's access token, if it verifies (no
/// database read): "the other sessions" are the user's other families.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionFamily(pub Option<Uuid>);

pub fn session_family(state: &AppState, header: Option<&str>) -> SessionFamily {
    SessionFamily(
        header
            .and_then(bearer_token)
            .and_then(|t| state.jwt.verify(t).ok())
            .and_then(|c| c.sid.parse().ok()),
    )
}

/// `refreshSession`: rotates the refresh token; presenting one already used
/// revokes the whole family (someone else holds a copy).
pub async fn refresh(state: &AppState, token: &str) -> AppResult<AuthOutcome> {
    let now = state.now();
    let store = state.store.as_ref();
    let Some(session) = store.session_by_token_hash(&hash_token(token)).await? else {
        return Err(session_over());
    };
    if session.revoked_at.is_some() || session.expires_at <= now {
        return Err(session_over());
    }
    if session.used_at.is_some() || !store.mark_session_used(session.id, now).await? {
        tracing::warn!(family = %session.family_id, "refresh token reuse: revoking the session family");
        store.revoke_family(session.family_id, now).await?;
        return Err(session_over());
    }
    let user = match store.user(session.user_id).await? {
        Some(u) if u.active => u,
        _ => {
            store.revoke_family(session.family_id, now).await?;
            return Err(session_over());
        }
    };
    start_session(state, user, session.family_id).await
}

/// `logout`: ends the session family of this refresh token. Unknown tokens are
/// not an error (the session is over either way).
pub async fn logout(state: &AppState, token: &str) -> AppResult<bool> {
    let store = state.store.as_ref();
    if let Some(session) = store.session_by_token_hash(&hash_token(token)).await? {
        store.revoke_family(session.family_id, state.now()).await?;
        return Ok(true);
    }
    Ok(false)
}

const INVALID_TOKEN: Authn = Authn::Invalid(
    "アクセストークンが無効です。もう一度ログインしてください。",
    "The access token is not valid. Please sign in again.",
);

/// Reads an `Authorization` header value.
/// The token of an `Authorization: Bearer <token>` header value (the scheme
/// in either case `Bearer`/`bearer`), trimmed; `None` for any other scheme.
pub fn bearer_token(value: &str) -> Option<&str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

pub async fn authenticate(state: &AppState, header: Option<&str>) -> AppResult<Authn> {
    let Some(value) = header else {
        return Ok(Authn::Anonymous);
    };
    let Some(token) = bearer_token(value) else {
        return Ok(Authn::Invalid(
            "Authorization ヘッダーは「Bearer <トークン>」の形式で送ってください。",
            "Send the Authorization header as \"Bearer <token>\".",
        ));
    };
    let claims = match state.jwt.verify(token) {
        Ok(c) => c,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            return Ok(match e.kind() {
                ErrorKind::ExpiredSignature => Authn::Invalid(
                    "アクセストークンの有効期限が切れています。セッションを更新してください。",
                    "The access token has expired. Refresh your session.",
                ),
                _ => INVALID_TOKEN,
            });
        }
    };
    let (Ok(user_id), Ok(family)) = (claims.sub.parse::<Uuid>(), claims.sid.parse::<Uuid>()) else {
        return Ok(INVALID_TOKEN);
    };
    Ok(match state.store.user_for_access(user_id, family).await? {
        Some(user) => Authn::User(user.viewer()),
        None => Authn::Invalid(
            "セッションは終了しています。もう一度ログインしてください。",
            "Your session has ended. Please sign in again.",
        ),
    })
}

pub use jwt::ACCESS_TTL_SECS;
