CREATE SEQUENCE user_filters_seq;

CREATE TABLE user_filters (
    user_id   text   NOT NULL,
    filter_id bigint NOT NULL DEFAULT nextval('user_filters_seq'),
    json      text   NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
