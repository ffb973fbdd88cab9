//! `totalCount` of the case list: exact for small lists, answered from memory
//! (and marked `totalCountExact: false`) above the exact limit; the page and
//! its nested rows read in one statement come back as the loaders gave them.

use crate::backend_tests;
use crate::common;
use common::cases::*;
use common::Backend;
use dxdesk::service::cases::count;
use dxdesk::store::CaseQuery;
use serde_json::json;

backend_tests!(small_lists_are_counted_exactly);
backend_tests!(large_counts_are_remembered_as_estimates);

async fn small_lists_are_counted_exactly(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let token = app.login("concierge@aomori.example").await;
    for i in 0..3 {
        case(&format!("件数の確認{i}")).open(&app, &token).await;
    }
    let q = r#"query($first: Int) { cases(first: $first) { totalCount totalCountExact
        edges { node { title topics business { name } assignedTo { displayName } referrals { id } } } } }"#;
    for first in [1, 2, 3, 10] {
        let r = app.gql(Some(&token), q, json!({ "first": first })).await;
        let c = &r.ok()["cases"];
        assert_eq!(c["totalCount"], 3, "first {first}");
        assert_eq!(c["totalCountExact"], true);
    }
    // The nested rows the page statement brought along.
    let r = app.gql(Some(&token), q, json!({ "first": 1 })).await;
    let node = &r.ok()["cases"]["edges"][0]["node"];
    assert_eq!(node["title"], "件数の確認2");
    assert_eq!(node["business"]["name"], "件数の確認2株式会社");
    assert!(node["assignedTo"]["displayName"].is_string());
    // A fourth case is counted at once.
    case("件数の確認3").open(&app, &token).await;
    let r = app.gql(Some(&token), q, json!({ "first": 1 })).await;
    assert_eq!(r.ok()["cases"]["totalCount"], 4);
}

async fn large_counts_are_remembered_as_estimates(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let token = app.login("concierge@aomori.example").await;
    for i in 0..3 {
        case(&format!("概数の確認{i}")).open(&app, &token).await;
    }
    let lab = app.state.store.lab_by_code("AOM").await.unwrap().unwrap();
    let q = CaseQuery {
        lab_id: lab.id,
        now: app.state.now(),
        ..Default::default()
    };
    // Above the limit (2 here): counted in full once, then remembered.
    let t = count::total_with(&app.state, &q, 2).await.unwrap();
    assert_eq!((t.n, t.exact), (3, false));
    case("概数の確認3").open(&app, &token).await;
    let t = count::total_with(&app.state, &q, 2).await.unwrap();
    assert_eq!(
        (t.n, t.exact),
        (3, false),
        "a fresh estimate is answered from memory"
    );
    // Another filter is another count.
    let walk_in = CaseQuery {
        search: Some("概数の確認3".into()),
        ..q.clone()
    };
    let t = count::total_with(&app.state, &walk_in, 2).await.unwrap();
    assert_eq!((t.n, t.exact), (1, true));
    // Under a higher limit the same list is small again: counted exactly.
    let t = count::total_with(&app.state, &q, 10).await.unwrap();
    assert_eq!((t.n, t.exact), (4, true));
}

backend_tests!(the_rollup_counts_a_list_as_the_cases_do);

/// A lab-wide list filtered by stage, displayed status and channel is counted
/// from the rollup's cells; on a lab holding every combination of those (and
/// referrals pending, accepted, declined, withdrawn) the sum equals the
/// count of the cases themselves, for every such filter.
async fn the_rollup_counts_a_list_as_the_cases_do(backend: Backend) {
    use dxdesk::domain::types::{CaseStatus as S, Channel as C, Stage as G};
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let open = |title: &'static str, stage: &'static str, channel: &'static str| {
        let (app, token) = (&app, t.concierge.clone());
        async move {
            case(title)
                .stage(stage)
                .set("channel", channel)
                .open(app, &token)
                .await
                .id
        }
    };
    open("新規のまま", "KNOW", "WALK_IN").await;
    let referred = open("紹介中", "CONSULT", "PHONE").await;
    refer_ok(&app, &t.concierge, &referred, &bank).await;
    let accepted = open("受付済み", "TRY", "PHONE").await;
    let r = refer_ok(&app, &t.concierge, &accepted, &bank).await;
    accept(&app, &t.bank, &r, None).await.ok();
    let declined = open("辞退", "CONSULT", "EMAIL").await;
    let r = refer_ok(&app, &t.concierge, &declined, &bank).await;
    decline(&app, &t.bank, &r, "NO_CAPACITY", None).await.ok();
    let withdrawn = open("取り下げ", "KNOW", "EMAIL").await;
    let r = refer_ok(&app, &t.concierge, &withdrawn, &bank).await;
    withdraw(&app, &t.concierge, &r, None).await.ok();
    for (title, status) in [("保留", "ON_HOLD"), ("対応中", "IN_PROGRESS")] {
        let id = open(title, "TRY", "WALK_IN").await;
        let steps: &[&str] = if status == "IN_PROGRESS" {
            &["IN_PROGRESS"]
        } else {
            &["IN_PROGRESS", status]
        };
        for step in steps {
            let v = version(&app, &t.concierge, &id).await;
            set_status(&app, &t.concierge, &id, v, step).await.ok();
        }
    }
    let held = open("対応中の紹介", "TRY", "EMAIL").await;
    let v = version(&app, &t.concierge, &held).await;
    set_status(&app, &t.concierge, &held, v, "IN_PROGRESS")
        .await
        .ok();
    refer_ok(&app, &t.concierge, &held, &bank).await;

    let lab = app.state.store.lab_by_code("AOM").await.unwrap().unwrap();
    let store = &app.state.store;
    let statuses = [
        vec![],
        vec![S::Referred],
        vec![S::New],
        vec![S::InProgress],
        vec![S::New, S::Referred],
        vec![S::OnHold, S::Closed, S::Resolved],
    ];
    let stages = [vec![], vec![G::Consult], vec![G::Know, G::Try]];
    let channels = [vec![], vec![C::Phone], vec![C::WalkIn, C::Email]];
    let mut nonzero = 0;
    for st in &statuses {
        for sg in &stages {
            for ch in &channels {
                let q = CaseQuery {
                    lab_id: lab.id,
                    statuses: st.clone(),
                    stages: sg.clone(),
                    channels: ch.clone(),
                    now: app.state.now(),
                    ..Default::default()
                };
                assert!(dxdesk::store::rollup::case_count_sql(&q).is_some());
                let from_rollup = store.count_cases(&q).await.unwrap();
                let from_cases = store.count_cases_up_to(&q, 1000).await.unwrap();
                assert_eq!(from_rollup, from_cases, "{st:?} {sg:?} {ch:?}");
                nonzero += usize::from(from_cases > 0);
            }
        }
    }
    assert!(nonzero > 20, "the fixture covers the filters: {nonzero}");
    let all = CaseQuery {
        lab_id: lab.id,
        now: app.state.now(),
        ..Default::default()
    };
    assert_eq!(store.count_cases(&all).await.unwrap(), 8);
    // Any other filter is counted from the cases.
    let mine = CaseQuery {
        assigned_to: Some(uuid::Uuid::nil()),
        ..all.clone()
    };
    assert!(dxdesk::store::rollup::case_count_sql(&mine).is_none());
}
