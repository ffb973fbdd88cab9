-- Covering indexes for the fiscal-year report (src/store/reports.rs), so that a
-- year of a lab with a million cases is read from indexes alone; they replace
-- the narrower ones of 0002.

-- cases opened in the year: stage, status, channel, business (and id for the REFERRED check)
CREATE INDEX cases_lab_created_cover ON cases (lab_id, created_at, business_id, stage, status, channel, id);
-- cases resolved in the year: resolution times and outcomes
DROP INDEX cases_lab_resolved;
CREATE INDEX cases_lab_resolved_cover ON cases (lab_id, resolved_at, status, created_at, business_id, outcomes);
-- "new business": an earlier case of the same business in the lab
DROP INDEX cases_business_created;
CREATE INDEX cases_business_created_lab ON cases (business_id, created_at, lab_id, id);
-- the business of a case (stage movements by business)
CREATE INDEX cases_id_business ON cases (id, business_id);
-- industry, region and municipality of a business
CREATE INDEX businesses_id_place ON businesses (id, industry, region, municipality);
-- referrals created in the year
DROP INDEX referrals_lab_created;
CREATE INDEX referrals_lab_created_cover ON referrals (lab_id, created_at, institution_id, status, reason, pickup_deadline, decided_at);
-- stage changes in the year (small payloads: {"from","to"})
CREATE INDEX case_events_stage_changes ON case_events (lab_id, at, case_id, payload) WHERE kind = 'STAGE_CHANGED';
