-- The supervision centre's view of the documents: what it lists, assigns
-- and scores cases by. Every row is derived from the stored document by
-- the server on each write (never edited on its own), so it can always be
-- rebuilt from `docs`.

-- One row per case.
CREATE TABLE case_index (
    id               TEXT PRIMARY KEY REFERENCES docs (id) ON DELETE CASCADE,
    state            TEXT NOT NULL,
    category         TEXT NOT NULL,
    street           TEXT NOT NULL,
    supervision_grid TEXT NOT NULL,
    technical_grid   TEXT NOT NULL,
    reporter         TEXT NOT NULL,
    source           TEXT NOT NULL,
    reported_at_ms   INTEGER NOT NULL,
    lon              REAL NOT NULL,  -- WGS-84
    lat              REAL NOT NULL,  -- WGS-84
    review           TEXT,           -- the leader's latest verdict
    resubmitted      INTEGER NOT NULL DEFAULT 0, -- corrected after a return
    unit             TEXT,           -- of the latest dispatch
    due_at_ms        INTEGER,        -- deadline of the latest dispatch
    last_event_at_ms INTEGER         -- its latest lifecycle step (a month's active cases)
);
CREATE INDEX case_index_reported ON case_index (reported_at_ms, id);
CREATE INDEX case_index_state ON case_index (state, reported_at_ms);
CREATE INDEX case_index_grid ON case_index (supervision_grid, reported_at_ms);
CREATE INDEX case_index_due ON case_index (due_at_ms);
CREATE INDEX case_index_active ON case_index (last_event_at_ms);

-- Every recorded lifecycle step of every case, in order: what evaluation
-- and KPIs are computed from.
CREATE TABLE case_events (
    case_id   TEXT NOT NULL REFERENCES docs (id) ON DELETE CASCADE,
    n         INTEGER NOT NULL,
    action    TEXT NOT NULL,
    state     TEXT NOT NULL,
    by_user   TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    unit      TEXT,
    due_at_ms INTEGER,
    PRIMARY KEY (case_id, n)
);
CREATE INDEX case_events_at ON case_events (at_ms);

-- One row per verification task.
CREATE TABLE verification_index (
    id         TEXT PRIMARY KEY REFERENCES docs (id) ON DELETE CASCADE,
    case_id    TEXT NOT NULL,
    assignee   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_at_ms  INTEGER NOT NULL,
    outcome    TEXT,
    done_at_ms INTEGER
);
CREATE INDEX verification_index_case ON verification_index (case_id);
CREATE INDEX verification_index_open ON verification_index (assignee) WHERE outcome IS NULL;
