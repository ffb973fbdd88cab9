//! Prometheus metrics: requests and their latency by GraphQL operation name,
//! database pool use, rate-limit refusals; served at `/metrics` when
//! `DXDESK_METRICS_TOKEN` is set (a Bearer token guards it), else not at all.
//!
//! The counters are this process's own (each instance is scraped on its own,
//! as Prometheus expects); nothing another instance needs lives here.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// Distinct operation names kept as label values; later ones count as `other`,
/// so a client that invents names cannot grow the metrics without bound.
const MAX_OPERATIONS: usize = 200;

/// The GraphQL operation a response answered, set by `/graphql` in the
/// response's extensions for the metrics middleware.
#[derive(Clone, Debug)]
pub struct Operation(pub String);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// Gauges read at scrape time from whoever owns the figure (the pool, the outbox).
pub type Probe = Box<dyn Fn() -> i64 + Send + Sync>;

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    refusals: Family<LimitLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    names: Mutex<HashSet<String>>,
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut registry = Registry::with_prefix("dxdesk");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by GraphQL operation (or route) and status",
            requests.clone(),
        );
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by GraphQL operation (or route)",
            latency.clone(),
        );
        let refusals = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a throttle (RATE_LIMITED), by limit",
            refusals.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections: in_use, idle, max",
            pool.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            refusals,
            pool,
            names: Mutex::new(HashSet::new()),
        }
    })
}

/// The label for an operation name: itself when it is a GraphQL name of at
/// most 64 characters and one of the first [`MAX_OPERATIONS`] seen, else `other`.
fn operation_label(name: &str) -> String {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return "other".to_owned();
    }
    let mut names = metrics().names.lock().unwrap_or_else(|p| p.into_inner());
    if names.contains(name) || names.len() < MAX_OPERATIONS {
        names.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Records one answered request.
pub fn observe_request(operation: &str, status: u16, seconds: f64) {
    let m = metrics();
    let operation = operation_label(operation);
    m.requests
        .get_or_create(&RequestLabels {
            operation: operation.clone(),
            status: status.to_string(),
        })
        .inc();
    m.latency
        .get_or_create(&OperationLabels { operation })
        .observe(seconds);
}

/// Records one refusal by the throttle `limit` (its bucket name).
pub fn rate_limit_refused(limit: &str) {
    metrics()
        .refusals
        .get_or_create(&LimitLabels {
            limit: limit.to_owned(),
        })
        .inc();
}

/// Pool figures, as the store reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The text exposition of every metric, with the pool read now and any
/// further gauges (`name`, help, value) their owners report.
pub fn render(pool: PoolStats, extra: &[(&str, &str, i64)]) -> String {
    let m = metrics();
    let set = |state: &str, v: u32| {
        m.pool
            .get_or_create(&PoolLabels {
                state: state.to_owned(),
            })
            .set(i64::from(v));
    };
    set("in_use", pool.size.saturating_sub(pool.idle));
    set("idle", pool.idle);
    set("max", pool.max);
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode_registry(&mut out, &m.registry);
    for (name, help, value) in extra {
        out.push_str(&format!(
            "# HELP dxdesk_{name} {help}.\n# TYPE dxdesk_{name} gauge\ndxdesk_{name} {value}\n"
        ));
    }
    let _ = prometheus_client::encoding::text::encode_eof(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_or_odd_names_do_not_become_labels() {
        assert_eq!(operation_label("CaseList"), "CaseList");
        assert_eq!(operation_label("bad name"), "other");
        assert_eq!(operation_label(&"x".repeat(65)), "other");
        assert_eq!(operation_label(""), "other");
    }

    #[test]
    fn the_exposition_carries_requests_refusals_and_the_pool() {
        observe_request("MetricsTestOp", 200, 0.003);
        rate_limit_refused("login_account");
        let text = render(
            PoolStats {
                size: 5,
                idle: 3,
                max: 16,
            },
            &[("outbox_backlog", "Messages waiting", 7)],
        );
        assert!(
            text.contains(
                r#"dxdesk_http_requests_total{operation="MetricsTestOp",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"dxdesk_http_request_duration_seconds_bucket{le="0.005",operation="MetricsTestOp"} 1"#), "{text}");
        assert!(text.contains(r#"dxdesk_rate_limit_refusals_total{limit="login_account"}"#));
        assert!(text.contains(r#"dxdesk_db_pool_connections{state="in_use"} 2"#));
        assert!(text.contains("dxdesk_outbox_backlog 7"));
        assert!(text.ends_with("# EOF\n"));
    }
}
