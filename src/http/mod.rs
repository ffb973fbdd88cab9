//! The HTTP surface: one router merging `/graphql`, the health checks and the
//! static front end, with request ids, tracing, body limits and security headers.

pub mod business_export;
pub mod client_ip;
pub mod edge;
pub mod graphql;
pub mod health;
pub mod idempotency;
pub mod live;
pub mod metrics;
pub mod parse_cache;
pub mod reports;
pub mod static_files;

use crate::state::AppState;
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted (a GraphQL document with its variables).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id))
        // API answers and report downloads, compressed per request (fast
        // levels); the front end's files carry their build-time copies, which
        // this layer leaves as they are (it skips an encoded response).
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .quality(tower_http::CompressionLevel::Fastest),
        )
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.conn.request_timeout,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    let app = Router::new()
        .merge(
            graphql::router().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                idempotency::guard,
            )),
        )
        .merge(live::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(reports::router())
        .merge(business_export::router())
        .merge(static_files::router())
        .with_state(state.clone());
    graphql::with_schema(app, &state)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(middleware)
}
