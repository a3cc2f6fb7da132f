-- OrleansCompute schema, PostgreSQL, step 15: the revision of a transactional key's last change
-- (docs/coordination.md, "Watch", "Transactional tables").
--
-- The writer numbers a batch's changes in its one statement, after the key's state was serialized,
-- so the revision cannot travel inside the record. It is stored beside it instead: the revision of
-- the last logged change of the row's committed state, set by the statement that logs that change
-- and kept by later writes that log none. NULL for a row that never logged a change, which is
-- every row last changed before this step: those answer no revision until their next change.

ALTER TABLE oc_txn_state ADD COLUMN IF NOT EXISTS revision bigint;
