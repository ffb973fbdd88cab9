//! The byte-level guards of `POST /graphql`, run before any recursive parser
//! sees the request: media types (GraphQL over HTTP), bracket nesting of the
//! JSON body and of the document (linear scans), and NUL in any string.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// Deepest bracket nesting accepted in the JSON body and in the document.
/// Real documents of the front end nest about 8 deep; parsers recurse per level.
pub const MAX_NESTING: usize = 64;

/// The media type of the answer, chosen from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: well-formed requests answer 200 even with GraphQL errors.
    Json,
    /// `application/graphql-response+json`: request errors answer 4xx without `data`.
    GraphqlResponse,
}

pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

impl Media {
    pub fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json"),
            Media::GraphqlResponse => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
        }
    }
}

/// Why the edge refused a request: the HTTP status and the message in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub ja: String,
    pub en: String,
}

impl Refusal {
    fn new(status: StatusCode, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            status,
            ja: ja.into(),
            en: en.into(),
        }
    }
}

/// `POST` must say it sends JSON: `application/json` or
/// `application/graphql-response+json`, in UTF-8 (the default). Anything else,
/// a missing type included, is 415, so that no HTML form or `text/plain`
/// fetch of another site can make a visitor's browser run a mutation.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let refuse = || {
        Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type は application/json（UTF-8）で送ってください。",
            "Send the request with Content-Type: application/json (UTF-8).",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let mime: mime::Mime = value.parse().map_err(|_| refuse())?;
    let json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON
            || (mime.subtype() == "graphql-response" && mime.suffix() == Some(mime::JSON)));
    let utf8 = mime
        .get_param(mime::CHARSET)
        .is_none_or(|c| c == mime::UTF_8);
    if json && utf8 {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// Picks the answer's media type from `Accept`: the one with the higher
/// quality, `application/graphql-response+json` on a tie only when named
/// explicitly (so `*/*` and a missing header mean `application/json`); 406
/// when neither is acceptable.
pub fn negotiate(headers: &HeaderMap) -> Result<Media, Refusal> {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let accept = accept.join(",");
    if accept.trim().is_empty() {
        return Ok(Media::Json);
    }
    // (quality, specificity) of the most specific range matching each type.
    let mut json = (0.0f32, 0u8);
    let mut gql = (0.0f32, 0u8);
    for range in accept.split(',').filter(|r| !r.trim().is_empty()) {
        let Ok(m) = range.trim().parse::<mime::Mime>() else {
            continue;
        };
        let q = m
            .get_param("q")
            .and_then(|q| q.as_str().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let app = m.type_() == mime::STAR || m.type_() == mime::APPLICATION;
        let specificity = match (m.type_() == mime::STAR, m.subtype() == mime::STAR) {
            (true, _) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        let consider = |slot: &mut (f32, u8)| {
            if specificity > slot.1 {
                *slot = (q, specificity);
            }
        };
        if !app {
            continue;
        }
        if m.subtype() == mime::STAR {
            consider(&mut json);
            consider(&mut gql);
        } else if m.subtype() == mime::JSON && m.suffix().is_none() {
            consider(&mut json);
        } else if m.subtype() == "graphql-response" && m.suffix() == Some(mime::JSON) {
            consider(&mut gql);
        }
    }
    let (qj, qg) = (json.0, gql.0);
    if qj <= 0.0 && qg <= 0.0 {
        return Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "Accept には application/json か application/graphql-response+json を含めてください。",
            "Accept must allow application/json or application/graphql-response+json.",
        ));
    }
    if qg > qj || (qg == qj && gql.1 == 3) {
        Ok(Media::GraphqlResponse)
    } else {
        Ok(Media::Json)
    }
}

/// The deepest nesting of `[` and `{` in JSON text, outside string literals.
/// Linear and allocation-free; unbalanced closers never go below zero.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_str, mut escaped) = (false, false);
    for &b in bytes {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// What a linear scan of a GraphQL document finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DocScan {
    /// The deepest nesting of `(`, `[` and `{` outside strings and comments.
    pub depth: usize,
    /// A NUL character: raw anywhere, or a `\u0000` escape in a string.
    pub nul: bool,
}

/// Scans a GraphQL document as its lexer would split it: `#` comments to the
/// end of the line, `"…"` strings with escapes (ending at a line break, where
/// the parser stops anyway) and `"""…"""` block strings (only `\"""` escaped).
pub fn scan_document(doc: &str) -> DocScan {
    let b = doc.as_bytes();
    let n = b.len();
    let (mut i, mut depth) = (0usize, 0usize);
    let mut scan = DocScan {
        nul: b.contains(&0),
        ..DocScan::default()
    };
    while i < n {
        match b[i] {
            b'#' => {
                while i < n && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < n {
                    if b[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if b[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                i += 1;
                while i < n {
                    match b[i] {
                        b'\\' => {
                            if b[i + 1..].starts_with(b"u0000") {
                                scan.nul = true;
                            }
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                scan.depth = scan.depth.max(depth);
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    scan
}

/// Whether any string of a JSON value (object keys included) holds a NUL.
/// Iterative, so it needs no bound on the depth.
pub fn json_has_nul(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, v) in map {
                    if k.contains('\0') {
                        return true;
                    }
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    false
}

fn too_deep() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        format!("リクエストの入れ子が深すぎます（括弧の入れ子は{MAX_NESTING}段まで）。"),
        format!("The request is nested too deeply (at most {MAX_NESTING} levels of brackets)."),
    )
}

fn has_nul() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "文字列にNUL文字（U+0000）は使えません。取り除いてから送り直してください。",
        "Strings must not contain the NUL character (U+0000). Remove it and send again.",
    )
}

/// The guard on the raw body, before it is parsed as JSON.
pub fn guard_body(bytes: &[u8]) -> Result<(), Refusal> {
    if json_depth(bytes) > MAX_NESTING {
        return Err(too_deep());
    }
    Ok(())
}

/// The guard on the parsed body, before the document is parsed: no NUL in
/// any string (query, operation name, variables), and the document's nesting.
pub fn guard_request(body: &Value) -> Result<(), Refusal> {
    if json_has_nul(body) {
        return Err(has_nul());
    }
    if let Some(query) = body.get("query").and_then(Value::as_str) {
        let scan = scan_document(query);
        if scan.depth > MAX_NESTING {
            return Err(too_deep());
        }
        if scan.nul {
            return Err(has_nul());
        }
    }
    Ok(())
}

/// Whether the optional members of a request have their types (GraphQL over
/// HTTP): `operationName` a string, `variables` and `extensions` maps, each
/// possibly `null`.
pub fn well_formed(body: &Value) -> bool {
    let is = |key: &str, ok: fn(&Value) -> bool| body.get(key).is_none_or(|v| v.is_null() || ok(v));
    is("operationName", Value::is_string)
        && is("variables", Value::is_object)
        && is("extensions", Value::is_object)
}

/// The answer to an executed request. A request error (parse, validation,
/// variables: no `data`, no error with a `path`) answers 400 without `data`
/// under `application/graphql-response+json`, 200 under `application/json`.
pub fn graphql_response(media: Media, resp: async_graphql::Response) -> Response {
    let request_error = resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty());
    if media == Media::GraphqlResponse && request_error {
        let mut body = serde_json::to_value(&resp).unwrap_or(Value::Null);
        if let Some(map) = body.as_object_mut() {
            map.remove("data");
        }
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    // Written straight from the engine's values: a detour through
    // `serde_json::Value` cost about a tenth of the server's CPU on a page.
    (StatusCode::OK, Json(resp)).into_response()
}

/// Gives every answer the negotiated media type.
pub fn finish(media: Media, mut response: Response) -> Response {
    if media == Media::GraphqlResponse {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, media.content_type());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ct(v: &str) -> Result<(), Refusal> {
        check_content_type(&headers(&[(header::CONTENT_TYPE, v)]))
    }

    fn accept(v: &str) -> Result<Media, StatusCode> {
        negotiate(&headers(&[(header::ACCEPT, v)])).map_err(|r| r.status)
    }

    #[test]
    fn content_types() {
        assert!(ct("application/json").is_ok());
        assert!(ct("application/json; charset=utf-8").is_ok());
        assert!(ct("Application/JSON;charset=UTF-8").is_ok());
        assert!(ct("application/graphql-response+json").is_ok());
        for bad in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/graphql",
            "application/json; charset=latin1",
            "application/jsonx",
            "garbage",
        ] {
            assert_eq!(
                ct(bad).unwrap_err().status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{bad}"
            );
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn accept_picks_the_media_type() {
        assert_eq!(negotiate(&HeaderMap::new()), Ok(Media::Json));
        assert_eq!(accept("*/*"), Ok(Media::Json));
        assert_eq!(accept("application/*"), Ok(Media::Json));
        assert_eq!(accept("application/json"), Ok(Media::Json));
        assert_eq!(accept(GRAPHQL_RESPONSE), Ok(Media::GraphqlResponse));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Ok(Media::GraphqlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Ok(Media::GraphqlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json;q=0.5"),
            Ok(Media::Json)
        );
        assert_eq!(accept("text/html, */*;q=0.1"), Ok(Media::Json));
        assert_eq!(accept("text/html"), Err(StatusCode::NOT_ACCEPTABLE));
        assert_eq!(
            accept("application/json;q=0"),
            Err(StatusCode::NOT_ACCEPTABLE)
        );
        assert_eq!(accept("application/xml"), Err(StatusCode::NOT_ACCEPTABLE));
    }

    #[test]
    fn json_depth_counts_brackets_outside_strings() {
        assert_eq!(json_depth(b""), 0);
        assert_eq!(json_depth(b"{}"), 1);
        assert_eq!(json_depth(br#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(json_depth(br#"{"a":"[[[[{{{{"}"#), 1);
        assert_eq!(json_depth(br#"{"a":"\"[[[["}"#), 1);
        assert_eq!(json_depth(br#"["\\",[]]"#), 2);
        assert_eq!(json_depth(b"]]]]][["), 2);
        let deep = "[".repeat(2000);
        assert_eq!(json_depth(deep.as_bytes()), 2000);
    }

    #[test]
    fn document_scan_skips_strings_and_comments() {
        let s = |d: &str| scan_document(d);
        assert_eq!(s("{ a { b } }").depth, 2);
        assert_eq!(s(r#"{ a(x: "((([[[{{{") }"#).depth, 2);
        assert_eq!(s(r#"{ a(x: "\"(((") }"#).depth, 2);
        assert_eq!(s("{ a # ((((((\n }").depth, 1);
        assert_eq!(s(r#"{ a(x: """ (((( \""" [[[ """) }"#).depth, 2);
        assert_eq!(s("{ a(x: [[[1]]]) }").depth, 5);
        assert_eq!(s(r#"{ a(x: {b: {c: 1}}) }"#).depth, 4);
        // An unterminated string ends at the line break, as for the parser.
        assert_eq!(s("{ a(x: \"abc\n [[[ ]]] ) }").depth, 5);
        let deep = format!("{{caseByReference(reference:{}){{id}}}}", "[".repeat(2000));
        assert!(s(&deep).depth > MAX_NESTING);
    }

    #[test]
    fn document_scan_finds_nul() {
        assert!(!scan_document(r#"{ a(x: "ok") }"#).nul);
        assert!(scan_document(r#"{ a(x: "a\u0000b") }"#).nul);
        assert!(scan_document("{ a(x: \"a\0b\") }").nul);
        assert!(scan_document("{ a(x: \"\"\"a\0b\"\"\") }").nul);
        // An escaped backslash followed by `u0000` is text, not NUL.
        assert!(!scan_document(r#"{ a(x: "a\\u0000b") }"#).nul);
        // In a block string `\u0000` is text.
        assert!(!scan_document(r#"{ a(x: """a\u0000b""") }"#).nul);
        assert!(!scan_document(r#"{ a(x: "\u0001") }"#).nul);
    }

    #[test]
    fn nul_in_any_json_string() {
        assert!(!json_has_nul(&serde_json::json!({"a": ["b", {"c": "d"}]})));
        assert!(json_has_nul(
            &serde_json::json!({"a": ["b", {"c": "d\u{0}"}]})
        ));
        assert!(json_has_nul(&serde_json::json!({"a\u{0}": 1})));
    }

    #[test]
    fn guards_refuse_deep_bodies_and_documents() {
        let body = format!(
            "{{\"query\":\"{{a}}\",\"variables\":{{\"x\":{}}}}}",
            "[".repeat(65)
        );
        assert!(guard_body(body.as_bytes()).is_err());
        let ok = format!("{{\"v\":{}1{}}}", "[".repeat(63), "]".repeat(63));
        assert!(guard_body(ok.as_bytes()).is_ok());
        let doc = format!("{{a(x:{}1{})}}", "[".repeat(63), "]".repeat(63));
        assert!(guard_request(&serde_json::json!({ "query": doc })).is_err());
        let doc = format!("{{a(x:{}1{})}}", "[".repeat(62), "]".repeat(62));
        assert!(guard_request(&serde_json::json!({ "query": doc })).is_ok());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(12, 128, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn depth_of(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(depth_of).max().unwrap_or(0),
            Value::Object(m) => 1 + m.values().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// A GraphQL string literal for `s`.
    fn gql_string(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    proptest! {
        #[test]
        fn json_depth_matches_the_parsed_value(v in json_value()) {
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(json_depth(text.as_bytes()), depth_of(&v));
        }

        #[test]
        fn scans_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = json_depth(&bytes);
            let _ = scan_document(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn string_contents_never_count(s in any::<String>()) {
            let doc = format!("{{ a(x: {}) {{ b }} }}", gql_string(&s));
            let scan = scan_document(&doc);
            prop_assert_eq!(scan.depth, 2);
            prop_assert_eq!(scan.nul, s.contains('\0'));
            let block = format!("{{ a(x: \"\"\"{}\"\"\") }}", s.replace("\"\"\"", "\\\"\"\""));
            prop_assert_eq!(scan_document(&block).depth, 2);
        }

        #[test]
        fn nesting_is_counted_exactly(kinds in prop::collection::vec(0u8..3, 0..200)) {
            let open: String = kinds.iter().map(|k| ['(', '[', '{'][*k as usize]).collect();
            let close: String = kinds.iter().rev().map(|k| [')', ']', '}'][*k as usize]).collect();
            let doc = format!("{open}x{close}");
            prop_assert_eq!(scan_document(&doc).depth, kinds.len());
        }
    }
}
