//! The referral state machine (DESIGN.md "Referral status"): PENDING → ACCEPTED | DECLINED | WITHDRAWN, ACCEPTED → COMPLETED.

use super::error::{DomainError, DomainResult};
use super::types::{EventKind, ReferralStatus};

use ReferralStatus::*;

/// Every allowed referral transition, `(from, to)`.
pub const TRANSITIONS: &[(ReferralStatus, ReferralStatus)] = &[
    (Pending, Accepted),
    (Pending, Declined),
    (Pending, Withdrawn),
    (Accepted, Completed),
];

/// Checks a referral status change; anything else is a `Conflict` naming the current state.
pub fn check_referral_transition(from: ReferralStatus, to: ReferralStatus) -> DomainResult<()> {
    if TRANSITIONS.contains(&(from, to)) {
        return Ok(());
    }
    let (ja, en) = match to {
        Accepted | Declined => (
            format!(
                "この紹介は「{}」のため、受付・辞退はできません（受付待ちの紹介のみ可能です）",
                from.label_ja()
            ),
            format!("The referral is {from}; only a PENDING referral can be accepted or declined"),
        ),
        Withdrawn => (
            format!(
                "この紹介は「{}」のため、取り下げできません（受付待ちの紹介のみ可能です）",
                from.label_ja()
            ),
            format!("The referral is {from}; only a PENDING referral can be withdrawn"),
        ),
        Completed => (
            format!(
                "この紹介は「{}」のため、完了にできません（対応中の紹介のみ可能です）",
                from.label_ja()
            ),
            format!("The referral is {from}; only an ACCEPTED referral can be completed"),
        ),
        Pending => (
            format!(
                "この紹介は「{}」のため、受付待ちに戻せません",
                from.label_ja()
            ),
            format!("The referral is {from}; it cannot go back to PENDING"),
        ),
    };
    Err(DomainError::conflict(ja, en))
}

/// Whether the referral is still open (PENDING or ACCEPTED): at most one open
/// referral per case and institution, and a case cannot be resolved while one is open.
pub fn is_open(s: ReferralStatus) -> bool {
    matches!(s, Pending | Accepted)
}

/// Whether the institution's partner staff may see the case through this
/// referral (PENDING, ACCEPTED or COMPLETED; not DECLINED or WITHDRAWN).
pub fn partner_can_see(s: ReferralStatus) -> bool {
    matches!(s, Pending | Accepted | Completed)
}

/// Whether the referral can no longer change.
pub fn is_final(s: ReferralStatus) -> bool {
    !TRANSITIONS.iter().any(|(f, _)| *f == s)
}

/// The event kind recording a referral reaching status `to`.
pub fn event_kind_for(to: ReferralStatus) -> EventKind {
    match to {
        Pending => EventKind::Referred,
        Accepted => EventKind::Accepted,
        Declined => EventKind::Declined,
        Withdrawn => EventKind::Withdrawn,
        Completed => EventKind::Completed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = ReferralStatus> {
        proptest::sample::select(ReferralStatus::ALL)
    }

    #[test]
    fn full_matrix() {
        for from in ReferralStatus::ALL {
            for to in ReferralStatus::ALL {
                let expected = matches!(
                    (from, to),
                    (Pending, Accepted | Declined | Withdrawn) | (Accepted, Completed)
                );
                assert_eq!(
                    check_referral_transition(*from, *to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn messages_name_current_state() {
        let e = check_referral_transition(Declined, Accepted).unwrap_err();
        assert!(e.message_ja().contains("「辞退」"));
        assert!(e.message_en().contains("DECLINED"));
        let e = check_referral_transition(Pending, Completed).unwrap_err();
        assert!(e.message_ja().contains("「受付待ち」"));
        let e = check_referral_transition(Accepted, Withdrawn).unwrap_err();
        assert!(e.message_ja().contains("取り下げ"));
    }

    #[test]
    fn predicates() {
        assert!(is_open(Pending) && is_open(Accepted));
        assert!(!is_open(Declined) && !is_open(Withdrawn) && !is_open(Completed));
        assert!(
            partner_can_see(Pending) && partner_can_see(Accepted) && partner_can_see(Completed)
        );
        assert!(!partner_can_see(Declined) && !partner_can_see(Withdrawn));
        assert!(is_final(Declined) && is_final(Withdrawn) && is_final(Completed));
        assert!(!is_final(Pending) && !is_final(Accepted));
        assert_eq!(event_kind_for(Accepted), EventKind::Accepted);
        assert_eq!(event_kind_for(Pending), EventKind::Referred);
    }

    proptest! {
        #[test]
        fn final_states_have_no_way_out(from in any_status(), to in any_status()) {
            if is_final(from) {
                prop_assert!(check_referral_transition(from, to).is_err());
            }
        }

        #[test]
        fn allowed_moves_leave_pending_or_accepted(from in any_status(), to in any_status()) {
            if check_referral_transition(from, to).is_ok() {
                prop_assert!(is_open(from));
                prop_assert!(TRANSITIONS.contains(&(from, to)));
                prop_assert_ne!(to, Pending);
                // what a partner could see stays visible unless the referral is declined or withdrawn
                prop_assert!(partner_can_see(to) || matches!(to, Declined | Withdrawn));
            }
        }

        #[test]
        fn open_implies_visible(s in any_status()) {
            prop_assert!(!is_open(s) || partner_can_see(s));
        }
    }
}
