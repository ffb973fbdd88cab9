//! Accounts a real lab runs on (issue 11): single-use set-password and reset
//! links, changing and resetting a password (ending the other sessions), an
//! admin's edits of a user, and `dxdesk user create`.

use crate::auth::{self, password, AuthOutcome};
use crate::domain::permissions::{require_admin, Viewer};
use crate::domain::types::Role;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::accounts::{TokenPurpose, UserEdit};
use crate::store::UserRow;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a set-password link (a new account's first password) is valid.
pub const SET_TTL: Duration = Duration::hours(72);
/// How long a password-reset link is valid.
pub const RESET_TTL: Duration = Duration::hours(1);

/// The stored password hash of an account that has no usable password yet
/// (not a PHC string: nothing verifies against it).
pub const NO_PASSWORD: &str = "!unset";

/// `DXDESK_PUBLIC_URL` (the address people open the desk at), without a
/// trailing slash; `http://localhost:8080` when unset.
// The same variable the notification mails use (`notify::NotifyConfig`).
pub fn public_url() -> String {
    std::env::var("DXDESK_PUBLIC_URL")
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "http://localhost:8080".to_owned())
}

/// The page a link opens; the token is in the fragment, so it is neither sent
/// to the server with the page request nor written to access logs.
pub fn link_path(purpose: TokenPurpose, token: &str) -> String {
    match purpose {
        TokenPurpose::Set => format!("/set-password#{token}"),
        TokenPurpose::Reset => format!("/reset-password#{token}"),
    }
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("dxdesk-account-token\n{token}").as_bytes(),
    ))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates a single-use link for `user_id` and returns its full URL (shown once;
/// only the token's hash is stored).
pub async fn issue_link(
    store: &dyn crate::store::Store,
    user_id: Uuid,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let token = new_token();
    let ttl = match purpose {
        TokenPurpose::Set => SET_TTL,
        TokenPurpose::Reset => RESET_TTL,
    };
    store
        .insert_account_token(&hash_token(&token), user_id, purpose, now, now + ttl)
        .await?;
    Ok(format!("{}{}", public_url(), link_path(purpose, &token)))
}

/// `issuePasswordLink(userId)`: a set-password link for a user of the admin's lab
/// (72 hours, single use). Works whether or not the user has a password.
pub async fn issue_password_link(st: &AppState, v: &Viewer, user_id: Uuid) -> AppResult<String> {
    require_admin(v)?;
    let user = st
        .store
        .user(user_id)
        .await?
        .filter(|u| u.lab_id == v.lab_id)
        .ok_or_else(|| AppError::not_found("ユーザー", "User"))?;
    if !user.active {
        return Err(AppError::conflict(
            "無効なアカウントにはリンクを発行できません。先に有効にしてください。",
            "The account is deactivated; activate it first.",
        ));
    }
    issue_link(st.store.as_ref(), user.id, TokenPurpose::Set, st.now()).await
}

/// Hands a reset link to the account's owner by mail, through the
/// notification outbox (a safety-critical kind no one can switch off). With
/// mail off (`DXDESK_SMTP_URL` unset) the outbox keeps it as `SKIPPED` and an
/// admin's `issuePasswordLink` is the way to reset.
async fn deliver_reset_link(st: &AppState, user: &UserRow, url: &str) -> AppResult<()> {
    let expires = st.now() + chrono::Duration::hours(1);
    crate::service::notify::enqueue_password_reset(st, user, url, expires).await
}

/// `requestPasswordReset(email)`: always `true` whether or not the account
/// exists; throttled per address (`RATE_LIMITED`) and per account (silently:
/// past the limit nothing is sent, so the answer tells nothing).
pub async fn request_password_reset(st: &AppState, email: &str, client: &str) -> AppResult<bool> {
    let store = st.store.as_ref();
    let now = st.now();
    ratelimit::hit_and_check(store, ratelimit::PASSWORD_RESET_PER_ADDRESS, client, now).await?;
    let email = email.trim().to_lowercase();
    if ratelimit::take(store, ratelimit::PASSWORD_RESET_PER_ACCOUNT, &email, now)
        .await
        .is_err()
    {
        return Ok(true);
    }
    if let Some(user) = store.user_by_email(&email).await?.filter(|u| u.active) {
        let url = issue_link(store, user.id, TokenPurpose::Reset, now).await?;
        deliver_reset_link(st, &user, &url).await?;
    }
    Ok(true)
}

fn bad_link() -> AppError {
    AppError::bad_input(
        Some("token"),
        "このリンクは無効か、期限切れか、既に使われています。管理者に新しいリンクを発行してもらうか、もう一度パスワード再設定を申し込んでください。",
        "This link is not valid, has expired or was already used. Ask an admin for a new link or request a password reset again.",
    )
}

/// `resetPassword(token, newPassword)`: sets the password of a set-password or
/// reset link (single use, expiring), ends every other session of the user and
/// signs in.
pub async fn reset_password(
    st: &AppState,
    token: &str,
    new_password: &str,
    client: &str,
) -> AppResult<AuthOutcome> {
    let store = st.store.as_ref();
    let now = st.now();
    // Bounds the hashing one address can cause with made-up tokens.
    ratelimit::hit_and_check(store, ratelimit::PASSWORD_RESET_PER_ADDRESS, client, now).await?;
    let token = token.trim().trim_start_matches('#');
    password::check_strength(new_password).map_err(|e| rename_field(e, "newPassword"))?;
    let hash = st.hasher.hash(new_password.to_owned()).await?;
    let user_id = store
        .use_account_token(&hash_token(token), &hash, now)
        .await?
        .ok_or_else(bad_link)?;
    let user = store
        .user(user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(bad_link)?;
    auth::service::session_for(st, user).await
}

fn rename_field(e: AppError, field: &str) -> AppError {
    match e {
        AppError::BadInput { msg, .. } => AppError::BadInput {
            field: Some(field.to_owned()),
            msg,
        },
        other => other,
    }
}

/// `changePassword(currentPassword, newPassword)`: the viewer's own password;
/// ends the viewer's other sessions (this one, `keep`, goes on). A wrong
/// current password counts like a failed login of the account.
pub async fn change_password(
    st: &AppState,
    v: &Viewer,
    keep: Option<Uuid>,
    current: &str,
    new_password: &str,
) -> AppResult<bool> {
    let store = st.store.as_ref();
    let user = store
        .user(v.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    let now = st.now();
    let slot = ratelimit::take(store, ratelimit::LOGIN_PER_ACCOUNT, &user.email, now).await?;
    let phc = Some(user.password_hash.clone()).filter(|h| h.starts_with('$'));
    if !st.hasher.verify(current.to_owned(), phc).await? {
        return Err(AppError::bad_input(
            Some("currentPassword"),
            "現在のパスワードが正しくありません。",
            "The current password is incorrect.",
        ));
    }
    ratelimit::release(store, &slot).await?;
    password::check_strength(new_password).map_err(|e| rename_field(e, "newPassword"))?;
    if new_password == current {
        return Err(AppError::bad_input(
            Some("newPassword"),
            "新しいパスワードが現在のものと同じです。",
            "The new password is the same as the current one.",
        ));
    }
    let hash = st.hasher.hash(new_password.to_owned()).await?;
    store
        .set_password_ending_sessions(user.id, &hash, keep, now)
        .await?;
    Ok(true)
}

/// `updateUser(id, input)` as the service sees it.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// The institution's ID; an empty string removes it.
    pub institution_id: Option<String>,
    /// `JA` or `EN`.
    pub language: Option<String>,
}

/// `updateUser`: an admin changes a user's name, role, institution or language.
/// A partner needs an institution and nobody else has one; an admin cannot take
/// away their own admin role. Changing role or institution ends the user's sessions.
pub async fn update_user(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    input: UpdateUser,
) -> AppResult<UserRow> {
    require_admin(v)?;
    let store = st.store.as_ref();
    let current = store
        .user(id)
        .await?
        .filter(|u| u.lab_id == v.lab_id)
        .ok_or_else(|| AppError::not_found("ユーザー", "User"))?;
    let display_name = input
        .display_name
        .as_deref()
        .map(|n| validation::required_text("displayName", "表示名", n, 100))
        .transpose()?;
    if id == v.user_id && input.role.is_some_and(|r| r != Role::Admin) {
        return Err(AppError::bad_input(
            Some("role"),
            "自分自身の管理者権限は外せません。",
            "You cannot remove your own admin role.",
        ));
    }
    let role = input.role.unwrap_or(current.role);
    let wanted_institution = match input.institution_id.as_deref().map(str::trim) {
        None => current.institution_id,
        Some("") => None,
        Some(s) => {
            let not_found = || AppError::not_found("連携機関", "Institution");
            let iid = s.parse::<Uuid>().map_err(|_| not_found())?;
            store
                .institution(v.lab_id, iid)
                .await?
                .ok_or_else(not_found)?;
            Some(iid)
        }
    };
    let institution = match (role, wanted_institution) {
        (Role::Partner, Some(i)) => Some(i),
        (Role::Partner, None) => {
            return Err(AppError::bad_input(
                Some("institutionId"),
                "連携機関の担当者には所属機関を指定してください。",
                "A partner user needs an institution.",
            ))
        }
        (_, Some(_))
            if input
                .institution_id
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty()) =>
        {
            return Err(AppError::bad_input(
                Some("institutionId"),
                "所属機関を指定できるのは連携機関の担当者だけです。",
                "Only partner users belong to an institution.",
            ))
        }
        // Leaving the partner role drops the institution.
        (_, _) => None,
    };
    let language = match input.language.as_deref().map(str::trim) {
        None => None,
        Some(l) if l.eq_ignore_ascii_case("JA") => Some("JA".to_owned()),
        Some(l) if l.eq_ignore_ascii_case("EN") => Some("EN".to_owned()),
        Some(_) => {
            return Err(AppError::bad_input(
                Some("language"),
                "言語は JA か EN を指定してください。",
                "The language is JA or EN.",
            ))
        }
    };
    let edit = UserEdit {
        display_name,
        role: (role != current.role).then_some(role),
        institution_id: (institution != current.institution_id).then_some(institution),
        language,
    };
    store
        .update_user(v.lab_id, id, &edit, st.now())
        .await?
        .ok_or_else(|| AppError::not_found("ユーザー", "User"))
}

/// A user's language (`JA` unless set).
pub async fn language_of(st: &AppState, user_id: Uuid) -> AppResult<String> {
    Ok(st
        .store
        .user_language(user_id)
        .await?
        .unwrap_or_else(|| "JA".to_owned()))
}

/// `dxdesk user create` as the CLI gives it.
#[derive(Debug, Clone)]
pub struct CliUser {
    pub lab: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// An institution's name or ID.
    pub institution: Option<String>,
    /// From `--password-stdin`; `None` = print a set-password link.
    pub password: Option<String>,
}

/// What `dxdesk user create` did: the user and, without a password, the link.
pub struct CliCreated {
    pub user: UserRow,
    pub link: Option<String>,
}

/// `dxdesk user create`: every refusal is one line a person can act on.
pub async fn create_from_cli(st: &AppState, input: CliUser) -> anyhow::Result<CliCreated> {
    let store = st.store.as_ref();
    let one_line = |e: AppError| anyhow::anyhow!("{}", e.message().en);
    let lab = store.lab_by_code(input.lab.trim()).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "unknown lab {:?}: import it first with `dxdesk lab import FILE.json`",
            input.lab
        )
    })?;
    let email = validation::email("email", &input.email).map_err(|e| one_line(e.into()))?;
    if store.user_by_email(&email).await?.is_some() {
        anyhow::bail!("the email {email} is already registered");
    }
    let name = validation::required_text("displayName", "表示名", &input.name, 100)
        .map_err(|e| one_line(e.into()))?;
    let institution_id = match (input.role, input.institution.as_deref().map(str::trim)) {
        (Role::Partner, None) | (Role::Partner, Some("")) => {
            anyhow::bail!(
                "a PARTNER needs --institution NAME_OR_ID (an institution of lab {})",
                lab.code
            )
        }
        (Role::Partner, Some(want)) => {
            let all = store.institutions(lab.id).await?;
            let found = all
                .iter()
                .find(|i| i.id.to_string() == want || i.name == want)
                .ok_or_else(|| {
                    anyhow::anyhow!("unknown institution {want:?} in lab {}", lab.code)
                })?;
            Some(found.id)
        }
        (_, Some(x)) if !x.is_empty() => {
            anyhow::bail!(
                "only a PARTNER belongs to an institution (drop --institution for {})",
                input.role.as_str()
            )
        }
        _ => None,
    };
    let hash = match &input.password {
        Some(p) => {
            password::check_strength(p).map_err(one_line)?;
            st.hasher.hash(p.clone()).await.map_err(one_line)?
        }
        None => NO_PASSWORD.to_owned(),
    };
    let now = st.now();
    let user = UserRow {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        email,
        display_name: name,
        password_hash: hash,
        role: input.role,
        institution_id,
        active: true,
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&user).await.map_err(one_line)?;
    let link = match input.password {
        Some(_) => None,
        None => Some(issue_link(store, user.id, TokenPurpose::Set, now).await?),
    };
    Ok(CliCreated { user, link })
}
