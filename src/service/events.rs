//! Case-event payloads. They hold ids, enum values and institution names
//! only — never note bodies, summaries, titles or the business's contact data
//! — so erasing a business's personal data never touches the support record.

use crate::domain::types::*;
use crate::store::{NewEvent, NoteRow, ReferralRow};
use serde_json::{json, Value};
use uuid::Uuid;

fn event(kind: EventKind, actor: Option<Uuid>, payload: Value) -> NewEvent {
    NewEvent {
        kind,
        actor,
        payload,
    }
}

/// A stored-status change (`STATUS_CHANGED`, `RESOLVED`, `REOPENED`, `CLOSED`).
pub fn status_changed(
    kind: EventKind,
    actor: Option<Uuid>,
    from: CaseStatus,
    to: CaseStatus,
) -> NewEvent {
    event(kind, actor, json!({ "from": from, "to": to }))
}

/// `RESOLVED`, with the outcome codes (the summary stays on the case).
pub fn resolved(actor: Uuid, from: CaseStatus, outcomes: &[Outcome]) -> NewEvent {
    event(
        EventKind::Resolved,
        Some(actor),
        json!({ "from": from, "to": CaseStatus::Resolved, "outcomes": outcomes }),
    )
}

/// `STAGE_CHANGED`.
pub fn stage_changed(actor: Uuid, from: Stage, to: Stage) -> NewEvent {
    event(
        EventKind::StageChanged,
        Some(actor),
        json!({ "from": from, "to": to }),
    )
}

/// `UPDATED`: the names of the edited fields (not their values).
pub fn updated(actor: Uuid, fields: &[&str]) -> NewEvent {
    event(EventKind::Updated, Some(actor), json!({ "fields": fields }))
}

/// A referral event (`REFERRED`, `ACCEPTED`, `DECLINED`, `WITHDRAWN`,
/// `COMPLETED`): referral and institution ids, the institution's name, the
/// decline reason code and the deadline where they apply.
pub fn referral(actor: Uuid, r: &ReferralRow, institution_name: &str) -> NewEvent {
    let kind = crate::domain::referral_state::event_kind_for(r.status);
    let mut payload = json!({
        "referralId": r.id,
        "institutionId": r.institution_id,
        "institutionName": institution_name,
        "status": r.status,
    });
    if r.status == ReferralStatus::Pending {
        payload["pickupDeadline"] = json!(crate::domain::hash_chain::format_at(r.pickup_deadline));
    }
    if let Some(reason) = r.reason {
        payload["reason"] = json!(reason);
    }
    event(kind, Some(actor), payload)
}

/// `NOTE_ADDED`: the note's id and visibility (never its body).
pub fn note_added(n: &NoteRow) -> NewEvent {
    event(
        EventKind::NoteAdded,
        n.author_id,
        json!({ "noteId": n.id, "visibility": n.visibility }),
    )
}

/// `ACCESS_CODE_ROTATED` (the code and its hash stay out of the record).
pub fn access_code_rotated(actor: Uuid) -> NewEvent {
    event(EventKind::AccessCodeRotated, Some(actor), json!({}))
}

/// The extra fields of the `OPENED` event of a new case.
pub fn opened_payload(
    channel: Channel,
    stage: Stage,
    priority: Priority,
    consent: bool,
    topics: &[String],
) -> Value {
    json!({
        "channel": channel,
        "stage": stage,
        "priority": priority,
        "consentToShare": consent,
        "topics": topics,
    })
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
