-- The caches stream: what API hosts must forget (cache name and key), so a missed Redis message
-- is caught up from here like any other stream row.
CREATE TABLE cache_invalidations (
    stream_id  bigint PRIMARY KEY,
    cache_name text   NOT NULL,
    cache_key  text   NOT NULL
);
