//! Partner institutions: the list every staff member reads, and their
//! administration by the lab secretariat.

use super::types::Institution;
use super::{admin, parse_id, state, viewer};
use crate::domain::types::InstitutionKind;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::store::{InstitutionRow, LabRow};
use async_graphql::{Context, InputObject, Object, ID};
use sqlx::types::Json;
use uuid::Uuid;

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

fn check_regions(lab: &LabRow, regions: Vec<String>) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for r in regions {
        let r = r.trim().to_owned();
        if r.is_empty() || out.contains(&r) {
            continue;
        }
        if !lab.regions.iter().any(|x| x.code == r) {
            let known: Vec<_> = lab.regions.iter().map(|x| x.code.as_str()).collect();
            return Err(AppError::bad_input(
                Some("regions"),
                format!(
                    "地域コード「{r}」はこのラボにありません（{}）。",
                    known.join(", ")
                ),
                format!(
                    "Region code {r:?} is not one of this lab's ({}).",
                    known.join(", ")
                ),
            ));
        }
        out.push(r);
    }
    Ok(out)
}

#[derive(Default)]
pub struct InstitutionQuery;

#[Object]
impl InstitutionQuery {
    /// The partner institutions of the viewer's lab (active and inactive), by name.
    async fn institutions(&self, ctx: &Context<'_>) -> AppResult<Vec<Institution>> {
        let v = viewer(ctx)?;
        Ok(state(ctx)
            .store
            .institutions(v.lab_id)
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
        let st = state(ctx);
        let lab = st
            .store
            .lab(v.lab_id)
            .await?
            .ok_or_else(|| AppError::not_found("ラボ", "Lab"))?;
        let name = validation::required_text("name", "機関名", &input.name, 120)?;
        let tags = validation::tag_list("tags", "タグ", &input.tags)?;
        let regions = check_regions(&lab, input.regions)?;
        let now = st.now();
        let row = InstitutionRow {
            id: Uuid::now_v7(),
            lab_id: v.lab_id,
            name,
            kind: input.kind,
            tags: Json(tags),
            regions: Json(regions),
            active: true,
            created_at: now,
            updated_at: now,
        };
        st.store.insert_institution(&row).await?;
        Ok(Institution(row))
    }

    /// Edits an institution of the admin's lab (tags, regions, active flag, …).
    async fn update_institution(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: InstitutionUpdateInput,
    ) -> AppResult<Institution> {
        let v = admin(ctx)?;
        let st = state(ctx);
        let iid = parse_id(&id, "連携機関", "Institution")?;
        let mut row = st
            .store
            .institution(v.lab_id, iid)
            .await?
            .ok_or_else(|| AppError::not_found("連携機関", "Institution"))?;
        let lab = st
            .store
            .lab(v.lab_id)
            .await?
            .ok_or_else(|| AppError::not_found("ラボ", "Lab"))?;
        if let Some(name) = input.name {
            row.name = validation::required_text("name", "機関名", &name, 120)?;
        }
        if let Some(kind) = input.kind {
            row.kind = kind;
        }
        if let Some(tags) = input.tags {
            row.tags = Json(validation::tag_list("tags", "タグ", &tags)?);
        }
        if let Some(regions) = input.regions {
            row.regions = Json(check_regions(&lab, regions)?);
        }
        if let Some(active) = input.active {
            row.active = active;
        }
        row.updated_at = st.now();
        st.store.update_institution(&row).await?;
        Ok(Institution(row))
    }
}
