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
