//! Every mutation of the case area issues a fixed, small number of SQL
//! statements: the counts are pinned here so that they cannot silently grow.
//! Statements are counted from sqlx's `sqlx::query` tracing events (see
//! `dataloader_queries`): on SQLite those of this test's pool's worker
//! threads, on PostgreSQL those logged in the task that runs the mutation.
//! Both without and with an audit key (a sealed write costs more). What a
//! write returns is also what the database then holds.

use crate::common::{fresh_db, run_on, test_config, Backend};
use crate::dataloader_queries::{
    install, mutation_thread_statements, COUNTED_SPAN, MUTATION_PROBE, SPAN_STATEMENTS,
};
use chrono::Utc;
use dxdesk::clock::FixedClock;
use dxdesk::domain::seal::SealKey;
use dxdesk::domain::types::*;
use dxdesk::service::{cases, erasure, intake::BusinessFields, notes, referrals};
use dxdesk::state::AppState;
use dxdesk::store::{CaseSnapshot, PgStore, SharedStore, SqliteStore};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::Instrument;

/// The statements `f` issues on `pool`'s connections (SQLite) or under its
/// span (PostgreSQL; the intake writer's task runs under the caller's span).
/// Only this test opens the counted span, one mutation at a time.
async fn count<T>(backend: Backend, f: impl Future<Output = T>) -> (usize, T) {
    // The span counter is process-wide and both backends' tests open the
    // span: one counted mutation at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let before = (
        mutation_thread_statements(),
        SPAN_STATEMENTS.load(Ordering::SeqCst),
    );
    let span = tracing::info_span!(COUNTED_SPAN);
    let out = f.instrument(span).await;
    let counted = match backend {
        Backend::Sqlite => mutation_thread_statements() - before.0,
        Backend::Postgres => SPAN_STATEMENTS.load(Ordering::SeqCst) - before.1,
    };
    (counted, out)
}

/// The snapshot a write returns (built from the locked read, not re-read)
/// is what the database now holds.
async fn assert_as_stored(st: &AppState, snap: &CaseSnapshot) {
    let id = snap.case.id;
    let case = st.store.case_by_id(id).await.unwrap().unwrap();
    let topics: Vec<String> = st
        .store
        .topics_for_cases(&[id])
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.1)
        .collect();
    let referrals = st.store.referrals_for_cases(&[id]).await.unwrap();
    let business = st
        .store
        .businesses_by_ids(&[case.business_id])
        .await
        .unwrap();
    assert_eq!(
        format!(
            "{:?}",
            (&snap.case, &snap.topics, &snap.referrals, &snap.business)
        ),
        format!("{:?}", (&case, &topics, &referrals, &business[0])),
        "the returned snapshot differs from the stored case"
    );
}

/// The database handle of `st`'s store (its intake queue).
fn intake_db(st: &AppState) -> &dxdesk::store::db::Db {
    use dxdesk::store::db::HasDb;
    let any = st.store.as_any();
    match any.downcast_ref::<SqliteStore>() {
        Some(s) => s.db(),
        None => any.downcast_ref::<PgStore>().unwrap().db(),
    }
}

async fn counts(backend: Backend, key: Option<&str>) -> BTreeMap<&'static str, usize> {
    install();
    let (_, url) = fresh_db(backend).await;
    let seal = key.map(|k| SealKey::new(k.as_bytes()).unwrap());
    let store: SharedStore = match backend {
        Backend::Sqlite => {
            let s = SqliteStore::connect(&url)
                .await
                .unwrap()
                .with_audit_key(seal);
            let pool = s.pool().clone();
            let mut conns = Vec::new();
            for _ in 0..pool.options().get_max_connections() {
                conns.push(pool.acquire().await.unwrap());
            }
            for c in &mut conns {
                sqlx::query(MUTATION_PROBE).execute(&mut **c).await.unwrap();
            }
            Arc::new(s)
        }
        Backend::Postgres => Arc::new(PgStore::connect(&url).await.unwrap().with_audit_key(seal)),
    };
    let st = AppState::with_clock(store, test_config(), Arc::new(FixedClock::new(Utc::now())));
    dxdesk::seed::seed_directory(&st).await.unwrap();
    // The seed's notifications to the row cache heard, so that none of them
    // drops the lab row read by the warm-up below while a mutation is counted.
    dxdesk::store::live::heard_all(intake_db(&st))
        .await
        .unwrap();
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
    let partner = user("partner.bank@aomori.example").await;
    let mut out = BTreeMap::new();
    let open = |i: usize| cases::OpenCase {
        business_id: None,
        business: Some(BusinessFields {
            name: format!("計数{i}株式会社"),
            municipality: Some("青森市".into()),
            ..Default::default()
        }),
        title: format!("計数の相談{i}"),
        description: "説明".into(),
        topics: vec!["IoT".into(), "在庫".into()],
        channel: Channel::WalkIn,
        stage: Stage::Consult,
        consent_to_share: true,
        email_updates: false,
        priority: None,
        assigned_to: None,
    };
    // once uncounted, to warm the pool and the counter row
    cases::open_case(&st, &desk, open(0)).await.unwrap();
    // The next intake gets a writer of its own, in the counted span.
    crate::intake_batch::until_idle(intake_db(&st)).await;
    let (n, opened) = count(backend, cases::open_case(&st, &desk, open(1))).await;
    out.insert("openCase", n);
    let snap = opened.unwrap().0;
    assert_as_stored(&st, &snap).await;
    let id = snap.case.id;
    let edit = cases::CaseEdit {
        title: Some("改めた件名".into()),
        topics: Some(vec!["AI".into()]),
        ..Default::default()
    };
    let (n, s) = count(backend, cases::update_case(&st, &desk, id, 1, edit)).await;
    out.insert("updateCase", n);
    let s = s.unwrap();
    assert_as_stored(&st, &s).await;
    let v = i32::try_from(s.case.version).unwrap();
    let (n, s) = count(
        backend,
        cases::set_stage(&st, &desk, id, v, Stage::Try, Some("試行へ".into())),
    )
    .await;
    out.insert("setStage", n);
    let s = s.unwrap();
    assert_as_stored(&st, &s).await;
    let v = i32::try_from(s.case.version).unwrap();
    let (n, s) = count(
        backend,
        cases::set_status(&st, &desk, id, v, CaseStatus::InProgress, None),
    )
    .await;
    out.insert("setStatus", n);
    assert_as_stored(&st, &s.unwrap()).await;
    let inst = partner.partner_institution();
    let (n, r) = count(backend, referrals::refer_case(&st, &desk, id, inst, None)).await;
    out.insert("referCase", n);
    let r = r.unwrap();
    let stored = st.store.referral(r.id).await.unwrap().unwrap();
    assert_eq!(format!("{r:?}"), format!("{stored:?}"));
    let (n, a) = count(
        backend,
        referrals::act(
            &st,
            &partner,
            r.id,
            referrals::Action::Accept { note: None },
        ),
    )
    .await;
    out.insert("acceptReferral", n);
    let a = a.unwrap();
    let stored = st.store.referral(r.id).await.unwrap().unwrap();
    assert_eq!(format!("{a:?}"), format!("{stored:?}"));
    let (n, note) = count(
        backend,
        notes::add_note(&st, &desk, id, "メモ", NoteVisibility::Desk),
    )
    .await;
    out.insert("addNote", n);
    note.unwrap();
    let (n, code) = count(backend, cases::rotate_access_code(&st, &desk, id)).await;
    out.insert("rotateAccessCode", n);
    code.unwrap();
    let version = |id| {
        let st = st.clone();
        async move { st.store.case_by_id(id).await.unwrap().unwrap().version }
    };
    let edit = |assigned_to, consent_to_share| cases::CaseEdit {
        assigned_to,
        consent_to_share,
        ..Default::default()
    };
    let v = i32::try_from(version(id).await).unwrap();
    let (n, s) = count(
        backend,
        cases::update_case(
            &st,
            &desk,
            id,
            v,
            edit(Some(another_desk_user(&st).await), None),
        ),
    )
    .await;
    out.insert("assign", n);
    assert_as_stored(&st, &s.unwrap()).await;
    let v = i32::try_from(version(id).await).unwrap();
    let (n, s) = count(
        backend,
        cases::update_case(&st, &desk, id, v, edit(None, Some(false))),
    )
    .await;
    out.insert("withdrawConsent", n);
    assert_as_stored(&st, &s.unwrap()).await;
    let v = i32::try_from(version(id).await).unwrap();
    let (n, s) = count(
        backend,
        cases::update_case(&st, &desk, id, v, edit(None, Some(true))),
    )
    .await;
    out.insert("giveConsent", n);
    assert_as_stored(&st, &s.unwrap()).await;
    let done = referrals::Action::Complete {
        summary: "支援した".into(),
    };
    let (n, c) = count(backend, referrals::act(&st, &partner, r.id, done)).await;
    out.insert("completeReferral", n);
    c.unwrap();
    let version = version(id).await;
    let (n, s) = count(
        backend,
        cases::resolve_case(
            &st,
            &desk,
            id,
            i32::try_from(version).unwrap(),
            vec![Outcome::ToolAdopted],
            "導入した".into(),
        ),
    )
    .await;
    out.insert("resolveCase", n);
    assert_as_stored(&st, &s.unwrap()).await;
    let (n, s) = count(backend, cases::reopen_case(&st, &desk, id, None)).await;
    out.insert("reopenCase", n);
    let s = s.unwrap();
    assert_as_stored(&st, &s).await;
    cases::resolve_case(
        &st,
        &desk,
        id,
        i32::try_from(s.case.version).unwrap(),
        vec![Outcome::TrialRun],
        "試行した".into(),
    )
    .await
    .unwrap();
    let (n, s) = count(backend, cases::close_case(&st, &desk, id)).await;
    out.insert("closeCase", n);
    assert_as_stored(&st, &s.unwrap()).await;
    // a case for a business the lab already has
    let again = cases::OpenCase {
        business_id: Some(snap.case.business_id),
        business: None,
        ..open(2)
    };
    let (again, _) = cases::open_case(&st, &desk, again).await.unwrap();
    assert_as_stored(&st, &again).await;
    // Declined and withdrawn referrals, on that case.
    let id2 = again.case.id;
    let r2 = referrals::refer_case(&st, &desk, id2, inst, None)
        .await
        .unwrap();
    let decline = referrals::Action::Decline {
        reason: DeclineReason::NoCapacity,
        note: None,
    };
    let (n, d) = count(backend, referrals::act(&st, &partner, r2.id, decline)).await;
    out.insert("declineReferral", n);
    d.unwrap();
    let r3 = referrals::refer_case(&st, &desk, id2, inst, None)
        .await
        .unwrap();
    let withdraw = referrals::Action::Withdraw { note: None };
    let (n, w) = count(backend, referrals::act(&st, &desk, r3.id, withdraw)).await;
    out.insert("withdrawReferral", n);
    w.unwrap();
    // Erasing a business with one closed case (each case in its own transaction).
    let admin = user("admin@aomori.example").await;
    let (x, _) = cases::open_case(&st, &desk, open(3)).await.unwrap();
    cases::set_status(&st, &desk, x.case.id, 1, CaseStatus::InProgress, None)
        .await
        .unwrap();
    cases::resolve_case(
        &st,
        &desk,
        x.case.id,
        2,
        vec![Outcome::AdviceOnly],
        "助言".into(),
    )
    .await
    .unwrap();
    let (n, e) = count(
        backend,
        erasure::erase_business(&st, &admin, x.case.business_id),
    )
    .await;
    out.insert("erasePersonalData", n);
    e.unwrap();
    out
}

/// Another desk user of the lab (the admin), to assign the case to.
async fn another_desk_user(st: &AppState) -> uuid::Uuid {
    st.store
        .user_by_email("admin@aomori.example")
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The pinned counts on SQLite, without and with an audit key (the seal reads
/// the notes and writes the seal row). `BEGIN` and `COMMIT` are not logged on
/// SQLite; PostgreSQL logs its `COMMIT` (an empty statement text): one more each.
/// Before the store wrote from the locked snapshot (no re-read) and batched its
/// inserts, they were: openCase 13, updateCase 12, setStage 12, setStatus 10,
/// referCase 13, acceptReferral 15, addNote 12, resolveCase 10 (sealed: 2 more
/// each). The report's rollup (`store::rollup`) adds, only where a counted
/// figure changes: openCase 2 (cells, business-year), setStage 2 (cells, stage
/// move), setStatus, referCase, completeReferral, withdrawReferral and closeCase
/// 1 (cells), acceptReferral and declineReferral 2 (cells, pick-up time),
/// resolveCase and reopenCase 2 (cells, resolution rows); edits of text,
/// topics, assignment, consent, notes and access codes none. Since the
/// notifications, search and business-record merges: a write on a case with a
/// visible referral queues a webhook audience row (1), referCase reads the
/// institution's pick-up days and the lab's closure days (2), consent changes
/// re-check pending referrals (1–2), the search tokens of an intake (1, on
/// SQLite 2: the FTS table and its id row), erasure also clears contacts,
/// stored answers and notification payloads (10).
const PINNED: [(&str, usize, usize); 18] = [
    ("openCase", 8, 9),
    ("updateCase", 8, 10),
    ("assign", 8, 10),
    ("withdrawConsent", 8, 10),
    ("giveConsent", 7, 9),
    ("setStage", 9, 11),
    ("setStatus", 7, 9),
    ("rotateAccessCode", 7, 9),
    ("referCase", 13, 15),
    ("acceptReferral", 12, 14),
    ("declineReferral", 12, 14),
    ("withdrawReferral", 11, 13),
    ("completeReferral", 11, 13),
    ("addNote", 7, 9),
    ("resolveCase", 9, 11),
    ("reopenCase", 9, 11),
    ("closeCase", 8, 10),
    ("erasePersonalData", 20, 22),
];

/// Statements of the search index on top of `PINNED` (`store::search`):
/// opening a case writes its entry (on SQLite its id row and its FTS5
/// document), an edit of the title re-indexes it; other mutations none.
fn search_index(backend: Backend, mutation: &str) -> usize {
    match (mutation, backend) {
        ("openCase", Backend::Sqlite) => 2,
        ("openCase", Backend::Postgres) | ("updateCase", _) => 1,
        _ => 0,
    }
}

/// Statements the row cache (`store::cache`, PostgreSQL only) saves from
/// `PINNED`: openCase and referCase read the viewer's lab from memory once an
/// earlier request has read it (the warm-up intake).
fn row_cache(backend: Backend, mutation: &str) -> usize {
    usize::from(backend == Backend::Postgres && matches!(mutation, "openCase" | "referCase"))
}

async fn pinned(backend: Backend) {
    let plain = counts(backend, None).await;
    let sealed = counts(backend, Some("audit-key-for-tests-0123456789-abcdefghij")).await;
    eprintln!("{backend:?} statements per mutation: {plain:?}; sealed: {sealed:?}");
    let commit = 2 * usize::from(backend == Backend::Postgres);
    let want = |sealed: bool| -> BTreeMap<&str, usize> {
        PINNED
            .iter()
            .map(|&(m, p, s)| {
                let n = if sealed { s } else { p };
                (
                    m,
                    n + commit + search_index(backend, m) - row_cache(backend, m),
                )
            })
            .collect()
    };
    assert_eq!(plain, want(false), "{backend:?}: statements per mutation");
    assert_eq!(
        sealed,
        want(true),
        "{backend:?}: statements per sealed mutation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_mutations_cost_pinned_statements_sqlite() {
    run_on(Backend::Sqlite, pinned).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_mutations_cost_pinned_statements_postgres() {
    run_on(Backend::Postgres, pinned).await;
}
