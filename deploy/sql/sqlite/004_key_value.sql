-- OrleansCompute embedded store (SQLite), step 4: key-value rows of sharded tables.
-- Same shape as deploy/sql/postgres/005_key_value.sql. SQLite serialises writers (BEGIN
-- IMMEDIATE), and the store checks the epoch inside that transaction instead of a function.
-- Expiry times are Unix milliseconds.

CREATE TABLE IF NOT EXISTS oc_kv_shard
(
    table_id TEXT    NOT NULL,
    shard    INTEGER NOT NULL,
    epoch    INTEGER NOT NULL DEFAULT 0,
    dropped  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (table_id, shard)
);

CREATE TABLE IF NOT EXISTS oc_kv
(
    table_id   TEXT    NOT NULL,
    shard      INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    version    INTEGER NOT NULL,
    expires_at INTEGER NULL,
    PRIMARY KEY (table_id, shard, key)
);

CREATE TABLE IF NOT EXISTS oc_kv_dropped
(
    table_id   TEXT NOT NULL PRIMARY KEY,
    dropped_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
