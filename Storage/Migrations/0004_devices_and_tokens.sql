CREATE TABLE devices (
    user_id      text   NOT NULL REFERENCES users (user_id),
    device_id    text   NOT NULL,
    display_name text,
    created_ts   bigint NOT NULL,
    last_seen_ts bigint,
    last_seen_ip text,
    PRIMARY KEY (user_id, device_id)
);

-- Only a SHA-256 of each token is kept, so a database leak does not hand out sessions.
CREATE TABLE access_tokens (
    token_hash bytea  PRIMARY KEY,
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    created_ts bigint NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);

CREATE TABLE profiles (
    user_id     text PRIMARY KEY REFERENCES users (user_id),
    displayname text,
    avatar_url  text
);

-- User-interactive authentication sessions, shared by every API host.
CREATE TABLE uia_sessions (
    session_id text   PRIMARY KEY,
    created_ts bigint NOT NULL,
    completed  text[] NOT NULL DEFAULT '{}'
);

-- Nonces of the shared-secret admin registration, each usable once.
CREATE TABLE registration_nonces (
    nonce      text   PRIMARY KEY,
    created_ts bigint NOT NULL
);
