//! What a viewer may do with a case right now, from the status and referral
//! rules: the API exposes it (`Case.allowedStatuses`, `canResolve`, …) so that
//! the web front end renders the actions and re-implements no rule.

use super::case_state::{is_allowed, is_open};
use super::permissions::{can_write_note, Viewer};
use super::referral_state;
use super::types::{CaseStatus, NoteVisibility, ReferralStatus};

/// The actions on one case for one viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseActions {
    /// Statuses `setStatus` may move the case to that have no action of their
    /// own (resolving, closing and reopening have theirs).
    pub allowed_statuses: Vec<CaseStatus>,
    pub is_open: bool,
    pub can_resolve: bool,
    pub can_close: bool,
    pub can_reopen: bool,
    pub writable_note_visibilities: Vec<NoteVisibility>,
}

/// The actions `v` may take on a case in stored status `stored` whose referrals
/// are in `referrals`.
pub fn case_actions(v: &Viewer, stored: CaseStatus, referrals: &[ReferralStatus]) -> CaseActions {
    let desk = v.is_desk();
    let open = is_open(stored);
    let manual = |to: &CaseStatus| {
        !matches!(to, CaseStatus::Resolved | CaseStatus::Closed) && stored != CaseStatus::Resolved
    };
    let allowed_statuses = if desk {
        super::case_state::allowed_targets(stored)
            .into_iter()
            .filter(manual)
            .collect()
    } else {
        Vec::new()
    };
    let referrals_done = !referrals.iter().any(|r| referral_state::is_open(*r));
    CaseActions {
        allowed_statuses,
        is_open: open,
        can_resolve: desk && is_allowed(stored, CaseStatus::Resolved) && referrals_done,
        can_close: desk && is_allowed(stored, CaseStatus::Closed),
        can_reopen: desk
            && stored == CaseStatus::Resolved
            && is_allowed(stored, CaseStatus::InProgress),
        writable_note_visibilities: if open {
            NoteVisibility::ALL
                .iter()
                .copied()
                .filter(|vis| can_write_note(v, *vis))
                .collect()
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case_state::check_status_transition;
    use crate::domain::types::Role;
    use proptest::prelude::*;
    use uuid::Uuid;
    use CaseStatus::*;

    fn viewer(role: Role, institution_id: Option<Uuid>) -> Viewer {
        Viewer {
            user_id: Uuid::nil(),
            lab_id: Uuid::nil(),
            role,
            institution_id,
            display_name: String::new(),
        }
    }
    fn desk() -> Viewer {
        viewer(Role::Concierge, None)
    }
    fn partner() -> Viewer {
        viewer(Role::Partner, Some(Uuid::nil()))
    }

    #[test]
    fn the_desk_picks_the_manual_transitions() {
        let a = |s| case_actions(&desk(), s, &[]).allowed_statuses;
        assert_eq!(a(New), vec![InProgress]);
        assert_eq!(a(InProgress), vec![OnHold]);
        assert_eq!(a(OnHold), vec![InProgress]);
        assert_eq!(a(Resolved), Vec::<CaseStatus>::new());
        assert_eq!(a(Closed), Vec::<CaseStatus>::new());
    }

    #[test]
    fn resolve_close_and_reopen_follow_the_status() {
        let d = desk();
        assert!(case_actions(&d, InProgress, &[]).can_resolve);
        assert!(case_actions(&d, OnHold, &[ReferralStatus::Completed]).can_resolve);
        assert!(!case_actions(&d, InProgress, &[ReferralStatus::Pending]).can_resolve);
        assert!(!case_actions(&d, InProgress, &[ReferralStatus::Accepted]).can_resolve);
        assert!(!case_actions(&d, New, &[]).can_resolve);
        let r = case_actions(&d, Resolved, &[]);
        assert!(r.can_close && r.can_reopen && !r.is_open && !r.can_resolve);
        let c = case_actions(&d, Closed, &[]);
        assert!(!c.can_close && !c.can_reopen && !c.is_open);
        assert!(c.writable_note_visibilities.is_empty());
    }

    #[test]
    fn partners_only_write_notes() {
        let p = case_actions(&partner(), InProgress, &[ReferralStatus::Accepted]);
        assert!(p.allowed_statuses.is_empty() && !p.can_resolve && !p.can_close && !p.can_reopen);
        assert_eq!(
            p.writable_note_visibilities,
            vec![NoteVisibility::Partners, NoteVisibility::Business]
        );
        assert_eq!(
            case_actions(&desk(), New, &[]).writable_note_visibilities,
            NoteVisibility::ALL.to_vec()
        );
    }

    proptest! {
        /// Every status offered is one the transition rule accepts.
        #[test]
        fn offered_statuses_are_allowed(i in 0usize..6) {
            let from = CaseStatus::ALL[i];
            for to in case_actions(&desk(), from, &[]).allowed_statuses {
                prop_assert!(check_status_transition(from, to).is_ok());
            }
        }
    }
}
