//! The case search through the bigram index answers exactly what the plain
//! substring scan (`LOWER(x) LIKE '%term%'` over title, description and company
//! name, `%`/`_`/`\` literal) answers: over HTTP and, with every scan window
//! (so that the index path is the one answering), at the store; on a fixture
//! of Japanese, mixed-case ASCII, full-width and wildcard texts, after edits and
//! after an erasure, and on random texts.

use crate::backend_tests;
use crate::common;

use common::cases::*;
use common::{spawn_app, Backend, TestApp};
use dxdesk::store::db::{Db, HasDb};
use dxdesk::store::{CaseQuery, PgStore, SqliteStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const ERASE: &str = "mutation($b: ID!) { erasePersonalData(businessId: $b) { id } }";

const Q_SEARCH: &str = r#"
query($s: String, $first: Int, $after: String) {
  cases(filter: { search: $s }, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id } }
  }
}"#;

/// Terms of 1, 2, 3+ characters, mixed case, full-width, wildcards, a
/// backslash, terms only in company names, and terms spanning two fields
/// (which must not match).
const TERMS: &[&str] = &[
    "在庫",
    "在",
    "庫",
    "庫管",
    "在庫管理",
    "管理のク",
    "クラウド化倉庫", // end of a title + start of its description
    "iot",
    "IoT",
    "IOT",
    "io",
    "100%",
    "%",
    "_",
    "_50_",
    "0%増",
    "\\",
    "c:\\d",
    "ｄｘ",
    "ＤＸ",
    "dx",
    "ä",
    "Ä",
    "straße",
    "STRASSE",
    "ai",
    "AI L",
    "津軽",
    "精密",
    "商事",
    "在庫セ",
    "センター",
    "相談",
    "ゼロ",
    "パーセント",
    "ー",
    "りんご農園",
    "不在の語",
    "o",
    "ss",
    "  在庫  ",
    "a",
    "ab",
    "削除",
];

/// The lab's case ids matching `term` by the plain scan, newest first — the
/// SQL the search ran before the index, run directly on the database.
async fn scan(app: &TestApp, lab: Uuid, term: &str) -> Vec<Uuid> {
    let mut p = String::from("%");
    for ch in term.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    let where_ = "(LOWER(c.title) LIKE {p} ESCAPE '\\' OR LOWER(c.description) LIKE {p} ESCAPE '\\' \
         OR EXISTS (SELECT 1 FROM businesses sb WHERE sb.id = c.business_id AND LOWER(sb.name) LIKE {p} ESCAPE '\\'))";
    let rows: Vec<(Uuid,)> = match app.backend {
        Backend::Sqlite => {
            let q = format!(
                "SELECT c.id FROM cases c WHERE c.lab_id = ?1 AND {} ORDER BY c.id DESC",
                where_.replace("{p}", "?2")
            );
            sqlx::query_as(&q)
                .bind(lab)
                .bind(&p)
                .fetch_all(&common::sqlite_pool(&app.state.store))
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let q = format!(
                "SELECT c.id FROM cases c WHERE c.lab_id = $1 AND {} ORDER BY c.id DESC",
                where_.replace("{p}", "$2")
            );
            sqlx::query_as(&q)
                .bind(lab)
                .bind(&p)
                .fetch_all(&common::pg_pool(&app.state.store))
                .await
                .unwrap()
        }
    };
    rows.into_iter().map(|r| r.0).collect()
}

fn db_of(app: &TestApp) -> &Db {
    let any = app.state.store.as_any();
    match app.backend {
        Backend::Sqlite => any.downcast_ref::<SqliteStore>().unwrap().db(),
        Backend::Postgres => any.downcast_ref::<PgStore>().unwrap().db(),
    }
}

/// Every page of the search at the store with scan window `window`, pages of `page`.
async fn store_search(app: &TestApp, lab: Uuid, term: &str, window: i64, page: i64) -> Vec<Uuid> {
    let cq = CaseQuery {
        lab_id: lab,
        search: Some(term.to_owned()),
        now: app.state.now(),
        ..Default::default()
    };
    let db = db_of(app);
    let mut out: Vec<Uuid> = Vec::new();
    loop {
        let after = out.last().copied();
        let rows = match dxdesk::store::search::list(db, &cq, after, page, window)
            .await
            .unwrap()
        {
            Some(rows) => rows,
            // Not index-able (under two characters): the plain list answers.
            None => app.state.store.list_cases(&cq, after, page).await.unwrap(),
        };
        let n = rows.len() as i64;
        out.extend(rows.iter().map(|r| r.id));
        if n < page {
            return out;
        }
    }
}

/// Every page of the search over HTTP, and its `totalCount`.
async fn api_search(app: &TestApp, token: &str, term: &str) -> (Vec<Uuid>, i64) {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = app
            .gql(
                Some(token),
                Q_SEARCH,
                json!({ "s": term, "first": 3, "after": after }),
            )
            .await;
        let c = &r.ok()["cases"];
        for e in c["edges"].as_array().unwrap() {
            ids.push(e["node"]["id"].as_str().unwrap().parse().unwrap());
        }
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (ids, c["totalCount"].as_i64().unwrap());
        }
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// Compares every way of searching with the scan for every term.
async fn compare_all(app: &TestApp, token: &str, lab: Uuid, terms: &[String], what: &str) {
    let b = app.backend;
    for term in terms {
        let want = scan(app, lab, term).await;
        let (api, total) = api_search(app, token, term).await;
        assert_eq!(api, want, "{b:?} {what}: API search {term:?}");
        assert_eq!(
            total,
            want.len() as i64,
            "{b:?} {what}: totalCount {term:?}"
        );
        for (window, page) in [(0, 2), (1, 1), (3, 2), (2000, 101)] {
            let got = store_search(app, lab, term, window, page).await;
            assert_eq!(got, want, "{b:?} {what}: window {window} {term:?}");
        }
        if term.trim().chars().count() >= 2 {
            let cq = CaseQuery {
                lab_id: lab,
                search: Some(term.clone()),
                now: app.state.now(),
                ..Default::default()
            };
            let n = dxdesk::store::search::count(db_of(app), &cq).await.unwrap();
            assert_eq!(n, Some(want.len() as i64), "{b:?} {what}: count {term:?}");
        }
    }
}

async fn lab_id(app: &TestApp, token: &str) -> Uuid {
    let r = app.gql(Some(token), "{ lab { id } }", json!({})).await;
    r.ok()["lab"]["id"].as_str().unwrap().parse().unwrap()
}

backend_tests!(indexed_search_equals_the_substring_scan);

async fn indexed_search_equals_the_substring_scan(b: Backend) {
    let app = spawn_app(b).await;
    let desk = app.login(CONCIERGE).await;
    let admin = app.login(ADMIN).await;
    let lab = lab_id(&app, &desk).await;
    let fixture = [
        (
            "在庫管理のクラウド化",
            "倉庫の在庫を数えるのが大変",
            "津軽精密",
        ),
        (
            "IoT Sensor 導入",
            "工場の稼働をiotで見える化",
            "ACME Trading",
        ),
        (
            "売上100%増を目指す",
            "割引率_50_の計算を自動化 C:\\data",
            "株式会社100パーセント",
        ),
        (
            "ＤＸ推進（全角）",
            "Ä ÖÜ 大文字 Straße",
            "Ｅｘａｍｐｌｅ合同会社",
        ),
        ("在", "庫", "在庫商事"),
        ("DX認定の取得", "在庫と受発注", "弘前りんご農園"),
        ("生成AIを活用", "AIで議事録", "AI Labs"),
        ("相談", "会社名に在庫が入る", "八戸在庫センター"),
    ];
    let mut opened = Vec::new();
    for (title, description, company) in fixture {
        opened.push(
            case(title)
                .description(description)
                .business(new_business(company))
                .open(&app, &desk)
                .await,
        );
    }
    // A second case of 八戸在庫センター, for the erasure below.
    let business = opened[7].case["business"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = case("別の相談")
        .description("ABC")
        .business_id(&business)
        .open(&app, &desk)
        .await;
    let terms: Vec<String> = TERMS.iter().map(|t| t.to_string()).collect();
    // The fixture is not vacuous: the scan finds these.
    assert_eq!(scan(&app, lab, "在庫").await.len(), 5, "{b:?}");
    assert_eq!(scan(&app, lab, "IOT").await.len(), 1);
    assert_eq!(scan(&app, lab, "_50_").await.len(), 1);
    assert_eq!(scan(&app, lab, "%").await.len(), 1);
    assert!(scan(&app, lab, "クラウド化倉庫").await.is_empty());
    compare_all(&app, &desk, lab, &terms, "opened").await;

    // Edits change what matches.
    let v = version(&app, &desk, &opened[1].id).await;
    update_case(
        &app,
        &desk,
        &opened[1].id,
        v,
        json!({ "title": "在庫ゼロを目指す", "description": "センサーは見送り" }),
    )
    .await
    .ok();
    let v = version(&app, &desk, &opened[5].id).await;
    update_case(
        &app,
        &desk,
        &opened[5].id,
        v,
        json!({ "description": "受発注だけ" }),
    )
    .await
    .ok();
    assert_eq!(scan(&app, lab, "iot").await.len(), 0, "{b:?} edit applied");
    compare_all(&app, &desk, lab, &terms, "after edits").await;

    // Erasure blanks the company name and descriptions of both its cases.
    for id in [&opened[7].id, &second.id] {
        let v = version(&app, &desk, id).await;
        set_status(&app, &desk, id, v, "IN_PROGRESS").await.ok();
        let v = version(&app, &desk, id).await;
        resolve(&app, &desk, id, v, &["ADVICE_ONLY"], "助言で完了")
            .await
            .ok();
        close(&app, &desk, id).await.ok();
    }
    app.gql(Some(&admin), ERASE, json!({ "b": business }))
        .await
        .ok();
    assert!(
        scan(&app, lab, "八戸").await.is_empty(),
        "{b:?}: erased company name"
    );
    compare_all(&app, &desk, lab, &terms, "after erasure").await;
}

backend_tests!(indexed_search_equals_the_scan_on_random_texts);

/// Random texts and terms over a small alphabet (so that terms do occur):
/// Japanese, ASCII of both cases, wildcards, spaces.
async fn indexed_search_equals_the_scan_on_random_texts(b: Backend) {
    let app = spawn_app(b).await;
    let desk = app.login(CONCIERGE).await;
    let lab = lab_id(&app, &desk).await;
    let alphabet: Vec<char> = "在庫管理のaAbB%_\\ ーｘ".chars().collect();
    let mut rng = StdRng::seed_from_u64(15);
    let text = |rng: &mut StdRng, min: usize, max: usize| -> String {
        let n = rng.gen_range(min..=max);
        (0..n)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect::<String>()
    };
    for i in 0..24 {
        // Non-blank after trimming, as the API requires.
        let title = format!("題{}", text(&mut rng, 0, 6));
        let description = format!("{}説", text(&mut rng, 0, 10));
        let company = format!("社{}{i}", text(&mut rng, 0, 4));
        case(&title)
            .description(&description)
            .business(new_business(&company))
            .open(&app, &desk)
            .await;
    }
    let mut terms: Vec<String> = (0..60).map(|_| text(&mut rng, 1, 4)).collect();
    terms.retain(|t| !t.trim().is_empty());
    compare_all(&app, &desk, lab, &terms, "random").await;
}
