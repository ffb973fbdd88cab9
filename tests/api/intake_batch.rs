//! `openCase` is group-committed per lab and year (`store::cases::intake`):
//! many concurrent intakes from many tasks get unique, gap-free references
//! and answers that match the stored rows, and in a batch the item the
//! database refuses fails alone while the others are written.

use crate::backend_tests;
use crate::common::{self, cases::*, Backend, TestApp};
use dxdesk::domain::types::*;
use dxdesk::domain::{access_code, reference};
use dxdesk::store::db::{sql, Db, HasDb};
use dxdesk::store::{BusinessChoice, BusinessRow, NewCase, PgStore, SqliteStore};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

backend_tests!(
    concurrent_opens_from_many_tasks_are_gap_free_and_as_stored,
    many_tasks,
    worker_threads = 4
);

backend_tests!(
    a_batch_writes_its_search_and_report_rows_together,
    batch_rows,
    worker_threads = 4
);

backend_tests!(
    in_a_batch_the_refused_item_fails_alone,
    bad_item_alone,
    worker_threads = 4
);

fn db_of(app: &TestApp) -> &Db {
    let any = app.state.store.as_any();
    match app.backend {
        Backend::Sqlite => any.downcast_ref::<SqliteStore>().unwrap().db(),
        Backend::Postgres => any.downcast_ref::<PgStore>().unwrap().db(),
    }
}

/// The `n` sequence numbers of `refs` are exactly `from..from + n`.
#[track_caller]
fn gap_free(refs: &[String], year: i32, from: i64) {
    let prefix = format!("AOM-{year}-");
    let mut seqs: Vec<i64> = refs
        .iter()
        .map(|r| r.strip_prefix(&prefix).unwrap().parse().unwrap())
        .collect();
    seqs.sort();
    let n = i64::try_from(refs.len()).unwrap();
    assert_eq!(seqs, (from..from + n).collect::<Vec<_>>(), "{refs:?}");
}

async fn many_tasks(backend: Backend) {
    let app = Arc::new(common::spawn_app(backend).await);
    let t = Tokens::login_all(&app).await;
    let year = jst_year(app.state.now());
    let mut tasks = Vec::new();
    for i in 0..120 {
        let app = app.clone();
        let tok = if i % 3 == 0 {
            t.admin.clone()
        } else {
            t.concierge.clone()
        };
        tasks.push(tokio::spawn(async move {
            let title = format!("一括受付{i}");
            let input = open_input(
                &title,
                "同時に受け付けた相談",
                new_business(&format!("一括受付{i}株式会社")),
            );
            (title, try_open_case(&app, &tok, input).await)
        }));
    }
    let mut refs = Vec::new();
    let mut codes = HashSet::new();
    for task in tasks {
        let (title, answer) = task.await.unwrap();
        let p = &answer.ok()["openCase"];
        let id: Uuid = p["case"]["id"].as_str().unwrap().parse().unwrap();
        let stored = app.state.store.case_by_id(id).await.unwrap().unwrap();
        assert_eq!(p["case"]["reference"], json!(stored.reference));
        assert_eq!(p["case"]["title"], json!(title));
        assert_eq!(stored.title, title);
        assert_eq!(p["case"]["business"]["id"], json!(stored.business_id));
        let code = p["accessCode"].as_str().unwrap();
        assert!(access_code::verify(code, &stored.access_code_hash));
        assert!(codes.insert(code.to_owned()), "access codes repeat");
        refs.push(stored.reference);
    }
    gap_free(&refs, year, 1);
    let events = app.state.store.events_for_case(
        app.state
            .store
            .case_by_reference(&refs[0])
            .await
            .unwrap()
            .unwrap()
            .id,
    );
    assert_eq!(events.await.unwrap().len(), 1, "one OPENED event");
}

/// A case for the store, as the service would pass it.
fn new_case(app: &TestApp, lab: (Uuid, &str), business: BusinessChoice, title: &str) -> NewCase {
    NewCase {
        id: Uuid::now_v7(),
        lab_id: lab.0,
        lab_code: lab.1.to_owned(),
        business,
        title: title.to_owned(),
        description: "説明".into(),
        topics: vec!["在庫".into()],
        channel: Channel::WalkIn,
        stage: Stage::Consult,
        status: CaseStatus::New,
        priority: Priority::Normal,
        assigned_to: None,
        consent_to_share: false,
        consent_by: None,
        access_code_hash: access_code::hash(&access_code::generate()),
        mail_access_code: None,
        email_updates: false,
        actor: None,
        now: app.state.now(),
    }
}

fn business(
    lab: Uuid,
    name: &str,
    number: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> BusinessChoice {
    BusinessChoice::New(BusinessRow {
        id: Uuid::now_v7(),
        lab_id: lab,
        name: name.into(),
        corporate_number: number.map(Into::into),
        industry: None,
        employee_band: None,
        municipality: None,
        region: None,
        contact_name: None,
        email: None,
        phone: None,
        created_at: now,
        updated_at: now,
        erased_at: None,
    })
}

/// Waits (yielding) until the lab's queue holds `n` intakes not yet taken.
/// Bounded by time, not by a count of yields: on a busy machine (a build beside
/// the tests) 100,000 yields went by before the callers had reached the queue.
async fn until_queued(db: &Db, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if db.intake.queued() == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the intake queue never held {n} items in 60 s");
}

/// Waits (yielding) until no intake is queued or written and no writer runs
/// (an intake arriving while the last writer is still in its loop would be
/// taken by that writer).
pub async fn until_idle(db: &Db) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if db.intake.idle() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the intake writers did not finish in 60 s");
}

/// Waits (yielding) until a writer has taken `n` intakes and not answered them.
async fn until_writing(db: &Db, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if db.intake.writing() == n && db.intake.queued() == 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("no writer held {n} intakes in 60 s");
}

/// The demo concierge's lab, as `new_case` takes it: (id, code).
async fn desk_lab(app: &TestApp) -> (Uuid, String) {
    let desk = app
        .state
        .store
        .user_by_email("concierge@aomori.example")
        .await
        .unwrap()
        .unwrap();
    let lab = app.state.store.lab(desk.lab_id).await.unwrap().unwrap();
    (lab.id, lab.code)
}

/// `new` opened in a task of its own.
fn spawn_open(
    app: &Arc<TestApp>,
    new: NewCase,
) -> tokio::task::JoinHandle<dxdesk::error::AppResult<dxdesk::store::CaseSnapshot>> {
    let app = app.clone();
    tokio::spawn(async move { app.state.store.open_case(new).await })
}

/// Holds the lab's reference counter (PostgreSQL: its row lock; SQLite: the
/// write lock) with one intake (待機) taken by a writer that waits for it, so
/// that the next intakes queue behind it. Commit the hold to let them go.
async fn hold_counter(
    app: &Arc<TestApp>,
    db: &Db,
    lab: (Uuid, &str),
) -> (
    dxdesk::store::db::Tx,
    tokio::task::JoinHandle<dxdesk::error::AppResult<dxdesk::store::CaseSnapshot>>,
) {
    until_idle(db).await;
    let mut hold = db.pool.begin_bookkeeping().await.unwrap();
    sql("UPDATE case_counters SET last_seq = last_seq WHERE lab_id = ")
        .bind(lab.0)
        .execute(&mut hold)
        .await
        .unwrap();
    let now = app.state.now();
    let waiting = spawn_open(
        app,
        new_case(app, lab, business(lab.0, "待機", None, now), "待機"),
    );
    // Taken by its writer, which now waits for the counter.
    until_writing(db, 1).await;
    (hold, waiting)
}

async fn bad_item_alone(backend: Backend) {
    let app = Arc::new(common::spawn_app(backend).await);
    let st = &app.state;
    let (lab_id, lab_code) = desk_lab(&app).await;
    let lab_key = (lab_id, lab_code.as_str());
    let now = st.now();
    let year = jst_year(now);
    let first = st
        .store
        .open_case(new_case(
            &app,
            lab_key,
            business(lab_id, "最初", None, now),
            "最初",
        ))
        .await
        .unwrap();
    assert_eq!(
        first.case.reference,
        reference::format_reference(&lab_code, year, 1)
    );
    let db = db_of(&app).clone();
    let (hold, waiting) = hold_counter(&app, &db, lab_key).await;
    let number = "1234567890123";
    let mut batch = Vec::new();
    let mut bad = Vec::new();
    for i in 0..6 {
        let mut new = new_case(
            &app,
            lab_key,
            business(lab_id, &format!("一括{i}"), None, now),
            &format!("一括{i}"),
        );
        match i {
            // A rule only the database checks: the assignee does not exist.
            1 => {
                new.assigned_to = Some(Uuid::now_v7());
                bad.push(new.id);
            }
            // An existing business that is not there: refused before the counter.
            3 => {
                new.business = BusinessChoice::Existing(Uuid::now_v7());
                bad.push(new.id);
            }
            // Two intakes of one corporate number share one business.
            4 | 5 => {
                new.business = business(lab_id, "同一法人", Some(number), now);
            }
            _ => {}
        }
        batch.push((new.id, spawn_open(&app, new)));
    }
    until_queued(&db, 6).await;
    hold.commit().await.unwrap();
    let waited = waiting.await.unwrap().unwrap();
    let mut refs = vec![first.case.reference.clone(), waited.case.reference.clone()];
    let mut shared = HashSet::new();
    for (id, task) in batch {
        let answer = task.await.unwrap();
        let stored = st.store.case_by_id(id).await.unwrap();
        if bad.contains(&id) {
            assert!(answer.is_err(), "the bad item was written");
            assert!(stored.is_none(), "a refused intake left a row");
            continue;
        }
        let snap = answer.unwrap();
        let stored = stored.unwrap();
        assert_eq!(snap.case.reference, stored.reference);
        assert_eq!(snap.business.id, stored.business_id);
        if snap.business.corporate_number.as_deref() == Some(number) {
            shared.insert(snap.business.id);
        }
        refs.push(stored.reference);
    }
    assert_eq!(refs.len(), 2 + 4);
    gap_free(&refs, year, 1);
    assert_eq!(shared.len(), 1, "one business per corporate number");
    // The counter stands where the references end: the next one follows.
    let next = st
        .store
        .open_case(new_case(
            &app,
            lab_key,
            business(lab_id, "次", None, now),
            "次",
        ))
        .await
        .unwrap();
    assert_eq!(
        next.case.reference,
        reference::format_reference(&lab_code, year, 7)
    );
}

/// A batch of good intakes is written in one transaction with one statement
/// per table (`store::search::index_new_cases`, `store::rollup::new_cases`):
/// every case is found through the index alone, two cases of one business
/// count as one business-year row of two cases, and the rollup equals the
/// report computed from the rows.
async fn batch_rows(backend: Backend) {
    let app = Arc::new(common::spawn_app(backend).await);
    let st = &app.state;
    let (lab_id, lab_code) = desk_lab(&app).await;
    let lab_key = (lab_id, lab_code.as_str());
    let now = st.now();
    let earlier = st
        .store
        .open_case(new_case(
            &app,
            lab_key,
            business(lab_id, "既存", None, now),
            "既存",
        ))
        .await
        .unwrap();
    let db = db_of(&app).clone();
    let (hold, waiting) = hold_counter(&app, &db, lab_key).await;
    let number = "1234567890123";
    let mut batch = Vec::new();
    for i in 0..6 {
        let title = format!("束ね{i}");
        let mut new = new_case(
            &app,
            lab_key,
            business(lab_id, &format!("束ね{i}"), None, now),
            &title,
        );
        match i {
            1 | 2 => new.business = business(lab_id, "同一法人", Some(number), now),
            4 => new.business = BusinessChoice::Existing(earlier.business.id),
            _ => {}
        }
        batch.push((title, spawn_open(&app, new)));
    }
    until_queued(&db, 6).await;
    hold.commit().await.unwrap();
    waiting.await.unwrap().unwrap();
    let mut shared = HashSet::new();
    for (title, task) in batch {
        let snap = task.await.unwrap().unwrap();
        if snap.business.corporate_number.as_deref() == Some(number) {
            shared.insert(snap.business.id);
        }
        let cq = dxdesk::store::CaseQuery {
            lab_id,
            search: Some(title.clone()),
            now,
            ..Default::default()
        };
        // No scan window: the index alone.
        let found = dxdesk::store::search::list(&db, &cq, None, 10, 0)
            .await
            .unwrap()
            .expect("a term of two characters or more uses the index");
        let found: Vec<Uuid> = found.iter().map(|r| r.id).collect();
        assert_eq!(found, vec![snap.case.id], "the index finds {title}");
    }
    assert_eq!(shared.len(), 1, "one business per corporate number");
    let cases_of = |b: Uuid| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sql(
                "SELECT CAST(SUM(cases) AS BIGINT) FROM report_business_years WHERE business_id = ",
            )
            .bind(b)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            n
        }
    };
    assert_eq!(cases_of(*shared.iter().next().unwrap()).await, 2);
    assert_eq!(cases_of(earlier.business.id).await, 2);
    let fy = dxdesk::domain::fiscal_year::fiscal_year_of(now);
    crate::report_rollup::assert_rollup_matches(&st.store, lab_id, fy, st.now()).await;
}
