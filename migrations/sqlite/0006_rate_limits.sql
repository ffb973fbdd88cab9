-- Issue 9: throttling that concurrent requests cannot race.
-- One row per (bucket, key): a take upserts it inside its write transaction,
-- so takes of the same key run one after the other (a row lock on PostgreSQL,
-- the database write lock on SQLite), even across instances.
CREATE TABLE rate_keys (
    bucket     TEXT NOT NULL,
    key        TEXT NOT NULL,
    touched_at TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
-- A taken hit can be given back (a successful login, a submission refused
-- for its content): the token names it.
ALTER TABLE rate_hits ADD COLUMN token TEXT;
