-- Outbound federation, as Synapse keeps it. destinations: each other server's backoff (retry_utils) and
-- the highest stream ordering of a PDU it has acknowledged; destination_rooms: per server and room the
-- latest event that should reach it, so a server that was down is caught up with one event per room
-- (it fetches the gap itself with /get_missing_events) instead of this server holding a queue for it.
CREATE TABLE destinations (
    destination                     text   PRIMARY KEY,
    retry_last_ts                   bigint NOT NULL DEFAULT 0,
    retry_interval                  bigint NOT NULL DEFAULT 0,
    failure_ts                      bigint,
    last_successful_stream_ordering bigint
);

CREATE TABLE destination_rooms (
    destination     text   NOT NULL REFERENCES destinations (destination),
    room_id         text   NOT NULL,
    stream_ordering bigint NOT NULL,
    PRIMARY KEY (destination, room_id)
);
CREATE INDEX destination_rooms_by_stream ON destination_rooms (destination, stream_ordering);

-- How far each federation sender instance has read the events table, so a restart neither resends nor skips.
CREATE TABLE federation_sender_positions (
    instance_name   text   PRIMARY KEY,
    stream_ordering bigint NOT NULL
);
