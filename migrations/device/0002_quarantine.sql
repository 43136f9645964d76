-- GridPatrol device store, schema version 2: quarantined documents.
-- Released migrations are never edited: add a new numbered file instead.
--
-- A document received from the server that this build cannot read is kept
-- here as bytes with the reason, instead of stopping the sync session; it
-- never enters `documents` (and so no list or screen shows it half-read).
-- A later, readable version from the server replaces the row's bytes and
-- the document is then stored normally (and the row deleted).
CREATE TABLE quarantine (
    doc_id         TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('case', 'verification')),
    bytes          BLOB    NOT NULL,
    reason         TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
