-- Accounts, emailed tokens, sessions, the outbox, and the program's lists (PostgreSQL).
-- Times are Unix seconds; months are 'YYYY-MM' text. migrations/sqlite holds the same schema.

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE departments (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX departments_name ON departments (lower(name));

CREATE TABLE roles (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX roles_name ON roles (lower(name));

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    level          BIGINT NOT NULL,
    department     TEXT NOT NULL,
    confirmed_at   BIGINT,
    opted_out_at   BIGINT,
    paused_through TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    user_id         BIGINT REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

INSERT INTO roles (name, position) VALUES
    ('Physician', 1), ('Nurse', 2), ('Pharmacist', 3), ('Advanced practice provider', 4),
    ('Administrator', 5), ('Researcher', 6), ('Allied health', 7), ('Quality & informatics', 8);

INSERT INTO departments (name, position) VALUES
    ('Anesthesiology', 1), ('Cardiology', 2), ('Emergency Medicine', 3), ('Family Medicine', 4),
    ('Internal Medicine', 5), ('Intensive Care', 6), ('Nursing Administration', 7), ('Neurology', 8),
    ('Obstetrics & Gynecology', 9), ('Oncology', 10), ('Pediatrics', 11), ('Pharmacy', 12),
    ('Psychiatry', 13), ('Radiology', 14), ('Rehabilitation', 15), ('Surgery', 16),
    ('Quality & Patient Safety', 17), ('Research', 18);
