//! Accounts and lab onboarding (issue 11): single-use set-password / reset
//! tokens, the addresses an account signed in from, lab and institution
//! settings, a user's language and edits, and a lab file's changes applied in
//! one transaction.

use super::cache::Key;
use super::db::{sql, Col, HasDb, Sql, Tx};
use super::models::*;
use super::reports::KpiTargetRow;
use super::rules::PENDING;
use super::unique_or;
use crate::domain::types::{InstitutionKind, Role};
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// What a single-use link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// The first password of an account (72 hours).
    Set,
    /// A forgotten password (1 hour).
    Reset,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Set => "SET",
            TokenPurpose::Reset => "RESET",
        }
    }
}

/// A lab's settings row (`lab_settings`); absent = the defaults.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LabSettingsRow {
    pub lab_id: Uuid,
    pub display_name: Option<String>,
    pub contact_line: Option<String>,
    pub escalation_repeat_days: Option<i64>,
    /// `YYYY-MM-DD` (one date) or `--MM-DD` (every year).
    pub closure_days: Json<Vec<String>>,
    pub updated_at: DateTime<Utc>,
}

/// An edit of a user by an admin (`None` = unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` removes the institution.
    pub institution_id: Option<Option<Uuid>>,
    pub language: Option<String>,
}

/// One write of a lab file's import.
#[derive(Debug, Clone)]
pub enum ImportWrite {
    InsertLab(LabRow),
    UpdateLab {
        id: Uuid,
        name: String,
        name_en: String,
        regions: Json<Vec<Region>>,
    },
    /// Creates the lab's settings row or stamps its `updated_at`.
    TouchLab {
        id: Uuid,
    },
    InsertInstitution(InstitutionRow),
    UpdateInstitution {
        id: Uuid,
        name: String,
        kind: InstitutionKind,
        tags: Json<Vec<String>>,
        regions: Json<Vec<String>>,
    },
    SetInstitutionPickup {
        id: Uuid,
        days: Option<i64>,
    },
    InsertKpi(KpiTargetRow),
    UpdateKpi {
        id: Uuid,
        unit: String,
        target: f64,
    },
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn insert_account_token(
        &self,
        token_hash: &str,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()>;
    /// Uses a token once: sets the password hash, marks the token used, ends
    /// every session of the user, in one transaction. `None` when the token is
    /// unknown, used or expired.
    async fn use_account_token(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> AppResult<Option<Uuid>>;
    /// Sets a password and revokes every session of the user except the family `keep`.
    async fn set_password_ending_sessions(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> AppResult<()>;

    async fn is_known_address(&self, account: &str, address: &str) -> AppResult<bool>;
    async fn remember_address(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> AppResult<()>;

    async fn lab_settings(&self, lab_id: Uuid) -> AppResult<Option<LabSettingsRow>>;
    /// Writes the settings row and the lab's pick-up days together.
    async fn save_lab_settings(&self, row: &LabSettingsRow, pickup_days: i64) -> AppResult<()>;
    async fn institution_pickup_days(&self, institution_id: Uuid) -> AppResult<Option<i64>>;
    /// Every institution of the lab that has its own pick-up days.
    async fn institutions_pickup_days(&self, lab_id: Uuid) -> AppResult<Vec<(Uuid, i64)>>;
    async fn set_institution_pickup_days(
        &self,
        institution_id: Uuid,
        days: Option<i64>,
        now: DateTime<Utc>,
    ) -> AppResult<()>;

    async fn user_language(&self, user_id: Uuid) -> AppResult<Option<String>>;
    /// Applies an admin's edit of a user of `lab_id`; `None` when there is no such user.
    async fn update_user(
        &self,
        lab_id: Uuid,
        id: Uuid,
        edit: &UserEdit,
        now: DateTime<Utc>,
    ) -> AppResult<Option<UserRow>>;

    /// Applies a lab file's writes in one transaction: all or nothing.
    async fn apply_import(&self, writes: &[ImportWrite], now: DateTime<Utc>) -> AppResult<()>;
}

const USER_COLS: &str = "id, lab_id, email, display_name, password_hash, role, institution_id, active, created_at, updated_at";

async fn revoke_sessions(
    tx: &mut Tx,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut q = sql("UPDATE refresh_sessions SET revoked_at = ");
    q.bind(now)
        .push(" WHERE user_id = ")
        .bind(user_id)
        .push(" AND revoked_at IS NULL");
    if let Some(f) = keep {
        q.push(" AND family_id <> ").bind(f);
    }
    q.execute(&mut *tx).await
}

async fn set_hash(tx: &mut Tx, user_id: Uuid, hash: &str, now: DateTime<Utc>) -> sqlx::Result<u64> {
    sql("UPDATE users SET password_hash = ")
        .bind(hash)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(user_id)
        .execute(&mut *tx)
        .await
}

fn institution_cols(r: &InstitutionRow) -> Vec<Col> {
    vec![
        ("id", r.id.into()),
        ("lab_id", r.lab_id.into()),
        ("name", (&r.name).into()),
        ("kind", r.kind.into()),
        ("tags", (&r.tags).into()),
        ("regions", (&r.regions).into()),
        ("active", r.active.into()),
        ("created_at", r.created_at.into()),
        ("updated_at", r.updated_at.into()),
    ]
}

fn kpi_cols(r: &KpiTargetRow) -> Vec<Col> {
    vec![
        ("id", r.id.into()),
        ("lab_id", r.lab_id.into()),
        ("fiscal_year", r.fiscal_year.into()),
        ("name", (&r.name).into()),
        ("unit", (&r.unit).into()),
        ("target", r.target.into()),
        ("metric", (&r.metric).into()),
        ("manual_actual", r.manual_actual.into()),
        ("created_at", r.created_at.into()),
        ("updated_at", r.updated_at.into()),
    ]
}

async fn upsert_institution_pickup(
    conn: &mut Tx,
    id: Uuid,
    days: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Sql::default()
        .insert(
            "institution_settings",
            vec![
                ("institution_id", id.into()),
                ("pickup_days", days.into()),
                ("updated_at", now.into()),
            ],
        )
        .push(
            " ON CONFLICT (institution_id) DO UPDATE SET pickup_days = excluded.pickup_days, updated_at = excluded.updated_at",
        )
        .execute(&mut *conn)
        .await
}

#[async_trait]
impl<S: HasDb> AccountStore for S {
    #[tracing::instrument(skip_all)]
    async fn insert_account_token(
        &self,
        token_hash: &str,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        Sql::default()
            .insert(
                "account_tokens",
                vec![
                    ("token_hash", token_hash.into()),
                    ("user_id", user_id.into()),
                    ("purpose", purpose.as_str().into()),
                    ("created_at", now.into()),
                    ("expires_at", expires_at.into()),
                ],
            )
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn use_account_token(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> AppResult<Option<Uuid>> {
        let mut tx = self.db().pool.begin_write().await?;
        // The conditional update is the claim: of two concurrent uses, one
        // matches the row and the other finds it used.
        let n = sql("UPDATE account_tokens SET used_at = ")
            .bind(now)
            .push(" WHERE token_hash = ")
            .bind(token_hash)
            .push(" AND used_at IS NULL AND expires_at > ")
            .bind(now)
            .execute(&mut tx)
            .await?;
        if n != 1 {
            return Ok(None);
        }
        let (user_id,): (Uuid,) = sql("SELECT user_id FROM account_tokens WHERE token_hash = ")
            .bind(token_hash)
            .fetch_one(&mut tx)
            .await?;
        set_hash(&mut tx, user_id, password_hash, now).await?;
        revoke_sessions(&mut tx, user_id, None, now).await?;
        // Every other open link of the account ends with it.
        sql("UPDATE account_tokens SET used_at = ")
            .bind(now)
            .push(" WHERE user_id = ")
            .bind(user_id)
            .push(" AND used_at IS NULL")
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.db().cache.forget(Key::User(user_id));
        Ok(Some(user_id))
    }

    #[tracing::instrument(skip_all)]
    async fn set_password_ending_sessions(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        set_hash(&mut tx, user_id, password_hash, now).await?;
        revoke_sessions(&mut tx, user_id, keep, now).await?;
        tx.commit().await?;
        self.db().cache.forget(Key::User(user_id));
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn is_known_address(&self, account: &str, address: &str) -> AppResult<bool> {
        let row: Option<(String,)> =
            sql("SELECT address FROM login_known_addresses WHERE account = ")
                .bind(account)
                .push(" AND address = ")
                .bind(address)
                .fetch_optional(&self.db().pool)
                .await?;
        Ok(row.is_some())
    }

    #[tracing::instrument(skip_all)]
    async fn remember_address(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        Sql::default()
            .insert(
                "login_known_addresses",
                vec![
                    ("account", account.into()),
                    ("address", address.into()),
                    ("last_seen_at", now.into()),
                ],
            )
            .push(" ON CONFLICT (account, address) DO UPDATE SET last_seen_at = excluded.last_seen_at")
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn lab_settings(&self, lab_id: Uuid) -> AppResult<Option<LabSettingsRow>> {
        Ok(sql("SELECT lab_id, display_name, contact_line, escalation_repeat_days, closure_days, updated_at FROM lab_settings WHERE lab_id = ")
            .bind(lab_id)
            .fetch_optional(&self.db().pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn save_lab_settings(&self, r: &LabSettingsRow, pickup_days: i64) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        Sql::default()
            .insert(
                "lab_settings",
                vec![
                    ("lab_id", r.lab_id.into()),
                    ("display_name", (&r.display_name).into()),
                    ("contact_line", (&r.contact_line).into()),
                    ("escalation_repeat_days", r.escalation_repeat_days.into()),
                    ("closure_days", (&r.closure_days).into()),
                    ("updated_at", r.updated_at.into()),
                ],
            )
            .push(" ON CONFLICT (lab_id) DO UPDATE SET display_name = excluded.display_name, contact_line = excluded.contact_line, escalation_repeat_days = excluded.escalation_repeat_days, closure_days = excluded.closure_days, updated_at = excluded.updated_at")
            .execute(&mut tx)
            .await?;
        // A new escalation interval moves the next escalation of every
        // pending referral of the lab: the reminder scan looks at each again
        // (before the lab row below takes the new interval).
        if let Some(every) = r.escalation_repeat_days {
            sql("UPDATE referrals SET next_notice_at = created_at WHERE lab_id = ")
                .bind(r.lab_id)
                .push(&format!(
                    " AND status = {PENDING} AND (SELECT escalation_repeat_days FROM labs WHERE id = "
                ))
                .bind(r.lab_id)
                .push(") <> ")
                .bind(every)
                .execute(&mut tx)
                .await?;
        }
        // The escalation interval also lives on the lab row, where the
        // notification worker reads it with its referrals.
        sql("UPDATE labs SET pickup_days = ")
            .bind(pickup_days)
            .push(", escalation_repeat_days = COALESCE(")
            .bind(r.escalation_repeat_days)
            .push(", escalation_repeat_days) WHERE id = ")
            .bind(r.lab_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.db().cache.forget(Key::Lab(r.lab_id));
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn institution_pickup_days(&self, institution_id: Uuid) -> AppResult<Option<i64>> {
        let row: Option<(Option<i64>,)> =
            sql("SELECT pickup_days FROM institution_settings WHERE institution_id = ")
                .bind(institution_id)
                .fetch_optional(&self.db().pool)
                .await?;
        Ok(row.and_then(|r| r.0))
    }

    #[tracing::instrument(skip_all)]
    async fn institutions_pickup_days(&self, lab_id: Uuid) -> AppResult<Vec<(Uuid, i64)>> {
        Ok(sql("SELECT s.institution_id, s.pickup_days FROM institution_settings s JOIN institutions i ON i.id = s.institution_id WHERE s.pickup_days IS NOT NULL AND i.lab_id = ")
            .bind(lab_id)
            .fetch_all(&self.db().pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn set_institution_pickup_days(
        &self,
        institution_id: Uuid,
        days: Option<i64>,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        upsert_institution_pickup(&mut tx, institution_id, days, now).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn user_language(&self, user_id: Uuid) -> AppResult<Option<String>> {
        let row: Option<(String,)> = sql("SELECT language FROM user_settings WHERE user_id = ")
            .bind(user_id)
            .fetch_optional(&self.db().pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    #[tracing::instrument(skip_all)]
    async fn update_user(
        &self,
        lab_id: Uuid,
        id: Uuid,
        edit: &UserEdit,
        now: DateTime<Utc>,
    ) -> AppResult<Option<UserRow>> {
        let mut tx = self.db().pool.begin_write().await?;
        let mut cols: Vec<Col> = vec![("updated_at", now.into())];
        if let Some(n) = &edit.display_name {
            cols.push(("display_name", n.into()));
        }
        if let Some(r) = edit.role {
            cols.push(("role", r.into()));
        }
        if let Some(i) = edit.institution_id {
            cols.push(("institution_id", i.into()));
        }
        let n = Sql::default()
            .update("users", cols)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .execute(&mut tx)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(lang) = &edit.language {
            Sql::default()
                .insert(
                    "user_settings",
                    vec![
                        ("user_id", id.into()),
                        ("language", lang.into()),
                        ("updated_at", now.into()),
                    ],
                )
                .push(" ON CONFLICT (user_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at")
                .execute(&mut tx)
                .await?;
        }
        if edit.role.is_some() || edit.institution_id.is_some() {
            // What the user may see changed: their sessions start again.
            revoke_sessions(&mut tx, id, None, now).await?;
        }
        let row = sql(&format!("SELECT {USER_COLS} FROM users WHERE id = "))
            .bind(id)
            .fetch_optional(&mut tx)
            .await?;
        tx.commit().await?;
        self.db().cache.forget(Key::User(id));
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    async fn apply_import(&self, writes: &[ImportWrite], now: DateTime<Utc>) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        for w in writes {
            let res =
                match w {
                    ImportWrite::InsertLab(l) => {
                        Sql::default()
                            .insert(
                                "labs",
                                vec![
                                    ("id", l.id.into()),
                                    ("code", (&l.code).into()),
                                    ("name", (&l.name).into()),
                                    ("name_en", (&l.name_en).into()),
                                    ("regions", (&l.regions).into()),
                                    ("pickup_days", l.pickup_days.into()),
                                    ("created_at", l.created_at.into()),
                                ],
                            )
                            .execute(&mut tx)
                            .await
                    }
                    ImportWrite::UpdateLab {
                        id,
                        name,
                        name_en,
                        regions,
                    } => {
                        Sql::default()
                            .update(
                                "labs",
                                vec![
                                    ("name", name.into()),
                                    ("name_en", name_en.into()),
                                    ("regions", regions.into()),
                                ],
                            )
                            .push(" WHERE id = ")
                            .bind(*id)
                            .execute(&mut tx)
                            .await
                    }
                    ImportWrite::TouchLab { id } => Sql::default()
                        .insert(
                            "lab_settings",
                            vec![("lab_id", (*id).into()), ("updated_at", now.into())],
                        )
                        .push(
                            " ON CONFLICT (lab_id) DO UPDATE SET updated_at = excluded.updated_at",
                        )
                        .execute(&mut tx)
                        .await,
                    ImportWrite::InsertInstitution(r) => {
                        Sql::default()
                            .insert("institutions", institution_cols(r))
                            .execute(&mut tx)
                            .await
                    }
                    ImportWrite::UpdateInstitution {
                        id,
                        name,
                        kind,
                        tags,
                        regions,
                    } => {
                        Sql::default()
                            .update(
                                "institutions",
                                vec![
                                    ("name", name.into()),
                                    ("kind", (*kind).into()),
                                    ("tags", tags.into()),
                                    ("regions", regions.into()),
                                    ("updated_at", now.into()),
                                ],
                            )
                            .push(" WHERE id = ")
                            .bind(*id)
                            .execute(&mut tx)
                            .await
                    }
                    ImportWrite::SetInstitutionPickup { id, days } => {
                        upsert_institution_pickup(&mut tx, *id, *days, now).await
                    }
                    ImportWrite::InsertKpi(k) => {
                        Sql::default()
                            .insert("kpi_targets", kpi_cols(k))
                            .execute(&mut tx)
                            .await
                    }
                    ImportWrite::UpdateKpi { id, unit, target } => {
                        Sql::default()
                            .update(
                                "kpi_targets",
                                vec![
                                    ("unit", unit.into()),
                                    ("target", (*target).into()),
                                    ("updated_at", now.into()),
                                ],
                            )
                            .push(" WHERE id = ")
                            .bind(*id)
                            .execute(&mut tx)
                            .await
                    }
                };
            unique_or(res, || {
                AppError::conflict(
                    "ラボファイルの内容が既存のデータと重複しています。",
                    "The lab file collides with existing data.",
                )
            })?;
        }
        tx.commit().await?;
        self.db().cache.forget(Key::All);
        Ok(())
    }
}
