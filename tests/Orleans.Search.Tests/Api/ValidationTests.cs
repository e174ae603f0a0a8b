using System.Net;
using System.Text;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class ValidationTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    /// <summary>Case name, body, the field the problem must name.</summary>
    public static TheoryData<string, string, string> InvalidSpecs() => new()
    {
        { "query too long", GatewayApi.ToJson(new { query = new string('q', 1001) }), "query" },
        { "query blank", """{"query":"   "}""", "query" },
        { "query empty", """{"query":""}""", "query" },
        { "query and queries", """{"query":"a","queries":["b"]}""", "query" },
        { "neither query nor queries", """{"pages":1}""", "query" },
        { "empty object", "{}", "query" },
        { "queries empty", """{"queries":[]}""", "queries" },
        { "queries 51", GatewayApi.ToJson(new { queries = Enumerable.Range(1, 51).Select(i => $"q{i}").ToArray() }), "queries" },
        { "queries blank item", """{"queries":["a","b","  "]}""", "queries[2]" },
        { "queries null item", """{"queries":["a",null]}""", "queries[1]" },
        { "queries item too long", GatewayApi.ToJson(new { queries = new[] { "a", new string('q', 1001) } }), "queries[1]" },
        { "pages 0", """{"query":"a","pages":0}""", "pages" },
        { "pages 11", """{"query":"a","pages":11}""", "pages" },
        { "unknown provider", """{"query":"a","provider":"nope"}""", "provider" },
        { "waitSeconds 301", """{"query":"a","waitSeconds":301}""", "waitSeconds" },
        { "waitSeconds -1", """{"query":"a","waitSeconds":-1}""", "waitSeconds" },
        { "pages not a number", """{"query":"a","pages":"abc"}""", "pages" },
        { "queries item not a string", """{"queries":["a",5]}""", "queries[1]" },
        { "query not a string", """{"query":{"text":"a"}}""", "query" },
        { "body an array", """["a"]""", "body" },
        { "body empty", "", "body" },
        { "body null", "null", "body" },
        { "body truncated inside query", """{"query":""", "query" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task Create_with_invalid_spec_is_400_naming_the_field(string name, string body, string field)
    {
        using var response = await GatewayApi.PostAsync(Http, "/api/search-jobs", body);
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, field);
        Assert.True(problem.Errors.Count >= 1, name);
    }

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task Search_with_invalid_spec_is_400_naming_the_field(string name, string body, string field)
    {
        using var response = await GatewayApi.PostAsync(Http, "/api/search", body);
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, field);
        Assert.True(problem.Errors.Count >= 1, name);
    }

    [Fact]
    public async Task Create_with_query_too_long_is_400_saying_the_limit()
    {
        using var response = await GatewayApi.CreateAsync(Http, new { query = new string('q', 1001) });
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "query");
        Assert.Contains("1000", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_with_blank_queries_item_is_400_naming_queries_2()
    {
        using var response = await GatewayApi.CreateAsync(Http, new { queries = new[] { "a", "b", " " } });
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "queries[2]");
        Assert.Equal(["queries[2]"], problem.Errors.Keys);
    }

    [Fact]
    public async Task Create_with_several_mistakes_names_each_field()
    {
        using var response = await GatewayApi.PostAsync(Http, "/api/search-jobs", """{"query":" ","pages":0,"provider":"nope"}""");
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "query");
        Assert.Contains("pages", problem.Errors.Keys);
        Assert.Contains("provider", problem.Errors.Keys);
        Assert.Contains("pages", problem.Detail, StringComparison.Ordinal);
        Assert.Contains("provider", problem.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task Create_with_wrong_content_type_is_415_problem(string? contentType)
    {
        foreach (var path in new[] { "/api/search-jobs", "/api/search" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"query":"a"}""")) };
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            using var response = await Http.SendAsync(request);
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
            Assert.Contains("application/json", problem.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("k-201")]
    public async Task Create_with_bad_Idempotency_Key_is_400_naming_the_header(string key)
    {
        var value = key == "k-201" ? new string('k', 201) : key;
        using var response = await GatewayApi.CreateAsync(Http, new { query = "a" }, value);
        await GatewayApi.AssertInvalidFieldAsync(response, "Idempotency-Key");
    }

    [Theory]
    [InlineData("301")]
    [InlineData("-1")]
    [InlineData("abc")]
    public async Task Search_with_waitSeconds_out_of_range_in_the_query_string_is_400_naming_it(string wait)
    {
        using var response = await GatewayApi.PostAsync(Http, $"/api/search?waitSeconds={wait}", """{"query":"a"}""");
        await GatewayApi.AssertInvalidFieldAsync(response, "waitSeconds");
    }

    [Fact]
    public async Task Bad_requests_harm_nothing_stored()
    {
        var key = $"idem-{Guid.NewGuid():N}";
        var query = TestJobs.UniqueQueries("unharmed", 1)[0];
        var job = await GatewayApi.CreateJobAsync(Http, new { query }, key);
        var before = await GatewayApi.WaitForEndAsync(Http, job.JobId);
        // Earlier tests' jobs have all ended (and been indexed), so nothing changes the list but this test.
        var listBefore = await Eventually.ReturnsAsync(() => GatewayApi.ListAllAsync(Http), l => l.All(j => JobStates.IsTerminal(j.Status)), "every listed job ended");

        foreach (var (_, body, _) in InvalidSpecs().Select(row => ((string)row[0], (string)row[1], (string)row[2])))
        {
            using var create = await GatewayApi.PostAsync(Http, "/api/search-jobs", body, key);
            Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
            using var search = await GatewayApi.PostAsync(Http, "/api/search", body, key);
            Assert.Equal(HttpStatusCode.BadRequest, search.StatusCode);
        }
        using (var reused = await GatewayApi.CreateAsync(Http, new { query = query + " other" }, key))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        }
        using (var badKey = await GatewayApi.CreateAsync(Http, new { query }, new string('k', 201)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badKey.StatusCode);
        }
        using (var cancelDone = await Http.PostAsync($"/api/search-jobs/{job.JobId}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, cancelDone.StatusCode);
        }
        using (var badList = await Http.GetAsync("/api/search-jobs?limit=0&status=nope"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badList.StatusCode);
        }

        var listAfter = await GatewayApi.ListAllAsync(Http);
        Assert.Equal(listBefore, listAfter);
        var after = await GatewayApi.GetJobAsync(Http, job.JobId);
        Assert.Equal((before.Status, before.UpdatedAt, before.CompletedAt, before.LastSeq, before.Results.Count),
            (after.Status, after.UpdatedAt, after.CompletedAt, after.LastSeq, after.Results.Count));
        Assert.Equal(1, fixture.Searxng.RequestsFor(query, 1));
    }
}
