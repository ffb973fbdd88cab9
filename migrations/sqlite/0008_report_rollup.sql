-- The activity report's rollup (src/store/rollup.rs): kept in the same
-- transaction as the case writes that change it, so a fiscal year of a lab is
-- read from a few thousand rows instead of every case of the year.
-- Counts by (kind, month, key): cases opened by stage/status/referred/channel,
-- referrals by institution/status/reason, cases resolved. `shard` spreads the
-- rows concurrent intakes update; readers sum over it.
CREATE TABLE report_cells (
    lab_id         BLOB NOT NULL,
    fiscal_year    INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    month          INTEGER NOT NULL,
    institution_id BLOB NOT NULL,
    k1             TEXT NOT NULL,
    k2             TEXT NOT NULL,
    k3             TEXT NOT NULL,
    flag           INTEGER NOT NULL,
    shard          INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, kind, month, institution_id, k1, k2, k3, flag, shard)
);
-- Cases opened per business and fiscal year (distinct and new businesses,
-- the place breakdown by the business's current attributes).
CREATE TABLE report_business_years (
    lab_id      BLOB NOT NULL,
    fiscal_year INTEGER NOT NULL,
    business_id BLOB NOT NULL,
    cases       INTEGER NOT NULL,
    first_month INTEGER NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, business_id)
);
CREATE INDEX report_business_years_business ON report_business_years (business_id, fiscal_year, lab_id);
-- STAGE_CHANGED events per case, fiscal year, month and (from, to).
CREATE TABLE report_moves (
    lab_id      BLOB NOT NULL,
    fiscal_year INTEGER NOT NULL,
    month       INTEGER NOT NULL,
    from_stage  TEXT NOT NULL,
    to_stage    TEXT NOT NULL,
    case_id     BLOB NOT NULL,
    business_id BLOB NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, month, from_stage, to_stage, case_id)
);
-- The pick-up time (business days) of every decided referral.
CREATE TABLE report_pickups (
    referral_id    BLOB NOT NULL PRIMARY KEY,
    lab_id         BLOB NOT NULL,
    fiscal_year    INTEGER NOT NULL,
    institution_id BLOB NOT NULL,
    days           REAL NOT NULL
);
CREATE INDEX report_pickups_rank ON report_pickups (lab_id, fiscal_year, institution_id, days);
-- Every resolved case (outcome ''), with its resolution time, and one row
-- per outcome it records.
CREATE TABLE report_resolutions (
    case_id     BLOB NOT NULL,
    outcome     TEXT NOT NULL,
    lab_id      BLOB NOT NULL,
    fiscal_year INTEGER NOT NULL,
    days        REAL NOT NULL,
    business_id BLOB NOT NULL,
    PRIMARY KEY (case_id, outcome)
);
CREATE INDEX report_resolutions_rank ON report_resolutions (lab_id, fiscal_year, outcome, days);
CREATE INDEX report_resolutions_outcome ON report_resolutions (lab_id, fiscal_year, outcome, business_id);
-- Whether the rollup holds the data: a database with cases when this
-- migration ran is rolled up by the application at its next start (pick-up
-- times need the business-day calendar, which lives in Rust).
CREATE TABLE report_rollup_state (
    id       TEXT NOT NULL PRIMARY KEY,
    built    INTEGER NOT NULL,
    built_at TEXT
);
INSERT INTO report_rollup_state (id, built) SELECT 'rollup', NOT EXISTS (SELECT 1 FROM cases);
