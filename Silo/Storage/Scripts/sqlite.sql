-- Orleans.Search: Orleans 10.4.2 ADO.NET schema for SQLite (invariant "System.Data.SQLite", driver Microsoft.Data.Sqlite).
-- Covers clustering, grain persistence and reminders, plus the product's own per-user job index.
--
-- Idempotent: OrleansSchema.ApplySqliteAsync runs it on every start, on new and existing databases.
-- Only IF NOT EXISTS and INSERT OR REPLACE / INSERT OR IGNORE are used, so existing rows are kept.
-- Triggers are created with IF NOT EXISTS, so a changed trigger body needs a new name (bump the _v1 suffix)
-- plus a DROP TRIGGER IF EXISTS for the old name.
--
-- Rules for the query texts (they keep SQLite correct under Orleans' pooled connections and concurrent silos):
--   * each mutation is ONE statement: it runs in its own implicit transaction, so it can't be left half done
--     or fail with SQLITE_BUSY after an earlier statement of the same batch was already committed;
--   * no BEGIN/COMMIT: a failed batch would leave a transaction open on a pooled connection;
--   * at most one row comes back. Where Orleans needs exactly one row (it calls First()), the mutation is followed
--     by "SELECT changes() > 0", which reads no table and so takes no lock;
--   * the membership table version is bumped by AFTER triggers, in the same statement as the row change.
-- Query texts are SQL string literals, so a quote inside them is doubled ('''' is the empty string '').

CREATE TABLE IF NOT EXISTS OrleansSearchSchema
(
    Version INTEGER NOT NULL PRIMARY KEY,
    AppliedAt TEXT NOT NULL
);

INSERT OR IGNORE INTO OrleansSearchSchema (Version, AppliedAt) VALUES (1, CURRENT_TIMESTAMP);

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

-- ---------------------------------------------------------------------------------------------------------------
-- Clustering (membership)
-- ---------------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId TEXT NOT NULL PRIMARY KEY,
    Timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    Version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId TEXT NOT NULL,
    Address TEXT NOT NULL,
    Port INTEGER NOT NULL,
    Generation INTEGER NOT NULL,
    SiloName TEXT NOT NULL,
    HostName TEXT NOT NULL,
    Status INTEGER NOT NULL,
    ProxyPort INTEGER NULL,
    SuspectTimes TEXT NULL,
    StartTime TEXT NOT NULL,
    IAmAliveTime TEXT NOT NULL,
    PRIMARY KEY (DeploymentId, Address, Port, Generation),
    FOREIGN KEY (DeploymentId) REFERENCES OrleansMembershipVersionTable (DeploymentId) ON DELETE CASCADE
);

-- A new silo row and a status/suspicion change are table changes: bump the version in the same statement.
-- UpdateIAmAlivetimeKey sets only IAmAliveTime, so it does not fire the update trigger (the contract forbids a bump).
CREATE TRIGGER IF NOT EXISTS OrleansMembershipInserted_v1
AFTER INSERT ON OrleansMembershipTable
BEGIN
    UPDATE OrleansMembershipVersionTable
    SET Version = Version + 1, Timestamp = CURRENT_TIMESTAMP
    WHERE DeploymentId = NEW.DeploymentId;
END;

CREATE TRIGGER IF NOT EXISTS OrleansMembershipUpdated_v1
AFTER UPDATE OF Status, SuspectTimes ON OrleansMembershipTable
BEGIN
    UPDATE OrleansMembershipVersionTable
    SET Version = Version + 1, Timestamp = CURRENT_TIMESTAMP
    WHERE DeploymentId = NEW.DeploymentId;
END;

-- ON DELETE CASCADE only works when a connection enables foreign keys, which Orleans' connections don't.
-- This trigger makes DeleteMembershipTableEntriesKey a single DELETE either way.
CREATE TRIGGER IF NOT EXISTS OrleansMembershipVersionDeleting_v1
BEFORE DELETE ON OrleansMembershipVersionTable
BEGIN
    DELETE FROM OrleansMembershipTable WHERE DeploymentId = OLD.DeploymentId;
END;

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('InsertMembershipVersionKey', '
    INSERT INTO OrleansMembershipVersionTable (DeploymentId, Timestamp, Version)
    VALUES (@DeploymentId, CURRENT_TIMESTAMP, 0)
    ON CONFLICT (DeploymentId) DO NOTHING;
    SELECT changes() > 0 AS Inserted;
');

-- Inserts only when the silo row is new AND the table version is still @Version; the trigger bumps the version.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('InsertMembershipKey', '
    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
    SELECT @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
    FROM OrleansMembershipVersionTable
    WHERE DeploymentId = @DeploymentId AND Version = @Version
    ON CONFLICT (DeploymentId, Address, Port, Generation) DO NOTHING;
    SELECT changes() > 0 AS Inserted;
');

-- Updates only while the table version is still @Version; the trigger bumps the version.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpdateMembershipKey', '
    UPDATE OrleansMembershipTable
    SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
        AND EXISTS (
            SELECT 1 FROM OrleansMembershipVersionTable
            WHERE DeploymentId = @DeploymentId AND Version = @Version);
    SELECT changes() > 0 AS Updated;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpdateIAmAlivetimeKey', '
    UPDATE OrleansMembershipTable
    SET IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
');

-- The version row is always returned (LEFT JOIN): Orleans reads the table version from the first row,
-- and a NULL StartTime means "no such silo".
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('MembershipReadRowKey', '
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
        m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m
        ON m.DeploymentId = v.DeploymentId
        AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
    WHERE v.DeploymentId = @DeploymentId;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('MembershipReadAllKey', '
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
        m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('GatewaysQueryKey', '
    SELECT Address, ProxyPort, Generation
    FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;
');

-- The BEFORE DELETE trigger removes the silo rows in the same statement.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteMembershipTableEntriesKey', '
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
');

-- Times are stored as Microsoft.Data.Sqlite writes DateTime parameters ("yyyy-MM-dd HH:mm:ss.FFFFFFF"),
-- so comparing the text compares the instants.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('CleanupDefunctSiloEntriesKey', '
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status != 3;
');

-- ---------------------------------------------------------------------------------------------------------------
-- Grain persistence
-- ---------------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS OrleansStorage
(
    GrainIdHash INTEGER NOT NULL,
    GrainIdN0 INTEGER NOT NULL,
    GrainIdN1 INTEGER NOT NULL,
    GrainTypeHash INTEGER NOT NULL,
    GrainTypeString TEXT NOT NULL,
    GrainIdExtensionString TEXT NULL,
    ServiceId TEXT NOT NULL,
    PayloadBinary BLOB NULL,
    ModifiedOn TEXT NOT NULL,
    Version INTEGER NULL
);

-- One row per grain, so WriteToStorageKey can upsert. String keys live in GrainIdExtensionString, which is
-- NULL for plain integer/Guid keys; SQLite treats NULLs as distinct in a UNIQUE index, hence the IFNULL.
-- The upsert's ON CONFLICT target and the lookups below repeat this expression exactly.
CREATE UNIQUE INDEX IF NOT EXISTS UX_OrleansStorage_Grain ON OrleansStorage
    (GrainIdHash, GrainTypeHash, ServiceId, GrainIdN0, GrainIdN1, GrainTypeString, IFNULL(GrainIdExtensionString, ''));

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadFromStorageKey', '
    SELECT PayloadBinary, Version
    FROM OrleansStorage
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
        AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
        AND IFNULL(GrainIdExtensionString, '''') = IFNULL(@GrainIdExtensionString, '''');
');

-- Optimistic concurrency in one UPSERT:
--   * @GrainStateVersion NULL, no row: inserted with Version 1, returns 1;
--   * @GrainStateVersion NULL, row exists: DO UPDATE is skipped (Version = NULL is never true), returns no row;
--   * @GrainStateVersion = Version: updated, returns Version + 1;
--   * @GrainStateVersion set but stale, or the row is gone: returns no row (the SELECT yields nothing
--     when there is no row to conflict with, so nothing is inserted).
-- Orleans turns "no row" into InconsistentStateException.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('WriteToStorageKey', '
    INSERT INTO OrleansStorage
        (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId,
         PayloadBinary, ModifiedOn, Version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId,
        @PayloadBinary, CURRENT_TIMESTAMP, 1
    WHERE @GrainStateVersion IS NULL
        OR EXISTS (
            SELECT 1 FROM OrleansStorage
            WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
                AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
                AND IFNULL(GrainIdExtensionString, '''') = IFNULL(@GrainIdExtensionString, ''''))
    ON CONFLICT (GrainIdHash, GrainTypeHash, ServiceId, GrainIdN0, GrainIdN1, GrainTypeString, IFNULL(GrainIdExtensionString, ''''))
    DO UPDATE SET
        PayloadBinary = excluded.PayloadBinary,
        ModifiedOn = excluded.ModifiedOn,
        Version = OrleansStorage.Version + 1
    WHERE OrleansStorage.Version = @GrainStateVersion
    RETURNING Version AS NewGrainStateVersion;
');

-- Keeps the row with a NULL payload and a new version; a stale version returns no row (a conflict).
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ClearStorageKey', '
    UPDATE OrleansStorage
    SET PayloadBinary = NULL, ModifiedOn = CURRENT_TIMESTAMP, Version = Version + 1
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
        AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
        AND IFNULL(GrainIdExtensionString, '''') = IFNULL(@GrainIdExtensionString, '''')
        AND Version = @GrainStateVersion
    RETURNING Version AS NewGrainStateVersion;
');

-- Used instead of ClearStorageKey when DeleteStateOnClear = true. Orleans only needs a value different from
-- the ETag it sent (it resets the ETag to null afterwards); a stale version returns no row (a conflict).
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteStorageKey', '
    DELETE FROM OrleansStorage
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
        AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
        AND IFNULL(GrainIdExtensionString, '''') = IFNULL(@GrainIdExtensionString, '''')
        AND Version = @GrainStateVersion
    RETURNING Version + 1 AS NewGrainStateVersion;
');

-- ---------------------------------------------------------------------------------------------------------------
-- Reminders
-- ---------------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS OrleansRemindersTable
(
    ServiceId TEXT NOT NULL,
    GrainId TEXT NOT NULL,
    ReminderName TEXT NOT NULL,
    StartTime TEXT NOT NULL,
    Period INTEGER NOT NULL,
    GrainHash INTEGER NOT NULL,
    Version INTEGER NOT NULL,
    PRIMARY KEY (ServiceId, GrainId, ReminderName)
);

-- Each silo loads the reminders of its hash range.
CREATE INDEX IF NOT EXISTS IX_OrleansRemindersTable_GrainHash ON OrleansRemindersTable (ServiceId, GrainHash);

-- Insert with Version 0 or bump the version; the returned Version is the reminder's new ETag.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpsertReminderRowKey', '
    INSERT INTO OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version)
    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (ServiceId, GrainId, ReminderName) DO UPDATE SET
        StartTime = excluded.StartTime,
        Period = excluded.Period,
        GrainHash = excluded.GrainHash,
        Version = OrleansRemindersTable.Version + 1
    RETURNING Version;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowsKey', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowKey', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadRangeRows1Key', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainHash > @BeginHash AND GrainHash <= @EndHash;
');

-- The range wraps around: (BeginHash, max] plus [min, EndHash].
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadRangeRows2Key', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND (GrainHash > @BeginHash OR GrainHash <= @EndHash);
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowKey', '
    DELETE FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName AND Version = @Version;
    SELECT changes() > 0 AS Deleted;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowsKey', '
    DELETE FROM OrleansRemindersTable WHERE ServiceId = @ServiceId;
');

-- ---------------------------------------------------------------------------------------------------------------
-- The per-user job index (ours, not Orleans'): one row per job, written by the user's UserJobsGrain only
-- ---------------------------------------------------------------------------------------------------------------

-- Times are UTC ticks (100 ns units since 0001-01-01), exactly what the API hands out, so a cursor's (created_at, job_id)
-- finds its row again. Text compares bytewise (SQLite's default BINARY collation), the order the API lists in.
CREATE TABLE IF NOT EXISTS orleans_search_user_jobs
(
    service_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    query_count INTEGER NOT NULL,
    PRIMARY KEY (service_id, user_id, job_id)
);

-- Keyset paging newest first, over all of a user's jobs or those of one status.
CREATE INDEX IF NOT EXISTS ix_orleans_search_user_jobs_newest
    ON orleans_search_user_jobs (service_id, user_id, created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS ix_orleans_search_user_jobs_status
    ON orleans_search_user_jobs (service_id, user_id, status, created_at DESC, job_id DESC);
