-- The receipts stream. event_stream_ordering lets unread counts start after the receipt.
CREATE TABLE receipts (
    room_id      text   NOT NULL,
    receipt_type text   NOT NULL,
    user_id      text   NOT NULL,
    thread_id    text   NOT NULL DEFAULT '',
    event_id     text   NOT NULL,
    event_stream_ordering bigint NOT NULL,
    ts           bigint NOT NULL,
    stream_id    bigint NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_by_stream ON receipts (stream_id);
CREATE INDEX receipts_by_user ON receipts (user_id, room_id);

-- The presence stream: each user's latest state.
CREATE TABLE presence (
    user_id          text    PRIMARY KEY,
    state            text    NOT NULL,
    status_msg       text,
    last_active_ts   bigint  NOT NULL,
    currently_active boolean NOT NULL,
    stream_id        bigint  NOT NULL
);
CREATE INDEX presence_by_stream ON presence (stream_id);

-- The push_rules stream: a user's changes to the server-default rules, as one JSON document.
CREATE TABLE push_rules (
    user_id   text   PRIMARY KEY,
    changes   text   NOT NULL,
    stream_id bigint NOT NULL
);
CREATE INDEX push_rules_by_stream ON push_rules (stream_id);

-- What push-rule evaluation decided for each member, written with the event.
CREATE TABLE event_push_actions (
    room_id         text    NOT NULL,
    user_id         text    NOT NULL,
    stream_ordering bigint  NOT NULL,
    event_id        text    NOT NULL,
    thread_id       text    NOT NULL DEFAULT '',
    notify          boolean NOT NULL,
    highlight       boolean NOT NULL,
    actions         text    NOT NULL,
    PRIMARY KEY (user_id, room_id, stream_ordering)
);
