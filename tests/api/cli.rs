//! The `dxdesk` binary as an operator runs it: refusals with one clear line,
//! an idempotent `seed-demo` on both backends, production hardening.

use crate::backend_tests;
use crate::common::{self, Backend};

use serde_json::json;
use std::process::Command;

fn dxdesk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dxdesk"));
    c.env_remove("DATABASE_URL")
        .env_remove("DXDESK_ENV")
        .env_remove("DXDESK_JWT_SECRET")
        .env("RUST_LOG", "error");
    c
}

fn temp_sqlite_url() -> (String, std::path::PathBuf) {
    let dir = common::temp_dir("cli");
    let file = dir.join("cli.db");
    (format!("sqlite://{}", file.display()), file)
}

#[test]
fn production_serve_without_a_secret_refuses_in_one_line() {
    let (url, _) = temp_sqlite_url();
    let out = dxdesk()
        .args(["serve"])
        .env("DXDESK_ENV", "production")
        .env("DATABASE_URL", url)
        .env("DXDESK_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("DXDESK_JWT_SECRET"));
}

#[test]
fn scheme_less_or_mistyped_database_urls_are_refused_and_create_nothing() {
    let dir = common::temp_dir("cli");
    for url in ["mydesk.db", "sqlit://x.db", "postgress://u@h/db"] {
        let out = dxdesk()
            .current_dir(&dir)
            .args(["seed-demo"])
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn a_short_secret_is_refused() {
    let out = dxdesk()
        .args(["serve"])
        .env("DXDESK_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 bytes"));
}

#[test]
fn seed_demo_twice_duplicates_nothing_on_sqlite() {
    let (url, _) = temp_sqlite_url();
    let first = dxdesk()
        .args(["seed-demo"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    for email in [
        "admin@aomori.example",
        "concierge@aomori.example",
        "partner.center@aomori.example",
        "partner.bank@aomori.example",
        "partner.univ@aomori.example",
        "admin@koda.example",
    ] {
        assert!(text.contains(email), "logins printed: {text}");
    }
    let second = dxdesk()
        .args(["seed-demo"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(second.status.success());
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("0 institutions added, 0 accounts added, 0 cases added"),
        "{text}"
    );
}

backend_tests!(seed_is_idempotent_on_every_backend);

async fn seed_is_idempotent_on_every_backend(b: Backend) {
    let store = common::fresh_store(b).await;
    let state = dxdesk::state::AppState::new(store.clone(), common::test_config());
    let first = dxdesk::seed::seed_demo(&state).await.unwrap();
    assert_eq!(first.users_added, 6);
    let again = dxdesk::seed::seed_demo(&state).await.unwrap();
    assert_eq!(
        (
            again.institutions_added,
            again.users_added,
            again.cases_added
        ),
        (0, 0, 0)
    );
    assert_eq!(store.labs().await.unwrap().len(), 2);
}

#[tokio::test]
async fn production_turns_off_introspection_and_graphiql() {
    let mut config = common::test_config();
    config.mode = dxdesk::config::RunMode::Production;
    let app = common::spawn_app_with(common::Backend::Sqlite, config).await;
    let r = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(r.data()["__schema"].is_null(), "{}", r.body);
    let page = app.http.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    // Outside production GraphiQL is there.
    let dev = common::spawn_app(common::Backend::Sqlite).await;
    let page = dev.http.get(dev.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

/// A SQLite database written by release 0.1.0 (`seed-demo` plus one event of
/// every other kind, made with that release's binary): its support record
/// still verifies, and every stored payload reads as its typed kind and writes
/// back to the same canonical JSON the hash chain covers.
#[tokio::test]
async fn a_release_0_1_database_still_verifies_and_reads_as_typed_events() {
    use dxdesk::domain::events::EventPayload;
    use dxdesk::domain::hash_chain::canonical_json;
    let (url, file) = temp_sqlite_url();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/release-0.1.0.db"
        ),
        &file,
    )
    .unwrap();
    let out = dxdesk()
        .args(["audit", "verify"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("42 cases, 195 events"), "{text}");

    let store = common::open_store(common::Backend::Sqlite, &url).await;
    let mut kinds = std::collections::BTreeSet::new();
    let mut after = None;
    loop {
        let ids = store.case_ids_page(after, 100).await.unwrap();
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            for e in store.events_for_case(id).await.unwrap() {
                let typed = EventPayload::from_json(e.kind, &e.payload.0).unwrap_or_else(|err| {
                    panic!("{:?} #{}: {err}: {}", e.kind, e.seq, e.payload.0)
                });
                assert_eq!(typed.kind(), e.kind);
                assert_eq!(
                    canonical_json(&typed.to_json()),
                    canonical_json(&e.payload.0),
                    "{:?} #{} does not write back byte-identical",
                    e.kind,
                    e.seq
                );
                kinds.insert(e.kind.as_str());
            }
        }
        after = Some(last);
    }
    // Every kind release 0.1.0 could write is in the fixture (a kind added later
    // is not, and need not be).
    let release_kinds = [
        "ACCEPTED",
        "ACCESS_CODE_ROTATED",
        "CLOSED",
        "COMPLETED",
        "DECLINED",
        "NOTE_ADDED",
        "OPENED",
        "PERSONAL_DATA_ERASED",
        "REFERRED",
        "REOPENED",
        "RESOLVED",
        "STAGE_CHANGED",
        "STATUS_CHANGED",
        "UPDATED",
        "WITHDRAWN",
    ];
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), release_kinds);
}
