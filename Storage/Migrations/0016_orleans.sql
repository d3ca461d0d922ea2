-- What Orleans' ADO.NET providers (clustering and grain storage, invariant "Npgsql") read and write.
-- No Orleans package ships a schema, so it lives here with ours. The providers fetch their SQL at
-- start-up with the unquoted `SELECT QueryKey, QueryText FROM OrleansQuery`, so that table's names
-- must fold to these; everything else is ours to name. The providers bind @Name parameters and read
-- result columns by name (Npgsql matches names without regard to case; the aliases below spell the
-- provider's names anyway), so only single-column results depend on position.
CREATE TABLE orleansquery (
    querykey  text PRIMARY KEY,
    querytext text NOT NULL
);

-- Cluster membership. Orleans calls the cluster id DeploymentId here. Each cluster's version row is
-- the whole table's optimistic lock: a silo writes a membership row only together with moving the
-- version from the number it last read to the next one, so writers that raced on stale reads lose.
CREATE TABLE orleans_membership_version (
    deployment_id text        PRIMARY KEY,
    version       integer     NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per silo incarnation: a restart on the same endpoint comes back with a new generation.
-- status is Orleans' SiloStatus (3 active, 6 dead). The provider sends UTC DateTimes as
-- DbType.DateTime, which Npgsql binds as timestamptz, and rejects any other kind of DateTime.
-- Dropping a cluster's version row drops its members with it.
CREATE TABLE orleans_membership (
    deployment_id   text        NOT NULL REFERENCES orleans_membership_version ON DELETE CASCADE,
    address         text        NOT NULL,
    port            integer     NOT NULL,
    generation      integer     NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    status          integer     NOT NULL,
    proxy_port      integer     NOT NULL,
    suspect_times   text,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- Reads must yield at least one row carrying the cluster's version even when it has no members yet,
-- hence the version table on the left; member columns are NULL on that row and the provider skips it.
INSERT INTO orleansquery (querykey, querytext) VALUES
('MembershipReadAllKey', $q$
SELECT v.version AS "Version",
       m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
  FROM orleans_membership_version v
  LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
 WHERE v.deployment_id = @DeploymentId
$q$),
('MembershipReadRowKey', $q$
SELECT v.version AS "Version",
       m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
  FROM orleans_membership_version v
  LEFT JOIN orleans_membership m
         ON m.deployment_id = v.deployment_id
        AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
 WHERE v.deployment_id = @DeploymentId
$q$),
-- Clients pick gateways from this; the provider passes @Status = 3 (active).
('GatewaysQueryKey', $q$
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
  FROM orleans_membership
 WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$q$);

-- Every silo runs this at start; true only for the one that created the row.
INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) > 0 FROM created
$q$);

-- Writes return one boolean. @Version is the version the caller read (the provider passes its etag,
-- not the number it will become); the version moves only if it still matches and the row's
-- precondition holds (absent to insert, present to update), and the row changes only if it moved.
-- One statement, so a failed precondition leaves both tables untouched. A PRIMARY KEY clash from a
-- concurrent identical insert raises instead, which Orleans treats as a failed attempt and retries.
INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version v
       SET version = v.version + 1, changed_at = now()
     WHERE v.deployment_id = @DeploymentId AND v.version = @Version
       AND NOT EXISTS (SELECT 1 FROM orleans_membership m
                        WHERE m.deployment_id = @DeploymentId AND m.address = @Address
                          AND m.port = @Port AND m.generation = @Generation)
    RETURNING v.deployment_id
), added AS (
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name,
                                    status, proxy_port, start_time, i_am_alive_time)
    SELECT b.deployment_id, @Address, @Port, @Generation, @SiloName, @HostName,
           @Status, @ProxyPort, @StartTime, @IAmAliveTime
      FROM bumped b
    RETURNING 1
)
SELECT count(*) > 0 FROM added
$q$),
('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version v
       SET version = v.version + 1, changed_at = now()
     WHERE v.deployment_id = @DeploymentId AND v.version = @Version
       AND EXISTS (SELECT 1 FROM orleans_membership m
                    WHERE m.deployment_id = @DeploymentId AND m.address = @Address
                      AND m.port = @Port AND m.generation = @Generation)
    RETURNING v.deployment_id
), changed AS (
    UPDATE orleans_membership m
       SET status = @Status, suspect_times = @SuspectTimes, i_am_alive_time = @IAmAliveTime
      FROM bumped b
     WHERE m.deployment_id = b.deployment_id AND m.address = @Address
       AND m.port = @Port AND m.generation = @Generation
    RETURNING 1
)
SELECT count(*) > 0 FROM changed
$q$),
-- Heartbeats are not membership changes: they leave the version alone, and nothing reads a result.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership
   SET i_am_alive_time = @IAmAliveTime
 WHERE deployment_id = @DeploymentId AND address = @Address
   AND port = @Port AND generation = @Generation
$q$),
-- Dropping a whole cluster: the members go by the cascade.
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId
$q$);

-- Removing long-dead silos. "Old" means the newest of start, last heartbeat and every suspicion vote
-- (stored as "address,yyyy-MM-dd HH:mm:ss.fff GMT" joined by '|') is before the cutoff. With the
-- per-row query present the 10.4 provider reads the table, picks such rows itself and deletes each
-- one only if it is unchanged since it read it (the provider passes back what it read, suspicion
-- votes re-serialised; NULL and '' both mean none). The bulk query is what it runs without it, and
-- uses @IAmAliveTime as the cutoff. Neither moves the version: dead rows no longer take part.
INSERT INTO orleansquery (querykey, querytext) VALUES
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans_membership
 WHERE deployment_id = @DeploymentId AND address = @Address
   AND port = @Port AND generation = @Generation
   AND status = 6
   AND start_time = @StartTime AND i_am_alive_time = @IAmAliveTime
   AND coalesce(suspect_times, '') = coalesce(@SuspectTimes, '')
$q$),
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership m
 WHERE m.deployment_id = @DeploymentId
   AND m.status = 6
   AND m.start_time < @IAmAliveTime
   AND m.i_am_alive_time < @IAmAliveTime
   AND NOT EXISTS (SELECT 1 FROM string_to_table(m.suspect_times, '|') AS vote
                    WHERE vote <> '' AND split_part(vote, ',', 2)::timestamptz >= @IAmAliveTime)
$q$);

-- Grain state for AdoNetGrainStorage (it holds the streams' PubSubStore). The provider names a grain
-- by service, grain type and key: two 64-bit halves of a GUID or integer key, plus a string part for
-- string keys and key extensions (NULL when there is none). Both hashes are the provider's own,
-- computed by its configured hasher, and lead the key so lookups start on integers: changing the
-- hasher would orphan every row. payload is NULL once a grain's state is cleared.
CREATE TABLE orleans_grain_state (
    grain_id_hash      integer     NOT NULL,
    grain_type_hash    integer     NOT NULL,
    service_id         text        NOT NULL,
    grain_type         text        NOT NULL,
    grain_id_n0        bigint      NOT NULL,
    grain_id_n1        bigint      NOT NULL,
    grain_id_extension text,
    payload            bytea,
    version            integer     NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- NULLS NOT DISTINCT makes a key without a string part unique too, so two activations racing to
-- write a grain's first state cannot both create a row.
CREATE UNIQUE INDEX orleans_grain_state_key ON orleans_grain_state
    (grain_id_hash, grain_type_hash, service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_extension)
    NULLS NOT DISTINCT;

-- The etag is version. A write, clear or delete succeeds only against the version the grain holds
-- (@GrainStateVersion, NULL for a grain that has never been written) and answers with the grain's
-- new etag; answering no row tells the provider it lost a race, which it raises as
-- InconsistentStateException. Reading no row means the grain has no state yet.
INSERT INTO orleansquery (querykey, querytext) VALUES
('ReadFromStorageKey', $q$
SELECT payload AS "PayloadBinary", version AS "Version"
  FROM orleans_grain_state
 WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
   AND service_id = @ServiceId AND grain_type = @GrainTypeString
   AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
   AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
$q$),
-- Exactly one branch can act: the update needs a version to match, the insert needs there to be none
-- (and no row yet, or the unique index turns it into nothing).
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleans_grain_state
       SET payload = @PayloadBinary, version = version + 1, updated_at = now()
     WHERE @GrainStateVersion IS NOT NULL AND version = @GrainStateVersion
       AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
       AND service_id = @ServiceId AND grain_type = @GrainTypeString
       AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
       AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
    RETURNING version
), inserted AS (
    INSERT INTO orleans_grain_state (grain_id_hash, grain_type_hash, service_id, grain_type,
                                     grain_id_n0, grain_id_n1, grain_id_extension, payload, version)
    SELECT @GrainIdHash, @GrainTypeHash, @ServiceId, @GrainTypeString,
           @GrainIdN0, @GrainIdN1, @GrainIdExtensionString, @PayloadBinary, 1
     WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT version AS "NewGrainStateVersion" FROM updated
UNION ALL
SELECT version FROM inserted
$q$),
-- Clearing keeps the row, without a payload, so the version keeps counting up and a stale etag from
-- before the clear can never match again.
('ClearStorageKey', $q$
UPDATE orleans_grain_state
   SET payload = NULL, version = version + 1, updated_at = now()
 WHERE version = @GrainStateVersion
   AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
   AND service_id = @ServiceId AND grain_type = @GrainTypeString
   AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
   AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
RETURNING version
$q$),
-- Used instead when the provider is configured with DeleteStateOnClear. The provider wants an answer
-- that differs from the etag it sent, so the row's version plus one.
('DeleteStorageKey', $q$
DELETE FROM orleans_grain_state
 WHERE version = @GrainStateVersion
   AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
   AND service_id = @ServiceId AND grain_type = @GrainTypeString
   AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
   AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
RETURNING version + 1
$q$);
