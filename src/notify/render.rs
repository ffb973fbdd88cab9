//! The wording of every mail: Japanese (English for a user whose language is
//! English), plain text plus the same in HTML, with a link into the product.
//! A mail says no more than its recipient may read in the product: partners
//! get the reference, title and deadline of their own referral; the business
//! gets its reference (and, from the web form, its access code) and the
//! status page's own wording.

use crate::domain::notify::NotifyKind;
use crate::domain::types::{DeclineReason, ReferralStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn s<'a>(p: &'a Value, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A time as people read it in Japan: `2026年11月10日 23:59` / `2026-11-10 23:59 JST`.
fn when(p: &Value, k: &str, en: bool) -> String {
    let Some(t) = p
        .get(k)
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    else {
        return String::new();
    };
    let l = crate::domain::jst::local(t);
    if en {
        l.format("%Y-%m-%d %H:%M JST").to_string()
    } else {
        l.format("%Y年%m月%d日 %H:%M").to_string()
    }
}

/// Lines of `label: value` plus a closing link, as text and HTML.
struct Body {
    intro: String,
    rows: Vec<(String, String)>,
    link: String,
    link_label: String,
    outro: String,
}

impl Body {
    fn render(&self, subject: String) -> Mail {
        let mut text = format!("{}\n\n", self.intro);
        let mut rows = String::new();
        for (k, v) in &self.rows {
            text.push_str(&format!("{k}: {v}\n"));
            rows.push_str(&format!(
                "<tr><th style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>",
                esc(k),
                esc(v).replace('\n', "<br>")
            ));
        }
        text.push_str(&format!("\n{}\n{}\n", self.link_label, self.link));
        if !self.outro.is_empty() {
            text.push_str(&format!("\n{}\n", self.outro));
        }
        let html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p><table>{rows}</table>\
             <p><a href=\"{}\">{}</a></p><p style=\"color:#555\">{}</p></body></html>",
            esc(&self.intro),
            esc(&self.link),
            esc(&self.link_label),
            esc(&self.outro)
        );
        Mail {
            subject,
            text,
            html,
        }
    }
}

fn status_label(p: &Value, en: bool) -> String {
    match ReferralStatus::parse(s(p, "status")) {
        Some(st) if en => st.label_en().to_owned(),
        Some(st) => st.label_ja().to_owned(),
        None => String::new(),
    }
}

/// The mail of `kind` from its outbox payload, for a reader of `lang`
/// (`EN` or anything else for Japanese); `base` is `DXDESK_PUBLIC_URL`.
/// `milestone` is the status page's wording, for milestone mails.
pub fn render(kind: NotifyKind, p: &Value, en: bool, base: &str, milestone: Option<&str>) -> Mail {
    let link = format!("{base}{}", s(p, "link"));
    let reference = s(p, "reference").to_owned();
    let title = s(p, "title").to_owned();
    let pick = |ja: &str, e: &str| if en { e.to_owned() } else { ja.to_owned() };
    let footer = pick(
        "このメールは DX総合窓口(dxdesk)から自動で送信しています。通知の設定はプロフィール画面で変更できます。",
        "This mail was sent automatically by dxdesk. You can change your notifications in your profile.",
    );
    let case_rows = |extra: Vec<(String, String)>| {
        let mut v = vec![
            (pick("受付番号", "Reference"), reference.clone()),
            (pick("件名", "Title"), title.clone()),
        ];
        v.extend(extra);
        v
    };
    let open_case = pick("案件を開く", "Open the case");
    match kind {
        NotifyKind::ReferralArrived => Body {
            intro: pick(
                "DX総合窓口から貴機関へ新しい紹介が届きました。受付期限までに受付または辞退をお願いします。",
                "The DX desk has referred a new case to your institution. Please accept or decline it before the pick-up deadline.",
            ),
            rows: case_rows(vec![(pick("受付期限", "Pick-up deadline"), when(p, "deadline", en))]),
            link,
            link_label: open_case,
            outro: footer,
        }
        .render(pick(
            &format!("【DX総合窓口】新しい紹介が届きました({reference})"),
            &format!("[DX desk] New referral ({reference})"),
        )),
        NotifyKind::Reminder => Body {
            intro: pick(
                "次の紹介はまだ受付されていません。受付期限は明日までです(営業日)。",
                "This referral has not been picked up yet. The pick-up deadline is the next business day.",
            ),
            rows: case_rows(vec![(pick("受付期限", "Pick-up deadline"), when(p, "deadline", en))]),
            link,
            link_label: open_case,
            outro: footer,
        }
        .render(pick(
            &format!("【DX総合窓口】受付期限が近づいています({reference})"),
            &format!("[DX desk] Pick-up deadline approaching ({reference})"),
        )),
        NotifyKind::Escalation => {
            let repeat = p.get("occurrence").and_then(Value::as_u64).unwrap_or(0) > 0;
            Body {
                intro: pick(
                    if repeat {
                        "次の紹介は受付期限を過ぎたまま、まだ受付されていません(再通知)。紹介先への連絡または紹介の取り下げをご検討ください。"
                    } else {
                        "次の紹介が受付期限を過ぎても受付されていません。紹介先への連絡または紹介の取り下げをご検討ください。"
                    },
                    if repeat {
                        "This referral is still overdue and not picked up (repeat). Consider contacting the institution or withdrawing the referral."
                    } else {
                        "This referral has passed its pick-up deadline without being picked up. Consider contacting the institution or withdrawing the referral."
                    },
                ),
                rows: case_rows(vec![
                    (pick("紹介先", "Institution"), s(p, "institutionName").to_owned()),
                    (pick("受付期限", "Pick-up deadline"), when(p, "deadline", en)),
                ]),
                link,
                link_label: open_case,
                outro: footer,
            }
            .render(pick(
                &format!("【DX総合窓口】受付期限超過: {reference}"),
                &format!("[DX desk] Overdue referral: {reference}"),
            ))
        }
        NotifyKind::ReferralAnswered => {
            let mut extra = vec![
                (pick("紹介先", "Institution"), s(p, "institutionName").to_owned()),
                (pick("回答", "Answer"), status_label(p, en)),
            ];
            if let Some(r) = DeclineReason::parse(s(p, "reason")) {
                extra.push((
                    pick("辞退理由", "Reason"),
                    if en { r.label_en() } else { r.label_ja() }.to_owned(),
                ));
            }
            if !s(p, "note").is_empty() {
                extra.push((pick("メモ", "Note"), s(p, "note").to_owned()));
            }
            if !s(p, "summary").is_empty() {
                extra.push((pick("支援の概要", "Summary"), s(p, "summary").to_owned()));
            }
            let st = status_label(p, en);
            Body {
                intro: pick(
                    "ご担当の案件について、紹介先から回答がありました。",
                    "The institution has answered a referral of a case assigned to you.",
                ),
                rows: case_rows(extra),
                link,
                link_label: open_case,
                outro: footer,
            }
            .render(pick(
                &format!("【DX総合窓口】紹介先の回答: {st}({reference})"),
                &format!("[DX desk] Institution's answer: {st} ({reference})"),
            ))
        }
        NotifyKind::WebConsultation => Body {
            intro: pick(
                "Webフォームから新しいご相談が届きました。",
                "A new consultation has arrived through the web form.",
            ),
            rows: case_rows(vec![]),
            link,
            link_label: open_case,
            outro: footer,
        }
        .render(pick(
            &format!("【DX総合窓口】Webフォームからのご相談({reference})"),
            &format!("[DX desk] Web-form consultation ({reference})"),
        )),
        NotifyKind::BusinessReference => {
            let mut rows = vec![("受付番号".to_owned(), reference.clone())];
            let code = s(p, "accessCode");
            if !code.is_empty() {
                rows.push(("アクセスコード".to_owned(), code.to_owned()));
            }
            // A desk intake never mails the access code: the business got it
            // on the printed slip (the address was typed by staff, not by it).
            let where_code = if code.is_empty() {
                "アクセスコードは窓口でお渡しした受付票に記載しています。"
            } else {
                ""
            };
            Body {
                intro: format!("DX総合窓口にご相談いただきありがとうございます。次の受付番号で承りました。進み具合は状況確認ページで、受付番号とアクセスコードを入力してご確認いただけます。{where_code}"),
                rows,
                link,
                link_label: "状況確認ページ".to_owned(),
                outro: "このメールにお心当たりのない場合は、破棄してください。アクセスコードは他の方に知らせないでください。".to_owned(),
            }
            .render(format!("【DX総合窓口】ご相談を受け付けました({reference})"))
        }
        NotifyKind::BusinessMilestone => Body {
            intro: "ご相談の状況が更新されました。".to_owned(),
            rows: vec![
                ("受付番号".to_owned(), reference.clone()),
                ("お知らせ".to_owned(), milestone.unwrap_or("").to_owned()),
            ],
            link,
            link_label: "状況確認ページ".to_owned(),
            outro: "詳しくは状況確認ページで、受付番号とアクセスコードを入力してご確認ください。".to_owned(),
        }
        .render(format!("【DX総合窓口】ご相談の状況が更新されました({reference})")),
        NotifyKind::PasswordReset => Body {
            intro: pick(
                "パスワード再設定のご依頼を受け付けました。次のリンクから新しいパスワードを設定してください。リンクは一度だけ、有効期限まで使えます。",
                "We received a request to reset your password. Set a new one with the link below; it works once, until it expires.",
            ),
            rows: vec![(pick("有効期限", "Expires"), when(p, "expiresAt", en))],
            link: s(p, "link").to_owned(),
            link_label: pick("パスワードを再設定する", "Reset the password"),
            outro: pick(
                "お心当たりのない場合は、このメールを破棄してください。パスワードは変更されません。",
                "If you did not ask for this, ignore this mail: your password stays as it is.",
            ),
        }
        .render(pick(
            "【DX総合窓口】パスワード再設定のご案内",
            "[DX desk] Reset your password",
        )),
        NotifyKind::WebhookEvent => Mail {
            subject: String::new(),
            text: String::new(),
            html: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrival_in_japanese_and_english() {
        let p = json!({"reference": "AOM-2026-000001", "title": "在庫<管理>", "deadline": "2026-11-10T14:59:59.999Z", "link": "/cases/x"});
        let m = render(
            NotifyKind::ReferralArrived,
            &p,
            false,
            "https://desk.example.jp",
            None,
        );
        assert!(m.subject.contains("新しい紹介") && m.subject.contains("AOM-2026-000001"));
        assert!(m.text.contains("2026年11月10日 23:59"));
        assert!(m.text.contains("https://desk.example.jp/cases/x"));
        assert!(m.html.contains("在庫&lt;管理&gt;"));
        let e = render(
            NotifyKind::ReferralArrived,
            &p,
            true,
            "https://desk.example.jp",
            None,
        );
        assert!(e.subject.starts_with("[DX desk] New referral"));
    }
}
