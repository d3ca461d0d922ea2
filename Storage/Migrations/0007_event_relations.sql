-- Relations (m.relates_to) indexed when the event is persisted: edits, annotations, threads, replies.
CREATE TABLE event_relations (
    event_id        text NOT NULL PRIMARY KEY,
    relates_to_id   text NOT NULL,
    relation_type   text NOT NULL,
    room_id         text NOT NULL,
    event_type      text NOT NULL,
    room_seq        bigint NOT NULL
);
CREATE INDEX event_relations_by_parent ON event_relations (relates_to_id, relation_type, room_seq);
CREATE INDEX event_relations_threads ON event_relations (room_id, relation_type, room_seq) WHERE relation_type = 'm.thread';
