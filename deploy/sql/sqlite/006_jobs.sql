-- OrleansCompute embedded store (SQLite), step 6: jobs and their tasks.
-- Same shape as deploy/sql/postgres/007_jobs.sql; times are Unix milliseconds.

CREATE TABLE IF NOT EXISTS oc_job
(
    tenant          TEXT    NOT NULL,
    job_id          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    spec            TEXT    NOT NULL,
    plan            TEXT    NOT NULL,
    idempotency_key TEXT    NULL,
    spec_hash       TEXT    NOT NULL,
    result          TEXT    NULL,
    error           TEXT    NULL,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER NULL,
    finished_at     INTEGER NULL,
    version         INTEGER NOT NULL,
    PRIMARY KEY (tenant, job_id)
);

CREATE UNIQUE INDEX IF NOT EXISTS oc_job_idempotency ON oc_job (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE INDEX IF NOT EXISTS oc_job_status ON oc_job (tenant, status, job_id);

CREATE TABLE IF NOT EXISTS oc_job_task
(
    tenant      TEXT    NOT NULL,
    job_id      TEXT    NOT NULL,
    idx         INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    silo        TEXT    NULL,
    started_at  INTEGER NULL,
    finished_at INTEGER NULL,
    error       TEXT    NULL,
    result      TEXT    NULL,
    PRIMARY KEY (tenant, job_id, idx)
);
