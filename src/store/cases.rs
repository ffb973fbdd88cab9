//! The case area of the store: opening cases (with gap-free references),
//! applying decisions atomically with their hash-chained events, and the reads
//! behind the case list, the timeline and routing help.

use super::case_models::*;
use super::{fetch_in, is_unique_violation, unique_or, PgStore, SqliteStore};
use crate::domain::hash_chain::{ChainLink, GENESIS};
use crate::domain::types::*;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Opens a case: finds or creates the business, allocates the next reference
    /// of the lab and year, and records the OPENED event — in one transaction.
    async fn open_case(&self, new: NewCase) -> AppResult<CaseSnapshot>;

    /// Locks the case, checks `expected_version` (stale → `CONFLICT`), lets
    /// `decide` look at the current state and say what changes, and writes the
    /// change with its events in the same transaction. A case of another lab is
    /// `NOT_FOUND`.
    async fn update_case(
        &self,
        lab_id: Uuid,
        case_id: Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        decide: Decide,
    ) -> AppResult<CaseSnapshot>;

    async fn case_by_id(&self, id: Uuid) -> AppResult<Option<CaseRow>>;
    async fn case_by_reference(&self, reference: &str) -> AppResult<Option<CaseRow>>;
    async fn cases_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<CaseRow>>;
    /// One page of the list, newest first, after the cursor `after` (a case id).
    async fn list_cases(
        &self,
        q: &CaseQuery,
        after: Option<Uuid>,
        limit: i64,
    ) -> AppResult<Vec<CaseRow>>;
    async fn count_cases(&self, q: &CaseQuery) -> AppResult<i64>;

    /// (case id, topic) pairs.
    async fn topics_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<(Uuid, String)>>;
    /// Referrals of these cases, oldest first.
    async fn referrals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<ReferralRow>>;
    async fn referral(&self, id: Uuid) -> AppResult<Option<ReferralRow>>;
    /// An institution's referrals in these statuses, oldest first (a partner's inbox).
    async fn referrals_for_institution(
        &self,
        lab_id: Uuid,
        institution_id: Uuid,
        statuses: &[ReferralStatus],
    ) -> AppResult<Vec<ReferralRow>>;
    /// Pending referrals of the lab past their pick-up deadline at `now`, most overdue first.
    async fn overdue_referrals(
        &self,
        lab_id: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<Vec<ReferralRow>>;
    /// The lab's referrals created since `since`, for routing statistics.
    async fn referral_history(
        &self,
        lab_id: Uuid,
        since: DateTime<Utc>,
    ) -> AppResult<Vec<ReferralBrief>>;

    /// Notes of these cases, oldest first.
    async fn notes_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<NoteRow>>;
    /// The timeline of a case, in order.
    async fn events_for_case(&self, case_id: Uuid) -> AppResult<Vec<EventRow>>;

    async fn businesses_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<BusinessRow>>;
    /// Businesses of the lab whose name or corporate number contains `q`.
    async fn search_businesses(
        &self,
        lab_id: Uuid,
        q: &str,
        limit: i64,
    ) -> AppResult<Vec<BusinessRow>>;

    /// Case ids in id order after `after` (for `audit verify` over any size).
    async fn case_ids_page(&self, after: Option<Uuid>, limit: i64) -> AppResult<Vec<Uuid>>;

    /// The stored seals of these cases (for `audit verify`).
    async fn seals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<SealRow>>;
    /// Seals a case as it stands with the store's audit key (`audit reseal`);
    /// false when the store has no key or the case does not exist.
    async fn reseal_case(&self, case_id: Uuid, now: DateTime<Utc>) -> AppResult<bool>;
}

const CASE_COLS: &str = "c.id, c.lab_id, c.reference, c.business_id, c.title, c.description, c.channel, c.stage, c.status, c.priority, \
c.assigned_to, c.consent_to_share, c.consent_at, c.consent_by, c.access_code_hash, c.outcomes, c.outcome_summary, c.version, \
c.event_count, c.last_event_hash, c.created_by, c.created_at, c.updated_at, c.resolved_at, c.closed_at, \
(SELECT COUNT(*) FROM referrals p WHERE p.case_id = c.id AND p.status = 'PENDING') > 0 AS has_pending";
// `has_pending` is a scalar subquery on purpose: PostgreSQL turns an EXISTS in
// the select list into a hashed subplan over every pending referral of the
// database (100 ms at a million cases) before the LIMIT applies; a scalar
// subquery stays a per-row index probe. EXISTS in WHERE clauses carry
// `LIMIT 1` for the same reason.
const BUSINESS_COLS: &str = "id, lab_id, name, corporate_number, industry, employee_band, municipality, region, contact_name, email, phone, created_at, updated_at, erased_at";
const REFERRAL_COLS: &str = "id, lab_id, case_id, institution_id, status, note, reason, decision_note, summary, referred_by, decided_by, pickup_deadline, created_at, decided_at, completed_at, updated_at";
const NOTE_COLS: &str = "id, lab_id, case_id, author_id, body, visibility, created_at";
const EVENT_COLS: &str = "id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash";

/// A bind value of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Uuid(Uuid),
    Text(String),
    Time(DateTime<Utc>),
}

/// Escapes LIKE wildcards so a search for "100%" means the text "100%".
fn like_pattern(term: &str) -> String {
    let mut s = String::with_capacity(term.len() + 2);
    s.push('%');
    for ch in term.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('%');
    s
}

/// The WHERE clause of the case list (alias `c`), with its binds.
pub(crate) fn case_where(q: &CaseQuery, after: Option<Uuid>) -> (String, Vec<Arg>) {
    let mut args: Vec<Arg> = vec![Arg::Uuid(q.lab_id)];
    let mut clauses: Vec<String> = vec!["c.lab_id = $1".into()];
    let next = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if let Some(inst) = q.partner_institution {
        let p = next(&mut args, Arg::Uuid(inst));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM referrals v WHERE v.case_id = c.id AND v.institution_id = {p} AND v.status IN ('PENDING', 'ACCEPTED', 'COMPLETED') LIMIT 1)"
        ));
    }
    if !q.statuses.is_empty() {
        let pending =
            "EXISTS (SELECT 1 FROM referrals p WHERE p.case_id = c.id AND p.status = 'PENDING' LIMIT 1)";
        let mut ors = Vec::new();
        for s in &q.statuses {
            ors.push(match s {
                CaseStatus::Referred => {
                    format!("(c.status IN ('NEW', 'IN_PROGRESS') AND {pending})")
                }
                CaseStatus::New | CaseStatus::InProgress => {
                    format!("(c.status = '{}' AND NOT {pending})", s.as_str())
                }
                other => format!("c.status = '{}'", other.as_str()),
            });
        }
        clauses.push(format!("({})", ors.join(" OR ")));
    }
    if !q.stages.is_empty() {
        let list: Vec<String> = q
            .stages
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        clauses.push(format!("c.stage IN ({})", list.join(", ")));
    }
    if !q.channels.is_empty() {
        let list: Vec<String> = q
            .channels
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        clauses.push(format!("c.channel IN ({})", list.join(", ")));
    }
    if let Some(inst) = q.institution_id {
        let p = next(&mut args, Arg::Uuid(inst));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM referrals i WHERE i.case_id = c.id AND i.institution_id = {p} AND i.status IN ('PENDING', 'ACCEPTED', 'COMPLETED') LIMIT 1)"
        ));
    }
    if let Some(u) = q.assigned_to {
        let p = next(&mut args, Arg::Uuid(u));
        clauses.push(format!("c.assigned_to = {p}"));
    }
    if let Some(b) = q.business_id {
        let p = next(&mut args, Arg::Uuid(b));
        clauses.push(format!("c.business_id = {p}"));
    }
    if let Some(t) = &q.topic {
        let p = next(&mut args, Arg::Text(t.clone()));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM case_topics t WHERE t.case_id = c.id AND t.topic = {p} LIMIT 1)"
        ));
    }
    if let Some(overdue) = q.overdue {
        let p = next(&mut args, Arg::Time(q.now));
        let cond = format!(
            "EXISTS (SELECT 1 FROM referrals o WHERE o.case_id = c.id AND o.status = 'PENDING' AND o.pickup_deadline < {p} LIMIT 1)"
        );
        clauses.push(if overdue { cond } else { format!("NOT {cond}") });
    }
    if let Some(from) = q.created_from {
        let p = next(&mut args, Arg::Time(from));
        clauses.push(format!("c.created_at >= {p}"));
    }
    if let Some(to) = q.created_to {
        let p = next(&mut args, Arg::Time(to));
        clauses.push(format!("c.created_at < {p}"));
    }
    if let Some(term) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let p = next(&mut args, Arg::Text(like_pattern(term)));
        clauses.push(format!(
            "(LOWER(c.title) LIKE {p} ESCAPE '\\' OR LOWER(c.description) LIKE {p} ESCAPE '\\' OR EXISTS (SELECT 1 FROM businesses sb WHERE sb.id = c.business_id AND LOWER(sb.name) LIKE {p} ESCAPE '\\'))"
        ));
    }
    if let Some(a) = after {
        let p = next(&mut args, Arg::Uuid(a));
        clauses.push(format!("c.id < {p}"));
    }
    (clauses.join(" AND "), args)
}

fn referral_conflict(e: &sqlx::Error) -> Option<AppError> {
    is_unique_violation(e).then(|| {
        AppError::conflict(
            "この連携機関への紹介は既に進行中です。同じ機関に同時に2件の紹介はできません。",
            "This case already has an open referral to that institution.",
        )
    })
}

macro_rules! impl_cases {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn fetch_snapshot(
                tx: &mut sqlx::Transaction<'static, $db>,
                lab_id: Uuid,
                case_id: Uuid,
            ) -> AppResult<Option<CaseSnapshot>> {
                let sql = format!(
                    "SELECT {CASE_COLS} FROM cases c WHERE c.id = $1 AND c.lab_id = $2{}",
                    <$store>::LOCK_ROWS
                );
                let case: Option<CaseRow> = sqlx::query_as(&sql)
                    .bind(case_id)
                    .bind(lab_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(case) = case else { return Ok(None) };
                let topics: Vec<(String,)> =
                    sqlx::query_as("SELECT topic FROM case_topics WHERE case_id = $1 ORDER BY topic")
                        .bind(case_id)
                        .fetch_all(&mut **tx)
                        .await?;
                let referrals: Vec<ReferralRow> = sqlx::query_as(&format!(
                    "SELECT {REFERRAL_COLS} FROM referrals WHERE case_id = $1 ORDER BY created_at, id"
                ))
                .bind(case_id)
                .fetch_all(&mut **tx)
                .await?;
                let business: BusinessRow = sqlx::query_as(&format!(
                    "SELECT {BUSINESS_COLS} FROM businesses WHERE id = $1"
                ))
                .bind(case.business_id)
                .fetch_one(&mut **tx)
                .await?;
                Ok(Some(CaseSnapshot {
                    case,
                    topics: topics.into_iter().map(|t| t.0).collect(),
                    referrals,
                    business,
                }))
            }

            /// Appends events to a case's chain; returns the new (count, last hash).
            async fn append_events(
                tx: &mut sqlx::Transaction<'static, $db>,
                lab_id: Uuid,
                case_id: Uuid,
                mut count: i64,
                mut last_hash: String,
                events: &[NewEvent],
                now: DateTime<Utc>,
            ) -> AppResult<(i64, String)> {
                for ev in events {
                    let link = ChainLink::after(
                        count,
                        &last_hash,
                        case_id,
                        ev.kind,
                        ev.actor,
                        now,
                        ev.payload.clone(),
                    );
                    sqlx::query(&format!(
                        "INSERT INTO case_events ({EVENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind(Uuid::now_v7())
                    .bind(lab_id)
                    .bind(case_id)
                    .bind(link.seq)
                    .bind(link.kind)
                    .bind(link.actor)
                    .bind(link.at)
                    .bind(sqlx::types::Json(&link.payload))
                    .bind(&link.prev_hash)
                    .bind(&link.hash)
                    .execute(&mut **tx)
                    .await?;
                    count = link.seq;
                    last_hash = link.hash;
                }
                Ok((count, last_hash))
            }

            /// Seals the case as it now stands, when the store has an audit key:
            /// the seal is computed here, in Rust, and written in the same
            /// transaction as the change it covers.
            async fn write_seal(
                tx: &mut sqlx::Transaction<'static, $db>,
                key: Option<&crate::domain::seal::SealKey>,
                snap: &CaseSnapshot,
                now: DateTime<Utc>,
            ) -> AppResult<()> {
                let Some(key) = key else { return Ok(()) };
                let notes: Vec<NoteRow> = sqlx::query_as(&format!(
                    "SELECT {NOTE_COLS} FROM notes WHERE case_id = $1"
                ))
                .bind(snap.case.id)
                .fetch_all(&mut **tx)
                .await?;
                let mac = key.seal(&sealed_state(&snap.case, &snap.referrals, &snap.topics, &notes));
                sqlx::query(
                    "INSERT INTO case_seals (case_id, key_id, event_count, mac, sealed_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (case_id) DO UPDATE SET key_id = excluded.key_id, event_count = excluded.event_count, \
                     mac = excluded.mac, sealed_at = excluded.sealed_at",
                )
                .bind(snap.case.id)
                .bind(key.id())
                .bind(snap.case.event_count)
                .bind(&mac)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn write_topics(
                tx: &mut sqlx::Transaction<'static, $db>,
                lab_id: Uuid,
                case_id: Uuid,
                topics: &[String],
            ) -> AppResult<()> {
                sqlx::query("DELETE FROM case_topics WHERE case_id = $1")
                    .bind(case_id)
                    .execute(&mut **tx)
                    .await?;
                for t in topics {
                    sqlx::query("INSERT INTO case_topics (case_id, lab_id, topic) VALUES ($1, $2, $3)")
                        .bind(case_id)
                        .bind(lab_id)
                        .bind(t)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// Inserts or updates a business; true when a row was written. An insert
            /// of a corporate number the lab already has writes nothing.
            async fn write_business(
                tx: &mut sqlx::Transaction<'static, $db>,
                b: &BusinessRow,
                insert: bool,
            ) -> AppResult<bool> {
                let sql = if insert {
                    format!("INSERT INTO businesses ({BUSINESS_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                             ON CONFLICT (lab_id, corporate_number) WHERE corporate_number IS NOT NULL DO NOTHING")
                } else {
                    "UPDATE businesses SET lab_id = $2, name = $3, corporate_number = $4, industry = $5, employee_band = $6, \
                     municipality = $7, region = $8, contact_name = $9, email = $10, phone = $11, created_at = $12, \
                     updated_at = $13, erased_at = $14 WHERE id = $1"
                        .to_owned()
                };
                let res = sqlx::query(&sql)
                    .bind(b.id)
                    .bind(b.lab_id)
                    .bind(&b.name)
                    .bind(&b.corporate_number)
                    .bind(&b.industry)
                    .bind(&b.employee_band)
                    .bind(&b.municipality)
                    .bind(&b.region)
                    .bind(&b.contact_name)
                    .bind(&b.email)
                    .bind(&b.phone)
                    .bind(b.created_at)
                    .bind(b.updated_at)
                    .bind(b.erased_at)
                    .execute(&mut **tx)
                    .await;
                // An update may still collide (an edit to a number another business has).
                Ok(unique_or(res, || AppError::conflict(
                        "この法人番号の事業者は既に登録されています。",
                        "A business with this corporate number is already registered.",
                    ))?.rows_affected() == 1)
            }

            async fn write_referral(
                tx: &mut sqlx::Transaction<'static, $db>,
                r: &ReferralRow,
                insert: bool,
            ) -> AppResult<()> {
                let sql = if insert {
                    format!("INSERT INTO referrals ({REFERRAL_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
                } else {
                    "UPDATE referrals SET lab_id = $2, case_id = $3, institution_id = $4, status = $5, note = $6, reason = $7, \
                     decision_note = $8, summary = $9, referred_by = $10, decided_by = $11, pickup_deadline = $12, \
                     created_at = $13, decided_at = $14, completed_at = $15, updated_at = $16 WHERE id = $1"
                        .to_owned()
                };
                let res = sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.lab_id)
                    .bind(r.case_id)
                    .bind(r.institution_id)
                    .bind(r.status)
                    .bind(&r.note)
                    .bind(r.reason)
                    .bind(&r.decision_note)
                    .bind(&r.summary)
                    .bind(r.referred_by)
                    .bind(r.decided_by)
                    .bind(r.pickup_deadline)
                    .bind(r.created_at)
                    .bind(r.decided_at)
                    .bind(r.completed_at)
                    .bind(r.updated_at)
                    .execute(&mut **tx)
                    .await;
                match res {
                    Err(e) => Err(referral_conflict(&e).unwrap_or_else(|| e.into())),
                    Ok(_) => Ok(()),
                }
            }

            async fn bind_all<'q, O>(
                mut q: sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>>,
                args: &'q [Arg],
            ) -> sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>> {
                for a in args {
                    q = match a {
                        Arg::Uuid(u) => q.bind(*u),
                        Arg::Text(t) => q.bind(t.as_str()),
                        Arg::Time(t) => q.bind(*t),
                    };
                }
                q
            }
        }

        #[async_trait]
        impl CaseStore for $store {
            async fn open_case(&self, new: NewCase) -> AppResult<CaseSnapshot> {
                let mut tx = self.begin_write().await?;
                // The business: an existing one of the lab, or a known corporate number, or a new row.
                let business_id = match &new.business {
                    BusinessChoice::Existing(id) => {
                        let found: Option<(Uuid,)> = sqlx::query_as(
                            "SELECT id FROM businesses WHERE id = $1 AND lab_id = $2 AND erased_at IS NULL",
                        )
                        .bind(*id)
                        .bind(new.lab_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        found
                            .ok_or_else(|| AppError::not_found("事業者", "Business"))?
                            .0
                    }
                    BusinessChoice::New(b) => {
                        let mut b = b.clone();
                        b.lab_id = new.lab_id;
                        // Inserted unless the lab already knows the corporate number —
                        // also when a concurrent intake registered it a moment ago: the
                        // insert then waits for that writer and does nothing.
                        if Self::write_business(&mut tx, &b, true).await? {
                            b.id
                        } else {
                            let mut k: BusinessRow = sqlx::query_as(&format!(
                                "SELECT {BUSINESS_COLS} FROM businesses WHERE lab_id = $1 AND corporate_number = $2"
                            ))
                            .bind(new.lab_id)
                            .bind(&b.corporate_number)
                            .fetch_one(&mut *tx)
                            .await?;
                            // Fill in what the record lacked; keep what it had.
                            let fill = |old: &mut Option<String>, new: &Option<String>| {
                                if old.is_none() {
                                    old.clone_from(new);
                                }
                            };
                            fill(&mut k.industry, &b.industry);
                            fill(&mut k.employee_band, &b.employee_band);
                            fill(&mut k.municipality, &b.municipality);
                            fill(&mut k.region, &b.region);
                            fill(&mut k.contact_name, &b.contact_name);
                            fill(&mut k.email, &b.email);
                            fill(&mut k.phone, &b.phone);
                            k.updated_at = new.now;
                            Self::write_business(&mut tx, &k, false).await?;
                            k.id
                        }
                    }
                };
                // The next reference of the lab and (Japan-time) calendar year: the
                // counter row is locked until commit, so references are gap-free.
                let year = crate::domain::jst::date_of(new.now).year();
                let (seq,): (i64,) = sqlx::query_as(
                    "INSERT INTO case_counters (lab_id, year, last_seq) VALUES ($1, $2, 1) \
                     ON CONFLICT (lab_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 \
                     RETURNING last_seq",
                )
                .bind(new.lab_id)
                .bind(i64::from(year))
                .fetch_one(&mut *tx)
                .await?;
                let reference = crate::domain::reference::format_reference(&new.lab_code, year, seq);
                let consent_at = new.consent_to_share.then_some(new.now);
                sqlx::query(
                    "INSERT INTO cases (id, lab_id, reference, business_id, title, description, channel, stage, status, priority, \
                     assigned_to, consent_to_share, consent_at, consent_by, access_code_hash, outcomes, outcome_summary, version, \
                     event_count, last_event_hash, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, 1, 0, $17, $18, $19, $19)",
                )
                .bind(new.id)
                .bind(new.lab_id)
                .bind(&reference)
                .bind(business_id)
                .bind(&new.title)
                .bind(&new.description)
                .bind(new.channel)
                .bind(new.stage)
                .bind(new.status)
                .bind(new.priority)
                .bind(new.assigned_to)
                .bind(new.consent_to_share)
                .bind(consent_at)
                .bind(if new.consent_to_share { new.consent_by } else { None })
                .bind(&new.access_code_hash)
                .bind(sqlx::types::Json(Vec::<Outcome>::new()))
                .bind(GENESIS)
                .bind(new.actor)
                .bind(new.now)
                .execute(&mut *tx)
                .await?;
                Self::write_topics(&mut tx, new.lab_id, new.id, &new.topics).await?;
                let opened = crate::service::events::event(
                    new.actor,
                    crate::domain::events::EventPayload::Opened(crate::domain::events::Opened {
                        reference: reference.clone(),
                        stage: new.stage,
                        channel: new.channel,
                        consent_to_share: new.consent_to_share,
                        priority: new.priority,
                        topics: new.topics.clone(),
                    }),
                );
                let (count, hash) = Self::append_events(
                    &mut tx,
                    new.lab_id,
                    new.id,
                    0,
                    GENESIS.to_owned(),
                    std::slice::from_ref(&opened),
                    new.now,
                )
                .await?;
                sqlx::query("UPDATE cases SET event_count = $1, last_event_hash = $2 WHERE id = $3")
                    .bind(count)
                    .bind(&hash)
                    .bind(new.id)
                    .execute(&mut *tx)
                    .await?;
                let snap = Self::fetch_snapshot(&mut tx, new.lab_id, new.id)
                    .await?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("case vanished after insert")))?;
                Self::write_seal(&mut tx, self.seal_key.as_deref(), &snap, new.now).await?;
                tx.commit().await?;
                Ok(snap)
            }

            async fn update_case(
                &self,
                lab_id: Uuid,
                case_id: Uuid,
                expected_version: Option<i64>,
                now: DateTime<Utc>,
                decide: Decide,
            ) -> AppResult<CaseSnapshot> {
                let mut tx = self.begin_write().await?;
                let snap = Self::fetch_snapshot(&mut tx, lab_id, case_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("案件", "Case"))?;
                if let Some(v) = expected_version {
                    if v != snap.case.version {
                        return Err(AppError::stale_version());
                    }
                }
                let change = decide(&snap)?;
                let mut case = change.case.clone().unwrap_or_else(|| snap.case.clone());
                if let Some(b) = &change.business {
                    Self::write_business(&mut tx, b, false).await?;
                }
                if let Some(topics) = &change.topics {
                    Self::write_topics(&mut tx, lab_id, case_id, topics).await?;
                }
                for r in &change.updated_referrals {
                    Self::write_referral(&mut tx, r, false).await?;
                }
                for r in &change.new_referrals {
                    Self::write_referral(&mut tx, r, true).await?;
                }
                if let Some(text) = &change.redact_notes {
                    sqlx::query("UPDATE notes SET body = $1 WHERE case_id = $2")
                        .bind(text)
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                }
                for n in &change.new_notes {
                    sqlx::query(&format!(
                        "INSERT INTO notes ({NOTE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(n.id)
                    .bind(n.lab_id)
                    .bind(n.case_id)
                    .bind(n.author_id)
                    .bind(&n.body)
                    .bind(n.visibility)
                    .bind(n.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                let (count, hash) = Self::append_events(
                    &mut tx,
                    lab_id,
                    case_id,
                    snap.case.event_count,
                    snap.case.last_event_hash.clone(),
                    &change.events,
                    now,
                )
                .await?;
                let new_version = snap.case.version + i64::from(change.bump_version);
                case.updated_at = now;
                // The version guard makes a lost update impossible even without a row lock.
                let n = sqlx::query(
                    "UPDATE cases SET title = $1, description = $2, channel = $3, stage = $4, status = $5, priority = $6, \
                     assigned_to = $7, consent_to_share = $8, consent_at = $9, consent_by = $10, access_code_hash = $11, \
                     outcomes = $12, outcome_summary = $13, version = $14, event_count = $15, last_event_hash = $16, \
                     updated_at = $17, resolved_at = $18, closed_at = $19 WHERE id = $20 AND version = $21",
                )
                .bind(&case.title)
                .bind(&case.description)
                .bind(case.channel)
                .bind(case.stage)
                .bind(case.status)
                .bind(case.priority)
                .bind(case.assigned_to)
                .bind(case.consent_to_share)
                .bind(case.consent_at)
                .bind(case.consent_by)
                .bind(&case.access_code_hash)
                .bind(&case.outcomes)
                .bind(&case.outcome_summary)
                .bind(new_version)
                .bind(count)
                .bind(&hash)
                .bind(now)
                .bind(case.resolved_at)
                .bind(case.closed_at)
                .bind(case_id)
                .bind(snap.case.version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(AppError::stale_version());
                }
                let out = Self::fetch_snapshot(&mut tx, lab_id, case_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("案件", "Case"))?;
                Self::write_seal(&mut tx, self.seal_key.as_deref(), &out, now).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn case_by_id(&self, id: Uuid) -> AppResult<Option<CaseRow>> {
                Ok(sqlx::query_as(&format!("SELECT {CASE_COLS} FROM cases c WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn case_by_reference(&self, reference: &str) -> AppResult<Option<CaseRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {CASE_COLS} FROM cases c WHERE c.reference = $1"
                ))
                .bind(reference)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn cases_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<CaseRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {CASE_COLS} FROM cases c WHERE c.id IN"), ids, "")?)
            }

            async fn list_cases(&self, q: &CaseQuery, after: Option<Uuid>, limit: i64) -> AppResult<Vec<CaseRow>> {
                let (clause, args) = case_where(q, after);
                let sql = format!(
                    "SELECT {CASE_COLS} FROM cases c WHERE {clause} ORDER BY c.id DESC LIMIT {}",
                    limit.clamp(1, 1000)
                );
                let query = Self::bind_all(sqlx::query_as(&sql), &args).await;
                Ok(query.fetch_all(&self.pool).await?)
            }

            async fn count_cases(&self, q: &CaseQuery) -> AppResult<i64> {
                let (clause, args) = case_where(q, None);
                let sql = format!("SELECT COUNT(*) FROM cases c WHERE {clause}");
                let query = Self::bind_all(sqlx::query_as::<_, (i64,)>(&sql), &args).await;
                Ok(query.fetch_one(&self.pool).await?.0)
            }

            async fn topics_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<(Uuid, String)>> {
                Ok(fetch_in!(&self.pool, "SELECT case_id, topic FROM case_topics WHERE case_id IN", ids, "ORDER BY topic")?)
            }

            async fn referrals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<ReferralRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {REFERRAL_COLS} FROM referrals WHERE case_id IN"), ids, "ORDER BY created_at, id")?)
            }

            async fn referral(&self, id: Uuid) -> AppResult<Option<ReferralRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {REFERRAL_COLS} FROM referrals WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn referrals_for_institution(
                &self,
                lab_id: Uuid,
                institution_id: Uuid,
                statuses: &[ReferralStatus],
            ) -> AppResult<Vec<ReferralRow>> {
                let list: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
                let filter = if list.is_empty() {
                    String::new()
                } else {
                    format!(" AND status IN ({})", list.join(", "))
                };
                Ok(sqlx::query_as(&format!(
                    "SELECT {REFERRAL_COLS} FROM referrals WHERE lab_id = $1 AND institution_id = $2{filter} ORDER BY created_at, id"
                ))
                .bind(lab_id)
                .bind(institution_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn overdue_referrals(&self, lab_id: Uuid, now: DateTime<Utc>) -> AppResult<Vec<ReferralRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {REFERRAL_COLS} FROM referrals WHERE lab_id = $1 AND status = 'PENDING' AND pickup_deadline < $2 \
                     ORDER BY pickup_deadline, id"
                ))
                .bind(lab_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn referral_history(&self, lab_id: Uuid, since: DateTime<Utc>) -> AppResult<Vec<ReferralBrief>> {
                Ok(sqlx::query_as(
                    "SELECT institution_id, status, created_at, decided_at FROM referrals WHERE lab_id = $1 AND created_at >= $2",
                )
                .bind(lab_id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn notes_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<NoteRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {NOTE_COLS} FROM notes WHERE case_id IN"), ids, "ORDER BY created_at, id")?)
            }

            async fn events_for_case(&self, case_id: Uuid) -> AppResult<Vec<EventRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {EVENT_COLS} FROM case_events WHERE case_id = $1 ORDER BY seq"
                ))
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn businesses_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<BusinessRow>> {
                Ok(fetch_in!(&self.pool, format!("SELECT {BUSINESS_COLS} FROM businesses WHERE id IN"), ids, "")?)
            }

            async fn search_businesses(&self, lab_id: Uuid, q: &str, limit: i64) -> AppResult<Vec<BusinessRow>> {
                let pattern = like_pattern(q.trim());
                Ok(sqlx::query_as(&format!(
                    "SELECT {BUSINESS_COLS} FROM businesses WHERE lab_id = $1 AND erased_at IS NULL AND \
                     (LOWER(name) LIKE $2 ESCAPE '\\' OR corporate_number LIKE $2 ESCAPE '\\') ORDER BY name LIMIT {}",
                    limit.clamp(1, 100)
                ))
                .bind(lab_id)
                .bind(pattern)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn case_ids_page(&self, after: Option<Uuid>, limit: i64) -> AppResult<Vec<Uuid>> {
                let rows: Vec<(Uuid,)> = match after {
                    Some(a) => {
                        sqlx::query_as(&format!(
                            "SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT {}",
                            limit.clamp(1, 10_000)
                        ))
                        .bind(a)
                        .fetch_all(&self.pool)
                        .await?
                    }
                    None => {
                        sqlx::query_as(&format!(
                            "SELECT id FROM cases ORDER BY id LIMIT {}",
                            limit.clamp(1, 10_000)
                        ))
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn seals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<SealRow>> {
                Ok(fetch_in!(&self.pool, "SELECT case_id, key_id, event_count, mac, sealed_at FROM case_seals WHERE case_id IN", ids, "")?)
            }

            async fn reseal_case(&self, case_id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
                let Some(key) = self.seal_key.as_deref() else { return Ok(false) };
                let mut tx = self.begin_write().await?;
                let lab: Option<(Uuid,)> = sqlx::query_as("SELECT lab_id FROM cases WHERE id = $1")
                    .bind(case_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((lab_id,)) = lab else { return Ok(false) };
                let Some(snap) = Self::fetch_snapshot(&mut tx, lab_id, case_id).await? else {
                    return Ok(false);
                };
                Self::write_seal(&mut tx, Some(key), &snap, now).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

impl_cases!(SqliteStore, sqlx::Sqlite);
impl_cases!(PgStore, sqlx::Postgres);
