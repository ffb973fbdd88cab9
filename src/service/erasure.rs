//! Erasing a business's personal data (APPI): once none of its cases is open,
//! the secretariat replaces the company name, contact person, e-mail and phone,
//! every case's title, description and outcome summary, every referral note,
//! decision note and completion summary, and every note body with a marker;
//! the business's contacts and website are deleted, and stored answers of
//! retried requests that mention its cases. The support record stays whole —
//! events never held personal data — and gains one PERSONAL_DATA_ERASED event
//! per case; the status page answers `null` after. A later intake with the
//! same 法人番号 creates a fresh record linked only as "previously erased".

use crate::domain::permissions::{require_admin, Viewer};
use crate::domain::types::CaseStatus;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{BusinessRow, CaseChange, CaseQuery, CaseSnapshot, ReferralRow};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What replaces erased text.
pub const ERASED_NAME: &str = "（個人情報消去済みの事業者）";
pub const ERASED_TEXT: &str = "（個人情報の消去により削除されました）";

/// The business with its personal fields removed; statistics fields
/// (industry, municipality, region, corporate number of a legal entity) stay.
pub fn redacted(b: &BusinessRow, now: DateTime<Utc>) -> BusinessRow {
    BusinessRow {
        name: ERASED_NAME.to_owned(),
        contact_name: None,
        email: None,
        phone: None,
        updated_at: now,
        erased_at: Some(b.erased_at.unwrap_or(now)),
        ..b.clone()
    }
}

fn still_open(reference: &str) -> AppError {
    AppError::conflict(
        format!("案件 {reference} がまだ対応中です。個人情報を消去する前に、この事業者の案件をすべて解決または終了してください。"),
        format!("Case {reference} is still open. Resolve or close every case of this business before erasing its personal data."),
    )
}

/// The change erasing one case of the business; refused while the case is open.
pub fn decide_erase(s: &CaseSnapshot, actor: Uuid, now: DateTime<Utc>) -> AppResult<CaseChange> {
    if !matches!(s.case.status, CaseStatus::Resolved | CaseStatus::Closed) {
        return Err(still_open(&s.case.reference));
    }
    let mut case = s.case.clone();
    case.title = ERASED_TEXT.to_owned();
    case.description = ERASED_TEXT.to_owned();
    let erase = |t: &Option<String>| t.as_ref().map(|_| ERASED_TEXT.to_owned());
    case.outcome_summary = erase(&case.outcome_summary);
    let referrals = s
        .referrals
        .iter()
        .map(|r| ReferralRow {
            note: erase(&r.note),
            decision_note: erase(&r.decision_note),
            summary: erase(&r.summary),
            ..r.clone()
        })
        .collect();
    Ok(CaseChange {
        case: Some(case),
        bump_version: true,
        business: Some(redacted(&s.business, now)),
        updated_referrals: referrals,
        redact_notes: Some(ERASED_TEXT.to_owned()),
        events: vec![super::events::personal_data_erased(actor, s.business.id)],
        ..Default::default()
    })
}

/// `erasePersonalData(businessId)`: admin only. Every case of the business must
/// be resolved or closed (checked for all before anything changes). Each case
/// is erased in its own transaction; running it again finishes an interrupted run.
pub async fn erase_business(
    st: &AppState,
    v: &Viewer,
    business_id: Uuid,
) -> AppResult<BusinessRow> {
    require_admin(v)?;
    let store = st.store.as_ref();
    let in_lab = store
        .businesses_by_ids(&[business_id])
        .await?
        .iter()
        .any(|b| b.lab_id == v.lab_id);
    if !in_lab {
        return Err(AppError::not_found("事業者", "Business"));
    }
    let q = CaseQuery {
        lab_id: v.lab_id,
        business_id: Some(business_id),
        now: st.now(),
        ..Default::default()
    };
    let cases = store.list_cases(&q, None, 1000).await?;
    if let Some(open) = cases
        .iter()
        .find(|c| !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed))
    {
        return Err(still_open(&open.reference));
    }
    let actor = v.user_id;
    let mut last = None;
    // Each `update_case` below re-tokenises the case for search (the erased
    // title, description and business name) in its own transaction.
    for c in &cases {
        let now = st.now();
        let snap = store
            .update_case(
                v.lab_id,
                c.id,
                None,
                now,
                Box::new(move |s| decide_erase(s, actor, now)),
            )
            .await?;
        last = Some(snap.business);
    }
    let mut needles: Vec<String> = cases
        .iter()
        .flat_map(|c| [c.id.to_string(), c.reference.clone()])
        .collect();
    needles.push(business_id.to_string());
    store
        .erase_business_extras(v.lab_id, business_id, actor, st.now(), &needles)
        .await?;
    match last {
        Some(mut b) => {
            (b.contact_name, b.email, b.phone) = (None, None, None);
            Ok(b)
        }
        None => Err(AppError::conflict(
            "この事業者には案件がありません。",
            "This business has no cases.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::*;
    use sqlx::types::Json;

    fn snapshot(status: CaseStatus) -> CaseSnapshot {
        let now = Utc::now();
        let id = Uuid::now_v7();
        CaseSnapshot {
            case: crate::store::CaseRow {
                id,
                lab_id: id,
                reference: "AOM-2026-000001".into(),
                business_id: id,
                title: "t".into(),
                description: "山田さんの携帯 090-0000-0000".into(),
                channel: Channel::Phone,
                stage: Stage::Consult,
                status,
                priority: Priority::Normal,
                assigned_to: None,
                consent_to_share: true,
                consent_at: None,
                consent_by: None,
                email_updates: false,
                access_code_hash: "h".into(),
                outcomes: Json(vec![]),
                outcome_summary: None,
                version: 3,
                event_count: 4,
                last_event_hash: "x".into(),
                created_by: None,
                created_at: now,
                updated_at: now,
                resolved_at: None,
                closed_at: None,
                has_pending: false,
            },
            topics: vec![],
            referrals: vec![],
            business: BusinessRow {
                id,
                lab_id: id,
                name: "山田商店".into(),
                corporate_number: None,
                industry: Some("I".into()),
                employee_band: None,
                municipality: Some("青森市".into()),
                region: Some("TOSEI".into()),
                contact_name: Some("山田太郎".into()),
                email: Some("yamada@example.jp".into()),
                phone: Some("090-0000-0000".into()),
                created_at: now,
                updated_at: now,
                erased_at: None,
            },
        }
    }

    #[test]
    fn erasing_removes_personal_fields_and_keeps_statistics() {
        let s = snapshot(CaseStatus::Closed);
        let c = decide_erase(&s, Uuid::now_v7(), Utc::now()).unwrap();
        let b = c.business.unwrap();
        assert_eq!((b.contact_name, b.email, b.phone), (None, None, None));
        assert_eq!(b.name, ERASED_NAME);
        assert!(b.erased_at.is_some());
        assert_eq!(b.industry.as_deref(), Some("I"));
        assert_eq!(b.region.as_deref(), Some("TOSEI"));
        assert_eq!(c.case.unwrap().description, ERASED_TEXT);
        assert_eq!(c.redact_notes.as_deref(), Some(ERASED_TEXT));
        assert_eq!(c.events[0].kind, EventKind::PersonalDataErased);
        assert!(!c.events[0].payload.to_string().contains("山田"));
    }

    #[test]
    fn an_open_case_is_not_erased() {
        for st in [CaseStatus::New, CaseStatus::InProgress, CaseStatus::OnHold] {
            let err = decide_erase(&snapshot(st), Uuid::now_v7(), Utc::now()).unwrap_err();
            assert_eq!(err.code(), "CONFLICT");
        }
        assert!(decide_erase(&snapshot(CaseStatus::Resolved), Uuid::now_v7(), Utc::now()).is_ok());
    }
}
