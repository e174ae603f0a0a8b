using System.Net;
using System.Net.Http.Headers;

namespace Orleans.Search.Tests.Api;

[Collection(KeyedGatewayCollection.Name)]
public sealed class AuthTests(KeyedGatewayFixture fixture)
{
    private HttpClient Alice => fixture.Alice;

    private HttpClient Bob => fixture.Bob;

    public static TheoryData<string, string> ApiRoutes() => new()
    {
        { "POST", "/api/search-jobs" },
        { "POST", "/api/search" },
        { "GET", "/api/search-jobs" },
        { "GET", "/api/search-jobs/0123456789abcdef0123456789abcdef" },
        { "GET", "/api/search-jobs/0123456789abcdef0123456789abcdef/events" },
        { "POST", "/api/search-jobs/0123456789abcdef0123456789abcdef/cancel" },
        { "GET", "/api/search-jobs/0123456789abcdef0123456789abcdef/debug" },
        { "GET", "/api/rate-limits" },
    };

    [Theory]
    [MemberData(nameof(ApiRoutes))]
    public async Task Api_without_a_key_is_401_problem(string method, string path)
    {
        using var response = await fixture.Anonymous.SendAsync(Request(method, path));

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("API key", problem.Detail, StringComparison.Ordinal);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
    }

    [Theory]
    [MemberData(nameof(ApiRoutes))]
    public async Task Api_with_a_wrong_key_is_401_problem(string method, string path)
    {
        using var bearer = Request(method, path);
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-mallory");
        using var header = Request(method, path);
        header.Headers.Add("X-Api-Key", "key-alice-but-not-quite");

        foreach (var request in new[] { bearer, header })
        {
            using var response = await fixture.Anonymous.SendAsync(request);
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("not valid", problem.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("text/event-stream")]
    [InlineData("text/html")]
    public async Task A_problem_is_written_as_problem_json_whatever_the_client_accepts(string accept)
    {
        // An EventSource sends Accept: text/event-stream; its 401 (or 404, 429, 413) is still a problem, not a 500.
        using var request = Request("GET", "/api/search-jobs/0123456789abcdef0123456789abcdef/events");
        request.Headers.Accept.ParseAdd(accept);
        using var response = await fixture.Anonymous.SendAsync(request);

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("API key", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_is_recognised_by_its_hash_only()
    {
        // The gateway holds only hashes: the stored hash itself, or a near miss of the key, is not the key.
        var presented = new[]
        {
            TestKeys.Sha256(KeyedGatewayFixture.AliceKey),
            TestKeys.Sha256(KeyedGatewayFixture.AliceKey).ToUpperInvariant(),
            KeyedGatewayFixture.AliceKey.ToUpperInvariant(),
            KeyedGatewayFixture.AliceKey[..^1],
            KeyedGatewayFixture.AliceKey + "x",
            new string('k', 4000),
        };
        foreach (var key in presented)
        {
            using var client = fixture.Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", key));
            using var response = await client.GetAsync("/api/rate-limits");
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("not valid", problem.Detail, StringComparison.Ordinal);
        }
        using var alice = fixture.Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", $"  {KeyedGatewayFixture.AliceKey} "));
        Assert.Equal("user:alice", (string?)(await GatewayApi.GetJsonAsync(alice, "/api/rate-limits"))["user"]!["key"]);
    }

    [Fact]
    public async Task Metrics_need_a_key_with_the_admin_role()
    {
        using (var anonymous = await fixture.Anonymous.GetAsync("/metrics"))
        {
            await GatewayApi.ReadProblemAsync(anonymous, HttpStatusCode.Unauthorized);
        }
        using (var user = await Alice.GetAsync("/metrics"))
        {
            var problem = await GatewayApi.ReadProblemAsync(user, HttpStatusCode.Forbidden);
            Assert.Contains("admin", problem.Detail, StringComparison.Ordinal);
        }
        using var admin = await fixture.Ops.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Contains("# TYPE", await admin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_key_is_a_user_of_the_api_too()
    {
        var limits = await GatewayApi.GetJsonAsync(fixture.Ops, "/api/rate-limits");
        Assert.Equal("user:ops", (string?)limits["user"]!["key"]);
    }

    [Fact]
    public async Task A_wrong_key_creates_nothing()
    {
        var before = (await GatewayApi.ListAllAsync(Alice)).Select(j => j.JobId).ToList();
        using var request = Request("POST", "/api/search-jobs");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-mallory");
        using var response = await fixture.Anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(before, (await GatewayApi.ListAllAsync(Alice)).Select(j => j.JobId));
    }

    [Fact]
    public async Task Health_and_OpenApi_need_no_key()
    {
        foreach (var path in new[] { "/healthz", "/readyz", "/openapi/v1.json" })
        {
            using var response = await fixture.Anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Bearer_and_X_Api_Key_both_identify_the_user()
    {
        using var aliceByHeader = fixture.Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", KeyedGatewayFixture.AliceKey));
        var created = await GatewayApi.CreateJobAsync(Alice, new { query = TestJobs.UniqueQueries("auth", 1)[0] });

        Assert.Equal(created.JobId, (await GatewayApi.GetJobAsync(aliceByHeader, created.JobId)).JobId);
        var aliceLimits = await GatewayApi.GetJsonAsync(aliceByHeader, "/api/rate-limits");
        Assert.Equal("user:alice", (string?)aliceLimits["user"]!["key"]);
        var bobLimits = await GatewayApi.GetJsonAsync(Bob, "/api/rate-limits");
        Assert.Equal("user:bob", (string?)bobLimits["user"]!["key"]);
        await GatewayApi.WaitForEndAsync(Alice, created.JobId);
    }

    [Fact]
    public async Task Another_users_job_is_404_for_status_events_cancel_and_debug_and_stays_untouched()
    {
        var query = TestJobs.UniqueQueries("private", 1)[0];
        var created = await GatewayApi.CreateJobAsync(Alice, new { query, pages = 2 });
        var id = created.JobId;

        foreach (var path in new[] { $"/api/search-jobs/{id}", $"/api/search-jobs/{id}/events", $"/api/search-jobs/{id}/debug" })
        {
            using var response = await Bob.GetAsync(path);
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
            Assert.DoesNotContain(query, problem.Raw, StringComparison.Ordinal);
        }
        using (var cancel = await Bob.PostAsync($"/api/search-jobs/{id}/cancel", null))
        {
            var problem = await GatewayApi.ReadProblemAsync(cancel, HttpStatusCode.NotFound);
            Assert.DoesNotContain(query, problem.Raw, StringComparison.Ordinal);
        }
        using (var events = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{id}/events"))
        {
            events.Headers.Add("Last-Event-ID", "1");
            using var response = await Bob.SendAsync(events);
            await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
        }
        Assert.DoesNotContain(await GatewayApi.ListAllAsync(Bob), j => j.JobId == id);

        // Bob's cancel did nothing: alice's job runs to completion, and she sees it.
        var done = await GatewayApi.WaitForEndAsync(Alice, id);
        Assert.Equal((JobStates.Completed, 20), (done.Status, done.Results.Count));
        Assert.Contains(await GatewayApi.ListAllAsync(Alice), j => j.JobId == id);
        using var aliceDebug = await Alice.GetAsync($"/api/search-jobs/{id}/debug");
        Assert.Equal(HttpStatusCode.OK, aliceDebug.StatusCode);
    }

    [Fact]
    public async Task The_same_Idempotency_Key_from_two_users_makes_two_jobs()
    {
        var key = $"shared-{Guid.NewGuid():N}";
        var spec = new { query = TestJobs.UniqueQueries("idem-users", 1)[0] };

        var alices = await GatewayApi.CreateJobAsync(Alice, spec, key);
        var bobs = await GatewayApi.CreateJobAsync(Bob, spec, key);
        var alicesAgain = await GatewayApi.CreateJobAsync(Alice, spec, key);

        Assert.NotEqual(alices.JobId, bobs.JobId);
        Assert.Equal(alices.JobId, alicesAgain.JobId);
        using var bobPeeks = await Bob.GetAsync($"/api/search-jobs/{alices.JobId}");
        Assert.Equal(HttpStatusCode.NotFound, bobPeeks.StatusCode);
        await GatewayApi.WaitForEndAsync(Alice, alices.JobId);
        await GatewayApi.WaitForEndAsync(Bob, bobs.JobId);
    }

    [Fact]
    public async Task Each_user_lists_only_their_own_jobs()
    {
        var alices = await GatewayApi.CreateJobAsync(Alice, new { query = TestJobs.UniqueQueries("mine", 1)[0] });
        var bobs = await GatewayApi.CreateJobAsync(Bob, new { query = TestJobs.UniqueQueries("mine", 1)[0] });

        var aliceList = await GatewayApi.ListAllAsync(Alice);
        var bobList = await GatewayApi.ListAllAsync(Bob);

        Assert.Contains(aliceList, j => j.JobId == alices.JobId);
        Assert.DoesNotContain(aliceList, j => j.JobId == bobs.JobId);
        Assert.Contains(bobList, j => j.JobId == bobs.JobId);
        Assert.DoesNotContain(bobList, j => j.JobId == alices.JobId);
        Assert.Empty(aliceList.Select(j => j.JobId).Intersect(bobList.Select(j => j.JobId)));
        await GatewayApi.WaitForEndAsync(Alice, alices.JobId);
        await GatewayApi.WaitForEndAsync(Bob, bobs.JobId);
    }

    private static HttpRequestMessage Request(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = GatewayApi.JsonBody("""{"query":"a"}""");
        }
        return request;
    }
}
