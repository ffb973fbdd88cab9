-- Issue 10: notifications through a transactional outbox.
-- Escalation repeats every N business days while a referral stays overdue.
ALTER TABLE labs ADD COLUMN escalation_repeat_days INTEGER NOT NULL DEFAULT 2;

-- One row per message (an e-mail to one address, a webhook POST to one URL)
-- or per audience still to be expanded into messages (channel FANOUT). Rows
-- caused by a case change are written in that change's transaction; the
-- worker of any instance leases due rows (lease_owner/lease_until) and marks
-- them SENT, SKIPPED, FAILED (kept) or, after a failed attempt, PENDING again
-- with a later next_attempt_at. dedupe_key makes every enqueue idempotent
-- (a reminder per referral and occurrence, a fan-out per recipient).
CREATE TABLE outbox (
    id                BLOB PRIMARY KEY NOT NULL,
    lab_id            BLOB NOT NULL REFERENCES labs(id),
    kind              TEXT NOT NULL,
    channel           TEXT NOT NULL CHECK (channel IN ('EMAIL', 'WEBHOOK', 'FANOUT')),
    dedupe_key        TEXT NOT NULL UNIQUE,
    case_id           BLOB,
    recipient_user_id BLOB,
    recipient         TEXT,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED', 'EXPANDED')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT NOT NULL,
    lease_owner       TEXT,
    lease_until       TEXT,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    sent_at           TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lab ON outbox (lab_id, created_at);

-- Per-user notification preferences: the mail language and the kinds switched off.
CREATE TABLE notification_settings (
    user_id        BLOB PRIMARY KEY NOT NULL REFERENCES users(id),
    language       TEXT NOT NULL DEFAULT 'JA',
    disabled_kinds TEXT NOT NULL DEFAULT '[]',
    updated_at     TEXT NOT NULL
);

-- Partner-system webhooks, one or more per institution.
CREATE TABLE webhooks (
    id             BLOB PRIMARY KEY NOT NULL,
    lab_id         BLOB NOT NULL REFERENCES labs(id),
    institution_id BLOB NOT NULL REFERENCES institutions(id),
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    created_by     BLOB REFERENCES users(id),
    created_at     TEXT NOT NULL
);
CREATE INDEX webhooks_institution ON webhooks (institution_id);
