-- Guest accounts (spec "Guest Access"): registered with POST /register?kind=guest, limited to the
-- endpoints the module lists, and upgraded in place to a full account by registering with the
-- guest's access token. Guests get numeric localparts from a sequence, as Synapse gives them, so
-- API hosts never pick the same one; /register keeps numeric usernames for guests.
ALTER TABLE users ADD COLUMN is_guest boolean NOT NULL DEFAULT false;

CREATE SEQUENCE guest_localparts;
