//! Listing cases with their business,
//! referrals, institutions, topics and assignee costs two SQL statements
//! (three with a count), whatever the page size — the page brings its
//! business, assignee and topics along, one more statement its referrals
//! with their institutions. Statements are counted from
//! sqlx's own `sqlx::query` tracing events. The other tests of the binary run
//! at the same time through the same global subscriber, so only the events of
//! this test's pool count: each SQLite connection runs its statements on its
//! own worker thread, and a probe statement on every connection of the pool
//! names those threads. `SHOW_SQL=1` prints the statements.

use chrono::Utc;
use dxdesk::auth::Authn;
use dxdesk::clock::FixedClock;
use dxdesk::config::Config;
use dxdesk::domain::types::{Channel, Stage};
use dxdesk::graphql::{self, loaders, RequestCtx};
use dxdesk::service::{cases, intake::BusinessFields, referrals};
use dxdesk::state::AppState;
use dxdesk::store::SqliteStore;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Statements run per thread, and the worker threads of this test's pool.
static PER_THREAD: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
static PROBED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
const PROBE: &str = "SELECT 'dxdesk-count-probe'";
/// The thread and text of every statement, in order (to tell the count query apart).
static TEXTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// The SQLite worker threads of the mutation test's pool (its own probe).
pub(crate) static PROBED_MUTATIONS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
pub(crate) const MUTATION_PROBE: &str = "SELECT 'dxdesk-mutation-probe'";

/// Statements logged inside a span of this name (and its children, also in
/// tasks spawned under it, such as the intake writer): the PostgreSQL driver
/// logs in the task that runs the statement (SQLite on its worker thread).
pub(crate) const COUNTED_SPAN: &str = "dxdesk_counted_statements";
pub(crate) static SPAN_STATEMENTS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Installs the counting subscriber once for the whole binary.
pub(crate) fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::registry()
            .with(CountSql.with_filter(tracing_subscriber::filter::LevelFilter::TRACE))
            .init();
    });
}

/// The statements run so far on the threads of the mutation test's pool.
pub(crate) fn mutation_thread_statements() -> usize {
    let per_thread = PER_THREAD.lock().unwrap();
    let probed = PROBED_MUTATIONS.lock().unwrap();
    probed.iter().filter_map(|t| per_thread.get(t)).sum()
}

/// The statements run so far on the probed threads.
fn statements() -> usize {
    let per_thread = PER_THREAD.lock().unwrap();
    let probed = PROBED.lock().unwrap();
    probed.iter().filter_map(|t| per_thread.get(t)).sum()
}

/// How many of the statements of this test's pool recorded since `from` count cases.
fn count_queries_since(from: usize) -> usize {
    let probed = PROBED.lock().unwrap().clone();
    TEXTS.lock().unwrap()[from..]
        .iter()
        .filter(|(thread, _)| probed.contains(thread))
        .filter(|(_, t)| {
            // Debug text: quoted, line breaks as `\n`.
            t.replace("\\n", " ")
                .trim_start_matches(|c: char| !c.is_ascii_alphabetic())
                .to_ascii_lowercase()
                .starts_with("select count(")
        })
        .count()
}

struct CountSql;

impl<S> Layer<S> for CountSql
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            let counted = ctx
                .event_scope(event)
                .is_some_and(|mut scope| scope.any(|s| s.name() == COUNTED_SPAN));
            if counted {
                SPAN_STATEMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            struct V {
                probe: bool,
                mutation_probe: bool,
                statement: Option<String>,
            }
            impl tracing::field::Visit for V {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    let text = format!("{v:?}");
                    self.probe |= text.contains("dxdesk-count-probe");
                    self.mutation_probe |= text.contains("dxdesk-mutation-probe");
                    if f.name() == "db.statement" {
                        self.statement = Some(text);
                    }
                }
            }
            let mut v = V {
                probe: false,
                mutation_probe: false,
                statement: None,
            };
            event.record(&mut v);
            if v.probe {
                PROBED.lock().unwrap().insert(thread.clone());
            }
            if v.mutation_probe {
                PROBED_MUTATIONS.lock().unwrap().insert(thread.clone());
            }
            if let Some(text) = v.statement {
                if std::env::var("SHOW_SQL").is_ok() {
                    eprintln!("SQL {text}");
                }
                TEXTS.lock().unwrap().push((thread.clone(), text));
            }
            *PER_THREAD.lock().unwrap().entry(thread).or_default() += 1;
        }
    }
}

/// Runs the probe on every connection the pool may hold, all held at once.
async fn probe_every_connection(pool: &sqlx::SqlitePool) {
    let mut conns = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        conns.push(pool.acquire().await.unwrap());
    }
    for c in &mut conns {
        sqlx::query(PROBE).execute(&mut **c).await.unwrap();
    }
}

const LIST: &str = r#"query($first: Int) {
  cases(first: $first) {
    totalCount
    edges { cursor node {
      id reference title status topics
      business { name municipality }
      assignedTo { displayName }
      referrals { status overdue institution { name } }
    } }
  }
}"#;

/// The same list without `totalCount`: it must not count the cases.
fn list_without_total() -> String {
    LIST.replace("    totalCount\n", "")
}

async fn statements_for(
    state: &AppState,
    v: &dxdesk::domain::Viewer,
    first: i32,
) -> (usize, usize) {
    statements_of(state, v, LIST, first).await
}

async fn statements_of(
    state: &AppState,
    v: &dxdesk::domain::Viewer,
    query: &str,
    first: i32,
) -> (usize, usize) {
    let schema = graphql::schema(Some(state.clone()));
    let run = || {
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(
                serde_json::json!({ "first": first }),
            ))
            .data(RequestCtx {
                authn: Authn::User(v.clone()),
                client: "test".into(),
                lang: Default::default(),
            })
            .data(loaders::new_loaders(state.store.clone()));
        schema.execute(req)
    };
    // Once to warm the pool, then counted.
    assert!(run().await.errors.is_empty());
    let before = statements();
    if std::env::var("SHOW_SQL").is_ok() {
        eprintln!("---- counted from here (first = {first})");
    }
    let resp = run().await;
    assert!(resp.errors.is_empty(), "{:?}", resp.errors);
    let after = statements();
    let json = resp.data.into_json().unwrap();
    let edges = json["cases"]["edges"].as_array().unwrap().len();
    (after - before, edges)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_cases_with_nested_fields_costs_two_statements() {
    install();
    let dir = crate::common::temp_dir("loaders");
    let store = SqliteStore::connect(&format!("sqlite://{}/t.db", dir.display()))
        .await
        .unwrap();
    let config = Config::from_lookup(|k| {
        (k == "DXDESK_JWT_SECRET")
            .then(|| "Ux6OmFOt1Z1n+xsBLOyN/7Tn52fn829KvBb+8zGa/4wC".to_owned())
    })
    .unwrap();
    let pool = store.pool().clone();
    let state = AppState::with_clock(
        Arc::new(store),
        config,
        Arc::new(FixedClock::new(Utc::now())),
    );
    dxdesk::seed::seed_directory(&state).await.unwrap();
    let desk = state
        .store
        .user_by_email("concierge@aomori.example")
        .await
        .unwrap()
        .unwrap()
        .viewer();
    let lab = state.store.lab_by_code("AOM").await.unwrap().unwrap();
    let insts = state.store.institutions(lab.id).await.unwrap();
    for i in 0..50 {
        let (snap, _) = cases::open_case(
            &state,
            &desk,
            cases::OpenCase {
                business_id: None,
                business: Some(BusinessFields {
                    name: format!("一覧検証{i}株式会社"),
                    municipality: Some("青森市".into()),
                    ..Default::default()
                }),
                title: format!("一覧の相談{i}"),
                description: "説明".into(),
                topics: vec!["IoT".into(), format!("話題{}", i % 5)],
                channel: Channel::WalkIn,
                stage: Stage::Consult,
                consent_to_share: true,
                email_updates: false,
                priority: None,
                assigned_to: None,
            },
        )
        .await
        .unwrap();
        // two referrals each, to institutions spread over the lab
        for k in 0..2 {
            let inst = insts[(i + k * 7) % insts.len()].id;
            referrals::refer_case(&state, &desk, snap.case.id, Some(inst), None)
                .await
                .unwrap();
        }
    }

    probe_every_connection(&pool).await;
    // The page with business, assignee and topics, the page's referrals with
    // their institutions, and — for a list longer than the page — its count.
    let (small, n_small) = statements_for(&state, &desk, 5).await;
    let (large, n_large) = statements_for(&state, &desk, 100).await;
    assert_eq!((n_small, n_large), (5, 50));
    eprintln!("statements: 5 of 50 cases → {small}, all 50 → {large}");
    assert_eq!(small, 3, "a page of 5 of 50 cases cost {small} statements");
    // The whole list on one page: its length is the count, nothing to count.
    assert_eq!(large, 2, "all 50 cases cost {large} statements");

    // `totalCount` is computed only when selected: the same list without it
    // costs exactly one statement less (the count).
    let query = list_without_total();
    assert!(!query.contains("totalCount"));
    let mark = TEXTS.lock().unwrap().len();
    let (counted, _) = statements_for(&state, &desk, 5).await;
    // once in the warm-up run, once in the counted run
    assert_eq!(count_queries_since(mark), 2, "totalCount did not count");
    let mark = TEXTS.lock().unwrap().len();
    let (uncounted, n) = statements_of(&state, &desk, &query, 5).await;
    assert_eq!(n, 5);
    eprintln!("statements without totalCount: {uncounted}");
    assert_eq!(
        count_queries_since(mark),
        0,
        "a list without totalCount counts"
    );
    assert_eq!(uncounted + 1, counted);
    let mark = TEXTS.lock().unwrap().len();
    let (_, n) = statements_for(&state, &desk, 100).await;
    assert_eq!(n, 50);
    assert_eq!(
        count_queries_since(mark),
        0,
        "a first page holding the whole list counts"
    );
    let mark = TEXTS.lock().unwrap().len();
    let (uncounted_empty, _) = statements_of(&state, &desk, &query, 0).await;
    assert_eq!(
        count_queries_since(mark),
        0,
        "an empty page without totalCount counts"
    );
    let (counted_empty, _) = statements_for(&state, &desk, 0).await;
    assert_eq!(uncounted_empty + 1, counted_empty);
}
