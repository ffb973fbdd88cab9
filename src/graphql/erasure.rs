//! `erasePersonalData`: the secretariat erases a business's personal data (APPI).

use super::case_types::Business;
use super::{admin, parse_id, state};
use crate::error::AppResult;
use crate::service::erasure;
use async_graphql::{Context, Object, ID};

#[derive(Default)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Erases a business's personal data (company name, contact person, e-mail,
    /// phone, case descriptions and note bodies) once all its cases are resolved
    /// or closed (`CONFLICT` otherwise). Admin only. The support record keeps
    /// every event and gains PERSONAL_DATA_ERASED; the status page answers `null`.
    async fn erase_personal_data(&self, ctx: &Context<'_>, business_id: ID) -> AppResult<Business> {
        let v = admin(ctx)?;
        let id = parse_id(&business_id, "事業者", "Business")?;
        Ok(Business(erasure::erase_business(state(ctx), v, id).await?))
    }
}
