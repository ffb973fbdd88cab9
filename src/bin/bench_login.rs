//! Benchmark of a login wave: starts a real `dxdesk serve`
//! process on a fresh seeded database, fires N concurrent logins over HTTP
//! (each from its own `X-Forwarded-For` address, unknown accounts, so that only
//! the hashing gate and not the per-address limit decides), and meanwhile
//! times a signed-in query (`{ me { email } }`) one request after another.
//! Prints the login outcomes, the query's p50/p99/max before and during the
//! wave, and the server's peak RSS (VmHWM). Not a test: it prints figures.
//!
//! cargo build --release --bin dxdesk --bin bench_login
//! target/release/bench_login --logins 500 --backend sqlite|postgres

use dxdesk::state::AppState;
use dxdesk::store::{PgStore, SharedStore, SqliteStore};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "c0Pq9nV7xYk2LmZ4rT8wB1dF6hJ3sG5aE0uI9oK7yN2vX4mQ";

struct Args {
    logins: usize,
    backend: String,
    pg_url: String,
    bin: std::path::PathBuf,
    extra_env: Vec<(String, String)>,
}

fn args() -> Args {
    let exe = std::env::current_exe().expect("current exe");
    let mut a = Args {
        logins: 500,
        backend: "sqlite".into(),
        pg_url: std::env::var("DXDESK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        bin: exe.with_file_name("dxdesk"),
        extra_env: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--logins" => a.logins = val.parse().expect("logins"),
            "--backend" => a.backend = val,
            "--pg-url" => a.pg_url = val,
            "--bin" => a.bin = val.into(),
            "--env" => {
                let (k, v) = val.split_once('=').expect("--env KEY=VALUE");
                a.extra_env.push((k.into(), v.into()));
            }
            other => panic!(
                "unknown flag {other}; use --logins, --backend sqlite|postgres, --pg-url, --bin, --env K=V"
            ),
        }
    }
    a
}

/// A fresh database and the URL the server process opens it with.
async fn fresh(a: &Args) -> anyhow::Result<(SharedStore, String)> {
    Ok(if a.backend == "postgres" {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&a.pg_url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await?;
        let sep = if a.pg_url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options[search_path]={schema}", a.pg_url);
        let opts = sqlx::postgres::PgConnectOptions::from_str(&a.pg_url)?
            .options([("search_path", schema.as_str())]);
        (Arc::new(PgStore::connect_with(opts).await?), url)
    } else {
        let dir = std::env::temp_dir().join(format!("dxdesk-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}/bench.db", dir.display());
        (Arc::new(SqliteStore::connect(&url).await?), url)
    })
}

/// One HTTP/1.1 request on its own connection: (status, body).
async fn post(addr: &str, body: &str, headers: &[(&str, &str)]) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).await?;
    let mut req = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn percentiles(mut ms: Vec<f64>) -> String {
    if ms.is_empty() {
        return "no samples".into();
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    )
}

async fn timed_me(addr: &str, token: &str) -> anyhow::Result<f64> {
    let auth = format!("Bearer {token}");
    let t = Instant::now();
    let (status, body) = post(
        addr,
        r#"{"query":"{ me { email } }"}"#,
        &[("Authorization", &auth)],
    )
    .await?;
    anyhow::ensure!(
        status == 200 && body.contains("concierge@"),
        "me: {status} {body}"
    );
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let (store, url) = fresh(&a).await?;
    let cfg = dxdesk::config::Config::from_lookup(|k| {
        (k == "DXDESK_JWT_SECRET").then(|| SECRET.to_owned())
    })?;
    dxdesk::seed::seed_directory(&AppState::new(store, cfg)).await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = tokio::process::Command::new(&a.bin);
    cmd.arg("serve")
        .env("DATABASE_URL", &url)
        .env("DXDESK_BIND", &addr)
        .env("DXDESK_JWT_SECRET", SECRET)
        .env("DXDESK_TRUSTED_PROXIES", "127.0.0.1")
        .env("RUST_LOG", "error")
        .kill_on_drop(true);
    for (k, v) in &a.extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id().expect("server pid");
    let started = Instant::now();
    while TcpStream::connect(&addr).await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let login = |email: &str| {
        format!(
            r#"{{"query":"mutation($e:String!,$p:String!){{ login(email:$e,password:$p){{ accessToken }} }}","variables":{{"e":"{email}","p":"{}"}}}}"#,
            dxdesk::seed::DEMO_PASSWORD
        )
    };
    let (_, body) = post(&addr, &login("concierge@aomori.example"), &[]).await?;
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let token = v["data"]["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login: {body}"))?
        .to_owned();

    let mut before = Vec::new();
    for _ in 0..100 {
        before.push(timed_me(&addr, &token).await?);
    }
    let rss_before = rss_kib(pid, "VmRSS:");

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let prober = {
        let (done, addr, token) = (done.clone(), addr.clone(), token.clone());
        tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut failed = 0;
            while !done.load(Ordering::Relaxed) {
                match timed_me(&addr, &token).await {
                    Ok(t) => ms.push(t),
                    Err(_) => failed += 1,
                }
            }
            (ms, failed)
        })
    };
    let t = Instant::now();
    let wave: Vec<_> = (0..a.logins)
        .map(|i| {
            let addr = addr.clone();
            let body = login(&format!("nobody{i}@bench.example"));
            tokio::spawn(async move {
                let xff = format!("198.18.{}.{}", i / 250, i % 250 + 1);
                let t = Instant::now();
                let r = post(&addr, &body, &[("X-Forwarded-For", &xff)]).await;
                (r, t.elapsed().as_secs_f64() * 1000.0)
            })
        })
        .collect();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut login_ms = Vec::new();
    for h in wave {
        let (r, ms) = h.await?;
        login_ms.push(ms);
        let key = match r {
            Ok((status, _)) if status >= 500 => format!("HTTP {status}"),
            Ok((_, body)) if body.contains("RATE_LIMITED") => "RATE_LIMITED".into(),
            Ok((_, body)) if body.contains("UNAUTHENTICATED") => "UNAUTHENTICATED".into(),
            Ok((status, _)) => format!("other {status}"),
            Err(e) => format!("connection error: {e}"),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    let wave_s = t.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (during, failed) = prober.await?;
    sampler.await?;
    let hwm = rss_kib(pid, "VmHWM:");
    child.kill().await.ok();

    println!(
        "backend: {}  logins: {}  server: {}",
        a.backend,
        a.logins,
        a.bin.display()
    );
    println!("login outcomes: {outcomes:?}  wave took {wave_s:.2} s");
    println!("login latency: {}", percentiles(login_ms));
    println!("signed-in query before the wave: {}", percentiles(before));
    println!(
        "signed-in query during the wave: {}  (failed: {failed})",
        percentiles(during)
    );
    println!(
        "server RSS: {:.1} MiB before, {:.1} MiB peak sampled, {:.1} MiB VmHWM",
        rss_before as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    Ok(())
}
