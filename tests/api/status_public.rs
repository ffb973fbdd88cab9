//! The business's status check without an account
//! (`caseStatus`) and the public web form (`submitConsultation`), on both
//! backends. The app trusts `X-Forwarded-For` here, so that throttling per
//! client address and per reference can be told apart from one machine.

use crate::backend_tests;
use crate::common;

use chrono::Duration;
use common::cases::*;
use common::{Backend, Gql, TestApp};
use dxdesk::ratelimit::{
    STATUS_FAILS_PER_ADDRESS, STATUS_FAILS_PER_REFERENCE, STATUS_FAILS_PER_REFERENCE_ADDRESS,
    STATUS_PER_ADDRESS, SUBMIT_PER_ADDRESS,
};
use serde_json::{json, Value};

const CONTACT: &str = "山田 花子";
const EMAIL: &str = "hanako.yamada@example.jp";
const PHONE: &str = "0172-33-4455";

backend_tests!(
    status_with_the_right_code_in_any_spelling,
    right_code,
    worker_threads = 2
);

backend_tests!(
    wrong_code_wrong_reference_and_rotated_code_are_all_null,
    wrong_answers,
    worker_threads = 2
);

backend_tests!(
    the_answer_holds_no_personal_data_staff_notes_or_decline_reasons,
    no_personal_data,
    worker_threads = 2
);

backend_tests!(
    lookups_are_throttled_per_reference_per_address_and_per_alias,
    throttling,
    worker_threads = 2
);

backend_tests!(
    two_instances_share_the_throttling_count,
    shared_count,
    worker_threads = 2
);

backend_tests!(
    submitted_consultations_reach_the_desk_with_consent,
    submit_consultation,
    worker_threads = 2
);

/// Lets every status throttling window pass.
fn fresh_window(app: &TestApp) {
    let w = [
        STATUS_PER_ADDRESS,
        STATUS_FAILS_PER_ADDRESS,
        STATUS_FAILS_PER_REFERENCE_ADDRESS,
        STATUS_FAILS_PER_REFERENCE,
    ]
    .iter()
    .map(|l| l.window)
    .max()
    .unwrap();
    app.clock.advance(w + Duration::seconds(1));
}

fn business_with_pii(name: &str) -> Value {
    json!({
        "name": name,
        "industry": "I",
        "municipality": "弘前市",
        "contactName": CONTACT,
        "email": EMAIL,
        "phone": PHONE,
    })
}

async fn open_for_status(app: &TestApp, t: &Tokens, company: &str) -> Opened {
    open_case(
        app,
        &t.concierge,
        open_input(
            "ネット販売を始めたい",
            "りんごジュースのネット販売を始めたい。",
            business_with_pii(company),
        ),
    )
    .await
}

#[track_caller]
fn status_of(r: &Gql) -> Value {
    let s = r.ok()["caseStatus"].clone();
    assert!(s.is_object(), "caseStatus is null: {}", r.body);
    s
}

#[track_caller]
fn assert_null(r: &Gql, what: &str) {
    assert_eq!(
        r.body,
        json!({ "data": { "caseStatus": null } }),
        "{what}: expected a plain null"
    );
}

async fn right_code(backend: Backend) {
    let app = spawn_app_behind_proxy(backend).await;
    let t = Tokens::login_all(&app).await;
    let o = open_for_status(&app, &t, "状態確認株式会社").await;

    let r = case_status_from(&app, "10.1.0.1", &o.reference, &o.access_code).await;
    let s = status_of(&r);
    assert_eq!(s["reference"], o.reference.as_str());
    assert_eq!(s["title"], "ネット販売を始めたい");
    assert_eq!(s["stage"], "CONSULT");
    assert_eq!(s["status"], "NEW");
    assert_eq!(s["institutions"], json!([]));
    assert_eq!(s["notes"], json!([]));
    assert!(!s["nextStep"].as_str().unwrap().trim().is_empty());
    let m = s["milestones"].as_array().unwrap();
    assert_eq!(m.len(), 1, "just opened: {m:?}");
    assert_eq!(m[0]["kind"], "OPENED");
    assert!(!m[0]["label"].as_str().unwrap().is_empty());

    let code = o.access_code.clone();
    let compact: String = code.chars().filter(|c| *c != '-').collect();
    let spelled = [
        ("lower case", code.to_lowercase()),
        ("spaces for hyphens", code.replace('-', " ")),
        ("hyphens removed", compact.clone()),
        (
            "surrounding blanks",
            format!("  {}  ", compact.to_lowercase()),
        ),
    ];
    for (i, (what, typed)) in spelled.iter().enumerate() {
        let r = case_status_from(&app, &format!("10.1.1.{i}"), &o.reference, typed).await;
        assert_eq!(status_of(&r)["reference"], o.reference.as_str(), "{what}");
    }

    // Only a hash of the code is stored.
    let row = app
        .state
        .store
        .case_by_reference(&o.reference)
        .await
        .unwrap()
        .expect("case row");
    assert_ne!(row.access_code_hash, code);
    for form in [&code, &compact, &code.to_lowercase()] {
        assert!(
            !row.access_code_hash.contains(form.as_str()),
            "the code is stored"
        );
    }
}

async fn wrong_answers(backend: Backend) {
    let app = spawn_app_behind_proxy(backend).await;
    let t = Tokens::login_all(&app).await;
    let o = open_for_status(&app, &t, "誤り確認株式会社").await;
    let other = open_for_status(&app, &t, "別件株式会社").await;
    let year = jst_year(app.state.now());

    // A well-formed code that is not this case's.
    let mut wrong: Vec<char> = o.access_code.chars().collect();
    wrong[0] = if wrong[0] == 'A' { 'B' } else { 'A' };
    let wrong: String = wrong.into_iter().collect();
    let cases = [
        ("wrong code", o.reference.clone(), wrong.clone()),
        (
            "another case's code",
            o.reference.clone(),
            other.access_code.clone(),
        ),
        ("malformed code", o.reference.clone(), "1234".to_owned()),
        ("empty code", o.reference.clone(), String::new()),
        (
            "wrong reference",
            other.reference.clone(),
            o.access_code.clone(),
        ),
        (
            "unknown reference",
            format!("AOM-{year}-999999"),
            o.access_code.clone(),
        ),
        (
            "malformed reference",
            "hello".to_owned(),
            o.access_code.clone(),
        ),
    ];
    for (i, (what, reference, code)) in cases.iter().enumerate() {
        let r = case_status_from(&app, &format!("10.4.0.{i}"), reference, code).await;
        assert_null(&r, what);
    }

    // Rotating the code: the old one stops at once, the new one works.
    fresh_window(&app);
    let r = rotate(&app, &t.concierge, &o.id).await;
    let new_code = r.ok()["rotateAccessCode"].as_str().unwrap().to_owned();
    assert_ne!(new_code, o.access_code);
    let r = case_status_from(&app, "10.4.1.1", &o.reference, &o.access_code).await;
    assert_null(&r, "rotated-out code");
    let r = case_status_from(&app, "10.4.1.2", &o.reference, &new_code.to_lowercase()).await;
    assert_eq!(status_of(&r)["reference"], o.reference.as_str());
    // Rotation leaves a trace in the support record.
    let c = case_ok(&app, &t.concierge, &o.id).await;
    assert!(
        kinds(&c).contains(&"ACCESS_CODE_ROTATED".to_owned()),
        "{:?}",
        kinds(&c)
    );
}

async fn no_personal_data(backend: Backend) {
    let app = spawn_app_behind_proxy(backend).await;
    let t = Tokens::login_all(&app).await;
    let tok = t.concierge.as_str();
    let center = institution_id(&app, tok, CENTER).await;
    let bank = institution_id(&app, tok, BANK).await;
    let o = open_for_status(&app, &t, "個人情報確認株式会社").await;

    let rc = refer(
        &app,
        tok,
        &o.id,
        &center,
        Some("紹介メモ：社長の携帯は090-1111-2222"),
    )
    .await;
    let rc = rc.ok()["referCase"]["id"].as_str().unwrap().to_owned();
    let rb = refer(&app, tok, &o.id, &bank, Some("紹介メモ：借入残高あり")).await;
    let rb = rb.ok()["referCase"]["id"].as_str().unwrap().to_owned();

    // Pending: the business sees the referral, but no institution "working on it" yet.
    let r = case_status_from(&app, "10.5.0.1", &o.reference, &o.access_code).await;
    let s = status_of(&r);
    assert_eq!(s["status"], "REFERRED");
    assert_eq!(s["institutions"], json!([]), "pending is not accepted: {s}");

    accept(&app, &t.center, &rc, Some("受付メモ：担当は工藤"))
        .await
        .ok();
    decline(
        &app,
        &t.bank,
        &rb,
        "NO_CAPACITY",
        Some("辞退メモ：人手不足のため"),
    )
    .await
    .ok();
    let v = version(&app, tok, &o.id).await;
    set_stage(&app, tok, &o.id, v, "TRY").await.ok();
    add_note(&app, tok, &o.id, "窓口メモ：決算が赤字", "DESK")
        .await
        .ok();
    add_note(
        &app,
        &t.center,
        &o.id,
        "機関メモ：工場の図面を受領",
        "PARTNERS",
    )
    .await
    .ok();
    add_note(
        &app,
        tok,
        &o.id,
        "来週、試行の日程をご連絡します",
        "BUSINESS",
    )
    .await
    .ok();

    let r = case_status_from(&app, "10.5.0.2", &o.reference, &o.access_code).await;
    let s = status_of(&r);
    assert_absent(
        &r,
        &[
            "山田",
            "花子",
            EMAIL,
            PHONE,
            "0172",
            "窓口メモ",
            "決算が赤字",
            "機関メモ",
            "図面",
            "辞退メモ",
            "人手不足",
            "NO_CAPACITY",
            "対応余力なし",
            "紹介メモ",
            "090-1111-2222",
            "受付メモ",
            "工藤",
        ],
        "caseStatus",
    );
    assert_eq!(
        s["institutions"],
        json!([CENTER]),
        "accepted institutions, names only"
    );
    assert_eq!(s["stage"], "TRY");
    let bodies: Vec<&str> = s["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["来週、試行の日程をご連絡します"]);

    let labels: Vec<(String, String)> = s["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_owned(),
                m["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        labels
            .iter()
            .any(|(k, l)| k == "ACCEPTED" && l.contains(CENTER)),
        "a milestone says the centre accepted: {labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|(k, l)| k == "REFERRED" && l.contains(CENTER)),
        "a milestone says the case was referred to the centre: {labels:?}"
    );
    assert!(
        labels.iter().any(|(_, l)| l.contains("試す")),
        "a milestone says the stage moved to 試す: {labels:?}"
    );
    assert!(
        labels
            .iter()
            .all(|(_, l)| l.chars().any(|c| ('\u{3040}'..='\u{9fff}').contains(&c))),
        "milestones in plain Japanese: {labels:?}"
    );
    let ats: Vec<_> = s["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| parse_time(&m["at"]))
        .collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "milestones in order");
}

async fn throttling(backend: Backend) {
    let app = spawn_app_behind_proxy(backend).await;
    let t = Tokens::login_all(&app).await;
    let o = open_for_status(&app, &t, "制限確認株式会社").await;
    let year = jst_year(app.state.now());
    let per_pair = STATUS_FAILS_PER_REFERENCE_ADDRESS.max as usize;
    let per_addr = STATUS_PER_ADDRESS.max as usize;

    // Many addresses with the right code: knowing a reference is not enough
    // to lock it; failures count per (reference, address).
    fresh_window(&app);
    for i in 0..per_addr + 2 {
        let r = case_status_from(&app, &format!("10.6.0.{i}"), &o.reference, &o.access_code).await;
        status_of(&r);
    }
    for _ in 0..per_pair {
        let r = case_status_from(&app, "10.6.1.1", &o.reference, "0000").await;
        assert_null(&r, "a wrong code under the limit");
    }
    let r = case_status_from(&app, "10.6.1.1", &o.reference, &o.access_code).await;
    assert_code(
        &r,
        "RATE_LIMITED",
        "an address over its failures on the reference",
    );
    assert!(r.body["data"]["caseStatus"].is_null());
    assert_absent(&r, &["ネット販売"], "rate-limited answer");
    assert!(r.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .is_some_and(|s| s > 0));
    // ... and the window passes.
    fresh_window(&app);
    let r = case_status_from(&app, "10.6.1.1", &o.reference, &o.access_code).await;
    status_of(&r);

    // Per address: one address, many references.
    fresh_window(&app);
    for i in 0..per_addr {
        let r = case_status_from(
            &app,
            "10.7.0.1",
            &format!("AOM-{year}-9{i:05}"),
            &o.access_code,
        )
        .await;
        assert_null(&r, "unknown reference under the limit");
    }
    let r = case_status_from(&app, "10.7.0.1", &o.reference, &o.access_code).await;
    assert_code(&r, "RATE_LIMITED", "address over its limit");
    assert_absent(&r, &["ネット販売"], "rate-limited answer");

    // Aliases in one request count one by one.
    fresh_window(&app);
    let n = per_addr + 2;
    let fields: String = (0..n)
        .map(|i| format!("a{i}: caseStatus(reference: $r, accessCode: $c) {{ reference }} "))
        .collect();
    let r = gql_from(
        &app,
        "10.8.0.1",
        None,
        &format!("query($r: String!, $c: String!) {{ {fields} }}"),
        json!({ "r": o.reference, "c": o.access_code }),
    )
    .await;
    let answered = (0..n)
        .filter(|i| r.body["data"][format!("a{i}")].is_object())
        .count();
    let limited = r.body["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["extensions"]["code"] == "RATE_LIMITED")
                .count()
        })
        .unwrap_or(0);
    assert!(
        answered <= per_addr,
        "{answered} of {n} aliases answered: {}",
        r.body
    );
    assert!(
        limited >= n - per_addr,
        "only {limited} aliases limited: {}",
        r.body
    );

    // RATE_LIMITED says nothing about whether the reference exists.
    fresh_window(&app);
    let unknown = format!("AOM-{year}-999999");
    for _ in 0..per_pair {
        case_status_from(&app, "10.9.0.1", &o.reference, "0000").await;
        case_status_from(&app, "10.9.1.1", &unknown, "0000").await;
    }
    let known = case_status_from(&app, "10.9.0.1", &o.reference, "0000").await;
    let missing = case_status_from(&app, "10.9.1.1", &unknown, "0000").await;
    assert_code(&known, "RATE_LIMITED", "known reference");
    assert_code(&missing, "RATE_LIMITED", "unknown reference");
    assert_eq!(
        known.body, missing.body,
        "RATE_LIMITED must look the same for a known and an unknown reference"
    );

    // Without a proxy header every request comes from the socket address.
    fresh_window(&app);
    for _ in 0..per_addr {
        let r = app
            .gql(
                None,
                Q_STATUS,
                json!({ "r": o.reference, "c": o.access_code }),
            )
            .await;
        status_of(&r);
    }
    let r = app
        .gql(
            None,
            Q_STATUS,
            json!({ "r": o.reference, "c": o.access_code }),
        )
        .await;
    assert_code(&r, "RATE_LIMITED", "repeated requests from one client");
}

/// "Counted in the database so two instances share the count".
async fn shared_count(backend: Backend) {
    let (one, url) = spawn_app_with_url(backend).await;
    let two = spawn_second_instance(backend, &url).await;
    two.clock.set(one.state.now());
    let t = Tokens::login_all(&one).await;
    let o = open_for_status(&one, &t, "複数台確認株式会社").await;
    let limit = STATUS_PER_ADDRESS.max as usize;
    let vars = json!({ "r": o.reference, "c": o.access_code });
    for i in 0..limit {
        let app = if i % 2 == 0 { &one } else { &two };
        status_of(&app.gql(None, Q_STATUS, vars.clone()).await);
    }
    for (name, app) in [("first", &one), ("second", &two)] {
        let r = app.gql(None, Q_STATUS, vars.clone()).await;
        assert_code(
            &r,
            "RATE_LIMITED",
            &format!("{name} instance after the shared limit"),
        );
    }
}

fn consultation(company: &str, email: &str) -> ConsultationBuilder {
    common::cases::consultation(company)
        .email(email)
        .description("ネットショップを始めたい。\n在庫管理もあわせて相談したい。")
        .stage("KNOW")
}

async fn web_form_references(app: &TestApp, token: &str) -> Vec<String> {
    listed_references(app, token, json!({ "channel": ["WEB_FORM"] })).await
}

async fn submit_consultation(backend: Backend) {
    let app = spawn_app_behind_proxy(backend).await;
    let t = Tokens::login_all(&app).await;

    let r = submit_from(
        &app,
        "10.10.0.1",
        consultation("Web相談株式会社", "ichiro@example.jp"),
    )
    .await;
    let p = r.ok()["submitConsultation"].clone();
    let reference = p["reference"].as_str().unwrap().to_owned();
    let code = p["accessCode"].as_str().unwrap().to_owned();
    assert!(
        reference.starts_with(&format!("AOM-{}-", jst_year(app.state.now()))),
        "{reference}"
    );

    // On the concierge's list: NEW, WEB_FORM, consent recorded.
    let r = list_cases(
        &app,
        &t.concierge,
        json!({ "channel": ["WEB_FORM"] }),
        100,
        None,
    )
    .await;
    let node = r.ok()["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|n| n["reference"] == reference.as_str())
        .unwrap_or_else(|| panic!("not on the desk's list: {}", r.body));
    assert_eq!(node["status"], "NEW");
    assert_eq!(node["channel"], "WEB_FORM");
    assert_eq!(node["consentToShare"], true);
    assert_eq!(node["stage"], "KNOW");
    assert_eq!(node["business"]["name"], "Web相談株式会社");
    let row = app
        .state
        .store
        .case_by_reference(&reference)
        .await
        .unwrap()
        .expect("stored");
    assert!(
        row.consent_to_share && row.consent_at.is_some(),
        "consent time recorded"
    );
    assert!(
        row.consent_by.is_none(),
        "given by the business itself, not by staff"
    );
    assert_ne!(row.access_code_hash, code);
    // ... and the business can check it.
    let r = case_status_from(&app, "10.10.0.2", &reference, &code).await;
    assert_eq!(status_of(&r)["status"], "NEW");

    let before = web_form_references(&app, &t.concierge).await.len();

    // Consent is required.
    let no_consent = consultation("同意なし株式会社", "a@example.jp").without_consent();
    let r = no_consent.submit_from(&app, "10.10.1.1").await;
    assert_code(&r, "BAD_USER_INPUT", "no consent");
    assert_eq!(r.body["errors"][0]["extensions"]["field"], "consentToShare");

    // A bad e-mail address is named.
    let r = submit_from(
        &app,
        "10.10.1.2",
        consultation("メール誤り株式会社", "not-an-email"),
    )
    .await;
    assert_code(&r, "BAD_USER_INPUT", "bad email");
    let f = r.body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("");
    assert!(f.contains("email"), "field names the email: {}", r.body);

    // An over-long description is refused with a clear message.
    let long = consultation("長文株式会社", "b@example.jp").description(&"あ".repeat(20_000));
    let r = long.submit_from(&app, "10.10.1.3").await;
    assert_code(&r, "BAD_USER_INPUT", "over-long description");

    // The honeypot (implementation's choice: BAD_USER_INPUT, not naming the field, nothing stored).
    let bot =
        consultation("ボット株式会社", "bot@example.jp").set("website", "http://spam.example");
    let r = bot.submit_from(&app, "10.10.1.4").await;
    assert_code(&r, "BAD_USER_INPUT", "honeypot");
    assert!(
        r.body["errors"][0]["extensions"]["field"].is_null(),
        "the honeypot must not be named: {}",
        r.body
    );
    assert_absent(&r, &["website", "honeypot"], "honeypot answer");
    assert_eq!(
        web_form_references(&app, &t.concierge).await.len(),
        before,
        "refused submissions were stored"
    );

    // A Koda municipality goes to the Koda lab.
    let koda = consultation("幸田Web株式会社", "koda@example.jp").municipality("幸田町");
    let r = koda.submit_from(&app, "10.10.2.1").await;
    let koda_ref = r.ok()["submitConsultation"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(koda_ref.starts_with("KOD-"), "{koda_ref}");
    assert!(web_form_references(&app, &t.koda).await.contains(&koda_ref));
    assert!(!web_form_references(&app, &t.concierge)
        .await
        .contains(&koda_ref));

    // Throttled per client address.
    let max = SUBMIT_PER_ADDRESS.max as usize;
    for i in 0..max {
        let r = submit_from(
            &app,
            "10.10.3.1",
            consultation(&format!("連続{i}株式会社"), "c@example.jp"),
        )
        .await;
        r.ok();
    }
    let r = submit_from(
        &app,
        "10.10.3.1",
        consultation("連続超過株式会社", "c@example.jp"),
    )
    .await;
    assert_code(&r, "RATE_LIMITED", "submissions over the limit");
    let r = submit_from(
        &app,
        "10.10.3.2",
        consultation("別アドレス株式会社", "d@example.jp"),
    )
    .await;
    r.ok();
}
