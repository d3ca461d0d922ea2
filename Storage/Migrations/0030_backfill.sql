-- Backfill: history from before this server joined a room, fetched from other servers when a client
-- pages past the start of what is here (server-server-api "Backfilling and retrieving missing events").
--
-- The state a send_join answer brings is the room's state at the join, not history: its events sit in
-- `events` (readers take state from there) but are outliers, never shown in a timeline, until backfill
-- reaches them and puts them where they belong in the history.
ALTER TABLE events ADD COLUMN outlier boolean NOT NULL DEFAULT false;
UPDATE events e SET outlier = true FROM room_dag_events d WHERE d.event_id = e.event_id AND d.status = 'outlier';

-- Backfilled events go before everything the room had: room_seq below its first, stream_ordering
-- negative (from this sequence), so they are history to /messages and never news to /sync, pushers or
-- federation senders, which all read forwards from a position.
CREATE SEQUENCE backfill_stream_ids;

-- The events the room's earliest events cite that this server does not have (Synapse's
-- event_backward_extremities): where the next backfill asks from. Empty once the history reaches
-- m.room.create.
CREATE TABLE room_backward_extremities (
    room_id  text NOT NULL REFERENCES rooms (room_id),
    event_id text NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- Rooms joined over federation before this migration: their first event in the timeline is the join,
-- and the prev events it cites that the room does not show are where their backfill starts.
INSERT INTO room_backward_extremities (room_id, event_id)
SELECT DISTINCT j.room_id, p.prev
FROM events j
CROSS JOIN LATERAL jsonb_array_elements(j.json::jsonb -> 'prev_events') AS r (ref)
CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(r.ref) = 'string' THEN r.ref #>> '{}' ELSE r.ref ->> 0 END) AS p (prev)
WHERE NOT j.outlier
  AND j.room_seq = (SELECT min(f.room_seq) FROM events f WHERE f.room_id = j.room_id AND NOT f.outlier)
  AND EXISTS (SELECT 1 FROM events o WHERE o.room_id = j.room_id AND o.outlier)
  AND p.prev IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM events k WHERE k.event_id = p.prev AND NOT k.outlier);
