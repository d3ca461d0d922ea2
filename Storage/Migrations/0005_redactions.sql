-- Which events are redacted, and by which redaction. Written with the redaction event, in its
-- transaction, only when the room grain found the redaction allowed to take effect.
CREATE TABLE redactions (
    redacts            text NOT NULL,
    redaction_event_id text NOT NULL,
    PRIMARY KEY (redacts, redaction_event_id)
);
