//! `POST /graphql`: one operation per request (JSON-array batches refused), a body
//! size limit, an alias limit, the caller's identity and language, and errors
//! that always carry an `extensions.code`. `GET /graphql` is GraphiQL outside production.

use crate::auth;
use crate::graphql::{self, loaders, DxSchema, RequestCtx, MAX_ALIASES};
use crate::http::edge;
use crate::state::AppState;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql", get(graphiql).post(execute))
}

/// The language of the caller's messages: English when asked, Japanese otherwise.
pub use crate::domain::labels::Lang;

pub fn lang_of(headers: &HeaderMap) -> Lang {
    let v = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if v.trim_start().to_ascii_lowercase().starts_with("en") {
        Lang::En
    } else {
        Lang::Ja
    }
}

/// A request refused at the edge: `BAD_USER_INPUT` with the edge's own status.
fn error_response(status: StatusCode, lang: Lang, ja: &str, en: &str) -> Response {
    let body = crate::error::AppError::bad_input(None, ja, en).http_body(lang);
    (status, Json(body)).into_response()
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + walk(&f.node.selection_set.node)
                }
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| walk(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| walk(&f.node.selection_set.node))
        .sum();
    ops + frags
}

/// Whether the operation that runs is a query (not a mutation or subscription).
fn selects_query(doc: &ExecutableDocument, name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let ty = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|op| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    };
    ty == Some(OperationType::Query)
}

async fn execute(
    State(state): State<AppState>,
    Extension(schema): Extension<DxSchema>,
    req: Request<Body>,
) -> Response {
    let lang = lang_of(req.headers());
    let media = match edge::negotiate(req.headers()) {
        Ok(m) => m,
        Err(r) => return error_response(r.status, lang, &r.ja, &r.en),
    };
    if let Err(r) = edge::check_content_type(req.headers()) {
        return edge::finish(media, error_response(r.status, lang, &r.ja, &r.en));
    }
    edge::finish(media, run(state, schema, req, lang, media).await)
}

async fn run(
    state: AppState,
    schema: DxSchema,
    req: Request<Body>,
    lang: Lang,
    media: edge::Media,
) -> Response {
    let client = crate::http::client_ip::from_request(&state.config, &req);
    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match to_bytes(req.into_body(), crate::http::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                lang,
                "リクエストが大きすぎます（256KiBまで）。",
                "The request body is too large (256 KiB at most).",
            )
        }
    };
    if let Err(r) = edge::guard_body(&bytes) {
        return error_response(r.status, lang, &r.ja, &r.en);
    }
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                lang,
                "リクエスト本文がJSONとして読めません。{\"query\": \"…\", \"variables\": {…}} の形で送ってください。",
                "The request body is not valid JSON. Send {\"query\": \"…\", \"variables\": {…}}.",
            )
        }
    };
    if value.is_array() {
        return error_response(
            StatusCode::BAD_REQUEST,
            lang,
            "バッチ（JSON配列）のリクエストは受け付けていません。1回に1つの操作を送ってください。",
            "Batched (JSON array) requests are not accepted. Send one operation per request.",
        );
    }
    if let Err(r) = edge::guard_request(&value) {
        return error_response(r.status, lang, &r.ja, &r.en);
    }
    let has_query = value
        .get("query")
        .and_then(Value::as_str)
        .is_some_and(|q| !q.trim().is_empty());
    let parsed: Option<async_graphql::Request> = if has_query && edge::well_formed(&value) {
        serde_json::from_value(value).ok()
    } else {
        None
    };
    let Some(mut gql_req) = parsed else {
        return error_response(
            StatusCode::BAD_REQUEST,
            lang,
            "リクエストには文字列の query フィールドが必要です（variables はオブジェクト）。",
            "The request needs a string \"query\" field (and \"variables\" must be an object).",
        );
    };
    let mut operation = gql_req.operation_name.clone();
    let mut is_query = false;
    // Parsed once, or taken from the cache of earlier parses: the engine
    // executes this document (a parse error is left for the engine to report).
    let (doc, fresh) = match state.parsed.get(&gql_req.query) {
        Some(doc) => (Some(doc), false),
        None => (
            async_graphql::parser::parse_query(&gql_req.query)
                .ok()
                .map(std::sync::Arc::new),
            true,
        ),
    };
    if let Some(doc) = doc {
        if operation.is_none() {
            operation = match &doc.operations {
                async_graphql::parser::types::DocumentOperations::Single(_) => None,
                async_graphql::parser::types::DocumentOperations::Multiple(ops) => (ops.len() == 1)
                    .then(|| ops.keys().next().map(|n| n.to_string()))
                    .flatten(),
            };
        }
        if count_aliases(&doc) > MAX_ALIASES {
            return error_response(
                StatusCode::BAD_REQUEST,
                lang,
                &format!("エイリアスが多すぎます（1リクエスト{MAX_ALIASES}個まで）。"),
                &format!("Too many aliases (at most {MAX_ALIASES} per request)."),
            );
        }
        if fresh {
            state.parsed.put(&gql_req.query, doc.clone());
        }
        is_query = selects_query(&doc, operation.as_deref());
        gql_req.set_parsed_query(std::sync::Arc::unwrap_or_clone(doc));
    }
    // A query waits for one of a bounded number of turns (FIFO, within the
    // request timeout): answers are built in memory, and past the database
    // pool's size more at once only wait there while holding their half-built
    // answers. Mutations keep their own gates (intake queue, hash slots).
    let _turn = if is_query {
        // The semaphore is never closed: `ok()` only spells that out.
        state.queries.clone().acquire_owned().await.ok()
    } else {
        None
    };
    let authn = match auth::authenticate(&state, auth_header.as_deref()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "authentication lookup failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "errors": [{ "message": "内部エラーが発生しました。", "extensions": { "code": "INTERNAL" } }] })),
            )
                .into_response();
        }
    };
    let gql_req = gql_req
        .data(RequestCtx {
            authn,
            client,
            lang,
        })
        .data(loaders::new_loaders(state.store.clone()))
        .data(auth::service::session_family(
            &state,
            auth_header.as_deref(),
        ));
    let mut resp = schema.execute(gql_req).await;
    for err in &mut resp.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            // Parse, validation and limit errors from the GraphQL engine: the request is at fault.
            ext.set("code", "BAD_USER_INPUT");
            let en = err.message.clone();
            ext.set("messageEn", en.clone());
            err.message = format!("リクエストが正しくありません: {en}");
        }
        if lang == Lang::En {
            if let Some(async_graphql::Value::String(en)) = ext.get("messageEn") {
                err.message = en.clone();
            }
        }
    }
    let mut response = edge::graphql_response(media, resp);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(crate::metrics::Operation(
        operation.unwrap_or_else(|| "anonymous".to_owned()),
    ));
    response
}

async fn graphiql(State(state): State<AppState>) -> Response {
    if state.config.is_production() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let page = async_graphql::http::GraphiQLSource::build()
        .endpoint("/graphql")
        .finish();
    let mut r = Html(page).into_response();
    // GraphiQL needs inline scripts and its CDN; development only.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self' 'unsafe-inline' https:; img-src 'self' data: https:",
        ),
    );
    r
}

/// Adds the schema to the router.
pub fn with_schema(router: Router, state: &AppState) -> Router {
    router.layer(Extension(graphql::schema(Some(state.clone()))))
}
