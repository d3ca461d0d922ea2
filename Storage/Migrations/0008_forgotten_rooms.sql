-- Rooms a user has forgotten, with the room position at that moment: a later membership change
-- (a rejoin) makes the room remembered again.
CREATE TABLE forgotten_rooms (
    user_id      text   NOT NULL,
    room_id      text   NOT NULL,
    forgotten_at bigint NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
