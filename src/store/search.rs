//! The case search index: character bigrams of each case's title, description
//! and company name (GIN over `text[]` on PostgreSQL, a contentless FTS5 table
//! on SQLite, migration 0007), written in the same transaction as every write
//! that changes those texts, and the searches that use it. The index only
//! narrows the candidates; the `LIKE` of `push_case_where` decides, so results
//! are exactly the substring semantics. Terms under two characters scan.

use super::case_models::{CaseChange, CaseQuery, CaseRow, CaseSnapshot};
use super::cases::{push_case_where, CASE_COLS};
use super::db::{sql, Db, Dialect, Sql, Tx, Val};
use crate::domain::ngram;
use crate::error::{AppError, AppResult};
use uuid::Uuid;

/// How many of the newest cases (matching the other filters) a search checks
/// with `LIKE` before it asks the index. A common term fills its page from
/// them (walking the id index newest first and stopping at the page, however
/// many cases match); a rarer one then takes its remaining matches from the
/// index, which then yields few candidates. See the DESIGN notes of issue 15.
pub const SCAN_WINDOW: i64 = 2000;

/// The bigrams of the query's search term, when it has an index-able one.
fn indexed_term(cq: &CaseQuery) -> Option<Vec<String>> {
    let term = cq
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())?;
    // Lowered as the LIKE pattern is (`cases::like_pattern`).
    ngram::term_grams(&term.to_lowercase())
}

/// `WITH k AS MATERIALIZED (…) `: the ids of the cases holding every bigram of
/// the term, computed first. Materialised, so that PostgreSQL reads them from
/// the GIN: inlined, it may instead walk `case_search` in id order testing
/// `grams @>` row by row to serve the `ORDER BY id` (measured: 39 s instead of
/// 1 ms for a rare term at 77k cases); SQLite likewise starts from them.
fn push_candidates(q: &mut Sql, d: Dialect, grams: &[String]) {
    match d {
        Dialect::Sqlite => q
            .push(
                "WITH k AS MATERIALIZED (SELECT m.case_id FROM case_search_fts JOIN case_search m \
                 ON m.id = case_search_fts.rowid WHERE case_search_fts MATCH ",
            )
            .bind(ngram::sqlite_match(grams))
            .push(") "),
        Dialect::Postgres => q
            .push(
                "WITH k AS MATERIALIZED (SELECT s.case_id FROM case_search s \
                 WHERE s.grams @> ARRAY(SELECT jsonb_array_elements_text(",
            )
            .bind(Val::json(&grams))
            .push("))) "),
    };
}

/// One page of a search, newest first, after `after`: the newest `window`
/// cases (with the other filters) checked directly, then — if the page is not
/// full yet — the older ones through the index. `None` when the query has no
/// term of two or more characters (the plain list query answers it).
pub async fn list(
    db: &Db,
    cq: &CaseQuery,
    after: Option<Uuid>,
    limit: i64,
    window: i64,
) -> AppResult<Option<Vec<CaseRow>>> {
    let Some(grams) = indexed_term(cq) else {
        return Ok(None);
    };
    let limit = limit.clamp(1, 1000);
    let pool = &db.pool;
    let cols = &*CASE_COLS;
    let mut rows: Vec<CaseRow> = Vec::new();
    let mut below = after;
    if window > 0 {
        let plain = CaseQuery {
            search: None,
            ..cq.clone()
        };
        let mut q = sql("SELECT c.id FROM cases c WHERE ");
        push_case_where(&mut q, &plain, after);
        q.push(&format!(
            " ORDER BY c.id DESC LIMIT 1 OFFSET {}",
            window - 1
        ));
        let floor: Option<(Uuid,)> = q.fetch_optional(pool).await?;
        let mut q = sql(&format!("SELECT {cols} FROM cases c WHERE "));
        push_case_where(&mut q, cq, after);
        if let Some((f,)) = floor {
            q.push(" AND c.id >= ").bind(f);
        }
        q.push(&format!(" ORDER BY c.id DESC LIMIT {limit}"));
        rows = q.fetch_all(pool).await?;
        match floor {
            // The window held every case the filters leave: complete.
            None => return Ok(Some(rows)),
            Some(_) if rows.len() as i64 >= limit => return Ok(Some(rows)),
            Some((f,)) => below = Some(f),
        }
    }
    let mut q = Sql::default();
    push_candidates(&mut q, pool.dialect(), &grams);
    // CROSS JOIN: SQLite keeps the candidates as the outer loop.
    q.push(&format!(
        "SELECT {cols} FROM k CROSS JOIN cases c WHERE c.id = k.case_id AND "
    ));
    push_case_where(&mut q, cq, below);
    q.push(&format!(
        " ORDER BY c.id DESC LIMIT {}",
        limit - rows.len() as i64
    ));
    rows.extend(q.fetch_all::<CaseRow>(pool).await?);
    Ok(Some(rows))
}

/// The number of cases a search matches, counted over the index's candidates
/// (rechecked); `None` when the query has no index-able term.
pub async fn count(db: &Db, cq: &CaseQuery) -> AppResult<Option<i64>> {
    let Some(grams) = indexed_term(cq) else {
        return Ok(None);
    };
    let mut q = Sql::default();
    push_candidates(&mut q, db.pool.dialect(), &grams);
    q.push("SELECT COUNT(*) FROM k CROSS JOIN cases c WHERE c.id = k.case_id AND ");
    push_case_where(&mut q, cq, None);
    let (n,): (i64,) = q.fetch_one(&db.pool).await?;
    Ok(Some(n))
}

/// `(case id, its bigrams)`, a row of PostgreSQL's `case_search`: the bigrams
/// computed in SQL from the texts the recheck reads.
fn push_pg_row(q: &mut Sql, case: &CaseRow, business_name: &str) {
    q.push("(")
        .bind(case.id)
        .push(", dxdesk_search_grams(")
        .bind(&case.title)
        .push(", ")
        .bind(&case.description)
        .push(", ")
        .bind(business_name)
        .push("))");
}

/// Indexes cases just inserted (in the intake transaction), all of them in
/// one statement per table: `(case, its business's name)`.
pub(crate) async fn index_new_cases(tx: &mut Tx, cases: &[(&CaseRow, &str)]) -> AppResult<()> {
    if cases.is_empty() {
        return Ok(());
    }
    match tx.dialect() {
        Dialect::Postgres => {
            let mut q = sql("INSERT INTO case_search (case_id, grams) VALUES ");
            for (i, (case, business_name)) in cases.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " });
                push_pg_row(&mut q, case, business_name);
            }
            q.execute(&mut *tx).await?;
        }
        Dialect::Sqlite => {
            // The stable integer of each case, then its bigram document under it.
            let mut q = sql("INSERT INTO case_search (case_id) VALUES ");
            for (i, (case, _)) in cases.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" })
                    .bind(case.id)
                    .push(")");
            }
            let ids: Vec<(i64, Uuid)> =
                q.push(" RETURNING id, case_id").fetch_all(&mut *tx).await?;
            let ids: std::collections::HashMap<Uuid, i64> =
                ids.into_iter().map(|(id, case)| (case, id)).collect();
            let mut q = sql("INSERT INTO case_search_fts (rowid, grams) VALUES ");
            for (i, (case, business_name)) in cases.iter().enumerate() {
                let id = *ids.get(&case.id).ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("a case's search row was not inserted"))
                })?;
                q.push(if i == 0 { "(" } else { ", (" })
                    .bind(id)
                    .push(", ")
                    .bind(ngram::sqlite_document(&[
                        &case.title,
                        &case.description,
                        business_name,
                    ]))
                    .push(")");
            }
            q.execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// What a case write changes in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reindex {
    Nothing,
    /// The case's title or description.
    Case,
    /// The company name: every case of the business.
    Business,
}

/// Whether `change` over `before` touches an indexed text.
pub(crate) fn reindex_needed(before: &CaseSnapshot, change: &CaseChange) -> Reindex {
    if change
        .business
        .as_ref()
        .is_some_and(|b| b.name != before.business.name)
    {
        return Reindex::Business;
    }
    if change
        .case
        .as_ref()
        .is_some_and(|c| c.title != before.case.title || c.description != before.case.description)
    {
        return Reindex::Case;
    }
    Reindex::Nothing
}

/// Brings the index up to date after a case write (`after`: the case as it
/// now stands, already written in `tx`).
pub(crate) async fn reindex(tx: &mut Tx, what: Reindex, after: &CaseSnapshot) -> AppResult<()> {
    match what {
        Reindex::Nothing => Ok(()),
        Reindex::Business => reindex_business(tx, after.business.id).await,
        Reindex::Case => {
            let c = &after.case;
            match tx.dialect() {
                Dialect::Postgres => {
                    let mut q = sql("INSERT INTO case_search (case_id, grams) VALUES ");
                    push_pg_row(&mut q, c, &after.business.name);
                    q.push(" ON CONFLICT (case_id) DO UPDATE SET grams = excluded.grams")
                        .execute(&mut *tx)
                        .await?;
                }
                Dialect::Sqlite => {
                    sql("INSERT OR REPLACE INTO case_search_fts (rowid, grams) SELECT id, ")
                        .bind(ngram::sqlite_document(&[
                            &c.title,
                            &c.description,
                            &after.business.name,
                        ]))
                        .push(" FROM case_search WHERE case_id = ")
                        .bind(c.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Ok(())
        }
    }
}

/// Re-indexes every case of a business, from the rows as `tx` now holds them.
/// **Call it in the transaction of any write that changes a business's
/// `name`** (the case writes of this module already do).
pub async fn reindex_business(tx: &mut Tx, business_id: Uuid) -> AppResult<()> {
    match tx.dialect() {
        Dialect::Postgres => {
            sql(
                "UPDATE case_search s SET grams = dxdesk_search_grams(c.title, c.description, b.name) \
                 FROM cases c JOIN businesses b ON b.id = c.business_id \
                 WHERE s.case_id = c.id AND c.business_id = ",
            )
            .bind(business_id)
            .execute(&mut *tx)
            .await?;
        }
        Dialect::Sqlite => {
            let rows: Vec<(i64, String, String, String)> =
                sql("SELECT m.id, c.title, c.description, b.name FROM cases c \
                 JOIN businesses b ON b.id = c.business_id \
                 JOIN case_search m ON m.case_id = c.id WHERE c.business_id = ")
                .bind(business_id)
                .fetch_all(&mut *tx)
                .await?;
            write_sqlite_documents(tx, rows).await?;
        }
    }
    Ok(())
}

/// `INSERT OR REPLACE` of the FTS5 documents of (index id, title, description,
/// company name) rows, in statements of at most 200 rows.
async fn write_sqlite_documents(
    tx: &mut Tx,
    rows: Vec<(i64, String, String, String)>,
) -> AppResult<()> {
    for part in rows.chunks(200) {
        let mut q = sql("INSERT OR REPLACE INTO case_search_fts (rowid, grams) VALUES ");
        for (i, (id, t, d, n)) in part.iter().enumerate() {
            q.push(if i > 0 { ", (" } else { "(" })
                .bind(*id)
                .push(", ")
                .bind(ngram::sqlite_document(&[t, d, n]))
                .push(")");
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Indexes cases that have no index entry yet (bulk-written rows).
pub async fn index_cases(tx: &mut Tx, ids: &[Uuid]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    match tx.dialect() {
        Dialect::Postgres => {
            sql("INSERT INTO case_search (case_id, grams) \
                 SELECT c.id, dxdesk_search_grams(c.title, c.description, b.name) \
                 FROM cases c JOIN businesses b ON b.id = c.business_id WHERE c.id IN (")
            .bind_list(ids.iter().copied())
            .push(") ON CONFLICT (case_id) DO NOTHING")
            .execute(&mut *tx)
            .await?;
        }
        Dialect::Sqlite => {
            let mut q = sql("INSERT OR IGNORE INTO case_search (case_id) VALUES ");
            for (i, id) in ids.iter().enumerate() {
                q.push(if i > 0 { ", (" } else { "(" }).bind(*id).push(")");
            }
            q.execute(&mut *tx).await?;
            let rows: Vec<(i64, String, String, String)> =
                sql("SELECT m.id, c.title, c.description, b.name FROM cases c \
                 JOIN businesses b ON b.id = c.business_id \
                 JOIN case_search m ON m.case_id = c.id WHERE c.id IN (")
                .bind_list(ids.iter().copied())
                .push(")")
                .fetch_all(&mut *tx)
                .await?;
            write_sqlite_documents(tx, rows).await?;
        }
    }
    Ok(())
}
