-- Issue 11: a real lab can start. Set-password / reset tokens, the addresses
-- an account signed in from, lab and institution settings, a user's language.

-- Single-use links: only the SHA-256 of the token is stored.
CREATE TABLE account_tokens (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id),
    purpose    text NOT NULL CHECK (purpose IN ('SET', 'RESET')),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user ON account_tokens (user_id);

-- Where an account signed in successfully (login throttling: a known address
-- is not refused because of someone else's guessing from elsewhere).
CREATE TABLE login_known_addresses (
    account      text NOT NULL,
    address      text NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (account, address)
);

-- A lab's settings beyond labs.pickup_days (which stays the lab's pick-up days).
CREATE TABLE lab_settings (
    lab_id                 uuid PRIMARY KEY REFERENCES labs(id),
    display_name           text,
    contact_line           text,
    escalation_repeat_days bigint,
    closure_days           jsonb NOT NULL DEFAULT '[]',  -- ["2025-08-13", "--08-14", …]
    updated_at             timestamptz NOT NULL
);

-- An institution's own pick-up days (NULL: the lab's).
CREATE TABLE institution_settings (
    institution_id uuid PRIMARY KEY REFERENCES institutions(id),
    pickup_days    bigint,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE user_settings (
    user_id    uuid PRIMARY KEY REFERENCES users(id),
    language   text NOT NULL CHECK (language IN ('JA', 'EN')),
    updated_at timestamptz NOT NULL
);
