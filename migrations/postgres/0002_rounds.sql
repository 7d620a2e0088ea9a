-- Monthly rounds: their groups, members' answers, sit-outs, the questions each person was sent,
-- and what the round job needs on accounts and outgoing mail (PostgreSQL).

ALTER TABLE users ADD COLUMN auto_paused_at BIGINT;
ALTER TABLE users ADD COLUMN nudges_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;

CREATE TABLE rounds (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month           TEXT NOT NULL UNIQUE,
    seed            BIGINT NOT NULL,
    participants    BIGINT NOT NULL,
    group_count     BIGINT NOT NULL,
    sit_out_count   BIGINT NOT NULL,
    total_score     BIGINT NOT NULL,
    weights         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    checkin_sent_at BIGINT
);

CREATE TABLE round_groups (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id      BIGINT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    score         BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open',
    met_at        BIGINT,
    nudge_sent_at BIGINT,
    UNIQUE (round_id, position)
);
CREATE INDEX round_groups_status ON round_groups (status, met_at);

CREATE TABLE group_members (
    group_id     BIGINT NOT NULL REFERENCES round_groups (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    response     TEXT,
    responded_at BIGINT,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE round_sit_outs (
    round_id BIGINT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason   TEXT NOT NULL,
    PRIMARY KEY (round_id, user_id)
);
CREATE INDEX round_sit_outs_user ON round_sit_outs (user_id);

CREATE TABLE questions_sent (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question BIGINT NOT NULL,
    month    TEXT NOT NULL,
    PRIMARY KEY (user_id, question, month)
);
CREATE INDEX questions_sent_month ON questions_sent (month);
