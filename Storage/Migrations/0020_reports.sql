-- Reports of events, rooms and users (spec "Reporting content"), kept for the server's admins.
-- One table for the three kinds: the target columns say what was reported.
CREATE TABLE content_reports (
    id             bigserial PRIMARY KEY,
    received_ts    bigint NOT NULL,
    reporter       text   NOT NULL,
    room_id        text,
    event_id       text,
    target_user_id text,
    reason         text,
    content        text   NOT NULL
);
CREATE INDEX content_reports_by_room ON content_reports (room_id);
