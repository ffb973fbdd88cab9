//! The domain rules that SQL needs, derived once from the domain predicates
//! (`domain::referral_state`, `domain::case_state`) as SQL fragments, so no
//! query re-types a list of statuses.

use super::db::Sql;
use crate::domain::types::{CaseStatus, ReferralStatus};
use crate::domain::{case_state, referral_state};
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// `('A', 'B')`: an SQL list of stored enum names.
fn list(names: impl IntoIterator<Item = &'static str>) -> String {
    let items: Vec<String> = names.into_iter().map(|n| format!("'{n}'")).collect();
    format!("({})", items.join(", "))
}

/// The SQL list of the referral statuses `keep` selects.
fn referral_list(keep: impl Fn(ReferralStatus) -> bool) -> String {
    list(
        ReferralStatus::ALL
            .iter()
            .filter(|s| keep(**s))
            .map(|s| s.as_str()),
    )
}

/// The referral status awaiting pick-up (it makes a case show as `REFERRED`).
pub const PENDING: &str = "'PENDING'";

/// `('PENDING', 'ACCEPTED', 'COMPLETED')`: the referral statuses through which
/// a partner may read a case ([`referral_state::partner_can_see`]).
pub static PARTNER_VISIBLE: LazyLock<String> =
    LazyLock::new(|| referral_list(referral_state::partner_can_see));

/// `('NEW', 'IN_PROGRESS')`: the stored case statuses that show as `REFERRED`
/// while a referral is pending ([`case_state::displayed_status`]).
pub static SHOWN_AS_REFERRED: LazyLock<String> = LazyLock::new(|| {
    list(
        CaseStatus::ALL
            .iter()
            .filter(|s| {
                case_state::displayed_status(**s, true) == CaseStatus::Referred
                    && case_state::displayed_status(**s, false) != CaseStatus::Referred
            })
            .map(|s| s.as_str()),
    )
});

/// `('RESOLVED', 'CLOSED')`: the case statuses that are no longer open
/// ([`case_state::is_open`]).
pub static NOT_OPEN: LazyLock<String> = LazyLock::new(|| {
    list(
        CaseStatus::ALL
            .iter()
            .filter(|s| !case_state::is_open(**s))
            .map(|s| s.as_str()),
    )
});

/// `('ACCEPTED', 'COMPLETED', 'DECLINED')`: the statuses of a referral the
/// institution has decided on (picked up or declined): where a pending
/// referral can go other than being withdrawn by the desk.
pub static DECIDED: LazyLock<String> = LazyLock::new(|| {
    referral_list(|s| s != ReferralStatus::Pending && s != ReferralStatus::Withdrawn)
});

/// `('PENDING', 'ACCEPTED')`: the referral statuses that are still open
/// ([`referral_state::is_open`]).
pub static OPEN_REFERRAL: LazyLock<String> =
    LazyLock::new(|| referral_list(referral_state::is_open));

/// The referral status of a completed referral (a partner's support done).
pub const COMPLETED: &str = "'COMPLETED'";

/// The referral status of a withdrawn referral (left out of a partner's figures).
pub const WITHDRAWN: &str = "'WITHDRAWN'";

/// Appends "referral `alias` is pending and past its pick-up deadline at `now`"
/// ([`crate::domain::business_days::is_overdue`]: strictly after the deadline).
pub fn push_overdue(q: &mut Sql, alias: &str, now: DateTime<Utc>) {
    q.push(&format!(
        "{alias}.status = {PENDING} AND {alias}.pickup_deadline < "
    ))
    .bind(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_match_the_domain() {
        assert_eq!(*PARTNER_VISIBLE, "('PENDING', 'ACCEPTED', 'COMPLETED')");
        assert_eq!(*SHOWN_AS_REFERRED, "('NEW', 'IN_PROGRESS')");
        assert_eq!(*NOT_OPEN, "('RESOLVED', 'CLOSED')");
        assert_eq!(*DECIDED, "('ACCEPTED', 'DECLINED', 'COMPLETED')");
        assert_eq!(*OPEN_REFERRAL, "('PENDING', 'ACCEPTED')");
        assert_eq!(
            COMPLETED,
            format!("'{}'", ReferralStatus::Completed.as_str())
        );
        assert_eq!(PENDING, format!("'{}'", ReferralStatus::Pending.as_str()));
        assert_eq!(
            WITHDRAWN,
            format!("'{}'", ReferralStatus::Withdrawn.as_str())
        );
    }
}
