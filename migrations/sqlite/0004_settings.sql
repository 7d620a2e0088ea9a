-- Program settings saved from the coordinator dashboard. Each row overrides the environment
-- variable of the same setting; a missing row means the variable (or its default) applies.

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
