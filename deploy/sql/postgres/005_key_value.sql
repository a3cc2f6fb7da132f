-- OrleansCompute schema, PostgreSQL, step 5: key-value rows of sharded tables.
--
-- One row per key, written by the shard grain that owns it through Npgsql directly (not grain
-- persistence), so a write costs one row, and concurrent writes to a shard share one commit.
-- Keys sort in code point order (COLLATE "C" on UTF-8), the order scans promise.
--
-- oc_kv_shard fences shard activations. A shard takes the next epoch when it activates, and
-- every commit runs oc_kv_fence first, in the same transaction: if another activation has
-- taken the shard since (Orleans briefly ran two), or the table was dropped, the commit fails
-- and the stale activation steps down. FOR SHARE makes the takeover wait for a commit in flight.

CREATE TABLE IF NOT EXISTS oc_kv_shard
(
    table_id uuid    NOT NULL,
    shard    integer NOT NULL,
    epoch    bigint  NOT NULL DEFAULT 0,
    dropped  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_id, shard)
);

CREATE TABLE IF NOT EXISTS oc_kv
(
    table_id   uuid        NOT NULL,
    shard      integer     NOT NULL,
    key        text        COLLATE "C" NOT NULL,
    value      bytea       NOT NULL,
    version    bigint      NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (table_id, shard, key)
);

-- Tables dropped whose rows are still being purged in the background.
CREATE TABLE IF NOT EXISTS oc_kv_dropped
(
    table_id   uuid        NOT NULL PRIMARY KEY,
    dropped_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION oc_kv_fence(p_table uuid, p_shard integer, p_epoch bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    current_epoch bigint;
    is_dropped    boolean;
BEGIN
    SELECT epoch, dropped INTO current_epoch, is_dropped
    FROM oc_kv_shard WHERE table_id = p_table AND shard = p_shard
    FOR SHARE;
    IF is_dropped THEN
        RAISE EXCEPTION 'table % was dropped', p_table USING ERRCODE = 'OCKV2';
    END IF;
    IF current_epoch IS DISTINCT FROM p_epoch THEN
        RAISE EXCEPTION 'shard %/% is owned by epoch %, not %', p_table, p_shard, current_epoch, p_epoch USING ERRCODE = 'OCKV1';
    END IF;
END
$fn$;
