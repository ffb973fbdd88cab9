//! Partner institutions: the list every staff member reads, and their
//! administration by the lab secretariat (admins).

use crate::domain::permissions::{require_admin, Viewer};
use crate::domain::types::InstitutionKind;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{InstitutionRow, LabRow};
use sqlx::types::Json;
use uuid::Uuid;

/// `createInstitution` as the service sees it.
#[derive(Debug, Clone)]
pub struct NewInstitution {
    pub name: String,
    pub kind: InstitutionKind,
    pub tags: Vec<String>,
    /// Region codes of the lab; empty = the whole lab area.
    pub regions: Vec<String>,
}

/// `updateInstitution`: omitted fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct InstitutionEdit {
    pub name: Option<String>,
    pub kind: Option<InstitutionKind>,
    pub tags: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    /// `false` deactivates: no new referrals can be sent to it.
    pub active: Option<bool>,
}

/// The region codes trimmed and deduplicated; each must be one of the lab's.
pub fn check_regions(lab: &LabRow, regions: Vec<String>) -> AppResult<Vec<String>> {
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

/// `institutions`: the lab's institutions (active and inactive), by name.
pub async fn list(st: &AppState, v: &Viewer) -> AppResult<Vec<InstitutionRow>> {
    st.store.institutions(v.lab_id).await
}

/// `createInstitution`: a partner institution of the admin's lab.
pub async fn create(st: &AppState, v: &Viewer, input: NewInstitution) -> AppResult<InstitutionRow> {
    require_admin(v)?;
    let lab = super::cases::lab_of(st, v).await?;
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
    Ok(row)
}

/// `updateInstitution`: edits an institution of the admin's lab.
pub async fn update(
    st: &AppState,
    v: &Viewer,
    id: Uuid,
    edit: InstitutionEdit,
) -> AppResult<InstitutionRow> {
    require_admin(v)?;
    let mut row = st
        .store
        .institution(v.lab_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("連携機関", "Institution"))?;
    let lab = super::cases::lab_of(st, v).await?;
    if let Some(name) = edit.name {
        row.name = validation::required_text("name", "機関名", &name, 120)?;
    }
    if let Some(kind) = edit.kind {
        row.kind = kind;
    }
    if let Some(tags) = edit.tags {
        row.tags = Json(validation::tag_list("tags", "タグ", &tags)?);
    }
    if let Some(regions) = edit.regions {
        row.regions = Json(check_regions(&lab, regions)?);
    }
    if let Some(active) = edit.active {
        row.active = active;
    }
    row.updated_at = st.now();
    st.store.update_institution(&row).await?;
    Ok(row)
}
