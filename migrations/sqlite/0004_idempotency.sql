-- Idempotency keys of mutations (src/http/idempotency.rs): a key is claimed by
-- inserting its row before the mutation runs (the primary key settles a race
-- between instances), marked executed in the mutation's own transaction (so a
-- crash before the answer is stored cannot lead to running it twice), and the
-- answer is stored after; kept 24 hours.

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,     -- "user:<uuid>" or "anon:<client address>"
    key          TEXT NOT NULL,     -- the client's Idempotency-Key
    claim_id     TEXT NOT NULL,     -- which execution holds the key (a random id)
    request_hash TEXT NOT NULL,     -- SHA-256 (hex) of the request body
    executed     INTEGER NOT NULL DEFAULT 0, -- set inside the mutation's own write transaction
    status       INTEGER,           -- the answer's HTTP status; NULL while in flight
    content_type TEXT,
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
