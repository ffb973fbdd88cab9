//! The permission matrix of PRODUCT.md "Who may do
//! what" — admin, concierge, the referred partner, another partner and another
//! lab's admin × every case query and mutation of the contract. What a viewer may
//! not read must look exactly like a case that does not exist, and no data of it
//! may appear anywhere in the answer.

use crate::backend_tests;
use crate::common;

use common::cases::*;
use common::{Backend, Gql, TestApp};
use serde_json::json;

const TITLE: &str = "極秘：次期主力製品の試作ライン計画";
const DESC: &str = "社外秘の試作ライン刷新について相談したい。";
const COMPANY: &str = "秘匿精機株式会社";

backend_tests!(permission_matrix, matrix, worker_threads = 2);

backend_tests!(
    every_allowed_operation_succeeds_for_the_desk,
    desk_lifecycles,
    worker_threads = 2
);

backend_tests!(
    partners_see_shared_notes_only_and_lose_the_case_when_declined_or_withdrawn,
    partner_views,
    worker_threads = 2
);

backend_tests!(
    anonymous_callers_are_unauthenticated_and_labs_are_sealed,
    anonymous_and_other_lab,
    worker_threads = 2
);

/// Every case operation of the contract, run against one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Case,
    CaseByReference,
    Suggest,
    UpdateCase,
    SetStage,
    SetStatus,
    Refer,
    Accept,
    Decline,
    Complete,
    Withdraw,
    NoteDesk,
    NotePartners,
    NoteBusiness,
    Resolve,
    Reopen,
    Close,
    Rotate,
}

use Op::*;

const ALL_OPS: &[Op] = &[
    Case,
    CaseByReference,
    Suggest,
    UpdateCase,
    SetStage,
    SetStatus,
    Refer,
    Accept,
    Decline,
    Complete,
    Withdraw,
    NoteDesk,
    NotePartners,
    NoteBusiness,
    Resolve,
    Reopen,
    Close,
    Rotate,
];

/// Operations only desk staff (ADMIN, CONCIERGE) may perform.
const DESK_OPS: &[Op] = &[
    Suggest, UpdateCase, SetStage, SetStatus, Refer, Withdraw, Resolve, Reopen, Close, Rotate,
];

/// Operations only the referral's own institution may perform.
const PARTNER_OPS: &[Op] = &[Accept, Decline, Complete];

/// What an operation acts on.
#[derive(Debug, Clone)]
struct Target {
    case_id: String,
    referral_id: String,
    reference: String,
    version: i64,
    institution_id: String,
}

async fn run(app: &TestApp, op: Op, t: &str, tg: &Target) -> Gql {
    let (c, r, v) = (tg.case_id.as_str(), tg.referral_id.as_str(), tg.version);
    match op {
        Case => get_case(app, t, c).await,
        CaseByReference => {
            app.gql(
                Some(t),
                &q_case_by_reference(),
                json!({ "r": tg.reference }),
            )
            .await
        }
        Suggest => suggest(app, t, c).await,
        UpdateCase => update_case(app, t, c, v, json!({ "title": "書き換えられたタイトル" })).await,
        SetStage => set_stage(app, t, c, v, "KNOW").await,
        SetStatus => set_status(app, t, c, v, "ON_HOLD").await,
        Refer => refer(app, t, c, &tg.institution_id, Some("横から紹介")).await,
        Accept => accept(app, t, r, Some("受けます")).await,
        Decline => decline(app, t, r, "OUT_OF_SCOPE", Some("断ります")).await,
        Complete => complete(app, t, r, "完了しました").await,
        Withdraw => withdraw(app, t, r, Some("取り下げ")).await,
        NoteDesk => add_note(app, t, c, "書き込み（DESK）", "DESK").await,
        NotePartners => add_note(app, t, c, "書き込み（PARTNERS）", "PARTNERS").await,
        NoteBusiness => add_note(app, t, c, "書き込み（BUSINESS）", "BUSINESS").await,
        Resolve => resolve(app, t, c, v, &["ADVICE_ONLY"], "解決").await,
        Reopen => reopen(app, t, c, Some("再開")).await,
        Close => close(app, t, c).await,
        Rotate => rotate(app, t, c).await,
    }
}

/// The body with the target's identifiers replaced by placeholders, so that the
/// answer about a real case and about a missing one can be compared.
fn normalized(r: &Gql, tg: &Target) -> String {
    serde_json::to_string(&r.body)
        .unwrap()
        .replace(&tg.case_id, "<case>")
        .replace(&tg.referral_id, "<referral>")
        .replace(&tg.reference, "<reference>")
}

/// The viewer must get exactly the answer it would get for a case that does
/// not exist, an error NOT_FOUND/FORBIDDEN (or a `null` case), and nothing of the case.
#[track_caller]
fn assert_hidden(real: &Gql, tg: &Target, missing: &Gql, ghost: &Target, what: &str) {
    assert_eq!(
        normalized(real, tg),
        normalized(missing, ghost),
        "{what}: the answer differs from the one for a case that does not exist"
    );
    let code = real.code();
    let null_case = real.body["data"]
        .as_object()
        .is_some_and(|d| d.values().all(|v| v.is_null()));
    assert!(
        matches!(code, Some("NOT_FOUND" | "FORBIDDEN")) || (code.is_none() && null_case),
        "{what}: expected NOT_FOUND/FORBIDDEN or null, got {}",
        real.body
    );
    assert_absent(real, &[TITLE, DESC, COMPANY], what);
}

/// The secret case: opened by the concierge, referred to the technology centre (pending).
async fn secret_case(app: &TestApp, t: &Tokens) -> (Opened, Target) {
    let opened = case(TITLE)
        .description(DESC)
        .business(business(COMPANY).corporate_number(&corporate_number("123456789012")))
        .open(app, &t.concierge)
        .await;
    let center = institution_id(app, &t.concierge, CENTER).await;
    let referral_id = refer_ok(app, &t.concierge, &opened.id, &center).await;
    let bank = institution_id(app, &t.concierge, BANK).await;
    let version = version(app, &t.concierge, &opened.id).await;
    let tg = Target {
        case_id: opened.id.clone(),
        referral_id,
        reference: opened.reference.clone(),
        version,
        institution_id: bank,
    };
    (opened, tg)
}

fn ghost_of(app: &TestApp, tg: &Target) -> Target {
    Target {
        case_id: uuid::Uuid::new_v4().to_string(),
        referral_id: uuid::Uuid::new_v4().to_string(),
        reference: format!("AOM-{}-999999", jst_year(app.state.now())),
        version: tg.version,
        institution_id: tg.institution_id.clone(),
    }
}

async fn matrix(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let (opened, tg) = secret_case(&app, &t).await;
    let ghost = ghost_of(&app, &tg);
    let before = case_ok(&app, &t.admin, &opened.id).await;

    // --- reads by those who may read
    for (who, tok) in [
        ("admin", &t.admin),
        ("concierge", &t.concierge),
        ("partner.center", &t.center),
    ] {
        let c = case_ok(&app, tok, &opened.id).await;
        assert_eq!(c["title"], TITLE, "{who}");
        let r = run(&app, CaseByReference, tok, &tg).await;
        assert_eq!(
            r.ok()["caseByReference"]["id"],
            opened.id.as_str(),
            "{who}: {}",
            r.body
        );
        let listed = listed_references(&app, tok, json!(null)).await;
        assert!(
            listed.contains(&opened.reference),
            "{who} does not list the case"
        );
    }
    for (who, tok) in [("admin", &t.admin), ("concierge", &t.concierge)] {
        let r = suggest(&app, tok, &opened.id).await;
        assert!(
            r.ok()["suggestInstitutions"].is_array(),
            "{who}: {}",
            r.body
        );
        let r = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
        assert!(r.ok()["overdueReferrals"].is_array(), "{who}: {}", r.body);
    }

    // --- the referred partner: reads, but no desk operation and no DESK note
    for &op in DESK_OPS.iter().chain([NoteDesk].iter()) {
        let r = run(&app, op, &t.center, &tg).await;
        assert_code(&r, "FORBIDDEN", &format!("partner.center {op:?}"));
    }
    // --- the desk may not act for an institution
    for (who, tok) in [("admin", &t.admin), ("concierge", &t.concierge)] {
        for &op in PARTNER_OPS {
            let r = run(&app, op, tok, &tg).await;
            assert_code(&r, "FORBIDDEN", &format!("{who} {op:?}"));
        }
    }

    // --- another partner and another lab's admin: as if the case did not exist
    for (who, tok) in [("partner.univ", &t.univ), ("admin@koda", &t.koda)] {
        for &op in ALL_OPS {
            let real = run(&app, op, tok, &tg).await;
            let missing = run(&app, op, tok, &ghost).await;
            assert_hidden(&real, &tg, &missing, &ghost, &format!("{who} {op:?}"));
            if who == "admin@koda"
                && (DESK_OPS.contains(&op) || matches!(op, NoteDesk | NotePartners | NoteBusiness))
            {
                // An admin may do these in general: only NOT_FOUND does not leak.
                assert!(
                    real.code() == Some("NOT_FOUND") || real.code().is_none(),
                    "{who} {op:?}: expected NOT_FOUND, got {}",
                    real.body
                );
            }
        }
        // A stale or wrong version must not reveal the case either (checked after permission).
        let stale = Target {
            version: 999,
            ..tg.clone()
        };
        let ghost_stale = Target {
            version: 999,
            ..ghost.clone()
        };
        for op in [UpdateCase, SetStage, SetStatus, Resolve] {
            let real = run(&app, op, tok, &stale).await;
            let missing = run(&app, op, tok, &ghost_stale).await;
            assert_hidden(
                &real,
                &stale,
                &missing,
                &ghost_stale,
                &format!("{who} {op:?} (wrong version)"),
            );
        }
        let listed = list_cases(&app, tok, json!(null), 100, None).await;
        assert_absent(
            &listed,
            &[TITLE, DESC, COMPANY, &opened.reference],
            &format!("{who} cases"),
        );
        let search = list_cases(&app, tok, json!({ "search": "試作ライン" }), 100, None).await;
        assert_absent(
            &search,
            &[TITLE, DESC, COMPANY, &opened.reference],
            &format!("{who} cases(search)"),
        );
        let businesses = app
            .gql(
                Some(tok),
                "query($s: String) { businesses(search: $s) { id name corporateNumber contactName } }",
                json!({ "s": "秘匿" }),
            )
            .await;
        assert_absent(
            &businesses,
            &[COMPANY, "津軽"],
            &format!("{who} businesses(search)"),
        );
        let overdue = app.gql(Some(tok), Q_OVERDUE, json!({})).await;
        assert_absent(
            &overdue,
            &[TITLE, COMPANY, &opened.reference],
            &format!("{who} overdueReferrals"),
        );
    }

    // --- nothing of the refused attempts changed the case
    let after = case_ok(&app, &t.admin, &opened.id).await;
    assert_eq!(after["version"], before["version"], "version changed");
    assert_eq!(after["title"], TITLE);
    assert_eq!(after["stage"], before["stage"]);
    assert_eq!(after["status"], "REFERRED");
    assert_eq!(after["notes"], json!([]), "a refused note was stored");
    assert_eq!(kinds(&after), kinds(&before), "events were added");
    assert_eq!(after["referrals"], before["referrals"], "referrals changed");

    // --- partners may not open cases; desk may
    let r = try_open_case(
        &app,
        &t.center,
        open_input("機関からの起票", "説明", new_business("機関起票株式会社")),
    )
    .await;
    assert_code(&r, "FORBIDDEN", "partner.center openCase");
    let r = try_open_case(
        &app,
        &t.univ,
        open_input("機関からの起票", "説明", new_business("機関起票株式会社")),
    )
    .await;
    assert_code(&r, "FORBIDDEN", "partner.univ openCase");

    // --- the referred partner may act on its own referral and write shared notes
    let r = run(&app, NotePartners, &t.center, &tg).await;
    assert_eq!(r.ok()["addNote"]["visibility"], "PARTNERS");
    let r = run(&app, NoteBusiness, &t.center, &tg).await;
    assert_eq!(r.ok()["addNote"]["visibility"], "BUSINESS");
    // ... but another partner may not act on it, even knowing its id
    let r = run(&app, Accept, &t.bank, &tg).await;
    assert_code_in(
        &r,
        &["NOT_FOUND", "FORBIDDEN"],
        "partner.bank accepts the centre's referral",
    );
    assert_absent(&r, &[TITLE, COMPANY], "partner.bank accept");
    let r = run(&app, Accept, &t.center, &tg).await;
    assert_eq!(r.ok()["acceptReferral"]["status"], "ACCEPTED");
    let r = run(&app, Complete, &t.univ, &tg).await;
    assert_code_in(
        &r,
        &["NOT_FOUND", "FORBIDDEN"],
        "partner.univ completes the centre's referral",
    );
    let r = run(&app, Complete, &t.center, &tg).await;
    assert_eq!(r.ok()["completeReferral"]["status"], "COMPLETED");
    // PRODUCT.md: pending, accepted *or completed* — the centre still reads the case.
    let c = case_ok(&app, &t.center, &opened.id).await;
    assert_eq!(c["title"], TITLE);
}

/// Admin and concierge each run every desk operation of the contract on a case of their own.
async fn desk_lifecycles(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let center = institution_id(&app, &t.admin, CENTER).await;
    let univ = institution_id(&app, &t.admin, UNIV).await;
    for (who, tok) in [("admin", &t.admin), ("concierge", &t.concierge)] {
        let o = open_simple(
            &app,
            tok,
            &format!("{who}の相談"),
            &format!("{who}商事株式会社"),
        )
        .await;
        let id = o.id.as_str();
        let v = version(&app, tok, id).await;
        let r = update_case(
            &app,
            tok,
            id,
            v,
            json!({ "title": format!("{who}の相談（改）"), "priority": "HIGH" }),
        )
        .await;
        assert_eq!(
            r.ok()["updateCase"]["title"],
            format!("{who}の相談（改）"),
            "{who}"
        );
        let v = r.ok()["updateCase"]["version"].as_i64().unwrap();
        let r = set_stage(&app, tok, id, v, "TRY").await;
        let v = r.ok()["setStage"]["version"].as_i64().unwrap();
        let r = set_status(&app, tok, id, v, "IN_PROGRESS").await;
        assert_eq!(r.ok()["setStatus"]["status"], "IN_PROGRESS", "{who}");
        let v = r.ok()["setStatus"]["version"].as_i64().unwrap();
        let r = set_status(&app, tok, id, v, "ON_HOLD").await;
        let v = r.ok()["setStatus"]["version"].as_i64().unwrap();
        let r = set_status(&app, tok, id, v, "IN_PROGRESS").await;
        r.ok();
        for vis in ["DESK", "PARTNERS", "BUSINESS"] {
            let r = add_note(&app, tok, id, &format!("{who} {vis}"), vis).await;
            assert_eq!(r.ok()["addNote"]["visibility"], vis, "{who}");
        }
        let r = rotate(&app, tok, id).await;
        let code = r.ok()["rotateAccessCode"].as_str().unwrap();
        assert_ne!(code, o.access_code, "{who}: rotate returned the old code");
        let ru = refer_ok(&app, tok, id, &univ).await;
        let r = withdraw(&app, tok, &ru, Some("別機関に変更")).await;
        assert_eq!(r.ok()["withdrawReferral"]["status"], "WITHDRAWN", "{who}");
        let rc = refer_ok(&app, tok, id, &center).await;
        accept(&app, &t.center, &rc, None).await.ok();
        complete(&app, &t.center, &rc, "試行完了").await.ok();
        let v = version(&app, tok, id).await;
        let r = resolve(&app, tok, id, v, &["TRIAL_RUN"], "試行を実施").await;
        assert_eq!(r.ok()["resolveCase"]["status"], "RESOLVED", "{who}");
        let r = reopen(&app, tok, id, Some("追加相談")).await;
        assert_eq!(r.ok()["reopenCase"]["status"], "IN_PROGRESS", "{who}");
        let v = r.ok()["reopenCase"]["version"].as_i64().unwrap();
        let r = resolve(&app, tok, id, v, &["ADVICE_ONLY"], "助言で完了").await;
        assert_eq!(r.ok()["resolveCase"]["status"], "RESOLVED", "{who}");
        let r = close(&app, tok, id).await;
        assert_eq!(r.ok()["closeCase"]["status"], "CLOSED", "{who}");
    }
}

async fn partner_views(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let (opened, tg) = secret_case(&app, &t).await;
    let ghost = ghost_of(&app, &tg);
    let bank = institution_id(&app, &t.concierge, BANK).await;
    let univ = institution_id(&app, &t.concierge, UNIV).await;

    add_note(
        &app,
        &t.concierge,
        &opened.id,
        "DESK限定：社長の個人的事情",
        "DESK",
    )
    .await
    .ok();
    add_note(
        &app,
        &t.concierge,
        &opened.id,
        "機関向け：試作は来月",
        "PARTNERS",
    )
    .await
    .ok();
    add_note(
        &app,
        &t.concierge,
        &opened.id,
        "ご本人向け：来週ご連絡します",
        "BUSINESS",
    )
    .await
    .ok();

    // The referred partner sees PARTNERS and BUSINESS notes, never DESK — nowhere in the answer.
    let r = get_case(&app, &t.center, &opened.id).await;
    let notes = r.ok()["case"]["notes"].as_array().unwrap().clone();
    let mut vis: Vec<&str> = notes
        .iter()
        .map(|n| n["visibility"].as_str().unwrap())
        .collect();
    vis.sort();
    assert_eq!(vis, ["BUSINESS", "PARTNERS"], "partner notes: {}", r.body);
    assert_absent(
        &r,
        &["DESK限定", "社長の個人的事情"],
        "partner.center case (incl. events)",
    );
    let r = app
        .gql(
            Some(&t.center),
            "query($id: ID!) { case(id: $id) { notes { visibility body } } }",
            json!({ "id": opened.id }),
        )
        .await;
    assert_absent(&r, &["DESK限定"], "partner.center notes");
    // The desk sees all three.
    assert_eq!(
        case_ok(&app, &t.concierge, &opened.id).await["notes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // DECLINED: the bank sees the case while pending, and not after declining.
    let rb = refer_ok(&app, &t.concierge, &opened.id, &bank).await;
    assert_eq!(case_ok(&app, &t.bank, &opened.id).await["title"], TITLE);
    assert!(listed_references(&app, &t.bank, json!(null))
        .await
        .contains(&opened.reference));
    decline(&app, &t.bank, &rb, "NOT_ELIGIBLE", Some("対象外です"))
        .await
        .ok();
    for op in [Case, CaseByReference] {
        let real = run(&app, op, &t.bank, &tg).await;
        let missing = run(&app, op, &t.bank, &ghost).await;
        assert_hidden(
            &real,
            &tg,
            &missing,
            &ghost,
            &format!("partner.bank after DECLINED {op:?}"),
        );
    }
    let listed = list_cases(&app, &t.bank, json!(null), 100, None).await;
    assert_absent(
        &listed,
        &[TITLE, COMPANY, &opened.reference],
        "partner.bank list after DECLINED",
    );
    let r = add_note(&app, &t.bank, &opened.id, "辞退後の書き込み", "PARTNERS").await;
    assert_code_in(&r, &["NOT_FOUND"], "partner.bank note after DECLINED");

    // WITHDRAWN: the university sees it while pending, and not after the desk withdraws.
    let ru = refer_ok(&app, &t.concierge, &opened.id, &univ).await;
    assert_eq!(case_ok(&app, &t.univ, &opened.id).await["title"], TITLE);
    withdraw(&app, &t.concierge, &ru, Some("紹介先を変更"))
        .await
        .ok();
    for op in [Case, CaseByReference] {
        let real = run(&app, op, &t.univ, &tg).await;
        let missing = run(&app, op, &t.univ, &ghost).await;
        assert_hidden(
            &real,
            &tg,
            &missing,
            &ghost,
            &format!("partner.univ after WITHDRAWN {op:?}"),
        );
    }
    let listed = list_cases(&app, &t.univ, json!(null), 100, None).await;
    assert_absent(
        &listed,
        &[TITLE, COMPANY, &opened.reference],
        "partner.univ list after WITHDRAWN",
    );
    let r = accept(&app, &t.univ, &ru, None).await;
    assert_code_in(
        &r,
        &["NOT_FOUND", "CONFLICT"],
        "partner.univ accepts a withdrawn referral",
    );
    assert_absent(&r, &[TITLE, COMPANY], "partner.univ accept withdrawn");
}

async fn anonymous_and_other_lab(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let t = Tokens::login_all(&app).await;
    let (opened, _tg) = secret_case(&app, &t).await;

    // No token: every case operation needs a login.
    let r = app.gql(None, &q_case(), json!({ "id": opened.id })).await;
    assert_code(&r, "UNAUTHENTICATED", "anonymous case");
    assert_absent(&r, &[TITLE, COMPANY], "anonymous case");
    let r = app.gql(None, Q_CASES, json!({})).await;
    assert_code(&r, "UNAUTHENTICATED", "anonymous cases");
    let r = app
        .gql(
            None,
            "mutation($i: OpenCaseInput!) { openCase(input: $i) { accessCode } }",
            json!({ "i": open_input("匿名", "匿名", new_business("匿名株式会社")) }),
        )
        .await;
    assert_code(&r, "UNAUTHENTICATED", "anonymous openCase");
    let r = add_note(&app, "not-a-token", &opened.id, "x", "BUSINESS").await;
    assert_code(&r, "UNAUTHENTICATED", "bad token addNote");

    // Another lab's admin opens a case in its own lab...
    let k = case("幸田の相談")
        .description("幸田町の工場の相談")
        .business(business("幸田部品工業株式会社").municipality("幸田町"))
        .open(&app, &t.koda)
        .await;
    assert!(
        k.reference.starts_with("KOD-"),
        "koda reference {}",
        k.reference
    );
    // ... which Aomori's desk does not see ...
    let r = get_case(&app, &t.admin, &k.id).await;
    assert!(
        r.body["data"]["case"].is_null(),
        "aomori admin reads a koda case: {}",
        r.body
    );
    assert_absent(
        &r,
        &["幸田の相談", "幸田部品工業"],
        "aomori admin case(koda)",
    );
    let listed = list_cases(&app, &t.admin, json!(null), 100, None).await;
    assert_absent(
        &listed,
        &["幸田の相談", "幸田部品工業", &k.reference],
        "aomori list",
    );
    // ... and it cannot open a case on an Aomori business.
    let business_id = case_ok(&app, &t.admin, &opened.id).await["business"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let input = case("他ラボの事業者で起票")
        .description("説明")
        .business_id(&business_id);
    let r = input.try_open(&app, &t.koda).await;
    assert_code_in(
        &r,
        &["NOT_FOUND", "BAD_USER_INPUT"],
        "koda openCase on an aomori business",
    );
    assert_absent(&r, &[COMPANY], "koda openCase on an aomori business");
    // ... nor refer its case to an Aomori institution.
    let center = institution_id(&app, &t.admin, CENTER).await;
    let r = refer(&app, &t.koda, &k.id, &center, None).await;
    assert!(
        r.code().is_some(),
        "koda referred to an aomori institution: {}",
        r.body
    );
    assert_absent(&r, &[CENTER], "koda refer to aomori institution");
}
