//! Case-event payloads. They hold ids, enum values and institution names
//! only — never note bodies, summaries, titles or the business's contact data
//! — so erasing a business's personal data never touches the support record.

use crate::domain::events::{
    Change, Erased, EventPayload, NoteAdded, ReferralEvent, Resolved, Updated,
};
use crate::domain::types::*;
use crate::store::{NewEvent, NoteRow, ReferralRow};
use uuid::Uuid;

fn event(actor: Option<Uuid>, payload: EventPayload) -> NewEvent {
    NewEvent::new(actor, payload)
}

/// A stored-status change (`STATUS_CHANGED`, `REOPENED`, `CLOSED`).
pub fn status_changed(
    kind: EventKind,
    actor: Option<Uuid>,
    from: CaseStatus,
    to: CaseStatus,
) -> NewEvent {
    event(actor, EventPayload::status_change(kind, from, to))
}

/// `RESOLVED`, with the outcome codes (the summary stays on the case).
pub fn resolved(actor: Uuid, from: CaseStatus, outcomes: &[Outcome]) -> NewEvent {
    event(
        Some(actor),
        EventPayload::Resolved(Resolved {
            from,
            to: CaseStatus::Resolved,
            outcomes: outcomes.to_vec(),
        }),
    )
}

/// `STAGE_CHANGED`.
pub fn stage_changed(actor: Uuid, from: Stage, to: Stage) -> NewEvent {
    event(Some(actor), EventPayload::StageChanged(Change { from, to }))
}

/// `UPDATED`: the names of the edited fields (not their values), and the new
/// consent to share when it changed.
pub fn updated(actor: Uuid, fields: &[&str], consent_to_share: Option<bool>) -> NewEvent {
    event(
        Some(actor),
        EventPayload::Updated(Updated {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            consent_to_share,
        }),
    )
}

/// A referral event (`REFERRED`, `ACCEPTED`, `DECLINED`, `WITHDRAWN`,
/// `COMPLETED`): referral and institution ids, the institution's name, the
/// decline reason code and the deadline where they apply.
pub fn referral(actor: Uuid, r: &ReferralRow, institution_name: &str) -> NewEvent {
    event(
        Some(actor),
        EventPayload::referral(ReferralEvent {
            referral_id: r.id,
            institution_id: r.institution_id,
            institution_name: institution_name.to_owned(),
            status: r.status,
            pickup_deadline: (r.status == ReferralStatus::Pending)
                .then(|| crate::domain::hash_chain::format_at(r.pickup_deadline)),
            reason: r.reason,
            withdraw_reason: None,
        }),
    )
}

/// `NOTE_ADDED`: the note's id and visibility (never its body).
pub fn note_added(n: &NoteRow) -> NewEvent {
    event(
        n.author_id,
        EventPayload::NoteAdded(NoteAdded {
            note_id: n.id,
            visibility: n.visibility,
        }),
    )
}

/// `ACCESS_CODE_ROTATED` (the code and its hash stay out of the record).
pub fn access_code_rotated(actor: Uuid) -> NewEvent {
    event(Some(actor), EventPayload::AccessCodeRotated)
}

/// `PERSONAL_DATA_ERASED`: which business (its data itself is gone).
pub fn personal_data_erased(actor: Uuid, business_id: Uuid) -> NewEvent {
    event(
        Some(actor),
        EventPayload::PersonalDataErased(Erased { business_id }),
    )
}

/// `WITHDRAWN` by the system because the business withdrew its consent to
/// share (reason: the fixed phrase `consent withdrawn`).
pub fn withdrawn_for_consent(actor: Uuid, r: &ReferralRow, institution_name: &str) -> NewEvent {
    let e = ReferralEvent {
        referral_id: r.id,
        institution_id: r.institution_id,
        institution_name: institution_name.to_owned(),
        status: ReferralStatus::Withdrawn,
        pickup_deadline: None,
        reason: None,
        withdraw_reason: Some(crate::domain::events::CONSENT_WITHDRAWN.to_owned()),
    };
    event(Some(actor), EventPayload::referral(e))
}

/// `BUSINESS_MERGED`: the case moved from business `from` to `into`.
pub fn business_merged(actor: Uuid, from: Uuid, into: Uuid) -> NewEvent {
    event(
        Some(actor),
        EventPayload::BusinessMerged(crate::domain::events::Merged {
            from_business_id: from,
            into_business_id: into,
        }),
    )
}

/// `DATA_EXPORTED`: the business's data was disclosed.
pub fn data_exported(actor: Uuid, business_id: Uuid) -> NewEvent {
    event(
        Some(actor),
        EventPayload::DataExported(crate::domain::events::Exported { business_id }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn referral_payload_has_no_free_text() {
        let now = Utc::now();
        let r = ReferralRow {
            id: Uuid::now_v7(),
            lab_id: Uuid::now_v7(),
            case_id: Uuid::now_v7(),
            institution_id: Uuid::now_v7(),
            status: ReferralStatus::Declined,
            note: Some("山田様 090-1111-2222".into()),
            reason: Some(DeclineReason::NoCapacity),
            decision_note: Some("担当者不在".into()),
            summary: None,
            referred_by: None,
            decided_by: None,
            pickup_deadline: now,
            created_at: now,
            decided_at: Some(now),
            completed_at: None,
            updated_at: now,
        };
        let e = referral(Uuid::now_v7(), &r, "弘前大学");
        assert_eq!(e.kind, EventKind::Declined);
        let text = e.payload.to_string();
        assert!(text.contains("NO_CAPACITY") && text.contains("弘前大学"));
        assert!(!text.contains("山田") && !text.contains("090") && !text.contains("不在"));
    }
}
