-- Third-party identifiers (spec "Adding Account Administrative Contact Information").
--
-- A validation session proves that whoever holds client_secret can read mail sent to an address:
-- requestToken opens it (or, for the same medium, address and client_secret, continues it with a higher
-- send_attempt) and mails a token; submitting the token marks it validated. Only the SHA-256 of a
-- token is kept. failed_attempts counts wrong tokens, so a hostile client cannot guess for ever.
CREATE TABLE threepid_validation_sessions (
    session_id        text    PRIMARY KEY,
    medium            text    NOT NULL,
    address           text    NOT NULL,
    client_secret     text    NOT NULL,
    last_send_attempt bigint  NOT NULL,
    created_ts        bigint  NOT NULL,
    validated_at      bigint,
    failed_attempts   integer NOT NULL DEFAULT 0
);
-- One open (unvalidated) session per medium, address and client_secret: concurrent retries of one
-- requestToken meet in it instead of opening two.
CREATE UNIQUE INDEX threepid_validation_sessions_open ON threepid_validation_sessions (medium, address, client_secret)
    WHERE validated_at IS NULL;
CREATE INDEX threepid_validation_sessions_by_age ON threepid_validation_sessions (created_ts);

CREATE TABLE threepid_validation_tokens (
    token_hash bytea  PRIMARY KEY,
    session_id text   NOT NULL REFERENCES threepid_validation_sessions (session_id) ON DELETE CASCADE,
    expires_ts bigint NOT NULL,
    next_link  text
);
CREATE INDEX threepid_validation_tokens_by_session ON threepid_validation_tokens (session_id);

-- The 3PIDs associated with accounts here; one account per address, as Synapse has it.
CREATE TABLE user_threepids (
    medium       text   NOT NULL,
    address      text   NOT NULL,
    user_id      text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    validated_at bigint NOT NULL,
    added_at     bigint NOT NULL,
    PRIMARY KEY (medium, address)
);
CREATE INDEX user_threepids_by_user ON user_threepids (user_id);

-- Where a user bound a 3PID through /account/3pid/bind, so that unbinding without an id_server knows where to go.
CREATE TABLE user_threepid_id_servers (
    user_id   text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    medium    text NOT NULL,
    address   text NOT NULL,
    id_server text NOT NULL,
    PRIMARY KEY (user_id, medium, address, id_server)
);

-- The 3PID an m.login.email.identity stage proved, for the operation the session authorises
-- (registration adds it to the new account; a password reset finds the account by it).
ALTER TABLE uia_sessions
    ADD COLUMN threepid_medium  text,
    ADD COLUMN threepid_address text;
