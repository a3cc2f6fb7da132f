-- OrleansCompute schema, PostgreSQL, step 14: watch on transactional tables (docs/coordination.md, "Watch").
--
-- A transactional table's keys are grains under Orleans transactions, with no shard grain to hand
-- out revisions. Each shard of such a table has a feed row here instead: the highest revision it
-- handed out, and the change log's floor (raised by the retention sweep, as oc_kv_shard.log_floor
-- is for plain shards). TransactionalStateWriter bumps the row in the same statement, and so the
-- same PostgreSQL transaction, that commits the key states and inserts their oc_kv_change rows.
-- The bump takes the row's lock until that commit, so the feed's commits are serialized: revision
-- order is commit order, and any snapshot holds a prefix of the feed's revisions.

CREATE TABLE IF NOT EXISTS oc_txn_feed
(
    table_id  uuid    NOT NULL,
    shard     integer NOT NULL,
    revision  bigint  NOT NULL DEFAULT 0,
    log_floor bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (table_id, shard)
);
