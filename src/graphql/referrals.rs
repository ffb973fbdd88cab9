//! Referrals: the desk refers and withdraws, a partner institution accepts,
//! declines or completes; `overdueReferrals` is the desk's escalation list.

use super::case_types::Referral;
use super::loaders::{forget_cases, Loaders};
use super::{parse_id, state, viewer};
use crate::domain::types::DeclineReason;
use crate::error::AppResult;
use crate::service::referrals::{self as svc, Action};
use async_graphql::{Context, Object, ID};
use uuid::Uuid;

fn referral_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id, "紹介", "Referral")
}

async fn act(ctx: &Context<'_>, id: &ID, action: Action) -> AppResult<Referral> {
    let v = viewer(ctx)?;
    let r = svc::act(state(ctx), v, referral_id(id)?, action).await?;
    forget_cases(ctx.data_unchecked::<Loaders>());
    Ok(Referral(r))
}

#[derive(Default)]
pub struct ReferralsQuery;

#[Object]
impl ReferralsQuery {
    /// Pending referrals of your lab past their pick-up deadline, most overdue first (desk staff).
    async fn overdue_referrals(&self, ctx: &Context<'_>) -> AppResult<Vec<Referral>> {
        let v = viewer(ctx)?;
        Ok(svc::overdue(state(ctx), v)
            .await?
            .into_iter()
            .map(Referral)
            .collect())
    }
}

#[derive(Default)]
pub struct ReferralsMutation;

#[Object]
impl ReferralsMutation {
    /// Refers a case to a partner institution of the lab (desk staff). Needs
    /// the business's consent; one open referral per institution; a `NEW`
    /// case moves to `IN_PROGRESS`. The pick-up deadline counts business days.
    async fn refer_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        institution_id: ID,
        note: Option<String>,
    ) -> AppResult<Referral> {
        let v = viewer(ctx)?;
        let cid = parse_id(&case_id, "相談", "Case")?;
        let iid = institution_id.parse::<Uuid>().ok();
        let r = svc::refer_case(state(ctx), v, cid, iid, note).await?;
        forget_cases(ctx.data_unchecked::<Loaders>());
        Ok(Referral(r))
    }

    /// Picks up a pending referral (partner staff of its institution).
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
        note: Option<String>,
    ) -> AppResult<Referral> {
        act(ctx, &referral_id, Action::Accept { note }).await
    }

    /// Declines a pending referral with a reason (partner staff of its institution).
    async fn decline_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
        reason: DeclineReason,
        note: Option<String>,
    ) -> AppResult<Referral> {
        act(ctx, &referral_id, Action::Decline { reason, note }).await
    }

    /// Completes an accepted referral with a summary, handing the case back (partner staff of its institution).
    async fn complete_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
        summary: String,
    ) -> AppResult<Referral> {
        act(ctx, &referral_id, Action::Complete { summary }).await
    }

    /// Withdraws a pending referral (desk staff).
    async fn withdraw_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
        note: Option<String>,
    ) -> AppResult<Referral> {
        act(ctx, &referral_id, Action::Withdraw { note }).await
    }
}
