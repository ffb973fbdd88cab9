-- The activity report's place breakdown (issue 15): each business-year row of
-- the rollup carries its business's industry, region and municipality, so a
-- lab's year is one scan of its rows instead of a join with every business.
-- `is_new` says the business had no case in an earlier fiscal year of the lab
-- (a new business that year), decided when the row is written instead of by a
-- probe per business at read time. Kept by business edits and merges
-- (src/store/rollup.rs); filled here from the businesses and earlier years.
ALTER TABLE report_business_years ADD COLUMN is_new bigint NOT NULL DEFAULT 0;
ALTER TABLE report_business_years ADD COLUMN industry text;
ALTER TABLE report_business_years ADD COLUMN region text;
ALTER TABLE report_business_years ADD COLUMN municipality text;
UPDATE report_business_years SET
    industry = (SELECT b.industry FROM businesses b WHERE b.id = report_business_years.business_id),
    region = (SELECT b.region FROM businesses b WHERE b.id = report_business_years.business_id),
    municipality = (SELECT b.municipality FROM businesses b WHERE b.id = report_business_years.business_id),
    is_new = CASE WHEN EXISTS (SELECT 1 FROM report_business_years p WHERE p.business_id = report_business_years.business_id
        AND p.fiscal_year < report_business_years.fiscal_year AND p.lab_id = report_business_years.lab_id) THEN 0 ELSE 1 END;
-- The lab's pick-up times of a year in order, for the ranks that decide the
-- median and the 90th percentile without sorting them.
CREATE INDEX report_pickups_days ON report_pickups (lab_id, fiscal_year, days);
