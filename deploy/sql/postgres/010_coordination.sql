-- OrleansCompute schema, PostgreSQL, step 10: leases, locks and elections (SPEC §4.4, docs/coordination.md).
--
-- A lease is one row, written when it is granted, about once every half TTL while keepalives
-- come (marked_at, by this database's clock), when an activation takes it over (epoch) and when
-- it ends. Keepalives in between touch no row: the lease grain's own monotonic clock is the
-- authority while it lives. After a failover the next activation bounds the lease by
-- marked_at + 1.5 TTL, measured as a difference of two readings of this database's clock.
-- Times are Unix milliseconds (the same columns serve the embedded SQLite store).
--
-- ended is set before anything attached to the lease is released, and the row is deleted once
-- everything is: a row with ended set is a lease whose end an activation must finish. A lease
-- id is never reused, so a missing row is an ended lease.

CREATE TABLE IF NOT EXISTS oc_coord_lease
(
    tenant    text    NOT NULL,
    id        text    COLLATE "C" NOT NULL,
    ttl_ms    bigint  NOT NULL,
    epoch     bigint  NOT NULL,
    marked_at bigint  NOT NULL,
    ended     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, id)
);

-- What ends with a lease: locks ('lock', name) and leaderships ('election', name) it holds.
CREATE TABLE IF NOT EXISTS oc_coord_lease_item
(
    tenant text NOT NULL,
    lease  text COLLATE "C" NOT NULL,
    kind   text NOT NULL,
    name   text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, lease, kind, name)
);

-- A lock or an election ('lock' | 'election'): the last token it issued (tokens only grow, whoever
-- holds it), its holder and, for an election, the leader's value. epoch fences activations: a
-- write names the epoch its activation took.
CREATE TABLE IF NOT EXISTS oc_coord_lock
(
    tenant       text   NOT NULL,
    kind         text   NOT NULL,
    name         text   COLLATE "C" NOT NULL,
    epoch        bigint NOT NULL,
    last_token   bigint NOT NULL DEFAULT 0,
    holder_lease text   NULL,
    holder_token bigint NULL,
    holder_value text   NULL,
    acquired_at  bigint NULL,
    PRIMARY KEY (tenant, kind, name)
);
