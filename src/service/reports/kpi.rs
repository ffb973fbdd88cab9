//! KPI targets: the secretariat's per-year targets (name, unit, target, which
//! figure counts toward it), the hand-entered actuals, and the targets of the
//! reference labs in `data/labs.json`.

use crate::domain::fiscal_year::fiscal_year_of;
use crate::domain::report::{check_amount, check_kpi_target};
use crate::error::{AppError, AppResult};
use crate::store::reports::KpiTargetRow;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// A new target or changes to one (`id` given: that target; otherwise the
/// lab's target of the same year and name if any, else a new one).
#[derive(Debug, Clone)]
pub struct KpiTargetChange {
    pub id: Option<Uuid>,
    pub fiscal_year: i32,
    pub name: String,
    pub unit: String,
    pub target: f64,
    pub metric: String,
    /// Only for `MANUAL` targets.
    pub manual_actual: Option<f64>,
}

fn not_found() -> AppError {
    AppError::not_found("KPI目標", "KPI target")
}

fn not_manual() -> AppError {
    AppError::bad_input(
        Some("actual"),
        "この目標の実績は相談記録から自動で集計されます。手入力できるのは集計対象が MANUAL の目標だけです。",
        "This target's actual is computed from the case records; only MANUAL targets take a hand-entered actual.",
    )
}

/// Creates or edits a target of the lab.
pub async fn upsert(
    store: &dyn Store,
    lab_id: Uuid,
    c: KpiTargetChange,
    now: DateTime<Utc>,
) -> AppResult<KpiTargetRow> {
    let input = check_kpi_target(c.fiscal_year, &c.name, &c.unit, c.target, &c.metric)?;
    let manual_actual = match c.manual_actual {
        Some(_) if !input.metric.is_manual() => {
            return Err(AppError::bad_input(
                Some("manualActual"),
                "実績を手入力できるのは集計対象が MANUAL の目標だけです。",
                "Only MANUAL targets take a hand-entered actual.",
            ))
        }
        Some(v) => Some(check_amount("manualActual", v)?),
        None => None,
    };
    let existing = match c.id {
        Some(id) => Some(store.kpi_target(lab_id, id).await?.ok_or_else(not_found)?),
        None => store
            .kpi_targets(lab_id, Some(input.fiscal_year))
            .await?
            .into_iter()
            .find(|k| k.name == input.name),
    };
    match existing {
        Some(old) => {
            let row = KpiTargetRow {
                fiscal_year: i64::from(input.fiscal_year),
                name: input.name,
                unit: input.unit,
                target: input.target,
                metric: input.metric.code(),
                // Keep a hand-entered actual unless replaced; drop it when the
                // target stops being MANUAL.
                manual_actual: if input.metric.is_manual() {
                    manual_actual.or(old.manual_actual)
                } else {
                    None
                },
                updated_at: now,
                ..old
            };
            if !store.update_kpi_target(&row).await? {
                return Err(not_found());
            }
            Ok(row)
        }
        None => {
            let row = KpiTargetRow {
                id: Uuid::now_v7(),
                lab_id,
                fiscal_year: i64::from(input.fiscal_year),
                name: input.name,
                unit: input.unit,
                target: input.target,
                metric: input.metric.code(),
                manual_actual,
                created_at: now,
                updated_at: now,
            };
            store.insert_kpi_target(&row).await?;
            Ok(row)
        }
    }
}

/// Deletes a target of the lab (`NOT_FOUND` when there is none).
pub async fn delete(store: &dyn Store, lab_id: Uuid, id: Uuid) -> AppResult<()> {
    if store.delete_kpi_target(lab_id, id).await? {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// Sets (or with `None` clears) the hand-entered actual of a `MANUAL` target.
pub async fn set_actual(
    store: &dyn Store,
    lab_id: Uuid,
    id: Uuid,
    actual: Option<f64>,
    now: DateTime<Utc>,
) -> AppResult<KpiTargetRow> {
    let old = store.kpi_target(lab_id, id).await?.ok_or_else(not_found)?;
    if !old.to_domain().metric.is_manual() {
        return Err(not_manual());
    }
    let actual = actual.map(|v| check_amount("actual", v)).transpose()?;
    let row = KpiTargetRow {
        manual_actual: actual,
        updated_at: now,
        ..old
    };
    if !store.update_kpi_target(&row).await? {
        return Err(not_found());
    }
    Ok(row)
}

#[derive(Deserialize)]
struct SeedFile {
    labs: Vec<SeedLab>,
}

#[derive(Deserialize)]
struct SeedLab {
    code: String,
    /// When METI selected the lab (`2023-04-04`): targets start that fiscal year.
    selected: Option<NaiveDate>,
    #[serde(default)]
    kpi_targets: Vec<SeedTarget>,
}

/// `{"name", "unit", "per_fiscal_year": 10}` (that many every year) or
/// `{"name", "unit", "cumulative_by": "2024", "target": 10}` (reached by the end of that fiscal year).
#[derive(Deserialize)]
struct SeedTarget {
    name: String,
    unit: String,
    per_fiscal_year: Option<f64>,
    cumulative_by: Option<String>,
    target: Option<f64>,
}

/// A reference lab's KPI target: (lab code, fiscal year, name, unit, target).
pub type ReferenceTarget = (String, i32, String, String, f64);

/// The KPI targets of the reference labs, for the fiscal years from the lab's selection up to `now`'s.
/// They count things the desk does not record as cases (people trained,
/// companies taking part in a course), so their metric is `MANUAL`.
pub fn reference_targets(json: &str, now: DateTime<Utc>) -> anyhow::Result<Vec<ReferenceTarget>> {
    let file: SeedFile = serde_json::from_str(json)?;
    let this_year = fiscal_year_of(now);
    let mut out = Vec::new();
    for lab in file.labs {
        let first = lab
            .selected
            .map(|d| fiscal_year_of(crate::domain::jst::start_of_day(d)))
            .unwrap_or(this_year);
        for t in lab.kpi_targets {
            if let Some(n) = t.per_fiscal_year {
                for fy in first..=this_year.max(first) {
                    out.push((lab.code.clone(), fy, t.name.clone(), t.unit.clone(), n));
                }
            } else if let (Some(by), Some(n)) = (t.cumulative_by.as_deref(), t.target) {
                let fy: i32 = by
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("cumulative_by {by:?} is not a year"))?;
                out.push((
                    lab.code.clone(),
                    fy,
                    format!("{}（{fy}年度までの累計）", t.name),
                    t.unit.clone(),
                    n,
                ));
            }
        }
    }
    Ok(out)
}

/// Adds the reference labs' KPI targets that are missing (an existing target of
/// the same lab, year and name is left as the secretariat edited it). Returns
/// how many were added.
pub async fn seed_reference_targets(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut added = 0;
    for (code, fy, name, unit, target) in reference_targets(crate::seed::labs::LABS_JSON, now)? {
        let Some(lab) = store.lab_by_code(&code).await? else {
            continue;
        };
        if store
            .kpi_targets(lab.id, Some(fy))
            .await?
            .iter()
            .any(|k| k.name == name)
        {
            continue;
        }
        store
            .insert_kpi_target(&KpiTargetRow {
                id: Uuid::now_v7(),
                lab_id: lab.id,
                fiscal_year: i64::from(fy),
                name,
                unit,
                target,
                metric: "MANUAL".to_owned(),
                manual_actual: None,
                created_at: now,
                updated_at: now,
            })
            .await?;
        added += 1;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn koda_targets_from_the_reference_data() {
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        let t = reference_targets(crate::seed::labs::LABS_JSON, now).unwrap();
        let koda: Vec<_> = t.iter().filter(|x| x.0 == "KOD").collect();
        // 10 trained per year for FY2023 (selected 2023-04-04) … FY2025, plus the cumulative one
        assert_eq!(koda.len(), 4, "{koda:?}");
        assert!(koda
            .iter()
            .any(|x| x.1 == 2023 && x.2.contains("デジタル人材") && x.3 == "人" && x.4 == 10.0));
        assert!(koda
            .iter()
            .any(|x| x.1 == 2025 && x.2.contains("デジタル人材")));
        assert!(koda.iter().any(|x| x.1 == 2024
            && x.2 == "デジタル塾参加企業（2024年度までの累計）"
            && x.3 == "社"));
        assert!(t.iter().all(|x| x.0 == "KOD"));
    }
}
