//! `/healthz` (the process is up) and `/readyz` (the database answers).

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": state.store.backend() })),
        ),
        Err(e) => {
            tracing::error!(error = ?e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": state.store.backend() })),
            )
        }
    }
}

/// The `host:port` the health probe connects to: `--url` if given, else the
/// bind address with an unspecified host (`0.0.0.0`, `[::]`) made loopback.
pub fn probe_target(url: Option<&str>, bind: Option<&str>) -> anyhow::Result<String> {
    if let Some(u) = url {
        let rest = u
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("--url must start with http:// (got {u})"))?;
        return Ok(rest.split('/').next().unwrap_or(rest).to_owned());
    }
    let bind: std::net::SocketAddr = bind
        .unwrap_or("127.0.0.1:8080")
        .parse()
        .map_err(|e| anyhow::anyhow!("DXDESK_BIND is not host:port: {e}"))?;
    let ip = match bind.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Ok(std::net::SocketAddr::new(ip, bind.port()).to_string())
}

/// One `GET /healthz` over HTTP/1.1 with a 3-second budget; Ok on a 200.
pub async fn probe(target: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut s = tokio::net::TcpStream::connect(target).await?;
        s.write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await?;
        anyhow::ensure!(
            head.starts_with(b"HTTP/1.1 200"),
            "answered {}",
            String::from_utf8_lossy(&head)
        );
        Ok(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), work)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 3 s"))?
}

#[cfg(test)]
mod tests {
    use super::probe_target;

    #[test]
    fn the_probe_targets_loopback_for_an_unspecified_bind() {
        assert_eq!(
            probe_target(None, Some("0.0.0.0:8080")).unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(probe_target(None, Some("[::]:9000")).unwrap(), "[::1]:9000");
        assert_eq!(probe_target(None, None).unwrap(), "127.0.0.1:8080");
        assert_eq!(
            probe_target(Some("http://10.0.0.5:8080/x"), None).unwrap(),
            "10.0.0.5:8080"
        );
        assert!(probe_target(Some("https://x"), None).is_err());
        assert!(probe_target(None, Some("nonsense")).is_err());
    }
}
