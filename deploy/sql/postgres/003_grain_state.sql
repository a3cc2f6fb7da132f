-- OrleansCompute schema, PostgreSQL, step 3: grain state (ADO.NET grain persistence provider).
--
-- A grain's identity is (service, grain type, N0, N1, string key) and is the primary key: two
-- activations of one grain can never both insert its first row. The provider's hash parameters
-- (@GrainIdHash, @GrainTypeHash) are not needed with a real key and are ignored.
-- The string key is stored as '' when the grain has none, because primary-key columns cannot be null.
--
-- Versions are optimistic concurrency tokens: a write names the version it read (@GrainStateVersion,
-- null for "no row yet") and succeeds only if it is still current. Every query answers the new
-- version in NewGrainStateVersion, or no row when the write lost; the provider then throws
-- InconsistentStateException and the grain re-reads. The column is 64-bit; note the Orleans 10.4
-- provider itself parses versions as 32-bit integers.

CREATE TABLE IF NOT EXISTS oc_grain_state
(
    service_id   text        NOT NULL,
    grain_type   text        NOT NULL,
    grain_id_n0  bigint      NOT NULL,
    grain_id_n1  bigint      NOT NULL,
    grain_id_key text        NOT NULL DEFAULT '',
    payload      bytea       NULL,
    version      bigint      NOT NULL,
    modified_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_key)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
    SELECT payload AS PayloadBinary, version AS Version
    FROM oc_grain_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = COALESCE(@GrainIdExtensionString, '');
$q$),
('WriteToStorageKey', $q$
    WITH inserted AS (
        INSERT INTO oc_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_key, payload, version)
        SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(@GrainIdExtensionString, ''), @PayloadBinary, 1
        WHERE @GrainStateVersion IS NULL
        ON CONFLICT DO NOTHING
        RETURNING version
    ), updated AS (
        UPDATE oc_grain_state
        SET payload = @PayloadBinary, version = version + 1, modified_at = now()
        WHERE @GrainStateVersion IS NOT NULL
          AND service_id = @ServiceId AND grain_type = @GrainTypeString
          AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
          AND grain_id_key = COALESCE(@GrainIdExtensionString, '')
          AND version = @GrainStateVersion
        RETURNING version
    )
    SELECT version AS NewGrainStateVersion FROM inserted
    UNION ALL
    SELECT version FROM updated;
$q$),
('ClearStorageKey', $q$
    UPDATE oc_grain_state
    SET payload = NULL, version = version + 1, modified_at = now()
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = COALESCE(@GrainIdExtensionString, '')
      AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion;
$q$),
-- Used when the provider deletes on clear: the row goes, and the answer is a version the grain
-- never held, which the provider reads as success.
('DeleteStorageKey', $q$
    DELETE FROM oc_grain_state
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_key = COALESCE(@GrainIdExtensionString, '')
      AND version = @GrainStateVersion
    RETURNING version + 1 AS NewGrainStateVersion;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
