using Orleans.Search.Fakes;
using Orleans.Search.Tests.Api;

namespace Orleans.Search.Tests.Providers;

/// <summary>Response limits as a job sees them, through a real gateway and its fake SearXNG (provider <c>web</c>, two attempts per page).</summary>
[Collection(OpenGatewayCollection.Name)]
public sealed class ProviderLimitsThroughGatewayTests(OpenGatewayFixture fixture)
{
    private FakeSearxngOptions Web => fixture.Searxng.Options;

    [Fact]
    public async Task A_response_over_MaxResponseBytes_fails_its_page_once_with_the_reason_on_the_job()
    {
        var query = TestJobs.UniqueQueries("oversized", 1)[0];
        JobStatus done;
        // Tests of this collection run one at a time, so the knob only meets this test's requests.
        Web.BodyPaddingBytes = 8 * 1024 * 1024;
        Web.ChunkedBody = true;
        try
        {
            var created = await GatewayApi.CreateJobAsync(fixture.Http, new { query });
            done = await GatewayApi.WaitForEndAsync(fixture.Http, created.JobId);
        }
        finally
        {
            Web.BodyPaddingBytes = 0;
            Web.ChunkedBody = false;
        }

        Assert.Equal(JobStates.Failed, done.Status);
        Assert.Contains("Search:MaxResponseBytes", done.Queries.Single().Error);
        Assert.Equal(1, fixture.Searxng.RequestsFor(query, 1));
    }

    [Fact]
    public async Task Long_titles_and_snippets_reach_the_job_cut_to_their_bounds()
    {
        var query = TestJobs.UniqueQueries("long-fields", 1)[0];
        Web.ShapeResult = r => r.Query == query ? r with { Title = new string('T', 50_000), Content = new string('C', 50_000) } : r;
        JobStatus done;
        try
        {
            var created = await GatewayApi.CreateJobAsync(fixture.Http, new { query });
            done = await GatewayApi.WaitForEndAsync(fixture.Http, created.JobId);
        }
        finally
        {
            Web.ShapeResult = null;
        }

        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal(10, done.Results.Count);
        Assert.All(done.Results, r => Assert.Equal((300, 1000), (r.Title.Length, r.Snippet.Length)));
    }
}
