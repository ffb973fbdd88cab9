-- The activity report's rollup (src/store/rollup.rs): kept in the same
-- transaction as the case writes that change it, so a fiscal year of a lab is
-- read from a few thousand rows instead of every case of the year.
-- Counts by (kind, month, key): cases opened by stage/status/referred/channel,
-- referrals by institution/status/reason, cases resolved. `shard` spreads the
-- rows concurrent intakes update; readers sum over it.
CREATE TABLE report_cells (
    lab_id         uuid NOT NULL,
    fiscal_year    bigint NOT NULL,
    kind           text NOT NULL,
    month          bigint NOT NULL,
    institution_id uuid NOT NULL,
    k1             text NOT NULL,
    k2             text NOT NULL,
    k3             text NOT NULL,
    flag           bigint NOT NULL,
    shard          bigint NOT NULL,
    n              bigint NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, kind, month, institution_id, k1, k2, k3, flag, shard)
);
-- Cases opened per business and fiscal year (distinct and new businesses,
-- the place breakdown by the business's current attributes).
CREATE TABLE report_business_years (
    lab_id      uuid NOT NULL,
    fiscal_year bigint NOT NULL,
    business_id uuid NOT NULL,
    cases       bigint NOT NULL,
    first_month bigint NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, business_id)
);
CREATE INDEX report_business_years_business ON report_business_years (business_id, fiscal_year, lab_id);
-- STAGE_CHANGED events per case, fiscal year, month and (from, to).
CREATE TABLE report_moves (
    lab_id      uuid NOT NULL,
    fiscal_year bigint NOT NULL,
    month       bigint NOT NULL,
    from_stage  text NOT NULL,
    to_stage    text NOT NULL,
    case_id     uuid NOT NULL,
    business_id uuid NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (lab_id, fiscal_year, month, from_stage, to_stage, case_id)
);
-- The pick-up time (business days) of every decided referral.
CREATE TABLE report_pickups (
    referral_id    uuid PRIMARY KEY,
    lab_id         uuid NOT NULL,
    fiscal_year    bigint NOT NULL,
    institution_id uuid NOT NULL,
    days           double precision NOT NULL
);
CREATE INDEX report_pickups_rank ON report_pickups (lab_id, fiscal_year, institution_id, days);
-- Every resolved case (outcome ''), with its resolution time, and one row
-- per outcome it records.
CREATE TABLE report_resolutions (
    case_id     uuid NOT NULL,
    outcome     text NOT NULL,
    lab_id      uuid NOT NULL,
    fiscal_year bigint NOT NULL,
    days        double precision NOT NULL,
    business_id uuid NOT NULL,
    PRIMARY KEY (case_id, outcome)
);
CREATE INDEX report_resolutions_rank ON report_resolutions (lab_id, fiscal_year, outcome, days);
CREATE INDEX report_resolutions_outcome ON report_resolutions (lab_id, fiscal_year, outcome, business_id);
-- Whether the rollup holds the data: a database with cases when this
-- migration ran is rolled up by the application at its next start (pick-up
-- times need the business-day calendar, which lives in Rust).
CREATE TABLE report_rollup_state (
    id       text PRIMARY KEY,
    built    boolean NOT NULL,
    built_at timestamptz
);
INSERT INTO report_rollup_state (id, built) SELECT 'rollup', NOT EXISTS (SELECT 1 FROM cases);
