//! The fiscal-year activity report, as pure maths: the store hands over SQL
//! aggregates (`ReportFacts`) and the few timestamp pairs that need business-day
//! or duration maths; [`assemble`] turns them into the figures of the report.
//!
//! Definitions (also in `docs/report-format.md`):
//! - the year is `[fiscal_year_bounds(fy))`, April 1 00:00 JST to the next April 1;
//! - **cases opened**: created in the year; the stage/status/channel breakdowns
//!   are those cases' *current* values (status with the derived `REFERRED`);
//!   industry, region and municipality are those of the case's business;
//! - **businesses supported**: distinct businesses with a case opened in the
//!   year; **new** ones had no earlier case (in the report's scope);
//! - **referrals**: created in the year, by current status; *accepted* counts
//!   every referral that was picked up (`ACCEPTED` or since `COMPLETED`);
//!   acceptance rate = accepted / (accepted + declined); *open* = `PENDING` or
//!   `ACCEPTED` now; *overdue* = `PENDING` and past its pick-up deadline now;
//!   **pick-up time** = business days from the referral to the institution's
//!   decision (accept or decline), by [`business_days_between`];
//! - **resolution**: cases resolved in the year (resolved or closed now),
//!   calendar days from opening to resolution; **outcomes** are those cases'
//!   outcomes;
//! - **stage movements**: `STAGE_CHANGED` events in the year.
//!
//! Percentiles are nearest-rank ([`stats::percentile`]); days are rounded to
//! 0.01 and rates to 0.0001.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

use super::business_days::business_days_between;
use super::fiscal_year::{self, fiscal_year_bounds};
use super::jst;
use super::stats;
use super::types::*;
use super::validation::jsic_label;
use super::DomainError;

/// The key of a breakdown row whose value was not recorded (no industry, no municipality…).
pub const UNKNOWN_KEY: &str = "";
/// The label of that row.
pub const UNKNOWN_LABEL: &str = "未設定";

/// The 13 month starts of fiscal year `fy` (April 1 … March 1, then the next
/// April 1), 00:00 JST each, as UTC instants: month `i` is `[m[i], m[i+1])`.
pub fn month_starts(fy: i32) -> [DateTime<Utc>; 13] {
    std::array::from_fn(|i| {
        let (y, m) = if i < 9 {
            (fy, i as u32 + 4)
        } else {
            (fy + 1, i as u32 - 8)
        };
        jst::start_of_day(NaiveDate::from_ymd_opt(y, m, 1).expect("a valid month"))
    })
}

/// The fiscal years a report may be asked for.
pub const FISCAL_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Checks a requested fiscal year (`BAD_USER_INPUT` on `fiscalYear` otherwise).
pub fn check_fiscal_year(fy: i32) -> Result<i32, DomainError> {
    if FISCAL_YEARS.contains(&fy) {
        Ok(fy)
    } else {
        Err(DomainError::invalid(
            Some("fiscalYear"),
            format!(
                "年度は{}〜{}の範囲で指定してください。",
                FISCAL_YEARS.start(),
                FISCAL_YEARS.end()
            ),
            format!(
                "fiscalYear must be between {} and {}.",
                FISCAL_YEARS.start(),
                FISCAL_YEARS.end()
            ),
        ))
    }
}

// ---------------------------------------------------------------------------
// KPI metrics
// ---------------------------------------------------------------------------

/// Which figure of the report counts toward a KPI target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KpiMetric {
    /// `CASES_OPENED`: cases opened in the year.
    CasesOpened,
    /// `BUSINESSES_SUPPORTED`: distinct businesses with a case opened in the year.
    BusinessesSupported,
    /// `NEW_BUSINESSES`: businesses whose first case was opened in the year.
    NewBusinesses,
    /// `OUTCOME:<OUTCOME>`: cases resolved in the year with that outcome.
    Outcome(Outcome),
    /// `MANUAL`: the actual is entered by hand (e.g. people trained in a course).
    Manual,
}

impl KpiMetric {
    /// Every metric, in a stable order (for pickers).
    pub fn all() -> Vec<KpiMetric> {
        let mut v = vec![
            KpiMetric::CasesOpened,
            KpiMetric::BusinessesSupported,
            KpiMetric::NewBusinesses,
        ];
        v.extend(Outcome::ALL.iter().map(|&o| KpiMetric::Outcome(o)));
        v.push(KpiMetric::Manual);
        v
    }

    /// The stored form: `CASES_OPENED`, `OUTCOME:DX_CERTIFIED`, `MANUAL`…
    pub fn code(self) -> String {
        match self {
            KpiMetric::CasesOpened => "CASES_OPENED".to_owned(),
            KpiMetric::BusinessesSupported => "BUSINESSES_SUPPORTED".to_owned(),
            KpiMetric::NewBusinesses => "NEW_BUSINESSES".to_owned(),
            KpiMetric::Outcome(o) => format!("OUTCOME:{}", o.as_str()),
            KpiMetric::Manual => "MANUAL".to_owned(),
        }
    }

    /// Parses the stored form (ASCII case and surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<KpiMetric> {
        let s = s.trim().to_ascii_uppercase();
        match s.as_str() {
            "CASES_OPENED" => Some(KpiMetric::CasesOpened),
            "BUSINESSES_SUPPORTED" => Some(KpiMetric::BusinessesSupported),
            "NEW_BUSINESSES" => Some(KpiMetric::NewBusinesses),
            "MANUAL" => Some(KpiMetric::Manual),
            _ => s
                .strip_prefix("OUTCOME:")
                .and_then(Outcome::parse)
                .map(KpiMetric::Outcome),
        }
    }

    pub fn is_manual(self) -> bool {
        self == KpiMetric::Manual
    }

    pub fn label_ja(self) -> String {
        match self {
            KpiMetric::CasesOpened => "相談受付件数".to_owned(),
            KpiMetric::BusinessesSupported => "支援事業者数".to_owned(),
            KpiMetric::NewBusinesses => "新規支援事業者数".to_owned(),
            KpiMetric::Outcome(o) => format!("成果「{}」の件数", o.label_ja()),
            KpiMetric::Manual => "手入力の実績".to_owned(),
        }
    }

    pub fn label_en(self) -> String {
        match self {
            KpiMetric::CasesOpened => "Cases opened".to_owned(),
            KpiMetric::BusinessesSupported => "Businesses supported".to_owned(),
            KpiMetric::NewBusinesses => "New businesses".to_owned(),
            KpiMetric::Outcome(o) => format!("Cases with outcome \"{}\"", o.label_en()),
            KpiMetric::Manual => "Entered by hand".to_owned(),
        }
    }
}

/// A KPI target of a lab for one fiscal year.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTarget {
    pub id: Uuid,
    pub fiscal_year: i32,
    pub name: String,
    pub unit: String,
    pub target: f64,
    pub metric: KpiMetric,
    /// The hand-entered actual of a `MANUAL` target.
    pub manual_actual: Option<f64>,
}

/// A target beside its actual figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KpiProgress {
    #[serde(skip)]
    pub id: Uuid,
    pub name: String,
    pub unit: String,
    pub target: f64,
    /// The metric code (`CASES_OPENED`, `OUTCOME:DX_CERTIFIED`, `MANUAL`…).
    pub metric: String,
    /// `None` for a `MANUAL` target whose actual was not entered yet.
    pub actual: Option<f64>,
    /// actual / target (1.0 = reached), `None` when either is missing or the target is 0.
    pub progress: Option<f64>,
}

/// Checked fields of a KPI target, from user input.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTargetInput {
    pub fiscal_year: i32,
    pub name: String,
    pub unit: String,
    pub target: f64,
    pub metric: KpiMetric,
}

fn bad(field: &str, ja: impl Into<String>, en: impl Into<String>) -> DomainError {
    DomainError::invalid(Some(field), ja, en)
}

/// Validates a KPI target's fields: fiscal year in range, name (≤ 120
/// characters) and unit (≤ 20) not blank, target a finite number 0…1e9,
/// metric one of the known codes.
pub fn check_kpi_target(
    fiscal_year: i32,
    name: &str,
    unit: &str,
    target: f64,
    metric: &str,
) -> Result<KpiTargetInput, DomainError> {
    let fiscal_year = check_fiscal_year(fiscal_year)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad(
            "name",
            "目標名を入力してください。",
            "Enter the target's name.",
        ));
    }
    if name.chars().count() > 120 {
        return Err(bad(
            "name",
            "目標名は120文字以内で入力してください。",
            "The name must be at most 120 characters.",
        ));
    }
    let unit = unit.trim();
    if unit.is_empty() {
        return Err(bad(
            "unit",
            "単位（件、社、人など）を入力してください。",
            "Enter the unit (cases, companies, people…).",
        ));
    }
    if unit.chars().count() > 20 {
        return Err(bad(
            "unit",
            "単位は20文字以内で入力してください。",
            "The unit must be at most 20 characters.",
        ));
    }
    check_amount("target", target)?;
    let metric = KpiMetric::parse(metric).ok_or_else(|| {
        bad(
            "metric",
            format!(
                "集計対象「{metric}」は使えません。CASES_OPENED、BUSINESSES_SUPPORTED、NEW_BUSINESSES、OUTCOME:<成果>、MANUAL のいずれかを指定してください。"
            ),
            format!(
                "Unknown metric {metric:?}: use CASES_OPENED, BUSINESSES_SUPPORTED, NEW_BUSINESSES, OUTCOME:<OUTCOME> or MANUAL."
            ),
        )
    })?;
    Ok(KpiTargetInput {
        fiscal_year,
        name: name.to_owned(),
        unit: unit.to_owned(),
        target,
        metric,
    })
}

/// A target or a hand-entered actual: finite, 0 … 1,000,000,000.
pub fn check_amount(field: &str, v: f64) -> Result<f64, DomainError> {
    if v.is_finite() && (0.0..=1e9).contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            field,
            "数値は0以上10億以下で入力してください。",
            "The number must be between 0 and 1,000,000,000.",
        ))
    }
}

// ---------------------------------------------------------------------------
// Facts: what the store aggregates
// ---------------------------------------------------------------------------

/// Cases opened in the year, counted by current stage, stored status, whether a
/// `PENDING` referral makes the status `REFERRED`, channel and month.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseCell {
    pub stage: Stage,
    pub status: CaseStatus,
    pub referred: bool,
    pub channel: Channel,
    /// Fiscal month index, 0 = April.
    pub month: u32,
    pub count: i64,
}

/// Cases opened in the year, by their business's industry, region and municipality.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceCell {
    pub industry: Option<String>,
    pub region: Option<String>,
    pub municipality: Option<String>,
    pub count: i64,
}

/// Businesses with a case opened in the year, by the month of their first case
/// in the year, and how many of them had no earlier case.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCell {
    pub month: u32,
    pub businesses: i64,
    pub new_businesses: i64,
}

/// Referrals created in the year by institution, status, decline reason and month.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralCell {
    pub institution_id: Uuid,
    pub status: ReferralStatus,
    pub reason: Option<DeclineReason>,
    pub month: u32,
    pub count: i64,
    /// Of `count`: still `PENDING` and past the pick-up deadline now.
    pub overdue: i64,
}

/// The pick-up time of a referral: business days from its creation to the
/// institution's decision (accept or decline).
pub fn pickup_days(created_at: DateTime<Utc>, decided_at: DateTime<Utc>) -> f64 {
    business_days_between(created_at, decided_at)
}

/// The resolution time of a case: calendar days from opening to resolution.
pub fn resolution_days(created_at: DateTime<Utc>, resolved_at: DateTime<Utc>) -> f64 {
    (resolved_at - created_at).num_milliseconds().max(0) as f64 / 86_400_000.0
}

/// A sample of durations in days as the report needs it: its size, median and
/// nearest-rank 90th percentile (unrounded). Made from the whole sample
/// ([`DaySummary::of`]) or from the values at the few ranks that decide it
/// ([`DaySummary::ranks`], [`DaySummary::from_ranked`]), which a database can
/// read from an index without handing over the sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DaySummary {
    pub count: i64,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl DaySummary {
    /// The summary of a whole sample.
    pub fn of(mut v: Vec<f64>) -> Self {
        DaySummary {
            count: v.len() as i64,
            median: stats::median(&mut v),
            p90: stats::percentile(&mut v, 90.0),
        }
    }

    /// The 1-based ranks in the ascending sample of `n` values that decide
    /// the summary: the lower and upper middle (equal for odd `n`) and the
    /// 90th percentile, as [`stats::median`] and [`stats::percentile`] pick them.
    pub fn ranks(n: i64) -> [i64; 3] {
        let n = n.max(1);
        let p90 = (((90.0 / 100.0) * n as f64).ceil() as i64).clamp(1, n);
        if n % 2 == 1 {
            [n / 2 + 1, n / 2 + 1, p90]
        } else {
            [n / 2, n / 2 + 1, p90]
        }
    }

    /// The summary of a sample of `n` values, given the value at each rank of
    /// [`DaySummary::ranks`].
    pub fn from_ranked(n: i64, value_at: impl Fn(i64) -> Option<f64>) -> Self {
        if n <= 0 {
            return DaySummary::default();
        }
        let [lo, hi, p90] = Self::ranks(n);
        let median = if lo == hi {
            value_at(lo)
        } else {
            value_at(lo).zip(value_at(hi)).map(|(a, b)| (a + b) / 2.0)
        };
        DaySummary {
            count: n,
            median,
            p90: value_at(p90),
        }
    }
}

/// Cases resolved in the year having an outcome, and their distinct businesses.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeCell {
    pub outcome: Outcome,
    pub cases: i64,
    pub businesses: i64,
}

/// `STAGE_CHANGED` events in the year by (from, to) and month.
#[derive(Debug, Clone, PartialEq)]
pub struct MovementCell {
    pub from: Stage,
    pub to: Stage,
    pub month: u32,
    pub events: i64,
}

/// Distinct cases and businesses that moved from → to in the year.
#[derive(Debug, Clone, PartialEq)]
pub struct MovementReach {
    pub from: Stage,
    pub to: Stage,
    pub cases: i64,
    pub businesses: i64,
}

/// Everything the store aggregates for one report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFacts {
    pub cases: Vec<CaseCell>,
    pub places: Vec<PlaceCell>,
    pub businesses: Vec<BusinessCell>,
    pub referrals: Vec<ReferralCell>,
    /// Pick-up times of the referrals created in the year, all together.
    pub pickups: DaySummary,
    /// The same per institution (those with at least one).
    pub pickups_by_institution: Vec<(Uuid, DaySummary)>,
    /// Resolution times of the cases resolved in the year.
    pub resolutions: DaySummary,
    /// Cases resolved in the year, by the month of their resolution.
    pub resolved_by_month: [i64; 12],
    pub outcomes: Vec<OutcomeCell>,
    pub movements: Vec<MovementCell>,
    pub reach: Vec<MovementReach>,
}

/// A region of the lab, for the region and municipality breakdowns.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionInfo {
    pub code: String,
    pub name: String,
    pub municipalities: Vec<String>,
}

/// An institution, for naming the referral rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstitutionInfo {
    #[serde(skip)]
    pub id: Uuid,
    pub name: String,
    pub kind: InstitutionKind,
}

/// What the report is about, besides the facts.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub fiscal_year: i32,
    pub generated_at: DateTime<Utc>,
    pub regions: Vec<RegionInfo>,
    pub institutions: Vec<InstitutionInfo>,
    /// `Some` for a partner's report: restricted to this institution.
    pub institution: Option<InstitutionInfo>,
    pub kpi_targets: Vec<KpiTarget>,
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// One row of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountItem {
    /// The value counted: an enum name (`KNOW`), a JSIC letter, a region code, a
    /// municipality name; [`UNKNOWN_KEY`] (empty) when not recorded.
    pub key: String,
    pub label: String,
    pub count: i64,
}

/// Referral figures of one institution, or of all together.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralFigures {
    pub referrals: i64,
    pub pending: i64,
    pub accepted: i64,
    pub declined: i64,
    pub withdrawn: i64,
    pub completed: i64,
    pub open: i64,
    pub overdue: i64,
    pub acceptance_rate: Option<f64>,
    pub decline_reasons: Vec<CountItem>,
    pub pickup_count: i64,
    pub pickup_median_days: Option<f64>,
    pub pickup_p90_days: Option<f64>,
}

/// An institution's referral figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstitutionReferrals {
    pub institution: InstitutionInfo,
    #[serde(flatten)]
    pub figures: ReferralFigures,
}

/// Opening → resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionFigures {
    pub cases_resolved: i64,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
}

/// Cases resolved in the year with an outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCount {
    pub outcome: Outcome,
    pub label: String,
    pub cases: i64,
    pub businesses: i64,
}

/// Movements between two stages in the year.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageTransition {
    pub from: Stage,
    pub to: Stage,
    pub events: i64,
    pub cases: i64,
    pub businesses: i64,
}

/// How many businesses moved on in the year.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageMovements {
    /// Distinct businesses with a KNOW → CONSULT change.
    pub know_to_consult: i64,
    /// Distinct businesses with a CONSULT → TRY change.
    pub consult_to_try: i64,
    pub transitions: Vec<StageTransition>,
}

/// The headline figures of one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyFigures {
    /// 0 = April … 11 = March.
    pub index: u32,
    /// `2024-04`.
    pub year_month: String,
    /// 「4月」.
    pub label: String,
    pub cases_opened: i64,
    pub new_businesses: i64,
    pub referrals: i64,
    pub cases_resolved: i64,
    pub know_to_consult: i64,
    pub consult_to_try: i64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityReport {
    pub fiscal_year: i32,
    pub label: String,
    pub label_en: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// The partner's institution when the report is restricted to it.
    pub institution: Option<InstitutionInfo>,
    pub cases_opened: i64,
    pub by_stage: Vec<CountItem>,
    pub by_status: Vec<CountItem>,
    pub by_channel: Vec<CountItem>,
    pub by_industry: Vec<CountItem>,
    pub by_region: Vec<CountItem>,
    pub by_municipality: Vec<CountItem>,
    pub businesses_supported: i64,
    pub new_businesses: i64,
    pub referrals: ReferralFigures,
    pub referrals_by_institution: Vec<InstitutionReferrals>,
    pub resolution: ResolutionFigures,
    pub outcomes: Vec<OutcomeCount>,
    pub stage_movements: StageMovements,
    pub monthly: Vec<MonthlyFigures>,
    pub kpis: Vec<KpiProgress>,
}

/// Rounds days to 0.01.
pub fn round_days(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Rounds a rate to 0.0001.
pub fn round_rate(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

fn enum_items<T: Copy + Eq + std::hash::Hash>(
    all: &[T],
    counts: &HashMap<T, i64>,
    key: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<CountItem> {
    all.iter()
        .map(|&v| CountItem {
            key: key(v).to_owned(),
            label: label(v).to_owned(),
            count: counts.get(&v).copied().unwrap_or(0),
        })
        .collect()
}

fn norm(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or("").to_owned()
}

fn referral_figures(cells: &[&ReferralCell], pickups: DaySummary) -> ReferralFigures {
    let mut by_status: HashMap<ReferralStatus, i64> = HashMap::new();
    let mut reasons: HashMap<DeclineReason, i64> = HashMap::new();
    let mut overdue = 0;
    for c in cells {
        *by_status.entry(c.status).or_default() += c.count;
        overdue += c.overdue;
        if c.status == ReferralStatus::Declined {
            *reasons
                .entry(c.reason.unwrap_or(DeclineReason::Other))
                .or_default() += c.count;
        }
    }
    let n = |s| by_status.get(&s).copied().unwrap_or(0);
    let (pending, accepted_now, declined, withdrawn, completed) = (
        n(ReferralStatus::Pending),
        n(ReferralStatus::Accepted),
        n(ReferralStatus::Declined),
        n(ReferralStatus::Withdrawn),
        n(ReferralStatus::Completed),
    );
    let accepted = accepted_now + completed;
    let pickup_count = pickups.count;
    let pickup_median_days = pickups.median.map(round_days);
    let pickup_p90_days = pickups.p90.map(round_days);
    ReferralFigures {
        referrals: pending + accepted + declined + withdrawn,
        pending,
        accepted,
        declined,
        withdrawn,
        completed,
        open: pending + accepted_now,
        overdue,
        acceptance_rate: stats::rate(accepted, accepted + declined).map(round_rate),
        decline_reasons: DeclineReason::ALL
            .iter()
            .filter_map(|&r| {
                reasons.get(&r).map(|&count| CountItem {
                    key: r.as_str().to_owned(),
                    label: r.label_ja().to_owned(),
                    count,
                })
            })
            .collect(),
        pickup_count,
        pickup_median_days,
        pickup_p90_days,
    }
}

/// Builds the report from the store's facts.
pub fn assemble(ctx: &ReportContext, facts: &ReportFacts) -> ActivityReport {
    let fy = ctx.fiscal_year;
    let (from, to) = fiscal_year_bounds(fy);
    let starts = month_starts(fy);
    let mut monthly: Vec<MonthlyFigures> = (0..12u32)
        .map(|i| {
            let d = jst::date_of(starts[i as usize]);
            MonthlyFigures {
                index: i,
                year_month: format!("{:04}-{:02}", d.year(), d.month()),
                label: fiscal_year::month_label_ja(i),
                cases_opened: 0,
                new_businesses: 0,
                referrals: 0,
                cases_resolved: 0,
                know_to_consult: 0,
                consult_to_try: 0,
            }
        })
        .collect();
    let month = |m: u32| (m.min(11)) as usize;

    // Cases opened, by stage / status / channel / month.
    let mut stages = HashMap::new();
    let mut statuses = HashMap::new();
    let mut channels = HashMap::new();
    let mut cases_opened = 0;
    for c in &facts.cases {
        cases_opened += c.count;
        *stages.entry(c.stage).or_insert(0) += c.count;
        let shown = match c.status {
            CaseStatus::New | CaseStatus::InProgress if c.referred => CaseStatus::Referred,
            s => s,
        };
        *statuses.entry(shown).or_insert(0) += c.count;
        *channels.entry(c.channel).or_insert(0) += c.count;
        monthly[month(c.month)].cases_opened += c.count;
    }

    // Industry, region, municipality.
    let mut industries: BTreeMap<String, i64> = BTreeMap::new();
    let mut regions: HashMap<String, i64> = HashMap::new();
    let mut municipalities: HashMap<String, i64> = HashMap::new();
    for p in &facts.places {
        *industries.entry(norm(&p.industry)).or_default() += p.count;
        *regions.entry(norm(&p.region)).or_default() += p.count;
        *municipalities.entry(norm(&p.municipality)).or_default() += p.count;
    }
    let mut by_industry: Vec<CountItem> = industries
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, &count)| CountItem {
            key: k.clone(),
            label: k
                .chars()
                .next()
                .filter(|_| k.chars().count() == 1)
                .and_then(jsic_label)
                .unwrap_or(k)
                .to_owned(),
            count,
        })
        .collect();
    if let Some(&count) = industries.get(UNKNOWN_KEY) {
        by_industry.push(unknown(count));
    }
    let mut by_region: Vec<CountItem> = ctx
        .regions
        .iter()
        .map(|r| CountItem {
            key: r.code.clone(),
            label: r.name.clone(),
            count: regions.remove(&r.code).unwrap_or(0),
        })
        .collect();
    let unknown_regions = regions.remove(UNKNOWN_KEY);
    let mut others: Vec<_> = regions.into_iter().collect();
    others.sort();
    by_region.extend(others.into_iter().map(|(k, count)| CountItem {
        label: k.clone(),
        key: k,
        count,
    }));
    if let Some(count) = unknown_regions {
        by_region.push(unknown(count));
    }
    let mut by_municipality: Vec<CountItem> = Vec::new();
    for m in ctx.regions.iter().flat_map(|r| r.municipalities.iter()) {
        if let Some(count) = municipalities.remove(m) {
            by_municipality.push(CountItem {
                key: m.clone(),
                label: m.clone(),
                count,
            });
        }
    }
    let unknown_municipalities = municipalities.remove(UNKNOWN_KEY);
    let mut others: Vec<_> = municipalities.into_iter().collect();
    others.sort();
    by_municipality.extend(others.into_iter().map(|(k, count)| CountItem {
        label: k.clone(),
        key: k,
        count,
    }));
    if let Some(count) = unknown_municipalities {
        by_municipality.push(unknown(count));
    }

    // Businesses.
    let mut businesses_supported = 0;
    let mut new_businesses = 0;
    for b in &facts.businesses {
        businesses_supported += b.businesses;
        new_businesses += b.new_businesses;
        monthly[month(b.month)].new_businesses += b.new_businesses;
    }

    // Referrals.
    let mut pickups_by_inst: HashMap<Uuid, DaySummary> =
        facts.pickups_by_institution.iter().copied().collect();
    for r in &facts.referrals {
        monthly[month(r.month)].referrals += r.count;
    }
    let all_cells: Vec<&ReferralCell> = facts.referrals.iter().collect();
    let referrals = referral_figures(&all_cells, facts.pickups);
    let mut inst_ids: Vec<Uuid> = facts.referrals.iter().map(|r| r.institution_id).collect();
    inst_ids.sort();
    inst_ids.dedup();
    let mut referrals_by_institution: Vec<InstitutionReferrals> = inst_ids
        .into_iter()
        .map(|id| {
            let cells: Vec<&ReferralCell> = facts
                .referrals
                .iter()
                .filter(|r| r.institution_id == id)
                .collect();
            let institution = ctx
                .institutions
                .iter()
                .find(|i| i.id == id)
                .cloned()
                .unwrap_or(InstitutionInfo {
                    id,
                    name: String::new(),
                    kind: InstitutionKind::Other,
                });
            InstitutionReferrals {
                institution,
                figures: referral_figures(&cells, pickups_by_inst.remove(&id).unwrap_or_default()),
            }
        })
        .collect();
    referrals_by_institution.sort_by(|a, b| {
        b.figures
            .referrals
            .cmp(&a.figures.referrals)
            .then_with(|| a.institution.name.cmp(&b.institution.name))
    });

    // Resolution.
    for (m, n) in monthly.iter_mut().zip(facts.resolved_by_month) {
        m.cases_resolved += n;
    }
    let resolution = ResolutionFigures {
        cases_resolved: facts.resolutions.count,
        median_days: facts.resolutions.median.map(round_days),
        p90_days: facts.resolutions.p90.map(round_days),
    };

    // Outcomes: every outcome, in declaration order.
    let outcomes: Vec<OutcomeCount> = Outcome::ALL
        .iter()
        .map(|&o| {
            let (cases, businesses) = facts
                .outcomes
                .iter()
                .filter(|c| c.outcome == o)
                .fold((0, 0), |(a, b), c| (a + c.cases, b + c.businesses));
            OutcomeCount {
                outcome: o,
                label: o.label_ja().to_owned(),
                cases,
                businesses,
            }
        })
        .collect();

    // Stage movements.
    let mut transitions: Vec<StageTransition> = Vec::new();
    for m in &facts.movements {
        if m.from == Stage::Know && m.to == Stage::Consult {
            monthly[month(m.month)].know_to_consult += m.events;
        }
        if m.from == Stage::Consult && m.to == Stage::Try {
            monthly[month(m.month)].consult_to_try += m.events;
        }
        match transitions
            .iter_mut()
            .find(|t| t.from == m.from && t.to == m.to)
        {
            Some(t) => t.events += m.events,
            None => transitions.push(StageTransition {
                from: m.from,
                to: m.to,
                events: m.events,
                cases: 0,
                businesses: 0,
            }),
        }
    }
    for r in &facts.reach {
        if let Some(t) = transitions
            .iter_mut()
            .find(|t| t.from == r.from && t.to == r.to)
        {
            t.cases += r.cases;
            t.businesses += r.businesses;
        }
    }
    let stage_pos = |s: Stage| Stage::ALL.iter().position(|&x| x == s).unwrap_or(0);
    transitions.sort_by_key(|t| (stage_pos(t.from), stage_pos(t.to)));
    let reach = |from, to| {
        transitions
            .iter()
            .find(|t| t.from == from && t.to == to)
            .map_or(0, |t| t.businesses)
    };
    let stage_movements = StageMovements {
        know_to_consult: reach(Stage::Know, Stage::Consult),
        consult_to_try: reach(Stage::Consult, Stage::Try),
        transitions,
    };

    // KPIs (only in the lab's own report).
    let kpis = if ctx.institution.is_some() {
        Vec::new()
    } else {
        ctx.kpi_targets
            .iter()
            .filter(|k| k.fiscal_year == fy)
            .map(|k| {
                let actual = match k.metric {
                    KpiMetric::CasesOpened => Some(cases_opened as f64),
                    KpiMetric::BusinessesSupported => Some(businesses_supported as f64),
                    KpiMetric::NewBusinesses => Some(new_businesses as f64),
                    KpiMetric::Outcome(o) => outcomes
                        .iter()
                        .find(|c| c.outcome == o)
                        .map(|c| c.cases as f64),
                    KpiMetric::Manual => k.manual_actual,
                };
                KpiProgress {
                    id: k.id,
                    name: k.name.clone(),
                    unit: k.unit.clone(),
                    target: k.target,
                    metric: k.metric.code(),
                    actual,
                    progress: actual
                        .filter(|_| k.target > 0.0)
                        .map(|a| round_rate(a / k.target)),
                }
            })
            .collect()
    };

    ActivityReport {
        fiscal_year: fy,
        label: fiscal_year::reiwa_label(fy),
        label_en: fiscal_year::label_en(fy),
        from,
        to,
        generated_at: ctx.generated_at,
        institution: ctx.institution.clone(),
        cases_opened,
        by_stage: enum_items(Stage::ALL, &stages, Stage::as_str, Stage::label_ja),
        by_status: enum_items(
            CaseStatus::ALL,
            &statuses,
            CaseStatus::as_str,
            CaseStatus::label_ja,
        ),
        by_channel: enum_items(Channel::ALL, &channels, Channel::as_str, Channel::label_ja),
        by_industry,
        by_region,
        by_municipality,
        businesses_supported,
        new_businesses,
        referrals,
        referrals_by_institution,
        resolution,
        outcomes,
        stage_movements,
        monthly,
        kpis,
    }
}

fn unknown(count: i64) -> CountItem {
    CountItem {
        key: UNKNOWN_KEY.to_owned(),
        label: UNKNOWN_LABEL.to_owned(),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn jst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        jst::to_utc(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }

    proptest::proptest! {
        /// The summary from the values at its deciding ranks equals the one
        /// from the whole sample (what the rollup reads from an index).
        #[test]
        fn summary_from_ranks_equals_summary_of_sample(
            v in proptest::collection::vec(0.0f64..400.0, 0..60)
        ) {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as i64;
            let ranked = DaySummary::from_ranked(n, |r| sorted.get((r - 1) as usize).copied());
            proptest::prop_assert_eq!(ranked, DaySummary::of(v));
        }
    }

    #[test]
    fn month_starts_agree_with_month_index() {
        let m = month_starts(2024);
        assert_eq!(m[0], fiscal_year_bounds(2024).0);
        assert_eq!(m[12], fiscal_year_bounds(2024).1);
        assert_eq!(m[9], Utc.with_ymd_and_hms(2024, 12, 31, 15, 0, 0).unwrap());
        for i in 0..12 {
            assert_eq!(fiscal_year::month_index(m[i]), i as u32);
            assert_eq!(
                fiscal_year::month_index(m[i + 1] - chrono::Duration::microseconds(1)),
                i as u32
            );
        }
    }

    #[test]
    fn kpi_metric_codes_round_trip() {
        for m in KpiMetric::all() {
            assert_eq!(KpiMetric::parse(&m.code()), Some(m));
            assert!(!m.label_ja().is_empty());
        }
        assert_eq!(
            KpiMetric::parse(" outcome:dx_certified "),
            Some(KpiMetric::Outcome(Outcome::DxCertified))
        );
        assert_eq!(KpiMetric::parse("OUTCOME:NOPE"), None);
        assert_eq!(KpiMetric::parse("OUTCOME:"), None);
        assert_eq!(KpiMetric::all().len(), 3 + 9 + 1);
    }

    #[test]
    fn kpi_input_checks_name_each_field() {
        let ok = check_kpi_target(2024, " 研修修了者 ", "人", 10.0, "MANUAL").unwrap();
        assert_eq!(ok.name, "研修修了者");
        let field = |r: Result<KpiTargetInput, DomainError>| {
            r.unwrap_err()
                .field()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        assert_eq!(
            field(check_kpi_target(1999, "a", "人", 1.0, "MANUAL")),
            "fiscalYear"
        );
        assert_eq!(
            field(check_kpi_target(2024, " ", "人", 1.0, "MANUAL")),
            "name"
        );
        assert_eq!(
            field(check_kpi_target(2024, "a", "", 1.0, "MANUAL")),
            "unit"
        );
        assert_eq!(
            field(check_kpi_target(2024, "a", "人", -1.0, "MANUAL")),
            "target"
        );
        assert_eq!(
            field(check_kpi_target(2024, "a", "人", f64::NAN, "MANUAL")),
            "target"
        );
        assert_eq!(
            field(check_kpi_target(2024, "a", "人", 1.0, "CASES")),
            "metric"
        );
    }

    fn inst(n: u128, name: &str) -> InstitutionInfo {
        InstitutionInfo {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            kind: InstitutionKind::Financial,
        }
    }

    #[test]
    fn assembles_marginals_and_kpis() {
        let ctx = ReportContext {
            fiscal_year: 2024,
            generated_at: jst(2025, 4, 10, 9, 0),
            regions: vec![
                RegionInfo {
                    code: "A".into(),
                    name: "地域A".into(),
                    municipalities: vec!["甲市".into(), "乙町".into()],
                },
                RegionInfo {
                    code: "B".into(),
                    name: "地域B".into(),
                    municipalities: vec!["丙村".into()],
                },
            ],
            institutions: vec![inst(1, "銀行"), inst(2, "大学")],
            institution: None,
            kpi_targets: vec![
                KpiTarget {
                    id: Uuid::from_u128(9),
                    fiscal_year: 2024,
                    name: "相談".into(),
                    unit: "件".into(),
                    target: 4.0,
                    metric: KpiMetric::CasesOpened,
                    manual_actual: None,
                },
                KpiTarget {
                    id: Uuid::from_u128(10),
                    fiscal_year: 2024,
                    name: "研修".into(),
                    unit: "人".into(),
                    target: 10.0,
                    metric: KpiMetric::Manual,
                    manual_actual: None,
                },
            ],
        };
        let facts = ReportFacts {
            cases: vec![
                CaseCell {
                    stage: Stage::Know,
                    status: CaseStatus::New,
                    referred: true,
                    channel: Channel::Phone,
                    month: 0,
                    count: 2,
                },
                CaseCell {
                    stage: Stage::Try,
                    status: CaseStatus::Resolved,
                    referred: false,
                    channel: Channel::Phone,
                    month: 11,
                    count: 1,
                },
            ],
            places: vec![
                PlaceCell {
                    industry: Some("E".into()),
                    region: Some("B".into()),
                    municipality: Some("丙村".into()),
                    count: 2,
                },
                PlaceCell {
                    industry: None,
                    region: None,
                    municipality: None,
                    count: 1,
                },
            ],
            referrals: vec![
                ReferralCell {
                    institution_id: Uuid::from_u128(2),
                    status: ReferralStatus::Declined,
                    reason: Some(DeclineReason::NoCapacity),
                    month: 1,
                    count: 1,
                    overdue: 0,
                },
                ReferralCell {
                    institution_id: Uuid::from_u128(2),
                    status: ReferralStatus::Completed,
                    reason: None,
                    month: 1,
                    count: 3,
                    overdue: 0,
                },
                ReferralCell {
                    institution_id: Uuid::from_u128(1),
                    status: ReferralStatus::Pending,
                    reason: None,
                    month: 2,
                    count: 2,
                    overdue: 1,
                },
            ],
            ..Default::default()
        };
        let r = assemble(&ctx, &facts);
        assert_eq!(r.label, "令和6年度");
        assert_eq!(r.cases_opened, 3);
        let count = |v: &[CountItem], k: &str| v.iter().find(|c| c.key == k).unwrap().count;
        assert_eq!(count(&r.by_status, "REFERRED"), 2);
        assert_eq!(count(&r.by_status, "NEW"), 0);
        assert_eq!(count(&r.by_stage, "TRY"), 1);
        assert_eq!(r.by_region.len(), 3);
        assert_eq!(r.by_region[1].count, 2);
        assert_eq!(r.by_region[2].key, UNKNOWN_KEY);
        assert_eq!(r.by_industry[0].label, "製造業");
        assert_eq!(r.by_municipality[0].key, "丙村");
        assert_eq!(r.monthly[0].cases_opened, 2);
        assert_eq!(r.monthly[11].year_month, "2025-03");
        assert_eq!(r.referrals.referrals, 6);
        assert_eq!(r.referrals.accepted, 3);
        assert_eq!(r.referrals.acceptance_rate, Some(0.75));
        assert_eq!(r.referrals.open, 2);
        assert_eq!(r.referrals.overdue, 1);
        assert_eq!(r.referrals_by_institution[0].institution.name, "大学");
        assert_eq!(r.referrals_by_institution[1].figures.acceptance_rate, None);
        assert_eq!(r.kpis[0].actual, Some(3.0));
        assert_eq!(r.kpis[0].progress, Some(0.75));
        assert_eq!(r.kpis[1].actual, None);
        assert_eq!(r.outcomes.len(), Outcome::ALL.len());
    }
}
