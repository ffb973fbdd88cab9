//! Who may do what (docs/PRODUCT.md "Who may do what"): the `Viewer` and the permission predicates.
//!
//! Every predicate is pure; callers load the facts (the case's lab, its
//! referrals) and ask. What a partner or business may not read must be
//! reported as `NOT_FOUND` by the caller, not `FORBIDDEN`.

use uuid::Uuid;

use super::referral_state::partner_can_see;
use super::types::{NoteVisibility, ReferralStatus, Role};

/// The signed-in user on whose behalf a request runs.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: Uuid,
    pub lab_id: Uuid,
    pub role: Role,
    /// The partner's institution (always set for `PARTNER`, `None` otherwise).
    pub institution_id: Option<Uuid>,
    pub display_name: String,
}

impl Viewer {
    /// Desk staff: ADMIN or CONCIERGE.
    pub fn is_desk(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Concierge)
    }

    /// The lab secretariat.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Partner-institution staff.
    pub fn is_partner(&self) -> bool {
        self.role == Role::Partner
    }

    /// The institution of a partner user (`None` for desk staff).
    pub fn partner_institution(&self) -> Option<Uuid> {
        if self.is_partner() {
            self.institution_id
        } else {
            None
        }
    }
}

/// The viewer may not do this: maps to FORBIDDEN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("この操作を行う権限がありません")]
pub struct Denied;

impl Denied {
    /// Japanese message (same as `to_string()`).
    pub const MESSAGE_JA: &'static str = "この操作を行う権限がありません";
    /// English twin.
    pub const MESSAGE_EN: &'static str = "You are not allowed to do this";
}

/// Requires desk staff (ADMIN or CONCIERGE): open, edit, refer, resolve, close, withdraw.
pub fn require_desk(v: &Viewer) -> Result<(), Denied> {
    if v.is_desk() {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// Requires the secretariat (ADMIN): users, institutions, KPI targets.
pub fn require_admin(v: &Viewer) -> Result<(), Denied> {
    if v.is_admin() {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// Whether the viewer may read a case of lab `case_lab` holding `referrals`
/// (institution id and status of each). The lab must match; desk staff see
/// every case of their lab; a partner only a case with a PENDING, ACCEPTED or
/// COMPLETED referral to their own institution.
pub fn can_read_case(v: &Viewer, case_lab: Uuid, referrals: &[(Uuid, ReferralStatus)]) -> bool {
    if v.lab_id != case_lab {
        return false;
    }
    if v.is_desk() {
        return true;
    }
    match v.partner_institution() {
        Some(own) => referrals
            .iter()
            .any(|&(inst, status)| inst == own && partner_can_see(status)),
        None => false,
    }
}

/// Whether the viewer may read a note of this visibility (on a case they may
/// read): desk staff all; partners `PARTNERS` and `BUSINESS`.
pub fn can_read_note(v: &Viewer, vis: NoteVisibility) -> bool {
    v.is_desk()
        || (v.is_partner() && matches!(vis, NoteVisibility::Partners | NoteVisibility::Business))
}

/// Whether the viewer may write a note of this visibility (on a case they may
/// read): desk staff all; partners `PARTNERS` and `BUSINESS`.
pub fn can_write_note(v: &Viewer, vis: NoteVisibility) -> bool {
    can_read_note(v, vis)
}

/// Whether the business (status page, reference + access code) sees a note: `BUSINESS` only.
pub fn business_can_read_note(vis: NoteVisibility) -> bool {
    vis == NoteVisibility::Business
}

/// Whether the viewer may accept, decline or complete a referral to
/// `referral_institution`: only partner staff of that institution (not the desk).
pub fn can_act_on_referral(v: &Viewer, referral_institution: Uuid) -> bool {
    v.partner_institution() == Some(referral_institution)
}

/// Which figures a viewer's reports cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportScope {
    /// The whole lab (desk staff).
    Lab,
    /// One institution's figures (its partner staff).
    Institution(Uuid),
}

/// The report scope of a viewer; `None` for a partner without an institution.
pub fn report_scope(v: &Viewer) -> Option<ReportScope> {
    if v.is_desk() {
        Some(ReportScope::Lab)
    } else {
        v.partner_institution().map(ReportScope::Institution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReferralStatus::*;

    struct World {
        lab: Uuid,
        other_lab: Uuid,
        bank: Uuid,
        univ: Uuid,
    }

    fn world() -> World {
        World {
            lab: Uuid::new_v4(),
            other_lab: Uuid::new_v4(),
            bank: Uuid::new_v4(),
            univ: Uuid::new_v4(),
        }
    }

    fn viewer(w: &World, role: Role, inst: Option<Uuid>) -> Viewer {
        Viewer {
            user_id: Uuid::new_v4(),
            lab_id: w.lab,
            role,
            institution_id: inst,
            display_name: "テスト".into(),
        }
    }

    #[test]
    fn roles() {
        let w = world();
        let admin = viewer(&w, Role::Admin, None);
        let conc = viewer(&w, Role::Concierge, None);
        let part = viewer(&w, Role::Partner, Some(w.bank));
        assert!(admin.is_desk() && admin.is_admin());
        assert!(conc.is_desk() && !conc.is_admin());
        assert!(!part.is_desk() && !part.is_admin() && part.is_partner());
        // open, edit, refer, resolve, close: desk only
        assert_eq!(require_desk(&admin), Ok(()));
        assert_eq!(require_desk(&conc), Ok(()));
        assert_eq!(require_desk(&part), Err(Denied));
        // users, institutions, KPI targets: admin only
        assert_eq!(require_admin(&admin), Ok(()));
        assert_eq!(require_admin(&conc), Err(Denied));
        assert_eq!(require_admin(&part), Err(Denied));
        assert_eq!(Denied.to_string(), Denied::MESSAGE_JA);
    }

    #[test]
    fn read_cases() {
        let w = world();
        let admin = viewer(&w, Role::Admin, None);
        let conc = viewer(&w, Role::Concierge, None);
        let bank = viewer(&w, Role::Partner, Some(w.bank));
        let orphan = viewer(&w, Role::Partner, None);
        // desk: every case of the own lab, none of another lab
        for v in [&admin, &conc] {
            assert!(can_read_case(v, w.lab, &[]));
            assert!(can_read_case(v, w.lab, &[(w.univ, Declined)]));
            assert!(!can_read_case(v, w.other_lab, &[]));
        }
        // partner: only with a pending/accepted/completed referral to the own institution
        for s in ReferralStatus::ALL {
            let visible = matches!(s, Pending | Accepted | Completed);
            assert_eq!(can_read_case(&bank, w.lab, &[(w.bank, *s)]), visible, "{s}");
            assert!(!can_read_case(&bank, w.lab, &[(w.univ, *s)]));
            assert!(!can_read_case(&bank, w.other_lab, &[(w.bank, *s)]));
            assert!(!can_read_case(&orphan, w.lab, &[(w.bank, *s)]));
        }
        assert!(!can_read_case(&bank, w.lab, &[]));
        // an old declined referral does not hide a later pending one
        assert!(can_read_case(
            &bank,
            w.lab,
            &[(w.bank, Declined), (w.bank, Pending)]
        ));
    }

    #[test]
    fn notes() {
        let w = world();
        let admin = viewer(&w, Role::Admin, None);
        let conc = viewer(&w, Role::Concierge, None);
        let part = viewer(&w, Role::Partner, Some(w.bank));
        for vis in NoteVisibility::ALL {
            for v in [&admin, &conc] {
                assert!(can_read_note(v, *vis));
                assert!(can_write_note(v, *vis));
            }
            let partner_ok = *vis != NoteVisibility::Desk;
            assert_eq!(can_read_note(&part, *vis), partner_ok);
            assert_eq!(can_write_note(&part, *vis), partner_ok);
            assert_eq!(
                business_can_read_note(*vis),
                *vis == NoteVisibility::Business
            );
        }
    }

    #[test]
    fn referral_actions() {
        let w = world();
        let admin = viewer(&w, Role::Admin, None);
        let conc = viewer(&w, Role::Concierge, None);
        let bank = viewer(&w, Role::Partner, Some(w.bank));
        // the desk refers and withdraws, but never accepts/declines/completes
        assert!(!can_act_on_referral(&admin, w.bank));
        assert!(!can_act_on_referral(&conc, w.bank));
        assert!(can_act_on_referral(&bank, w.bank));
        assert!(!can_act_on_referral(&bank, w.univ));
        // a desk user with a stray institution id still cannot act as a partner
        let odd = viewer(&w, Role::Concierge, Some(w.bank));
        assert!(!can_act_on_referral(&odd, w.bank));
    }

    #[test]
    fn reports() {
        let w = world();
        assert_eq!(
            report_scope(&viewer(&w, Role::Admin, None)),
            Some(ReportScope::Lab)
        );
        assert_eq!(
            report_scope(&viewer(&w, Role::Concierge, None)),
            Some(ReportScope::Lab)
        );
        assert_eq!(
            report_scope(&viewer(&w, Role::Partner, Some(w.univ))),
            Some(ReportScope::Institution(w.univ))
        );
        assert_eq!(report_scope(&viewer(&w, Role::Partner, None)), None);
    }
}
