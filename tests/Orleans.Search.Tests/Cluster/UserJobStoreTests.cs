using Orleans.Search.Silo.Storage;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// The per-user job index, as the SQLite and the PostgreSQL store keep it: the same answers from both, on a schema
/// applied by the silo's own scripts (PostgreSQL: a database of this test's own).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class UserJobStoreTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Rows_per_job_list_newest_first_by_keyset_and_count_what_admission_needs(string storage)
    {
        await using var database = await StoreDatabase.CreateAsync(storage);
        var store = database.Store;
        var user = "user-" + Guid.NewGuid().ToString("N")[..6];
        var t0 = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567);
        JobSummary Job(string id, int second, string status, int updatedSecond = 0) => new()
        {
            JobId = id,
            Status = status,
            CreatedAt = t0.AddSeconds(second),
            UpdatedAt = t0.AddSeconds(Math.Max(second, updatedSecond)),
            Title = $"title of {id}",
            QueryCount = second + 1,
        };

        // Two jobs share a creation tick: ids break the tie bytewise ('a' after 'B'), whatever the database's locale.
        var jobs = new[]
        {
            Job("job0", 0, JobStates.Completed, updatedSecond: 30),
            Job("job1", 1, JobStates.Running),
            Job("B2", 2, JobStates.Failed, updatedSecond: 20),
            Job("a2", 2, JobStates.Running),
            Job("job3", 3, JobStates.Pending),
        };
        foreach (var job in jobs)
        {
            Assert.Null(await store.UpsertAsync(user, job));
        }
        await store.UpsertAsync("someone-else", Job("job9", 9, JobStates.Running));
        string[] newestFirst = ["job3", "a2", "B2", "job1", "job0"];

        var counts = await store.CountAsync(user, t0.AddSeconds(2));
        Assert.Equal((5, 3), (counts.Stored, counts.Active));
        Assert.Equal([t0.AddSeconds(2), t0.AddSeconds(2), t0.AddSeconds(3)], counts.CreatedSince);

        // Whole list, then page by page after the last item of each page: the same order, every field as written.
        var all = await store.ListAsync(user, null, 100, null);
        Assert.Equal(newestFirst, all.Select(j => j.JobId));
        Assert.Equal(jobs.OrderBy(j => Array.IndexOf(newestFirst, j.JobId)), all);
        var paged = new List<string>();
        JobPosition? after = null;
        while (true)
        {
            var page = await store.ListAsync(user, null, 2, after);
            paged.AddRange(page.Select(j => j.JobId));
            if (page.Count < 2)
            {
                break;
            }
            after = new JobPosition(page[^1].CreatedAt, page[^1].JobId);
        }
        Assert.Equal(newestFirst, paged);
        Assert.Equal(["a2", "job1"], (await store.ListAsync(user, JobStates.Running, 10, null)).Select(j => j.JobId));
        Assert.Equal(["job1"], (await store.ListAsync(user, JobStates.Running, 10, new JobPosition(t0.AddSeconds(2), "a2"))).Select(j => j.JobId));

        // An update says what the row was, keeps its place (creation time) and changes it in place.
        Assert.Equal(JobStates.Running, await store.UpsertAsync(user, Job("job1", 1, JobStates.Cancelled, updatedSecond: 10) with { CreatedAt = t0.AddSeconds(50) }));
        var updated = (await store.ListAsync(user, JobStates.Cancelled, 10, null)).Single();
        Assert.Equal(("job1", t0.AddSeconds(1), t0.AddSeconds(10)), (updated.JobId, updated.CreatedAt, updated.UpdatedAt));
        Assert.Equal((5, 2), ((await store.CountAsync(user, t0)).Stored, (await store.CountAsync(user, t0)).Active));

        // The oldest finished job by its last update: job1 (cancelled at +10) before B2 (+20) and job0 (+30).
        Assert.Equal(t0.AddSeconds(10), await store.OldestFinishedAsync(user));
        Assert.Null(await store.OldestFinishedAsync("nobody"));

        Assert.Equal(JobStates.Cancelled, await store.RemoveAsync(user, "job1"));
        Assert.Null(await store.RemoveAsync(user, "job1"));
        Assert.Equal(["job3", "a2", "B2", "job0"], (await store.ListAsync(user, null, 100, null)).Select(j => j.JobId));
        Assert.Equal(4, (await store.CountAsync(user, t0)).Stored);
        Assert.Equal(["job9"], (await store.ListAsync("someone-else", null, 100, null)).Select(j => j.JobId));
        Assert.Equal(5L, await database.CountRowsAsync());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Concurrent_upserts_share_commits_and_each_learns_what_its_row_was(string storage)
    {
        await using var database = await StoreDatabase.CreateAsync(storage);
        var store = database.Store;
        var t0 = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        JobSummary Job(int user, int job, string status) => new()
        {
            JobId = $"u{user}j{job}",
            Status = status,
            CreatedAt = t0.AddSeconds(job),
            UpdatedAt = t0.AddSeconds(job),
            Title = $"job {job} of user {user}",
            QueryCount = 1,
        };
        const int users = 20;
        // Each user's job 0 exists (running) before the burst; the burst ends it and creates jobs 1 and 2.
        for (var u = 0; u < users; u++)
        {
            Assert.Null(await store.UpsertAsync($"user{u}", Job(u, 0, JobStates.Running)));
        }
        var commitsBefore = ((AdoUserJobStore)store).Commits;

        // On SQLite the burst arrives while another write holds the database: it must wait, and it waits as one.
        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = database.WriteLock?.TakeTurnAsync(() => hold.Task);
        var burst = Enumerable.Range(0, users).SelectMany(u => new[]
        {
            (Expected: (string?)JobStates.Running, Task: store.UpsertAsync($"user{u}", Job(u, 0, JobStates.Completed))),
            (Expected: null, Task: store.UpsertAsync($"user{u}", Job(u, 1, JobStates.Running))),
            (Expected: null, Task: store.UpsertAsync($"user{u}", Job(u, 2, JobStates.Running))),
        }).ToList();
        hold.SetResult(true);
        if (held is not null)
        {
            await held;
        }
        var previous = await Task.WhenAll(burst.Select(b => b.Task));

        Assert.Equal(burst.Select(b => b.Expected), previous);
        Assert.Equal(users * 3L, await database.CountRowsAsync());
        for (var u = 0; u < users; u++)
        {
            var counts = await store.CountAsync($"user{u}", t0);
            Assert.Equal((3, 2), (counts.Stored, counts.Active));
        }
        var commits = ((AdoUserJobStore)store).Commits - commitsBefore;
        if (storage == "sqlite")
        {
            // All 60 were queued while the first one's drain waited for its turn: one transaction took them all.
            Assert.Equal(1, commits);
        }
        else
        {
            Assert.InRange(commits, 1, burst.Count);
        }
    }

    /// <summary>A fresh database with the schema applied, and the store on it.</summary>
    private sealed class StoreDatabase : IAsyncDisposable
    {
        private readonly TempDatabase? _sqlite;
        private readonly PostgresDatabase? _postgres;

        private StoreDatabase(IUserJobStore store, TempDatabase? sqlite, PostgresDatabase? postgres, SqliteWriteLock? writeLock = null)
        {
            Store = store;
            WriteLock = writeLock;
            _sqlite = sqlite;
            _postgres = postgres;
        }

        public IUserJobStore Store { get; }

        /// <summary>The lock the SQLite store's writes take turns on (null on PostgreSQL).</summary>
        public SqliteWriteLock? WriteLock { get; }

        public static async Task<StoreDatabase> CreateAsync(string storage)
        {
            const string serviceId = "store-test";
            if (storage == "postgres")
            {
                var postgres = await PostgresDatabase.CreateAsync();
                await OrleansSchema.ApplyPostgresAsync(postgres.ConnectionString);
                return new StoreDatabase(new PostgresUserJobStore(postgres.ConnectionString, serviceId), null, postgres);
            }
            var sqlite = new TempDatabase();
            await OrleansSchema.ApplySqliteAsync(sqlite.ConnectionString);
            var writeLock = new SqliteWriteLock();
            return new StoreDatabase(new SqliteUserJobStore(sqlite.ConnectionString, serviceId, writeLock), sqlite, null, writeLock);
        }

        /// <summary>Rows in the index table, all users.</summary>
        public async Task<long> CountRowsAsync()
        {
            const string sql = "SELECT count(*) FROM orleans_search_user_jobs";
            if (_postgres is not null)
            {
                return await _postgres.ScalarAsync<long>(sql);
            }
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(_sqlite!.ConnectionString);
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return (long)(await command.ExecuteScalarAsync())!;
        }

        public async ValueTask DisposeAsync()
        {
            if (_postgres is not null)
            {
                await _postgres.DisposeAsync();
            }
            _sqlite?.Dispose();
        }
    }
}
