-- OrleansCompute schema, PostgreSQL, step 2: cluster membership (ADO.NET clustering provider).
--
-- Contract with the provider (Orleans 10.4):
--   * parameters: @DeploymentId (the cluster id), @Address, @Port, @Generation, @SiloName, @HostName,
--     @Status, @ProxyPort, @SuspectTimes, @StartTime, @IAmAliveTime (UTC), @Version (the table version
--     the caller read; a write succeeds only if it is still current, and bumps it by one).
--   * reads return one row per silo plus the table version, and at least one row (the version)
--     even when no silo is listed, with the columns Version, Address, Port, Generation, SiloName,
--     HostName, Status, ProxyPort, SuspectTimes, StartTime, IAmAliveTime.
--   * inserts and updates answer one boolean: did the write happen.

CREATE TABLE IF NOT EXISTS oc_membership_version
(
    deployment_id text        NOT NULL PRIMARY KEY,
    version       integer     NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS oc_membership
(
    deployment_id   text        NOT NULL REFERENCES oc_membership_version (deployment_id) ON DELETE CASCADE,
    address         text        NOT NULL,
    port            integer     NOT NULL,
    generation      integer     NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    status          integer     NOT NULL,
    proxy_port      integer     NOT NULL DEFAULT 0,
    suspect_times   text        NULL,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
    WITH created AS (
        INSERT INTO oc_membership_version (deployment_id) VALUES (@DeploymentId)
        ON CONFLICT (deployment_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*) > 0 FROM created;
$q$),
('UpdateIAmAlivetimeKey', $q$
    UPDATE oc_membership
    SET i_am_alive_time = @IAmAliveTime
    WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation;
$q$),
-- The version row is bumped only when the silo is not yet listed, so a failed insert leaves the
-- version untouched. The row lock on the version row serialises concurrent writers: a loser
-- re-checks "version = @Version" after the winner commits and finds it stale.
('InsertMembershipKey', $q$
    WITH bumped AS (
        UPDATE oc_membership_version
        SET version = version + 1, updated_at = now()
        WHERE deployment_id = @DeploymentId AND version = @Version
          AND NOT EXISTS (
              SELECT 1 FROM oc_membership
              WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation)
        RETURNING deployment_id
    ), inserted AS (
        INSERT INTO oc_membership (deployment_id, address, port, generation, silo_name, host_name, status,
                                   proxy_port, start_time, i_am_alive_time)
        SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status,
               @ProxyPort, @StartTime, @IAmAliveTime
        FROM bumped
        RETURNING 1
    )
    SELECT count(*) > 0 FROM inserted;
$q$),
('UpdateMembershipKey', $q$
    WITH bumped AS (
        UPDATE oc_membership_version
        SET version = version + 1, updated_at = now()
        WHERE deployment_id = @DeploymentId AND version = @Version
          AND EXISTS (
              SELECT 1 FROM oc_membership
              WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation)
        RETURNING deployment_id
    ), updated AS (
        UPDATE oc_membership m
        SET status = @Status, suspect_times = @SuspectTimes, i_am_alive_time = @IAmAliveTime
        FROM bumped
        WHERE m.deployment_id = bumped.deployment_id
          AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
        RETURNING 1
    )
    SELECT count(*) > 0 FROM updated;
$q$),
('MembershipReadRowKey', $q$
    SELECT v.version AS Version,
           m.address AS Address, m.port AS Port, m.generation AS Generation,
           m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
           m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime
    FROM oc_membership_version v
    LEFT JOIN oc_membership m
           ON m.deployment_id = v.deployment_id
          AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
    WHERE v.deployment_id = @DeploymentId;
$q$),
('MembershipReadAllKey', $q$
    SELECT v.version AS Version,
           m.address AS Address, m.port AS Port, m.generation AS Generation,
           m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
           m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime
    FROM oc_membership_version v
    LEFT JOIN oc_membership m ON m.deployment_id = v.deployment_id
    WHERE v.deployment_id = @DeploymentId;
$q$),
('DeleteMembershipTableEntriesKey', $q$
    DELETE FROM oc_membership_version WHERE deployment_id = @DeploymentId;
$q$),
-- Status 3 is Active. Silos that stopped heartbeating before @IAmAliveTime and are not active are
-- long gone (the provider passes now minus DefunctSiloExpiration).
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM oc_membership
    WHERE deployment_id = @DeploymentId AND i_am_alive_time < @IAmAliveTime AND status <> 3;
$q$),
('GatewaysQueryKey', $q$
    SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
    FROM oc_membership
    WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
