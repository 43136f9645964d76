-- The monthly quality sample (抽检): which reports of each inspector's
-- month were drawn, with the seed that reproduces the draw, and the squad
-- leader's mark on each (correct, or wrong — 错报 — with a reason).

CREATE TABLE quality_draws (
    month       TEXT PRIMARY KEY,   -- YYYY-MM, the month whose reports were drawn
    seed        TEXT NOT NULL,
    rate        REAL NOT NULL,
    min_count   INTEGER NOT NULL,
    drawn_at_ms INTEGER NOT NULL
);

CREATE TABLE quality_samples (
    month        TEXT NOT NULL REFERENCES quality_draws (month),
    case_id      TEXT NOT NULL,
    inspector    TEXT NOT NULL,
    squad        TEXT,             -- the inspector's squad at the draw
    wrong        INTEGER,          -- NULL until marked; 1 = 错报
    reason       TEXT,
    marked_by    TEXT,
    marked_at_ms INTEGER,
    PRIMARY KEY (month, case_id)
);
CREATE INDEX quality_samples_squad ON quality_samples (month, squad);
