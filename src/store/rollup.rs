//! The activity report's rollup (migration 0008): what a case contributes to
//! its lab's fiscal-year figures, kept up to date in the transaction of every
//! case write ([`apply`]: the difference between the case's contribution before
//! and after the write), read back for a lab's report ([`facts`]) and rebuilt
//! from the cases themselves ([`rebuild`]: `dxdesk report rebuild-rollup`, the
//! first start after the migration, the bulk seeder).
//!
//! A case contributes ([`Contribution::of`]):
//! - one count to the cell of its creation month, stage, stored status, whether
//!   a pending referral shows it as `REFERRED`, and channel (`CASE`);
//! - one count per referral to the cell of the referral's creation month,
//!   institution, status and decline reason (`REFERRAL`);
//! - when resolved (status `RESOLVED`/`CLOSED`, `resolved_at` set) one count to
//!   its resolution month (`RESOLVED`), a resolution row with its days and one
//!   row per outcome (`report_resolutions`);
//! - a pick-up row (business days) per decided referral (`report_pickups`);
//! - one case to its business's row of the creation year (`report_business_years`);
//! - its `STAGE_CHANGED` events to `report_moves` (by event month, from, to).
//!
//! Only the lab's own report reads the rollup; a partner's report (restricted
//! to the cases its institution may read) is computed from the rows
//! (`store::reports`). Overdue referrals depend on the time of asking and are
//! counted from the referrals, among the pending ones of the year.
// The row tuples of the rollup's bulk reads are read once, next to their query.
#![allow(clippy::type_complexity)]

use super::case_models::{CaseQuery, CaseSnapshot, NewEvent};
use super::db::{sql, Col, Dialect, Pool, Sql, Tx, Val};
use super::rules;
use crate::domain::fiscal_year::{fiscal_year_of, month_index};
use crate::domain::report::*;
use crate::domain::types::*;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Rows of a cell that concurrent writers spread over (summed on read).
const SHARDS: i64 = 8;
const CASE: &str = "CASE";
const REFERRAL: &str = "REFERRAL";
const RESOLVED: &str = "RESOLVED";

/// A counted cell: (fiscal year, kind, month, institution, k1, k2, k3, flag).
type CellKey = (i64, &'static str, i64, Uuid, String, String, String, i64);

/// The few fields of a referral the report counts.
#[derive(Debug, Clone)]
pub(crate) struct ReferralFacts {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub status: ReferralStatus,
    pub reason: Option<DeclineReason>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// The few fields of a case the report counts.
#[derive(Debug, Clone)]
pub(crate) struct CaseFacts {
    pub created_at: DateTime<Utc>,
    pub stage: Stage,
    pub status: CaseStatus,
    pub channel: Channel,
    pub resolved_at: Option<DateTime<Utc>>,
    pub outcomes: Vec<Outcome>,
    pub referrals: Vec<ReferralFacts>,
}

impl CaseFacts {
    fn of(s: &CaseSnapshot) -> Self {
        CaseFacts {
            created_at: s.case.created_at,
            stage: s.case.stage,
            status: s.case.status,
            channel: s.case.channel,
            resolved_at: s.case.resolved_at,
            outcomes: s.case.outcomes.0.clone(),
            referrals: s
                .referrals
                .iter()
                .map(|r| ReferralFacts {
                    id: r.id,
                    institution_id: r.institution_id,
                    status: r.status,
                    reason: r.reason,
                    created_at: r.created_at,
                    decided_at: r.decided_at,
                })
                .collect(),
        }
    }
}

/// The resolution rows of a case: (outcome, '' for the case itself; fiscal year; days).
type ResolutionRows = Vec<(String, i64, f64)>;

/// What one case contributes to the rollup.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Contribution {
    cells: Vec<CellKey>,
    /// referral id → (fiscal year, institution, days)
    pickups: BTreeMap<Uuid, (i64, Uuid, f64)>,
    resolution: ResolutionRows,
}

fn fy_month(t: DateTime<Utc>) -> (i64, i64) {
    (i64::from(fiscal_year_of(t)), i64::from(month_index(t)))
}

fn decided(s: ReferralStatus) -> bool {
    s != ReferralStatus::Pending && s != ReferralStatus::Withdrawn
}

impl Contribution {
    pub(crate) fn of(c: &CaseFacts) -> Self {
        let mut out = Contribution::default();
        let has_pending = c
            .referrals
            .iter()
            .any(|r| r.status == ReferralStatus::Pending);
        let referred = crate::domain::case_state::displayed_status(c.status, has_pending)
            == CaseStatus::Referred
            && crate::domain::case_state::displayed_status(c.status, false) != CaseStatus::Referred;
        let (fy, m) = fy_month(c.created_at);
        out.cells.push((
            fy,
            CASE,
            m,
            Uuid::nil(),
            c.stage.as_str().to_owned(),
            c.status.as_str().to_owned(),
            c.channel.as_str().to_owned(),
            i64::from(referred),
        ));
        for r in &c.referrals {
            let (fy, m) = fy_month(r.created_at);
            out.cells.push((
                fy,
                REFERRAL,
                m,
                r.institution_id,
                r.status.as_str().to_owned(),
                r.reason.map(|x| x.as_str()).unwrap_or("").to_owned(),
                String::new(),
                0,
            ));
            if let (true, Some(d)) = (decided(r.status), r.decided_at) {
                out.pickups
                    .insert(r.id, (fy, r.institution_id, pickup_days(r.created_at, d)));
            }
        }
        if let (false, Some(at)) = (crate::domain::case_state::is_open(c.status), c.resolved_at) {
            let (fy, m) = fy_month(at);
            out.cells.push((
                fy,
                RESOLVED,
                m,
                Uuid::nil(),
                String::new(),
                String::new(),
                String::new(),
                0,
            ));
            let days = resolution_days(c.created_at, at);
            out.resolution.push((String::new(), fy, days));
            let outcomes: BTreeSet<&str> = c.outcomes.iter().map(|o| o.as_str()).collect();
            for o in outcomes {
                out.resolution.push((o.to_owned(), fy, days));
            }
        }
        out
    }
}

fn shard(case_id: Uuid) -> i64 {
    i64::from(case_id.as_bytes()[15]) % SHARDS
}

fn cell_row(lab_id: Uuid, k: &CellKey, shard: i64, n: i64) -> Vec<Col> {
    vec![
        ("lab_id", lab_id.into()),
        ("fiscal_year", k.0.into()),
        ("kind", k.1.into()),
        ("month", k.2.into()),
        ("institution_id", k.3.into()),
        ("k1", (&k.4).into()),
        ("k2", (&k.5).into()),
        ("k3", (&k.6).into()),
        ("flag", k.7.into()),
        ("shard", shard.into()),
        ("n", n.into()),
    ]
}

const CELL_KEY: &str = "lab_id, fiscal_year, kind, month, institution_id, k1, k2, k3, flag, shard";

/// Adds `deltas` to the cells in one statement, in key order (so concurrent
/// writers lock the rows in the same order).
async fn add_cells(
    tx: &mut Tx,
    lab_id: Uuid,
    shard: i64,
    deltas: BTreeMap<CellKey, i64>,
) -> AppResult<()> {
    let rows: Vec<Vec<Col>> = deltas
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|(k, n)| cell_row(lab_id, k, shard, *n))
        .collect();
    add_cell_rows(tx, rows).await
}

/// Adds to counted cells, one statement (rows of distinct cells).
async fn add_cell_rows(tx: &mut Tx, rows: Vec<Vec<Col>>) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    Sql::default()
        .insert_many("report_cells", rows)
        .push(&format!(
            " ON CONFLICT ({CELL_KEY}) DO UPDATE SET n = report_cells.n + excluded.n"
        ))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn pickup_row(lab_id: Uuid, id: Uuid, p: &(i64, Uuid, f64)) -> Vec<Col> {
    vec![
        ("referral_id", id.into()),
        ("lab_id", lab_id.into()),
        ("fiscal_year", p.0.into()),
        ("institution_id", p.1.into()),
        ("days", p.2.into()),
    ]
}

fn resolution_row(
    lab_id: Uuid,
    case_id: Uuid,
    business_id: Uuid,
    r: &(String, i64, f64),
) -> Vec<Col> {
    vec![
        ("case_id", case_id.into()),
        ("outcome", (&r.0).into()),
        ("lab_id", lab_id.into()),
        ("fiscal_year", r.1.into()),
        ("days", r.2.into()),
        ("business_id", business_id.into()),
    ]
}

/// What a case write changes in the rollup, taken in two steps inside its
/// transaction: [`Delta::before`] on the locked snapshot (or [`Delta::new_case`]),
/// then [`Delta::apply`] with what the write leaves. Only what changed is
/// written: a note or a new title issues no statement here.
pub(crate) struct Delta {
    old: Option<Contribution>,
    /// (from, to) → `STAGE_CHANGED` events the write appends.
    moves: BTreeMap<(String, String), i64>,
    now: DateTime<Utc>,
}

fn stage_moves(events: &[NewEvent]) -> BTreeMap<(String, String), i64> {
    let mut moves = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::StageChanged) {
        let field = |k: &str| e.payload.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(from), Some(to)) = (field("from"), field("to")) {
            *moves.entry((from, to)).or_default() += 1;
        }
    }
    moves
}

impl Delta {
    /// A write over the locked snapshot `before` appending `events` at `now`.
    pub(crate) fn before(before: &CaseSnapshot, events: &[NewEvent], now: DateTime<Utc>) -> Self {
        Delta {
            old: Some(Contribution::of(&CaseFacts::of(before))),
            moves: stage_moves(events),
            now,
        }
    }

    /// A new case.
    pub(crate) fn new_case(events: &[NewEvent], now: DateTime<Utc>) -> Self {
        Delta {
            old: None,
            moves: stage_moves(events),
            now,
        }
    }

    /// Writes the difference to the case's state `after`.
    pub(crate) async fn apply(self, tx: &mut Tx, after: &CaseSnapshot) -> AppResult<()> {
        apply(tx, self, after).await
    }
}

/// Cases of one lab opened together (a batch of intakes, whose lane is one
/// lab's: `store::cases::intake`): their counted cells and their businesses' years, one statement each for the
/// whole batch, the same rows as [`Delta::new_case`] applied case by case. A
/// case that contributes more than a new case does (a referral, a resolution)
/// and the cases of a business opened in two fiscal years of the batch (its
/// later year's "new" depends on the earlier row) take the per-case path.
pub(crate) async fn new_cases(
    tx: &mut Tx,
    snaps: &[&CaseSnapshot],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(first) = snaps.first() else {
        return Ok(());
    };
    let lab_id = first.case.lab_id;
    let years_of = |b: Uuid| -> BTreeSet<i64> {
        snaps
            .iter()
            .filter(|s| s.case.business_id == b)
            .map(|s| fy_month(s.case.created_at).0)
            .collect()
    };
    let mut cells: BTreeMap<(i64, CellKey), i64> = BTreeMap::new();
    // (fiscal year, business) → (cases, first month, the case that has it)
    let mut years: BTreeMap<(i64, Uuid), (i64, i64, &CaseSnapshot)> = BTreeMap::new();
    let mut alone: Vec<&CaseSnapshot> = Vec::new();
    for &snap in snaps {
        let c = Contribution::of(&CaseFacts::of(snap));
        if !c.pickups.is_empty()
            || !c.resolution.is_empty()
            || years_of(snap.case.business_id).len() > 1
        {
            alone.push(snap);
            continue;
        }
        for k in c.cells {
            *cells.entry((shard(snap.case.id), k)).or_default() += 1;
        }
        let (fy, m) = fy_month(snap.case.created_at);
        years
            .entry((fy, snap.case.business_id))
            .and_modify(|(n, first, _)| {
                *n += 1;
                *first = (*first).min(m);
            })
            .or_insert((1, m, snap));
    }
    let rows: Vec<Vec<Col>> = cells
        .iter()
        .map(|((shard, k), n)| cell_row(lab_id, k, *shard, *n))
        .collect();
    add_cell_rows(tx, rows).await?;
    if !years.is_empty() {
        let mut q = sql(
            "INSERT INTO report_business_years (lab_id, fiscal_year, business_id, cases, first_month, \
             industry, region, municipality, is_new) VALUES ",
        );
        for (i, ((fy, business_id), (n, m, snap))) in years.iter().enumerate() {
            let b = &snap.business;
            q.push(if i == 0 { "(" } else { ", (" }).bind_list([
                Val::from(lab_id),
                (*fy).into(),
                (*business_id).into(),
                (*n).into(),
                (*m).into(),
                b.industry.clone().into(),
                b.region.clone().into(),
                b.municipality.clone().into(),
            ]);
            push_is_new(&mut q, lab_id, *business_id, *fy);
            q.push(")");
        }
        q.push(BUSINESS_YEAR_CONFLICT).execute(&mut *tx).await?;
    }
    for snap in alone {
        Delta::new_case(&[], now).apply(tx, snap).await?;
    }
    Ok(())
}

/// `, <1 when the business has no row of an earlier fiscal year, else 0>`:
/// new that year (cases are opened at the time of writing, so earlier years
/// are complete).
fn push_is_new(q: &mut Sql, lab_id: Uuid, business_id: Uuid, fy: i64) {
    q.push(", CASE WHEN EXISTS (SELECT 1 FROM report_business_years p WHERE p.business_id = ")
        .bind(business_id)
        .push(" AND p.fiscal_year < ")
        .bind(fy)
        .push(" AND p.lab_id = ")
        .bind(lab_id)
        .push(") THEN 0 ELSE 1 END");
}

/// A business-year row that exists already gains the cases and keeps the
/// earlier first month.
const BUSINESS_YEAR_CONFLICT: &str = " ON CONFLICT (lab_id, fiscal_year, business_id) DO UPDATE SET \
     cases = report_business_years.cases + excluded.cases, first_month = CASE WHEN excluded.first_month \
     < report_business_years.first_month THEN excluded.first_month ELSE report_business_years.first_month END";

async fn apply(tx: &mut Tx, delta: Delta, after: &CaseSnapshot) -> AppResult<()> {
    let lab_id = after.case.lab_id;
    let case_id = after.case.id;
    let business_id = after.case.business_id;
    let is_new = delta.old.is_none();
    let now = delta.now;
    let moves = delta.moves;
    let new = Contribution::of(&CaseFacts::of(after));
    let old = delta.old.unwrap_or_default();
    // Counted cells.
    let mut deltas: BTreeMap<CellKey, i64> = BTreeMap::new();
    for k in new.cells {
        *deltas.entry(k).or_default() += 1;
    }
    for k in old.cells {
        *deltas.entry(k).or_default() -= 1;
    }
    add_cells(tx, lab_id, shard(case_id), deltas).await?;
    // A new case counts for its business's year.
    if is_new {
        let (fy, m) = fy_month(after.case.created_at);
        let b = &after.business;
        // New that year when the business has no row of an earlier year (cases
        // are opened at the time of writing, so earlier years are complete).
        let mut q = sql(
            "INSERT INTO report_business_years (lab_id, fiscal_year, business_id, cases, first_month, \
             industry, region, municipality, is_new) VALUES (",
        );
        q.bind_list([
            Val::from(lab_id),
            fy.into(),
            business_id.into(),
            1_i64.into(),
            m.into(),
            b.industry.clone().into(),
            b.region.clone().into(),
            b.municipality.clone().into(),
        ]);
        push_is_new(&mut q, lab_id, business_id, fy);
        q.push(")")
            .push(BUSINESS_YEAR_CONFLICT)
            .execute(&mut *tx)
            .await?;
    }
    // Stage movements.
    if !moves.is_empty() {
        let (fy, m) = fy_month(now);
        let rows = moves
            .into_iter()
            .map(|((from, to), n)| {
                vec![
                    ("lab_id", lab_id.into()),
                    ("fiscal_year", fy.into()),
                    ("month", m.into()),
                    ("from_stage", from.into()),
                    ("to_stage", to.into()),
                    ("case_id", case_id.into()),
                    ("business_id", business_id.into()),
                    ("events", n.into()),
                ]
            })
            .collect();
        Sql::default()
            .insert_many("report_moves", rows)
            .push(
                " ON CONFLICT (lab_id, fiscal_year, month, from_stage, to_stage, case_id) \
                 DO UPDATE SET events = report_moves.events + excluded.events",
            )
            .execute(&mut *tx)
            .await?;
    }
    // Pick-up times.
    let changed: Vec<Vec<Col>> = new
        .pickups
        .iter()
        .filter(|(id, p)| old.pickups.get(id) != Some(p))
        .map(|(id, p)| pickup_row(lab_id, *id, p))
        .collect();
    if !changed.is_empty() {
        Sql::default()
            .insert_many("report_pickups", changed)
            .push(
                " ON CONFLICT (referral_id) DO UPDATE SET fiscal_year = excluded.fiscal_year, \
                 institution_id = excluded.institution_id, days = excluded.days",
            )
            .execute(&mut *tx)
            .await?;
    }
    let gone: Vec<Uuid> = old
        .pickups
        .keys()
        .filter(|id| !new.pickups.contains_key(id))
        .copied()
        .collect();
    if !gone.is_empty() {
        sql("DELETE FROM report_pickups WHERE referral_id IN (")
            .bind_list(gone)
            .push(")")
            .execute(&mut *tx)
            .await?;
    }
    // Resolution and outcomes.
    if new.resolution != old.resolution {
        if !old.resolution.is_empty() {
            sql("DELETE FROM report_resolutions WHERE case_id = ")
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
        }
        if !new.resolution.is_empty() {
            let rows = new
                .resolution
                .iter()
                .map(|r| resolution_row(lab_id, case_id, business_id, r))
                .collect();
            Sql::default()
                .insert_many("report_resolutions", rows)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading a lab's year
// ---------------------------------------------------------------------------

/// The values at `ranks` (1-based) of each group's ascending sample.
type Ranked = HashMap<(Option<Uuid>, i64), f64>;

/// The report's facts for the lab `lab_id` in fiscal year `fy`, from the
/// rollup (and the pending referrals, for what is overdue at `now`).
pub(crate) async fn facts(
    pool: &Pool,
    lab_id: Uuid,
    fy: i32,
    now: DateTime<Utc>,
) -> AppResult<ReportFacts> {
    let fy64 = i64::from(fy);
    let (from, to) = crate::domain::fiscal_year::fiscal_year_bounds(fy);
    let months = month_starts(fy);
    // First the counts (they say which ranks decide the percentiles).
    let cells_q = {
        let mut q = sql(
            "SELECT kind, month, institution_id, k1, k2, k3, flag, CAST(SUM(n) AS BIGINT) FROM report_cells WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" GROUP BY kind, month, institution_id, k1, k2, k3, flag HAVING SUM(n) <> 0");
        q
    };
    let pickup_counts_q = {
        let mut q = sql("SELECT institution_id, COUNT(*) FROM report_pickups WHERE lab_id = ");
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" GROUP BY institution_id");
        q
    };
    let overdue_q = {
        let mut q = sql("SELECT r.institution_id, CAST(CASE");
        for (i, m) in months[1..12].iter().enumerate() {
            q.push(" WHEN r.created_at < ")
                .bind(*m)
                .push(&format!(" THEN {i}"));
        }
        q.push(" ELSE 11 END AS BIGINT), COUNT(*) FROM referrals r WHERE r.lab_id = ")
            .bind(lab_id)
            .push(" AND r.created_at >= ")
            .bind(from)
            .push(" AND r.created_at < ")
            .bind(to)
            .push(" AND ");
        rules::push_overdue(&mut q, "r", now);
        q.push(" GROUP BY 1, 2");
        q
    };
    let places_q = {
        let mut q = sql(
            "SELECT t.industry, t.region, t.municipality, t.first_month, CAST(SUM(t.cases) AS BIGINT), COUNT(*), \
             CAST(SUM(t.is_new) AS BIGINT) FROM report_business_years t WHERE t.lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND t.fiscal_year = ")
            .bind(fy64)
            .push(" GROUP BY 1, 2, 3, 4");
        q
    };
    let outcomes_q = {
        // Grouped by (outcome, business) first: that is the order of the index
        // `report_resolutions_outcome`, so neither level sorts.
        let mut q = sql(
            "SELECT outcome, CAST(SUM(n) AS BIGINT), COUNT(*) FROM (SELECT outcome, business_id, COUNT(*) AS n \
             FROM report_resolutions WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" AND outcome <> '' GROUP BY outcome, business_id) t GROUP BY outcome");
        q
    };
    let moves_q = {
        let mut q = sql(
            "SELECT from_stage, to_stage, month, CAST(SUM(events) AS BIGINT) FROM report_moves WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" GROUP BY 1, 2, 3");
        q
    };
    let reach_q = {
        let mut q = sql(
            "SELECT from_stage, to_stage, COUNT(DISTINCT case_id), COUNT(DISTINCT business_id) FROM report_moves WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" GROUP BY 1, 2");
        q
    };
    type CellRow = (String, i64, Uuid, String, String, String, i64, i64);
    type PlaceRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        i64,
    );
    let (cells, pickup_counts, overdue, places, outcome_rows, move_rows, reach_rows): (
        Vec<CellRow>,
        Vec<(Uuid, i64)>,
        Vec<(Uuid, i64, i64)>,
        Vec<PlaceRow>,
        Vec<(String, i64, i64)>,
        Vec<(String, String, i64, i64)>,
        Vec<(String, String, i64, i64)>,
    ) = futures::try_join!(
        cells_q.fetch_all(pool),
        pickup_counts_q.fetch_all(pool),
        overdue_q.fetch_all(pool),
        places_q.fetch_all(pool),
        outcomes_q.fetch_all(pool),
        moves_q.fetch_all(pool),
        reach_q.fetch_all(pool),
    )?;

    let mut out = ReportFacts::default();
    let mut resolved = 0i64;
    for (kind, month, inst, k1, k2, k3, flag, n) in cells {
        let month_u = month.clamp(0, 11) as u32;
        match kind.as_str() {
            CASE => {
                let (Some(stage), Some(status), Some(channel)) = (
                    Stage::parse(&k1),
                    CaseStatus::parse(&k2),
                    Channel::parse(&k3),
                ) else {
                    continue;
                };
                out.cases.push(CaseCell {
                    stage,
                    status,
                    referred: flag != 0,
                    channel,
                    month: month_u,
                    count: n,
                });
            }
            REFERRAL => {
                let Some(status) = ReferralStatus::parse(&k1) else {
                    continue;
                };
                out.referrals.push(ReferralCell {
                    institution_id: inst,
                    status,
                    reason: DeclineReason::parse(&k2),
                    month: month_u,
                    count: n,
                    overdue: 0,
                });
            }
            RESOLVED => {
                out.resolved_by_month[month_u as usize] += n;
                resolved += n;
            }
            _ => {}
        }
    }
    for (inst, month, n) in overdue {
        let month = month.clamp(0, 11) as u32;
        match out.referrals.iter_mut().find(|c| {
            c.institution_id == inst
                && c.status == ReferralStatus::Pending
                && c.reason.is_none()
                && c.month == month
        }) {
            Some(c) => c.overdue += n,
            None => out.referrals.push(ReferralCell {
                institution_id: inst,
                status: ReferralStatus::Pending,
                reason: None,
                month,
                count: 0,
                overdue: n,
            }),
        }
    }
    let mut by_month = [(0i64, 0i64); 12];
    for (industry, region, municipality, month, cases, businesses, new_businesses) in places {
        out.places.push(PlaceCell {
            industry,
            region,
            municipality,
            count: cases,
        });
        let m = &mut by_month[month.clamp(0, 11) as usize];
        m.0 += businesses;
        m.1 += new_businesses;
    }
    out.businesses = by_month
        .iter()
        .enumerate()
        .filter(|(_, (b, _))| *b > 0)
        .map(|(month, &(businesses, new_businesses))| BusinessCell {
            month: month as u32,
            businesses,
            new_businesses,
        })
        .collect();
    for (o, cases, businesses) in outcome_rows {
        if let Some(outcome) = Outcome::parse(&o) {
            out.outcomes.push(OutcomeCell {
                outcome,
                cases,
                businesses,
            });
        }
    }
    for (a, b, month, events) in move_rows {
        if let (Some(from), Some(to)) = (Stage::parse(&a), Stage::parse(&b)) {
            out.movements.push(MovementCell {
                from,
                to,
                month: month.clamp(0, 11) as u32,
                events,
            });
        }
    }
    for (a, b, cases, businesses) in reach_rows {
        if let (Some(from), Some(to)) = (Stage::parse(&a), Stage::parse(&b)) {
            out.reach.push(MovementReach {
                from,
                to,
                cases,
                businesses,
            });
        }
    }

    // Then the values at the ranks that decide medians and 90th percentiles.
    let total_pickups: i64 = pickup_counts.iter().map(|(_, n)| n).sum();
    let mut inst_ranks = BTreeSet::new();
    for (_, n) in &pickup_counts {
        inst_ranks.extend(DaySummary::ranks(*n));
    }
    let all_ranks: BTreeSet<i64> = DaySummary::ranks(total_pickups).into_iter().collect();
    let res_ranks: BTreeSet<i64> = DaySummary::ranks(resolved).into_iter().collect();
    // Two numberings, each in the order of its own index (lab, year, days) and
    // (lab, year, institution, days), so neither sorts the year's pick-ups.
    let pickups_all_q = {
        let mut q = sql(
            "SELECT rn, days FROM (SELECT days, ROW_NUMBER() OVER (ORDER BY days) AS rn \
             FROM report_pickups WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(") t WHERE rn IN (")
            .bind_list(all_ranks.iter().copied())
            .push(")");
        q
    };
    let pickups_inst_q = {
        let mut q = sql(
            "SELECT institution_id, rn, days FROM (SELECT institution_id, days, \
             ROW_NUMBER() OVER (PARTITION BY institution_id ORDER BY days) AS rn \
             FROM report_pickups WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(") t WHERE rn IN (")
            .bind_list(inst_ranks.iter().copied().chain([0]))
            .push(")");
        q
    };
    let res_q = {
        let mut q = sql(
            "SELECT rn, days FROM (SELECT days, ROW_NUMBER() OVER (ORDER BY days) AS rn \
             FROM report_resolutions WHERE lab_id = ",
        );
        q.bind(lab_id)
            .push(" AND fiscal_year = ")
            .bind(fy64)
            .push(" AND outcome = '') t WHERE rn IN (")
            .bind_list(res_ranks.iter().copied())
            .push(")");
        q
    };
    let none = |n: i64| n == 0;
    let (all_vals, inst_vals, res_vals): (Vec<(i64, f64)>, Vec<(Uuid, i64, f64)>, Vec<(i64, f64)>) =
        futures::try_join!(
            async {
                if none(total_pickups) {
                    Ok(Vec::new())
                } else {
                    pickups_all_q.fetch_all(pool).await
                }
            },
            async {
                if none(total_pickups) {
                    Ok(Vec::new())
                } else {
                    pickups_inst_q.fetch_all(pool).await
                }
            },
            async {
                if none(resolved) {
                    Ok(Vec::new())
                } else {
                    res_q.fetch_all(pool).await
                }
            },
        )?;
    let mut ranked: Ranked = HashMap::new();
    for (rn, days) in all_vals {
        ranked.insert((None, rn), days);
    }
    for (inst, rn, days) in inst_vals {
        ranked.insert((Some(inst), rn), days);
    }
    out.pickups = DaySummary::from_ranked(total_pickups, |r| ranked.get(&(None, r)).copied());
    out.pickups_by_institution = pickup_counts
        .iter()
        .map(|&(inst, n)| {
            (
                inst,
                DaySummary::from_ranked(n, |r| ranked.get(&(Some(inst), r)).copied()),
            )
        })
        .collect();
    let res: HashMap<i64, f64> = res_vals.into_iter().collect();
    out.resolutions = DaySummary::from_ranked(resolved, |r| res.get(&r).copied());
    Ok(out)
}

// ---------------------------------------------------------------------------
// Rebuilding from the cases
// ---------------------------------------------------------------------------

/// What a rebuild wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct RebuildReport {
    pub cases: usize,
    pub cells: usize,
    pub business_years: usize,
    pub moves: usize,
    pub pickups: usize,
    pub resolutions: usize,
}

const ROLLUP_TABLES: [&str; 5] = [
    "report_cells",
    "report_business_years",
    "report_moves",
    "report_pickups",
    "report_resolutions",
];

/// The statement that counts the case list `cq` from the rollup's `CASE`
/// cells, when its filters are among the cells' own dimensions (stage,
/// displayed status, channel) over the whole lab; `None` for any other filter
/// or a partner's view. One count per case is kept in the transaction of
/// every case write, so the sum is exact: about 12,000 cells at 1M cases
/// instead of a million index entries.
pub fn case_count_sql(cq: &CaseQuery) -> Option<Sql> {
    let lab_wide = CaseQuery {
        lab_id: cq.lab_id,
        statuses: cq.statuses.clone(),
        stages: cq.stages.clone(),
        channels: cq.channels.clone(),
        now: cq.now,
        ..CaseQuery::default()
    };
    if *cq != lab_wide {
        return None;
    }
    let mut q = sql("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM report_cells WHERE lab_id = ");
    q.bind(cq.lab_id).push(" AND kind = ").bind(CASE);
    if !cq.stages.is_empty() {
        q.push(" AND k1 IN (")
            .bind_list(cq.stages.iter().map(|s| s.as_str()))
            .push(")");
    }
    if !cq.channels.is_empty() {
        q.push(" AND k3 IN (")
            .bind_list(cq.channels.iter().map(|c| c.as_str()))
            .push(")");
    }
    if !cq.statuses.is_empty() {
        // A cell's displayed status: REFERRED when its flag says a pending
        // referral shows it so (`Contribution::of`), else the stored one.
        q.push(" AND (flag = 0 AND k2 IN (")
            .bind_list(cq.statuses.iter().map(|s| s.as_str()))
            .push(")");
        if cq.statuses.contains(&CaseStatus::Referred) {
            q.push(" OR flag = 1");
        }
        q.push(")");
    }
    Some(q)
}

/// Whether the rollup holds the database's data (false after migration 0008
/// on a database that already had cases, until [`rebuild`] runs).
pub async fn is_built(pool: &Pool) -> AppResult<bool> {
    let row: Option<(bool,)> = sql("SELECT built FROM report_rollup_state WHERE id = 'rollup'")
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some_and(|r| r.0))
}

/// Rebuilds the whole rollup from the cases, their referrals and their
/// `STAGE_CHANGED` events, in one transaction (writers wait for it: the write
/// lock on SQLite, an `EXCLUSIVE` lock on the rollup tables on PostgreSQL), with
/// the same [`Contribution::of`] the incremental path uses.
pub async fn rebuild(pool: &Pool) -> AppResult<RebuildReport> {
    let mut tx = pool.begin_bookkeeping().await?;
    if tx.dialect() == Dialect::Postgres {
        sql(&format!(
            "LOCK TABLE {}, report_rollup_state IN EXCLUSIVE MODE",
            ROLLUP_TABLES.join(", ")
        ))
        .execute(&mut tx)
        .await?;
    }
    for t in ROLLUP_TABLES {
        sql(&format!("DELETE FROM {t}")).execute(&mut tx).await?;
    }
    let mut report = RebuildReport::default();
    let mut cells: BTreeMap<(Uuid, CellKey), i64> = BTreeMap::new();
    let mut years: HashMap<(Uuid, i64, Uuid), (i64, i64)> = HashMap::new();
    let mut after: Option<Uuid> = None;
    let chunk = 2000;
    loop {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            DateTime<Utc>,
            Stage,
            CaseStatus,
            Channel,
            Option<DateTime<Utc>>,
            sqlx::types::Json<Vec<Outcome>>,
        );
        let mut q = sql(
            "SELECT id, lab_id, business_id, created_at, stage, status, channel, resolved_at, outcomes FROM cases",
        );
        if let Some(a) = after {
            q.push(" WHERE id > ").bind(a);
        }
        q.push(&format!(" ORDER BY id LIMIT {chunk}"));
        let rows: Vec<Row> = q.fetch_all(&mut tx).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        type RefRow = (
            Uuid,
            Uuid,
            Uuid,
            ReferralStatus,
            Option<DeclineReason>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let refs: Vec<RefRow> = sql(
            "SELECT case_id, id, institution_id, status, reason, created_at, decided_at FROM referrals WHERE case_id IN (",
        )
        .bind_list(ids.iter().copied())
        .push(")")
        .fetch_all(&mut tx)
        .await?;
        let d = tx.dialect();
        let events: Vec<(Uuid, DateTime<Utc>, Option<String>, Option<String>)> = sql(&format!(
            "SELECT case_id, at, {}, {} FROM case_events WHERE kind = '{}' AND case_id IN (",
            d.json_field("payload", "from"),
            d.json_field("payload", "to"),
            EventKind::StageChanged.as_str()
        ))
        .bind_list(ids.iter().copied())
        .push(")")
        .fetch_all(&mut tx)
        .await?;
        let mut by_case: HashMap<Uuid, Vec<ReferralFacts>> = HashMap::new();
        for (case_id, id, institution_id, status, reason, created_at, decided_at) in refs {
            by_case.entry(case_id).or_default().push(ReferralFacts {
                id,
                institution_id,
                status,
                reason,
                created_at,
                decided_at,
            });
        }
        let mut pickups = Vec::new();
        let mut resolutions = Vec::new();
        let mut lab_business: HashMap<Uuid, (Uuid, Uuid)> = HashMap::new();
        for (id, lab_id, business_id, created_at, stage, status, channel, resolved_at, outcomes) in
            rows
        {
            lab_business.insert(id, (lab_id, business_id));
            let c = CaseFacts {
                created_at,
                stage,
                status,
                channel,
                resolved_at,
                outcomes: outcomes.0,
                referrals: by_case.remove(&id).unwrap_or_default(),
            };
            let contribution = Contribution::of(&c);
            for k in contribution.cells {
                *cells.entry((lab_id, k)).or_default() += 1;
            }
            let (fy, m) = fy_month(created_at);
            let y = years.entry((lab_id, fy, business_id)).or_insert((0, m));
            y.0 += 1;
            y.1 = y.1.min(m);
            for (rid, p) in &contribution.pickups {
                pickups.push(pickup_row(lab_id, *rid, p));
            }
            for r in &contribution.resolution {
                resolutions.push(resolution_row(lab_id, id, business_id, r));
            }
            report.cases += 1;
        }
        let mut moves: BTreeMap<(Uuid, i64, i64, String, String, Uuid), i64> = BTreeMap::new();
        for (case_id, at, from, to) in events {
            if let (Some(from), Some(to)) = (from, to) {
                let (lab_id, _) = lab_business[&case_id];
                let (fy, m) = fy_month(at);
                *moves.entry((lab_id, fy, m, from, to, case_id)).or_default() += 1;
            }
        }
        let moves: Vec<Vec<Col>> = moves
            .into_iter()
            .map(|((lab_id, fy, m, from, to, case_id), n)| {
                vec![
                    ("lab_id", lab_id.into()),
                    ("fiscal_year", fy.into()),
                    ("month", m.into()),
                    ("from_stage", from.into()),
                    ("to_stage", to.into()),
                    ("case_id", case_id.into()),
                    ("business_id", lab_business[&case_id].1.into()),
                    ("events", n.into()),
                ]
            })
            .collect();
        report.pickups += pickups.len();
        report.resolutions += resolutions.len();
        report.moves += moves.len();
        insert_batched(&mut tx, "report_pickups", pickups).await?;
        insert_batched(&mut tx, "report_resolutions", resolutions).await?;
        insert_batched(&mut tx, "report_moves", moves).await?;
    }
    report.cells = cells.len();
    let cell_rows = cells
        .iter()
        .map(|((lab_id, k), n)| cell_row(*lab_id, k, 0, *n))
        .collect();
    insert_batched(&mut tx, "report_cells", cell_rows).await?;
    report.business_years = years.len();
    let year_rows = years
        .into_iter()
        .map(|((lab_id, fy, business_id), (n, m))| {
            vec![
                ("lab_id", lab_id.into()),
                ("fiscal_year", fy.into()),
                ("business_id", business_id.into()),
                ("cases", n.into()),
                ("first_month", m.into()),
            ]
        })
        .collect();
    insert_batched(&mut tx, "report_business_years", year_rows).await?;
    refresh_business_years(&mut tx, None).await?;
    sql("UPDATE report_rollup_state SET built = ")
        .bind(true)
        .push(", built_at = ")
        .bind(Utc::now())
        .push(" WHERE id = 'rollup'")
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(report)
}

/// Inserts `rows` in statements of at most 500 rows.
async fn insert_batched(tx: &mut Tx, table: &str, mut rows: Vec<Vec<Col>>) -> AppResult<()> {
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(500));
        Sql::default()
            .insert_many(table, std::mem::replace(&mut rows, rest))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Rebuilds the rollup if migration 0008 found cases it does not hold yet.
pub async fn ensure_built(pool: &Pool) -> anyhow::Result<()> {
    if !is_built(pool).await? {
        let r = rebuild(pool).await?;
        tracing::info!(cases = r.cases, "rolled up the activity report's data");
    }
    Ok(())
}

/// Sets the business's rows of `report_business_years` from the facts: its
/// industry, region and municipality, and whether each year is its first
/// (every business's rows with `None`: after a rebuild). Called by a business
/// edit and a merge, in their transaction.
pub(crate) async fn refresh_business_years(
    tx: &mut Tx,
    business_id: Option<Uuid>,
) -> AppResult<()> {
    let mut q = sql("UPDATE report_business_years SET ");
    for col in ["industry", "region", "municipality"] {
        q.push(&format!(
            "{col} = (SELECT b.{col} FROM businesses b WHERE b.id = report_business_years.business_id), "
        ));
    }
    q.push(
        "is_new = CASE WHEN EXISTS (SELECT 1 FROM report_business_years p WHERE \
         p.business_id = report_business_years.business_id AND p.fiscal_year < report_business_years.fiscal_year \
         AND p.lab_id = report_business_years.lab_id) THEN 0 ELSE 1 END",
    );
    if let Some(id) = business_id {
        q.push(" WHERE business_id = ").bind(id);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// A merge moved every case of `from` to `to`: its business-year rows join
/// `to`'s (cases added, the earlier first month), and its stage moves and
/// resolutions count for `to`, as the report from the rows counts them.
/// Running it again changes nothing (no row of `from` is left).
pub(crate) async fn merge_business(
    tx: &mut Tx,
    lab_id: Uuid,
    from: Uuid,
    to: Uuid,
) -> AppResult<()> {
    let mut q = sql(
        "INSERT INTO report_business_years (lab_id, fiscal_year, business_id, cases, first_month) \
         SELECT lab_id, fiscal_year, ",
    );
    q.bind(to)
        .push(", cases, first_month FROM report_business_years WHERE lab_id = ")
        .bind(lab_id)
        .push(" AND business_id = ")
        .bind(from)
        .push(
            " ON CONFLICT (lab_id, fiscal_year, business_id) DO UPDATE SET \
             cases = report_business_years.cases + excluded.cases, first_month = CASE WHEN excluded.first_month \
             < report_business_years.first_month THEN excluded.first_month ELSE report_business_years.first_month END",
        );
    q.execute(&mut *tx).await?;
    sql("DELETE FROM report_business_years WHERE lab_id = ")
        .bind(lab_id)
        .push(" AND business_id = ")
        .bind(from)
        .execute(&mut *tx)
        .await?;
    for table in ["report_moves", "report_resolutions"] {
        sql(&format!("UPDATE {table} SET business_id = "))
            .bind(to)
            .push(" WHERE lab_id = ")
            .bind(lab_id)
            .push(" AND business_id = ")
            .bind(from)
            .execute(&mut *tx)
            .await?;
    }
    refresh_business_years(tx, Some(to)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn case(status: CaseStatus, referrals: Vec<ReferralFacts>) -> CaseFacts {
        let at = Utc.with_ymd_and_hms(2025, 3, 31, 15, 0, 0).unwrap(); // April 1 JST
        CaseFacts {
            created_at: at,
            stage: Stage::Know,
            status,
            channel: Channel::Phone,
            resolved_at: (!crate::domain::case_state::is_open(status))
                .then(|| at + chrono::Duration::days(3)),
            outcomes: vec![Outcome::ToolAdopted, Outcome::ToolAdopted],
            referrals,
        }
    }

    #[test]
    fn a_case_counts_in_its_fiscal_month() {
        let c = Contribution::of(&case(CaseStatus::New, vec![]));
        assert_eq!(c.cells.len(), 1);
        assert_eq!(c.cells[0].0, 2025);
        assert_eq!(c.cells[0].2, 0);
        assert!(c.resolution.is_empty());
    }

    #[test]
    fn pending_referral_marks_referred_and_decided_ones_have_pickups() {
        let at = Utc.with_ymd_and_hms(2025, 3, 31, 14, 0, 0).unwrap(); // March 31 JST
        let r = |status, decided_at| ReferralFacts {
            id: Uuid::now_v7(),
            institution_id: Uuid::from_u128(3),
            status,
            reason: None,
            created_at: at,
            decided_at,
        };
        let c = Contribution::of(&case(
            CaseStatus::InProgress,
            vec![
                r(ReferralStatus::Pending, None),
                r(
                    ReferralStatus::Accepted,
                    Some(at + chrono::Duration::days(1)),
                ),
                r(ReferralStatus::Withdrawn, Some(at)),
            ],
        ));
        assert_eq!(c.cells[0].7, 1, "shown as REFERRED");
        assert_eq!(
            c.cells[1].0, 2024,
            "the referral of March 31 JST is of FY2024"
        );
        assert_eq!(c.cells[1].2, 11);
        assert_eq!(c.pickups.len(), 1);
    }

    #[test]
    fn a_resolved_case_counts_each_outcome_once() {
        let c = Contribution::of(&case(CaseStatus::Resolved, vec![]));
        assert_eq!(c.resolution.len(), 2);
        assert_eq!(c.resolution[0].2, 3.0);
        assert_eq!(c.cells.len(), 2);
    }
}
