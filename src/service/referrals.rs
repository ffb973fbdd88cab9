//! Referrals: the desk refers a case to a partner institution (with the
//! business's consent, never twice at once to the same institution) and may
//! withdraw it; the institution's partner staff accept, decline or complete it.

use super::access::{load_referral_for, referral_not_found};
use super::cases::{apply, authorize_desk_write, lab_of};
use super::{events, MAX_NOTE, MAX_TEXT};
use crate::domain::permissions::{can_act_on_referral, require_desk, Viewer};
use crate::domain::types::*;
use crate::domain::{business_days, case_state, referral_state, validation};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a partner or the desk does with a referral.
#[derive(Debug, Clone)]
pub enum Action {
    Accept {
        note: Option<String>,
    },
    Decline {
        reason: DeclineReason,
        note: Option<String>,
    },
    Complete {
        summary: String,
    },
    Withdraw {
        note: Option<String>,
    },
}

impl Action {
    /// The referral status the action leads to.
    pub fn target(&self) -> ReferralStatus {
        match self {
            Action::Accept { .. } => ReferralStatus::Accepted,
            Action::Decline { .. } => ReferralStatus::Declined,
            Action::Complete { .. } => ReferralStatus::Completed,
            Action::Withdraw { .. } => ReferralStatus::Withdrawn,
        }
    }

    /// Checks and cleans the texts of the action.
    fn checked(self) -> AppResult<Self> {
        let note =
            |n: Option<String>| validation::optional_text("note", "メモ", n.as_deref(), MAX_NOTE);
        Ok(match self {
            Action::Accept { note: n } => Action::Accept { note: note(n)? },
            Action::Decline { reason, note: n } => Action::Decline {
                reason,
                note: note(n)?,
            },
            Action::Withdraw { note: n } => Action::Withdraw { note: note(n)? },
            Action::Complete { summary } => Action::Complete {
                summary: validation::required_text("summary", "支援の概要", &summary, MAX_TEXT)?,
            },
        })
    }
}

fn no_consent() -> AppError {
    AppError::bad_input(
        Some("caseId"),
        "この相談では事業者から連携機関への情報提供の同意を得ていないため、紹介できません。個人情報の第三者提供には本人の同意が必要です（個人情報保護法）。同意を確認・記録してから紹介してください。",
        "The business has not consented to sharing its information with partner institutions, so the case cannot be referred: providing personal data to a third party needs the person's consent (APPI). Record the consent first.",
    )
}

/// `referCase` decided on the locked case: open case, consent given, no open
/// referral to the same institution; a `NEW` case moves to `IN_PROGRESS`.
pub fn decide_refer(
    s: &CaseSnapshot,
    actor: Uuid,
    referral_id: Uuid,
    institution: &InstitutionRow,
    note: Option<String>,
    pickup_days: u32,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    let deadline = business_days::pickup_deadline(now, pickup_days);
    decide_refer_until(s, actor, referral_id, institution, note, deadline, now)
}

/// [`decide_refer`] with the pick-up deadline already computed (the
/// institution's or the lab's days and the lab's closure days, see
/// `service::lab_settings::pickup_deadline`).
pub fn decide_refer_until(
    s: &CaseSnapshot,
    actor: Uuid,
    referral_id: Uuid,
    institution: &InstitutionRow,
    note: Option<String>,
    pickup_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    case_state::ensure_open(s.case.status, "紹介", "refer")?;
    if !s.case.consent_to_share {
        return Err(no_consent());
    }
    if s.referrals
        .iter()
        .any(|r| r.institution_id == institution.id && referral_state::is_open(r.status))
    {
        return Err(AppError::conflict(
            format!(
                "「{}」への紹介は既に受付待ちまたは対応中です。同じ機関へ同時に2件は紹介できません。",
                institution.name
            ),
            format!(
                "A referral to {} is already pending or accepted; a case cannot hold two open referrals to the same institution.",
                institution.name
            ),
        ));
    }
    let r = ReferralRow {
        id: referral_id,
        lab_id: s.case.lab_id,
        case_id: s.case.id,
        institution_id: institution.id,
        status: ReferralStatus::Pending,
        note,
        reason: None,
        decision_note: None,
        summary: None,
        referred_by: Some(actor),
        decided_by: None,
        pickup_deadline,
        created_at: now,
        decided_at: None,
        completed_at: None,
        updated_at: now,
    };
    let mut change = CaseChange {
        events: vec![events::referral(actor, &r, &institution.name)],
        new_referrals: vec![r],
        ..Default::default()
    };
    if s.case.status == CaseStatus::New {
        let to = CaseStatus::InProgress;
        case_state::check_status_transition(s.case.status, to)?;
        let mut row = s.case.clone();
        row.status = to;
        change.events.push(events::status_changed(
            case_state::event_kind_for(s.case.status, to),
            Some(actor),
            s.case.status,
            to,
        ));
        change.case = Some(row);
        change.bump_version = true;
    }
    Ok(change)
}

/// Accept, decline, complete or withdraw, decided on the locked case.
pub fn decide_action(
    s: &CaseSnapshot,
    actor: Uuid,
    referral_id: Uuid,
    action: &Action,
    institution_name: &str,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    let current = s
        .referrals
        .iter()
        .find(|r| r.id == referral_id)
        .ok_or_else(referral_not_found)?;
    let to = action.target();
    referral_state::check_referral_transition(current.status, to)?;
    let mut r = current.clone();
    r.status = to;
    r.updated_at = now;
    match action {
        Action::Accept { note } => {
            r.decided_by = Some(actor);
            r.decided_at = Some(now);
            r.decision_note = note.clone();
        }
        Action::Decline { reason, note } => {
            r.decided_by = Some(actor);
            r.decided_at = Some(now);
            r.reason = Some(*reason);
            r.decision_note = note.clone();
        }
        Action::Withdraw { note } => {
            r.decided_by = Some(actor);
            r.decided_at = Some(now);
            r.decision_note = note.clone();
        }
        Action::Complete { summary } => {
            r.completed_at = Some(now);
            r.summary = Some(summary.clone());
        }
    }
    Ok(CaseChange {
        events: vec![events::referral(actor, &r, institution_name)],
        updated_referrals: vec![r],
        ..Default::default()
    })
}

/// `referCase`.
pub async fn refer_case(
    st: &AppState,
    v: &Viewer,
    case_id: Uuid,
    institution_id: Option<Uuid>,
    note: Option<String>,
) -> AppResult<ReferralRow> {
    authorize_desk_write(st, v, case_id).await?;
    let not_found = || AppError::not_found("連携機関", "Institution");
    let institution = match institution_id {
        Some(id) => st.store.institution(v.lab_id, id).await?,
        None => None,
    }
    .ok_or_else(not_found)?;
    if !institution.active {
        return Err(AppError::bad_input(
            Some("institutionId"),
            format!(
                "「{}」は現在受付を停止している（無効な）連携機関のため、紹介できません。",
                institution.name
            ),
            format!(
                "{} is inactive and cannot receive referrals.",
                institution.name
            ),
        ));
    }
    let note = validation::optional_text("note", "紹介メモ", note.as_deref(), MAX_NOTE)?;
    let lab = lab_of(st, v).await?;
    let (actor, now, rid) = (v.user_id, st.now(), Uuid::now_v7());
    let deadline = super::lab_settings::pickup_deadline(st, &lab, &institution, now).await?;
    let snap = apply(
        st,
        v,
        case_id,
        None,
        Box::new(move |s| decide_refer_until(s, actor, rid, &institution, note, deadline, now)),
    )
    .await?;
    find(snap, rid)
}

fn find(snap: CaseSnapshot, id: Uuid) -> AppResult<ReferralRow> {
    snap.referrals
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(referral_not_found)
}

/// `acceptReferral`, `declineReferral`, `completeReferral` (partner staff of
/// the referral's institution) and `withdrawReferral` (desk staff). A referral
/// the viewer may not see is `NOT_FOUND`; one it sees but may not act on is
/// `FORBIDDEN`.
pub async fn act(
    st: &AppState,
    v: &Viewer,
    referral_id: Uuid,
    action: Action,
) -> AppResult<ReferralRow> {
    let r = load_referral_for(st, v, referral_id).await?;
    match action {
        Action::Withdraw { .. } => require_desk(v)?,
        _ if !can_act_on_referral(v, r.institution_id) => return Err(AppError::forbidden()),
        _ => {}
    }
    let action = action.checked()?;
    let name = st
        .store
        .institution(v.lab_id, r.institution_id)
        .await?
        .map(|i| i.name)
        .unwrap_or_default();
    let (actor, now) = (v.user_id, st.now());
    let snap = apply(
        st,
        v,
        r.case_id,
        None,
        Box::new(move |s| decide_action(s, actor, referral_id, &action, &name, now)),
    )
    .await?;
    find(snap, referral_id)
}

/// `overdueReferrals`: pending referrals of the lab past their pick-up
/// deadline, most overdue first (desk staff only).
pub async fn overdue(st: &AppState, v: &Viewer) -> AppResult<Vec<ReferralRow>> {
    require_desk(v)?;
    st.store.overdue_referrals(v.lab_id, st.now()).await
}

/// Whether a referral is overdue at `now`: still pending and past its deadline.
pub fn is_overdue(r: &ReferralRow, now: DateTime<Utc>) -> bool {
    r.status == ReferralStatus::Pending && business_days::is_overdue(r.pickup_deadline, now)
}
