//! `dxdesk audit verify`: walks every case's event chain (in id order, a page
//! at a time, so it works on any size) and re-checks it with
//! `domain::hash_chain::verify_chain`; the case row's event count and last
//! hash must agree with the chain too, so a deleted tail is caught. Given the
//! audit key(s), it also checks each case's seal (`domain::seal`), so a chain
//! recomputed or a case or referral row edited without the key is caught;
//! `dxdesk audit reseal` re-signs every intact case with the current key.

use crate::domain::hash_chain::{verify_chain, ChainLink, GENESIS};
use crate::domain::seal::SealKey;
use crate::error::AppResult;
use crate::store::{sealed_state, CaseRow, EventRow, NoteRow, ReferralRow, SealRow, Store};
use std::collections::HashMap;
use uuid::Uuid;

/// Cases fetched per page.
pub const PAGE: i64 = 500;

/// A case whose record does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub case_id: Uuid,
    pub reference: String,
    /// The first bad event's `seq` (or the count expected, for a missing tail).
    pub seq: i64,
    pub why: String,
}

/// What the walk found.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    pub cases: u64,
    pub events: u64,
    pub broken: Vec<Broken>,
    /// Cases whose seal a given key verified.
    pub sealed: u64,
    /// Cases with no seal (written before a key was set, or without one).
    pub unsigned: u64,
    /// Cases with a seal that no key was given to check.
    pub unchecked: u64,
    /// Cases re-sealed by `audit reseal`.
    pub resealed: u64,
}

/// What a case's seal says, given the keys `audit verify` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealCheck {
    Sealed,
    Unsigned,
    Unchecked,
    Broken(String),
}

/// Checks one case's seal against its row and referral rows with `keys`
/// (the current key, then the previous one).
pub fn check_seal(
    case: &CaseRow,
    referrals: &[ReferralRow],
    topics: &[String],
    notes: &[NoteRow],
    seal: Option<&SealRow>,
    keys: &[&SealKey],
) -> SealCheck {
    let Some(seal) = seal else {
        return SealCheck::Unsigned;
    };
    if keys.is_empty() {
        return SealCheck::Unchecked;
    }
    let Some(key) = keys.iter().find(|k| k.id() == seal.key_id) else {
        return SealCheck::Broken(format!(
            "sealed with key {}, which is neither DXDESK_AUDIT_KEY nor DXDESK_AUDIT_KEY_PREVIOUS",
            seal.key_id
        ));
    };
    if key.verifies(&sealed_state(case, referrals, topics, notes), &seal.mac) {
        return SealCheck::Sealed;
    }
    if seal.event_count != case.event_count {
        SealCheck::Broken(format!(
            "the seal covers {} events, the case has {}: it was changed without the audit key",
            seal.event_count, case.event_count
        ))
    } else {
        SealCheck::Broken(
            "the seal does not match the case: its chain, row, referrals, topics or notes were changed without the audit key"
                .to_owned(),
        )
    }
}

/// Checks one case's events against each other and against its row.
pub fn check_case(case: Option<&CaseRow>, events: &[EventRow]) -> Result<(), (i64, String)> {
    let links: Vec<ChainLink> = events.iter().map(EventRow::link).collect();
    if let Err(i) = verify_chain(&links) {
        let seq = events.get(i).map(|e| e.seq).unwrap_or(i as i64 + 1);
        return Err((seq, format!("event {} does not match the chain", i + 1)));
    }
    if let Some(c) = case {
        let last = events.last().map(|e| e.hash.as_str()).unwrap_or(GENESIS);
        if c.event_count != events.len() as i64 || c.last_event_hash != last {
            return Err((
                events.len() as i64 + 1,
                format!(
                    "the case records {} events ending in {}…, the log holds {}",
                    c.event_count,
                    c.last_event_hash.get(..12).unwrap_or(&c.last_event_hash),
                    events.len()
                ),
            ));
        }
    }
    if events.is_empty() {
        return Err((1, "the case has no events".to_owned()));
    }
    Ok(())
}

/// Walks every case of the deployment (hashes only; seals are counted as unchecked).
pub async fn verify_all(store: &dyn Store) -> AppResult<AuditReport> {
    walk(store, &[]).await
}

/// Walks every case, checking seals with `keys` (current first).
pub async fn verify_all_with(store: &dyn Store, keys: &[&SealKey]) -> AppResult<AuditReport> {
    walk(store, keys).await
}

/// Re-seals, with the store's key, every case whose chain is intact and whose
/// seal (if any) verifies under `keys`; cases that do not check out are
/// reported as broken and left as they are.
pub async fn reseal_all(
    store: &dyn Store,
    keys: &[&SealKey],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<AuditReport> {
    let mut r = walk(store, keys).await?;
    r.resealed = 0;
    let broken: std::collections::HashSet<Uuid> = r.broken.iter().map(|b| b.case_id).collect();
    let mut after: Option<Uuid> = None;
    loop {
        let ids = store.case_ids_page(after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids.iter().filter(|id| !broken.contains(id)) {
            if store.reseal_case(*id, now).await? {
                r.resealed += 1;
            }
        }
        after = Some(last);
    }
    Ok(r)
}

async fn walk(store: &dyn Store, keys: &[&SealKey]) -> AppResult<AuditReport> {
    let mut report = AuditReport::default();
    let mut after: Option<Uuid> = None;
    loop {
        let ids = store.case_ids_page(after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        let cases = store.cases_by_ids(&ids).await?;
        // Everything a seal covers, grouped by case.
        let mut referrals: HashMap<Uuid, Vec<ReferralRow>> = HashMap::new();
        for r in store.referrals_for_cases(&ids).await? {
            referrals.entry(r.case_id).or_default().push(r);
        }
        let mut topics: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (c, t) in store.topics_for_cases(&ids).await? {
            topics.entry(c).or_default().push(t);
        }
        let mut notes: HashMap<Uuid, Vec<NoteRow>> = HashMap::new();
        for n in store.notes_for_cases(&ids).await? {
            notes.entry(n.case_id).or_default().push(n);
        }
        let seals: HashMap<Uuid, SealRow> = store
            .seals_for_cases(&ids)
            .await?
            .into_iter()
            .map(|s| (s.case_id, s))
            .collect();
        for id in &ids {
            let events = store.events_for_case(*id).await?;
            let case = cases.iter().find(|c| c.id == *id);
            report.cases += 1;
            report.events += events.len() as u64;
            let reference = || {
                case.map(|c| c.reference.clone())
                    .unwrap_or_else(|| id.to_string())
            };
            if let Err((seq, why)) = check_case(case, &events) {
                report.broken.push(Broken {
                    case_id: *id,
                    reference: reference(),
                    seq,
                    why,
                });
                continue;
            }
            let Some(case) = case else { continue };
            let seal = seals.get(id);
            let none = (Vec::new(), Vec::new(), Vec::new());
            let (r, t, n) = (
                referrals.get(id).unwrap_or(&none.0),
                topics.get(id).unwrap_or(&none.1),
                notes.get(id).unwrap_or(&none.2),
            );
            match check_seal(case, r, t, n, seal, keys) {
                SealCheck::Sealed => report.sealed += 1,
                SealCheck::Unsigned => report.unsigned += 1,
                SealCheck::Unchecked => report.unchecked += 1,
                SealCheck::Broken(why) => report.broken.push(Broken {
                    case_id: *id,
                    reference: reference(),
                    seq: case.event_count,
                    why,
                }),
            }
        }
        after = Some(last);
    }
    Ok(report)
}
