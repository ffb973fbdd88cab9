//! The directory of a deployment: labs, institutions, users, refresh sessions and
//! the throttling counters that several instances share.

use super::cache::Key;
use super::db::{sql, Col, HasDb, Sql};
use super::models::*;
use super::{fetch_in, unique_or};
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

/// The statement every authenticated request runs: the token's user, if it
/// is active and the token's session family has not been revoked.
pub fn access_sql(user_id: Uuid, family_id: Uuid) -> Sql {
    let mut q = sql(&format!("SELECT {USER_COLS} FROM users WHERE id = "));
    q.bind(user_id)
        .push(" AND active = ")
        .bind(true)
        .push(" AND EXISTS (SELECT 1 FROM refresh_sessions s WHERE s.family_id = ")
        .bind(family_id)
        .push(" AND s.user_id = ")
        .bind(user_id)
        .push(" AND s.revoked_at IS NULL)");
    q
}

fn lab_row(l: &LabRow) -> Vec<Col> {
    vec![
        ("id", l.id.into()),
        ("code", (&l.code).into()),
        ("name", (&l.name).into()),
        ("name_en", (&l.name_en).into()),
        ("regions", (&l.regions).into()),
        ("pickup_days", l.pickup_days.into()),
        ("created_at", l.created_at.into()),
    ]
}

fn institution_row(r: &InstitutionRow) -> Vec<Col> {
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

fn user_row(u: &UserRow) -> Vec<Col> {
    vec![
        ("id", u.id.into()),
        ("lab_id", u.lab_id.into()),
        ("email", (&u.email).into()),
        ("display_name", (&u.display_name).into()),
        ("password_hash", (&u.password_hash).into()),
        ("role", u.role.into()),
        ("institution_id", u.institution_id.into()),
        ("active", u.active.into()),
        ("created_at", u.created_at.into()),
        ("updated_at", u.updated_at.into()),
    ]
}

fn session_row(s: &SessionRow) -> Vec<Col> {
    vec![
        ("id", s.id.into()),
        ("user_id", s.user_id.into()),
        ("family_id", s.family_id.into()),
        ("token_hash", (&s.token_hash).into()),
        ("created_at", s.created_at.into()),
        ("expires_at", s.expires_at.into()),
        ("used_at", s.used_at.into()),
        ("revoked_at", s.revoked_at.into()),
    ]
}

/// `SELECT COUNT(*), MIN(at)` of a key's hits after `since`.
fn rate_count(bucket: &str, key: &str, since: DateTime<Utc>) -> Sql {
    let mut q = sql("SELECT COUNT(*), MIN(at) FROM rate_hits WHERE bucket = ");
    q.bind(bucket)
        .push(" AND key = ")
        .bind(key)
        .push(" AND at > ")
        .bind(since);
    q
}

#[async_trait]
impl<S: HasDb> DirectoryStore for S {
    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> AppResult<()> {
        sql("SELECT 1").execute(&self.db().pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_lab(&self, lab: &LabRow) -> AppResult<Uuid> {
        let mut tx = self.db().pool.begin_write().await?;
        let existing: Option<(Uuid,)> = sql("SELECT id FROM labs WHERE code = ")
            .bind(&lab.code)
            .fetch_optional(&mut tx)
            .await?;
        let id = match existing {
            Some((id,)) => {
                let row = lab_row(lab)
                    .into_iter()
                    .filter(|(c, _)| matches!(*c, "name" | "name_en" | "regions" | "pickup_days"))
                    .collect();
                Sql::default()
                    .update("labs", row)
                    .push(" WHERE id = ")
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
                id
            }
            None => {
                Sql::default()
                    .insert("labs", lab_row(lab))
                    .execute(&mut tx)
                    .await?;
                lab.id
            }
        };
        tx.commit().await?;
        self.db().cache.forget(Key::Lab(id));
        Ok(id)
    }

    #[tracing::instrument(skip_all)]
    async fn lab(&self, id: Uuid) -> AppResult<Option<LabRow>> {
        let cache = &self.db().cache;
        if let Some(lab) = cache.lab(id) {
            return Ok(Some(lab));
        }
        let ticket = cache.ticket();
        let row: Option<LabRow> = sql(&format!("SELECT {LAB_COLS} FROM labs WHERE id = "))
            .bind(id)
            .fetch_optional(&self.db().pool)
            .await?;
        if let (Some(t), Some(r)) = (ticket, &row) {
            cache.keep_lab(t, r);
        }
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    async fn lab_by_code(&self, code: &str) -> AppResult<Option<LabRow>> {
        Ok(sql(&format!("SELECT {LAB_COLS} FROM labs WHERE code = "))
            .bind(code)
            .fetch_optional(&self.db().pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn labs(&self) -> AppResult<Vec<LabRow>> {
        Ok(sql(&format!(
            "SELECT {LAB_COLS} FROM labs ORDER BY created_at, code"
        ))
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn institutions(&self, lab_id: Uuid) -> AppResult<Vec<InstitutionRow>> {
        Ok(sql(&format!(
            "SELECT {INSTITUTION_COLS} FROM institutions WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" ORDER BY name")
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn institution(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<InstitutionRow>> {
        Ok(sql(&format!(
            "SELECT {INSTITUTION_COLS} FROM institutions WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" AND id = ")
        .bind(id)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn institutions_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<InstitutionRow>> {
        let head = format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE id IN");
        Ok(fetch_in(&self.db().pool, &head, ids, "").await?)
    }

    #[tracing::instrument(skip_all)]
    async fn insert_institution(&self, r: &InstitutionRow) -> AppResult<()> {
        let res = Sql::default()
            .insert("institutions", institution_row(r))
            .execute(&self.db().pool)
            .await;
        unique_or(res, || duplicate_institution(&r.name)).map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    async fn update_institution(&self, r: &InstitutionRow) -> AppResult<()> {
        let row = institution_row(r)
            .into_iter()
            .filter(|(c, _)| !matches!(*c, "id" | "lab_id" | "created_at"))
            .collect();
        let res = Sql::default()
            .update("institutions", row)
            .push(" WHERE id = ")
            .bind(r.id)
            .push(" AND lab_id = ")
            .bind(r.lab_id)
            .execute(&self.db().pool)
            .await;
        unique_or(res, || duplicate_institution(&r.name)).map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    async fn user(&self, id: Uuid) -> AppResult<Option<UserRow>> {
        Ok(sql(&format!("SELECT {USER_COLS} FROM users WHERE id = "))
            .bind(id)
            .fetch_optional(&self.db().pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn user_by_email(&self, email: &str) -> AppResult<Option<UserRow>> {
        Ok(
            sql(&format!("SELECT {USER_COLS} FROM users WHERE email = "))
                .bind(email)
                .fetch_optional(&self.db().pool)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn users(&self, lab_id: Uuid) -> AppResult<Vec<UserRow>> {
        Ok(
            sql(&format!("SELECT {USER_COLS} FROM users WHERE lab_id = "))
                .bind(lab_id)
                .push(" ORDER BY role, email")
                .fetch_all(&self.db().pool)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn users_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<UserRow>> {
        let head = format!("SELECT {USER_COLS} FROM users WHERE id IN");
        Ok(fetch_in(&self.db().pool, &head, ids, "").await?)
    }

    #[tracing::instrument(skip_all)]
    async fn insert_user(&self, u: &UserRow) -> AppResult<()> {
        let res = Sql::default()
            .insert("users", user_row(u))
            .execute(&self.db().pool)
            .await;
        unique_or(res, || {
            AppError::conflict(
                format!("メールアドレス {} は既に登録されています。", u.email),
                format!("The email {} is already registered.", u.email),
            )
        })
        .map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    async fn set_user_active(
        &self,
        lab_id: Uuid,
        id: Uuid,
        active: bool,
        now: DateTime<Utc>,
    ) -> AppResult<Option<UserRow>> {
        let mut tx = self.db().pool.begin_write().await?;
        let n = sql("UPDATE users SET active = ")
            .bind(active)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .execute(&mut tx)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if !active {
            sql("UPDATE refresh_sessions SET revoked_at = ")
                .bind(now)
                .push(" WHERE user_id = ")
                .bind(id)
                .push(" AND revoked_at IS NULL")
                .execute(&mut tx)
                .await?;
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
    async fn set_user_password(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> AppResult<()> {
        sql("UPDATE users SET password_hash = ")
            .bind(hash)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .execute(&self.db().pool)
            .await?;
        self.db().cache.forget(Key::User(id));
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn insert_session(&self, s: &SessionRow) -> AppResult<()> {
        Sql::default()
            .insert("refresh_sessions", session_row(s))
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn session_by_token_hash(&self, hash: &str) -> AppResult<Option<SessionRow>> {
        Ok(sql(&format!(
            "SELECT {SESSION_COLS} FROM refresh_sessions WHERE token_hash = "
        ))
        .bind(hash)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn mark_session_used(&self, id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
        let n = sql("UPDATE refresh_sessions SET used_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND used_at IS NULL AND revoked_at IS NULL")
            .execute(&self.db().pool)
            .await?;
        Ok(n == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
        sql("UPDATE refresh_sessions SET revoked_at = ")
            .bind(now)
            .push(" WHERE family_id = ")
            .bind(family_id)
            .push(" AND revoked_at IS NULL")
            .execute(&self.db().pool)
            .await?;
        // The family's user is not at hand: everything (logouts are rare).
        self.db().cache.forget(Key::All);
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn user_for_access(&self, user_id: Uuid, family_id: Uuid) -> AppResult<Option<UserRow>> {
        let cache = &self.db().cache;
        if let Some(user) = cache.access(user_id, family_id) {
            return Ok(Some(user));
        }
        let ticket = cache.ticket();
        let row: Option<UserRow> = access_sql(user_id, family_id)
            .fetch_optional(&self.db().pool)
            .await?;
        if let (Some(t), Some(r)) = (ticket, &row) {
            cache.keep_access(t, family_id, r);
        }
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    async fn rate_hit(&self, bucket: &str, key: &str, at: DateTime<Utc>) -> AppResult<()> {
        Sql::default()
            .insert(
                "rate_hits",
                vec![
                    ("bucket", bucket.into()),
                    ("key", key.into()),
                    ("at", at.into()),
                ],
            )
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn rate_window(
        &self,
        bucket: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> AppResult<RateWindow> {
        let (count, oldest): (i64, Option<DateTime<Utc>>) = rate_count(bucket, key, since)
            .fetch_one(&self.db().pool)
            .await?;
        Ok(RateWindow { count, oldest })
    }

    #[tracing::instrument(skip_all)]
    async fn rate_take(&self, t: &RateTake<'_>) -> AppResult<RateTaken> {
        let mut tx = self.db().pool.begin_bookkeeping().await?;
        // The upsert locks the key's row until commit: the next take of this
        // key waits here, then counts what this one recorded.
        Sql::default()
            .insert(
                "rate_keys",
                vec![
                    ("bucket", t.bucket.into()),
                    ("key", t.key.into()),
                    ("touched_at", t.at.into()),
                ],
            )
            .push(" ON CONFLICT (bucket, key) DO UPDATE SET touched_at = excluded.touched_at")
            .execute(&mut tx)
            .await?;
        let (count, oldest): (i64, Option<DateTime<Utc>>) = rate_count(t.bucket, t.key, t.since)
            .fetch_one(&mut tx)
            .await?;
        let allowed = count < t.max;
        if allowed || t.count_refused {
            Sql::default()
                .insert(
                    "rate_hits",
                    vec![
                        ("bucket", t.bucket.into()),
                        ("key", t.key.into()),
                        ("at", t.at.into()),
                        ("token", t.token.into()),
                    ],
                )
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(RateTaken {
            allowed,
            before: RateWindow { count, oldest },
        })
    }

    #[tracing::instrument(skip_all)]
    async fn rate_release(&self, bucket: &str, key: &str, token: &str) -> AppResult<()> {
        sql("DELETE FROM rate_hits WHERE bucket = ")
            .bind(bucket)
            .push(" AND key = ")
            .bind(key)
            .push(" AND token = ")
            .bind(token)
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn rate_clear(&self, bucket: &str, key: &str) -> AppResult<()> {
        sql("DELETE FROM rate_hits WHERE bucket = ")
            .bind(bucket)
            .push(" AND key = ")
            .bind(key)
            .execute(&self.db().pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn rate_prune(&self, before: DateTime<Utc>) -> AppResult<u64> {
        let pool = &self.db().pool;
        let n = sql("DELETE FROM rate_hits WHERE at < ")
            .bind(before)
            .execute(pool)
            .await?;
        // A key row untouched since then holds no hit any more.
        sql("DELETE FROM rate_keys WHERE touched_at < ")
            .bind(before)
            .execute(pool)
            .await?;
        Ok(n)
    }
}

fn duplicate_institution(name: &str) -> AppError {
    AppError::conflict(
        format!("同じ名前の連携機関「{name}」が既にあります。"),
        format!("An institution named {name:?} already exists."),
    )
}
