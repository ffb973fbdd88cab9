//! PostgreSQL roles: what `dxdesk migrate --grant-app-role ROLE` grants the
//! role the app runs as — plain DML on its tables, only `INSERT`/`SELECT` on
//! `case_events`, no `DELETE` of seals, read-only migration state, nothing
//! owned — so the app's credentials cannot drop the append-only triggers,
//! rewrite events or apply DDL. Run as the owner role (the one that applied
//! the migrations), it also sets the owner's default privileges so tables of
//! later migrations are usable by the app. docs/postgres-roles.sql is the same
//! in plain SQL.

use super::db::{sql, Conn};
use anyhow::{bail, Context};
use sqlx::PgPool;

/// A role name we are willing to put into SQL: a plain identifier.
pub fn valid_role_name(role: &str) -> bool {
    let mut chars = role.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && role.len() <= 63
}

/// The statements that give `role` exactly the app's rights on `schema`.
pub fn grant_statements(schema: &str, role: &str) -> Vec<String> {
    let s = format!("\"{}\"", schema.replace('"', "\"\""));
    let r = format!("\"{role}\"");
    vec![
        format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"),
        // The support record: append and read only.
        format!("REVOKE UPDATE, DELETE ON {s}.case_events FROM {r}"),
        // Seals are rewritten with each write, never removed by the app.
        format!("REVOKE DELETE ON {s}.case_seals FROM {r}"),
        // The app checks which migrations are applied; it applies none.
        format!("REVOKE INSERT, UPDATE, DELETE ON {s}._sqlx_migrations FROM {r}"),
        // Tables and sequences later migrations create (as this owner).
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}"
        ),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}"),
    ]
}

/// Grants `role` the app's rights on the current schema, in one transaction.
/// Refuses a role that does not exist, is a superuser (the triggers would not
/// bind it), is the owner itself, or owns a table of the schema.
pub async fn grant_app_role(pool: &PgPool, role: &str) -> anyhow::Result<()> {
    if !valid_role_name(role) {
        bail!("{role:?} is not a plain PostgreSQL role name (letters, digits, _)");
    }
    let (schema, me): (String, String) = sqlx::query_as("SELECT current_schema(), current_user")
        .fetch_one(pool)
        .await
        .context("reading the current schema")?;
    if role == me {
        bail!("the app role {role} is the role running the migrations: create a separate role (see docs/postgres-roles.sql)");
    }
    let found: Option<(bool, bool)> =
        sql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ")
            .bind(role)
            .fetch_optional(Conn::PgPool(pool))
            .await?;
    match found {
        None => bail!("role {role} does not exist: CREATE ROLE {role} LOGIN PASSWORD '…' first (see docs/postgres-roles.sql)"),
        Some((true, _)) | Some((_, true)) => {
            bail!("role {role} is a superuser (or bypasses row security): the app must run as a plain role")
        }
        Some(_) => {}
    }
    let (owned,): (i64,) = sql(
        "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = ",
    )
    .bind(&schema)
    .push(" AND pg_get_userbyid(c.relowner) = ")
    .bind(role)
    .fetch_one(Conn::PgPool(pool))
    .await?;
    if owned > 0 {
        bail!("role {role} owns {owned} objects of schema {schema}: the app role must own nothing (ALTER TABLE … OWNER TO {me})");
    }
    let mut tx = pool.begin().await?;
    for sql in grant_statements(&schema, role) {
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("granting: {sql}"))?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether the pool's role is a superuser or owns a table of its schema — a
/// role that can drop the append-only triggers (`serve` warns in production).
pub async fn can_alter_the_record(pool: &PgPool) -> anyhow::Result<bool> {
    let (sup, owns): (bool, bool) = sqlx::query_as(
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
         EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = 'case_events' \
                 AND pg_get_userbyid(c.relowner) = current_user)",
    )
    .fetch_one(pool)
    .await?;
    Ok(sup || owns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(valid_role_name("dxdesk_app"));
        assert!(valid_role_name("_x1"));
        assert!(!valid_role_name("1abc"));
        assert!(!valid_role_name("a\"; DROP TABLE cases; --"));
        assert!(!valid_role_name(""));
        assert!(!valid_role_name(&"a".repeat(64)));
    }

    #[test]
    fn events_are_insert_and_select_only() {
        let all = grant_statements("public", "app").join(";\n");
        assert!(all.contains("REVOKE UPDATE, DELETE ON \"public\".case_events FROM \"app\""));
        assert!(!all.contains("TRUNCATE"));
        assert!(all.contains("ALTER DEFAULT PRIVILEGES"));
    }
}
