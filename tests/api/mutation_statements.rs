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
use dxdesk::service::{cases, intake::BusinessFields, notes, referrals};
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
        priority: None,
        assigned_to: None,
    };
    // once uncounted, to warm the pool and the counter row
    cases::open_case(&st, &desk, open(0)).await.unwrap();
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
    let done = referrals::Action::Complete {
        summary: "支援した".into(),
    };
    referrals::act(&st, &partner, r.id, done).await.unwrap();
    let version = st.store.case_by_id(id).await.unwrap().unwrap().version;
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
    // a case for a business the lab already has
    let again = cases::OpenCase {
        business_id: Some(snap.case.business_id),
        business: None,
        ..open(2)
    };
    let (again, _) = cases::open_case(&st, &desk, again).await.unwrap();
    assert_as_stored(&st, &again).await;
    out
}

/// The pinned counts on SQLite, without and with an audit key (the seal reads
/// the notes and writes the seal row). `BEGIN` and `COMMIT` are not logged on
/// SQLite; PostgreSQL logs its `COMMIT` (an empty statement text) and sends the
/// live-update `pg_notify` in the transaction (`store::live`): two more each. Before the store wrote from the locked
/// snapshot (no re-read) and batched its inserts, they were: openCase 13,
/// updateCase 12, setStage 12, setStatus 10, referCase 13, acceptReferral 15,
/// addNote 12, resolveCase 10 (sealed: 2 more each). The notification
/// outbox (issue 10) adds one INSERT to a write that notifies anyone:
/// referCase, acceptReferral and resolveCase (a webhook audience for the
/// institution whose referral it can see). referCase also reads two
/// settings before its write transaction since issue 11 (the institution's own
/// pick-up days and the lab's closure days): 9 → 11.
const PINNED: [(&str, usize, usize); 8] = [
    ("openCase", 6, 7),
    ("updateCase", 8, 10),
    ("setStage", 7, 9),
    ("setStatus", 6, 8),
    ("referCase", 12, 14),
    ("acceptReferral", 10, 12),
    ("addNote", 7, 9),
    ("resolveCase", 7, 9),
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
                (m, n + commit + search_index(backend, m))
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
