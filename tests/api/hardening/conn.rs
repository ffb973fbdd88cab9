//! Hardening tests: connections (header and idle time-outs, the
//! connection cap, the shutdown drain) and idempotent mutations,
//! over HTTP on both backends. Raw `TcpStream`s where a client library would
//! hide what the server does with the connection.

use crate::backend_tests;
use crate::common::cases::{self, CONCIERGE};
use crate::common::{self, Backend, TestApp};
use dxdesk::app::Application;
use dxdesk::config::{Config, ConnLimits};
use dxdesk::state::AppState;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A bound on waits for things that must happen; never reached when they do.
const LIVENESS: Duration = Duration::from_secs(15);

fn limits(f: impl FnOnce(&mut ConnLimits)) -> Config {
    let mut c = common::test_config();
    f(&mut c.conn);
    c
}

/// A server on a fresh database that stops when `stop` is sent.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(backend: Backend, config: Config) -> Self {
        let store = common::fresh_store(backend).await;
        let state = AppState::new(store, config);
        let app = Application::bind(state, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = app.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            done,
        }
    }

    fn shutdown(&mut self) {
        let _ = self.stop.take().unwrap().send(());
    }

    /// Waits until the server no longer accepts connections: shutdown has begun.
    async fn stopped_accepting(&self) {
        tokio::time::timeout(LIVENESS, async {
            while TcpStream::connect(self.addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the listener closes on shutdown");
    }
}

/// One HTTP/1.1 answer read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one answer (head and `content-length` body); `None` if the connection
/// closed before a complete one, `Err` on a reset.
async fn read_answer(s: &mut TcpStream) -> std::io::Result<Option<Answer>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut a = Answer {
        status,
        head,
        body: buf[head_end..].to_vec(),
    };
    let len: usize = a
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while a.body.len() < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        a.body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(a))
}

/// Reads until the server closes; `Err` on a reset.
async fn read_until_closed(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    s.read_to_end(&mut all).await?;
    Ok(all)
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: dxdesk\r\n\r\n";

async fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(HEALTH).await.is_err() {
        return false;
    }
    matches!(read_answer(&mut s).await, Ok(Some(a)) if a.status == 200)
}

// ------------------------------------------------------------ connections

backend_tests!(
    half_sent_request_is_closed_after_the_header_timeout,
    |backend| async move {
        let config = limits(|l| l.header_timeout = Duration::from_secs(1));
        let server = Server::start(backend, config).await;
        let mut loris = TcpStream::connect(server.addr).await.unwrap();
        loris
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: dxdesk\r\nX-Slow: ")
            .await
            .unwrap();
        let closed = tokio::time::timeout(LIVENESS, read_until_closed(&mut loris)).await;
        let bytes = closed
            .expect("the server closes a connection that never finishes its headers")
            .expect("closed with a FIN, not a reset");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            bytes.is_empty() || text.starts_with("HTTP/1.1 408"),
            "at most a 408 before the close: {text}"
        );
        assert!(healthy(server.addr).await);
    }
);

backend_tests!(
    connections_past_the_cap_get_503_and_the_server_recovers,
    |backend| async move {
        let config = limits(|l| {
            l.max_connections = 3;
            l.header_timeout = Duration::from_secs(30);
        });
        let server = Server::start(backend, config).await;
        // Three kept-alive connections, each answered once: all three are held.
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut s = TcpStream::connect(server.addr).await.unwrap();
            s.write_all(HEALTH).await.unwrap();
            assert_eq!(read_answer(&mut s).await.unwrap().unwrap().status, 200);
            held.push(s);
        }
        let mut extra = TcpStream::connect(server.addr).await.unwrap();
        extra.write_all(HEALTH).await.unwrap();
        let busy = tokio::time::timeout(LIVENESS, read_answer(&mut extra))
            .await
            .expect("an answer past the cap")
            .expect("no reset")
            .expect("a complete answer");
        assert_eq!(busy.status, 503, "{busy:?}");
        assert!(busy.header("retry-after").is_some(), "{busy:?}");
        assert!(String::from_utf8_lossy(&busy.body).contains("busy"));
        let rest = tokio::time::timeout(LIVENESS, read_until_closed(&mut extra))
            .await
            .expect("closed after the 503");
        assert!(rest.expect("a FIN, not a reset").is_empty());
        // The clients go away: the server is reachable again.
        drop(held);
        tokio::time::timeout(LIVENESS, async {
            while !healthy(server.addr).await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("reachable once the held connections are gone");
    }
);

backend_tests!(
    shutdown_finishes_within_the_drain_deadline_despite_slow_loris,
    |backend| async move {
        let config = limits(|l| {
            l.header_timeout = Duration::from_secs(60);
            l.idle_timeout = Duration::from_secs(60);
            l.shutdown_drain = Duration::from_secs(1);
        });
        let mut server = Server::start(backend, config).await;
        let mut lorises = Vec::new();
        for _ in 0..5 {
            let mut s = TcpStream::connect(server.addr).await.unwrap();
            s.write_all(b"POST /graphql HTTP/1.1\r\nHost: dxdesk\r\n")
                .await
                .unwrap();
            lorises.push(s);
        }
        // Accepted in order: once a later connection is answered, the lorises are held.
        assert!(healthy(server.addr).await);
        server.shutdown();
        tokio::time::timeout(LIVENESS, &mut server.done)
            .await
            .expect("run_until returns after the drain deadline")
            .unwrap()
            .unwrap();
        for mut s in lorises {
            let r = tokio::time::timeout(LIVENESS, read_until_closed(&mut s)).await;
            assert!(r.is_ok(), "every slow-loris connection is closed");
        }
    }
);

backend_tests!(
    a_request_in_flight_completes_during_the_drain,
    |backend| async move {
        let config = limits(|l| l.shutdown_drain = Duration::from_secs(10));
        let mut server = Server::start(backend, config).await;
        let body = br#"{"query":"{ __typename }"}"#;
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: dxdesk\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body[..5]).await.unwrap();
        assert!(healthy(server.addr).await);
        server.shutdown();
        server.stopped_accepting().await;
        s.write_all(&body[5..]).await.unwrap();
        let a = tokio::time::timeout(LIVENESS, read_answer(&mut s))
            .await
            .expect("answered during the drain")
            .expect("no reset")
            .expect("a complete answer");
        assert_eq!(a.status, 200, "{a:?}");
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["data"]["__typename"], "QueryRoot", "{v}");
        assert_eq!(a.header("connection"), Some("close"));
        tokio::time::timeout(LIVENESS, &mut server.done)
            .await
            .expect("shutdown completes")
            .unwrap()
            .unwrap();
    }
);

backend_tests!(
    a_request_racing_shutdown_on_a_kept_alive_connection_is_answered,
    worker_threads = 2
);

async fn a_request_racing_shutdown_on_a_kept_alive_connection_is_answered(backend: Backend) {
    for round in 0..4 {
        let config = limits(|l| l.shutdown_drain = Duration::from_secs(10));
        let mut server = Server::start(backend, config).await;
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(HEALTH).await.unwrap();
        let first = read_answer(&mut s).await.unwrap().unwrap();
        assert_eq!(first.status, 200);
        assert_ne!(first.header("connection"), Some("close"));
        // Shutdown begins while the connection is idle; the client, not knowing,
        // sends its next request on it.
        server.shutdown();
        server.stopped_accepting().await;
        s.write_all(HEALTH).await.unwrap();
        let second = read_answer(&mut s)
            .await
            .unwrap_or_else(|e| panic!("{backend:?} round {round}: reset: {e}"));
        let second =
            second.unwrap_or_else(|| panic!("{backend:?} round {round}: closed unanswered"));
        assert_eq!(second.status, 200);
        assert_eq!(second.header("connection"), Some("close"));
        let rest = read_until_closed(&mut s).await;
        assert!(rest.expect("then a FIN, not a reset").is_empty());
        drop(s);
        tokio::time::timeout(LIVENESS, &mut server.done)
            .await
            .expect("shutdown completes")
            .unwrap()
            .unwrap();
    }
}

backend_tests!(
    idle_kept_alive_connections_are_closed_after_the_idle_timeout,
    |backend| async move {
        let config = limits(|l| {
            l.idle_timeout = Duration::from_secs(1);
            l.header_timeout = Duration::from_secs(60);
        });
        let server = Server::start(backend, config).await;
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(HEALTH).await.unwrap();
        assert_eq!(read_answer(&mut s).await.unwrap().unwrap().status, 200);
        let closed = tokio::time::timeout(LIVENESS, read_until_closed(&mut s))
            .await
            .expect("an idle connection is closed");
        assert!(closed.expect("with a FIN").is_empty());
    }
);

// ------------------------------------------------------------ idempotency

const KEY: &str = "idempotency-key";

fn open_body(title: &str, company: &str) -> Value {
    json!({
        "query": "mutation($i: OpenCaseInput!) { openCase(input: $i) { accessCode case { id reference title } } }",
        "variables": { "i": cases::open_input(title, "IoTで設備の稼働を見える化したい。", cases::new_business(company)) },
    })
}

struct Posted {
    status: u16,
    replayed: bool,
    body: Value,
}

impl Posted {
    fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
}

async fn post_keyed(app: &TestApp, token: Option<&str>, key: &str, body: &Value) -> Posted {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header(KEY, key)
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = resp.json().await.unwrap_or(Value::Null);
    Posted {
        status,
        replayed,
        body,
    }
}

async fn case_count(app: &TestApp, token: &str) -> i64 {
    let r = app
        .gql(Some(token), cases::Q_CASES, json!({ "first": 50 }))
        .await;
    r.ok()["cases"]["totalCount"].as_i64().unwrap()
}

backend_tests!(
    a_retried_mutation_replays_its_answer_instead_of_opening_a_second_case,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let token = app.login(CONCIERGE).await;
        let body = open_body("再送テスト", "株式会社リトライ");
        let first = post_keyed(&app, Some(&token), "open-1", &body).await;
        assert_eq!(first.status, 200);
        assert!(first.body["errors"].is_null(), "{}", first.body);
        assert!(!first.replayed);
        let again = post_keyed(&app, Some(&token), "open-1", &body).await;
        assert!(again.replayed, "{}", again.body);
        assert_eq!(again.status, first.status);
        assert_eq!(again.body, first.body, "the same case and access code");
        assert_eq!(case_count(&app, &token).await, 1);
        assert!(
            claim_executed(&app, "open-1").await,
            "marked in the mutation's transaction"
        );
        // Another key is another action.
        let other = post_keyed(&app, Some(&token), "open-2", &body).await;
        assert!(!other.replayed);
        assert_ne!(
            other.body["data"]["openCase"]["case"]["id"],
            first.body["data"]["openCase"]["case"]["id"]
        );
        assert_eq!(case_count(&app, &token).await, 2);
    }
);

backend_tests!(
    the_same_key_with_another_body_is_a_conflict,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let token = app.login(CONCIERGE).await;
        let first = post_keyed(&app, Some(&token), "k", &open_body("一件目", "株式会社甲")).await;
        assert!(first.body["errors"].is_null(), "{}", first.body);
        let other = post_keyed(&app, Some(&token), "k", &open_body("二件目", "株式会社乙")).await;
        assert_eq!(other.code(), Some("CONFLICT"), "{}", other.body);
        assert_ne!(
            other.body["errors"][0]["extensions"]["retryable"],
            Value::Bool(true)
        );
        assert_eq!(case_count(&app, &token).await, 1);
    }
);

backend_tests!(
    concurrent_requests_with_one_key_execute_once,
    worker_threads = 2
);

async fn concurrent_requests_with_one_key_execute_once(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let token = app.login(CONCIERGE).await;
    let body = open_body("同時送信", "株式会社同時");
    let posts = futures::future::join_all(
        (0..6).map(|_| post_keyed(&app, Some(&token), "same-key", &body)),
    )
    .await;
    let executed: Vec<_> = posts
        .iter()
        .filter(|p| !p.replayed && p.code().is_none())
        .collect();
    assert_eq!(executed.len(), 1, "exactly one executes");
    for p in &posts {
        if p.replayed {
            assert_eq!(p.body, executed[0].body);
        } else if p.code().is_some() {
            assert_eq!(p.code(), Some("CONFLICT"), "{}", p.body);
            assert_eq!(
                p.body["errors"][0]["extensions"]["retryable"],
                Value::Bool(true),
                "{}",
                p.body
            );
        }
    }
    assert_eq!(case_count(&app, &token).await, 1, "{backend:?}");
    // Once answered, the key replays.
    let later = post_keyed(&app, Some(&token), "same-key", &body).await;
    assert!(later.replayed);
}

backend_tests!(
    two_instances_on_one_database_share_keys,
    |backend| async move {
        let a = common::spawn_app(backend).await;
        let store_b = common::open_store(backend, &a.db_url).await;
        let b =
            common::start_instance(backend, store_b, a.db_url.clone(), common::test_config()).await;
        let token = a.login(CONCIERGE).await;
        let body = open_body("別インスタンス", "株式会社分散");
        let first = post_keyed(&a, Some(&token), "shared", &body).await;
        assert!(first.body["errors"].is_null(), "{}", first.body);
        let again = post_keyed(&b, Some(&token), "shared", &body).await;
        assert!(again.replayed, "{}", again.body);
        assert_eq!(again.body, first.body);
        assert_eq!(case_count(&b, &token).await, 1);
    }
);

backend_tests!(keys_are_per_caller_and_validated, |backend| async move {
    let app = common::spawn_app(backend).await;
    let token = app.login(CONCIERGE).await;
    let admin = app.login(cases::ADMIN).await;
    let body = open_body("利用者ごと", "株式会社個別");
    let mine = post_keyed(&app, Some(&token), "per-user", &body).await;
    let theirs = post_keyed(&app, Some(&admin), "per-user", &body).await;
    assert!(!theirs.replayed, "another user's key is not replayed to me");
    assert_ne!(
        mine.body["data"]["openCase"]["case"]["id"],
        theirs.body["data"]["openCase"]["case"]["id"]
    );
    for bad in ["x".repeat(256), "キー".to_owned(), String::new()] {
        let resp = app
            .http
            .post(app.url("/graphql"))
            .header(
                KEY,
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // A query with a key is simply answered.
    let q = post_keyed(
        &app,
        Some(&token),
        "query-key",
        &json!({ "query": "{ __typename }" }),
    )
    .await;
    assert_eq!(q.body["data"]["__typename"], "QueryRoot");
    let q = post_keyed(
        &app,
        Some(&token),
        "query-key",
        &json!({ "query": "{ me { id } }" }),
    )
    .await;
    assert!(!q.replayed && q.code().is_none(), "{}", q.body);
});

fn web_body(company: &str) -> Value {
    json!({
        "query": "mutation($i: ConsultationInput!) { submitConsultation(input: $i) { reference accessCode } }",
        "variables": { "i": {
            "business": {
                "name": company,
                "municipality": "弘前市",
                "industry": "I",
                "contactName": "青森 花子",
                "email": "hanako@example.jp",
            },
            "description": "受発注の電子化について相談したい。",
            "consentToShare": true,
        } },
    })
}

backend_tests!(
    an_anonymous_web_submission_is_replayed_by_key,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let body = web_body("株式会社ウェブ");
        let first = post_keyed(&app, None, "web-1", &body).await;
        assert!(first.body["errors"].is_null(), "{}", first.body);
        let again = post_keyed(&app, None, "web-1", &body).await;
        assert!(again.replayed, "{}", again.body);
        assert_eq!(again.body, first.body);
        let token = app.login(CONCIERGE).await;
        assert_eq!(case_count(&app, &token).await, 1);
    }
);

backend_tests!(
    a_rate_limited_attempt_releases_its_key_for_the_retry,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let limit = dxdesk::ratelimit::SUBMIT_PER_ADDRESS;
        for i in 0..limit.max {
            let r = post_keyed(
                &app,
                None,
                &format!("fill-{i}"),
                &web_body(&format!("株式会社枠{i}")),
            )
            .await;
            assert!(r.body["errors"].is_null(), "{}", r.body);
        }
        let body = web_body("株式会社再試行");
        let limited = post_keyed(&app, None, "later", &body).await;
        assert_eq!(limited.code(), Some("RATE_LIMITED"), "{}", limited.body);
        // The window passes; the same key runs the submission instead of replaying the refusal.
        app.clock
            .advance(limit.window + chrono::Duration::minutes(1));
        let retried = post_keyed(&app, None, "later", &body).await;
        assert!(!retried.replayed);
        assert!(retried.body["errors"].is_null(), "{}", retried.body);
        let token = app.login(CONCIERGE).await;
        assert_eq!(case_count(&app, &token).await, limit.max + 1);
    }
);

/// Whether the claim of `key` was marked executed by the mutation's transaction.
async fn claim_executed(app: &TestApp, key: &str) -> bool {
    let sql = "SELECT executed FROM idempotency_keys WHERE key = $1";
    let any = app.state.store.as_any();
    if let Some(s) = any.downcast_ref::<dxdesk::store::SqliteStore>() {
        sqlx::query_scalar(sql)
            .bind(key)
            .fetch_one(s.pool())
            .await
            .unwrap()
    } else {
        let s = any.downcast_ref::<dxdesk::store::PgStore>().unwrap();
        sqlx::query_scalar(sql)
            .bind(key)
            .fetch_one(s.pool())
            .await
            .unwrap()
    }
}

/// Marks a claim executed, as the mutation's own transaction does.
async fn mark_executed(app: &TestApp, key: &str) {
    let sql = "UPDATE idempotency_keys SET executed = $1 WHERE key = $2";
    let any = app.state.store.as_any();
    if let Some(s) = any.downcast_ref::<dxdesk::store::SqliteStore>() {
        sqlx::query(sql)
            .bind(true)
            .bind(key)
            .execute(s.pool())
            .await
            .unwrap();
    } else if let Some(s) = any.downcast_ref::<dxdesk::store::PgStore>() {
        sqlx::query(sql)
            .bind(true)
            .bind(key)
            .execute(s.pool())
            .await
            .unwrap();
    }
}

backend_tests!(
    a_claim_left_by_a_crash_runs_again_only_if_nothing_was_written,
    |backend| async move {
        use dxdesk::store::{IdemClaim, IdemKey};
        use sha2::Digest;
        let app = common::spawn_app(backend).await;
        let login = app.login_payload(CONCIERGE, common::PASSWORD).await;
        let token = login.ok()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let scope = format!(
            "user:{}",
            login.ok()["login"]["user"]["id"].as_str().unwrap()
        );
        let now = app.state.now();
        // An instance claimed two keys and died: one before writing, one after its commit.
        let mut bodies = Vec::new();
        for (key, title) in [
            ("died-before", "書く前に停止"),
            ("died-after", "書いた後に停止"),
        ] {
            let body = open_body(title, &format!("株式会社{title}"));
            let hash = hex::encode(sha2::Sha256::digest(serde_json::to_vec(&body).unwrap()));
            let k = IdemKey {
                scope: &scope,
                key,
                claim_id: "dead-instance",
            };
            let claim = app
                .state
                .store
                .idem_claim(
                    k,
                    &hash,
                    now,
                    now - chrono::Duration::days(1),
                    now - chrono::Duration::hours(1),
                )
                .await
                .unwrap();
            assert_eq!(claim, IdemClaim::Claimed);
            bodies.push(body);
        }
        mark_executed(&app, "died-after").await;
        // While the claims could still belong to a live instance: retry later.
        let early = post_keyed(&app, Some(&token), "died-before", &bodies[0]).await;
        assert_eq!(early.code(), Some("CONFLICT"));
        assert_eq!(
            early.body["errors"][0]["extensions"]["retryable"],
            Value::Bool(true)
        );
        app.clock.advance(chrono::Duration::minutes(5));
        // Nothing was written: the retry runs.
        let rerun = post_keyed(&app, Some(&token), "died-before", &bodies[0]).await;
        assert!(rerun.body["errors"].is_null(), "{}", rerun.body);
        // Written, answer lost: not run twice, and the caller is told so.
        let done = post_keyed(&app, Some(&token), "died-after", &bodies[1]).await;
        assert_eq!(done.code(), Some("CONFLICT"), "{}", done.body);
        assert_ne!(
            done.body["errors"][0]["extensions"]["retryable"],
            Value::Bool(true)
        );
        assert_eq!(case_count(&app, &token).await, 1);
    }
);
