//! Throttling and login cost, over HTTP on both backends: a bounded password
//! hasher, limits that concurrent requests cannot race, a client address that
//! `X-Forwarded-For` cannot spoof, and a status page its reference alone cannot lock.

use crate::backend_tests;
use crate::common::cases::*;
use crate::common::{self, Backend, Gql, TestApp, PASSWORD};
use dxdesk::config::Config;
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

const Q_LOGIN: &str =
    "mutation($e:String!,$p:String!){ login(email:$e,password:$p){ accessToken } }";
const Q_ME: &str = "{ me { email } }";

fn config(edit: impl FnOnce(&mut Config)) -> Config {
    let mut c = common::test_config();
    edit(&mut c);
    c
}

/// A config behind one trusted proxy (the test client), with a hasher that
/// never refuses, so that every refusal below comes from the limits.
fn patient_config() -> Config {
    config(|c| {
        c.trust_proxy = true;
        c.hash_queue_wait = Duration::from_secs(60);
    })
}

async fn login_from(app: &TestApp, xff: &str, email: &str, password: &str) -> Gql {
    gql_from(
        app,
        xff,
        None,
        Q_LOGIN,
        json!({ "e": email, "p": password }),
    )
    .await
}

fn codes(rs: &[Gql]) -> Vec<Option<String>> {
    rs.iter().map(|r| r.code().map(str::to_owned)).collect()
}

fn count(rs: &[Gql], code: &str) -> usize {
    rs.iter().filter(|r| r.code() == Some(code)).count()
}

#[track_caller]
fn assert_null(r: &Gql, what: &str) {
    assert!(
        r.body["data"]["caseStatus"].is_null() && r.body.get("errors").is_none_or(Value::is_null),
        "{what}: expected null without errors: {}",
        r.body
    );
}

#[track_caller]
fn assert_rate_limited(r: &Gql, what: &str) {
    assert_eq!(r.code(), Some("RATE_LIMITED"), "{what}: {}", r.body);
    assert!(
        r.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some_and(|s| s >= 1),
        "{what}: retryAfter: {}",
        r.body
    );
}

// ------------------------------------------------------------ the password hasher

backend_tests!(
    a_saturated_hasher_refuses_logins_and_the_api_answers,
    saturated_hasher,
    worker_threads = 4
);

async fn saturated_hasher(backend: Backend) {
    let cfg = config(|c| {
        c.trust_proxy = true;
        c.hash_concurrency = 1;
        c.hash_queue_wait = Duration::from_millis(50);
    });
    let app = common::spawn_app_with(backend, cfg).await;
    assert_eq!(app.state.hasher.size(), 1);
    let token = app.login(CONCIERGE).await;

    // Every slot busy: a burst of logins queues briefly, then is refused.
    let busy = app.state.hasher.occupy().await;
    let burst = join_all((0..8).map(|i| {
        let app = &app;
        async move { login_from(app, &format!("198.51.100.{i}"), P_BANK, PASSWORD).await }
    }));
    let (burst, me) = tokio::join!(burst, app.gql(Some(&token), Q_ME, json!({})));
    assert_eq!(
        me.ok()["me"]["email"],
        CONCIERGE,
        "a signed-in query answers"
    );
    for r in &burst {
        assert!(r.status < 500, "no 5xx: {} {}", r.status, r.body);
        assert_rate_limited(r, "login while hashing is saturated");
    }
    drop(busy);

    // Refused attempts did not count: the account and the addresses still log in.
    let r = login_from(&app, "198.51.100.0", P_BANK, PASSWORD).await;
    assert!(r.ok()["login"]["accessToken"].is_string());

    // An unaided burst with one slot: each login succeeds or is refused, never a 5xx.
    let accounts = [ADMIN, CONCIERGE, P_CENTER, P_BANK, P_UNIV, KODA_ADMIN];
    let burst = join_all((0..24).map(|i| {
        let app = &app;
        async move {
            let who = accounts[i % accounts.len()];
            login_from(app, &format!("198.51.101.{i}"), who, PASSWORD).await
        }
    }))
    .await;
    for r in &burst {
        assert!(r.status < 500, "no 5xx: {} {}", r.status, r.body);
        match r.code() {
            None => assert!(r.ok()["login"]["accessToken"].is_string()),
            Some(_) => assert_rate_limited(r, "login in a burst"),
        }
    }
    let me = app.gql(Some(&token), Q_ME, json!({})).await;
    assert_eq!(me.ok()["me"]["email"], CONCIERGE);
}

// ------------------------------------------------------------ limits that cannot be raced

backend_tests!(
    concurrent_wrong_passwords_reach_verification_at_most_ten_times,
    concurrent_wrong_passwords,
    worker_threads = 4
);

async fn concurrent_wrong_passwords(backend: Backend) {
    let app = common::spawn_app_with(backend, patient_config()).await;
    let max = dxdesk::ratelimit::LOGIN_PER_ACCOUNT.max as usize;

    // One account, one address.
    let rs =
        join_all((0..40).map(|_| login_from(&app, "203.0.113.1", P_BANK, "wrong-password"))).await;
    assert_eq!(count(&rs, "UNAUTHENTICATED"), max, "{:?}", codes(&rs));
    assert_eq!(count(&rs, "RATE_LIMITED"), 40 - max, "{:?}", codes(&rs));
    for r in rs.iter().filter(|r| r.code() == Some("RATE_LIMITED")) {
        assert_rate_limited(r, "over the account's limit");
    }

    // One account from forty addresses, through two instances sharing the database.
    let two = spawn_second(&app, patient_config()).await;
    let rs = join_all((0..40).map(|i| {
        let inst = if i % 2 == 0 { &app } else { &two };
        async move {
            login_from(
                inst,
                &format!("203.0.113.{}", 100 + i),
                P_UNIV,
                "wrong-password",
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&rs, "UNAUTHENTICATED"), max, "{:?}", codes(&rs));
    assert_eq!(count(&rs, "RATE_LIMITED"), 40 - max, "{:?}", codes(&rs));

    // One address trying sixty accounts (spraying: the per-address limit counts accounts).
    let per_addr = dxdesk::ratelimit::LOGIN_PER_ADDRESS.max as usize;
    let rs = join_all((0..60).map(|i| {
        let inst = if i % 2 == 0 { &app } else { &two };
        async move {
            login_from(
                inst,
                "203.0.113.2",
                &format!("nobody{i}@example.jp"),
                "wrong-password",
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&rs, "UNAUTHENTICATED"), per_addr, "{:?}", codes(&rs));
    assert_eq!(
        count(&rs, "RATE_LIMITED"),
        60 - per_addr,
        "{:?}",
        codes(&rs)
    );
}

backend_tests!(
    a_correct_password_after_failures_works_until_the_limit,
    correct_after_failures,
    worker_threads = 4
);

async fn correct_after_failures(backend: Backend) {
    let app = common::spawn_app_with(backend, patient_config()).await;
    let max = dxdesk::ratelimit::LOGIN_PER_ACCOUNT.max as usize;
    for i in 0..max - 1 {
        let r = login_from(&app, &format!("192.0.2.{i}"), P_CENTER, "wrong-password").await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"));
    }
    let r = login_from(&app, "192.0.2.50", P_CENTER, PASSWORD).await;
    assert!(r.ok()["login"]["accessToken"].is_string(), "{}", r.body);
    // The success cleared the account's count: ten more failures, then refused.
    for i in 0..max {
        let r = login_from(&app, &format!("192.0.2.{}", 60 + i), P_CENTER, "wrong").await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{}", r.body);
    }
    let r = login_from(&app, "192.0.2.99", P_CENTER, PASSWORD).await;
    assert_rate_limited(&r, "correct password over the limit");
    // Successful logins do not use up an address (an office behind one NAT).
    for who in [
        ADMIN, CONCIERGE, P_BANK, P_UNIV, KODA_ADMIN, ADMIN, CONCIERGE, P_BANK, P_UNIV, KODA_ADMIN,
        ADMIN,
    ] {
        let r = login_from(&app, "192.0.2.200", who, PASSWORD).await;
        assert!(
            r.ok()["login"]["accessToken"].is_string(),
            "{who}: {}",
            r.body
        );
    }
}

fn consultation(i: usize) -> ConsultationBuilder {
    crate::common::cases::consultation(&format!("同時送信{i}株式会社"))
        .email(&format!("c{i}@example.jp"))
}

backend_tests!(
    concurrent_web_submissions_from_one_address_accept_exactly_five,
    concurrent_submissions,
    worker_threads = 4
);

async fn concurrent_submissions(backend: Backend) {
    let app = common::spawn_app_with(backend, patient_config()).await;
    let two = spawn_second(&app, patient_config()).await;
    let max = dxdesk::ratelimit::SUBMIT_PER_ADDRESS.max as usize;
    let rs = join_all((0..20).map(|i| {
        let inst = if i % 2 == 0 { &app } else { &two };
        submit_from(inst, "203.0.113.7", consultation(i))
    }))
    .await;
    let accepted = rs
        .iter()
        .filter(|r| r.body["data"]["submitConsultation"]["reference"].is_string())
        .count();
    assert_eq!(accepted, max, "{:?}", codes(&rs));
    assert_eq!(count(&rs, "RATE_LIMITED"), 20 - max, "{:?}", codes(&rs));

    // A submission refused for its content does not use up the address.
    let bad = consultation(99).without_consent();
    for _ in 0..max + 1 {
        let r = submit_from(&app, "203.0.113.8", bad.clone()).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    }
    let r = submit_from(&app, "203.0.113.8", consultation(100)).await;
    assert!(r.ok()["submitConsultation"]["reference"].is_string());
}

/// A second instance on the same database, with its clock on the first's.
async fn spawn_second(app: &TestApp, config: Config) -> TestApp {
    let store = common::open_store(app.backend, &app.db_url).await;
    let two = common::start_instance(app.backend, store, app.db_url.clone(), config).await;
    two.clock.set(app.state.now());
    two
}

// ------------------------------------------------------------ the client address

backend_tests!(
    prepended_forwarded_for_entries_do_not_escape_the_address_limit,
    spoofed_forwarded_for,
    worker_threads = 4
);

async fn spoofed_forwarded_for(backend: Backend) {
    let listed = config(|c| {
        c.trusted_proxies = dxdesk::config::parse_trusted_proxies("10.0.0.0/8,127.0.0.1").unwrap();
        c.hash_queue_wait = Duration::from_secs(60);
    });
    let legacy = patient_config();
    let max = dxdesk::ratelimit::LOGIN_PER_ADDRESS.max as usize;
    for (mode, cfg) in [
        ("DXDESK_TRUSTED_PROXIES", listed),
        ("DXDESK_TRUST_PROXY", legacy),
    ] {
        let app = common::spawn_app_with(backend, cfg).await;
        // The proxy (the test client, 127.0.0.1) appended the address it saw,
        // 203.0.113.50; the client put a fresh fake address in front each time.
        for i in 0..max {
            let xff = format!("6.6.{i}.6, 203.0.113.50");
            let r = login_from(&app, &xff, &format!("nobody{i}@example.jp"), "wrong").await;
            assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{mode}: {}", r.body);
        }
        let r = login_from(&app, "7.7.7.7, 8.8.8.8, 203.0.113.50", ADMIN, PASSWORD).await;
        assert_rate_limited(&r, mode);
        // Another client behind the same proxy is not affected.
        let r = login_from(&app, "6.6.0.6, 203.0.113.51", ADMIN, PASSWORD).await;
        assert!(
            r.ok()["login"]["accessToken"].is_string(),
            "{mode}: {}",
            r.body
        );
    }
}

// ------------------------------------------------------------ the status page

backend_tests!(
    failing_addresses_cannot_lock_a_status_page_for_its_owner,
    status_owner_not_locked_out,
    worker_threads = 4
);

async fn status_owner_not_locked_out(backend: Backend) {
    use dxdesk::ratelimit::{STATUS_FAILS_PER_REFERENCE, STATUS_FAILS_PER_REFERENCE_ADDRESS};
    let app = common::spawn_app_with(backend, patient_config()).await;
    let r = submit_from(&app, "198.51.100.200", consultation(1)).await;
    let p = r.ok()["submitConsultation"].clone();
    let reference = p["reference"].as_str().unwrap().to_owned();
    let code = p["accessCode"].as_str().unwrap().to_owned();
    let wrong = "0000-0000-0000-0000-0000-0000-0000";

    // Attackers from many addresses, each failing until refused, push the
    // reference past its ceiling.
    let per_pair = STATUS_FAILS_PER_REFERENCE_ADDRESS.max as usize;
    let attackers = (STATUS_FAILS_PER_REFERENCE.max as usize).div_ceil(per_pair);
    for a in 0..attackers {
        let ip = format!("203.0.113.{a}");
        for _ in 0..per_pair {
            assert_null(
                &case_status_from(&app, &ip, &reference, wrong).await,
                "a wrong code",
            );
        }
        let r = case_status_from(&app, &ip, &reference, wrong).await;
        assert_rate_limited(&r, "an address that failed on the reference");
    }
    // An attacker is refused even with the right code now.
    let r = case_status_from(&app, "203.0.113.0", &reference, &code).await;
    assert_rate_limited(&r, "a failed address under the ceiling");

    // The owner, from an address that has not failed, reads the status.
    let r = case_status_from(&app, "198.51.100.200", &reference, &code).await;
    assert_eq!(r.ok()["caseStatus"]["reference"], reference.as_str());
    let r = case_status_from(&app, "198.51.100.201", &reference, &code).await;
    assert_eq!(r.ok()["caseStatus"]["reference"], reference.as_str());

    // Under the ceiling a new address gets one try, not five.
    let r = case_status_from(&app, "203.0.113.250", &reference, wrong).await;
    assert_null(&r, "a fresh address's one try");
    let r = case_status_from(&app, "203.0.113.250", &reference, wrong).await;
    assert_rate_limited(&r, "a fresh address's second failure under the ceiling");
}

// ------------------------------------------------------------ query turns

backend_tests!(
    a_query_past_the_cap_waits_its_turn_while_mutations_pass,
    |backend| async move {
        let app = common::spawn_app_with(backend, config(|c| c.conn.max_queries = 1)).await;
        let token = app.login(CONCIERGE).await;
        // Another query holds the only turn.
        let held = app.state.queries.clone().acquire_owned().await.unwrap();
        let waiting = {
            let (http, url, token) = (app.http.clone(), app.url("/graphql"), token.clone());
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&json!({ "query": Q_ME }))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        };
        // A mutation does not queue behind queries (a login, then a case).
        let again = app.login_payload(CONCIERGE, PASSWORD).await;
        assert!(again.ok()["login"]["accessToken"].is_string(), "{again:?}");
        case("順番待ちの相談").open(&app, &token).await;
        assert!(!waiting.is_finished(), "the query ran without a turn");
        drop(held);
        let answered = tokio::time::timeout(Duration::from_secs(15), waiting)
            .await
            .expect("answered once the turn is free")
            .unwrap();
        assert_eq!(answered["data"]["me"]["email"], CONCIERGE, "{answered}");
        assert_eq!(
            app.state.queries.available_permits(),
            1,
            "the turn is given back"
        );
    }
);

backend_tests!(
    a_query_that_never_gets_a_turn_is_answered_408_and_the_turn_stays_free,
    |backend| async move {
        let app = common::spawn_app_with(
            backend,
            config(|c| {
                c.conn.max_queries = 1;
                c.conn.request_timeout = Duration::from_secs(1);
            }),
        )
        .await;
        let token = app.login(CONCIERGE).await;
        let held = app.state.queries.clone().acquire_owned().await.unwrap();
        let timed_out = app.gql(Some(&token), Q_ME, json!({})).await;
        assert_eq!(timed_out.status, 408, "{timed_out:?}");
        drop(held);
        // The abandoned wait took nothing: the next query runs at once.
        let me = app.gql(Some(&token), Q_ME, json!({})).await;
        assert_eq!(me.ok()["me"]["email"], CONCIERGE);
        assert_eq!(app.state.queries.available_permits(), 1);
    }
);
