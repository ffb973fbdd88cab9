//! Live updates over a real WebSocket (`graphql-transport-ws` on `/graphql/ws`):
//! a subscriber hears writes made over HTTP — on another instance too, on
//! PostgreSQL — and only what it may read; an expired token closes the socket.

use crate::backend_tests;
use crate::common::cases::*;
use crate::common::{run_on, Backend, TestApp};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A bound on waiting for a frame, so a missing one fails the test instead of
/// hanging it (not a timing assertion: frames arrive in milliseconds).
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(u16, String),
}

struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Ws {
    /// Opens the socket and sends `connection_init` with `payload`.
    async fn open(app: &TestApp, payload: Value) -> Ws {
        let mut req = format!("ws://{}/graphql/ws", app.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (ws, resp) = tokio_tungstenite::connect_async(req).await.expect("ws");
        assert_eq!(
            resp.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut ws = Ws(ws);
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        ws
    }

    /// Opens the socket with `token` and waits for `connection_ack`.
    async fn connect(app: &TestApp, token: &str) -> Ws {
        let mut ws = Ws::open(app, json!({ "authorization": format!("Bearer {token}") })).await;
        match ws.next().await {
            Frame::Json(v) if v["type"] == "connection_ack" => ws,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    async fn send(&mut self, v: Value) {
        self.0.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol frame (pings are answered and skipped).
    async fn next(&mut self) -> Frame {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("a frame within the patience bound");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Frame::Json(v);
                }
                Some(Ok(Message::Close(f))) => {
                    let (code, reason) = f
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Frame::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error: {e}"),
                None => return Frame::Closed(1006, String::new()),
            }
        }
    }

    /// The payload of the next `next` message of subscription `id`.
    async fn next_payload(&mut self, id: &str) -> Value {
        match self.next().await {
            Frame::Json(v) if v["type"] == "next" && v["id"] == id => v["payload"].clone(),
            other => panic!("expected next for {id}, got {other:?}"),
        }
    }
}

const CASE_UPDATED: &str =
    "subscription($c: ID!, $a: Int) { caseUpdated(caseId: $c, afterSeq: $a) { seq kind summary } }";
const INBOX_CHANGED: &str = "subscription { inboxChanged { reason caseId referralId } }";

backend_tests!(case_updated_delivers_writes_made_over_http);
async fn case_updated_delivers_writes_made_over_http(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let c = open_simple(&app, &t.concierge, "ライブ更新", "株式会社ライブ").await;
    let mut ws = Ws::connect(&app, &t.admin).await;
    ws.subscribe("1", CASE_UPDATED, json!({ "c": c.id, "a": 1 }))
        .await;

    set_stage(&app, &t.concierge, &c.id, 1, "TRY").await.ok();
    let p = ws.next_payload("1").await;
    assert_eq!(p["data"]["caseUpdated"]["kind"], "STAGE_CHANGED", "{p}");
    assert_eq!(p["data"]["caseUpdated"]["seq"], 2);

    // Sent after the first arrived: only the live path can deliver it.
    add_note(&app, &t.concierge, &c.id, "確認しました", "DESK")
        .await
        .ok();
    let p = ws.next_payload("1").await;
    assert_eq!(p["data"]["caseUpdated"]["kind"], "NOTE_ADDED", "{p}");
    assert_eq!(p["data"]["caseUpdated"]["seq"], 3);
}

backend_tests!(a_partner_hears_only_what_it_may_read);
async fn a_partner_hears_only_what_it_may_read(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let center = institution_id(&app, &t.concierge, CENTER).await;
    let c = open_simple(&app, &t.concierge, "紹介案件", "株式会社センター").await;
    refer_ok(&app, &t.concierge, &c.id, &center).await;

    // Another institution's partner: NOT_FOUND, then the subscription is complete.
    let mut bank = Ws::connect(&app, &t.bank).await;
    bank.subscribe("b", CASE_UPDATED, json!({ "c": c.id, "a": 0 }))
        .await;
    let p = bank.next_payload("b").await;
    assert_eq!(p["errors"][0]["extensions"]["code"], "NOT_FOUND", "{p}");
    assert!(
        p["data"].is_null() || p["data"]["caseUpdated"].is_null(),
        "{p}"
    );
    match bank.next().await {
        Frame::Json(v) if v["type"] == "complete" && v["id"] == "b" => {}
        other => panic!("expected complete, got {other:?}"),
    }

    // The institution's partner: a DESK note is not shown, a PARTNERS note is.
    let mut ws = Ws::connect(&app, &t.center).await;
    let seq_now = case_ok(&app, &t.concierge, &c.id).await["events"]
        .as_array()
        .unwrap()
        .len();
    ws.subscribe("1", CASE_UPDATED, json!({ "c": c.id, "a": seq_now }))
        .await;
    add_note(&app, &t.concierge, &c.id, "内部メモ", "DESK")
        .await
        .ok();
    add_note(&app, &t.concierge, &c.id, "ご確認ください", "PARTNERS")
        .await
        .ok();
    let p = ws.next_payload("1").await;
    let e = &p["data"]["caseUpdated"];
    assert_eq!(e["kind"], "NOTE_ADDED", "{p}");
    assert_eq!(
        e["seq"].as_u64(),
        Some(seq_now as u64 + 2),
        "the DESK note's event is skipped: {p}"
    );
    assert!(!p.to_string().contains("内部メモ"), "{p}");

    // A subscription document naming an unknown case is NOT_FOUND as well.
    ws.subscribe(
        "2",
        CASE_UPDATED,
        json!({ "c": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    let p = ws.next_payload("2").await;
    assert_eq!(p["errors"][0]["extensions"]["code"], "NOT_FOUND", "{p}");
}

backend_tests!(inbox_changed_tells_each_viewer_its_own_news);
async fn inbox_changed_tells_each_viewer_its_own_news(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let (center, bank) = (
        institution_id(&app, &t.concierge, CENTER).await,
        institution_id(&app, &t.concierge, BANK).await,
    );
    let mut partner = Ws::connect(&app, &t.center).await;
    partner.subscribe("p", INBOX_CHANGED, json!({})).await;
    let mut desk = Ws::connect(&app, &t.concierge).await;
    desk.subscribe("d", INBOX_CHANGED, json!({})).await;
    let p = partner.next_payload("p").await;
    assert_eq!(p["data"]["inboxChanged"]["reason"], "SUBSCRIBED", "{p}");
    let d = desk.next_payload("d").await;
    assert_eq!(d["data"]["inboxChanged"]["reason"], "SUBSCRIBED", "{d}");

    // A referral to another institution first: the partner's next item is its own.
    let other = open_simple(&app, &t.concierge, "銀行向け", "株式会社ギンコウ").await;
    refer_ok(&app, &t.concierge, &other.id, &bank).await;
    let mine = open_simple(&app, &t.concierge, "センター向け", "株式会社センター二").await;
    let referral = refer_ok(&app, &t.concierge, &mine.id, &center).await;
    let p = partner.next_payload("p").await;
    let ch = &p["data"]["inboxChanged"];
    assert_eq!(ch["reason"], "REFERRAL", "{p}");
    assert_eq!(ch["caseId"], mine.id.as_str());
    assert_eq!(ch["referralId"], referral.as_str());

    // The desk: desk-opened cases are not news, a web-form consultation is.
    let r = consultation("株式会社ウェブ")
        .email("web@example.jp")
        .submit_from(&app, "203.0.113.7")
        .await;
    let reference = r.ok()["submitConsultation"]["reference"].clone();
    let web = app
        .gql(
            Some(&t.concierge),
            "query($r: String!) { caseByReference(reference: $r) { id } }",
            json!({ "r": reference }),
        )
        .await;
    let web_id = web.ok()["caseByReference"]["id"].clone();
    let d = desk.next_payload("d").await;
    let ch = &d["data"]["inboxChanged"];
    assert_eq!(ch["reason"], "WEB_FORM_CASE", "{d}");
    assert_eq!(ch["caseId"], web_id, "{d}");
}

backend_tests!(an_expired_token_closes_the_socket);
async fn an_expired_token_closes_the_socket(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let claims = app.state.jwt.verify(&t.concierge).unwrap();
    let (user, family) = (claims.sub.parse().unwrap(), claims.sid.parse().unwrap());
    let now = chrono::Utc::now().timestamp();
    let ttl = dxdesk::auth::jwt::ACCESS_TTL_SECS;

    // Refused at connection_init: well past its expiry (and the leeway).
    let old = app.state.jwt.issue(user, family, now - ttl - 60).unwrap();
    let mut ws = Ws::open(&app, json!({ "authorization": format!("Bearer {old}") })).await;
    match ws.next().await {
        Frame::Closed(code, _) => assert_eq!(code, 4403),
        other => panic!("expected a 4403 close, got {other:?}"),
    }
    // No token at all: refused the same way.
    let mut ws = Ws::open(&app, json!({})).await;
    match ws.next().await {
        Frame::Closed(code, _) => assert_eq!(code, 4403),
        other => panic!("expected a 4403 close, got {other:?}"),
    }

    // Accepted, then closed when it expires (in two seconds), whatever the
    // subscription was sending.
    let short = app.state.jwt.issue(user, family, now - ttl + 2).unwrap();
    let mut ws = Ws::connect(&app, &short).await;
    ws.subscribe("1", INBOX_CHANGED, json!({})).await;
    loop {
        match ws.next().await {
            Frame::Json(v) if v["type"] == "next" => continue,
            Frame::Closed(code, reason) => {
                assert_eq!(code, 4403, "{reason}");
                assert!(reason.contains("expired"), "{reason}");
                break;
            }
            other => panic!("expected a 4403 close, got {other:?}"),
        }
    }
}

/// Two instances on one PostgreSQL: a write through the first reaches a
/// subscriber of the second (LISTEN/NOTIFY). SQLite is one instance only.
#[tokio::test]
async fn a_second_instance_hears_writes_made_through_the_first() {
    run_on(Backend::Postgres, |backend| async move {
        let a = crate::common::spawn_app(backend).await;
        let b = spawn_second_instance(backend, &a.db_url).await;
        let t = Tokens::login_all(&a).await;
        let center = institution_id(&a, &t.concierge, CENTER).await;

        let mut partner = Ws::connect(&b, &t.center).await;
        partner.subscribe("p", INBOX_CHANGED, json!({})).await;
        let p = partner.next_payload("p").await;
        assert_eq!(p["data"]["inboxChanged"]["reason"], "SUBSCRIBED", "{p}");

        let c = open_simple(&a, &t.concierge, "別インスタンス", "株式会社ふたつめ").await;
        let mut desk = Ws::connect(&b, &t.concierge).await;
        desk.subscribe("c", CASE_UPDATED, json!({ "c": c.id, "a": 1 }))
            .await;
        // Written after the partner's SUBSCRIBED: only NOTIFY can bring it to b.
        let referral = refer_ok(&a, &t.concierge, &c.id, &center).await;
        let p = partner.next_payload("p").await;
        assert_eq!(p["data"]["inboxChanged"]["reason"], "REFERRAL", "{p}");
        assert_eq!(p["data"]["inboxChanged"]["referralId"], referral.as_str());

        // Referring a NEW case records two events.
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let d = desk.next_payload("c").await;
            kinds.push(
                d["data"]["caseUpdated"]["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        kinds.sort();
        assert_eq!(kinds, ["REFERRED", "STATUS_CHANGED"]);
        // And one written after those arrived.
        add_note(&a, &t.concierge, &c.id, "別インスタンスから", "DESK")
            .await
            .ok();
        let d = desk.next_payload("c").await;
        assert_eq!(d["data"]["caseUpdated"]["kind"], "NOTE_ADDED", "{d}");
        assert_eq!(d["data"]["caseUpdated"]["seq"], 4, "{d}");
    })
    .await
}
