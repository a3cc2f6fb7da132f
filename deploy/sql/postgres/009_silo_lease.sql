-- OrleansCompute schema, PostgreSQL, step 9: shards hang on one lease per silo.
--
-- Step 6 gave every shard a read lease of its own. After a silo died, each of its shards waited
-- for its own lease to run out, and keeping many idle shards readable cost a renewal each. Now a
-- silo holds one lease (oc_kv_silo_lease), renewed a few times a second, and each shard row names
-- its holder: the silo lease its current epoch hangs on (close to CockroachDB's epoch-based
-- leases). A new activation takes a shard over once the holder released it, or the holder's silo
-- lease ran out. A silo cannot renew once the membership table records it Dead, so a silo voted
-- out while it still reaches the database loses its shards within one lease as well.

CREATE TABLE IF NOT EXISTS oc_kv_silo_lease
(
    silo        text        NOT NULL PRIMARY KEY,
    lease_until timestamptz NOT NULL
);

ALTER TABLE oc_kv_shard ADD COLUMN IF NOT EXISTS holder text NULL;

-- A shard whose keys moved to a new layout while its table reshards: it commits nothing again,
-- whichever activation holds it, and its rows are purged once the reshard is done.
ALTER TABLE oc_kv_shard ADD COLUMN IF NOT EXISTS sealed boolean NOT NULL DEFAULT false;

-- The commit fence: the epoch must still own the shard, the table must exist, and the shard must
-- not have been sealed by a reshard. FOR SHARE makes a
-- takeover wait for a commit in flight, so a commit lands wholly before the takeover's load or
-- is refused. It writes no new row version (step 6's UPDATE did, to extend the per-shard lease).
CREATE OR REPLACE FUNCTION oc_kv_commit_fence(p_table uuid, p_shard integer, p_epoch bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    current_epoch bigint;
    is_dropped    boolean;
    is_sealed     boolean;
BEGIN
    SELECT epoch, dropped, sealed INTO current_epoch, is_dropped, is_sealed
    FROM oc_kv_shard WHERE table_id = p_table AND shard = p_shard
    FOR SHARE;
    IF is_dropped THEN
        RAISE EXCEPTION 'table % was dropped', p_table USING ERRCODE = 'OCKV2';
    END IF;
    IF current_epoch IS DISTINCT FROM p_epoch THEN
        RAISE EXCEPTION 'shard %/% is owned by epoch %, not %', p_table, p_shard, current_epoch, p_epoch USING ERRCODE = 'OCKV1';
    END IF;
    IF is_sealed THEN
        RAISE EXCEPTION 'shard %/% moved to a new layout', p_table, p_shard USING ERRCODE = 'OCKV3';
    END IF;
END
$fn$;

DROP FUNCTION IF EXISTS oc_kv_commit_fence(uuid, integer, bigint, interval);
