-- Issue 11: a real lab can start. Set-password / reset tokens, the addresses
-- an account signed in from, lab and institution settings, a user's language.

-- Single-use links: only the SHA-256 of the token is stored.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users(id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('SET', 'RESET')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id);

-- Where an account signed in successfully (login throttling: a known address
-- is not refused because of someone else's guessing from elsewhere).
CREATE TABLE login_known_addresses (
    account      TEXT NOT NULL,
    address      TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (account, address)
);

-- A lab's settings beyond labs.pickup_days (which stays the lab's pick-up days).
CREATE TABLE lab_settings (
    lab_id                 BLOB PRIMARY KEY NOT NULL REFERENCES labs(id),
    display_name           TEXT,
    contact_line           TEXT,
    escalation_repeat_days INTEGER,
    closure_days           TEXT NOT NULL DEFAULT '[]',  -- JSON ["2025-08-13", "--08-14", …]
    updated_at             TEXT NOT NULL
);

-- An institution's own pick-up days (NULL: the lab's).
CREATE TABLE institution_settings (
    institution_id BLOB PRIMARY KEY NOT NULL REFERENCES institutions(id),
    pickup_days    INTEGER,
    updated_at     TEXT NOT NULL
);

CREATE TABLE user_settings (
    user_id    BLOB PRIMARY KEY NOT NULL REFERENCES users(id),
    language   TEXT NOT NULL CHECK (language IN ('JA', 'EN')),
    updated_at TEXT NOT NULL
);
