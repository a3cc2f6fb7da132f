-- OrleansCompute embedded store (SQLite), step 8: leases, locks and elections, as in
-- deploy/sql/postgres/010_coordination.sql. Times are Unix milliseconds from the one machine's clock.

CREATE TABLE IF NOT EXISTS oc_coord_lease
(
    tenant    TEXT    NOT NULL,
    id        TEXT    NOT NULL,
    ttl_ms    INTEGER NOT NULL,
    epoch     INTEGER NOT NULL,
    marked_at INTEGER NOT NULL,
    ended     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE IF NOT EXISTS oc_coord_lease_item
(
    tenant TEXT NOT NULL,
    lease  TEXT NOT NULL,
    kind   TEXT NOT NULL,
    name   TEXT NOT NULL,
    PRIMARY KEY (tenant, lease, kind, name)
);

CREATE TABLE IF NOT EXISTS oc_coord_lock
(
    tenant       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    epoch        INTEGER NOT NULL,
    last_token   INTEGER NOT NULL DEFAULT 0,
    holder_lease TEXT    NULL,
    holder_token INTEGER NULL,
    holder_value TEXT    NULL,
    acquired_at  INTEGER NULL,
    PRIMARY KEY (tenant, kind, name)
);
