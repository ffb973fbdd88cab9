//! Over HTTP: sign-in, tokens, refresh rotation and reuse detection,
//! deactivation, throttling, request limits and the admin guard — on both backends.

use crate::backend_tests;
use crate::common;

use common::{spawn_app, Backend, TestApp, PASSWORD};
use serde_json::json;

const ME: &str = "{ me { id email role } }";

async fn me_code(app: &TestApp, token: &str) -> Option<String> {
    app.gql(Some(token), ME, json!({}))
        .await
        .code()
        .map(str::to_owned)
}

backend_tests!(login_success_and_same_error_for_unknown_email);

async fn login_success_and_same_error_for_unknown_email(b: Backend) {
    let app = spawn_app(b).await;
    let ok = app
        .login_payload("concierge@aomori.example", PASSWORD)
        .await;
    let data = ok.ok();
    assert_eq!(data["login"]["user"]["role"], "CONCIERGE");
    let token = data["login"]["accessToken"].as_str().unwrap();
    let me = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(me.ok()["me"]["email"], "concierge@aomori.example");

    let wrong = app
        .login_payload("concierge@aomori.example", "nope-nope-nope")
        .await;
    let unknown = app
        .login_payload("nobody@aomori.example", "nope-nope-nope")
        .await;
    assert_eq!(wrong.code(), Some("UNAUTHENTICATED"));
    assert_eq!(unknown.code(), Some("UNAUTHENTICATED"));
    assert_eq!(wrong.message(), unknown.message(), "{b:?}: same error");
    // Emails are case-insensitive.
    let upper = app
        .login_payload("Concierge@Aomori.Example", PASSWORD)
        .await;
    upper.ok();
}

backend_tests!(bad_tokens_are_refused);

async fn bad_tokens_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let user = app
        .state
        .store
        .user_by_email("concierge@aomori.example")
        .await
        .unwrap()
        .unwrap();
    // A real session family, so only the expiry is wrong.
    let good = app
        .login_payload("concierge@aomori.example", PASSWORD)
        .await;
    let good_token = good.ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = app.state.jwt.verify(&good_token).unwrap();
    let family: uuid::Uuid = claims.sid.parse().unwrap();

    let expired = app
        .state
        .jwt
        .issue(user.id, family, chrono::Utc::now().timestamp() - 3600)
        .unwrap();
    assert_eq!(
        me_code(&app, &expired).await.as_deref(),
        Some("UNAUTHENTICATED")
    );

    let other = dxdesk::auth::jwt::JwtKeys::from_secret(b"some-other-secret-some-other-secret!!")
        .issue(user.id, family, chrono::Utc::now().timestamp())
        .unwrap();
    assert_eq!(
        me_code(&app, &other).await.as_deref(),
        Some("UNAUTHENTICATED")
    );

    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(
            json!({"sub": user.id.to_string(), "iss": "dxdesk", "aud": "dxdesk-api",
                   "exp": chrono::Utc::now().timestamp() + 600, "iat": 0, "sid": family.to_string()})
            .to_string()
        )
    );
    assert_eq!(
        me_code(&app, &none).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, "garbage").await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(me_code(&app, &good_token).await, None);
}

backend_tests!(refresh_rotates_and_reuse_revokes_the_family);

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    const REFRESH: &str =
        "mutation($t:String!){ refreshSession(refreshToken:$t){ accessToken refreshToken } }";
    let app = spawn_app(b).await;
    let first = app.login_payload("admin@aomori.example", PASSWORD).await;
    let r1 = first.ok()["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = app.gql(None, REFRESH, json!({ "t": r1 })).await;
    let r2 = second.ok()["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = second.ok()["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    assert_eq!(me_code(&app, &a2).await, None);

    // Presenting r1 again: reuse → the whole family ends, r2 and a2 included.
    let reuse = app.gql(None, REFRESH, json!({ "t": r1 })).await;
    assert_eq!(reuse.code(), Some("UNAUTHENTICATED"), "{b:?}");
    let after = app.gql(None, REFRESH, json!({ "t": r2 })).await;
    assert_eq!(after.code(), Some("UNAUTHENTICATED"));
    assert_eq!(me_code(&app, &a2).await.as_deref(), Some("UNAUTHENTICATED"));
}

backend_tests!(logout_ends_the_session);

async fn logout_ends_the_session(b: Backend) {
    let app = spawn_app(b).await;
    let p = app
        .login_payload("concierge@aomori.example", PASSWORD)
        .await;
    let access = p.ok()["login"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = p.ok()["login"]["refreshToken"].as_str().unwrap().to_owned();
    let out = app
        .gql(
            Some(&access),
            "mutation($t:String!){ logout(refreshToken:$t) }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(out.ok()["logout"], true);
    assert_eq!(
        me_code(&app, &access).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    let again = app
        .gql(
            None,
            "mutation($t:String!){ refreshSession(refreshToken:$t){ accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(again.code(), Some("UNAUTHENTICATED"));
}

backend_tests!(deactivated_user_is_refused_at_the_next_request);

async fn deactivated_user_is_refused_at_the_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.login("admin@aomori.example").await;
    let concierge = app.login("concierge@aomori.example").await;
    let users = app
        .gql(Some(&admin), "{ users { id email } }", json!({}))
        .await;
    let id = users.ok()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "concierge@aomori.example")
        .unwrap()["id"]
        .clone();
    let r = app
        .gql(
            Some(&admin),
            "mutation($id:ID!){ deactivateUser(id:$id){ active } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.ok()["deactivateUser"]["active"], false);
    assert_eq!(
        me_code(&app, &concierge).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    let login = app
        .login_payload("concierge@aomori.example", PASSWORD)
        .await;
    assert_eq!(login.code(), Some("UNAUTHENTICATED"));
}

backend_tests!(failed_logins_are_throttled_per_account);

async fn failed_logins_are_throttled_per_account(b: Backend) {
    let app = spawn_app(b).await;
    for _ in 0..10 {
        let r = app
            .login_payload("partner.bank@aomori.example", "wrong-password")
            .await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"));
    }
    let limited = app
        .login_payload("partner.bank@aomori.example", PASSWORD)
        .await;
    assert_eq!(
        limited.code(),
        Some("RATE_LIMITED"),
        "{b:?}: {}",
        limited.body
    );
    let retry = limited.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    // The count lives in the database: after the window the account works again.
    app.clock.advance(chrono::Duration::minutes(16));
    let p = app
        .login_payload("partner.bank@aomori.example", PASSWORD)
        .await;
    p.ok();
}

#[tokio::test]
async fn request_shape_limits() {
    let app = spawn_app(common::Backend::Sqlite).await;
    // A JSON-array batch.
    let batch = app
        .post_raw(
            r#"[{"query":"{ me { id } }"},{"query":"{ me { id } }"}]"#,
            "application/json",
        )
        .await;
    assert_eq!(batch.status, 400);
    assert_eq!(batch.code(), Some("BAD_USER_INPUT"));
    // A malformed body: a 4xx with a clear error, never a 5xx.
    for body in ["{not json", "", "42", r#"{"variables":{}}"#] {
        let r = app.post_raw(body, "application/json").await;
        assert_eq!(r.status, 400, "body {body:?}");
        assert_eq!(r.code(), Some("BAD_USER_INPUT"));
        assert!(r.message().unwrap().chars().count() > 10);
    }
    // Too deep.
    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
    let r = app.gql(None, deep, json!({})).await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    // Too many aliases.
    let many: String = (0..40)
        .map(|i| format!("a{i}: publicLabs {{ code }} "))
        .collect();
    let r = app.gql(None, &format!("{{ {many} }}"), json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), Some("BAD_USER_INPUT"));
    // A syntax error names no internals.
    let r = app.gql(None, "{ me { id ", json!({})).await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"));
    // A body over the limit.
    let huge = format!(
        r#"{{"query":"{{ me {{ id }} }}","variables":{{"x":"{}"}}}}"#,
        "x".repeat(300_000)
    );
    let r = app.post_raw(&huge, "application/json").await;
    assert_eq!(r.status, 413);
}

backend_tests!(admin_only_operations_are_forbidden_to_a_concierge);

async fn admin_only_operations_are_forbidden_to_a_concierge(b: Backend) {
    let app = spawn_app(b).await;
    let concierge = app.login("concierge@aomori.example").await;
    let r = app
        .gql(
            Some(&concierge),
            r#"mutation { createUser(input:{email:"x@aomori.example", displayName:"X", password:"long-enough-pw", role: CONCIERGE}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{b:?}");
    let r = app
        .gql(Some(&concierge), "{ users { id } }", json!({}))
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"));
    let r = app.gql(None, "{ institutions { id } }", json!({})).await;
    assert_eq!(r.code(), Some("UNAUTHENTICATED"));
}

backend_tests!(admin_manages_users_and_institutions_in_its_own_lab);

async fn admin_manages_users_and_institutions_in_its_own_lab(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.login("admin@aomori.example").await;
    let koda = app.login("admin@koda.example").await;
    let created = app
        .gql(
            Some(&admin),
            r#"mutation { createInstitution(input:{name:"テスト支援機関", kind: IT_VENDOR, tags:["EC","AI"], regions:["SANPACHI"]}) { id name tags regions active } }"#,
            json!({}),
        )
        .await;
    let inst = created.ok()["createInstitution"].clone();
    assert_eq!(inst["regions"], json!(["SANPACHI"]));
    let dup = app
        .gql(
            Some(&admin),
            r#"mutation { createInstitution(input:{name:"テスト支援機関", kind: OTHER}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(dup.code(), Some("CONFLICT"));
    let bad = app
        .gql(Some(&admin), r#"mutation { createInstitution(input:{name:"別", kind: OTHER, regions:["NOPE"]}) { id } }"#, json!({}))
        .await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"));
    assert_eq!(bad.body["errors"][0]["extensions"]["field"], "regions");
    // Another lab's admin cannot see or edit it.
    let other = app
        .gql(
            Some(&koda),
            "mutation($id:ID!){ updateInstitution(id:$id, input:{active:false}) { id } }",
            json!({ "id": inst["id"] }),
        )
        .await;
    assert_eq!(other.code(), Some("NOT_FOUND"));
    let list = app
        .gql(Some(&koda), "{ institutions { name } }", json!({}))
        .await;
    assert!(!list.body.to_string().contains("テスト支援機関"));
    let off = app
        .gql(
            Some(&admin),
            "mutation($id:ID!){ updateInstitution(id:$id, input:{active:false, tags:[\"IoT\"]}) { active tags } }",
            json!({ "id": inst["id"] }),
        )
        .await;
    assert_eq!(
        off.ok()["updateInstitution"],
        json!({ "active": false, "tags": ["IoT"] })
    );
    // A partner user needs an institution; a weak password is refused with its field.
    let weak = app
        .gql(
            Some(&admin),
            r#"mutation { createUser(input:{email:"p@aomori.example", displayName:"P", password:"short", role: CONCIERGE}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(weak.body["errors"][0]["extensions"]["field"], "password");
    let partner = app
        .gql(
            Some(&admin),
            "mutation($i:ID!){ createUser(input:{email:\"p2@aomori.example\", displayName:\"P\", password:\"long-enough-pw\", role: PARTNER, institutionId:$i}) { role institution { name } } }",
            json!({ "i": inst["id"] }),
        )
        .await;
    assert_eq!(
        partner.ok()["createUser"]["institution"]["name"],
        "テスト支援機関"
    );
}

#[tokio::test]
async fn english_messages_on_request_and_no_internals_leak() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let r = app
        .http
        .post(app.url("/graphql"))
        .header("accept-language", "en-US,en;q=0.9")
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "You need to sign in. Please sign in again."
    );
    let text = body.to_string();
    for leak in ["SELECT", "sqlx", ".rs", "panicked"] {
        assert!(!text.contains(leak));
    }
}

#[tokio::test]
async fn health_and_security_headers() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let h = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = app.http.get(app.url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.headers().contains_key("x-request-id"));
}
