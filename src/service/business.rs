//! Business records (desk): reading one with its cases across years, editing
//! it with history (`updateBusiness`), its contacts (one primary), the
//! duplicate check shown on intake and on web submissions, what an intake form
//! differs in from a known record, merging duplicates (admin), and the
//! consent-withdrawal rule on the case edit.

use crate::domain::business::{self as rules, DuplicateReason, Identity};
use crate::domain::permissions::{require_admin, require_desk, Viewer};
use crate::domain::types::{ReferralStatus, Stage};
use crate::domain::validation;
use crate::domain::CorporateNumber;
use crate::error::{AppError, AppResult};
use crate::service::intake::{self, BusinessFields, MAX_NAME};
use crate::state::AppState;
use crate::store::*;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

pub fn business_not_found() -> AppError {
    AppError::not_found("事業者", "Business")
}

/// `business(id)`: desk staff of the business's lab; anyone else `NOT_FOUND`.
pub async fn get(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<BusinessRecord> {
    if !v.is_desk() {
        return Err(business_not_found());
    }
    st.store
        .business_record(v.lab_id, id)
        .await?
        .ok_or_else(business_not_found)
}

/// Every case of the business, newest first (at most 1000).
pub async fn cases_of(st: &AppState, v: &Viewer, business_id: Uuid) -> AppResult<Vec<CaseRow>> {
    let q = CaseQuery {
        lab_id: v.lab_id,
        business_id: Some(business_id),
        now: st.now(),
        ..Default::default()
    };
    st.store.list_cases(&q, None, 1000).await
}

/// One step of the business's path through 知る → 相談する → 試す.
#[derive(Debug, Clone)]
pub struct StageStep {
    pub at: DateTime<Utc>,
    pub stage: Stage,
    pub case_id: Uuid,
    pub reference: String,
}

/// The stage path over time: each case's opening stage and every stage change, oldest first.
pub async fn stage_path(st: &AppState, cases: &[CaseRow]) -> AppResult<Vec<StageStep>> {
    use crate::domain::events::EventPayload;
    let mut out = Vec::new();
    for c in cases {
        for e in st.store.events_for_case(c.id).await? {
            let stage = match EventPayload::from_json(e.kind, &e.payload.0) {
                Ok(EventPayload::Opened(o)) => o.stage,
                Ok(EventPayload::StageChanged(s)) => s.to,
                _ => continue,
            };
            out.push(StageStep {
                at: e.at,
                stage,
                case_id: c.id,
                reference: c.reference.clone(),
            });
        }
    }
    out.sort_by_key(|s| (s.at, s.case_id));
    Ok(out)
}

/// The institutions that supported the business (an accepted or completed referral), by name.
pub async fn supporting_institutions(
    st: &AppState,
    v: &Viewer,
    cases: &[CaseRow],
) -> AppResult<Vec<InstitutionRow>> {
    let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
    let inst: BTreeSet<Uuid> = st
        .store
        .referrals_for_cases(&ids)
        .await?
        .into_iter()
        .filter(|r| {
            matches!(
                r.status,
                ReferralStatus::Accepted | ReferralStatus::Completed
            )
        })
        .map(|r| r.institution_id)
        .collect();
    let ids: Vec<Uuid> = inst.into_iter().collect();
    let mut rows: Vec<InstitutionRow> = st
        .store
        .institutions_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|i| i.lab_id == v.lab_id)
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `updateBusiness` input: omitted fields stay; an empty string clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct BusinessEdit {
    pub name: Option<String>,
    pub corporate_number: Option<String>,
    pub industry: Option<String>,
    pub employee_band: Option<String>,
    pub municipality: Option<String>,
    pub website: Option<String>,
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The edited record and the names of the fields that changed (pure).
pub fn decide_edit(
    lab: &LabRow,
    rec: &BusinessRecord,
    e: &BusinessEdit,
) -> AppResult<(BusinessRecord, Vec<String>)> {
    if rec.row.erased_at.is_some() || rec.merged_into_id.is_some() {
        return Err(AppError::conflict(
            "この事業者の記録は消去済みまたは統合済みのため、変更できません。",
            "This business record was erased or merged and cannot be edited.",
        ));
    }
    let mut out = rec.clone();
    let mut fields = Vec::new();
    let mut set = |field: &str, slot: &mut Option<String>, v: Option<String>| {
        if *slot != v {
            *slot = v;
            fields.push(field.to_owned());
        }
    };
    if let Some(n) = &e.name {
        let n = validation::required_text("name", "事業者名", n, MAX_NAME)?;
        let mut name = Some(out.row.name.clone());
        set("name", &mut name, Some(n));
        out.row.name = name.unwrap_or_default();
    }
    if let Some(n) = &e.corporate_number {
        let v = if blank(n) {
            None
        } else {
            Some(CorporateNumber::parse(n.trim())?.into_string())
        };
        set("corporateNumber", &mut out.row.corporate_number, v);
    }
    if let Some(i) = &e.industry {
        let v = if blank(i) {
            None
        } else {
            Some(validation::jsic_division(i.trim())?.to_string())
        };
        set("industry", &mut out.row.industry, v);
    }
    if let Some(b) = &e.employee_band {
        let v = if blank(b) {
            None
        } else {
            Some(rules::employee_band(b)?)
        };
        set("employeeBand", &mut out.row.employee_band, v);
    }
    if let Some(m) = &e.municipality {
        let (m, region) = if blank(m) {
            (None, None)
        } else {
            let probe = BusinessFields {
                name: "x".into(),
                municipality: Some(m.clone()),
                ..Default::default()
            };
            let b = intake::new_business(lab, &probe, Utc::now())?;
            (b.municipality, b.region)
        };
        set("municipality", &mut out.row.municipality, m);
        out.row.region = region;
    }
    if let Some(w) = &e.website {
        let v = if blank(w) {
            None
        } else {
            Some(rules::website(w)?)
        };
        set("website", &mut out.website, v);
    }
    Ok((out, fields))
}

/// `updateBusiness(id, expectedVersion, input)`: desk staff; a stale version is `CONFLICT`.
pub async fn update(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    expected_version: i64,
    edit: BusinessEdit,
) -> AppResult<BusinessRecord> {
    require_desk(v)?;
    let lab = crate::service::cases::lab_of(st, v).await?;
    let (actor, now) = (v.user_id, st.now());
    // The store reindexes the business's cases for search in the same transaction.
    st.store
        .change_business(
            v.lab_id,
            id,
            Some(expected_version),
            now,
            Box::new(move |rec, _| {
                let (out, fields) = decide_edit(&lab, rec, &edit)?;
                let history = if fields.is_empty() {
                    Vec::new()
                } else {
                    vec![HistoryRow::new(
                        &rec.row,
                        Some(actor),
                        now,
                        "UPDATED",
                        fields,
                    )]
                };
                Ok(BusinessChange {
                    record: Some(out),
                    history,
                    ..Default::default()
                })
            }),
        )
        .await
}

/// A contact as typed (`BusinessContactInput`).
#[derive(Debug, Clone, Default)]
pub struct ContactFields {
    pub name: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub primary: Option<bool>,
}

fn checked_contact(f: &ContactFields) -> AppResult<ContactFields> {
    let c = ContactFields {
        name: validation::optional_text("name", "担当者名", f.name.as_deref(), MAX_NAME)?,
        role: validation::optional_text("role", "役職・役割", f.role.as_deref(), MAX_NAME)?,
        email: validation::optional_email("email", f.email.as_deref())?,
        phone: validation::optional_phone("phone", f.phone.as_deref())?,
        primary: f.primary,
    };
    if c.name.is_none() && c.email.is_none() && c.phone.is_none() {
        return Err(AppError::bad_input(
            Some("name"),
            "担当者名・メールアドレス・電話番号のいずれかを入力してください。",
            "Give at least a name, an e-mail or a phone.",
        ));
    }
    Ok(c)
}

fn live(rec: &BusinessRecord) -> AppResult<()> {
    if rec.row.erased_at.is_some() || rec.merged_into_id.is_some() {
        return Err(AppError::conflict(
            "この事業者の記録は消去済みまたは統合済みのため、担当者を変更できません。",
            "This business record was erased or merged; its contacts cannot change.",
        ));
    }
    Ok(())
}

fn contact_history(
    rec: &BusinessRecord,
    actor: Uuid,
    now: DateTime<Utc>,
    kind: &str,
    c: &ContactFields,
) -> HistoryRow {
    let mut f = Vec::new();
    for (name, set) in [
        ("contactName", c.name.is_some()),
        ("role", c.role.is_some()),
        ("email", c.email.is_some()),
        ("phone", c.phone.is_some()),
        ("primary", c.primary.is_some()),
    ] {
        if set {
            f.push(name.to_owned());
        }
    }
    HistoryRow::new(&rec.row, Some(actor), now, kind, f)
}

/// `addBusinessContact`: the first contact of a business is its primary one.
pub async fn add_contact(
    st: &AppState,
    v: &Viewer,
    business_id: Uuid,
    input: ContactFields,
) -> AppResult<(BusinessRecord, Uuid)> {
    require_desk(v)?;
    let c = checked_contact(&input)?;
    let (actor, now, cid) = (v.user_id, st.now(), Uuid::now_v7());
    let rec = st
        .store
        .change_business(
            v.lab_id,
            business_id,
            None,
            now,
            Box::new(move |rec, existing| {
                live(rec)?;
                let primary = c.primary.unwrap_or(false) || !existing.iter().any(|x| x.is_primary);
                let row = ContactRow {
                    id: cid,
                    lab_id: rec.row.lab_id,
                    business_id: rec.row.id,
                    name: c.name.clone(),
                    role: c.role.clone(),
                    email: c.email.clone(),
                    phone: c.phone.clone(),
                    is_primary: primary,
                    created_at: now,
                    updated_at: now,
                };
                Ok(BusinessChange {
                    upsert_contacts: vec![row],
                    history: vec![contact_history(rec, actor, now, "CONTACT_ADDED", &c)],
                    ..Default::default()
                })
            }),
        )
        .await?;
    Ok((rec, cid))
}

/// `updateBusinessContact`: omitted fields stay, an empty string clears one;
/// `primary: true` makes it the primary contact (the old one stops being it).
pub async fn update_contact(
    st: &AppState,
    v: &Viewer,
    contact_id: Uuid,
    input: ContactFields,
) -> AppResult<BusinessRecord> {
    require_desk(v)?;
    let business_id = contact_owner(st, v, contact_id).await?;
    let (actor, now) = (v.user_id, st.now());
    st.store
        .change_business(
            v.lab_id,
            business_id,
            None,
            now,
            Box::new(move |rec, existing| {
                live(rec)?;
                let old = existing
                    .iter()
                    .find(|c| c.id == contact_id)
                    .ok_or_else(contact_not_found)?;
                let pick = |new: &Option<String>, old: &Option<String>| match new {
                    Some(s) if s.trim().is_empty() => None,
                    Some(s) => Some(s.clone()),
                    None => old.clone(),
                };
                let merged = ContactFields {
                    name: pick(&input.name, &old.name),
                    role: pick(&input.role, &old.role),
                    email: pick(&input.email, &old.email),
                    phone: pick(&input.phone, &old.phone),
                    primary: input.primary,
                };
                let c = checked_contact(&merged)?;
                if input.primary == Some(false) && old.is_primary {
                    return Err(AppError::conflict(
                        "主担当者は外せません。別の担当者を主担当者にしてください。",
                        "The primary contact cannot be unset; make another contact primary instead.",
                    ));
                }
                let row = ContactRow {
                    name: c.name,
                    role: c.role,
                    email: c.email,
                    phone: c.phone,
                    is_primary: input.primary.unwrap_or(old.is_primary),
                    updated_at: now,
                    ..old.clone()
                };
                Ok(BusinessChange {
                    upsert_contacts: vec![row],
                    history: vec![contact_history(rec, actor, now, "CONTACT_UPDATED", &input)],
                    ..Default::default()
                })
            }),
        )
        .await
}

/// `removeBusinessContact`: removing the primary contact makes the oldest other one primary.
pub async fn remove_contact(
    st: &AppState,
    v: &Viewer,
    contact_id: Uuid,
) -> AppResult<BusinessRecord> {
    require_desk(v)?;
    let business_id = contact_owner(st, v, contact_id).await?;
    let (actor, now) = (v.user_id, st.now());
    st.store
        .change_business(
            v.lab_id,
            business_id,
            None,
            now,
            Box::new(move |rec, existing| {
                live(rec)?;
                let old = existing
                    .iter()
                    .find(|c| c.id == contact_id)
                    .ok_or_else(contact_not_found)?;
                let mut upsert = Vec::new();
                if old.is_primary {
                    if let Some(next) = existing.iter().find(|c| c.id != contact_id) {
                        upsert.push(ContactRow {
                            is_primary: true,
                            updated_at: now,
                            ..next.clone()
                        });
                    }
                }
                Ok(BusinessChange {
                    delete_contacts: vec![contact_id],
                    upsert_contacts: upsert,
                    history: vec![HistoryRow::new(
                        &rec.row,
                        Some(actor),
                        now,
                        "CONTACT_REMOVED",
                        Vec::new(),
                    )],
                    ..Default::default()
                })
            }),
        )
        .await
}

fn contact_not_found() -> AppError {
    AppError::not_found("担当者", "Contact")
}

/// The business of a contact of the viewer's lab.
async fn contact_owner(st: &AppState, v: &Viewer, contact_id: Uuid) -> AppResult<Uuid> {
    st.store
        .contact(contact_id)
        .await?
        .filter(|c| c.lab_id == v.lab_id)
        .map(|c| c.business_id)
        .ok_or_else(contact_not_found)
}

/// One possible duplicate of a business.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub business: BusinessRecord,
    pub reasons: Vec<DuplicateReason>,
}

/// What the duplicate check compares of a typed or stored business.
pub struct Probe {
    pub name: String,
    pub corporate_number: Option<String>,
    pub municipality: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub exclude: Option<Uuid>,
}

impl Probe {
    fn of(rec: &BusinessRecord, contacts: &[ContactRow]) -> Self {
        Probe {
            name: rec.row.name.clone(),
            corporate_number: rec.row.corporate_number.clone(),
            municipality: rec.row.municipality.clone(),
            emails: contacts
                .iter()
                .filter_map(|c| c.email.clone())
                .chain(rec.row.email.clone())
                .collect(),
            phones: contacts
                .iter()
                .filter_map(|c| c.phone.clone())
                .chain(rec.row.phone.clone())
                .collect(),
            exclude: Some(rec.row.id),
        }
    }
}

/// The live businesses of the lab that may be the same as `p`, with why.
pub async fn candidates(st: &AppState, lab_id: Uuid, p: &Probe) -> AppResult<Vec<Candidate>> {
    let probe = DuplicateProbe {
        corporate_number: p.corporate_number.clone(),
        email: p.emails.first().cloned(),
        phone: p.phones.first().cloned(),
        municipality: p.municipality.clone(),
        exclude: p.exclude,
    };
    let pool = st.store.duplicate_pool(lab_id, &probe).await?;
    let ids: Vec<Uuid> = pool.iter().map(|b| b.row.id).collect();
    let contacts = st.store.contacts_for(&ids).await?;
    let typed = Identity {
        name: &p.name,
        corporate_number: p.corporate_number.as_deref(),
        municipality: p.municipality.as_deref(),
        emails: p.emails.iter().map(String::as_str).collect(),
        phones: p.phones.iter().map(String::as_str).collect(),
    };
    let mut out = Vec::new();
    for b in pool {
        let mine: Vec<&ContactRow> = contacts
            .iter()
            .filter(|c| c.business_id == b.row.id)
            .collect();
        let stored = Identity {
            name: &b.row.name,
            corporate_number: b.row.corporate_number.as_deref(),
            municipality: b.row.municipality.as_deref(),
            emails: mine
                .iter()
                .filter_map(|c| c.email.as_deref())
                .chain(b.row.email.as_deref())
                .collect(),
            phones: mine
                .iter()
                .filter_map(|c| c.phone.as_deref())
                .chain(b.row.phone.as_deref())
                .collect(),
        };
        let reasons = rules::duplicate_reasons(&typed, &stored);
        if !reasons.is_empty() {
            out.push(Candidate {
                business: b,
                reasons,
            });
        }
    }
    Ok(out)
}

/// Possible duplicates of a stored business (desk: the business page and
/// every case of a web submission show them).
pub async fn duplicates_of(
    st: &AppState,
    v: &Viewer,
    rec: &BusinessRecord,
) -> AppResult<Vec<Candidate>> {
    require_desk(v)?;
    if rec.row.erased_at.is_some() || rec.merged_into_id.is_some() {
        return Ok(Vec::new());
    }
    let contacts = st.store.contacts_for(&[rec.row.id]).await?;
    candidates(st, v.lab_id, &Probe::of(rec, &contacts)).await
}

/// A field where the intake form differs from the stored record.
#[derive(Debug, Clone)]
pub struct Difference {
    pub field: &'static str,
    pub existing: Option<String>,
    pub proposed: Option<String>,
}

/// What the intake form learns before opening: the known record with the
/// same 法人番号 and what differs, whether the typed contact is new, and the
/// other possible duplicates.
#[derive(Debug, Clone)]
pub struct IntakeCheck {
    pub existing: Option<BusinessRecord>,
    pub differences: Vec<Difference>,
    pub new_contact: Option<ContactFields>,
    pub duplicates: Vec<Candidate>,
}

/// `businessIntakeCheck(input)`: desk staff.
pub async fn intake_check(st: &AppState, v: &Viewer, f: &BusinessFields) -> AppResult<IntakeCheck> {
    require_desk(v)?;
    let lab = crate::service::cases::lab_of(st, v).await?;
    let typed = intake::new_business(&lab, f, st.now())?;
    let probe = Probe {
        name: typed.name.clone(),
        corporate_number: typed.corporate_number.clone(),
        municipality: typed.municipality.clone(),
        emails: typed.email.clone().into_iter().collect(),
        phones: typed.phone.clone().into_iter().collect(),
        exclude: None,
    };
    let mut all = candidates(st, v.lab_id, &probe).await?;
    let pos = all
        .iter()
        .position(|c| c.reasons.contains(&DuplicateReason::CorporateNumber));
    let Some(pos) = pos else {
        return Ok(IntakeCheck {
            existing: None,
            differences: Vec::new(),
            new_contact: None,
            duplicates: all,
        });
    };
    let existing = all.remove(pos).business;
    let contacts = st.store.contacts_for(&[existing.row.id]).await?;
    Ok(IntakeCheck {
        differences: differences(&existing.row, &typed),
        new_contact: offered_contact(&typed, &contacts),
        existing: Some(existing),
        duplicates: all,
    })
}

/// The fields the typed business differs in from the stored one (only fields typed).
pub fn differences(stored: &BusinessRow, typed: &BusinessRow) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut cmp = |field: &'static str, s: &Option<String>, t: &Option<String>| {
        if t.is_some() && s != t {
            out.push(Difference {
                field,
                existing: s.clone(),
                proposed: t.clone(),
            });
        }
    };
    cmp(
        "name",
        &Some(stored.name.clone()),
        &Some(typed.name.clone()),
    );
    cmp("industry", &stored.industry, &typed.industry);
    cmp("municipality", &stored.municipality, &typed.municipality);
    cmp("contactName", &stored.contact_name, &typed.contact_name);
    cmp("email", &stored.email, &typed.email);
    cmp("phone", &stored.phone, &typed.phone);
    out
}

/// The typed contact when none of the stored contacts has it (same name,
/// e-mail and phone where given): the form offers to add it.
pub fn offered_contact(typed: &BusinessRow, contacts: &[ContactRow]) -> Option<ContactFields> {
    if typed.contact_name.is_none() && typed.email.is_none() && typed.phone.is_none() {
        return None;
    }
    let same = |t: &Option<String>, s: &Option<String>| t.is_none() || t == s;
    let known = contacts.iter().any(|c| {
        same(&typed.contact_name, &c.name)
            && same(&typed.email, &c.email)
            && same(&typed.phone, &c.phone)
    });
    (!known).then(|| ContactFields {
        name: typed.contact_name.clone(),
        role: None,
        email: typed.email.clone(),
        phone: typed.phone.clone(),
        primary: Some(false),
    })
}

/// After `openCase` with a typed business: the contact it typed that the
/// record (found by 法人番号) does not hold — offered, not stored.
pub async fn offer_after_open(
    st: &AppState,
    v: &Viewer,
    typed: Option<&BusinessFields>,
    business: &BusinessRow,
) -> AppResult<Option<ContactFields>> {
    let Some(f) = typed else { return Ok(None) };
    let lab = crate::service::cases::lab_of(st, v).await?;
    let Ok(t) = intake::new_business(&lab, f, st.now()) else {
        return Ok(None);
    };
    let contacts = st.store.contacts_for(&[business.id]).await?;
    Ok(offered_contact(&t, &contacts))
}

/// `mergeBusinesses(keepId, mergeId)`: admin of the lab holding both (one of
/// another lab is `NOT_FOUND`: a merge never crosses labs). Every case of
/// `mergeId` moves to `keepId` with a `BUSINESS_MERGED` event on its support
/// record (each case in its own transaction, chained and sealed); then the
/// contacts move and `mergeId` is marked merged. Running it again finishes
/// an interrupted merge.
pub async fn merge(
    st: &AppState,
    v: &Viewer,
    keep: Uuid,
    merge: Uuid,
) -> AppResult<BusinessRecord> {
    require_admin(v)?;
    if keep == merge {
        return Err(AppError::bad_input(
            Some("mergeId"),
            "同じ事業者どうしは統合できません。",
            "A business cannot be merged into itself.",
        ));
    }
    let store = st.store.as_ref();
    let k = store
        .business_record(v.lab_id, keep)
        .await?
        .ok_or_else(business_not_found)?;
    let m = store
        .business_record(v.lab_id, merge)
        .await?
        .ok_or_else(business_not_found)?;
    for r in [&k, &m] {
        if r.row.erased_at.is_some() {
            return Err(AppError::conflict(
                "個人情報が消去された事業者は統合できません。",
                "A business whose personal data was erased cannot be merged.",
            ));
        }
    }
    if k.merged_into_id.is_some() || m.merged_into_id.is_some_and(|x| x != keep) {
        return Err(AppError::conflict(
            "この事業者は既に別の記録に統合されています。",
            "This business was already merged into another record.",
        ));
    }
    let actor = v.user_id;
    for c in cases_of(st, v, merge).await? {
        let now = st.now();
        store
            .update_case(
                v.lab_id,
                c.id,
                None,
                now,
                Box::new(move |s| {
                    let mut case = s.case.clone();
                    case.business_id = keep;
                    Ok(CaseChange {
                        case: Some(case),
                        events: vec![crate::service::events::business_merged(actor, merge, keep)],
                        ..Default::default()
                    })
                }),
            )
            .await?;
    }
    // `finish_merge` reindexes the moved cases for search.
    store
        .finish_merge(v.lab_id, keep, merge, actor, st.now())
        .await
}

/// When `updateCase` withdraws the consent to share: every `PENDING`
/// referral of the case is withdrawn with it (`WITHDRAWN`, reason
/// `consent withdrawn`), in the same transaction. Accepted referrals stay;
/// their institution stops seeing contact data ([`rules::partner_sees_contact`]).
pub fn withdraw_pending_on_consent(
    s: &CaseSnapshot,
    mut change: CaseChange,
    actor: Uuid,
    names: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> CaseChange {
    let withdrawn = change
        .case
        .as_ref()
        .is_some_and(|c| s.case.consent_to_share && !c.consent_to_share);
    if !withdrawn {
        return change;
    }
    for r in s
        .referrals
        .iter()
        .filter(|r| r.status == ReferralStatus::Pending)
    {
        let mut r = r.clone();
        r.status = ReferralStatus::Withdrawn;
        r.decided_by = Some(actor);
        r.decided_at = Some(now);
        r.decision_note = Some(crate::domain::events::CONSENT_WITHDRAWN.to_owned());
        r.updated_at = now;
        let name = names
            .iter()
            .find(|(id, _)| *id == r.institution_id)
            .map(|(_, n)| n.as_str())
            .unwrap_or_default();
        change
            .events
            .push(crate::service::events::withdrawn_for_consent(
                actor, &r, name,
            ));
        change.updated_referrals.push(r);
    }
    change
}

/// The institution names of the lab, for [`withdraw_pending_on_consent`].
pub async fn institution_names(st: &AppState, lab_id: Uuid) -> AppResult<Vec<(Uuid, String)>> {
    Ok(st
        .store
        .institutions(lab_id)
        .await?
        .into_iter()
        .map(|i| (i.id, i.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> BusinessRecord {
        let now = Utc::now();
        let id = Uuid::now_v7();
        BusinessRecord {
            row: BusinessRow {
                id,
                lab_id: id,
                name: "りんご農園".into(),
                corporate_number: None,
                industry: Some("A".into()),
                employee_band: None,
                municipality: Some("青森市".into()),
                region: Some("TOSEI".into()),
                contact_name: Some("山田太郎".into()),
                email: None,
                phone: None,
                created_at: now,
                updated_at: now,
                erased_at: None,
            },
            version: 1,
            website: None,
            previously_erased_id: None,
            merged_into_id: None,
        }
    }

    #[test]
    fn an_edit_names_changed_fields_only() {
        let lab = crate::service::intake::tests::aomori();
        let e = BusinessEdit {
            name: Some("りんご農園".into()),
            industry: Some("e".into()),
            employee_band: Some("6-20".into()),
            municipality: Some("八戸市".into()),
            ..Default::default()
        };
        let (out, fields) = decide_edit(&lab, &rec(), &e).unwrap();
        assert_eq!(fields, ["industry", "employeeBand", "municipality"]);
        assert_eq!(out.row.region.as_deref(), Some("SANPACHI"));
        let bad = BusinessEdit {
            corporate_number: Some("1234567890123".into()),
            ..Default::default()
        };
        assert_eq!(
            decide_edit(&lab, &rec(), &bad).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        let mut erased = rec();
        erased.row.erased_at = Some(Utc::now());
        assert_eq!(
            decide_edit(&lab, &erased, &e).unwrap_err().code(),
            "CONFLICT"
        );
    }

    #[test]
    fn a_known_contact_is_not_offered_again() {
        let r = rec();
        let c = ContactRow {
            id: Uuid::now_v7(),
            lab_id: r.row.lab_id,
            business_id: r.row.id,
            name: Some("山田太郎".into()),
            role: None,
            email: None,
            phone: None,
            is_primary: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let mut typed = r.row.clone();
        assert!(offered_contact(&typed, std::slice::from_ref(&c)).is_none());
        typed.contact_name = Some("佐藤花子".into());
        typed.phone = Some("017-700-0001".into());
        let offer = offered_contact(&typed, &[c]).unwrap();
        assert_eq!(offer.name.as_deref(), Some("佐藤花子"));
        let d = differences(&r.row, &typed);
        assert_eq!(
            d.iter().map(|d| d.field).collect::<Vec<_>>(),
            ["contactName", "phone"]
        );
    }
}
