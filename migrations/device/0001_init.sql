-- GridPatrol device store, schema version 1.
-- Released migrations are never edited: add a new numbered file instead.
-- The store runs each file inside one transaction and then sets
-- PRAGMA user_version to the file's number.
-- Times are Unix epoch milliseconds (UTC). Coordinates are WGS-84 degrees.

-- Which migration files have been applied, with the SHA-256 of their text, so
-- that an edited released migration is detected at open.
CREATE TABLE schema_migrations (
    version       INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    sha256        TEXT    NOT NULL CHECK (length(sha256) = 64),
    applied_at_ms INTEGER NOT NULL
) STRICT;

-- Small key/value table: sync cursors, the device's Automerge actor id.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- The patrol checklist: module > major class > subclass > fine class.
-- Only fine classes carry the handling attributes (the CHECK keeps the
-- columns all-set or all-NULL together).
CREATE TABLE taxonomy_node (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    level             TEXT NOT NULL CHECK (level IN ('module', 'major', 'sub', 'fine')),
    parent_code       TEXT REFERENCES taxonomy_node (code) DEFERRABLE INITIALLY DEFERRED,
    std_ref           TEXT,
    kind              TEXT CHECK (kind IN ('component', 'event', 'matter')),
    department        TEXT,
    a_hours           INTEGER CHECK (a_hours > 0),
    b_hours           INTEGER CHECK (b_hours > 0),
    c_hours           INTEGER CHECK (c_hours > 0),
    limits_default    INTEGER CHECK (limits_default IN (0, 1)),
    filing_condition  TEXT,
    closing_condition TEXT,
    CHECK ((level = 'module') = (parent_code IS NULL)),
    CHECK ((level = 'fine') = (kind IS NOT NULL)),
    CHECK ((kind IS NULL) = (department IS NULL)
       AND (kind IS NULL) = (a_hours IS NULL)
       AND (kind IS NULL) = (b_hours IS NULL)
       AND (kind IS NULL) = (c_hours IS NULL)
       AND (kind IS NULL) = (limits_default IS NULL)
       AND (kind IS NULL) = (filing_condition IS NULL)
       AND (kind IS NULL) = (closing_condition IS NULL))
) STRICT;
CREATE INDEX taxonomy_node_parent ON taxonomy_node (parent_code);

-- The signed-in inspector's current assignment. One row at most.
CREATE TABLE assignment (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    inspector_id     TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('inspector', 'squad_leader', 'centre_operator', 'admin')),
    squad            TEXT NOT NULL,
    supervision_grid TEXT NOT NULL
) STRICT;

-- Case projection for lists. The Automerge case document is the truth; this
-- row is rewritten from it in the same transaction as the document.
CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    category_code    TEXT NOT NULL,
    status           TEXT NOT NULL,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    technical_grid   TEXT NOT NULL,
    supervision_grid TEXT NOT NULL,
    lon              REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat              REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    created_at_ms    INTEGER NOT NULL,
    -- No ordering CHECK against created_at_ms: the times come from phones
    -- whose clocks disagree, and the projection must mirror the document.
    updated_at_ms    INTEGER NOT NULL
) STRICT;
-- Backs keyset pagination of the case list (newest first, then id).
CREATE INDEX cases_by_updated ON cases (updated_at_ms DESC, id DESC);

-- Automerge documents as opaque bytes plus their heads (concatenated 32-byte
-- change hashes). A case document has id = case_id; a verification document
-- belongs to one case. sync_state is owned by the sync engine.
CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('case', 'verification')),
    case_id        TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    bytes          BLOB NOT NULL,
    heads          BLOB NOT NULL CHECK (length(heads) % 32 = 0),
    updated_at_ms  INTEGER NOT NULL,
    sync_state     TEXT NOT NULL DEFAULT 'local_only'
                   CHECK (sync_state IN ('local_only', 'syncing', 'synced', 'refused')),
    refusal_reason TEXT,
    CHECK (kind <> 'case' OR id = case_id),
    CHECK ((sync_state = 'refused') = (refusal_reason IS NOT NULL))
) STRICT;
CREATE INDEX documents_by_case ON documents (case_id);

-- Local changes waiting to be pushed, oldest first.
CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id        TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    heads         BLOB    NOT NULL CHECK (length(heads) % 32 = 0),
    created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_by_doc ON outbox (doc_id);

-- Photo metadata. The bytes live in <db file name>.photos/<sha256>; the file
-- is durably in place before this row is inserted.
CREATE TABLE photos (
    sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    byte_len    INTEGER NOT NULL CHECK (byte_len > 0),
    mime        TEXT    NOT NULL,
    taken_at_ms INTEGER NOT NULL,
    lon         REAL CHECK (lon BETWEEN -180 AND 180),
    lat         REAL CHECK (lat BETWEEN -90 AND 90),
    stored_at_ms INTEGER NOT NULL,
    CHECK ((lon IS NULL) = (lat IS NULL))
) STRICT, WITHOUT ROWID;

-- Patrol sessions: one inspector walking one supervision grid.
CREATE TABLE patrol_sessions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    inspector_id     TEXT    NOT NULL,
    supervision_grid TEXT    NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    ended_at_ms      INTEGER CHECK (ended_at_ms >= started_at_ms)
) STRICT;
-- An inspector has at most one patrol open at a time.
CREATE UNIQUE INDEX patrol_one_open ON patrol_sessions (inspector_id) WHERE ended_at_ms IS NULL;
CREATE INDEX patrol_by_start ON patrol_sessions (started_at_ms DESC, id DESC);
