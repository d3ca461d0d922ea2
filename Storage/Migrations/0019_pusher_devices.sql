-- A pusher belongs to the device that set it: deleting the device (logout, device deletion, a
-- password change that signs out other sessions, deactivation) deletes its pushers in the same
-- statement, as Synapse removes a pusher with its access token. Pushers set before this have none.
ALTER TABLE pushers ADD COLUMN device_id text;
ALTER TABLE pushers ADD CONSTRAINT pushers_device_fkey
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE;
