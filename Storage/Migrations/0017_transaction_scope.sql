-- The spec scopes a transaction ID to a device and one HTTP endpoint (its whole path): the same
-- txnId sent to two rooms, or as two event types, is two requests. The room joins the key here;
-- the rest of the path (event type, redacted event) is in txn_id, as the API host names it.
ALTER TABLE event_txn_ids DROP CONSTRAINT event_txn_ids_pkey;
ALTER TABLE event_txn_ids ADD PRIMARY KEY (user_id, device_id, room_id, txn_id);
