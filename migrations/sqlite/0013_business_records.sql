-- Business records (issue 12): a version for optimistic edits, the link of a
-- fresh record to an erased predecessor and of a merged record to the one it
-- went into; several contacts (one primary, mirrored into the business row's
-- contact_name/email/phone); the business's history (field names, never the
-- values of personal fields). A corporate number is unique among the lab's
-- live records only, so a re-intake after erasure gets a fresh record.
ALTER TABLE businesses ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE businesses ADD COLUMN previously_erased_id BLOB REFERENCES businesses(id);
ALTER TABLE businesses ADD COLUMN merged_into_id BLOB REFERENCES businesses(id);
ALTER TABLE businesses ADD COLUMN website TEXT;
DROP INDEX businesses_corporate_number;
CREATE UNIQUE INDEX businesses_corporate_number ON businesses (lab_id, corporate_number)
    WHERE corporate_number IS NOT NULL AND erased_at IS NULL;

CREATE TABLE business_contacts (
    id          BLOB PRIMARY KEY NOT NULL,
    lab_id      BLOB NOT NULL REFERENCES labs(id),
    business_id BLOB NOT NULL REFERENCES businesses(id),
    name        TEXT,
    role        TEXT,
    email       TEXT,
    phone       TEXT,
    is_primary  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX business_contacts_business ON business_contacts (business_id);
CREATE UNIQUE INDEX business_contacts_one_primary ON business_contacts (business_id) WHERE is_primary = 1;

CREATE TABLE business_history (
    id                BLOB PRIMARY KEY NOT NULL,
    lab_id            BLOB NOT NULL REFERENCES labs(id),
    business_id       BLOB NOT NULL REFERENCES businesses(id),
    actor_id          BLOB REFERENCES users(id),
    at                TEXT NOT NULL,
    kind              TEXT NOT NULL,
    fields            TEXT NOT NULL DEFAULT '[]',
    other_business_id BLOB REFERENCES businesses(id)
);
CREATE INDEX business_history_business ON business_history (business_id, at);

INSERT INTO business_contacts (id, lab_id, business_id, name, role, email, phone, is_primary, created_at, updated_at)
SELECT randomblob(16), lab_id, id, contact_name, NULL, email, phone, 1, created_at, updated_at
FROM businesses
WHERE erased_at IS NULL AND (contact_name IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL);
