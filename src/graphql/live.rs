//! Subscriptions (over WebSocket, `graphql-transport-ws`: `http::live`):
//! `caseUpdated` and `inboxChanged`. The resolvers call `service::live`.

use super::case_types::CaseEvent;
use super::{parse_id, state, viewer};
use crate::service::live::{self as svc, InboxReason};
use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use futures::{Stream, StreamExt};

#[derive(Default)]
pub struct LiveSubscription;

/// Why `inboxChanged` fired.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::service::live::InboxReason")]
pub enum InboxChangeReason {
    /// The subscription is in place: re-read the inbox now (closes the gap since your last read).
    Subscribed,
    /// A referral to your institution arrived or changed state (partner).
    Referral,
    /// A consultation arrived through the public web form (desk).
    WebFormCase,
    /// The lab's overdue referrals changed (desk).
    Overdue,
    /// Updates may have been missed: re-read the inbox.
    Resync,
}

/// Something in your inbox changed: re-read it (it carries ids only).
#[derive(SimpleObject)]
pub struct InboxChange {
    pub reason: InboxChangeReason,
    /// The case concerned, if any.
    pub case_id: Option<ID>,
    /// The referral concerned, if any (partner).
    pub referral_id: Option<ID>,
}

impl From<svc::InboxChange> for InboxChange {
    fn from(c: svc::InboxChange) -> Self {
        let reason: InboxReason = c.reason;
        Self {
            reason: reason.into(),
            case_id: c.case_id.map(|id| ID(id.to_string())),
            referral_id: c.referral_id.map(|id| ID(id.to_string())),
        }
    }
}

#[Subscription]
impl LiveSubscription {
    /// Every new event of the case you may see, as it is recorded (by anyone,
    /// on any instance). With `afterSeq`, the events after that `seq` come
    /// first, so nothing is lost between reading the case and subscribing.
    /// `NOT_FOUND` when the case does not exist or you may not see it (then or later).
    async fn case_updated(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        after_seq: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<CaseEvent>>> {
        let v = viewer(ctx)?;
        let id = parse_id(&case_id, "相談", "Case")?;
        let events = svc::case_events(state(ctx), v, id, after_seq).await?;
        Ok(events.map(|r| r.map(CaseEvent).map_err(Into::into)))
    }

    /// Changes to your inbox: for a partner, referrals to its institution; for
    /// the desk, new web-form consultations and changes of the overdue list.
    /// The first item (`SUBSCRIBED`) says the subscription is in place.
    async fn inbox_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InboxChange>>> {
        let v = viewer(ctx)?;
        let changes = svc::inbox_changes(state(ctx), v).await?;
        Ok(changes.map(|r| r.map(InboxChange::from).map_err(Into::into)))
    }
}
