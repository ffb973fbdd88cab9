//! The public web form (`submitConsultation`): a business asks for a
//! consultation without an account. Checked like the intake screen, with the
//! consent to share required, a honeypot field and throttling per client
//! address; it creates a `NEW` `WEB_FORM` case and returns the reference and
//! the access code.
//!
//! Honeypot decision: a filled-in `website` is refused with a generic
//! `BAD_USER_INPUT` that does not name the field, nothing is stored, and the
//! attempt counts against the address's limit. (A fake success would mislead
//! the rare person whose browser auto-fills hidden fields.)

use super::cases::normalized;
use super::intake::{self, BusinessFields};
use super::MAX_TEXT;
use crate::domain::types::*;
use crate::domain::{access_code, validation};
use crate::error::{AppError, AppResult};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::{BusinessChoice, LabRow, NewCase};
use uuid::Uuid;

/// The purpose of use the business consents to (APPI), as the form shows it.
pub const PURPOSE_OF_USE_JA: &str = "ご入力いただいた事業者情報・ご連絡先・ご相談内容は、DX推進ラボの事務局（DX総合窓口）と連携支援機関（産業支援機関・大学・金融機関など）が、このご相談への対応とご支援、ならびに個人を特定しない形での活動報告のためにのみ利用し、ご相談に必要な範囲で連携支援機関と共有します。";
/// English twin of [`PURPOSE_OF_USE_JA`].
pub const PURPOSE_OF_USE_EN: &str = "The business details, contact details and consultation you enter are used by the DX lab's secretariat (the one-stop desk) and its partner institutions (industry-support bodies, universities, financial institutions) only to handle and support this consultation and, without identifying anyone, for activity reports; they are shared with partner institutions as far as the consultation needs.";

/// Longest derived title, in characters.
pub const TITLE_CHARS: usize = 40;

/// The web form as submitted (GraphQL `ConsultationInput`).
#[derive(Debug, Clone, Default)]
pub struct Consultation {
    pub business: BusinessFields,
    pub description: String,
    pub stage: Option<Stage>,
    pub consent_to_share: bool,
    pub website: Option<String>,
    pub lab_code: Option<String>,
}

/// A title from the description: its first non-blank line, cut to 40
/// characters with an ellipsis.
pub fn derive_title(description: &str) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Webからのご相談");
    let mut t: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        t.push('…');
    }
    t
}

fn honeypot() -> AppError {
    AppError::bad_input(
        None,
        "送信内容を受け付けられませんでした。入力内容をご確認のうえ、もう一度お試しください。",
        "The submission could not be accepted. Check your input and try again.",
    )
}

/// Picks the lab: the `labCode` if given, else the lab of the municipality,
/// else the deployment's first lab.
async fn pick_lab(st: &AppState, c: &Consultation) -> AppResult<LabRow> {
    if let Some(code) = c
        .lab_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return st
            .store
            .lab_by_code(&code.to_ascii_uppercase())
            .await?
            .ok_or_else(|| {
                AppError::bad_input(
                    Some("labCode"),
                    format!("ラボコード「{code}」は見つかりません。"),
                    format!("There is no lab with the code {code:?}."),
                )
            });
    }
    let labs = st.store.labs().await?;
    if let Some(m) = c
        .business
        .municipality
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if let Some(lab) = intake::lab_of_municipality(&labs, m) {
            return Ok(lab.clone());
        }
    }
    labs.into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no lab is configured for the web form")))
}

/// `submitConsultation`: returns the new case's reference and access code.
/// The submission takes its slot of the address's limit first (atomically, so
/// concurrent submissions cannot all pass); a submission refused for its
/// content gives the slot back, except the honeypot, which keeps it.
pub async fn submit(st: &AppState, c: Consultation, client: &str) -> AppResult<(String, String)> {
    let now = st.now();
    let store = st.store.as_ref();
    let slot = ratelimit::take(store, ratelimit::SUBMIT_PER_ADDRESS, client, now).await?;
    if c.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
        return Err(honeypot());
    }
    match create(st, c).await {
        Ok(done) => Ok(done),
        Err(e) => {
            ratelimit::release(store, &slot).await?;
            Err(e)
        }
    }
}

async fn create(st: &AppState, c: Consultation) -> AppResult<(String, String)> {
    let now = st.now();
    if !c.consent_to_share {
        return Err(AppError::bad_input(
            Some("consentToShare"),
            format!("ご相談には、情報の利用と共有への同意が必要です。{PURPOSE_OF_USE_JA}"),
            format!("Your consent to the use and sharing of your information is required. {PURPOSE_OF_USE_EN}"),
        ));
    }
    let lab = pick_lab(st, &c).await?;
    let business = intake::new_business(&lab, &c.business, now)?;
    if business.email.is_none() && business.phone.is_none() {
        return Err(AppError::bad_input(
            Some("email"),
            "ご連絡先として、メールアドレスか電話番号の少なくとも一方を入力してください。",
            "Give at least one way to reach you: an e-mail address or a phone number.",
        ));
    }
    let description =
        validation::required_text("description", "ご相談内容", &c.description, MAX_TEXT)?;
    let stage = c.stage.unwrap_or(Stage::Consult);
    // The business typed its own address on the form: that is its choice to
    // hear from the desk there.
    let email_updates = business.email.is_some();
    let code = access_code::generate();
    let new = NewCase {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        lab_code: lab.code.clone(),
        business: BusinessChoice::New(business),
        title: derive_title(&description),
        description,
        topics: vec![],
        channel: Channel::WebForm,
        stage,
        status: CaseStatus::New,
        priority: Priority::Normal,
        assigned_to: None,
        consent_to_share: true,
        consent_by: None,
        access_code_hash: access_code::hash(&code),
        mail_access_code: Some(code.clone()),
        email_updates,
        actor: None,
        now,
    };
    let snap = normalized(st.store.open_case(new).await?);
    Ok((snap.case.reference, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_descriptions() {
        assert_eq!(
            derive_title("\n  在庫管理をクラウド化したい\n詳細…"),
            "在庫管理をクラウド化したい"
        );
        let long = "あ".repeat(50);
        let t = derive_title(&long);
        assert_eq!(t.chars().count(), TITLE_CHARS + 1);
        assert!(t.ends_with('…'));
        assert_eq!(derive_title("   "), "Webからのご相談");
    }
}
