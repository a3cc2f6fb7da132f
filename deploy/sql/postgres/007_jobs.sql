-- OrleansCompute schema, PostgreSQL, step 7: jobs and their tasks.
--
-- Written by job grains through their own store (not grain persistence): a job's header is one
-- row, each task that has ended an attempt is one row, and the rows a job changes while its
-- previous write is in flight go out together in the next single transaction, so many tasks
-- share a commit. Tasks with no row have not ended an attempt yet.
--
-- Times are Unix milliseconds (the same columns serve the embedded SQLite store). `version`
-- fences job activations: a header update names the version it read, so a stale second
-- activation cannot overwrite a newer state.

CREATE TABLE IF NOT EXISTS oc_job
(
    tenant          text    NOT NULL,
    job_id          text    COLLATE "C" NOT NULL,
    kind            text    NOT NULL,
    status          text    NOT NULL,
    spec            text    NOT NULL,
    plan            text    NOT NULL,
    idempotency_key text    NULL,
    spec_hash       text    NOT NULL,
    result          text    NULL,
    error           text    NULL,
    created_at      bigint  NOT NULL,
    started_at      bigint  NULL,
    finished_at     bigint  NULL,
    version         bigint  NOT NULL,
    PRIMARY KEY (tenant, job_id)
);

-- The same idempotency key always names the same job of a tenant.
CREATE UNIQUE INDEX IF NOT EXISTS oc_job_idempotency ON oc_job (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Listing by status, and counting a tenant's active jobs for its quota.
CREATE INDEX IF NOT EXISTS oc_job_status ON oc_job (tenant, status, job_id);

CREATE TABLE IF NOT EXISTS oc_job_task
(
    tenant      text    NOT NULL,
    job_id      text    COLLATE "C" NOT NULL,
    idx         integer NOT NULL,
    status      text    NOT NULL,
    attempts    integer NOT NULL,
    silo        text    NULL,
    started_at  bigint  NULL,
    finished_at bigint  NULL,
    error       text    NULL,
    result      text    NULL,
    PRIMARY KEY (tenant, job_id, idx)
);
