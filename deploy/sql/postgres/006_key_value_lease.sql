-- OrleansCompute schema, PostgreSQL, step 6: read leases for shards.
--
-- The epoch fence keeps a stale shard activation from committing. The lease keeps it from
-- answering reads: an activation serves reads from memory only while it holds the shard's lease,
-- which every commit and every renewal extends, and a new activation takes a shard over only
-- once the previous lease has run out (or was released when the old one deactivated). Reads
-- therefore always come from the one activation that can still commit: linearizable per key.

ALTER TABLE oc_kv_shard ADD COLUMN IF NOT EXISTS lease_until timestamptz NOT NULL DEFAULT '-infinity';

-- The fence of step 5, now also extending the lease. UPDATE (not FOR SHARE) so that a takeover
-- waits for a commit in flight and then sees the lease it extended.
CREATE OR REPLACE FUNCTION oc_kv_commit_fence(p_table uuid, p_shard integer, p_epoch bigint, p_lease interval) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    current_epoch bigint;
    is_dropped    boolean;
BEGIN
    UPDATE oc_kv_shard SET lease_until = now() + p_lease
    WHERE table_id = p_table AND shard = p_shard AND epoch = p_epoch AND NOT dropped;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT epoch, dropped INTO current_epoch, is_dropped FROM oc_kv_shard WHERE table_id = p_table AND shard = p_shard;
    IF is_dropped THEN
        RAISE EXCEPTION 'table % was dropped', p_table USING ERRCODE = 'OCKV2';
    END IF;
    RAISE EXCEPTION 'shard %/% is owned by epoch %, not %', p_table, p_shard, current_epoch, p_epoch USING ERRCODE = 'OCKV1';
END
$fn$;

DROP FUNCTION IF EXISTS oc_kv_fence(uuid, integer, bigint);
