//! The write machinery every case use-case shares: the viewer's lab, the
//! checks of texts and assignees, authorising a desk action, applying a
//! decision to the locked snapshot, and the status transition with its event.

use crate::domain::permissions::{require_desk, Viewer};
use crate::domain::types::*;
use crate::domain::{case_state, validation};
use crate::error::{AppError, AppResult};
use crate::service::access::{case_not_found, load_case_for};
use crate::service::events;
use crate::service::{MAX_TEXT, MAX_TITLE};
use crate::state::AppState;
use crate::store::*;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// The viewer's lab.
pub async fn lab_of(st: &AppState, v: &Viewer) -> AppResult<LabRow> {
    st.store
        .lab(v.lab_id)
        .await?
        .ok_or_else(|| AppError::not_found("ラボ", "Lab"))
}

/// The stored snapshot with `has_pending` consistent with its referrals.
pub fn normalized(mut s: CaseSnapshot) -> CaseSnapshot {
    s.case.has_pending = s
        .referrals
        .iter()
        .any(|r| r.status == ReferralStatus::Pending);
    s
}

/// A title, description and topics checked for a case.
pub fn check_texts(
    title: &str,
    description: &str,
    topics: &[String],
) -> AppResult<(String, String, Vec<String>)> {
    Ok((
        validation::required_text("title", "件名", title, MAX_TITLE)?,
        validation::required_text("description", "相談内容", description, MAX_TEXT)?,
        validation::topics(topics)?,
    ))
}

/// `BAD_USER_INPUT` unless `id` is an active desk user of the lab.
pub(crate) async fn check_assignee(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<()> {
    let ok = st
        .store
        .user(id)
        .await?
        .is_some_and(|u| u.lab_id == v.lab_id && u.active && u.viewer().is_desk());
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            Some("assignedToId"),
            "担当者には、このラボの有効な窓口担当者（コンシェルジュまたは管理者）を指定してください。",
            "The assignee must be an active concierge or admin of this lab.",
        ))
    }
}

/// `NOT_FOUND` unless the viewer may read the case, then `FORBIDDEN` unless
/// the viewer is desk staff (the order keeps unreadable cases indistinguishable
/// from missing ones).
pub async fn authorize_desk(st: &AppState, v: &Viewer, case_id: Uuid) -> AppResult<CaseRow> {
    let row = load_case_for(st, v, case_id).await?;
    require_desk(v)?;
    Ok(row)
}

/// Authorises a desk write on a case without reading it first: desk staff go
/// straight to the locked write, which refuses a missing case or one of
/// another lab with the same `NOT_FOUND` (see [`apply`]). A partner's case is
/// read first so that an unreadable case stays `NOT_FOUND` before the
/// `FORBIDDEN` of the desk-only action.
pub async fn authorize_desk_write(st: &AppState, v: &Viewer, case_id: Uuid) -> AppResult<()> {
    if !v.is_desk() {
        load_case_for(st, v, case_id).await?;
        require_desk(v)?;
    }
    Ok(())
}

/// Applies a decision to a case (already authorised), with the
/// optimistic-concurrency check when `expected_version` is given. The write
/// locks the case of the viewer's lab only: a missing case, or one of another
/// lab, is the `NOT_FOUND` of an unreadable case.
pub async fn apply(
    st: &AppState,
    v: &Viewer,
    case_id: Uuid,
    expected_version: Option<i64>,
    decide: Decide,
) -> AppResult<CaseSnapshot> {
    let decided = Arc::new(AtomicBool::new(false));
    let seen = decided.clone();
    let decide: Decide = Box::new(move |s| {
        seen.store(true, Ordering::Relaxed);
        decide(s)
    });
    let snap = st
        .store
        .update_case(v.lab_id, case_id, expected_version, st.now(), decide)
        .await
        .map_err(|e| match e {
            // Not found before any decision: the locked read found no such case.
            AppError::NotFound(_) if !decided.load(Ordering::Relaxed) => case_not_found(),
            e => e,
        })?;
    Ok(normalized(snap))
}

/// A `DESK` note written alongside a status or stage change.
pub fn desk_note(s: &CaseSnapshot, actor: Uuid, body: &str, now: DateTime<Utc>) -> NoteRow {
    NoteRow {
        id: Uuid::now_v7(),
        lab_id: s.case.lab_id,
        case_id: s.case.id,
        author_id: Some(actor),
        body: body.to_owned(),
        visibility: NoteVisibility::Desk,
        created_at: now,
    }
}

/// Adds the optional note of a change (checked before) as a `DESK` note.
pub(crate) fn with_note(
    mut change: CaseChange,
    s: &CaseSnapshot,
    actor: Uuid,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> CaseChange {
    if let Some(body) = note {
        let n = desk_note(s, actor, body, now);
        change.events.push(events::note_added(&n));
        change.new_notes.push(n);
    }
    change
}

/// Checks an optional note argument.
pub fn check_note(note: Option<&str>) -> AppResult<Option<String>> {
    Ok(validation::optional_text("note", "メモ", note, MAX_TEXT)?)
}

/// Moves the stored status (domain state machine), stamping resolved/closed times.
pub(crate) fn transition(
    s: &CaseSnapshot,
    actor: Uuid,
    to: CaseStatus,
    now: DateTime<Utc>,
) -> AppResult<(CaseRow, NewEvent)> {
    let from = s.case.status;
    case_state::check_status_transition(from, to)?;
    let mut row = s.case.clone();
    row.status = to;
    match to {
        CaseStatus::Resolved => row.resolved_at = Some(now),
        CaseStatus::Closed => row.closed_at = Some(now),
        CaseStatus::InProgress if from == CaseStatus::Resolved => row.resolved_at = None,
        _ => {}
    }
    let kind = case_state::event_kind_for(from, to);
    Ok((row, events::status_changed(kind, Some(actor), from, to)))
}
