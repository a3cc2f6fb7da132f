-- OrleansCompute embedded store (SQLite), step 11: watch.
-- Same shape as deploy/sql/postgres/013_watch_change_log.sql: each key's revision, the change log
-- written in the commit that writes the keys, and the floor the retention sweep raises.

ALTER TABLE oc_kv ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oc_kv_shard ADD COLUMN log_floor INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS oc_kv_change
(
    table_id   TEXT    NOT NULL,
    shard      INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB    NULL,
    version    INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (table_id, shard, revision)
);

CREATE INDEX IF NOT EXISTS oc_kv_change_age ON oc_kv_change (changed_at);
