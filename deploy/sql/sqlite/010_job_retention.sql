-- OrleansCompute schema, SQLite (embedded mode), step 10: ended jobs found by age, for the
-- retention sweep (Jobs__RetainEndedFor); see the PostgreSQL step 12 for why.

CREATE INDEX IF NOT EXISTS oc_job_ended ON oc_job (finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
