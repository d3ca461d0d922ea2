-- The background tasks (run_background_tasks_on) prune by age, so rows record when they were
-- written. now() is stable, so existing rows take the migration's time without a table rewrite.
ALTER TABLE event_push_actions ADD COLUMN created_ts bigint NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint;
CREATE INDEX event_push_actions_by_created ON event_push_actions (created_ts);

ALTER TABLE cache_invalidations ADD COLUMN created_ts bigint NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint;
CREATE INDEX cache_invalidations_by_created ON cache_invalidations (created_ts);

CREATE INDEX event_txn_ids_by_created ON event_txn_ids (created_ts);
CREATE INDEX to_device_transactions_by_created ON to_device_transactions (created_ts);
