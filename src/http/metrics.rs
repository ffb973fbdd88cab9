//! `/metrics` (Prometheus text format) behind `DXDESK_METRICS_TOKEN`, and the
//! middleware that times every request by GraphQL operation name.

use crate::metrics::Operation;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Instant;
use subtle::ConstantTimeEq;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The metrics, to the holder of the token; without a configured token the
/// endpoint does not exist (404), with a wrong one it is 401.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::service::bearer_token)
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "DXDESK_METRICS_TOKEN を Authorization: Bearer で送ってください。\n",
        )
            .into_response();
    }
    // The outbox backlog is the database's, so every instance reports the
    // same figures; a failed read leaves them out rather than failing the scrape.
    use crate::notify::worker::{LAST_SCAN_MS, LAST_SCAN_REFERRALS, SCANS};
    let read = |v: &std::sync::atomic::AtomicU64| {
        i64::try_from(v.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i64::MAX)
    };
    let mut extra: Vec<(&str, &str, i64)> = vec![
        (
            "outbox_scans_completed",
            "Reminder and escalation scans this instance has finished",
            read(&SCANS),
        ),
        (
            "outbox_scan_last_ms",
            "How long this instance's last reminder scan took (ms)",
            read(&LAST_SCAN_MS),
        ),
        (
            "outbox_scan_last_referrals",
            "Pending referrals with a notice due that the last scan read",
            read(&LAST_SCAN_REFERRALS),
        ),
    ];
    if let Ok(b) = state.store.outbox_backlog(state.now()).await {
        extra.extend([
            (
                "outbox_pending",
                "Outbox messages not yet delivered (all labs)",
                b.pending,
            ),
            ("outbox_due", "Outbox messages due for delivery now", b.due),
            (
                "outbox_failed",
                "Outbox messages that failed for good (shown to admins, retryable)",
                b.failed,
            ),
            (
                "outbox_oldest_due_seconds",
                "Seconds the longest-waiting due outbox message has been due",
                b.oldest_due_seconds,
            ),
        ]);
    }
    let body = crate::metrics::render(state.store.pool_stats(), &extra);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The label of a request that is not a GraphQL operation: its route family,
/// never the raw path (unbounded).
fn route_label(path: &str) -> &'static str {
    match path {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/graphql" => "graphql",
        p if p.starts_with("/api/") => "api",
        _ => "static",
    }
}

/// Times the request and counts it under its operation (set by `/graphql`).
pub async fn track(req: Request<Body>, next: Next) -> Response {
    let start = Instant::now();
    let route = route_label(req.uri().path());
    let res = next.run(req).await;
    let operation = res
        .extensions()
        .get::<Operation>()
        .map(|o| o.0.as_str())
        .unwrap_or(route);
    crate::metrics::observe_request(
        operation,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}
