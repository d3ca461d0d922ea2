-- Device identity keys as the client signed them.
CREATE TABLE device_keys (
    user_id   text NOT NULL,
    device_id text NOT NULL,
    key_json  text NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- One-time keys are claimed (deleted) one at a time; fallback keys stay and are marked used.
CREATE TABLE one_time_keys (
    user_id   text NOT NULL,
    device_id text NOT NULL,
    algorithm text NOT NULL,
    key_id    text NOT NULL,
    key_json  text NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id)
);

CREATE TABLE fallback_keys (
    user_id   text    NOT NULL,
    device_id text    NOT NULL,
    algorithm text    NOT NULL,
    key_id    text    NOT NULL,
    key_json  text    NOT NULL,
    used      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- master, self_signing and user_signing keys.
CREATE TABLE cross_signing_keys (
    user_id  text NOT NULL,
    key_type text NOT NULL,
    key_json text NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded apart from the key they sign. Another user's signature is shown only to its signer.
CREATE TABLE key_signatures (
    signer_user_id text NOT NULL,
    signing_key_id text NOT NULL,
    target_user_id text NOT NULL,
    target_key_id  text NOT NULL,
    signature      text NOT NULL,
    PRIMARY KEY (signer_user_id, signing_key_id, target_user_id, target_key_id)
);

-- The device_lists stream: one row per change to a user's devices or keys.
CREATE TABLE device_list_changes (
    stream_id bigint NOT NULL,
    user_id   text   NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);
CREATE INDEX device_list_changes_by_user ON device_list_changes (user_id, stream_id);

-- The to_device stream: a message waits until its device acknowledges it with a later `since`.
CREATE TABLE to_device_messages (
    user_id      text   NOT NULL,
    device_id    text   NOT NULL,
    stream_id    bigint NOT NULL,
    message_json text   NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_id)
);

CREATE TABLE room_key_backup_versions (
    user_id   text    NOT NULL,
    version   bigint  NOT NULL,
    algorithm text    NOT NULL,
    auth_data text    NOT NULL,
    etag      bigint  NOT NULL DEFAULT 0,
    deleted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, version)
);

CREATE TABLE room_key_backup_keys (
    user_id    text    NOT NULL,
    version    bigint  NOT NULL,
    room_id    text    NOT NULL,
    session_id text    NOT NULL,
    first_message_index integer NOT NULL,
    forwarded_count     integer NOT NULL,
    is_verified         boolean NOT NULL,
    session_data        text    NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);

-- Transaction IDs of /sendToDevice, so a retried request is queued once.
CREATE TABLE to_device_transactions (
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    txn_id     text   NOT NULL,
    created_ts bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
