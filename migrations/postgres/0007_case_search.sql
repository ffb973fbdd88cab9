-- Issue 15: substring search through an index. One row per case holding the
-- distinct character bigrams of LOWER(title), LOWER(description) and
-- LOWER(business name), each field on its own (no bigram spans two fields),
-- in a GIN index. The search narrows candidates with `grams @> <the term's
-- bigrams>` and rechecks them with the LIKE it always ran, so the answer is
-- exactly the substring semantics. The bigrams are computed here, with the
-- database's own lower(), the very function the recheck applies: whatever the
-- ctype, a text the LIKE finds has every bigram of the term. Stock PostgreSQL
-- only (no pg_trgm, which cannot index two-character terms, no pg_bigm).
CREATE FUNCTION dxdesk_search_grams(title text, description text, business text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}'::text[])
    FROM unnest(ARRAY[lower(title), lower(description), lower(business)]) AS f(t),
         generate_series(1, length(t) - 1) AS i
$$;

CREATE TABLE case_search (
    case_id uuid PRIMARY KEY REFERENCES cases(id),
    grams   text[] NOT NULL
);

INSERT INTO case_search (case_id, grams)
SELECT c.id, dxdesk_search_grams(c.title, c.description, b.name)
FROM cases c JOIN businesses b ON b.id = c.business_id;

CREATE INDEX case_search_grams ON case_search USING gin (grams);
