using System.Diagnostics;
using System.Text.Json;
using Orleans.Search.Cli;
using Orleans.Search.Tests.Api;

namespace Orleans.Search.Tests.Client;

/// <summary>The <c>orleans-search</c> tool run as an OS process (the built DLL) against a real gateway; checks its JSON and exit codes.</summary>
[Collection(ClientsGatewayCollection.Name)]
public sealed class CliTests(ClientsGatewayFixture fixture)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Search_follow_json_prints_the_finished_job_with_its_results_and_exits_0()
    {
        var query = TestJobs.UniqueQueries("cli-search", 1)[0];

        var run = await RunAsync("search", query, "--pages", "2", "--follow", "--json");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        var status = run.Json<JobStatus>();
        Assert.Equal(JobStates.Completed, status.Status);
        Assert.Equal(100, status.Progress);
        Assert.Equal(20, status.Results.Count);
        Assert.All(status.Results, r => Assert.Equal(query, r.Query));
        Assert.Equal(1, fixture.Searxng.RequestsFor(query, 2));
        Assert.Equal("", run.Stderr);

        // The same job through show, and in the list.
        var shown = await RunAsync("show", status.JobId, "--json");
        Assert.True(shown.ExitCode == ExitCodes.Ok, shown.ToString());
        Assert.Equal((status.JobId, JobStates.Completed, 20), (shown.Json<JobStatus>().JobId, shown.Json<JobStatus>().Status, shown.Json<JobStatus>().Results.Count));
        var jobs = await RunAsync("jobs", "--all", "--json");
        Assert.True(jobs.ExitCode == ExitCodes.Ok, jobs.ToString());
        Assert.Contains(jobs.Json<JobList>().Items, j => j.JobId == status.JobId && j.Status == JobStates.Completed);
    }

    [Fact]
    public async Task Search_without_follow_prints_the_created_job_and_exits_0()
    {
        var run = await RunAsync("search", TestJobs.UniqueQueries("cli-create", 1)[0], "--json", "--idempotency-key", $"cli-{Guid.NewGuid():N}");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        var created = run.Json<JobStatus>();
        Assert.False(string.IsNullOrEmpty(created.JobId));
        await GatewayApi.WaitForEndAsync(fixture.Alice, created.JobId);
    }

    [Fact]
    public async Task A_job_that_fails_exits_1()
    {
        var run = await RunAsync("search", $"{TestJobs.UniqueQueries("cli-fail", 1)[0]} {ClientsGatewayFixture.FailMarker}", "--follow", "--json");

        Assert.True(run.ExitCode == ExitCodes.JobNotCompleted, run.ToString());
        Assert.Equal(JobStates.Failed, run.Json<JobStatus>().Status);
    }

    [Fact]
    public async Task Cancel_of_a_running_job_exits_0_then_show_exits_1_and_delete_twice_exits_0_then_3()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("cli-cancel", 1)[0];
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(fixture.Alice, new { query, provider = "gated" });
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));

            var cancel = await RunAsync("cancel", created.JobId, "--json");
            Assert.True(cancel.ExitCode == ExitCodes.Ok, cancel.ToString());
            Assert.Equal(JobStates.Cancelled, cancel.Json<JobStatus>().Status);

            var show = await RunAsync("show", created.JobId, "--json");
            Assert.True(show.ExitCode == ExitCodes.JobNotCompleted, show.ToString());
            Assert.Equal(JobStates.Cancelled, show.Json<JobStatus>().Status);

            // Cancelling again changes nothing.
            var again = await RunAsync("cancel", created.JobId, "--json");
            Assert.True(again.ExitCode == ExitCodes.Ok, again.ToString());
            Assert.Equal(JobStates.Cancelled, again.Json<JobStatus>().Status);

            var delete = await RunAsync("delete", created.JobId, "--json");
            Assert.True(delete.ExitCode == ExitCodes.Ok, delete.ToString());
            Assert.True(JsonDocument.Parse(delete.Stdout).RootElement.GetProperty("deleted").GetBoolean());

            var gone = await RunAsync("delete", created.JobId, "--json");
            Assert.True(gone.ExitCode == ExitCodes.ApiError, gone.ToString());
            var problem = JsonDocument.Parse(gone.Stderr).RootElement;
            Assert.Equal(404, problem.GetProperty("status").GetInt32());
            Assert.Contains(created.JobId, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal("", gone.Stdout);
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_create_nothing()
    {
        var before = (await GatewayApi.ListAllAsync(fixture.Alice)).Count;
        foreach (var args in new[]
        {
            Array.Empty<string>(),
            ["frobnicate"],
            ["search"],
            ["search", "a", "b"],
            ["search", "x", "--pages", "many"],
            ["search", "x", "--pages", "11"],
            ["search", "x", "--colour"],
            ["show"],
            ["jobs", "--limit"],
            ["search", "x", "--url", "ftp://example.invalid/"],
        })
        {
            var run = await RunAsync(args);
            Assert.True(run.ExitCode == ExitCodes.Usage, $"{string.Join(' ', args)}: {run}");
            Assert.Contains("orleans-search", run.Stderr, StringComparison.Ordinal);
        }
        Assert.Equal(before, (await GatewayApi.ListAllAsync(fixture.Alice)).Count);
    }

    [Fact]
    public async Task An_api_problem_exits_3_with_the_problem_on_stderr()
    {
        // A refused key: 401.
        var refused = await RunAsync(["jobs", "--json"], apiKey: "not-a-key");
        Assert.True(refused.ExitCode == ExitCodes.ApiError, refused.ToString());
        Assert.Equal(401, JsonDocument.Parse(refused.Stderr).RootElement.GetProperty("status").GetInt32());

        // An invalid spec: 400 naming the field.
        var invalid = await RunAsync("search", "x", "--provider", "no-such-provider", "--json");
        Assert.True(invalid.ExitCode == ExitCodes.ApiError, invalid.ToString());
        var problem = JsonDocument.Parse(invalid.Stderr).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.True(problem.GetProperty("errors").TryGetProperty("provider", out _), invalid.Stderr);

        // Cancelling a job that completed is a 409 problem.
        var completed = await GatewayApi.CreateJobAsync(fixture.Alice, new { query = TestJobs.UniqueQueries("cli-409", 1)[0] });
        await GatewayApi.WaitForEndAsync(fixture.Alice, completed.JobId);
        var conflict = await RunAsync("cancel", completed.JobId, "--json");
        Assert.True(conflict.ExitCode == ExitCodes.ApiError, conflict.ToString());
        Assert.Equal(409, JsonDocument.Parse(conflict.Stderr).RootElement.GetProperty("status").GetInt32());

        // For people, the same problem in words.
        var words = await RunAsync("search", "x", "--provider", "no-such-provider");
        Assert.True(words.ExitCode == ExitCodes.ApiError, words.ToString());
        Assert.Contains("400", words.Stderr, StringComparison.Ordinal);
        Assert.Contains("provider", words.Stderr, StringComparison.Ordinal);

        // Nothing listening: unreachable is an API error too.
        var unreachable = await RunAsync(["jobs", "--json"], url: $"http://127.0.0.1:{Loopback.FreePort()}");
        Assert.True(unreachable.ExitCode == ExitCodes.ApiError, unreachable.ToString());
    }

    [Fact]
    public async Task Search_follow_for_people_shows_the_job_and_a_results_table_with_hostile_text_as_text()
    {
        var query = TestJobs.UniqueQueries("p", 1)[0] + " [bold]<b>";

        var run = await RunAsync("search", query, "--follow");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        var jobId = (await GatewayApi.ListAsync(fixture.Alice, "?limit=1")).Items[0].JobId;
        Assert.Contains(jobId, run.Stdout, StringComparison.Ordinal);
        Assert.Contains("completed", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Results", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(FakeResultHost, run.Stdout, StringComparison.Ordinal);
        // Redirected output gets no colours, and markup in the server's text is printed, not interpreted.
        Assert.DoesNotContain('\u001b', run.Stdout);
        Assert.Contains("[bold]", run.Stdout, StringComparison.Ordinal);
    }

    private const string FakeResultHost = Orleans.Search.Fakes.FakeSearxng.ResultHost;

    private Task<CliRun> RunAsync(params string[] args) => RunAsync(args, apiKey: ClientsGatewayFixture.AliceKey);

    /// <summary>Runs the tool with the key and URL in its environment (as a user would set them) and waits for it to exit.</summary>
    private async Task<CliRun> RunAsync(string[] args, string? apiKey = ClientsGatewayFixture.AliceKey, string? url = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Orleans.Search.Cli.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment.Remove(SearchCli.ApiKeyVariable);
        if (apiKey is not null)
        {
            start.Environment[SearchCli.ApiKeyVariable] = apiKey;
        }
        start.Environment[SearchCli.UrlVariable] = url ?? fixture.Gateway.BaseAddress.ToString();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"orleans-search {string.Join(' ', args)} did not exit within 2 minutes; stdout: {await stdout}; stderr: {await stderr}");
        }
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    private sealed record CliRun(int ExitCode, string Stdout, string Stderr)
    {
        public T Json<T>() => JsonSerializer.Deserialize<T>(Stdout, CliTests.Json) ?? throw new InvalidOperationException($"no JSON on stdout: {this}");

        public override string ToString() => $"exit {ExitCode}; stdout: {Stdout}; stderr: {Stderr}";
    }
}
