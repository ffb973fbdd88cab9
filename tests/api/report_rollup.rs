//! The activity report's rollup equals the report computed from the rows: a
//! fixture written through the use-cases (so the rollup is kept by the case
//! writes themselves) with cases moving through stages and statuses,
//! referrals accepted, declined, withdrawn, completed and left overdue,
//! resolutions undone and redone, a business erased, all on both sides of the
//! April 1 (JST) fiscal-year boundary. Compared year by year, then again
//! after `rebuild-rollup`, on both backends.

use crate::backend_tests;
use crate::common::{fresh_db, test_config, Backend};
use chrono::{DateTime, NaiveDate, Utc};
use dxdesk::clock::FixedClock;
use dxdesk::domain::jst;
use dxdesk::domain::report::ReportFacts;
use dxdesk::domain::types::*;
use dxdesk::service::{business, cases, erasure, intake::BusinessFields, referrals};
use dxdesk::state::AppState;
use dxdesk::store::{ReportScope, SharedStore};
use std::sync::Arc;
use uuid::Uuid;

/// The facts with every list in a fixed order (the two paths group in
/// different orders), as text: `f64`s compare exactly.
fn normalised(f: ReportFacts) -> String {
    fn sorted<T: std::fmt::Debug>(v: &[T]) -> Vec<String> {
        let mut s: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        s.sort();
        s
    }
    format!(
        "cases {:#?}\nplaces {:#?}\nbusinesses {:#?}\nreferrals {:#?}\npickups {:?}\nby institution {:#?}\n\
         resolutions {:?}\nresolved by month {:?}\noutcomes {:#?}\nmovements {:#?}\nreach {:#?}",
        sorted(&f.cases),
        sorted(&f.places),
        sorted(&f.businesses),
        sorted(&f.referrals),
        f.pickups,
        sorted(&f.pickups_by_institution),
        f.resolutions,
        f.resolved_by_month,
        sorted(&f.outcomes),
        sorted(&f.movements),
        sorted(&f.reach),
    )
}

/// The lab's facts of `fy` from the rollup equal those computed from the rows.
pub async fn assert_rollup_matches(store: &SharedStore, lab: Uuid, fy: i32, now: DateTime<Utc>) {
    let scope = ReportScope::lab(lab);
    let rolled = store.report_facts(scope, fy, now).await.unwrap();
    let scratch = store
        .report_facts_from_scratch(scope, fy, now)
        .await
        .unwrap();
    assert_eq!(
        normalised(rolled),
        normalised(scratch),
        "FY{fy}: the rollup differs from the rows"
    );
}

fn jst(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    jst::to_utc(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap(),
    )
}

backend_tests!(rollup_equals_the_report_from_the_rows);

async fn rollup_equals_the_report_from_the_rows(backend: Backend) {
    let (store, _) = fresh_db(backend).await;
    let clock = Arc::new(FixedClock::new(jst(2025, 3, 30, 10, 0)));
    let st = AppState::with_clock(store.clone(), test_config(), clock.clone());
    dxdesk::seed::seed_directory(&st).await.unwrap();
    let user = |email: &'static str| {
        let st = st.clone();
        async move {
            st.store
                .user_by_email(email)
                .await
                .unwrap()
                .unwrap()
                .viewer()
        }
    };
    let desk = user("concierge@aomori.example").await;
    let admin = user("admin@aomori.example").await;
    let bank = user("partner.bank@aomori.example").await;
    let univ = user("partner.univ@aomori.example").await;
    let lab = desk.lab_id;
    let open =
        |name: &str, business_id: Option<Uuid>, stage: Stage, channel: Channel| cases::OpenCase {
            business_id,
            business: business_id.is_none().then(|| BusinessFields {
                name: name.to_owned(),
                municipality: Some("青森市".into()),
                industry: Some("E".into()),
                ..Default::default()
            }),
            title: format!("{name}の相談"),
            description: "説明".into(),
            topics: vec!["在庫".into()],
            channel,
            stage,
            consent_to_share: true,
            email_updates: false,
            priority: None,
            assigned_to: None,
        };
    let version = |id: Uuid| {
        let st = st.clone();
        async move { i32::try_from(st.store.case_by_id(id).await.unwrap().unwrap().version).unwrap() }
    };
    let at = |t: DateTime<Utc>| clock.set(t);

    // FY2024: A opened on March 30, referred just before midnight of March 31.
    let (a, _) = cases::open_case(&st, &desk, open("甲", None, Stage::Know, Channel::Phone))
        .await
        .unwrap();
    let a_id = a.case.id;
    at(jst(2025, 3, 31, 23, 59));
    let ra = referrals::refer_case(&st, &desk, a_id, bank.partner_institution(), None)
        .await
        .unwrap();
    // FY2025 from April 1 00:00 JST: B for the same business, a new C.
    at(jst(2025, 4, 1, 0, 0));
    let (b, _) = cases::open_case(
        &st,
        &desk,
        open(
            "甲",
            Some(a.case.business_id),
            Stage::Consult,
            Channel::Email,
        ),
    )
    .await
    .unwrap();
    let b_id = b.case.id;
    let (c, _) = cases::open_case(&st, &desk, open("乙", None, Stage::Try, Channel::WebForm))
        .await
        .unwrap();
    let c_id = c.case.id;
    at(jst(2025, 4, 1, 9, 30));
    referrals::act(&st, &bank, ra.id, referrals::Action::Accept { note: None })
        .await
        .unwrap();
    at(jst(2025, 4, 2, 10, 0));
    cases::set_stage(&st, &desk, a_id, version(a_id).await, Stage::Consult, None)
        .await
        .unwrap();
    cases::set_stage(
        &st,
        &desk,
        b_id,
        version(b_id).await,
        Stage::Try,
        Some("試す".into()),
    )
    .await
    .unwrap();
    cases::set_stage(&st, &desk, b_id, version(b_id).await, Stage::Consult, None)
        .await
        .unwrap();
    cases::set_stage(&st, &desk, b_id, version(b_id).await, Stage::Try, None)
        .await
        .unwrap();
    // B: declined by the bank, withdrawn from the university, then pending there.
    at(jst(2025, 4, 3, 10, 0));
    let rb = referrals::refer_case(&st, &desk, b_id, bank.partner_institution(), None)
        .await
        .unwrap();
    at(jst(2025, 4, 7, 16, 0));
    referrals::act(
        &st,
        &bank,
        rb.id,
        referrals::Action::Decline {
            reason: DeclineReason::NoCapacity,
            note: None,
        },
    )
    .await
    .unwrap();
    let rw = referrals::refer_case(&st, &desk, b_id, univ.partner_institution(), None)
        .await
        .unwrap();
    referrals::act(
        &st,
        &desk,
        rw.id,
        referrals::Action::Withdraw { note: None },
    )
    .await
    .unwrap();
    at(jst(2025, 4, 8, 9, 0));
    referrals::refer_case(&st, &desk, b_id, univ.partner_institution(), None)
        .await
        .unwrap();
    // A: completed, resolved with two outcomes, reopened, resolved again, closed.
    at(jst(2025, 4, 10, 11, 0));
    referrals::act(
        &st,
        &bank,
        ra.id,
        referrals::Action::Complete {
            summary: "融資".into(),
        },
    )
    .await
    .unwrap();
    cases::resolve_case(
        &st,
        &desk,
        a_id,
        version(a_id).await,
        vec![Outcome::ToolAdopted, Outcome::DxCertified],
        "導入".into(),
    )
    .await
    .unwrap();
    at(jst(2025, 4, 11, 11, 0));
    cases::reopen_case(&st, &desk, a_id, Some("再開".into()))
        .await
        .unwrap();
    at(jst(2025, 5, 12, 11, 0));
    cases::resolve_case(
        &st,
        &desk,
        a_id,
        version(a_id).await,
        vec![Outcome::TrialRun],
        "試行".into(),
    )
    .await
    .unwrap();
    cases::close_case(&st, &desk, a_id).await.unwrap();
    // C: in progress, on hold, resolved, and its business erased.
    cases::set_status(
        &st,
        &desk,
        c_id,
        version(c_id).await,
        CaseStatus::InProgress,
        None,
    )
    .await
    .unwrap();
    cases::set_status(
        &st,
        &desk,
        c_id,
        version(c_id).await,
        CaseStatus::OnHold,
        None,
    )
    .await
    .unwrap();
    cases::resolve_case(
        &st,
        &desk,
        c_id,
        version(c_id).await,
        vec![Outcome::AdviceOnly],
        "助言".into(),
    )
    .await
    .unwrap();
    erasure::erase_business(&st, &admin, c.case.business_id)
        .await
        .unwrap();
    // D: referred and left pending past its deadline; another one on hold.
    let (d, _) = cases::open_case(&st, &desk, open("丙", None, Stage::Know, Channel::Seminar))
        .await
        .unwrap();
    referrals::refer_case(&st, &desk, d.case.id, bank.partner_institution(), None)
        .await
        .unwrap();
    let (e, _) = cases::open_case(&st, &desk, open("丁", None, Stage::Know, Channel::Seminar))
        .await
        .unwrap();
    referrals::refer_case(&st, &desk, e.case.id, bank.partner_institution(), None)
        .await
        .unwrap();
    cases::set_status(
        &st,
        &desk,
        e.case.id,
        version(e.case.id).await,
        CaseStatus::OnHold,
        None,
    )
    .await
    .unwrap();
    // D's business moves to another municipality and industry: the place
    // breakdown follows the business's current record.
    let d_biz = st
        .store
        .business_record(lab, d.case.business_id)
        .await
        .unwrap()
        .unwrap();
    business::update(
        &st,
        &desk,
        d_biz.row.id,
        d_biz.version,
        business::BusinessEdit {
            municipality: Some("八戸市".into()),
            industry: Some("I".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // F, a resolved case of a duplicate record of E's business that moves
    // stage, is merged into E's: one business, its cases, moves and outcomes.
    let (f, _) = cases::open_case(
        &st,
        &desk,
        open("丁（重複）", None, Stage::Know, Channel::Phone),
    )
    .await
    .unwrap();
    cases::set_stage(
        &st,
        &desk,
        f.case.id,
        version(f.case.id).await,
        Stage::Try,
        None,
    )
    .await
    .unwrap();
    cases::set_status(
        &st,
        &desk,
        f.case.id,
        version(f.case.id).await,
        CaseStatus::InProgress,
        None,
    )
    .await
    .unwrap();
    cases::resolve_case(
        &st,
        &desk,
        f.case.id,
        version(f.case.id).await,
        vec![Outcome::AdviceOnly],
        "助言".into(),
    )
    .await
    .unwrap();
    business::merge(&st, &admin, e.case.business_id, f.case.business_id)
        .await
        .unwrap();

    let now = jst(2025, 6, 1, 12, 0);
    let report = store
        .report_facts(ReportScope::lab(lab), 2025, now)
        .await
        .unwrap();
    assert_eq!(
        report.cases.iter().map(|c| c.count).sum::<i64>(),
        5,
        "B, C, D, E, F"
    );
    assert!(
        report.referrals.iter().any(|r| r.overdue > 0),
        "D's referral is overdue"
    );
    assert_eq!(report.resolutions.count, 3, "A again, C and F");
    for fy in 2024..=2026 {
        assert_rollup_matches(&store, lab, fy, now).await;
    }
    // The rebuild from scratch writes the same rollup.
    store.rebuild_rollup().await.unwrap();
    for fy in 2024..=2026 {
        assert_rollup_matches(&store, lab, fy, now).await;
    }
}
