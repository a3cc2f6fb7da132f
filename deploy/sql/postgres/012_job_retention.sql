-- OrleansCompute schema, PostgreSQL, step 12: ended jobs found by age.
--
-- The retention sweep (Jobs__RetainEndedFor) asks each silo every few minutes for the oldest ended
-- jobs. Without an index that is a scan of every job; this one holds only ended jobs, ordered by
-- when they ended, so the sweep reads just the ones it deletes.

CREATE INDEX IF NOT EXISTS oc_job_ended ON oc_job (finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
