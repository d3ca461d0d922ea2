-- Stream writers get stable numeric IDs so tokens that name them keep parsing after topology changes.
CREATE TABLE stream_writer_ids (
    writer_id     serial PRIMARY KEY,
    instance_name text NOT NULL UNIQUE
);

-- Each writer's "persisted up to" position per stream: readers take the minimum.
CREATE TABLE stream_positions (
    stream_name   text   NOT NULL,
    instance_name text   NOT NULL,
    position      bigint NOT NULL,
    PRIMARY KEY (stream_name, instance_name)
);

CREATE SEQUENCE events_stream_seq;
CREATE SEQUENCE account_data_stream_seq;
CREATE SEQUENCE to_device_stream_seq;
CREATE SEQUENCE receipts_stream_seq;
CREATE SEQUENCE presence_stream_seq;
CREATE SEQUENCE device_lists_stream_seq;
CREATE SEQUENCE push_rules_stream_seq;
CREATE SEQUENCE caches_stream_seq;
