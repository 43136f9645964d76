-- The server's epoch: a random id that names this copy of the data. A
-- restore from a backup gives the restored copy a new epoch, so devices
-- notice the server may lack what it once acknowledged and offer it again.

CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO server_meta (key, value) VALUES ('epoch', lower(hex(randomblob(16))));
