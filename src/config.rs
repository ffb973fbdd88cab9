//! Configuration from the environment: database URL, bind address, JWT secret,
//! run mode, log format and the connection limits. Bad values are errors with
//! one clear line.

use anyhow::{bail, Context};
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
    /// Trust `X-Forwarded-For` for the client address (behind a reverse proxy).
    pub trust_proxy: bool,
    /// Connection handling: caps, timeouts and the shutdown drain.
    pub conn: ConnLimits,
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
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 768,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_drain: Duration::from_secs(8),
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
            .field("conn", &self.conn)
            .finish()
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://dxdesk.db";
pub const MIN_SECRET_BYTES: usize = 32;

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
                if s.len() < MIN_SECRET_BYTES {
                    bail!(
                        "DXDESK_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"
                    );
                }
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
        let conn = ConnLimits::from_lookup(&get)?;
        Ok(Config {
            database_url,
            bind,
            jwt_secret,
            mode,
            log_format,
            trust_proxy,
            conn,
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
            ("DXDESK_JWT_SECRET", "0123456789abcdef0123456789abcdef!"),
        ])
        .unwrap();
        assert!(c.check_for_serve().is_ok());
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
        ])
        .unwrap();
        assert_eq!(c.conn.max_connections, 100);
        assert_eq!(c.conn.header_timeout, Duration::from_secs(5));
        assert_eq!(c.conn.shutdown_drain, Duration::from_secs(3));
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(cfg(&[("DXDESK_IDLE_TIMEOUT_SECS", bad)]).is_err(), "{bad}");
            assert!(cfg(&[("DXDESK_MAX_CONNECTIONS", bad)]).is_err(), "{bad}");
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
