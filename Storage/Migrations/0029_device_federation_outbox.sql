-- EDUs that must outlive a restart or a long backoff on their way to another server. A row stays until the
-- destination answered a transaction carrying it (Synapse's device_federation_outbox and
-- device_lists_outbound_pokes); typing, receipts and presence stay in memory, stale within minutes anyway.

-- m.direct_to_device: one row per /sendToDevice request and destination, the whole EDU content, written in
-- the transaction that stores the request's local messages and its transaction ID.
CREATE TABLE device_federation_outbox (
    destination   text   NOT NULL,
    stream_id     bigint NOT NULL,
    queued_ts     bigint NOT NULL,
    messages_json text   NOT NULL,
    PRIMARY KEY (destination, stream_id)
);

-- m.device_list_update: the update's stream_id is its device_lists position (further devices changed at that
-- position take the next values of the stream's sequence), so it compares with the stream_id /user/devices
-- answers. prev_id is the stream_id of the update queued before it for the same destination and user (null
-- for the first), fixed when it is queued.
CREATE TABLE device_list_federation_outbox (
    destination  text   NOT NULL,
    stream_id    bigint NOT NULL,
    user_id      text   NOT NULL,
    prev_id      bigint,
    queued_ts    bigint NOT NULL,
    content_json text   NOT NULL,
    PRIMARY KEY (destination, stream_id)
);

-- Per destination and user, the last update queued: the next one's prev_id. It outlives the outbox rows.
CREATE TABLE device_list_federation_chain (
    destination text   NOT NULL,
    user_id     text   NOT NULL,
    stream_id   bigint NOT NULL,
    PRIMARY KEY (destination, user_id)
);

-- Other servers' users' device lists as their server's /user/devices answered and its updates changed them
-- (Synapse's device_lists_remote_cache and device_lists_remote_extremeties). stream_id is the last update
-- applied; a stale list (a resync failed) is fetched again on the next update.
CREATE TABLE device_lists_remote_extremities (
    user_id            text    PRIMARY KEY,
    stream_id          bigint  NOT NULL,
    stale              boolean NOT NULL DEFAULT false,
    cross_signing_json text
);

CREATE TABLE device_lists_remote_cache (
    user_id      text NOT NULL,
    device_id    text NOT NULL,
    content_json text NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
