//! The business's status check without an account (`caseStatus`): reference
//! plus access code, throttled per client address and, for failures, per
//! (reference, address) with a per-reference ceiling, in the database, the same `null` (after the same work) for every wrong answer,
//! and a view with no personal data, no staff notes and no decline reasons.

use crate::domain::events::{EventPayload, ReferralEvent};
use crate::domain::types::*;
use crate::domain::{access_code, case_state, permissions};
use crate::error::AppResult;
use crate::ratelimit;
use crate::state::AppState;
use crate::store::{CaseRow, EventRow};
use chrono::{DateTime, Utc};
use std::sync::OnceLock;
use uuid::Uuid;

/// One line of the public timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// Plain Japanese, e.g. 「青森県産業技術センター」へご紹介しました.
    pub label: String,
}

/// A `BUSINESS` note as the status page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicNote {
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// What the business sees of its case.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicStatus {
    pub reference: String,
    pub title: String,
    pub stage: Stage,
    pub status: CaseStatus,
    /// Names of the institutions working on it now (accepted referrals).
    pub institutions: Vec<String>,
    pub milestones: Vec<Milestone>,
    pub notes: Vec<PublicNote>,
    pub next_step: String,
}

/// A hash no code matches, compared against when the reference is unknown so
/// that every `null` costs the same work.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| access_code::hash(&access_code::generate()))
}

/// The throttling key of a typed reference (its canonical form).
/// Input that is not a reference is cut to 64 characters, so that junk
/// cannot fill the counters' table (it can never match a case anyway).
pub fn reference_key(reference: &str) -> String {
    super::cases::canonical_reference(reference)
        .to_uppercase()
        .chars()
        .take(64)
        .collect()
}

/// The throttling key of a (reference, address) pair.
fn reference_address_key(reference_key: &str, client: &str) -> String {
    format!("{reference_key}|{client}")
}

/// `caseStatus`: every look-up counts against the client address; failures
/// count per (reference, address) and per address, and a slot of each is
/// taken *before* the code is compared (atomically), then given back when the
/// code was right. Once a reference collected `STATUS_FAILS_PER_REFERENCE`
/// failures, an address that already failed on it is refused, while one that
/// has not may still try: knowing a reference is not enough to lock its owner
/// out. `RATE_LIMITED` looks the same whether or not the reference exists;
/// below the limits a wrong reference, a wrong code and an erased case all
/// answer `None`.
pub async fn case_status(
    st: &AppState,
    reference: &str,
    code: &str,
    client: &str,
) -> AppResult<Option<PublicStatus>> {
    let now = st.now();
    let store = st.store.as_ref();
    let key = reference_key(reference);
    let pair = reference_address_key(&key, client);
    ratelimit::hit_and_check(store, ratelimit::STATUS_PER_ADDRESS, client, now).await?;
    let hot = ratelimit::count(store, ratelimit::STATUS_FAILS_PER_REFERENCE, &key, now).await?
        >= ratelimit::STATUS_FAILS_PER_REFERENCE.max;
    let per_pair = if hot {
        1
    } else {
        ratelimit::STATUS_FAILS_PER_REFERENCE_ADDRESS.max
    };
    let address = ratelimit::take(store, ratelimit::STATUS_FAILS_PER_ADDRESS, client, now).await?;
    let pair_slot = match ratelimit::take_at_most(
        store,
        ratelimit::STATUS_FAILS_PER_REFERENCE_ADDRESS,
        per_pair,
        &pair,
        now,
    )
    .await
    {
        Ok(slot) => slot,
        Err(e) => {
            ratelimit::release(store, &address).await?;
            return Err(e);
        }
    };

    // The same queries and the same hash comparison on every path to `null`.
    let case = store
        .case_by_reference(&super::cases::canonical_reference(reference))
        .await?;
    let business_id = case.as_ref().map(|c| c.business_id).unwrap_or(Uuid::nil());
    let business = store.businesses_by_ids(&[business_id]).await?;
    let stored = case
        .as_ref()
        .map(|c| c.access_code_hash.as_str())
        .unwrap_or(dummy_hash());
    let code_ok = access_code::verify(code, stored);
    let erased = business.first().is_none_or(|b| b.erased_at.is_some());
    let Some(case) = case.filter(|_| code_ok && !erased) else {
        ratelimit::record(store, ratelimit::STATUS_FAILS_PER_REFERENCE, &key, now).await?;
        return Ok(None);
    };
    ratelimit::release(store, &address).await?;
    ratelimit::release(store, &pair_slot).await?;
    Ok(Some(build(st, &case).await?))
}

async fn build(st: &AppState, case: &CaseRow) -> AppResult<PublicStatus> {
    let store = st.store.as_ref();
    let ids = [case.id];
    let (events, referrals, notes) = futures::try_join!(
        store.events_for_case(case.id),
        store.referrals_for_cases(&ids),
        store.notes_for_cases(&ids),
    )?;
    let inst_ids: Vec<Uuid> = referrals.iter().map(|r| r.institution_id).collect();
    let insts = store.institutions_by_ids(&inst_ids).await?;
    let name_of = |id: Uuid| {
        insts
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| "連携機関".to_owned())
    };
    let names = |status: ReferralStatus| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in referrals.iter().filter(|r| r.status == status) {
            let n = name_of(r.institution_id);
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    };
    let accepted = names(ReferralStatus::Accepted);
    let pending = names(ReferralStatus::Pending);
    let has_pending = !pending.is_empty();
    let status = case_state::displayed_status(case.status, has_pending);
    Ok(PublicStatus {
        reference: case.reference.clone(),
        title: case.title.clone(),
        stage: case.stage,
        status,
        next_step: next_step(case.status, case.stage, &pending, &accepted),
        institutions: accepted,
        milestones: milestones(&events),
        notes: notes
            .into_iter()
            .filter(|n| permissions::business_can_read_note(n.visibility))
            .map(|n| PublicNote {
                body: n.body,
                created_at: n.created_at,
            })
            .collect(),
    })
}

/// The institution a referral event names ("連携機関" when it has no name).
fn institution_name(r: &ReferralEvent) -> String {
    if r.institution_name.is_empty() {
        "連携機関".to_owned()
    } else {
        r.institution_name.clone()
    }
}

/// The public label of an event, or `None` for events the business does not
/// see (edits, notes, code rotation, erasure). Decline reasons never appear:
/// a declined or withdrawn referral reads the same neutral way.
pub fn milestone_label(e: &EventRow) -> Option<String> {
    let payload = EventPayload::from_json(e.kind, &e.payload.0).ok()?;
    let label = match &payload {
        EventPayload::Opened(_) => "ご相談を受け付けました".to_owned(),
        EventPayload::Referred(r) => format!("「{}」へご紹介しました", institution_name(r)),
        EventPayload::Accepted(r) => format!("{}が対応を開始しました", institution_name(r)),
        EventPayload::Declined(r) | EventPayload::Withdrawn(r) => {
            format!("「{}」へのご紹介は見送りとなりました", institution_name(r))
        }
        EventPayload::Completed(r) => format!("{}による支援が完了しました", institution_name(r)),
        EventPayload::StageChanged(c) => format!("段階を「{}」に変更しました", c.to.label_ja()),
        EventPayload::StatusChanged(c) => match (c.from, c.to) {
            (CaseStatus::New, CaseStatus::InProgress) => "窓口で対応を開始しました".to_owned(),
            (_, CaseStatus::InProgress) => "対応を再開しました".to_owned(),
            (_, CaseStatus::OnHold) => "一時保留になりました".to_owned(),
            (_, other) => format!("状態が「{}」になりました", other.label_ja()),
        },
        EventPayload::Resolved(_) => "ご相談が解決しました".to_owned(),
        EventPayload::Reopened(_) => "ご相談の対応を再開しました".to_owned(),
        EventPayload::Closed(_) => "ご相談の対応を完了しました".to_owned(),
        EventPayload::Updated(_)
        | EventPayload::NoteAdded(_)
        | EventPayload::AccessCodeRotated
        | EventPayload::PersonalDataErased(_)
        | EventPayload::BusinessMerged(_)
        | EventPayload::DataExported(_) => return None,
    };
    Some(label)
}

/// The public timeline, in order.
pub fn milestones(events: &[EventRow]) -> Vec<Milestone> {
    events
        .iter()
        .filter_map(|e| {
            milestone_label(e).map(|label| Milestone {
                at: e.at,
                kind: e.kind,
                label,
            })
        })
        .collect()
}

/// The next step, in one Japanese sentence, from the stored status, the
/// stage and the institutions with pending and accepted referrals.
pub fn next_step(
    stored: CaseStatus,
    stage: Stage,
    pending: &[String],
    accepted: &[String],
) -> String {
    let quote = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("「{n}」"))
            .collect::<Vec<_>>()
            .join("、")
    };
    match stored {
        CaseStatus::Closed => {
            "このご相談の対応は完了しました。新たなご相談は、いつでもDX総合窓口へお寄せください。".to_owned()
        }
        CaseStatus::Resolved => {
            "ご相談は解決済みです。追加のご相談や気になる点があれば、DX総合窓口へご連絡ください。".to_owned()
        }
        CaseStatus::OnHold => {
            "ご相談は一時保留中です。再開の際は担当者からご連絡します。".to_owned()
        }
        _ if !accepted.is_empty() => format!(
            "{}が支援を行っています。具体的な進め方は、機関の担当者とご相談ください。",
            quote(accepted)
        ),
        _ if !pending.is_empty() => format!(
            "{}でご相談内容を確認しています。受付が決まりしだい、担当者からご連絡します。",
            quote(pending)
        ),
        CaseStatus::New => {
            "DX総合窓口でご相談内容を確認しています。担当のDXコンシェルジュからご連絡します。".to_owned()
        }
        _ => match stage {
            Stage::Know => "DXコンシェルジュが、役立つツールやセミナー、支援制度の情報をご案内します。".to_owned(),
            Stage::Consult => "DXコンシェルジュがご相談に対応しています。必要に応じて専門の支援機関をご紹介します。".to_owned(),
            Stage::Try => "試行・実証に向けて、DXコンシェルジュが準備を進めています。".to_owned(),
        },
    }
}
