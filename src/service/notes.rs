//! Notes on a case: desk staff write any visibility, partner staff `PARTNERS`
//! and `BUSINESS` notes on the cases they may read; finished cases take no
//! new notes.

use super::access::load_case_for;
use super::cases::apply;
use super::{events, MAX_TEXT};
use crate::domain::permissions::{can_write_note, Viewer};
use crate::domain::types::NoteVisibility;
use crate::domain::{case_state, validation};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{CaseChange, CaseSnapshot, NoteRow};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `addNote` decided on the locked case.
pub fn decide_note(
    s: &CaseSnapshot,
    author: Uuid,
    note_id: Uuid,
    body: &str,
    visibility: NoteVisibility,
    now: DateTime<Utc>,
) -> AppResult<CaseChange> {
    case_state::ensure_open(s.case.status, "メモを追加", "add a note to")?;
    let n = NoteRow {
        id: note_id,
        lab_id: s.case.lab_id,
        case_id: s.case.id,
        author_id: Some(author),
        body: body.to_owned(),
        visibility,
        created_at: now,
    };
    Ok(CaseChange {
        events: vec![events::note_added(&n)],
        new_notes: vec![n],
        ..Default::default()
    })
}

/// `addNote`: `NOT_FOUND` for a case the viewer may not read, `FORBIDDEN`
/// for a visibility it may not write.
pub async fn add_note(
    st: &AppState,
    v: &Viewer,
    case_id: Uuid,
    body: &str,
    visibility: NoteVisibility,
) -> AppResult<NoteRow> {
    // Desk staff may read every case of the lab and write any visibility: they
    // go straight to the locked write, which refuses a missing case (or one of
    // another lab) with the same NOT_FOUND, before the body is checked.
    if !v.is_desk() {
        load_case_for(st, v, case_id).await?;
    }
    if !can_write_note(v, visibility) {
        use NoteVisibility::{Business, Desk, Partners};
        return Err(AppError::Forbidden(crate::error::Msg::new(
            format!(
                "連携機関の方は「{}」のメモを書けません。「{}」または「{}」を選んでください。",
                Desk.label_ja(),
                Partners.label_ja(),
                Business.label_ja()
            ),
            format!(
                "Partner staff cannot write “{}” notes; choose “{}” or “{}”.",
                Desk.label_en(),
                Partners.label_en(),
                Business.label_en()
            ),
        )));
    }
    // The body is checked in the locked write, after the case was found, as
    // before (NOT_FOUND, then BAD_USER_INPUT, then a finished case's CONFLICT).
    let check = |body: &str| validation::required_text("body", "メモ", body, MAX_TEXT);
    let (author, now, id) = (v.user_id, st.now(), Uuid::now_v7());
    let raw = body.to_owned();
    apply(
        st,
        v,
        case_id,
        None,
        Box::new(move |s| decide_note(s, author, id, &check(&raw)?, visibility, now)),
    )
    .await?;
    let body = check(body)?;
    Ok(NoteRow {
        id,
        lab_id: v.lab_id,
        case_id,
        author_id: Some(author),
        body,
        visibility,
        created_at: now,
    })
}
