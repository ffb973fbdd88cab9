-- Keyed seals of case records (HMAC-SHA256 under DXDESK_AUDIT_KEY, computed by
-- the app): one per case, rewritten with every write that appends events. The
-- key never reaches the database; `dxdesk audit verify` checks each seal.
CREATE TABLE case_seals (
    case_id     BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
    key_id      TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    mac         TEXT NOT NULL,
    sealed_at   TEXT NOT NULL
);
