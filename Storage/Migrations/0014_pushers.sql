-- HTTP pushers (/pushers/set) and how far each has delivered in event_push_actions.
CREATE TABLE pushers (
    user_id             text   NOT NULL,
    app_id              text   NOT NULL,
    pushkey             text   NOT NULL,
    kind                text   NOT NULL,
    app_display_name    text   NOT NULL,
    device_display_name text   NOT NULL,
    profile_tag         text,
    lang                text   NOT NULL,
    data                text   NOT NULL,
    created_ts          bigint NOT NULL,
    last_stream_ordering bigint NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
