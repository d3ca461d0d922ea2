-- Users who asked, when deactivating, for their content to be erased (spec: POST /account/deactivate
-- with `erase`; Synapse's erased_users). Their events are then served pruned, per the room version's
-- redaction algorithm, to anyone who was not joined to the room when they were sent.
CREATE TABLE erased_users (
    user_id text PRIMARY KEY REFERENCES users (user_id)
);
