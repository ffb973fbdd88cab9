//! Business records and the business's rights over its data, over the API on
//! both backends: the desk scenario (returning business, offered contact,
//! stale edit, duplicate web submissions, merge), consent withdrawal, erasure
//! checked by a full-text scan of every table, the disclosure export against
//! its JSON Schema, and the permission matrix over every `CaseFilter` field.

use crate::backend_tests;
use crate::common;
use crate::common::json_schema::validate;

use common::cases::*;
use common::{spawn_app, Backend, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const BUSINESS: &str = r#"query($id: ID!) { business(id: $id) {
  id name corporateNumber employeeBand municipality website version contactName email phone previouslyErased
  contacts { id name role email phone primary }
  history { kind fields actor { id } }
  cases { id reference status stage events { kind } }
  stagePath { stage reference }
  supportingInstitutions { name }
  consent { given casesWithConsent casesWithoutConsent }
  duplicateCandidates { business { id } reasons }
} }"#;

const UPDATE: &str = "mutation($id: ID!, $v: Int!, $i: BusinessUpdateInput!) { updateBusiness(id: $id, expectedVersion: $v, input: $i) { id version employeeBand website } }";
const ADD_CONTACT: &str = "mutation($b: ID!, $i: BusinessContactInput!) { addBusinessContact(businessId: $b, input: $i) { id contactName contacts { name primary } } }";
const MERGE: &str =
    "mutation($k: ID!, $m: ID!) { mergeBusinesses(keepId: $k, mergeId: $m) { id cases { id } } }";
const OPEN: &str = "mutation($i: OpenCaseInput!) { openCase(input: $i) { accessCode offeredContact { name email phone } case { id reference business { id } } } }";
const ERASE: &str = "mutation($b: ID!) { erasePersonalData(businessId: $b) { id } }";
const EXPORT: &str = "mutation($b: ID!) { exportBusinessData(businessId: $b) }";

async fn business(app: &TestApp, t: &str, id: &Value) -> Value {
    app.gql(Some(t), BUSINESS, json!({ "id": id })).await.ok()["business"].clone()
}

fn ringo(number: &str, contact: &str, email: &str, phone: &str) -> Value {
    json!({
        "name": "株式会社青森りんご工房",
        "corporateNumber": number,
        "industry": "E",
        "municipality": "弘前市",
        "contactName": contact,
        "email": email,
        "phone": phone,
    })
}

async fn verify(app: &TestApp) {
    let audit = dxdesk::service::audit::verify_all(app.state.store.as_ref())
        .await
        .unwrap();
    assert!(audit.broken.is_empty(), "audit verify: {:?}", audit.broken);
}

backend_tests!(desk_scenario_returning_business_edit_duplicates_merge);

async fn desk_scenario_returning_business_edit_duplicates_merge(b: Backend) {
    let app = spawn_app(b).await;
    let t = Tokens::login_all(&app).await;
    let number = corporate_number("700000000011");

    // Intake, then the same 法人番号 again with a new contact person.
    let first = app
        .gql(
            Some(&t.concierge),
            OPEN,
            json!({ "i": open_input("生産管理の相談", "工程を見える化したい", ringo(&number, "山田 一郎", "yamada@ringo.example", "0172-00-1111")) }),
        )
        .await;
    let first = first.ok()["openCase"].clone();
    assert_eq!(
        first["offeredContact"],
        Value::Null,
        "{b:?}: a new business keeps its contact"
    );
    let bid = first["case"]["business"]["id"].clone();
    let typed = ringo(&number, "佐藤 花子", "sato@ringo.example", "0172-00-2222");
    let check = app
        .gql(
            Some(&t.concierge),
            "query($i: BusinessInput!) { businessIntakeCheck(input: $i) { existing { id name } differences { field existing proposed } newContact { name email } } }",
            json!({ "i": typed }),
        )
        .await;
    let check = &check.ok()["businessIntakeCheck"];
    assert_eq!(check["existing"]["id"], bid);
    let fields: Vec<&str> = check["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["contactName", "email", "phone"], "{b:?}");
    assert_eq!(check["newContact"]["name"], "佐藤 花子");
    let second = app
        .gql(
            Some(&t.concierge),
            OPEN,
            json!({ "i": open_input("補助金の相談", "IT導入補助金を使いたい", typed) }),
        )
        .await;
    let second = second.ok()["openCase"].clone();
    assert_eq!(
        second["case"]["business"]["id"], bid,
        "{b:?}: the known record"
    );
    assert_eq!(
        second["offeredContact"]["name"], "佐藤 花子",
        "{b:?}: offered, not dropped"
    );
    // The concierge accepts the offer.
    let r = app
        .gql(
            Some(&t.concierge),
            ADD_CONTACT,
            json!({ "b": bid, "i": { "name": "佐藤 花子", "role": "総務", "email": "sato@ringo.example" } }),
        )
        .await;
    let contacts = r.ok()["addBusinessContact"]["contacts"].clone();
    assert_eq!(
        contacts,
        json!([{ "name": "山田 一郎", "primary": true }, { "name": "佐藤 花子", "primary": false }])
    );

    // Edit with history; a stale version changes nothing.
    let page = business(&app, &t.concierge, &bid).await;
    let v = page["version"].as_i64().unwrap();
    let r = app
        .gql(
            Some(&t.concierge),
            UPDATE,
            json!({ "id": bid, "v": v, "i": { "employeeBand": "6-20", "website": "https://ringo.example/" } }),
        )
        .await;
    assert_eq!(r.ok()["updateBusiness"]["version"], json!(v + 1));
    let r = app
        .gql(
            Some(&t.concierge),
            UPDATE,
            json!({ "id": bid, "v": v, "i": { "employeeBand": "21-50" } }),
        )
        .await;
    assert_code(&r, "CONFLICT", "stale business version");
    let r = app
        .gql(Some(&t.center), BUSINESS, json!({ "id": bid }))
        .await;
    assert_code(&r, "NOT_FOUND", "partner reads no business page");
    let page = business(&app, &t.concierge, &bid).await;
    assert_eq!(page["employeeBand"], "6-20");
    let history = page["history"].as_array().unwrap();
    let updated = history.iter().find(|h| h["kind"] == "UPDATED").unwrap();
    assert_eq!(updated["fields"], json!(["employeeBand", "website"]));
    assert!(updated["actor"]["id"].is_string());
    let added = history
        .iter()
        .find(|h| h["kind"] == "CONTACT_ADDED")
        .unwrap();
    assert!(
        !added.to_string().contains("佐藤"),
        "no personal values in history"
    );

    // Duplicate web submissions: both cases show the other record as a candidate.
    let mut refs = Vec::new();
    for ip in ["203.0.113.7", "203.0.113.8"] {
        let r = consultation("りんご工房")
            .email("info@ringo-kobo.example")
            .submit_from(&app, ip)
            .await;
        refs.push(
            r.ok()["submitConsultation"]["reference"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut web = Vec::new();
    for r in &refs {
        let c = app
            .gql(
                Some(&t.concierge),
                "query($r: String!) { caseByReference(reference: $r) { id business { id duplicateCandidates { business { id } reasons } } } }",
                json!({ "r": r }),
            )
            .await;
        web.push(c.ok()["caseByReference"]["business"].clone());
    }
    for (me, other) in [(0, 1), (1, 0)] {
        let cands = web[me]["duplicateCandidates"].as_array().unwrap();
        let hit = cands
            .iter()
            .find(|c| c["business"]["id"] == web[other]["id"])
            .unwrap_or_else(|| panic!("{b:?}: candidate missing in {cands:?}"));
        assert_eq!(hit["reasons"], json!(["EMAIL", "CLOSE_NAME"]));
    }
    // …and the name is close to the record with the 法人番号 in the same town.
    assert!(web[0]["duplicateCandidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["business"]["id"] == bid));

    // Merge: admin only, never across labs.
    let vars = json!({ "k": web[0]["id"], "m": web[1]["id"] });
    assert_code(
        &app.gql(Some(&t.concierge), MERGE, vars.clone()).await,
        "FORBIDDEN",
        "concierge merge",
    );
    assert_code(
        &app.gql(Some(&t.koda), MERGE, vars.clone()).await,
        "NOT_FOUND",
        "other lab's admin",
    );
    app.gql(Some(&t.admin), MERGE, vars).await.ok();
    let r = app
        .gql(
            Some(&t.admin),
            MERGE,
            json!({ "k": bid, "m": web[0]["id"] }),
        )
        .await;
    assert_eq!(
        r.ok()["mergeBusinesses"]["cases"].as_array().unwrap().len(),
        4,
        "{b:?}"
    );

    let page = business(&app, &t.concierge, &bid).await;
    let cases = page["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    let merged: Vec<&Value> = cases
        .iter()
        .filter(|c| c["events"].to_string().contains("BUSINESS_MERGED"))
        .collect();
    assert_eq!(merged.len(), 2, "{b:?}: every moved case records the merge");
    assert_eq!(page["stagePath"].as_array().unwrap().len(), 4);
    assert_eq!(page["consent"]["casesWithConsent"], 4);
    assert_eq!(
        page["contacts"].as_array().unwrap().len(),
        4,
        "{b:?}: contacts moved"
    );
    assert_eq!(
        page["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["primary"] == true)
            .count(),
        1
    );
    assert_eq!(page["duplicateCandidates"], json!([]));
    verify(&app).await;
}

backend_tests!(withdrawing_consent_withdraws_pending_and_hides_contact_data);

async fn withdrawing_consent_withdraws_pending_and_hides_contact_data(b: Backend) {
    let app = spawn_app(b).await;
    let t = Tokens::login_all(&app).await;
    let opened = open_case(
        &app,
        &t.concierge,
        open_input("販路開拓", "ECサイトを作りたい", new_business("津軽物産")),
    )
    .await;
    let center = institution_id(&app, &t.concierge, CENTER).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let univ = institution_id(&app, &t.concierge, UNIV).await;
    let rc = refer_ok(&app, &t.concierge, &opened.id, &center).await;
    let rb = refer_ok(&app, &t.concierge, &opened.id, &bank).await;
    accept(&app, &t.center, &rc, None).await.ok();
    const PARTNER_VIEW: &str = "query($id: ID!) { case(id: $id) { title description business { name municipality contactName email phone corporateNumber industry contacts { id } } } }";
    let seen = |t: String| {
        let app = &app;
        let id = opened.id.clone();
        async move {
            app.gql(Some(&t), PARTNER_VIEW, json!({ "id": id }))
                .await
                .ok()["case"]["business"]
                .clone()
        }
    };
    let before = seen(t.center.clone()).await;
    assert_eq!(
        before["contactName"], "津軽 太郎",
        "{b:?}: accepted + consent"
    );
    assert_eq!(before["phone"], "0172-11-2233");
    let pending = seen(t.bank.clone()).await;
    assert_eq!(
        pending,
        json!({ "name": "津軽物産", "municipality": "弘前市", "contactName": null, "email": null,
                "phone": null, "corporateNumber": null, "industry": null, "contacts": [] }),
        "{b:?}: a pending referral shows name and municipality only"
    );

    let v = version(&app, &t.concierge, &opened.id).await;
    update_case(
        &app,
        &t.concierge,
        &opened.id,
        v,
        json!({ "consentToShare": false }),
    )
    .await
    .ok();
    let case = case_ok(&app, &t.concierge, &opened.id).await;
    let r = case["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["institution"]["name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<BTreeMap<_, _>>();
    assert_eq!(r[BANK], "WITHDRAWN", "{b:?}: pending withdrawn");
    assert_eq!(r[CENTER], "ACCEPTED", "{b:?}: accepted stays");
    let withdrawn = case["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "WITHDRAWN")
        .unwrap();
    assert_eq!(withdrawn["payload"]["withdrawReason"], "consent withdrawn");
    assert_eq!(withdrawn["payload"]["referralId"], json!(rb));

    let after = seen(t.center.clone()).await;
    assert_eq!(
        after,
        json!({ "name": "津軽物産", "municipality": "弘前市", "contactName": null, "email": null,
                "phone": null, "corporateNumber": null, "industry": "E", "contacts": [] }),
        "{b:?}: the accepted partner loses exactly the contact fields"
    );
    let r = refer(&app, &t.concierge, &opened.id, &univ, None).await;
    assert!(r.code().is_some(), "{b:?}: no referral without consent");
    let v = version(&app, &t.concierge, &opened.id).await;
    update_case(
        &app,
        &t.concierge,
        &opened.id,
        v,
        json!({ "consentToShare": true }),
    )
    .await
    .ok();
    refer_ok(&app, &t.concierge, &opened.id, &univ).await;
    assert_eq!(seen(t.center.clone()).await["contactName"], "津軽 太郎");
    verify(&app).await;
}

/// Every text value of every row of every table of the app's database.
async fn all_text(app: &TestApp) -> String {
    let mut out = String::new();
    match app.backend {
        Backend::Sqlite => {
            let pool = common::sqlite_pool(&app.state.store);
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for (t,) in tables {
                let cols: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info(?)")
                    .bind(&t)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let expr = cols
                    .iter()
                    .map(|(c,)| format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN '' ELSE COALESCE(CAST(\"{c}\" AS TEXT), '') END"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT {expr} FROM \"{t}\""))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                for (r,) in rows {
                    out.push_str(&t);
                    out.push(':');
                    out.push_str(&r);
                    out.push('\n');
                }
            }
        }
        Backend::Postgres => {
            let pool = common::pg_pool(&app.state.store);
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(tables.len() > 10, "the app's tables");
            for (t,) in tables {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT CAST(x AS text) FROM \"{t}\" x"))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (r,) in rows {
                    out.push_str(&t);
                    out.push(':');
                    out.push_str(&r);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// The strings the erasure and export tests type about the business.
const TYPED: &[&str] = &[
    "弘前ねぷた工芸",
    "工芸の田中 誠",
    "tanaka@neputa.example",
    "0172-99-8877",
    "https://neputa.example/",
    "予備の連絡先 鈴木",
    "suzuki@neputa.example",
    "ねぷた絵の受注管理",
    "田中さんの自宅 青森市1-2-3",
    "担当：融資課 佐藤",
    "引受メモ 田中社長と面談",
    "完了報告 田中社長へ説明済",
    "解決要約 田中様の件",
    "窓口メモ 田中様は火曜不在",
];

/// A business with everything typed: contacts, website, a case with a note,
/// an accepted and completed referral, resolved and closed.
async fn typed_business(app: &TestApp, t: &Tokens, number: &str) -> (Value, Opened) {
    let opened = open_case(
        app,
        &t.concierge,
        open_input(
            TYPED[7],
            TYPED[8],
            json!({ "name": TYPED[0], "corporateNumber": number, "municipality": "弘前市", "industry": "E",
                    "contactName": TYPED[1], "email": TYPED[2], "phone": TYPED[3] }),
        ),
    )
    .await;
    let bid = opened.case["business"]["id"].clone();
    let v = business(app, &t.concierge, &bid).await["version"].clone();
    app.gql(
        Some(&t.concierge),
        UPDATE,
        json!({ "id": bid, "v": v, "i": { "website": TYPED[4] } }),
    )
    .await
    .ok();
    app.gql(
        Some(&t.concierge),
        ADD_CONTACT,
        json!({ "b": bid, "i": { "name": TYPED[5], "email": TYPED[6] } }),
    )
    .await
    .ok();
    let bank = institution_id(app, &t.concierge, BANK).await;
    let r = refer(app, &t.concierge, &opened.id, &bank, Some(TYPED[9])).await;
    let rid = r.ok()["referCase"]["id"].as_str().unwrap().to_owned();
    accept(app, &t.bank, &rid, Some(TYPED[10])).await.ok();
    complete(app, &t.bank, &rid, TYPED[11]).await.ok();
    add_note(app, &t.concierge, &opened.id, TYPED[13], "DESK")
        .await
        .ok();
    let v = version(app, &t.concierge, &opened.id).await;
    resolve(
        app,
        &t.concierge,
        &opened.id,
        v,
        &["FINANCING_ARRANGED"],
        TYPED[12],
    )
    .await
    .ok();
    close(app, &t.concierge, &opened.id).await.ok();
    (bid, opened)
}

backend_tests!(erasure_leaves_no_typed_string_in_any_table);

async fn erasure_leaves_no_typed_string_in_any_table(b: Backend) {
    let app = spawn_app(b).await;
    let t = Tokens::login_all(&app).await;
    let number = corporate_number("700000000022");
    let (bid, opened) = typed_business(&app, &t, &number).await;
    let before = all_text(&app).await;
    for s in TYPED {
        assert!(
            before.contains(s),
            "{b:?}: the scan sees {s} before erasure"
        );
    }
    app.gql(Some(&t.admin), ERASE, json!({ "b": bid }))
        .await
        .ok();
    let after = all_text(&app).await;
    for s in TYPED {
        let line = after.lines().find(|l| l.contains(s));
        assert!(line.is_none(), "{b:?}: {s} survives erasure in {line:?}");
    }
    verify(&app).await;
    let r = app
        .gql(
            None,
            Q_STATUS,
            json!({ "r": opened.reference, "c": opened.access_code }),
        )
        .await;
    assert_eq!(r.ok()["caseStatus"], Value::Null);

    // Re-intake with the same 法人番号: a fresh record, linked only as previously erased.
    let again = open_case(
        &app,
        &t.concierge,
        open_input(
            "再度のご相談",
            "新しい担当者からの相談",
            json!({ "name": "弘前ねぷた工芸（新）", "corporateNumber": number, "municipality": "弘前市", "contactName": "新担当 高橋" }),
        ),
    )
    .await;
    let nb = again.case["business"]["id"].clone();
    assert_ne!(nb, bid, "{b:?}: a new record");
    let page = business(&app, &t.concierge, &nb).await;
    assert_eq!(page["previouslyErased"], true);
    assert_eq!(page["name"], "弘前ねぷた工芸（新）");
    assert_eq!(page["contactName"], "新担当 高橋");
    assert_eq!(
        page["cases"].as_array().unwrap().len(),
        1,
        "no data carried over"
    );
    assert_eq!(page["contacts"].as_array().unwrap().len(), 1);
    let r = app
        .gql(
            None,
            Q_STATUS,
            json!({ "r": again.reference, "c": again.access_code }),
        )
        .await;
    assert_eq!(
        r.ok()["caseStatus"]["reference"],
        json!(again.reference),
        "{b:?}: status page works"
    );
}

backend_tests!(export_validates_and_holds_every_typed_string);

async fn export_validates_and_holds_every_typed_string(b: Backend) {
    let app = spawn_app(b).await;
    let t = Tokens::login_all(&app).await;
    let (bid, opened) = typed_business(&app, &t, &corporate_number("700000000033")).await;
    for (who, token) in [
        ("partner", &t.bank),
        ("concierge", &t.concierge),
        ("other lab", &t.koda),
    ] {
        let r = app
            .gql(Some(token.as_str()), EXPORT, json!({ "b": bid }))
            .await;
        assert_code(&r, "NOT_FOUND", who);
    }
    let doc = app
        .gql(Some(&t.admin), EXPORT, json!({ "b": bid }))
        .await
        .ok()["exportBusinessData"]
        .clone();
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/business-export.schema.json")).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{b:?}: {errors:#?}");
    let text = doc.to_string();
    for s in TYPED {
        assert!(text.contains(s), "{b:?}: export lacks {s}");
    }
    assert_eq!(doc["format"], "dxdesk.business-export");
    // The download gives the same document, and every export is recorded.
    let url = app.url(&format!(
        "/api/businesses/{}/export.json",
        bid.as_str().unwrap()
    ));
    let r = app
        .http
        .get(&url)
        .bearer_auth(&t.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &file, "$", &mut errors);
    assert!(errors.is_empty(), "{b:?}: {errors:#?}");
    assert_eq!(file["cases"][0]["title"], TYPED[7]);
    let r = app
        .http
        .get(&url)
        .bearer_auth(&t.bank)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "{b:?}: a partner's download");
    let case = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(
        kinds(&case)
            .iter()
            .filter(|k| *k == "DATA_EXPORTED")
            .count(),
        2,
        "{b:?}: both exports on the support record"
    );
    let page = business(&app, &t.concierge, &bid).await;
    assert_eq!(
        page["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["kind"] == "EXPORTED")
            .count(),
        2
    );
    verify(&app).await;
}

backend_tests!(permission_matrix_over_every_case_filter_field);

/// Sample values for every `CaseFilter` field. A field without samples fails
/// the test: a new filter cannot skip the matrix.
fn samples(
    field: &str,
    ids: &BTreeMap<&str, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    let day = chrono::Duration::days(1);
    match field {
        "status" => vec![
            json!(["REFERRED"]),
            json!(["NEW"]),
            json!(["IN_PROGRESS"]),
            json!(["REFERRED", "IN_PROGRESS"]),
        ],
        "stage" => vec![json!(["CONSULT"]), json!(["TRY"])],
        "institutionId" => vec![
            ids["center"].clone(),
            ids["bank"].clone(),
            ids["univ"].clone(),
        ],
        "assignedToId" => vec![ids["concierge"].clone()],
        "businessId" => vec![ids["business"].clone()],
        "topic" => vec![json!("IoT")],
        "overdue" => vec![json!(true), json!(false)],
        "handedBack" => vec![json!(true), json!(false)],
        "createdFrom" => vec![json!((now - day).to_rfc3339())],
        "createdTo" => vec![json!((now + day).to_rfc3339())],
        "search" => vec![json!("マトリクス")],
        "channel" => vec![json!(["PHONE"]), json!(["WALK_IN"])],
        other => panic!("CaseFilter.{other} has no samples in the permission matrix: add them"),
    }
}

async fn permission_matrix_over_every_case_filter_field(b: Backend) {
    let app = spawn_app(b).await;
    let t = Tokens::login_all(&app).await;
    let start = chrono::Utc::now();
    app.clock.set(start);
    let center = institution_id(&app, &t.concierge, CENTER).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let univ = institution_id(&app, &t.concierge, UNIV).await;
    let mk = |title: &'static str, company: &'static str| {
        let app = &app;
        let tok = t.concierge.clone();
        async move {
            let mut i = open_input(title, "マトリクス試験の相談", new_business(company));
            i["topics"] = json!(["IoT"]);
            i["channel"] = json!("PHONE");
            open_case(app, &tok, i).await
        }
    };
    // X: the center accepted, the bank is pending; Y: the bank only; Z: the center pending; W: none.
    let x = mk("案件X", "エックス商事").await;
    let y = mk("案件Y", "ワイ商事").await;
    let z = mk("案件Z", "ゼット商事").await;
    let _w = mk("案件W", "ダブリュ商事").await;
    let xc = refer_ok(&app, &t.concierge, &x.id, &center).await;
    accept(&app, &t.center, &xc, None).await.ok();
    let xb = refer_ok(&app, &t.concierge, &x.id, &bank).await;
    refer_ok(&app, &t.concierge, &y.id, &bank).await;
    refer_ok(&app, &t.concierge, &z.id, &center).await;
    // Past every pick-up deadline: the pending ones are overdue.
    app.clock.set(start + chrono::Duration::days(10));

    let fields = app
        .gql(
            Some(&t.admin),
            "{ __type(name: \"CaseFilter\") { inputFields { name } } }",
            json!({}),
        )
        .await;
    let fields: Vec<String> = fields.ok()["__type"]["inputFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(fields.len() >= 10, "{fields:?}");
    let me = app
        .gql(Some(&t.concierge), "{ me { id } }", json!({}))
        .await;
    let ids: BTreeMap<&str, Value> = [
        ("center", json!(center)),
        ("bank", json!(bank)),
        ("univ", json!(univ)),
        ("concierge", me.ok()["me"]["id"].clone()),
        ("business", x.case["business"]["id"].clone()),
    ]
    .into();
    let roles = [
        ("admin", &t.admin),
        ("concierge", &t.concierge),
        ("center", &t.center),
        ("bank", &t.bank),
        ("univ", &t.univ),
        ("koda", &t.koda),
    ];
    let mut filters = vec![("none".to_owned(), json!({}))];
    for f in &fields {
        for s in samples(f, &ids, start) {
            filters.push((format!("{f}={s}"), json!({ f.as_str(): s })));
        }
    }
    const Q: &str = "query($f: CaseFilter) { cases(filter: $f, first: 100) { totalCount edges { node { id status } } } }";
    let run = |label: &'static str| {
        let app = &app;
        let filters = filters.clone();
        async move {
            let mut out = BTreeMap::new();
            for (role, token) in roles {
                for (name, f) in &filters {
                    let r = app.gql(Some(token.as_str()), Q, json!({ "f": f })).await;
                    let c = &r.ok()["cases"];
                    let nodes = c["edges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["node"].clone())
                        .collect::<Vec<_>>();
                    assert_eq!(
                        c["totalCount"],
                        json!(nodes.len()),
                        "{label} {role} {name}: count = rows"
                    );
                    for n in &nodes {
                        let r = get_case(app, token, n["id"].as_str().unwrap()).await;
                        assert!(
                            r.code().is_none(),
                            "{label} {role} {name}: listed but unreadable"
                        );
                    }
                    out.insert(
                        (role, name.clone()),
                        json!({ "n": c["totalCount"], "nodes": nodes }),
                    );
                }
            }
            out
        }
    };
    let before = run("before").await;
    let center_sees =
        |m: &BTreeMap<(&str, String), Value>, f: &str| m[&("center", f.to_owned())].clone();
    assert_eq!(
        center_sees(&before, &format!("institutionId=\"{bank}\""))["n"],
        0,
        "{b:?}: another institution's referrals"
    );
    assert_eq!(
        center_sees(&before, "status=[\"REFERRED\"]")["nodes"],
        json!([{ "id": z.id, "status": "REFERRED" }]),
        "{b:?}"
    );
    assert_eq!(
        center_sees(&before, "overdue=true")["nodes"],
        json!([{ "id": z.id, "status": "REFERRED" }]),
        "{b:?}"
    );
    assert!(before
        .iter()
        .filter(|((r, _), _)| *r == "koda")
        .all(|(_, v)| v["n"] == 0));

    // What another institution does must not change any answer a partner gets.
    withdraw(&app, &t.concierge, &xb, None).await.ok();
    let after = run("after").await;
    for role in ["center", "univ"] {
        for (name, _) in &filters {
            let k = (role, name.clone());
            assert_eq!(
                before[&k], after[&k],
                "{b:?}: {role} with {name} changed with the bank's referral"
            );
        }
    }
}
