//! Who sees what, decided in one place: whether a viewer may read a case, and
//! which of its referrals, notes and events. Anything the viewer may not read
//! is `NOT_FOUND`, exactly like a case that does not exist.
//!
//! Decisions (docs/PRODUCT.md "Who may do what", docs/DESIGN.md):
//! - desk staff (admin, concierge) read every case of their lab, with every
//!   referral, note and event;
//! - a partner reads a case only while its institution holds a PENDING,
//!   ACCEPTED or COMPLETED referral on it; on such a case it sees its own
//!   institution's referrals only (not other institutions' referrals, decline
//!   reasons or notes), `PARTNERS` and `BUSINESS` notes, and the events that do
//!   not concern another institution's referral or a `DESK` note;
//! - nobody reads another lab's records.

use crate::domain::events::EventPayload;
use crate::domain::permissions::{can_read_case, can_read_note, Viewer};
use crate::domain::types::ReferralStatus;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{CaseRow, EventRow, NoteRow, ReferralRow};
use uuid::Uuid;

/// The answer for a case that does not exist or may not be read.
pub fn case_not_found() -> AppError {
    AppError::not_found("相談", "Case")
}

/// The answer for a referral that does not exist or may not be read.
pub fn referral_not_found() -> AppError {
    AppError::not_found("紹介", "Referral")
}

/// Whether the viewer may read a case of `lab` holding these referrals.
pub fn can_read(v: &Viewer, lab: Uuid, referrals: &[ReferralRow]) -> bool {
    let pairs: Vec<(Uuid, ReferralStatus)> = referrals
        .iter()
        .map(|r| (r.institution_id, r.status))
        .collect();
    can_read_case(v, lab, &pairs)
}

/// Loads a case the viewer may read, or `NOT_FOUND`. Every query and mutation
/// on a case goes through here (or [`ensure_can_read`]).
pub async fn load_case_for(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<CaseRow> {
    let row = st.store.case_by_id(id).await?.ok_or_else(case_not_found)?;
    ensure_can_read(st, v, &row).await?;
    Ok(row)
}

/// `NOT_FOUND` unless the viewer may read this case.
pub async fn ensure_can_read(st: &AppState, v: &Viewer, row: &CaseRow) -> AppResult<()> {
    if row.lab_id != v.lab_id {
        return Err(case_not_found());
    }
    if v.is_desk() {
        return Ok(());
    }
    let referrals = st.store.referrals_for_cases(&[row.id]).await?;
    if can_read(v, row.lab_id, &referrals) {
        Ok(())
    } else {
        Err(case_not_found())
    }
}

/// Whether the viewer sees this referral (on a case it may read): desk staff
/// all of their lab, a partner its own institution's only.
pub fn referral_visible(v: &Viewer, r: &ReferralRow) -> bool {
    if r.lab_id != v.lab_id {
        return false;
    }
    v.is_desk() || v.partner_institution() == Some(r.institution_id)
}

/// Whether the viewer sees this note (on a case it may read).
pub fn note_visible(v: &Viewer, n: &NoteRow) -> bool {
    n.lab_id == v.lab_id && can_read_note(v, n.visibility)
}

/// Whether the viewer sees this event of a case it may read: a partner does
/// not see events about another institution's referral or about a note it
/// may not read.
pub fn event_visible(v: &Viewer, e: &EventRow) -> bool {
    if e.lab_id != v.lab_id {
        return false;
    }
    if v.is_desk() {
        return true;
    }
    // A payload that does not read as its kind is shown to the desk only.
    let Ok(payload) = EventPayload::from_json(e.kind, &e.payload.0) else {
        return false;
    };
    match payload {
        EventPayload::Referred(r)
        | EventPayload::Accepted(r)
        | EventPayload::Declined(r)
        | EventPayload::Withdrawn(r)
        | EventPayload::Completed(r) => v.partner_institution() == Some(r.institution_id),
        EventPayload::NoteAdded(n) => can_read_note(v, n.visibility),
        EventPayload::Opened(_)
        | EventPayload::StageChanged(_)
        | EventPayload::StatusChanged(_)
        | EventPayload::Updated(_)
        | EventPayload::Resolved(_)
        | EventPayload::Reopened(_)
        | EventPayload::Closed(_)
        | EventPayload::AccessCodeRotated
        | EventPayload::PersonalDataErased(_)
        | EventPayload::BusinessMerged(_) => true,
        // A disclosure is between the business and the lab.
        EventPayload::DataExported(_) => false,
    }
}

/// Loads a referral whose case the viewer may read and which the viewer may
/// see, or `NOT_FOUND`. The referral alone proves it when it is of the
/// viewer's lab (desk) or a visible one of the partner's own institution
/// (its case has the referral's lab); otherwise the case and its referrals are read.
pub async fn load_referral_for(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<ReferralRow> {
    let r = st
        .store
        .referral(id)
        .await?
        .ok_or_else(referral_not_found)?;
    if !referral_visible(v, &r) {
        return Err(referral_not_found());
    }
    if can_read(v, r.lab_id, std::slice::from_ref(&r)) {
        return Ok(r);
    }
    let case = st
        .store
        .case_by_id(r.case_id)
        .await?
        .ok_or_else(referral_not_found)?;
    ensure_can_read(st, v, &case)
        .await
        .map_err(|_| referral_not_found())?;
    Ok(r)
}
