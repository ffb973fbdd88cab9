//! Rows and commands of the case area: businesses, cases, referrals, notes,
//! case events, and the `CaseChange` a decision returns.

use crate::domain::types::*;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BusinessRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub name: String,
    pub corporate_number: Option<String>,
    /// JSIC division letter A–T.
    pub industry: Option<String>,
    pub employee_band: Option<String>,
    pub municipality: Option<String>,
    /// Region code of the municipality.
    pub region: Option<String>,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub reference: String,
    pub business_id: Uuid,
    pub title: String,
    pub description: String,
    pub channel: Channel,
    pub stage: Stage,
    /// The stored status (never `REFERRED`; see `displayed_status`).
    pub status: CaseStatus,
    pub priority: Priority,
    pub assigned_to: Option<Uuid>,
    pub consent_to_share: bool,
    pub consent_at: Option<DateTime<Utc>>,
    /// Who recorded the consent; `None` when the business gave it on the web form.
    pub consent_by: Option<Uuid>,
    /// The business agreed to be e-mailed its reference and the public
    /// milestones of this case (at the business's address).
    pub email_updates: bool,
    pub access_code_hash: String,
    pub outcomes: Json<Vec<Outcome>>,
    pub outcome_summary: Option<String>,
    pub version: i64,
    pub event_count: i64,
    pub last_event_hash: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Computed on read: the case holds a `PENDING` referral.
    pub has_pending: bool,
}

impl BusinessRow {
    /// The address mail to the business goes to: its e-mail, trimmed, when
    /// it has a non-blank one.
    pub fn mail_address(&self) -> Option<&str> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }
}

impl CaseRow {
    /// The status the API shows (`REFERRED` while a referral is pending).
    pub fn displayed_status(&self) -> CaseStatus {
        crate::domain::case_state::displayed_status(self.status, self.has_pending)
    }
}

/// What a seal covers of a case: its chain head (event count and last hash)
/// and every stored column of its row, of its referral rows and notes (sorted
/// by id) and its topics (sorted), so an edit to any of them without the
/// audit key is detected. Rows of other cases in the slices are ignored.
pub fn sealed_state(
    case: &CaseRow,
    referrals: &[ReferralRow],
    topics: &[String],
    notes: &[NoteRow],
) -> serde_json::Value {
    use crate::domain::hash_chain::format_at;
    use serde_json::json;
    let t = |t: Option<DateTime<Utc>>| t.map(format_at);
    let mut refs: Vec<&ReferralRow> = referrals.iter().filter(|r| r.case_id == case.id).collect();
    refs.sort_by_key(|r| r.id);
    let refs: Vec<serde_json::Value> = refs
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "labId": r.lab_id,
                "institutionId": r.institution_id,
                "status": r.status.as_str(),
                "note": r.note,
                "reason": r.reason.map(|x| x.as_str()),
                "decisionNote": r.decision_note,
                "summary": r.summary,
                "referredBy": r.referred_by,
                "decidedBy": r.decided_by,
                "pickupDeadline": format_at(r.pickup_deadline),
                "createdAt": format_at(r.created_at),
                "decidedAt": t(r.decided_at),
                "completedAt": t(r.completed_at),
                "updatedAt": format_at(r.updated_at),
            })
        })
        .collect();
    let mut topics: Vec<&String> = topics.iter().collect();
    topics.sort();
    let mut notes: Vec<&NoteRow> = notes.iter().filter(|n| n.case_id == case.id).collect();
    notes.sort_by_key(|n| n.id);
    let notes: Vec<serde_json::Value> = notes
        .into_iter()
        .map(|n| {
            json!({
                "id": n.id,
                "labId": n.lab_id,
                "authorId": n.author_id,
                "body": n.body,
                "visibility": n.visibility.as_str(),
                "createdAt": format_at(n.created_at),
            })
        })
        .collect();
    json!({
        "case": case.id,
        "eventCount": case.event_count,
        "lastEventHash": case.last_event_hash,
        "labId": case.lab_id,
        "reference": case.reference,
        "businessId": case.business_id,
        "title": case.title,
        "description": case.description,
        "channel": case.channel.as_str(),
        "stage": case.stage.as_str(),
        "status": case.status.as_str(),
        "priority": case.priority.as_str(),
        "assignedTo": case.assigned_to,
        "consentToShare": case.consent_to_share,
        "consentAt": t(case.consent_at),
        "consentBy": case.consent_by,
        "accessCodeHash": case.access_code_hash,
        "outcomes": serde_json::to_value(&case.outcomes.0).unwrap_or_default(),
        "outcomeSummary": case.outcome_summary,
        "version": case.version,
        "createdBy": case.created_by,
        "createdAt": format_at(case.created_at),
        "updatedAt": format_at(case.updated_at),
        "resolvedAt": t(case.resolved_at),
        "closedAt": t(case.closed_at),
        "referrals": refs,
        "topics": topics,
        "notes": notes,
    })
}

/// A case's stored seal (see `domain::seal`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealRow {
    pub case_id: Uuid,
    /// Which key sealed it (`SealKey::id`).
    pub key_id: String,
    /// The case's event count when it was sealed.
    pub event_count: i64,
    pub mac: String,
    pub sealed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub case_id: Uuid,
    pub institution_id: Uuid,
    pub status: ReferralStatus,
    /// The desk's note when referring.
    pub note: Option<String>,
    pub reason: Option<DeclineReason>,
    /// The institution's note when accepting or declining, or the desk's when withdrawing.
    pub decision_note: Option<String>,
    /// The institution's summary when completing.
    pub summary: Option<String>,
    pub referred_by: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub pickup_deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoteRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub case_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub visibility: NoteVisibility,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub case_id: Uuid,
    pub seq: i64,
    pub kind: EventKind,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub payload: Json<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRow {
    pub fn link(&self) -> crate::domain::hash_chain::ChainLink {
        crate::domain::hash_chain::ChainLink {
            case_id: self.case_id,
            seq: self.seq,
            kind: self.kind,
            actor: self.actor_id,
            at: self.at,
            payload: self.payload.0.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

/// An event to append; the store numbers, times and chains it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub actor: Option<Uuid>,
    /// Never personal data: ids, enum values, institution names.
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event of the kind its payload records, with the payload's stored JSON.
    pub fn new(actor: Option<Uuid>, payload: crate::domain::events::EventPayload) -> Self {
        NewEvent {
            kind: payload.kind(),
            actor,
            payload: payload.to_json(),
        }
    }
}

/// Which business a new case is for. (Built once per opening, never held in
/// bulk, so the size difference of the variants does not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum BusinessChoice {
    /// An existing business of the lab.
    Existing(Uuid),
    /// A new one; when it has a corporate number already known to the lab, that
    /// business is used instead (and its blank fields are filled in).
    New(BusinessRow),
}

/// Everything `open_case` needs; rules were checked by the caller.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub lab_code: String,
    pub business: BusinessChoice,
    pub title: String,
    pub description: String,
    pub topics: Vec<String>,
    pub channel: Channel,
    pub stage: Stage,
    pub status: CaseStatus,
    pub priority: Priority,
    pub assigned_to: Option<Uuid>,
    pub consent_to_share: bool,
    pub consent_by: Option<Uuid>,
    pub access_code_hash: String,
    /// The access code for the business's reference mail: only on the web
    /// form, where the business typed the address itself (see `store::outbox`).
    pub mail_access_code: Option<String>,
    /// The business agreed to be e-mailed about this case.
    pub email_updates: bool,
    /// The user opening it; `None` for the public web form.
    pub actor: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// A case as a decision sees it: locked for the length of the transaction.
#[derive(Debug, Clone)]
pub struct CaseSnapshot {
    pub case: CaseRow,
    pub topics: Vec<String>,
    pub referrals: Vec<ReferralRow>,
    pub business: BusinessRow,
}

/// What a decision changes. The store writes it atomically with its events.
#[derive(Debug, Clone, Default)]
pub struct CaseChange {
    /// New values of the case row (the store sets version, updated_at and the chain fields).
    pub case: Option<CaseRow>,
    /// Increment the case's `version` (edits a stale editor must not overwrite).
    pub bump_version: bool,
    pub topics: Option<Vec<String>>,
    pub business: Option<BusinessRow>,
    pub new_referrals: Vec<ReferralRow>,
    pub updated_referrals: Vec<ReferralRow>,
    pub new_notes: Vec<NoteRow>,
    /// Replace the body of every note of the case with this text (erasure).
    pub redact_notes: Option<String>,
    pub events: Vec<NewEvent>,
}

/// Decides, from the locked current state, what to change — or refuses.
pub type Decide = Box<dyn FnOnce(&CaseSnapshot) -> crate::error::AppResult<CaseChange> + Send>;

/// Filters of the case list; every list is scoped to one lab.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseQuery {
    pub lab_id: Uuid,
    /// A partner sees only cases with a pending/accepted/completed referral to this institution.
    pub partner_institution: Option<Uuid>,
    /// Displayed statuses (REFERRED included).
    pub statuses: Vec<CaseStatus>,
    pub stages: Vec<Stage>,
    pub channels: Vec<Channel>,
    /// Cases with an open or completed referral to this institution.
    pub institution_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub business_id: Option<Uuid>,
    pub topic: Option<String>,
    /// Cases holding (or not) a pending referral past its deadline at `now`.
    pub overdue: Option<bool>,
    /// Cases handed back (or not) to the desk (`case_state::is_handed_back`).
    pub handed_back: Option<bool>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Substring of title, description or company name.
    pub search: Option<String>,
    pub now: DateTime<Utc>,
}

/// A past referral of the lab, for routing statistics.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralBrief {
    pub institution_id: Uuid,
    pub status: ReferralStatus,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}
