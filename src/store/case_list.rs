//! The reads behind the case list page, in as few statements as the page
//! needs: the page of cases with their business, assignee and topics in one
//! statement (joins and a scalar subquery, only what the query selects), the
//! referrals of the page with their institutions in a second, and a count
//! that stops at a cap.

use super::case_models::*;
use super::cases::{push_case_where, CASE_COLS};
use super::db::{sql, Dialect, HasDb, Sql};
use super::models::{InstitutionRow, UserRow};
use crate::domain::types::*;
use crate::error::AppResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use uuid::Uuid;

/// Which nested rows the page query brings along.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageWith {
    pub business: bool,
    pub assignee: bool,
    pub topics: bool,
}

/// A case of the list with the rows [`PageWith`] asked for (`None` when not asked).
#[derive(Debug, Clone)]
pub struct ListedCase {
    pub case: CaseRow,
    pub business: Option<BusinessRow>,
    pub assignee: Option<UserRow>,
    pub topics: Option<Vec<String>>,
}

/// Separates topics in the aggregated column (a control character that the
/// topic validation's trimming and length rules never let into a tag).
const TOPIC_SEP: char = '\u{1f}';

#[async_trait]
pub trait CaseListStore: Send + Sync {
    /// One page of the list, newest first, after the cursor `after`, with the
    /// nested rows `with` names — one statement.
    async fn list_case_page(
        &self,
        q: &CaseQuery,
        after: Option<Uuid>,
        limit: i64,
        with: PageWith,
    ) -> AppResult<Vec<ListedCase>>;
    /// The referrals of these cases (oldest first) with their institutions — one statement.
    async fn referrals_with_institutions(
        &self,
        ids: &[Uuid],
    ) -> AppResult<Vec<(ReferralRow, InstitutionRow)>>;
    /// The matching cases counted up to `cap` (reads at most `cap` index entries).
    async fn count_cases_up_to(&self, q: &CaseQuery, cap: i64) -> AppResult<i64>;
}

fn topics_agg(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "(SELECT group_concat(t.topic, char(31)) FROM case_topics t WHERE t.case_id = c.id) AS l_topics",
        Dialect::Postgres => "(SELECT string_agg(t.topic, chr(31)) FROM case_topics t WHERE t.case_id = c.id) AS l_topics",
    }
}

const B_COLS: &str = "b.id AS b_id, b.lab_id AS b_lab_id, b.name AS b_name, b.corporate_number AS b_corporate_number, \
    b.industry AS b_industry, b.employee_band AS b_employee_band, b.municipality AS b_municipality, b.region AS b_region, \
    b.contact_name AS b_contact_name, b.email AS b_email, b.phone AS b_phone, b.created_at AS b_created_at, \
    b.updated_at AS b_updated_at, b.erased_at AS b_erased_at";
const U_COLS: &str = "u.id AS u_id, u.lab_id AS u_lab_id, u.email AS u_email, u.display_name AS u_display_name, \
    u.password_hash AS u_password_hash, u.role AS u_role, u.institution_id AS u_institution_id, u.active AS u_active, \
    u.created_at AS u_created_at, u.updated_at AS u_updated_at";
const R_COLS: &str = "r.id, r.lab_id, r.case_id, r.institution_id, r.status, r.note, r.reason, r.decision_note, r.summary, \
    r.referred_by, r.decided_by, r.pickup_deadline, r.created_at, r.decided_at, r.completed_at, r.updated_at";
const I_COLS: &str = "i.id AS i_id, i.lab_id AS i_lab_id, i.name AS i_name, i.kind AS i_kind, i.tags AS i_tags, \
    i.regions AS i_regions, i.active AS i_active, i.created_at AS i_created_at, i.updated_at AS i_updated_at";

#[derive(FromRow)]
struct BCols {
    b_id: Uuid,
    b_lab_id: Uuid,
    b_name: String,
    b_corporate_number: Option<String>,
    b_industry: Option<String>,
    b_employee_band: Option<String>,
    b_municipality: Option<String>,
    b_region: Option<String>,
    b_contact_name: Option<String>,
    b_email: Option<String>,
    b_phone: Option<String>,
    b_created_at: DateTime<Utc>,
    b_updated_at: DateTime<Utc>,
    b_erased_at: Option<DateTime<Utc>>,
}

impl From<BCols> for BusinessRow {
    fn from(b: BCols) -> Self {
        BusinessRow {
            id: b.b_id,
            lab_id: b.b_lab_id,
            name: b.b_name,
            corporate_number: b.b_corporate_number,
            industry: b.b_industry,
            employee_band: b.b_employee_band,
            municipality: b.b_municipality,
            region: b.b_region,
            contact_name: b.b_contact_name,
            email: b.b_email,
            phone: b.b_phone,
            created_at: b.b_created_at,
            updated_at: b.b_updated_at,
            erased_at: b.b_erased_at,
        }
    }
}

#[derive(FromRow)]
struct UCols {
    u_id: Uuid,
    u_lab_id: Uuid,
    u_email: String,
    u_display_name: String,
    u_password_hash: String,
    u_role: Role,
    u_institution_id: Option<Uuid>,
    u_active: bool,
    u_created_at: DateTime<Utc>,
    u_updated_at: DateTime<Utc>,
}

impl From<UCols> for UserRow {
    fn from(u: UCols) -> Self {
        UserRow {
            id: u.u_id,
            lab_id: u.u_lab_id,
            email: u.u_email,
            display_name: u.u_display_name,
            password_hash: u.u_password_hash,
            role: u.u_role,
            institution_id: u.u_institution_id,
            active: u.u_active,
            created_at: u.u_created_at,
            updated_at: u.u_updated_at,
        }
    }
}

#[derive(FromRow)]
struct ICols {
    i_id: Uuid,
    i_lab_id: Uuid,
    i_name: String,
    i_kind: InstitutionKind,
    i_tags: Json<Vec<String>>,
    i_regions: Json<Vec<String>>,
    i_active: bool,
    i_created_at: DateTime<Utc>,
    i_updated_at: DateTime<Utc>,
}

impl From<ICols> for InstitutionRow {
    fn from(i: ICols) -> Self {
        InstitutionRow {
            id: i.i_id,
            lab_id: i.i_lab_id,
            name: i.i_name,
            kind: i.i_kind,
            tags: i.i_tags,
            regions: i.i_regions,
            active: i.i_active,
            created_at: i.i_created_at,
            updated_at: i.i_updated_at,
        }
    }
}

impl<'r, R> FromRow<'r, R> for ListedCase
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    CaseRow: FromRow<'r, R>,
    BCols: FromRow<'r, R>,
    UCols: FromRow<'r, R>,
    Option<Uuid>: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let case = CaseRow::from_row(row)?;
        // A column is absent when its join was not asked for; `u_id` is
        // NULL for an unassigned case.
        let present = |col: &str| row.try_column(col).is_ok();
        let business = if present("b_id") {
            Some(BCols::from_row(row)?.into())
        } else {
            None
        };
        let assignee = if present("u_id") && row.try_get::<Option<Uuid>, _>("u_id")?.is_some() {
            Some(UCols::from_row(row)?.into())
        } else {
            None
        };
        let topics = if present("l_topics") {
            let joined: Option<String> = row.try_get("l_topics")?;
            let mut t: Vec<String> = joined
                .map(|s| s.split(TOPIC_SEP).map(str::to_owned).collect())
                .unwrap_or_default();
            t.sort();
            Some(t)
        } else {
            None
        };
        Ok(ListedCase {
            case,
            business,
            assignee,
            topics,
        })
    }
}

/// A referral and its institution, from one joined row.
struct WithInstitution(ReferralRow, InstitutionRow);

impl<'r, R> FromRow<'r, R> for WithInstitution
where
    R: Row,
    ReferralRow: FromRow<'r, R>,
    ICols: FromRow<'r, R>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(WithInstitution(
            ReferralRow::from_row(row)?,
            ICols::from_row(row)?.into(),
        ))
    }
}

/// The statement of a list page (public for the benchmark's pgbench replay).
pub fn page_sql(
    d: Dialect,
    cq: &CaseQuery,
    after: Option<Uuid>,
    limit: i64,
    with: PageWith,
) -> Sql {
    page_sql_among(d, cq, after, limit, with, None)
}

/// [`page_sql`], restricted to the cases `among` (a search's page, found
/// through the search index).
fn page_sql_among(
    d: Dialect,
    cq: &CaseQuery,
    after: Option<Uuid>,
    limit: i64,
    with: PageWith,
    among: Option<&[Uuid]>,
) -> Sql {
    let mut cols = CASE_COLS.clone();
    let mut joins = String::new();
    if with.business {
        cols.push_str(", ");
        cols.push_str(B_COLS);
        joins.push_str(" JOIN businesses b ON b.id = c.business_id");
    }
    if with.assignee {
        cols.push_str(", ");
        cols.push_str(U_COLS);
        joins.push_str(" LEFT JOIN users u ON u.id = c.assigned_to");
    }
    if with.topics {
        cols.push_str(", ");
        cols.push_str(topics_agg(d));
    }
    let mut q = sql(&format!("SELECT {cols} FROM cases c{joins} WHERE "));
    push_case_where(&mut q, cq, after);
    if let Some(ids) = among {
        q.push(" AND c.id IN (")
            .bind_list(ids.iter().copied())
            .push(")");
    }
    q.push(&format!(
        " ORDER BY c.id DESC LIMIT {}",
        limit.clamp(1, 1000)
    ));
    q
}

/// The statement of the referrals of a page with their institutions.
pub fn referrals_sql(ids: &[Uuid]) -> Sql {
    let mut q = sql(&format!(
        "SELECT {R_COLS}, {I_COLS} FROM referrals r JOIN institutions i ON i.id = r.institution_id WHERE r.case_id IN ("
    ));
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY r.created_at, r.id");
    q
}

#[async_trait]
impl<S: HasDb> CaseListStore for S {
    #[tracing::instrument(skip_all)]
    async fn list_case_page(
        &self,
        cq: &CaseQuery,
        after: Option<Uuid>,
        limit: i64,
        with: PageWith,
    ) -> AppResult<Vec<ListedCase>> {
        let pool = &self.db().pool;
        // A text search finds its page through the search index first
        // (`store::search`); the page statement then reads those cases with
        // their nested rows.
        if let Some(found) =
            super::search::list(self.db(), cq, after, limit, super::search::SCAN_WINDOW).await?
        {
            if found.is_empty() {
                return Ok(vec![]);
            }
            let ids: Vec<Uuid> = found.iter().map(|c| c.id).collect();
            let plain = CaseQuery {
                search: None,
                ..cq.clone()
            };
            let q = page_sql_among(pool.dialect(), &plain, None, limit, with, Some(&ids));
            return Ok(q.fetch_all(pool).await?);
        }
        let q = page_sql(pool.dialect(), cq, after, limit, with);
        Ok(q.fetch_all(pool).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn referrals_with_institutions(
        &self,
        ids: &[Uuid],
    ) -> AppResult<Vec<(ReferralRow, InstitutionRow)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let q = referrals_sql(ids);
        let rows: Vec<WithInstitution> = q.fetch_all(&self.db().pool).await?;
        Ok(rows.into_iter().map(|w| (w.0, w.1)).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn count_cases_up_to(&self, cq: &CaseQuery, cap: i64) -> AppResult<i64> {
        if let Some(n) = super::search::count(self.db(), cq).await? {
            return Ok(n.min(cap));
        }
        let mut q = sql("SELECT COUNT(*) FROM (SELECT 1 FROM cases c WHERE ");
        push_case_where(&mut q, cq, None);
        q.push(&format!(" LIMIT {}) capped", cap.max(1)));
        let (n,): (i64,) = q.fetch_one(&self.db().pool).await?;
        Ok(n)
    }
}
