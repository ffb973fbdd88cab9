//! The case area of the store: opening cases (with gap-free references),
//! applying decisions atomically with their hash-chained events, and the reads
//! behind the case list, the timeline and routing help.

use super::case_models::*;
use super::db::{sql, Col, HasDb, Sql, Tx, Val};
use super::rules::{self, PENDING};
use super::{fetch_in, is_unique_violation, unique_or};
use crate::domain::hash_chain::{ChainLink, GENESIS};
use crate::domain::types::*;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use std::sync::LazyLock;
use uuid::Uuid;

pub mod intake;

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

/// The select list of a case row (alias `c`).
pub(crate) static CASE_COLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "c.id, c.lab_id, c.reference, c.business_id, c.title, c.description, c.channel, c.stage, c.status, c.priority, \
         c.assigned_to, c.consent_to_share, c.consent_at, c.consent_by, c.email_updates, c.access_code_hash, c.outcomes, c.outcome_summary, c.version, \
         c.event_count, c.last_event_hash, c.created_by, c.created_at, c.updated_at, c.resolved_at, c.closed_at, \
         (SELECT COUNT(*) FROM referrals p WHERE p.case_id = c.id AND p.status = {PENDING}) > 0 AS has_pending"
    )
});
// `has_pending` is a scalar subquery on purpose: PostgreSQL turns an EXISTS in
// the select list into a hashed subplan over every pending referral of the
// database (100 ms at a million cases) before the LIMIT applies; a scalar
// subquery stays a per-row index probe. EXISTS in WHERE clauses carry
// `LIMIT 1` for the same reason.
const BUSINESS_COLS: &str = "id, lab_id, name, corporate_number, industry, employee_band, municipality, region, contact_name, email, phone, created_at, updated_at, erased_at";
const REFERRAL_COLS: &str = "id, lab_id, case_id, institution_id, status, note, reason, decision_note, summary, referred_by, decided_by, pickup_deadline, created_at, decided_at, completed_at, updated_at";
const NOTE_COLS: &str = "id, lab_id, case_id, author_id, body, visibility, created_at";
const EVENT_COLS: &str = "id, lab_id, case_id, seq, kind, actor_id, at, payload, prev_hash, hash";

/// Whether `update_case` rewrites a column, or only the insert writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    OnInsert,
    Always,
}

/// Every stored column of a case, with its value: the one list both the
/// insert and the update of a case row are built from.
fn case_columns(c: &CaseRow) -> Vec<(&'static str, Written, Val)> {
    use Written::*;
    vec![
        ("id", OnInsert, c.id.into()),
        ("lab_id", OnInsert, c.lab_id.into()),
        ("reference", OnInsert, (&c.reference).into()),
        // Always: a merge moves a case to the business it keeps.
        ("business_id", Always, c.business_id.into()),
        ("title", Always, (&c.title).into()),
        ("description", Always, (&c.description).into()),
        ("channel", Always, c.channel.into()),
        ("stage", Always, c.stage.into()),
        ("status", Always, c.status.into()),
        ("priority", Always, c.priority.into()),
        ("assigned_to", Always, c.assigned_to.into()),
        ("consent_to_share", Always, c.consent_to_share.into()),
        ("consent_at", Always, c.consent_at.into()),
        ("consent_by", Always, c.consent_by.into()),
        ("email_updates", Always, c.email_updates.into()),
        ("access_code_hash", Always, (&c.access_code_hash).into()),
        ("outcomes", Always, (&c.outcomes).into()),
        ("outcome_summary", Always, (&c.outcome_summary).into()),
        ("version", Always, c.version.into()),
        ("event_count", Always, c.event_count.into()),
        ("last_event_hash", Always, (&c.last_event_hash).into()),
        ("created_by", OnInsert, c.created_by.into()),
        ("created_at", OnInsert, c.created_at.into()),
        ("updated_at", Always, c.updated_at.into()),
        ("resolved_at", Always, c.resolved_at.into()),
        ("closed_at", Always, c.closed_at.into()),
    ]
}

fn case_row(c: &CaseRow, only: Option<Written>) -> Vec<Col> {
    case_columns(c)
        .into_iter()
        .filter(|(_, w, _)| only.is_none_or(|o| o == *w))
        .map(|(name, _, v)| (name, v))
        .collect()
}

fn business_row(b: &BusinessRow) -> Vec<Col> {
    vec![
        ("id", b.id.into()),
        ("lab_id", b.lab_id.into()),
        ("name", (&b.name).into()),
        ("corporate_number", (&b.corporate_number).into()),
        ("industry", (&b.industry).into()),
        ("employee_band", (&b.employee_band).into()),
        ("municipality", (&b.municipality).into()),
        ("region", (&b.region).into()),
        ("contact_name", (&b.contact_name).into()),
        ("email", (&b.email).into()),
        ("phone", (&b.phone).into()),
        ("created_at", b.created_at.into()),
        ("updated_at", b.updated_at.into()),
        ("erased_at", b.erased_at.into()),
    ]
}

fn referral_row(r: &ReferralRow) -> Vec<Col> {
    vec![
        ("id", r.id.into()),
        ("lab_id", r.lab_id.into()),
        ("case_id", r.case_id.into()),
        ("institution_id", r.institution_id.into()),
        ("status", r.status.into()),
        ("note", (&r.note).into()),
        ("reason", r.reason.into()),
        ("decision_note", (&r.decision_note).into()),
        ("summary", (&r.summary).into()),
        ("referred_by", r.referred_by.into()),
        ("decided_by", r.decided_by.into()),
        ("pickup_deadline", r.pickup_deadline.into()),
        ("created_at", r.created_at.into()),
        ("decided_at", r.decided_at.into()),
        ("completed_at", r.completed_at.into()),
        ("updated_at", r.updated_at.into()),
    ]
}

fn note_row(n: &NoteRow) -> Vec<Col> {
    vec![
        ("id", n.id.into()),
        ("lab_id", n.lab_id.into()),
        ("case_id", n.case_id.into()),
        ("author_id", n.author_id.into()),
        ("body", (&n.body).into()),
        ("visibility", n.visibility.into()),
        ("created_at", n.created_at.into()),
    ]
}

/// All columns but `id`, for an `UPDATE … WHERE id = …`.
fn without_id(row: Vec<Col>) -> Vec<Col> {
    row.into_iter().filter(|(c, _)| *c != "id").collect()
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

/// `'A', 'B'`: stored enum names inlined in an `IN` list (they are our own constants).
fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For a partner's list, keeps a referral subquery (alias `alias`) to the
/// partner's own institution: every filter and count is computed over the
/// referrals it may see, never over another institution's.
fn push_partner_only(q: &mut Sql, cq: &CaseQuery, alias: &str) {
    if let Some(inst) = cq.partner_institution {
        q.push(&format!(" AND {alias}.institution_id = "))
            .bind(inst);
    }
}

/// `EXISTS` a pending referral (the viewer may see) on the case `c`.
fn push_pending(q: &mut Sql, cq: &CaseQuery) {
    q.push(&format!(
        "EXISTS (SELECT 1 FROM referrals p WHERE p.case_id = c.id AND p.status = {PENDING}"
    ));
    push_partner_only(q, cq, "p");
    q.push(" LIMIT 1)");
}

/// Appends the WHERE clause of the case list (alias `c`), with its binds.
pub(crate) fn push_case_where(q: &mut Sql, cq: &CaseQuery, after: Option<Uuid>) {
    q.push("c.lab_id = ").bind(cq.lab_id);
    let visible = &*rules::PARTNER_VISIBLE;
    if let Some(inst) = cq.partner_institution {
        q.push(
            " AND EXISTS (SELECT 1 FROM referrals v WHERE v.case_id = c.id AND v.institution_id = ",
        )
        .bind(inst)
        .push(&format!(" AND v.status IN {visible} LIMIT 1)"));
    }
    if !cq.statuses.is_empty() {
        let referred = &*rules::SHOWN_AS_REFERRED;
        q.push(" AND (");
        for (i, s) in cq.statuses.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            match s {
                CaseStatus::Referred => {
                    q.push(&format!("(c.status IN {referred} AND "));
                    push_pending(q, cq);
                    q.push(")");
                }
                CaseStatus::New | CaseStatus::InProgress => {
                    q.push(&format!("(c.status = '{}' AND NOT ", s.as_str()));
                    push_pending(q, cq);
                    q.push(")");
                }
                other => {
                    q.push(&format!("c.status = '{}'", other.as_str()));
                }
            }
        }
        q.push(")");
    }
    if !cq.stages.is_empty() {
        let list = names(cq.stages.iter().map(|s| s.as_str()));
        q.push(&format!(" AND c.stage IN ({list})"));
    }
    if !cq.channels.is_empty() {
        let list = names(cq.channels.iter().map(|s| s.as_str()));
        q.push(&format!(" AND c.channel IN ({list})"));
    }
    if let Some(inst) = cq.institution_id {
        q.push(
            " AND EXISTS (SELECT 1 FROM referrals i WHERE i.case_id = c.id AND i.institution_id = ",
        )
        .bind(inst)
        .push(&format!(" AND i.status IN {visible}"));
        push_partner_only(q, cq, "i");
        q.push(" LIMIT 1)");
    }
    if let Some(u) = cq.assigned_to {
        q.push(" AND c.assigned_to = ").bind(u);
    }
    if let Some(b) = cq.business_id {
        q.push(" AND c.business_id = ").bind(b);
    }
    if let Some(t) = &cq.topic {
        q.push(" AND EXISTS (SELECT 1 FROM case_topics t WHERE t.case_id = c.id AND t.topic = ")
            .bind(t)
            .push(" LIMIT 1)");
    }
    if let Some(overdue) = cq.overdue {
        q.push(if overdue { " AND " } else { " AND NOT " });
        q.push("EXISTS (SELECT 1 FROM referrals o WHERE o.case_id = c.id AND ");
        rules::push_overdue(q, "o", cq.now);
        push_partner_only(q, cq, "o");
        q.push(" LIMIT 1)");
    }
    if let Some(back) = cq.handed_back {
        // `case_state::is_handed_back`: open, a completed referral, none open.
        let (not_open, open_ref, done) =
            (&*rules::NOT_OPEN, &*rules::OPEN_REFERRAL, rules::COMPLETED);
        q.push(if back { " AND " } else { " AND NOT " });
        q.push(&format!(
            "(c.status NOT IN {not_open} AND EXISTS (SELECT 1 FROM referrals hb WHERE hb.case_id = c.id AND hb.status = {done}"
        ));
        push_partner_only(q, cq, "hb");
        q.push(&format!(
            " LIMIT 1) AND NOT EXISTS (SELECT 1 FROM referrals ho WHERE ho.case_id = c.id AND ho.status IN {open_ref}"
        ));
        push_partner_only(q, cq, "ho");
        q.push(" LIMIT 1))");
    }
    if let Some(from) = cq.created_from {
        q.push(" AND c.created_at >= ").bind(from);
    }
    if let Some(to) = cq.created_to {
        q.push(" AND c.created_at < ").bind(to);
    }
    if let Some(term) = cq
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let p = like_pattern(term);
        q.push(" AND (LOWER(c.title) LIKE ")
            .bind(&p)
            .push(" ESCAPE '\\' OR LOWER(c.description) LIKE ")
            .bind(&p)
            // A scalar subquery, not EXISTS: PostgreSQL may turn an EXISTS into
            // a hashed scan of every business of the database (0.5 s at 77k
            // cases); this stays one primary-key probe per case checked.
            .push(" ESCAPE '\\' OR (SELECT LOWER(sb.name) FROM businesses sb WHERE sb.id = c.business_id) LIKE ")
            .bind(&p)
            .push(" ESCAPE '\\')");
    }
    if let Some(a) = after {
        q.push(" AND c.id < ").bind(a);
    }
}

fn referral_conflict(e: &sqlx::Error) -> Option<AppError> {
    is_unique_violation(e).then(|| {
        AppError::conflict(
            "この連携機関への紹介は既に進行中です。同じ機関に同時に2件の紹介はできません。",
            "This case already has an open referral to that institution.",
        )
    })
}

fn duplicate_business() -> AppError {
    AppError::conflict(
        "この法人番号の事業者は既に登録されています。",
        "A business with this corporate number is already registered.",
    )
}

/// Reads and locks the case of the lab with its topics, referrals and business.
async fn fetch_snapshot(
    tx: &mut Tx,
    lab_id: Uuid,
    case_id: Uuid,
) -> AppResult<Option<CaseSnapshot>> {
    let lock = tx.dialect().lock_rows();
    let case: Option<CaseRow> = sql(&format!("SELECT {} FROM cases c WHERE c.id = ", *CASE_COLS))
        .bind(case_id)
        .push(" AND c.lab_id = ")
        .bind(lab_id)
        .push(lock)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(case) = case else { return Ok(None) };
    let topics: Vec<(String,)> = sql("SELECT topic FROM case_topics WHERE case_id = ")
        .bind(case_id)
        .push(&format!(" ORDER BY {}", tx.dialect().bytewise("topic")))
        .fetch_all(&mut *tx)
        .await?;
    let referrals: Vec<ReferralRow> = sql(&format!(
        "SELECT {REFERRAL_COLS} FROM referrals WHERE case_id = "
    ))
    .bind(case_id)
    .push(" ORDER BY created_at, id")
    .fetch_all(&mut *tx)
    .await?;
    let business: BusinessRow = sql(&format!(
        "SELECT {BUSINESS_COLS} FROM businesses WHERE id = "
    ))
    .bind(case.business_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some(CaseSnapshot {
        case,
        topics: topics.into_iter().map(|t| t.0).collect(),
        referrals,
        business,
    }))
}

/// The rows of `events` appended to a chain at (`count`, `last_hash`), and
/// the chain's new (count, last hash).
fn chain_rows(
    lab_id: Uuid,
    case_id: Uuid,
    mut count: i64,
    mut last_hash: String,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> (Vec<Vec<Col>>, i64, String) {
    let mut rows = Vec::with_capacity(events.len());
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
        rows.push(vec![
            ("id", Uuid::now_v7().into()),
            ("lab_id", lab_id.into()),
            ("case_id", case_id.into()),
            ("seq", link.seq.into()),
            ("kind", link.kind.into()),
            ("actor_id", link.actor.into()),
            ("at", link.at.into()),
            ("payload", Val::json(&link.payload)),
            ("prev_hash", (&link.prev_hash).into()),
            ("hash", (&link.hash).into()),
        ]);
        count = link.seq;
        last_hash = link.hash;
    }
    (rows, count, last_hash)
}

/// Inserts event rows in one statement (none: no statement).
async fn insert_events(tx: &mut Tx, rows: Vec<Vec<Col>>) -> AppResult<()> {
    if !rows.is_empty() {
        Sql::default()
            .insert_many("case_events", rows)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The snapshot after `change` was written over `snap` with the new case row
/// `case` — exactly what a re-read would return: the insert-only columns
/// keep their stored values, topics and referrals sort as the reads sort them.
fn after_change(snap: CaseSnapshot, change: CaseChange, mut case: CaseRow) -> CaseSnapshot {
    let old = &snap.case;
    case.id = old.id;
    case.lab_id = old.lab_id;
    case.reference.clone_from(&old.reference);
    case.created_by = old.created_by;
    case.created_at = old.created_at;
    let topics = match change.topics {
        Some(mut t) => {
            t.sort();
            t
        }
        None => snap.topics,
    };
    let mut referrals = snap.referrals;
    for r in change.updated_referrals {
        if let Some(slot) = referrals.iter_mut().find(|x| x.id == r.id) {
            *slot = r;
        }
    }
    referrals.extend(change.new_referrals);
    referrals.sort_by_key(|r| (r.created_at, r.id));
    case.has_pending = referrals
        .iter()
        .any(|r| r.status == ReferralStatus::Pending);
    CaseSnapshot {
        case,
        topics,
        referrals,
        business: change.business.unwrap_or(snap.business),
    }
}

/// Seals the case as it now stands, when the store has an audit key: the seal
/// is computed here, in Rust, and written in the same transaction as the
/// change it covers. The notes are read unless the caller knows them (a new
/// case has none).
async fn write_seal(
    tx: &mut Tx,
    key: Option<&crate::domain::seal::SealKey>,
    snap: &CaseSnapshot,
    known_notes: Option<Vec<NoteRow>>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(key) = key else { return Ok(()) };
    let notes: Vec<NoteRow> = match known_notes {
        Some(n) => n,
        None => {
            sql(&format!("SELECT {NOTE_COLS} FROM notes WHERE case_id = "))
                .bind(snap.case.id)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    Sql::default()
        .insert("case_seals", seal_row(key, snap, &notes, now))
        .push(
            " ON CONFLICT (case_id) DO UPDATE SET key_id = excluded.key_id, event_count = excluded.event_count, \
             mac = excluded.mac, sealed_at = excluded.sealed_at",
        )
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The `case_seals` row of the case as it now stands.
fn seal_row(
    key: &crate::domain::seal::SealKey,
    snap: &CaseSnapshot,
    notes: &[NoteRow],
    now: DateTime<Utc>,
) -> Vec<Col> {
    let mac = key.seal(&sealed_state(
        &snap.case,
        &snap.referrals,
        &snap.topics,
        notes,
    ));
    vec![
        ("case_id", snap.case.id.into()),
        ("key_id", key.id().into()),
        ("event_count", snap.case.event_count.into()),
        ("mac", mac.into()),
        ("sealed_at", now.into()),
    ]
}

/// Writes the topics of a case in one statement, replacing what it had
/// (`replace`: a new case has none to delete).
async fn write_topics(
    tx: &mut Tx,
    lab_id: Uuid,
    case_id: Uuid,
    topics: &[String],
    replace: bool,
) -> AppResult<()> {
    if replace {
        sql("DELETE FROM case_topics WHERE case_id = ")
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
    }
    if topics.is_empty() {
        return Ok(());
    }
    let rows = topics
        .iter()
        .map(|t| {
            vec![
                ("case_id", case_id.into()),
                ("lab_id", lab_id.into()),
                ("topic", t.into()),
            ]
        })
        .collect();
    Sql::default()
        .insert_many("case_topics", rows)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Inserts or updates a business; true when a row was written. An insert of a
/// corporate number the lab already has writes nothing.
async fn write_business(tx: &mut Tx, b: &BusinessRow, insert: bool) -> AppResult<bool> {
    let mut q = Sql::default();
    if insert {
        q.insert("businesses", business_row(b)).push(
            " ON CONFLICT (lab_id, corporate_number) WHERE corporate_number IS NOT NULL AND erased_at IS NULL DO NOTHING",
        );
    } else {
        q.update("businesses", without_id(business_row(b)))
            .push(" WHERE id = ")
            .bind(b.id);
    }
    let res = q.execute(&mut *tx).await;
    // An update may still collide (an edit to a number another business has).
    Ok(unique_or(res, duplicate_business)? == 1)
}

async fn write_referral(tx: &mut Tx, r: &ReferralRow, insert: bool) -> AppResult<()> {
    let mut q = Sql::default();
    if insert {
        q.insert("referrals", referral_row(r));
    } else {
        q.update("referrals", without_id(referral_row(r)))
            .push(" WHERE id = ")
            .bind(r.id);
    }
    match q.execute(&mut *tx).await {
        Err(e) => Err(referral_conflict(&e).unwrap_or_else(|| e.into())),
        Ok(_) => Ok(()),
    }
}

/// Writes what `change` says besides the case row (business, topics,
/// referrals, notes) and appends its events; the new (event count, last hash).
async fn write_change(
    tx: &mut Tx,
    snap: &CaseSnapshot,
    change: &CaseChange,
    now: DateTime<Utc>,
) -> AppResult<(i64, String)> {
    let (lab_id, case_id) = (snap.case.lab_id, snap.case.id);
    if let Some(b) = &change.business {
        write_business(tx, b, false).await?;
    }
    if let Some(topics) = &change.topics {
        write_topics(tx, lab_id, case_id, topics, true).await?;
    }
    for r in &change.updated_referrals {
        write_referral(tx, r, false).await?;
    }
    for r in &change.new_referrals {
        write_referral(tx, r, true).await?;
    }
    if let Some(text) = &change.redact_notes {
        sql("UPDATE notes SET body = ")
            .bind(text)
            .push(" WHERE case_id = ")
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
    }
    for n in &change.new_notes {
        Sql::default()
            .insert("notes", note_row(n))
            .execute(&mut *tx)
            .await?;
    }
    let (count, hash) = (snap.case.event_count, snap.case.last_event_hash.clone());
    let (rows, count, hash) = chain_rows(lab_id, case_id, count, hash, &change.events, now);
    insert_events(tx, rows).await?;
    super::outbox::after_change(tx, snap, change, now).await?;
    Ok((count, hash))
}

/// Runs `<head> (<one bind per id>) <tail>` and returns the rows; an empty id
/// list returns no rows without a query. Used by every "load by ids" read.
async fn by_ids<T: super::db::Rows>(
    db: &super::db::Db,
    head: &str,
    ids: &[Uuid],
    tail: &str,
) -> AppResult<Vec<T>> {
    Ok(fetch_in(&db.pool, head, ids, tail).await?)
}

#[async_trait]
impl<S: HasDb> CaseStore for S {
    /// The intake: written by the lab-year lane's group commit
    /// ([`intake`]): the business first (lookup or insert), then — as late as
    /// possible, since its row lock serialises every intake of the lab and
    /// year — the reference counter, raised once for the whole batch,
    /// followed only by one insert per table (cases already carrying their
    /// first event's chain values, topics, events, seals). Everything else
    /// (validation, normalisation, the lab, the assignee) ran before, in the
    /// service.
    #[tracing::instrument(skip_all)]
    async fn open_case(&self, new: NewCase) -> AppResult<CaseSnapshot> {
        intake::open(self.db(), new).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_case(
        &self,
        lab_id: Uuid,
        case_id: Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        decide: Decide,
    ) -> AppResult<CaseSnapshot> {
        let db = self.db();
        let mut tx = db.pool.begin_write().await?;
        let snap = fetch_snapshot(&mut tx, lab_id, case_id)
            .await?
            .ok_or_else(|| AppError::not_found("案件", "Case"))?;
        if let Some(v) = expected_version {
            if v != snap.case.version {
                return Err(AppError::stale_version());
            }
        }
        let change = decide(&snap)?;
        let reindex = super::search::reindex_needed(&snap, &change);
        let (count, hash) = write_change(&mut tx, &snap, &change, now).await?;
        let mut case = change.case.clone().unwrap_or_else(|| snap.case.clone());
        case.version = snap.case.version + i64::from(change.bump_version);
        case.event_count = count;
        case.last_event_hash = hash;
        case.updated_at = now;
        // The version guard makes a lost update impossible even without a row lock.
        let n = Sql::default()
            .update("cases", case_row(&case, Some(Written::Always)))
            .push(" WHERE id = ")
            .bind(case_id)
            .push(" AND version = ")
            .bind(snap.case.version)
            .execute(&mut tx)
            .await?;
        if n != 1 {
            return Err(AppError::stale_version());
        }
        // The locked snapshot with the change applied is what the rows now
        // hold: no second read.
        let signal =
            super::live::Signal::new(lab_id, case_id, change.events.iter().map(|e| e.kind));
        let rollup = super::rollup::Delta::before(&snap, &change.events, now);
        let out = after_change(snap, change, case);
        rollup.apply(&mut tx, &out).await?;
        super::search::reindex(&mut tx, reindex, &out).await?;
        write_seal(&mut tx, db.seal_key.as_deref(), &out, None, now).await?;
        super::live::commit(tx, db, signal).await?;
        Ok(out)
    }

    #[tracing::instrument(skip_all)]
    async fn case_by_id(&self, id: Uuid) -> AppResult<Option<CaseRow>> {
        Ok(
            sql(&format!("SELECT {} FROM cases c WHERE c.id = ", *CASE_COLS))
                .bind(id)
                .fetch_optional(&self.db().pool)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn case_by_reference(&self, reference: &str) -> AppResult<Option<CaseRow>> {
        Ok(sql(&format!(
            "SELECT {} FROM cases c WHERE c.reference = ",
            *CASE_COLS
        ))
        .bind(reference)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn cases_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<CaseRow>> {
        let head = format!("SELECT {} FROM cases c WHERE c.id IN", *CASE_COLS);
        by_ids(self.db(), &head, ids, "").await
    }

    #[tracing::instrument(skip_all)]
    async fn list_cases(
        &self,
        cq: &CaseQuery,
        after: Option<Uuid>,
        limit: i64,
    ) -> AppResult<Vec<CaseRow>> {
        let window = super::search::SCAN_WINDOW;
        if let Some(rows) = super::search::list(self.db(), cq, after, limit, window).await? {
            return Ok(rows);
        }
        let mut q = sql(&format!("SELECT {} FROM cases c WHERE ", *CASE_COLS));
        push_case_where(&mut q, cq, after);
        q.push(&format!(
            " ORDER BY c.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn count_cases(&self, cq: &CaseQuery) -> AppResult<i64> {
        if let Some(n) = super::search::count(self.db(), cq).await? {
            return Ok(n);
        }
        if let Some(q) = super::rollup::case_count_sql(cq) {
            let (n,): (i64,) = q.fetch_one(&self.db().pool).await?;
            return Ok(n);
        }
        let mut q = sql("SELECT COUNT(*) FROM cases c WHERE ");
        push_case_where(&mut q, cq, None);
        let (n,): (i64,) = q.fetch_one(&self.db().pool).await?;
        Ok(n)
    }

    #[tracing::instrument(skip_all)]
    async fn topics_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<(Uuid, String)>> {
        by_ids(
            self.db(),
            "SELECT case_id, topic FROM case_topics WHERE case_id IN",
            ids,
            &format!("ORDER BY {}", self.db().pool.dialect().bytewise("topic")),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn referrals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<ReferralRow>> {
        let head = format!("SELECT {REFERRAL_COLS} FROM referrals WHERE case_id IN");
        by_ids(self.db(), &head, ids, "ORDER BY created_at, id").await
    }

    #[tracing::instrument(skip_all)]
    async fn referral(&self, id: Uuid) -> AppResult<Option<ReferralRow>> {
        Ok(sql(&format!(
            "SELECT {REFERRAL_COLS} FROM referrals WHERE id = "
        ))
        .bind(id)
        .fetch_optional(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn referrals_for_institution(
        &self,
        lab_id: Uuid,
        institution_id: Uuid,
        statuses: &[ReferralStatus],
    ) -> AppResult<Vec<ReferralRow>> {
        let mut q = sql(&format!(
            "SELECT {REFERRAL_COLS} FROM referrals WHERE lab_id = "
        ));
        q.bind(lab_id)
            .push(" AND institution_id = ")
            .bind(institution_id);
        if !statuses.is_empty() {
            let list = names(statuses.iter().map(|s| s.as_str()));
            q.push(&format!(" AND status IN ({list})"));
        }
        q.push(" ORDER BY created_at, id");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn overdue_referrals(
        &self,
        lab_id: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<Vec<ReferralRow>> {
        let mut q = sql(&format!(
            "SELECT {REFERRAL_COLS} FROM referrals r WHERE r.lab_id = "
        ));
        q.bind(lab_id).push(" AND ");
        rules::push_overdue(&mut q, "r", now);
        q.push(" ORDER BY r.pickup_deadline, r.id");
        Ok(q.fetch_all(&self.db().pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn referral_history(
        &self,
        lab_id: Uuid,
        since: DateTime<Utc>,
    ) -> AppResult<Vec<ReferralBrief>> {
        Ok(sql(
            "SELECT institution_id, status, created_at, decided_at FROM referrals WHERE lab_id = ",
        )
        .bind(lab_id)
        .push(" AND created_at >= ")
        .bind(since)
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn notes_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<NoteRow>> {
        let head = format!("SELECT {NOTE_COLS} FROM notes WHERE case_id IN");
        by_ids(self.db(), &head, ids, "ORDER BY created_at, id").await
    }

    #[tracing::instrument(skip_all)]
    async fn events_for_case(&self, case_id: Uuid) -> AppResult<Vec<EventRow>> {
        Ok(sql(&format!(
            "SELECT {EVENT_COLS} FROM case_events WHERE case_id = "
        ))
        .bind(case_id)
        .push(" ORDER BY seq")
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn businesses_by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<BusinessRow>> {
        let head = format!("SELECT {BUSINESS_COLS} FROM businesses WHERE id IN");
        by_ids(self.db(), &head, ids, "").await
    }

    #[tracing::instrument(skip_all)]
    async fn search_businesses(
        &self,
        lab_id: Uuid,
        q: &str,
        limit: i64,
    ) -> AppResult<Vec<BusinessRow>> {
        let pattern = like_pattern(q.trim());
        Ok(sql(&format!(
            "SELECT {BUSINESS_COLS} FROM businesses WHERE lab_id = "
        ))
        .bind(lab_id)
        .push(" AND erased_at IS NULL AND (LOWER(name) LIKE ")
        .bind(&pattern)
        .push(" ESCAPE '\\' OR corporate_number LIKE ")
        .bind(&pattern)
        .push(&format!(
            " ESCAPE '\\') ORDER BY name LIMIT {}",
            limit.clamp(1, 100)
        ))
        .fetch_all(&self.db().pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn case_ids_page(&self, after: Option<Uuid>, limit: i64) -> AppResult<Vec<Uuid>> {
        let mut q = sql("SELECT id FROM cases");
        if let Some(a) = after {
            q.push(" WHERE id > ").bind(a);
        }
        q.push(&format!(" ORDER BY id LIMIT {}", limit.clamp(1, 10_000)));
        let rows: Vec<(Uuid,)> = q.fetch_all(&self.db().pool).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn seals_for_cases(&self, ids: &[Uuid]) -> AppResult<Vec<SealRow>> {
        let head =
            "SELECT case_id, key_id, event_count, mac, sealed_at FROM case_seals WHERE case_id IN";
        by_ids(self.db(), head, ids, "").await
    }

    #[tracing::instrument(skip_all)]
    async fn reseal_case(&self, case_id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
        let db = self.db();
        let Some(key) = db.seal_key.as_deref() else {
            return Ok(false);
        };
        let mut tx = db.pool.begin_write().await?;
        let lab: Option<(Uuid,)> = sql("SELECT lab_id FROM cases WHERE id = ")
            .bind(case_id)
            .fetch_optional(&mut tx)
            .await?;
        let Some((lab_id,)) = lab else {
            return Ok(false);
        };
        let Some(snap) = fetch_snapshot(&mut tx, lab_id, case_id).await? else {
            return Ok(false);
        };
        write_seal(&mut tx, Some(key), &snap, None, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
