-- Sign-in through the hospital's identity provider (OpenID Connect), and leavers (PostgreSQL).
-- migrations/sqlite holds the same schema.

-- The provider's accounts linked to ours: one row per (issuer, subject), the identifier the
-- provider guarantees never to reuse; an account has at most one per provider.
CREATE TABLE oidc_identities (
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX oidc_identities_user ON oidc_identities (user_id, issuer);

-- Set when a coordinator deactivated the account from a list of leavers: it cannot log in or
-- sign in, gets no email and is not matched, until an operator reactivates it.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;

-- 1 when the coordinator role came from the provider's claim (OIDC_COORDINATOR_CLAIM): a later
-- sign-in without the claim takes it back. A role granted on the dashboard or the command line
-- is 0 and stays whatever the claim says.
ALTER TABLE users ADD COLUMN coordinator_from_claim BIGINT NOT NULL DEFAULT 0;
