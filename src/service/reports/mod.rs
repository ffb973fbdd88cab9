//! The lab's year: the activity report for a viewer (GraphQL, HTTP exports and
//! the `report` command share it), its CSV and JSON exports, and the KPI
//! targets of the reference labs.
//!
//! Who sees what (PRODUCT.md "reports"): ADMIN and CONCIERGE get their lab's
//! report; a PARTNER gets the same shape restricted to their own institution's
//! referrals and the cases they may read; another lab's data never appears.

pub mod csv;
pub mod json;
pub mod kpi;

use crate::domain::permissions::Viewer;
use crate::domain::report::{
    assemble, check_fiscal_year, ActivityReport, InstitutionInfo, RegionInfo, ReportContext,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::reports::KpiTargetRow;
use crate::store::{LabRow, ReportScope, Store};
use chrono::{DateTime, Utc};

/// The scope of the reports a viewer may see (`domain::permissions::report_scope`).
pub fn scope_for(v: &Viewer) -> AppResult<ReportScope> {
    use crate::domain::permissions::{report_scope, ReportScope as Who};
    match report_scope(v) {
        Some(Who::Lab) => Ok(ReportScope::lab(v.lab_id)),
        Some(Who::Institution(institution_id)) => Ok(ReportScope {
            lab_id: v.lab_id,
            institution_id: Some(institution_id),
        }),
        None => Err(AppError::forbidden()),
    }
}

pub async fn lab_of(store: &dyn Store, scope: ReportScope) -> AppResult<LabRow> {
    store
        .lab(scope.lab_id)
        .await?
        .ok_or_else(|| AppError::not_found("ラボ", "Lab"))
}

/// The activity report of fiscal year `fy` in `scope`, as of `now`.
pub async fn activity_report(
    store: &dyn Store,
    scope: ReportScope,
    fy: i32,
    now: DateTime<Utc>,
) -> AppResult<ActivityReport> {
    let fy = check_fiscal_year(fy)?;
    let lab = lab_of(store, scope).await?;
    let institutions: Vec<InstitutionInfo> = store
        .institutions(scope.lab_id)
        .await?
        .into_iter()
        .map(|i| InstitutionInfo {
            id: i.id,
            name: i.name,
            kind: i.kind,
        })
        .collect();
    let institution = match scope.institution_id {
        Some(id) => Some(
            institutions
                .iter()
                .find(|i| i.id == id)
                .cloned()
                .ok_or_else(|| AppError::not_found("連携機関", "Institution"))?,
        ),
        None => None,
    };
    let kpi_targets = if scope.institution_id.is_none() {
        store
            .kpi_targets(scope.lab_id, Some(fy))
            .await?
            .iter()
            .map(|k| k.to_domain())
            .collect()
    } else {
        Vec::new()
    };
    let facts = store.report_facts(scope, fy, now).await?;
    let ctx = ReportContext {
        fiscal_year: fy,
        generated_at: now,
        regions: lab
            .regions
            .iter()
            .map(|r| RegionInfo {
                code: r.code.clone(),
                name: r.name.clone(),
                municipalities: r.municipalities.clone(),
            })
            .collect(),
        institutions,
        institution,
        kpi_targets,
    };
    Ok(assemble(&ctx, &facts))
}

/// `activityReport`: the report of fiscal year `fy` as the viewer may see it.
pub async fn report_for(st: &AppState, v: &Viewer, fy: i32) -> AppResult<ActivityReport> {
    let scope = scope_for(v)?;
    activity_report(st.store.as_ref(), scope, fy, st.now()).await
}

/// `reportFiscalYears`: newest first, from the year of the lab's first case
/// (or the current year) to the current one.
pub async fn fiscal_years(st: &AppState, v: &Viewer) -> AppResult<Vec<i32>> {
    use crate::domain::fiscal_year::fiscal_year_of;
    let current = fiscal_year_of(st.now());
    let first = st
        .store
        .first_case_at(v.lab_id)
        .await?
        .map(fiscal_year_of)
        .unwrap_or(current)
        .clamp(*crate::domain::report::FISCAL_YEARS.start(), current);
    Ok((first..=current).rev().collect())
}

/// `kpiTargets` (desk staff): of one fiscal year or, without it, of all years.
pub async fn kpi_targets(
    st: &AppState,
    v: &Viewer,
    fiscal_year: Option<i32>,
) -> AppResult<Vec<KpiTargetRow>> {
    crate::domain::permissions::require_desk(v)?;
    if let Some(fy) = fiscal_year {
        check_fiscal_year(fy)?;
    }
    st.store.kpi_targets(v.lab_id, fiscal_year).await
}

/// What the exports hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// The year's cases, one row each.
    Cases,
    /// The year's referrals, one row each.
    Referrals,
}

impl ExportKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cases" => Some(ExportKind::Cases),
            "referrals" => Some(ExportKind::Referrals),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Cases => "cases",
            ExportKind::Referrals => "referrals",
        }
    }
}

/// The CSV export (UTF-8 with BOM, CRLF) of fiscal year `fy` in `scope`.
pub async fn export_csv(
    store: &dyn Store,
    scope: ReportScope,
    fy: i32,
    kind: ExportKind,
    now: DateTime<Utc>,
) -> AppResult<Vec<u8>> {
    let fy = check_fiscal_year(fy)?;
    let lab = lab_of(store, scope).await?;
    let out = match kind {
        ExportKind::Cases => {
            let rows = store.export_cases(scope, fy).await?;
            let topics = store.export_case_topics(scope, fy).await?;
            csv::cases_csv(&lab, &rows, &topics)
        }
        ExportKind::Referrals => {
            let rows = store.export_referrals(scope, fy).await?;
            csv::referrals_csv(&rows, scope.institution_id.is_some(), now)
        }
    };
    out.map_err(AppError::internal)
}

/// The JSON export (`dxdesk.activity-report`, version 1) of fiscal year `fy` in `scope`.
pub async fn export_json(
    store: &dyn Store,
    scope: ReportScope,
    fy: i32,
    now: DateTime<Utc>,
) -> AppResult<Vec<u8>> {
    let report = activity_report(store, scope, fy, now).await?;
    let lab = lab_of(store, scope).await?;
    json::to_json(&lab, &report).map_err(AppError::internal)
}

/// The file name of an export: `dxdesk-AOM-FY2024-cases.csv`, `dxdesk-AOM-FY2024.json`.
pub fn file_name(lab_code: &str, fy: i32, kind: Option<ExportKind>) -> String {
    let code: String = lab_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    match kind {
        Some(k) => format!("dxdesk-{code}-FY{fy}-{}.csv", k.as_str()),
        None => format!("dxdesk-{code}-FY{fy}.json"),
    }
}

/// The output format of `dxdesk report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CliFormat {
    Json,
    Csv,
}

/// `dxdesk report`: the lab's whole report (the secretariat's view) to a file or stdout.
pub async fn run_cli(
    store: &dyn Store,
    fy: i32,
    format: CliFormat,
    lab: Option<&str>,
    kind: ExportKind,
    output: Option<&std::path::Path>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let labs = store.labs().await?;
    let lab = match lab {
        Some(code) => labs
            .into_iter()
            .find(|l| l.code.eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| anyhow::anyhow!("no lab with code {code:?}"))?,
        None => {
            let mut labs = labs;
            match labs.len() {
                0 => anyhow::bail!("the database holds no lab yet (run `dxdesk seed-demo`?)"),
                1 => labs.remove(0),
                _ => anyhow::bail!(
                    "this deployment has several labs ({}): choose one with --lab",
                    labs.iter()
                        .map(|l| l.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let scope = ReportScope::lab(lab.id);
    let bytes = match format {
        CliFormat::Json => export_json(store, scope, fy, now).await?,
        CliFormat::Csv => export_csv(store, scope, fy, kind, now).await?,
    };
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}
