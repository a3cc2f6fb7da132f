-- OrleansCompute schema, PostgreSQL, step 13: watch (SPEC §4.4 "Watch", docs/coordination.md).
--
-- Every key carries the revision of its last change: a number the shard hands out, strictly
-- increasing within the shard, across moves, failovers and restarts (a new activation continues
-- above the highest revision in oc_kv, oc_kv_change and log_floor).
--
-- oc_kv_change is the change log: one row per acknowledged put or delete, written by the shard's
-- group commit in the same transaction as the key's row, so nothing acknowledged is missing from
-- it and nothing that did not commit is in it. Rows older than the retention (Watch__Retention)
-- are swept in bounded batches; the sweep raises the shard's log_floor to the highest revision it
-- removed, in the same statement, so a cursor below the floor is known to be compacted (410).

ALTER TABLE oc_kv ADD COLUMN IF NOT EXISTS revision bigint NOT NULL DEFAULT 0;
ALTER TABLE oc_kv_shard ADD COLUMN IF NOT EXISTS log_floor bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS oc_kv_change
(
    table_id   uuid        NOT NULL,
    shard      integer     NOT NULL,
    revision   bigint      NOT NULL,
    key        text        COLLATE "C" NOT NULL,
    value      bytea       NULL,          -- null: the key was deleted
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_id, shard, revision)
);

-- The retention sweep reads the oldest rows first.
CREATE INDEX IF NOT EXISTS oc_kv_change_age ON oc_kv_change (changed_at);
