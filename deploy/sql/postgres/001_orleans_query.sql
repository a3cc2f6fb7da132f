-- OrleansCompute schema, PostgreSQL, step 1: the query table.
-- The Orleans ADO.NET providers read every statement they run from this table by key
-- ("SELECT QueryKey, QueryText FROM OrleansQuery"), so its name and two column names are fixed
-- by the providers. Everything else in this schema is ours.
-- Every step is idempotent: the silo applies it under an advisory lock, and re-running it by hand is harmless.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) NOT NULL PRIMARY KEY,
    QueryText text        NOT NULL
);
