//! Unit tests of the service decisions (pure functions of a fabricated
//! snapshot), the visibility rules, the public status view and the audit check.

use super::access::{can_read, event_visible, note_visible, referral_visible};
use super::cases::*;
use super::notes::decide_note;
use super::referrals::{decide_action, decide_refer, Action};
use super::{audit, status};
use crate::domain::business_days::pickup_deadline;
use crate::domain::hash_chain::ChainLink;
use crate::domain::permissions::Viewer;
use crate::domain::types::*;
use crate::error::AppError;
use crate::store::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 6, 1, 0, 0).unwrap()
}

struct World {
    lab: Uuid,
    center: Uuid,
    bank: Uuid,
    desk: Uuid,
}

fn world() -> World {
    World {
        lab: Uuid::now_v7(),
        center: Uuid::now_v7(),
        bank: Uuid::now_v7(),
        desk: Uuid::now_v7(),
    }
}

fn institution(w: &World, id: Uuid, name: &str) -> InstitutionRow {
    InstitutionRow {
        id,
        lab_id: w.lab,
        name: name.into(),
        kind: InstitutionKind::IndustrySupport,
        tags: Json(vec![]),
        regions: Json(vec![]),
        active: true,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn snapshot(w: &World, status: CaseStatus, consent: bool) -> CaseSnapshot {
    let business = BusinessRow {
        id: Uuid::now_v7(),
        lab_id: w.lab,
        name: "株式会社テスト".into(),
        corporate_number: None,
        industry: None,
        employee_band: None,
        municipality: None,
        region: None,
        contact_name: Some("山田 太郎".into()),
        email: None,
        phone: None,
        created_at: t0(),
        updated_at: t0(),
        erased_at: None,
    };
    CaseSnapshot {
        case: CaseRow {
            id: Uuid::now_v7(),
            lab_id: w.lab,
            reference: "AOM-2026-000001".into(),
            business_id: business.id,
            title: "在庫管理のクラウド化".into(),
            description: "紙の台帳をやめたい".into(),
            channel: Channel::WalkIn,
            stage: Stage::Consult,
            status,
            priority: Priority::Normal,
            assigned_to: None,
            consent_to_share: consent,
            consent_at: consent.then(t0),
            consent_by: consent.then_some(w.desk),
            email_updates: false,
            access_code_hash: "x".repeat(64),
            outcomes: Json(vec![]),
            outcome_summary: None,
            version: 3,
            event_count: 1,
            last_event_hash: "0".repeat(64),
            created_by: Some(w.desk),
            created_at: t0(),
            updated_at: t0(),
            resolved_at: None,
            closed_at: None,
            has_pending: false,
        },
        topics: vec!["IoT".into()],
        referrals: vec![],
        business,
    }
}

fn referral(s: &CaseSnapshot, inst: Uuid, status: ReferralStatus) -> ReferralRow {
    ReferralRow {
        id: Uuid::now_v7(),
        lab_id: s.case.lab_id,
        case_id: s.case.id,
        institution_id: inst,
        status,
        note: None,
        reason: None,
        decision_note: None,
        summary: None,
        referred_by: None,
        decided_by: None,
        pickup_deadline: t0() + Duration::days(3),
        created_at: t0(),
        decided_at: None,
        completed_at: None,
        updated_at: t0(),
    }
}

fn viewer(w: &World, role: Role, inst: Option<Uuid>) -> Viewer {
    Viewer {
        user_id: Uuid::now_v7(),
        lab_id: w.lab,
        role,
        institution_id: inst,
        display_name: "テスト".into(),
    }
}

fn kinds(c: &CaseChange) -> Vec<EventKind> {
    c.events.iter().map(|e| e.kind).collect()
}

#[track_caller]
fn code(r: Result<CaseChange, AppError>) -> &'static str {
    match r {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}

#[test]
fn referring_a_new_case_moves_it_to_in_progress() {
    let w = world();
    let s = snapshot(&w, CaseStatus::New, true);
    let center = institution(&w, w.center, "センター");
    let rid = Uuid::now_v7();
    let c = decide_refer(&s, w.desk, rid, &center, Some("メモ".into()), 3, t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::Referred, EventKind::StatusChanged]);
    assert!(c.bump_version);
    assert_eq!(c.case.as_ref().unwrap().status, CaseStatus::InProgress);
    let r = &c.new_referrals[0];
    assert_eq!((r.id, r.status), (rid, ReferralStatus::Pending));
    assert_eq!(r.pickup_deadline, pickup_deadline(t0(), 3));
    assert_eq!(c.events[0].payload["institutionName"], "センター");
    assert_eq!(
        c.events[1].payload,
        json!({"from": "NEW", "to": "IN_PROGRESS"})
    );

    // an IN_PROGRESS case keeps its status and version
    let s = snapshot(&w, CaseStatus::InProgress, true);
    let c = decide_refer(&s, w.desk, rid, &center, None, 3, t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::Referred]);
    assert!(c.case.is_none() && !c.bump_version);
}

#[test]
fn referral_rules() {
    let w = world();
    let center = institution(&w, w.center, "センター");
    let no_consent = snapshot(&w, CaseStatus::InProgress, false);
    match decide_refer(&no_consent, w.desk, Uuid::now_v7(), &center, None, 3, t0()) {
        Err(AppError::BadInput { msg, .. }) => {
            assert!(msg.ja.contains("同意") && msg.en.contains("consent"))
        }
        other => panic!("{other:?}"),
    }
    let mut s = snapshot(&w, CaseStatus::InProgress, true);
    for open in [ReferralStatus::Pending, ReferralStatus::Accepted] {
        s.referrals = vec![referral(&s, w.center, open)];
        let r = decide_refer(&s, w.desk, Uuid::now_v7(), &center, None, 3, t0());
        assert_eq!(code(r), "CONFLICT", "{open}");
    }
    for done in [
        ReferralStatus::Declined,
        ReferralStatus::Withdrawn,
        ReferralStatus::Completed,
    ] {
        s.referrals = vec![referral(&s, w.center, done)];
        let r = decide_refer(&s, w.desk, Uuid::now_v7(), &center, None, 3, t0());
        assert_eq!(code(r), "OK", "{done}");
    }
    for finished in [CaseStatus::Resolved, CaseStatus::Closed] {
        let s = snapshot(&w, finished, true);
        let r = decide_refer(&s, w.desk, Uuid::now_v7(), &center, None, 3, t0());
        assert_eq!(code(r), "CONFLICT", "{finished}");
    }
}

#[test]
fn referral_actions_follow_the_state_machine() {
    let w = world();
    let mut s = snapshot(&w, CaseStatus::InProgress, true);
    let r = referral(&s, w.bank, ReferralStatus::Pending);
    s.referrals = vec![r.clone()];
    let partner = Uuid::now_v7();
    let decline = Action::Decline {
        reason: DeclineReason::NoCapacity,
        note: Some("人手不足".into()),
    };
    let c = decide_action(&s, partner, r.id, &decline, "銀行", t0()).unwrap();
    let u = &c.updated_referrals[0];
    assert_eq!(u.status, ReferralStatus::Declined);
    assert_eq!(u.reason, Some(DeclineReason::NoCapacity));
    assert_eq!((u.decided_by, u.decided_at), (Some(partner), Some(t0())));
    assert_eq!(kinds(&c), [EventKind::Declined]);
    assert_eq!(c.events[0].payload["reason"], "NO_CAPACITY");
    assert!(!c.events[0].payload.to_string().contains("人手不足"));
    assert!(c.case.is_none());

    let complete = Action::Complete {
        summary: "完了".into(),
    };
    assert_eq!(
        code(decide_action(&s, partner, r.id, &complete, "銀行", t0())),
        "CONFLICT"
    );
    s.referrals[0].status = ReferralStatus::Accepted;
    let c = decide_action(&s, partner, r.id, &complete, "銀行", t0()).unwrap();
    assert_eq!(c.updated_referrals[0].summary.as_deref(), Some("完了"));
    assert_eq!(c.updated_referrals[0].completed_at, Some(t0()));
    assert_eq!(
        code(decide_action(
            &s,
            partner,
            Uuid::now_v7(),
            &complete,
            "銀行",
            t0()
        )),
        "NOT_FOUND"
    );
}

#[test]
fn status_changes() {
    let w = world();
    let s = snapshot(&w, CaseStatus::InProgress, true);
    let c = decide_status(&s, w.desk, CaseStatus::OnHold, Some("連絡待ち"), t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::StatusChanged, EventKind::NoteAdded]);
    assert_eq!(c.new_notes[0].visibility, NoteVisibility::Desk);
    assert!(c.bump_version);
    // RESOLVED needs resolveCase; REFERRED follows from referring
    assert_eq!(
        code(decide_status(&s, w.desk, CaseStatus::Resolved, None, t0())),
        "CONFLICT"
    );
    assert_eq!(
        code(decide_status(&s, w.desk, CaseStatus::Referred, None, t0())),
        "CONFLICT"
    );
    // NEW → RESOLVED names the state machine's refusal
    let new = snapshot(&w, CaseStatus::New, true);
    match decide_status(&new, w.desk, CaseStatus::Resolved, None, t0()) {
        Err(AppError::Conflict(m)) => assert!(m.ja.contains("新規"), "{}", m.ja),
        other => panic!("{other:?}"),
    }
    // RESOLVED → IN_PROGRESS is a reopening
    let mut done = snapshot(&w, CaseStatus::Resolved, true);
    done.case.resolved_at = Some(t0());
    let c = decide_status(&done, w.desk, CaseStatus::InProgress, None, t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::Reopened]);
    assert_eq!(c.case.unwrap().resolved_at, None);
}

#[test]
fn resolving_needs_outcomes_a_summary_and_no_open_referral() {
    let w = world();
    let mut s = snapshot(&w, CaseStatus::InProgress, true);
    match decide_resolve(&s, w.desk, &[], "概要", t0()) {
        Err(AppError::BadInput { field, .. }) => assert_eq!(field.as_deref(), Some("outcomes")),
        other => panic!("{other:?}"),
    }
    match decide_resolve(&s, w.desk, &[Outcome::AdviceOnly], " ", t0()) {
        Err(AppError::BadInput { field, .. }) => assert_eq!(field.as_deref(), Some("summary")),
        other => panic!("{other:?}"),
    }
    s.referrals = vec![referral(&s, w.center, ReferralStatus::Accepted)];
    assert_eq!(
        code(decide_resolve(
            &s,
            w.desk,
            &[Outcome::AdviceOnly],
            "概要",
            t0()
        )),
        "CONFLICT"
    );
    s.referrals[0].status = ReferralStatus::Completed;
    let outcomes = [
        Outcome::TrialRun,
        Outcome::TrialRun,
        Outcome::SubsidyApplied,
    ];
    let c = decide_resolve(&s, w.desk, &outcomes, " 試行を実施 ", t0()).unwrap();
    let row = c.case.unwrap();
    assert_eq!(row.status, CaseStatus::Resolved);
    assert_eq!(row.outcomes.0, [Outcome::TrialRun, Outcome::SubsidyApplied]);
    assert_eq!(row.outcome_summary.as_deref(), Some("試行を実施"));
    assert_eq!(row.resolved_at, Some(t0()));
    assert_eq!(c.events[0].kind, EventKind::Resolved);
    assert!(!c.events[0].payload.to_string().contains("試行を実施"));
}

#[test]
fn reopen_close_stage_and_edit() {
    let w = world();
    let open = snapshot(&w, CaseStatus::InProgress, true);
    assert_eq!(code(decide_reopen(&open, w.desk, None, t0())), "CONFLICT");
    assert_eq!(code(decide_close(&open, w.desk, t0())), "CONFLICT");
    let done = snapshot(&w, CaseStatus::Resolved, true);
    let c = decide_close(&done, w.desk, t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::Closed]);
    assert_eq!(c.case.unwrap().closed_at, Some(t0()));
    let c = decide_reopen(&done, w.desk, Some("追加相談"), t0()).unwrap();
    assert_eq!(kinds(&c), [EventKind::Reopened, EventKind::NoteAdded]);

    assert_eq!(
        code(decide_stage(&open, w.desk, Stage::Consult, None, t0())),
        "CONFLICT"
    );
    let c = decide_stage(&open, w.desk, Stage::Try, None, t0()).unwrap();
    assert_eq!(c.events[0].payload, json!({"from": "CONSULT", "to": "TRY"}));
    let closed = snapshot(&w, CaseStatus::Closed, true);
    assert_eq!(
        code(decide_stage(&closed, w.desk, Stage::Try, None, t0())),
        "CONFLICT"
    );

    // editing: nothing changed → nothing recorded; changes → one UPDATED naming the fields
    let same = CaseEdit {
        title: Some(" 在庫管理のクラウド化 ".into()),
        topics: Some(vec![" IoT ".into()]),
        ..Default::default()
    };
    let c = decide_update(&open, w.desk, &same, t0()).unwrap();
    assert!(c.events.is_empty() && c.case.is_none() && !c.bump_version);
    let mut no_consent = snapshot(&w, CaseStatus::New, false);
    no_consent.topics.clear();
    let edit = CaseEdit {
        title: Some("新しい件名".into()),
        consent_to_share: Some(true),
        priority: Some(Priority::High),
        ..Default::default()
    };
    let c = decide_update(&no_consent, w.desk, &edit, t0()).unwrap();
    assert_eq!(
        c.events[0].payload,
        json!({"fields": ["title", "priority", "consentToShare"], "consentToShare": true})
    );
    let row = c.case.unwrap();
    assert!(row.consent_to_share);
    assert_eq!((row.consent_at, row.consent_by), (Some(t0()), Some(w.desk)));
    assert_eq!(
        code(decide_update(&closed, w.desk, &edit, t0())),
        "CONFLICT"
    );
}

#[test]
fn rotation_and_notes() {
    let w = world();
    let s = snapshot(&w, CaseStatus::InProgress, true);
    let c = decide_rotate(&s, w.desk, "f".repeat(64));
    assert_eq!(c.case.unwrap().access_code_hash, "f".repeat(64));
    assert_eq!(c.events[0].payload, json!({}));
    let nid = Uuid::now_v7();
    let c = decide_note(&s, w.desk, nid, "本文", NoteVisibility::Business, t0()).unwrap();
    assert_eq!(
        c.events[0].payload,
        json!({"noteId": nid, "visibility": "BUSINESS"})
    );
    let closed = snapshot(&w, CaseStatus::Resolved, true);
    assert_eq!(
        code(decide_note(
            &closed,
            w.desk,
            nid,
            "本文",
            NoteVisibility::Desk,
            t0()
        )),
        "CONFLICT"
    );
}

#[test]
fn page_sizes_and_references() {
    assert_eq!(page_size(None).unwrap(), 20);
    assert_eq!(page_size(Some(0)).unwrap(), 0);
    assert_eq!(page_size(Some(1000)).unwrap(), 100);
    assert!(page_size(Some(-1)).is_err());
    assert_eq!(canonical_reference(" aom-2026-123 "), "AOM-2026-000123");
    assert_eq!(canonical_reference(" nonsense "), "nonsense");
}

fn event(s: &CaseSnapshot, seq: i64, kind: EventKind, payload: serde_json::Value) -> EventRow {
    EventRow {
        id: Uuid::now_v7(),
        lab_id: s.case.lab_id,
        case_id: s.case.id,
        seq,
        kind,
        actor_id: None,
        at: t0() + Duration::minutes(seq),
        payload: Json(payload),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

#[test]
fn partners_see_only_their_own_part() {
    let w = world();
    let mut s = snapshot(&w, CaseStatus::InProgress, true);
    let desk = viewer(&w, Role::Concierge, None);
    let center = viewer(&w, Role::Partner, Some(w.center));
    let bank = viewer(&w, Role::Partner, Some(w.bank));
    let mut other_lab = viewer(&w, Role::Admin, None);
    other_lab.lab_id = Uuid::now_v7();

    let rc = referral(&s, w.center, ReferralStatus::Accepted);
    let rb = referral(&s, w.bank, ReferralStatus::Declined);
    s.referrals = vec![rc.clone(), rb.clone()];
    assert!(can_read(&desk, w.lab, &s.referrals));
    assert!(can_read(&center, w.lab, &s.referrals));
    assert!(!can_read(&bank, w.lab, &s.referrals), "declined: gone");
    assert!(!can_read(&other_lab, w.lab, &s.referrals));
    assert!(referral_visible(&desk, &rb) && referral_visible(&desk, &rc));
    assert!(referral_visible(&center, &rc) && !referral_visible(&center, &rb));
    assert!(!referral_visible(&other_lab, &rc));

    let note = |vis| NoteRow {
        id: Uuid::now_v7(),
        lab_id: w.lab,
        case_id: s.case.id,
        author_id: None,
        body: "x".into(),
        visibility: vis,
        created_at: t0(),
    };
    assert!(note_visible(&desk, &note(NoteVisibility::Desk)));
    assert!(!note_visible(&center, &note(NoteVisibility::Desk)));
    assert!(note_visible(&center, &note(NoteVisibility::Partners)));
    assert!(note_visible(&center, &note(NoteVisibility::Business)));

    let about = |r: &ReferralRow, kind| {
        let ev = crate::service::events::referral(Uuid::now_v7(), r, "機関");
        assert_eq!(ev.kind, kind);
        event(&s, 2, kind, ev.payload)
    };
    assert!(event_visible(&center, &about(&rc, EventKind::Accepted)));
    assert!(!event_visible(&center, &about(&rb, EventKind::Declined)));
    assert!(event_visible(&desk, &about(&rb, EventKind::Declined)));
    let desk_note = event(
        &s,
        3,
        EventKind::NoteAdded,
        json!({"noteId": Uuid::nil(), "visibility": "DESK"}),
    );
    let shared = event(
        &s,
        4,
        EventKind::NoteAdded,
        json!({"noteId": Uuid::nil(), "visibility": "PARTNERS"}),
    );
    assert!(!event_visible(&center, &desk_note) && event_visible(&center, &shared));
    let stage = event(
        &s,
        5,
        EventKind::StageChanged,
        json!({"from": "KNOW", "to": "TRY"}),
    );
    assert!(event_visible(&center, &stage));
    assert!(!event_visible(&other_lab, &stage));
}

#[test]
fn public_milestones_and_next_steps() {
    let w = world();
    let s = snapshot(&w, CaseStatus::InProgress, true);
    let inst = |status: &str| json!({"referralId": Uuid::nil(), "institutionId": Uuid::nil(), "institutionName": "弘前大学", "status": status, "reason": "NO_CAPACITY"});
    let opened = json!({"reference": "AOM-2026-000001", "stage": "KNOW", "channel": "PHONE", "consentToShare": true, "priority": "NORMAL", "topics": []});
    let events = vec![
        event(&s, 1, EventKind::Opened, opened),
        event(&s, 2, EventKind::Referred, inst("PENDING")),
        event(
            &s,
            3,
            EventKind::StatusChanged,
            json!({"from": "NEW", "to": "IN_PROGRESS"}),
        ),
        event(&s, 4, EventKind::Declined, inst("DECLINED")),
        event(
            &s,
            5,
            EventKind::NoteAdded,
            json!({"noteId": Uuid::nil(), "visibility": "DESK"}),
        ),
        event(
            &s,
            6,
            EventKind::StageChanged,
            json!({"from": "CONSULT", "to": "TRY"}),
        ),
        event(&s, 7, EventKind::AccessCodeRotated, json!({})),
        event(
            &s,
            8,
            EventKind::Resolved,
            json!({"from": "IN_PROGRESS", "to": "RESOLVED", "outcomes": ["ADVICE_ONLY"]}),
        ),
    ];
    let m = status::milestones(&events);
    let labels: Vec<&str> = m.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "ご相談を受け付けました",
            "「弘前大学」へご紹介しました",
            "窓口で対応を開始しました",
            "「弘前大学」へのご紹介は見送りとなりました",
            "段階を「試す」に変更しました",
            "ご相談が解決しました",
        ]
    );
    let text = format!("{m:?}");
    assert!(!text.contains("NO_CAPACITY") && !text.contains("対応余力"));

    let names = vec!["青森県産業技術センター".to_owned()];
    let step = |st, p: &[String], a: &[String]| status::next_step(st, Stage::Consult, p, a);
    assert!(step(CaseStatus::New, &[], &[]).contains("確認"));
    assert!(step(CaseStatus::InProgress, &names, &[]).contains("「青森県産業技術センター」で"));
    assert!(step(CaseStatus::InProgress, &[], &names).contains("支援を行っています"));
    assert!(step(CaseStatus::OnHold, &names, &[]).contains("保留"));
    assert!(step(CaseStatus::Closed, &[], &[]).contains("完了"));
    assert!(step(CaseStatus::Resolved, &[], &[]).contains("解決"));
}

#[test]
fn audit_checks_the_chain_against_the_case_row() {
    let w = world();
    let mut s = snapshot(&w, CaseStatus::New, true);
    let mut links: Vec<ChainLink> = Vec::new();
    for (i, kind) in [EventKind::Opened, EventKind::NoteAdded]
        .into_iter()
        .enumerate()
    {
        let l = ChainLink::next(
            links.last(),
            s.case.id,
            kind,
            None,
            t0() + Duration::minutes(i as i64),
            json!({"i": i}),
        );
        links.push(l);
    }
    let rows: Vec<EventRow> = links
        .iter()
        .map(|l| EventRow {
            id: Uuid::now_v7(),
            lab_id: w.lab,
            case_id: l.case_id,
            seq: l.seq,
            kind: l.kind,
            actor_id: l.actor,
            at: l.at,
            payload: Json(l.payload.clone()),
            prev_hash: l.prev_hash.clone(),
            hash: l.hash.clone(),
        })
        .collect();
    s.case.event_count = 2;
    s.case.last_event_hash = rows[1].hash.clone();
    assert_eq!(audit::check_case(Some(&s.case), &rows), Ok(()));
    // a deleted tail: the chain itself is fine, the case row says otherwise
    let (seq, _) = audit::check_case(Some(&s.case), &rows[..1]).unwrap_err();
    assert_eq!(seq, 2);
    // an edited payload
    let mut forged = rows.clone();
    forged[0].payload = Json(json!({"i": 99}));
    assert_eq!(audit::check_case(Some(&s.case), &forged).unwrap_err().0, 1);
    // no events at all
    assert!(audit::check_case(None, &[]).is_err());
}
