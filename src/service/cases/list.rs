//! The reads of the case area: `case`, `caseByReference`, the `cases` list
//! (keyset pages) and `businesses`.

use crate::domain::permissions::{require_desk, Viewer};
use crate::domain::reference;
use crate::error::{AppError, AppResult};
use crate::service::access::{self, case_not_found, ensure_can_read, load_case_for};
use crate::state::AppState;
use crate::store::*;
use uuid::Uuid;

/// One page of the case list.
#[derive(Debug, Clone)]
pub struct CasePage {
    pub rows: Vec<ListedCase>,
    pub has_next: bool,
    /// Counts the whole list on demand (`totalCount` only when selected).
    pub count: CaseCount,
}

/// The filter of a page as the viewer's scope narrowed it; only
/// [`list_cases`] makes one, so a count never escapes the viewer's scope.
#[derive(Debug, Clone)]
pub struct CaseCount {
    q: CaseQuery,
    /// Known without counting: a first page with nothing after it.
    known: Option<i64>,
}

impl CaseCount {
    /// All cases matching the filter (not just the page): exact up to
    /// [`super::count::EXACT_UP_TO`], an estimate above ([`super::count`]).
    pub async fn total(&self, st: &AppState) -> AppResult<super::count::CaseTotal> {
        if let Some(n) = self.known {
            if n <= super::count::EXACT_UP_TO {
                return Ok(super::count::CaseTotal { n, exact: true });
            }
        }
        super::count::total(st, &self.q).await
    }
}

/// `case(id)`: the case, or `NOT_FOUND` when it does not exist or may not be read.
pub async fn get_case(st: &AppState, v: &Viewer, id: Uuid) -> AppResult<CaseRow> {
    load_case_for(st, v, id).await
}

/// `Case.events`: the support record of a case the viewer was allowed to read
/// (a `Case` is only ever handed out after [`get_case`], [`case_by_reference`]
/// or [`list_cases`]), in order, without the events the viewer may not see
/// ([`access::event_visible`]).
pub async fn events_for(st: &AppState, v: &Viewer, case_id: Uuid) -> AppResult<Vec<EventRow>> {
    Ok(st
        .store
        .events_for_case(case_id)
        .await?
        .into_iter()
        .filter(|e| access::event_visible(v, e))
        .collect())
}

/// A reference as typed by a person, in its stored form (`AOM-2026-000123`);
/// input that does not parse is returned trimmed (it then matches nothing).
pub fn canonical_reference(input: &str) -> String {
    match reference::parse_reference(input) {
        Some((lab, year, seq)) => reference::format_reference(&lab, year, seq),
        None => input.trim().to_owned(),
    }
}

/// `caseByReference`: same visibility as `case`.
pub async fn case_by_reference(st: &AppState, v: &Viewer, reference: &str) -> AppResult<CaseRow> {
    let row = st
        .store
        .case_by_reference(&canonical_reference(reference))
        .await?
        .ok_or_else(case_not_found)?;
    ensure_can_read(st, v, &row).await?;
    Ok(row)
}

/// Default and largest page size of `cases`.
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// The page size for `first`: default 20, at most 100 (larger values are
/// clamped), negative values refused.
pub fn page_size(first: Option<i32>) -> AppResult<i64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(AppError::bad_input(
            Some("first"),
            "first には0以上の数を指定してください。",
            "first must not be negative.",
        )),
        Some(n) => Ok(i64::from(n).min(MAX_PAGE)),
    }
}

/// `cases`: one keyset page (newest first) of the cases the viewer may read,
/// with the nested rows `with` names. `q.lab_id`, `q.partner_institution`
/// and `q.now` are set here.
pub async fn list_cases(
    st: &AppState,
    v: &Viewer,
    mut q: CaseQuery,
    first: Option<i32>,
    after: Option<Uuid>,
    with: PageWith,
) -> AppResult<CasePage> {
    let limit = page_size(first)?;
    q.lab_id = v.lab_id;
    q.now = st.now();
    q.partner_institution = if v.is_desk() {
        None
    } else {
        Some(v.partner_institution().unwrap_or(Uuid::nil()))
    };
    if limit == 0 {
        // An empty page: is there anything to read from the start?
        let has_next = after.is_none() && !st.store.list_cases(&q, None, 1).await?.is_empty();
        return Ok(CasePage {
            rows: vec![],
            has_next,
            count: CaseCount {
                known: (after.is_none() && !has_next).then_some(0),
                q,
            },
        });
    }
    let mut rows = st.store.list_case_page(&q, after, limit + 1, with).await?;
    let has_next = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let known = (after.is_none() && !has_next).then_some(rows.len() as i64);
    Ok(CasePage {
        rows,
        has_next,
        count: CaseCount { q, known },
    })
}

/// `businesses`: the lab's businesses matching `search` (desk staff only).
pub async fn search_businesses(
    st: &AppState,
    v: &Viewer,
    search: Option<&str>,
    first: Option<i32>,
) -> AppResult<Vec<BusinessRow>> {
    require_desk(v)?;
    let limit = page_size(first)?;
    if limit == 0 {
        return Ok(vec![]);
    }
    let q = search.map(str::trim).unwrap_or("");
    Ok(st
        .store
        .search_businesses(v.lab_id, q, limit)
        .await?
        .into_iter()
        .filter(|b| b.erased_at.is_none())
        .collect())
}
