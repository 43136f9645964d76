-- GridPatrol device store, schema version 3: what the app's screens need.
-- Released migrations are never edited: add a new numbered file instead.

-- The case list projection gains what the badges and the squad leader's
-- queue filter on: reporter, the leader's verdict, whether a returned
-- report was corrected since, and the photo count.
ALTER TABLE cases ADD COLUMN reporter TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN review TEXT
    CHECK (review IS NULL OR review IN ('approved', 'rejected', 'needs_fix'));
ALTER TABLE cases ADD COLUMN resubmitted INTEGER NOT NULL DEFAULT 0 CHECK (resubmitted IN (0, 1));
ALTER TABLE cases ADD COLUMN photo_count INTEGER NOT NULL DEFAULT 0 CHECK (photo_count >= 0);
CREATE INDEX cases_by_reporter ON cases (reporter, updated_at_ms DESC, id DESC);

-- Re-verification tasks: projection of the verification documents.
CREATE TABLE tasks (
    id            TEXT    PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    case_id       TEXT    NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    assignee      TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    due_at_ms     INTEGER NOT NULL,
    outcome       TEXT    CHECK (outcome IS NULL OR outcome IN ('pass', 'fail')),
    updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX tasks_by_due ON tasks (due_at_ms, id);

-- The thumbnail made with each photo (itself a row of `photos`, never
-- referenced by a document and so never uploaded).
CREATE TABLE photo_thumbs (
    photo_sha256 TEXT    PRIMARY KEY REFERENCES photos (sha256),
    thumb_sha256 TEXT    NOT NULL REFERENCES photos (sha256),
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0)
) STRICT, WITHOUT ROWID;

-- Starred categories and the ones I reported lately.
CREATE TABLE favourites (
    code        TEXT    PRIMARY KEY,
    added_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE recents (
    code       TEXT    PRIMARY KEY,
    used_at_ms INTEGER NOT NULL,
    uses       INTEGER NOT NULL CHECK (uses > 0)
) STRICT, WITHOUT ROWID;

-- "Checked, no problem" ticks of the checklist, per Beijing calendar day.
CREATE TABLE checklist_ticks (
    day   TEXT    NOT NULL CHECK (length(day) = 10),
    code  TEXT    NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (day, code)
) STRICT, WITHOUT ROWID;

-- Patrol track points.
CREATE TABLE track_points (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    patrol_id      INTEGER NOT NULL REFERENCES patrol_sessions (id),
    at_ms          INTEGER NOT NULL,
    lon            REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat            REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    accuracy_m     REAL    NOT NULL CHECK (accuracy_m >= 0),
    technical_grid TEXT
) STRICT;
CREATE INDEX track_by_time ON track_points (at_ms);

-- The district package fetched at sign-in (GeoJSON of my grids and around).
CREATE TABLE district_package (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    json          TEXT    NOT NULL,
    fetched_at_ms INTEGER NOT NULL
) STRICT;

-- A centre operator has no squad or grid: the assignment's fields become
-- nullable (SQLite cannot relax NOT NULL in place, so the table is rebuilt).
CREATE TABLE assignment_v3 (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    inspector_id     TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('inspector', 'squad_leader', 'centre_operator', 'admin')),
    squad            TEXT,
    supervision_grid TEXT
) STRICT;
INSERT INTO assignment_v3 SELECT id, inspector_id, name, role, squad, supervision_grid FROM assignment;
DROP TABLE assignment;
ALTER TABLE assignment_v3 RENAME TO assignment;
