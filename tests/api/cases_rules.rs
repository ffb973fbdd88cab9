//! The rules of the desk over the API, on both backends — the case and
//! referral state machines (DESIGN.md tables), optimistic concurrency, consent,
//! referral rules, input validation, pick-up deadlines and the escalation list,
//! and the case list (cursor paging, filters, Japanese substring search).

use crate::backend_tests;
use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::cases::*;
use common::{Backend, TestApp};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::HashSet;

backend_tests!(
    case_transitions_outside_the_table_are_conflicts,
    case_transitions,
    worker_threads = 2
);

backend_tests!(
    the_api_says_what_the_viewer_may_do_with_a_case,
    case_actions,
    worker_threads = 2
);

backend_tests!(
    referral_transitions_outside_the_table_are_conflicts,
    referral_transitions,
    worker_threads = 2
);

backend_tests!(
    stale_expected_version_is_a_conflict_and_changes_nothing,
    stale_version,
    worker_threads = 2
);

backend_tests!(
    referral_rules_consent_duplicates_inactive_and_foreign_institutions,
    referral_rules,
    worker_threads = 2
);

backend_tests!(
    open_case_validates_its_input,
    open_validation,
    worker_threads = 2
);

backend_tests!(
    pickup_deadlines_in_business_days_and_the_overdue_list,
    overdue,
    worker_threads = 2
);

backend_tests!(case_list_pages_with_cursors, paging, worker_threads = 2);

backend_tests!(
    handed_back_cases_are_those_the_desk_acts_on_next,
    handed_back,
    worker_threads = 2
);

backend_tests!(
    case_list_filters_and_japanese_search,
    filters,
    worker_threads = 2
);

/// Asserts CONFLICT whose message (Japanese or English) names `state`.
#[track_caller]
fn assert_conflict_naming(r: &common::Gql, state_ja: &str, state_en: &str, what: &str) {
    assert_code(r, "CONFLICT", what);
    let m = messages(r);
    assert!(
        m.contains(state_ja) || m.contains(state_en),
        "{what}: the message should name the current state {state_ja}/{state_en}: {m}"
    );
}

/// The case's version and event count, to show a refusal changed nothing.
async fn fingerprint(app: &TestApp, t: &str, id: &str) -> (Value, usize, Value, Value) {
    let c = case_ok(app, t, id).await;
    (
        c["version"].clone(),
        kinds(&c).len(),
        c["status"].clone(),
        c["notes"].clone(),
    )
}

async fn case_transitions(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let o = open_simple(&app, tok, "状態遷移の確認", "遷移工業株式会社").await;
    let id = o.id.as_str();
    let fp = fingerprint(&app, tok, id).await;
    let v = version(&app, tok, id).await;

    // From NEW only IN_PROGRESS.
    for to in ["CLOSED", "RESOLVED", "ON_HOLD"] {
        let r = set_status(&app, tok, id, v, to).await;
        assert_conflict_naming(&r, "新規", "NEW", &format!("NEW → {to}"));
    }
    let r = close(&app, tok, id).await;
    assert_conflict_naming(&r, "新規", "NEW", "closeCase on NEW");
    let r = reopen(&app, tok, id, None).await;
    assert_code(&r, "CONFLICT", "reopenCase on NEW");
    let r = resolve(&app, tok, id, v, &["ADVICE_ONLY"], "まだ").await;
    assert_code(&r, "CONFLICT", "resolveCase on NEW");
    // REFERRED is derived: never set directly.
    let r = set_status(&app, tok, id, v, "REFERRED").await;
    assert_code(&r, "CONFLICT", "setStatus REFERRED");
    assert_eq!(
        fingerprint(&app, tok, id).await,
        fp,
        "a refused transition changed the case"
    );

    // NEW → IN_PROGRESS → ON_HOLD → IN_PROGRESS
    let r = set_status(&app, tok, id, v, "IN_PROGRESS").await;
    let v = r.ok()["setStatus"]["version"].as_i64().unwrap();
    let r = set_status(&app, tok, id, v, "REFERRED").await;
    assert_code(&r, "CONFLICT", "setStatus REFERRED from IN_PROGRESS");
    let r = set_status(&app, tok, id, v, "NEW").await;
    assert_conflict_naming(&r, "対応中", "IN_PROGRESS", "IN_PROGRESS → NEW");
    let r = set_status(&app, tok, id, v, "CLOSED").await;
    assert_conflict_naming(&r, "対応中", "IN_PROGRESS", "IN_PROGRESS → CLOSED");
    let r = set_status(&app, tok, id, v, "ON_HOLD").await;
    let v = r.ok()["setStatus"]["version"].as_i64().unwrap();
    let r = set_status(&app, tok, id, v, "IN_PROGRESS").await;
    let v = r.ok()["setStatus"]["version"].as_i64().unwrap();

    // resolveCase needs outcomes and a summary.
    let r = resolve(&app, tok, id, v, &[], "要約").await;
    assert_code(&r, "BAD_USER_INPUT", "resolveCase without outcomes");
    let r = resolve(&app, tok, id, v, &["ADVICE_ONLY"], "  ").await;
    assert_code(&r, "BAD_USER_INPUT", "resolveCase without a summary");
    let r = resolve(&app, tok, id, v, &["ADVICE_ONLY"], "助言のみで解決").await;
    assert_eq!(r.ok()["resolveCase"]["status"], "RESOLVED");
    let v = r.ok()["resolveCase"]["version"].as_i64().unwrap();

    // RESOLVED: no notes, edits or referrals; reopen or close only.
    let center = institution_id(&app, tok, CENTER).await;
    let fp = fingerprint(&app, tok, id).await;
    let r = add_note(&app, tok, id, "解決後のメモ", "DESK").await;
    assert_code(&r, "CONFLICT", "addNote on RESOLVED");
    let r = update_case(&app, tok, id, v, json!({ "title": "解決後の編集" })).await;
    assert_code(&r, "CONFLICT", "updateCase on RESOLVED");
    let r = refer(&app, tok, id, &center, None).await;
    assert_code(&r, "CONFLICT", "referCase on RESOLVED");
    let r = set_status(&app, tok, id, v, "ON_HOLD").await;
    assert_conflict_naming(&r, "解決済み", "RESOLVED", "RESOLVED → ON_HOLD");
    assert_eq!(fingerprint(&app, tok, id).await, fp);

    let r = close(&app, tok, id).await;
    assert_eq!(r.ok()["closeCase"]["status"], "CLOSED");
    let v = r.ok()["closeCase"]["version"].as_i64().unwrap();

    // CLOSED is final.
    let fp = fingerprint(&app, tok, id).await;
    for to in ["IN_PROGRESS", "RESOLVED", "ON_HOLD", "NEW"] {
        let r = set_status(&app, tok, id, v, to).await;
        assert_conflict_naming(&r, "終了", "CLOSED", &format!("CLOSED → {to}"));
    }
    let r = reopen(&app, tok, id, Some("再開したい")).await;
    assert_conflict_naming(&r, "終了", "CLOSED", "reopenCase on CLOSED");
    let r = close(&app, tok, id).await;
    assert_code(&r, "CONFLICT", "closeCase on CLOSED");
    let r = add_note(&app, tok, id, "終了後のメモ", "BUSINESS").await;
    assert_code(&r, "CONFLICT", "addNote on CLOSED");
    let r = refer(&app, tok, id, &center, None).await;
    assert_code(&r, "CONFLICT", "referCase on CLOSED");
    let r = set_stage(&app, tok, id, v, "TRY").await;
    assert_code(&r, "CONFLICT", "setStage on CLOSED");
    assert_eq!(
        fingerprint(&app, tok, id).await,
        fp,
        "a CLOSED case changed"
    );

    // The derived REFERRED status and a resolve blocked by open referrals.
    let o2 = open_simple(&app, tok, "紹介中の解決", "紹介中工業株式会社").await;
    let rid = refer_ok(&app, tok, &o2.id, &center).await;
    let c = case_ok(&app, tok, &o2.id).await;
    assert_eq!(c["status"], "REFERRED");
    let v = c["version"].as_i64().unwrap();
    let r = resolve(&app, tok, &o2.id, v, &["ADVICE_ONLY"], "紹介中に解決").await;
    assert_code(&r, "CONFLICT", "resolveCase with a PENDING referral");
    accept(&app, &t.center, &rid, None).await.ok();
    let c = case_ok(&app, tok, &o2.id).await;
    assert_eq!(
        c["status"], "IN_PROGRESS",
        "no longer REFERRED once picked up"
    );
    let v = c["version"].as_i64().unwrap();
    let r = resolve(&app, tok, &o2.id, v, &["ADVICE_ONLY"], "対応中に解決").await;
    assert_code(&r, "CONFLICT", "resolveCase with an ACCEPTED referral");
    complete(&app, &t.center, &rid, "支援完了").await.ok();
    let v = version(&app, tok, &o2.id).await;
    let r = resolve(&app, tok, &o2.id, v, &["ADVICE_ONLY"], "完了後に解決").await;
    assert_eq!(r.ok()["resolveCase"]["status"], "RESOLVED");
}

async fn referral_transitions(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let center = institution_id(&app, tok, CENTER).await;
    let bank = institution_id(&app, tok, BANK).await;
    let univ = institution_id(&app, tok, UNIV).await;
    let o = open_simple(&app, tok, "紹介の状態遷移", "紹介遷移株式会社").await;

    // PENDING: cannot be completed.
    let rc = refer_ok(&app, tok, &o.id, &center).await;
    let r = complete(&app, &t.center, &rc, "まだ受けていない").await;
    assert_conflict_naming(&r, "受付待ち", "PENDING", "complete a PENDING referral");
    // ACCEPTED: cannot be accepted again, declined or withdrawn.
    accept(&app, &t.center, &rc, None).await.ok();
    let r = accept(&app, &t.center, &rc, None).await;
    assert_conflict_naming(&r, "対応中", "ACCEPTED", "accept an ACCEPTED referral");
    let r = decline(&app, &t.center, &rc, "OTHER", None).await;
    assert_conflict_naming(&r, "対応中", "ACCEPTED", "decline an ACCEPTED referral");
    let r = withdraw(&app, tok, &rc, None).await;
    assert_conflict_naming(&r, "対応中", "ACCEPTED", "withdraw an ACCEPTED referral");
    // COMPLETED is final.
    complete(&app, &t.center, &rc, "完了").await.ok();
    let r = complete(&app, &t.center, &rc, "もう一度").await;
    assert_conflict_naming(&r, "完了", "COMPLETED", "complete a COMPLETED referral");

    // DECLINED is final.
    let rb = refer_ok(&app, tok, &o.id, &bank).await;
    decline(&app, &t.bank, &rb, "OUT_OF_SCOPE", Some("分野外"))
        .await
        .ok();
    let r = accept(&app, &t.bank, &rb, None).await;
    assert_code_in(&r, &["CONFLICT", "NOT_FOUND"], "accept a DECLINED referral");
    let r = withdraw(&app, tok, &rb, None).await;
    assert_conflict_naming(&r, "辞退", "DECLINED", "withdraw a DECLINED referral");

    // WITHDRAWN is final.
    let ru = refer_ok(&app, tok, &o.id, &univ).await;
    withdraw(&app, tok, &ru, None).await.ok();
    let r = withdraw(&app, tok, &ru, None).await;
    assert_conflict_naming(&r, "取下げ", "WITHDRAWN", "withdraw a WITHDRAWN referral");

    let c = case_ok(&app, tok, &o.id).await;
    let mut statuses: Vec<&str> = c["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["COMPLETED", "DECLINED", "WITHDRAWN"]);
}

async fn stale_version(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let o = open_simple(&app, tok, "古い版の確認", "版数株式会社").await;
    let id = o.id.as_str();
    let v0 = version(&app, tok, id).await;
    let r = update_case(&app, tok, id, v0, json!({ "title": "一度目の編集" })).await;
    let v1 = r.ok()["updateCase"]["version"].as_i64().unwrap();
    assert!(v1 > v0);
    let before = case_ok(&app, tok, id).await;
    for (what, r) in [
        (
            "updateCase",
            update_case(&app, tok, id, v0, json!({ "title": "古い版での編集" })).await,
        ),
        ("setStage", set_stage(&app, tok, id, v0, "TRY").await),
        (
            "setStatus",
            set_status(&app, tok, id, v0, "IN_PROGRESS").await,
        ),
        (
            "resolveCase",
            resolve(&app, tok, id, v0, &["ADVICE_ONLY"], "古い版").await,
        ),
        (
            "updateCase (future version)",
            update_case(&app, tok, id, v1 + 5, json!({ "title": "未来の版" })).await,
        ),
    ] {
        assert_code(&r, "CONFLICT", what);
    }
    let after = case_ok(&app, tok, id).await;
    assert_eq!(after, before, "a stale write changed the case");
    assert_eq!(after["title"], "一度目の編集");
}

async fn referral_rules(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let center = institution_id(&app, tok, CENTER).await;

    // No consent → no referral (APPI third-party provision), and nothing stored.
    let o = case("同意なしの相談")
        .description("紹介の同意はいただけなかった")
        .business(business("同意なし株式会社"))
        .without_consent()
        .open(&app, tok)
        .await;
    assert_eq!(o.case["consentToShare"], false);
    let fp = fingerprint(&app, tok, &o.id).await;
    let r = refer(&app, tok, &o.id, &center, None).await;
    assert_code(&r, "BAD_USER_INPUT", "referral without consent");
    assert!(
        messages(&r).contains("同意") || messages(&r).to_lowercase().contains("consent"),
        "the refusal should say why (consent): {}",
        r.body
    );
    assert_eq!(fingerprint(&app, tok, &o.id).await, fp);
    assert_eq!(case_ok(&app, tok, &o.id).await["referrals"], json!([]));

    // Never two open referrals to the same institution; a new one once closed.
    let o = open_simple(&app, tok, "重複紹介の確認", "重複紹介株式会社").await;
    let rc = refer_ok(&app, tok, &o.id, &center).await;
    let r = refer(&app, tok, &o.id, &center, None).await;
    assert_code(&r, "CONFLICT", "second referral while PENDING");
    accept(&app, &t.center, &rc, None).await.ok();
    let r = refer(&app, tok, &o.id, &center, None).await;
    assert_code(&r, "CONFLICT", "second referral while ACCEPTED");
    complete(&app, &t.center, &rc, "一次支援完了").await.ok();
    let r = refer(&app, tok, &o.id, &center, Some("二次支援をお願いします")).await;
    assert_eq!(
        r.ok()["referCase"]["status"],
        "PENDING",
        "a new referral after completion"
    );
    assert_eq!(
        case_ok(&app, tok, &o.id).await["referrals"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // An inactive institution gets no referrals (and is not suggested).
    let union = institution_id(&app, tok, "青森県信用組合").await;
    let r = app
        .gql(
            Some(&t.admin),
            "mutation($id: ID!) { updateInstitution(id: $id, input: { active: false }) { id active } }",
            json!({ "id": union }),
        )
        .await;
    assert_eq!(r.ok()["updateInstitution"]["active"], false);
    let o = open_simple(&app, tok, "非活動機関への紹介", "非活動株式会社").await;
    let r = refer(&app, tok, &o.id, &union, None).await;
    assert_code_in(
        &r,
        &["BAD_USER_INPUT", "CONFLICT", "NOT_FOUND"],
        "referral to an inactive institution",
    );
    let s = suggest(&app, tok, &o.id).await;
    assert_absent(
        &s,
        &["青森県信用組合"],
        "suggestions include an inactive institution",
    );

    // An institution of another lab is unknown here.
    let koda_inst = institution_id(&app, &t.koda, "愛知工科大学").await;
    let r = refer(&app, tok, &o.id, &koda_inst, None).await;
    assert_code_in(
        &r,
        &["NOT_FOUND", "BAD_USER_INPUT"],
        "referral to another lab's institution",
    );
    assert_eq!(case_ok(&app, tok, &o.id).await["referrals"], json!([]));
}

async fn open_validation(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();

    let with = |field: &str, value: Value| {
        case("入力検証")
            .description("入力検証の相談")
            .business(business("検証株式会社").set(field, value))
    };
    for (what, input, field) in [
        (
            "bad check digit",
            with("corporateNumber", json!("7000012050003")),
            "corporateNumber",
        ),
        (
            "12 digits",
            with("corporateNumber", json!("000012050002")),
            "corporateNumber",
        ),
        (
            "letters",
            with("corporateNumber", json!("70000120500AB")),
            "corporateNumber",
        ),
        ("email", with("email", json!("not-an-email")), "email"),
        ("industry", with("industry", json!("Z")), "industry"),
        (
            "municipality of another lab",
            with("municipality", json!("幸田町")),
            "municipality",
        ),
    ] {
        let r = input.try_open(&app, tok).await;
        assert_code(&r, "BAD_USER_INPUT", what);
        let f = r.body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or("");
        assert!(
            f.contains(field),
            "{what}: extensions.field should name {field}: {}",
            r.body
        );
    }
    let empty_title = case("   ")
        .description("説明")
        .business(business("空タイトル株式会社"));
    let r = empty_title.try_open(&app, tok).await;
    assert_code(&r, "BAD_USER_INPUT", "blank title");

    // Exactly one of businessId / business.
    let first = case("最初の相談")
        .description("説明")
        .business(business("既存事業者株式会社").corporate_number("7000012050002"))
        .open(&app, tok)
        .await;
    let business_id = case_ok(&app, tok, &first.id).await["business"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let both = case("両方指定")
        .description("説明")
        .business(business("両方株式会社"))
        .set("businessId", business_id.as_str());
    let r = both.try_open(&app, tok).await;
    assert_code(&r, "BAD_USER_INPUT", "businessId and business together");
    let neither = case("指定なし").description("説明").without_business();
    let r = neither.clone().try_open(&app, tok).await;
    assert_code(&r, "BAD_USER_INPUT", "neither businessId nor business");

    // businessId of an existing business, and find-by-corporate-number.
    let second = neither.business_id(&business_id).open(&app, tok).await;
    assert_eq!(second.case["business"]["id"], business_id.as_str());
    let third = case("同じ法人番号")
        .description("説明")
        .business(business("既存事業者（表記揺れ）").corporate_number("7000012050002"))
        .open(&app, tok)
        .await;
    assert_eq!(
        third.case["business"]["id"],
        business_id.as_str(),
        "a known corporate number finds the existing business"
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    let ghost = case("存在しない事業者")
        .description("説明")
        .business_id(&unknown);
    let r = ghost.try_open(&app, tok).await;
    assert_code_in(&r, &["NOT_FOUND", "BAD_USER_INPUT"], "unknown businessId");
}

/// 2026-04-28 is a Tuesday before Golden Week: 4/29 昭和の日, 5/3–5/5 and the
/// substitute holiday 5/6 are closed, so 3 business days later is Thursday 5/7.
async fn overdue(backend: Backend) {
    let app = common::spawn_app(backend).await;
    // Tokens first: they are checked against the real time, the server's clock is ours.
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let center = institution_id(&app, tok, CENTER).await;
    let bank = institution_id(&app, tok, BANK).await;
    let jst = |y, m, d, h, mi, s| -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(9 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, mi, s)
            .unwrap()
            .with_timezone(&Utc)
    };

    app.clock.set(jst(2026, 4, 28, 10, 0, 0));
    let o = open_simple(&app, tok, "期限の確認", "期限株式会社").await;
    let r = refer(&app, tok, &o.id, &center, None).await;
    let referral = r.ok()["referCase"].clone();
    let rid = referral["id"].as_str().unwrap().to_owned();
    let deadline = parse_time(&referral["pickupDeadline"]);
    let due = jst(2026, 5, 7, 23, 59, 59);
    assert!(
        deadline >= due && deadline < due + Duration::seconds(1),
        "deadline {deadline} should be 2026-05-07 23:59:59 JST"
    );
    assert_eq!(referral["overdue"], false);

    let overdue_ids = |r: &common::Gql| -> Vec<String> {
        r.ok()["overdueReferrals"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    app.clock.set(jst(2026, 5, 7, 23, 59, 0));
    let r = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
    assert!(
        overdue_ids(&r).is_empty(),
        "overdue before its deadline: {}",
        r.body
    );
    assert_eq!(
        case_ok(&app, tok, &o.id).await["referrals"][0]["overdue"],
        false
    );

    app.clock.set(jst(2026, 5, 8, 0, 0, 1));
    let r = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
    assert_eq!(
        overdue_ids(&r),
        vec![rid.clone()],
        "the escalation list: {}",
        r.body
    );
    assert_eq!(r.ok()["overdueReferrals"][0]["case"]["id"], o.id.as_str());
    assert_eq!(
        case_ok(&app, tok, &o.id).await["referrals"][0]["overdue"],
        true
    );
    let refs = listed_references(&app, tok, json!({ "overdue": true })).await;
    assert_eq!(refs, vec![o.reference.clone()]);
    let refs = listed_references(&app, tok, json!({ "overdue": false })).await;
    assert!(!refs.contains(&o.reference));

    // Picked up late: no longer overdue.
    accept(&app, &t.center, &rid, None).await.ok();
    let r = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
    assert!(
        overdue_ids(&r).is_empty(),
        "accepted yet overdue: {}",
        r.body
    );
    assert_eq!(
        case_ok(&app, tok, &o.id).await["referrals"][0]["overdue"],
        false
    );

    // Year-end closure 12/29–1/3: referred Monday 12/28 → due Wednesday 2027-01-06.
    app.clock.set(jst(2026, 12, 28, 10, 0, 0));
    let r = refer(&app, tok, &o.id, &bank, None).await;
    let deadline = parse_time(&r.ok()["referCase"]["pickupDeadline"]);
    let due = jst(2027, 1, 6, 23, 59, 59);
    assert!(
        deadline >= due && deadline < due + Duration::seconds(1),
        "deadline {deadline} should be 2027-01-06 23:59:59 JST"
    );

    // Relative to "now": a referral left three weeks is overdue.
    app.clock.set(Utc::now());
    let o2 = open_simple(&app, tok, "三週間放置", "放置株式会社").await;
    let rid2 = refer_ok(&app, tok, &o2.id, &center).await;
    app.clock.advance(Duration::days(21));
    let r = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
    assert!(overdue_ids(&r).contains(&rid2), "{}", r.body);
}

async fn paging(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    for i in 0..25 {
        // one at a time, with distinct times, so the newest-first order is defined
        app.clock.advance(Duration::seconds(1));
        open_simple(
            &app,
            tok,
            &format!("ページング{i:02}"),
            &format!("ページング{i:02}株式会社"),
        )
        .await;
    }
    let r = list_cases(&app, tok, json!(null), 100, None).await;
    let all: Vec<String> = r.ok()["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["reference"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 25);
    assert_eq!(r.ok()["cases"]["pageInfo"]["hasNextPage"], false);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = list_cases(&app, tok, json!(null), 10, after.as_deref()).await;
        let conn = r.ok()["cases"].clone();
        let total = if pages == 0 { 25 } else { 26 };
        assert_eq!(
            conn["totalCount"],
            total,
            "totalCount on page {}",
            pages + 1
        );
        let edges = conn["edges"].as_array().unwrap();
        pages += 1;
        let expect_len = if pages < 3 { 10 } else { 5 };
        assert_eq!(edges.len(), expect_len, "page {pages}");
        assert_eq!(
            conn["pageInfo"]["hasNextPage"],
            pages < 3,
            "hasNextPage on page {pages}"
        );
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["reference"].as_str().unwrap().to_owned()),
        );
        if pages == 1 {
            // A case opened while paging does not shift the pages that follow.
            app.clock.advance(Duration::seconds(1));
            open_simple(&app, tok, "途中で追加", "途中追加株式会社").await;
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(conn["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
        assert!(pages < 5, "paging does not end");
    }
    assert_eq!(
        seen, all,
        "pages are the full list, in order, without duplicates or gaps"
    );

    // first defaults to 20; a garbage cursor is the caller's fault.
    let r = list_cases(&app, tok, json!(null), 20, None).await;
    let default = app.gql(Some(tok), Q_CASES, json!({})).await;
    assert_eq!(default.ok()["cases"]["edges"].as_array().unwrap().len(), 20);
    assert_eq!(default.ok()["cases"]["edges"], r.ok()["cases"]["edges"]);
    let r = list_cases(&app, tok, json!(null), 10, Some("not-a-cursor")).await;
    assert_ne!(r.code(), Some("INTERNAL"), "garbage cursor: {}", r.body);
    let r = list_cases(&app, tok, json!(null), 1000, None).await;
    if r.code().is_none() {
        assert!(r.ok()["cases"]["edges"].as_array().unwrap().len() <= 100);
    } else {
        assert_code(&r, "BAD_USER_INPUT", "first above the maximum");
    }
}

async fn filters(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let center = institution_id(&app, tok, CENTER).await;
    let open = |title: &'static str,
                desc: &'static str,
                company: &'static str,
                topics: Value,
                stage: &'static str| {
        case(title)
            .description(desc)
            .business(business(company))
            .set("topics", topics)
            .stage(stage)
            .build()
    };
    // A: the search phrase inside a longer description.
    let a = open_case(
        &app,
        tok,
        open(
            "倉庫の見える化",
            "当社では長年、紙の台帳による在庫管理を続けてきたが、限界を感じている。",
            "青森倉庫株式会社",
            json!(["EC"]),
            "KNOW",
        ),
    )
    .await;
    // B: referred to the centre, stage TRY, topic IoT.
    let b = open_case(
        &app,
        tok,
        open(
            "センサーの試行",
            "工場にセンサーを置きたい。",
            "八戸センサー株式会社",
            json!(["IoT"]),
            "TRY",
        ),
    )
    .await;
    refer_ok(&app, tok, &b.id, &center).await;
    // C: in progress, stage CONSULT, topic AI.
    let c = open_case(
        &app,
        tok,
        open(
            "画像検査のAI",
            "検品を自動化したい。",
            "弘前精密株式会社",
            json!(["AI"]),
            "CONSULT",
        ),
    )
    .await;
    let v = version(&app, tok, &c.id).await;
    set_status(&app, tok, &c.id, v, "IN_PROGRESS").await.ok();
    // D: the phrase in the company name only.
    let d = open_case(
        &app,
        tok,
        open(
            "会計ソフトの相談",
            "クラウド会計に移行したい。",
            "津軽在庫管理サービス株式会社",
            json!(["業務効率化"]),
            "CONSULT",
        ),
    )
    .await;
    // Noise, opened concurrently, so that the list is not trivially small.
    let noise: Vec<Value> = [
        "雑音一株式会社",
        "雑音二株式会社",
        "雑音三株式会社",
        "雑音四株式会社",
        "雑音五株式会社",
    ]
    .into_iter()
    .map(|company| {
        open(
            "その他の相談",
            "ホームページを作りたい。",
            company,
            json!(["EC"]),
            "KNOW",
        )
    })
    .collect();
    join_all(noise.into_iter().map(|i| open_case(&app, tok, i))).await;

    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<String>>();
    let refs = |xs: &[&Opened]| {
        xs.iter()
            .map(|o| o.reference.clone())
            .collect::<HashSet<String>>()
    };

    let got = set(listed_references(&app, tok, json!({ "search": "在庫管理" })).await);
    assert_eq!(
        got,
        refs(&[&a, &d]),
        "search 在庫管理 (description substring, company name)"
    );
    let got = set(listed_references(&app, tok, json!({ "search": "画像検査" })).await);
    assert_eq!(got, refs(&[&c]), "search in the title");
    let got = set(listed_references(&app, tok, json!({ "search": "存在しない語句" })).await);
    assert!(got.is_empty());

    let got = set(listed_references(&app, tok, json!({ "status": ["REFERRED"] })).await);
    assert_eq!(got, refs(&[&b]), "status REFERRED (derived)");
    let got = set(listed_references(&app, tok, json!({ "status": ["IN_PROGRESS"] })).await);
    assert_eq!(
        got,
        refs(&[&c]),
        "status IN_PROGRESS excludes the REFERRED case"
    );
    let got = listed_references(&app, tok, json!({ "status": ["NEW"] })).await;
    assert_eq!(got.len(), 7, "NEW: A, D and the five others");
    let got = set(listed_references(&app, tok, json!({ "stage": ["TRY"] })).await);
    assert_eq!(got, refs(&[&b]), "stage TRY");
    let got = set(listed_references(
        &app,
        tok,
        json!({ "stage": ["CONSULT"], "status": ["NEW"] }),
    )
    .await);
    assert_eq!(got, refs(&[&d]), "stage CONSULT and status NEW");
    let got = set(listed_references(&app, tok, json!({ "topic": "IoT" })).await);
    assert_eq!(got, refs(&[&b]), "topic IoT");
    let got = set(listed_references(&app, tok, json!({ "institutionId": center })).await);
    assert_eq!(got, refs(&[&b]), "institution");
    let got = set(listed_references(
        &app,
        tok,
        json!({ "search": "在庫管理", "stage": ["KNOW"] }),
    )
    .await);
    assert_eq!(got, refs(&[&a]), "search and stage together");

    let r = list_cases(&app, tok, json!({ "search": "在庫管理" }), 1, None).await;
    assert_eq!(
        r.ok()["cases"]["totalCount"],
        2,
        "totalCount follows the filter"
    );

    app.clock.advance(Duration::days(21));
    let got = set(listed_references(&app, tok, json!({ "overdue": true })).await);
    assert_eq!(got, refs(&[&b]), "overdue");
}

const ACTIONS: &str = "status version isOpen allowedStatuses canResolve canClose canReopen writableNoteVisibilities referrals { status isOpen }";

async fn actions(app: &TestApp, tok: &str, id: &str) -> Value {
    app.gql(
        Some(tok),
        &format!("query($id: ID!) {{ case(id: $id) {{ {ACTIONS} }} }}"),
        json!({ "id": id }),
    )
    .await
    .ok()["case"]
        .clone()
}

/// `allowedStatuses`, `canResolve`, `canClose`, `canReopen` and
/// `writableNoteVisibilities` follow the case through its life, for the desk and
/// for a partner, and every status offered is one `setStatus` accepts.
async fn case_actions(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let o = open_simple(&app, tok, "操作可否の確認", "操作可否工業株式会社").await;
    let id = o.id.as_str();
    let a = actions(&app, tok, id).await;
    assert_eq!(a["allowedStatuses"], json!(["IN_PROGRESS"]), "{a}");
    assert_eq!(a["isOpen"], json!(true));
    assert_eq!(a["canResolve"], json!(false), "NEW cannot be resolved: {a}");
    assert_eq!(
        a["writableNoteVisibilities"],
        json!(["DESK", "PARTNERS", "BUSINESS"])
    );
    let v = a["version"].as_i64().unwrap();
    set_status(&app, tok, id, v, "IN_PROGRESS").await.ok();
    let a = actions(&app, tok, id).await;
    assert_eq!(a["allowedStatuses"], json!(["ON_HOLD"]), "{a}");
    assert_eq!(a["canResolve"], json!(true), "{a}");
    // An open referral blocks resolving until it is completed.
    let center = institution_id(&app, tok, CENTER).await;
    let rid = refer_ok(&app, tok, id, &center).await;
    let a = actions(&app, tok, id).await;
    assert_eq!(a["canResolve"], json!(false), "{a}");
    assert_eq!(a["referrals"][0]["isOpen"], json!(true));
    let p = actions(&app, &t.center, id).await;
    assert_eq!(p["allowedStatuses"], json!([]), "{p}");
    assert_eq!(p["canResolve"], json!(false));
    assert_eq!(
        p["writableNoteVisibilities"],
        json!(["PARTNERS", "BUSINESS"])
    );
    accept(&app, &t.center, &rid, None).await.ok();
    complete(&app, &t.center, &rid, "支援を終えました")
        .await
        .ok();
    let a = actions(&app, tok, id).await;
    assert_eq!(a["referrals"][0]["isOpen"], json!(false));
    assert_eq!(a["canResolve"], json!(true), "{a}");
    let v = a["version"].as_i64().unwrap();
    resolve(&app, tok, id, v, &["ADVICE_ONLY"], "助言で解決")
        .await
        .ok();
    let a = actions(&app, tok, id).await;
    assert_eq!(a["isOpen"], json!(false));
    assert_eq!(a["allowedStatuses"], json!([]));
    assert_eq!(
        (a["canClose"].clone(), a["canReopen"].clone()),
        (json!(true), json!(true)),
        "{a}"
    );
    assert_eq!(a["writableNoteVisibilities"], json!([]));
    // The timeline reads in the viewer's language, from the API.
    let q = format!(r#"{{ case(id: "{id}") {{ events {{ kind summary }} }} }}"#);
    let ja = app.gql(Some(tok), &q, json!({})).await;
    let ev = &ja.ok()["case"]["events"];
    let line = |ev: &Value, kind: &str| -> String {
        ev.as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap()["summary"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(line(ev, "STATUS_CHANGED"), "新規 → 対応中");
    assert_eq!(line(ev, "REFERRED"), format!("{CENTER} / 受付待ち"));
    assert_eq!(line(ev, "RESOLVED"), "対応中 → 解決済み / 助言のみ");
    let en: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(tok)
        .header("accept-language", "en")
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ev = &en["data"]["case"]["events"];
    assert_eq!(line(ev, "STATUS_CHANGED"), "New → In progress");
    assert_eq!(line(ev, "RESOLVED"), "In progress → Resolved / Advice only");
    close(&app, tok, id).await.ok();
    let a = actions(&app, tok, id).await;
    assert_eq!(a["status"], json!("CLOSED"));
    assert_eq!(
        (
            a["canClose"].clone(),
            a["canReopen"].clone(),
            a["canResolve"].clone()
        ),
        (json!(false), json!(false), json!(false))
    );
}

/// `CaseFilter.handedBack` is `case_state::is_handed_back`: open, a completed
/// referral, nothing pending or accepted.
async fn handed_back(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let bank = institution_id(&app, tok, BANK).await;
    let center = institution_id(&app, tok, CENTER).await;
    let done = |title: &'static str| {
        let (app, bank, tok, p) = (&app, bank.clone(), tok.to_owned(), t.bank.clone());
        async move {
            let o = open_simple(app, &tok, title, &format!("{title}株式会社")).await;
            let r = refer_ok(app, &tok, &o.id, &bank).await;
            accept(app, &p, &r, None).await.ok();
            complete(app, &p, &r, "支援を完了しました").await.ok();
            o
        }
    };
    let back = done("戻り案件").await;
    // Completed, then referred again: the partner acts next.
    let again = done("再紹介案件").await;
    refer_ok(&app, tok, &again.id, &center).await;
    // Completed and resolved: nobody acts.
    let finished = done("解決済み案件").await;
    let v = version(&app, tok, &finished.id).await;
    resolve(&app, tok, &finished.id, v, &["TOOL_ADOPTED"], "完了")
        .await
        .ok();
    // Only pending: the partner acts.
    let waiting = open_simple(&app, tok, "紹介中案件", "紹介中株式会社").await;
    refer_ok(&app, tok, &waiting.id, &bank).await;

    let listed = listed_references(&app, tok, json!({ "handedBack": true })).await;
    assert!(listed.contains(&back.reference), "{listed:?}");
    for other in [&again, &finished, &waiting] {
        assert!(
            !listed.contains(&other.reference),
            "{} in {listed:?}",
            other.reference
        );
    }
    let not = listed_references(&app, tok, json!({ "handedBack": false })).await;
    assert!(!not.contains(&back.reference));
    assert!(not.contains(&waiting.reference));
    let counted = list_cases(&app, tok, json!({ "handedBack": true }), 1, None).await;
    assert_eq!(
        counted.ok()["cases"]["totalCount"].as_i64().unwrap() as usize,
        listed.len()
    );
    // A partner sees its own completed referral's case as handed back, and
    // another institution's never.
    let bank_sees = listed_references(&app, &t.bank, json!({ "handedBack": true })).await;
    assert!(bank_sees.contains(&back.reference));
    let center_sees = listed_references(&app, &t.center, json!({ "handedBack": true })).await;
    assert!(!center_sees.contains(&back.reference));
}
