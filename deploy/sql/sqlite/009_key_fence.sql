-- OrleansCompute embedded store (SQLite), step 9: fenced writes.
-- Same shape as deploy/sql/postgres/011_key_fence.sql: the highest fencing token each lock has
-- written to each key, kept after the key is deleted, written in the key's commit.

CREATE TABLE IF NOT EXISTS oc_kv_fence
(
    table_id  TEXT    NOT NULL,
    shard     INTEGER NOT NULL,
    key       TEXT    NOT NULL,
    lock_name TEXT    NOT NULL,
    token     INTEGER NOT NULL,
    PRIMARY KEY (table_id, shard, key, lock_name)
);
