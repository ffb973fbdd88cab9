//! Test harness shared by the integration tests: a fresh database per test on
//! SQLite (always) and PostgreSQL (when `DXDESK_TEST_POSTGRES_URL` is set; each
//! test gets its own schema), the real router served over HTTP on port 0, and
//! typed helpers for GraphQL calls.
#![allow(dead_code)]

pub mod cases;

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

/// The backends this run tests: SQLite always, PostgreSQL when configured.
/// With `DXDESK_REQUIRE_POSTGRES=1` (CI), a missing PostgreSQL is a failure.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var("DXDESK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => v.push(Backend::Postgres),
        _ => {
            if std::env::var("DXDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("DXDESK_REQUIRE_POSTGRES=1 but DXDESK_TEST_POSTGRES_URL is not set");
            }
        }
    }
    v
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
            let dir = std::env::temp_dir().join(format!("dxdesk-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
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

/// Runs an async test body once per backend, naming the backend on failure.
#[macro_export]
macro_rules! on_all_backends {
    ($body:expr) => {{
        for backend in $crate::common::backends() {
            eprintln!("-- backend {:?}", backend);
            $body(backend).await;
        }
    }};
}
