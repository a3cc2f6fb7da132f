-- OrleansCompute embedded store (SQLite), step 7: shards hang on one lease per silo, as in
-- deploy/sql/postgres/009_silo_lease.sql. Times are Unix milliseconds from the one machine's clock.
-- Embedded mode has no membership table (localhost clustering), so a silo's lease ends only when
-- the silo stops renewing it.

CREATE TABLE IF NOT EXISTS oc_kv_silo_lease
(
    silo        TEXT    NOT NULL PRIMARY KEY,
    lease_until INTEGER NOT NULL
);

ALTER TABLE oc_kv_shard ADD COLUMN holder TEXT NULL;

-- A shard whose keys moved to a new layout while its table reshards commits nothing again.
ALTER TABLE oc_kv_shard ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
