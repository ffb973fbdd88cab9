//! Helpers for the case API tests: the demo accounts, the GraphQL documents of
//! the contract (PRODUCT.md "The API contract"), builders for the inputs, and a
//! few assertions. Every call goes over HTTP to the real router.

use super::{Backend, Gql, TestApp};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use serde_json::{json, Value};

pub const ADMIN: &str = "admin@aomori.example";
pub const CONCIERGE: &str = "concierge@aomori.example";
pub const P_CENTER: &str = "partner.center@aomori.example";
pub const P_BANK: &str = "partner.bank@aomori.example";
pub const P_UNIV: &str = "partner.univ@aomori.example";
pub const KODA_ADMIN: &str = "admin@koda.example";

/// Institution names from data/labs.json.
pub const CENTER: &str = "地方独立行政法人青森県産業技術センター";
pub const BANK: &str = "株式会社青森銀行";
pub const UNIV: &str = "弘前大学";

/// Access tokens of every demo account.
pub struct Tokens {
    pub admin: String,
    pub concierge: String,
    pub center: String,
    pub bank: String,
    pub univ: String,
    pub koda: String,
}

impl Tokens {
    pub async fn login_all(app: &TestApp) -> Self {
        let (admin, concierge, center, bank, univ, koda) = tokio::join!(
            app.login(ADMIN),
            app.login(CONCIERGE),
            app.login(P_CENTER),
            app.login(P_BANK),
            app.login(P_UNIV),
            app.login(KODA_ADMIN),
        );
        Self {
            admin,
            concierge,
            center,
            bank,
            univ,
            koda,
        }
    }
}

// ---------------------------------------------------------------- documents

/// Every field of `Case` the contract names, with nested edges.
pub const CASE_FIELDS: &str = r#"
fragment CaseFull on Case {
  id reference title description stage status priority topics channel
  consentToShare version createdAt updatedAt
  business { id name corporateNumber industry municipality contactName email phone }
  referrals { id status note reason pickupDeadline overdue createdAt decidedAt institution { id name } }
  notes { id body visibility createdAt }
  events { seq kind at payload }
}"#;

pub const CASE_SMALL: &str =
    "id reference title status stage version consentToShare emailUpdates channel";
pub const REFERRAL_FIELDS: &str =
    "id status note reason pickupDeadline overdue createdAt decidedAt institution { id name }";

pub fn q_case() -> String {
    format!("query($id: ID!) {{ case(id: $id) {{ ...CaseFull }} }} {CASE_FIELDS}")
}

pub fn q_case_by_reference() -> String {
    format!(
        "query($r: String!) {{ caseByReference(reference: $r) {{ ...CaseFull }} }} {CASE_FIELDS}"
    )
}

pub const Q_CASES: &str = r#"
query($filter: CaseFilter, $first: Int, $after: String) {
  cases(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id reference title status stage topics channel consentToShare business { name }
      referrals { id status overdue institution { name } } } }
  }
}"#;

pub const Q_SUGGEST: &str = r#"
query($id: ID!) { suggestInstitutions(caseId: $id) { score reason institution { id name active } } }"#;

pub const Q_OVERDUE: &str = r#"
query { overdueReferrals { id status overdue pickupDeadline institution { id name } case { id reference title } } }"#;

pub const Q_STATUS: &str = r#"
query($r: String!, $c: String!) {
  caseStatus(reference: $r, accessCode: $c) {
    reference title stage status institutions nextStep
    milestones { at kind label }
    notes { body createdAt }
  }
}"#;

// ---------------------------------------------------------------- data

/// A valid 法人番号 from its last 12 digits: check digit 9 − (Σ Pn×Qn mod 9),
/// Pn the n-th digit counted from the right, Qn = 1 (odd n) or 2 (even n).
pub fn corporate_number(body12: &str) -> String {
    assert_eq!(body12.len(), 12);
    let sum: u32 = body12
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap() * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    format!("{}{body12}", 9 - sum % 9)
}

/// A new business in 弘前市 (region 中南) with the given company name.
pub fn new_business(name: &str) -> Value {
    json!({
        "name": name,
        "industry": "E",
        "municipality": "弘前市",
        "contactName": "津軽 太郎",
        "email": "taro.tsugaru@example.jp",
        "phone": "0172-11-2233",
    })
}

/// An `OpenCaseInput` for a new business, with consent to share.
pub fn open_input(title: &str, description: &str, business: Value) -> Value {
    json!({
        "business": business,
        "title": title,
        "description": description,
        "topics": ["IoT", "ものづくり"],
        "channel": "WALK_IN",
        "stage": "CONSULT",
        "consentToShare": true,
    })
}

// ---------------------------------------------------------------- builders

/// A business input (`NewBusinessInput` / the business of a consultation),
/// starting from [`new_business`]: `business("社名").corporate_number(n)`.
#[derive(Debug, Clone)]
pub struct BusinessBuilder(Value);

/// A new business in 弘前市 named `name`; see [`BusinessBuilder`].
pub fn business(name: &str) -> BusinessBuilder {
    BusinessBuilder(new_business(name))
}

impl BusinessBuilder {
    pub fn corporate_number(self, number: &str) -> Self {
        self.set("corporateNumber", number)
    }
    pub fn municipality(self, municipality: &str) -> Self {
        self.set("municipality", municipality)
    }
    /// Any other field, or a wrong value for a validation test.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0[field] = value.into();
        self
    }
    pub fn build(self) -> Value {
        self.0
    }
}

impl From<BusinessBuilder> for Value {
    fn from(b: BusinessBuilder) -> Value {
        b.0
    }
}

/// An `OpenCaseInput`, starting from [`open_input`] with a new business named
/// after the title: `case("題名").business(business("社名")).open(&app, tok)`.
#[derive(Debug, Clone)]
pub struct CaseBuilder(Value);

/// An `OpenCaseInput` titled `title`; see [`CaseBuilder`].
pub fn case(title: &str) -> CaseBuilder {
    CaseBuilder(open_input(
        title,
        "相談内容の説明です。",
        new_business(&format!("{title}株式会社")),
    ))
}

impl CaseBuilder {
    pub fn description(self, description: &str) -> Self {
        self.set("description", description)
    }
    /// A new business (a [`BusinessBuilder`] or plain JSON).
    pub fn business(self, business: impl Into<Value>) -> Self {
        self.set("business", business)
    }
    /// An existing business by id, instead of a new one.
    pub fn business_id(mut self, id: &str) -> Self {
        self.0.as_object_mut().unwrap().remove("business");
        self.set("businessId", id)
    }
    /// Neither `businessId` nor `business`.
    pub fn without_business(mut self) -> Self {
        self.0.as_object_mut().unwrap().remove("business");
        self
    }
    pub fn without_consent(self) -> Self {
        self.set("consentToShare", false)
    }
    pub fn stage(self, stage: &str) -> Self {
        self.set("stage", stage)
    }
    pub fn topics(self, topics: &[&str]) -> Self {
        self.set("topics", json!(topics))
    }
    /// Any other field, or a wrong value for a validation test.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0[field] = value.into();
        self
    }
    pub fn build(self) -> Value {
        self.0
    }
    /// Opens the case as `token`; panics on errors.
    pub async fn open(self, app: &TestApp, token: &str) -> Opened {
        open_case(app, token, self.0).await
    }
    /// Opens the case as `token` and returns the answer, errors included.
    pub async fn try_open(self, app: &TestApp, token: &str) -> Gql {
        try_open_case(app, token, self.0).await
    }
}

impl From<CaseBuilder> for Value {
    fn from(c: CaseBuilder) -> Value {
        c.0
    }
}

/// A `ConsultationInput` (the public web form), with consent:
/// `consultation("社名").email(e).submit_from(&app, ip)`.
#[derive(Debug, Clone)]
pub struct ConsultationBuilder(Value);

/// A web-form consultation from a new business named `company` in 弘前市.
pub fn consultation(company: &str) -> ConsultationBuilder {
    ConsultationBuilder(json!({
        "business": {
            "name": company,
            "municipality": "弘前市",
            "industry": "I",
            "contactName": "佐藤 一郎",
        },
        "description": "在庫管理をクラウド化したい。",
        "consentToShare": true,
    }))
}

impl ConsultationBuilder {
    pub fn email(mut self, email: &str) -> Self {
        self.0["business"]["email"] = json!(email);
        self
    }
    pub fn municipality(mut self, municipality: &str) -> Self {
        self.0["business"]["municipality"] = json!(municipality);
        self
    }
    pub fn description(self, description: &str) -> Self {
        self.set("description", description)
    }
    pub fn stage(self, stage: &str) -> Self {
        self.set("stage", stage)
    }
    pub fn without_consent(self) -> Self {
        self.set("consentToShare", false)
    }
    /// Any other field, or a wrong value for a validation test.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0[field] = value.into();
        self
    }
    pub fn build(self) -> Value {
        self.0
    }
    /// Submits it as if from `ip` (see [`submit_from`]).
    pub async fn submit_from(self, app: &TestApp, ip: &str) -> Gql {
        submit_from(app, ip, self.0).await
    }
}

impl From<ConsultationBuilder> for Value {
    fn from(c: ConsultationBuilder) -> Value {
        c.0
    }
}

/// The calendar year in Japan at `t`.
pub fn jst_year(t: DateTime<Utc>) -> i32 {
    t.with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap())
        .year()
}

pub fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not RFC 3339: {v}: {e}"))
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------- calls

pub async fn institution_id(app: &TestApp, token: &str, name: &str) -> String {
    let r = app
        .gql(Some(token), "{ institutions { id name } }", json!({}))
        .await;
    r.ok()["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no institution {name}: {}", r.body))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What `openCase` returned.
#[derive(Debug, Clone)]
pub struct Opened {
    pub id: String,
    pub reference: String,
    pub access_code: String,
    pub case: Value,
}

pub async fn try_open_case(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(
        Some(token),
        &format!(
            "mutation($i: OpenCaseInput!) {{ openCase(input: $i) {{ accessCode case {{ {CASE_SMALL} business {{ id name }} }} }} }}"
        ),
        json!({ "i": input }),
    )
    .await
}

pub async fn open_case(app: &TestApp, token: &str, input: Value) -> Opened {
    let r = try_open_case(app, token, input).await;
    let p = &r.ok()["openCase"];
    Opened {
        id: p["case"]["id"].as_str().unwrap().to_owned(),
        reference: p["case"]["reference"].as_str().unwrap().to_owned(),
        access_code: p["accessCode"].as_str().unwrap().to_owned(),
        case: p["case"].clone(),
    }
}

/// Opens a simple case titled `title` for a new business named `company`.
pub async fn open_simple(app: &TestApp, token: &str, title: &str, company: &str) -> Opened {
    open_case(
        app,
        token,
        open_input(title, "相談内容の説明です。", new_business(company)),
    )
    .await
}

pub async fn get_case(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(Some(token), &q_case(), json!({ "id": id })).await
}

/// The case as `token` sees it; panics on errors or `null`.
pub async fn case_ok(app: &TestApp, token: &str, id: &str) -> Value {
    let r = get_case(app, token, id).await;
    let c = r.ok()["case"].clone();
    assert!(c.is_object(), "case {id} not visible: {}", r.body);
    c
}

pub async fn version(app: &TestApp, token: &str, id: &str) -> i64 {
    case_ok(app, token, id).await["version"]
        .as_i64()
        .expect("version is an Int")
}

pub async fn update_case(app: &TestApp, t: &str, id: &str, ver: i64, input: Value) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($id: ID!, $v: Int!, $i: UpdateCaseInput!) {{ updateCase(id: $id, expectedVersion: $v, input: $i) {{ {CASE_SMALL} }} }}"),
        json!({ "id": id, "v": ver, "i": input }),
    )
    .await
}

pub async fn set_stage(app: &TestApp, t: &str, id: &str, ver: i64, stage: &str) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($id: ID!, $v: Int!, $s: Stage!) {{ setStage(caseId: $id, expectedVersion: $v, stage: $s) {{ {CASE_SMALL} }} }}"),
        json!({ "id": id, "v": ver, "s": stage }),
    )
    .await
}

pub async fn set_status(app: &TestApp, t: &str, id: &str, ver: i64, status: &str) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($id: ID!, $v: Int!, $s: CaseStatus!) {{ setStatus(caseId: $id, expectedVersion: $v, status: $s) {{ {CASE_SMALL} }} }}"),
        json!({ "id": id, "v": ver, "s": status }),
    )
    .await
}

pub async fn refer(app: &TestApp, t: &str, case_id: &str, inst: &str, note: Option<&str>) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($c: ID!, $i: ID!, $n: String) {{ referCase(caseId: $c, institutionId: $i, note: $n) {{ {REFERRAL_FIELDS} }} }}"),
        json!({ "c": case_id, "i": inst, "n": note }),
    )
    .await
}

/// Refers and returns the referral id (panics on errors).
pub async fn refer_ok(app: &TestApp, t: &str, case_id: &str, inst: &str) -> String {
    let r = refer(app, t, case_id, inst, Some("ご対応をお願いします")).await;
    r.ok()["referCase"]["id"].as_str().unwrap().to_owned()
}

pub async fn accept(app: &TestApp, t: &str, referral: &str, note: Option<&str>) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($r: ID!, $n: String) {{ acceptReferral(referralId: $r, note: $n) {{ {REFERRAL_FIELDS} }} }}"),
        json!({ "r": referral, "n": note }),
    )
    .await
}

pub async fn decline(
    app: &TestApp,
    t: &str,
    referral: &str,
    reason: &str,
    note: Option<&str>,
) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($r: ID!, $why: DeclineReason!, $n: String) {{ declineReferral(referralId: $r, reason: $why, note: $n) {{ {REFERRAL_FIELDS} }} }}"),
        json!({ "r": referral, "why": reason, "n": note }),
    )
    .await
}

pub async fn complete(app: &TestApp, t: &str, referral: &str, summary: &str) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($r: ID!, $s: String!) {{ completeReferral(referralId: $r, summary: $s) {{ {REFERRAL_FIELDS} }} }}"),
        json!({ "r": referral, "s": summary }),
    )
    .await
}

pub async fn withdraw(app: &TestApp, t: &str, referral: &str, note: Option<&str>) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($r: ID!, $n: String) {{ withdrawReferral(referralId: $r, note: $n) {{ {REFERRAL_FIELDS} }} }}"),
        json!({ "r": referral, "n": note }),
    )
    .await
}

pub async fn add_note(app: &TestApp, t: &str, case_id: &str, body: &str, vis: &str) -> Gql {
    app.gql(
        Some(t),
        "mutation($c: ID!, $b: String!, $v: NoteVisibility!) { addNote(caseId: $c, body: $b, visibility: $v) { id body visibility createdAt } }",
        json!({ "c": case_id, "b": body, "v": vis }),
    )
    .await
}

pub async fn resolve(
    app: &TestApp,
    t: &str,
    id: &str,
    ver: i64,
    outcomes: &[&str],
    summary: &str,
) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($c: ID!, $v: Int!, $o: [Outcome!]!, $s: String!) {{ resolveCase(caseId: $c, expectedVersion: $v, outcomes: $o, summary: $s) {{ {CASE_SMALL} }} }}"),
        json!({ "c": id, "v": ver, "o": outcomes, "s": summary }),
    )
    .await
}

pub async fn reopen(app: &TestApp, t: &str, id: &str, note: Option<&str>) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($c: ID!, $n: String) {{ reopenCase(caseId: $c, note: $n) {{ {CASE_SMALL} }} }}"),
        json!({ "c": id, "n": note }),
    )
    .await
}

pub async fn close(app: &TestApp, t: &str, id: &str) -> Gql {
    app.gql(
        Some(t),
        &format!("mutation($c: ID!) {{ closeCase(caseId: $c) {{ {CASE_SMALL} }} }}"),
        json!({ "c": id }),
    )
    .await
}

pub async fn rotate(app: &TestApp, t: &str, id: &str) -> Gql {
    app.gql(
        Some(t),
        "mutation($c: ID!) { rotateAccessCode(caseId: $c) }",
        json!({ "c": id }),
    )
    .await
}

pub async fn suggest(app: &TestApp, t: &str, id: &str) -> Gql {
    app.gql(Some(t), Q_SUGGEST, json!({ "id": id })).await
}

pub async fn list_cases(
    app: &TestApp,
    t: &str,
    filter: Value,
    first: i64,
    after: Option<&str>,
) -> Gql {
    app.gql(
        Some(t),
        Q_CASES,
        json!({ "filter": filter, "first": first, "after": after }),
    )
    .await
}

/// References of every case on the first page of `cases(filter)` (first 100).
pub async fn listed_references(app: &TestApp, t: &str, filter: Value) -> Vec<String> {
    let r = list_cases(app, t, filter, 100, None).await;
    r.ok()["cases"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {}", r.body))
        .iter()
        .map(|e| e["node"]["reference"].as_str().unwrap().to_owned())
        .collect()
}

/// The event kinds of a case (from `CaseFull`), in order.
pub fn kinds(case: &Value) -> Vec<String> {
    case["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {case}"))
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------- public (no login)

/// A GraphQL call as if from `client_ip` (X-Forwarded-For; the app must trust the proxy).
pub async fn gql_from(
    app: &TestApp,
    client_ip: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Gql {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header("x-forwarded-for", client_ip)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Gql { status, body }
}

pub async fn case_status_from(app: &TestApp, ip: &str, reference: &str, code: &str) -> Gql {
    gql_from(
        app,
        ip,
        None,
        Q_STATUS,
        json!({ "r": reference, "c": code }),
    )
    .await
}

pub async fn submit_from(app: &TestApp, ip: &str, input: impl Into<Value>) -> Gql {
    gql_from(
        app,
        ip,
        None,
        "mutation($i: ConsultationInput!) { submitConsultation(input: $i) { reference accessCode } }",
        json!({ "i": input.into() }),
    )
    .await
}

// ---------------------------------------------------------------- assertions

/// Asserts the first error's `extensions.code`.
#[track_caller]
pub fn assert_code(r: &Gql, code: &str, what: &str) {
    assert_eq!(
        r.code(),
        Some(code),
        "{what}: expected {code}, got {}",
        r.body
    );
}

/// Asserts that the first error's code is one of `codes`.
#[track_caller]
pub fn assert_code_in(r: &Gql, codes: &[&str], what: &str) {
    let got = r.code();
    assert!(
        got.is_some_and(|c| codes.contains(&c)),
        "{what}: expected one of {codes:?}, got {}",
        r.body
    );
}

/// Asserts that none of `needles` occurs anywhere in the serialized body.
#[track_caller]
pub fn assert_absent(r: &Gql, needles: &[&str], what: &str) {
    let text = serde_json::to_string(&r.body).unwrap();
    for n in needles {
        assert!(!text.contains(n), "{what}: {n:?} leaked in {text}");
    }
}

/// The first error's `extensions.messageEn` and `message`, joined.
pub fn messages(r: &Gql) -> String {
    format!(
        "{} | {}",
        r.message().unwrap_or(""),
        r.body["errors"][0]["extensions"]["messageEn"]
            .as_str()
            .unwrap_or("")
    )
}

// ---------------------------------------------------------------- an app whose database a process can open

/// A test app whose database URL is known, so that `dxdesk audit verify` (a
/// separate process) and raw SQL can reach the same data.
pub async fn spawn_app_with_url(backend: Backend) -> (TestApp, String) {
    let app = super::spawn_app(backend).await;
    let url = app.db_url.clone();
    (app, url)
}

/// A second instance of the deployment — its own pool, clock and router — on
/// the database at `url`. Nothing is seeded.
pub async fn spawn_second_instance(backend: Backend, url: &str) -> TestApp {
    let store = super::open_store(backend, url).await;
    super::start_instance(backend, store, url.to_owned(), super::test_config()).await
}

/// A test app that takes the client address from `X-Forwarded-For`, so that
/// throttling per address can be exercised from one machine (see [`gql_from`]).
pub async fn spawn_app_behind_proxy(backend: Backend) -> TestApp {
    let mut config = super::test_config();
    config.trust_proxy = true;
    super::spawn_app_with(backend, config).await
}
