//! The lab's year: the activity report, KPI targets and the exports, on both
//! backends (the shared harness: each test in its own database or schema).
//!
//! The fixture is fiscal year 2024 (令和6年度) of lab TST, written with plain
//! SQL: cases on both sides of both fiscal-year boundaries (March 31 23:59 and
//! April 1 00:00 JST), pick-ups across Golden Week and the year-end closure,
//! outcomes, stage changes, and a second lab whose data must never appear.
//! Every figure of the report is asserted exactly.

use crate::backend_tests;
use crate::common::json_schema::validate;
use crate::common::{self, Backend};
use chrono::{DateTime, NaiveDate, Utc};
use dxdesk::auth::Authn;
use dxdesk::clock::FixedClock;
use dxdesk::config::Config;
use dxdesk::domain::business_days::pickup_deadline;
use dxdesk::domain::jst;
use dxdesk::domain::permissions::Viewer;
use dxdesk::domain::types::*;
use dxdesk::graphql::RequestCtx;
use dxdesk::service::reports::ExportKind;
use dxdesk::state::AppState;
use dxdesk::store::{InstitutionRow, LabRow, Region, ReportScope, SharedStore, UserRow};
use serde_json::{json, Value};
use sqlx::types::Json;
use std::sync::Arc;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

/// A bind value for the fixture's plain SQL.
#[derive(Clone, Debug)]
enum V {
    Id(Uuid),
    OptId(Option<Uuid>),
    S(&'static str),
    Str(String),
    OptS(Option<&'static str>),
    T(DateTime<Utc>),
    OptT(Option<DateTime<Utc>>),
    I(i64),
    B(bool),
    J(Value),
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a.clone() {
                V::Id(v) => q.bind(v),
                V::OptId(v) => q.bind(v),
                V::S(v) => q.bind(v),
                V::Str(v) => q.bind(v),
                V::OptS(v) => q.bind(v),
                V::T(v) => q.bind(v),
                V::OptT(v) => q.bind(v),
                V::I(v) => q.bind(v),
                V::B(v) => q.bind(v),
                V::J(v) => q.bind(Json(v)),
            };
        }
        q
    }};
}

impl Pool {
    async fn exec(&self, sql: &str, args: &[V]) {
        match self {
            Pool::Sqlite(p) => {
                bind_all!(sqlx::query(sql), args)
                    .execute(p)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Pool::Pg(p) => {
                bind_all!(sqlx::query(sql), args)
                    .execute(p)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }
}

/// A fresh store from the shared harness and its pool, for the fixture's plain SQL.
async fn fresh(backend: Backend) -> (SharedStore, Pool) {
    let store = common::fresh_store(backend).await;
    let pool = match backend {
        Backend::Sqlite => Pool::Sqlite(common::sqlite_pool(&store)),
        Backend::Postgres => Pool::Pg(common::pg_pool(&store)),
    };
    (store, pool)
}

/// A Japanese wall-clock time as UTC.
fn jst(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    jst::to_utc(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap(),
    )
}

// ---------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------

const CONTACT: &str = "山田太郎";
const EMAIL: &str = "taro.yamada@example.jp";
const PHONE: &str = "017-777-1234";
const PASSWORD: &str = "report-pass-2024";

struct Fx {
    store: SharedStore,
    pool: Pool,
    state: AppState,
    lab: Uuid,
    bank: Uuid,
    univ: Uuid,
    center: Uuid,
    admin: UserRow,
    concierge: UserRow,
    partner: UserRow,
    other_admin: UserRow,
    /// case ids and references by name
    cases: std::collections::HashMap<&'static str, Uuid>,
    refs: std::collections::HashMap<&'static str, String>,
    event_seq: std::collections::HashMap<Uuid, i64>,
}

fn now() -> DateTime<Utc> {
    jst(2025, 4, 10, 12, 0, 0)
}

fn config() -> Config {
    Config::from_lookup(|k| match k {
        "DXDESK_JWT_SECRET" => Some("B4xYHAVisutpPIX++/E8rkrUx3TkTuIpkb5fu2VXDGJJ".to_owned()),
        _ => None,
    })
    .unwrap()
}

impl Fx {
    async fn lab(store: &SharedStore, code: &str, regions: Vec<Region>) -> Uuid {
        store
            .upsert_lab(&LabRow {
                id: Uuid::now_v7(),
                code: code.to_owned(),
                name: format!("{code}ラボ"),
                name_en: format!("{code} lab"),
                regions: Json(regions),
                pickup_days: 3,
                created_at: jst(2023, 4, 1, 9, 0, 0),
            })
            .await
            .unwrap()
    }

    async fn institution(
        store: &SharedStore,
        lab: Uuid,
        name: &str,
        kind: InstitutionKind,
    ) -> Uuid {
        let id = Uuid::now_v7();
        store
            .insert_institution(&InstitutionRow {
                id,
                lab_id: lab,
                name: name.to_owned(),
                kind,
                tags: Json(vec![]),
                regions: Json(vec![]),
                active: true,
                created_at: jst(2023, 4, 1, 9, 0, 0),
                updated_at: jst(2023, 4, 1, 9, 0, 0),
            })
            .await
            .unwrap();
        id
    }

    async fn user(
        store: &SharedStore,
        lab: Uuid,
        email: &str,
        role: Role,
        institution: Option<Uuid>,
        hash: &str,
    ) -> UserRow {
        let row = UserRow {
            id: Uuid::now_v7(),
            lab_id: lab,
            email: email.to_owned(),
            display_name: email.to_owned(),
            password_hash: hash.to_owned(),
            role,
            institution_id: institution,
            active: true,
            created_at: jst(2023, 4, 1, 9, 0, 0),
            updated_at: jst(2023, 4, 1, 9, 0, 0),
        };
        store.insert_user(&row).await.unwrap();
        row
    }

    async fn business(
        &self,
        lab: Uuid,
        name: &str,
        industry: Option<&'static str>,
        region: Option<&'static str>,
        municipality: Option<&'static str>,
    ) -> Uuid {
        let id = Uuid::now_v7();
        self.pool
            .exec(
                "INSERT INTO businesses (id, lab_id, name, corporate_number, industry, employee_band, \
                 municipality, region, contact_name, email, phone, created_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, $4, NULL, $5, $6, $7, $8, $9, $10, $10)",
                &[
                    V::Id(id),
                    V::Id(lab),
                    V::Str(name.to_owned()),
                    V::OptS(industry),
                    V::OptS(municipality),
                    V::OptS(region),
                    V::S(CONTACT),
                    V::S(EMAIL),
                    V::S(PHONE),
                    V::T(jst(2023, 4, 1, 9, 0, 0)),
                ],
            )
            .await;
        id
    }

    #[allow(clippy::too_many_arguments)]
    async fn case(
        &mut self,
        name: &'static str,
        lab: Uuid,
        business: Uuid,
        opened: DateTime<Utc>,
        channel: &'static str,
        stage: &'static str,
        status: &'static str,
        resolved: Option<DateTime<Utc>>,
        closed: Option<DateTime<Utc>>,
        outcomes: &[&str],
        topics: &[&'static str],
    ) -> Uuid {
        let id = Uuid::now_v7();
        let reference = format!("T-{}-{:06}", opened.format("%Y"), self.cases.len() + 1);
        self.pool
            .exec(
                "INSERT INTO cases (id, lab_id, reference, business_id, title, description, channel, stage, \
                 status, priority, consent_to_share, access_code_hash, outcomes, version, event_count, \
                 last_event_hash, created_at, updated_at, resolved_at, closed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'NORMAL', $10, 'x', $11, 1, 0, 'x', $12, $12, $13, $14)",
                &[
                    V::Id(id),
                    V::Id(lab),
                    V::Str(reference.clone()),
                    V::Id(business),
                    V::Str(format!("{CONTACT}さんの相談")),
                    V::Str(format!("連絡先 {EMAIL} / {PHONE}")),
                    V::S(channel),
                    V::S(stage),
                    V::S(status),
                    V::B(true),
                    V::J(json!(outcomes)),
                    V::T(opened),
                    V::OptT(resolved),
                    V::OptT(closed),
                ],
            )
            .await;
        for t in topics {
            self.pool
                .exec(
                    "INSERT INTO case_topics (case_id, lab_id, topic) VALUES ($1, $2, $3)",
                    &[V::Id(id), V::Id(lab), V::S(t)],
                )
                .await;
        }
        self.cases.insert(name, id);
        self.refs.insert(name, reference);
        id
    }

    #[allow(clippy::too_many_arguments)]
    async fn referral(
        &self,
        lab: Uuid,
        case: &str,
        institution: Uuid,
        status: &'static str,
        created: DateTime<Utc>,
        decided: Option<DateTime<Utc>>,
        reason: Option<&'static str>,
        completed: Option<DateTime<Utc>>,
    ) {
        self.pool
            .exec(
                "INSERT INTO referrals (id, lab_id, case_id, institution_id, status, note, reason, \
                 pickup_deadline, created_at, decided_at, completed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9)",
                &[
                    V::Id(Uuid::now_v7()),
                    V::Id(lab),
                    V::Id(self.cases[case]),
                    V::Id(institution),
                    V::S(status),
                    V::Str(format!("{CONTACT}様の件")),
                    V::OptS(reason),
                    V::T(pickup_deadline(created, 3)),
                    V::T(created),
                    V::OptT(decided),
                    V::OptT(completed),
                ],
            )
            .await;
    }

    async fn stage_change(
        &mut self,
        lab: Uuid,
        case: &str,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) {
        let case_id = self.cases[case];
        let seq = self.event_seq.entry(case_id).or_insert(1);
        *seq += 1;
        self.pool
            .exec(
                "INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, 'STAGE_CHANGED', $5, $6, $7, 'x', 'y')",
                &[
                    V::Id(Uuid::now_v7()),
                    V::Id(lab),
                    V::Id(case_id),
                    V::I(*seq),
                    V::OptId(None),
                    V::T(at),
                    V::J(json!({ "from": from, "to": to })),
                ],
            )
            .await;
    }

    fn viewer(&self, u: &UserRow) -> Viewer {
        u.viewer()
    }

    async fn gql(&self, u: &UserRow, query: &str, vars: Value) -> Value {
        let schema = dxdesk::graphql::schema(Some(self.state.clone()));
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(RequestCtx {
                authn: Authn::User(self.viewer(u)),
                client: "test".to_owned(),
                lang: Default::default(),
            });
        let resp = schema.execute(req).await;
        serde_json::to_value(&resp).unwrap()
    }

    async fn gql_ok(&self, u: &UserRow, query: &str, vars: Value) -> Value {
        let v = self.gql(u, query, vars).await;
        assert!(v.get("errors").is_none(), "{v:#}");
        v["data"].clone()
    }
}

/// Lab TST and its fiscal year 2024, plus lab OTH.
async fn fixture(backend: Backend) -> Fx {
    let (store, pool) = fresh(backend).await;
    let lab = Fx::lab(
        &store,
        "TST",
        vec![
            Region {
                code: "R1".into(),
                name: "第一地域".into(),
                municipalities: vec!["甲市".into(), "乙町".into()],
            },
            Region {
                code: "R2".into(),
                name: "第二地域".into(),
                municipalities: vec!["丙村".into()],
            },
        ],
    )
    .await;
    let other = Fx::lab(
        &store,
        "OTH",
        vec![Region {
            code: "RX".into(),
            name: "他地域".into(),
            municipalities: vec!["丁市".into()],
        }],
    )
    .await;
    let bank = Fx::institution(&store, lab, "A銀行", InstitutionKind::Financial).await;
    let univ = Fx::institution(&store, lab, "B大学", InstitutionKind::University).await;
    let center = Fx::institution(&store, lab, "Cセンター", InstitutionKind::IndustrySupport).await;
    let other_inst = Fx::institution(&store, other, "Z他ラボ機関", InstitutionKind::Other).await;
    let hash = dxdesk::auth::password::hash_async(PASSWORD.to_owned())
        .await
        .unwrap();
    let admin = Fx::user(&store, lab, "admin@tst.example", Role::Admin, None, &hash).await;
    let concierge = Fx::user(
        &store,
        lab,
        "concierge@tst.example",
        Role::Concierge,
        None,
        &hash,
    )
    .await;
    let partner = Fx::user(
        &store,
        lab,
        "bank@tst.example",
        Role::Partner,
        Some(bank),
        &hash,
    )
    .await;
    let other_admin = Fx::user(&store, other, "admin@oth.example", Role::Admin, None, &hash).await;
    let state = AppState::with_clock(store.clone(), config(), Arc::new(FixedClock::new(now())));
    let mut fx = Fx {
        store,
        pool,
        state,
        lab,
        bank,
        univ,
        center,
        admin,
        concierge,
        partner,
        other_admin,
        cases: Default::default(),
        refs: Default::default(),
        event_seq: Default::default(),
    };

    let b1 = fx
        .business(lab, "株式会社一番", Some("E"), Some("R1"), Some("甲市"))
        .await;
    let b2 = fx
        .business(lab, "=二番商店", Some("G"), Some("R1"), Some("乙町"))
        .await;
    let b3 = fx
        .business(lab, "三番農園", None, Some("R2"), Some("丙村"))
        .await;
    let b4 = fx.business(lab, "四番工業", Some("E"), None, None).await;
    let b9 = fx
        .business(other, "他ラボ株式会社", Some("E"), Some("RX"), Some("丁市"))
        .await;

    // C0: FY2023's last minute; resolved in FY2024 after exactly 5 days.
    fx.case(
        "C0",
        lab,
        b1,
        jst(2024, 3, 31, 23, 59, 0),
        "PHONE",
        "KNOW",
        "RESOLVED",
        Some(jst(2024, 4, 5, 23, 59, 0)),
        None,
        &["DX_CERTIFIED", "SUBSIDY_APPLIED"],
        &[],
    )
    .await;
    // C1: FY2024's first instant; a pending (overdue) referral makes it REFERRED.
    fx.case(
        "C1",
        lab,
        b1,
        jst(2024, 4, 1, 0, 0, 0),
        "PHONE",
        "CONSULT",
        "IN_PROGRESS",
        None,
        None,
        &[],
        &["資金調達"],
    )
    .await;
    // C2: resolved after 10 days.
    fx.case(
        "C2",
        lab,
        b2,
        jst(2024, 5, 10, 10, 0, 0),
        "WALK_IN",
        "TRY",
        "RESOLVED",
        Some(jst(2024, 5, 20, 10, 0, 0)),
        None,
        &["TOOL_ADOPTED", "DX_CERTIFIED"],
        &["IoT", "=SUM(A1)"],
    )
    .await;
    fx.case(
        "C6",
        lab,
        b3,
        jst(2024, 8, 1, 9, 0, 0),
        "PHONE",
        "KNOW",
        "ON_HOLD",
        None,
        None,
        &[],
        &[],
    )
    .await;
    fx.case(
        "C7",
        lab,
        b2,
        jst(2024, 10, 1, 10, 0, 0),
        "SEMINAR",
        "CONSULT",
        "IN_PROGRESS",
        None,
        None,
        &[],
        &[],
    )
    .await;
    // C3: opened just before the year-end closure; resolved after 14 days, then closed.
    fx.case(
        "C3",
        lab,
        b3,
        jst(2024, 12, 27, 9, 0, 0),
        "EMAIL",
        "CONSULT",
        "CLOSED",
        Some(jst(2025, 1, 10, 9, 0, 0)),
        Some(jst(2025, 1, 15, 9, 0, 0)),
        &["ADVICE_ONLY"],
        &[],
    )
    .await;
    // C4: FY2024's last minute.
    fx.case(
        "C4",
        lab,
        b4,
        jst(2025, 3, 31, 23, 59, 0),
        "WEB_FORM",
        "KNOW",
        "NEW",
        None,
        None,
        &[],
        &[],
    )
    .await;
    // C5: FY2025's first instant.
    fx.case(
        "C5",
        lab,
        b2,
        jst(2025, 4, 1, 0, 0, 0),
        "PHONE",
        "KNOW",
        "NEW",
        None,
        None,
        &[],
        &[],
    )
    .await;
    // C9: the other lab, in FY2024.
    fx.case(
        "C9",
        other,
        b9,
        jst(2024, 6, 1, 10, 0, 0),
        "PHONE",
        "CONSULT",
        "RESOLVED",
        Some(jst(2024, 6, 3, 10, 0, 0)),
        None,
        &["DX_CERTIFIED"],
        &["他ラボ"],
    )
    .await;

    // R1 (BANK): pending since Friday 2025-03-28, due end of Wed 4/2: overdue on 4/10.
    fx.referral(
        lab,
        "C1",
        bank,
        "PENDING",
        jst(2025, 3, 28, 10, 0, 0),
        None,
        None,
        None,
    )
    .await;
    // R2 (CENTER): Thu 2024-05-02 12:00 → Tue 5/7 12:00 over Golden Week = 1.0 business day.
    fx.referral(
        lab,
        "C2",
        center,
        "COMPLETED",
        jst(2024, 5, 2, 12, 0, 0),
        Some(jst(2024, 5, 7, 12, 0, 0)),
        None,
        Some(jst(2024, 5, 18, 10, 0, 0)),
    )
    .await;
    // R3 (BANK): Fri 2024-12-27 12:00 → Mon 2025-01-06 18:00 over the closure = 0.5 + 0.75.
    fx.referral(
        lab,
        "C3",
        bank,
        "COMPLETED",
        jst(2024, 12, 27, 12, 0, 0),
        Some(jst(2025, 1, 6, 18, 0, 0)),
        None,
        Some(jst(2025, 1, 9, 18, 0, 0)),
    )
    .await;
    // R4 (UNIV): Thu 8/1 09:00 → Mon 8/5 15:00 = 0.625 + 1 + 0.625, declined.
    fx.referral(
        lab,
        "C6",
        univ,
        "DECLINED",
        jst(2024, 8, 1, 9, 0, 0),
        Some(jst(2024, 8, 5, 15, 0, 0)),
        Some("NO_CAPACITY"),
        None,
    )
    .await;
    // R5 (CENTER): same day, 6 hours = 0.25.
    fx.referral(
        lab,
        "C7",
        center,
        "ACCEPTED",
        jst(2024, 10, 1, 10, 0, 0),
        Some(jst(2024, 10, 1, 16, 0, 0)),
        None,
        None,
    )
    .await;
    // R6 (BANK): withdrawn by the desk (no pick-up time).
    fx.referral(
        lab,
        "C7",
        bank,
        "WITHDRAWN",
        jst(2024, 10, 2, 9, 0, 0),
        Some(jst(2024, 10, 3, 9, 0, 0)),
        None,
        None,
    )
    .await;
    // R7 (UNIV): Tue 4/2 09:00 → Wed 4/3 09:00 = 1.0; the case was opened in FY2023.
    fx.referral(
        lab,
        "C0",
        univ,
        "COMPLETED",
        jst(2024, 4, 2, 9, 0, 0),
        Some(jst(2024, 4, 3, 9, 0, 0)),
        None,
        Some(jst(2024, 4, 4, 9, 0, 0)),
    )
    .await;
    // R8 (BANK): created in FY2023's last minute: not in FY2024's figures.
    fx.referral(
        lab,
        "C0",
        bank,
        "DECLINED",
        jst(2024, 3, 31, 23, 59, 30),
        Some(jst(2024, 4, 1, 10, 0, 0)),
        Some("OUT_OF_SCOPE"),
        None,
    )
    .await;
    // The other lab's referral.
    fx.referral(
        other,
        "C9",
        other_inst,
        "COMPLETED",
        jst(2024, 6, 1, 11, 0, 0),
        Some(jst(2024, 6, 1, 12, 0, 0)),
        None,
        Some(jst(2024, 6, 2, 12, 0, 0)),
    )
    .await;

    // Stage changes.
    fx.stage_change(lab, "C0", "KNOW", "CONSULT", jst(2024, 3, 31, 23, 59, 30))
        .await; // FY2023
    fx.stage_change(lab, "C2", "KNOW", "CONSULT", jst(2024, 5, 11, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C2", "CONSULT", "TRY", jst(2024, 5, 15, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C7", "KNOW", "CONSULT", jst(2024, 10, 5, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C7", "CONSULT", "KNOW", jst(2024, 10, 6, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C7", "KNOW", "CONSULT", jst(2024, 10, 7, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C3", "KNOW", "CONSULT", jst(2025, 1, 6, 10, 0, 0))
        .await;
    fx.stage_change(lab, "C5", "KNOW", "CONSULT", jst(2025, 4, 1, 0, 0, 0))
        .await; // FY2025
    fx.stage_change(other, "C9", "KNOW", "CONSULT", jst(2024, 6, 2, 10, 0, 0))
        .await;
    // The fixture wrote rows behind the store's back: roll them up as
    // `dxdesk report rebuild-rollup` would.
    fx.store.rebuild_rollup().await.unwrap();
    fx
}

const REPORT_QUERY: &str = r#"
query($fy: Int!) {
  activityReport(fiscalYear: $fy) {
    fiscalYear label labelEn from to generatedAt
    institution { id name kind }
    casesOpened
    byStage { key label count }
    byStatus { key label count }
    byChannel { key label count }
    byIndustry { key label count }
    byRegion { key label count }
    byMunicipality { key label count }
    businessesSupported newBusinesses
    referrals { ...F }
    referralsByInstitution { institution { id name kind } figures { ...F } }
    resolution { casesResolved medianDays p90Days }
    outcomes { outcome label cases businesses }
    stageMovements { knowToConsult consultToTry transitions { from to events cases businesses } }
    monthly { index yearMonth label casesOpened newBusinesses referrals casesResolved knowToConsult consultToTry }
    kpis { id name unit target metric metricLabel manual actual progress }
  }
}
fragment F on ReferralFigures {
  referrals pending accepted declined withdrawn completed open overdue acceptanceRate
  declineReasons { key label count } pickupCount pickupMedianDays pickupP90Days
}"#;

const UPSERT: &str = r#"mutation($input: KpiTargetInput!) {
  upsertKpiTarget(input: $input) { id fiscalYear name unit target metric metricLabel manual manualActual }
}"#;

fn counts(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn kc(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(k, c)| (k.to_string(), *c)).collect()
}

fn series(r: &Value, field: &str) -> Vec<i64> {
    r["monthly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[field].as_i64().unwrap())
        .collect()
}

fn error_code(v: &Value) -> (String, Option<String>) {
    let e = &v["errors"][0]["extensions"];
    (
        e["code"].as_str().unwrap_or("").to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

/// Sets up the lab's KPI targets through the API, checking the admin rules on the way.
async fn kpi_targets(fx: &Fx) {
    let mk = |name: &str, unit: &str, target: f64, metric: &str| json!({ "input": { "fiscalYear": 2024, "name": name, "unit": unit, "target": target, "metric": metric } });
    let d = fx
        .gql_ok(
            &fx.admin,
            UPSERT,
            mk("相談件数", "件", 12.0, "CASES_OPENED"),
        )
        .await;
    assert_eq!(d["upsertKpiTarget"]["metricLabel"], "相談受付件数");
    fx.gql_ok(
        &fx.admin,
        UPSERT,
        mk("DX認定", "社", 4.0, "outcome:dx_certified"),
    )
    .await;
    fx.gql_ok(
        &fx.admin,
        UPSERT,
        mk("新規事業者", "社", 3.0, "NEW_BUSINESSES"),
    )
    .await;
    let manual = fx
        .gql_ok(&fx.admin, UPSERT, mk("研修修了者", "人", 5.0, "MANUAL"))
        .await;
    let manual_id = manual["upsertKpiTarget"]["id"].as_str().unwrap().to_owned();
    assert_eq!(manual["upsertKpiTarget"]["manual"], true);
    // Same year and name again: an update, not a second target.
    let again = fx
        .gql_ok(&fx.admin, UPSERT, mk("研修修了者", "人", 10.0, "MANUAL"))
        .await;
    assert_eq!(again["upsertKpiTarget"]["id"], manual_id.as_str());
    assert_eq!(again["upsertKpiTarget"]["target"], 10.0);
    let set = fx
        .gql_ok(
            &fx.admin,
            "mutation($id: ID!) { setKpiActual(id: $id, actual: 7) { manualActual } }",
            json!({ "id": manual_id }),
        )
        .await;
    assert_eq!(set["setKpiActual"]["manualActual"], 7.0);
    // Another year and a throw-away target.
    fx.gql_ok(
        &fx.admin,
        UPSERT,
        json!({ "input": { "fiscalYear": 2023, "name": "前年度", "unit": "件", "target": 1.0, "metric": "CASES_OPENED" } }),
    )
    .await;
    let tmp = fx
        .gql_ok(&fx.admin, UPSERT, mk("消す目標", "件", 1.0, "CASES_OPENED"))
        .await;
    let tmp_id = tmp["upsertKpiTarget"]["id"].as_str().unwrap().to_owned();
    let del = fx
        .gql_ok(
            &fx.admin,
            "mutation($id: ID!) { deleteKpiTarget(id: $id) }",
            json!({ "id": tmp_id }),
        )
        .await;
    assert_eq!(del["deleteKpiTarget"], true);
    let gone = fx
        .gql(
            &fx.admin,
            "mutation($id: ID!) { deleteKpiTarget(id: $id) }",
            json!({ "id": tmp_id }),
        )
        .await;
    assert_eq!(error_code(&gone).0, "NOT_FOUND");

    // Validation names the field.
    for (input, field) in [
        (mk(" ", "件", 1.0, "MANUAL"), "name"),
        (mk("x", "", 1.0, "MANUAL"), "unit"),
        (mk("x", "件", -1.0, "MANUAL"), "target"),
        (mk("x", "件", 1.0, "OUTCOME:NOPE"), "metric"),
        (
            json!({ "input": { "fiscalYear": 1999, "name": "x", "unit": "件", "target": 1.0, "metric": "MANUAL" } }),
            "fiscalYear",
        ),
        (
            json!({ "input": { "fiscalYear": 2024, "name": "x", "unit": "件", "target": 1.0, "metric": "CASES_OPENED", "manualActual": 3.0 } }),
            "manualActual",
        ),
    ] {
        let v = fx.gql(&fx.admin, UPSERT, input).await;
        assert_eq!(
            error_code(&v),
            ("BAD_USER_INPUT".to_owned(), Some(field.to_owned())),
            "{v:#}"
        );
        assert!(v["errors"][0]["extensions"]["messageEn"].as_str().is_some());
    }
    // A computed target takes no hand-entered actual.
    let computed = fx
        .gql_ok(
            &fx.admin,
            "query { kpiTargets(fiscalYear: 2024) { id metric } }",
            json!({}),
        )
        .await;
    let cases_id = computed["kpiTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["metric"] == "CASES_OPENED")
        .unwrap()["id"]
        .clone();
    let v = fx
        .gql(
            &fx.admin,
            "mutation($id: ID!) { setKpiActual(id: $id, actual: 3) { id } }",
            json!({ "id": cases_id }),
        )
        .await;
    assert_eq!(error_code(&v).0, "BAD_USER_INPUT");
    // Renaming onto an existing name is a conflict.
    let v = fx
        .gql(
            &fx.admin,
            UPSERT,
            json!({ "input": { "id": cases_id, "fiscalYear": 2024, "name": "DX認定", "unit": "件", "target": 12.0, "metric": "CASES_OPENED" } }),
        )
        .await;
    assert_eq!(error_code(&v).0, "CONFLICT");
    // Only the secretariat edits targets; the desk may read them.
    let v = fx
        .gql(&fx.concierge, UPSERT, mk("x", "件", 1.0, "MANUAL"))
        .await;
    assert_eq!(error_code(&v).0, "FORBIDDEN");
    let v = fx
        .gql(&fx.partner, "query { kpiTargets { id } }", json!({}))
        .await;
    assert_eq!(error_code(&v).0, "FORBIDDEN");
    let d = fx
        .gql_ok(
            &fx.concierge,
            "query { kpiTargets { fiscalYear name } }",
            json!({}),
        )
        .await;
    assert_eq!(d["kpiTargets"].as_array().unwrap().len(), 5);
    // Another lab's admin cannot touch them.
    let v = fx
        .gql(
            &fx.other_admin,
            "mutation($id: ID!) { setKpiActual(id: $id, actual: 1) { id } }",
            json!({ "id": manual_id }),
        )
        .await;
    assert_eq!(error_code(&v).0, "NOT_FOUND");
}

fn check_lab_report(r: &Value, fx: &Fx) {
    assert_eq!(r["fiscalYear"], 2024);
    assert_eq!(r["label"], "令和6年度");
    assert_eq!(r["labelEn"], "FY2024");
    assert_eq!(r["from"], "2024-03-31T15:00:00+00:00");
    assert_eq!(r["to"], "2025-03-31T15:00:00+00:00");
    assert_eq!(r["institution"], Value::Null);

    // Cases opened: C1 (4/1 00:00), C2, C6, C7, C3, C4 (3/31 23:59); not C0, C5, C9.
    assert_eq!(r["casesOpened"], 6);
    assert_eq!(
        counts(&r["byStage"]),
        kc(&[("KNOW", 2), ("CONSULT", 3), ("TRY", 1)])
    );
    assert_eq!(r["byStage"][0]["label"], "知る");
    assert_eq!(
        counts(&r["byStatus"]),
        kc(&[
            ("NEW", 1),
            ("IN_PROGRESS", 1),
            ("ON_HOLD", 1),
            ("REFERRED", 1),
            ("RESOLVED", 1),
            ("CLOSED", 1)
        ])
    );
    assert_eq!(
        counts(&r["byChannel"]),
        kc(&[
            ("WALK_IN", 1),
            ("PHONE", 2),
            ("EMAIL", 1),
            ("WEB_FORM", 1),
            ("SEMINAR", 1),
            ("OTHER", 0)
        ])
    );
    assert_eq!(counts(&r["byIndustry"]), kc(&[("E", 2), ("G", 2), ("", 2)]));
    assert_eq!(r["byIndustry"][0]["label"], "製造業");
    assert_eq!(r["byIndustry"][1]["label"], "情報通信業");
    assert_eq!(r["byIndustry"][2]["label"], "未設定");
    assert_eq!(counts(&r["byRegion"]), kc(&[("R1", 3), ("R2", 2), ("", 1)]));
    assert_eq!(r["byRegion"][0]["label"], "第一地域");
    assert_eq!(
        counts(&r["byMunicipality"]),
        kc(&[("甲市", 1), ("乙町", 2), ("丙村", 2), ("", 1)])
    );

    // B1 had C0 in FY2023: supported, not new. B2, B3, B4 are new.
    assert_eq!(r["businessesSupported"], 4);
    assert_eq!(r["newBusinesses"], 3);

    // Referrals R1…R7 (R8 is FY2023's).
    assert_eq!(
        r["referrals"],
        json!({
            "referrals": 7, "pending": 1, "accepted": 4, "declined": 1, "withdrawn": 1,
            "completed": 3, "open": 2, "overdue": 1, "acceptanceRate": 0.8,
            "declineReasons": [{ "key": "NO_CAPACITY", "label": "対応余力なし", "count": 1 }],
            "pickupCount": 5, "pickupMedianDays": 1.0, "pickupP90Days": 2.25
        })
    );
    let by_inst = r["referralsByInstitution"].as_array().unwrap();
    let names: Vec<&str> = by_inst
        .iter()
        .map(|i| i["institution"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A銀行", "B大学", "Cセンター"]);
    assert_eq!(by_inst[0]["institution"]["id"], fx.bank.to_string());
    assert_eq!(by_inst[0]["institution"]["kind"], "FINANCIAL");
    assert_eq!(
        by_inst[0]["figures"],
        json!({
            "referrals": 3, "pending": 1, "accepted": 1, "declined": 0, "withdrawn": 1,
            "completed": 1, "open": 1, "overdue": 1, "acceptanceRate": 1.0,
            "declineReasons": [], "pickupCount": 1, "pickupMedianDays": 1.25, "pickupP90Days": 1.25
        })
    );
    assert_eq!(by_inst[1]["institution"]["id"], fx.univ.to_string());
    assert_eq!(
        by_inst[1]["figures"],
        json!({
            "referrals": 2, "pending": 0, "accepted": 1, "declined": 1, "withdrawn": 0,
            "completed": 1, "open": 0, "overdue": 0, "acceptanceRate": 0.5,
            "declineReasons": [{ "key": "NO_CAPACITY", "label": "対応余力なし", "count": 1 }],
            "pickupCount": 2, "pickupMedianDays": 1.63, "pickupP90Days": 2.25
        })
    );
    assert_eq!(by_inst[2]["institution"]["id"], fx.center.to_string());
    assert_eq!(
        by_inst[2]["figures"],
        json!({
            "referrals": 2, "pending": 0, "accepted": 2, "declined": 0, "withdrawn": 0,
            "completed": 1, "open": 1, "overdue": 0, "acceptanceRate": 1.0,
            "declineReasons": [], "pickupCount": 2, "pickupMedianDays": 0.63, "pickupP90Days": 1.0
        })
    );

    // Resolved in FY2024: C0 (5 days), C2 (10), C3 (14, closed).
    assert_eq!(
        r["resolution"],
        json!({ "casesResolved": 3, "medianDays": 10.0, "p90Days": 14.0 })
    );
    let outcomes: Vec<(String, i64, i64)> = r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["outcome"].as_str().unwrap().to_owned(),
                o["cases"].as_i64().unwrap(),
                o["businesses"].as_i64().unwrap(),
            )
        })
        .collect();
    let expect: Vec<(String, i64, i64)> = [
        ("TOOL_ADOPTED", 1, 1),
        ("TRIAL_RUN", 0, 0),
        ("SUBSIDY_APPLIED", 1, 1),
        ("SUBSIDY_GRANTED", 0, 0),
        ("FINANCING_ARRANGED", 0, 0),
        ("DX_CERTIFIED", 2, 2),
        ("TRAINING_COMPLETED", 0, 0),
        ("ADVICE_ONLY", 1, 1),
        ("NO_ACTION", 0, 0),
    ]
    .iter()
    .map(|(o, c, b)| (o.to_string(), *c, *b))
    .collect();
    assert_eq!(outcomes, expect);
    assert_eq!(r["outcomes"][5]["label"], "DX認定取得");

    // Stage changes in FY2024: KNOW→CONSULT by C2, C7 (twice), C3 = B2, B3.
    assert_eq!(
        r["stageMovements"],
        json!({
            "knowToConsult": 2, "consultToTry": 1,
            "transitions": [
                { "from": "KNOW", "to": "CONSULT", "events": 4, "cases": 3, "businesses": 2 },
                { "from": "CONSULT", "to": "KNOW", "events": 1, "cases": 1, "businesses": 1 },
                { "from": "CONSULT", "to": "TRY", "events": 1, "cases": 1, "businesses": 1 }
            ]
        })
    );

    // Monthly series, April … March.
    let months: Vec<&str> = r["monthly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["yearMonth"].as_str().unwrap())
        .collect();
    assert_eq!(months[0], "2024-04");
    assert_eq!(months[11], "2025-03");
    assert_eq!(r["monthly"][0]["label"], "4月");
    assert_eq!(
        series(r, "casesOpened"),
        [1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1]
    );
    assert_eq!(
        series(r, "newBusinesses"),
        [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    );
    assert_eq!(series(r, "referrals"), [1, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1]);
    assert_eq!(
        series(r, "casesResolved"),
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    );
    assert_eq!(
        series(r, "knowToConsult"),
        [0, 1, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0]
    );
    assert_eq!(
        series(r, "consultToTry"),
        [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

fn check_kpis(r: &Value) {
    let kpis: Vec<(String, String, Value, Value)> = r["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_owned(),
                k["metric"].as_str().unwrap().to_owned(),
                k["actual"].clone(),
                k["progress"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kpis,
        vec![
            (
                "相談件数".into(),
                "CASES_OPENED".into(),
                json!(6.0),
                json!(0.5)
            ),
            (
                "DX認定".into(),
                "OUTCOME:DX_CERTIFIED".into(),
                json!(2.0),
                json!(0.5)
            ),
            (
                "新規事業者".into(),
                "NEW_BUSINESSES".into(),
                json!(3.0),
                json!(1.0)
            ),
            ("研修修了者".into(), "MANUAL".into(), json!(7.0), json!(0.7)),
        ]
    );
}

fn check_partner_report(r: &Value, fx: &Fx) {
    // Only BANK's referrals (R1, R3; the withdrawn R6 left out) and the cases it may read (C1, C3).
    assert_eq!(r["institution"]["id"], fx.bank.to_string());
    assert_eq!(r["institution"]["name"], "A銀行");
    assert_eq!(r["casesOpened"], 2);
    assert_eq!(
        counts(&r["byStage"]),
        kc(&[("KNOW", 0), ("CONSULT", 2), ("TRY", 0)])
    );
    assert_eq!(
        counts(&r["byStatus"]),
        kc(&[
            ("NEW", 0),
            ("IN_PROGRESS", 0),
            ("ON_HOLD", 0),
            ("REFERRED", 1),
            ("RESOLVED", 0),
            ("CLOSED", 1)
        ])
    );
    assert_eq!(counts(&r["byIndustry"]), kc(&[("E", 1), ("", 1)]));
    assert_eq!(counts(&r["byRegion"]), kc(&[("R1", 1), ("R2", 1)]));
    assert_eq!(
        counts(&r["byMunicipality"]),
        kc(&[("甲市", 1), ("丙村", 1)])
    );
    // Within what the bank may read, neither B1 nor B3 had an earlier case.
    assert_eq!(r["businessesSupported"], 2);
    assert_eq!(r["newBusinesses"], 2);
    assert_eq!(
        r["referrals"],
        json!({
            "referrals": 2, "pending": 1, "accepted": 1, "declined": 0, "withdrawn": 0,
            "completed": 1, "open": 1, "overdue": 1, "acceptanceRate": 1.0,
            "declineReasons": [], "pickupCount": 1, "pickupMedianDays": 1.25, "pickupP90Days": 1.25
        })
    );
    let by_inst = r["referralsByInstitution"].as_array().unwrap();
    assert_eq!(by_inst.len(), 1);
    assert_eq!(by_inst[0]["institution"]["id"], fx.bank.to_string());
    assert_eq!(
        r["resolution"],
        json!({ "casesResolved": 1, "medianDays": 14.0, "p90Days": 14.0 })
    );
    let with_outcomes: Vec<(&str, i64)> = r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["cases"].as_i64().unwrap() > 0)
        .map(|o| (o["outcome"].as_str().unwrap(), o["cases"].as_i64().unwrap()))
        .collect();
    assert_eq!(with_outcomes, [("ADVICE_ONLY", 1)]);
    assert_eq!(
        r["stageMovements"],
        json!({
            "knowToConsult": 1, "consultToTry": 0,
            "transitions": [{ "from": "KNOW", "to": "CONSULT", "events": 1, "cases": 1, "businesses": 1 }]
        })
    );
    assert_eq!(
        series(r, "casesOpened"),
        [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    );
    assert_eq!(series(r, "referrals"), [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
    assert_eq!(r["kpis"], json!([]));
    // Nothing of the other institutions.
    let text = r.to_string();
    for other in [
        "B大学",
        "Cセンター",
        &fx.univ.to_string(),
        &fx.center.to_string(),
    ] {
        assert!(!text.contains(other), "partner report mentions {other}");
    }
}

backend_tests!(activity_report_figures_on_every_backend);

async fn activity_report_figures_on_every_backend(backend: Backend) {
    let fx = fixture(backend).await;
    kpi_targets(&fx).await;
    // The rebuilt rollup holds what the rows say, year by year.
    for lab in [fx.lab, fx.other_admin.lab_id] {
        for fy in 2023..=2025 {
            crate::report_rollup::assert_rollup_matches(&fx.store, lab, fy, now()).await;
        }
    }

    let admin = fx
        .gql_ok(&fx.admin, REPORT_QUERY, json!({ "fy": 2024 }))
        .await;
    let r = &admin["activityReport"];
    check_lab_report(r, &fx);
    check_kpis(r);
    assert_eq!(r["generatedAt"], "2025-04-10T03:00:00+00:00");

    // The concierge sees the same lab report.
    let c = fx
        .gql_ok(&fx.concierge, REPORT_QUERY, json!({ "fy": 2024 }))
        .await;
    assert_eq!(c, admin, "{backend:?}");

    let p = fx
        .gql_ok(&fx.partner, REPORT_QUERY, json!({ "fy": 2024 }))
        .await;
    check_partner_report(&p["activityReport"], &fx);

    // The other lab sees only its own C9.
    let o = fx
        .gql_ok(&fx.other_admin, REPORT_QUERY, json!({ "fy": 2024 }))
        .await;
    let o = &o["activityReport"];
    assert_eq!(o["casesOpened"], 1);
    assert_eq!(o["referrals"]["referrals"], 1);
    assert_eq!(o["stageMovements"]["knowToConsult"], 1);
    assert_eq!(o["kpis"], json!([]));
    assert!(!o.to_string().contains("A銀行"));

    // FY2025 holds C5 only; FY2023 holds C0 (and R8).
    let d = fx
        .gql_ok(
            &fx.admin,
            "query { a: activityReport(fiscalYear: 2025) { casesOpened newBusinesses stageMovements { knowToConsult } }
                     b: activityReport(fiscalYear: 2023) { casesOpened referrals { referrals declined declineReasons { key count } } kpis { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["a"]["casesOpened"], 1);
    assert_eq!(d["a"]["newBusinesses"], 0, "B2's first case was in FY2024");
    assert_eq!(d["a"]["stageMovements"]["knowToConsult"], 1);
    assert_eq!(d["b"]["casesOpened"], 1);
    assert_eq!(
        d["b"]["referrals"],
        json!({ "referrals": 1, "declined": 1, "declineReasons": [{ "key": "OUT_OF_SCOPE", "count": 1 }] })
    );
    assert_eq!(d["b"]["kpis"], json!([{ "name": "前年度" }]));

    // An empty year is all zeros, with twelve months.
    let e = fx
        .gql_ok(
            &fx.admin,
            "query { activityReport(fiscalYear: 2030) { casesOpened monthly { index } resolution { medianDays } referrals { acceptanceRate pickupMedianDays } } }",
            json!({}),
        )
        .await;
    assert_eq!(e["activityReport"]["casesOpened"], 0);
    assert_eq!(e["activityReport"]["monthly"].as_array().unwrap().len(), 12);
    assert_eq!(e["activityReport"]["resolution"]["medianDays"], Value::Null);
    assert_eq!(
        e["activityReport"]["referrals"]["acceptanceRate"],
        Value::Null
    );

    // A year out of range is bad input; the picker offers FY2023 … FY2025.
    let v = fx.gql(&fx.admin, REPORT_QUERY, json!({ "fy": 1990 })).await;
    assert_eq!(
        error_code(&v),
        ("BAD_USER_INPUT".to_owned(), Some("fiscalYear".to_owned()))
    );
    let y = fx
        .gql_ok(&fx.admin, "query { reportFiscalYears }", json!({}))
        .await;
    assert_eq!(y["reportFiscalYears"], json!([2025, 2024, 2023]));
    let m = fx
        .gql_ok(
            &fx.partner,
            "query { kpiMetrics { code manual } }",
            json!({}),
        )
        .await;
    assert_eq!(m["kpiMetrics"].as_array().unwrap().len(), 13);
}

// ---------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "CSV starts with a BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.contains("\r\n"));
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    rd.records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn assert_no_personal_data(text: &str) {
    for pii in [CONTACT, EMAIL, PHONE, "example.jp", "017-"] {
        assert!(!text.contains(pii), "export holds personal data {pii:?}");
    }
}

backend_tests!(csv_exports_parse_back_to_the_rows);

async fn csv_exports_parse_back_to_the_rows(backend: Backend) {
    let fx = fixture(backend).await;
    let store = fx.store.as_ref();
    let lab = ReportScope::lab(fx.lab);
    let bytes = dxdesk::service::reports::export_csv(store, lab, 2024, ExportKind::Cases, now())
        .await
        .unwrap();
    assert_no_personal_data(std::str::from_utf8(&bytes).unwrap());
    let rows = parse_csv(&bytes);
    let rf = |name: &str| fx.refs[name].clone();
    let expected = vec![
        row(&dxdesk::service::reports::csv::CASE_HEADER),
        row(&[
            &rf("C1"),
            "2024-04-01 00:00:00",
            "株式会社一番",
            "E",
            "製造業",
            "第一地域",
            "甲市",
            "電話",
            "相談する",
            "紹介中",
            "通常",
            "資金調達",
            "1",
            "",
            "",
            "",
            "",
        ]),
        row(&[
            &rf("C2"),
            "2024-05-10 10:00:00",
            "'=二番商店",
            "G",
            "情報通信業",
            "第一地域",
            "乙町",
            "来所",
            "試す",
            "解決済み",
            "通常",
            "'=SUM(A1)、IoT",
            "1",
            "2024-05-20 10:00:00",
            "",
            "ツール導入、DX認定取得",
            "TOOL_ADOPTED DX_CERTIFIED",
        ]),
        row(&[
            &rf("C6"),
            "2024-08-01 09:00:00",
            "三番農園",
            "",
            "",
            "第二地域",
            "丙村",
            "電話",
            "知る",
            "保留",
            "通常",
            "",
            "1",
            "",
            "",
            "",
            "",
        ]),
        row(&[
            &rf("C7"),
            "2024-10-01 10:00:00",
            "'=二番商店",
            "G",
            "情報通信業",
            "第一地域",
            "乙町",
            "セミナー",
            "相談する",
            "対応中",
            "通常",
            "",
            "2",
            "",
            "",
            "",
            "",
        ]),
        row(&[
            &rf("C3"),
            "2024-12-27 09:00:00",
            "三番農園",
            "",
            "",
            "第二地域",
            "丙村",
            "メール",
            "相談する",
            "終了",
            "通常",
            "",
            "1",
            "2025-01-10 09:00:00",
            "2025-01-15 09:00:00",
            "助言のみ",
            "ADVICE_ONLY",
        ]),
        row(&[
            &rf("C4"),
            "2025-03-31 23:59:00",
            "四番工業",
            "E",
            "製造業",
            "",
            "",
            "Webフォーム",
            "知る",
            "新規",
            "通常",
            "",
            "0",
            "",
            "",
            "",
            "",
        ]),
    ];
    assert_eq!(rows, expected, "{backend:?}");

    let bytes =
        dxdesk::service::reports::export_csv(store, lab, 2024, ExportKind::Referrals, now())
            .await
            .unwrap();
    assert_no_personal_data(std::str::from_utf8(&bytes).unwrap());
    let rows = parse_csv(&bytes);
    let dl = |t: DateTime<Utc>| dxdesk::service::reports::csv::jst_text(pickup_deadline(t, 3));
    let expected = vec![
        row(&dxdesk::service::reports::csv::REFERRAL_HEADER),
        row(&[
            &rf("C0"),
            "株式会社一番",
            "B大学",
            "完了",
            "",
            "2024-04-02 09:00:00",
            &dl(jst(2024, 4, 2, 9, 0, 0)),
            "2024-04-03 09:00:00",
            "1.00",
            "2024-04-04 09:00:00",
            "",
        ]),
        row(&[
            &rf("C2"),
            "'=二番商店",
            "Cセンター",
            "完了",
            "",
            "2024-05-02 12:00:00",
            &dl(jst(2024, 5, 2, 12, 0, 0)),
            "2024-05-07 12:00:00",
            "1.00",
            "2024-05-18 10:00:00",
            "",
        ]),
        row(&[
            &rf("C6"),
            "三番農園",
            "B大学",
            "辞退",
            "対応余力なし",
            "2024-08-01 09:00:00",
            &dl(jst(2024, 8, 1, 9, 0, 0)),
            "2024-08-05 15:00:00",
            "2.25",
            "",
            "",
        ]),
        row(&[
            &rf("C7"),
            "'=二番商店",
            "Cセンター",
            "対応中",
            "",
            "2024-10-01 10:00:00",
            &dl(jst(2024, 10, 1, 10, 0, 0)),
            "2024-10-01 16:00:00",
            "0.25",
            "",
            "",
        ]),
        row(&[
            &rf("C7"),
            "'=二番商店",
            "A銀行",
            "取下げ",
            "",
            "2024-10-02 09:00:00",
            &dl(jst(2024, 10, 2, 9, 0, 0)),
            "2024-10-03 09:00:00",
            "",
            "",
            "",
        ]),
        row(&[
            &rf("C3"),
            "三番農園",
            "A銀行",
            "完了",
            "",
            "2024-12-27 12:00:00",
            &dl(jst(2024, 12, 27, 12, 0, 0)),
            "2025-01-06 18:00:00",
            "1.25",
            "2025-01-09 18:00:00",
            "",
        ]),
        row(&[
            &rf("C1"),
            "株式会社一番",
            "A銀行",
            "受付待ち",
            "",
            "2025-03-28 10:00:00",
            "2025-04-02 23:59:59",
            "",
            "",
            "",
            "はい",
        ]),
    ];
    assert_eq!(rows, expected, "{backend:?}");
    // Golden Week: Friday 5/3 … Monday 5/6 are holidays, so the deadline of a
    // Thursday-noon referral is Thursday 5/9's end; the year-end closure pushes 12/27's to 1/8.
    assert_eq!(dl(jst(2024, 5, 2, 12, 0, 0)), "2024-05-09 23:59:59");
    assert_eq!(dl(jst(2024, 12, 27, 12, 0, 0)), "2025-01-08 23:59:59");

    // The partner's CSVs: its cases and its referrals only.
    let partner = ReportScope {
        lab_id: fx.lab,
        institution_id: Some(fx.bank),
    };
    let rows = parse_csv(
        &dxdesk::service::reports::export_csv(store, partner, 2024, ExportKind::Cases, now())
            .await
            .unwrap(),
    );
    let refs_seen: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(refs_seen, [rf("C1"), rf("C3")]);
    let rows = parse_csv(
        &dxdesk::service::reports::export_csv(store, partner, 2024, ExportKind::Referrals, now())
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r[2] == "A銀行"));
}

// ---------------------------------------------------------------------------
// JSON: the documented format
// ---------------------------------------------------------------------------

fn schema() -> Value {
    serde_json::from_str(include_str!("../../docs/report-format.schema.json")).unwrap()
}

fn assert_valid(doc: &Value) {
    let s = schema();
    let mut errors = Vec::new();
    validate(&s, &s, doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_validator_catches_mistakes() {
    let s = schema();
    let mut errors = Vec::new();
    validate(
        &s,
        &s,
        &json!({ "format": "x", "version": 2 }),
        "$",
        &mut errors,
    );
    assert!(errors.iter().any(|e| e.contains("missing \"report\"")));
    assert!(errors.iter().any(|e| e.contains("!= 1")));
}

async fn http_get(
    fx: &Fx,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = dxdesk::http::router(fx.state.clone())
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

backend_tests!(json_export_follows_the_documented_format);

async fn json_export_follows_the_documented_format(backend: Backend) {
    let mut fx = fixture(backend).await;
    kpi_targets(&fx).await;
    // Access tokens are checked against the real time: serve with the system clock
    // (the pending referral R1 stays overdue after 2025-04-02).
    fx.state = AppState::new(fx.store.clone(), config());
    let login = |email: &'static str| {
        let state = fx.state.clone();
        async move {
            dxdesk::auth::login(&state, email, PASSWORD, "127.0.0.1")
                .await
                .unwrap()
                .access_token
        }
    };
    let admin = login("admin@tst.example").await;
    let partner = login("bank@tst.example").await;

    let (status, h, body) = http_get(&fx, "/api/reports/2024.json", Some(&admin)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(header(&h, "content-type").starts_with("application/json"));
    assert_eq!(
        header(&h, "content-disposition"),
        "attachment; filename=\"dxdesk-TST-FY2024.json\""
    );
    let text = String::from_utf8(body).unwrap();
    assert_no_personal_data(&text);
    for company in ["一番", "二番", "三番", "四番"] {
        assert!(!text.contains(company), "JSON names a company");
    }
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["format"], "dxdesk.activity-report");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["scope"], "LAB");
    assert_eq!(doc["lab"]["code"], "TST");
    // The same figures as the GraphQL report.
    let r = &doc["report"];
    assert_eq!(r["casesOpened"], 6);
    assert_eq!(r["referrals"]["pickupP90Days"], 2.25);
    assert_eq!(
        r["referralsByInstitution"][0]["institution"]["name"],
        "A銀行"
    );
    assert_eq!(r["referralsByInstitution"][0]["pickupMedianDays"], 1.25);
    assert!(r["referralsByInstitution"][0]["institution"]
        .get("id")
        .is_none());
    assert_eq!(r["kpis"].as_array().unwrap().len(), 4);
    assert_eq!(r["kpis"][3]["actual"], 7.0);

    // The partner's document is restricted and still valid.
    let (status, _, body) = http_get(&fx, "/api/reports/2024.json", Some(&partner)).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["scope"], "INSTITUTION");
    assert_eq!(doc["report"]["institution"]["name"], "A銀行");
    assert_eq!(doc["report"]["casesOpened"], 2);
    let text = doc.to_string();
    assert!(!text.contains("B大学") && !text.contains("Cセンター"));

    // CSV over HTTP, and the errors.
    let (status, h, body) =
        http_get(&fx, "/api/reports/2024.csv?kind=referrals", Some(&partner)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header(&h, "content-disposition"),
        "attachment; filename=\"dxdesk-TST-FY2024-referrals.csv\""
    );
    assert_eq!(parse_csv(&body).len(), 3);
    let (status, _, _) = http_get(&fx, "/api/reports/2024.csv", None).await;
    assert_eq!(status, 401);
    let (status, _, _) = http_get(&fx, "/api/reports/2024.csv", Some("nonsense")).await;
    assert_eq!(status, 401);
    let (status, _, body) = http_get(&fx, "/api/reports/2024.csv?kind=notes", Some(&admin)).await;
    assert_eq!(status, 400);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["errors"][0]["extensions"]["field"], "kind");
    let (status, _, _) = http_get(&fx, "/api/reports/1999.json", Some(&admin)).await;
    assert_eq!(status, 400);
    let (status, _, _) = http_get(&fx, "/api/reports/2024.xml", Some(&admin)).await;
    assert_eq!(status, 404);

    // `dxdesk report` writes the same document.
    let out = crate::common::temp_dir("report").join("report.json");
    dxdesk::service::reports::run_cli(
        fx.store.as_ref(),
        2024,
        dxdesk::service::reports::CliFormat::Json,
        Some("tst"),
        ExportKind::Cases,
        Some(&out),
        now(),
    )
    .await
    .unwrap();
    let mut cli: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_valid(&cli);
    let (_, _, body) = http_get(&fx, "/api/reports/2024.json", Some(&admin)).await;
    let mut served: Value = serde_json::from_slice(&body).unwrap();
    cli["report"]["generatedAt"] = Value::Null;
    served["report"]["generatedAt"] = Value::Null;
    assert_eq!(cli["report"], served["report"]);
    // Two labs: --lab is needed.
    let e = dxdesk::service::reports::run_cli(
        fx.store.as_ref(),
        2024,
        dxdesk::service::reports::CliFormat::Csv,
        None,
        ExportKind::Cases,
        Some(&out),
        now(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("--lab"), "{e}");
    let _ = std::fs::remove_file(out);
}

#[tokio::test]
async fn seed_adds_kodas_kpi_targets_once() {
    let (store, _pool) = fresh(Backend::Sqlite).await;
    let state = AppState::with_clock(store.clone(), config(), Arc::new(FixedClock::new(now())));
    dxdesk::seed::labs::seed_labs(&state).await.unwrap();
    let n = dxdesk::service::reports::kpi::seed_reference_targets(store.as_ref(), now())
        .await
        .unwrap();
    // FY2023 and FY2024 (the clock is in FY2025 — April 10, 2025 — so FY2025 too) + the cumulative one.
    assert_eq!(n, 4);
    let again = dxdesk::service::reports::kpi::seed_reference_targets(store.as_ref(), now())
        .await
        .unwrap();
    assert_eq!(again, 0);
    let koda = store.lab_by_code("KOD").await.unwrap().unwrap();
    let t = store.kpi_targets(koda.id, Some(2024)).await.unwrap();
    let names: Vec<(&str, &str, f64, &str)> = t
        .iter()
        .map(|k| {
            (
                k.name.as_str(),
                k.unit.as_str(),
                k.target,
                k.metric.as_str(),
            )
        })
        .collect();
    assert!(names.contains(&(
        "デジタル人材（デジタル塾修了生）の育成",
        "人",
        10.0,
        "MANUAL"
    )));
    assert!(names.contains(&(
        "デジタル塾参加企業（2024年度までの累計）",
        "社",
        10.0,
        "MANUAL"
    )));
    let aom = store.lab_by_code("AOM").await.unwrap().unwrap();
    assert!(store.kpi_targets(aom.id, None).await.unwrap().is_empty());
}
