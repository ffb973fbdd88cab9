//! Running the server: bind, serve with client addresses (see `crate::server`
//! for the connection limits), prune old throttling counters and idempotency
//! keys in the background, and shut down on SIGTERM / Ctrl-C, finishing the
//! requests in flight within the drain deadline.

use crate::state::AppState;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A server bound to its address (port 0 picks a free one, for tests).
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn bind(state: AppState, addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// (at most `DXDESK_SHUTDOWN_DRAIN_SECS`).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::auth::password::warm_up();
        let pruner = tokio::spawn(prune_loop(self.state.clone()));
        let outbox = crate::notify::worker::spawn(&self.state)?;
        let limits = self.state.config.conn;
        let app = crate::http::router(self.state);
        crate::server::serve(self.listener, app, limits, shutdown).await;
        pruner.abort();
        if let Some(w) = outbox {
            w.abort();
        }
        Ok(())
    }

    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn prune_loop(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let before = state.now() - chrono::Duration::days(1);
        if let Err(e) = state.store.rate_prune(before).await {
            tracing::warn!(error = ?e, "pruning throttling counters failed");
        }
        let expired = state.now() - crate::http::idempotency::KEEP;
        if let Err(e) = state.store.idem_prune(expired).await {
            tracing::warn!(error = ?e, "pruning idempotency keys failed");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
