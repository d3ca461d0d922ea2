CREATE TABLE rooms (
    room_id      text    PRIMARY KEY,
    room_version text    NOT NULL,
    creator      text    NOT NULL,
    created_ts   bigint  NOT NULL
);

-- Fencing: a room grain activation bumps the epoch; every append re-reads it under a row lock,
-- so an older activation can never write after a newer one has started.
CREATE TABLE room_writers (
    room_id       text        PRIMARY KEY REFERENCES rooms (room_id),
    epoch         bigint      NOT NULL,
    instance_name text        NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    stream_ordering  bigint PRIMARY KEY,
    event_id         text   NOT NULL UNIQUE,
    room_id          text   NOT NULL REFERENCES rooms (room_id),
    room_seq         bigint NOT NULL,
    depth            bigint NOT NULL,
    type             text   NOT NULL,
    state_key        text,
    sender           text   NOT NULL,
    origin_server_ts bigint NOT NULL,
    instance_name    text   NOT NULL,
    json             text   NOT NULL,
    UNIQUE (room_id, room_seq)
);
CREATE INDEX events_by_room_stream ON events (room_id, stream_ordering);

CREATE TABLE current_state_events (
    room_id    text NOT NULL REFERENCES rooms (room_id),
    type       text NOT NULL,
    state_key  text NOT NULL,
    event_id   text NOT NULL,
    membership text,
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_members_by_user ON current_state_events (state_key, membership) WHERE type = 'm.room.member';

-- A client's transaction ID maps to the event it produced, written with the event, so a retry
-- after a timeout or a restart returns the same event instead of sending a second one.
CREATE TABLE event_txn_ids (
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    txn_id     text   NOT NULL,
    room_id    text   NOT NULL,
    event_id   text   NOT NULL,
    created_ts bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
