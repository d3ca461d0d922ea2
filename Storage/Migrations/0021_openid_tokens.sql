-- OpenID tokens (spec "OpenID"): handed to a client, which gives one to a third party; the third
-- party asks GET /_matrix/federation/v1/openid/userinfo who it belongs to. Only the SHA-256 of a
-- token is kept, as for access tokens.
CREATE TABLE openid_tokens (
    token_hash bytea  PRIMARY KEY,
    user_id    text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires_ts bigint NOT NULL
);
CREATE INDEX openid_tokens_by_expiry ON openid_tokens (expires_ts);
