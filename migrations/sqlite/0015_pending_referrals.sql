-- The worker's reminder scan reads the pending referrals of every lab, 500 at
-- a time by id (issue 15): a partial index keeps each page a short index scan
-- however many referrals were ever made.
CREATE INDEX referrals_pending_by_id ON referrals (id) WHERE status = 'PENDING';
