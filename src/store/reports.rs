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
//! field, comes from [`ReportDialect`].

use super::{unique_or, PgStore, SqliteStore};
use crate::domain::fiscal_year::fiscal_year_bounds;
use crate::domain::report::*;
use crate::domain::types::*;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::Row;
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
    /// The aggregates of fiscal year `fy` in `scope`; `now` decides what is overdue.
    async fn report_facts(
        &self,
        scope: ReportScope,
        fy: i32,
        now: DateTime<Utc>,
    ) -> AppResult<ReportFacts>;

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

/// What differs between the dialects for the report queries.
pub(crate) trait ReportDialect {
    /// A text field of a JSON object column.
    fn json_field(col: &str, key: &str) -> String;
    /// A JSON column as text (for `LIKE`).
    fn json_text(col: &str) -> String;
}

impl ReportDialect for SqliteStore {
    fn json_field(col: &str, key: &str) -> String {
        format!("json_extract({col}, '$.{key}')")
    }
    fn json_text(col: &str) -> String {
        col.to_owned()
    }
}

impl ReportDialect for PgStore {
    fn json_field(col: &str, key: &str) -> String {
        format!("({col} ->> '{key}')")
    }
    fn json_text(col: &str) -> String {
        format!("({col})::text")
    }
}

/// Parameters `$2`/`$3` are the year's bounds and `$4`…`$14` the starts of
/// May … March: the month index 0 … 11 of `col`.
fn bucket(col: &str) -> String {
    let mut s = String::from("CAST(CASE");
    for i in 0..11 {
        s.push_str(&format!(" WHEN {col} < ${} THEN {i}", i + 4));
    }
    s.push_str(" ELSE 11 END AS BIGINT)");
    s
}

/// The referral statuses that let a partner read a case.
const VISIBLE: &str = "('PENDING', 'ACCEPTED', 'COMPLETED')";

/// Restricts a case (by its id expression) to those the partner may read; `$p`
/// is the institution, `$1` the lab. A semi-join on the institution's
/// referrals (computed once), not a per-row lookup.
fn case_scope(scope: &ReportScope, case_id: &str, p: usize) -> String {
    match scope.institution_id {
        None => String::new(),
        Some(_) => format!(
            " AND {case_id} IN (SELECT sr.case_id FROM referrals sr WHERE sr.lab_id = $1 \
             AND sr.institution_id = ${p} AND sr.status IN {VISIBLE})"
        ),
    }
}

/// The same restriction as a per-row lookup, for a correlated subquery (where
/// SQLite would re-evaluate a semi-join for every outer row).
fn case_scope_row(scope: &ReportScope, case_id: &str, p: usize) -> String {
    match scope.institution_id {
        None => String::new(),
        Some(_) => format!(
            " AND EXISTS (SELECT 1 FROM referrals sr WHERE sr.case_id = {case_id} \
             AND sr.institution_id = ${p} AND sr.status IN {VISIBLE})"
        ),
    }
}

/// Restricts referrals (alias `r`) to the partner's institution, withdrawn ones left out.
fn referral_scope(scope: &ReportScope, p: usize) -> String {
    match scope.institution_id {
        None => String::new(),
        Some(_) => format!(" AND r.institution_id = ${p} AND r.status <> 'WITHDRAWN'"),
    }
}

const KPI_COLS: &str =
    "id, lab_id, fiscal_year, name, unit, target, metric, manual_actual, created_at, updated_at";

fn duplicate_kpi(name: &str) -> AppError {
    AppError::conflict(
        format!("この年度には同じ名前の目標「{name}」が既にあります。"),
        format!("A target named {name:?} already exists for that fiscal year."),
    )
}

macro_rules! impl_reports {
    ($store:ty) => {
        impl $store {
            async fn facts_cases(
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                months: &[DateTime<Utc>; 13],
            ) -> AppResult<Vec<CaseCell>> {
                let sql = format!(
                    "SELECT c.stage, c.status, \
                       CAST(CASE WHEN c.status IN ('NEW', 'IN_PROGRESS') AND c.id IN \
                         (SELECT pr.case_id FROM referrals pr WHERE pr.lab_id = $1 AND pr.status = 'PENDING') \
                         THEN 1 ELSE 0 END AS BIGINT), \
                       c.channel, {}, COUNT(*) \
                     FROM cases c \
                     WHERE c.lab_id = $1 AND c.created_at >= $2 AND c.created_at < $3{} \
                     GROUP BY 1, 2, 3, 4, 5",
                    bucket("c.created_at"),
                    case_scope(&s, "c.id", 15)
                );
                let mut q = sqlx::query_as::<_, (Stage, CaseStatus, i64, Channel, i64, i64)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                for m in &months[1..12] {
                    q = q.bind(*m);
                }
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(stage, status, referred, channel, month, count)| CaseCell {
                        stage,
                        status,
                        referred: referred != 0,
                        channel,
                        month: month as u32,
                        count,
                    })
                    .collect())
            }

            /// Businesses with a case opened in the year, one row per business
            /// first (its cases in the year, its first one, whether it had an
            /// earlier case), then joined to the business once: both the
            /// industry/region/municipality breakdown of the cases and the
            /// businesses by month of their first case in the year.
            async fn facts_businesses(
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                months: &[DateTime<Utc>; 13],
            ) -> AppResult<(Vec<PlaceCell>, Vec<BusinessCell>)> {
                let sql = format!(
                    "SELECT b.industry, b.region, b.municipality, {}, CAST(SUM(t.n) AS BIGINT), COUNT(*), CAST(SUM(t.is_new) AS BIGINT) FROM ( \
                       SELECT c.business_id, COUNT(*) AS n, MIN(c.created_at) AS first_at, \
                         CASE WHEN EXISTS (SELECT 1 FROM cases p WHERE p.business_id = c.business_id \
                           AND p.created_at < $2 AND p.lab_id = $1{}) THEN 0 ELSE 1 END AS is_new \
                       FROM cases c \
                       WHERE c.lab_id = $1 AND c.created_at >= $2 AND c.created_at < $3{} \
                       GROUP BY c.business_id \
                     ) t JOIN businesses b ON b.id = t.business_id \
                     GROUP BY 1, 2, 3, 4",
                    bucket("t.first_at"),
                    case_scope_row(&s, "p.id", 15),
                    case_scope(&s, "c.id", 15)
                );
                let mut q = sqlx::query_as::<
                    _,
                    (Option<String>, Option<String>, Option<String>, i64, i64, i64, i64),
                >(&sql)
                .bind(s.lab_id)
                .bind(from)
                .bind(to);
                for m in &months[1..12] {
                    q = q.bind(*m);
                }
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                let mut places = Vec::new();
                let mut by_month = [(0i64, 0i64); 12];
                for (industry, region, municipality, month, cases, businesses, new_businesses) in
                    q.fetch_all(&self.pool).await?
                {
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
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                months: &[DateTime<Utc>; 13],
                now: DateTime<Utc>,
            ) -> AppResult<Vec<ReferralCell>> {
                let sql = format!(
                    "SELECT r.institution_id, r.status, r.reason, {}, COUNT(*), \
                       SUM(CASE WHEN r.status = 'PENDING' AND r.pickup_deadline < $15 THEN 1 ELSE 0 END) \
                     FROM referrals r \
                     WHERE r.lab_id = $1 AND r.created_at >= $2 AND r.created_at < $3{} \
                     GROUP BY 1, 2, 3, 4",
                    bucket("r.created_at"),
                    referral_scope(&s, 16)
                );
                let mut q = sqlx::query_as::<
                    _,
                    (Uuid, ReferralStatus, Option<DeclineReason>, i64, i64, i64),
                >(&sql)
                .bind(s.lab_id)
                .bind(from)
                .bind(to);
                for m in &months[1..12] {
                    q = q.bind(*m);
                }
                q = q.bind(now);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(institution_id, status, reason, month, count, overdue)| ReferralCell {
                        institution_id,
                        status,
                        reason,
                        month: month as u32,
                        count,
                        overdue,
                    })
                    .collect())
            }

            async fn facts_pickups(
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> AppResult<Vec<Pickup>> {
                let sql = format!(
                    "SELECT r.institution_id, r.created_at, r.decided_at FROM referrals r \
                     WHERE r.lab_id = $1 AND r.created_at >= $2 AND r.created_at < $3 \
                       AND r.decided_at IS NOT NULL AND r.status IN ('ACCEPTED', 'COMPLETED', 'DECLINED'){}",
                    referral_scope(&s, 4)
                );
                let mut q = sqlx::query_as::<_, (Uuid, DateTime<Utc>, DateTime<Utc>)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(institution_id, created_at, decided_at)| Pickup {
                        institution_id,
                        created_at,
                        decided_at,
                    })
                    .collect())
            }

            async fn facts_resolutions(
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> AppResult<Vec<Resolution>> {
                let sql = format!(
                    "SELECT c.created_at, c.resolved_at FROM cases c \
                     WHERE c.lab_id = $1 AND c.resolved_at >= $2 AND c.resolved_at < $3 \
                       AND c.status IN ('RESOLVED', 'CLOSED'){}",
                    case_scope(&s, "c.id", 4)
                );
                let mut q = sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(created_at, resolved_at)| Resolution {
                        created_at,
                        resolved_at,
                    })
                    .collect())
            }

            async fn facts_outcomes(
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> AppResult<Vec<OutcomeCell>> {
                let text = <$store as ReportDialect>::json_text("c.outcomes");
                let cols: Vec<String> = Outcome::ALL
                    .iter()
                    .map(|o| {
                        let has = format!("{text} LIKE '%\"{}\"%'", o.as_str());
                        format!(
                            "COUNT(CASE WHEN {has} THEN 1 END), COUNT(DISTINCT CASE WHEN {has} THEN c.business_id END)"
                        )
                    })
                    .collect();
                let sql = format!(
                    "SELECT {} FROM cases c \
                     WHERE c.lab_id = $1 AND c.resolved_at >= $2 AND c.resolved_at < $3 \
                       AND c.status IN ('RESOLVED', 'CLOSED'){}",
                    cols.join(", "),
                    case_scope(&s, "c.id", 4)
                );
                let mut q = sqlx::query(&sql).bind(s.lab_id).bind(from).bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                let row = q.fetch_one(&self.pool).await?;
                let mut out = Vec::new();
                for (i, &outcome) in Outcome::ALL.iter().enumerate() {
                    let cases: i64 = row.try_get(2 * i)?;
                    let businesses: i64 = row.try_get(2 * i + 1)?;
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
                &self,
                s: ReportScope,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                months: &[DateTime<Utc>; 13],
            ) -> AppResult<(Vec<MovementCell>, Vec<MovementReach>)> {
                let from_col = <$store as ReportDialect>::json_field("e.payload", "from");
                let to_col = <$store as ReportDialect>::json_field("e.payload", "to");
                let sql = format!(
                    "SELECT {from_col}, {to_col}, {}, COUNT(*) FROM case_events e \
                     WHERE e.kind = 'STAGE_CHANGED' AND e.lab_id = $1 AND e.at >= $2 AND e.at < $3{} \
                     GROUP BY 1, 2, 3",
                    bucket("e.at"),
                    case_scope(&s, "e.case_id", 15)
                );
                let mut q = sqlx::query_as::<_, (Option<String>, Option<String>, i64, i64)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                for m in &months[1..12] {
                    q = q.bind(*m);
                }
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                let stages = |a: Option<String>, b: Option<String>| {
                    Some((Stage::parse(&a?)?, Stage::parse(&b?)?))
                };
                let cells = q
                    .fetch_all(&self.pool)
                    .await?
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
                let sql = format!(
                    "SELECT {from_col}, {to_col}, COUNT(DISTINCT e.case_id), COUNT(DISTINCT c.business_id) \
                     FROM case_events e JOIN cases c ON c.id = e.case_id \
                     WHERE e.kind = 'STAGE_CHANGED' AND e.lab_id = $1 AND e.at >= $2 AND e.at < $3{} \
                     GROUP BY 1, 2",
                    case_scope(&s, "e.case_id", 4)
                );
                let mut q = sqlx::query_as::<_, (Option<String>, Option<String>, i64, i64)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                let reach = q
                    .fetch_all(&self.pool)
                    .await?
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
        }

        #[async_trait]
        impl ReportStore for $store {
            async fn report_facts(
                &self,
                scope: ReportScope,
                fy: i32,
                now: DateTime<Utc>,
            ) -> AppResult<ReportFacts> {
                let (from, to) = fiscal_year_bounds(fy);
                let months = month_starts(fy);
                // Independent reads: run them side by side on the pool.
                let (cases, (places, businesses), referrals, pickups, resolutions, outcomes, (movements, reach)) =
                    futures::try_join!(
                        self.facts_cases(scope, from, to, &months),
                        self.facts_businesses(scope, from, to, &months),
                        self.facts_referrals(scope, from, to, &months, now),
                        self.facts_pickups(scope, from, to),
                        self.facts_resolutions(scope, from, to),
                        self.facts_outcomes(scope, from, to),
                        self.facts_movements(scope, from, to, &months),
                    )?;
                Ok(ReportFacts {
                    cases,
                    places,
                    businesses,
                    referrals,
                    pickups,
                    resolutions,
                    outcomes,
                    movements,
                    reach,
                })
            }

            async fn first_case_at(&self, lab_id: Uuid) -> AppResult<Option<DateTime<Utc>>> {
                let row: Option<(DateTime<Utc>,)> = sqlx::query_as(
                    "SELECT created_at FROM cases WHERE lab_id = $1 ORDER BY created_at LIMIT 1",
                )
                .bind(lab_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.0))
            }

            async fn export_cases(&self, s: ReportScope, fy: i32) -> AppResult<Vec<CaseExportRow>> {
                let (from, to) = fiscal_year_bounds(fy);
                let sql = format!(
                    "SELECT c.id, c.reference, c.created_at, b.name AS business_name, b.industry, b.region, \
                       b.municipality, c.channel, c.stage, c.status, \
                       CAST(CASE WHEN c.status IN ('NEW', 'IN_PROGRESS') AND c.id IN \
                         (SELECT pr.case_id FROM referrals pr WHERE pr.lab_id = $1 AND pr.status = 'PENDING') \
                         THEN 1 ELSE 0 END AS BIGINT) AS referred, \
                       c.priority, c.resolved_at, c.closed_at, c.outcomes, \
                       (SELECT COUNT(*) FROM referrals rc WHERE rc.case_id = c.id) AS referral_count \
                     FROM cases c JOIN businesses b ON b.id = c.business_id \
                     WHERE c.lab_id = $1 AND c.created_at >= $2 AND c.created_at < $3{} \
                     ORDER BY c.created_at, c.reference",
                    case_scope(&s, "c.id", 4)
                );
                let mut q = sqlx::query_as::<_, CaseExportRow>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q.fetch_all(&self.pool).await?)
            }

            async fn export_case_topics(
                &self,
                s: ReportScope,
                fy: i32,
            ) -> AppResult<Vec<(Uuid, String)>> {
                let (from, to) = fiscal_year_bounds(fy);
                let sql = format!(
                    "SELECT t.case_id, t.topic FROM case_topics t JOIN cases c ON c.id = t.case_id \
                     WHERE c.lab_id = $1 AND c.created_at >= $2 AND c.created_at < $3{} \
                     ORDER BY t.case_id, t.topic",
                    case_scope(&s, "c.id", 4)
                );
                let mut q = sqlx::query_as::<_, (Uuid, String)>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q.fetch_all(&self.pool).await?)
            }

            async fn export_referrals(
                &self,
                s: ReportScope,
                fy: i32,
            ) -> AppResult<Vec<ReferralExportRow>> {
                let (from, to) = fiscal_year_bounds(fy);
                let sql = format!(
                    "SELECT r.id, c.reference, b.name AS business_name, i.name AS institution_name, \
                       r.status, r.reason, r.created_at, r.pickup_deadline, r.decided_at, r.completed_at \
                     FROM referrals r JOIN cases c ON c.id = r.case_id \
                       JOIN businesses b ON b.id = c.business_id \
                       JOIN institutions i ON i.id = r.institution_id \
                     WHERE r.lab_id = $1 AND r.created_at >= $2 AND r.created_at < $3{} \
                     ORDER BY r.created_at, c.reference, i.name",
                    referral_scope(&s, 4)
                );
                let mut q = sqlx::query_as::<_, ReferralExportRow>(&sql)
                    .bind(s.lab_id)
                    .bind(from)
                    .bind(to);
                if let Some(i) = s.institution_id {
                    q = q.bind(i);
                }
                Ok(q.fetch_all(&self.pool).await?)
            }

            async fn kpi_targets(
                &self,
                lab_id: Uuid,
                fy: Option<i32>,
            ) -> AppResult<Vec<KpiTargetRow>> {
                Ok(match fy {
                    Some(fy) => sqlx::query_as(&format!(
                        "SELECT {KPI_COLS} FROM kpi_targets WHERE lab_id = $1 AND fiscal_year = $2 \
                         ORDER BY fiscal_year, created_at, id"
                    ))
                    .bind(lab_id)
                    .bind(i64::from(fy))
                    .fetch_all(&self.pool)
                    .await?,
                    None => sqlx::query_as(&format!(
                        "SELECT {KPI_COLS} FROM kpi_targets WHERE lab_id = $1 \
                         ORDER BY fiscal_year, created_at, id"
                    ))
                    .bind(lab_id)
                    .fetch_all(&self.pool)
                    .await?,
                })
            }

            async fn kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<Option<KpiTargetRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {KPI_COLS} FROM kpi_targets WHERE lab_id = $1 AND id = $2"
                ))
                .bind(lab_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn insert_kpi_target(&self, r: &KpiTargetRow) -> AppResult<()> {
                let res = sqlx::query(&format!(
                    "INSERT INTO kpi_targets ({KPI_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(r.id)
                .bind(r.lab_id)
                .bind(r.fiscal_year)
                .bind(&r.name)
                .bind(&r.unit)
                .bind(r.target)
                .bind(&r.metric)
                .bind(r.manual_actual)
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&self.pool)
                .await;
                unique_or(res, || duplicate_kpi(&r.name)).map(|_| ())
            }

            async fn update_kpi_target(&self, r: &KpiTargetRow) -> AppResult<bool> {
                let res = sqlx::query(
                    "UPDATE kpi_targets SET fiscal_year = $1, name = $2, unit = $3, target = $4, \
                     metric = $5, manual_actual = $6, updated_at = $7 WHERE id = $8 AND lab_id = $9",
                )
                .bind(r.fiscal_year)
                .bind(&r.name)
                .bind(&r.unit)
                .bind(r.target)
                .bind(&r.metric)
                .bind(r.manual_actual)
                .bind(r.updated_at)
                .bind(r.id)
                .bind(r.lab_id)
                .execute(&self.pool)
                .await;
                Ok(unique_or(res, || duplicate_kpi(&r.name))?.rows_affected() == 1)
            }

            async fn delete_kpi_target(&self, lab_id: Uuid, id: Uuid) -> AppResult<bool> {
                Ok(sqlx::query("DELETE FROM kpi_targets WHERE id = $1 AND lab_id = $2")
                    .bind(id)
                    .bind(lab_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }
        }
    };
}

impl_reports!(SqliteStore);
impl_reports!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_uses_the_eleven_month_params() {
        let b = bucket("x");
        assert!(b.contains("WHEN x < $4 THEN 0"));
        assert!(b.contains("WHEN x < $14 THEN 10"));
        assert!(b.ends_with("ELSE 11 END AS BIGINT)"));
        assert!(!b.contains("$15"));
    }

    #[test]
    fn scope_fragments_only_for_partners() {
        let lab = ReportScope::lab(Uuid::nil());
        assert_eq!(case_scope(&lab, "c.id", 4), "");
        assert_eq!(referral_scope(&lab, 4), "");
        let partner = ReportScope {
            lab_id: Uuid::nil(),
            institution_id: Some(Uuid::nil()),
        };
        assert!(case_scope(&partner, "c.id", 4).contains("sr.institution_id = $4"));
        assert!(referral_scope(&partner, 16).contains("r.institution_id = $16"));
    }
}
