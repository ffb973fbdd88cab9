//! Partner institutions: the list every staff member reads, and their
//! administration by the lab secretariat.

use super::types::Institution;
use super::{admin, parse_id, state, viewer};
use crate::domain::types::InstitutionKind;
use crate::error::AppResult;
use crate::service::institutions::{self as svc, InstitutionEdit, NewInstitution};
use async_graphql::{Context, InputObject, Object, ID};

/// A new partner institution.
#[derive(InputObject)]
pub struct InstitutionInput {
    pub name: String,
    pub kind: InstitutionKind,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Region codes of the lab; empty = the whole lab area.
    #[graphql(default)]
    pub regions: Vec<String>,
}

/// Changes to an institution; omitted fields stay as they are.
#[derive(InputObject)]
pub struct InstitutionUpdateInput {
    pub name: Option<String>,
    pub kind: Option<InstitutionKind>,
    pub tags: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    /// `false` deactivates: no new referrals can be sent to it.
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct InstitutionQuery;

#[Object]
impl InstitutionQuery {
    /// The partner institutions of the viewer's lab (active and inactive), by name.
    async fn institutions(&self, ctx: &Context<'_>) -> AppResult<Vec<Institution>> {
        Ok(svc::list(state(ctx), viewer(ctx)?)
            .await?
            .into_iter()
            .map(Institution)
            .collect())
    }
}

#[derive(Default)]
pub struct InstitutionMutation;

#[Object]
impl InstitutionMutation {
    /// Adds a partner institution to the admin's lab.
    async fn create_institution(
        &self,
        ctx: &Context<'_>,
        input: InstitutionInput,
    ) -> AppResult<Institution> {
        let v = admin(ctx)?;
        let new = NewInstitution {
            name: input.name,
            kind: input.kind,
            tags: input.tags,
            regions: input.regions,
        };
        Ok(Institution(svc::create(state(ctx), v, new).await?))
    }

    /// Edits an institution of the admin's lab (tags, regions, active flag, …).
    async fn update_institution(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: InstitutionUpdateInput,
    ) -> AppResult<Institution> {
        let v = admin(ctx)?;
        let iid = parse_id(&id, "連携機関", "Institution")?;
        let edit = InstitutionEdit {
            name: input.name,
            kind: input.kind,
            tags: input.tags,
            regions: input.regions,
            active: input.active,
        };
        Ok(Institution(svc::update(state(ctx), v, iid, edit).await?))
    }
}
