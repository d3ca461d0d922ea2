-- Rooms as DAGs (server-server-api "Room State Resolution", "Rejection", "Soft failure"). The state
-- before and after every event is kept as state groups: each group is a delta of a few entries over a
-- previous group (Synapse's state_groups / state_group_edges / state_groups_state), so storage grows
-- with the number of state changes, not events times state size. A chain of deltas is cut by a full
-- snapshot every so often, bounding how far a read walks.
CREATE SEQUENCE state_group_ids;

CREATE TABLE state_groups (
    id bigint PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (room_id),
    prev_group bigint REFERENCES state_groups (id),
    chain_length int NOT NULL
);

CREATE TABLE state_group_entries (
    state_group bigint NOT NULL REFERENCES state_groups (id),
    type text NOT NULL,
    state_key text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
);

-- Every event of a room this server holds, with the state before and after it. Accepted events are
-- also in `events` (the timeline clients read); the others keep their JSON here: outliers (known only
-- as auth or state of others, no state of their own), rejected events (failed the auth rules: never
-- served as accepted, never state) and soft-failed ones (passed against their own state but not against
-- the current state: kept out of clients' timelines and out of the forward extremities).
CREATE TABLE room_dag_events (
    event_id text PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (room_id),
    status text NOT NULL CHECK (status IN ('accepted', 'outlier', 'rejected', 'soft_failed')),
    state_before bigint REFERENCES state_groups (id),
    state_after bigint REFERENCES state_groups (id),
    rejected_reason text,
    json text
);
CREATE INDEX room_dag_events_by_room ON room_dag_events (room_id);

-- The room's tips (the events no other event of the room cites yet) and the group holding its current,
-- resolved state. Null for rooms created before this migration until their grain first loads them.
ALTER TABLE rooms ADD COLUMN forward_extremities text[];
ALTER TABLE rooms ADD COLUMN current_state_group bigint REFERENCES state_groups (id);

-- Transactions other servers sent (PUT /_matrix/federation/v1/send/{txnId}), with the answer given:
-- a retry of the same origin and transaction ID gets the same answer without its PDUs being processed again.
CREATE TABLE received_transactions (
    origin text NOT NULL,
    txn_id text NOT NULL,
    response_json text NOT NULL,
    received_ts bigint NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
