//! The two senders: SMTP through `lettre` (plain, STARTTLS or TLS, with
//! authentication) and webhook POSTs through `reqwest`, signed Stripe-style.

use super::render::Mail;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub type Smtp = AsyncSmtpTransport<Tokio1Executor>;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The transport `DXDESK_SMTP_URL` names: `smtps://` is TLS from the first
/// byte (port 465 by default); `smtp://` with credentials or on port 587
/// requires STARTTLS; a bare `smtp://host:port` is plain (a local relay).
pub fn transport_for(url: &str) -> anyhow::Result<Smtp> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("no scheme"))?;
    let rest = rest.split(['/', '?']).next().unwrap_or("");
    let (auth, hostport) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("bad port {p:?}"))?,
            ),
        ),
        None => (hostport, None),
    };
    if host.is_empty() {
        anyhow::bail!("no host");
    }
    let mut b = match scheme {
        "smtps" => Smtp::relay(host)?.port(port.unwrap_or(465)),
        "smtp" if auth.is_some() || port == Some(587) => {
            Smtp::starttls_relay(host)?.port(port.unwrap_or(587))
        }
        "smtp" => Smtp::builder_dangerous(host).port(port.unwrap_or(25)),
        other => anyhow::bail!("unknown scheme {other:?}"),
    };
    if let Some(a) = auth {
        let (u, p) = a.split_once(':').unwrap_or((a, ""));
        b = b.credentials(Credentials::new(percent_decode(u), percent_decode(p)));
    }
    Ok(b.timeout(Some(Duration::from_secs(30))).build())
}

/// Why an attempt did not deliver: worth retrying or not.
#[derive(Debug)]
pub enum SendError {
    Transient(String),
    Permanent(String),
}

/// Sends one mail (text + HTML alternative).
pub async fn send_mail(smtp: &Smtp, from: &str, to: &str, mail: &Mail) -> Result<(), SendError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| SendError::Permanent(format!("sender: {e}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?;
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject(&mail.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )
        .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
    match smtp.send(msg).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
        Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
    }
}

/// POSTs a signed webhook body; 2xx is delivered, anything else is retried.
pub async fn post_webhook(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SendError> {
    let sig = crate::domain::notify::webhook_signature(secret, now, body);
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "dxdesk-webhooks/1")
        .header("x-dxdesk-signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| SendError::Transient(format!("HTTP: {e}")))?;
    let status = res.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(SendError::Transient(format!("HTTP {}", status.as_u16())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        assert!(transport_for("smtp://127.0.0.1:2525").is_ok());
        assert!(transport_for("smtp://user:p%40ss@mail.example.jp:587").is_ok());
        assert!(transport_for("smtps://mail.example.jp").is_ok());
        assert!(transport_for("smtp://:25").is_err());
        assert!(transport_for("smtp://h:x").is_err());
        assert_eq!(percent_decode("p%40ss"), "p@ss");
    }
}
