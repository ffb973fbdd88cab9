//! Seeds a database for the search benchmark: the reference labs and demo
//! accounts, then N synthetic cases in lab AOM (their search index included),
//! and ANALYZE. Serve it with `dxdesk serve` and time searches through HTTP
//! (`scripts/bench-search.py`). Does nothing if the lab already has cases.
//!
//! cargo run --release --features bench --bin bench_search -- --url sqlite:///tmp/s.db --cases 1000000
//!
//! `--replicate K` instead copies every case of the database K times (new ids,
//! same texts and businesses) and indexes the copies: a quick way from a
//! seeded 50k to a million when seeding a million takes too long.

use chrono::{Duration, Utc};
use dxdesk::state::AppState;
use dxdesk::store::bulk::BulkSpec;
use dxdesk::store::db::{sql, Dialect, HasDb, Pool};
use dxdesk::store::{CaseQuery, PgStore, SharedStore, SqliteStore};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

fn config() -> dxdesk::config::Config {
    dxdesk::config::Config::from_lookup(|k| {
        (k == "DXDESK_JWT_SECRET")
            .then(|| "uzRS6EPgAtpFUTmZdyzPwKPwmIAHKiUiKf0LUR2/Ek19".to_owned())
    })
    .unwrap()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mut url, mut cases, mut replicate) = (String::new(), 1_000_000usize, 0usize);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--url" => url = val,
            "--cases" => cases = val.parse()?,
            "--replicate" => replicate = val.parse()?,
            other => anyhow::bail!("unknown flag {other}; use --url DATABASE_URL --cases N"),
        }
    }
    let pg = url.starts_with("postgres");
    let store: SharedStore = if pg {
        Arc::new(PgStore::connect(&url).await?)
    } else {
        Arc::new(SqliteStore::connect(&url).await?)
    };
    if replicate > 0 {
        let db = if pg {
            store.as_any().downcast_ref::<PgStore>().unwrap().db()
        } else {
            store.as_any().downcast_ref::<SqliteStore>().unwrap().db()
        };
        return replicate_cases(&db.pool, replicate).await;
    }
    let state = AppState::new(store.clone(), config());
    if store.lab_by_code("AOM").await?.is_none() {
        dxdesk::seed::seed_directory(&state).await?;
    }
    let lab = store.lab_by_code("AOM").await?.expect("AOM lab");
    let any = CaseQuery {
        lab_id: lab.id,
        now: Utc::now(),
        ..Default::default()
    };
    if !store.list_cases(&any, None, 1).await?.is_empty() {
        eprintln!("lab AOM already has cases: nothing seeded");
        return Ok(());
    }
    let institutions = store
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
        cases,
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
            eprintln!("  seeded {n} in {:.0}s", t.elapsed().as_secs_f64());
            last = n;
        }
    };
    let report = if pg {
        let s = store.as_any().downcast_ref::<PgStore>().unwrap();
        let r = s.bulk_seed(&spec, progress).await?;
        sqlx::query("ANALYZE").execute(s.pool()).await?;
        r
    } else {
        let s = store.as_any().downcast_ref::<SqliteStore>().unwrap();
        let r = s.bulk_seed(&spec, progress).await?;
        sqlx::query("ANALYZE").execute(s.pool()).await?;
        r
    };
    eprintln!(
        "seeded {} cases, {} businesses in {:.0}s",
        report.cases,
        report.businesses,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Copies every case `k` times with new ids and indexes the copies.
async fn replicate_cases(pool: &Pool, k: usize) -> anyhow::Result<()> {
    let t = Instant::now();
    let cols = "lab_id, business_id, title, description, channel, stage, status, priority, \
                consent_to_share, consent_at, access_code_hash, outcomes, outcome_summary, version, \
                event_count, last_event_hash, created_at, updated_at, resolved_at, closed_at";
    let mut tx = pool.begin().await?;
    for n in 1..=k {
        let new_id = if pool.dialect() == Dialect::Postgres {
            "gen_random_uuid()"
        } else {
            "randomblob(16)"
        };
        sql(&format!(
            "INSERT INTO cases (id, reference, {cols}) SELECT {new_id}, reference || '-{n}', {cols} \
             FROM cases WHERE reference NOT LIKE '%-%-%-%'"
        ))
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    eprintln!("copied in {:.0}s", t.elapsed().as_secs_f64());
    let mut after: Option<Uuid> = None;
    let mut done = 0;
    loop {
        let mut q = sql("SELECT c.id FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_search m WHERE m.case_id = c.id)");
        if let Some(a) = after {
            q.push(" AND c.id > ").bind(a);
        }
        q.push(" ORDER BY c.id LIMIT 500");
        let ids: Vec<(Uuid,)> = q.fetch_all(pool).await?;
        let Some(last) = ids.last() else { break };
        after = Some(last.0);
        let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
        let mut tx = pool.begin().await?;
        dxdesk::store::search::index_cases(&mut tx, &ids).await?;
        tx.commit().await?;
        done += ids.len();
        if done % 50_000 < 500 {
            eprintln!("  indexed {done} in {:.0}s", t.elapsed().as_secs_f64());
        }
    }
    sql("ANALYZE").execute(pool).await?;
    eprintln!(
        "replicated and indexed in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
