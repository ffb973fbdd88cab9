//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket, `graphql-transport-ws`
//! protocol (async-graphql's implementation). The access token of HTTP is sent
//! in `connection_init` (`{"authorization": "Bearer <token>"}` or `{"token": …}`)
//! and checked as HTTP checks it; a refused one closes with 4403. When the token
//! expires the socket is closed with 4403 too: the client reconnects with a
//! fresh token. No `connection_init` within [`INIT_TIMEOUT`]: 4408.

use crate::auth::{self, Authn};
use crate::graphql::{loaders, DxSchema, RequestCtx};
use crate::http::client_ip;
use crate::http::graphql::Lang;
use crate::state::AppState;
use async_graphql::http::{WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub const PATH: &str = "/graphql/ws";
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Close codes of the protocol.
pub const FORBIDDEN: u16 = 4403;
pub const INIT_TIMEOUT_CODE: u16 = 4408;
pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
/// How long a client has to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Open subscription sockets per instance (they no longer count against the
/// HTTP connection cap once upgraded).
pub const MAX_SOCKETS: usize = 4096;
/// Largest message a client may send (a subscription document).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Clone)]
struct Sockets(Arc<Semaphore>);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(upgrade))
        .layer(Extension(Sockets(Arc::new(Semaphore::new(MAX_SOCKETS)))))
}

async fn upgrade(
    State(state): State<AppState>,
    Extension(schema): Extension<DxSchema>,
    Extension(sockets): Extension<Sockets>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Ok(permit) = sockets.0.try_acquire_owned() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let lang = crate::http::graphql::lang_of(&headers);
    let client = client_ip::from_parts(&state.config, peer.ip(), &headers).to_string();
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let ctx = RequestCtx {
                authn: Authn::Anonymous,
                client,
                lang,
            };
            session(socket, schema, state, ctx, permit).await;
        })
}

/// The token a `connection_init` payload carries, as an `Authorization` header value.
fn authorization(payload: &serde_json::Value) -> Option<String> {
    let field = |k: &str| payload.get(k).and_then(|v| v.as_str());
    if let Some(h) = field("authorization").or_else(|| field("Authorization")) {
        return Some(h.to_owned());
    }
    field("token").map(|t| format!("Bearer {t}"))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn session(
    socket: WebSocket,
    schema: DxSchema,
    state: AppState,
    ctx: RequestCtx,
    _permit: OwnedSemaphorePermit,
) {
    let ctx_lang = ctx.lang;
    let acceptable = socket.protocol().is_some_and(|p| p == PROTOCOL);
    let (mut sink, input) = socket.split();
    if !acceptable {
        let _ = sink
            .send(close(
                SUBPROTOCOL_NOT_ACCEPTABLE,
                "Subprotocol not acceptable",
            ))
            .await;
        return;
    }
    let input = input
        .take_while(|m| futures::future::ready(m.is_ok()))
        .filter_map(|m| {
            futures::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        });
    // When the token expires (Unix seconds), set once `connection_init` is accepted.
    let (expiry_tx, mut expiry) = watch::channel(None::<i64>);
    let mut watching = true;
    let refused = Arc::new(AtomicBool::new(false));
    let on_init = {
        let refused = refused.clone();
        let state = state.clone();
        move |payload: serde_json::Value| async move {
            let header = authorization(&payload);
            let refuse = |msg: &str| {
                refused.store(true, Ordering::Release);
                async_graphql::Error::new(msg)
            };
            let authn = match auth::authenticate(&state, header.as_deref()).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = ?e, "authentication lookup failed");
                    return Err(async_graphql::Error::new("Internal error"));
                }
            };
            match authn {
                Authn::User(v) => {
                    let token = header.as_deref().and_then(auth::service::bearer_token);
                    let exp = token.and_then(|t| state.jwt.verify(t).ok()).map(|c| c.exp);
                    // Verified a moment ago; within the leeway it may already fail: expired now.
                    let exp = exp.unwrap_or_else(|| chrono::Utc::now().timestamp());
                    let _ = expiry_tx.send(Some(exp));
                    let mut data = Data::default();
                    data.insert(RequestCtx {
                        authn: Authn::User(v),
                        ..ctx
                    });
                    data.insert(loaders::new_loaders(state.store.clone()));
                    Ok(data)
                }
                Authn::Anonymous => Err(refuse("Forbidden: send the access token")),
                Authn::Invalid(_, en) => Err(refuse(&format!("Forbidden: {en}"))),
            }
        }
    };
    let mut gql =
        GqlWebSocket::new(schema, input, WebSocketProtocols::GraphQLWS).on_connection_init(on_init);
    let lang = ctx_lang;
    let init_deadline = Instant::now() + INIT_TIMEOUT;
    loop {
        let exp = *expiry.borrow();
        let deadline = match exp {
            Some(exp) => {
                let left = exp.saturating_sub(chrono::Utc::now().timestamp()).max(0);
                Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0))
            }
            None => init_deadline,
        };
        tokio::select! {
            out = gql.next() => match out {
                Some(WsMessage::Text(t)) => {
                    if sink.send(Message::Text(localize(t, lang).into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // async-graphql closes a refused `connection_init` with
                    // 1002; the protocol says 4403.
                    let code = if refused.load(Ordering::Acquire) { FORBIDDEN } else { code };
                    let _ = sink.send(close(code, &reason)).await;
                    return;
                }
                None => return,
            },
            changed = expiry.changed(), if watching => {
                // Err: the init callback is done (accepted: `exp` is set; refused:
                // the close follows from `gql`).
                watching = changed.is_ok();
            }
            () = tokio::time::sleep_until(deadline) => {
                let _ = match exp {
                    Some(_) => sink.send(close(FORBIDDEN, "Forbidden: the access token has expired")).await,
                    None => sink.send(close(INIT_TIMEOUT_CODE, "Connection initialisation timeout")).await,
                };
                return;
            }
        }
    }
}

/// Errors in a server message as `/graphql` gives them: engine errors (parse,
/// validation) get `BAD_USER_INPUT` and `messageEn`; in English the message is
/// the English text.
fn localize(text: String, lang: Lang) -> String {
    if !text.contains("\"errors\"") && !text.contains("\"type\":\"error\"") {
        return text;
    }
    let Ok(mut msg) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text;
    };
    let errors = match msg["type"].as_str() {
        Some("next") => msg["payload"]["errors"].as_array_mut(),
        Some("error") => msg["payload"].as_array_mut(),
        _ => None,
    };
    let Some(errors) = errors else { return text };
    for err in errors {
        let message = err["message"].as_str().unwrap_or_default().to_owned();
        let Some(obj) = err.as_object_mut() else {
            continue;
        };
        let ext = obj
            .entry("extensions")
            .or_insert_with(|| serde_json::json!({}));
        if ext.get("code").is_none() {
            ext["code"] = "BAD_USER_INPUT".into();
            ext["messageEn"] = message.clone().into();
            obj["message"] = format!("リクエストが正しくありません: {message}").into();
        }
        if lang == Lang::En {
            if let Some(en) = obj["extensions"]["messageEn"].as_str() {
                let en = en.to_owned();
                obj["message"] = en.into();
            }
        }
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_read_as_over_http() {
        let engine =
            json!({"type": "error", "id": "1", "payload": [{"message": "Unknown field \"x\""}]});
        let out: serde_json::Value =
            serde_json::from_str(&localize(engine.to_string(), Lang::Ja)).unwrap();
        assert_eq!(out["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(out["payload"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("リクエストが正しくありません"));
        let app = json!({"type": "next", "id": "1", "payload": {"data": null, "errors": [
            {"message": "相談が見つかりません。", "extensions": {"code": "NOT_FOUND", "messageEn": "Case not found."}}
        ]}});
        let out: serde_json::Value =
            serde_json::from_str(&localize(app.to_string(), Lang::En)).unwrap();
        assert_eq!(out["payload"]["errors"][0]["message"], "Case not found.");
        let data = json!({"type": "next", "id": "1", "payload": {"data": {"x": 1}}}).to_string();
        assert_eq!(localize(data.clone(), Lang::En), data);
    }

    #[test]
    fn the_token_comes_as_a_header_value_or_bare() {
        assert_eq!(
            authorization(&json!({"authorization": "Bearer abc"})).as_deref(),
            Some("Bearer abc")
        );
        assert_eq!(
            authorization(&json!({"token": "abc"})).as_deref(),
            Some("Bearer abc")
        );
        assert_eq!(authorization(&json!({})), None);
    }
}
