-- How often each person takes part (once a month, every other month, twice a month) and the
-- second, mid-month kind of round that serves those who chose twice (SQLite). Rounds become
-- unique per month and kind. The table's old UNIQUE on month alone can only go by rebuilding it,
-- which must happen with foreign keys off (or dropping the old table would delete its groups),
-- and SQLite turns them off only outside a transaction: `Store::migrate` does that rebuild right
-- after this migration (see `store::sqlite_rounds_unique_per_kind`).

-- 'main' (the monthly round) or 'mid-month'.
ALTER TABLE rounds ADD COLUMN kind TEXT NOT NULL DEFAULT 'main';
-- Set when the round did not take place (fewer than two people to match), and why.
ALTER TABLE rounds ADD COLUMN skipped_reason TEXT;
CREATE UNIQUE INDEX rounds_month_kind ON rounds (month, kind);

-- 'monthly', 'every other month' or 'twice a month'.
ALTER TABLE users ADD COLUMN frequency TEXT NOT NULL DEFAULT 'monthly';
