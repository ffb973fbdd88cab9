//! One case walked from intake to close on each
//! backend, then its timeline and `dxdesk audit verify` (also on a tampered chain).

use crate::backend_tests;
use crate::common;

use chrono::Duration;
use common::cases::*;
use common::{Backend, TestApp};
use serde_json::json;
use std::process::Command;

backend_tests!(
    intake_to_close_with_timeline_and_audit,
    scenario,
    worker_threads = 2
);

/// Moves the server's clock on, so that each step has its own time.
fn tick(app: &TestApp) {
    app.clock.advance(Duration::minutes(7));
}

async fn scenario(backend: Backend) {
    let (app, db_url) = spawn_app_with_url(backend).await;
    let t = Tokens::login_all(&app).await;
    let center = institution_id(&app, &t.concierge, CENTER).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;

    // --- intake: a new business with a valid corporate number, consent given
    let input = json!({
        "business": {
            "name": "株式会社弘前りんごテック",
            "corporateNumber": "7000012050002",
            "industry": "E",
            "municipality": "弘前市",
            "contactName": "津軽 太郎",
            "email": "taro@ringo-tech.example.jp",
            "phone": "0172-11-2233",
        },
        "title": "りんご加工場の在庫管理をIoTで試したい",
        "description": "紙の台帳で行っている在庫管理を、IoTセンサーとクラウドに置き換える実証をしたい。",
        "topics": ["IoT", "ものづくり", "在庫管理"],
        "channel": "WALK_IN",
        "stage": "CONSULT",
        "consentToShare": true,
    });
    let opened = open_case(&app, &t.concierge, input).await;
    let year = jst_year(app.state.now());
    assert_eq!(opened.reference, format!("AOM-{year}-000001"));
    assert!(
        opened
            .access_code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .count()
            == 12,
        "a 12-symbol (60-bit) access code, see DESIGN.md: {}",
        opened.access_code
    );
    let c = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(c["status"], "NEW");
    assert_eq!(c["stage"], "CONSULT");
    assert_eq!(c["channel"], "WALK_IN");
    assert_eq!(c["consentToShare"], true);
    assert_eq!(c["business"]["corporateNumber"], "7000012050002");
    assert_eq!(c["business"]["municipality"], "弘前市");
    assert_eq!(kinds(&c), ["OPENED"]);
    // The consent is recorded with who took it and when.
    let row = app
        .state
        .store
        .case_by_reference(&opened.reference)
        .await
        .unwrap()
        .expect("case row");
    let concierge_id = app
        .state
        .store
        .user_by_email(CONCIERGE)
        .await
        .unwrap()
        .expect("concierge")
        .id;
    assert!(row.consent_to_share);
    assert_eq!(row.consent_by, Some(concierge_id), "who took the consent");
    assert_eq!(
        row.consent_at,
        Some(app.state.now()),
        "when the consent was taken"
    );

    // --- routing help: ranked, with Japanese reasons, own lab only
    let s = suggest(&app, &t.concierge, &opened.id).await;
    let list = s.ok()["suggestInstitutions"].as_array().unwrap().clone();
    assert!(!list.is_empty(), "no suggestions: {}", s.body);
    let scores: Vec<f64> = list.iter().map(|x| x["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not ranked by score: {scores:?}"
    );
    for x in &list {
        let reason = x["reason"].as_str().unwrap();
        assert!(
            reason
                .chars()
                .any(|ch| ('\u{3040}'..='\u{9fff}').contains(&ch)),
            "reason is not Japanese: {reason:?}"
        );
        assert_ne!(x["institution"]["active"], false, "inactive suggested: {x}");
    }
    assert_eq!(
        list[0]["institution"]["name"], CENTER,
        "IoT + ものづくり in 弘前市: the technology centre should rank first: {}",
        s.body
    );
    assert_absent(&s, &["幸田", "愛知工科大学"], "suggestions of another lab");

    // --- refer to the technology centre and the bank
    tick(&app);
    let r1 = refer(
        &app,
        &t.concierge,
        &opened.id,
        &center,
        Some("IoT実証のご相談です"),
    )
    .await;
    let r1 = r1.ok()["referCase"].clone();
    assert_eq!(r1["status"], "PENDING");
    assert_eq!(r1["overdue"], false);
    assert_eq!(r1["institution"]["name"], CENTER);
    assert!(parse_time(&r1["pickupDeadline"]) > app.state.now());
    assert_eq!(
        case_ok(&app, &t.concierge, &opened.id).await["status"],
        "REFERRED"
    );

    tick(&app);
    let r2 = refer(
        &app,
        &t.concierge,
        &opened.id,
        &bank,
        Some("設備投資の資金相談"),
    )
    .await;
    let r2 = r2.ok()["referCase"].clone();
    assert_eq!(r2["status"], "PENDING");
    let c = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(c["status"], "REFERRED");
    assert_eq!(c["referrals"].as_array().unwrap().len(), 2);

    // --- the centre accepts, the bank declines
    tick(&app);
    let a = accept(
        &app,
        &t.center,
        r1["id"].as_str().unwrap(),
        Some("担当します"),
    )
    .await;
    assert_eq!(a.ok()["acceptReferral"]["status"], "ACCEPTED");
    assert!(a.ok()["acceptReferral"]["decidedAt"].is_string());
    assert_eq!(
        case_ok(&app, &t.concierge, &opened.id).await["status"],
        "REFERRED",
        "the bank's referral is still pending"
    );

    tick(&app);
    let d = decline(
        &app,
        &t.bank,
        r2["id"].as_str().unwrap(),
        "NO_CAPACITY",
        Some("今月は対応枠が埋まっています"),
    )
    .await;
    assert_eq!(d.ok()["declineReferral"]["status"], "DECLINED");
    assert_eq!(d.ok()["declineReferral"]["reason"], "NO_CAPACITY");
    let c = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(c["status"], "IN_PROGRESS", "no pending referral left");

    // --- stage to TRY with the right expectedVersion
    tick(&app);
    let v = c["version"].as_i64().unwrap();
    let st = set_stage(&app, &t.concierge, &opened.id, v, "TRY").await;
    assert_eq!(st.ok()["setStage"]["stage"], "TRY");
    let v2 = st.ok()["setStage"]["version"].as_i64().unwrap();
    assert!(v2 > v, "version did not advance: {v} → {v2}");

    // --- notes at each visibility
    tick(&app);
    let n1 = add_note(
        &app,
        &t.concierge,
        &opened.id,
        "窓口内メモ：社長は補助金に関心",
        "DESK",
    )
    .await;
    assert_eq!(n1.ok()["addNote"]["visibility"], "DESK");
    tick(&app);
    let n2 = add_note(
        &app,
        &t.center,
        &opened.id,
        "機関共有：センサー3台で試行予定",
        "PARTNERS",
    )
    .await;
    assert_eq!(n2.ok()["addNote"]["visibility"], "PARTNERS");
    tick(&app);
    let n3 = add_note(
        &app,
        &t.concierge,
        &opened.id,
        "来週、試行の日程をご連絡します",
        "BUSINESS",
    )
    .await;
    assert_eq!(n3.ok()["addNote"]["visibility"], "BUSINESS");
    let c = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(c["notes"].as_array().unwrap().len(), 3);

    // --- the centre completes, the desk resolves and closes
    tick(&app);
    let done = complete(
        &app,
        &t.center,
        r1["id"].as_str().unwrap(),
        "センサー3台で2週間の試行を実施し、在庫差異が半減した。",
    )
    .await;
    assert_eq!(done.ok()["completeReferral"]["status"], "COMPLETED");

    tick(&app);
    let v = version(&app, &t.concierge, &opened.id).await;
    let res = resolve(
        &app,
        &t.concierge,
        &opened.id,
        v,
        &["TRIAL_RUN", "SUBSIDY_APPLIED"],
        "IoT在庫管理の試行を終え、ものづくり補助金に申請した。",
    )
    .await;
    assert_eq!(res.ok()["resolveCase"]["status"], "RESOLVED");

    tick(&app);
    let cl = close(&app, &t.concierge, &opened.id).await;
    assert_eq!(cl.ok()["closeCase"]["status"], "CLOSED");

    // --- the timeline
    let c = case_ok(&app, &t.concierge, &opened.id).await;
    assert_eq!(c["status"], "CLOSED");
    let all = kinds(&c);
    // DESIGN.md: referCase on a NEW case moves it to IN_PROGRESS with one STATUS_CHANGED event.
    assert_eq!(
        all.iter().filter(|k| *k == "STATUS_CHANGED").count(),
        1,
        "exactly one STATUS_CHANGED (NEW → IN_PROGRESS on the first referral): {all:?}"
    );
    let sc = all.iter().position(|k| k == "STATUS_CHANGED").unwrap();
    assert!(
        all[sc.saturating_sub(1)] == "REFERRED"
            || all.get(sc + 1).map(String::as_str) == Some("REFERRED"),
        "STATUS_CHANGED should sit next to the first REFERRED: {all:?}"
    );
    let without: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|k| *k != "STATUS_CHANGED")
        .collect();
    assert_eq!(
        without,
        [
            "OPENED",
            "REFERRED",
            "REFERRED",
            "ACCEPTED",
            "DECLINED",
            "STAGE_CHANGED",
            "NOTE_ADDED",
            "NOTE_ADDED",
            "NOTE_ADDED",
            "COMPLETED",
            "RESOLVED",
            "CLOSED",
        ]
    );
    let events = c["events"].as_array().unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    let ats: Vec<_> = events.iter().map(|e| parse_time(&e["at"])).collect();
    assert!(
        ats.windows(2).all(|w| w[0] <= w[1]),
        "times out of order: {ats:?}"
    );
    assert!(ats.first() < ats.last());
    // No personal data in payloads (so the business can be erased later).
    let payloads =
        serde_json::to_string(&events.iter().map(|e| &e["payload"]).collect::<Vec<_>>()).unwrap();
    for pii in ["津軽", "taro@ringo-tech.example.jp", "0172-11-2233"] {
        assert!(
            !payloads.contains(pii),
            "personal data {pii:?} in event payloads: {payloads}"
        );
    }

    // --- the support record verifies, and three kinds of tampering are detected
    let edited = open_simple(
        &app,
        &t.concierge,
        "改ざん検証（編集）",
        "改ざん検証一株式会社",
    )
    .await;
    let appended = open_simple(
        &app,
        &t.concierge,
        "改ざん検証（追記）",
        "改ざん検証二株式会社",
    )
    .await;
    let (ok, out) = audit_verify(&db_url);
    assert!(ok, "audit verify failed on an untouched record:\n{out}");

    check_append_only(backend, &db_url, &opened.reference).await;
    // 1. an event with a made-up hash appended to the walked-through case
    forge_event(backend, &db_url, &opened.reference).await;
    // 2. a stored payload edited with the append-only trigger switched off
    edit_payload(backend, &db_url, &edited.reference).await;
    // 3. a correctly chained event appended behind the case row's back
    append_chained_event(&app, backend, &db_url, &appended).await;
    let (ok, out) = audit_verify(&db_url);
    assert!(!ok, "audit verify passed on a tampered record:\n{out}");
    eprintln!("{out}");
    for (what, o) in [
        ("forged hash", &opened),
        ("edited payload", &edited),
        ("chained append", &appended),
    ] {
        assert!(
            out.contains(&o.reference) || out.contains(&o.id),
            "audit verify should name the case with the {what} ({}):\n{out}",
            o.reference
        );
    }
}

/// Edits the payload of a case's first event, after switching the append-only
/// trigger off as a database administrator could.
async fn edit_payload(backend: Backend, db_url: &str, reference: &str) {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
            sqlx::query("DROP TRIGGER case_events_no_update")
                .execute(&pool)
                .await
                .unwrap();
            let r = sqlx::query(
                "UPDATE case_events SET payload = '{\"tampered\":true}' \
                 WHERE seq = 1 AND case_id = (SELECT id FROM cases WHERE reference = ?1)",
            )
            .bind(reference)
            .execute(&pool)
            .await
            .unwrap();
            assert_eq!(r.rows_affected(), 1);
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db_url).await.unwrap();
            sqlx::query("ALTER TABLE case_events DISABLE TRIGGER USER")
                .execute(&pool)
                .await
                .unwrap();
            let r = sqlx::query(
                "UPDATE case_events SET payload = CAST('{\"tampered\":true}' AS jsonb) \
                 WHERE seq = 1 AND case_id = (SELECT id FROM cases WHERE reference = $1)",
            )
            .bind(reference)
            .execute(&pool)
            .await
            .unwrap();
            assert_eq!(r.rows_affected(), 1);
            sqlx::query("ALTER TABLE case_events ENABLE TRIGGER USER")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// Appends an event whose hash is right (computed as DESIGN.md says) but
/// without updating the case row: only the cross-check with the row catches it.
async fn append_chained_event(app: &TestApp, backend: Backend, db_url: &str, o: &Opened) {
    use dxdesk::domain::hash_chain::event_hash;
    use dxdesk::domain::types::EventKind;
    let case_id: uuid::Uuid = o.id.parse().unwrap();
    let events = app.state.store.events_for_case(case_id).await.unwrap();
    let last = events.last().unwrap();
    let hash = event_hash(
        case_id,
        last.seq + 1,
        EventKind::NoteAdded,
        None,
        last.at,
        &json!({}),
        &last.hash,
    );
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
            sqlx::query(
                "INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash) \
                 SELECT randomblob(16), lab_id, case_id, seq + 1, 'NOTE_ADDED', NULL, at, '{}', hash, ?2 \
                 FROM case_events WHERE case_id = (SELECT id FROM cases WHERE reference = ?1) AND seq = ?3",
            )
            .bind(&o.reference)
            .bind(&hash)
            .bind(last.seq)
            .execute(&pool)
            .await
            .expect("append a chained event");
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db_url).await.unwrap();
            sqlx::query(
                "INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash) \
                 SELECT gen_random_uuid(), lab_id, case_id, seq + 1, 'NOTE_ADDED', NULL, at, CAST('{}' AS jsonb), hash, $2 \
                 FROM case_events WHERE case_id = (SELECT id FROM cases WHERE reference = $1) AND seq = $3",
            )
            .bind(&o.reference)
            .bind(&hash)
            .bind(last.seq)
            .execute(&pool)
            .await
            .expect("append a chained event");
            pool.close().await;
        }
    }
    // The chain alone is intact: this is what makes the row check necessary.
    let mut links: Vec<_> = app.state.store.events_for_case(case_id).await.unwrap();
    assert_eq!(links.len(), events.len() + 1);
    let chain: Vec<_> = links.drain(..).map(|e| e.link()).collect();
    assert_eq!(
        dxdesk::domain::hash_chain::verify_chain(&chain),
        Ok(()),
        "the appended event should chain correctly"
    );
}

/// Runs `dxdesk audit verify` on the database; (success, stdout + stderr).
fn audit_verify(db_url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dxdesk"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", db_url)
        .env_remove("DXDESK_ENV")
        .env("DXDESK_LOG_FORMAT", "human")
        .output()
        .expect("run dxdesk audit verify");
    let text = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// UPDATE and DELETE on case_events are refused by the database itself.
async fn check_append_only(backend: Backend, db_url: &str, reference: &str) {
    let upd = "UPDATE case_events SET kind = 'CLOSED' WHERE case_id = (SELECT id FROM cases WHERE reference = $1)";
    let del = "DELETE FROM case_events WHERE case_id = (SELECT id FROM cases WHERE reference = $1)";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
            for sql in [upd.replace("$1", "?1"), del.replace("$1", "?1")] {
                let sql = sql.as_str();
                let r = sqlx::query(sql).bind(reference).execute(&pool).await;
                assert!(r.is_err(), "case_events accepted: {sql}");
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db_url).await.unwrap();
            for sql in [upd, del] {
                let r = sqlx::query(sql).bind(reference).execute(&pool).await;
                assert!(r.is_err(), "case_events accepted: {sql}");
            }
            pool.close().await;
        }
    }
}

/// Appends a forged event (right predecessor, wrong hash) with plain SQL, as
/// someone with database access but without the chain rules would.
async fn forge_event(backend: Backend, db_url: &str, reference: &str) {
    let forged_hash = "ab".repeat(32);
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
            sqlx::query(
                "INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash) \
                 SELECT randomblob(16), e.lab_id, e.case_id, e.seq + 1, 'NOTE_ADDED', NULL, e.at, '{}', e.hash, ?2 \
                 FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.reference = ?1 \
                 ORDER BY e.seq DESC LIMIT 1",
            )
            .bind(reference)
            .bind(&forged_hash)
            .execute(&pool)
            .await
            .expect("forge an event");
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db_url).await.unwrap();
            sqlx::query(
                "INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash) \
                 SELECT gen_random_uuid(), e.lab_id, e.case_id, e.seq + 1, 'NOTE_ADDED', NULL, e.at, CAST('{}' AS jsonb), e.hash, $2 \
                 FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.reference = $1 \
                 ORDER BY e.seq DESC LIMIT 1",
            )
            .bind(reference)
            .bind(&forged_hash)
            .execute(&pool)
            .await
            .expect("forge an event");
            pool.close().await;
        }
    }
}
