using System.Net;
using System.Text;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class ValidationTests(OpenGatewayFixture fixture)
{
    /// <summary>The most errors one problem lists: validation stops there.</summary>
    private const int MaxErrors = 20;

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
        { "trailing content", """{"query":"a"} {"query":"b"}""", "body" },
        { "unknown member page", """{"query":"a","page":3}""", "page" },
        { "unknown member holding an object", """{"query":"a","extra":{"nested":[1,2]}}""", "extra" },
        { "20,000 unknown members", "{\"query\":\"a\"" + string.Concat(Enumerable.Repeat(",\"extra\":1", 20_000)) + "}", "extra" },
        { "query given twice", """{"query":"a","query":"b"}""", "query" },
        { "pages given twice", """{"query":"a","pages":1,"pages":2}""", "pages" },
        { "NUL in query", """{"query":"a\u0000b"}""", "query" },
        { "escape sequence in query", """{"query":"a\u001b[31mred"}""", "query" },
        { "newline in query", """{"query":"a\nb"}""", "query" },
        { "DEL in a queries item", """{"queries":["a","b\u007f"]}""", "queries[1]" },
        { "C1 control in a queries item", """{"queries":["a","b","c\u0085"]}""", "queries[2]" },
        { "control character in provider", """{"query":"a","provider":"web\u0000"}""", "provider" },
        { "nested 5,000 deep", "{\"query\":" + new string('[', 5000) + new string(']', 5000) + "}", "query" },
        { "mode unknown", """{"query":"a","mode":"thorough"}""", "mode" },
        { "expand 11", """{"query":"a","expand":11}""", "expand" },
        { "expand 0", """{"query":"a","expand":0}""", "expand" },
        { "expand a string", """{"query":"a","expand":"yes"}""", "expand" },
        { "expand with queries", """{"queries":["a","b"],"expand":true}""", "expand" },
        { "read 0", """{"query":"a","read":0}""", "read" },
        { "read 51", """{"query":"a","read":51}""", "read" },
        { "depth without deep mode", """{"query":"a","depth":2}""", "depth" },
        { "depth 6", """{"query":"a","mode":"deep","depth":6}""", "depth" },
        { "budget maxTokens 0", """{"query":"a","budget":{"maxTokens":0}}""", "budget.maxTokens" },
        { "budget maxCostUsd negative", """{"query":"a","budget":{"maxCostUsd":-1}}""", "budget.maxCostUsd" },
        { "llm unknown", """{"query":"a","llm":"nope"}""", "llm" },
        { "research mode with no LLM configured", """{"query":"a","mode":"research"}""", "mode" },
        { "answer with no LLM configured", """{"query":"a","answer":true}""", "answer" },
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

    [Fact]
    public async Task Sixty_thousand_queries_answer_one_small_problem()
    {
        var body = "{\"queries\":[" + string.Join(",", Enumerable.Repeat("\"\"", 60_000)) + "]}";
        using var response = await GatewayApi.PostAsync(Http, "/api/search-jobs", body);
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "queries");
        Assert.True(problem.Errors.Count <= MaxErrors, $"{problem.Errors.Count} errors");
        Assert.True(problem.Raw.Length < 4096, $"a {problem.Raw.Length}-character problem");
    }

    [Fact]
    public async Task Fifty_blank_queries_report_a_bounded_number_of_errors()
    {
        using var response = await GatewayApi.CreateAsync(Http, new { queries = Enumerable.Repeat(" ", 50).ToArray() });
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "queries[0]");
        Assert.InRange(problem.Errors.Count, 1, MaxErrors);
    }

    [Theory]
    [InlineData("12abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    [InlineData("digits-4000")]
    [InlineData("garbage-4000")]
    public async Task Events_with_a_bad_Last_Event_ID_are_400_naming_the_header(string value)
    {
        value = value switch
        {
            "digits-4000" => new string('9', 4000),
            "garbage-4000" => string.Concat(Enumerable.Repeat("x!%{", 1000)),
            _ => value,
        };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/search-jobs/0123456789abcdef0123456789abcdef/events");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", value);
        using var response = await Http.SendAsync(request);
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "Last-Event-ID");
        Assert.True(problem.Raw.Length < 1024, $"the problem echoes the header: {problem.Raw.Length} characters");
    }

    public static TheoryData<string, string> ForgedCursors() => new()
    {
        { "not base64", "%%%" },
        { "4,000 characters", new string('A', 4000) },
        { "ticks past the calendar", Base64Url("3155378976000000000:0123456789abcdef0123456789abcdef") },
        { "a 3,000-character job id", Base64Url("638000000000000000:" + new string('x', 3000)) },
        { "a job id with punctuation", Base64Url("638000000000000000:../../etc") },
    };

    [Theory]
    [MemberData(nameof(ForgedCursors))]
    public async Task List_with_a_forged_cursor_is_400_naming_it(string name, string cursor)
    {
        using var response = await Http.GetAsync($"/api/search-jobs?cursor={Uri.EscapeDataString(cursor)}");
        var problem = await GatewayApi.AssertInvalidFieldAsync(response, "cursor");
        Assert.True(problem.Raw.Length < 1024, $"{name}: the problem echoes the cursor: {problem.Raw.Length} characters");
    }

    private static string Base64Url(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

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
    [InlineData("k-4000")]
    public async Task Create_with_bad_Idempotency_Key_is_400_naming_the_header(string key)
    {
        var value = key.StartsWith("k-", StringComparison.Ordinal) ? new string('k', int.Parse(key[2..])) : key;
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
