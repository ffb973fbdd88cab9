-- Issue 10: notifications through a transactional outbox.
-- Escalation repeats every N business days while a referral stays overdue.
ALTER TABLE labs ADD COLUMN escalation_repeat_days bigint NOT NULL DEFAULT 2;

-- One row per message (an e-mail to one address, a webhook POST to one URL)
-- or per audience still to be expanded into messages (channel FANOUT). Rows
-- caused by a case change are written in that change's transaction; the
-- worker of any instance leases due rows (lease_owner/lease_until) and marks
-- them SENT, SKIPPED, FAILED (kept) or, after a failed attempt, PENDING again
-- with a later next_attempt_at. dedupe_key makes every enqueue idempotent
-- (a reminder per referral and occurrence, a fan-out per recipient).
CREATE TABLE outbox (
    id                uuid PRIMARY KEY,
    lab_id            uuid NOT NULL REFERENCES labs(id),
    kind              text NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('EMAIL', 'WEBHOOK', 'FANOUT')),
    dedupe_key        text NOT NULL UNIQUE,
    case_id           uuid,
    recipient_user_id uuid,
    recipient         text,
    payload           jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED', 'EXPANDED')),
    attempts          bigint NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    lease_owner       text,
    lease_until       timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lab ON outbox (lab_id, created_at);

-- Per-user notification preferences: the mail language and the kinds switched off.
CREATE TABLE notification_settings (
    user_id        uuid PRIMARY KEY REFERENCES users(id),
    language       text NOT NULL DEFAULT 'JA',
    disabled_kinds jsonb NOT NULL DEFAULT '[]',
    updated_at     timestamptz NOT NULL
);

-- Partner-system webhooks, one or more per institution.
CREATE TABLE webhooks (
    id             uuid PRIMARY KEY,
    lab_id         uuid NOT NULL REFERENCES labs(id),
    institution_id uuid NOT NULL REFERENCES institutions(id),
    url            text NOT NULL,
    secret         text NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    created_by     uuid REFERENCES users(id),
    created_at     timestamptz NOT NULL
);
CREATE INDEX webhooks_institution ON webhooks (institution_id);
