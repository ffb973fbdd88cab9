//! `dxdesk lab import FILE.json`: creates or updates labs from a lab file (the
//! format of `data/labs.json`). The whole file is validated first; the changes
//! are computed against the database and written in one transaction, so a bad
//! file writes nothing and the same file twice writes nothing the second time.
//! Nothing is deleted: an institution missing from the file is reported and
//! stays active (referrals point at it).

use crate::domain::lab_file::{self, LabSpec, Problem};
use crate::error::AppError;
use crate::store::accounts::ImportWrite;
use crate::store::reports::KpiTargetRow;
use crate::store::{InstitutionRow, LabRow, Region, Store};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// What an import did (or, for a refused file, why not).
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub labs_added: Vec<String>,
    pub labs_updated: Vec<String>,
    pub institutions_added: usize,
    pub institutions_updated: usize,
    pub kpi_targets_added: usize,
    pub kpi_targets_updated: usize,
    /// (lab code, institution name) in the database but not in the file: kept.
    pub missing: Vec<(String, String)>,
    pub writes: usize,
}

#[derive(Debug)]
pub enum ImportError {
    /// The file is wrong: every problem with its line. Nothing was written.
    Invalid(Vec<Problem>),
    Store(AppError),
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::Store(e)
    }
}

fn regions(spec: &LabSpec) -> Vec<Region> {
    spec.regions
        .iter()
        .map(|r| Region {
            code: r.code.clone(),
            name: r.name.clone(),
            municipalities: r.municipalities.clone(),
        })
        .collect()
}

/// Validates `text`, then brings the database in line with it.
pub async fn import(
    store: &dyn Store,
    text: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let specs = lab_file::parse(text).map_err(ImportError::Invalid)?;
    let targets = crate::service::reports::kpi::reference_targets(text, now).map_err(|e| {
        ImportError::Invalid(vec![Problem {
            line: 1,
            path: "$.labs[].kpi_targets".into(),
            ja: format!("KPI目標を読めません: {e}"),
            en: format!("cannot read the KPI targets: {e}"),
        }])
    })?;
    let mut report = ImportReport::default();
    let mut writes = Vec::new();
    for spec in &specs {
        let wanted_regions = regions(spec);
        let (lab_id, existing) = match store.lab_by_code(&spec.code).await? {
            None => {
                let id = Uuid::now_v7();
                writes.push(ImportWrite::InsertLab(LabRow {
                    id,
                    code: spec.code.clone(),
                    name: spec.name.clone(),
                    name_en: spec.name_en.clone(),
                    regions: Json(wanted_regions),
                    pickup_days: 3,
                    created_at: now,
                }));
                writes.push(ImportWrite::TouchLab { id });
                report.labs_added.push(spec.code.clone());
                (id, Vec::new())
            }
            Some(lab) => {
                if lab.name != spec.name
                    || lab.name_en != spec.name_en
                    || lab.regions.0 != wanted_regions
                {
                    writes.push(ImportWrite::UpdateLab {
                        id: lab.id,
                        name: spec.name.clone(),
                        name_en: spec.name_en.clone(),
                        regions: Json(wanted_regions),
                    });
                    writes.push(ImportWrite::TouchLab { id: lab.id });
                    report.labs_updated.push(spec.code.clone());
                }
                (lab.id, store.institutions(lab.id).await?)
            }
        };
        let mut matched: Vec<Uuid> = Vec::new();
        for inst in &spec.institutions {
            let by_name = existing.iter().find(|e| e.name == inst.name);
            let by_former = || {
                existing.iter().find(|e| {
                    inst.formerly.contains(&e.name)
                        && !spec.institutions.iter().any(|o| o.name == e.name)
                })
            };
            match by_name.or_else(by_former) {
                Some(e) => {
                    matched.push(e.id);
                    if e.name != inst.name
                        || e.kind != inst.kind
                        || e.tags.0 != inst.tags
                        || e.regions.0 != inst.regions
                    {
                        writes.push(ImportWrite::UpdateInstitution {
                            id: e.id,
                            name: inst.name.clone(),
                            kind: inst.kind,
                            tags: Json(inst.tags.clone()),
                            regions: Json(inst.regions.clone()),
                        });
                        report.institutions_updated += 1;
                    }
                    if inst.pickup_days.is_some()
                        && store.institution_pickup_days(e.id).await? != inst.pickup_days
                    {
                        writes.push(ImportWrite::SetInstitutionPickup {
                            id: e.id,
                            days: inst.pickup_days,
                        });
                    }
                }
                None => {
                    let id = Uuid::now_v7();
                    writes.push(ImportWrite::InsertInstitution(InstitutionRow {
                        id,
                        lab_id,
                        name: inst.name.clone(),
                        kind: inst.kind,
                        tags: Json(inst.tags.clone()),
                        regions: Json(inst.regions.clone()),
                        active: true,
                        created_at: now,
                        updated_at: now,
                    }));
                    if inst.pickup_days.is_some() {
                        writes.push(ImportWrite::SetInstitutionPickup {
                            id,
                            days: inst.pickup_days,
                        });
                    }
                    report.institutions_added += 1;
                }
            }
        }
        for e in &existing {
            if !matched.contains(&e.id) {
                report.missing.push((spec.code.clone(), e.name.clone()));
            }
        }
        for (_, fy, name, unit, target) in targets.iter().filter(|t| t.0 == spec.code) {
            let current = if existing.is_empty() && report.labs_added.contains(&spec.code) {
                Vec::new()
            } else {
                store.kpi_targets(lab_id, Some(*fy)).await?
            };
            match current.iter().find(|k| &k.name == name) {
                Some(k) if k.unit == *unit && k.target == *target => {}
                Some(k) => {
                    writes.push(ImportWrite::UpdateKpi {
                        id: k.id,
                        unit: unit.clone(),
                        target: *target,
                    });
                    report.kpi_targets_updated += 1;
                }
                None => {
                    writes.push(ImportWrite::InsertKpi(KpiTargetRow {
                        id: Uuid::now_v7(),
                        lab_id,
                        fiscal_year: i64::from(*fy),
                        name: name.clone(),
                        unit: unit.clone(),
                        target: *target,
                        metric: "MANUAL".to_owned(),
                        manual_actual: None,
                        created_at: now,
                        updated_at: now,
                    }));
                    report.kpi_targets_added += 1;
                }
            }
        }
    }
    report.writes = writes.len();
    if !writes.is_empty() {
        store.apply_import(&writes, now).await?;
    }
    Ok(report)
}

/// The lines `dxdesk lab import` prints.
pub fn report_lines(r: &ImportReport) -> Vec<String> {
    let mut out = Vec::new();
    if r.writes == 0 {
        out.push("lab import: no change (the database already matches the file)".to_owned());
    } else {
        out.push(format!(
            "lab import: labs added {:?}, updated {:?}; institutions added {}, updated {}; KPI targets added {}, updated {}",
            r.labs_added,
            r.labs_updated,
            r.institutions_added,
            r.institutions_updated,
            r.kpi_targets_added,
            r.kpi_targets_updated
        ));
    }
    for (lab, name) in &r.missing {
        out.push(format!(
            "lab import: kept {lab} institution {name:?}: not in the file (left active; deactivate it in the web pages if it left the lab)"
        ));
    }
    out
}
