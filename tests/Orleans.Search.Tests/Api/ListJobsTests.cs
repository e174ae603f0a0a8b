using System.Net;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class ListJobsTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task List_is_newest_first_and_pages_with_limit_and_cursor()
    {
        var created = new List<JobStatus>();
        foreach (var query in TestJobs.UniqueQueries("list", 5))
        {
            created.Add(await GatewayApi.CreateJobAsync(Http, new { query, provider = "local" }));
        }
        var newestFirst = created.Select(j => j.JobId).Reverse().ToList();

        var first = await GatewayApi.ListAsync(Http, "?limit=2");
        Assert.Equal(newestFirst[..2], first.Items.Select(j => j.JobId));
        Assert.NotNull(first.NextCursor);
        var second = await GatewayApi.ListAsync(Http, $"?limit=2&cursor={Uri.EscapeDataString(first.NextCursor)}");
        Assert.Equal(newestFirst[2..4], second.Items.Select(j => j.JobId));
        Assert.NotNull(second.NextCursor);
        var third = await GatewayApi.ListAsync(Http, $"?limit=2&cursor={Uri.EscapeDataString(second.NextCursor)}");
        Assert.Equal(newestFirst[4], third.Items[0].JobId);

        // Every listed job, followed to the end, in order, without repeats.
        var all = await GatewayApi.ListAllAsync(Http);
        Assert.Equal(newestFirst, all.Take(5).Select(j => j.JobId));
        Assert.Equal(all.Count, all.Select(j => j.JobId).Distinct().Count());
        for (var i = 1; i < all.Count; i++)
        {
            Assert.True(all[i - 1].CreatedAt >= all[i].CreatedAt, $"{all[i - 1].JobId} listed before an older job");
        }
        var line = all[0];
        Assert.Equal((created[^1].Queries[0].Query, 1, created[^1].CreatedAt), (line.Title, line.QueryCount, line.CreatedAt));

        // Without a limit: the default page.
        var byDefault = await GatewayApi.ListAsync(Http);
        Assert.Equal(Math.Min(20, all.Count), byDefault.Items.Count);
        foreach (var job in created)
        {
            await GatewayApi.WaitForEndAsync(Http, job.JobId);
        }
    }

    [Fact]
    public async Task List_filters_by_status()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("list-status", 1)[0];
        var completed = await GatewayApi.CreateJobAsync(Http, new { query });
        await GatewayApi.WaitForEndAsync(Http, completed.JobId);
        JobStatus running;
        JobStatus cancelled;
        gated.Options.CloseGate();
        try
        {
            cancelled = await GatewayApi.CreateJobAsync(Http, new { query, provider = "gated" });
            running = await GatewayApi.CreateJobAsync(Http, new { query = query + " running", provider = "gated" });
            using var cancel = await Http.PostAsync($"/api/search-jobs/{cancelled.JobId}/cancel", null);
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

            var onlyRunning = await GatewayApi.ListAsync(Http, "?status=running&limit=100");
            Assert.Contains(onlyRunning.Items, j => j.JobId == running.JobId);
            Assert.All(onlyRunning.Items, j => Assert.Equal(JobStates.Running, j.Status));

            var onlyCancelled = await GatewayApi.ListAsync(Http, "?status=cancelled&limit=100");
            Assert.Equal(cancelled.JobId, onlyCancelled.Items[0].JobId);
            Assert.All(onlyCancelled.Items, j => Assert.Equal(JobStates.Cancelled, j.Status));
            Assert.DoesNotContain(onlyCancelled.Items, j => j.JobId == running.JobId || j.JobId == completed.JobId);
        }
        finally
        {
            gated.Options.OpenGate();
        }

        await GatewayApi.WaitForEndAsync(Http, running.JobId);
        var onlyCompleted = await Eventually.ReturnsAsync(() => GatewayApi.ListAsync(Http, "?status=completed&limit=100"),
            l => l.Items.Any(j => j.JobId == completed.JobId) && l.Items.Any(j => j.JobId == running.JobId), "both completed jobs listed as completed");
        Assert.All(onlyCompleted.Items, j => Assert.Equal(JobStates.Completed, j.Status));
        Assert.DoesNotContain(onlyCompleted.Items, j => j.JobId == cancelled.JobId);

        // Paging within a status keeps the filter.
        var page = await GatewayApi.ListAsync(Http, "?status=completed&limit=1");
        Assert.NotNull(page.NextCursor);
        var next = await GatewayApi.ListAsync(Http, $"?status=completed&limit=1&cursor={Uri.EscapeDataString(page.NextCursor)}");
        Assert.Equal(JobStates.Completed, Assert.Single(next.Items).Status);
        Assert.NotEqual(page.Items[0].JobId, next.Items[0].JobId);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("status=done", "status")]
    [InlineData("cursor=!!!", "cursor")]
    [InlineData("cursor=bm90LWEtY3Vyc29y", "cursor")]
    public async Task List_with_bad_parameter_is_400_naming_it(string query, string field)
    {
        using var response = await Http.GetAsync($"/api/search-jobs?{query}");
        await GatewayApi.AssertInvalidFieldAsync(response, field);
    }
}
