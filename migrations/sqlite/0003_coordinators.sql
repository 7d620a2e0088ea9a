-- Coordinators and their audit log (SQLite). Coordinators are confirmed accounts with the
-- is_coordinator flag; every action they take (and every grant or removal from the command line)
-- is one row of coordinator_audit. The indexes serve the dashboard's GROUP BY queries.

ALTER TABLE users ADD COLUMN is_coordinator INTEGER NOT NULL DEFAULT 0;

CREATE TABLE coordinator_audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX coordinator_audit_at ON coordinator_audit (at);

CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_department ON users (department);
CREATE INDEX users_role ON users (role);
CREATE INDEX users_level ON users (level);
CREATE INDEX round_groups_round ON round_groups (round_id);
CREATE INDEX outbox_user_kind ON outbox (user_id, kind);
