-- A writer with nothing in flight says so: readers then bound it by the sequence instead of its
-- last persisted position, so an idle writer never holds the others' rows back.
ALTER TABLE stream_positions ADD COLUMN idle boolean NOT NULL DEFAULT false;
