//! Disclosure of everything held about a business (APPI art. 33):
//! `exportBusinessData(businessId)` and `GET /api/businesses/{id}/export.json`
//! give one JSON document, format `dxdesk.business-export` version 1
//! (docs/business-export.md, JSON Schema beside it). Admin of the business's
//! lab only (anyone else: `NOT_FOUND`). The export itself is recorded on the
//! support record: a `DATA_EXPORTED` event on every case of the business and
//! an `EXPORTED` entry in the business's history.

use crate::domain::events::EventPayload;
use crate::domain::hash_chain::format_at;
use crate::domain::labels::Lang;
use crate::domain::permissions::Viewer;
use crate::error::AppResult;
use crate::service::business::{business_not_found, cases_of};
use crate::state::AppState;
use crate::store::*;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

pub const FORMAT: &str = "dxdesk.business-export";
pub const VERSION: i64 = 1;

fn at(t: DateTime<Utc>) -> Value {
    Value::String(format_at(t))
}

fn opt_at(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, at)
}

/// Records the export and returns the document.
pub async fn export(st: &AppState, v: &Viewer, business_id: Uuid) -> AppResult<Value> {
    if !v.is_admin() {
        return Err(business_not_found());
    }
    let store = st.store.as_ref();
    let rec = store
        .business_record(v.lab_id, business_id)
        .await?
        .ok_or_else(business_not_found)?;
    let cases = cases_of(st, v, business_id).await?;
    let actor = v.user_id;
    for c in &cases {
        store
            .update_case(
                v.lab_id,
                c.id,
                None,
                st.now(),
                Box::new(move |_| {
                    Ok(CaseChange {
                        events: vec![crate::service::events::data_exported(actor, business_id)],
                        ..Default::default()
                    })
                }),
            )
            .await?;
    }
    let now = st.now();
    store
        .add_business_history(HistoryRow::new(
            &rec.row,
            Some(actor),
            now,
            "EXPORTED",
            Vec::new(),
        ))
        .await?;
    document(st, v, &rec, now).await
}

/// The document as it stands (after the export was recorded).
async fn document(
    st: &AppState,
    v: &Viewer,
    rec: &BusinessRecord,
    now: DateTime<Utc>,
) -> AppResult<Value> {
    let store = st.store.as_ref();
    let lab = crate::service::cases::lab_of(st, v).await?;
    let id = rec.row.id;
    let contacts = store.contacts_for(&[id]).await?;
    let history = store.business_history(id).await?;
    let cases = cases_of(st, v, id).await?;
    let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
    let topics = store.topics_for_cases(&ids).await?;
    let referrals = store.referrals_for_cases(&ids).await?;
    let notes = store.notes_for_cases(&ids).await?;
    let inst: HashMap<Uuid, String> = store
        .institutions(v.lab_id)
        .await?
        .into_iter()
        .map(|i| (i.id, i.name))
        .collect();
    let mut consent = Vec::new();
    let mut out_cases = Vec::new();
    for c in &cases {
        let events = store.events_for_case(c.id).await?;
        for e in &events {
            let given = match EventPayload::from_json(e.kind, &e.payload.0) {
                Ok(EventPayload::Opened(o)) => Some(o.consent_to_share),
                Ok(EventPayload::Updated(u)) => u.consent_to_share,
                _ => None,
            };
            if let Some(g) = given {
                consent.push(json!({
                    "caseReference": c.reference,
                    "at": at(e.at),
                    "consentToShare": g,
                    "event": e.kind.as_str(),
                }));
            }
        }
        out_cases.push(json!({
            "id": c.id,
            "reference": c.reference,
            "title": c.title,
            "description": c.description,
            "channel": c.channel.as_str(),
            "stage": c.stage.as_str(),
            "status": c.status.as_str(),
            "priority": c.priority.as_str(),
            "topics": topics.iter().filter(|(cid, _)| *cid == c.id).map(|(_, t)| t.clone()).collect::<Vec<_>>(),
            "consentToShare": c.consent_to_share,
            "consentAt": opt_at(c.consent_at),
            "outcomes": c.outcomes.0.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            "outcomeSummary": c.outcome_summary,
            "createdAt": at(c.created_at),
            "updatedAt": at(c.updated_at),
            "resolvedAt": opt_at(c.resolved_at),
            "closedAt": opt_at(c.closed_at),
            "notes": notes.iter().filter(|n| n.case_id == c.id).map(|n| json!({
                "id": n.id,
                "body": n.body,
                "visibility": n.visibility.as_str(),
                "createdAt": at(n.created_at),
            })).collect::<Vec<_>>(),
            "referrals": referrals.iter().filter(|r| r.case_id == c.id).map(|r| json!({
                "id": r.id,
                "institution": inst.get(&r.institution_id).cloned().unwrap_or_default(),
                "status": r.status.as_str(),
                "note": r.note,
                "reason": r.reason.map(|x| x.as_str()),
                "decisionNote": r.decision_note,
                "summary": r.summary,
                "pickupDeadline": at(r.pickup_deadline),
                "createdAt": at(r.created_at),
                "decidedAt": opt_at(r.decided_at),
                "completedAt": opt_at(r.completed_at),
            })).collect::<Vec<_>>(),
            "events": events.iter().map(|e| json!({
                "seq": e.seq,
                "kind": e.kind.as_str(),
                "at": at(e.at),
                "actorId": e.actor_id,
                "summary": EventPayload::from_json(e.kind, &e.payload.0).map(|p| p.summary(Lang::Ja)).unwrap_or_default(),
                "payload": e.payload.0,
                "hash": e.hash,
            })).collect::<Vec<_>>(),
        }));
    }
    let b = &rec.row;
    Ok(json!({
        "format": FORMAT,
        "version": VERSION,
        "exportedAt": at(now),
        "lab": { "code": lab.code, "name": lab.name },
        "business": {
            "id": b.id,
            "name": b.name,
            "corporateNumber": b.corporate_number,
            "industry": b.industry,
            "employeeBand": b.employee_band,
            "municipality": b.municipality,
            "region": b.region,
            "website": rec.website,
            "version": rec.version,
            "createdAt": at(b.created_at),
            "updatedAt": at(b.updated_at),
            "erasedAt": opt_at(b.erased_at),
            "previouslyErasedId": rec.previously_erased_id,
            "mergedIntoId": rec.merged_into_id,
        },
        "contacts": contacts.iter().map(|c| json!({
            "id": c.id,
            "name": c.name,
            "role": c.role,
            "email": c.email,
            "phone": c.phone,
            "primary": c.is_primary,
            "createdAt": at(c.created_at),
            "updatedAt": at(c.updated_at),
        })).collect::<Vec<_>>(),
        "history": history.iter().map(|h| json!({
            "at": at(h.at),
            "kind": h.kind,
            "fields": h.fields.0,
            "actorId": h.actor_id,
            "otherBusinessId": h.other_business_id,
        })).collect::<Vec<_>>(),
        "cases": out_cases,
        "consentHistory": consent,
        // No notification is sent to businesses yet; the outbox (when it
        // lands) adds its messages about these cases here.
        "notificationsSent": Vec::<Value>::new(),
    }))
}
