-- OrleansCompute schema, PostgreSQL, step 17: a shard commit that arrives too late does nothing.
--
-- A write takes effect before its request's deadline or never (docs/reliability.md, "Bounded
-- effects"). The silo checks the deadline before it sends the commit, but a statement can reach
-- the database long after it was sent: cut off from the silo, the bytes wait in the silo's kernel,
-- which retransmits them once the cut heals, also after the silo gave up on the statement. So the
-- commit carries the deadline on the database's own clock (the silo maps its monotonic clock onto
-- it from its lease renewals, Grains/Data/Storage/StoreClock.cs), and this check runs first in
-- the commit's transaction: past it, the commit raises and applies nothing.

CREATE OR REPLACE FUNCTION oc_kv_commit_not_after(p_not_after timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF clock_timestamp() > p_not_after THEN
        RAISE EXCEPTION 'the commit arrived % after its deadline', clock_timestamp() - p_not_after USING ERRCODE = 'OCKV4';
    END IF;
END
$fn$;
