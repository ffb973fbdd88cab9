-- Issue 15: substring search through an index. `case_search` gives each case
-- a stable integer (VACUUM may renumber the implicit rowids of `cases`, never
-- an INTEGER PRIMARY KEY); `case_search_fts` is a contentless FTS5 table with
-- that integer as rowid, holding one token per character bigram of
-- LOWER(title), LOWER(description) and LOWER(business name), each field on
-- its own. A token is the bigram's UTF-8 bytes in hex, so the `ascii`
-- tokenizer keeps every bigram (spaces, '%', '_' and CJK included) intact.
-- The search narrows candidates with MATCH and rechecks them with the LIKE it
-- always ran, so the answer is exactly the substring semantics. Writes compute
-- the tokens in Rust (src/domain/ngram.rs, SQLite's ASCII-only LOWER); this
-- backfill computes the same ones in SQL.
CREATE TABLE case_search (
    id      INTEGER PRIMARY KEY,
    case_id BLOB NOT NULL UNIQUE REFERENCES cases(id)
);

CREATE VIRTUAL TABLE case_search_fts USING fts5(
    grams, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);

INSERT INTO case_search (case_id) SELECT id FROM cases ORDER BY id;

WITH RECURSIVE fields(id, t) AS (
    SELECT m.id, lower(c.title) FROM case_search m JOIN cases c ON c.id = m.case_id
    UNION ALL
    SELECT m.id, lower(c.description) FROM case_search m JOIN cases c ON c.id = m.case_id
    UNION ALL
    SELECT m.id, lower(b.name) FROM case_search m JOIN cases c ON c.id = m.case_id
        JOIN businesses b ON b.id = c.business_id
),
grams(id, t, i) AS (
    SELECT id, t, 1 FROM fields WHERE length(t) >= 2
    UNION ALL
    SELECT id, t, i + 1 FROM grams WHERE i + 2 <= length(t)
)
INSERT INTO case_search_fts (rowid, grams)
SELECT id, group_concat(lower(hex(substr(t, i, 2))), ' ') FROM grams GROUP BY id;
