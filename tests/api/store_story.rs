//! The store contract story: one generic walk through the storage operations,
//! run on SQLite and on PostgreSQL, plus the append-only guarantee of case events.

use crate::backend_tests;
use crate::common;

use chrono::{Duration, Utc};
use common::{fresh_store, Backend};
use dxdesk::domain::types::*;
use dxdesk::store::*;
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

async fn seed_lab(store: &SharedStore) -> (LabRow, InstitutionRow) {
    let now = dxdesk::clock::trunc(Utc::now());
    let lab = LabRow {
        id: Uuid::now_v7(),
        code: "TST".into(),
        name: "テストラボ".into(),
        name_en: "Test lab".into(),
        regions: Json(vec![Region {
            code: "R1".into(),
            name: "地域1".into(),
            municipalities: vec!["青森市".into()],
        }]),
        pickup_days: 3,
        created_at: now,
    };
    let id = store.upsert_lab(&lab).await.unwrap();
    // Upserting again keeps the id.
    assert_eq!(store.upsert_lab(&lab).await.unwrap(), id);
    let inst = InstitutionRow {
        id: Uuid::now_v7(),
        lab_id: id,
        name: "技術センター".into(),
        kind: InstitutionKind::IndustrySupport,
        tags: Json(vec!["IoT".into()]),
        regions: Json(vec![]),
        active: true,
        created_at: now,
        updated_at: now,
    };
    store.insert_institution(&inst).await.unwrap();
    let twin = InstitutionRow {
        id: Uuid::now_v7(),
        ..inst.clone()
    };
    let dup = store.insert_institution(&twin).await;
    assert!(matches!(dup, Err(dxdesk::error::AppError::Conflict(_))));
    (store.lab(id).await.unwrap().unwrap(), inst)
}

fn new_case(lab: &LabRow, now: chrono::DateTime<Utc>, title: &str) -> NewCase {
    NewCase {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        lab_code: lab.code.clone(),
        business: BusinessChoice::New(BusinessRow {
            id: Uuid::now_v7(),
            lab_id: lab.id,
            name: "株式会社テスト".into(),
            corporate_number: Some("7000012050002".into()),
            industry: Some("E".into()),
            employee_band: None,
            municipality: Some("青森市".into()),
            region: Some("R1".into()),
            contact_name: Some("山田".into()),
            email: None,
            phone: None,
            created_at: now,
            updated_at: now,
            erased_at: None,
        }),
        title: title.into(),
        description: "在庫管理をクラウドにしたい".into(),
        topics: vec!["在庫管理".into(), "クラウド".into()],
        channel: Channel::WalkIn,
        stage: Stage::Consult,
        status: CaseStatus::New,
        priority: Priority::Normal,
        assigned_to: None,
        consent_to_share: true,
        consent_by: None,
        access_code_hash: "h".into(),
        mail_access_code: None,
        email_updates: false,
        actor: None,
        now,
    }
}

/// A change that refers the case to `institution`: one pending referral
/// with the given pickup deadline, and its `REFERRED` event.
fn refer(
    s: &CaseSnapshot,
    institution: Uuid,
    now: chrono::DateTime<Utc>,
    deadline: chrono::DateTime<Utc>,
) -> CaseChange {
    CaseChange {
        new_referrals: vec![ReferralRow {
            id: Uuid::now_v7(),
            lab_id: s.case.lab_id,
            case_id: s.case.id,
            institution_id: institution,
            status: ReferralStatus::Pending,
            note: None,
            reason: None,
            decision_note: None,
            summary: None,
            referred_by: None,
            decided_by: None,
            pickup_deadline: deadline,
            created_at: now,
            decided_at: None,
            completed_at: None,
            updated_at: now,
        }],
        events: vec![NewEvent {
            kind: EventKind::Referred,
            actor: None,
            payload: json!({ "institutionId": institution }),
        }],
        ..Default::default()
    }
}

async fn story(backend: Backend) {
    let store = fresh_store(backend).await;
    let (lab, inst) = seed_lab(&store).await;
    let now = dxdesk::clock::trunc(Utc::now());

    // Opening twice with the same corporate number reuses the business; references are sequential.
    let a = store
        .open_case(new_case(&lab, now, "一件目"))
        .await
        .unwrap();
    let b = store
        .open_case(new_case(&lab, now, "二件目"))
        .await
        .unwrap();
    assert_eq!(a.business.id, b.business.id, "{backend:?}");
    let year = dxdesk::domain::jst::date_of(now).format("%Y").to_string();
    assert_eq!(a.case.reference, format!("TST-{year}-000001"));
    assert_eq!(b.case.reference, format!("TST-{year}-000002"));
    assert_eq!(a.case.event_count, 1);
    assert_eq!(a.topics, vec!["クラウド".to_owned(), "在庫管理".to_owned()]);

    // A decision: refer, with its event; the version moves only when asked.
    let inst_id = inst.id;
    let snap = store
        .update_case(
            lab.id,
            a.case.id,
            Some(1),
            now,
            Box::new(move |s: &CaseSnapshot| {
                Ok(CaseChange {
                    bump_version: true,
                    ..refer(s, inst_id, now, now - Duration::hours(1))
                })
            }),
        )
        .await
        .unwrap();
    assert_eq!(snap.case.version, 2);
    assert!(snap.case.has_pending);
    assert_eq!(snap.case.displayed_status(), CaseStatus::Referred);

    // A stale version changes nothing.
    let stale = store
        .update_case(
            lab.id,
            a.case.id,
            Some(1),
            now,
            Box::new(|_| Ok(CaseChange::default())),
        )
        .await;
    assert!(matches!(stale, Err(dxdesk::error::AppError::Conflict(_))));
    // Another lab sees nothing.
    let other = store
        .update_case(
            Uuid::now_v7(),
            a.case.id,
            None,
            now,
            Box::new(|_| Ok(CaseChange::default())),
        )
        .await;
    assert!(matches!(other, Err(dxdesk::error::AppError::NotFound(_))));
    // A second open referral to the same institution is a conflict, and rolls back.
    let dup = store
        .update_case(
            lab.id,
            a.case.id,
            None,
            now,
            Box::new(move |s: &CaseSnapshot| {
                let mut r = s.referrals[0].clone();
                r.id = Uuid::now_v7();
                Ok(CaseChange {
                    new_referrals: vec![r],
                    events: vec![NewEvent {
                        kind: EventKind::Referred,
                        actor: None,
                        payload: json!({}),
                    }],
                    ..Default::default()
                })
            }),
        )
        .await;
    assert!(matches!(dup, Err(dxdesk::error::AppError::Conflict(_))));
    assert_eq!(store.events_for_case(a.case.id).await.unwrap().len(), 2);

    // Reads: overdue, lists with filters and keyset pages, search in Japanese.
    assert_eq!(store.overdue_referrals(lab.id, now).await.unwrap().len(), 1);
    let q = CaseQuery {
        lab_id: lab.id,
        now,
        ..Default::default()
    };
    let page1 = store.list_cases(&q, None, 1).await.unwrap();
    assert_eq!(page1[0].id, b.case.id, "newest first");
    let page2 = store.list_cases(&q, Some(page1[0].id), 1).await.unwrap();
    assert_eq!(page2[0].id, a.case.id);
    assert_eq!(store.count_cases(&q).await.unwrap(), 2);
    let referred = CaseQuery {
        statuses: vec![CaseStatus::Referred],
        ..q.clone()
    };
    assert_eq!(store.count_cases(&referred).await.unwrap(), 1);
    let newq = CaseQuery {
        statuses: vec![CaseStatus::New],
        ..q.clone()
    };
    assert_eq!(store.count_cases(&newq).await.unwrap(), 1);
    let search = CaseQuery {
        search: Some("在庫管理".into()),
        ..q.clone()
    };
    assert_eq!(store.count_cases(&search).await.unwrap(), 2);
    let by_company = CaseQuery {
        search: Some("テスト".into()),
        ..q.clone()
    };
    assert_eq!(store.count_cases(&by_company).await.unwrap(), 2);
    let overdue = CaseQuery {
        overdue: Some(true),
        ..q.clone()
    };
    assert_eq!(store.count_cases(&overdue).await.unwrap(), 1);
    let topic = CaseQuery {
        topic: Some("クラウド".into()),
        ..q.clone()
    };
    assert_eq!(store.count_cases(&topic).await.unwrap(), 2);
    let partner = CaseQuery {
        partner_institution: Some(inst.id),
        ..q.clone()
    };
    assert_eq!(store.list_cases(&partner, None, 10).await.unwrap().len(), 1);

    // The chain verifies.
    let links: Vec<_> = store
        .events_for_case(a.case.id)
        .await
        .unwrap()
        .iter()
        .map(EventRow::link)
        .collect();
    assert_eq!(dxdesk::domain::hash_chain::verify_chain(&links), Ok(()));
    assert_eq!(store.case_ids_page(None, 10).await.unwrap().len(), 2);
}

backend_tests!(store_contract_story);

async fn store_contract_story(backend: Backend) {
    story(backend).await;
}

backend_tests!(case_events_refuse_update_and_delete);

async fn case_events_refuse_update_and_delete(backend: Backend) {
    let store = fresh_store(backend).await;
    let (lab, _) = seed_lab(&store).await;
    let snap = store
        .open_case(new_case(&lab, dxdesk::clock::trunc(Utc::now()), "改ざん"))
        .await
        .unwrap();
    let id = snap.case.id;
    let (update, delete) = match backend {
        Backend::Sqlite => {
            let s = dxdesk::store::SqliteStore::connect(&sqlite_url_of(&store).await)
                .await
                .unwrap();
            let u = sqlx::query("UPDATE case_events SET kind = 'CLOSED' WHERE case_id = $1")
                .bind(id)
                .execute(s.pool())
                .await;
            let d = sqlx::query("DELETE FROM case_events WHERE case_id = $1")
                .bind(id)
                .execute(s.pool())
                .await;
            (u.is_err(), d.is_err())
        }
        Backend::Postgres => {
            let pool = pg_pool_of(&store).await;
            let u = sqlx::query("UPDATE case_events SET kind = 'CLOSED' WHERE case_id = $1")
                .bind(id)
                .execute(&pool)
                .await;
            let d = sqlx::query("DELETE FROM case_events WHERE case_id = $1")
                .bind(id)
                .execute(&pool)
                .await;
            (u.is_err(), d.is_err())
        }
    };
    assert!(update, "{backend:?}: UPDATE on case_events must fail");
    assert!(delete, "{backend:?}: DELETE on case_events must fail");
    assert_eq!(store.events_for_case(id).await.unwrap().len(), 1);
}

async fn sqlite_url_of(store: &SharedStore) -> String {
    let s = store.as_any().downcast_ref::<SqliteStore>().unwrap();
    let (file,): (String,) =
        sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(s.pool())
            .await
            .unwrap();
    format!("sqlite://{file}")
}

async fn pg_pool_of(store: &SharedStore) -> sqlx::PgPool {
    store
        .as_any()
        .downcast_ref::<PgStore>()
        .unwrap()
        .pool()
        .clone()
}

backend_tests!(a_page_row_is_what_the_by_id_reads_return);

/// The list page decodes its joined rows by position (`store::case_list`);
/// every part must equal what the by-name reads of the same rows return, for
/// every combination of nested rows, assigned and unassigned, with and
/// without a referral.
async fn a_page_row_is_what_the_by_id_reads_return(backend: Backend) {
    let store = fresh_store(backend).await;
    let (lab, inst) = seed_lab(&store).await;
    let now = dxdesk::clock::trunc(Utc::now());
    let user = UserRow {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        email: "desk@example.jp".into(),
        display_name: "窓口 太郎".into(),
        password_hash: "x".into(),
        role: Role::Concierge,
        institution_id: None,
        active: true,
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&user).await.unwrap();
    let plain = store
        .open_case(new_case(&lab, now, "担当なし"))
        .await
        .unwrap();
    let mut assigned = new_case(&lab, now, "担当あり");
    assigned.assigned_to = Some(user.id);
    assigned.topics = vec![];
    let assigned = store.open_case(assigned).await.unwrap();
    let (inst_id, uid) = (inst.id, user.id);
    store
        .update_case(
            lab.id,
            plain.case.id,
            None,
            now,
            Box::new(move |s: &CaseSnapshot| {
                let mut change = refer(s, inst_id, now, now + Duration::days(3));
                let r = &mut change.new_referrals[0];
                r.note = Some("ご紹介".into());
                r.referred_by = Some(uid);
                Ok(change)
            }),
        )
        .await
        .unwrap();
    let q = CaseQuery {
        lab_id: lab.id,
        now,
        ..Default::default()
    };
    let d = |v: &dyn std::fmt::Debug| format!("{v:?}");
    for n in 0..8 {
        let with = PageWith {
            business: n & 1 != 0,
            assignee: n & 2 != 0,
            topics: n & 4 != 0,
        };
        let page = store.list_case_page(&q, None, 10, with).await.unwrap();
        assert_eq!(page.len(), 2, "{backend:?} {with:?}");
        for l in &page {
            let id = l.case.id;
            let case = store.cases_by_ids(&[id]).await.unwrap();
            assert_eq!(d(&l.case), d(&case[0]), "{backend:?} {with:?}");
            let business = store
                .businesses_by_ids(&[case[0].business_id])
                .await
                .unwrap()
                .pop();
            assert_eq!(d(&l.business), d(&business.filter(|_| with.business)));
            let assignee = match case[0].assigned_to {
                Some(u) => store.users_by_ids(&[u]).await.unwrap().pop(),
                None => None,
            };
            assert!(with.assignee || l.assignee.is_none());
            if with.assignee {
                assert_eq!(d(&l.assignee), d(&assignee), "{backend:?} {with:?}");
            }
            let snap = if id == plain.case.id {
                &plain
            } else {
                &assigned
            };
            let topics = with.topics.then(|| snap.topics.clone());
            assert_eq!(l.topics, topics, "{backend:?} {with:?}");
        }
    }
    assert!(assigned.topics.is_empty());
    let ids = [plain.case.id, assigned.case.id];
    let joined = store.referrals_with_institutions(&ids).await.unwrap();
    let referrals = store.referrals_for_cases(&ids).await.unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!(d(&joined[0].0), d(&referrals[0]), "{backend:?}");
    let institution = store.institutions_by_ids(&[inst.id]).await.unwrap();
    assert_eq!(d(&joined[0].1), d(&institution[0]), "{backend:?}");
}
