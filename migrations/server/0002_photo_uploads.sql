-- GridPatrol sync server schema, version 2: unfinished photo uploads belong
-- to the account that started them.
--
-- Each account has its own partial upload of a photo (DIR/photos/partial/
-- <sha256>.<owner hex>), so no one can append to or reset another's, and the
-- existence of someone else's upload (or of a complete photo out of the
-- caller's scope) is never revealed. `photos` now only holds complete photos.

CREATE TABLE photo_uploads (
    sha256        TEXT NOT NULL,
    owner         TEXT NOT NULL,
    total         INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    touched_at_ms INTEGER NOT NULL,
    PRIMARY KEY (sha256, owner)
);
CREATE INDEX photo_uploads_owner ON photo_uploads (owner);
CREATE INDEX photo_uploads_touched ON photo_uploads (touched_at_ms);

-- Unfinished uploads of version 1 had no owner: drop them (their clients see
-- 404 on HEAD and upload again from 0; the old partial files are removed by
-- the store on open).
DELETE FROM photos WHERE complete = 0;

-- Version 1 recorded an "uploader" on any PUT, even an empty one naming the
-- photo's length or a partial one, and uploaders could GET the photo. Who
-- really sent all the bytes cannot be told apart any more, so the list is
-- dropped; access by a document in scope is unaffected, and from now on only
-- an account whose own upload completed (hash verified) is recorded.
DELETE FROM photo_uploaders;
