-- The reminder scan read every pending referral of every lab each minute to
-- find the few with a reminder or escalation due (issue 15: 60,000 rows a
-- minute at 1M cases, a CPU burst that showed in the list's p99). Each
-- referral now carries the moment its next notice falls due; the scan reads
-- the rows whose moment has come and moves it on (src/notify/worker.rs,
-- domain::notify::next_notice_after). The default, long past, makes a referral
-- no scan has looked at yet due at once: existing ones, new ones, seeded ones.
ALTER TABLE referrals ADD COLUMN next_notice_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00';
DROP INDEX referrals_pending_by_id;
CREATE INDEX referrals_next_notice ON referrals (next_notice_at, id) WHERE status = 'PENDING';
