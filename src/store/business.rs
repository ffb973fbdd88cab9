//! The business area of the store: a business as a record of its own — its
//! version, contacts (one primary, mirrored into the business row's contact
//! fields), its history, duplicate candidates, the end of a merge and the
//! removal of contacts on erasure. Case rows are changed through
//! `CaseStore::update_case` only (their chains and seals).

use super::case_models::BusinessRow;
use super::db::{sql, Col, HasDb, Sql, Tx, Val};
use super::unique_or;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// A business with the columns the case area does not use.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BusinessRecord {
    #[sqlx(flatten)]
    pub row: BusinessRow,
    pub version: i64,
    pub website: Option<String>,
    /// A fresh record of a business whose earlier record was erased links to it (nothing else carried over).
    pub previously_erased_id: Option<Uuid>,
    /// Set on a record merged into another one.
    pub merged_into_id: Option<Uuid>,
}

/// One contact person of a business (personal data).
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct ContactRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub business_id: Uuid,
    pub name: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of a business's history: who, when, what kind, which fields
/// (names only, never values of personal fields).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub business_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub fields: Json<Vec<String>>,
    pub other_business_id: Option<Uuid>,
}

impl HistoryRow {
    pub fn new(
        b: &BusinessRow,
        actor: Option<Uuid>,
        at: DateTime<Utc>,
        kind: &str,
        fields: Vec<String>,
    ) -> Self {
        use crate::domain::business::{has_history_label, HISTORY_FIELDS, HISTORY_KINDS};
        // Every kind and field a person reads in the history has its label in the domain list.
        debug_assert!(
            has_history_label(HISTORY_KINDS, kind),
            "no label for history kind {kind}"
        );
        debug_assert!(
            fields.iter().all(|f| has_history_label(HISTORY_FIELDS, f)),
            "no label for a history field of {fields:?}"
        );
        HistoryRow {
            id: Uuid::now_v7(),
            lab_id: b.lab_id,
            business_id: b.id,
            actor_id: actor,
            at,
            kind: kind.to_owned(),
            fields: Json(fields),
            other_business_id: None,
        }
    }
}

/// What a business decision changes; written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct BusinessChange {
    /// New values of the business row and website (the store bumps the version).
    pub record: Option<BusinessRecord>,
    pub upsert_contacts: Vec<ContactRow>,
    pub delete_contacts: Vec<Uuid>,
    pub history: Vec<HistoryRow>,
}

/// Decides, from the locked record and its contacts, what changes — or refuses.
pub type DecideBusiness = Box<
    dyn FnOnce(&BusinessRecord, &[ContactRow]) -> crate::error::AppResult<BusinessChange> + Send,
>;

/// What a duplicate check looks for.
#[derive(Debug, Clone, Default)]
pub struct DuplicateProbe {
    pub corporate_number: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub municipality: Option<String>,
    /// Not this record itself.
    pub exclude: Option<Uuid>,
}

#[async_trait]
pub trait BusinessStore: Send + Sync {
    /// A business of the lab with its own columns.
    async fn business_record(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<BusinessRecord>>;
    /// Locks the record, checks `expected_version` (stale → `CONFLICT`), lets
    /// `decide` say what changes and writes it with its history; the primary
    /// contact is mirrored into the business row.
    async fn change_business(
        &self,
        lab_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        decide: DecideBusiness,
    ) -> AppResult<BusinessRecord>;
    async fn contact(&self, id: Uuid) -> AppResult<Option<ContactRow>>;
    /// Contacts of these businesses, primary first, then oldest first.
    async fn contacts_for(&self, business_ids: &[Uuid]) -> AppResult<Vec<ContactRow>>;
    /// A business's history, oldest first.
    async fn business_history(&self, business_id: Uuid) -> AppResult<Vec<HistoryRow>>;
    /// Live businesses of the lab sharing the corporate number, an e-mail or
    /// phone (of any contact) or the municipality; the caller ranks them.
    async fn duplicate_pool(
        &self,
        lab_id: Uuid,
        probe: &DuplicateProbe,
    ) -> AppResult<Vec<BusinessRecord>>;
    /// The end of a merge, once every case was moved: contacts move (none
    /// primary), `keep` gets what it lacked, `merge` is marked merged into
    /// `keep`, both get a history entry.
    async fn finish_merge(
        &self,
        lab_id: Uuid,
        keep: Uuid,
        merge: Uuid,
        actor: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<BusinessRecord>;
    /// Deletes every contact and the website of an erased business, the
    /// stored answers of retried requests containing any of `needles` (its
    /// case ids and references), and records the erasure in its history.
    async fn erase_business_extras(
        &self,
        lab_id: Uuid,
        id: Uuid,
        actor: Uuid,
        now: DateTime<Utc>,
        needles: &[String],
    ) -> AppResult<()>;
    /// Appends one history entry.
    async fn add_business_history(&self, entry: HistoryRow) -> AppResult<()>;
}

pub(crate) const RECORD_COLS: &str = "id, lab_id, name, corporate_number, industry, employee_band, municipality, region, contact_name, email, phone, created_at, updated_at, erased_at, version, website, previously_erased_id, merged_into_id";
const CONTACT_COLS: &str =
    "id, lab_id, business_id, name, role, email, phone, is_primary, created_at, updated_at";
const HISTORY_COLS: &str = "id, lab_id, business_id, actor_id, at, kind, fields, other_business_id";

fn contact_row(c: &ContactRow) -> Vec<Col> {
    vec![
        ("id", c.id.into()),
        ("lab_id", c.lab_id.into()),
        ("business_id", c.business_id.into()),
        ("name", (&c.name).into()),
        ("role", (&c.role).into()),
        ("email", (&c.email).into()),
        ("phone", (&c.phone).into()),
        ("is_primary", c.is_primary.into()),
        ("created_at", c.created_at.into()),
        ("updated_at", c.updated_at.into()),
    ]
}

fn history_row(h: &HistoryRow) -> Vec<Col> {
    vec![
        ("id", h.id.into()),
        ("lab_id", h.lab_id.into()),
        ("business_id", h.business_id.into()),
        ("actor_id", h.actor_id.into()),
        ("at", h.at.into()),
        ("kind", (&h.kind).into()),
        ("fields", (&h.fields).into()),
        ("other_business_id", h.other_business_id.into()),
    ]
}

/// The columns an edit rewrites.
fn record_update(r: &BusinessRecord) -> Vec<Col> {
    let b = &r.row;
    vec![
        ("name", (&b.name).into()),
        ("corporate_number", (&b.corporate_number).into()),
        ("industry", (&b.industry).into()),
        ("employee_band", (&b.employee_band).into()),
        ("municipality", (&b.municipality).into()),
        ("region", (&b.region).into()),
        ("contact_name", (&b.contact_name).into()),
        ("email", (&b.email).into()),
        ("phone", (&b.phone).into()),
        ("updated_at", b.updated_at.into()),
        ("erased_at", b.erased_at.into()),
        ("version", r.version.into()),
        ("website", (&r.website).into()),
        ("merged_into_id", r.merged_into_id.into()),
    ]
}

fn duplicate_number() -> AppError {
    AppError::conflict(
        "この法人番号の事業者は既に登録されています。重複している場合は統合してください。",
        "A business with this corporate number is already registered. Merge the two if they are the same business.",
    )
}

async fn lock_record(tx: &mut Tx, lab_id: Uuid, id: Uuid) -> AppResult<Option<BusinessRecord>> {
    let lock = tx.dialect().lock_rows();
    Ok(
        sql(&format!("SELECT {RECORD_COLS} FROM businesses WHERE id = "))
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .push(lock)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

async fn contacts_in(tx: &mut Tx, business_id: Uuid) -> AppResult<Vec<ContactRow>> {
    Ok(sql(&format!(
        "SELECT {CONTACT_COLS} FROM business_contacts WHERE business_id = "
    ))
    .bind(business_id)
    .push(" ORDER BY created_at, id")
    .fetch_all(&mut *tx)
    .await?)
}

async fn insert_history(tx: &mut Tx, rows: &[HistoryRow]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    Sql::default()
        .insert_many("business_history", rows.iter().map(history_row).collect())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Copies the primary contact (if any) into the business row's contact fields.
fn mirror_primary(b: &mut BusinessRow, contacts: &[ContactRow]) {
    let p = contacts.iter().find(|c| c.is_primary);
    b.contact_name = p.and_then(|c| c.name.clone());
    b.email = p.and_then(|c| c.email.clone());
    b.phone = p.and_then(|c| c.phone.clone());
}

/// Called by intake (`choose_business`) for the business a new case is for:
/// a business row whose contact fields have no contact row yet gets its
/// primary contact; a new record with the corporate number of an erased one
/// is linked to it as "previously erased" (nothing else carried over).
pub(crate) async fn after_intake(tx: &mut Tx, b: &BusinessRow, inserted: bool) -> AppResult<()> {
    if inserted {
        if let Some(n) = &b.corporate_number {
            sql("UPDATE businesses SET previously_erased_id = (SELECT e.id FROM businesses e WHERE e.lab_id = ")
                .bind(b.lab_id)
                .push(" AND e.corporate_number = ")
                .bind(n)
                .push(" AND e.erased_at IS NOT NULL ORDER BY e.erased_at DESC LIMIT 1) WHERE id = ")
                .bind(b.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    if b.contact_name.is_none() && b.email.is_none() && b.phone.is_none() {
        return Ok(());
    }
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM business_contacts WHERE business_id = ")
        .bind(b.id)
        .fetch_one(&mut *tx)
        .await?;
    if n == 0 {
        let c = ContactRow {
            id: Uuid::now_v7(),
            lab_id: b.lab_id,
            business_id: b.id,
            name: b.contact_name.clone(),
            role: None,
            email: b.email.clone(),
            phone: b.phone.clone(),
            is_primary: true,
            created_at: b.updated_at,
            updated_at: b.updated_at,
        };
        Sql::default()
            .insert("business_contacts", contact_row(&c))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl<S: HasDb> BusinessStore for S {
    #[tracing::instrument(skip_all)]
    async fn business_record(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<BusinessRecord>> {
        Ok(
            sql(&format!("SELECT {RECORD_COLS} FROM businesses WHERE id = "))
                .bind(id)
                .push(" AND lab_id = ")
                .bind(lab_id)
                .fetch_optional(&self.db().pool)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn change_business(
        &self,
        lab_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        decide: DecideBusiness,
    ) -> AppResult<BusinessRecord> {
        let mut tx = self.db().pool.begin_write().await?;
        let rec = lock_record(&mut tx, lab_id, id)
            .await?
            .ok_or_else(|| AppError::not_found("事業者", "Business"))?;
        if expected_version.is_some_and(|v| v != rec.version) {
            return Err(AppError::stale_version());
        }
        let contacts = contacts_in(&mut tx, id).await?;
        let change = decide(&rec, &contacts)?;
        for cid in &change.delete_contacts {
            sql("DELETE FROM business_contacts WHERE id = ")
                .bind(*cid)
                .push(" AND business_id = ")
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        // A new primary first demotes the old one (the unique index allows one).
        let mut upserts = change.upsert_contacts.clone();
        upserts.sort_by_key(|c| c.is_primary);
        for c in &upserts {
            if c.is_primary {
                sql("UPDATE business_contacts SET is_primary = ")
                    .bind(false)
                    .push(" WHERE business_id = ")
                    .bind(id)
                    .push(" AND id <> ")
                    .bind(c.id)
                    .execute(&mut tx)
                    .await?;
            }
            let n = Sql::default()
                .update("business_contacts", contact_row(c)[1..].to_vec())
                .push(" WHERE id = ")
                .bind(c.id)
                .push(" AND business_id = ")
                .bind(id)
                .execute(&mut tx)
                .await?;
            if n == 0 {
                Sql::default()
                    .insert("business_contacts", contact_row(c))
                    .execute(&mut tx)
                    .await?;
            }
        }
        let contacts = contacts_in(&mut tx, id).await?;
        let mut out = change.record.unwrap_or_else(|| rec.clone());
        mirror_primary(&mut out.row, &contacts);
        out.version = rec.version + 1;
        out.row.updated_at = now;
        let n = Sql::default()
            .update("businesses", record_update(&out))
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND version = ")
            .bind(rec.version)
            .execute(&mut tx)
            .await;
        if unique_or(n, duplicate_number)? != 1 {
            return Err(AppError::stale_version());
        }
        insert_history(&mut tx, &change.history).await?;
        // The cases' search tokens carry the business name; the report's rollup its place.
        super::search::reindex_business(&mut tx, id).await?;
        super::rollup::refresh_business_years(&mut tx, Some(id)).await?;
        tx.commit().await?;
        Ok(out)
    }

    #[tracing::instrument(skip_all)]
    async fn contact(&self, id: Uuid) -> AppResult<Option<ContactRow>> {
        Ok(sql(&format!(
            "SELECT {CONTACT_COLS} FROM business_contacts WHERE id = "
        ))
        .bind(id)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn contacts_for(&self, business_ids: &[Uuid]) -> AppResult<Vec<ContactRow>> {
        let mut rows: Vec<ContactRow> = super::fetch_in(
            &self.db().pool,
            &format!("SELECT {CONTACT_COLS} FROM business_contacts WHERE business_id IN"),
            business_ids,
            "ORDER BY created_at, id",
        )
        .await?;
        rows.sort_by_key(|c| !c.is_primary);
        Ok(rows)
    }

    #[tracing::instrument(skip_all)]
    async fn business_history(&self, business_id: Uuid) -> AppResult<Vec<HistoryRow>> {
        Ok(sql(&format!(
            "SELECT {HISTORY_COLS} FROM business_history WHERE business_id = "
        ))
        .bind(business_id)
        .push(" ORDER BY at, id")
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn duplicate_pool(
        &self,
        lab_id: Uuid,
        p: &DuplicateProbe,
    ) -> AppResult<Vec<BusinessRecord>> {
        let mut q = sql(&format!(
            "SELECT {RECORD_COLS} FROM businesses b WHERE lab_id = "
        ));
        q.bind(lab_id)
            .push(" AND erased_at IS NULL AND merged_into_id IS NULL");
        if let Some(x) = p.exclude {
            q.push(" AND id <> ").bind(x);
        }
        let mut ors: Vec<(&str, Val)> = Vec::new();
        if let Some(n) = &p.corporate_number {
            ors.push(("corporate_number = ", n.into()));
        }
        if let Some(m) = &p.municipality {
            ors.push(("municipality = ", m.into()));
        }
        if let Some(e) = &p.email {
            let e = e.to_lowercase();
            ors.push(("LOWER(email) = ", e.clone().into()));
            ors.push((
                "EXISTS (SELECT 1 FROM business_contacts c WHERE c.business_id = b.id AND LOWER(c.email) = ",
                e.into(),
            ));
        }
        if let Some(ph) = &p.phone {
            ors.push(("phone = ", ph.into()));
            ors.push((
                "EXISTS (SELECT 1 FROM business_contacts c WHERE c.business_id = b.id AND c.phone = ",
                ph.into(),
            ));
        }
        if ors.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" AND (");
        for (i, (frag, v)) in ors.into_iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push(frag).bind(v);
            if frag.starts_with("EXISTS") {
                q.push(" LIMIT 1)");
            }
        }
        q.push(") ORDER BY created_at, id LIMIT 200");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn finish_merge(
        &self,
        lab_id: Uuid,
        keep: Uuid,
        merge: Uuid,
        actor: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<BusinessRecord> {
        let mut tx = self.db().pool.begin_write().await?;
        let nf = || AppError::not_found("事業者", "Business");
        let mut k = lock_record(&mut tx, lab_id, keep).await?.ok_or_else(nf)?;
        let mut m = lock_record(&mut tx, lab_id, merge).await?.ok_or_else(nf)?;
        let first = m.merged_into_id.is_none();
        sql("UPDATE business_contacts SET is_primary = ")
            .bind(false)
            .push(", business_id = ")
            .bind(keep)
            .push(" WHERE business_id = ")
            .bind(merge)
            .execute(&mut tx)
            .await?;
        let fill = |old: &mut Option<String>, new: &Option<String>| {
            if old.is_none() {
                old.clone_from(new);
            }
        };
        // The merged record gives up its corporate number first (unique among live records).
        let number = m.row.corporate_number.take();
        m.merged_into_id = Some(keep);
        m.version += 1;
        m.row.updated_at = now;
        mirror_primary(&mut m.row, &[]);
        Sql::default()
            .update("businesses", record_update(&m))
            .push(" WHERE id = ")
            .bind(merge)
            .execute(&mut tx)
            .await?;
        fill(&mut k.row.corporate_number, &number);
        fill(&mut k.row.industry, &m.row.industry);
        fill(&mut k.row.employee_band, &m.row.employee_band);
        fill(&mut k.row.municipality, &m.row.municipality);
        fill(&mut k.row.region, &m.row.region);
        fill(&mut k.website, &m.website);
        let contacts = contacts_in(&mut tx, keep).await?;
        if !contacts.iter().any(|c| c.is_primary) {
            if let Some(c) = contacts.first() {
                sql("UPDATE business_contacts SET is_primary = ")
                    .bind(true)
                    .push(" WHERE id = ")
                    .bind(c.id)
                    .execute(&mut tx)
                    .await?;
            }
        }
        let contacts = contacts_in(&mut tx, keep).await?;
        mirror_primary(&mut k.row, &contacts);
        k.version += 1;
        k.row.updated_at = now;
        let n = Sql::default()
            .update("businesses", record_update(&k))
            .push(" WHERE id = ")
            .bind(keep)
            .execute(&mut tx)
            .await;
        unique_or(n, duplicate_number)?;
        if first {
            let mut into = HistoryRow::new(&k.row, Some(actor), now, "MERGED_FROM", Vec::new());
            into.other_business_id = Some(merge);
            let mut from = HistoryRow::new(&m.row, Some(actor), now, "MERGED_INTO", Vec::new());
            from.other_business_id = Some(keep);
            insert_history(&mut tx, &[into, from]).await?;
        }
        // The moved cases now carry the kept business's name, and count for it in the report.
        super::search::reindex_business(&mut tx, keep).await?;
        super::rollup::merge_business(&mut tx, lab_id, merge, keep).await?;
        tx.commit().await?;
        Ok(k)
    }

    #[tracing::instrument(skip_all)]
    async fn erase_business_extras(
        &self,
        lab_id: Uuid,
        id: Uuid,
        actor: Uuid,
        now: DateTime<Utc>,
        needles: &[String],
    ) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        let Some(rec) = lock_record(&mut tx, lab_id, id).await? else {
            return Err(AppError::not_found("事業者", "Business"));
        };
        sql("DELETE FROM business_contacts WHERE business_id = ")
            .bind(id)
            .execute(&mut tx)
            .await?;
        sql("UPDATE businesses SET website = NULL, contact_name = NULL, email = NULL, phone = NULL WHERE id = ")
            .bind(id)
            .execute(&mut tx)
            .await?;
        // Notifications about the cases carry their titles (and the
        // business's own address): their payloads are replaced, a message not
        // yet sent is kept as SKIPPED (visible, never sent), and the address
        // of a recipient who is not a user (the business) is dropped.
        sql("UPDATE outbox SET payload = '{\"erased\": true}', \
             recipient = CASE WHEN recipient_user_id IS NULL THEN NULL ELSE recipient END, \
             last_error = CASE WHEN status = 'PENDING' THEN 'personal data erased' ELSE last_error END, \
             status = CASE WHEN status = 'PENDING' THEN 'SKIPPED' ELSE status END \
             WHERE case_id IN (SELECT c.id FROM cases c WHERE c.business_id = ")
            .bind(id)
            .push(")")
            .execute(&mut tx)
            .await?;
        for n in needles {
            sql("DELETE FROM idempotency_keys WHERE body LIKE ")
                .bind(format!("%{n}%"))
                .execute(&mut tx)
                .await?;
        }
        insert_history(
            &mut tx,
            &[HistoryRow::new(
                &rec.row,
                Some(actor),
                now,
                "ERASED",
                Vec::new(),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn add_business_history(&self, entry: HistoryRow) -> AppResult<()> {
        let mut tx = self.db().pool.begin_write().await?;
        insert_history(&mut tx, std::slice::from_ref(&entry)).await?;
        tx.commit().await?;
        Ok(())
    }
}
