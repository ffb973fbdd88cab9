//! The case state machine (DESIGN.md "Case status"): allowed transitions of the stored status and the derived `REFERRED`.

use super::error::{DomainError, DomainResult};
use super::types::{CaseStatus, EventKind, ReferralStatus};

use CaseStatus::*;

/// Every allowed transition of the stored status, `(from, to)`.
///
/// | from | to |
/// |---|---|
/// | NEW | IN_PROGRESS |
/// | IN_PROGRESS | ON_HOLD, RESOLVED |
/// | ON_HOLD | IN_PROGRESS, RESOLVED |
/// | RESOLVED | IN_PROGRESS (reopen), CLOSED |
/// | CLOSED | — (final) |
pub const TRANSITIONS: &[(CaseStatus, CaseStatus)] = &[
    (New, InProgress),
    (InProgress, OnHold),
    (InProgress, Resolved),
    (OnHold, InProgress),
    (OnHold, Resolved),
    (Resolved, InProgress),
    (Resolved, Closed),
];

/// The statuses a case in stored status `from` may move to.
pub fn allowed_targets(from: CaseStatus) -> Vec<CaseStatus> {
    TRANSITIONS
        .iter()
        .filter(|(f, _)| *f == from)
        .map(|&(_, t)| t)
        .collect()
}

/// Whether `from → to` is in [`TRANSITIONS`].
pub fn is_allowed(from: CaseStatus, to: CaseStatus) -> bool {
    TRANSITIONS.contains(&(from, to))
}

/// Checks a change of the stored status. Anything not in [`TRANSITIONS`] is a
/// `Conflict` naming the current and the requested state.
pub fn check_status_transition(from: CaseStatus, to: CaseStatus) -> DomainResult<()> {
    if is_allowed(from, to) {
        return Ok(());
    }
    if to == Referred {
        return Err(DomainError::conflict(
            format!(
                "「{}」は支援機関への紹介によって表示される状態のため、直接設定できません。機関へ紹介してください",
                Referred.label_ja()
            ),
            "REFERRED follows from referring the case to an institution and cannot be set directly",
        ));
    }
    if from == Closed {
        return Err(DomainError::conflict(
            format!(
                "この相談は「{}」しているため、状態を変更できません",
                Closed.label_ja()
            ),
            "The case is CLOSED; its status can no longer change",
        ));
    }
    if from == to {
        return Err(DomainError::conflict(
            format!("この相談は既に「{}」です", to.label_ja()),
            format!("The case is already {to}"),
        ));
    }
    let targets = allowed_targets(from);
    let (hint_ja, hint_en) = if targets.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(
                "（変更できる状態: {}）",
                targets
                    .iter()
                    .map(|t| format!("「{}」", t.label_ja()))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            format!(
                " (allowed: {})",
                targets
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    Err(DomainError::conflict(
        format!(
            "現在の状態「{}」から「{}」へは変更できません{hint_ja}",
            from.label_ja(),
            to.label_ja()
        ),
        format!("Cannot change the status from {from} to {to}{hint_en}"),
    ))
}

/// The status shown to users: a NEW or IN_PROGRESS case holding a PENDING
/// referral shows as `REFERRED`; otherwise the stored status.
pub fn displayed_status(stored: CaseStatus, has_pending_referral: bool) -> CaseStatus {
    match stored {
        New | InProgress if has_pending_referral => Referred,
        other => other,
    }
}

/// Whether a case is still open (neither RESOLVED nor CLOSED).
pub fn is_open(stored: CaseStatus) -> bool {
    !matches!(stored, Resolved | Closed)
}

/// Whether a case is "handed back" to the desk: it is still open, a partner
/// completed at least one of its referrals, and none is open (PENDING or
/// ACCEPTED), so the desk acts next. The dashboard's 「支援完了で窓口に戻った案件」
/// and `CaseFilter.handedBack` both mean this.
pub fn is_handed_back(stored: CaseStatus, referrals: &[ReferralStatus]) -> bool {
    is_open(stored)
        && referrals.contains(&ReferralStatus::Completed)
        && !referrals
            .iter()
            .any(|r| crate::domain::referral_state::is_open(*r))
}

/// Refuses an action (referring, noting, editing…) on a RESOLVED or CLOSED
/// case. `action_ja`/`action_en` name the action, e.g. 「紹介」/"refer".
pub fn ensure_open(stored: CaseStatus, action_ja: &str, action_en: &str) -> DomainResult<()> {
    if is_open(stored) {
        Ok(())
    } else {
        Err(DomainError::conflict(
            format!("「{}」の相談には{}できません", stored.label_ja(), action_ja),
            format!("Cannot {action_en} a {stored} case"),
        ))
    }
}

/// The event kind recording an allowed transition: RESOLVED → IN_PROGRESS is
/// `REOPENED`, → RESOLVED is `RESOLVED`, → CLOSED is `CLOSED`, else `STATUS_CHANGED`.
pub fn event_kind_for(from: CaseStatus, to: CaseStatus) -> EventKind {
    match (from, to) {
        (Resolved, InProgress) => EventKind::Reopened,
        (_, Resolved) => EventKind::Resolved,
        (_, Closed) => EventKind::Closed,
        _ => EventKind::StatusChanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = CaseStatus> {
        proptest::sample::select(CaseStatus::ALL)
    }

    #[test]
    fn table_of_design_md() {
        let ok = [
            (New, InProgress),
            (InProgress, OnHold),
            (InProgress, Resolved),
            (OnHold, InProgress),
            (OnHold, Resolved),
            (Resolved, InProgress),
            (Resolved, Closed),
        ];
        for from in CaseStatus::ALL {
            for to in CaseStatus::ALL {
                let expected = ok.contains(&(*from, *to));
                assert_eq!(
                    check_status_transition(*from, *to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn messages_name_both_states() {
        let e = check_status_transition(Resolved, New).unwrap_err();
        assert!(matches!(e, DomainError::Conflict { .. }));
        assert!(e
            .message_ja()
            .starts_with("現在の状態「解決済み」から「新規」へは変更できません"));
        assert!(e.message_ja().contains("「対応中」、「終了」"));
        assert!(e.message_en().contains("RESOLVED to NEW"));
    }

    #[test]
    fn referred_and_closed_and_same() {
        let e = check_status_transition(InProgress, Referred).unwrap_err();
        assert!(e.message_ja().contains("紹介"));
        assert!(e.message_en().contains("referring"));
        let e = check_status_transition(Closed, InProgress).unwrap_err();
        assert!(e.message_ja().contains("終了"));
        let e = check_status_transition(OnHold, OnHold).unwrap_err();
        assert_eq!(e.message_ja(), "この相談は既に「保留」です");
    }

    #[test]
    fn displayed() {
        assert_eq!(displayed_status(New, true), Referred);
        assert_eq!(displayed_status(InProgress, true), Referred);
        assert_eq!(displayed_status(InProgress, false), InProgress);
        assert_eq!(displayed_status(OnHold, true), OnHold);
        assert_eq!(displayed_status(Resolved, true), Resolved);
        assert!(is_open(New) && is_open(OnHold) && is_open(Referred));
        assert!(!is_open(Resolved) && !is_open(Closed));
    }

    #[test]
    fn ensure_open_refuses_finished_cases() {
        assert!(ensure_open(InProgress, "紹介", "refer").is_ok());
        let e = ensure_open(Closed, "紹介", "refer").unwrap_err();
        assert_eq!(e.message_ja(), "「終了」の相談には紹介できません");
        assert_eq!(e.message_en(), "Cannot refer a CLOSED case");
    }

    #[test]
    fn handed_back_examples() {
        use ReferralStatus as R;
        assert!(is_handed_back(InProgress, &[R::Completed]));
        assert!(is_handed_back(OnHold, &[R::Declined, R::Completed]));
        assert!(!is_handed_back(InProgress, &[R::Completed, R::Pending]));
        assert!(!is_handed_back(InProgress, &[R::Completed, R::Accepted]));
        assert!(!is_handed_back(Resolved, &[R::Completed]));
        assert!(!is_handed_back(New, &[R::Declined, R::Withdrawn]));
        assert!(!is_handed_back(New, &[]));
    }

    #[test]
    fn event_kinds() {
        assert_eq!(event_kind_for(Resolved, InProgress), EventKind::Reopened);
        assert_eq!(event_kind_for(OnHold, Resolved), EventKind::Resolved);
        assert_eq!(event_kind_for(Resolved, Closed), EventKind::Closed);
        assert_eq!(event_kind_for(New, InProgress), EventKind::StatusChanged);
        assert_eq!(event_kind_for(OnHold, InProgress), EventKind::StatusChanged);
    }

    proptest! {
        #[test]
        fn handed_back_means_desk_acts_next(
            stored in any_status(),
            refs in proptest::collection::vec(proptest::sample::select(ReferralStatus::ALL), 0..5),
        ) {
            let pending = refs.contains(&ReferralStatus::Pending);
            // `REFERRED` is only ever displayed, never stored.
            if stored.is_stored() && is_handed_back(stored, &refs) {
                // Never shown as waiting for a partner, and never finished.
                prop_assert_ne!(displayed_status(stored, pending), Referred);
                prop_assert!(is_open(stored));
            }
        }

        #[test]
        fn closed_is_final(to in any_status()) {
            prop_assert!(check_status_transition(Closed, to).is_err());
        }

        #[test]
        fn allowed_means_in_table(from in any_status(), to in any_status()) {
            if check_status_transition(from, to).is_ok() {
                prop_assert!(TRANSITIONS.contains(&(from, to)));
                prop_assert!(from.is_stored() && to.is_stored());
                prop_assert_ne!(from, to);
            }
        }

        #[test]
        fn never_referred_when_not_open_or_on_hold(stored in any_status(), pending in any::<bool>()) {
            let shown = displayed_status(stored, pending);
            if matches!(stored, Resolved | OnHold | Closed) {
                prop_assert_eq!(shown, stored);
            }
            if !pending {
                prop_assert_eq!(shown, stored);
            }
        }

        #[test]
        fn errors_are_conflicts(from in any_status(), to in any_status()) {
            if let Err(e) = check_status_transition(from, to) {
                let is_conflict = matches!(e, DomainError::Conflict { .. });
                prop_assert!(is_conflict);
                prop_assert!(!e.message_ja().is_empty() && !e.message_en().is_empty());
            }
        }
    }
}
