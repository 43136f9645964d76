-- Patrol coverage (巡查覆盖率): per inspector and Beijing day, the set of
-- technical grids the patrol track visited (the device uploads only these
-- codes, never the track), with the supervision grid the inspector held
-- that day. One row per code, so uploading a day again adds only what is
-- new: the set only grows, and a repeated upload changes nothing.

CREATE TABLE patrol_days (
    day              TEXT NOT NULL CHECK (length(day) = 10),  -- YYYY-MM-DD, Beijing
    inspector        TEXT NOT NULL,
    supervision_grid TEXT NOT NULL,
    technical_grid   TEXT NOT NULL,
    recorded_at_ms   INTEGER NOT NULL,  -- first upload of this code
    PRIMARY KEY (day, inspector, supervision_grid, technical_grid)
) WITHOUT ROWID;
