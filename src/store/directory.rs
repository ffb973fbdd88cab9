//! The directory of a deployment: labs, institutions, users, refresh sessions and
//! the throttling counters that several instances share.

use super::models::*;
use super::{fetch_in, unique_or, PgStore, SqliteStore};
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> AppResult<()>;

    /// Inserts a lab, or updates its name, regions and pick-up days if its code exists.
    async fn upsert_lab(&self, lab: &LabRow) -> AppResult<Uuid>;
    async fn lab(&self, id: Uuid) -> AppResult<Option<LabRow>>;
    async fn lab_by_code(&self, code: &str) -> AppResult<Option<LabRow>>;
    /// All labs, oldest first.
    async fn labs(&self) -> AppResult<Vec<LabRow>>;

    /// The lab's institutions, by name.
    async fn institutions(&self, lab_id: Uuid) -> AppResult<Vec<InstitutionRow>>;
    async fn institution(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<InstitutionRow>>;
    async fn institutions_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<InstitutionRow>>;
    /// `CONFLICT` when the lab already has an institution of that name.
    async fn insert_institution(&self, row: &InstitutionRow) -> AppResult<()>;
    async fn update_institution(&self, row: &InstitutionRow) -> AppResult<()>;

    async fn user(&self, id: Uuid) -> AppResult<Option<UserRow>>;
    async fn user_by_email(&self, email: &str) -> AppResult<Option<UserRow>>;
    async fn users(&self, lab_id: Uuid) -> AppResult<Vec<UserRow>>;
    async fn users_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<UserRow>>;
    /// `CONFLICT` when the email is taken.
    async fn insert_user(&self, row: &UserRow) -> AppResult<()>;
    /// Sets the active flag; deactivating also revokes every session of the user.
    async fn set_user_active(
        &self,
        lab_id: Uuid,
        id: Uuid,
        active: bool,
        now: DateTime<Utc>,
    ) -> AppResult<Option<UserRow>>;
    async fn set_user_password(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> AppResult<()>;

    async fn insert_session(&self, s: &SessionRow) -> AppResult<()>;
    async fn session_by_token_hash(&self, hash: &str) -> AppResult<Option<SessionRow>>;
    /// Marks a session used; false when it was already used or revoked (a reuse).
    async fn mark_session_used(&self, id: Uuid, now: DateTime<Utc>) -> AppResult<bool>;
    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> AppResult<()>;
    /// The user behind an access token, if the user is active and the token's
    /// session family has not been revoked.
    async fn user_for_access(&self, user_id: Uuid, family_id: Uuid) -> AppResult<Option<UserRow>>;

    async fn rate_hit(&self, bucket: &str, key: &str, at: DateTime<Utc>) -> AppResult<()>;
    async fn rate_window(
        &self,
        bucket: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> AppResult<RateWindow>;
    /// Counts and records in one transaction that holds the key's row lock
    /// (see `RateTake`), so concurrent takes of one key, from any instance,
    /// cannot all pass.
    async fn rate_take(&self, take: &RateTake<'_>) -> AppResult<RateTaken>;
    /// Gives back the hit a take recorded under `token`.
    async fn rate_release(&self, bucket: &str, key: &str, token: &str) -> AppResult<()>;
    async fn rate_clear(&self, bucket: &str, key: &str) -> AppResult<()>;
    async fn rate_prune(&self, before: DateTime<Utc>) -> AppResult<u64>;
}

const INSTITUTION_COLS: &str =
    "id, lab_id, name, kind, tags, regions, active, created_at, updated_at";
const USER_COLS: &str = "id, lab_id, email, display_name, password_hash, role, institution_id, active, created_at, updated_at";
const LAB_COLS: &str = "id, code, name, name_en, regions, pickup_days, created_at";
const SESSION_COLS: &str =
    "id, user_id, family_id, token_hash, created_at, expires_at, used_at, revoked_at";

macro_rules! impl_directory {
    ($store:ty) => {
        #[async_trait]
        impl DirectoryStore for $store {
            async fn ping(&self) -> AppResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_lab(&self, lab: &LabRow) -> AppResult<Uuid> {
                let mut tx = self.begin_write().await?;
                let existing: Option<(Uuid,)> =
                    sqlx::query_as("SELECT id FROM labs WHERE code = $1")
                        .bind(&lab.code)
                        .fetch_optional(&mut *tx)
                        .await?;
                let id = match existing {
                    Some((id,)) => {
                        sqlx::query(
                            "UPDATE labs SET name = $1, name_en = $2, regions = $3, pickup_days = $4 WHERE id = $5",
                        )
                        .bind(&lab.name)
                        .bind(&lab.name_en)
                        .bind(&lab.regions)
                        .bind(lab.pickup_days)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        id
                    }
                    None => {
                        sqlx::query(&format!(
                            "INSERT INTO labs ({LAB_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                        ))
                        .bind(lab.id)
                        .bind(&lab.code)
                        .bind(&lab.name)
                        .bind(&lab.name_en)
                        .bind(&lab.regions)
                        .bind(lab.pickup_days)
                        .bind(lab.created_at)
                        .execute(&mut *tx)
                        .await?;
                        lab.id
                    }
                };
                tx.commit().await?;
                Ok(id)
            }

            async fn lab(&self, id: Uuid) -> AppResult<Option<LabRow>> {
                Ok(sqlx::query_as(&format!("SELECT {LAB_COLS} FROM labs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn lab_by_code(&self, code: &str) -> AppResult<Option<LabRow>> {
                Ok(sqlx::query_as(&format!("SELECT {LAB_COLS} FROM labs WHERE code = $1"))
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn labs(&self) -> AppResult<Vec<LabRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {LAB_COLS} FROM labs ORDER BY created_at, code"
                ))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn institutions(&self, lab_id: Uuid) -> AppResult<Vec<InstitutionRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {INSTITUTION_COLS} FROM institutions WHERE lab_id = $1 ORDER BY name"
                ))
                .bind(lab_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn institution(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<InstitutionRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {INSTITUTION_COLS} FROM institutions WHERE lab_id = $1 AND id = $2"
                ))
                .bind(lab_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn institutions_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<InstitutionRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE id IN"), ids, "")?)
            }

            async fn insert_institution(&self, r: &InstitutionRow) -> AppResult<()> {
                let sql = format!(
                    "INSERT INTO institutions ({INSTITUTION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                );
                let res = sqlx::query(&sql)
                .bind(r.id)
                .bind(r.lab_id)
                .bind(&r.name)
                .bind(r.kind)
                .bind(&r.tags)
                .bind(&r.regions)
                .bind(r.active)
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&self.pool)
                .await;
                unique_or(res, || duplicate_institution(&r.name)).map(|_| ())
            }

            async fn update_institution(&self, r: &InstitutionRow) -> AppResult<()> {
                let res = sqlx::query(
                    "UPDATE institutions SET name = $1, kind = $2, tags = $3, regions = $4, active = $5, updated_at = $6 WHERE id = $7 AND lab_id = $8",
                )
                .bind(&r.name)
                .bind(r.kind)
                .bind(&r.tags)
                .bind(&r.regions)
                .bind(r.active)
                .bind(r.updated_at)
                .bind(r.id)
                .bind(r.lab_id)
                .execute(&self.pool)
                .await;
                unique_or(res, || duplicate_institution(&r.name)).map(|_| ())
            }

            async fn user(&self, id: Uuid) -> AppResult<Option<UserRow>> {
                Ok(sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn user_by_email(&self, email: &str) -> AppResult<Option<UserRow>> {
                Ok(sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn users(&self, lab_id: Uuid) -> AppResult<Vec<UserRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {USER_COLS} FROM users WHERE lab_id = $1 ORDER BY role, email"
                ))
                .bind(lab_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn users_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<UserRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {USER_COLS} FROM users WHERE id IN"), ids, "")?)
            }

            async fn insert_user(&self, u: &UserRow) -> AppResult<()> {
                let sql = format!(
                    "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                );
                let res = sqlx::query(&sql)
                .bind(u.id)
                .bind(u.lab_id)
                .bind(&u.email)
                .bind(&u.display_name)
                .bind(&u.password_hash)
                .bind(u.role)
                .bind(u.institution_id)
                .bind(u.active)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&self.pool)
                .await;
                unique_or(res, || AppError::conflict(
                        format!("メールアドレス {} は既に登録されています。", u.email),
                        format!("The email {} is already registered.", u.email),
                    )).map(|_| ())
            }

            async fn set_user_active(
                &self,
                lab_id: Uuid,
                id: Uuid,
                active: bool,
                now: DateTime<Utc>,
            ) -> AppResult<Option<UserRow>> {
                let mut tx = self.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE users SET active = $1, updated_at = $2 WHERE id = $3 AND lab_id = $4",
                )
                .bind(active)
                .bind(now)
                .bind(id)
                .bind(lab_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(None);
                }
                if !active {
                    sqlx::query(
                        "UPDATE refresh_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                let row = sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn set_user_password(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> AppResult<()> {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_session(&self, s: &SessionRow) -> AppResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO refresh_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.family_id)
                .bind(&s.token_hash)
                .bind(s.created_at)
                .bind(s.expires_at)
                .bind(s.used_at)
                .bind(s.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_by_token_hash(&self, hash: &str) -> AppResult<Option<SessionRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {SESSION_COLS} FROM refresh_sessions WHERE token_hash = $1"
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn mark_session_used(&self, id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
                let n = sqlx::query(
                    "UPDATE refresh_sessions SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
                sqlx::query(
                    "UPDATE refresh_sessions SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(family_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn user_for_access(&self, user_id: Uuid, family_id: Uuid) -> AppResult<Option<UserRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {USER_COLS} FROM users WHERE id = $1 AND active = $2 AND EXISTS (\
                       SELECT 1 FROM refresh_sessions s WHERE s.family_id = $3 AND s.user_id = $1 AND s.revoked_at IS NULL)"
                ))
                .bind(user_id)
                .bind(true)
                .bind(family_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn rate_hit(&self, bucket: &str, key: &str, at: DateTime<Utc>) -> AppResult<()> {
                sqlx::query("INSERT INTO rate_hits (bucket, key, at) VALUES ($1, $2, $3)")
                    .bind(bucket)
                    .bind(key)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn rate_window(&self, bucket: &str, key: &str, since: DateTime<Utc>) -> AppResult<RateWindow> {
                let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(at) FROM rate_hits WHERE bucket = $1 AND key = $2 AND at > $3",
                )
                .bind(bucket)
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                Ok(RateWindow { count, oldest })
            }

            async fn rate_take(&self, t: &RateTake<'_>) -> AppResult<RateTaken> {
                let mut tx = self.begin_bookkeeping().await?;
                // The upsert locks the key's row until commit: the next take of
                // this key waits here, then counts what this one recorded.
                sqlx::query(
                    "INSERT INTO rate_keys (bucket, key, touched_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (bucket, key) DO UPDATE SET touched_at = excluded.touched_at",
                )
                .bind(t.bucket)
                .bind(t.key)
                .bind(t.at)
                .execute(&mut *tx)
                .await?;
                let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(at) FROM rate_hits WHERE bucket = $1 AND key = $2 AND at > $3",
                )
                .bind(t.bucket)
                .bind(t.key)
                .bind(t.since)
                .fetch_one(&mut *tx)
                .await?;
                let allowed = count < t.max;
                if allowed || t.count_refused {
                    sqlx::query("INSERT INTO rate_hits (bucket, key, at, token) VALUES ($1, $2, $3, $4)")
                        .bind(t.bucket)
                        .bind(t.key)
                        .bind(t.at)
                        .bind(t.token)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(RateTaken { allowed, before: RateWindow { count, oldest } })
            }

            async fn rate_release(&self, bucket: &str, key: &str, token: &str) -> AppResult<()> {
                sqlx::query("DELETE FROM rate_hits WHERE bucket = $1 AND key = $2 AND token = $3")
                    .bind(bucket)
                    .bind(key)
                    .bind(token)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn rate_clear(&self, bucket: &str, key: &str) -> AppResult<()> {
                sqlx::query("DELETE FROM rate_hits WHERE bucket = $1 AND key = $2")
                    .bind(bucket)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn rate_prune(&self, before: DateTime<Utc>) -> AppResult<u64> {
                let n = sqlx::query("DELETE FROM rate_hits WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                // A key row untouched since then holds no hit any more.
                sqlx::query("DELETE FROM rate_keys WHERE touched_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(n)
            }
        }
    };
}

fn duplicate_institution(name: &str) -> AppError {
    AppError::conflict(
        format!("同じ名前の連携機関「{name}」が既にあります。"),
        format!("An institution named {name:?} already exists."),
    )
}

impl_directory!(SqliteStore);
impl_directory!(PgStore);
