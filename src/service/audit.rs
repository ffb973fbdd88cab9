//! `dxdesk audit verify`: walks every case's event chain (in id order, a page
//! at a time, so it works on any size) and re-checks it with
//! `domain::hash_chain::verify_chain`; the case row's event count and last
//! hash must agree with the chain too, so a deleted tail is caught.

use crate::domain::hash_chain::{verify_chain, ChainLink, GENESIS};
use crate::error::AppResult;
use crate::store::{CaseRow, EventRow, Store};
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

/// Walks every case of the deployment.
pub async fn verify_all(store: &dyn Store) -> AppResult<AuditReport> {
    let mut report = AuditReport::default();
    let mut after: Option<Uuid> = None;
    loop {
        let ids = store.case_ids_page(after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        let cases = store.cases_by_ids(&ids).await?;
        for id in &ids {
            let events = store.events_for_case(*id).await?;
            let case = cases.iter().find(|c| c.id == *id);
            report.cases += 1;
            report.events += events.len() as u64;
            if let Err((seq, why)) = check_case(case, &events) {
                report.broken.push(Broken {
                    case_id: *id,
                    reference: case
                        .map(|c| c.reference.clone())
                        .unwrap_or_else(|| id.to_string()),
                    seq,
                    why,
                });
            }
        }
        after = Some(last);
    }
    Ok(report)
}
