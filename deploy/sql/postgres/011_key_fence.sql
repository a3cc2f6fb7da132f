-- OrleansCompute schema, PostgreSQL, step 11: fenced writes (SPEC §4.4, docs/coordination.md).
--
-- The highest fencing token each lock has written to each key. A row of its own rather than a
-- column of oc_kv, because it must outlive the key: after a fenced delete with token T, a put
-- fenced by the same lock with a token below T is still refused. It is written by the shard's
-- commit, in the same transaction as the key's row, and only ever raised. Rows go with the
-- table (or with an old layout after a reshard, whose fences the new layout ingested).

CREATE TABLE IF NOT EXISTS oc_kv_fence
(
    table_id  uuid    NOT NULL,
    shard     integer NOT NULL,
    key       text    COLLATE "C" NOT NULL,
    lock_name text    COLLATE "C" NOT NULL,
    token     bigint  NOT NULL,
    PRIMARY KEY (table_id, shard, key, lock_name)
);
