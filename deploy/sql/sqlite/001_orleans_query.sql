-- OrleansCompute embedded store (SQLite), step 1: the query table the Orleans ADO.NET providers read.
-- Embedded mode keeps grain state and reminders in one SQLite file under Storage__Path;
-- membership is localhost clustering and needs no table. Every step is idempotent.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);
