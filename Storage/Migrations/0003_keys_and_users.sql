CREATE TABLE server_signing_keys (
    server_name text   NOT NULL,
    key_id      text   NOT NULL,
    seed        text   NOT NULL,
    created_ts  bigint NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

CREATE TABLE users (
    user_id       text    PRIMARY KEY,
    password_hash text,
    is_admin      boolean NOT NULL DEFAULT false,
    deactivated   boolean NOT NULL DEFAULT false,
    created_ts    bigint  NOT NULL
);

CREATE TABLE account_data (
    user_id   text   NOT NULL,
    room_id   text   NOT NULL DEFAULT '',
    type      text   NOT NULL,
    content   text   NOT NULL,
    stream_id bigint NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_by_stream ON account_data (stream_id);
