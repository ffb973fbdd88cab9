//! The reference labs of `data/labs.json`: labs, regions and institutions.

use crate::domain::types::InstitutionKind;
use crate::state::AppState;
use crate::store::{InstitutionRow, LabRow, Region};
use serde::Deserialize;
use sqlx::types::Json;
use uuid::Uuid;

pub const LABS_JSON: &str = include_str!("../../data/labs.json");

#[derive(Deserialize)]
pub struct LabsFile {
    pub labs: Vec<LabData>,
}

#[derive(Deserialize)]
pub struct LabData {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub regions: Vec<Region>,
    pub institutions: Vec<InstitutionData>,
    #[serde(default)]
    pub kpi_targets: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
pub struct InstitutionData {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
}

pub fn reference_labs() -> anyhow::Result<LabsFile> {
    Ok(serde_json::from_str(LABS_JSON)?)
}

/// Upserts labs and institutions; returns (labs, institutions added).
pub async fn seed_labs(state: &AppState) -> anyhow::Result<(usize, usize)> {
    let file = reference_labs()?;
    let store = state.store.as_ref();
    let mut added = 0;
    for lab in &file.labs {
        let now = state.now();
        let lab_id = store
            .upsert_lab(&LabRow {
                id: Uuid::now_v7(),
                code: lab.code.clone(),
                name: lab.name.clone(),
                name_en: lab.name_en.clone(),
                regions: Json(lab.regions.clone()),
                pickup_days: 3,
                created_at: now,
            })
            .await?;
        let existing = store.institutions(lab_id).await?;
        for inst in &lab.institutions {
            let kind = InstitutionKind::parse(&inst.kind)
                .ok_or_else(|| anyhow::anyhow!("unknown institution kind {}", inst.kind))?;
            if existing.iter().any(|e| e.name == inst.name) {
                continue;
            }
            store
                .insert_institution(&InstitutionRow {
                    id: Uuid::now_v7(),
                    lab_id,
                    name: inst.name.clone(),
                    kind,
                    tags: Json(inst.tags.clone()),
                    regions: Json(inst.regions.clone()),
                    active: true,
                    created_at: now,
                    updated_at: now,
                })
                .await?;
            added += 1;
        }
    }
    Ok((file.labs.len(), added))
}
