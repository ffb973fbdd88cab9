//! Test harness shared by the integration tests: a fresh database per test on
//! SQLite and PostgreSQL (`DXDESK_TEST_POSTGRES_URL`; each test gets its own
//! schema), [`backend_tests!`](crate::backend_tests) to run one body as a test
//! per backend, the real router served over HTTP on port 0, and typed helpers
//! for GraphQL calls.
#![allow(dead_code)]

pub mod cases;
pub mod json_schema;

use chrono::Utc;
use dxdesk::app::Application;
use dxdesk::clock::FixedClock;
use dxdesk::config::Config;
use dxdesk::state::AppState;
use dxdesk::store::{PgStore, SharedStore, SqliteStore};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "demo-pass-2024";
pub const TEST_SECRET: &str = "FwFMtqj5dkFoEJAkhM2WrUCpEwN5MmNP9I1JQCImY8Sq";

/// The backends this run tests: SQLite always, PostgreSQL when configured
/// (see [`postgres_configured`]). Prefer [`backend_tests!`](crate::backend_tests).
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if postgres_configured() {
        v.push(Backend::Postgres);
    }
    v
}

/// Whether the `<name>::postgres` tests run: PostgreSQL is configured when
/// `DXDESK_TEST_POSTGRES_URL` is set. Without it they pass as skipped (a line on
/// stderr says so) — unless `DXDESK_REQUIRE_POSTGRES=1` (CI), where a missing
/// PostgreSQL fails them.
pub fn postgres_configured() -> bool {
    match std::env::var("DXDESK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => true,
        _ => {
            if std::env::var("DXDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("DXDESK_REQUIRE_POSTGRES=1 but DXDESK_TEST_POSTGRES_URL is not set");
            }
            false
        }
    }
}

/// A line on the real stderr (not swallowed by the test harness), for a
/// test that could not run its check here.
pub fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "NOTE: {line}");
}

/// Says once per run, on the real stderr (not the per-test output that the
/// test harness swallows for passing tests), that the PostgreSQL half of the
/// suite did not run.
pub fn announce_postgres_skipped() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"\n\
==================================================================\n\
 SKIPPING every PostgreSQL test: DXDESK_TEST_POSTGRES_URL is unset.\n\
 Only SQLite was tested. Run them with\n\
   DXDESK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test\n\
 (scripts/test.sh and CI set it and fail if PostgreSQL is missing).\n\
==================================================================\n",
        );
    });
}

/// Runs one test body on `backend` (what [`backend_tests!`](crate::backend_tests)
/// expands to); a PostgreSQL run without PostgreSQL configured is skipped, see
/// [`postgres_configured`].
pub async fn run_on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if backend == Backend::Postgres && !postgres_configured() {
        announce_postgres_skipped();
        return;
    }
    body(backend).await
}

/// This run's folder for test files, in cargo's per-target temp dir
/// (`target/tmp`), never in `/tmp`. The first call removes the folders of
/// earlier runs whose process is gone, so a run leaves at most its own behind
/// and nothing accumulates.
fn run_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("dxdesk-run-") else {
                    continue;
                };
                if !std::path::Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = root.join(format!("dxdesk-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A fresh, empty directory for one test's files (see [`run_dir`]).
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = run_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh, migrated, empty store.
pub async fn fresh_store(backend: Backend) -> SharedStore {
    fresh_db(backend).await.0
}

/// A fresh, migrated, empty database and the URL another process (or a second
/// instance) can open it with; for PostgreSQL the URL names the test's own schema.
pub async fn fresh_db(backend: Backend) -> (SharedStore, String) {
    let url = match backend {
        Backend::Sqlite => {
            let dir = temp_dir("db");
            format!("sqlite://{}/t.db", dir.display())
        }
        Backend::Postgres => {
            let base = std::env::var("DXDESK_TEST_POSTGRES_URL").unwrap();
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&base)
                .await
                .expect("PostgreSQL reachable at DXDESK_TEST_POSTGRES_URL");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options[search_path]={schema}")
        }
    };
    (open_store(backend, &url).await, url)
}

/// Opens (and migrates) the database at `url`.
pub async fn open_store(backend: Backend, url: &str) -> SharedStore {
    match backend {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await.expect("sqlite store")),
        Backend::Postgres => Arc::new(PgStore::connect(url).await.expect("pg store")),
    }
}

pub fn test_config() -> Config {
    let mut c = Config::from_lookup(|k| match k {
        "DXDESK_JWT_SECRET" => Some(TEST_SECRET.to_owned()),
        // Tests drive the outbox worker themselves (`notify::worker::Worker::run_once`).
        "DXDESK_OUTBOX_WORKER" => Some("0".to_owned()),
        _ => None,
    })
    .unwrap();
    c.bind = "127.0.0.1:0".parse().unwrap();
    c
}

pub struct TestApp {
    pub backend: Backend,
    /// The database URL, for a second instance or a `dxdesk` process on the same data.
    pub db_url: String,
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub clock: FixedClock,
}

/// Starts the real server on a fresh database with the reference labs,
/// institutions and demo accounts (no demo cases).
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, test_config()).await
}

pub async fn spawn_app_with(backend: Backend, config: Config) -> TestApp {
    let (store, url) = fresh_db(backend).await;
    let app = start_instance(backend, store, url, config).await;
    dxdesk::seed::seed_directory(&app.state)
        .await
        .expect("seed");
    app
}

/// Serves a store with its own state, clock and router, as one instance of a
/// deployment would; nothing is seeded.
pub async fn start_instance(
    backend: Backend,
    store: SharedStore,
    db_url: String,
    config: Config,
) -> TestApp {
    let clock = FixedClock::new(Utc::now());
    let state = AppState::with_clock(store, config, Arc::new(clock.clone()));
    let app = Application::bind(state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = app.local_addr();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        backend,
        db_url,
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        state,
        clock,
    }
}

/// A GraphQL answer: the JSON body and the HTTP status.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// The first error's `extensions.code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
    pub fn message(&self) -> Option<&str> {
        self.body["errors"][0]["message"].as_str()
    }
    /// Panics with the body when there are errors.
    pub fn ok(&self) -> &Value {
        assert!(
            self.body.get("errors").map(|e| e.is_null()).unwrap_or(true),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts one GraphQL operation, with a bearer token if given.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Gql { status, body }
    }

    /// Posts a raw body.
    pub async fn post_raw(&self, body: &str, content_type: &str) -> Gql {
        let resp = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Gql { status, body }
    }

    /// Logs in and returns the whole `login` payload.
    pub async fn login_payload(&self, email: &str, password: &str) -> Gql {
        self.gql(
            None,
            "mutation($e:String!,$p:String!){ login(email:$e,password:$p){ accessToken refreshToken user{ id email role } } }",
            json!({ "e": email, "p": password }),
        )
        .await
    }

    /// Logs in a demo account and returns its access token.
    pub async fn login(&self, email: &str) -> String {
        let r = self.login_payload(email, PASSWORD).await;
        r.ok()["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login {email}: {}", r.body))
            .to_owned()
    }
}

/// The SQLite pool under a store from [`fresh_store`], for raw SQL.
pub fn sqlite_pool(store: &SharedStore) -> sqlx::SqlitePool {
    let s = store.as_any().downcast_ref::<SqliteStore>();
    s.expect("a SQLite store").pool().clone()
}

/// The PostgreSQL pool (on the test's own schema) under a store from
/// [`fresh_store`], for raw SQL.
pub fn pg_pool(store: &SharedStore) -> sqlx::PgPool {
    let s = store.as_any().downcast_ref::<PgStore>();
    s.expect("a PostgreSQL store").pool().clone()
}

/// Makes one test per backend from one async body `fn(Backend)`, so a failure
/// names its backend: `backend_tests!(name, body)` defines the tests
/// `name::sqlite` and `name::postgres`, each calling `body` — a function of the
/// invoking module or a closure `|backend| async move { … }`;
/// `backend_tests!(name)` uses the function `name` itself (a module and a
/// function may share a name). `worker_threads = N` runs the body on a
/// multi-threaded runtime. The PostgreSQL test skips, or fails under
/// `DXDESK_REQUIRE_POSTGRES=1`, when PostgreSQL is not configured.
#[macro_export]
macro_rules! backend_tests {
    (@test $fn:ident, $backend:ident, $body:expr) => {
        #[tokio::test]
        async fn $fn() {
            $crate::common::run_on($crate::common::Backend::$backend, $body).await
        }
    };
    (@test $fn:ident, $backend:ident, $body:expr, $n:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = $n)]
        async fn $fn() {
            $crate::common::run_on($crate::common::Backend::$backend, $body).await
        }
    };
    ($(#[$m:meta])* $name:ident $(, worker_threads = $n:literal)?) => {
        $crate::backend_tests!($(#[$m])* $name, $name $(, worker_threads = $n)?);
    };
    ($(#[$m:meta])* $name:ident, $body:expr $(, worker_threads = $n:literal)?) => {
        $(#[$m])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::backend_tests!(@test sqlite, Sqlite, $body $(, $n)?);
            $crate::backend_tests!(@test postgres, Postgres, $body $(, $n)?);
        }
    };
}

/// Runs an async test body once per backend inside one test. Prefer
/// [`backend_tests!`](crate::backend_tests): here a SQLite failure hides the
/// PostgreSQL run.
#[macro_export]
macro_rules! on_all_backends {
    ($body:expr) => {{
        for backend in $crate::common::backends() {
            eprintln!("-- backend {:?}", backend);
            $body(backend).await;
        }
    }};
}
