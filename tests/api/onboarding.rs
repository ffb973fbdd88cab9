//! Issue 11, a real lab can start: `dxdesk lab import` and `dxdesk user create`
//! on a fresh database (a third prefecture, never `seed-demo`), set-password
//! and reset links, password changes ending other sessions, the password
//! policy, admin edits of users, lab settings and the pick-up deadline, and
//! login throttling that does not lock out the innocent.

use crate::backend_tests;
use crate::common::cases::*;
use crate::common::json_schema::validate;
use crate::common::{self, Backend, TestApp, PASSWORD};
use chrono::{DateTime, Duration, TimeZone, Utc};
use dxdesk::store::Store;
use serde_json::{json, Value};
use std::process::Command;

fn dxdesk(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dxdesk"));
    c.env_remove("DXDESK_ENV")
        .env_remove("DXDESK_JWT_SECRET")
        .env("DATABASE_URL", url)
        .env("DXDESK_PUBLIC_URL", "https://desk.iwate.example/")
        .env("RUST_LOG", "error");
    c
}

/// A hand-made lab file of a third prefecture (neither Aomori nor Koda).
fn iwate(bank_name: &str, extra_municipality: &str) -> Value {
    json!({
        "labs": [{
            "code": "IWT",
            "name": "岩手県DX推進ラボ",
            "name_en": "Iwate Prefecture DX Promotion Lab",
            "selected": "2024-09-27",
            "regions": [
                {"code": "KENO", "name": "県央", "municipalities": ["盛岡市", "滝沢市", "雫石町", extra_municipality]},
                {"code": "KENNAN", "name": "県南", "municipalities": ["花巻市", "北上市", "奥州市"]}
            ],
            "institutions": [
                {"name": "岩手県工業技術センター", "kind": "INDUSTRY_SUPPORT", "tags": ["IoT", "ものづくり"]},
                {"name": "岩手大学", "kind": "UNIVERSITY", "tags": ["AI"], "pickup_days": 5},
                {"name": bank_name, "formerly": ["株式会社岩手銀行"], "kind": "FINANCIAL", "tags": ["資金調達"], "regions": ["KENO"]}
            ],
            "kpi_targets": [
                {"name": "DX相談件数", "unit": "件", "per_fiscal_year": 100}
            ]
        }]
    })
}

fn write_file(v: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dxdesk-lab-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("iwate.json");
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the import may change, with every `updated_at`: equal snapshots mean
/// nothing was written.
async fn snapshot(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    for lab in store.labs().await.unwrap() {
        out.push(format!(
            "lab {} {} {:?} {}",
            lab.code,
            lab.name,
            lab.regions.0,
            store
                .lab_settings(lab.id)
                .await
                .unwrap()
                .map(|s| s.updated_at.to_rfc3339())
                .unwrap_or_default()
        ));
        for i in store.institutions(lab.id).await.unwrap() {
            out.push(format!(
                "inst {} {} {:?} {:?} {} {:?}",
                i.id,
                i.name,
                i.tags.0,
                i.regions.0,
                i.updated_at.to_rfc3339(),
                store.institution_pickup_days(i.id).await.unwrap()
            ));
        }
        for k in store.kpi_targets(lab.id, None).await.unwrap() {
            out.push(format!(
                "kpi {} {} {}",
                k.name,
                k.target,
                k.updated_at.to_rfc3339()
            ));
        }
    }
    out
}

fn link_token(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("https://desk.iwate.example/set-password#"))
        .unwrap_or_else(|| panic!("no link in {stdout}"));
    line.split_once('#').unwrap().1.trim().to_owned()
}

const Q_RESET: &str = "mutation($t:String!,$p:String!){ resetPassword(token:$t,newPassword:$p){ accessToken refreshToken user{ id email role } } }";

backend_tests!(
    a_third_prefecture_starts_without_the_demo,
    fresh_lab,
    worker_threads = 2
);

async fn fresh_lab(backend: Backend) {
    let (store, url) = common::fresh_db(backend).await;
    let file = write_file(&iwate("株式会社岩手銀行", "紫波町"));

    // Import, then the same file again: nothing changes.
    let (ok, out, err) = run(dxdesk(&url).args(["lab", "import"]).arg(&file));
    assert!(ok, "{out}{err}");
    assert!(out.contains("IWT"), "{out}");
    let first = snapshot(store.as_ref()).await;
    assert!(
        first.iter().filter(|l| l.starts_with("inst ")).count() == 3,
        "{first:#?}"
    );
    assert!(
        first.iter().any(|l| l.starts_with("kpi DX相談件数 100")),
        "{first:#?}"
    );
    let (ok, out, err) = run(dxdesk(&url).args(["lab", "import"]).arg(&file));
    assert!(ok, "{out}{err}");
    assert!(out.contains("no change"), "{out}");
    assert_eq!(snapshot(store.as_ref()).await, first);

    // One bad municipality: refused with its line, nothing written.
    let bad = write_file(&iwate("株式会社岩手銀行 改", "Shiwa"));
    let text = std::fs::read_to_string(&bad).unwrap();
    let line = text.lines().position(|l| l.contains("\"Shiwa\"")).unwrap() + 1;
    let (ok, out, err) = run(dxdesk(&url).args(["lab", "import"]).arg(&bad));
    assert!(!ok, "{out}{err}");
    assert!(
        err.contains(&format!(":{line}: $.labs[0].regions[0].municipalities[3]")),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(store.as_ref()).await, first);

    // The first admin, with a set-password link (no password is ever printed).
    let (ok, out, err) = run(dxdesk(&url).args([
        "user",
        "create",
        "--lab",
        "IWT",
        "--email",
        "jimukyoku@iwate.example",
        "--name",
        "岩手県DX推進課",
        "--role",
        "ADMIN",
    ]));
    assert!(ok, "{out}{err}");
    let token = link_token(&out);
    // Clear one-line refusals.
    for (args, says) in [
        (
            vec![
                "--lab",
                "IWT",
                "--email",
                "jimukyoku@iwate.example",
                "--name",
                "x",
                "--role",
                "CONCIERGE",
            ],
            "already registered",
        ),
        (
            vec![
                "--lab",
                "NOPE",
                "--email",
                "a@iwate.example",
                "--name",
                "x",
                "--role",
                "CONCIERGE",
            ],
            "unknown lab",
        ),
        (
            vec![
                "--lab",
                "IWT",
                "--email",
                "b@iwate.example",
                "--name",
                "x",
                "--role",
                "PARTNER",
            ],
            "needs --institution",
        ),
        (
            vec![
                "--lab",
                "IWT",
                "--email",
                "c@iwate.example",
                "--name",
                "x",
                "--role",
                "PARTNER",
                "--institution",
                "存在しない機関",
            ],
            "unknown institution",
        ),
    ] {
        let (ok, out, err) = run(dxdesk(&url).args(["user", "create"]).args(&args));
        assert!(!ok, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // --password-stdin
    let mut child = dxdesk(&url)
        .args([
            "user",
            "create",
            "--lab",
            "IWT",
            "--email",
            "kanri2@iwate.example",
            "--name",
            "副管理者",
            "--role",
            "ADMIN",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"iwate desk second admin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("set-password"));

    // Serve it: the admin sets a password through the link and signs in.
    let app =
        common::start_instance(backend, store.clone(), url.clone(), common::test_config()).await;
    let r = app.login_payload("jimukyoku@iwate.example", "").await;
    assert_eq!(r.code(), Some("UNAUTHENTICATED"));
    let r = app
        .gql(None, Q_RESET, json!({"t": token, "p": "password1234"}))
        .await;
    assert_eq!(
        r.code(),
        Some("BAD_USER_INPUT"),
        "common password: {}",
        r.body
    );
    let admin_pw = "iwate secretariat 2025";
    let r = app
        .gql(None, Q_RESET, json!({"t": token, "p": admin_pw}))
        .await;
    assert_eq!(r.ok()["resetPassword"]["user"]["role"], "ADMIN");
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": token, "p": "another passphrase"}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "single use: {}", r.body);
    let admin = login_with(&app, "jimukyoku@iwate.example", admin_pw).await;
    assert!(app
        .login_payload("kanri2@iwate.example", "iwate desk second admin")
        .await
        .ok()["login"]["accessToken"]
        .is_string());

    // The admin creates a concierge and a partner, the concierge opens a case and refers it.
    let bank = institution_id(&app, &admin, "株式会社岩手銀行").await;
    for (email, role, inst) in [
        ("concierge@iwate.example", "CONCIERGE", Value::Null),
        ("bank@iwate.example", "PARTNER", json!(bank)),
    ] {
        let r = app
            .gql(
                Some(&admin),
                "mutation($i: CreateUserInput!){ createUser(input:$i){ id } }",
                json!({"i": {"email": email, "displayName": email, "password": "iwate staff pass 1", "role": role, "institutionId": inst}}),
            )
            .await;
        r.ok();
    }
    let concierge = login_with(&app, "concierge@iwate.example", "iwate staff pass 1").await;
    let opened = case("岩手の相談")
        .business(business("盛岡製作所").municipality("盛岡市"))
        .open(&app, &concierge)
        .await;
    let r = refer(&app, &concierge, &opened.id, &bank, None).await;
    let referral = r.ok()["referCase"]["id"].as_str().unwrap().to_owned();

    // The bank renames itself: the import renames the institution; the referral stays its own.
    let renamed = write_file(&iwate("株式会社いわて銀行", "紫波町"));
    let (ok, out, err) = run(dxdesk(&url).args(["lab", "import"]).arg(&renamed));
    assert!(ok, "{out}{err}");
    assert!(out.contains("updated 1"), "{out}");
    let c = case_ok(&app, &concierge, &opened.id).await;
    let refs = c["referrals"].as_array().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["id"], referral.as_str());
    assert_eq!(refs[0]["institution"]["name"], "株式会社いわて銀行");
    assert_eq!(refs[0]["institution"]["id"], bank.as_str());
    let partner = login_with(&app, "bank@iwate.example", "iwate staff pass 1").await;
    assert!(app
        .gql(Some(&partner), "{ me { email } }", json!({}))
        .await
        .ok()["me"]["email"]
        .is_string());

    // An institution missing from the file is reported and stays active.
    let mut fewer = iwate("株式会社いわて銀行", "紫波町");
    fewer["labs"][0]["institutions"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let (ok, out, err) = run(dxdesk(&url).args(["lab", "import"]).arg(write_file(&fewer)));
    assert!(ok, "{out}{err}");
    assert!(out.contains("岩手県工業技術センター"), "{out}");
    let lab = store.lab_by_code("IWT").await.unwrap().unwrap();
    assert!(store
        .institutions(lab.id)
        .await
        .unwrap()
        .iter()
        .all(|i| i.active));
}

async fn login_with(app: &TestApp, email: &str, pw: &str) -> String {
    let r = app.login_payload(email, pw).await;
    r.ok()["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{email}: {}", r.body))
        .to_owned()
}

#[test]
fn seed_demo_refuses_in_production() {
    let dir = std::env::temp_dir().join(format!("dxdesk-prod-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("p.db").display());
    let (ok, out, err) = run(dxdesk(&url)
        .env("DXDESK_ENV", "production")
        .arg("seed-demo"));
    assert!(!ok, "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--i-know-this-is-demo-data") && err.contains("lab import"),
        "{err}"
    );
}

// ------------------------------------------------------------ the lab file's schema

#[test]
fn the_lab_file_schema_accepts_the_reference_and_test_files_and_refuses_mistakes() {
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/lab-file.schema.json")).unwrap();
    let reference: Value = serde_json::from_str(include_str!("../../data/labs.json")).unwrap();
    let check = |doc: &Value| {
        let mut errors = Vec::new();
        validate(&schema, &schema, doc, "$", &mut errors);
        errors
    };
    assert_eq!(check(&reference), Vec::<String>::new());
    assert_eq!(
        check(&iwate("株式会社岩手銀行", "紫波町")),
        Vec::<String>::new()
    );
    let mut typo = iwate("株式会社岩手銀行", "紫波町");
    typo["labs"][0]["regions"][0]["municipalites"] = json!([]);
    assert!(
        check(&typo).iter().any(|e| e.contains("municipalites")),
        "{:?}",
        check(&typo)
    );
    let mut kind = iwate("株式会社岩手銀行", "紫波町");
    kind["labs"][0]["institutions"][0]["kind"] = json!("BANK");
    assert!(!check(&kind).is_empty());
    // What the schema accepts, the importer accepts too (and the other way round for these).
    assert!(dxdesk::domain::lab_file::parse(include_str!("../../data/labs.json")).is_ok());
    assert!(dxdesk::domain::lab_file::parse(&typo.to_string()).is_err());
    assert!(dxdesk::domain::lab_file::parse(&kind.to_string()).is_err());
}

// ------------------------------------------------------------ passwords

const Q_CHANGE: &str =
    "mutation($c:String!,$n:String!){ changePassword(currentPassword:$c,newPassword:$n) }";
const Q_ME: &str = "{ me { email } }";

backend_tests!(password_change_and_reset_end_other_sessions, passwords);

async fn passwords(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let a = app.login(CONCIERGE).await;
    let b = app.login(CONCIERGE).await;
    // The policy: a common password is refused, whatever its length.
    let r = app
        .gql(
            Some(&a),
            Q_CHANGE,
            json!({"c": PASSWORD, "n": "password1234"}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    assert_eq!(r.body["errors"][0]["extensions"]["field"], "newPassword");
    let r = app
        .gql(
            Some(&a),
            Q_CHANGE,
            json!({"c": "wrong current pw", "n": "a fine new passphrase"}),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["field"], "currentPassword",
        "{}",
        r.body
    );
    let r = app
        .gql(
            Some(&a),
            Q_CHANGE,
            json!({"c": PASSWORD, "n": "a fine new passphrase"}),
        )
        .await;
    assert_eq!(r.ok()["changePassword"], true);
    // This session goes on, the other one ended; the old password is gone.
    assert!(app.gql(Some(&a), Q_ME, json!({})).await.ok()["me"]["email"].is_string());
    assert_eq!(
        app.gql(Some(&b), Q_ME, json!({})).await.code(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        app.login_payload(CONCIERGE, PASSWORD).await.code(),
        Some("UNAUTHENTICATED")
    );
    let c = login_with(&app, CONCIERGE, "a fine new passphrase").await;

    // An admin's link resets it and ends every session.
    let admin = app.login(ADMIN).await;
    let me = app.gql(Some(&c), "{ me { id } }", json!({})).await;
    let uid = me.ok()["me"]["id"].as_str().unwrap().to_owned();
    let r = app
        .gql(
            Some(&admin),
            "mutation($u:ID!){ issuePasswordLink(userId:$u) }",
            json!({"u": uid}),
        )
        .await;
    let link = r.ok()["issuePasswordLink"].as_str().unwrap().to_owned();
    assert!(link.contains("/set-password#"), "{link}");
    let token = link.split_once('#').unwrap().1;
    // A partner cannot issue links.
    let p = app.login(P_BANK).await;
    let r = app
        .gql(
            Some(&p),
            "mutation($u:ID!){ issuePasswordLink(userId:$u) }",
            json!({"u": uid}),
        )
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"));
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": token, "p": "reset passphrase one"}),
        )
        .await;
    let fresh = r.ok()["resetPassword"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.gql(Some(&a), Q_ME, json!({})).await.code(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        app.gql(Some(&c), Q_ME, json!({})).await.code(),
        Some("UNAUTHENTICATED")
    );
    assert!(app.gql(Some(&fresh), Q_ME, json!({})).await.ok()["me"]["email"].is_string());
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": token, "p": "reset passphrase two"}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "used twice: {}", r.body);

    // A reset link: stored hashed, works within the hour, not after (frozen clock).
    let store = app.state.store.as_ref();
    let user = store.user_by_email(CONCIERGE).await.unwrap().unwrap();
    use dxdesk::store::accounts::TokenPurpose;
    let late =
        dxdesk::service::accounts::issue_link(store, user.id, TokenPurpose::Reset, app.state.now())
            .await
            .unwrap();
    let soon =
        dxdesk::service::accounts::issue_link(store, user.id, TokenPurpose::Reset, app.state.now())
            .await
            .unwrap();
    assert!(late.contains("/reset-password#"));
    let (late, soon) = (
        late.split_once('#').unwrap().1.to_owned(),
        soon.split_once('#').unwrap().1.to_owned(),
    );
    app.clock.advance(Duration::minutes(59));
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": soon, "p": "reset within the hour"}),
        )
        .await;
    assert!(r.ok()["resetPassword"]["accessToken"].is_string());
    let other =
        dxdesk::service::accounts::issue_link(store, user.id, TokenPurpose::Reset, app.state.now())
            .await
            .unwrap();
    app.clock.advance(Duration::minutes(61));
    let other = other.split_once('#').unwrap().1;
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": other, "p": "reset after the hour"}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "expired: {}", r.body);
    // Using one link ended the account's other links too.
    let r = app
        .gql(
            None,
            Q_RESET,
            json!({"t": late, "p": "reset after the hour"}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"));
    let raw_tokens: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar("SELECT token_hash FROM account_tokens")
            .fetch_all(&common::sqlite_pool(&app.state.store))
            .await
            .unwrap(),
        Backend::Postgres => sqlx::query_scalar("SELECT token_hash FROM account_tokens")
            .fetch_all(&common::pg_pool(&app.state.store))
            .await
            .unwrap(),
    };
    assert!(
        !raw_tokens.iter().any(|h| h == other || h == &late),
        "stored hashed"
    );

    // requestPasswordReset never tells whether the account exists.
    for email in [CONCIERGE, "nobody@aomori.example"] {
        let r = app
            .gql(
                None,
                "mutation($e:String!){ requestPasswordReset(email:$e) }",
                json!({"e": email}),
            )
            .await;
        assert_eq!(r.ok()["requestPasswordReset"], true);
    }
}

backend_tests!(an_admin_edits_users, admin_edits);

async fn admin_edits(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let bank = app.login(P_BANK).await;
    let users = app
        .gql(
            Some(&admin),
            "{ users { id email role hasPassword language } }",
            json!({}),
        )
        .await;
    let id_of = |email: &str| {
        users.ok()["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let q = "mutation($id:ID!,$i:UpdateUserInput!){ updateUser(id:$id,input:$i){ displayName role language institution { name } } }";
    let r = app
        .gql(
            Some(&admin),
            q,
            json!({"id": id_of(CONCIERGE), "i": {"displayName": "佐藤 花子", "language": "EN"}}),
        )
        .await;
    assert_eq!(r.ok()["updateUser"]["displayName"], "佐藤 花子");
    assert_eq!(r.ok()["updateUser"]["language"], "EN");
    // A partner made concierge loses the institution, and its sessions end.
    let r = app
        .gql(
            Some(&admin),
            q,
            json!({"id": id_of(P_BANK), "i": {"role": "CONCIERGE"}}),
        )
        .await;
    assert_eq!(r.ok()["updateUser"]["role"], "CONCIERGE");
    assert!(r.ok()["updateUser"]["institution"].is_null());
    assert_eq!(
        app.gql(Some(&bank), Q_ME, json!({})).await.code(),
        Some("UNAUTHENTICATED")
    );
    // A partner needs an institution; an admin keeps their own role.
    let r = app
        .gql(
            Some(&admin),
            q,
            json!({"id": id_of(CONCIERGE), "i": {"role": "PARTNER"}}),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["field"], "institutionId",
        "{}",
        r.body
    );
    let r = app
        .gql(
            Some(&admin),
            q,
            json!({"id": id_of(ADMIN), "i": {"role": "CONCIERGE"}}),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"));
    let center = institution_id(&app, &admin, CENTER).await;
    let r = app
        .gql(
            Some(&admin),
            q,
            json!({"id": id_of(CONCIERGE), "i": {"role": "PARTNER", "institutionId": center}}),
        )
        .await;
    assert_eq!(r.ok()["updateUser"]["institution"]["name"], CENTER);
    // Another lab's user is not found.
    let koda = app.login(KODA_ADMIN).await;
    let r = app
        .gql(
            Some(&koda),
            q,
            json!({"id": id_of(CONCIERGE), "i": {"displayName": "x"}}),
        )
        .await;
    assert_eq!(r.code(), Some("NOT_FOUND"));
}

// ------------------------------------------------------------ lab settings

fn jst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(9 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

backend_tests!(lab_settings_set_the_pickup_deadline, lab_settings);

async fn lab_settings(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let concierge = app.login(CONCIERGE).await;
    let q = "mutation($i:LabSettingsInput!){ updateLabSettings(input:$i){ pickupDays closureDays escalationRepeatDays displayName contactLine } }";
    let r = app
        .gql(Some(&concierge), q, json!({"i": {"pickupDays": 4}}))
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"));
    let r = app
        .gql(Some(&admin), q, json!({"i": {"closureDays": ["8/13"]}}))
        .await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["field"], "closureDays",
        "{}",
        r.body
    );
    let r = app
        .gql(Some(&admin), q, json!({"i": {"pickupDays": 3, "closureDays": ["--08-14", "2025-08-13"], "escalationRepeatDays": 2, "displayName": "青森県DX総合窓口", "contactLine": "017-000-0000（平日9時〜17時）"}}))
        .await;
    let s = &r.ok()["updateLabSettings"];
    assert_eq!(s["closureDays"], json!(["--08-14", "2025-08-13"]));
    assert_eq!(s["escalationRepeatDays"], 2);
    let r = app
        .gql(
            Some(&concierge),
            "{ labSettings { pickupDays contactLine } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["labSettings"]["contactLine"],
        "017-000-0000（平日9時〜17時）"
    );

    // Tue 2025-08-12: 3 business days skip the lab's 8/13 and 8/14 → Tue 8/19.
    app.clock.set(jst(2025, 8, 12, 10));
    let bank = institution_id(&app, &admin, BANK).await;
    let center = institution_id(&app, &admin, CENTER).await;
    let c = open_simple(&app, &concierge, "締切の確認", "締切株式会社").await;
    let r = refer(&app, &concierge, &c.id, &bank, None).await;
    assert_eq!(
        parse_time(&r.ok()["referCase"]["pickupDeadline"]),
        jst(2025, 8, 20, 0) - Duration::milliseconds(1)
    );
    // The institution's own value wins: 1 business day → Fri 8/15.
    let r = app
        .gql(
            Some(&admin),
            "mutation($id:ID!){ setInstitutionPickupDays(id:$id, days:1){ name pickupDays } }",
            json!({"id": center}),
        )
        .await;
    assert_eq!(r.ok()["setInstitutionPickupDays"]["pickupDays"], 1);
    let r = refer(&app, &concierge, &c.id, &center, None).await;
    assert_eq!(
        parse_time(&r.ok()["referCase"]["pickupDeadline"]),
        jst(2025, 8, 16, 0) - Duration::milliseconds(1)
    );
}

// ------------------------------------------------------------ login throttling

const Q_LOGIN: &str =
    "mutation($e:String!,$p:String!){ login(email:$e,password:$p){ accessToken } }";

fn patient() -> dxdesk::config::Config {
    let mut c = common::test_config();
    c.trust_proxy = true;
    c.hash_queue_wait = std::time::Duration::from_secs(60);
    c
}

backend_tests!(
    guessing_does_not_lock_out_the_owner_and_spraying_is_refused,
    throttling
);

async fn throttling(backend: Backend) {
    let app = common::spawn_app_with(backend, patient()).await;
    let login = |ip: &'static str, who: String, pw: &'static str| {
        let app = &app;
        async move { gql_from(app, ip, None, Q_LOGIN, json!({"e": who, "p": pw})).await }
    };
    // The partner signs in from its office once: that address is known.
    assert!(
        login("192.0.2.10", P_CENTER.into(), PASSWORD).await.ok()["login"]["accessToken"]
            .is_string()
    );
    // 200 wrong passwords for the partner's account from 5 addresses.
    let ips = [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
        "198.51.100.5",
    ];
    let mut refused = 0;
    for i in 0..200 {
        let r = login(ips[i % 5], P_CENTER.into(), "wrong password!").await;
        match r.code() {
            Some("RATE_LIMITED") => refused += 1,
            Some("UNAUTHENTICATED") => {}
            other => panic!("{other:?}: {}", r.body),
        }
    }
    assert!(refused >= 190, "{refused}");
    // A new address is slowed, even with the right password; the owner from
    // its known address gets in.
    assert_eq!(
        login("192.0.2.77", P_CENTER.into(), PASSWORD).await.code(),
        Some("RATE_LIMITED")
    );
    assert!(
        login("192.0.2.10", P_CENTER.into(), PASSWORD).await.ok()["login"]["accessToken"]
            .is_string()
    );
    // Someone else's guessing at one account does not slow another account.
    assert!(
        login("198.51.100.1", P_BANK.into(), PASSWORD).await.ok()["login"]["accessToken"]
            .is_string()
    );

    // 60 failures over 60 accounts from one address: refused past the threshold.
    assert!(
        login("203.0.113.9", P_BANK.into(), PASSWORD).await.ok()["login"]["accessToken"]
            .is_string()
    );
    let max = dxdesk::ratelimit::LOGIN_PER_ADDRESS.max as usize;
    assert!(max >= 50);
    let mut codes = Vec::new();
    for i in 0..60 {
        let r = login(
            "203.0.113.9",
            format!("nobody{i}@example.jp"),
            "wrong password!",
        )
        .await;
        codes.push(r.code().unwrap_or("").to_owned());
    }
    assert!(
        codes[..max].iter().all(|c| c == "UNAUTHENTICATED"),
        "{codes:?}"
    );
    assert!(
        codes[max..].iter().all(|c| c == "RATE_LIMITED"),
        "{codes:?}"
    );
    // An account that knows the address still gets in from it; others are refused there.
    assert!(
        login("203.0.113.9", P_BANK.into(), PASSWORD).await.ok()["login"]["accessToken"]
            .is_string()
    );
    assert_eq!(
        login("203.0.113.9", P_UNIV.into(), PASSWORD).await.code(),
        Some("RATE_LIMITED")
    );
}
