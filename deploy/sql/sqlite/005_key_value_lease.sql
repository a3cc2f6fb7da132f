-- OrleansCompute embedded store (SQLite), step 5: read leases for shards, as in
-- deploy/sql/postgres/006_key_value_lease.sql. Times are Unix milliseconds from the silos' clock
-- (embedded mode is one machine, so one clock).

ALTER TABLE oc_kv_shard ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
