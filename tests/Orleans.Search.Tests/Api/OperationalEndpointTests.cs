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
        // Use the limiters once, so the numbers are live ones.
        var created = await GatewayApi.CreateJobAsync(Http, new { query = TestJobs.UniqueQueries("limits", 1)[0] });
        await GatewayApi.WaitForEndAsync(Http, created.JobId);

        var limits = await GatewayApi.GetJsonAsync(Http, "/api/rate-limits");

        var user = limits["user"]!;
        Assert.Equal("user:local", (string?)user["key"]);
        Assert.Equal((60000.0, 200, 100), ((double)user["permitsPerMinute"]!, (int)user["burst"]!, (int)user["maxConcurrency"]!));
        Assert.True((long)user["granted"]! >= 1);
        var providers = limits["providers"]!.AsArray().ToDictionary(p => (string)p!["key"]!, p => p!);
        Assert.Equal(["provider:gated", "provider:local", "provider:metered", "provider:web"], providers.Keys.Order());
        var web = providers["provider:web"];
        Assert.Equal((60000.0, 200, 50), ((double)web["permitsPerMinute"]!, (int)web["burst"]!, (int)web["maxConcurrency"]!));
        Assert.True((long)web["granted"]! >= 1);
        var metered = providers["provider:metered"];
        Assert.Equal((0.1, 1, 5), ((double)metered["permitsPerMinute"]!, (int)metered["burst"]!, (int)metered["maxConcurrency"]!));
        foreach (var p in providers.Values)
        {
            Assert.NotNull(p["permitsAvailable"]);
            Assert.True((int)p["queued"]! >= 0);
            Assert.True((int)p["inFlight"]! >= 0);
        }
    }

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
    [InlineData("DELETE", "/api/search-jobs/0123456789abcdef0123456789abcdef", "GET")]
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
