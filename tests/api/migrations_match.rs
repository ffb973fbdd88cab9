//! The SQLite and PostgreSQL migrations build the same schema: the same tables,
//! columns (name, loose type, NOT NULL), named indexes (and whether unique),
//! primary keys and unique constraints (columns), and triggers (table, timing,
//! event). Read from the catalogues of a freshly migrated database of each
//! backend, so a migration added to one backend only fails here.
//!
//! Loose types, because the backends store some values differently: SQLite keeps
//! UUIDs as BLOB, timestamps and JSON as TEXT and booleans as INTEGER. Triggers
//! are compared by what they guard, not by name: PostgreSQL guards UPDATE and
//! DELETE with one trigger where SQLite needs one per event, and TRUNCATE
//! (PostgreSQL only; SQLite has no such statement) is left out, as are the
//! row cache's notifying triggers (PostgreSQL only by design).

use crate::common::{self, Backend};
use std::collections::BTreeSet;

/// `_sqlx_migrations` is sqlx's own table, created differently per backend.
const SQLX_TABLE: &str = "_sqlx_migrations";

/// The case search index (migration 0007) differs by design: a `text[]` with a
/// GIN index on PostgreSQL, an id table and an FTS5 virtual table (with its
/// shadow tables) on SQLite. Tables whose name starts with this are left out.
const SEARCH_INDEX: &str = "case_search";

/// The row cache's notifying triggers (migration 0017) are PostgreSQL's only:
/// SQLite keeps no cache (`src/store/cache.rs`). Triggers whose name ends with
/// this are left out.
const CACHE_TRIGGER: &str = "_cache";

/// Everything the comparison looks at, one line per fact, so a difference
/// reads as the lines only one backend has.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeSet<String>,
    columns: BTreeSet<String>,
    indexes: BTreeSet<String>,
    constraints: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

/// A declared type as a loose class both backends agree on.
fn loose(ty: &str) -> &'static str {
    let ty = ty.to_ascii_lowercase();
    match ty.as_str() {
        // SQLite stores booleans as 0/1
        "integer" | "bigint" | "int" | "smallint" | "boolean" => "integer",
        "real" | "double precision" | "numeric" => "real",
        // UUIDs: BLOB on SQLite
        "blob" | "bytea" | "uuid" => "blob",
        // timestamps and JSON: TEXT on SQLite
        "text" | "jsonb" | "json" | "date" | "timestamp" | "timestamp with time zone" => "text",
        t if t.starts_with("character") || t.starts_with("varchar") => "text",
        other => panic!("no loose class for the column type {other:?}: add it to `loose`"),
    }
}

fn column(table: &str, name: &str, ty: &str, not_null: bool) -> String {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("{table}.{name} {} {null}", loose(ty))
}

fn trigger(table: &str, timing: &str, event: &str) -> String {
    format!("{table}: {timing} {event}")
}

async fn sqlite_schema() -> Schema {
    let store = common::fresh_store(Backend::Sqlite).await;
    let pool = common::sqlite_pool(&store);
    let mut s = Schema::default();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?",
    )
    .bind(SQLX_TABLE)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table,) in tables {
        if table.starts_with(SEARCH_INDEX) {
            continue;
        }
        let cols: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT name, type, \"notnull\" FROM pragma_table_info(?)")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .unwrap();
        for (name, ty, not_null) in cols {
            s.columns.insert(column(&table, &name, &ty, not_null));
        }
        // origin: 'c' CREATE INDEX, 'u' UNIQUE constraint, 'pk' PRIMARY KEY
        let indexes: Vec<(String, bool, String, String)> = sqlx::query_as(
            "SELECT il.name, il.\"unique\", il.origin,
                    (SELECT group_concat(name, ',') FROM
                        (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno))
             FROM pragma_index_list(?) il",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap();
        for (name, unique, origin, cols) in indexes {
            match origin.as_str() {
                "c" => s.indexes.insert(format!("{table}.{name} unique={unique}")),
                "pk" => s
                    .constraints
                    .insert(format!("{table} PRIMARY KEY ({cols})")),
                _ => s.constraints.insert(format!("{table} UNIQUE ({cols})")),
            };
        }
        s.tables.insert(table);
    }
    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (table, sql) in triggers {
        // CREATE TRIGGER name {BEFORE|AFTER|INSTEAD OF} {INSERT|UPDATE|DELETE} ...
        let words: Vec<String> = sql
            .split_whitespace()
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let at = words
            .iter()
            .position(|w| ["BEFORE", "AFTER", "INSTEAD"].contains(&w.as_str()))
            .unwrap_or_else(|| panic!("no timing in {sql}"));
        let (timing, event) = if words[at] == "INSTEAD" {
            ("INSTEAD OF".to_owned(), words[at + 2].clone())
        } else {
            (words[at].clone(), words[at + 1].clone())
        };
        s.triggers.insert(trigger(&table, &timing, &event));
    }
    s
}

async fn postgres_schema() -> Schema {
    let store = common::fresh_store(Backend::Postgres).await;
    let pool = common::pg_pool(&store);
    let mut s = Schema::default();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1",
    )
    .bind(SQLX_TABLE)
    .fetch_all(&pool)
    .await
    .unwrap();
    s.tables = tables
        .into_iter()
        .map(|(t,)| t)
        .filter(|t| !t.starts_with(SEARCH_INDEX))
        .collect();
    let cols: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> $1",
    )
    .bind(SQLX_TABLE)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table, name, ty, nullable) in cols {
        if table.starts_with(SEARCH_INDEX) {
            continue;
        }
        s.columns
            .insert(column(&table, &name, &ty, nullable == "NO"));
    }
    // Indexes that back a constraint are compared as constraints below.
    let indexes: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, ix.indisunique
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = current_schema() AND t.relname <> $1
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
    )
    .bind(SQLX_TABLE)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table, name, unique) in indexes {
        if table.starts_with(SEARCH_INDEX) {
            continue;
        }
        s.indexes.insert(format!("{table}.{name} unique={unique}"));
    }
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, c.contype::text,
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord)
                 FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = current_schema() AND t.relname <> $1 AND c.contype IN ('p', 'u')",
    )
    .bind(SQLX_TABLE)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table, kind, cols) in constraints {
        if table.starts_with(SEARCH_INDEX) {
            continue;
        }
        let kind = if kind == "p" { "PRIMARY KEY" } else { "UNIQUE" };
        s.constraints.insert(format!("{table} {kind} ({cols})"));
    }
    // tgtype bits: 1 BEFORE, 2 INSERT, 3 DELETE, 4 UPDATE, 5 TRUNCATE, 6 INSTEAD OF
    let triggers: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT c.relname::text, t.tgname::text, t.tgtype::int4
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table, name, ty) in triggers {
        if name.ends_with(CACHE_TRIGGER) {
            continue;
        }
        let timing = match (ty & 1 << 1 != 0, ty & 1 << 6 != 0) {
            (_, true) => "INSTEAD OF",
            (true, false) => "BEFORE",
            (false, false) => "AFTER",
        };
        for (bit, event) in [(2, "INSERT"), (3, "DELETE"), (4, "UPDATE")] {
            if ty & 1 << bit != 0 {
                s.triggers.insert(trigger(&table, timing, event));
            }
        }
    }
    s
}

/// The lines only one side has, for the failure message.
fn only(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    if !common::postgres_configured() {
        common::announce_postgres_skipped();
        return;
    }
    let (sqlite, pg) = tokio::join!(sqlite_schema(), postgres_schema());
    assert!(
        sqlite.tables.len() >= 10,
        "SQLite tables: {:?}",
        sqlite.tables
    );
    assert!(!sqlite.triggers.is_empty(), "no SQLite trigger read");
    for (what, a, b) in [
        ("tables", &sqlite.tables, &pg.tables),
        ("columns", &sqlite.columns, &pg.columns),
        ("indexes", &sqlite.indexes, &pg.indexes),
        (
            "primary keys and unique constraints",
            &sqlite.constraints,
            &pg.constraints,
        ),
        ("triggers", &sqlite.triggers, &pg.triggers),
    ] {
        assert!(
            a == b,
            "{what} differ between the migrations\n  only SQLite: {:#?}\n  only PostgreSQL: {:#?}",
            only(a, b),
            only(b, a)
        );
    }
}
