//! The HTTP/1.1 accept loop: a cap on open connections (past it a short `503`
//! and close), header-read and idle keep-alive timeouts, lingering closes (no
//! reset for a request that raced the close), and a shutdown drain with a
//! deadline. Client addresses reach the router as `ConnectInfo<SocketAddr>`.
//!
//! Shutdown runs in three steps: stop accepting; for a short grace every
//! connection is still served but each answer says `Connection: close` (a
//! request racing the shutdown on a kept-alive connection is answered, not
//! dropped); then idle connections are closed while requests in flight finish,
//! until the drain deadline closes whatever is left.

use crate::config::ConnLimits;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long, at most, connections keep being served (each answer closing its
/// connection) after shutdown starts, before idle ones are closed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Connections past the cap answered `503` at once; beyond these they are just closed.
pub const MAX_REJECTING: usize = 64;
/// How long a closing connection reads (and discards) what the client still sends,
/// so the close is a FIN, not a reset that could eat the last answer.
pub const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;
/// The same for a connection answered `503`: short, so rejecting stays cheap.
const REJECT_LINGER: Duration = Duration::from_millis(300);

/// The answer for a connection past the cap.
pub const BUSY_RESPONSE: &str = "HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
retry-after: 2\r\n\
connection: close\r\n\
cache-control: no-store\r\n\
content-length: 122\r\n\r\n\
サーバーが混み合っています。少し待ってから再度お試しください。\n\
Server busy, retry shortly.\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Shutdown started: answer, but close each connection after its answer.
    Draining,
    /// Close idle connections; requests in flight finish.
    Closing,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let rejecting = Arc::new(Semaphore::new(MAX_REJECTING));
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let conn = connection(stream, peer, app.clone(), limits, phase_rx.clone());
                        tasks.spawn(async move {
                            conn.await;
                            drop(permit);
                        });
                    }
                    Err(_) => match rejecting.clone().try_acquire_owned() {
                        Ok(permit) => {
                            tasks.spawn(async move {
                                reject(stream).await;
                                drop(permit);
                            });
                        }
                        // Too many at once: a best-effort answer without waiting, then close.
                        Err(_) => {
                            let _ = stream.try_write(BUSY_RESPONSE.as_bytes());
                        }
                    },
                },
                Err(e) => {
                    // Out of file descriptors, most likely: let connections close.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    // Answers from now on close their connection; then stop accepting.
    let _ = phase_tx.send(Phase::Draining);
    drop(listener);
    let deadline = Instant::now() + limits.shutdown_drain;
    tracing::info!(
        connections = tasks.len(),
        "stopped accepting; draining connections"
    );
    let grace = deadline.min(Instant::now() + SHUTDOWN_GRACE.min(limits.shutdown_drain / 2));
    join_until(&mut tasks, grace).await;
    let _ = phase_tx.send(Phase::Closing);
    join_until(&mut tasks, deadline).await;
    if !tasks.is_empty() {
        tracing::warn!(
            connections = tasks.len(),
            "shutdown drain deadline passed: closing the connections left"
        );
        tasks.shutdown().await;
    }
}

/// Waits for every task, or until `deadline`.
async fn join_until(tasks: &mut JoinSet<()>, deadline: Instant) {
    let _ = tokio::time::timeout_at(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

/// When the connection last finished an answer, and how many it is working on.
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn idle_since(&self) -> Option<Instant> {
        let last = *self.last.lock().expect("activity lock");
        (self.in_flight.load(Ordering::Acquire) == 0).then_some(last)
    }
}

/// Counts a request in flight until dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: &Arc<Activity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().expect("activity lock") = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    mut phase: watch::Receiver<Phase>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    });
    let svc = {
        let activity = activity.clone();
        let phase = phase.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::new(&activity);
            let phase = phase.clone();
            let app = app.clone();
            // Boxed: the connection must be `Unpin` to be taken apart after it ends.
            Box::pin(async move {
                let mut resp = app.oneshot(req.map(axum::body::Body::new)).await?;
                if *phase.borrow() != Phase::Serving {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                drop(busy);
                Ok::<_, std::convert::Infallible>(resp)
            })
        })
    };
    let mut conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc)
        // WebSocket upgrades (`http::live`): the upgraded socket is handed to
        // its handler's task and leaves this loop (and the connection cap).
        .with_upgrades();
    let mut closing = false;
    loop {
        let idle_deadline = activity
            .idle_since()
            .map(|since| since + limits.idle_timeout)
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            done = &mut conn => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                break;
            }
            changed = phase.changed(), if !closing => {
                if changed.is_err() || *phase.borrow() == Phase::Closing {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                    closing = true;
                }
            }
            () = tokio::time::sleep_until(idle_deadline), if !closing => {
                let idle = activity.idle_since();
                if idle.is_some_and(|since| since + limits.idle_timeout <= Instant::now()) {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
    // Not upgraded: hyper has sent FIN (its shutdown); read what the client
    // still sends before closing.
    if let Some(parts) = conn.into_parts() {
        linger_close(parts.io.into_inner()).await;
    }
}

/// Sends FIN, then reads what the client still sends for a moment before closing,
/// so a request that crossed the close does not make the kernel answer with a reset.
pub async fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(LINGER, async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

/// Answers a connection past the cap with `503` and closes it.
async fn reject(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REJECT_LINGER, async {
        let _ = stream.write_all(BUSY_RESPONSE.as_bytes()).await;
        linger_close(stream).await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_response_declares_its_length() {
        let (head, body) = BUSY_RESPONSE.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: "));
    }
}
