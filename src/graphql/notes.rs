//! Notes on a case (`addNote`), with the visibility deciding who reads them.

use super::case_types::Note;
use super::loaders::{forget_cases, Loaders};
use super::{parse_id, state, viewer};
use crate::domain::types::NoteVisibility;
use crate::error::AppResult;
use crate::service::notes as svc;
use async_graphql::{Context, Object, ID};

#[derive(Default)]
pub struct NotesMutation;

#[Object]
impl NotesMutation {
    /// Adds a note: `DESK` (desk staff only), `PARTNERS` (also the institutions
    /// on the case) or `BUSINESS` (also the status page). Partner staff write
    /// `PARTNERS` and `BUSINESS` notes on the cases they see.
    async fn add_note(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        body: String,
        visibility: NoteVisibility,
    ) -> AppResult<Note> {
        let v = viewer(ctx)?;
        let id = parse_id(&case_id, "相談", "Case")?;
        let n = svc::add_note(state(ctx), v, id, &body, visibility).await?;
        forget_cases(ctx.data_unchecked::<Loaders>());
        Ok(Note(n))
    }
}
