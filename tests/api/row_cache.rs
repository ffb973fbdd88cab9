//! The row cache of lab rows and access checks (`src/store/cache.rs`), over
//! HTTP: a change is refused or shown by the very next request of the
//! instance that made it; by another instance on the same database once the
//! change's notification has arrived (`store::live::heard_all` waits for it); after a write made outside dxdesk (psql);
//! and after the `LISTEN` connection was lost, with a change committed while
//! nobody listened. SQLite keeps nothing. Every check first warms the cache
//! with the row it then changes (and, on PostgreSQL, checks that the cache
//! holds it), so a stale entry would be served if invalidation failed.

use crate::backend_tests;
use crate::common::{self, spawn_app, Backend, TestApp, PASSWORD};
use dxdesk::store::cache::{RowCache, MAX_AGE};
use dxdesk::store::db::{Db, HasDb};
use dxdesk::store::live::heard_all;
use dxdesk::store::{PgStore, SqliteStore};
use serde_json::json;
use std::time::{Duration, Instant};

/// What a request sees through the cache: the viewer's lab row (its pickup
/// days) and the viewer's role from the access check (whether the admin-only
/// `users` answers).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    pickup_days: i64,
    admin: bool,
}

fn db(app: &TestApp) -> &Db {
    let any = app.state.store.as_any();
    match any.downcast_ref::<SqliteStore>() {
        Some(s) => s.db(),
        None => any.downcast_ref::<PgStore>().unwrap().db(),
    }
}

fn cache(app: &TestApp) -> &RowCache {
    &db(app).cache
}

/// What `token` sees now, or the error code of its request.
async fn me(app: &TestApp, token: &str) -> Result<Seen, String> {
    let lab = app
        .gql(Some(token), "{ lab { pickupDays } }", json!({}))
        .await;
    if let Some(code) = lab.code() {
        return Err(code.to_owned());
    }
    let users = app.gql(Some(token), "{ users { id } }", json!({})).await;
    let admin = match users.code() {
        None => true,
        Some("FORBIDDEN") => false,
        Some(code) => return Err(code.to_owned()),
    };
    Ok(Seen {
        pickup_days: lab.data()["lab"]["pickupDays"].as_i64().unwrap(),
        admin,
    })
}

/// Reads `me` twice, so that the second read is served by the cache where
/// there is one, and checks there is one exactly on PostgreSQL.
async fn warm(app: &TestApp, token: &str) -> Seen {
    me(app, token).await.unwrap();
    let seen = me(app, token).await.unwrap();
    assert_eq!(
        !cache(app).is_empty(),
        app.backend == Backend::Postgres,
        "{:?}: the cache is used on PostgreSQL only",
        app.backend
    );
    seen
}

/// The admin sets the lab's pick-up days (through `app`).
async fn set_pickup_days(app: &TestApp, admin: &str, days: i64) {
    app.gql(
        Some(admin),
        "mutation($i:LabSettingsInput!){ updateLabSettings(input:$i){ pickupDays } }",
        json!({ "i": { "pickupDays": days } }),
    )
    .await
    .ok();
}

/// The admin deactivates user `id` (through `app`).
async fn deactivate(app: &TestApp, admin: &str, id: &str) {
    app.gql(
        Some(admin),
        "mutation($id:ID!){ deactivateUser(id:$id){ active } }",
        json!({ "id": id }),
    )
    .await
    .ok();
}

/// `token` is refused by `app`.
async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    assert_eq!(
        me(app, token).await,
        Err("UNAUTHENTICATED".to_owned()),
        "{:?}: {why}",
        app.backend
    );
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let u = app.state.store.user_by_email(email).await.unwrap().unwrap();
    u.id.to_string()
}

backend_tests!(a_used_token_stops_at_logout_at_once);

async fn a_used_token_stops_at_logout_at_once(b: Backend) {
    let app = spawn_app(b).await;
    for round in 0..10 {
        let p = app
            .login_payload("concierge@aomori.example", PASSWORD)
            .await;
        let access = p.ok()["login"]["accessToken"].as_str().unwrap().to_owned();
        let refresh = p.ok()["login"]["refreshToken"].as_str().unwrap().to_owned();
        warm(&app, &access).await;
        let out = app
            .gql(
                Some(&access),
                "mutation($t:String!){ logout(refreshToken:$t) }",
                json!({ "t": refresh }),
            )
            .await;
        assert_eq!(out.ok()["logout"], true);
        assert_refused(&app, &access, &format!("round {round}: logged out")).await;
    }
}

backend_tests!(role_deactivation_and_lab_settings_show_at_the_next_request);

async fn role_deactivation_and_lab_settings_show_at_the_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.login("admin@aomori.example").await;
    let concierge = app.login("concierge@aomori.example").await;
    let id = user_id(&app, "concierge@aomori.example").await;

    let before = warm(&app, &concierge).await;
    assert!(!before.admin);
    app.gql(
        Some(&admin),
        "mutation($id:ID!){ updateUser(id:$id, input:{ role: ADMIN }){ role } }",
        json!({ "id": id }),
    )
    .await
    .ok();
    // A new role ends the sessions (what the user may see changed); the
    // next sign-in has it.
    assert_refused(&app, &concierge, "a new role").await;
    let concierge = app.login("concierge@aomori.example").await;
    assert!(
        me(&app, &concierge).await.unwrap().admin,
        "{b:?}: the new role"
    );

    let days = before.pickup_days;
    warm(&app, &concierge).await;
    set_pickup_days(&app, &admin, days + 4).await;
    assert_eq!(me(&app, &concierge).await.unwrap().pickup_days, days + 4);

    warm(&app, &concierge).await;
    deactivate(&app, &admin, &id).await;
    assert_refused(&app, &concierge, "deactivated").await;
}

/// A second instance on the same PostgreSQL schema: what it changes, the
/// first one stops serving once the notification is heard.
#[tokio::test]
async fn another_instance_change_is_heard() {
    if !common::postgres_configured() {
        return common::announce_postgres_skipped();
    }
    let one = spawn_app(Backend::Postgres).await;
    let store = common::open_store(Backend::Postgres, &one.db_url).await;
    let two = common::start_instance(
        Backend::Postgres,
        store,
        one.db_url.clone(),
        common::test_config(),
    )
    .await;
    let concierge = one.login("concierge@aomori.example").await;
    let admin = two.login("admin@aomori.example").await;
    let id = user_id(&one, "concierge@aomori.example").await;

    let before = warm(&one, &concierge).await;
    let days = before.pickup_days;
    set_pickup_days(&two, &admin, days + 2).await;
    heard_all(db(&one)).await.unwrap();
    assert_eq!(me(&one, &concierge).await.unwrap().pickup_days, days + 2);

    warm(&one, &concierge).await;
    deactivate(&two, &admin, &id).await;
    heard_all(db(&one)).await.unwrap();
    assert_refused(&one, &concierge, "deactivated by the other instance").await;
}

/// Writes made outside dxdesk (psql, a script) are heard the same way, also
/// when they are committed while the `LISTEN` connection is lost.
#[tokio::test]
async fn outside_writes_are_heard_also_across_a_lost_listen() {
    if !common::postgres_configured() {
        return common::announce_postgres_skipped();
    }
    let app = spawn_app(Backend::Postgres).await;
    let psql = sqlx::PgPool::connect(&app.db_url).await.unwrap();
    let concierge = app.login("concierge@aomori.example").await;
    let id = uuid::Uuid::parse_str(&user_id(&app, "concierge@aomori.example").await).unwrap();

    let before = warm(&app, &concierge).await;
    sqlx::query("UPDATE labs SET pickup_days = pickup_days + 1 WHERE id = (SELECT lab_id FROM users WHERE id = $1)")
        .bind(id)
        .execute(&psql)
        .await
        .unwrap();
    heard_all(db(&app)).await.unwrap();
    assert_eq!(
        me(&app, &concierge).await.unwrap().pickup_days,
        before.pickup_days + 1
    );

    // The LISTEN connection ends and, while every other connection of the
    // instance's pool is held, cannot be re-opened: a change committed now is
    // announced to nobody. The cache was emptied when the loss was noticed
    // and keeps nothing before LISTEN is back, so the change is still seen.
    warm(&app, &concierge).await;
    let pool = common::pg_pool(&app.state.store);
    let max = pool.options().get_max_connections();
    let mut held = Vec::new();
    loop {
        if let Some(c) = pool.try_acquire() {
            held.push(c);
        } else if pool.size() < max {
            held.push(pool.acquire().await.unwrap());
        } else {
            break;
        }
    }
    // Waiting first in the pool's fair queue, this takes the slot the killed
    // connection frees, before the `LISTEN` task's re-open can.
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.unwrap() }
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let pid = db(&app).live.listen_pid().expect("LISTEN is open");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&psql)
        .await
        .unwrap();
    let deadline = Instant::now() + MAX_AGE / 6;
    while db(&app).live.listen_pid().is_some() {
        assert!(Instant::now() < deadline, "the lost LISTEN was not noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cache(&app).is_empty(), "emptied when LISTEN is lost");
    sqlx::query("UPDATE users SET role = 'ADMIN' WHERE id = $1")
        .bind(id)
        .execute(&psql)
        .await
        .unwrap();
    assert_eq!(db(&app).live.listen_pid(), None, "LISTEN stayed closed");
    drop(waiter.await.unwrap());
    drop(held);
    // Whether LISTEN is back yet or not, the next request reads the row.
    assert!(
        me(&app, &concierge).await.unwrap().admin,
        "the role changed while not listening"
    );
    // LISTEN is back (another connection) and the cache serves again.
    let deadline = Instant::now() + MAX_AGE / 6;
    while db(&app).live.listen_pid().is_none_or(|p| p == pid) {
        assert!(Instant::now() < deadline, "LISTEN was not re-opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    warm(&app, &concierge).await;
    sqlx::query("UPDATE users SET active = false WHERE id = $1")
        .bind(id)
        .execute(&psql)
        .await
        .unwrap();
    heard_all(db(&app)).await.unwrap();
    assert_refused(&app, &concierge, "deactivated by psql").await;
}
