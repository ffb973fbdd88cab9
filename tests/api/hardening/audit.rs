//! Finding 6: the audit chain. With `DXDESK_AUDIT_KEY` every case write is
//! sealed (HMAC of the chain head and the case and referral rows), so a chain
//! recomputed in SQL, or an edited referral row, fails `dxdesk audit verify`;
//! on PostgreSQL the app runs as a role that owns nothing and may only
//! INSERT/SELECT on `case_events` (granted by `dxdesk migrate --grant-app-role`).

use crate::backend_tests;
use crate::common::cases::*;
use crate::common::{self, fresh_db, start_instance, test_config, Backend, TestApp};
use dxdesk::domain::hash_chain::{event_hash, GENESIS};
use dxdesk::domain::seal::SealKey;
use dxdesk::domain::types::EventKind;
use dxdesk::store::{PgStore, SharedStore, SqliteStore};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;

const KEY: &str = "audit-key-for-tests-0123456789-abcdefghij";
const OTHER_KEY: &str = "another-audit-key-for-tests-9876543210-zyx";

/// A seeded app whose store seals with `key`.
async fn keyed_app(backend: Backend, key: &str) -> TestApp {
    let (_, url) = fresh_db(backend).await;
    let seal = Some(SealKey::new(key.as_bytes()).unwrap());
    let store: SharedStore = match backend {
        Backend::Sqlite => Arc::new(
            SqliteStore::connect(&url)
                .await
                .unwrap()
                .with_audit_key(seal),
        ),
        Backend::Postgres => Arc::new(PgStore::connect(&url).await.unwrap().with_audit_key(seal)),
    };
    let mut config = test_config();
    config.audit_key = SealKey::new(key.as_bytes()).ok();
    let app = start_instance(backend, store, url, config).await;
    dxdesk::seed::seed_directory(&app.state).await.unwrap();
    app
}

/// Runs `dxdesk ARGS` on the database with these extra variables.
fn dxdesk(db_url: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dxdesk"));
    cmd.args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("DXDESK_ENV")
        .env_remove("DXDESK_AUDIT_KEY")
        .env_remove("DXDESK_AUDIT_KEY_PREVIOUS")
        .env_remove("DXDESK_MIGRATE_DATABASE_URL")
        .env("DXDESK_LOG_FORMAT", "human");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run dxdesk");
    let text = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn verify(db_url: &str, key: Option<&str>) -> (bool, String) {
    match key {
        Some(k) => dxdesk(db_url, &["audit", "verify"], &[("DXDESK_AUDIT_KEY", k)]),
        None => dxdesk(db_url, &["audit", "verify"], &[]),
    }
}

/// Edits the first event's payload and recomputes a consistent chain (its
/// hash and the case row's head), as someone with database access but
/// without the key could — switching the append-only trigger off first.
async fn rewrite_chain(app: &TestApp, o: &Opened) {
    let case_id: uuid::Uuid = o.id.parse().unwrap();
    let events = app.state.store.events_for_case(case_id).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "the case should hold its OPENED event only"
    );
    let first = &events[0];
    let forged = json!({"reference": o.reference, "forged": true});
    let hash = event_hash(
        case_id,
        1,
        EventKind::Opened,
        first.actor_id,
        first.at,
        &forged,
        GENESIS,
    );
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
            sqlx::query("DROP TRIGGER case_events_no_update")
                .execute(&pool)
                .await
                .unwrap();
            let n = sqlx::query(
                "UPDATE case_events SET payload = ?1, hash = ?2 WHERE case_id = ?3 AND seq = 1",
            )
            .bind(forged.to_string())
            .bind(&hash)
            .bind(case_id)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
            assert_eq!(n, 1);
            sqlx::query("UPDATE cases SET last_event_hash = ?1 WHERE id = ?2")
                .bind(&hash)
                .bind(case_id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db_url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            for sql in [
                "ALTER TABLE case_events DISABLE TRIGGER USER",
                "UPDATE case_events SET payload = CAST($1 AS jsonb), hash = $2 WHERE case_id = $3 AND seq = 1",
                "UPDATE cases SET last_event_hash = $2 WHERE id = $3 AND $1 <> ''",
                "ALTER TABLE case_events ENABLE TRIGGER USER",
            ] {
                let q = sqlx::query(sql);
                let q = if sql.contains('$') {
                    q.bind(forged.to_string()).bind(&hash).bind(case_id)
                } else {
                    q
                };
                q.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
            pool.close().await;
        }
    }
}

/// Sets every referral of the case to DECLINED directly in SQL.
async fn edit_referral(app: &TestApp, o: &Opened) {
    let sql = "UPDATE referrals SET status = 'DECLINED' WHERE case_id = $1";
    edit_sql(app, sql, o).await;
}

/// Runs `sql` (the case id is `$1`) directly on the database; one row must change.
async fn edit_sql(app: &TestApp, sql: &str, o: &Opened) {
    let case_id: uuid::Uuid = o.id.parse().unwrap();
    let n = match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
            let n = sqlx::query(sql).bind(case_id).execute(&pool).await.unwrap();
            pool.close().await;
            n.rows_affected()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db_url).await.unwrap();
            let n = sqlx::query(sql).bind(case_id).execute(&pool).await.unwrap();
            pool.close().await;
            n.rows_affected()
        }
    };
    assert_eq!(n, 1);
}

backend_tests!(sealed_records_expose_a_recomputed_chain_and_edited_rows);

async fn sealed_records_expose_a_recomputed_chain_and_edited_rows(backend: Backend) {
    eprintln!("-- backend {backend:?}");
    let app = keyed_app(backend, KEY).await;
    let t = app.login(CONCIERGE).await;
    let rewritten = open_simple(&app, &t, "連鎖を書き換えられる案件", "株式会社改ざん一").await;
    let referred = open_simple(&app, &t, "紹介を書き換えられる案件", "株式会社改ざん二").await;
    let untouched = open_simple(&app, &t, "手つかずの案件", "株式会社改ざん三").await;
    let noted = open_simple(&app, &t, "メモを書き換えられる案件", "株式会社改ざん四").await;
    let center = institution_id(&app, &t, CENTER).await;
    refer_ok(&app, &t, &referred.id, &center).await;
    add_note(&app, &t, &noted.id, "面談の記録です。", "DESK")
        .await
        .ok();

    // Unchanged: passes, every case sealed.
    let (ok, out) = verify(&app.db_url, Some(KEY));
    assert!(ok, "{out}");
    assert!(out.contains("4 sealed, 0 unsigned"), "{out}");
    // Without the key the hashes are still checked; seals are reported unchecked.
    let (ok, out) = verify(&app.db_url, None);
    assert!(ok, "{out}");
    assert!(out.contains("seals not checked"), "{out}");
    // A wrong key fails every case.
    let (ok, out) = verify(&app.db_url, Some(OTHER_KEY));
    assert!(!ok, "a wrong key passed:\n{out}");
    assert!(out.contains(&untouched.reference), "{out}");

    rewrite_chain(&app, &rewritten).await;
    edit_referral(&app, &referred).await;
    let note = "UPDATE notes SET body = '書き換えた記録' WHERE case_id = $1";
    edit_sql(&app, note, &noted).await;

    // The hash chain alone is fooled by both edits …
    let (ok, out) = verify(&app.db_url, None);
    assert!(
        ok,
        "the unkeyed check should not see a consistent rewrite:\n{out}"
    );
    // … the seals are not.
    let (ok, out) = verify(&app.db_url, Some(KEY));
    eprintln!("{out}");
    assert!(!ok, "audit verify passed a rewritten record:\n{out}");
    assert!(
        out.contains(&rewritten.reference),
        "names the rewritten chain:\n{out}"
    );
    assert!(
        out.contains(&referred.reference),
        "names the edited referral:\n{out}"
    );
    assert!(
        out.contains(&noted.reference),
        "names the edited note:\n{out}"
    );
    assert!(
        !out.contains(&format!("BROKEN {}", untouched.reference)),
        "{out}"
    );
    assert!(out.contains("3 of 4 cases broken"), "{out}");
}

backend_tests!(unsigned_cases_are_counted_and_reseal_rotates_the_key);

async fn unsigned_cases_are_counted_and_reseal_rotates_the_key(backend: Backend) {
    eprintln!("-- backend {backend:?}");
    // Written before a key was set: unsigned, still hash-checked.
    let app = common::spawn_app(backend).await;
    let t = app.login(CONCIERGE).await;
    let o = open_simple(&app, &t, "鍵の前の案件", "株式会社署名前").await;
    let (ok, out) = verify(&app.db_url, Some(KEY));
    assert!(ok, "{out}");
    assert!(out.contains("0 sealed, 1 unsigned"), "{out}");
    let (ok, out) = dxdesk(
        &app.db_url,
        &["audit", "verify", "--require-sealed"],
        &[("DXDESK_AUDIT_KEY", KEY)],
    );
    assert!(!ok, "--require-sealed passed an unsigned case:\n{out}");

    // Sealing the existing record, then rotating to a new key.
    let (ok, out) = dxdesk(
        &app.db_url,
        &["audit", "reseal"],
        &[("DXDESK_AUDIT_KEY", KEY)],
    );
    assert!(ok && out.contains("1 cases sealed"), "{out}");
    let (ok, out) = verify(&app.db_url, Some(KEY));
    assert!(ok && out.contains("1 sealed, 0 unsigned"), "{out}");
    let (ok, out) = dxdesk(
        &app.db_url,
        &["audit", "reseal"],
        &[
            ("DXDESK_AUDIT_KEY", OTHER_KEY),
            ("DXDESK_AUDIT_KEY_PREVIOUS", KEY),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = verify(&app.db_url, Some(OTHER_KEY));
    assert!(ok && out.contains("1 sealed"), "{out}");
    // The old key alone no longer verifies it.
    let (ok, out) = verify(&app.db_url, Some(KEY));
    assert!(!ok && out.contains(&o.reference), "{out}");
}

backend_tests!(short_audit_keys_are_refused_and_production_warns_without_one);

async fn short_audit_keys_are_refused_and_production_warns_without_one(backend: Backend) {
    eprintln!("-- backend {backend:?}");
    let (_, url) = fresh_db(backend).await;
    let (ok, out) = verify(&url, Some("0123456789abcdef0123456789abcde")); // 31 bytes
    assert!(!ok, "{out}");
    assert!(
        out.contains("DXDESK_AUDIT_KEY must be at least 32 bytes"),
        "{out}"
    );

    // A production server without a key starts, with a clear warning.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dxdesk"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("DXDESK_ENV", "production")
        .env("DXDESK_JWT_SECRET", common::TEST_SECRET)
        .env("DXDESK_BIND", "127.0.0.1:0")
        .env("DXDESK_LOG_FORMAT", "json")
        .env_remove("DXDESK_AUDIT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    use std::io::BufRead;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("dxdesk: http://") {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        seen.contains("dxdesk: http://"),
        "serve did not start:\n{seen}"
    );
    assert!(
        seen.contains("DXDESK_AUDIT_KEY is not set"),
        "no warning about the missing audit key:\n{seen}"
    );
    // The test database's user is a superuser: serve says so.
    assert_eq!(
        seen.contains("can drop the append-only triggers"),
        backend == Backend::Postgres,
        "{seen}"
    );
}

backend_tests!(migrate_applies_the_schema_and_sqlite_has_no_roles);

async fn migrate_applies_the_schema_and_sqlite_has_no_roles(backend: Backend) {
    eprintln!("-- backend {backend:?}");
    let (_, url) = fresh_db(backend).await;
    let (ok, out) = dxdesk(&url, &["migrate"], &[]);
    assert!(ok && out.contains("migrations applied"), "{out}");
    if backend == Backend::Sqlite {
        let (ok, out) = dxdesk(&url, &["migrate", "--grant-app-role", "dxdesk_app"], &[]);
        assert!(!ok, "{out}");
        assert!(out.contains("SQLite has no roles"), "{out}");
    }
}

// ------------------------------------------------------------ PostgreSQL roles

/// `url` with another user and password (the URL's search_path is kept).
fn url_as(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let rest = match rest.split_once('@') {
        Some((_, host)) => host,
        None => rest,
    };
    format!("{scheme}://{user}:{password}@{rest}")
}

fn is_permission_denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42501"))
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_cannot_rewrite_events() {
    if !common::postgres_configured() {
        eprintln!("PostgreSQL not configured; skipped");
        return;
    }
    let (_, owner_url) = fresh_db(Backend::Postgres).await;
    let role = format!(
        "dxdesk_app_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = "app-role-test-password";
    let admin = sqlx::PgPool::connect(&owner_url).await.unwrap();
    sqlx::query(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        .execute(&admin)
        .await
        .unwrap();
    let result = tokio::spawn(restricted_role_body(
        owner_url.clone(),
        role.clone(),
        password,
    ))
    .await;
    // Roles are cluster-wide: drop it whatever happened.
    sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn restricted_role_body(owner_url: String, role: String, password: &'static str) {
    let app_url = url_as(&owner_url, &role, password);
    // Granted by the real command, as the owner.
    let (ok, out) = dxdesk(&owner_url, &["migrate", "--grant-app-role", &role], &[]);
    assert!(ok, "{out}");

    // The real server, running as the app role, works.
    let store: SharedStore = Arc::new(
        PgStore::connect_with(PgConnectOptions::from_str(&app_url).unwrap())
            .await
            .expect("the app role starts on a migrated database")
            .with_audit_key(SealKey::new(KEY.as_bytes()).ok()),
    );
    let app = start_instance(Backend::Postgres, store, app_url.clone(), test_config()).await;
    dxdesk::seed::seed_directory(&app.state).await.unwrap();
    let t = app.login(CONCIERGE).await;
    let o = open_simple(&app, &t, "制限ロールの案件", "株式会社制限ロール").await;
    let center = institution_id(&app, &t, CENTER).await;
    refer_ok(&app, &t, &o.id, &center).await;
    // It sealed both writes (the seal row is inserted, then updated).
    let (ok, out) = verify(&owner_url, Some(KEY));
    assert!(ok && out.contains("1 sealed, 0 unsigned"), "{out}");

    // What it may not do.
    let pool = sqlx::PgPool::connect(&app_url).await.unwrap();
    for sql in [
        "UPDATE case_events SET kind = 'CLOSED'",
        "DELETE FROM case_events",
        "TRUNCATE case_events",
        "DROP TRIGGER case_events_no_update_delete ON case_events",
        "ALTER TABLE case_events DISABLE TRIGGER USER",
        "ALTER TABLE cases ADD COLUMN x int",
        "DROP TABLE case_events",
        "DELETE FROM case_seals",
        "DELETE FROM _sqlx_migrations",
        "CREATE TABLE sneaky (x int)",
    ] {
        let r = sqlx::query(sql).execute(&pool).await;
        match r {
            Err(e) if is_permission_denied(&e) => {}
            other => panic!("the app role was not refused `{sql}`: {other:?}"),
        }
    }
    let (owned,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_class WHERE pg_get_userbyid(relowner) = current_user",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the app role owns relations");
    pool.close().await;

    // A migration not yet applied: the app role refuses to start, with one clear line.
    let admin = sqlx::PgPool::connect(&owner_url).await.unwrap();
    let (max,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&admin)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(max)
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (ok, out) = dxdesk(&app_url, &["audit", "verify"], &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("are not applied") && out.contains("run `dxdesk migrate`"),
        "{out}"
    );
}
