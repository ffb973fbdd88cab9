//! `Idempotency-Key` on `POST /graphql` mutations, after Stripe's rules: a key is
//! kept 24 hours per caller (the signed-in user, or an anonymous caller's
//! address); the same key with the same body replays the stored answer
//! (`Idempotent-Replayed: true`), with another body it is a `CONFLICT`, and while
//! the first request still runs a retryable `CONFLICT`. Keys live in the
//! database, so every instance sees them. An execution that fails for a reason
//! a retry could fix (internal error, rate limit, sign-in) releases its key —
//! unless it had committed a write: the claim is marked executed inside the
//! mutation's own transactions, so a claim whose answer was lost in a crash is
//! never run again (the retry learns it was carried out).

use crate::http::graphql::{lang_of, Lang};
use crate::state::AppState;
use crate::store::idempotency::{CurrentClaim, CURRENT};
use crate::store::{IdemClaim, IdemKey, IdemRow, SharedStore};
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// The request header carrying the key.
pub const HEADER: &str = "idempotency-key";
/// Set on an answer replayed from a stored key.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is kept.
pub const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// Past the request time-out by this much, an unanswered claim's instance is gone.
pub const ABANDONED_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Largest answer stored (a mutation's answer is a few KiB).
const MAX_STORED_ANSWER: usize = 4 * 1024 * 1024;

/// The key if it is 1–255 printable ASCII characters.
pub fn valid_key(raw: &HeaderValue) -> Option<&str> {
    let bytes = raw.as_bytes();
    let ok =
        (1..=MAX_KEY_LEN).contains(&bytes.len()) && bytes.iter().all(|b| (0x20..0x7f).contains(b));
    ok.then(|| raw.to_str().ok()).flatten()
}

/// Whether the operation a GraphQL document runs is a mutation: the named one
/// (`operationName`), or else any. A linear scan of the top-level definitions,
/// so it is safe on documents of any nesting (no recursive parse).
pub fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let b = query.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    // The top-level names of the definition being read, and whether the next name follows '@'.
    let mut header: Vec<&str> = Vec::new();
    let mut directive = false;
    let mut ops: Vec<(bool, Option<&str>)> = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                    i += if b[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            b'{' | b'(' | b'[' => {
                if depth == 0 && c == b'{' {
                    // A definition's selection set starts: its header is complete.
                    match header.first().copied() {
                        Some("mutation") => ops.push((true, header.get(1).copied())),
                        Some("fragment") => {}
                        Some(_) => ops.push((false, header.get(1).copied())),
                        None => ops.push((false, None)),
                    }
                    header.clear();
                }
                depth += 1;
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            b'@' if depth == 0 => directive = true,
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                if depth == 0 {
                    if !directive {
                        header.push(&query[start..i]);
                    }
                    directive = false;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    match operation_name {
        Some(name) => ops.iter().any(|(m, n)| *m && *n == Some(name)),
        None => ops.iter().any(|(m, _)| *m),
    }
}

/// Whether an answer may be kept for replay: not when a retry could succeed
/// (server errors, time-outs, rate limits, a sign-in problem).
pub fn storable(status: StatusCode, body: &[u8]) -> bool {
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let errors = v.get("errors").and_then(Value::as_array);
    !errors.into_iter().flatten().any(|e| {
        let ext = &e["extensions"];
        matches!(
            ext["code"].as_str(),
            Some("INTERNAL" | "RATE_LIMITED" | "UNAUTHENTICATED")
        ) || ext["retryable"] == Value::Bool(true)
    })
}

/// Whose keys these are: the user a valid access token names, else the client
/// address (as the proxy configuration says to read it).
fn scope_of(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::service::bearer_token);
    if let Some(claims) = token.and_then(|t| state.jwt.verify(t).ok()) {
        return format!("user:{}", claims.sub);
    }
    match peer {
        Some(p) => format!(
            "anon:{}",
            crate::http::client_ip::from_parts(&state.config, p.ip(), headers)
        ),
        None => "anon:unknown".to_owned(),
    }
}

fn error(
    status: StatusCode,
    lang: Lang,
    code: &str,
    ja: &str,
    en: &str,
    retryable: bool,
) -> Response {
    let message = if lang == Lang::En { en } else { ja };
    let mut ext = json!({ "code": code, "messageEn": en });
    if retryable {
        ext["retryable"] = Value::Bool(true);
        ext["retryAfter"] = json!(1);
    }
    let mut r = (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": ext }] })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if retryable {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn replay(row: IdemRow) -> Response {
    let status = u16::try_from(row.status.unwrap_or(200))
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = row
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/json"));
    let mut r = Response::new(Body::from(row.body.unwrap_or_default()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static(REPLAYED),
        HeaderValue::from_static("true"),
    );
    r
}

/// Releases the claim if the execution is abandoned (the request timed out or
/// the client went away before an answer was stored).
struct Claim {
    store: SharedStore,
    scope: String,
    key: String,
    claim_id: String,
    settled: bool,
}

impl Claim {
    fn key(&self) -> IdemKey<'_> {
        IdemKey {
            scope: &self.scope,
            key: &self.key,
            claim_id: &self.claim_id,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let store = self.store.clone();
        let (scope, key, claim_id) = (
            std::mem::take(&mut self.scope),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.claim_id),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let k = IdemKey {
                    scope: &scope,
                    key: &key,
                    claim_id: &claim_id,
                };
                if let Err(e) = store.idem_release(k).await {
                    tracing::warn!(error = ?e, "releasing an abandoned idempotency key failed");
                }
            });
        }
    }
}

/// The middleware on `/graphql` (see the module doc).
pub async fn guard(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    let lang = lang_of(req.headers());
    let Some(key) = valid_key(&raw).map(str::to_owned) else {
        return error(
            StatusCode::BAD_REQUEST,
            lang,
            "BAD_USER_INPUT",
            "Idempotency-Key ヘッダーは1〜255文字の半角英数字・記号で送ってください（例: UUID）。",
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters (e.g. a UUID).",
            false,
        );
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, crate::http::MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            lang,
            "BAD_USER_INPUT",
            "リクエストが大きすぎます（256KiBまで）。",
            "The request body is too large (256 KiB at most).",
            false,
        );
    };
    let mutation = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            let q = v.get("query")?.as_str()?.to_owned();
            let op = v
                .get("operationName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Some(is_mutation(&q, op.as_deref()))
        })
        .unwrap_or(false);
    if !mutation {
        // Queries are idempotent already; a key on them is ignored.
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut claim = Claim {
        store: state.store.clone(),
        scope: scope_of(&state, &parts.headers, peer),
        key,
        claim_id: uuid::Uuid::new_v4().to_string(),
        settled: true,
    };
    let hash = hex::encode(Sha256::digest(&bytes));
    let now = state.now();
    // A live instance answers or drops a request within the request time-out.
    let abandoned = chrono::TimeDelta::from_std(state.config.conn.request_timeout)
        .unwrap_or(chrono::TimeDelta::seconds(30))
        + ABANDONED_MARGIN;
    match state
        .store
        .idem_claim(claim.key(), &hash, now, now - KEEP, now - abandoned)
        .await
    {
        Ok(IdemClaim::Claimed) => claim.settled = false,
        Ok(IdemClaim::Existing(row)) if row.request_hash != hash => {
            return error(
                StatusCode::CONFLICT,
                lang,
                "CONFLICT",
                "この Idempotency-Key は別の内容のリクエストに使われています。新しい操作には新しいキーを使ってください。",
                "This Idempotency-Key was used for a different request. Use a new key for a new action.",
                false,
            );
        }
        Ok(IdemClaim::Existing(row)) if row.status.is_some() => return replay(row),
        Ok(IdemClaim::Existing(row)) if row.executed && row.created_at < now - abandoned => {
            return error(
                StatusCode::CONFLICT,
                lang,
                "CONFLICT",
                "この操作は実行済みですが、結果をお返しする前にサーバーが停止しました。やり直さずに、一覧で結果を確認してください。",
                "This action was carried out, but the server stopped before it could answer. Do not repeat it: look up the result in the list.",
                false,
            );
        }
        Ok(IdemClaim::Existing(_)) => {
            return error(
                StatusCode::CONFLICT,
                lang,
                "CONFLICT",
                "同じ Idempotency-Key のリクエストを処理中です。少し待ってからもう一度お試しください。",
                "A request with this Idempotency-Key is still being processed. Try again shortly.",
                true,
            );
        }
        Err(e) => {
            tracing::error!(error = ?e, "claiming an idempotency key failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "INTERNAL",
                "内部エラーが発生しました。しばらくしてからもう一度お試しください。",
                "An internal error occurred. Please try again later.",
                false,
            );
        }
    }
    let current = CurrentClaim {
        scope: claim.scope.clone(),
        key: claim.key.clone(),
        claim_id: claim.claim_id.clone(),
    };
    let resp = CURRENT
        .scope(
            current,
            next.run(Request::from_parts(parts, Body::from(bytes))),
        )
        .await;
    let (rparts, rbody) = resp.into_parts();
    let Ok(answer) = to_bytes(rbody, MAX_STORED_ANSWER).await else {
        // Cannot keep it: let a retry run again (the claim is released on drop).
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            "INTERNAL",
            "内部エラーが発生しました。しばらくしてからもう一度お試しください。",
            "An internal error occurred. Please try again later.",
            false,
        );
    };
    let stored = if storable(rparts.status, &answer) {
        let content_type = rparts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        state
            .store
            .idem_complete(
                claim.key(),
                i64::from(rparts.status.as_u16()),
                content_type,
                &String::from_utf8_lossy(&answer),
            )
            .await
    } else {
        state.store.idem_release(claim.key()).await
    };
    if let Err(e) = stored {
        // The answer still goes out; the key stays claimed until it counts as abandoned.
        tracing::warn!(error = ?e, "storing an idempotency answer failed");
    }
    claim.settled = true;
    Response::from_parts(rparts, Body::from(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_printable_ascii() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(valid_key(&v("abc-123")), Some("abc-123"));
        assert_eq!(valid_key(&v(&"k".repeat(255))).map(str::len), Some(255));
        assert_eq!(valid_key(&v(&"k".repeat(256))), None);
        assert_eq!(valid_key(&v("")), None);
        assert_eq!(valid_key(&v("tab\there")), None);
        assert_eq!(
            valid_key(&HeaderValue::from_bytes("キー".as_bytes()).unwrap()),
            None
        );
    }

    #[test]
    fn finds_the_mutation_without_parsing() {
        assert!(is_mutation("mutation { openCase(input:{}) { id } }", None));
        assert!(is_mutation(
            "# a comment { \n mutation Open($i: OpenCaseInput! = {a: \"{\"}) @x { openCase(input:$i){id} }",
            None
        ));
        assert!(!is_mutation("{ me { id } }", None));
        assert!(!is_mutation("query Q { mutation: me { id } }", None));
        assert!(!is_mutation(
            "query \"\"\"mutation {\"\"\" { me { id } }",
            None
        ));
        let two = "query A { me { id } } mutation B { logout }";
        assert!(is_mutation(two, Some("B")));
        assert!(!is_mutation(two, Some("A")));
        assert!(!is_mutation(
            "fragment F on Case { id } query { me { id } }",
            None
        ));
        let deep = format!("{}{}", "{".repeat(100_000), "}".repeat(100_000));
        assert!(!is_mutation(&deep, None));
    }

    #[test]
    fn only_answers_a_retry_cannot_change_are_kept() {
        let ok = br#"{"data":{"openCase":{"id":"1"}}}"#;
        assert!(storable(StatusCode::OK, ok));
        let bad =
            br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"BAD_USER_INPUT"}}]}"#;
        assert!(storable(StatusCode::OK, bad));
        for code in ["INTERNAL", "RATE_LIMITED", "UNAUTHENTICATED"] {
            let body =
                format!(r#"{{"errors":[{{"message":"x","extensions":{{"code":"{code}"}}}}]}}"#);
            assert!(!storable(StatusCode::OK, body.as_bytes()), "{code}");
        }
        assert!(!storable(StatusCode::SERVICE_UNAVAILABLE, ok));
        assert!(!storable(StatusCode::REQUEST_TIMEOUT, ok));
        assert!(!storable(StatusCode::OK, b"not json"));
    }
}
