-- OrleansCompute embedded store (SQLite), step 2: grain state.
-- Same contract and same shape as deploy/sql/postgres/003_grain_state.sql. SQLite has no
-- data-modifying CTEs, so a write is two statements, of which at most one returns a row.

CREATE TABLE IF NOT EXISTS oc_grain_state
(
    service_id   TEXT    NOT NULL,
    grain_type   TEXT    NOT NULL,
    grain_id_n0  INTEGER NOT NULL,
    grain_id_n1  INTEGER NOT NULL,
    grain_id_key TEXT    NOT NULL DEFAULT '',
    payload      BLOB    NULL,
    version      INTEGER NOT NULL,
    modified_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_key)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', '
    SELECT payload AS PayloadBinary, version AS Version
    FROM oc_grain_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = IFNULL(@GrainIdExtensionString, '''');
'),
('WriteToStorageKey', '
    INSERT INTO oc_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_key, payload, version)
    SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, IFNULL(@GrainIdExtensionString, ''''), @PayloadBinary, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version AS NewGrainStateVersion;

    UPDATE oc_grain_state
    SET payload = @PayloadBinary, version = version + 1, modified_at = CURRENT_TIMESTAMP
    WHERE @GrainStateVersion IS NOT NULL
      AND service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = IFNULL(@GrainIdExtensionString, '''')
      AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion;
'),
('ClearStorageKey', '
    UPDATE oc_grain_state
    SET payload = NULL, version = version + 1, modified_at = CURRENT_TIMESTAMP
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = IFNULL(@GrainIdExtensionString, '''')
      AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion;
'),
('DeleteStorageKey', '
    DELETE FROM oc_grain_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = IFNULL(@GrainIdExtensionString, '''')
      AND version = @GrainStateVersion
    RETURNING version + 1 AS NewGrainStateVersion;
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
