using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;
using Orleans.Search.Reading;
using Orleans.Search.Tests.Api;

namespace Orleans.Search.Tests.Reading;

/// <summary>
/// A real gateway (embedded silo) whose search results point at a loopback site: the fake SearXNG (<c>web</c>) answers
/// queries containing <see cref="ReadMarker"/> with the site's pages first, and fails queries containing
/// <see cref="FailMarker"/> with a 500 and a body. Provider <c>code</c> searches a folder of source files.
/// </summary>
public sealed class ReadingGatewayFixture : IAsyncLifetime
{
    public const string ReadMarker = "readmix";
    public const string FailMarker = "[fail500]";
    public const int MaxBytes = 64 * 1024;

    private readonly string _codeFolder = Path.Combine(Path.GetTempPath(), $"orleans-search-code-{Guid.NewGuid():N}");

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeSite Site { get; private set; } = null!;

    public HttpClient Http => Gateway.Http;

    /// <summary>The pages a <see cref="ReadMarker"/> query finds, best first: what each read should end as.</summary>
    public IReadOnlyList<string> ReadUrls { get; private set; } = [];

    /// <summary>Not on the allow list: the guard refuses it before any lookup.</summary>
    public const string RefusedUrl = "https://refused.example/page";

    public async Task InitializeAsync()
    {
        Site = await FakeSite.StartAsync();
        Site.Serve("/robots.txt", FakeSitePage.Text("User-agent: *\nDisallow: /private\n"))
            .Serve("/article", FakeSitePage.Html(
                "<html><head><title>The article</title></head><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
                + "<article><h1>Grains</h1><p>" + string.Join(" ", Enumerable.Repeat("Grains are virtual actors placed on demand.", 30)) + "</p></article></body></html>"))
            .Serve("/private/secret", FakeSitePage.Html("<p>never read</p>"))
            .Serve("/data.bin", new FakeSitePage { ContentType = "application/octet-stream", Body = new byte[2048] })
            .Serve("/slow", FakeSitePage.Html("<p>too late</p>") with { Delay = TimeSpan.FromMinutes(2) })
            .Serve("/huge", FakeSitePage.Html("<html><body><article><p>" + new string('x', 4 * MaxBytes) + "</p></article></body></html>"));
        ReadUrls = [Site.Url("/article"), Site.Url("/private/secret"), Site.Url("/data.bin"), Site.Url("/slow"), Site.Url("/huge"), RefusedUrl];
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = TimeSpan.FromMilliseconds(5),
            FailQueries = q => q.Contains(FailMarker, StringComparison.Ordinal),
            ShapeResult = r => r.Query.Contains(ReadMarker, StringComparison.Ordinal) && r.Page == 1 && r.Index <= ReadUrls.Count
                ? r with { Url = ReadUrls[r.Index - 1] }
                : r,
        });

        Directory.CreateDirectory(Path.Combine(_codeFolder, "src"));
        await File.WriteAllLinesAsync(Path.Combine(_codeFolder, "src", "alpha.cs"),
            ["// needle at the top", "line 2", "line 3", "line 4", "line 5", "line 6", "var needle = 7;", "line 8"]);

        var settings = GatewaySettings.Common(Searxng);
        settings["Net:AllowHosts:0"] = "127.0.0.1";
        settings["Read:TimeoutSeconds"] = "2";
        settings["Read:MaxBytes"] = MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Search:Providers:code:Kind"] = "code";
        settings["Search:Providers:code:Path"] = _codeFolder;
        settings["Search:Providers:code:ContextLines"] = "2";
        Gateway = await GatewayHost.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await FixtureParts.DisposeAsync(Gateway, Searxng, Site);
        Directory.Delete(_codeFolder, recursive: true);
    }
}

/// <summary>What a job shows of its provider calls, its reads and its results, through the HTTP API.</summary>
public sealed class ReadsAndResultsThroughGatewayTests(ReadingGatewayFixture fixture) : IClassFixture<ReadingGatewayFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Debug_shows_every_read_with_status_bytes_type_timings_and_the_reason_for_each_skip_or_failure()
    {
        var query = TestJobs.UniqueQueries(ReadingGatewayFixture.ReadMarker, 1)[0];
        var created = await GatewayApi.CreateJobAsync(Http, new { query, read = fixture.ReadUrls.Count });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);

        var debug = await GatewayApi.GetJsonAsync(Http, $"/api/search-jobs/{created.JobId}/debug");

        var reads = debug["reads"]!.AsArray().ToDictionary(r => (string)r!["url"]!, r => r!);
        Assert.Equal(fixture.ReadUrls.Order(), reads.Keys.Order());
        Assert.All(reads.Values, r => Assert.Null(r["text"]));
        Assert.All(reads.Values, r => Assert.NotNull(r["startedAt"]));

        var article = reads[fixture.Site.Url("/article")];
        Assert.Equal((PageReadStatuses.Read, 200, "text/html"), ((string?)article["status"], (int?)article["httpStatus"], (string?)article["contentType"]));
        Assert.Null(article["reason"]);
        Assert.True((long)article["bytes"]! > 1000, $"{article}");
        Assert.True((int)article["textLength"]! > 500, $"{article}");
        Assert.InRange((long)article["waitMs"]!, 0, (long)article["ms"]!);

        var robots = reads[fixture.Site.Url("/private/secret")];
        Assert.Equal((PageReadStatuses.Skipped, PageReadReasons.Robots), ((string?)robots["status"], (string?)robots["reason"]));
        Assert.Contains("robots.txt", (string?)robots["skipped"], StringComparison.Ordinal);
        Assert.Equal(0, fixture.Site.RequestsFor("/private/secret"));

        var binary = reads[fixture.Site.Url("/data.bin")];
        Assert.Equal((PageReadStatuses.Skipped, PageReadReasons.ContentType, "application/octet-stream"),
            ((string?)binary["status"], (string?)binary["reason"], (string?)binary["contentType"]));

        var slow = reads[fixture.Site.Url("/slow")];
        Assert.Equal((PageReadStatuses.Failed, PageReadReasons.Timeout), ((string?)slow["status"], (string?)slow["reason"]));
        Assert.Contains("timed out", (string?)slow["error"], StringComparison.Ordinal);

        var huge = reads[fixture.Site.Url("/huge")];
        Assert.Equal((PageReadStatuses.Read, PageReadReasons.Size, true, (long)ReadingGatewayFixture.MaxBytes),
            ((string?)huge["status"], (string?)huge["reason"], (bool?)huge["truncated"], (long?)huge["bytes"]));

        var refused = reads[ReadingGatewayFixture.RefusedUrl];
        Assert.Equal((PageReadStatuses.Skipped, PageReadReasons.Guard), ((string?)refused["status"], (string?)refused["reason"]));
        Assert.StartsWith("refused: ", (string?)refused["skipped"], StringComparison.Ordinal);

        // The same facts are in the status's reads[], where the reason is a word a program can test.
        Assert.Equal(PageReadReasons.Robots, done.Reads.Single(r => r.Url == fixture.Site.Url("/private/secret")).Reason);
    }

    [Fact]
    public async Task Debug_shows_each_provider_call_with_its_provider_status_timings_and_bytes_for_success_and_failure()
    {
        var queries = TestJobs.UniqueQueries("debug-bytes", 2);
        var failing = $"{queries[1]} {ReadingGatewayFixture.FailMarker}";
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = new[] { queries[0], failing } });
        await GatewayApi.WaitForEndAsync(Http, created.JobId);

        var debug = await GatewayApi.GetJsonAsync(Http, $"/api/search-jobs/{created.JobId}/debug");

        var perQuery = debug["queries"]!.AsArray();
        Assert.All(perQuery, q => Assert.Equal("web", (string?)q!["provider"]));
        var ok = Assert.Single(perQuery[0]!["attempts"]!.AsArray())!;
        Assert.Equal(200, (int)ok["statusCode"]!);
        Assert.True((long)ok["bytes"]! > 500, $"a page of ten results is more than 500 bytes: {ok}");
        Assert.NotNull(ok["startedAt"]);
        Assert.NotNull(ok["durationMs"]);
        Assert.NotNull(ok["limiterWaitMs"]);
        var failed = perQuery[1]!["attempts"]!.AsArray();
        Assert.NotEmpty(failed);
        Assert.All(failed, a => Assert.Equal(500, (int)a!["statusCode"]!));
        Assert.All(failed, a => Assert.True((long)a!["bytes"]! > 0, $"the error body was read: {a}"));
        Assert.All(failed, a => Assert.Contains("500", (string?)a!["error"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Code_results_carry_path_line_and_the_snippet_with_its_context_through_a_job()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { query = "needle", provider = "code", cache = false });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);

        using var response = await Http.GetAsync($"/api/search-jobs/{created.JobId}");
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var results = json["results"]!.AsArray().Select(r => r!).OrderBy(r => (int)r["line"]!).ToList();

        Assert.Equal([("src/alpha.cs", 1), ("src/alpha.cs", 7)], results.Select(r => ((string)r["path"]!, (int)r["line"]!)));
        // The first hit has no lines before it; the second has two on each side ("N:" marks the match, "N-" its context).
        Assert.Equal("1:// needle at the top\n2-line 2\n3-line 3", (string?)results[0]["snippet"]);
        Assert.Equal("5-line 5\n6-line 6\n7:var needle = 7;\n8-line 8", (string?)results[1]["snippet"]);
        Assert.All(results, r => Assert.EndsWith($"#L{(int)r["line"]!}", (string)r["url"]!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cached_code_page_keeps_path_and_line()
    {
        const string query = "/needle = \\d+;/";
        var first = await GatewayApi.CreateJobAsync(Http, new { query, provider = "code" });
        var firstDone = await GatewayApi.WaitForEndAsync(Http, first.JobId);
        var second = await GatewayApi.CreateJobAsync(Http, new { query, provider = "code" });
        var secondDone = await GatewayApi.WaitForEndAsync(Http, second.JobId);

        Assert.Equal(1, secondDone.Stats.CacheHits);
        var fromCache = (await GatewayApi.GetJobAsync(Http, second.JobId)).Results;
        Assert.Equal([((string?)"src/alpha.cs", (int?)7)], fromCache.Select(r => (r.Path, r.Line)));
        Assert.Equal((await GatewayApi.GetJobAsync(Http, first.JobId)).Results.Select(r => (r.Path, r.Line, r.Snippet)), fromCache.Select(r => (r.Path, r.Line, r.Snippet)));
        Assert.Equal(JobStates.Completed, firstDone.Status);
    }

    [Fact]
    public async Task Every_page_completed_on_the_event_stream_carries_that_page_results_and_the_stored_tail_keeps_none()
    {
        var query = TestJobs.UniqueQueries("live-results", 1)[0];
        var created = await GatewayApi.CreateJobAsync(Http, new { query, pages = 3 });

        var pages = new List<JobEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var message in SseClient.ReadAsync(Http, $"/api/search-jobs/{created.JobId}/events", lastEventId: "0", cancellationToken: timeout.Token))
        {
            if (message.Event == JobEventTypes.PageCompleted)
            {
                pages.Add(JsonSerializer.Deserialize<JobEvent>(message.Data, GatewayApi.Json)!);
            }
        }

        Assert.Equal([1, 2, 3], pages.Select(e => e.Page!.Value).Order());
        var final = await GatewayApi.GetJobAsync(Http, created.JobId);
        foreach (var e in pages)
        {
            Assert.NotNull(e.Results);
            Assert.Equal(e.ResultCount, e.Results.Count);
            Assert.All(e.Results, r => Assert.Equal((query, e.Page!.Value, "web"), (r.Query, r.Page, r.Provider)));
            Assert.Equal(Enumerable.Range(1, e.Results.Count), e.Results.Select(r => r.Rank));
        }
        Assert.Equal(final.Results.Select(r => r.Url).Order(), pages.SelectMany(e => e.Results!).Select(r => r.Url).Order());

        // Replayed from the tail after the end (no live event left to take them from), they still carry them.
        var replayed = new List<JobEvent>();
        await foreach (var message in SseClient.ReadAsync(Http, $"/api/search-jobs/{created.JobId}/events", lastEventId: "0", cancellationToken: timeout.Token))
        {
            if (message.Event == JobEventTypes.PageCompleted)
            {
                replayed.Add(JsonSerializer.Deserialize<JobEvent>(message.Data, GatewayApi.Json)!);
            }
        }
        Assert.Equal(pages.Select(e => (e.Seq, e.Results!.Count)), replayed.Select(e => (e.Seq, e.Results?.Count ?? 0)));
        Assert.Equal(pages.SelectMany(e => e.Results!).Select(r => r.Url), replayed.SelectMany(e => e.Results!).Select(r => r.Url));

        // The job's stored tail (what its row holds) has the events without their results.
        var job = fixture.Gateway.Services.GetRequiredService<IGrainFactory>().GetGrain<ISearchJobGrain>(created.JobId);
        var tail = (await job.GetEventsAsync("local", 0))!.Events.Where(e => e.Type == JobEventTypes.PageCompleted).ToList();
        Assert.Equal(3, tail.Count);
        Assert.All(tail, e => Assert.Null(e.Results));
    }
}
