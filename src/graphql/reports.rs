//! The lab's year: `activityReport`, KPI targets and their administration.
//!
//! The resolvers are thin: `crate::service::reports` builds the report (the same one the
//! CSV/JSON exports and `dxdesk report` use) and these types carry it to the
//! front end. Definitions of every figure are in `docs/report-format.md`.

use super::{admin, parse_id, state, viewer};
use crate::domain::report::{self as r, KpiMetric};
use crate::domain::types::{InstitutionKind, Outcome, Stage};
use crate::error::AppResult;
use crate::service::reports as svc;
use crate::service::reports::kpi::{self, KpiTargetChange};
use crate::store::reports::KpiTargetRow;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// One row of a breakdown (by stage, status, channel, industry, region, municipality, decline reason).
#[derive(SimpleObject, Clone)]
pub struct CountItem {
    /// What is counted: an enum value (`KNOW`, `IN_PROGRESS`, `PHONE`, `NO_CAPACITY`), a JSIC
    /// division letter (`E`), a region code (`TOSEI`) or a municipality name (`青森市`).
    /// Empty when the value was not recorded (e.g. a business without an industry).
    pub key: String,
    /// Japanese label to display: 「知る」「対応中」「製造業」「東青」「青森市」; 「未設定」 for the empty key.
    pub label: String,
    pub count: i64,
}

impl From<&r::CountItem> for CountItem {
    fn from(c: &r::CountItem) -> Self {
        CountItem {
            key: c.key.clone(),
            label: c.label.clone(),
            count: c.count,
        }
    }
}

fn items(v: &[r::CountItem]) -> Vec<CountItem> {
    v.iter().map(CountItem::from).collect()
}

/// Referral figures, of one institution or of all together. Referrals are those
/// created in the fiscal year, counted by their current status.
#[derive(SimpleObject, Clone)]
pub struct ReferralFigures {
    /// Referrals created in the year (every status; a partner's report leaves out withdrawn ones).
    pub referrals: i64,
    /// Still awaiting pick-up.
    pub pending: i64,
    /// Picked up: currently `ACCEPTED` or since `COMPLETED`.
    pub accepted: i64,
    pub declined: i64,
    /// Withdrawn by the desk before pick-up.
    pub withdrawn: i64,
    /// Support finished and handed back.
    pub completed: i64,
    /// Open now: `PENDING` or `ACCEPTED`.
    pub open: i64,
    /// `PENDING` and past the pick-up deadline now (the escalation list).
    pub overdue: i64,
    /// accepted / (accepted + declined), 0…1 (4 decimals); null when none was decided yet.
    pub acceptance_rate: Option<f64>,
    /// Declined referrals by reason (`DeclineReason` names as keys), reasons with none left out.
    pub decline_reasons: Vec<CountItem>,
    /// How many referrals were decided (accepted or declined): the sample of the pick-up times.
    pub pickup_count: i64,
    /// Median time from referral to the institution's decision (accept or decline), in Japanese
    /// business days (weekends, public holidays and 12/29–1/3 excluded; fractions of a day count),
    /// rounded to 0.01. Null when nothing was decided.
    pub pickup_median_days: Option<f64>,
    /// 90th percentile (nearest rank) of the same, in business days.
    pub pickup_p90_days: Option<f64>,
}

impl From<&r::ReferralFigures> for ReferralFigures {
    fn from(f: &r::ReferralFigures) -> Self {
        ReferralFigures {
            referrals: f.referrals,
            pending: f.pending,
            accepted: f.accepted,
            declined: f.declined,
            withdrawn: f.withdrawn,
            completed: f.completed,
            open: f.open,
            overdue: f.overdue,
            acceptance_rate: f.acceptance_rate,
            decline_reasons: items(&f.decline_reasons),
            pickup_count: f.pickup_count,
            pickup_median_days: f.pickup_median_days,
            pickup_p90_days: f.pickup_p90_days,
        }
    }
}

/// An institution named in a report.
#[derive(SimpleObject, Clone)]
pub struct ReportInstitution {
    pub id: ID,
    pub name: String,
    pub kind: InstitutionKind,
}

impl From<&r::InstitutionInfo> for ReportInstitution {
    fn from(i: &r::InstitutionInfo) -> Self {
        ReportInstitution {
            id: ID(i.id.to_string()),
            name: i.name.clone(),
            kind: i.kind,
        }
    }
}

/// The referral figures of one institution (only institutions that received
/// referrals in the year are listed).
#[derive(SimpleObject, Clone)]
pub struct InstitutionReferrals {
    pub institution: ReportInstitution,
    pub figures: ReferralFigures,
}

/// Time from opening a case to resolving it, over the cases resolved in the
/// fiscal year (now `RESOLVED` or `CLOSED`), in calendar days.
#[derive(SimpleObject, Clone)]
pub struct ResolutionFigures {
    pub cases_resolved: i64,
    /// Median days from opening to resolution, rounded to 0.01; null when none was resolved.
    pub median_days: Option<f64>,
    /// 90th percentile (nearest rank) of the same.
    pub p90_days: Option<f64>,
}

/// How often an outcome was recorded on the cases resolved in the fiscal year.
#[derive(SimpleObject, Clone)]
pub struct OutcomeCount {
    pub outcome: Outcome,
    /// Japanese label, e.g. 「DX認定取得」.
    pub label: String,
    /// Cases resolved in the year with this outcome (what `OUTCOME:<name>` KPI targets count).
    pub cases: i64,
    /// Distinct businesses among them.
    pub businesses: i64,
}

/// Stage changes (`STAGE_CHANGED` events) from one stage to another in the fiscal year.
#[derive(SimpleObject, Clone)]
pub struct StageTransition {
    pub from: Stage,
    pub to: Stage,
    /// Number of changes.
    pub events: i64,
    /// Distinct cases that changed.
    pub cases: i64,
    /// Distinct businesses whose case changed.
    pub businesses: i64,
}

/// How many businesses moved on through the stages (知る → 相談する → 試す) in the fiscal year.
#[derive(SimpleObject, Clone)]
pub struct StageMovements {
    /// Distinct businesses with a KNOW → CONSULT change in the year.
    pub know_to_consult: i64,
    /// Distinct businesses with a CONSULT → TRY change in the year.
    pub consult_to_try: i64,
    /// Every (from, to) pair that occurred, in stage order (including backward moves and KNOW → TRY).
    pub transitions: Vec<StageTransition>,
}

/// The headline figures of one month of the fiscal year, for charts.
#[derive(SimpleObject, Clone)]
pub struct MonthlyFigures {
    /// 0 = April … 11 = March.
    pub index: i32,
    /// Calendar month, e.g. `2024-04` (Japan time).
    pub year_month: String,
    /// 「4月」…「3月」.
    pub label: String,
    /// Cases opened in the month.
    pub cases_opened: i64,
    /// New businesses (first case ever) whose first case was opened in the month.
    pub new_businesses: i64,
    /// Referrals created in the month.
    pub referrals: i64,
    /// Cases resolved in the month.
    pub cases_resolved: i64,
    /// KNOW → CONSULT changes in the month (events, not distinct businesses).
    pub know_to_consult: i64,
    /// CONSULT → TRY changes in the month (events).
    pub consult_to_try: i64,
}

/// A KPI target of the year beside its actual figure.
#[derive(SimpleObject, Clone)]
pub struct KpiProgress {
    /// The `KpiTarget` id (for `setKpiActual`, `upsertKpiTarget`, `deleteKpiTarget`).
    pub id: ID,
    pub name: String,
    /// 件, 社, 人…
    pub unit: String,
    pub target: f64,
    /// `CASES_OPENED`, `BUSINESSES_SUPPORTED`, `NEW_BUSINESSES`, `OUTCOME:<Outcome>` or `MANUAL`.
    pub metric: String,
    /// Japanese description of the metric, e.g. 「成果「DX認定取得」の件数」.
    pub metric_label: String,
    /// Whether the actual is entered by hand (`setKpiActual`).
    pub manual: bool,
    /// The actual figure of the year; null for a MANUAL target not entered yet.
    pub actual: Option<f64>,
    /// actual / target (1.0 = reached; may exceed 1), 4 decimals; null without an actual or with a 0 target.
    pub progress: Option<f64>,
}

/// The activity report of one fiscal year (April 1 – March 31, Japan time).
///
/// Desk staff (ADMIN, CONCIERGE) get their whole lab's year. A PARTNER gets the
/// same shape restricted to their own institution: its referrals (withdrawn
/// ones left out) and only the cases it may read (those with a pending,
/// accepted or completed referral to it); `institution` is then set and `kpis`
/// is empty. Another lab's data never appears.
#[derive(SimpleObject, Clone)]
pub struct ActivityReport {
    /// e.g. 2024 for April 2024 – March 2025.
    pub fiscal_year: i32,
    /// 令和6年度.
    pub label: String,
    /// FY2024.
    pub label_en: String,
    /// Start of the year (inclusive): April 1 00:00 JST.
    pub from: DateTime<Utc>,
    /// End of the year (exclusive): the next April 1 00:00 JST.
    pub to: DateTime<Utc>,
    /// When the figures were computed (overdue counts are as of this time).
    pub generated_at: DateTime<Utc>,
    /// Set when the report is restricted to a partner's institution.
    pub institution: Option<ReportInstitution>,
    /// Cases (consultations) opened in the year.
    pub cases_opened: i64,
    /// Those cases by current stage (every stage, in order KNOW, CONSULT, TRY).
    pub by_stage: Vec<CountItem>,
    /// Those cases by current status, with the derived REFERRED (every status, in enum order).
    pub by_status: Vec<CountItem>,
    /// Those cases by channel (every channel, in enum order).
    pub by_channel: Vec<CountItem>,
    /// Those cases by their business's industry (JSIC division letter A–T, label its Japanese
    /// name), letters with none left out, the empty key (not recorded) last.
    pub by_industry: Vec<CountItem>,
    /// Those cases by their business's region: every region of the lab in the lab's order
    /// (zeros included), then unknown codes, then the empty key.
    pub by_region: Vec<CountItem>,
    /// Those cases by their business's municipality, in the lab's order, those with none left
    /// out, the empty key last.
    pub by_municipality: Vec<CountItem>,
    /// Distinct businesses with a case opened in the year.
    pub businesses_supported: i64,
    /// Of those, businesses whose first case ever was opened in the year.
    pub new_businesses: i64,
    /// Referral figures over all institutions.
    pub referrals: ReferralFigures,
    /// Referral figures per institution, most referrals first.
    pub referrals_by_institution: Vec<InstitutionReferrals>,
    /// Opening → resolution over the cases resolved in the year.
    pub resolution: ResolutionFigures,
    /// Every outcome (in enum order) with its counts over the cases resolved in the year.
    pub outcomes: Vec<OutcomeCount>,
    pub stage_movements: StageMovements,
    /// Twelve months, April … March.
    pub monthly: Vec<MonthlyFigures>,
    /// The lab's KPI targets for the year with their actuals (empty in a partner's report).
    pub kpis: Vec<KpiProgress>,
}

impl From<r::ActivityReport> for ActivityReport {
    fn from(a: r::ActivityReport) -> Self {
        ActivityReport {
            fiscal_year: a.fiscal_year,
            label: a.label,
            label_en: a.label_en,
            from: a.from,
            to: a.to,
            generated_at: a.generated_at,
            institution: a.institution.as_ref().map(ReportInstitution::from),
            cases_opened: a.cases_opened,
            by_stage: items(&a.by_stage),
            by_status: items(&a.by_status),
            by_channel: items(&a.by_channel),
            by_industry: items(&a.by_industry),
            by_region: items(&a.by_region),
            by_municipality: items(&a.by_municipality),
            businesses_supported: a.businesses_supported,
            new_businesses: a.new_businesses,
            referrals: (&a.referrals).into(),
            referrals_by_institution: a
                .referrals_by_institution
                .iter()
                .map(|i| InstitutionReferrals {
                    institution: (&i.institution).into(),
                    figures: (&i.figures).into(),
                })
                .collect(),
            resolution: ResolutionFigures {
                cases_resolved: a.resolution.cases_resolved,
                median_days: a.resolution.median_days,
                p90_days: a.resolution.p90_days,
            },
            outcomes: a
                .outcomes
                .iter()
                .map(|o| OutcomeCount {
                    outcome: o.outcome,
                    label: o.label.clone(),
                    cases: o.cases,
                    businesses: o.businesses,
                })
                .collect(),
            stage_movements: StageMovements {
                know_to_consult: a.stage_movements.know_to_consult,
                consult_to_try: a.stage_movements.consult_to_try,
                transitions: a
                    .stage_movements
                    .transitions
                    .iter()
                    .map(|t| StageTransition {
                        from: t.from,
                        to: t.to,
                        events: t.events,
                        cases: t.cases,
                        businesses: t.businesses,
                    })
                    .collect(),
            },
            monthly: a
                .monthly
                .iter()
                .map(|m| MonthlyFigures {
                    index: m.index as i32,
                    year_month: m.year_month.clone(),
                    label: m.label.clone(),
                    cases_opened: m.cases_opened,
                    new_businesses: m.new_businesses,
                    referrals: m.referrals,
                    cases_resolved: m.cases_resolved,
                    know_to_consult: m.know_to_consult,
                    consult_to_try: m.consult_to_try,
                })
                .collect(),
            kpis: a
                .kpis
                .iter()
                .map(|k| {
                    let metric = KpiMetric::parse(&k.metric).unwrap_or(KpiMetric::Manual);
                    KpiProgress {
                        id: ID(k.id.to_string()),
                        name: k.name.clone(),
                        unit: k.unit.clone(),
                        target: k.target,
                        metric: k.metric.clone(),
                        metric_label: metric.label_ja(),
                        manual: metric.is_manual(),
                        actual: k.actual,
                        progress: k.progress,
                    }
                })
                .collect(),
        }
    }
}

/// A KPI target the lab secretariat set for a fiscal year.
pub struct KpiTarget(pub KpiTargetRow);

#[Object]
impl KpiTarget {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn fiscal_year(&self) -> i32 {
        self.0.fiscal_year as i32
    }
    /// e.g. 「デジタル人材（デジタル塾修了生）の育成」.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// 件, 社, 人…
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    async fn target(&self) -> f64 {
        self.0.target
    }
    /// Which figure counts toward it: `CASES_OPENED`, `BUSINESSES_SUPPORTED`,
    /// `NEW_BUSINESSES`, `OUTCOME:<Outcome>` (e.g. `OUTCOME:DX_CERTIFIED`) or `MANUAL`.
    async fn metric(&self) -> String {
        self.metric_parsed().code()
    }
    /// Japanese description of the metric.
    async fn metric_label(&self) -> String {
        self.metric_parsed().label_ja()
    }
    /// Whether the actual is entered by hand (metric `MANUAL`).
    async fn manual(&self) -> bool {
        self.metric_parsed().is_manual()
    }
    /// The hand-entered actual of a MANUAL target (null until entered, and for computed metrics).
    async fn manual_actual(&self) -> Option<f64> {
        self.0.manual_actual
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl KpiTarget {
    fn metric_parsed(&self) -> KpiMetric {
        KpiMetric::parse(&self.0.metric).unwrap_or(KpiMetric::Manual)
    }
}

/// A metric a KPI target can count, for the target editor's picker.
#[derive(SimpleObject)]
pub struct KpiMetricOption {
    /// The value for `KpiTargetInput.metric`.
    pub code: String,
    pub label: String,
    pub label_en: String,
    /// Whether targets of this metric take a hand-entered actual.
    pub manual: bool,
}

/// A KPI target to create or change. With `id`, that target is changed;
/// without, the lab's target of the same fiscal year and name is changed if it
/// exists, otherwise a new one is created.
#[derive(InputObject)]
pub struct KpiTargetInput {
    pub id: Option<ID>,
    /// 2000…2100.
    pub fiscal_year: i32,
    /// Not blank, at most 120 characters; unique per lab and year.
    pub name: String,
    /// Not blank, at most 20 characters (件, 社, 人…).
    pub unit: String,
    /// 0 … 1,000,000,000.
    pub target: f64,
    /// `CASES_OPENED`, `BUSINESSES_SUPPORTED`, `NEW_BUSINESSES`, `OUTCOME:<Outcome>` or `MANUAL`.
    pub metric: String,
    /// Only for `MANUAL` targets: the hand-entered actual (omit to keep the current one).
    pub manual_actual: Option<f64>,
}

#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// The activity report of a fiscal year (2024 = 令和6年度, April 2024 – March 2025)
    /// for the viewer's lab; for a partner, restricted to their institution.
    async fn activity_report(
        &self,
        ctx: &Context<'_>,
        fiscal_year: i32,
    ) -> AppResult<ActivityReport> {
        let v = viewer(ctx)?;
        Ok(svc::report_for(state(ctx), v, fiscal_year).await?.into())
    }

    /// The fiscal years a report can be asked for, newest first: from the year of
    /// the lab's first case (or the current year) to the current one.
    async fn report_fiscal_years(&self, ctx: &Context<'_>) -> AppResult<Vec<i32>> {
        svc::fiscal_years(state(ctx), viewer(ctx)?).await
    }

    /// The lab's KPI targets (desk staff), of one fiscal year or, without it, of all years.
    async fn kpi_targets(
        &self,
        ctx: &Context<'_>,
        fiscal_year: Option<i32>,
    ) -> AppResult<Vec<KpiTarget>> {
        let v = viewer(ctx)?;
        Ok(svc::kpi_targets(state(ctx), v, fiscal_year)
            .await?
            .into_iter()
            .map(KpiTarget)
            .collect())
    }

    /// The metrics a KPI target can count.
    async fn kpi_metrics(&self, ctx: &Context<'_>) -> AppResult<Vec<KpiMetricOption>> {
        viewer(ctx)?;
        Ok(KpiMetric::all()
            .into_iter()
            .map(|m| KpiMetricOption {
                code: m.code(),
                label: m.label_ja(),
                label_en: m.label_en(),
                manual: m.is_manual(),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct ReportMutation;

#[Object]
impl ReportMutation {
    /// Creates or changes a KPI target of the admin's lab (see `KpiTargetInput`).
    /// `BAD_USER_INPUT` names the offending field; `CONFLICT` when another target
    /// of that year already has the name.
    async fn upsert_kpi_target(
        &self,
        ctx: &Context<'_>,
        input: KpiTargetInput,
    ) -> AppResult<KpiTarget> {
        let v = admin(ctx)?;
        let st = state(ctx);
        let id = match &input.id {
            Some(id) => Some(parse_id(id, "KPI目標", "KPI target")?),
            None => None,
        };
        let row = kpi::upsert(
            st.store.as_ref(),
            v.lab_id,
            KpiTargetChange {
                id,
                fiscal_year: input.fiscal_year,
                name: input.name,
                unit: input.unit,
                target: input.target,
                metric: input.metric,
                manual_actual: input.manual_actual,
            },
            st.now(),
        )
        .await?;
        Ok(KpiTarget(row))
    }

    /// Deletes a KPI target of the admin's lab; true when done.
    async fn delete_kpi_target(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let v = admin(ctx)?;
        let id = parse_id(&id, "KPI目標", "KPI target")?;
        kpi::delete(state(ctx).store.as_ref(), v.lab_id, id).await?;
        Ok(true)
    }

    /// Enters (or with null clears) the actual of a `MANUAL` KPI target, e.g. the
    /// number of people who completed the lab's digital course.
    async fn set_kpi_actual(
        &self,
        ctx: &Context<'_>,
        id: ID,
        actual: Option<f64>,
    ) -> AppResult<KpiTarget> {
        let v = admin(ctx)?;
        let st = state(ctx);
        let id = parse_id(&id, "KPI目標", "KPI target")?;
        let row = kpi::set_actual(st.store.as_ref(), v.lab_id, id, actual, st.now()).await?;
        Ok(KpiTarget(row))
    }
}
