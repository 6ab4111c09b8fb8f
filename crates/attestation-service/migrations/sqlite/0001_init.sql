-- Challenges: single-use nonces. used_at_ms is set exactly once, by the request that consumes it.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    nonce TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);
CREATE INDEX challenges_expires_at ON challenges (expires_at_ms);

-- The audit record: one row per attestation attempt, accepted or refused.
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms BIGINT NOT NULL,
    challenge_id TEXT,
    platform TEXT,
    measurement TEXT,
    policy_hash TEXT,
    key_hash TEXT,
    debug BIGINT,
    tcb_status TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    check_name TEXT,
    reason TEXT,
    serial TEXT,
    not_after_ms BIGINT
);
CREATE INDEX attempts_outcome ON attempts (outcome, id);
