-- The business agreed to be e-mailed its reference and the public milestones
-- of this case (issue 10). A web-form case is mailed at the address the
-- business typed itself; a desk intake records the business's choice.
ALTER TABLE cases ADD COLUMN email_updates boolean NOT NULL DEFAULT FALSE;
UPDATE cases SET email_updates = TRUE WHERE channel = 'WEB_FORM';
