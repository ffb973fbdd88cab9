//! The public, no-login operations for businesses: `caseStatus` (reference +
//! access code) and `submitConsultation` (the web form).

use super::cases::BusinessInput;
use super::{request, state};
use crate::domain::types::{CaseStatus, EventKind, Stage};
use crate::error::AppResult;
use crate::service::consultation::{self, Consultation};
use crate::service::status as svc;
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

/// One step of the public timeline, in plain Japanese.
#[derive(SimpleObject)]
pub struct Milestone {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The kind of event behind it.
    pub kind: EventKind,
    /// e.g. 「青森県産業技術センター」へご紹介しました.
    pub label: String,
}

/// A note the desk or an institution wrote for the business.
#[derive(SimpleObject)]
pub struct PublicNote {
    /// The text.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Where a case stands, as its business sees it: no personal data, no staff
/// notes, no decline reasons.
#[derive(SimpleObject)]
pub struct PublicCaseStatus {
    /// The case reference, e.g. AOM-2026-000123.
    pub reference: String,
    /// Short title of the consultation.
    pub title: String,
    /// Where the business stands: 知る, 相談する or 試す.
    pub stage: Stage,
    /// The status shown (REFERRED while a referral awaits pick-up).
    pub status: CaseStatus,
    /// Whether the case is still open (neither 解決済み nor 終了).
    pub is_open: bool,
    /// Names of the institutions working on the case now.
    pub institutions: Vec<String>,
    /// The timeline, oldest first.
    pub milestones: Vec<Milestone>,
    /// Notes written for the business, oldest first.
    pub notes: Vec<PublicNote>,
    /// What happens next, in one Japanese sentence.
    pub next_step: String,
}

impl From<svc::PublicStatus> for PublicCaseStatus {
    fn from(s: svc::PublicStatus) -> Self {
        PublicCaseStatus {
            reference: s.reference,
            title: s.title,
            stage: s.stage,
            status: s.status,
            is_open: crate::domain::case_state::is_open(s.status),
            institutions: s.institutions,
            milestones: s
                .milestones
                .into_iter()
                .map(|m| Milestone {
                    at: m.at,
                    kind: m.kind,
                    label: m.label,
                })
                .collect(),
            notes: s
                .notes
                .into_iter()
                .map(|n| PublicNote {
                    body: n.body,
                    created_at: n.created_at,
                })
                .collect(),
            next_step: s.next_step,
        }
    }
}

/// The public web form.
#[derive(InputObject)]
pub struct ConsultationInput {
    /// Who you are (company, municipality, contact).
    pub business: BusinessInput,
    /// What you would like help with (at most 4000 characters).
    pub description: String,
    /// Where you stand, if you know (default `CONSULT`).
    pub stage: Option<Stage>,
    /// Must be true: consent to the use and sharing of your information with the lab's partner institutions.
    pub consent_to_share: bool,
    /// Leave empty (a field hidden from people; filled in means a bot).
    pub website: Option<String>,
    /// The lab (see `publicLabs`); default: the lab of the municipality, else the first lab.
    pub lab_code: Option<String>,
}

/// What the business keeps after submitting: the reference and the access code (shown once).
#[derive(SimpleObject)]
pub struct SubmitConsultationPayload {
    /// The case reference, e.g. AOM-2026-000123.
    pub reference: String,
    /// Keep it: with the reference it opens the status page. Shown once.
    pub access_code: String,
}

#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// The status of a case for its business (no login). `null` when the
    /// reference or the access code is wrong; throttled per reference and
    /// per client address (`RATE_LIMITED`).
    async fn case_status(
        &self,
        ctx: &Context<'_>,
        reference: String,
        access_code: String,
    ) -> AppResult<Option<PublicCaseStatus>> {
        let client = &request(ctx).client;
        Ok(
            svc::case_status(state(ctx), &reference, &access_code, client)
                .await?
                .map(Into::into),
        )
    }
}

#[derive(Default)]
pub struct StatusMutation;

#[Object]
impl StatusMutation {
    /// Asks the desk for a consultation (no login): creates a `NEW` web-form
    /// case and returns its reference and access code. Throttled per client address.
    async fn submit_consultation(
        &self,
        ctx: &Context<'_>,
        input: ConsultationInput,
    ) -> AppResult<SubmitConsultationPayload> {
        let c = Consultation {
            business: input.business.into(),
            description: input.description,
            stage: input.stage,
            consent_to_share: input.consent_to_share,
            website: input.website,
            lab_code: input.lab_code,
        };
        let (reference, access_code) =
            consultation::submit(state(ctx), c, &request(ctx).client).await?;
        Ok(SubmitConsultationPayload {
            reference,
            access_code,
        })
    }
}
