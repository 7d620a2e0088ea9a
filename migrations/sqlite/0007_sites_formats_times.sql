-- Where and when people can meet (matching specification v2.0): the sites of a multi-site
-- system as a managed list, each account's site, meeting format and usual free times, and
-- each group's mode ('in person' or 'video').

CREATE TABLE sites (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX sites_name ON sites (lower(name));

-- NULL: no site given (any site, or a single-site program).
ALTER TABLE users ADD COLUMN site TEXT;
-- 'in person', 'video' or 'either'.
ALTER TABLE users ADD COLUMN meet_format TEXT NOT NULL DEFAULT 'either';
-- The usual free times, one bit per slot (early, midday, afternoon, evening, night, weekend);
-- 0: not given, any time.
ALTER TABLE users ADD COLUMN free_times INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_site ON users (site);

ALTER TABLE round_groups ADD COLUMN mode TEXT NOT NULL DEFAULT 'in person';
