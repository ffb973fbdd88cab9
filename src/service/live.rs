//! Live updates (`caseUpdated`, `inboxChanged`): each time a committed write is
//! announced (`store::live`), a subscriber re-reads what it may see through the
//! same use-cases and access rules as the queries, and sends only what is new.
//! The announcement itself (lab, case, kinds) is never forwarded.

use crate::domain::permissions::Viewer;
use crate::domain::types::{Channel, EventKind, ReferralStatus};
use crate::error::AppResult;
use crate::service::{access, cases, referrals};
use crate::state::AppState;
use crate::store::live::{Heard, Signal};
use crate::store::EventRow;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

/// How often the desk's overdue list is re-read without a write (referrals
/// become overdue by time passing).
pub const OVERDUE_RECHECK: Duration = Duration::from_secs(60);

/// The kinds of event that change a referral.
const REFERRAL_KINDS: [EventKind; 6] = [
    EventKind::Opened,
    EventKind::Referred,
    EventKind::Accepted,
    EventKind::Declined,
    EventKind::Withdrawn,
    EventKind::Completed,
];

fn about_referrals(s: &Signal) -> bool {
    REFERRAL_KINDS.iter().any(|k| s.has(*k))
}

/// `caseUpdated(caseId, afterSeq)`: the events of the case the viewer may see,
/// as they are appended — those after `afterSeq` first, when it is given (so a
/// client loses nothing between its last read and subscribing). `NOT_FOUND`
/// when the viewer may not read the case, at the start or later (the stream then ends).
pub async fn case_events(
    st: &AppState,
    v: &Viewer,
    case_id: Uuid,
    after_seq: Option<i64>,
) -> AppResult<BoxStream<'static, AppResult<EventRow>>> {
    let row = access::load_case_for(st, v, case_id).await?;
    let rx = st.store.live_subscribe().await?;
    struct S {
        st: AppState,
        v: Viewer,
        case_id: Uuid,
        rx: broadcast::Receiver<Heard>,
        last: i64,
        queue: VecDeque<EventRow>,
        check: bool,
        done: bool,
    }
    let s = S {
        st: st.clone(),
        v: v.clone(),
        case_id,
        rx,
        last: after_seq.unwrap_or(row.event_count),
        queue: VecDeque::new(),
        check: after_seq.is_some_and(|a| a < row.event_count),
        done: false,
    };
    Ok(stream::unfold(s, |mut s| async move {
        loop {
            if let Some(e) = s.queue.pop_front() {
                return Some((Ok(e), s));
            }
            if s.done {
                return None;
            }
            if !std::mem::take(&mut s.check) {
                match s.rx.recv().await {
                    Ok(Heard::Signal(sig)) if sig.case != s.case_id => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
            // Still readable? (A partner whose referral was withdrawn is not.)
            let fresh = match access::load_case_for(&s.st, &s.v, s.case_id).await {
                Ok(_) => cases::events_for(&s.st, &s.v, s.case_id).await,
                Err(e) => Err(e),
            };
            match fresh {
                Ok(events) => {
                    let new: Vec<EventRow> =
                        events.into_iter().filter(|e| e.seq > s.last).collect();
                    if let Some(e) = new.last() {
                        s.last = e.seq;
                    }
                    s.queue.extend(new);
                }
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            }
        }
    })
    .boxed())
}

/// Why the inbox changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxReason {
    /// The subscription is in place: re-read now to close the gap since the last read.
    Subscribed,
    /// A referral of the partner's institution arrived or changed state.
    Referral,
    /// A consultation arrived through the public web form (desk).
    WebFormCase,
    /// The lab's list of overdue referrals changed (desk).
    Overdue,
    /// Updates may have been missed (a lost connection to the database): re-read.
    Resync,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxChange {
    pub reason: InboxReason,
    /// The case concerned, when there is one.
    pub case_id: Option<Uuid>,
    /// The referral concerned (partner).
    pub referral_id: Option<Uuid>,
}

impl InboxChange {
    fn of(reason: InboxReason) -> Self {
        Self {
            reason,
            case_id: None,
            referral_id: None,
        }
    }
}

/// What an inbox subscriber last saw.
enum Seen {
    /// A partner: its institution's referrals and their states.
    Partner(HashMap<Uuid, (Uuid, ReferralStatus)>),
    /// The desk: the lab's overdue referrals.
    Desk(BTreeSet<Uuid>),
}

async fn partner_referrals(
    st: &AppState,
    v: &Viewer,
    institution: Uuid,
) -> AppResult<HashMap<Uuid, (Uuid, ReferralStatus)>> {
    Ok(st
        .store
        .referrals_for_institution(v.lab_id, institution, ReferralStatus::ALL)
        .await?
        .into_iter()
        .filter(|r| access::referral_visible(v, r))
        .map(|r| (r.id, (r.case_id, r.status)))
        .collect())
}

async fn overdue_ids(st: &AppState, v: &Viewer) -> AppResult<BTreeSet<Uuid>> {
    Ok(referrals::overdue(st, v)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

async fn read_seen(st: &AppState, v: &Viewer) -> AppResult<Seen> {
    Ok(match v.partner_institution() {
        Some(inst) => Seen::Partner(partner_referrals(st, v, inst).await?),
        None => Seen::Desk(overdue_ids(st, v).await?),
    })
}

/// What changed between two reads, as inbox changes.
fn diff(old: &Seen, new: &Seen) -> Vec<InboxChange> {
    match (old, new) {
        (Seen::Partner(old), Seen::Partner(new)) => {
            let mut out: Vec<InboxChange> = new
                .iter()
                .filter(|(id, now)| old.get(id) != Some(now))
                .map(|(id, (case, _))| InboxChange {
                    reason: InboxReason::Referral,
                    case_id: Some(*case),
                    referral_id: Some(*id),
                })
                .collect();
            out.sort_by_key(|c| c.referral_id);
            out
        }
        (Seen::Desk(old), Seen::Desk(new)) if old != new => {
            vec![InboxChange::of(InboxReason::Overdue)]
        }
        _ => Vec::new(),
    }
}

/// `inboxChanged`: for a partner, its institution's referrals arriving or
/// changing state; for the desk, new web-form consultations of the lab and
/// changes of its overdue list (re-read on referral writes and every
/// [`OVERDUE_RECHECK`]). The first item says the subscription is in place.
pub async fn inbox_changes(
    st: &AppState,
    v: &Viewer,
) -> AppResult<BoxStream<'static, AppResult<InboxChange>>> {
    let rx = st.store.live_subscribe().await?;
    let seen = read_seen(st, v).await?;
    struct S {
        st: AppState,
        v: Viewer,
        rx: broadcast::Receiver<Heard>,
        seen: Seen,
        queue: VecDeque<InboxChange>,
        tick: tokio::time::Interval,
        done: bool,
    }
    let mut tick = tokio::time::interval(OVERDUE_RECHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    let s = S {
        st: st.clone(),
        v: v.clone(),
        rx,
        seen,
        queue: VecDeque::from([InboxChange::of(InboxReason::Subscribed)]),
        tick,
        done: false,
    };
    Ok(stream::unfold(s, |mut s| async move {
        loop {
            if let Some(c) = s.queue.pop_front() {
                return Some((Ok(c), s));
            }
            if s.done {
                return None;
            }
            let desk = s.v.is_desk();
            let mut resync = false;
            let mut web_form_case = None;
            tokio::select! {
                heard = s.rx.recv() => match heard {
                    Ok(Heard::Signal(sig)) => {
                        if sig.lab != s.v.lab_id {
                            continue;
                        }
                        if desk && sig.has(EventKind::Opened) {
                            web_form_case = Some(sig.case);
                        }
                        if !about_referrals(&sig) && web_form_case.is_none() {
                            continue;
                        }
                    }
                    Ok(Heard::Resync) | Err(RecvError::Lagged(_)) => resync = true,
                    Err(RecvError::Closed) => return None,
                },
                _ = s.tick.tick(), if desk => {}
            }
            let step = async {
                if let Some(id) = web_form_case {
                    let row = access::load_case_for(&s.st, &s.v, id).await?;
                    if row.channel == Channel::WebForm {
                        s.queue.push_back(InboxChange {
                            reason: InboxReason::WebFormCase,
                            case_id: Some(id),
                            referral_id: None,
                        });
                    }
                }
                let now = read_seen(&s.st, &s.v).await?;
                s.queue.extend(diff(&s.seen, &now));
                s.seen = now;
                if resync {
                    s.queue.push_back(InboxChange::of(InboxReason::Resync));
                }
                AppResult::Ok(())
            };
            if let Err(e) = step.await {
                s.done = true;
                return Some((Err(e), s));
            }
        }
    })
    .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(entries: &[(u128, u128, ReferralStatus)]) -> Seen {
        Seen::Partner(
            entries
                .iter()
                .map(|(r, c, st)| (Uuid::from_u128(*r), (Uuid::from_u128(*c), *st)))
                .collect(),
        )
    }

    #[test]
    fn a_partner_hears_of_new_and_changed_referrals_only() {
        let old = partner(&[
            (1, 10, ReferralStatus::Pending),
            (2, 20, ReferralStatus::Pending),
        ]);
        let new = partner(&[
            (1, 10, ReferralStatus::Pending),
            (2, 20, ReferralStatus::Accepted),
            (3, 30, ReferralStatus::Pending),
        ]);
        let got: Vec<_> = diff(&old, &new)
            .into_iter()
            .map(|c| {
                (
                    c.referral_id.unwrap().as_u128(),
                    c.case_id.unwrap().as_u128(),
                )
            })
            .collect();
        assert_eq!(got, vec![(2, 20), (3, 30)]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn the_desk_hears_when_the_overdue_list_changes() {
        let a = Seen::Desk(BTreeSet::from([Uuid::from_u128(1)]));
        let b = Seen::Desk(BTreeSet::new());
        assert_eq!(diff(&a, &b), vec![InboxChange::of(InboxReason::Overdue)]);
        assert!(diff(&a, &a).is_empty());
    }
}
