-- Idempotency keys of mutations (src/http/idempotency.rs): a key is claimed by
-- inserting its row before the mutation runs (the primary key settles a race
-- between instances), marked executed in the mutation's own transaction (so a
-- crash before the answer is stored cannot lead to running it twice), and the
-- answer is stored after; kept 24 hours.

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,     -- 'user:<uuid>' or 'anon:<client address>'
    key          text NOT NULL,     -- the client's Idempotency-Key
    claim_id     text NOT NULL,     -- which execution holds the key (a random id)
    request_hash text NOT NULL,     -- SHA-256 (hex) of the request body
    executed     boolean NOT NULL DEFAULT false, -- set inside the mutation's own write transaction
    status       bigint,            -- the answer's HTTP status; NULL while in flight
    content_type text,
    body         text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
