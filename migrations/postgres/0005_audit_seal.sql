-- Keyed seals of case records (HMAC-SHA256 under DXDESK_AUDIT_KEY, computed by
-- the app): one per case, rewritten with every write that appends events. The
-- key never reaches the database; `dxdesk audit verify` checks each seal.
CREATE TABLE case_seals (
    case_id     uuid PRIMARY KEY REFERENCES cases(id),
    key_id      text NOT NULL,
    event_count bigint NOT NULL,
    mac         text NOT NULL,
    sealed_at   timestamptz NOT NULL
);
