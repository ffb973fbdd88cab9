//! Staff accounts: the signed-in user, the lab's accounts and their
//! administration by the lab secretariat (admins), and the labs the public
//! consultation form offers.

use crate::auth::password;
use crate::domain::permissions::{require_admin, Viewer};
use crate::domain::types::Role;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{LabRow, UserRow};
use uuid::Uuid;

/// `createUser` as the service sees it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    /// The institution's ID as given; required for `PARTNER` users, not allowed for others.
    pub institution_id: Option<String>,
}

/// `me`: the viewer's own account (`UNAUTHENTICATED` once it is gone).
pub async fn me(st: &AppState, v: &Viewer) -> AppResult<UserRow> {
    st.store
        .user(v.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)
}

/// `lab`: the viewer's lab.
pub async fn lab(st: &AppState, v: &Viewer) -> AppResult<LabRow> {
    super::cases::lab_of(st, v).await
}

/// `users`: the lab's staff accounts (admin only).
pub async fn list(st: &AppState, v: &Viewer) -> AppResult<Vec<UserRow>> {
    require_admin(v)?;
    st.store.users(v.lab_id).await
}

/// `publicLabs`: the labs of this deployment (no login).
pub async fn public_labs(st: &AppState) -> AppResult<Vec<LabRow>> {
    st.store.labs().await
}

/// `createUser`: a staff account in the admin's lab. A partner user belongs to
/// an institution of the lab; nobody else does.
pub async fn create_user(st: &AppState, v: &Viewer, input: NewUser) -> AppResult<UserRow> {
    require_admin(v)?;
    let email = validation::email("email", &input.email)?;
    let display_name =
        validation::required_text("displayName", "表示名", &input.display_name, 100)?;
    password::check_strength(&input.password)?;
    let institution_id = match (input.role, &input.institution_id) {
        (Role::Partner, Some(id)) => {
            let not_found = || AppError::not_found("連携機関", "Institution");
            let iid = id.parse::<Uuid>().map_err(|_| not_found())?;
            st.store
                .institution(v.lab_id, iid)
                .await?
                .ok_or_else(not_found)?;
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
    Ok(row)
}

/// `deactivateUser`: all the account's sessions end and its next request is
/// refused. Admins cannot deactivate themselves.
pub async fn deactivate(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<UserRow> {
    require_admin(v)?;
    if id == v.user_id {
        return Err(AppError::bad_input(
            Some("id"),
            "自分自身を無効にすることはできません。",
            "You cannot deactivate your own account.",
        ));
    }
    set_active(st, v, id, false).await
}

/// `activateUser`.
pub async fn activate(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<UserRow> {
    require_admin(v)?;
    set_active(st, v, id, true).await
}

async fn set_active(st: &AppState, v: &Viewer, id: Uuid, active: bool) -> AppResult<UserRow> {
    st.store
        .set_user_active(v.lab_id, id, active, st.now())
        .await?
        .ok_or_else(|| AppError::not_found("ユーザー", "User"))
}
