//! Concurrency on both backends — two writers with
//! the same `expectedVersion` (exactly one wins), and 50 concurrent `openCase`
//! (50 distinct, gap-free references).

use crate::backend_tests;
use crate::common;

use common::cases::*;
use common::{Backend, Gql};
use futures::future::join_all;
use serde_json::json;
use std::collections::HashSet;

backend_tests!(
    two_writers_with_the_same_version_exactly_one_wins,
    two_writers,
    worker_threads = 4
);

backend_tests!(
    fifty_concurrent_opens_get_distinct_gap_free_references,
    fifty_opens,
    worker_threads = 4
);

backend_tests!(
    racing_referral_decisions_and_duplicate_referrals_have_one_winner,
    referral_races,
    worker_threads = 4
);

backend_tests!(
    concurrent_opens_for_one_corporate_number_share_the_business,
    same_business,
    worker_threads = 4
);

/// Of two answers, exactly one succeeded and the other is CONFLICT; returns the winner's index.
#[track_caller]
fn one_winner(a: &Gql, b: &Gql, what: &str) -> usize {
    one_winner_else(a, b, &["CONFLICT"], what)
}

/// Of two answers, exactly one succeeded and the other failed with one of `codes`.
#[track_caller]
fn one_winner_else(a: &Gql, b: &Gql, codes: &[&str], what: &str) -> usize {
    let ok = |r: &Gql| r.body.get("errors").is_none_or(|e| e.is_null());
    match (ok(a), ok(b)) {
        (true, false) => {
            assert_code_in(b, codes, what);
            0
        }
        (false, true) => {
            assert_code_in(a, codes, what);
            1
        }
        _ => panic!(
            "{what}: expected exactly one winner:\n{}\n{}",
            a.body, b.body
        ),
    }
}

async fn two_writers(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let o = open_simple(&app, &t.concierge, "同時編集の相談", "同時商事株式会社").await;
    let id = o.id.as_str();

    for round in 0..3 {
        // updateCase vs updateCase
        let before = case_ok(&app, &t.admin, id).await;
        let v = before["version"].as_i64().unwrap();
        let (title_a, title_b) = (format!("編集A-{round}"), format!("編集B-{round}"));
        let (a, b) = tokio::join!(
            update_case(&app, &t.concierge, id, v, json!({ "title": title_a })),
            update_case(&app, &t.admin, id, v, json!({ "title": title_b })),
        );
        let w = one_winner(&a, &b, &format!("updateCase round {round}"));
        let after = case_ok(&app, &t.admin, id).await;
        assert_eq!(
            after["version"].as_i64().unwrap(),
            v + 1,
            "version advanced by one"
        );
        assert_eq!(
            after["title"],
            [&title_a, &title_b][w].as_str(),
            "the winner's title stays"
        );
        assert_eq!(
            kinds(&after).len(),
            kinds(&before).len() + 1,
            "the loser must not add an event"
        );

        // setStage vs setStage
        let v = v + 1;
        let (a, b) = tokio::join!(
            set_stage(&app, &t.concierge, id, v, "TRY"),
            set_stage(&app, &t.admin, id, v, "KNOW"),
        );
        let w = one_winner(&a, &b, &format!("setStage round {round}"));
        let after2 = case_ok(&app, &t.admin, id).await;
        assert_eq!(after2["version"].as_i64().unwrap(), v + 1);
        assert_eq!(after2["stage"], ["TRY", "KNOW"][w]);
        assert_eq!(kinds(&after2).len(), kinds(&after).len() + 1);

        // updateCase vs setStage on the same version
        let v = v + 1;
        let (a, b) = tokio::join!(
            update_case(
                &app,
                &t.concierge,
                id,
                v,
                json!({ "description": format!("説明{round}") })
            ),
            set_stage(&app, &t.admin, id, v, "CONSULT"),
        );
        one_winner(&a, &b, &format!("updateCase vs setStage round {round}"));
        assert_eq!(version(&app, &t.admin, id).await, v + 1);
    }
}

/// Writes without `expectedVersion` must still serialise on the case: a
/// partner accepting while the desk withdraws, and two desks referring to the
/// same institution at once.
async fn referral_races(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let center = institution_id(&app, &t.concierge, CENTER).await;
    for round in 0..3 {
        let o = open_simple(
            &app,
            &t.concierge,
            &format!("競合{round}"),
            &format!("競合{round}株式会社"),
        )
        .await;
        let rid = refer_ok(&app, &t.concierge, &o.id, &center).await;
        let (a, w) = tokio::join!(
            accept(&app, &t.center, &rid, None),
            withdraw(&app, &t.concierge, &rid, None),
        );
        // A partner whose referral was withdrawn no longer sees it: NOT_FOUND is right too.
        let winner = one_winner_else(
            &a,
            &w,
            &["CONFLICT", "NOT_FOUND"],
            &format!("accept vs withdraw, round {round}"),
        );
        let c = case_ok(&app, &t.concierge, &o.id).await;
        assert_eq!(
            c["referrals"][0]["status"],
            ["ACCEPTED", "WITHDRAWN"][winner]
        );
        let decided: Vec<String> = kinds(&c)
            .into_iter()
            .filter(|k| k == "ACCEPTED" || k == "WITHDRAWN")
            .collect();
        assert_eq!(decided.len(), 1, "one decision recorded: {decided:?}");

        let o = open_simple(
            &app,
            &t.concierge,
            &format!("二重紹介{round}"),
            &format!("二重紹介{round}株式会社"),
        )
        .await;
        let (a, b) = tokio::join!(
            refer(&app, &t.concierge, &o.id, &center, None),
            refer(&app, &t.admin, &o.id, &center, None),
        );
        one_winner(
            &a,
            &b,
            &format!("two referrals to one institution, round {round}"),
        );
        let c = case_ok(&app, &t.concierge, &o.id).await;
        assert_eq!(c["referrals"].as_array().unwrap().len(), 1);
        let n = kinds(&c).iter().filter(|k| *k == "STATUS_CHANGED").count();
        assert_eq!(n, 1, "NEW → IN_PROGRESS recorded once: {:?}", kinds(&c));
    }
}

async fn fifty_opens(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let year = jst_year(app.state.now());
    let answers = join_all((0..50).map(|i| {
        let app = &app;
        let tok = if i % 2 == 0 { &t.concierge } else { &t.admin };
        async move {
            try_open_case(
                app,
                tok,
                open_input(
                    &format!("同時受付{i}"),
                    "同時に受け付けた相談",
                    new_business(&format!("同時受付{i}株式会社")),
                ),
            )
            .await
        }
    }))
    .await;
    let mut refs = Vec::new();
    let mut codes = HashSet::new();
    let mut ids = HashSet::new();
    for a in &answers {
        let p = &a.ok()["openCase"];
        refs.push(p["case"]["reference"].as_str().unwrap().to_owned());
        codes.insert(p["accessCode"].as_str().unwrap().to_owned());
        ids.insert(p["case"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 50);
    assert_eq!(codes.len(), 50, "access codes repeat");
    let distinct: HashSet<&String> = refs.iter().collect();
    assert_eq!(distinct.len(), 50, "references repeat: {refs:?}");
    let prefix = format!("AOM-{year}-");
    let mut seqs: Vec<i64> = refs
        .iter()
        .map(|r| {
            assert!(r.starts_with(&prefix), "{r} does not start with {prefix}");
            let tail = &r[prefix.len()..];
            assert_eq!(tail.len(), 6, "sequence is zero-padded to 6: {r}");
            tail.parse().unwrap()
        })
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<i64>>(), "gap-free from 1");
    let r = list_cases(&app, &t.concierge, json!(null), 1, None).await;
    assert_eq!(r.ok()["cases"]["totalCount"], 50);
}

async fn same_business(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let number = corporate_number("987654321098");
    let answers = join_all((0..5).map(|i| {
        let app = &app;
        let tok = &t.concierge;
        let input = case(&format!("同一法人{i}"))
            .description("説明")
            .business(business("法人番号同一株式会社").corporate_number(&number));
        async move { input.try_open(app, tok).await }
    }))
    .await;
    let businesses: HashSet<String> = answers
        .iter()
        .map(|a| {
            a.ok()["openCase"]["case"]["business"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        businesses.len(),
        1,
        "one corporate number, one business: {businesses:?}"
    );
}
