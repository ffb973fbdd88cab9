//! Benchmark of the case list: seeds a lab with N synthetic cases
//! over ten years on SQLite and/or PostgreSQL, then times the `cases` first
//! page and a deep page (keyset cursor half-way down), with and without
//! filters, and the total count. Not a test: it prints figures.
//!
//! cargo run --release --features bench --bin bench_cases -- --sizes 10000,1000000 --backend both

use chrono::{Duration, TimeZone, Utc};
use dxdesk::domain::types::CaseStatus;
use dxdesk::state::AppState;
use dxdesk::store::bulk::BulkSpec;
use dxdesk::store::{CaseQuery, PgStore, SharedStore, SqliteStore};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

struct Args {
    sizes: Vec<usize>,
    sqlite: bool,
    postgres: bool,
    pg_url: String,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![10_000, 1_000_000],
        sqlite: true,
        postgres: true,
        pg_url: std::env::var("DXDESK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        runs: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--sizes" => a.sizes = val.split(',').map(|s| s.trim().parse().expect("size")).collect(),
            "--backend" => {
                a.sqlite = val == "sqlite" || val == "both";
                a.postgres = val == "postgres" || val == "both";
            }
            "--pg-url" => a.pg_url = val,
            "--runs" => a.runs = val.parse().expect("runs"),
            other => panic!("unknown flag {other}; use --sizes, --backend sqlite|postgres|both, --pg-url, --runs"),
        }
    }
    a
}

fn config() -> dxdesk::config::Config {
    dxdesk::config::Config::from_lookup(|k| {
        (k == "DXDESK_JWT_SECRET")
            .then(|| "uzRS6EPgAtpFUTmZdyzPwKPwmIAHKiUiKf0LUR2/Ek19".to_owned())
    })
    .unwrap()
}

async fn fresh(backend: &str, pg_url: &str) -> anyhow::Result<SharedStore> {
    Ok(match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("dxdesk-bench-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir)?;
            Arc::new(SqliteStore::connect(&format!("sqlite://{}/bench.db", dir.display())).await?)
        }
        _ => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(pg_url).await?;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await?;
            let opts = sqlx::postgres::PgConnectOptions::from_str(pg_url)?
                .options([("search_path", schema.as_str())]);
            Arc::new(PgStore::connect_with(opts).await?)
        }
    })
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> anyhow::Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut ms = Vec::with_capacity(runs);
    f().await?; // warm-up
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((ms[0], ms[ms.len() / 2]))
}

async fn bench(backend: &str, size: usize, a: &Args) -> anyhow::Result<()> {
    let store = fresh(backend, &a.pg_url).await?;
    let state = AppState::new(store.clone(), config());
    dxdesk::seed::seed_directory(&state).await?;
    let lab = store.lab_by_code("AOM").await?.expect("AOM lab");
    let institutions: Vec<_> = store
        .institutions(lab.id)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let places = lab
        .regions
        .iter()
        .flat_map(|r| {
            r.municipalities
                .iter()
                .map(move |m| (m.clone(), r.code.clone()))
        })
        .collect();
    let to = Utc::now();
    let spec = BulkSpec {
        lab_id: lab.id,
        lab_code: lab.code.clone(),
        cases: size,
        from: to - Duration::days(3650),
        to,
        institutions,
        places,
        seed: 42,
    };
    let t = Instant::now();
    let mut last = 0;
    let progress = |n: usize| {
        if n - last >= 100_000 {
            eprintln!("  seeded {n}");
            last = n;
        }
    };
    let report = match backend {
        "sqlite" => {
            store
                .as_any()
                .downcast_ref::<SqliteStore>()
                .unwrap()
                .bulk_seed(&spec, progress)
                .await?
        }
        _ => {
            store
                .as_any()
                .downcast_ref::<PgStore>()
                .unwrap()
                .bulk_seed(&spec, progress)
                .await?
        }
    };
    if backend == "postgres" {
        let pool = store
            .as_any()
            .downcast_ref::<PgStore>()
            .unwrap()
            .pool()
            .clone();
        sqlx::query("ANALYZE").execute(&pool).await?;
    } else {
        let pool = store
            .as_any()
            .downcast_ref::<SqliteStore>()
            .unwrap()
            .pool()
            .clone();
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    eprintln!(
        "{backend} {size}: seeded {} cases, {} referrals, {} events in {:.1}s",
        report.cases,
        report.referrals,
        report.events,
        t.elapsed().as_secs_f64()
    );

    let now = Utc.from_utc_datetime(&Utc::now().naive_utc());
    let all = CaseQuery {
        lab_id: lab.id,
        now,
        ..Default::default()
    };
    // The cursor half-way down the list.
    let mut cursor = None;
    let mut walked = 0;
    while walked < size / 2 {
        let step = (size / 2 - walked).min(1000) as i64;
        let page = store.list_cases(&all, cursor, step).await?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        walked += page.len();
    }
    let filtered = CaseQuery {
        statuses: vec![CaseStatus::InProgress],
        ..all.clone()
    };
    let search = CaseQuery {
        search: Some("在庫管理".into()),
        ..all.clone()
    };
    // Only the oldest case's company has this name: the search scans the whole lab.
    let rare = CaseQuery {
        search: Some("ベンチ0000000".into()),
        ..all.clone()
    };
    let s = &store;
    let rows: Vec<(&str, (f64, f64))> = vec![
        (
            "first page (20)",
            time(a.runs, || async { Ok(s.list_cases(&all, None, 20).await?) }).await?,
        ),
        (
            "deep page (20, cursor at N/2)",
            time(a.runs, || async {
                Ok(s.list_cases(&all, cursor, 20).await?)
            })
            .await?,
        ),
        (
            "first page, status IN_PROGRESS",
            time(a.runs, || async {
                Ok(s.list_cases(&filtered, None, 20).await?)
            })
            .await?,
        ),
        (
            "deep page, status IN_PROGRESS",
            time(a.runs, || async {
                Ok(s.list_cases(&filtered, cursor, 20).await?)
            })
            .await?,
        ),
        (
            "first page, search 在庫管理",
            time(a.runs, || async {
                Ok(s.list_cases(&search, None, 20).await?)
            })
            .await?,
        ),
        (
            "first page, search a rare company name (full scan)",
            time(a.runs.min(5), || async {
                Ok(s.list_cases(&rare, None, 20).await?)
            })
            .await?,
        ),
        (
            "totalCount (all)",
            time(a.runs.min(5), || async { Ok(s.count_cases(&all).await?) }).await?,
        ),
    ];
    for (name, (min, median)) in rows {
        println!("| {backend} | {size} | {name} | {min:.2} | {median:.2} |");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    println!("| backend | cases | query | min ms | median ms |");
    println!("|---|---|---|---|---|");
    for &size in &a.sizes {
        if a.sqlite {
            bench("sqlite", size, &a).await?;
        }
        if a.postgres {
            bench("postgres", size, &a).await?;
        }
    }
    Ok(())
}
