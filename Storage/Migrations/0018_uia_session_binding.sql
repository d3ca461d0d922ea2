-- A user-interactive auth session belongs to the request that started it: its method and
-- version-less path, and its body without "auth" as canonical JSON (a client may resend only the session, and the
-- server carries on with the body it remembers). The user a password stage proved, and the user a
-- registration created, are kept so that resubmitting a completed session gives the same answer.
-- A password in the body (registration's "password", a change's "new_password") is never stored:
-- only its bcrypt hash, which later requests of the session are checked against and which is used
-- when they leave the password out.
ALTER TABLE uia_sessions
    ADD COLUMN operation          text  NOT NULL DEFAULT '',
    ADD COLUMN request_body       text  NOT NULL DEFAULT '{}',
    ADD COLUMN authenticated_user text,
    ADD COLUMN registered_user    text,
    ADD COLUMN password_hash      text;

CREATE INDEX uia_sessions_created_ts ON uia_sessions (created_ts);
