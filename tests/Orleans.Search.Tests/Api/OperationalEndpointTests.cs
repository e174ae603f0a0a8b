using System.Net;
using System.Text.Json.Nodes;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class OperationalEndpointTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Rate_limits_show_the_callers_limiter_and_each_configured_provider()
    {
        // Nothing of this collection runs now (its tests run one at a time): once earlier tests' jobs have all ended
        // and their permits are back, only this test's job asks the limiters for anything.
        await Eventually.ReturnsAsync(() => GatewayApi.ListAllAsync(Http), l => l.All(j => JobStates.IsTerminal(j.Status)), "every listed job ended");
        var before = await Eventually.ReturnsAsync(() => GatewayApi.GetJsonAsync(Http, "/api/rate-limits"),
            l => Idle(l["user"]!) && l["providers"]!.AsArray().All(p => Idle(p!)), "every limiter idle");
        Assert.Equal(0, (long)Provider(before, "counted")["granted"]!);

        // One query of two pages on 'counted', which no other test uses: two calls, so two permits from each limiter.
        var query = TestJobs.UniqueQueries("limits", 1)[0];
        var created = await GatewayApi.CreateJobAsync(Http, new { query, pages = 2, provider = "counted" });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal((JobStates.Completed, 2), (done.Status, done.Stats.ApiCalls));

        // Releases are one-way messages: they may land just after the job ended.
        var limits = await Eventually.ReturnsAsync(() => GatewayApi.GetJsonAsync(Http, "/api/rate-limits"),
            l => Idle(l["user"]!) && Idle(Provider(l, "counted")), "the job's permits released");

        var user = limits["user"]!;
        Assert.Equal("user:local", (string?)user["key"]);
        Assert.Equal((60000.0, 200, 100), ((double)user["permitsPerMinute"]!, (int)user["burst"]!, (int)user["maxConcurrency"]!));
        Assert.Equal((long)before["user"]!["granted"]! + 2, (long)user["granted"]!);
        Assert.Equal((0, 0), ((int)user["queued"]!, (int)user["inFlight"]!));
        var providers = limits["providers"]!.AsArray().ToDictionary(p => (string)p!["key"]!, p => p!);
        Assert.Equal(["provider:counted", "provider:gated", "provider:held", "provider:local", "provider:metered", "provider:web"], providers.Keys.Order());
        var counted = providers["provider:counted"];
        Assert.Equal((0.6, 5, 5, 3), ((double)counted["permitsPerMinute"]!, (int)counted["burst"]!, (int)counted["burstInUse"]!, (int)counted["maxConcurrency"]!));
        Assert.Equal((2L, 0, 0, 0L), ((long)counted["granted"]!, (int)counted["queued"]!, (int)counted["inFlight"]!, (long)counted["throttled"]!));
        // Five tokens less the two taken, plus what 0.01 tokens a second brought back since (well under 10 s of it).
        Assert.InRange((double)counted["permitsAvailable"]!, 3.0, 3.1);
        Assert.Equal("closed", (string?)counted["circuit"]);
        var web = providers["provider:web"];
        Assert.Equal((60000.0, 200, 50), ((double)web["permitsPerMinute"]!, (int)web["burst"]!, (int)web["maxConcurrency"]!));
        var metered = providers["provider:metered"];
        Assert.Equal((0.1, 1, 5), ((double)metered["permitsPerMinute"]!, (int)metered["burst"]!, (int)metered["maxConcurrency"]!));
        Assert.All(providers.Values, p => Assert.True(Idle(p), $"{p["key"]} is not idle: {p}"));
    }

    private static bool Idle(JsonNode limiter) => (int)limiter["queued"]! == 0 && (int)limiter["inFlight"]! == 0;

    private static JsonNode Provider(JsonNode limits, string name) =>
        limits["providers"]!.AsArray().Single(p => (string?)p!["key"] == $"provider:{name}")!;

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Health_endpoints_answer_200(string path)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_document_lists_every_route()
    {
        var document = await GatewayApi.GetJsonAsync(Http, "/openapi/v1.json");

        var paths = document["paths"]!.AsObject();
        var expected = new (string Path, string Method)[]
        {
            ("/api/search-jobs", "post"),
            ("/api/search-jobs", "get"),
            ("/api/search", "post"),
            ("/api/search-jobs/{id}", "get"),
            ("/api/search-jobs/{id}/events", "get"),
            ("/api/search-jobs/{id}/cancel", "post"),
            ("/api/search-jobs/{id}/debug", "get"),
            ("/api/rate-limits", "get"),
            ("/api/providers", "get"),
        };
        foreach (var (path, method) in expected)
        {
            Assert.True(paths.ContainsKey(path), $"the OpenAPI document has no '{path}': {string.Join(", ", paths.Select(p => p.Key))}");
            Assert.True(paths[path]!.AsObject().ContainsKey(method), $"'{path}' has no {method}");
        }
        Assert.NotNull(paths["/api/search-jobs"]!["post"]!["requestBody"]);
    }

    [Fact]
    public async Task Unknown_route_is_404_problem_with_a_detail()
    {
        using var response = await Http.GetAsync("/api/no-such-thing");

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("/api/no-such-thing", problem.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PATCH", "/api/search-jobs/0123456789abcdef0123456789abcdef", "DELETE")]
    [InlineData("PUT", "/api/search-jobs", "GET")]
    [InlineData("GET", "/api/search", "POST")]
    public async Task Wrong_method_is_405_problem_naming_the_allowed_ones(string method, string path, string allowed)
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Contains(method, problem.Detail, StringComparison.Ordinal);
        Assert.Contains(allowed, problem.Detail, StringComparison.Ordinal);
        Assert.Contains(allowed, response.Content.Headers.Allow);
    }
}
