//! Configuration from the environment: database URL, bind address, JWT secret,
//! run mode, log format and the connection limits. Bad values are errors with
//! one clear line.

use anyhow::{bail, Context};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// `None` in development without `DXDESK_JWT_SECRET`: a random per-process secret is used.
    pub jwt_secret: Option<Vec<u8>>,
    pub mode: RunMode,
    pub log_format: LogFormat,
    /// `DXDESK_TRUST_PROXY=1`: the direct peer is one trusted reverse proxy
    /// (the client is the right-most `X-Forwarded-For` entry).
    pub trust_proxy: bool,

    // --- audit seals ---
    /// `DXDESK_AUDIT_KEY`: seals every case write (HMAC-SHA256); `None` = unsealed.
    pub audit_key: Option<crate::domain::seal::SealKey>,
    /// `DXDESK_AUDIT_KEY_PREVIOUS`: also accepted by `audit verify` and `audit reseal` (key rotation).
    pub audit_key_previous: Option<crate::domain::seal::SealKey>,
    /// `DXDESK_TRUSTED_PROXIES`: addresses and CIDRs of trusted proxies; a peer
    /// in them may name the client in `X-Forwarded-For` (see `http::client_ip`).
    pub trusted_proxies: Vec<IpNet>,
    /// How many password hashes may run at once (see `hash_concurrency`).
    pub hash_concurrency: usize,
    /// How long a login waits for a hashing slot before `RATE_LIMITED`.
    pub hash_queue_wait: Duration,
    /// Connection handling: caps, timeouts and the shutdown drain.
    pub conn: ConnLimits,
    /// `DXDESK_METRICS_TOKEN`: serves `/metrics` to `Authorization: Bearer <token>`;
    /// unset, there is no `/metrics`.
    pub metrics_token: Option<String>,
    /// Notifications: SMTP, sender, public URL and the outbox worker.
    pub notify: crate::notify::NotifyConfig,
}

/// How the server treats connections (see `crate::server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections served at once (`DXDESK_MAX_CONNECTIONS`); past it a
    /// new connection gets `503` and is closed.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (`DXDESK_HEADER_TIMEOUT_SECS`).
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request (`DXDESK_IDLE_TIMEOUT_SECS`).
    /// The header timeout bounds this wait too (hyper's header timer runs while a
    /// connection waits for a request), so a longer idle time has no effect.
    pub idle_timeout: Duration,
    /// Time a request may take, body upload included (`DXDESK_REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// On shutdown, how long requests in flight may still finish (`DXDESK_SHUTDOWN_DRAIN_SECS`).
    pub shutdown_drain: Duration,
    /// GraphQL queries executed at once (`DXDESK_MAX_CONCURRENT_QUERIES`); the
    /// rest wait their turn, in order, within the request timeout.
    pub max_queries: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 768,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_drain: Duration::from_secs(8),
            max_queries: 16,
        }
    }
}

/// A positive whole number from the environment, or the default when unset.
fn positive(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    max: u64,
) -> anyhow::Result<u64> {
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => bail!("{name} must be a whole number from 1 to {max} (got {v:?})"),
        },
    }
}

impl ConnLimits {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let d = Self::default();
        let secs = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(positive(
                get,
                name,
                default.as_secs(),
                86_400,
            )?))
        };
        Ok(Self {
            max_connections: positive(
                get,
                "DXDESK_MAX_CONNECTIONS",
                d.max_connections as u64,
                1_000_000,
            )? as usize,
            header_timeout: secs("DXDESK_HEADER_TIMEOUT_SECS", d.header_timeout)?,
            idle_timeout: secs("DXDESK_IDLE_TIMEOUT_SECS", d.idle_timeout)?,
            request_timeout: secs("DXDESK_REQUEST_TIMEOUT_SECS", d.request_timeout)?,
            shutdown_drain: secs("DXDESK_SHUTDOWN_DRAIN_SECS", d.shutdown_drain)?,
            max_queries: positive(
                get,
                "DXDESK_MAX_CONCURRENT_QUERIES",
                d.max_queries as u64,
                100_000,
            )? as usize,
        })
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("mode", &self.mode)
            .field("log_format", &self.log_format)
            .field("trust_proxy", &self.trust_proxy)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("hash_queue_wait", &self.hash_queue_wait)
            .field("audit_key", &self.audit_key.as_ref().map(|_| "<set>"))
            .field(
                "audit_key_previous",
                &self.audit_key_previous.as_ref().map(|_| "<set>"),
            )
            .field("conn", &self.conn)
            .finish()
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://dxdesk.db";
pub const MIN_SECRET_BYTES: usize = 32;
/// The estimated entropy a JWT secret needs (see [`secret_entropy_bits`]).
pub const MIN_SECRET_BITS: f64 = 96.0;
/// Memory one argon2id hash uses (m = 7 MiB), for sizing the hashing slots.
pub const HASH_MEMORY_MIB: usize = 7;
/// Default memory budget for concurrent password hashes.
pub const DEFAULT_HASH_MEMORY_MIB: usize = 256;
/// Default wait for a hashing slot.
pub const DEFAULT_HASH_QUEUE_MS: u64 = 2000;

/// A rough entropy estimate of a secret, in bits, that sees through repeats:
/// the Shannon entropy of its byte frequencies times the number of positions
/// that start a 4-byte sequence not seen before (a crude LZ measure). 36 × `a`
/// scores 0, `test-secret-` three times about 55; 32 random hex digits about 110,
/// `openssl rand -base64 48` about 330.
pub fn secret_entropy_bits(secret: &[u8]) -> f64 {
    let n = secret.len();
    if n == 0 {
        return 0.0;
    }
    let mut freq = [0usize; 256];
    for &b in secret {
        freq[b as usize] += 1;
    }
    let h: f64 = freq
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.log2()
        })
        .sum();
    let mut seen = std::collections::HashSet::new();
    let novel = (0..n)
        .filter(|&i| seen.insert(&secret[i..(i + 4).min(n)]))
        .count();
    h * novel as f64
}

/// Refuses a JWT secret that is short or predictable, saying how to make one.
pub fn check_secret(secret: &str) -> anyhow::Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        bail!(
            "DXDESK_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"
        );
    }
    let bits = secret_entropy_bits(secret.as_bytes());
    if bits < MIN_SECRET_BITS {
        bail!(
            "DXDESK_JWT_SECRET is too predictable (about {bits:.0} bits of estimated entropy, at least {MIN_SECRET_BITS:.0} needed): make a random one with `openssl rand -base64 48`"
        );
    }
    Ok(())
}

/// How many password hashes may run at once: one per core, but no more than
/// the memory budget holds at 7 MiB each, and at least one:
/// `max(1, min(cores, budget_mib / 7))`.
pub fn hash_concurrency(cores: usize, budget_mib: usize) -> usize {
    cores.min(budget_mib / HASH_MEMORY_MIB).max(1)
}

/// Parses `DXDESK_TRUSTED_PROXIES`: addresses and CIDRs, comma-separated.
pub fn parse_trusted_proxies(value: &str) -> anyhow::Result<Vec<IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "DXDESK_TRUSTED_PROXIES entry {s:?} is neither an address nor a CIDR (e.g. 10.0.0.0/8,127.0.0.1)"
                    )
                })
        })
        .collect()
}

pub(crate) fn parse_number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<Option<T>>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => bail!(
                "{name} {v:?} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        },
    }
}

/// Which backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Refuses anything that is not `sqlite:` or `postgres(ql)://`, so a typo cannot
/// silently create an empty database somewhere.
pub fn backend_of(url: &str) -> anyhow::Result<Backend> {
    if url.starts_with("sqlite:") {
        let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
        if rest.is_empty() || rest.starts_with('?') {
            bail!("DATABASE_URL {url:?} names no SQLite file (e.g. sqlite://dxdesk.db)");
        }
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        bail!(
            "DATABASE_URL {:?} is not a database URL: use sqlite://FILE or postgres://USER@HOST/DB",
            redact_url(url)
        )
    }
}

/// Hides a password in a URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// An audit key from the environment: unset or empty is none; shorter than
/// 32 bytes is refused.
fn audit_key_of(
    value: Option<String>,
    name: &str,
) -> anyhow::Result<Option<crate::domain::seal::SealKey>> {
    match value {
        Some(s) if !s.is_empty() => crate::domain::seal::SealKey::new(s.as_bytes())
            .map(Some)
            .map_err(|e| anyhow::anyhow!(e.replace("DXDESK_AUDIT_KEY", name))),
        _ => Ok(None),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mode = match get("DXDESK_ENV").as_deref().map(str::trim) {
            None | Some("") | Some("development") | Some("dev") => RunMode::Development,
            Some("production") | Some("prod") => RunMode::Production,
            Some(other) => bail!("DXDESK_ENV {other:?} is neither production nor development"),
        };
        let database_url = get("DATABASE_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        backend_of(&database_url)?;
        let bind: SocketAddr = get("DXDESK_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .context("DXDESK_BIND must be an address like 127.0.0.1:8080")?;
        let jwt_secret = match get("DXDESK_JWT_SECRET") {
            Some(s) if !s.is_empty() => {
                check_secret(&s)?;
                Some(s.into_bytes())
            }
            _ => None,
        };
        let log_format = match get("DXDESK_LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            None | Some("") | Some("human") | Some("text") => LogFormat::Human,
            Some(other) => bail!("DXDESK_LOG_FORMAT {other:?} is neither human nor json"),
        };
        let trust_proxy = matches!(get("DXDESK_TRUST_PROXY").as_deref(), Some("1" | "true"));

        // --- audit seals ---
        let audit_key = audit_key_of(get("DXDESK_AUDIT_KEY"), "DXDESK_AUDIT_KEY")?;
        let audit_key_previous = audit_key_of(
            get("DXDESK_AUDIT_KEY_PREVIOUS"),
            "DXDESK_AUDIT_KEY_PREVIOUS",
        )?;
        let trusted_proxies =
            parse_trusted_proxies(&get("DXDESK_TRUSTED_PROXIES").unwrap_or_default())?;
        let budget = parse_number(&get, "DXDESK_HASH_MEMORY_MIB", HASH_MEMORY_MIB..=1_048_576)?
            .unwrap_or(DEFAULT_HASH_MEMORY_MIB);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hash_concurrency = parse_number(&get, "DXDESK_HASH_CONCURRENCY", 1..=1024)?
            .unwrap_or_else(|| hash_concurrency(cores, budget));
        let hash_queue_wait = Duration::from_millis(
            parse_number(&get, "DXDESK_HASH_QUEUE_MS", 0..=60_000)?
                .unwrap_or(DEFAULT_HASH_QUEUE_MS),
        );
        let conn = ConnLimits::from_lookup(&get)?;
        let metrics_token = match get("DXDESK_METRICS_TOKEN").map(|t| t.trim().to_owned()) {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) if t.len() < 16 => bail!(
                "DXDESK_METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 24`)"
            ),
            Some(t) => Some(t),
        };
        let notify = crate::notify::NotifyConfig::from_lookup(&get, bind)?;
        Ok(Config {
            database_url,
            bind,
            jwt_secret,
            mode,
            log_format,
            trust_proxy,
            audit_key,
            audit_key_previous,
            trusted_proxies,
            hash_concurrency,
            hash_queue_wait,
            conn,
            metrics_token,
            notify,
        })
    }

    pub fn is_production(&self) -> bool {
        self.mode == RunMode::Production
    }

    /// What `serve` checks before it starts.
    pub fn check_for_serve(&self) -> anyhow::Result<()> {
        if self.is_production() && self.jwt_secret.is_none() {
            bail!("DXDESK_JWT_SECRET is required in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_to_embedded_sqlite() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(backend_of(&c.database_url).unwrap(), Backend::Sqlite);
        assert_eq!(c.mode, RunMode::Development);
    }

    #[test]
    fn refuses_scheme_less_or_mistyped_urls() {
        assert!(cfg(&[("DATABASE_URL", "dxdesk.db")]).is_err());
        assert!(cfg(&[("DATABASE_URL", "postgress://x@y/z")]).is_err());
        assert!(cfg(&[("DATABASE_URL", "sqlite://")]).is_err());
        assert_eq!(
            backend_of("postgres://postgres@127.0.0.1/test").unwrap(),
            Backend::Postgres
        );
    }

    #[test]
    fn production_needs_a_long_secret() {
        let c = cfg(&[("DXDESK_ENV", "production")]).unwrap();
        assert!(c.check_for_serve().is_err());
        assert!(cfg(&[("DXDESK_JWT_SECRET", "short")]).is_err());
        let c = cfg(&[
            ("DXDESK_ENV", "production"),
            (
                "DXDESK_JWT_SECRET",
                "1pOmE2o3b4/HJJ1o/jl5UlLlzORwVsy0gMc6VzJzAKWl",
            ),
        ])
        .unwrap();
        assert!(c.check_for_serve().is_ok());
    }

    #[test]
    fn audit_keys_are_optional_but_long() {
        assert!(cfg(&[]).unwrap().audit_key.is_none());
        let e = cfg(&[("DXDESK_AUDIT_KEY", "too short")]).err().unwrap();
        assert!(e
            .to_string()
            .contains("DXDESK_AUDIT_KEY must be at least 32 bytes"));
        let e = cfg(&[("DXDESK_AUDIT_KEY_PREVIOUS", "short")])
            .err()
            .unwrap();
        assert!(e.to_string().contains("DXDESK_AUDIT_KEY_PREVIOUS"));
        let c = cfg(&[("DXDESK_AUDIT_KEY", "0123456789abcdef0123456789abcdef")]).unwrap();
        assert!(c.audit_key.is_some());
    }

    #[test]
    fn refuses_low_entropy_secrets_and_says_how_to_make_one() {
        for weak in [
            "a".repeat(36),
            "x".repeat(40),
            "test-secret-test-secret-test-secret-0123".to_owned(),
            "0123456789abcdef0123456789abcdef!".to_owned(),
            "abcdefgh".repeat(4),
            "password".repeat(5),
            "ab".repeat(32),
        ] {
            let err = cfg(&[("DXDESK_JWT_SECRET", &weak)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("openssl rand -base64 48"), "{weak}: {err}");
            assert!(err.contains("predictable"), "{weak}: {err}");
        }
        for strong in [
            // `openssl rand -base64 48`, `-base64 33`, `-hex 32`, `-hex 16`.
            "ZkN0AViyYZolVjL75cvyRbgBMKCUh4YjYBTSqmkAD6eUrBfcWmfkGvowGnh0pUfY",
            "FwFMtqj5dkFoEJAkhM2WrUCpEwN5MmNP9I1JQCImY8Sq",
            "db4ac71131b66a4b5fea53a77b3db17bccfe068cff94c1137aa0b56698df9ebe",
            "891b3a49bfafb886d6fe17e7a9899218",
        ] {
            assert!(cfg(&[("DXDESK_JWT_SECRET", strong)]).is_ok(), "{strong}");
        }
        assert_eq!(secret_entropy_bits(b""), 0.0);
        assert_eq!(secret_entropy_bits(&[b'a'; 36]), 0.0);
    }

    #[test]
    fn hash_slots_follow_cores_and_memory() {
        assert_eq!(hash_concurrency(2, 256), 2);
        assert_eq!(hash_concurrency(64, 256), 36);
        assert_eq!(hash_concurrency(8, 10), 1);
        assert_eq!(hash_concurrency(8, 6), 1);
        assert_eq!(hash_concurrency(8, 14), 2);
        assert_eq!(hash_concurrency(0, 256), 1);
        let c = cfg(&[
            ("DXDESK_HASH_CONCURRENCY", "3"),
            ("DXDESK_HASH_QUEUE_MS", "50"),
        ])
        .unwrap();
        assert_eq!(c.hash_concurrency, 3);
        assert_eq!(c.hash_queue_wait, Duration::from_millis(50));
        let c = cfg(&[("DXDESK_HASH_MEMORY_MIB", "13")]).unwrap();
        assert_eq!(c.hash_concurrency, 1);
        assert!(
            cfg(&[("DXDESK_HASH_MEMORY_MIB", "6")]).is_err(),
            "below one hash"
        );
        assert!(cfg(&[("DXDESK_HASH_CONCURRENCY", "0")]).is_err());
        assert!(cfg(&[("DXDESK_HASH_QUEUE_MS", "soon")]).is_err());
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidrs() {
        let c = cfg(&[(
            "DXDESK_TRUSTED_PROXIES",
            " 10.0.0.0/8, 127.0.0.1,::1,fd00::/8 ",
        )])
        .unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"]);
        assert!(cfg(&[]).unwrap().trusted_proxies.is_empty());
        assert!(cfg(&[("DXDESK_TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
        assert!(cfg(&[("DXDESK_TRUSTED_PROXIES", "proxy.local")]).is_err());
    }

    #[test]
    fn connection_limits_default_and_refuse_nonsense() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.conn, ConnLimits::default());
        assert!(c.conn.max_connections < 1024, "fits a 1,024 file limit");
        let c = cfg(&[
            ("DXDESK_MAX_CONNECTIONS", "100"),
            ("DXDESK_HEADER_TIMEOUT_SECS", "5"),
            ("DXDESK_SHUTDOWN_DRAIN_SECS", "3"),
            ("DXDESK_MAX_CONCURRENT_QUERIES", "4"),
        ])
        .unwrap();
        assert_eq!(c.conn.max_connections, 100);
        assert_eq!(c.conn.max_queries, 4);
        assert_eq!(c.conn.header_timeout, Duration::from_secs(5));
        assert_eq!(c.conn.shutdown_drain, Duration::from_secs(3));
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(cfg(&[("DXDESK_IDLE_TIMEOUT_SECS", bad)]).is_err(), "{bad}");
            assert!(cfg(&[("DXDESK_MAX_CONNECTIONS", bad)]).is_err(), "{bad}");
            assert!(
                cfg(&[("DXDESK_MAX_CONCURRENT_QUERIES", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
