-- How often each person takes part (once a month, every other month, twice a month) and the
-- second, mid-month kind of round that serves those who chose twice (PostgreSQL). Rounds become
-- unique per month and kind.

-- 'main' (the monthly round) or 'mid-month'.
ALTER TABLE rounds ADD COLUMN kind TEXT NOT NULL DEFAULT 'main';
-- Set when the round did not take place (fewer than two people to match), and why.
ALTER TABLE rounds ADD COLUMN skipped_reason TEXT;
ALTER TABLE rounds DROP CONSTRAINT rounds_month_key;
CREATE UNIQUE INDEX rounds_month_kind ON rounds (month, kind);

-- 'monthly', 'every other month' or 'twice a month'.
ALTER TABLE users ADD COLUMN frequency TEXT NOT NULL DEFAULT 'monthly';
