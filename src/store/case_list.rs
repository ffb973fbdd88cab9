//! The reads behind the case list page, in as few statements as the page
//! needs: the page of cases with their business, assignee and topics in one
//! statement (joins and a scalar subquery, only what the query selects), the
//! referrals of the page with their institutions in a second, and a count
//! that stops at a cap.

use super::case_models::*;
use super::cases::{push_case_where, CASE_COLS};
use super::db::{sql, Dialect, HasDb, Sql};
use super::models::{InstitutionRow, UserRow};
use crate::error::AppResult;
use async_trait::async_trait;
use sqlx::{Decode, FromRow, Row, Type};

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

/// Decodes the list's rows by position, in the order of the column lists
/// above (`CASE_COLS`, then `B_COLS`, `U_COLS`, the topics; `R_COLS`, then
/// `I_COLS`), instead of looking up each of a row's ~50 columns by name in a
/// hash map (docs/DESIGN.md, "Where a list request's CPU goes now"). Only
/// where an optional part starts is a column's name compared. Written once
/// for both backends' row types; `a_page_row_is_what_the_by_id_reads_return`
/// (tests/api/store_story.rs) checks every part against the by-name reads.
macro_rules! by_position {
    ($m:ident, $row:ty) => {
        mod $m {
            use super::*;
            use sqlx::Column;

            type R = $row;
            type D = <R as Row>::Database;

            /// The next column to read.
            struct At<'r> {
                row: &'r R,
                i: usize,
            }

            impl<'r> At<'r> {
                fn next<T: Decode<'r, D> + Type<D>>(&mut self) -> sqlx::Result<T> {
                    let v = self.row.try_get(self.i);
                    self.i += 1;
                    v
                }
                /// Whether the next column is named `name` (where an optional part starts).
                fn starts(&self, name: &str) -> bool {
                    self.row
                        .columns()
                        .get(self.i)
                        .is_some_and(|c| c.name() == name)
                }
            }

            fn case(a: &mut At<'_>) -> sqlx::Result<CaseRow> {
                Ok(CaseRow {
                    id: a.next()?,
                    lab_id: a.next()?,
                    reference: a.next()?,
                    business_id: a.next()?,
                    title: a.next()?,
                    description: a.next()?,
                    channel: a.next()?,
                    stage: a.next()?,
                    status: a.next()?,
                    priority: a.next()?,
                    assigned_to: a.next()?,
                    consent_to_share: a.next()?,
                    consent_at: a.next()?,
                    consent_by: a.next()?,
                    email_updates: a.next()?,
                    access_code_hash: a.next()?,
                    outcomes: a.next()?,
                    outcome_summary: a.next()?,
                    version: a.next()?,
                    event_count: a.next()?,
                    last_event_hash: a.next()?,
                    created_by: a.next()?,
                    created_at: a.next()?,
                    updated_at: a.next()?,
                    resolved_at: a.next()?,
                    closed_at: a.next()?,
                    has_pending: a.next()?,
                })
            }

            fn business(a: &mut At<'_>) -> sqlx::Result<BusinessRow> {
                Ok(BusinessRow {
                    id: a.next()?,
                    lab_id: a.next()?,
                    name: a.next()?,
                    corporate_number: a.next()?,
                    industry: a.next()?,
                    employee_band: a.next()?,
                    municipality: a.next()?,
                    region: a.next()?,
                    contact_name: a.next()?,
                    email: a.next()?,
                    phone: a.next()?,
                    created_at: a.next()?,
                    updated_at: a.next()?,
                    erased_at: a.next()?,
                })
            }

            /// The assignee's columns; `None` (all NULL) for an unassigned case.
            fn user(a: &mut At<'_>) -> sqlx::Result<Option<UserRow>> {
                let Some(id) = a.next::<Option<Uuid>>()? else {
                    a.i += U_COUNT - 1;
                    return Ok(None);
                };
                Ok(Some(UserRow {
                    id,
                    lab_id: a.next()?,
                    email: a.next()?,
                    display_name: a.next()?,
                    password_hash: a.next()?,
                    role: a.next()?,
                    institution_id: a.next()?,
                    active: a.next()?,
                    created_at: a.next()?,
                    updated_at: a.next()?,
                }))
            }

            fn referral(a: &mut At<'_>) -> sqlx::Result<ReferralRow> {
                Ok(ReferralRow {
                    id: a.next()?,
                    lab_id: a.next()?,
                    case_id: a.next()?,
                    institution_id: a.next()?,
                    status: a.next()?,
                    note: a.next()?,
                    reason: a.next()?,
                    decision_note: a.next()?,
                    summary: a.next()?,
                    referred_by: a.next()?,
                    decided_by: a.next()?,
                    pickup_deadline: a.next()?,
                    created_at: a.next()?,
                    decided_at: a.next()?,
                    completed_at: a.next()?,
                    updated_at: a.next()?,
                })
            }

            fn institution(a: &mut At<'_>) -> sqlx::Result<InstitutionRow> {
                Ok(InstitutionRow {
                    id: a.next()?,
                    lab_id: a.next()?,
                    name: a.next()?,
                    kind: a.next()?,
                    tags: a.next()?,
                    regions: a.next()?,
                    active: a.next()?,
                    created_at: a.next()?,
                    updated_at: a.next()?,
                })
            }

            impl<'r> FromRow<'r, R> for ListedCase {
                fn from_row(row: &'r R) -> sqlx::Result<Self> {
                    let a = &mut At { row, i: 0 };
                    let case = case(a)?;
                    let business = if a.starts("b_id") {
                        Some(business(a)?)
                    } else {
                        None
                    };
                    let assignee = if a.starts("u_id") { user(a)? } else { None };
                    let topics = if a.starts("l_topics") {
                        let joined: Option<String> = a.next()?;
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

            impl<'r> FromRow<'r, R> for WithInstitution {
                fn from_row(row: &'r R) -> sqlx::Result<Self> {
                    let a = &mut At { row, i: 0 };
                    Ok(WithInstitution(referral(a)?, institution(a)?))
                }
            }
        }
    };
}

by_position!(sqlite_rows, sqlx::sqlite::SqliteRow);
by_position!(pg_rows, sqlx::postgres::PgRow);

/// Columns of `U_COLS` (its commas and one).
const U_COUNT: usize = {
    let (b, mut i, mut n) = (U_COLS.as_bytes(), 0, 1);
    while i < b.len() {
        n += (b[i] == b',') as usize;
        i += 1;
    }
    n
};

/// A referral and its institution, from one joined row.
struct WithInstitution(ReferralRow, InstitutionRow);

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
