-- GridPatrol sync server schema, version 1.
-- Times are ms since the Unix epoch (UTC).

CREATE TABLE schema_migrations (
    version       INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL
);

-- Accounts; password_hash is an argon2 PHC string.
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL,
    squad            TEXT,
    supervision_grid TEXT,
    password_hash    TEXT NOT NULL
);
CREATE INDEX users_squad ON users (squad);

CREATE TABLE squads (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    leader TEXT NOT NULL
);

CREATE TABLE squad_grids (
    squad            TEXT NOT NULL REFERENCES squads (id) ON DELETE CASCADE,
    supervision_grid TEXT NOT NULL,
    PRIMARY KEY (squad, supervision_grid)
);
CREATE INDEX squad_grids_grid ON squad_grids (supervision_grid);

-- Bearer tokens, by SHA-256 of the token; the token itself is never stored.
CREATE TABLE tokens (
    token_sha256  BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX tokens_expiry ON tokens (expires_at_ms);

-- Global change sequence: one row, bumped for every stored document version.
CREATE TABLE change_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

-- Documents: Automerge bytes, heads (JSON array of hex), scope facts.
CREATE TABLE docs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('case', 'verification')),
    bytes            BLOB NOT NULL,
    heads            TEXT NOT NULL,
    seq              INTEGER NOT NULL UNIQUE,
    supervision_grid TEXT,
    reporter         TEXT,
    assignee         TEXT
);
CREATE INDEX docs_grid ON docs (supervision_grid, seq);
CREATE INDEX docs_reporter ON docs (reporter, seq);
CREATE INDEX docs_assignee ON docs (assignee, seq);

-- Photos a document refers to (for photo visibility).
CREATE TABLE doc_photos (
    doc_id TEXT NOT NULL REFERENCES docs (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (doc_id, sha256)
);
CREATE INDEX doc_photos_sha ON doc_photos (sha256);

-- Persisted Automerge sync state (shared heads) per device and document.
CREATE TABLE sync_states (
    device TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    state  BLOB NOT NULL,
    PRIMARY KEY (device, doc_id)
);

-- Photos: complete ones live in DIR/photos/<sha256>, partial uploads in
-- DIR/photos/partial/<sha256>; this table records totals and completion.
CREATE TABLE photos (
    sha256   TEXT PRIMARY KEY,
    total    INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE photo_uploaders (
    sha256  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (sha256, user_id)
);
