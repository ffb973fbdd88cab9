//! Seeds a database for `scripts/bench.sh`: migrates it, writes the reference
//! labs and demo accounts, then N synthetic cases for the AOM lab over ten
//! years (`store::bulk`), fills what derived tables need (`bulk::after_seed`)
//! and runs ANALYZE (`VACUUM (ANALYZE)` on PostgreSQL, as autovacuum would).
//! Prints the seconds the cases took on stdout.
//!
//! cargo run --release --features bench --bin bench_seed -- --db sqlite://bench.db --cases 10000

use chrono::{Duration, Utc};
use dxdesk::state::AppState;
use dxdesk::store::bulk::BulkSpec;
use dxdesk::store::{PgStore, SqliteStore};
use std::time::Instant;

/// Prints, for pgbench, the statements one case-list request issues (the
/// web page's query, count answered from memory, the token's access check and
/// the lab answered by the row cache, `store::cache`): the page with business,
/// assignee and topics, then the page's referrals with their institutions.
async fn print_list_sql(store: &dxdesk::store::SharedStore, page: i64) -> anyhow::Result<()> {
    use dxdesk::store::case_list::{page_sql, referrals_sql};
    use dxdesk::store::db::Dialect;
    let lab = store.lab_by_code("AOM").await?.expect("AOM lab");
    let q = dxdesk::store::CaseQuery {
        lab_id: lab.id,
        now: Utc::now(),
        ..Default::default()
    };
    let with = dxdesk::store::PageWith {
        business: true,
        assignee: true,
        topics: true,
    };
    let rows = store.list_case_page(&q, None, page + 1, with).await?;
    let ids: Vec<_> = rows.iter().take(page as usize).map(|r| r.case.id).collect();
    println!(
        "{};",
        page_sql(Dialect::Postgres, &q, None, page + 1, with).render_literal()
    );
    println!("{};", referrals_sql(&ids).render_literal());
    Ok(())
}

fn config() -> dxdesk::config::Config {
    dxdesk::config::Config::from_lookup(|k| {
        (k == "DXDESK_JWT_SECRET")
            .then(|| "uzRS6EPgAtpFUTmZdyzPwKPwmIAHKiUiKf0LUR2/Ek19".to_owned())
    })
    .unwrap()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mut db, mut cases, mut list_sql) = (String::new(), 10_000usize, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--db" => db = val,
            "--cases" => cases = val.parse()?,
            "--list-sql" => list_sql = Some(val.parse::<i64>()?),
            other => {
                anyhow::bail!("unknown flag {other}; use --db URL --cases N | --list-sql PAGE")
            }
        }
    }
    anyhow::ensure!(!db.is_empty(), "--db URL is required");
    let store = dxdesk::store::connect(&db).await?;
    if let Some(page) = list_sql {
        return print_list_sql(&store, page).await;
    }
    let state = AppState::new(store.clone(), config());
    dxdesk::seed::seed_directory(&state).await?;
    let lab = store.lab_by_code("AOM").await?.expect("AOM lab");
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
            eprintln!("  seeded {n} cases in {:.0}s", t.elapsed().as_secs_f64());
            last = n;
        }
    };
    let any = store.as_any();
    let report = if let Some(s) = any.downcast_ref::<SqliteStore>() {
        s.bulk_seed(&spec, progress).await?
    } else {
        let s = any
            .downcast_ref::<PgStore>()
            .expect("a SQLite or PostgreSQL store");
        s.bulk_seed(&spec, progress).await?
    };
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} cases, {} businesses, {} referrals, {} events in {secs:.1}s",
        report.cases, report.businesses, report.referrals, report.events
    );
    println!("{secs:.1}");
    Ok(())
}
