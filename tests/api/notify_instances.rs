//! The outbox across instances: two `dxdesk serve` processes on one
//! PostgreSQL deliver each mail once between them, and the leases of a
//! process killed with SIGKILL mid-delivery are taken over by the other after
//! they expire (at-least-once: only a mail whose 250 arrived before the kill
//! but whose `SENT` mark had not committed can come twice).

use crate::common::cases::{BANK, CONCIERGE, P_BANK};
use crate::common::{self, fresh_db, run_on, test_config, Backend};
use crate::notify::Sink;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Instance {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(url: &str, sink: &Sink, lease_secs: u64) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dxdesk"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("DXDESK_JWT_SECRET", common::TEST_SECRET)
        .env("DXDESK_BIND", "127.0.0.1:0")
        .env("DXDESK_SMTP_URL", sink.url())
        .env("DXDESK_PUBLIC_URL", crate::notify::PUBLIC)
        .env("DXDESK_OUTBOX_POLL_MS", "50")
        .env("DXDESK_OUTBOX_LEASE_SECS", lease_secs.to_string())
        .env("DXDESK_OUTBOX_BATCH", "5")
        .env("RUST_LOG", "warn")
        .env_remove("DXDESK_OUTBOX_WORKER")
        .env_remove("DXDESK_OUTBOX")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(rest) = line.strip_prefix("dxdesk: ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Instance {
        child,
        base,
        http: reqwest::Client::new(),
    }
}

impl Instance {
    async fn gql(&self, token: Option<&str>, query: &str, vars: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    async fn login(&self, email: &str) -> String {
        let d = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": "demo-pass-2024" }),
            )
            .await;
        d["login"]["accessToken"].as_str().unwrap().to_owned()
    }

    /// Opens a case and refers it to `inst`; its reference.
    async fn refer_new(&self, token: &str, inst: &str, i: usize) -> String {
        let d = self
            .gql(
                Some(token),
                "mutation($i: OpenCaseInput!) { openCase(input: $i) { case { id reference } } }",
                json!({ "i": {
                    "title": format!("並行配信の相談{i}"), "description": "説明",
                    "channel": "WALK_IN", "stage": "CONSULT", "consentToShare": true,
                    "business": { "name": format!("並行配信{i}株式会社") },
                } }),
            )
            .await;
        let id = d["openCase"]["case"]["id"].as_str().unwrap().to_owned();
        self.gql(
            Some(token),
            "mutation($c: ID!, $i: ID!) { referCase(caseId: $c, institutionId: $i) { id } }",
            json!({ "c": id, "i": inst }),
        )
        .await;
        d["openCase"]["case"]["reference"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

async fn bank_id(inst: &Instance, token: &str) -> String {
    let d = inst
        .gql(Some(token), "{ institutions { id name } }", json!({}))
        .await;
    d["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == BANK)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pending(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'PENDING'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits (bounded) until the outbox holds `emails` e-mail rows and none is pending.
async fn drained(pool: &sqlx::PgPool, emails: i64) {
    let start = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE channel = 'EMAIL'")
            .fetch_one(pool)
            .await
            .unwrap();
        if n >= emails && pending(pool).await == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "outbox not drained: {n} mails, {} pending",
            pending(pool).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many arrival mails each (reference, recipient) got.
fn arrivals(sink: &Sink) -> HashMap<(String, String), usize> {
    let mut m = HashMap::new();
    for mail in sink.mails() {
        let subject = mail["subject"].as_str().unwrap();
        if !subject.contains("新しい紹介") {
            continue;
        }
        let reference = subject
            .rsplit('(')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_owned();
        for to in mail["to"].as_array().unwrap() {
            *m.entry((reference.clone(), to.as_str().unwrap().to_owned()))
                .or_default() += 1;
        }
    }
    m
}

async fn seeded_postgres() -> (String, sqlx::PgPool) {
    let (store, url) = fresh_db(Backend::Postgres).await;
    let st = dxdesk::state::AppState::new(store, test_config());
    dxdesk::seed::seed_directory(&st).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    (url, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_mail_once() {
    run_on(Backend::Postgres, |_| async {
        let sink = Sink::start();
        let (url, pool) = seeded_postgres().await;
        let (a, b) = (serve(&url, &sink, 30), serve(&url, &sink, 30));
        let (ta, tb) = (a.login(CONCIERGE).await, b.login(CONCIERGE).await);
        let bank = bank_id(&a, &ta).await;
        let mut refs = Vec::new();
        for chunk in 0..20 {
            let jobs = (0..10).map(|j| {
                let i = chunk * 10 + j;
                let (inst, tok) = if i % 2 == 0 { (&a, &ta) } else { (&b, &tb) };
                inst.refer_new(tok, &bank, i)
            });
            refs.extend(futures::future::join_all(jobs).await);
        }
        assert_eq!(refs.len(), 200);
        drained(&pool, 200).await;
        let got = arrivals(&sink);
        for r in &refs {
            assert_eq!(got.get(&(r.clone(), P_BANK.to_owned())), Some(&1), "{r}");
        }
        assert_eq!(got.len(), 200, "no mail to anyone else, none twice");
        assert_eq!(got.values().sum::<usize>(), 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_leaves_its_leases_to_the_other() {
    run_on(Backend::Postgres, |_| async {
        // A slow SMTP server, so that the kill finds mails in flight.
        let sink = Sink::start_with(&["--delay", "0.3"]);
        let (url, pool) = seeded_postgres().await;
        let mut a = serve(&url, &sink, 3);
        let ta = a.login(CONCIERGE).await;
        let bank = bank_id(&a, &ta).await;
        let jobs = (0..30).map(|i| a.refer_new(&ta, &bank, i));
        let refs = futures::future::join_all(jobs).await;
        // Mid-delivery: some mails out, some leased by A.
        let start = Instant::now();
        while sink.mails().len() < 3 {
            assert!(start.elapsed() < Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.child.kill().unwrap(); // SIGKILL
        a.child.wait().unwrap();
        let leased: Vec<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM outbox WHERE status = 'PENDING' AND lease_owner IS NOT NULL AND channel = 'EMAIL'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let delivered_before = sink.mails().len();
        assert!(delivered_before < 30, "killed before the end");
        let _b = serve(&url, &sink, 3);
        drained(&pool, 30).await;
        // Every referral was mailed; a lease A held is SENT by B.
        let got = arrivals(&sink);
        for r in &refs {
            assert!(got.get(&(r.clone(), P_BANK.to_owned())).is_some_and(|n| *n >= 1), "{r} lost");
        }
        for (id,) in &leased {
            let (status, owner): (String, Option<String>) =
                sqlx::query_as("SELECT status, lease_owner FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!((status.as_str(), owner), ("SENT", None));
        }
        // Duplicates only from mails A had handed to SMTP but not marked.
        let dups: usize = got.values().map(|n| n - 1).sum();
        assert!(dups <= leased.len(), "{dups} duplicates, {} leased at the kill", leased.len());
        eprintln!("killed with {} leased, {delivered_before} delivered before; {dups} duplicates", leased.len());
    })
    .await;
}
