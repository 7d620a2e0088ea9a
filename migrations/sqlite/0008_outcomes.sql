-- "Did it lead to anything?" (SQLite; migrations/postgres holds the same change): each member's
-- answer about a group that met, asked by the ten-week follow-up email and on the profile. One
-- answer per person per group, replaced when changed; only aggregates are shown to coordinators.
-- Deleting the account or the round deletes the answers with it.
CREATE TABLE outcome_answers (
    group_id    INTEGER NOT NULL REFERENCES round_groups (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    led_to      TEXT NOT NULL CHECK (led_to IN ('not_yet', 'advice', 'introduction', 'project', 'opportunity')),
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX outcome_answers_user ON outcome_answers (user_id);
