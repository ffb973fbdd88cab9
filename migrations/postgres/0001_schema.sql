-- The whole dxdesk domain (PostgreSQL dialect). Every row belongs to a lab.

CREATE TABLE labs (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    name_en     text NOT NULL DEFAULT '',
    regions     jsonb NOT NULL DEFAULT '[]',
    pickup_days bigint NOT NULL DEFAULT 3,
    created_at  timestamptz NOT NULL
);

CREATE TABLE institutions (
    id         uuid PRIMARY KEY,
    lab_id     uuid NOT NULL REFERENCES labs(id),
    name       text NOT NULL,
    kind       text NOT NULL,
    tags       jsonb NOT NULL DEFAULT '[]',
    regions    jsonb NOT NULL DEFAULT '[]',
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (lab_id, name)
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    lab_id         uuid NOT NULL REFERENCES labs(id),
    email          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('ADMIN', 'CONCIERGE', 'PARTNER')),
    institution_id uuid REFERENCES institutions(id),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((role = 'PARTNER') = (institution_id IS NOT NULL))
);
CREATE INDEX users_lab ON users (lab_id);

CREATE TABLE refresh_sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    family_id   uuid NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_sessions_family ON refresh_sessions (family_id);
CREATE INDEX refresh_sessions_user ON refresh_sessions (user_id);

CREATE TABLE businesses (
    id               uuid PRIMARY KEY,
    lab_id           uuid NOT NULL REFERENCES labs(id),
    name             text NOT NULL,
    corporate_number text,
    industry         text,
    employee_band    text,
    municipality     text,
    region           text,
    contact_name     text,
    email            text,
    phone            text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    erased_at        timestamptz
);
CREATE UNIQUE INDEX businesses_corporate_number ON businesses (lab_id, corporate_number) WHERE corporate_number IS NOT NULL;
CREATE INDEX businesses_lab_name ON businesses (lab_id, name);

CREATE TABLE case_counters (
    lab_id   uuid NOT NULL REFERENCES labs(id),
    year     bigint NOT NULL,
    last_seq bigint NOT NULL,
    PRIMARY KEY (lab_id, year)
);

CREATE TABLE cases (
    id               uuid PRIMARY KEY,
    lab_id           uuid NOT NULL REFERENCES labs(id),
    reference        text NOT NULL UNIQUE,
    business_id      uuid NOT NULL REFERENCES businesses(id),
    title            text NOT NULL,
    description      text NOT NULL,
    channel          text NOT NULL,
    stage            text NOT NULL,
    status           text NOT NULL,
    priority         text NOT NULL DEFAULT 'NORMAL',
    assigned_to      uuid REFERENCES users(id),
    consent_to_share boolean NOT NULL,
    consent_at       timestamptz,
    consent_by       uuid REFERENCES users(id),
    access_code_hash text NOT NULL,
    outcomes         jsonb NOT NULL DEFAULT '[]',
    outcome_summary  text,
    version          bigint NOT NULL DEFAULT 1,
    event_count      bigint NOT NULL DEFAULT 0,
    last_event_hash  text NOT NULL,
    created_by       uuid REFERENCES users(id),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    resolved_at      timestamptz,
    closed_at        timestamptz
);
CREATE INDEX cases_lab_id ON cases (lab_id, id);
CREATE INDEX cases_lab_status ON cases (lab_id, status, id);
CREATE INDEX cases_lab_stage ON cases (lab_id, stage, id);
CREATE INDEX cases_lab_assigned ON cases (lab_id, assigned_to, id);
CREATE INDEX cases_lab_created ON cases (lab_id, created_at);
CREATE INDEX cases_business ON cases (business_id);

CREATE TABLE case_topics (
    case_id uuid NOT NULL REFERENCES cases(id),
    lab_id  uuid NOT NULL REFERENCES labs(id),
    topic   text NOT NULL,
    PRIMARY KEY (case_id, topic)
);
CREATE INDEX case_topics_lab_topic ON case_topics (lab_id, topic, case_id);

CREATE TABLE referrals (
    id              uuid PRIMARY KEY,
    lab_id          uuid NOT NULL REFERENCES labs(id),
    case_id         uuid NOT NULL REFERENCES cases(id),
    institution_id  uuid NOT NULL REFERENCES institutions(id),
    status          text NOT NULL,
    note            text,
    reason          text,
    decision_note   text,
    summary         text,
    referred_by     uuid REFERENCES users(id),
    decided_by      uuid REFERENCES users(id),
    pickup_deadline timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    decided_at      timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX referrals_case ON referrals (case_id);
CREATE INDEX referrals_lab_institution ON referrals (lab_id, institution_id, status);
CREATE INDEX referrals_lab_status_deadline ON referrals (lab_id, status, pickup_deadline);
CREATE UNIQUE INDEX referrals_one_open_per_institution ON referrals (case_id, institution_id)
    WHERE status IN ('PENDING', 'ACCEPTED');

CREATE TABLE notes (
    id         uuid PRIMARY KEY,
    lab_id     uuid NOT NULL REFERENCES labs(id),
    case_id    uuid NOT NULL REFERENCES cases(id),
    author_id  uuid REFERENCES users(id),
    body       text NOT NULL,
    visibility text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX notes_case ON notes (case_id, created_at);

CREATE TABLE case_events (
    id        uuid PRIMARY KEY,
    lab_id    uuid NOT NULL REFERENCES labs(id),
    case_id   uuid NOT NULL REFERENCES cases(id),
    seq       bigint NOT NULL,
    kind      text NOT NULL,
    actor_id  uuid REFERENCES users(id),
    at        timestamptz NOT NULL,
    payload   jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    UNIQUE (case_id, seq)
);
CREATE INDEX case_events_lab_kind_at ON case_events (lab_id, kind, at);

CREATE FUNCTION case_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER case_events_no_update_delete BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();

CREATE TABLE rate_hits (
    bucket text NOT NULL,
    key    text NOT NULL,
    at     timestamptz NOT NULL
);
CREATE INDEX rate_hits_bucket_key_at ON rate_hits (bucket, key, at);

CREATE TABLE kpi_targets (
    id            uuid PRIMARY KEY,
    lab_id        uuid NOT NULL REFERENCES labs(id),
    fiscal_year   bigint NOT NULL,
    name          text NOT NULL,
    unit          text NOT NULL,
    target        double precision NOT NULL,
    metric        text NOT NULL,
    manual_actual double precision,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (lab_id, fiscal_year, name)
);
