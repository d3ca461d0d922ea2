CREATE TABLE room_aliases (
    alias      text   PRIMARY KEY,
    room_id    text   NOT NULL REFERENCES rooms (room_id),
    creator    text   NOT NULL,
    created_ts bigint NOT NULL
);
CREATE INDEX room_aliases_by_room ON room_aliases (room_id);

-- Rooms published in this server's room directory (/publicRooms).
CREATE TABLE room_directory (
    room_id      text   PRIMARY KEY REFERENCES rooms (room_id),
    published_ts bigint NOT NULL
);
