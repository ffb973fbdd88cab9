//! Hardening tests: the request edge of `POST /graphql` on both backends —
//! nesting that used to overflow the stack, a fuzz over garbled documents,
//! suggestions in production, NUL in strings, Content-Type and Accept (GraphQL
//! over HTTP), and list sizes in the cost model.

use crate::backend_tests;
use crate::common::cases::{open_input, try_open_case, ADMIN, CONCIERGE};
use crate::common::{self, Backend, Gql, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn healthz(app: &TestApp) -> u16 {
    app.http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("the server still answers")
        .status()
        .as_u16()
}

/// Posts `body` as JSON with the given `Accept`; the status, content type and body.
async fn post_accept(app: &TestApp, body: &Value, accept: Option<&str>) -> (u16, String, Value) {
    let mut req = app.http.post(app.url("/graphql")).json(body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, resp.json().await.unwrap_or(Value::Null))
}

fn assert_refused(r: &Gql, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{what}: {}", r.body);
}

/// Cases the admin of the lab sees (every case of the lab).
async fn case_count(app: &TestApp) -> i64 {
    let admin = app.login(ADMIN).await;
    let r = app
        .gql(Some(&admin), "{ cases { totalCount } }", json!({}))
        .await;
    r.ok()["cases"]["totalCount"].as_i64().unwrap()
}

backend_tests!(
    deep_literals_are_refused_and_the_server_survives,
    |backend: Backend| async move {
        let app = common::spawn_app(backend).await;
        // The 4,046-byte document of the report, without login.
        let doc = format!(
            "{{caseByReference(reference:{}\"x\"{}){{id}}}}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        let r = app.gql(None, &doc, json!({})).await;
        assert_refused(&r, "deep list literal");
        assert!(r.message().unwrap().contains("入れ子"), "{}", r.body);
        assert!(r.body["errors"][0]["extensions"]["messageEn"]
            .as_str()
            .unwrap()
            .contains("nested too deeply"));
        assert_eq!(healthz(&app).await, 200);

        let doc = format!(
            "{{caseByReference(reference:{}1{}){{id}}}}",
            "{a:".repeat(1500),
            "}".repeat(1500)
        );
        assert_refused(&app.gql(None, &doc, json!({})).await, "deep object literal");
        assert_eq!(healthz(&app).await, 200);

        let doc = format!("{}id{}", "{a".repeat(2000), "}".repeat(2000));
        assert_refused(&app.gql(None, &doc, json!({})).await, "deep selection");
        assert_eq!(healthz(&app).await, 200);

        // Deep variables, as raw JSON text (serde_json would not build it).
        let body = format!(
        "{{\"query\":\"query($r:String!){{caseByReference(reference:$r){{id}}}}\",\"variables\":{{\"r\":{}1{}}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
        assert_refused(
            &app.post_raw(&body, "application/json").await,
            "deep variables",
        );
        let body = format!("{}{}", "{\"a\":".repeat(3000), "}".repeat(3000));
        assert_refused(
            &app.post_raw(&body, "application/json").await,
            "deep object",
        );
        assert_eq!(healthz(&app).await, 200);

        // Nesting real documents use still passes the edge.
        let r = app
        .gql(
            None,
            "query($r:String!,$c:String!){ caseStatus(reference:$r, accessCode:$c){ reference milestones { at } } }",
            json!({ "r": "AOM-2026-000001", "c": "ABCD-EFGH" }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_ne!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    }
);

/// Garbled documents: a prefix of nested brackets (up to 3,000 levels) and then
/// tokens of the language in any order, including strings, block strings,
/// comments and escapes; variables nested at random.
fn garbled_request() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "\"\"\"",
        "#",
        "\n",
        "\\",
        "\\\"",
        "\\u0000",
        " ",
        "a",
        ":",
        ",",
        "$x",
        "...",
        "@skip",
        "1",
        "-1.5e3",
        "query",
        "mutation",
        "fragment",
        "on",
        "caseByReference",
        "reference",
        "caseStatus",
        "publicLabs",
        "id",
        "__typename",
        "null",
        "true",
        "\u{0}",
        "🏃",
    ]);
    let opener = prop::sample::select(vec!["[", "{a:", "{a", "(a:", "[{b:"]);
    (
        opener,
        0usize..3000,
        prop::collection::vec(token, 0..200),
        0usize..200,
        any::<bool>(),
    )
        .prop_map(|(open, depth, tokens, var_depth, in_vars)| {
            let doc = format!("{{{}{}", open.repeat(depth), tokens.concat());
            let vars = format!("{}1{}", "[".repeat(var_depth), "]".repeat(var_depth));
            if in_vars {
                format!(
                    "{{\"query\":{},\"variables\":{{\"x\":{vars}}}}}",
                    serde_json::to_string(&doc).unwrap()
                )
            } else {
                json!({ "query": doc }).to_string()
            }
        })
}

fn fuzz_on(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(common::spawn_app(backend));
    let config = PropConfig {
        cases: 300,
        failure_persistence: None,
        ..PropConfig::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&garbled_request(), |body| {
            let r = rt.block_on(app.post_raw(&body, "application/json"));
            prop_assert!(r.status < 500, "{} for {body}: {}", r.status, r.body);
            Ok(())
        })
        .unwrap();
    assert_eq!(rt.block_on(healthz(&app)), 200);
}

/// A bounded fuzz (300 documents per backend, seconds) over the real server:
/// no answer is a 5xx and the process survives every one.
mod fuzzed_documents_never_fail_the_server {
    use super::*;

    #[test]
    fn sqlite() {
        fuzz_on(Backend::Sqlite);
    }

    #[test]
    fn postgres() {
        if common::postgres_configured() {
            fuzz_on(Backend::Postgres);
        }
    }
}

backend_tests!(
    production_gives_no_suggestions,
    |backend: Backend| async move {
        let typo = "{ caseByRefernce(reference: \"AOM-2026-000001\") { id } }";
        let dev = common::spawn_app(backend).await;
        let r = dev.gql(None, typo, json!({})).await;
        assert!(r.body.to_string().contains("Did you mean"), "{}", r.body);

        let mut config = common::test_config();
        config.mode = dxdesk::config::RunMode::Production;
        let app = common::spawn_app_with(backend, config).await;
        let r = app.gql(None, typo, json!({})).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
        assert!(!r.body.to_string().contains("Did you mean"), "{}", r.body);
        assert!(
            !r.body.to_string().contains("caseByReference"),
            "{}",
            r.body
        );
    }
);

fn consultation(description: &str) -> Value {
    json!({
        "business": {
            "name": "NUL検査株式会社",
            "municipality": "弘前市",
            "industry": "I",
            "contactName": "佐藤 一郎",
            "email": "nul@example.jp",
        },
        "description": description,
        "stage": "KNOW",
        "consentToShare": true,
    })
}

const SUBMIT: &str =
    "mutation($i: ConsultationInput!) { submitConsultation(input: $i) { reference accessCode } }";

backend_tests!(
    nul_in_any_string_is_refused_and_nothing_is_written,
    |backend: Backend| async move {
        let app = common::spawn_app(backend).await;
        // Anonymous: the web form, in variables and as an escape in the document.
        let r = app
            .gql(None, SUBMIT, json!({ "i": consultation("相談\u{0}です") }))
            .await;
        assert_refused(&r, "submitConsultation variables");
        assert!(r.message().unwrap().contains("NUL"), "{}", r.body);
        let mut input = consultation("相談です");
        input["business"]["contactName"] = json!("佐藤\u{0}");
        assert_refused(
            &app.gql(None, SUBMIT, json!({ "i": input })).await,
            "nested variable",
        );
        let literal = r#"mutation { submitConsultation(input: { business: { name: "NUL\u0000株式会社", municipality: "弘前市", industry: "I", contactName: "佐藤 一郎", email: "nul@example.jp" }, description: "相談です", stage: KNOW, consentToShare: true }) { reference } }"#;
        assert_refused(&app.gql(None, literal, json!({})).await, "literal escape");
        let status = "query($r: String!, $c: String!) { caseStatus(reference: $r, accessCode: $c) { reference } }";
        assert_refused(
            &app.gql(None, status, json!({ "r": "AOM-2026-\u{0}1", "c": "x" }))
                .await,
            "caseStatus",
        );
        let status_literal =
            r#"{ caseStatus(reference: "AOM\u0000", accessCode: "x") { reference } }"#;
        assert_refused(
            &app.gql(None, status_literal, json!({})).await,
            "caseStatus literal",
        );

        // Signed in: opening a case.
        let concierge = app.login(CONCIERGE).await;
        let input = open_input(
            "タイトル\u{0}",
            "説明",
            crate::common::cases::new_business("NUL商事"),
        );
        let r = try_open_case(&app, &concierge, input).await;
        assert_refused(&r, "openCase");
        let mut business = crate::common::cases::new_business("NUL商事");
        business["phone"] = json!("0172\u{0}");
        let r = try_open_case(&app, &concierge, open_input("題", "説明", business)).await;
        assert_refused(&r, "openCase business");

        assert_eq!(case_count(&app).await, 0, "nothing was written");
        // The same requests without NUL go through.
        let r = app
            .gql(None, SUBMIT, json!({ "i": consultation("相談です") }))
            .await;
        r.ok();
        assert_eq!(case_count(&app).await, 1);
    }
);

backend_tests!(
    post_needs_a_json_content_type,
    |backend: Backend| async move {
        let app = common::spawn_app(backend).await;
        let body = json!({ "query": SUBMIT, "variables": { "i": consultation("CSRFの相談") } })
            .to_string();
        for ct in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/graphql",
            "application/json; charset=iso-8859-1",
        ] {
            let r = app.post_raw(&body, ct).await;
            assert_eq!(r.status, 415, "{ct}: {}", r.body);
            assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{ct}: {}", r.body);
            assert!(r.message().unwrap().contains("Content-Type"), "{}", r.body);
        }
        let form = format!("query={}", "mutation%7B__typename%7D");
        let r = app
            .post_raw(&form, "application/x-www-form-urlencoded")
            .await;
        assert_eq!(r.status, 415, "{}", r.body);
        // No Content-Type at all.
        let resp = app
            .http
            .post(app.url("/graphql"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415);
        assert_eq!(case_count(&app).await, 0, "nothing was written");

        let r = app.post_raw(&body, "application/json; charset=utf-8").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.ok();
        let r = app
            .post_raw(r#"{"query":"{ __typename }"}"#, GRAPHQL_RESPONSE)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
);

backend_tests!(
    request_errors_follow_graphql_over_http,
    |backend: Backend| async move {
        let app = common::spawn_app(backend).await;
        let parse = json!({ "query": "{" });
        let invalid = json!({ "query": "{ noSuchField }" });
        let ok = json!({ "query": "{ __typename }" });
        let gql_json = "application/graphql-response+json, application/json;q=0.9";

        // application/graphql-response+json: request errors are 400 without data.
        for (body, what) in [(&parse, "parse"), (&invalid, "validation")] {
            let (status, ct, b) = post_accept(&app, body, Some(gql_json)).await;
            assert_eq!(status, 400, "{what}: {b}");
            assert!(ct.starts_with(GRAPHQL_RESPONSE), "{what}: {ct}");
            assert!(b.get("data").is_none(), "{what}: {b}");
            assert_eq!(b["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
        let (status, ct, b) = post_accept(&app, &ok, Some(GRAPHQL_RESPONSE)).await;
        assert_eq!(
            (status, b["data"]["__typename"].as_str()),
            (200, Some("QueryRoot"))
        );
        assert!(ct.starts_with(GRAPHQL_RESPONSE), "{ct}");
        // Edge refusals carry the negotiated type too.
        let resp = app
            .http
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", GRAPHQL_RESPONSE)
            .body("{ \"not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(GRAPHQL_RESPONSE));

        // application/json (also */* and no Accept): 200 with errors.
        for accept in [Some("application/json"), Some("*/*"), None] {
            for body in [&parse, &invalid] {
                let (status, ct, b) = post_accept(&app, body, accept).await;
                assert_eq!(status, 200, "{accept:?}: {b}");
                assert!(ct.starts_with("application/json"), "{ct}");
                assert_eq!(b["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
            }
        }
        // A field error is not a request error: 200 with data under both types.
        let (status, _, b) = post_accept(
            &app,
            &json!({ "query": "{ me { id } }" }),
            Some(GRAPHQL_RESPONSE),
        )
        .await;
        assert_eq!(status, 200, "{b}");
        assert!(b.get("data").is_some(), "{b}");

        // Nothing acceptable: 406.
        let (status, _, b) = post_accept(&app, &ok, Some("text/html")).await;
        assert_eq!(status, 406, "{b}");
        assert_eq!(b["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
);

/// The operations of the front end, from frontend/src/graphql/ops.ts: name → text.
fn frontend_documents() -> BTreeMap<String, String> {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/frontend/src/graphql/ops.ts"
    ))
    .unwrap();
    let mut docs = BTreeMap::new();
    for part in src.split("graphql(`").skip(1) {
        let text = part.split("`)").next().unwrap().trim().to_owned();
        let mut words = text.split_whitespace();
        let _kind = words.next().unwrap();
        let name = words
            .next()
            .unwrap()
            .split(['(', '{'])
            .next()
            .unwrap()
            .to_owned();
        docs.insert(name, text);
    }
    docs
}

/// A document with the fragments it uses, transitively.
fn with_fragments(docs: &BTreeMap<String, String>, text: &str) -> String {
    let mut out = text.to_owned();
    let mut added: Vec<String> = Vec::new();
    loop {
        let wanted: Vec<String> = out
            .split("...")
            .skip(1)
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty() && n != "on" && !added.contains(n))
            .collect();
        if wanted.is_empty() {
            return out;
        }
        for n in wanted {
            if !added.contains(&n) {
                out.push('\n');
                out.push_str(&docs[&n]);
                added.push(n);
            }
        }
    }
}

backend_tests!(
    page_sizes_count_in_the_cost_model,
    |backend: Backend| async move {
        let app = common::spawn_app(backend).await;
        let admin = app.login(ADMIN).await;
        let me = app.gql(Some(&admin), "{ me { id } }", json!({})).await.ok()["me"]["id"].clone();
        let uuid = json!("00000000-0000-4000-8000-000000000000");

        // Every query of the front end passes the limits, lists at their largest page.
        let docs = frontend_documents();
        let mut queries = 0;
        for text in docs.values().filter(|t| t.starts_with("query")) {
            let mut vars = serde_json::Map::new();
            for var in text.split('$').skip(1) {
                let name: String = var
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let required = var
                    .split([',', ')'])
                    .next()
                    .unwrap()
                    .trim_end()
                    .ends_with('!');
                let value = match name.as_str() {
                    "first" => json!(100),
                    "me" => me.clone(),
                    "id" | "caseId" => uuid.clone(),
                    "fiscalYear" => json!(2026),
                    "reference" => json!("AOM-2026-000001"),
                    "accessCode" => json!("ABCD-EFGH"),
                    "search" => json!("株式会社"),
                    "input" => json!({ "name": "照合テスト株式会社" }),
                    _ if !required => Value::Null,
                    other => panic!("no value for ${other} in {text}"),
                };
                vars.insert(name, value);
            }
            let r = app
                .gql(
                    Some(&admin),
                    &with_fragments(&docs, text),
                    Value::Object(vars),
                )
                .await;
            assert_eq!(r.status, 200, "{text}: {}", r.body);
            for e in r.body["errors"].as_array().into_iter().flatten() {
                assert_ne!(
                    e["extensions"]["code"], "BAD_USER_INPUT",
                    "{text}: {}",
                    r.body
                );
            }
            queries += 1;
        }
        assert!(queries >= 10, "found {queries} queries in ops.ts");

        // 30 aliases × a page of 100 cases is refused before it runs.
        let aliases: String = (0..30)
            .map(|i| {
                format!("a{i}: cases(first: 100) {{ edges {{ node {{ id reference title }} }} }} ")
            })
            .collect();
        let r = app
            .gql(Some(&admin), &format!("{{ {aliases} }}"), json!({}))
            .await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
        assert!(
            r.body["errors"][0]["extensions"]["messageEn"]
                .as_str()
                .unwrap()
                .contains("complex"),
            "{}",
            r.body
        );
        // The same through a variable, and for businesses.
        let q = format!(
            "query($n: Int) {{ {} }}",
            (0..30)
                .map(|i| format!("b{i}: businesses(first: $n) {{ id name corporateNumber }} "))
                .collect::<String>()
        );
        let r = app.gql(Some(&admin), &q, json!({ "n": 100 })).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
        // One page of 100 fits.
        let r = app
            .gql(
                Some(&admin),
                "{ cases(first: 100) { totalCount edges { node { id reference title } } } }",
                json!({}),
            )
            .await;
        r.ok();
    }
);
