-- Other servers' signing keys as this server has verified them (server-server-api "Retrieving server
-- keys"), one row per key: the public key, until when it may verify signatures (valid_until_ts of a
-- current key, expired_ts of an old one) and the whole signed answer that listed it, kept as received
-- so this server can serve it again as a notary (POST /_matrix/key/v2/query) with its own signature added.
CREATE TABLE remote_server_keys (
    server_name text NOT NULL,
    key_id text NOT NULL,
    verify_key text NOT NULL,
    valid_until_ts bigint NOT NULL,
    expired boolean NOT NULL,
    from_server text NOT NULL,
    added_ts bigint NOT NULL,
    key_json text NOT NULL,
    PRIMARY KEY (server_name, key_id)
);
