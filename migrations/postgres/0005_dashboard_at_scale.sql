-- The coordinator dashboard at scale (PostgreSQL; migrations/sqlite holds the same change).
--
-- Each round's email carries the round it belongs to, so the rounds list counts a round's sent
-- and failed messages from one index range instead of matching every outbox row against the
-- round's members.

ALTER TABLE outbox ADD COLUMN round_id BIGINT REFERENCES rounds (id) ON DELETE SET NULL;

-- Messages queued before this migration get the round the rounds list counted them for until
-- now: of the round's kinds, queued at or after the latest round run by then, to a member or a
-- sit-out of that round.
UPDATE outbox SET round_id = (
    SELECT r.id FROM rounds r
    WHERE r.created_at = (SELECT MAX(x.created_at) FROM rounds x WHERE x.created_at <= outbox.created_at)
      AND (EXISTS (SELECT 1 FROM group_members m JOIN round_groups g ON g.id = m.group_id
                   WHERE g.round_id = r.id AND m.user_id = outbox.user_id)
           OR EXISTS (SELECT 1 FROM round_sit_outs s WHERE s.round_id = r.id AND s.user_id = outbox.user_id))
    ORDER BY r.id DESC LIMIT 1)
WHERE kind IN ('intro', 'sit_out', 'checkin', 'nudge');

CREATE INDEX outbox_round ON outbox (round_id, status);

-- Met groups per round are counted from the index alone; it also serves every lookup the
-- (round_id) index did.
CREATE INDEX round_groups_round_status ON round_groups (round_id, status);
DROP INDEX round_groups_round;

-- The dashboard works out the status of the accounts that are not simply active (about a fifth)
-- from this index alone; store::dashboard::NOT_ACTIVE repeats its WHERE word for word.
CREATE INDEX users_not_active ON users (department, role, level, confirmed_at, opted_out_at, auto_paused_at, paused_through)
    WHERE confirmed_at IS NULL OR opted_out_at IS NOT NULL OR auto_paused_at IS NOT NULL OR paused_through IS NOT NULL;
