-- OrleansCompute schema, PostgreSQL, step 8: transactional state (Orleans Transactions).
--
-- One row per participant (grain and state name): its committed state, its prepared but not yet
-- committed states and its transaction metadata, serialized together by the silo, so a row is
-- always one coherent snapshot that transaction recovery can start from. Every write replaces the
-- row if its etag is still the one the silo read (compare-and-set), and many participants' writes
-- go out in one statement: see Grains/Transactions/Storage/TransactionalStateWriter.cs.
-- grain_id is the Orleans grain id (type and key), which for key grains carries tenant and table.

CREATE TABLE IF NOT EXISTS oc_txn_state
(
    service_id  text        NOT NULL,
    grain_id    text        NOT NULL,
    state_name  text        NOT NULL,
    etag        bigint      NOT NULL,
    record      bytea       NOT NULL,
    modified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_id, state_name)
);
