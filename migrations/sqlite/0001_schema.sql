-- The whole dxdesk domain (SQLite dialect). Every row belongs to a lab.

CREATE TABLE labs (
    id          BLOB PRIMARY KEY NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL DEFAULT '',
    regions     TEXT NOT NULL DEFAULT '[]',  -- JSON [{code,name,municipalities[]}]
    pickup_days INTEGER NOT NULL DEFAULT 3,
    created_at  TEXT NOT NULL
);

CREATE TABLE institutions (
    id         BLOB PRIMARY KEY NOT NULL,
    lab_id     BLOB NOT NULL REFERENCES labs(id),
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    regions    TEXT NOT NULL DEFAULT '[]',   -- JSON array of region codes; empty = the whole lab
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (lab_id, name)
);

CREATE TABLE users (
    id             BLOB PRIMARY KEY NOT NULL,
    lab_id         BLOB NOT NULL REFERENCES labs(id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('ADMIN', 'CONCIERGE', 'PARTNER')),
    institution_id BLOB REFERENCES institutions(id),
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK ((role = 'PARTNER') = (institution_id IS NOT NULL))
);
CREATE INDEX users_lab ON users (lab_id);

CREATE TABLE refresh_sessions (
    id          BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id),
    family_id   BLOB NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    revoked_at  TEXT
);
CREATE INDEX refresh_sessions_family ON refresh_sessions (family_id);
CREATE INDEX refresh_sessions_user ON refresh_sessions (user_id);

CREATE TABLE businesses (
    id               BLOB PRIMARY KEY NOT NULL,
    lab_id           BLOB NOT NULL REFERENCES labs(id),
    name             TEXT NOT NULL,
    corporate_number TEXT,
    industry         TEXT,
    employee_band    TEXT,
    municipality     TEXT,
    region           TEXT,
    contact_name     TEXT,
    email            TEXT,
    phone            TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    erased_at        TEXT
);
CREATE UNIQUE INDEX businesses_corporate_number ON businesses (lab_id, corporate_number) WHERE corporate_number IS NOT NULL;
CREATE INDEX businesses_lab_name ON businesses (lab_id, name);

CREATE TABLE case_counters (
    lab_id   BLOB NOT NULL REFERENCES labs(id),
    year     INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (lab_id, year)
);

CREATE TABLE cases (
    id               BLOB PRIMARY KEY NOT NULL,
    lab_id           BLOB NOT NULL REFERENCES labs(id),
    reference        TEXT NOT NULL UNIQUE,
    business_id      BLOB NOT NULL REFERENCES businesses(id),
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    channel          TEXT NOT NULL,
    stage            TEXT NOT NULL,
    status           TEXT NOT NULL,
    priority         TEXT NOT NULL DEFAULT 'NORMAL',
    assigned_to      BLOB REFERENCES users(id),
    consent_to_share INTEGER NOT NULL,
    consent_at       TEXT,
    consent_by       BLOB REFERENCES users(id),
    access_code_hash TEXT NOT NULL,
    outcomes         TEXT NOT NULL DEFAULT '[]',
    outcome_summary  TEXT,
    version          INTEGER NOT NULL DEFAULT 1,
    event_count      INTEGER NOT NULL DEFAULT 0,
    last_event_hash  TEXT NOT NULL,
    created_by       BLOB REFERENCES users(id),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    resolved_at      TEXT,
    closed_at        TEXT
);
CREATE INDEX cases_lab_id ON cases (lab_id, id);
CREATE INDEX cases_lab_status ON cases (lab_id, status, id);
CREATE INDEX cases_lab_stage ON cases (lab_id, stage, id);
CREATE INDEX cases_lab_assigned ON cases (lab_id, assigned_to, id);
CREATE INDEX cases_lab_created ON cases (lab_id, created_at);
CREATE INDEX cases_business ON cases (business_id);

CREATE TABLE case_topics (
    case_id BLOB NOT NULL REFERENCES cases(id),
    lab_id  BLOB NOT NULL REFERENCES labs(id),
    topic   TEXT NOT NULL,
    PRIMARY KEY (case_id, topic)
);
CREATE INDEX case_topics_lab_topic ON case_topics (lab_id, topic, case_id);

CREATE TABLE referrals (
    id              BLOB PRIMARY KEY NOT NULL,
    lab_id          BLOB NOT NULL REFERENCES labs(id),
    case_id         BLOB NOT NULL REFERENCES cases(id),
    institution_id  BLOB NOT NULL REFERENCES institutions(id),
    status          TEXT NOT NULL,
    note            TEXT,
    reason          TEXT,
    decision_note   TEXT,
    summary         TEXT,
    referred_by     BLOB REFERENCES users(id),
    decided_by      BLOB REFERENCES users(id),
    pickup_deadline TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    decided_at      TEXT,
    completed_at    TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX referrals_case ON referrals (case_id);
CREATE INDEX referrals_lab_institution ON referrals (lab_id, institution_id, status);
CREATE INDEX referrals_lab_status_deadline ON referrals (lab_id, status, pickup_deadline);
CREATE UNIQUE INDEX referrals_one_open_per_institution ON referrals (case_id, institution_id)
    WHERE status IN ('PENDING', 'ACCEPTED');

CREATE TABLE notes (
    id         BLOB PRIMARY KEY NOT NULL,
    lab_id     BLOB NOT NULL REFERENCES labs(id),
    case_id    BLOB NOT NULL REFERENCES cases(id),
    author_id  BLOB REFERENCES users(id),
    body       TEXT NOT NULL,
    visibility TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX notes_case ON notes (case_id, created_at);

CREATE TABLE case_events (
    id        BLOB PRIMARY KEY NOT NULL,
    lab_id    BLOB NOT NULL REFERENCES labs(id),
    case_id   BLOB NOT NULL REFERENCES cases(id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    actor_id  BLOB REFERENCES users(id),
    at        TEXT NOT NULL,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    UNIQUE (case_id, seq)
);
CREATE INDEX case_events_lab_kind_at ON case_events (lab_id, kind, at);

CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only: UPDATE refused');
END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only: DELETE refused');
END;

-- Throttling counters shared by every instance (login failures, status look-ups, web submissions).
CREATE TABLE rate_hits (
    bucket TEXT NOT NULL,
    key    TEXT NOT NULL,
    at     TEXT NOT NULL
);
CREATE INDEX rate_hits_bucket_key_at ON rate_hits (bucket, key, at);

CREATE TABLE kpi_targets (
    id            BLOB PRIMARY KEY NOT NULL,
    lab_id        BLOB NOT NULL REFERENCES labs(id),
    fiscal_year   INTEGER NOT NULL,
    name          TEXT NOT NULL,
    unit          TEXT NOT NULL,
    target        REAL NOT NULL,
    metric        TEXT NOT NULL,
    manual_actual REAL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (lab_id, fiscal_year, name)
);
