//! Routing help (`suggestInstitutions`): the lab's active institutions ranked
//! by `domain::suggest`, with track-record statistics computed from the lab's
//! referrals of the last year.

use super::cases::authorize_desk;
use crate::domain::business_days::business_days_between;
use crate::domain::suggest::{rank, InstitutionProfile, SuggestInput, Suggestion};
use crate::domain::types::ReferralStatus;
use crate::domain::{permissions::Viewer, referral_state, stats};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::{InstitutionRow, ReferralBrief};
use chrono::Duration;
use std::collections::HashMap;
use uuid::Uuid;

/// How far back the statistics look.
pub const HISTORY_DAYS: i64 = 365;

/// An institution's track record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// PENDING or ACCEPTED now.
    pub open: i64,
    /// Accepted (incl. later completed) share of decided referrals.
    pub acceptance_rate: Option<f64>,
    /// Median business days from referral to pick-up.
    pub median_pickup_days: Option<f64>,
}

/// Statistics per institution from the referral history.
pub fn records(history: &[ReferralBrief]) -> HashMap<Uuid, Record> {
    let mut open: HashMap<Uuid, i64> = HashMap::new();
    let mut accepted: HashMap<Uuid, i64> = HashMap::new();
    let mut decided: HashMap<Uuid, i64> = HashMap::new();
    let mut pickups: HashMap<Uuid, Vec<f64>> = HashMap::new();
    for r in history {
        let id = r.institution_id;
        if referral_state::is_open(r.status) {
            *open.entry(id).or_default() += 1;
        }
        match r.status {
            ReferralStatus::Accepted | ReferralStatus::Completed => {
                *accepted.entry(id).or_default() += 1;
                *decided.entry(id).or_default() += 1;
                if let Some(at) = r.decided_at {
                    pickups
                        .entry(id)
                        .or_default()
                        .push(business_days_between(r.created_at, at));
                }
            }
            ReferralStatus::Declined => *decided.entry(id).or_default() += 1,
            ReferralStatus::Pending | ReferralStatus::Withdrawn => {}
        }
    }
    let mut ids: Vec<Uuid> = open.keys().chain(decided.keys()).copied().collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let d = decided.get(&id).copied().unwrap_or(0);
            let a = accepted.get(&id).copied().unwrap_or(0);
            let median = pickups.get_mut(&id).and_then(|v| stats::median(v));
            (
                id,
                Record {
                    open: open.get(&id).copied().unwrap_or(0),
                    acceptance_rate: stats::rate(a, d),
                    median_pickup_days: median,
                },
            )
        })
        .collect()
}

/// `suggestInstitutions`: desk staff only; the lab's active institutions,
/// best first, each with a score and a Japanese reason.
pub async fn suggest(
    st: &AppState,
    v: &Viewer,
    case_id: Uuid,
) -> AppResult<Vec<(InstitutionRow, Suggestion)>> {
    let case = authorize_desk(st, v, case_id).await?;
    let store = st.store.as_ref();
    let now = st.now();
    let ids = [case.id];
    let business_ids = [case.business_id];
    let (topics, referrals, businesses, institutions, history) = futures::try_join!(
        store.topics_for_cases(&ids),
        store.referrals_for_cases(&ids),
        store.businesses_by_ids(&business_ids),
        store.institutions(v.lab_id),
        store.referral_history(v.lab_id, now - Duration::days(HISTORY_DAYS)),
    )?;
    let topics: Vec<String> = topics.into_iter().map(|(_, t)| t).collect();
    let region = businesses.first().and_then(|b| b.region.clone());
    let input = SuggestInput {
        case_topics: &topics,
        business_region: region.as_deref(),
        stage: case.stage,
    };
    let active: Vec<InstitutionRow> = institutions.into_iter().filter(|i| i.active).collect();
    let recs = records(&history);
    let profiles: Vec<InstitutionProfile> = active
        .iter()
        .map(|i| {
            let rec = recs.get(&i.id).cloned().unwrap_or_default();
            InstitutionProfile {
                name: &i.name,
                kind: i.kind,
                tags: &i.tags,
                regions: &i.regions,
                open_referrals: rec.open,
                acceptance_rate: rec.acceptance_rate,
                median_pickup_days: rec.median_pickup_days,
                already_open_on_case: referrals
                    .iter()
                    .any(|r| r.institution_id == i.id && referral_state::is_open(r.status)),
            }
        })
        .collect();
    let ranked = rank(&input, &profiles);
    Ok(ranked
        .into_iter()
        .map(|(idx, s)| (active[idx].clone(), s))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn records_from_history() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        // Monday 2026-04-06 09:00 JST → Tuesday 09:00 JST = 1 business day
        let t0 = Utc.with_ymd_and_hms(2026, 4, 6, 0, 0, 0).unwrap();
        let brief = |inst, status, days: Option<i64>| ReferralBrief {
            institution_id: inst,
            status,
            created_at: t0,
            decided_at: days.map(|d| t0 + Duration::days(d)),
        };
        let h = vec![
            brief(a, ReferralStatus::Completed, Some(1)),
            brief(a, ReferralStatus::Accepted, Some(3)),
            brief(a, ReferralStatus::Declined, Some(2)),
            brief(a, ReferralStatus::Pending, None),
            brief(b, ReferralStatus::Withdrawn, Some(1)),
        ];
        let r = records(&h);
        let ra = &r[&a];
        assert_eq!(ra.open, 2);
        assert!((ra.acceptance_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert!((ra.median_pickup_days.unwrap() - 2.0).abs() < 1e-9);
        let rb = r.get(&b).cloned().unwrap_or_default();
        assert_eq!(rb.acceptance_rate, None);
        assert_eq!(rb.open, 0);
    }
}
