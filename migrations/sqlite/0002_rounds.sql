-- Monthly rounds: their groups, members' answers, sit-outs, the questions each person was sent,
-- and what the round job needs on accounts and outgoing mail (SQLite).

ALTER TABLE users ADD COLUMN auto_paused_at INTEGER;
ALTER TABLE users ADD COLUMN nudges_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;

CREATE TABLE rounds (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    month           TEXT NOT NULL UNIQUE,
    seed            INTEGER NOT NULL,
    participants    INTEGER NOT NULL,
    group_count     INTEGER NOT NULL,
    sit_out_count   INTEGER NOT NULL,
    total_score     INTEGER NOT NULL,
    weights         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    checkin_sent_at INTEGER
);

CREATE TABLE round_groups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    round_id      INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    score         INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open',
    met_at        INTEGER,
    nudge_sent_at INTEGER,
    UNIQUE (round_id, position)
);
CREATE INDEX round_groups_status ON round_groups (status, met_at);

CREATE TABLE group_members (
    group_id     INTEGER NOT NULL REFERENCES round_groups (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    response     TEXT,
    responded_at INTEGER,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE round_sit_outs (
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason   TEXT NOT NULL,
    PRIMARY KEY (round_id, user_id)
);
CREATE INDEX round_sit_outs_user ON round_sit_outs (user_id);

CREATE TABLE questions_sent (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question INTEGER NOT NULL,
    month    TEXT NOT NULL,
    PRIMARY KEY (user_id, question, month)
);
CREATE INDEX questions_sent_month ON questions_sent (month);
