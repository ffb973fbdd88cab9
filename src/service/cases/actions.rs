//! The case actions: `openCase`, `updateCase`, `setStage`, `setStatus`,
//! `resolveCase`, `reopenCase`, `closeCase` and `rotateAccessCode` — each a
//! pure `decide_*` over the locked snapshot plus the function that authorises
//! it and applies it through [`super::write`].

use super::write::{
    apply, authorize_desk_write, check_assignee, check_note, check_texts, lab_of, normalized,
    transition, with_note,
};
use crate::domain::permissions::{require_desk, Viewer};
use crate::domain::types::*;
use crate::domain::{access_code, case_state, referral_state, validation};
use crate::error::{AppError, AppResult};
use crate::service::events;
use crate::service::intake::{self, BusinessFields};
use crate::service::{MAX_TEXT, MAX_TITLE};
use crate::state::AppState;
use crate::store::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `openCase` as the service sees it.
#[derive(Debug, Clone)]
pub struct OpenCase {
    pub business_id: Option<Uuid>,
    pub business: Option<BusinessFields>,
    pub title: String,
    pub description: String,
    pub topics: Vec<String>,
    pub channel: Channel,
    pub stage: Stage,
    pub consent_to_share: bool,
    /// The business agreed to be e-mailed its reference and public
    /// milestones (needs an e-mail address).
    pub email_updates: bool,
    pub priority: Option<Priority>,
    /// Defaults to the opener when a concierge opens the case.
    pub assigned_to: Option<Uuid>,
}

/// `updateCase`: omitted fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct CaseEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub topics: Option<Vec<String>>,
    pub priority: Option<Priority>,
    pub assigned_to: Option<Uuid>,
    /// `true` records the business's consent now, by the editor; `false`
    /// records that it was withdrawn (no new referrals).
    pub consent_to_share: Option<bool>,
    /// Whether the business is e-mailed its case's public milestones.
    pub email_updates: Option<bool>,
}

/// Opens a case for an existing or new business; returns it with the access
/// code (shown once; only its hash is stored).
pub async fn open_case(
    st: &AppState,
    v: &Viewer,
    input: OpenCase,
) -> AppResult<(CaseSnapshot, String)> {
    require_desk(v)?;
    let lab = lab_of(st, v).await?;
    let now = st.now();
    let has_email;
    let business = match (input.business_id, &input.business) {
        (Some(id), None) => {
            let b = st
                .store
                .businesses_by_ids(&[id])
                .await?
                .into_iter()
                .find(|b| b.lab_id == v.lab_id)
                .ok_or_else(|| AppError::not_found("事業者", "Business"))?;
            if b.erased_at.is_some() {
                return Err(AppError::conflict(
                    "この事業者は個人情報が消去されています。新しい事業者として登録してください。",
                    "This business's personal data was erased; register it as a new business.",
                ));
            }
            has_email = b.mail_address().is_some();
            BusinessChoice::Existing(b.id)
        }
        (None, Some(f)) => {
            let b = intake::new_business(&lab, f, now)?;
            has_email = b.mail_address().is_some();
            BusinessChoice::New(b)
        }
        _ => {
            return Err(AppError::bad_input(
                Some("business"),
                "既存の事業者（businessId）か新しい事業者（business）のどちらか一方を指定してください。",
                "Give exactly one of businessId (an existing business) or business (a new one).",
            ))
        }
    };
    if input.email_updates && !has_email {
        return Err(email_updates_need_address());
    }
    let (title, description, topics) =
        check_texts(&input.title, &input.description, &input.topics)?;
    let assigned_to = match input.assigned_to {
        Some(id) => {
            check_assignee(st, v, id).await?;
            Some(id)
        }
        None if v.role == Role::Concierge => Some(v.user_id),
        None => None,
    };
    let priority = input.priority.unwrap_or_default();
    let code = access_code::generate();
    let new = NewCase {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        lab_code: lab.code.clone(),
        business,
        title,
        description,
        topics,
        channel: input.channel,
        stage: input.stage,
        status: CaseStatus::New,
        priority,
        assigned_to,
        consent_to_share: input.consent_to_share,
        consent_by: input.consent_to_share.then_some(v.user_id),
        access_code_hash: access_code::hash(&code),
        mail_access_code: None,
        email_updates: input.email_updates,
        actor: Some(v.user_id),
        now,
    };
    let snap = st.store.open_case(new).await?;
    Ok((normalized(snap), code))
}

/// Mails to the business need its address on record.
fn email_updates_need_address() -> AppError {
    AppError::bad_input(
        Some("emailUpdates"),
        "メールでお知らせするには、事業者のメールアドレスを登録してください。",
        "To e-mail the business, record its e-mail address first.",
    )
}

/// `updateCase`: edits title, description, topics, priority, assignee.
/// Unchanged values record nothing; a real edit is one `UPDATED` event.
pub fn decide_update(
    s: &CaseSnapshot,
    actor: Uuid,
    edit: &CaseEdit,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    case_state::ensure_open(s.case.status, "変更", "edit")?;
    let mut row = s.case.clone();
    let mut fields: Vec<&str> = Vec::new();
    if let Some(t) = &edit.title {
        let t = validation::required_text("title", "件名", t, MAX_TITLE)?;
        if t != row.title {
            row.title = t;
            fields.push("title");
        }
    }
    if let Some(d) = &edit.description {
        let d = validation::required_text("description", "相談内容", d, MAX_TEXT)?;
        if d != row.description {
            row.description = d;
            fields.push("description");
        }
    }
    let mut topics = None;
    if let Some(t) = &edit.topics {
        let t = validation::topics(t)?;
        if t != s.topics {
            topics = Some(t);
            fields.push("topics");
        }
    }
    if let Some(p) = edit.priority {
        if p != row.priority {
            row.priority = p;
            fields.push("priority");
        }
    }
    if let Some(a) = edit.assigned_to {
        if Some(a) != row.assigned_to {
            row.assigned_to = Some(a);
            fields.push("assignedTo");
        }
    }
    if let Some(c) = edit.consent_to_share {
        if c != row.consent_to_share {
            row.consent_to_share = c;
            row.consent_at = c.then_some(now);
            row.consent_by = c.then_some(actor);
            fields.push("consentToShare");
        }
    }
    if let Some(m) = edit.email_updates {
        if m != row.email_updates {
            if m && (s.business.mail_address().is_none() || s.business.erased_at.is_some()) {
                return Err(email_updates_need_address());
            }
            row.email_updates = m;
            fields.push("emailUpdates");
        }
    }
    if fields.is_empty() {
        return Ok(CaseChange::default());
    }
    let consent = fields
        .contains(&"consentToShare")
        .then_some(row.consent_to_share);
    let event = events::updated(actor, &fields, consent);
    Ok(CaseChange {
        case: Some(row),
        bump_version: true,
        topics,
        events: vec![event],
        ..Default::default()
    })
}

/// `setStage`: the same stage again is a `CONFLICT`.
pub fn decide_stage(
    s: &CaseSnapshot,
    actor: Uuid,
    stage: Stage,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    case_state::ensure_open(s.case.status, "段階を変更", "change the stage of")?;
    let from = s.case.stage;
    if from == stage {
        return Err(AppError::conflict(
            format!("この相談は既に「{}」の段階です。", stage.label_ja()),
            format!("The case is already at stage {stage}."),
        ));
    }
    let mut row = s.case.clone();
    row.stage = stage;
    let change = CaseChange {
        case: Some(row),
        bump_version: true,
        events: vec![events::stage_changed(actor, from, stage)],
        ..Default::default()
    };
    Ok(with_note(change, s, actor, note, now))
}

/// `setStatus`: any transition of the table except into `RESOLVED` (which
/// needs outcomes: `resolveCase`); `REFERRED` is refused by the domain.
pub fn decide_status(
    s: &CaseSnapshot,
    actor: Uuid,
    to: CaseStatus,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    if to == CaseStatus::Resolved && s.case.status != CaseStatus::Resolved {
        case_state::check_status_transition(s.case.status, to)?;
        return Err(AppError::conflict(
            "解決にするには成果と概要が必要です。「解決」の操作（resolveCase）で記録してください。",
            "Resolving needs outcomes and a summary: use resolveCase.",
        ));
    }
    let (row, event) = transition(s, actor, to, now)?;
    let change = CaseChange {
        case: Some(row),
        bump_version: true,
        events: vec![event],
        ..Default::default()
    };
    Ok(with_note(change, s, actor, note, now))
}

/// `resolveCase`: at least one outcome, a summary, and no referral still
/// `PENDING` or `ACCEPTED`.
pub fn decide_resolve(
    s: &CaseSnapshot,
    actor: Uuid,
    outcomes: &[Outcome],
    summary: &str,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    let mut unique: Vec<Outcome> = Vec::new();
    for o in outcomes {
        if !unique.contains(o) {
            unique.push(*o);
        }
    }
    if unique.is_empty() {
        return Err(AppError::bad_input(
            Some("outcomes"),
            "成果を1つ以上選んでください。",
            "Choose at least one outcome.",
        ));
    }
    let summary = validation::required_text("summary", "概要", summary, MAX_TEXT)?;
    case_state::check_status_transition(s.case.status, CaseStatus::Resolved)?;
    let open: Vec<&ReferralRow> = s
        .referrals
        .iter()
        .filter(|r| referral_state::is_open(r.status))
        .collect();
    if !open.is_empty() {
        let n = open.len();
        return Err(AppError::conflict(
            format!(
                "支援機関への紹介が{n}件、受付待ちまたは対応中のままです。完了・取下げしてから解決してください。"
            ),
            format!("{n} referral(s) are still pending or accepted; complete or withdraw them before resolving."),
        ));
    }
    let (mut row, _) = transition(s, actor, CaseStatus::Resolved, now)?;
    row.outcomes = sqlx::types::Json(unique.clone());
    row.outcome_summary = Some(summary);
    Ok(CaseChange {
        case: Some(row),
        bump_version: true,
        events: vec![events::resolved(actor, s.case.status, &unique)],
        ..Default::default()
    })
}

/// `reopenCase`: `RESOLVED → IN_PROGRESS` only.
pub fn decide_reopen(
    s: &CaseSnapshot,
    actor: Uuid,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    if s.case.status != CaseStatus::Resolved {
        return Err(AppError::conflict(
            format!(
                "再開できるのは「解決済み」の相談だけです（現在は「{}」）。",
                s.case.status.label_ja()
            ),
            format!(
                "Only a RESOLVED case can be reopened (it is {}).",
                s.case.status
            ),
        ));
    }
    let (row, event) = transition(s, actor, CaseStatus::InProgress, now)?;
    let change = CaseChange {
        case: Some(row),
        bump_version: true,
        events: vec![event],
        ..Default::default()
    };
    Ok(with_note(change, s, actor, note, now))
}

/// `closeCase`: `RESOLVED → CLOSED` only.
pub fn decide_close(s: &CaseSnapshot, actor: Uuid, now: DateTime<Utc>) -> AppResult<CaseChange> {
    if s.case.status != CaseStatus::Resolved {
        return Err(AppError::conflict(
            format!(
                "終了できるのは「解決済み」の相談だけです（現在は「{}」）。",
                s.case.status.label_ja()
            ),
            format!(
                "Only a RESOLVED case can be closed (it is {}).",
                s.case.status
            ),
        ));
    }
    let (row, event) = transition(s, actor, CaseStatus::Closed, now)?;
    Ok(CaseChange {
        case: Some(row),
        bump_version: true,
        events: vec![event],
        ..Default::default()
    })
}

/// `rotateAccessCode`: the new hash replaces the old one in the same write.
pub fn decide_rotate(s: &CaseSnapshot, actor: Uuid, new_hash: String) -> CaseChange {
    let mut row = s.case.clone();
    row.access_code_hash = new_hash;
    CaseChange {
        case: Some(row),
        bump_version: false,
        events: vec![events::access_code_rotated(actor)],
        ..Default::default()
    }
}

fn version_arg(expected: i32) -> Option<i64> {
    Some(i64::from(expected))
}

/// `updateCase`.
pub async fn update_case(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    expected_version: i32,
    edit: CaseEdit,
) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    if let Some(a) = edit.assigned_to {
        check_assignee(st, v, a).await?;
    }
    let (actor, now) = (v.user_id, st.now());
    // Withdrawing consent withdraws the pending referrals (issue 12).
    let names = match edit.consent_to_share {
        Some(false) => crate::service::business::institution_names(st, v.lab_id).await?,
        _ => Vec::new(),
    };
    apply(
        st,
        v,
        id,
        version_arg(expected_version),
        Box::new(move |s| {
            let change = decide_update(s, actor, &edit, now)?;
            Ok(crate::service::business::withdraw_pending_on_consent(
                s, change, actor, &names, now,
            ))
        }),
    )
    .await
}

/// `setStage`.
pub async fn set_stage(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    expected_version: i32,
    stage: Stage,
    note: Option<String>,
) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    let note = check_note(note.as_deref())?;
    let (actor, now) = (v.user_id, st.now());
    apply(
        st,
        v,
        id,
        version_arg(expected_version),
        Box::new(move |s| decide_stage(s, actor, stage, note.as_deref(), now)),
    )
    .await
}

/// `setStatus`.
pub async fn set_status(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    expected_version: i32,
    status: CaseStatus,
    note: Option<String>,
) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    let note = check_note(note.as_deref())?;
    let (actor, now) = (v.user_id, st.now());
    apply(
        st,
        v,
        id,
        version_arg(expected_version),
        Box::new(move |s| decide_status(s, actor, status, note.as_deref(), now)),
    )
    .await
}

/// `resolveCase`.
pub async fn resolve_case(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    expected_version: i32,
    outcomes: Vec<Outcome>,
    summary: String,
) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    let (actor, now) = (v.user_id, st.now());
    apply(
        st,
        v,
        id,
        version_arg(expected_version),
        Box::new(move |s| decide_resolve(s, actor, &outcomes, &summary, now)),
    )
    .await
}

/// `reopenCase`.
pub async fn reopen_case(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    note: Option<String>,
) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    let note = check_note(note.as_deref())?;
    let (actor, now) = (v.user_id, st.now());
    apply(
        st,
        v,
        id,
        None,
        Box::new(move |s| decide_reopen(s, actor, note.as_deref(), now)),
    )
    .await
}

/// `closeCase`.
pub async fn close_case(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<CaseSnapshot> {
    authorize_desk_write(st, v, id).await?;
    let (actor, now) = (v.user_id, st.now());
    apply(
        st,
        v,
        id,
        None,
        Box::new(move |s| decide_close(s, actor, now)),
    )
    .await
}

/// `rotateAccessCode`: returns the new code; the old one stops working at once.
pub async fn rotate_access_code(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<String> {
    authorize_desk_write(st, v, id).await?;
    let code = access_code::generate();
    let hash = access_code::hash(&code);
    let actor = v.user_id;
    apply(
        st,
        v,
        id,
        None,
        Box::new(move |s| Ok(decide_rotate(s, actor, hash))),
    )
    .await?;
    Ok(code)
}
