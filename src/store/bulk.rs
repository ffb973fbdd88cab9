//! Bulk synthetic data for benchmarks: a lab's worth of cases over several
//! years, written with multi-row INSERTs in large transactions (the real
//! `open_case` path is for people, not for a million rows). Every case gets a
//! real hash-chained OPENED event, so `audit verify` holds on the result.
//! Meant for an empty lab: references start at 1 for each year.

use super::db::{sql, HasDb, Pool, Sql, Val};
use crate::domain::hash_chain::ChainLink;
use crate::domain::types::*;
use chrono::{DateTime, Datelike, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// What to generate.
#[derive(Debug, Clone)]
pub struct BulkSpec {
    pub lab_id: Uuid,
    pub lab_code: String,
    /// Number of cases.
    pub cases: usize,
    /// Cases are spread evenly over [from, to).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Institutions referrals go to.
    pub institutions: Vec<Uuid>,
    /// (municipality, region code) pairs businesses are in.
    pub places: Vec<(String, String)>,
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct BulkReport {
    pub cases: usize,
    pub businesses: usize,
    pub referrals: usize,
    pub events: usize,
}

/// Synthetic titles are `TITLE_FORMS` over `WORK` × `MEANS`; descriptions two
/// or three of `SENTENCES`, plus now and then a sentence with a mid-frequency
/// (`MID_TERM`, ~1 %) or rare (`RARE_TERM`, ~0.01 %) term. 在庫 ends up in
/// about a quarter of the cases: the common search term.
const WORK: &[&str] = &[
    "在庫管理",
    "受発注",
    "経理",
    "勤怠管理",
    "顧客管理",
    "生産管理",
    "採用",
    "営業",
    "請求書発行",
    "品質検査",
    "配送",
    "予約受付",
];
const MEANS: &[&str] = &[
    "クラウド化",
    "ペーパーレス化",
    "自動化",
    "見える化",
    "システム導入",
    "データ活用",
    "AI活用",
    "DX",
];
const TITLE_FORMS: &[(&str, &str)] = &[
    ("の", "について相談したい"),
    ("を", "したい"),
    ("の", "を進めたい"),
    ("で", "ができないか知りたい"),
];
const SENTENCES: &[&str] = &[
    "紙の帳票が多く、転記ミスが起きている。",
    "担当者が一人しかおらず、休むと業務が止まる。",
    "在庫の数が合わず、月末の棚卸しに時間がかかる。",
    "取引先からEDIへの対応を求められている。",
    "補助金を使って設備を更新したい。",
    "Excelのマクロが古く、誰も直せない。",
    "受注はFAXと電話が中心で、確認に手間がかかる。",
    "若手の採用が難しく、省力化を急ぎたい。",
    "ホームページからの問い合わせを増やしたい。",
    "製造ラインの稼働状況が見えていない。",
    "過剰在庫と欠品が同時に起きている。",
    "会計ソフトとの連携がうまくいっていない。",
    "セキュリティ対策を何から始めればよいか分からない。",
    "社長がITに詳しくなく、社内に相談相手がいない。",
    "配送ルートを効率化して燃料費を抑えたい。",
    "顧客情報が担当者ごとに分散している。",
];
/// In about 1 % of the descriptions.
pub const MID_TERM: &str = "酒蔵";
/// In about 0.01 % of the descriptions.
pub const RARE_TERM: &str = "漆器";
const MID_SENTENCE: &str = "酒蔵の温度管理をIoTで行いたい。";
const RARE_SENTENCE: &str = "輪島塗の漆器を海外のECサイトで販売したい。";

/// A synthetic title and description.
fn texts(rng: &mut StdRng) -> (String, String) {
    let (b, c) = TITLE_FORMS[rng.gen_range(0..TITLE_FORMS.len())];
    let title = format!(
        "{}{b}{}{c}",
        WORK[rng.gen_range(0..WORK.len())],
        MEANS[rng.gen_range(0..MEANS.len())]
    );
    let mut d = String::new();
    for _ in 0..rng.gen_range(2..=3) {
        d.push_str(SENTENCES[rng.gen_range(0..SENTENCES.len())]);
    }
    if rng.gen_bool(0.01) {
        d.push_str(MID_SENTENCE);
    }
    if rng.gen_bool(0.0001) {
        d.push_str(RARE_SENTENCE);
    }
    (title, d)
}
const TOPICS: &[&str] = &[
    "在庫管理",
    "IoT",
    "EC",
    "補助金",
    "AI",
    "業務効率化",
    "セキュリティ",
    "人材育成",
];
const INDUSTRIES: &[&str] = &["A", "D", "E", "I", "M", "P", "E", "E", "I", "R"];

struct Gen {
    businesses: Vec<(Uuid, String, usize, DateTime<Utc>)>,
    cases: Vec<GenCase>,
    topics: Vec<(Uuid, String)>,
    referrals: Vec<GenReferral>,
    events: Vec<ChainLink>,
}

struct GenCase {
    id: Uuid,
    reference: String,
    business: Uuid,
    title: String,
    description: String,
    channel: Channel,
    stage: Stage,
    status: CaseStatus,
    outcomes: Vec<Outcome>,
    at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    event_count: i64,
    last_hash: String,
}

struct GenReferral {
    id: Uuid,
    case_id: Uuid,
    institution: Uuid,
    status: ReferralStatus,
    reason: Option<DeclineReason>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    deadline: DateTime<Utc>,
}

/// Generates one chunk of cases [start, end) deterministically.
fn generate(spec: &BulkSpec, start: usize, end: usize, counters: &mut HashMap<i32, i64>) -> Gen {
    let mut rng = StdRng::seed_from_u64(spec.seed ^ (start as u64).wrapping_mul(0x9E37_79B9));
    let span = (spec.to - spec.from).num_seconds().max(1);
    let mut g = Gen {
        businesses: vec![],
        cases: vec![],
        topics: vec![],
        referrals: vec![],
        events: vec![],
    };
    for i in start..end {
        let at = crate::clock::trunc(
            spec.from + Duration::seconds(span * i as i64 / spec.cases.max(1) as i64),
        );
        // Roughly two cases per business: a new business every other case.
        if g.businesses.is_empty() || rng.gen_bool(0.5) {
            let place = rng.gen_range(0..spec.places.len().max(1));
            g.businesses
                .push((Uuid::now_v7(), format!("株式会社ベンチ{i:07}"), place, at));
        }
        let business = g.businesses[rng.gen_range(0..g.businesses.len())].0;
        let year = crate::domain::jst::date_of(at).year();
        let seq = counters.entry(year).or_insert(0);
        *seq += 1;
        let stage = [Stage::Know, Stage::Consult, Stage::Try][rng.gen_range(0..3)];
        let roll: f64 = rng.gen();
        let status = if roll < 0.55 {
            CaseStatus::Closed
        } else if roll < 0.75 {
            CaseStatus::Resolved
        } else if roll < 0.9 {
            CaseStatus::InProgress
        } else if roll < 0.95 {
            CaseStatus::OnHold
        } else {
            CaseStatus::New
        };
        let resolved_at = matches!(status, CaseStatus::Resolved | CaseStatus::Closed)
            .then(|| at + Duration::days(rng.gen_range(3..120)));
        let outcomes = if resolved_at.is_some() {
            vec![
                [
                    Outcome::ToolAdopted,
                    Outcome::TrialRun,
                    Outcome::SubsidyApplied,
                    Outcome::AdviceOnly,
                ][rng.gen_range(0..4)],
            ]
        } else {
            vec![]
        };
        let id = Uuid::now_v7();
        let topic = TOPICS[rng.gen_range(0..TOPICS.len())];
        g.topics.push((id, topic.to_owned()));
        let opened = ChainLink::next(
            None,
            id,
            EventKind::Opened,
            None,
            at,
            json!({ "stage": stage.as_str(), "channel": "WALK_IN" }),
        );
        let mut last = opened.clone();
        g.events.push(opened);
        if stage != Stage::Know && rng.gen_bool(0.3) {
            let from = if stage == Stage::Try {
                Stage::Consult
            } else {
                Stage::Know
            };
            let moved = ChainLink::next(
                Some(&last),
                id,
                EventKind::StageChanged,
                None,
                at + Duration::days(1),
                json!({ "from": from.as_str(), "to": stage.as_str() }),
            );
            last = moved.clone();
            g.events.push(moved);
        }
        if !spec.institutions.is_empty() && rng.gen_bool(0.6) {
            let created_at = at + Duration::hours(rng.gen_range(1..48));
            let r: f64 = rng.gen();
            let (rs, reason) = if r < 0.6 {
                (ReferralStatus::Completed, None)
            } else if r < 0.8 {
                (ReferralStatus::Accepted, None)
            } else if r < 0.9 {
                (ReferralStatus::Declined, Some(DeclineReason::NoCapacity))
            } else {
                (ReferralStatus::Pending, None)
            };
            let decided_at = (rs != ReferralStatus::Pending)
                .then(|| created_at + Duration::hours(rng.gen_range(2..200)));
            g.referrals.push(GenReferral {
                id: Uuid::now_v7(),
                case_id: id,
                institution: spec.institutions[rng.gen_range(0..spec.institutions.len())],
                status: rs,
                reason,
                created_at,
                decided_at,
                deadline: crate::domain::business_days::pickup_deadline(created_at, 3),
            });
        }
        let (title, description) = texts(&mut rng);
        g.cases.push(GenCase {
            id,
            reference: crate::domain::reference::format_reference(&spec.lab_code, year, *seq),
            business,
            title,
            description,
            channel: [
                Channel::WalkIn,
                Channel::Phone,
                Channel::Email,
                Channel::WebForm,
                Channel::Seminar,
            ][rng.gen_range(0..5)],
            stage,
            status,
            outcomes,
            at,
            resolved_at,
            event_count: last.seq,
            last_hash: last.hash.clone(),
        });
    }
    g
}

/// Appends `VALUES (…), (…)`: one bind per column of every row.
fn push_rows(q: &mut Sql, rows: impl IntoIterator<Item = Vec<Val>>) {
    q.push(" VALUES ");
    for (i, row) in rows.into_iter().enumerate() {
        q.push(if i > 0 { ", (" } else { "(" });
        q.bind_list(row).push(")");
    }
}

/// Writes `spec.cases` synthetic cases (and their businesses, topics,
/// referrals and events), `chunk` cases per transaction.
async fn seed(
    pool: &Pool,
    spec: &BulkSpec,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<BulkReport> {
    let mut report = BulkReport::default();
    let mut counters: HashMap<i32, i64> = HashMap::new();
    // 1,000 cases a statement: within SQLite's 32,766 and PostgreSQL's 65,535
    // binds per statement (22 columns a case, at most two events a case).
    let chunk = 1000;
    let mut start = 0;
    // The search index's GIN is built once at the end: faster than keeping it
    // up to date over a million inserts. Searches stay correct without it.
    if pool.dialect() == super::db::Dialect::Postgres {
        sql("DROP INDEX IF EXISTS case_search_grams")
            .execute(pool)
            .await?;
    }
    while start < spec.cases {
        let end = (start + chunk).min(spec.cases);
        let g = generate(spec, start, end, &mut counters);
        let mut tx = pool.begin().await?;
        let mut q = sql("INSERT INTO businesses (id, lab_id, name, industry, municipality, region, created_at, updated_at)");
        push_rows(
            &mut q,
            g.businesses.iter().map(|(id, name, place, at)| {
                let (m, r) = spec.places.get(*place).cloned().unwrap_or_default();
                vec![
                    (*id).into(),
                    spec.lab_id.into(),
                    name.into(),
                    INDUSTRIES[*place % INDUSTRIES.len()].into(),
                    m.into(),
                    r.into(),
                    (*at).into(),
                    (*at).into(),
                ]
            }),
        );
        q.execute(&mut tx).await?;
        let mut q = sql(
            "INSERT INTO cases (id, lab_id, reference, business_id, title, description, channel, stage, status, priority, \
             consent_to_share, consent_at, access_code_hash, outcomes, outcome_summary, version, event_count, last_event_hash, \
             created_at, updated_at, resolved_at, closed_at)",
        );
        push_rows(
            &mut q,
            g.cases.iter().map(|c| {
                vec![
                    c.id.into(),
                    spec.lab_id.into(),
                    (&c.reference).into(),
                    c.business.into(),
                    (&c.title).into(),
                    (&c.description).into(),
                    c.channel.into(),
                    c.stage.into(),
                    c.status.into(),
                    Priority::Normal.into(),
                    true.into(),
                    c.at.into(),
                    "bench".into(),
                    Val::json(&c.outcomes),
                    c.resolved_at.map(|_| "ベンチマーク").into(),
                    1_i64.into(),
                    c.event_count.into(),
                    (&c.last_hash).into(),
                    c.at.into(),
                    c.resolved_at.unwrap_or(c.at).into(),
                    c.resolved_at.into(),
                    (c.status == CaseStatus::Closed)
                        .then_some(c.resolved_at)
                        .flatten()
                        .into(),
                ]
            }),
        );
        q.execute(&mut tx).await?;
        let ids: Vec<Uuid> = g.cases.iter().map(|c| c.id).collect();
        super::search::index_cases(&mut tx, &ids).await?;
        let mut q = sql("INSERT INTO case_topics (case_id, lab_id, topic)");
        push_rows(
            &mut q,
            g.topics
                .iter()
                .map(|(id, t)| vec![(*id).into(), spec.lab_id.into(), t.into()]),
        );
        q.execute(&mut tx).await?;
        if !g.referrals.is_empty() {
            let mut q = sql(
                "INSERT INTO referrals (id, lab_id, case_id, institution_id, status, reason, pickup_deadline, created_at, decided_at, completed_at, updated_at)",
            );
            push_rows(
                &mut q,
                g.referrals.iter().map(|r| {
                    vec![
                        r.id.into(),
                        spec.lab_id.into(),
                        r.case_id.into(),
                        r.institution.into(),
                        r.status.into(),
                        r.reason.into(),
                        r.deadline.into(),
                        r.created_at.into(),
                        r.decided_at.into(),
                        (r.status == ReferralStatus::Completed)
                            .then_some(r.decided_at)
                            .flatten()
                            .into(),
                        r.decided_at.unwrap_or(r.created_at).into(),
                    ]
                }),
            );
            q.execute(&mut tx).await?;
        }
        let mut q = sql("INSERT INTO case_events (id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash)");
        push_rows(
            &mut q,
            g.events.iter().map(|e| {
                vec![
                    Uuid::now_v7().into(),
                    spec.lab_id.into(),
                    e.case_id.into(),
                    e.seq.into(),
                    e.kind.into(),
                    e.actor.into(),
                    e.at.into(),
                    Val::json(&e.payload),
                    (&e.prev_hash).into(),
                    (&e.hash).into(),
                ]
            }),
        );
        q.execute(&mut tx).await?;
        tx.commit().await?;
        report.cases += g.cases.len();
        report.businesses += g.businesses.len();
        report.referrals += g.referrals.len();
        report.events += g.events.len();
        start = end;
        progress(report.cases);
    }
    if pool.dialect() == super::db::Dialect::Postgres {
        let mut tx = pool.begin().await?;
        sql("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut tx)
            .await?;
        sql("CREATE INDEX IF NOT EXISTS case_search_grams ON case_search USING gin (grams)")
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
    }
    // Later cases opened normally continue the numbering.
    for (year, last) in counters {
        sql("INSERT INTO case_counters (lab_id, year, last_seq) VALUES (")
            .bind(spec.lab_id)
            .push(", ")
            .bind(i64::from(year))
            .push(", ")
            .bind(last)
            .push(") ON CONFLICT (lab_id, year) DO UPDATE SET last_seq = case_counters.last_seq + ")
            .bind(last)
            .execute(pool)
            .await?;
    }
    after_seed(pool, spec).await?;
    // The report's rollup, as the case writes would have kept it.
    super::rollup::rebuild(pool).await?;
    // As autovacuum would after a bulk load: statistics, and on PostgreSQL the
    // visibility map, without which the report's rollup tables are read through
    // the heap instead of their covering indexes (activityReport at 1M cases:
    // 200–250 ms just after seeding, 124–139 ms after VACUUM).
    let after = if matches!(pool, Pool::Postgres(_)) {
        "VACUUM (ANALYZE)"
    } else {
        "ANALYZE"
    };
    sql(after).execute(pool).await?;
    Ok(report)
}

/// Hooks for the tables other features derive from the cases, filled once
/// after the bulk insert (the bulk path bypasses `open_case`, which keeps them
/// up to date for real writes). Each feature exposes one function over the
/// pool and is called here:
/// - search index (S): rebuild the token index of the lab's cases;
/// - activity-report rollup (R): recompute the monthly rollup of the lab.
async fn after_seed(pool: &Pool, spec: &BulkSpec) -> anyhow::Result<()> {
    let _ = (pool, spec.lab_id);
    Ok(())
}

impl super::SqliteStore {
    /// Writes `spec.cases` synthetic cases (and their businesses, topics,
    /// referrals and events) in transactions of 1,000 cases, then ANALYZE.
    pub async fn bulk_seed(
        &self,
        spec: &BulkSpec,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<BulkReport> {
        seed(&self.db().pool, spec, &mut progress).await
    }
}

impl super::PgStore {
    /// Writes `spec.cases` synthetic cases (and their businesses, topics,
    /// referrals and events) in transactions of 1,000 cases, then ANALYZE.
    pub async fn bulk_seed(
        &self,
        spec: &BulkSpec,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<BulkReport> {
        seed(&self.db().pool, spec, &mut progress).await
    }
}
