//! The report area of the store: the SQL aggregates behind the fiscal-year
//! activity report, the rows of the CSV exports, and the labs' KPI targets.
//!
//! Every figure is a `GROUP BY` over the lab's rows in `[from, to)` of the
//! fiscal year, using the `(lab_id, created_at)`-style indexes (see
//! `0002_report_indexes.sql`); months are bucketed in SQL by comparing with the
//! 11 month starts bound as parameters, so no date function of either dialect
//! is needed. Only the timestamp pairs that need business-day or duration maths
//! (pick-ups, resolutions) are fetched and computed in Rust
//! (`domain::report::assemble`). The one dialect difference, reading a JSON
//! field, comes from [`super::db::Dialect`].

use super::db::{sql, Col, HasDb, Pool, Sql};
use super::rules::{self, PENDING, WITHDRAWN};
use super::unique_or;
use crate::domain::fiscal_year::fiscal_year_bounds;
use crate::domain::report::*;
use crate::domain::types::*;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// Whose figures a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportScope {
    pub lab_id: Uuid,
    /// `Some` for a partner: only that institution's referrals (not
    /// withdrawn ones) and the cases it may read (a `PENDING`, `ACCEPTED` or
    /// `COMPLETED` referral to it).
    pub institution_id: Option<Uuid>,
}

impl ReportScope {
    pub fn lab(lab_id: Uuid) -> Self {
        Self {
            lab_id,
            institution_id: None,
        }
    }
}

/// A KPI target as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KpiTargetRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub fiscal_year: i64,
    pub name: String,
    pub unit: String,
    pub target: f64,
    /// `CASES_OPENED`, `BUSINESSES_SUPPORTED`, `NEW_BUSINESSES`, `OUTCOME:<OUTCOME>` or `MANUAL`.
    pub metric: String,
    pub manual_actual: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KpiTargetRow {
    /// The domain view; an unknown metric (edited by hand in the database) counts as `MANUAL`.
    pub fn to_domain(&self) -> KpiTarget {
        KpiTarget {
            id: self.id,
            fiscal_year: self.fiscal_year as i32,
            name: self.name.clone(),
            unit: self.unit.clone(),
            target: self.target,
            metric: KpiMetric::parse(&self.metric).unwrap_or(KpiMetric::Manual),
            manual_actual: self.manual_actual,
        }
    }
}

/// One row of the cases CSV: no contact name, e-mail or phone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseExportRow {
    pub id: Uuid,
    pub reference: String,
    pub created_at: DateTime<Utc>,
    pub business_name: String,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub municipality: Option<String>,
    pub channel: Channel,
    pub stage: Stage,
    pub status: CaseStatus,
    /// Whether a `PENDING` referral makes the status show as `REFERRED`.
    pub referred: i64,
    pub priority: Priority,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcomes: Json<Vec<Outcome>>,
    pub referral_count: i64,
}

/// One row of the referrals CSV.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralExportRow {
    pub id: Uuid,
    pub reference: String,
    pub business_name: String,
    pub institution_name: String,
    pub status: ReferralStatus,
    pub reason: Option<DeclineReason>,
    pub created_at: DateTime<Utc>,
    pub pickup_deadline: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The aggregates of fiscal year `fy` in `scope`; `now` decides what is
    /// overdue. A lab's own report reads the rollup (`store::rollup`), a
    /// partner's is computed from the rows.
    async fn report_facts(
        &self,
        scope: ReportScope,
        fy: i32,
        now: DateTime<Utc>,
    ) -> AppResult<ReportFacts>;

    /// The same aggregates computed from the case, referral and event rows,
    /// whatever the scope (what the rollup must equal).
    async fn report_facts_from_scratch(
        &self,
        scope: ReportScope,
        fy: i32,
        now: DateTime<Utc>,
    ) -> AppResult<ReportFacts>;

    /// Rebuilds the report's rollup from the cases (`dxdesk report rebuild-rollup`).
    async fn rebuild_rollup(&self) -> AppResult<super::rollup::RebuildReport>;

    /// When the lab's first case was opened (for the fiscal-year picker).
    async fn first_case_at(&self, lab_id: Uuid) -> AppResult<Option<DateTime<Utc>>>;

    /// Cases opened in fiscal year `fy` in `scope`, oldest first.
    async fn export_cases(&self, scope: ReportScope, fy: i32) -> AppResult<Vec<CaseExportRow>>;
    /// (case id, topic) of the cases opened in fiscal year `fy` in `scope`.
    async fn export_case_topics(
        &self,
        scope: ReportScope,
        fy: i32,
    ) -> AppResult<Vec<(Uuid, String)>>;
    /// Referrals created in fiscal year `fy` in `scope`, oldest first.
    async fn export_referrals(
        &self,
        scope: ReportScope,
        fy: i32,
    ) -> AppResult<Vec<ReferralExportRow>>;

    /// The lab's KPI targets, of one fiscal year or all, by year then creation (ids are v7: creation order).
    async fn kpi_targets(&self, lab_id: Uuid, fy: Option<i32>) -> AppResult<Vec<KpiTargetRow>>;
    async fn kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<KpiTargetRow>>;
    /// `CONFLICT` when the lab already has a target of that name in that year.
    async fn insert_kpi_target(&self, row: &KpiTargetRow) -> AppResult<()>;
    /// Updates name, unit, target, metric, year and actual; false when not found.
    async fn update_kpi_target(&self, row: &KpiTargetRow) -> AppResult<bool>;
    async fn delete_kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<bool>;
}

/// The report's query parameters: the scope, the fiscal year's bounds and its
/// month starts.
#[derive(Clone, Copy)]
struct Span<'a> {
    s: ReportScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    months: &'a [DateTime<Utc>; 13],
}

impl Span<'_> {
    /// Appends `<lab col> = lab AND <col> >= from AND <col> < to`.
    fn push_in_year(&self, q: &mut Sql, lab_col: &str, col: &str) {
        q.push(&format!("{lab_col} = "))
            .bind(self.s.lab_id)
            .push(&format!(" AND {col} >= "))
            .bind(self.from)
            .push(&format!(" AND {col} < "))
            .bind(self.to);
    }

    /// Appends the month index 0 … 11 of `col`, by comparing it with the
    /// starts of May … March.
    fn push_bucket(&self, q: &mut Sql, col: &str) {
        q.push("CAST(CASE");
        for (i, m) in self.months[1..12].iter().enumerate() {
            q.push(&format!(" WHEN {col} < "))
                .bind(*m)
                .push(&format!(" THEN {i}"));
        }
        q.push(" ELSE 11 END AS BIGINT)");
    }

    /// Restricts a case (by its id expression) to those the partner may read.
    /// A semi-join on the institution's referrals (computed once), not a
    /// per-row lookup.
    fn push_case_scope(&self, q: &mut Sql, case_id: &str) {
        if let Some(inst) = self.s.institution_id {
            q.push(&format!(
                " AND {case_id} IN (SELECT sr.case_id FROM referrals sr WHERE sr.lab_id = "
            ))
            .bind(self.s.lab_id)
            .push(" AND sr.institution_id = ")
            .bind(inst)
            .push(&format!(" AND sr.status IN {})", *rules::PARTNER_VISIBLE));
        }
    }

    /// The same restriction as a per-row lookup, for a correlated subquery
    /// (where SQLite would re-evaluate a semi-join for every outer row).
    fn push_case_scope_row(&self, q: &mut Sql, case_id: &str) {
        if let Some(inst) = self.s.institution_id {
            q.push(&format!(" AND EXISTS (SELECT 1 FROM referrals sr WHERE sr.case_id = {case_id} AND sr.institution_id = "))
                .bind(inst)
                .push(&format!(" AND sr.status IN {})", *rules::PARTNER_VISIBLE));
        }
    }

    /// Restricts referrals (alias `r`) to the partner's institution, withdrawn ones left out.
    fn push_referral_scope(&self, q: &mut Sql) {
        if let Some(inst) = self.s.institution_id {
            q.push(" AND r.institution_id = ")
                .bind(inst)
                .push(&format!(" AND r.status <> {WITHDRAWN}"));
        }
    }

    /// `CASE WHEN c is shown as REFERRED THEN 1 ELSE 0 END` for a case `c` of the lab.
    fn push_referred(&self, q: &mut Sql) {
        q.push(&format!(
            "CAST(CASE WHEN c.status IN {} AND c.id IN (SELECT pr.case_id FROM referrals pr WHERE pr.lab_id = ",
            *rules::SHOWN_AS_REFERRED
        ))
        .bind(self.s.lab_id)
        .push(&format!(" AND pr.status = {PENDING}) THEN 1 ELSE 0 END AS BIGINT)"));
    }
}

const KPI_COLS: &str =
    "id, lab_id, fiscal_year, name, unit, target, metric, manual_actual, created_at, updated_at";

fn kpi_row(r: &KpiTargetRow) -> Vec<Col> {
    vec![
        ("id", r.id.into()),
        ("lab_id", r.lab_id.into()),
        ("fiscal_year", r.fiscal_year.into()),
        ("name", (&r.name).into()),
        ("unit", (&r.unit).into()),
        ("target", r.target.into()),
        ("metric", (&r.metric).into()),
        ("manual_actual", r.manual_actual.into()),
        ("created_at", r.created_at.into()),
        ("updated_at", r.updated_at.into()),
    ]
}

fn duplicate_kpi(name: &str) -> AppError {
    AppError::conflict(
        format!("この年度には同じ名前の目標「{name}」が既にあります。"),
        format!("A target named {name:?} already exists for that fiscal year."),
    )
}

async fn facts_cases(pool: &Pool, y: Span<'_>) -> AppResult<Vec<CaseCell>> {
    let mut q = sql("SELECT c.stage, c.status, ");
    y.push_referred(&mut q);
    q.push(", c.channel, ");
    y.push_bucket(&mut q, "c.created_at");
    q.push(", COUNT(*) FROM cases c WHERE ");
    y.push_in_year(&mut q, "c.lab_id", "c.created_at");
    y.push_case_scope(&mut q, "c.id");
    q.push(" GROUP BY 1, 2, 3, 4, 5");
    let rows: Vec<(Stage, CaseStatus, i64, Channel, i64, i64)> = q.fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(stage, status, referred, channel, month, count)| CaseCell {
                stage,
                status,
                referred: referred != 0,
                channel,
                month: month as u32,
                count,
            },
        )
        .collect())
}

/// Businesses with a case opened in the year, one row per business first (its
/// cases in the year, its first one, whether it had an earlier case), then
/// joined to the business once: both the industry/region/municipality
/// breakdown of the cases and the businesses by month of their first case in
/// the year.
async fn facts_businesses(
    pool: &Pool,
    y: Span<'_>,
) -> AppResult<(Vec<PlaceCell>, Vec<BusinessCell>)> {
    let mut q = sql("SELECT b.industry, b.region, b.municipality, ");
    y.push_bucket(&mut q, "t.first_at");
    q.push(
        ", CAST(SUM(t.n) AS BIGINT), COUNT(*), CAST(SUM(t.is_new) AS BIGINT) FROM ( \
         SELECT c.business_id, COUNT(*) AS n, MIN(c.created_at) AS first_at, \
         CASE WHEN EXISTS (SELECT 1 FROM cases p WHERE p.business_id = c.business_id \
         AND p.created_at < ",
    )
    .bind(y.from)
    .push(" AND p.lab_id = ")
    .bind(y.s.lab_id);
    y.push_case_scope_row(&mut q, "p.id");
    q.push(") THEN 0 ELSE 1 END AS is_new FROM cases c WHERE ");
    y.push_in_year(&mut q, "c.lab_id", "c.created_at");
    y.push_case_scope(&mut q, "c.id");
    q.push(
        " GROUP BY c.business_id \
         ) t JOIN businesses b ON b.id = t.business_id \
         GROUP BY 1, 2, 3, 4",
    );
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        i64,
    );
    let rows: Vec<Row> = q.fetch_all(pool).await?;
    let mut places = Vec::new();
    let mut by_month = [(0i64, 0i64); 12];
    for (industry, region, municipality, month, cases, businesses, new_businesses) in rows {
        places.push(PlaceCell {
            industry,
            region,
            municipality,
            count: cases,
        });
        let m = &mut by_month[(month as usize).min(11)];
        m.0 += businesses;
        m.1 += new_businesses;
    }
    let businesses = by_month
        .iter()
        .enumerate()
        .filter(|(_, (b, _))| *b > 0)
        .map(|(month, &(businesses, new_businesses))| BusinessCell {
            month: month as u32,
            businesses,
            new_businesses,
        })
        .collect();
    Ok((places, businesses))
}

async fn facts_referrals(
    pool: &Pool,
    y: Span<'_>,
    now: DateTime<Utc>,
) -> AppResult<Vec<ReferralCell>> {
    let mut q = sql("SELECT r.institution_id, r.status, r.reason, ");
    y.push_bucket(&mut q, "r.created_at");
    q.push(", COUNT(*), SUM(CASE WHEN ");
    rules::push_overdue(&mut q, "r", now);
    q.push(" THEN 1 ELSE 0 END) FROM referrals r WHERE ");
    y.push_in_year(&mut q, "r.lab_id", "r.created_at");
    y.push_referral_scope(&mut q);
    q.push(" GROUP BY 1, 2, 3, 4");
    let rows: Vec<(Uuid, ReferralStatus, Option<DeclineReason>, i64, i64, i64)> =
        q.fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(institution_id, status, reason, month, count, overdue)| ReferralCell {
                institution_id,
                status,
                reason,
                month: month as u32,
                count,
                overdue,
            },
        )
        .collect())
}

/// Pick-up times of the decided referrals of the year, all together and per institution.
async fn facts_pickups(
    pool: &Pool,
    y: Span<'_>,
) -> AppResult<(DaySummary, Vec<(Uuid, DaySummary)>)> {
    let mut q = sql("SELECT r.institution_id, r.created_at, r.decided_at FROM referrals r WHERE ");
    y.push_in_year(&mut q, "r.lab_id", "r.created_at");
    q.push(&format!(
        " AND r.decided_at IS NOT NULL AND r.status IN {}",
        *rules::DECIDED
    ));
    y.push_referral_scope(&mut q);
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = q.fetch_all(pool).await?;
    let mut by_inst: std::collections::BTreeMap<Uuid, Vec<f64>> = Default::default();
    let mut all = Vec::with_capacity(rows.len());
    for (institution_id, created_at, decided_at) in rows {
        let d = pickup_days(created_at, decided_at);
        by_inst.entry(institution_id).or_default().push(d);
        all.push(d);
    }
    Ok((
        DaySummary::of(all),
        by_inst
            .into_iter()
            .map(|(id, v)| (id, DaySummary::of(v)))
            .collect(),
    ))
}

/// Resolution times of the cases resolved in the year, and how many by month.
async fn facts_resolutions(pool: &Pool, y: Span<'_>) -> AppResult<(DaySummary, [i64; 12])> {
    let mut q = sql("SELECT c.created_at, c.resolved_at FROM cases c WHERE ");
    y.push_in_year(&mut q, "c.lab_id", "c.resolved_at");
    q.push(&format!(" AND c.status IN {}", *rules::NOT_OPEN));
    y.push_case_scope(&mut q, "c.id");
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = q.fetch_all(pool).await?;
    let mut by_month = [0i64; 12];
    let days = rows
        .into_iter()
        .map(|(created_at, resolved_at)| {
            by_month[crate::domain::fiscal_year::month_index(resolved_at) as usize] += 1;
            resolution_days(created_at, resolved_at)
        })
        .collect();
    Ok((DaySummary::of(days), by_month))
}

async fn facts_outcomes(pool: &Pool, y: Span<'_>) -> AppResult<Vec<OutcomeCell>> {
    let text = pool.dialect().json_text("c.outcomes");
    let cols: Vec<String> = Outcome::ALL
        .iter()
        .map(|o| {
            let has = format!("{text} LIKE '%\"{}\"%'", o.as_str());
            format!(
                "COUNT(CASE WHEN {has} THEN 1 END), COUNT(DISTINCT CASE WHEN {has} THEN c.business_id END)"
            )
        })
        .collect();
    let mut q = sql(&format!("SELECT {} FROM cases c WHERE ", cols.join(", ")));
    y.push_in_year(&mut q, "c.lab_id", "c.resolved_at");
    q.push(&format!(" AND c.status IN {}", *rules::NOT_OPEN));
    y.push_case_scope(&mut q, "c.id");
    let counts = q.fetch_counts(pool).await?;
    let mut out = Vec::new();
    for (i, &outcome) in Outcome::ALL.iter().enumerate() {
        let (cases, businesses) = (counts[2 * i], counts[2 * i + 1]);
        if cases > 0 {
            out.push(OutcomeCell {
                outcome,
                cases,
                businesses,
            });
        }
    }
    Ok(out)
}

async fn facts_movements(
    pool: &Pool,
    y: Span<'_>,
) -> AppResult<(Vec<MovementCell>, Vec<MovementReach>)> {
    let d = pool.dialect();
    let from_col = d.json_field("e.payload", "from");
    let to_col = d.json_field("e.payload", "to");
    let stage_changed = EventKind::StageChanged.as_str();
    let mut q = sql(&format!("SELECT {from_col}, {to_col}, "));
    y.push_bucket(&mut q, "e.at");
    q.push(&format!(
        ", COUNT(*) FROM case_events e WHERE e.kind = '{stage_changed}' AND "
    ));
    y.push_in_year(&mut q, "e.lab_id", "e.at");
    y.push_case_scope(&mut q, "e.case_id");
    q.push(" GROUP BY 1, 2, 3");
    let stages =
        |a: Option<String>, b: Option<String>| Some((Stage::parse(&a?)?, Stage::parse(&b?)?));
    let rows: Vec<(Option<String>, Option<String>, i64, i64)> = q.fetch_all(pool).await?;
    let cells = rows
        .into_iter()
        .filter_map(|(a, b, month, events)| {
            let (from, to) = stages(a, b)?;
            Some(MovementCell {
                from,
                to,
                month: month as u32,
                events,
            })
        })
        .collect();
    let mut q = sql(&format!(
        "SELECT {from_col}, {to_col}, COUNT(DISTINCT e.case_id), COUNT(DISTINCT c.business_id) \
         FROM case_events e JOIN cases c ON c.id = e.case_id \
         WHERE e.kind = '{stage_changed}' AND "
    ));
    y.push_in_year(&mut q, "e.lab_id", "e.at");
    y.push_case_scope(&mut q, "e.case_id");
    q.push(" GROUP BY 1, 2");
    let rows: Vec<(Option<String>, Option<String>, i64, i64)> = q.fetch_all(pool).await?;
    let reach = rows
        .into_iter()
        .filter_map(|(a, b, cases, businesses)| {
            let (from, to) = stages(a, b)?;
            Some(MovementReach {
                from,
                to,
                cases,
                businesses,
            })
        })
        .collect();
    Ok((cells, reach))
}

#[async_trait]
impl<S: HasDb> ReportStore for S {
    #[tracing::instrument(skip_all)]
    async fn report_facts(
        &self,
        scope: ReportScope,
        fy: i32,
        now: DateTime<Utc>,
    ) -> AppResult<ReportFacts> {
        match scope.institution_id {
            None => super::rollup::facts(&self.db().pool, scope.lab_id, fy, now).await,
            Some(_) => self.report_facts_from_scratch(scope, fy, now).await,
        }
    }

    #[tracing::instrument(skip_all)]
    async fn rebuild_rollup(&self) -> AppResult<super::rollup::RebuildReport> {
        super::rollup::rebuild(&self.db().pool).await
    }

    #[tracing::instrument(skip_all)]
    async fn report_facts_from_scratch(
        &self,
        scope: ReportScope,
        fy: i32,
        now: DateTime<Utc>,
    ) -> AppResult<ReportFacts> {
        let pool = &self.db().pool;
        let (from, to) = fiscal_year_bounds(fy);
        let months = month_starts(fy);
        let y = Span {
            s: scope,
            from,
            to,
            months: &months,
        };
        // Independent reads: run them side by side on the pool.
        let (
            cases,
            (places, businesses),
            referrals,
            (pickups, pickups_by_institution),
            (resolutions, resolved_by_month),
            outcomes,
            (movements, reach),
        ) = futures::try_join!(
            facts_cases(pool, y),
            facts_businesses(pool, y),
            facts_referrals(pool, y, now),
            facts_pickups(pool, y),
            facts_resolutions(pool, y),
            facts_outcomes(pool, y),
            facts_movements(pool, y),
        )?;
        Ok(ReportFacts {
            cases,
            places,
            businesses,
            referrals,
            pickups,
            pickups_by_institution,
            resolutions,
            resolved_by_month,
            outcomes,
            movements,
            reach,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn first_case_at(&self, lab_id: Uuid) -> AppResult<Option<DateTime<Utc>>> {
        let row: Option<(DateTime<Utc>,)> = sql("SELECT created_at FROM cases WHERE lab_id = ")
            .bind(lab_id)
            .push(" ORDER BY created_at LIMIT 1")
            .fetch_optional(&self.db().pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    #[tracing::instrument(skip_all)]
    async fn export_cases(&self, s: ReportScope, fy: i32) -> AppResult<Vec<CaseExportRow>> {
        let (from, to) = fiscal_year_bounds(fy);
        let months = month_starts(fy);
        let y = Span {
            s,
            from,
            to,
            months: &months,
        };
        let mut q = sql(
            "SELECT c.id, c.reference, c.created_at, b.name AS business_name, b.industry, b.region, \
             b.municipality, c.channel, c.stage, c.status, ",
        );
        y.push_referred(&mut q);
        q.push(
            " AS referred, c.priority, c.resolved_at, c.closed_at, c.outcomes, \
             (SELECT COUNT(*) FROM referrals rc WHERE rc.case_id = c.id) AS referral_count \
             FROM cases c JOIN businesses b ON b.id = c.business_id WHERE ",
        );
        y.push_in_year(&mut q, "c.lab_id", "c.created_at");
        y.push_case_scope(&mut q, "c.id");
        q.push(" ORDER BY c.created_at, c.reference");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn export_case_topics(&self, s: ReportScope, fy: i32) -> AppResult<Vec<(Uuid, String)>> {
        let (from, to) = fiscal_year_bounds(fy);
        let months = month_starts(fy);
        let y = Span {
            s,
            from,
            to,
            months: &months,
        };
        let mut q = sql(
            "SELECT t.case_id, t.topic FROM case_topics t JOIN cases c ON c.id = t.case_id WHERE ",
        );
        y.push_in_year(&mut q, "c.lab_id", "c.created_at");
        y.push_case_scope(&mut q, "c.id");
        q.push(" ORDER BY t.case_id, t.topic");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn export_referrals(&self, s: ReportScope, fy: i32) -> AppResult<Vec<ReferralExportRow>> {
        let (from, to) = fiscal_year_bounds(fy);
        let months = month_starts(fy);
        let y = Span {
            s,
            from,
            to,
            months: &months,
        };
        let mut q = sql(
            "SELECT r.id, c.reference, b.name AS business_name, i.name AS institution_name, \
             r.status, r.reason, r.created_at, r.pickup_deadline, r.decided_at, r.completed_at \
             FROM referrals r JOIN cases c ON c.id = r.case_id \
             JOIN businesses b ON b.id = c.business_id \
             JOIN institutions i ON i.id = r.institution_id WHERE ",
        );
        y.push_in_year(&mut q, "r.lab_id", "r.created_at");
        y.push_referral_scope(&mut q);
        q.push(" ORDER BY r.created_at, c.reference, i.name");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn kpi_targets(&self, lab_id: Uuid, fy: Option<i32>) -> AppResult<Vec<KpiTargetRow>> {
        let mut q = sql(&format!(
            "SELECT {KPI_COLS} FROM kpi_targets WHERE lab_id = "
        ));
        q.bind(lab_id);
        if let Some(fy) = fy {
            q.push(" AND fiscal_year = ").bind(i64::from(fy));
        }
        q.push(" ORDER BY fiscal_year, created_at, id");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<KpiTargetRow>> {
        Ok(sql(&format!(
            "SELECT {KPI_COLS} FROM kpi_targets WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" AND id = ")
        .bind(id)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn insert_kpi_target(&self, r: &KpiTargetRow) -> AppResult<()> {
        let res = Sql::default()
            .insert("kpi_targets", kpi_row(r))
            .execute(&self.db().pool)
            .await;
        unique_or(res, || duplicate_kpi(&r.name)).map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    async fn update_kpi_target(&self, r: &KpiTargetRow) -> AppResult<bool> {
        let row = kpi_row(r)
            .into_iter()
            .filter(|(c, _)| !matches!(*c, "id" | "lab_id" | "created_at"))
            .collect();
        let res = Sql::default()
            .update("kpi_targets", row)
            .push(" WHERE id = ")
            .bind(r.id)
            .push(" AND lab_id = ")
            .bind(r.lab_id)
            .execute(&self.db().pool)
            .await;
        Ok(unique_or(res, || duplicate_kpi(&r.name))? == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<bool> {
        let n = sql("DELETE FROM kpi_targets WHERE id = ")
            .bind(id)
            .push(" AND lab_id = ")
            .bind(lab_id)
            .execute(&self.db().pool)
            .await?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Dialect;

    fn span(months: &[DateTime<Utc>; 13], institution_id: Option<Uuid>) -> Span<'_> {
        Span {
            s: ReportScope {
                lab_id: Uuid::nil(),
                institution_id,
            },
            from: months[0],
            to: months[12],
            months,
        }
    }

    #[test]
    fn bucket_binds_the_eleven_month_starts() {
        let months = month_starts(2024);
        let mut q = Sql::default();
        span(&months, None).push_bucket(&mut q, "x");
        let pg = q.render(Dialect::Postgres);
        assert!(pg.contains("WHEN x < $1 THEN 0"));
        assert!(pg.contains("WHEN x < $11 THEN 10"));
        assert!(pg.ends_with("ELSE 11 END AS BIGINT)"));
        assert!(!pg.contains("$12"));
    }

    #[test]
    fn scope_fragments_only_for_partners() {
        let months = month_starts(2024);
        let mut q = Sql::default();
        span(&months, None).push_case_scope(&mut q, "c.id");
        span(&months, None).push_referral_scope(&mut q);
        assert_eq!(q.render(Dialect::Sqlite), "");
        let partner = span(&months, Some(Uuid::nil()));
        let mut q = Sql::default();
        partner.push_case_scope(&mut q, "c.id");
        assert!(q
            .render(Dialect::Postgres)
            .contains("sr.lab_id = $1 AND sr.institution_id = $2"));
        let mut q = Sql::default();
        partner.push_referral_scope(&mut q);
        assert!(q
            .render(Dialect::Sqlite)
            .contains("r.institution_id = ? AND r.status <> 'WITHDRAWN'"));
    }
}
