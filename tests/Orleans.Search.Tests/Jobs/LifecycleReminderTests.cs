using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// A create writes no reminder: until its first stall check registers one, the active-job shard is what resumes the job
/// after a crash (see <see cref="CrashRecoveryTests"/>: killed the instant its 202 arrives, it resumes with no reminder).
/// </summary>
public sealed class LifecycleReminderTests : IAsyncLifetime
{
    private FakeSearxng _searxng = null!;

    public async Task InitializeAsync() =>
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(10) });

    public async Task DisposeAsync()
    {
        _searxng.Options.OpenGate();
        await _searxng.DisposeAsync();
    }

    [Fact]
    public async Task A_created_job_is_in_its_shard_and_has_no_reminder_until_its_first_stall_check()
    {
        // Held by the provider, so it stays running; its stall check is ten minutes away.
        _searxng.Options.CloseGate();
        await using var gateway = await StartAsync(stallCheck: "00:10:00");
        var jobId = await CreateAsync(gateway, "no-reminder-on-create");

        Assert.Equal(0, await CountAsync(gateway, "SELECT count(*) FROM OrleansRemindersTable WHERE GrainId LIKE $like", jobId));
        // The shard's row names it: the startup sweep would resume it.
        Assert.Equal(1, await CountAsync(gateway,
            "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = 'active-jobs' AND CAST(PayloadBinary AS TEXT) LIKE $like", jobId));
    }

    [Fact]
    public async Task A_running_job_registers_its_reminder_at_its_first_stall_check()
    {
        _searxng.Options.CloseGate();
        await using var gateway = await StartAsync(stallCheck: "00:00:01");
        var jobId = await CreateAsync(gateway, "reminder-at-stall-check");

        await Eventually.ReturnsAsync(() => CountAsync(gateway, "SELECT count(*) FROM OrleansRemindersTable WHERE GrainId LIKE $like", jobId),
            n => n == 1, "the running job's lifecycle reminder to be registered", TimeSpan.FromSeconds(30));
        var status = await gateway.Http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}");
        Assert.Equal(JobStates.Running, status!.Status);
    }

    [Fact]
    public async Task A_job_that_ends_before_its_first_stall_check_gets_one_reminder_for_its_retention()
    {
        await using var gateway = await StartAsync(stallCheck: "00:10:00");
        var jobId = await CreateAsync(gateway, "ends-quickly");

        await Eventually.ReturnsAsync(() => gateway.Http.GetFromJsonAsync<JobList>("/api/search-jobs"),
            list => list!.Items.Any(j => j.JobId == jobId && j.Status == JobStates.Completed), "the job to end and be indexed as ended");
        // Registered after the index entry; the retention reminder's period is the retention (a day by default).
        await Eventually.ReturnsAsync(() => CountAsync(gateway,
                "SELECT count(*) FROM OrleansRemindersTable WHERE GrainId LIKE $like AND Period >= 3600000", jobId),
            n => n == 1, "the retention reminder", TimeSpan.FromSeconds(30));
    }

    private Task<GatewayHost> StartAsync(string stallCheck) => GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["Jobs:StallCheckPeriod"] = stallCheck,
        ["Search:DefaultProvider"] = "web",
        ["Search:Providers:web:Kind"] = "searxng",
        ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
        ["Search:Providers:web:PermitsPerMinute"] = "60000",
        ["Search:Providers:web:Burst"] = "50",
    });

    private static async Task<string> CreateAsync(GatewayHost gateway, string tag)
    {
        using var created = await gateway.Http.PostAsJsonAsync("/api/search-jobs", new { queries = TestJobs.UniqueQueries(tag, 2), pages = 1 });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JobStatus>())!.JobId;
    }

    private static async Task<long> CountAsync(GatewayHost gateway, string sql, string jobId)
    {
        await using var connection = new SqliteConnection(gateway.Services.GetRequiredService<IConfiguration>().GetConnectionString("Orleans"));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$like", "%" + jobId + "%");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
