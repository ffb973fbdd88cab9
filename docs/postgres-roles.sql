-- dxdesk on PostgreSQL: two roles.
--   owner (here dxdesk_owner): owns the schema, runs `dxdesk migrate`.
--   app   (here dxdesk_app):   what `dxdesk serve` connects as; owns nothing,
--         may only INSERT/SELECT on case_events, so its credentials cannot drop
--         the append-only triggers, rewrite or truncate events, or change tables.
-- `dxdesk migrate --grant-app-role dxdesk_app` (run with the owner's URL in
-- DXDESK_MIGRATE_DATABASE_URL or DATABASE_URL) does the GRANT part below for
-- the owner's current schema; this file is the same in plain SQL for a DBA.
-- Run it with psql as a superuser; replace the passwords and the schema (public).

CREATE ROLE dxdesk_owner LOGIN PASSWORD 'change-me-owner';
CREATE ROLE dxdesk_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION
    PASSWORD 'change-me-app';
-- CREATE DATABASE dxdesk OWNER dxdesk_owner;   -- a new database, or:
-- ALTER SCHEMA public OWNER TO dxdesk_owner;   -- and ALTER TABLE … OWNER TO dxdesk_owner for existing tables
REVOKE CREATE ON SCHEMA public FROM PUBLIC;     -- the default since PostgreSQL 15

-- Now, as dxdesk_owner: `DATABASE_URL=postgres://dxdesk_owner:…@host/dxdesk dxdesk migrate`,
-- then (also as dxdesk_owner, or run `dxdesk migrate --grant-app-role dxdesk_app` instead):
GRANT USAGE ON SCHEMA public TO dxdesk_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dxdesk_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dxdesk_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dxdesk_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dxdesk_app;
REVOKE UPDATE, DELETE ON public.case_events FROM dxdesk_app;   -- append and read only
REVOKE DELETE ON public.case_seals FROM dxdesk_app;            -- seals are rewritten, never removed
REVOKE INSERT, UPDATE, DELETE ON public._sqlx_migrations FROM dxdesk_app; -- reads which are applied
-- Tables of later migrations (created by dxdesk_owner) get plain DML; re-run the
-- grant after a migration that adds an append-only table.
ALTER DEFAULT PRIVILEGES FOR ROLE dxdesk_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dxdesk_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dxdesk_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO dxdesk_app;

-- Then run the app with DATABASE_URL=postgres://dxdesk_app:…@host/dxdesk dxdesk serve.
-- It checks that every migration is applied and refuses to start if not
-- ("run `dxdesk migrate` as the owner role").
--
-- SQLite has no roles: there the database file's permissions are the boundary
-- (only the app's OS user may read and write it and its -wal/-shm files).
