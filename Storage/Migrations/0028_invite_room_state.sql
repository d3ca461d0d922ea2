-- The stripped state another server sent with an invite of one of our users (invite_room_state), shown
-- in the invitee's syncs while this server is not in the room and so holds none of its state.
CREATE TABLE invite_room_state (
    room_id text NOT NULL REFERENCES rooms (room_id),
    user_id text NOT NULL,
    event_id text NOT NULL,
    events text NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
