using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Search.Client;
using Orleans.Search.Tests.Api;

namespace Orleans.Search.Tests.Client;

/// <summary>The typed HTTP client against a real gateway, registered the way an application would register it.</summary>
[Collection(ClientsGatewayCollection.Name)]
public sealed class SearchJobsClientTests(ClientsGatewayFixture fixture) : IAsyncLifetime
{
    private IHost _host = null!;

    private SearchJobsClient Client => _host.Services.GetRequiredService<SearchJobsClient>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddOrleansSearchClient(o =>
        {
            o.BaseAddress = fixture.Gateway.BaseAddress;
            o.ApiKey = ClientsGatewayFixture.AliceKey;
        });
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Fact]
    public async Task Create_get_list_and_delete_round_trip_and_an_idempotency_key_returns_the_same_job()
    {
        var queries = TestJobs.UniqueQueries("client-crud", 2);
        var key = $"client-{Guid.NewGuid():N}";
        var spec = new JobSpec { Queries = queries, Pages = 2 };

        var created = await Client.CreateAsync(spec, key);
        var retried = await Client.CreateAsync(spec, key);

        Assert.Equal(created.JobId, retried.JobId);
        var done = await Eventually.ReturnsAsync(() => Client.GetAsync(created.JobId), s => JobStates.IsTerminal(s.Status), "the job to end");
        Assert.Equal((JobStates.Completed, 40), (done.Status, done.Results.Count));
        var raw = await Client.GetJsonAsync(created.JobId);
        Assert.Equal(created.JobId, (string?)raw["jobId"]);

        // Paging by cursor, one job a page, finds it; so does the status filter.
        var paged = new List<JobSummary>();
        await foreach (var job in Client.ListAllAsync(pageSize: 1))
        {
            paged.Add(job);
        }
        Assert.Contains(paged, j => j.JobId == created.JobId);
        Assert.Equal(paged.Count, paged.Select(j => j.JobId).Distinct().Count());
        Assert.Equal((await GatewayApi.ListAllAsync(fixture.Alice)).Select(j => j.JobId), paged.Select(j => j.JobId));
        var firstPage = await Client.ListAsync(JobStates.Completed, limit: 1);
        Assert.Equal(JobStates.Completed, Assert.Single(firstPage.Items).Status);

        // A job that completed has nothing to cancel: 409.
        var ended = await Assert.ThrowsAsync<SearchApiException>(() => Client.CancelAsync(created.JobId));
        Assert.Equal(HttpStatusCode.Conflict, ended.Status);

        await Client.DeleteAsync(created.JobId);
        var gone = await Assert.ThrowsAsync<SearchApiException>(() => Client.GetAsync(created.JobId));
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
        var again = await Assert.ThrowsAsync<SearchApiException>(() => Client.DeleteAsync(created.JobId));
        Assert.Equal(HttpStatusCode.NotFound, again.Status);
        Assert.Equal("Job not found", again.Title);
        Assert.Contains(created.JobId, again.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_problem_answer_becomes_a_typed_exception_with_its_title_detail_and_fields()
    {
        var invalid = await Assert.ThrowsAsync<SearchApiException>(() => Client.CreateAsync(new JobSpec { Query = "x", Pages = 99 }));

        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.Contains("pages", invalid.Errors.Keys);
        Assert.Contains("pages", invalid.Detail, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(invalid.Title));
        Assert.Null(invalid.RetryAfter);
        Assert.Contains("400", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_answers_the_cancelled_job_and_FollowAsync_ends_with_it()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("client-cancel", 1)[0];
        gated.Options.CloseGate();
        try
        {
            var created = await Client.CreateAsync(new JobSpec { Query = query, Provider = "gated" });
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));
            var events = new List<JobEvent>();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var follow = Task.Run(async () =>
            {
                await foreach (var e in Client.FollowAsync(created.JobId, cancellationToken: deadline.Token))
                {
                    lock (events)
                    {
                        events.Add(e);
                    }
                }
            });
            await Eventually.TrueAsync(() => { lock (events) { return events.Count >= 2; } }, "the follower to see the job's first events");

            var cancelled = await Client.CancelAsync(created.JobId);

            Assert.Equal(JobStates.Cancelled, cancelled.Status);
            await follow;
            Assert.Equal(JobEventTypes.Created, events[0].Type);
            Assert.Equal(JobEventTypes.Cancelled, events[^1].Type);
            Assert.Equal(events.Count, events.Select(e => e.Seq).Distinct().Count());
            TestJobs.AssertWellOrdered(events);
            // Cancelling again changes nothing.
            var again = await Client.CancelAsync(created.JobId);
            Assert.Equal((JobStates.Cancelled, cancelled.CompletedAt), (again.Status, again.CompletedAt));
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }
}
