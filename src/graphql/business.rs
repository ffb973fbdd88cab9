//! The business record: the `Business` type (details, contacts, history,
//! every case across years, its stage path, supporting institutions,
//! consent, duplicate candidates), `business(id)`, `businessIntakeCheck`,
//! `updateBusiness`, the contact mutations, `mergeBusinesses` and
//! `exportBusinessData`. Resolvers parse, call `service::business` /
//! `service::disclosure` and shape the answer.

use super::case_types::Case;
use super::loaders::{forget_cases, Loaders};
use super::types::Institution;
use super::{admin, desk, parse_id, request, state, viewer};
use crate::domain::business::partner_sees_contact;
use crate::domain::types::{ReferralStatus, Stage};
use crate::domain::validation::jsic_label;
use crate::error::AppResult;
use crate::service::business::{self as svc, BusinessEdit, Candidate, ContactFields};
use crate::service::intake::BusinessFields;
use crate::store::*;
use async_graphql::{Context, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// A business (事業者). Contact details are personal information under the APPI.
pub struct Business(pub BusinessRow);

/// The business of a case as the viewer may see it: a partner sees the
/// contact data (name, e-mail, phone) only while the business consents to
/// sharing and the partner's own referral on the case is accepted; with a
/// pending one it sees the company name and municipality only.
pub fn for_viewer(
    v: &crate::domain::permissions::Viewer,
    case: &CaseRow,
    referrals: &[ReferralRow],
    mut b: BusinessRow,
) -> BusinessRow {
    let Some(inst) = v.partner_institution() else {
        return b;
    };
    let own: Vec<ReferralStatus> = referrals
        .iter()
        .filter(|r| r.institution_id == inst)
        .map(|r| r.status)
        .collect();
    if !partner_sees_contact(case.consent_to_share, &own) {
        (b.contact_name, b.email, b.phone) = (None, None, None);
    }
    if !own.contains(&ReferralStatus::Accepted) && !own.contains(&ReferralStatus::Completed) {
        (b.corporate_number, b.industry, b.employee_band) = (None, None, None);
    }
    b
}

impl Business {
    async fn record(&self, ctx: &Context<'_>) -> AppResult<Option<BusinessRecord>> {
        let v = viewer(ctx)?;
        if !v.is_desk() {
            return Ok(None);
        }
        state(ctx).store.business_record(v.lab_id, self.0.id).await
    }

    async fn cases_rows(&self, ctx: &Context<'_>) -> AppResult<Vec<CaseRow>> {
        let v = viewer(ctx)?;
        if !v.is_desk() {
            return Ok(Vec::new());
        }
        svc::cases_of(state(ctx), v, self.0.id).await
    }
}

#[Object]
impl Business {
    /// Stable opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// 法人番号: 13 digits.
    async fn corporate_number(&self) -> Option<&str> {
        self.0.corporate_number.as_deref()
    }
    /// JSIC division letter A–T.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }
    /// The Japanese name of the industry division, e.g. 製造業.
    async fn industry_label(&self) -> Option<&str> {
        self.0
            .industry
            .as_deref()
            .and_then(|s| s.chars().next())
            .and_then(jsic_label)
    }
    /// Size band by employees, if known (`1-5`, `6-20`, `21-50`, `51-100`, `101-300`, `301+`).
    async fn employee_band(&self) -> Option<&str> {
        self.0.employee_band.as_deref()
    }
    /// Municipality of the lab's area.
    async fn municipality(&self) -> Option<&str> {
        self.0.municipality.as_deref()
    }
    /// Region code of the municipality, e.g. `SANPACHI`.
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    /// The primary contact person (personal data).
    async fn contact_name(&self) -> Option<&str> {
        self.0.contact_name.as_deref()
    }
    /// The primary contact's e-mail (personal data).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The primary contact's phone (personal data).
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When its personal data was erased, if it was.
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at
    }
    /// Optimistic-concurrency version: pass it as `expectedVersion` to `updateBusiness` (desk staff; 0 otherwise).
    async fn version(&self, ctx: &Context<'_>) -> AppResult<i64> {
        Ok(self.record(ctx).await?.map_or(0, |r| r.version))
    }
    /// Website (desk staff).
    async fn website(&self, ctx: &Context<'_>) -> AppResult<Option<String>> {
        Ok(self.record(ctx).await?.and_then(|r| r.website))
    }
    /// Whether an earlier record of this business (same 法人番号) was erased.
    /// Nothing of it is carried over (desk staff).
    async fn previously_erased(&self, ctx: &Context<'_>) -> AppResult<bool> {
        Ok(self
            .record(ctx)
            .await?
            .is_some_and(|r| r.previously_erased_id.is_some()))
    }
    /// The record this one was merged into, if it was (desk staff).
    async fn merged_into_id(&self, ctx: &Context<'_>) -> AppResult<Option<ID>> {
        Ok(self
            .record(ctx)
            .await?
            .and_then(|r| r.merged_into_id)
            .map(|i| ID(i.to_string())))
    }
    /// Contact people, primary first (desk staff; a partner sees the primary
    /// contact's fields on the business only, and only when allowed).
    async fn contacts(&self, ctx: &Context<'_>) -> AppResult<Vec<BusinessContact>> {
        let v = viewer(ctx)?;
        if !v.is_desk() {
            return Ok(Vec::new());
        }
        Ok(state(ctx)
            .store
            .contacts_for(&[self.0.id])
            .await?
            .into_iter()
            .map(BusinessContact)
            .collect())
    }
    /// Every change to the record, oldest first: who, when, which fields —
    /// never the values of personal fields (desk staff).
    async fn history(&self, ctx: &Context<'_>) -> AppResult<Vec<BusinessHistoryEntry>> {
        let v = viewer(ctx)?;
        if !v.is_desk() {
            return Ok(Vec::new());
        }
        Ok(state(ctx)
            .store
            .business_history(self.0.id)
            .await?
            .into_iter()
            .map(BusinessHistoryEntry)
            .collect())
    }
    /// Every case of the business across the years, newest first (desk staff).
    async fn cases(&self, ctx: &Context<'_>) -> AppResult<Vec<Case>> {
        Ok(self
            .cases_rows(ctx)
            .await?
            .into_iter()
            .map(Case::new)
            .collect())
    }
    /// Its path through 知る → 相談する → 試す over time: each case's opening
    /// stage and every stage change, oldest first (desk staff).
    async fn stage_path(&self, ctx: &Context<'_>) -> AppResult<Vec<StageStep>> {
        let rows = self.cases_rows(ctx).await?;
        Ok(svc::stage_path(state(ctx), &rows)
            .await?
            .into_iter()
            .map(|s| StageStep {
                at: s.at,
                stage: s.stage,
                case_id: ID(s.case_id.to_string()),
                reference: s.reference,
            })
            .collect())
    }
    /// The institutions that supported it (accepted or completed a referral), by name (desk staff).
    async fn supporting_institutions(&self, ctx: &Context<'_>) -> AppResult<Vec<Institution>> {
        let v = viewer(ctx)?;
        let rows = self.cases_rows(ctx).await?;
        Ok(svc::supporting_institutions(state(ctx), v, &rows)
            .await?
            .into_iter()
            .map(Institution)
            .collect())
    }
    /// The consent to share as its cases hold it (desk staff).
    async fn consent(&self, ctx: &Context<'_>) -> AppResult<BusinessConsent> {
        let rows = self.cases_rows(ctx).await?;
        let latest = rows.iter().max_by_key(|c| c.created_at);
        Ok(BusinessConsent {
            given: latest.is_some_and(|c| c.consent_to_share),
            recorded_at: latest.and_then(|c| c.consent_at),
            cases_with_consent: rows.iter().filter(|c| c.consent_to_share).count() as i32,
            cases_without_consent: rows.iter().filter(|c| !c.consent_to_share).count() as i32,
        })
    }
    /// Other live records of the lab that may be the same business (same
    /// 法人番号; else same e-mail, phone, or a close name in the same
    /// municipality), for the desk to merge (desk staff).
    async fn duplicate_candidates(&self, ctx: &Context<'_>) -> AppResult<Vec<DuplicateCandidate>> {
        let v = viewer(ctx)?;
        let Some(rec) = self.record(ctx).await? else {
            return Ok(Vec::new());
        };
        Ok(svc::duplicates_of(state(ctx), v, &rec)
            .await?
            .into_iter()
            .map(|c| DuplicateCandidate::new(ctx, c))
            .collect())
    }
}

/// A contact person of a business (personal data).
pub struct BusinessContact(pub ContactRow);

#[Object]
impl BusinessContact {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Role or position, e.g. 代表取締役, 総務担当.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The primary contact (one per business): shown as the business's contact.
    async fn primary(&self) -> bool {
        self.0.is_primary
    }
}

/// One entry of a business's history.
pub struct BusinessHistoryEntry(pub HistoryRow);

#[Object]
impl BusinessHistoryEntry {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// `UPDATED`, `CONTACT_ADDED`, `CONTACT_UPDATED`, `CONTACT_REMOVED`,
    /// `MERGED_FROM`, `MERGED_INTO`, `ERASED` or `EXPORTED`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The names of the changed fields (never their values).
    async fn fields(&self) -> Vec<String> {
        self.0.fields.0.clone()
    }
    /// Who made the change.
    async fn actor(&self, ctx: &Context<'_>) -> AppResult<Option<super::types::User>> {
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(state(ctx).store.user(id).await?.map(super::types::User))
    }
    /// The other record of a merge.
    async fn other_business_id(&self) -> Option<ID> {
        self.0.other_business_id.map(|i| ID(i.to_string()))
    }
}

/// One step of a business's stage path.
#[derive(SimpleObject)]
pub struct StageStep {
    pub at: DateTime<Utc>,
    pub stage: Stage,
    pub case_id: ID,
    pub reference: String,
}

/// The consent to share across a business's cases.
#[derive(SimpleObject)]
pub struct BusinessConsent {
    /// The consent of its latest case.
    pub given: bool,
    /// When the latest case's consent was recorded.
    pub recorded_at: Option<DateTime<Utc>>,
    pub cases_with_consent: i32,
    pub cases_without_consent: i32,
}

/// A record that may be the same business.
#[derive(SimpleObject)]
pub struct DuplicateCandidate {
    pub business: Business,
    /// `CORPORATE_NUMBER`, `EMAIL`, `PHONE`, `CLOSE_NAME`.
    pub reasons: Vec<String>,
    /// The reasons in the caller's language.
    pub reason_labels: Vec<String>,
}

impl DuplicateCandidate {
    fn new(ctx: &Context<'_>, c: Candidate) -> Self {
        let lang = request(ctx).lang;
        DuplicateCandidate {
            reasons: c.reasons.iter().map(|r| r.code().to_owned()).collect(),
            reason_labels: c.reasons.iter().map(|r| r.label(lang).to_owned()).collect(),
            business: Business(c.business.row),
        }
    }
}

/// A field where the intake form differs from the stored record.
#[derive(SimpleObject)]
pub struct FieldDifference {
    /// `name`, `industry`, `municipality`, `contactName`, `email`, `phone`.
    pub field: String,
    pub existing: Option<String>,
    pub proposed: Option<String>,
}

/// A contact typed on the intake form that the record does not hold.
#[derive(SimpleObject)]
pub struct ContactOffer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl From<ContactFields> for ContactOffer {
    fn from(c: ContactFields) -> Self {
        ContactOffer {
            name: c.name,
            email: c.email,
            phone: c.phone,
        }
    }
}

/// What the intake form learns before opening a case.
#[derive(SimpleObject)]
pub struct BusinessIntakeCheck {
    /// The lab's record with the same 法人番号, if any: open the case with its
    /// `businessId` (the typed values do not overwrite it).
    pub existing: Option<Business>,
    /// Where the typed values differ from that record.
    pub differences: Vec<FieldDifference>,
    /// The typed contact when the record does not hold it: offer to add it
    /// with `addBusinessContact`.
    pub new_contact: Option<ContactOffer>,
    /// Other records that may be the same business.
    pub duplicates: Vec<DuplicateCandidate>,
}

/// Changes to a business; omitted fields stay, an empty string clears an optional one.
#[derive(InputObject)]
pub struct BusinessUpdateInput {
    pub name: Option<String>,
    /// 13 digits, check digit verified.
    pub corporate_number: Option<String>,
    /// JSIC division letter A–T.
    pub industry: Option<String>,
    /// `1-5`, `6-20`, `21-50`, `51-100`, `101-300` or `301+`.
    pub employee_band: Option<String>,
    /// One of the lab's municipalities.
    pub municipality: Option<String>,
    /// `https://…`
    pub website: Option<String>,
}

/// A contact person; on update, omitted fields stay and an empty string clears one.
#[derive(InputObject)]
pub struct BusinessContactInput {
    pub name: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Make it the primary contact (the previous primary one stops being it).
    pub primary: Option<bool>,
}

impl From<BusinessContactInput> for ContactFields {
    fn from(c: BusinessContactInput) -> Self {
        ContactFields {
            name: c.name,
            role: c.role,
            email: c.email,
            phone: c.phone,
            primary: c.primary,
        }
    }
}

fn forget(ctx: &Context<'_>) {
    forget_cases(ctx.data_unchecked::<Loaders>());
}

fn business_id(id: &ID) -> AppResult<uuid::Uuid> {
    parse_id(id, "事業者", "Business")
}

#[derive(Default)]
pub struct BusinessQuery;

#[Object]
impl BusinessQuery {
    /// A business of your lab with its contacts, history and every case (desk staff; `NOT_FOUND` otherwise).
    async fn business(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Business>> {
        let v = viewer(ctx)?;
        let rec = svc::get(state(ctx), v, business_id(&id)?).await?;
        Ok(Some(Business(rec.row)))
    }

    /// Checks a business as typed on the intake form before the case is
    /// opened: the known record with the same 法人番号 and what differs, a
    /// contact it does not hold, and possible duplicates (desk staff).
    async fn business_intake_check(
        &self,
        ctx: &Context<'_>,
        input: super::cases::BusinessInput,
    ) -> AppResult<BusinessIntakeCheck> {
        let v = desk(ctx)?;
        let f: BusinessFields = input.into();
        let c = svc::intake_check(state(ctx), v, &f).await?;
        Ok(BusinessIntakeCheck {
            existing: c.existing.map(|r| Business(r.row)),
            differences: c
                .differences
                .into_iter()
                .map(|d| FieldDifference {
                    field: d.field.to_owned(),
                    existing: d.existing,
                    proposed: d.proposed,
                })
                .collect(),
            new_contact: c.new_contact.map(Into::into),
            duplicates: c
                .duplicates
                .into_iter()
                .map(|d| DuplicateCandidate::new(ctx, d))
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct BusinessMutation;

#[Object]
impl BusinessMutation {
    /// Edits a business (desk staff); a stale `expectedVersion` is a `CONFLICT`
    /// and changes nothing. Every change is a history entry naming the fields.
    async fn update_business(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        input: BusinessUpdateInput,
    ) -> AppResult<Business> {
        let v = desk(ctx)?;
        let edit = BusinessEdit {
            name: input.name,
            corporate_number: input.corporate_number,
            industry: input.industry,
            employee_band: input.employee_band,
            municipality: input.municipality,
            website: input.website,
        };
        let rec = svc::update(
            state(ctx),
            v,
            business_id(&id)?,
            i64::from(expected_version),
            edit,
        )
        .await?;
        forget(ctx);
        Ok(Business(rec.row))
    }

    /// Adds a contact person (desk staff); the first one is the primary contact.
    async fn add_business_contact(
        &self,
        ctx: &Context<'_>,
        business_id: ID,
        input: BusinessContactInput,
    ) -> AppResult<Business> {
        let v = desk(ctx)?;
        let (rec, _) = svc::add_contact(
            state(ctx),
            v,
            self::business_id(&business_id)?,
            input.into(),
        )
        .await?;
        forget(ctx);
        Ok(Business(rec.row))
    }

    /// Changes a contact person (desk staff).
    async fn update_business_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: BusinessContactInput,
    ) -> AppResult<Business> {
        let v = desk(ctx)?;
        let id = parse_id(&id, "担当者", "Contact")?;
        let rec = svc::update_contact(state(ctx), v, id, input.into()).await?;
        forget(ctx);
        Ok(Business(rec.row))
    }

    /// Removes a contact person (desk staff); removing the primary one makes the oldest other one primary.
    async fn remove_business_contact(&self, ctx: &Context<'_>, id: ID) -> AppResult<Business> {
        let v = desk(ctx)?;
        let id = parse_id(&id, "担当者", "Contact")?;
        let rec = svc::remove_contact(state(ctx), v, id).await?;
        forget(ctx);
        Ok(Business(rec.row))
    }

    /// Merges a duplicate record into the one kept (admin): its cases and
    /// contacts move, every moved case's support record gains `BUSINESS_MERGED`.
    /// Both must be of your lab (`NOT_FOUND` otherwise).
    async fn merge_businesses(
        &self,
        ctx: &Context<'_>,
        keep_id: ID,
        merge_id: ID,
    ) -> AppResult<Business> {
        let v = admin(ctx)?;
        let rec = svc::merge(
            state(ctx),
            v,
            business_id(&keep_id)?,
            business_id(&merge_id)?,
        )
        .await?;
        forget(ctx);
        Ok(Business(rec.row))
    }

    /// Everything held about a business as one JSON document
    /// (`dxdesk.business-export` version 1, docs/business-export.md), for a
    /// disclosure request (APPI art. 33); admin of its lab only. The export is
    /// recorded on the support record (`DATA_EXPORTED`).
    async fn export_business_data(
        &self,
        ctx: &Context<'_>,
        business_id: ID,
    ) -> AppResult<Json<serde_json::Value>> {
        let v = viewer(ctx)?;
        let id = self::business_id(&business_id)?;
        let doc = crate::service::disclosure::export(state(ctx), v, id).await?;
        forget(ctx);
        Ok(Json(doc))
    }
}
