using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Orleans.Search.Tests.Providers;

/// <summary>The reported regex query, through a real gateway process on the default <c>local</c> provider.</summary>
public sealed class HostileLocalQueryTests : IDisposable
{
    /// <summary>
    /// A gateway with an embedded silo idles at about 200 MB resident here. The reported query grew it by about
    /// 100 MB per second without end.
    /// </summary>
    private const long MaxResidentBytes = 1024L * 1024 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task The_reported_regex_query_completes_on_the_local_provider_and_the_gateway_stays_small()
    {
        // No providers configured: the default `local` provider over the sample corpus.
        await using var gateway = await GatewayProcess.StartAsync(_database.Folder, new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
        });
        using var http = gateway.Http();

        using var created = await http.PostAsync("/api/search-jobs", new StringContent("""{"query":"/.*a.{30}/"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var jobId = (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;

        var done = await Eventually.ReturnsAsync(async () =>
        {
            // Fail as soon as memory runs away, rather than at the deadline.
            var resident = Memory(gateway.ProcessId, "VmRSS");
            Assert.True(resident < MaxResidentBytes, $"the gateway holds {resident / 1024 / 1024} MB while the job runs");
            return await http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json);
        }, s => JobStates.IsTerminal(s!.Status), "the job to end", TimeSpan.FromSeconds(60));

        Assert.Equal(JobStates.Completed, done!.Status);
        Assert.All(done.Results, r => Assert.Equal("local", r.Provider));
        var peak = Memory(gateway.ProcessId, "VmHWM");
        Assert.True(peak < MaxResidentBytes, $"the gateway peaked at {peak / 1024 / 1024} MB");
    }

    /// <summary>A size line of /proc/{pid}/status (VmRSS: resident now, VmHWM: peak resident), in bytes.</summary>
    private static long Memory(int processId, string field)
    {
        var line = File.ReadLines($"/proc/{processId}/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
    }
}
