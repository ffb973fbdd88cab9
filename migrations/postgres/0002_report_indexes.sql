-- Indexes behind the fiscal-year activity report (src/store/reports.rs): each
-- figure is an aggregate over one lab's rows in a fiscal-year range.

-- cases resolved in the year (resolution times, outcomes)
CREATE INDEX cases_lab_resolved ON cases (lab_id, resolved_at);
-- "new business": does the business have an earlier case?
CREATE INDEX cases_business_created ON cases (business_id, created_at);
-- referrals created in the year
CREATE INDEX referrals_lab_created ON referrals (lab_id, created_at);
