//! The seam between the store's logic and the two databases: a [`Pool`] and a
//! write transaction [`Tx`] of either backend, the [`Dialect`] fragments that
//! differ, and [`Sql`], a query whose bind values ([`Val`]) are collected as it
//! is built and numbered when it runs (`?` for SQLite, `$N` for PostgreSQL).
//! The store's queries are written once against this module.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::types::Json;
use sqlx::{Arguments, FromRow, PgConnection, PgPool, Postgres, Row, Sqlite, SqliteConnection};
use sqlx::{SqlitePool, Transaction};
use uuid::Uuid;

/// Which SQL dialect a query is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// What a `SELECT` appends to lock the rows it reads until commit (SQLite's
    /// `BEGIN IMMEDIATE` already holds the database's write lock).
    pub fn lock_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// `col` ordered by its bytes (code points), as Rust orders strings, so
    /// that rows kept in memory sort like rows read back (SQLite's default
    /// `BINARY` collation already does; PostgreSQL's depends on the database).
    pub fn bytewise(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => col.to_owned(),
            Dialect::Postgres => format!("{col} COLLATE \"C\""),
        }
    }

    /// A text field of a JSON object column.
    pub fn json_field(self, col: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({col}, '$.{key}')"),
            Dialect::Postgres => format!("({col} ->> '{key}')"),
        }
    }

    /// A JSON column as text (for `LIKE`).
    pub fn json_text(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => col.to_owned(),
            Dialect::Postgres => format!("({col})::text"),
        }
    }
}

/// A connection pool of either backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of
    /// failing half-way with "database is locked"; PostgreSQL locks rows.
    ///
    /// When the running task executes a keyed mutation (`Idempotency-Key`), its
    /// claim is marked executed inside this transaction, so the mark commits
    /// (or rolls back) with the mutation's own writes.
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        let current = super::idempotency::CURRENT.try_with(|c| c.clone()).ok();
        self.begin_write_for(current.as_slice()).await
    }

    /// A write transaction that marks the given idempotency claims executed
    /// (a batch written for several requests carries their claims itself).
    pub async fn begin_write_for(
        &self,
        claims: &[super::idempotency::CurrentClaim],
    ) -> sqlx::Result<Tx> {
        let mut tx = self.begin_bookkeeping().await?;
        mark_executed(&mut tx, claims).await?;
        Ok(tx)
    }

    /// A write transaction for bookkeeping around a request (throttling
    /// counters): like [`Pool::begin_write`] but it never marks an idempotency
    /// key executed, so a refused request can be retried with its key.
    pub async fn begin_bookkeeping(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A plain transaction (no write lock taken up front).
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}

/// Marks these idempotency claims executed inside `tx`: the mark commits (or
/// rolls back) with the mutation's own writes.
pub async fn mark_executed(
    tx: &mut Tx,
    claims: &[super::idempotency::CurrentClaim],
) -> sqlx::Result<()> {
    if claims.is_empty() {
        return Ok(());
    }
    let mut q = sql("UPDATE idempotency_keys SET executed = ");
    q.bind(true).push(" WHERE ");
    for (i, c) in claims.iter().enumerate() {
        q.push(if i > 0 { " OR (scope = " } else { "(scope = " })
            .bind(c.scope.as_str())
            .push(" AND key = ")
            .bind(c.key.as_str())
            .push(" AND claim_id = ")
            .bind(c.claim_id.as_str())
            .push(")");
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// An open transaction of either backend; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// Where a query runs: a pool or an open transaction.
pub enum Conn<'c> {
    SqlitePool(&'c SqlitePool),
    PgPool(&'c PgPool),
    SqliteTx(&'c mut SqliteConnection),
    PgTx(&'c mut PgConnection),
}

impl<'c> From<&'c Pool> for Conn<'c> {
    fn from(p: &'c Pool) -> Self {
        match p {
            Pool::Sqlite(p) => Conn::SqlitePool(p),
            Pool::Postgres(p) => Conn::PgPool(p),
        }
    }
}

impl<'c> From<&'c mut Tx> for Conn<'c> {
    fn from(t: &'c mut Tx) -> Self {
        match t {
            Tx::Sqlite(t) => Conn::SqliteTx(&mut *t),
            Tx::Postgres(t) => Conn::PgTx(&mut *t),
        }
    }
}

/// A bind value. Domain enums are bound as their stored text (see `codec.rs`).
#[derive(Debug, Clone)]
pub enum Val {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    /// A JSON document, serialized once (the stored text is what serde writes).
    Json(Box<RawValue>),
}

macro_rules! val_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Val {
            fn from(x: $t) -> Self {
                Val::$v(Some(x.into()))
            }
        }
        impl From<Option<$t>> for Val {
            fn from(x: Option<$t>) -> Self {
                Val::$v(x.map(Into::into))
            }
        }
    )*};
}

val_from!(
    Uuid => Uuid,
    String => Text,
    &str => Text,
    i64 => Int,
    f64 => Real,
    bool => Bool,
    DateTime<Utc> => Time,
);

impl From<&String> for Val {
    fn from(x: &String) -> Self {
        Val::Text(Some(x.clone()))
    }
}

impl From<&Option<String>> for Val {
    fn from(x: &Option<String>) -> Self {
        Val::Text(x.clone())
    }
}

impl<T: serde::Serialize> From<&Json<T>> for Val {
    fn from(x: &Json<T>) -> Self {
        Val::json(&x.0)
    }
}

impl Val {
    /// `x` as a JSON document.
    pub fn json(x: &impl serde::Serialize) -> Self {
        Val::Json(serde_json::value::to_raw_value(x).expect("a serializable value"))
    }
}

/// A column and the value written to it.
pub type Col = (&'static str, Val);

/// Rows that both backends can decode (every `sqlx::FromRow` model and tuple).
pub trait Rows: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Rows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A query being built: SQL text with a hole for each bind, and the binds.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    /// Byte offsets in `text` where a placeholder goes.
    holes: Vec<usize>,
    args: Vec<Val>,
}

/// Starts a query with `text`.
pub fn sql(text: &str) -> Sql {
    let mut q = Sql::default();
    q.push(text);
    q
}

macro_rules! args_of {
    ($name:ident, $args:ty) => {
        fn $name(&self) -> Result<$args, sqlx::Error> {
            let mut a = <$args>::default();
            for v in &self.args {
                let r: Result<(), BoxDynError> = match v {
                    Val::Uuid(x) => a.add(*x),
                    Val::Text(x) => a.add(x.clone()),
                    Val::Int(x) => a.add(*x),
                    Val::Real(x) => a.add(*x),
                    Val::Bool(x) => a.add(*x),
                    Val::Time(x) => a.add(*x),
                    Val::Json(x) => a.add(Json(x.clone())),
                };
                r.map_err(sqlx::Error::Encode)?;
            }
            Ok(a)
        }
    };
}

impl Sql {
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.holes.push(self.text.len());
        self.args.push(v.into());
        self
    }

    /// Appends `a, b, c`: one placeholder per value.
    pub fn bind_list<V: Into<Val>>(&mut self, vals: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self
    }

    /// Appends `INSERT INTO <table> (<cols>) VALUES (<binds>)`.
    pub fn insert(&mut self, table: &str, row: Vec<Col>) -> &mut Self {
        let names: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
        self.push(&format!(
            "INSERT INTO {table} ({}) VALUES (",
            names.join(", ")
        ));
        self.bind_list(row.into_iter().map(|(_, v)| v));
        self.push(")")
    }

    /// Appends one `INSERT INTO <table> (<cols>) VALUES (…), (…)` for all
    /// `rows` (one round trip); every row has the same columns.
    pub fn insert_many(&mut self, table: &str, rows: Vec<Vec<Col>>) -> &mut Self {
        let names: Vec<&str> = rows
            .first()
            .map(|r| r.iter().map(|(c, _)| *c).collect())
            .unwrap_or_default();
        self.push(&format!(
            "INSERT INTO {table} ({}) VALUES ",
            names.join(", ")
        ));
        for (i, row) in rows.into_iter().enumerate() {
            self.push(if i > 0 { ", (" } else { "(" });
            self.bind_list(row.into_iter().map(|(_, v)| v));
            self.push(")");
        }
        self
    }

    /// Appends `UPDATE <table> SET <col> = <bind>, …` (the caller adds `WHERE`).
    pub fn update(&mut self, table: &str, row: Vec<Col>) -> &mut Self {
        self.push(&format!("UPDATE {table} SET "));
        for (i, (c, v)) in row.into_iter().enumerate() {
            self.push(if i > 0 { ", " } else { "" });
            self.push(c).push(" = ").bind(v);
        }
        self
    }

    /// The text with placeholders for `d`.
    pub fn render(&self, d: Dialect) -> String {
        let mut out = String::with_capacity(self.text.len() + 4 * self.holes.len());
        let mut at = 0;
        for (i, &h) in self.holes.iter().enumerate() {
            out.push_str(&self.text[at..h]);
            match d {
                Dialect::Sqlite => out.push('?'),
                Dialect::Postgres => out.push_str(&format!("${}", i + 1)),
            }
            at = h;
        }
        out.push_str(&self.text[at..]);
        out
    }

    /// The text with every bind inlined as a PostgreSQL literal, for pgbench
    /// (`scripts/bench.sh` replays the statements of a request).
    #[cfg(feature = "bench")]
    pub fn render_literal(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let mut out = String::with_capacity(self.text.len() + 40 * self.holes.len());
        let mut at = 0;
        for (&h, v) in self.holes.iter().zip(&self.args) {
            out.push_str(&self.text[at..h]);
            out.push_str(&match v {
                Val::Uuid(Some(x)) => format!("'{x}'::uuid"),
                Val::Text(Some(x)) => quote(x),
                Val::Int(Some(x)) => x.to_string(),
                Val::Real(Some(x)) => x.to_string(),
                Val::Bool(Some(x)) => x.to_string(),
                Val::Time(Some(x)) => format!("'{}'::timestamptz", x.to_rfc3339()),
                Val::Json(x) => format!("{}::jsonb", quote(x.get())),
                _ => "NULL".to_owned(),
            });
            at = h;
        }
        out.push_str(&self.text[at..]);
        out
    }

    args_of!(sqlite_args, SqliteArguments<'static>);
    args_of!(pg_args, PgArguments);

    /// Runs a statement; the number of rows it changed.
    pub async fn execute<'c>(&self, conn: impl Into<Conn<'c>>) -> sqlx::Result<u64> {
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        let done = match conn.into() {
            Conn::SqlitePool(c) => sqlx::query_with(&self.render(s), self.sqlite_args()?)
                .execute(c)
                .await?
                .rows_affected(),
            Conn::SqliteTx(c) => sqlx::query_with(&self.render(s), self.sqlite_args()?)
                .execute(c)
                .await?
                .rows_affected(),
            Conn::PgPool(c) => sqlx::query_with(&self.render(p), self.pg_args()?)
                .execute(c)
                .await?
                .rows_affected(),
            Conn::PgTx(c) => sqlx::query_with(&self.render(p), self.pg_args()?)
                .execute(c)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    pub async fn fetch_all<'c, T: Rows>(&self, conn: impl Into<Conn<'c>>) -> sqlx::Result<Vec<T>> {
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        match conn.into() {
            Conn::SqlitePool(c) => {
                sqlx::query_as_with(&self.render(s), self.sqlite_args()?)
                    .fetch_all(c)
                    .await
            }
            Conn::SqliteTx(c) => {
                sqlx::query_as_with(&self.render(s), self.sqlite_args()?)
                    .fetch_all(c)
                    .await
            }
            Conn::PgPool(c) => {
                sqlx::query_as_with(&self.render(p), self.pg_args()?)
                    .fetch_all(c)
                    .await
            }
            Conn::PgTx(c) => {
                sqlx::query_as_with(&self.render(p), self.pg_args()?)
                    .fetch_all(c)
                    .await
            }
        }
    }

    pub async fn fetch_optional<'c, T: Rows>(
        &self,
        conn: impl Into<Conn<'c>>,
    ) -> sqlx::Result<Option<T>> {
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        match conn.into() {
            Conn::SqlitePool(c) => {
                sqlx::query_as_with(&self.render(s), self.sqlite_args()?)
                    .fetch_optional(c)
                    .await
            }
            Conn::SqliteTx(c) => {
                sqlx::query_as_with(&self.render(s), self.sqlite_args()?)
                    .fetch_optional(c)
                    .await
            }
            Conn::PgPool(c) => {
                sqlx::query_as_with(&self.render(p), self.pg_args()?)
                    .fetch_optional(c)
                    .await
            }
            Conn::PgTx(c) => {
                sqlx::query_as_with(&self.render(p), self.pg_args()?)
                    .fetch_optional(c)
                    .await
            }
        }
    }

    pub async fn fetch_one<'c, T: Rows>(&self, conn: impl Into<Conn<'c>>) -> sqlx::Result<T> {
        self.fetch_optional(conn)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The one row of an aggregate whose every column is a `BIGINT`.
    pub async fn fetch_counts<'c>(&self, conn: impl Into<Conn<'c>>) -> sqlx::Result<Vec<i64>> {
        fn all<R: Row>(row: R) -> sqlx::Result<Vec<i64>>
        where
            usize: sqlx::ColumnIndex<R>,
            i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            (0..row.len()).map(|i| row.try_get(i)).collect()
        }
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        match conn.into() {
            Conn::SqlitePool(c) => all(sqlx::query_with(&self.render(s), self.sqlite_args()?)
                .fetch_one(c)
                .await?),
            Conn::SqliteTx(c) => all(sqlx::query_with(&self.render(s), self.sqlite_args()?)
                .fetch_one(c)
                .await?),
            Conn::PgPool(c) => all(sqlx::query_with(&self.render(p), self.pg_args()?)
                .fetch_one(c)
                .await?),
            Conn::PgTx(c) => all(sqlx::query_with(&self.render(p), self.pg_args()?)
                .fetch_one(c)
                .await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_dialect() {
        let mut q = sql("SELECT 1 WHERE a = ");
        q.bind(1_i64)
            .push(" AND b IN (")
            .bind_list(["x", "y"])
            .push(")");
        assert_eq!(
            q.render(Dialect::Sqlite),
            "SELECT 1 WHERE a = ? AND b IN (?, ?)"
        );
        assert_eq!(
            q.render(Dialect::Postgres),
            "SELECT 1 WHERE a = $1 AND b IN ($2, $3)"
        );
    }

    #[test]
    fn insert_and_update_from_one_column_list() {
        let row = || vec![("id", Val::from(1_i64)), ("name", Val::from("n"))];
        let mut q = Sql::default();
        q.insert("t", row());
        assert_eq!(
            q.render(Dialect::Postgres),
            "INSERT INTO t (id, name) VALUES ($1, $2)"
        );
        let mut q = Sql::default();
        q.update("t", row()).push(" WHERE id = ").bind(2_i64);
        assert_eq!(
            q.render(Dialect::Sqlite),
            "UPDATE t SET id = ?, name = ? WHERE id = ?"
        );
    }
}

/// What every store method works on: the pool and the audit key.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: Pool,
    /// Seals every case write when set (`DXDESK_AUDIT_KEY`).
    pub seal_key: Option<std::sync::Arc<crate::domain::seal::SealKey>>,
    /// The intakes waiting for their lab-year's group commit.
    pub intake: std::sync::Arc<super::cases::intake::IntakeQueue>,
    /// This instance's fan-out of committed case writes to live subscribers.
    pub live: super::live::Hub,
    /// Lab rows and access checks (PostgreSQL, while `live` listens).
    pub cache: std::sync::Arc<super::cache::RowCache>,
}

impl Db {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            seal_key: None,
            intake: Default::default(),
            live: super::live::Hub::default(),
            cache: Default::default(),
        }
    }
}

/// A backend's store: the store traits are implemented once for every `HasDb`.
pub trait HasDb: Send + Sync {
    fn db(&self) -> &Db;
}
