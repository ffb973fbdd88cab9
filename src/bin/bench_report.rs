//! Benchmark of the fiscal-year activity report: seeds one lab with N
//! synthetic cases spread over ten fiscal years (with referrals, outcomes and
//! stage changes), then times `activityReport` for the last of those years —
//! the lab's whole report (what the secretariat sees) and a partner's. Not a
//! test: it prints figures.
//!
//! ```text
//! cargo run --release --features bench --bin bench_report -- [--cases 1000000] [--backend sqlite|postgres|both]
//!     [--runs 7] [--sqlite-path FILE] [--pg-url URL]
//! ```
//!
//! `--sqlite-path` keeps the SQLite database (seeded only when the file is new);
//! PostgreSQL is seeded into a fresh schema `bench_report_<N>` that is dropped
//! afterwards.

use chrono::{DateTime, Duration, Utc};
use dxdesk::domain::business_days::pickup_deadline;
use dxdesk::domain::fiscal_year::fiscal_year_bounds;
use dxdesk::store::{LabRow, PgStore, ReportScope, SharedStore, SqliteStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::types::Json;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

const FIRST_FY: i32 = 2015;
const YEARS: i32 = 10;
const INSTITUTIONS: usize = 20;
/// Rows per multi-row INSERT (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const CHUNK: usize = 1000;

struct Args {
    cases: usize,
    sqlite: bool,
    postgres: bool,
    pg_url: String,
    sqlite_path: Option<String>,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        cases: 1_000_000,
        sqlite: true,
        postgres: false,
        pg_url: std::env::var("DXDESK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        sqlite_path: None,
        runs: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--cases" => a.cases = val.replace('_', "").parse().expect("--cases N"),
            "--backend" => {
                a.sqlite = val == "sqlite" || val == "both";
                a.postgres = val == "postgres" || val == "both";
            }
            "--pg-url" => a.pg_url = val,
            "--sqlite-path" => a.sqlite_path = Some(val),
            "--runs" => a.runs = val.parse().expect("--runs N"),
            other => panic!(
                "unknown flag {other}; use --cases N, --backend sqlite|postgres|both, --runs N, --sqlite-path FILE, --pg-url URL"
            ),
        }
    }
    a
}

/// A bind value of the seeding INSERTs.
#[derive(Clone)]
enum V {
    Id(Uuid),
    OptId(Option<Uuid>),
    S(&'static str),
    Str(String),
    OptS(Option<&'static str>),
    T(DateTime<Utc>),
    OptT(Option<DateTime<Utc>>),
    I(i64),
    B(bool),
    J(serde_json::Value),
}

macro_rules! bind_all {
    ($q:expr, $rows:expr) => {{
        let mut q = $q;
        for row in $rows {
            for v in row {
                q = match v {
                    V::Id(x) => q.bind(*x),
                    V::OptId(x) => q.bind(*x),
                    V::S(x) => q.bind(*x),
                    V::Str(x) => q.bind(x.as_str()),
                    V::OptS(x) => q.bind(*x),
                    V::T(x) => q.bind(*x),
                    V::OptT(x) => q.bind(*x),
                    V::I(x) => q.bind(*x),
                    V::B(x) => q.bind(*x),
                    V::J(x) => q.bind(Json(x)),
                };
            }
        }
        q
    }};
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

/// Rows waiting for one multi-row INSERT, flushed every `CHUNK` rows inside
/// one big transaction per table batch.
struct Batch {
    table: &'static str,
    cols: &'static str,
    rows: Vec<Vec<V>>,
}

impl Batch {
    fn new(table: &'static str, cols: &'static str) -> Self {
        Self {
            table,
            cols,
            rows: Vec::with_capacity(CHUNK),
        }
    }

    /// The INSERT of the pending rows: `$N` placeholders for PostgreSQL, `?` for
    /// SQLite (whose parser looks `$N` names up one by one: slow with 20,000 of them).
    fn sql(&self, numbered: bool) -> String {
        let width = self.rows[0].len();
        let mut s = format!("INSERT INTO {} ({}) VALUES ", self.table, self.cols);
        let mut p = 1;
        for (i, _) in self.rows.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push('(');
            for j in 0..width {
                if j > 0 {
                    s.push_str(", ");
                }
                if numbered {
                    s.push_str(&format!("${p}"));
                } else {
                    s.push('?');
                }
                p += 1;
            }
            s.push(')');
        }
        s
    }
}

struct Seeder {
    pool: Pool,
    sqlite_tx: Option<sqlx::Transaction<'static, sqlx::Sqlite>>,
    pg_tx: Option<sqlx::Transaction<'static, sqlx::Postgres>>,
    pending: usize,
}

impl Seeder {
    async fn begin(&mut self) -> anyhow::Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => self.sqlite_tx = Some(p.begin().await?),
            Pool::Pg(p) => self.pg_tx = Some(p.begin().await?),
        }
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.sqlite_tx.take() {
            tx.commit().await?;
        }
        if let Some(tx) = self.pg_tx.take() {
            tx.commit().await?;
        }
        self.pending = 0;
        Ok(())
    }

    async fn push(&mut self, b: &mut Batch, row: Vec<V>) -> anyhow::Result<()> {
        b.rows.push(row);
        if b.rows.len() >= CHUNK {
            self.flush(b).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, b: &mut Batch) -> anyhow::Result<()> {
        if b.rows.is_empty() {
            return Ok(());
        }
        let sql = b.sql(self.pg_tx.is_some());
        if let Some(tx) = self.sqlite_tx.as_mut() {
            bind_all!(sqlx::query(&sql), b.rows.iter())
                .execute(&mut **tx)
                .await?;
        } else if let Some(tx) = self.pg_tx.as_mut() {
            bind_all!(sqlx::query(&sql), b.rows.iter())
                .execute(&mut **tx)
                .await?;
        } else {
            anyhow::bail!("no transaction");
        }
        self.pending += b.rows.len();
        b.rows.clear();
        Ok(())
    }
}

const STAGES: [&str; 3] = ["KNOW", "CONSULT", "TRY"];
const CHANNELS: [&str; 6] = ["WALK_IN", "PHONE", "EMAIL", "WEB_FORM", "SEMINAR", "OTHER"];
const OUTCOMES: [&str; 9] = [
    "TOOL_ADOPTED",
    "TRIAL_RUN",
    "SUBSIDY_APPLIED",
    "SUBSIDY_GRANTED",
    "FINANCING_ARRANGED",
    "DX_CERTIFIED",
    "TRAINING_COMPLETED",
    "ADVICE_ONLY",
    "NO_ACTION",
];
const REASONS: [&str; 5] = [
    "OUT_OF_SCOPE",
    "NO_CAPACITY",
    "NOT_ELIGIBLE",
    "DUPLICATE",
    "OTHER",
];

/// Seeds the lab; returns (lab id, an institution id for the partner's report).
async fn seed(store: &SharedStore, pool: Pool, n: usize) -> anyhow::Result<(Uuid, Uuid)> {
    let t0 = Instant::now();
    let aom = dxdesk::seed::labs::reference_labs()?
        .labs
        .into_iter()
        .find(|l| l.code == "AOM")
        .expect("AOM in labs.json");
    let (start, _) = fiscal_year_bounds(FIRST_FY);
    let (_, end) = fiscal_year_bounds(FIRST_FY + YEARS - 1);
    let lab = store
        .upsert_lab(&LabRow {
            id: Uuid::now_v7(),
            code: "BEN".into(),
            name: "ベンチマークラボ".into(),
            name_en: "Benchmark lab".into(),
            regions: Json(aom.regions.clone()),
            pickup_days: 3,
            created_at: start,
        })
        .await?;
    let mut institutions = Vec::new();
    for i in 0..INSTITUTIONS {
        let id = Uuid::now_v7();
        store
            .insert_institution(&dxdesk::store::InstitutionRow {
                id,
                lab_id: lab,
                name: format!("機関{i:02}"),
                kind: dxdesk::domain::types::InstitutionKind::ALL[i % 6],
                tags: Json(vec![]),
                regions: Json(vec![]),
                active: true,
                created_at: start,
                updated_at: start,
            })
            .await?;
        institutions.push(id);
    }
    let places: Vec<(&str, &str)> = aom
        .regions
        .iter()
        .flat_map(|r| {
            r.municipalities
                .iter()
                .map(move |m| (r.code.as_str(), m.as_str()))
        })
        .collect();
    let places: Vec<(&'static str, &'static str)> = places
        .into_iter()
        .map(|(r, m)| -> (&'static str, &'static str) {
            (
                Box::leak(r.to_owned().into_boxed_str()),
                Box::leak(m.to_owned().into_boxed_str()),
            )
        })
        .collect();
    let letters: Vec<&'static str> = dxdesk::domain::validation::JSIC_DIVISIONS
        .iter()
        .map(|(c, _, _)| -> &'static str { Box::leak(c.to_string().into_boxed_str()) })
        .collect();
    let mut rng = StdRng::seed_from_u64(2024);
    let mut s = Seeder {
        pool,
        sqlite_tx: None,
        pg_tx: None,
        pending: 0,
    };

    // Businesses: one for every three cases.
    let n_biz = (n / 3).max(1);
    let mut businesses = Vec::with_capacity(n_biz);
    s.begin().await?;
    let mut b = Batch::new(
        "businesses",
        "id, lab_id, name, industry, municipality, region, contact_name, email, phone, created_at, updated_at",
    );
    for i in 0..n_biz {
        let id = Uuid::now_v7();
        businesses.push(id);
        let (region, municipality) = places[rng.gen_range(0..places.len())];
        let industry = (rng.gen_range(0..10) > 0).then(|| letters[rng.gen_range(0..letters.len())]);
        s.push(
            &mut b,
            vec![
                V::Id(id),
                V::Id(lab),
                V::Str(format!("事業者{i}")),
                V::OptS(industry),
                V::S(municipality),
                V::S(region),
                V::S("担当者"),
                V::S("contact@example.jp"),
                V::S("000-0000-0000"),
                V::T(start),
                V::T(start),
            ],
        )
        .await?;
    }
    s.flush(&mut b).await?;
    s.commit().await?;

    let span = (end - start).num_seconds();
    let now = end + Duration::days(10);
    let mut cases = Batch::new(
        "cases",
        "id, lab_id, reference, business_id, title, description, channel, stage, status, priority, \
         consent_to_share, access_code_hash, outcomes, version, event_count, last_event_hash, \
         created_at, updated_at, resolved_at, closed_at",
    );
    let mut referrals = Batch::new(
        "referrals",
        "id, lab_id, case_id, institution_id, status, reason, pickup_deadline, created_at, decided_at, completed_at, updated_at",
    );
    let mut events = Batch::new(
        "case_events",
        "id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash",
    );
    let (mut n_ref, mut n_ev) = (0usize, 0usize);
    s.begin().await?;
    for i in 0..n {
        if s.pending >= 200_000 {
            s.commit().await?;
            s.begin().await?;
        }
        let created = start + Duration::seconds(span * i as i64 / n as i64);
        let id = Uuid::now_v7();
        let recent = now - created < Duration::days(120);
        let status = match rng.gen_range(0..100) {
            _ if recent && rng.gen_bool(0.5) => {
                ["NEW", "IN_PROGRESS", "ON_HOLD"][rng.gen_range(0..3)]
            }
            0..=59 => "CLOSED",
            60..=84 => "RESOLVED",
            85..=92 => "IN_PROGRESS",
            93..=96 => "ON_HOLD",
            _ => "NEW",
        };
        let resolved = matches!(status, "RESOLVED" | "CLOSED")
            .then(|| created + Duration::hours(rng.gen_range(2..24 * 90)));
        let closed = (status == "CLOSED").then(|| resolved.unwrap() + Duration::days(7));
        let outcomes: Vec<&str> = if resolved.is_some() {
            let k = rng.gen_range(1..=2);
            (0..k).map(|_| OUTCOMES[rng.gen_range(0..9)]).collect()
        } else {
            vec![]
        };
        let stage = STAGES[rng.gen_range(0..3)];
        cases.rows.push(vec![
            V::Id(id),
            V::Id(lab),
            V::Str(format!("BEN-{}-{:07}", created.format("%Y"), i + 1)),
            V::Id(businesses[rng.gen_range(0..businesses.len())]),
            V::S("相談"),
            V::S("ベンチマーク用の相談"),
            V::S(CHANNELS[rng.gen_range(0..6)]),
            V::S(stage),
            V::S(status),
            V::S("NORMAL"),
            V::B(true),
            V::S("x"),
            V::J(serde_json::json!(outcomes)),
            V::I(1),
            V::I(1),
            V::S("x"),
            V::T(created),
            V::T(created),
            V::OptT(resolved),
            V::OptT(closed),
        ]);
        let mut seq = 1;
        events.rows.push(vec![
            V::Id(Uuid::now_v7()),
            V::Id(lab),
            V::Id(id),
            V::I(seq),
            V::S("OPENED"),
            V::OptId(None),
            V::T(created),
            V::J(serde_json::json!({})),
            V::S("0"),
            V::S("x"),
        ]);
        n_ev += 1;
        for (from, to, p) in [("KNOW", "CONSULT", 0.4), ("CONSULT", "TRY", 0.15)] {
            if rng.gen_bool(p) {
                seq += 1;
                events.rows.push(vec![
                    V::Id(Uuid::now_v7()),
                    V::Id(lab),
                    V::Id(id),
                    V::I(seq),
                    V::S("STAGE_CHANGED"),
                    V::OptId(None),
                    V::T(created + Duration::days(seq)),
                    V::J(serde_json::json!({ "from": from, "to": to })),
                    V::S("x"),
                    V::S("x"),
                ]);
                n_ev += 1;
            }
        }
        if rng.gen_bool(0.5) {
            let at = created + Duration::hours(rng.gen_range(1..72));
            let decided = at + Duration::hours(rng.gen_range(1..24 * 7));
            let (status, reason, completed) = match rng.gen_range(0..100) {
                _ if recent && rng.gen_bool(0.3) => ("PENDING", None, None),
                0..=59 => ("COMPLETED", None, Some(decided + Duration::days(20))),
                60..=74 => ("ACCEPTED", None, None),
                75..=89 => ("DECLINED", Some(REASONS[rng.gen_range(0..5)]), None),
                _ => ("WITHDRAWN", None, None),
            };
            referrals.rows.push(vec![
                V::Id(Uuid::now_v7()),
                V::Id(lab),
                V::Id(id),
                V::Id(institutions[rng.gen_range(0..INSTITUTIONS)]),
                V::S(status),
                V::OptS(reason),
                V::T(pickup_deadline(at, 3)),
                V::T(at),
                V::OptT((status != "PENDING").then_some(decided)),
                V::OptT(completed),
                V::T(at),
            ]);
            n_ref += 1;
        }
        // Parents before children (foreign keys).
        if cases.rows.len() >= CHUNK || events.rows.len() >= CHUNK || referrals.rows.len() >= CHUNK
        {
            s.flush(&mut cases).await?;
            s.flush(&mut events).await?;
            s.flush(&mut referrals).await?;
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("  … {} cases ({:.0}s)", i + 1, t0.elapsed().as_secs_f64());
        }
    }
    s.flush(&mut cases).await?;
    s.flush(&mut events).await?;
    s.flush(&mut referrals).await?;
    s.commit().await?;
    // The rows were written behind the store: roll them up as
    // `dxdesk report rebuild-rollup` does.
    let t = Instant::now();
    let r = store.rebuild_rollup().await?;
    println!(
        "rolled up {} cases ({} cells, {} pick-ups, {} resolution rows) in {:.1}s",
        r.cases,
        r.cells,
        r.pickups,
        r.resolutions,
        t.elapsed().as_secs_f64()
    );
    // As autovacuum would after a bulk load (visibility map for index-only
    // scans, statistics). SQLite gets no ANALYZE: the service never runs one.
    if let Pool::Pg(p) = &s.pool {
        sqlx::query("VACUUM ANALYZE").execute(p).await?;
    }
    println!(
        "seeded {n} cases, {n_biz} businesses, {n_ref} referrals, {n_ev} events in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    Ok((lab, institutions[0]))
}

async fn time_reports(
    store: &SharedStore,
    lab: Uuid,
    inst: Uuid,
    runs: usize,
) -> anyhow::Result<()> {
    let fy = FIRST_FY + YEARS - 1;
    let now = fiscal_year_bounds(fy).1 + Duration::days(10);
    for (who, scope) in [
        ("lab (admin)", ReportScope::lab(lab)),
        (
            "partner institution",
            ReportScope {
                lab_id: lab,
                institution_id: Some(inst),
            },
        ),
    ] {
        let mut times = Vec::new();
        let mut opened = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r =
                dxdesk::service::reports::activity_report(store.as_ref(), scope, fy, now).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            opened = r.cases_opened;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  activityReport FY{fy}, {who}: {opened} cases opened in the year; min {:.0} ms, median {:.0} ms, max {:.0} ms ({runs} runs)",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        store
            .report_facts_from_scratch(ReportScope::lab(lab), fy, now)
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "  the lab's figures from the rows (no rollup, as before): median {:.0} ms",
        times[times.len() / 2]
    );
    let t = Instant::now();
    let csv = dxdesk::service::reports::export_csv(
        store.as_ref(),
        ReportScope::lab(lab),
        fy,
        dxdesk::service::reports::ExportKind::Cases,
        now,
    )
    .await?;
    println!(
        "  cases CSV FY{fy}: {:.1} MB in {:.0} ms",
        csv.len() as f64 / 1e6,
        t.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    if a.sqlite {
        let (path, existed) = match &a.sqlite_path {
            Some(p) => (p.clone(), std::path::Path::new(p).exists()),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("dxdesk-bench-report-{}", Uuid::new_v4()));
                std::fs::create_dir_all(&dir)?;
                (dir.join("bench.db").display().to_string(), false)
            }
        };
        println!("SQLite ({path}), {} cases:", a.cases);
        let s = SqliteStore::connect(&format!("sqlite://{path}")).await?;
        let pool = s.pool().clone();
        let store: SharedStore = Arc::new(s);
        let (lab, inst) = if existed {
            let lab = store
                .lab_by_code("BEN")
                .await?
                .expect("lab BEN in the kept database");
            let inst = store.institutions(lab.id).await?[0].id;
            println!("reusing the seeded database");
            (lab.id, inst)
        } else {
            seed(&store, Pool::Sqlite(pool), a.cases).await?
        };
        time_reports(&store, lab, inst, a.runs).await?;
        if a.sqlite_path.is_none() {
            let _ = std::fs::remove_file(&path);
        }
    }
    if a.postgres {
        let schema = format!("bench_report_{}", a.cases);
        println!("PostgreSQL (schema {schema}), {} cases:", a.cases);
        let admin = sqlx::PgPool::connect(&a.pg_url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&admin)
            .await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await?;
        let opts = sqlx::postgres::PgConnectOptions::from_str(&a.pg_url)?
            .options([("search_path", schema.as_str())]);
        let s = PgStore::connect_with(opts).await?;
        let pool = s.pool().clone();
        let store: SharedStore = Arc::new(s);
        let (lab, inst) = seed(&store, Pool::Pg(pool), a.cases).await?;
        time_reports(&store, lab, inst, a.runs).await?;
        drop(store);
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await?;
    }
    Ok(())
}
