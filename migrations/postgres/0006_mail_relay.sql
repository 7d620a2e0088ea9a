-- Mail relays as hospitals have them (PostgreSQL; migrations/sqlite holds the same change).
--
-- outbox.priority: the order due messages leave in, lower first (store::outbox::priority_of).
-- outbox.claimed_at: when the message was last handed to a sender. Every claim is one try at the
-- relay, so the relay's limits per minute and per day are counted from it, by every sender that
-- shares this database.
-- outbox.body_purged_at: when the subject, bodies and links of a sent or failed message were
-- cleared (MAIL_BODY_RETENTION_DAYS after it left); the row stays for the figures.
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 3;
ALTER TABLE outbox ADD COLUMN claimed_at BIGINT;
ALTER TABLE outbox ADD COLUMN body_purged_at BIGINT;

UPDATE outbox SET priority = CASE kind
        WHEN 'confirm' THEN 0 WHEN 'reset' THEN 0 WHEN 'already_registered' THEN 0
        WHEN 'password_changed' THEN 0 WHEN 'invitation' THEN 1
        WHEN 'intro' THEN 2 WHEN 'bounce_note' THEN 2
        WHEN 'sit_out' THEN 3 WHEN 'auto_paused' THEN 3
        WHEN 'checkin' THEN 4 WHEN 'nudge' THEN 5 ELSE 3 END
    WHERE status IN ('pending', 'sending');
-- Sends of the last day count against MAIL_MAX_PER_DAY from the first start after upgrading.
UPDATE outbox SET claimed_at = sent_at WHERE sent_at > CAST(extract(epoch FROM now()) AS BIGINT) - 86400;

-- Claims read due messages in this order and stop after the few they take.
CREATE INDEX outbox_claim ON outbox (status, priority, id);
CREATE INDEX outbox_claimed_at ON outbox (claimed_at) WHERE claimed_at IS NOT NULL;
CREATE INDEX outbox_unpurged ON outbox (created_at) WHERE body_purged_at IS NULL;

-- What the relay told every sender sharing this database: no claims before paused_until after it
-- asked to slow down (421, 451, 452); throttles counts the answers in a row, so each pause is
-- longer than the last until a message goes through.
CREATE TABLE mail_relay (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    paused_until  BIGINT NOT NULL DEFAULT 0,
    throttles     BIGINT NOT NULL DEFAULT 0,
    throttled_at  BIGINT,
    last_reply    TEXT
);
INSERT INTO mail_relay (id) VALUES (1);

-- A person whose address the receiving server refused for good (5xx to RCPT TO) is not matched
-- until the address works again; the reason is the server's answer.
ALTER TABLE users ADD COLUMN email_bounced_at BIGINT;
ALTER TABLE users ADD COLUMN email_bounce_reason TEXT;
CREATE INDEX users_bounced ON users (email_bounced_at) WHERE email_bounced_at IS NOT NULL;

-- store::dashboard::NOT_ACTIVE gains the bounced accounts; the index repeats it word for word.
DROP INDEX users_not_active;
CREATE INDEX users_not_active ON users (department, role, level, confirmed_at, opted_out_at, auto_paused_at, paused_through, email_bounced_at)
    WHERE confirmed_at IS NULL OR opted_out_at IS NOT NULL OR auto_paused_at IS NOT NULL OR paused_through IS NOT NULL
       OR email_bounced_at IS NOT NULL;
