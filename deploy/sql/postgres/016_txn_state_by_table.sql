-- OrleansCompute schema, PostgreSQL, step 16: a dropped transactional table's rows can be found.
--
-- The purge of a dropped table (Grains/Data/Storage/PostgresKeyValueStore.cs, PurgeDroppedAsync)
-- removes its transactional state too. Every participant of a transactional table is a key, index
-- or leaf grain, whose grain id is "<grain type>/<tenant>/<table id, 32 hex digits>/<shard>..."
-- (Grains.Interfaces/Transactions/TransactionModels.cs, TxnKeys): the third '/'-separated part
-- names the table incarnation. This index finds a table's rows by it, without a column that every
-- write would have to fill. The grain id never changes, so updates of a row stay HOT.

CREATE INDEX IF NOT EXISTS oc_txn_state_table ON oc_txn_state (split_part(grain_id, '/', 3));
