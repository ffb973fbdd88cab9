//! Notifications end to end: a real SMTP server process (`tests/smtp_sink.py`,
//! aiosmtpd) captures what the outbox worker sends; the worker is driven by
//! the test (`Worker::run_once`) under the app's frozen clock, so nothing
//! waits on a timer. Webhooks go to a real HTTP receiver in the test that
//! checks the signature itself.

use crate::backend_tests;
use crate::common::cases::*;
use crate::common::{self, spawn_app_with, test_config, Backend, TestApp};
use chrono::{DateTime, NaiveDate, Utc};
use dxdesk::notify::worker::Worker;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command};

/// The SMTP server process and the folder it writes each message to.
pub struct Sink {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sink {
    pub fn start() -> Sink {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Sink {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("dxdesk-sink-{}", uuid::Uuid::new_v4()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .arg(port.to_string())
            .args(extra)
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut sink = Sink { child, dir, port };
        // The process is up once it wrote its ready file.
        for _ in 0..200 {
            if sink.dir.join("ready").exists() {
                return sink;
            }
            if let Ok(Some(st)) = sink.child.try_wait() {
                panic!("smtp_sink.py exited with {st}: is aiosmtpd installed?");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("smtp_sink.py did not start");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every captured message, in arrival order.
    pub fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The messages to `addr`.
    pub fn to(&self, addr: &str) -> Vec<Value> {
        self.mails()
            .into_iter()
            .filter(|m| m["to"].as_array().unwrap().iter().any(|t| t == addr))
            .collect()
    }
}

pub const PUBLIC: &str = "https://desk.example.jp";

async fn app_with_mail(
    backend: Backend,
    sink: &Sink,
    edit: impl FnOnce(&mut dxdesk::config::Config),
) -> TestApp {
    let mut c = test_config();
    c.notify.smtp_url = Some(sink.url());
    c.notify.public_url = PUBLIC.to_owned();
    c.notify.mail_from = "DX総合窓口 <desk@example.jp>".to_owned();
    edit(&mut c);
    spawn_app_with(backend, c).await
}

async fn deliver(app: &TestApp) -> usize {
    Worker::new(app.state.clone())
        .unwrap()
        .run_once()
        .await
        .unwrap()
}

fn subjects(mails: &[Value]) -> Vec<String> {
    mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

/// A JST wall-clock time.
fn jst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    dxdesk::domain::jst::to_utc(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap(),
    )
}

async fn outbox(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app
        .gql(
            Some(admin),
            "{ outbox(first: 500) { id kind channel recipient status attempts lastError caseId } }",
            json!({}),
        )
        .await;
    r.ok()["outbox"].as_array().unwrap().clone()
}

backend_tests!(mails_reach_the_right_people);

async fn mails_reach_the_right_people(backend: Backend) {
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let o = case("在庫管理の相談").open(&app, &t.concierge).await;
    let r = refer_ok(&app, &t.concierge, &o.id, &bank).await;
    deliver(&app).await;

    // The bank's users hear of the referral: reference, title, deadline, link.
    let got = sink.mails();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["to"], json!([P_BANK]));
    assert_eq!(m["from"], "desk@example.jp");
    let subject = m["subject"].as_str().unwrap();
    assert!(
        subject.contains("新しい紹介が届きました") && subject.contains(&o.reference),
        "{subject}"
    );
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("在庫管理の相談"), "{text}");
    assert!(text.contains("受付期限"), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/cases/{}", o.id)), "{text}");
    assert!(m["html"]
        .as_str()
        .unwrap()
        .contains(&format!("href=\"{PUBLIC}/cases/{}\"", o.id)));
    // Nothing another institution or the business could not see.
    assert!(
        !text.contains("在庫管理の相談株式会社"),
        "the business's name is not in the mail: {text}"
    );

    // The answer reaches the assigned concierge, in English when they chose it.
    let s = app
        .gql(
            Some(&t.concierge),
            "mutation { updateNotificationSettings(language: \"EN\", disabledKinds: []) { language } }",
            json!({}),
        )
        .await;
    assert_eq!(s.ok()["updateNotificationSettings"]["language"], "EN");
    decline(&app, &t.bank, &r, "NO_CAPACITY", Some("今月は手一杯です"))
        .await
        .ok();
    deliver(&app).await;
    let to_desk = sink.to(CONCIERGE);
    assert_eq!(to_desk.len(), 1, "{:?}", subjects(&sink.mails()));
    let text = to_desk[0]["text"].as_str().unwrap();
    assert!(to_desk[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("[DX desk] Institution's answer"));
    assert!(
        text.contains("今月は手一杯です") && text.contains(BANK),
        "{text}"
    );

    // The admin's outbox shows both, addresses masked.
    let rows = outbox(&app, &t.admin).await;
    let sent: Vec<&Value> = rows.iter().filter(|r| r["status"] == "SENT").collect();
    assert_eq!(sent.len(), 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| !r["recipient"].as_str().unwrap().contains("partner.bank")));
    assert!(
        rows.iter()
            .any(|r| r["recipient"] == "pa****@ao****.example"),
        "{rows:?}"
    );
    // Partners and concierges do not see the outbox.
    let denied = app.gql(Some(&t.bank), "{ outbox { id } }", json!({})).await;
    assert_eq!(denied.code(), Some("FORBIDDEN"));
    let denied = app
        .gql(Some(&t.concierge), "{ outbox { id } }", json!({}))
        .await;
    assert_eq!(denied.code(), Some("FORBIDDEN"));
}

backend_tests!(web_form_mails_the_desk_and_the_business);

async fn web_form_mails_the_desk_and_the_business(backend: Backend) {
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    let t = Tokens::login_all(&app).await;
    let mut input = consultation("ウェブ相談株式会社").build();
    input["business"]["email"] = json!("owner@web-soudan.example");
    let r = submit_from(&app, "203.0.113.7", input).await;
    let p = &r.ok()["submitConsultation"];
    let (reference, code) = (
        p["reference"].as_str().unwrap(),
        p["accessCode"].as_str().unwrap(),
    );
    deliver(&app).await;
    let biz = sink.to("owner@web-soudan.example");
    assert_eq!(biz.len(), 1, "{:?}", subjects(&sink.mails()));
    let text = biz[0]["text"].as_str().unwrap();
    assert!(text.contains(reference) && text.contains(code), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/status")), "{text}");
    let desk = sink.to(CONCIERGE);
    assert_eq!(desk.len(), 1);
    assert!(desk[0]["subject"].as_str().unwrap().contains("Webフォーム"));
    assert!(
        !desk[0]["text"].as_str().unwrap().contains(code),
        "the desk never gets the code"
    );
    // The access code does not stay in the outbox once sent.
    let rows = outbox(&app, &t.admin).await;
    assert!(rows
        .iter()
        .any(|r| r["kind"] == "BUSINESS_REFERENCE" && r["status"] == "SENT"));

    // A public milestone: the status page's words, nothing more.
    let case = app
        .gql(
            Some(&t.concierge),
            "query($r: String!) { caseByReference(reference: $r) { id } }",
            json!({ "r": reference }),
        )
        .await;
    let id = case.ok()["caseByReference"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bank = institution_id(&app, &t.concierge, BANK).await;
    refer_ok(&app, &t.concierge, &id, &bank).await;
    deliver(&app).await;
    let biz = sink.to("owner@web-soudan.example");
    assert_eq!(
        biz.len(),
        3,
        "opened→in progress and referred: {:?}",
        subjects(&biz)
    );
    let all: String = biz.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(
        all.contains(&format!("「{BANK}」へご紹介しました")),
        "{all}"
    );
    assert!(
        !all.contains("ご対応をお願いします"),
        "the desk's note is not for the business"
    );
}

backend_tests!(a_desk_intake_mails_the_business_only_when_it_agreed);

async fn a_desk_intake_mails_the_business_only_when_it_agreed(backend: Backend) {
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    // Without the business's agreement: no mail to it, whatever happens.
    let quiet = case("メール不要の相談")
        .business(business("メール不要株式会社").set("email", "quiet@biz.example"))
        .open(&app, &t.concierge)
        .await;
    assert_eq!(quiet.case["emailUpdates"], json!(false));
    refer_ok(&app, &t.concierge, &quiet.id, &bank).await;
    deliver(&app).await;
    assert!(sink.to("quiet@biz.example").is_empty());

    // Agreed, but no address to write to: a field error, nothing opened.
    let before = sink.mails().len();
    let bad = case("アドレスなしの相談")
        .business(business("アドレスなし株式会社").set("email", json!(null)))
        .set("emailUpdates", true)
        .try_open(&app, &t.concierge)
        .await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"), "{:?}", bad.message());
    assert!(bad.message().unwrap().contains("メールアドレス"));

    // Agreed: the reference right after intake (never the access code, which
    // the business got on the slip), then the public milestones.
    let told = case("メール希望の相談")
        .business(business("メール希望株式会社").set("email", "told@biz.example"))
        .set("emailUpdates", true)
        .open(&app, &t.concierge)
        .await;
    assert_eq!(told.case["emailUpdates"], json!(true));
    deliver(&app).await;
    assert_eq!(
        sink.mails().len(),
        before + 1,
        "{:?}",
        subjects(&sink.mails())
    );
    let first = sink.to("told@biz.example");
    assert_eq!(first.len(), 1, "{:?}", subjects(&first));
    let text = first[0]["text"].as_str().unwrap();
    assert!(text.contains(&told.reference), "{text}");
    assert!(
        !text.contains(&told.access_code),
        "no access code by mail: {text}"
    );
    assert!(text.contains("受付票"), "{text}");
    refer_ok(&app, &t.concierge, &told.id, &bank).await;
    deliver(&app).await;
    let all: String = sink
        .to("told@biz.example")
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        all.contains(&format!("「{BANK}」へご紹介しました")),
        "{all}"
    );

    // The business changes its mind: no more mails.
    let n = sink.to("told@biz.example").len();
    let v = version(&app, &t.concierge, &told.id).await;
    let off = update_case(
        &app,
        &t.concierge,
        &told.id,
        v,
        json!({ "emailUpdates": false }),
    )
    .await;
    assert_eq!(off.ok()["updateCase"]["emailUpdates"], json!(false));
    let version = off.ok()["updateCase"]["version"].as_i64().unwrap();
    set_stage(&app, &t.concierge, &told.id, version, "TRY")
        .await
        .ok();
    deliver(&app).await;
    assert_eq!(sink.to("told@biz.example").len(), n);
}

backend_tests!(nothing_is_sent_for_a_rolled_back_change);

async fn nothing_is_sent_for_a_rolled_back_change(backend: Backend) {
    use dxdesk::domain::events::{EventPayload, ReferralEvent};
    use dxdesk::store::{CaseChange, NewEvent, ReferralRow};
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    let t = Tokens::login_all(&app).await;
    let bank: uuid::Uuid = institution_id(&app, &t.concierge, BANK)
        .await
        .parse()
        .unwrap();
    let o = case("巻き戻る紹介").open(&app, &t.concierge).await;
    let case_id: uuid::Uuid = o.id.parse().unwrap();
    let row = app.state.store.case_by_id(case_id).await.unwrap().unwrap();
    let now = app.state.now();
    // A referral whose transaction fails after its events and outbox rows
    // were written: the case row names a user that does not exist.
    let res = app
        .state
        .store
        .update_case(
            row.lab_id,
            case_id,
            None,
            now,
            Box::new(move |snap| {
                let r = ReferralRow {
                    id: uuid::Uuid::now_v7(),
                    lab_id: snap.case.lab_id,
                    case_id: snap.case.id,
                    institution_id: bank,
                    status: dxdesk::domain::types::ReferralStatus::Pending,
                    note: None,
                    reason: None,
                    decision_note: None,
                    summary: None,
                    referred_by: None,
                    decided_by: None,
                    pickup_deadline: now + chrono::Duration::days(3),
                    created_at: now,
                    decided_at: None,
                    completed_at: None,
                    updated_at: now,
                };
                let ev = NewEvent::new(
                    None,
                    EventPayload::referral(ReferralEvent {
                        referral_id: r.id,
                        institution_id: bank,
                        institution_name: BANK.into(),
                        status: r.status,
                        pickup_deadline: None,
                        reason: None,
                        withdraw_reason: None,
                    }),
                );
                let mut case = snap.case.clone();
                case.assigned_to = Some(uuid::Uuid::new_v4());
                Ok(CaseChange {
                    case: Some(case),
                    new_referrals: vec![r],
                    events: vec![ev],
                    ..Default::default()
                })
            }),
        )
        .await;
    assert!(res.is_err(), "the write must fail");
    assert_eq!(
        deliver(&app).await,
        0,
        "no outbox row survived the rollback"
    );
    assert!(sink.mails().is_empty());
    assert!(outbox(&app, &t.admin).await.is_empty());
    // The same referral made for real is mailed.
    refer_ok(&app, &t.concierge, &o.id, &bank.to_string()).await;
    deliver(&app).await;
    assert_eq!(sink.to(P_BANK).len(), 1);
}

/// A lab with mail, everyone logged in, and one case referred to the bank on
/// Thursday 2026-11-05 10:00 JST: 3 business days → deadline Tue 11-10
/// 23:59:59. The referral's id with the rest.
async fn referred_on_thursday(backend: Backend, title: &str) -> (Sink, TestApp, Tokens, String) {
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    // Tokens first: their expiry is checked against the real time.
    let t = Tokens::login_all(&app).await;
    app.clock.set(jst(2026, 11, 5, 10, 0));
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let o = case(title).open(&app, &t.concierge).await;
    let r = refer_ok(&app, &t.concierge, &o.id, &bank).await;
    (sink, app, t, r)
}

backend_tests!(reminder_and_escalations_follow_the_business_calendar);

async fn reminder_and_escalations_follow_the_business_calendar(backend: Backend) {
    let (sink, app, t, r) = referred_on_thursday(backend, "期限の相談").await;
    deliver(&app).await;
    let count = |kind: &str| {
        sink.mails()
            .iter()
            .filter(|m| m["subject"].as_str().unwrap().contains(kind))
            .count()
    };
    assert_eq!(count("新しい紹介"), 1);
    // Friday and the weekend: nothing yet.
    for at in [
        jst(2026, 11, 6, 17, 0),
        jst(2026, 11, 8, 12, 0),
        jst(2026, 11, 9, 8, 59),
    ] {
        app.clock.set(at);
        deliver(&app).await;
    }
    assert_eq!(sink.mails().len(), 1, "{:?}", subjects(&sink.mails()));
    // Monday 09:00, the last business day before the deadline: one reminder, however often scanned.
    app.clock.set(jst(2026, 11, 9, 9, 0));
    deliver(&app).await;
    app.clock.set(jst(2026, 11, 9, 15, 0));
    deliver(&app).await;
    let reminders = sink.to(P_BANK);
    assert_eq!(
        count("受付期限が近づいています"),
        1,
        "{:?}",
        subjects(&reminders)
    );
    // Past the deadline: one escalation to the assignee and the lab's admins.
    app.clock.set(jst(2026, 11, 11, 0, 5));
    deliver(&app).await;
    app.clock.set(jst(2026, 11, 11, 18, 0));
    deliver(&app).await;
    assert_eq!(
        count("受付期限超過"),
        2,
        "concierge + admin: {:?}",
        subjects(&sink.mails())
    );
    assert_eq!(sink.to(CONCIERGE).len(), 1);
    assert_eq!(sink.to(ADMIN).len(), 1);
    assert!(
        sink.to(KODA_ADMIN).is_empty(),
        "another lab's admin hears nothing"
    );
    // Two business days later (Thu 11-12 09:00) the repeat, not before.
    app.clock.set(jst(2026, 11, 12, 8, 59));
    deliver(&app).await;
    assert_eq!(count("受付期限超過"), 2);
    app.clock.set(jst(2026, 11, 12, 9, 0));
    deliver(&app).await;
    assert_eq!(count("受付期限超過"), 4);
    let repeat = sink.to(CONCIERGE).pop().unwrap();
    assert!(repeat["text"].as_str().unwrap().contains("再通知"));
    // Picked up: nothing more, however long we wait.
    accept(&app, &t.bank, &r, None).await.ok();
    for day in [13, 16, 17, 18, 20] {
        app.clock.set(jst(2026, 11, day, 10, 0));
        deliver(&app).await;
    }
    assert_eq!(count("受付期限超過"), 4, "{:?}", subjects(&sink.mails()));
    assert_eq!(count("受付期限が近づいています"), 1);
}

backend_tests!(escalation_repeat_follows_the_lab_setting);

async fn escalation_repeat_follows_the_lab_setting(backend: Backend) {
    let (sink, app, _, _) = referred_on_thursday(backend, "三日おきの催促").await;
    set_repeat_days(&app, 3).await;
    let count = || sink.to(ADMIN).len();
    app.clock.set(jst(2026, 11, 11, 10, 0));
    deliver(&app).await;
    assert_eq!(count(), 1);
    // 2 business days later: no repeat with N = 3 …
    app.clock.set(jst(2026, 11, 12, 10, 0));
    deliver(&app).await;
    assert_eq!(count(), 1);
    // … 3 business days after the deadline's day (Fri 11-13) it comes.
    app.clock.set(jst(2026, 11, 13, 10, 0));
    deliver(&app).await;
    assert_eq!(count(), 2);
}

backend_tests!(a_scan_reads_only_referrals_with_a_notice_due);

/// The scan moves each referral's next-notice mark past what it enqueued, so
/// the next scan does not read it again before its next notice; a shorter
/// escalation interval set on the settings page brings the mark forward.
async fn a_scan_reads_only_referrals_with_a_notice_due(backend: Backend) {
    let (sink, app, t, _) = referred_on_thursday(backend, "催促の間隔").await;
    let due_at = |at| {
        let st = app.state.clone();
        async move { st.store.referrals_to_notify(at, 500).await.unwrap().len() }
    };
    // Never scanned: due at once.
    assert_eq!(due_at(jst(2026, 11, 5, 10, 0)).await, 1);
    deliver(&app).await;
    // Scanned: nothing until Monday 09:00, the reminder.
    assert_eq!(due_at(jst(2026, 11, 9, 8, 59)).await, 0);
    assert_eq!(due_at(jst(2026, 11, 9, 9, 0)).await, 1);
    // Past the deadline (Tue 11-10) with three days between repeats: the
    // first escalation, then nothing due until Fri 11-13 09:00.
    let q = "mutation($i:LabSettingsInput!){ updateLabSettings(input:$i){ escalationRepeatDays } }";
    let r = app
        .gql(Some(&t.admin), q, json!({"i": {"escalationRepeatDays": 3}}))
        .await;
    assert_eq!(r.ok()["updateLabSettings"]["escalationRepeatDays"], 3);
    app.clock.set(jst(2026, 11, 11, 0, 5));
    deliver(&app).await;
    assert_eq!(sink.to(ADMIN).len(), 1);
    assert_eq!(due_at(jst(2026, 11, 13, 8, 59)).await, 0);
    // The admin shortens it to one day: Thu 11-12 09:00 is the second
    // business day after the deadline's, so the repeat comes then.
    let r = app
        .gql(Some(&t.admin), q, json!({"i": {"escalationRepeatDays": 1}}))
        .await;
    assert_eq!(r.ok()["updateLabSettings"]["escalationRepeatDays"], 1);
    app.clock.set(jst(2026, 11, 12, 9, 0));
    deliver(&app).await;
    assert_eq!(sink.to(ADMIN).len(), 2, "{:?}", subjects(&sink.mails()));
    // Saving the settings without changing the interval leaves the marks.
    let r = app
        .gql(Some(&t.admin), q, json!({"i": {"escalationRepeatDays": 1}}))
        .await;
    assert_eq!(r.ok()["updateLabSettings"]["escalationRepeatDays"], 1);
    assert_eq!(due_at(jst(2026, 11, 12, 9, 0)).await, 0);
}

/// Sets `labs.escalation_repeat_days` of every lab (the lab-settings page is
/// another area's; the column is this one's).
async fn set_repeat_days(app: &TestApp, n: i64) {
    let url = &app.db_url;
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query("UPDATE labs SET escalation_repeat_days = ?")
                .bind(n)
                .execute(&pool)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query("UPDATE labs SET escalation_repeat_days = $1")
                .bind(n)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

backend_tests!(preferences_switch_off_optional_kinds_only);

async fn preferences_switch_off_optional_kinds_only(backend: Backend) {
    let sink = Sink::start();
    let app = app_with_mail(backend, &sink, |_| {}).await;
    let t = Tokens::login_all(&app).await;
    let q = "mutation($k: [String!]!) { updateNotificationSettings(disabledKinds: $k) { language kinds { kind enabled safetyCritical } } }";
    let r = app
        .gql(Some(&t.bank), q, json!({ "k": ["ESCALATION"] }))
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"));
    let r = app
        .gql(Some(&t.bank), q, json!({ "k": ["REFERRAL_ARRIVED"] }))
        .await;
    let kinds = r.ok()["updateNotificationSettings"]["kinds"]
        .as_array()
        .unwrap()
        .clone();
    assert!(kinds
        .iter()
        .any(|k| k["kind"] == "REFERRAL_ARRIVED" && k["enabled"] == false));
    assert!(kinds
        .iter()
        .any(|k| k["kind"] == "ESCALATION" && k["safetyCritical"] == true));
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let o = case("通知を止めた機関").open(&app, &t.concierge).await;
    refer_ok(&app, &t.concierge, &o.id, &bank).await;
    deliver(&app).await;
    assert!(sink.to(P_BANK).is_empty(), "{:?}", subjects(&sink.mails()));
}

backend_tests!(without_smtp_mail_rows_are_skipped_and_visible);

async fn without_smtp_mail_rows_are_skipped_and_visible(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let o = case("メール無しの環境").open(&app, &t.concierge).await;
    refer_ok(&app, &t.concierge, &o.id, &bank).await;
    deliver(&app).await;
    let rows = outbox(&app, &t.admin).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "SKIPPED");
    assert!(rows[0]["lastError"]
        .as_str()
        .unwrap()
        .contains("DXDESK_SMTP_URL"));
}

// ------------------------------------------------------------------ webhooks

mod receiver {
    use axum::{body::Bytes, http::HeaderMap, http::StatusCode, routing::post, Router};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use std::sync::{Arc, Mutex};

    /// What the receiver saw: (body, signature valid, status answered).
    #[derive(Default)]
    pub struct Seen {
        pub hits: Vec<(serde_json::Value, bool, u16)>,
        per_event: std::collections::HashMap<String, usize>,
    }

    /// A partner system: answers 500 to the first `fail` deliveries of each
    /// event, then 200 (`fail = usize::MAX`: never recovers). Verifies every
    /// signature the way the README tells a receiver to.
    pub async fn start(secret: Arc<Mutex<String>>, fail: usize) -> (String, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s2 = seen.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = s2.clone();
                let secret = secret.lock().unwrap().clone();
                async move {
                    let sig = headers
                        .get("x-dxdesk-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    let valid = verify(&secret, sig, &body);
                    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let mut g = seen.lock().unwrap();
                    let id = json["id"].as_str().unwrap_or("").to_owned();
                    let n = g.per_event.entry(id).or_default();
                    *n += 1;
                    let status = if *n <= fail {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    g.hits.push((json, valid, status.as_u16()));
                    status
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, seen)
    }

    /// `t=<unix>,v1=<hex>`: HMAC-SHA256 of "<t>.<body>" with the secret.
    fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
        let mut t = None;
        let mut v1 = None;
        for kv in header.split(',') {
            match kv.split_once('=') {
                Some(("t", x)) => t = Some(x.to_owned()),
                Some(("v1", x)) => v1 = Some(x.to_owned()),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::decode(v1).is_ok_and(|b| mac.verify_slice(&b).is_ok())
    }
}

async fn create_hook(app: &TestApp, admin: &str, inst: &str, url: &str) -> (String, String) {
    let r = app
        .gql(
            Some(admin),
            "mutation($i: ID!, $u: String!) { createWebhook(institutionId: $i, url: $u) { secret webhook { id url active } } }",
            json!({ "i": inst, "u": url }),
        )
        .await;
    let p = &r.ok()["createWebhook"];
    (
        p["webhook"]["id"].as_str().unwrap().to_owned(),
        p["secret"].as_str().unwrap().to_owned(),
    )
}

backend_tests!(webhooks_are_signed_retried_and_logged);

async fn webhooks_are_signed_retried_and_logged(backend: Backend) {
    let app = app_with_mail(backend, &Sink::start(), |c| {
        c.notify.max_attempts = 5;
        c.notify.backoff = std::time::Duration::from_secs(10);
    })
    .await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let univ = institution_id(&app, &t.concierge, UNIV).await;
    let secret = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (url, seen) = receiver::start(secret.clone(), 3).await;
    // Only the admin registers webhooks.
    let r = app
        .gql(Some(&t.concierge), "mutation($i: ID!) { createWebhook(institutionId: $i, url: \"https://x.example/h\") { secret } }", json!({ "i": bank }))
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"));
    let (_, s) = create_hook(&app, &t.admin, &bank, &url).await;
    *secret.lock().unwrap() = s;

    let o = case("Webhookの相談").open(&app, &t.concierge).await;
    refer_ok(&app, &t.concierge, &o.id, &bank).await;
    // Another institution's referral on the same case is never sent to the bank.
    refer_ok(&app, &t.concierge, &o.id, &univ).await;
    deliver(&app).await;
    let hook_rows = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .filter(|r| r["channel"] == "WEBHOOK")
            .collect()
    };
    // The receiver answered 500: each event (the status change and the
    // referral) waits for its retry.
    assert_eq!(seen.lock().unwrap().hits.len(), 2);
    let rows = hook_rows(outbox(&app, &t.admin).await);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "PENDING"), "{rows:?}");
    assert!(
        rows.iter().any(|r| r["lastError"] == "HTTP 500"),
        "{rows:?}"
    );
    // Each retry comes after its backoff (10 s, 20 s, 40 s …, ±20 %).
    for _ in 0..6 {
        app.clock.advance(chrono::Duration::seconds(60));
        deliver(&app).await;
    }
    let hits = seen.lock().unwrap().hits.clone();
    assert!(hits.iter().all(|h| h.1), "every signature verifies");
    assert_eq!(
        hits.len(),
        8,
        "3 × 500 then 200, for each of the two events"
    );
    let ok: Vec<&Value> = hits.iter().filter(|h| h.2 == 200).map(|h| &h.0).collect();
    assert_eq!(ok.len(), 2, "each delivered once after recovering: {ok:?}");
    let referred: Vec<&&Value> = ok.iter().filter(|b| b["type"] == "REFERRED").collect();
    assert_eq!(referred.len(), 1, "{ok:?}");
    let body = referred[0];
    assert_eq!(body["version"], 1);
    assert_eq!(body["case"]["reference"], o.reference);
    assert_eq!(body["institutionId"], bank);
    assert_eq!(body["referral"]["status"], "PENDING");
    for (b, _, _) in &hits {
        assert_ne!(b["type"], json!(null));
        assert!(
            b["referral"].is_null() || b["institutionId"] == bank,
            "only the bank's own referral: {b}"
        );
        assert!(
            !b.to_string().contains("ご対応をお願いします"),
            "no notes: {b}"
        );
    }
    let rows = hook_rows(outbox(&app, &t.admin).await);
    assert!(rows.iter().all(|r| r["status"] == "SENT"), "{rows:?}");
    assert!(rows.iter().all(|r| r["attempts"] == 4), "{rows:?}");
}

backend_tests!(a_webhook_that_never_recovers_shows_as_failed);

async fn a_webhook_that_never_recovers_shows_as_failed(backend: Backend) {
    let app = app_with_mail(backend, &Sink::start(), |c| {
        c.notify.max_attempts = 3;
        c.notify.backoff = std::time::Duration::from_secs(1);
    })
    .await;
    let t = Tokens::login_all(&app).await;
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let secret = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (url, seen) = receiver::start(secret.clone(), usize::MAX).await;
    let (_, s) = create_hook(&app, &t.admin, &bank, &url).await;
    *secret.lock().unwrap() = s;
    let o = case("届かないWebhook").open(&app, &t.concierge).await;
    refer_ok(&app, &t.concierge, &o.id, &bank).await;
    for _ in 0..5 {
        deliver(&app).await;
        app.clock.advance(chrono::Duration::seconds(30));
    }
    // Two events (the status change and the referral): three attempts each, then no more.
    assert_eq!(seen.lock().unwrap().hits.len(), 6);
    let rows: Vec<Value> = outbox(&app, &t.admin)
        .await
        .into_iter()
        .filter(|r| r["channel"] == "WEBHOOK")
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "FAILED" && r["attempts"] == 3),
        "{rows:?}"
    );
    assert_eq!(rows[0]["lastError"], "HTTP 500");
    assert_eq!(
        rows[0]["recipient"],
        json!(format!("http://{}/…", url.split('/').nth(2).unwrap()))
    );
    // The admin retries it: it is due again (and fails again here).
    let id = rows[0]["id"].as_str().unwrap();
    let r = app
        .gql(
            Some(&t.admin),
            "mutation($id: ID!) { retryOutboxEntry(id: $id) { status attempts } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.ok()["retryOutboxEntry"]["status"], "PENDING");
    deliver(&app).await;
    assert_eq!(seen.lock().unwrap().hits.len(), 7);
    let again = app
        .gql(
            Some(&t.admin),
            "mutation($id: ID!) { retryOutboxEntry(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(again.code(), Some("CONFLICT"), "{:?}", again.body);
}
