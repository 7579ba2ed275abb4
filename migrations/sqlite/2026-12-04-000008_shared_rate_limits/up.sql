-- Sign-in rate limits shared by every server process (src/accounts/rate_limit.rs): one
-- row per limited key (a client address, or an email's failures), holding the GCRA
-- state. Times are microseconds since the Unix epoch.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    -- The theoretical arrival time: the allowance is used up while it is more than one
    -- window ahead of now.
    tat BIGINT NOT NULL,
    -- An email locked after too many failures, until then.
    locked_until BIGINT
);
CREATE INDEX rate_limits_tat_idx ON rate_limits (tat);
