using Orleans.Streams;
using System.Collections.Concurrent;
using Orleans.Search.Fakes;
using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Jobs;

[Collection(SearchClusterCollection.Name)]
public sealed class SearchJobGrainTests(SearchClusterFixture fixture)
{
    private IClusterClient Client => fixture.Client;

    private FakeSearxng Searxng => fixture.Searxng;

    [Fact]
    public async Task Job_of_ten_queries_by_three_pages_completes_with_every_page_and_ordered_progress()
    {
        var queries = TestJobs.UniqueQueries("fanout", 10);
        var submission = TestJobs.Submission(queries, pages: 3);
        var streamed = new ConcurrentQueue<JobEvent>();
        var terminal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handle = await Client.GetStreamProvider(SearchStreams.ProviderName)
            .GetStream<JobEvent>(SearchStreams.ForJob(submission.JobId))
            .SubscribeAsync((e, _) =>
            {
                streamed.Enqueue(e);
                if (JobEventTypes.IsTerminal(e.Type))
                {
                    terminal.TrySetResult();
                }
                return Task.CompletedTask;
            });

        var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
        var accepted = await job.SubmitAsync(submission);
        Assert.Equal(JobStates.Running, accepted.Status);

        await terminal.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await handle.UnsubscribeAsync();

        var status = await job.GetStatusAsync("tester", includeResults: true);
        Assert.NotNull(status);
        Assert.Equal(JobStates.Completed, status.Status);
        Assert.Equal(100, status.Progress);
        Assert.Equal(300, status.Results.Count);
        Assert.Equal(300, status.Stats.TotalResults);
        Assert.Equal(30, status.Stats.ApiCalls);
        Assert.All(status.Queries, q => Assert.Equal((QueryStates.Completed, 3, 30), (q.Status, q.PagesDone, q.ResultCount)));
        foreach (var query in queries)
        {
            for (var page = 1; page <= 3; page++)
            {
                Assert.Equal(1, Searxng.RequestsFor(query, page));
                Assert.Equal(10, status.Results.Count(r => r.Query == query && r.Page == page));
            }
        }
        Assert.Equal(FakeSearxng.ResultUrl(queries[0], 1, 1), status.Results[0].Url);

        // The stream and the retained tail tell the same, well-ordered story.
        var tail = (await job.GetEventsAsync("tester", 0))!.Events;
        TestJobs.AssertWellOrdered(tail);
        TestJobs.AssertWellOrdered(streamed.ToList());
        Assert.Equal(tail.Select(e => e.Seq), streamed.Select(e => e.Seq));
        Assert.Equal(JobEventTypes.Created, tail[0].Type);
        Assert.Equal(JobEventTypes.Completed, tail[^1].Type);
        Assert.Equal(30, tail.Count(e => e.Type == JobEventTypes.PageCompleted));
        Assert.Equal(10, tail.Count(e => e.Type == JobEventTypes.QueryCompleted));
        Assert.Equal(status.LastSeq, tail[^1].Seq);
    }

    [Fact]
    public async Task Cancel_in_mid_job_aborts_calls_in_flight_keeps_results_and_starts_no_more()
    {
        var queries = TestJobs.UniqueQueries("cancel", 4);
        var submission = TestJobs.Submission(queries, pages: 3, provider: "serial");
        var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);

        // Let a few pages finish, then hold the next call in flight.
        await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false), s => s!.Queries.Sum(q => q.PagesDone) >= 2, "two pages done");
        var gate = Searxng.Options.CloseGate();
        try
        {
            // A request that arrives after the gate closed is surely held in flight; find which of the job's pages it is.
            var beforeHold = Searxng.TotalRequests;
            await Searxng.WaitForRequestsAsync(beforeHold + 1, TimeSpan.FromSeconds(30));
            var pages = queries.SelectMany(q => Enumerable.Range(1, 3).Select(p => (Query: q, Page: p))).ToList();
            var held = (await Eventually.ReturnsAsync(
                () => Task.FromResult(pages.Where(k => Searxng.RequestsFor(k.Query, k.Page) > Searxng.SuccessesFor(k.Query, k.Page)).ToList()),
                h => h.Count == 1 && Searxng.InFlight == 1, "one of the job's pages held at the provider")).Single();
            Assert.Equal(0, Searxng.AbortsFor(held.Query, held.Page));

            var cancelAt = DateTimeOffset.UtcNow;
            var cancelled = await job.CancelAsync("tester");
            var cancelReturnedAt = DateTimeOffset.UtcNow;
            var requestsAtCancel = queries.Sum(q => Enumerable.Range(1, 3).Sum(p => Searxng.RequestsFor(q, p)));
            Assert.Equal(JobStates.Cancelled, cancelled!.Status);
            await Eventually.TrueAsync(() => Searxng.AbortsFor(held.Query, held.Page) == 1 && Searxng.InFlight == 0, "the call in flight to be aborted", TimeSpan.FromSeconds(30));
            // 'serial' has a 600 s attempt timeout: only the cancel explains an abort within seconds (10 s is generous).
            Assert.InRange(Searxng.LastAbortFor(held.Query, held.Page)!.Value, cancelAt, cancelAt + TimeSpan.FromSeconds(10));

            Searxng.Options.OpenGate();
            // Everything the cluster had queued has had its chance: a later job runs to completion on the same provider.
            var after = TestJobs.Submission(TestJobs.UniqueQueries("after-cancel", 1), pages: 1, provider: "serial");
            await Client.GetGrain<ISearchJobGrain>(after.JobId).SubmitAsync(after);
            await Eventually.ReturnsAsync(() => Client.GetGrain<ISearchJobGrain>(after.JobId).GetStatusAsync("tester", false), s => s!.Status == JobStates.Completed, "the later job");

            Assert.Equal(requestsAtCancel, queries.Sum(q => Enumerable.Range(1, 3).Sum(p => Searxng.RequestsFor(q, p))));
            Assert.Equal(0, Searxng.ArrivalsSnapshot().Count(a => a.Query is { } q && queries.Contains(q) && a.ArrivedAt > cancelReturnedAt));
            var status = await job.GetStatusAsync("tester", includeResults: true);
            Assert.Equal(JobStates.Cancelled, status!.Status);
            Assert.True(status.Results.Count >= 20, $"results so far are kept ({status.Results.Count})");
            Assert.True(status.Progress < 100);
            var events = (await job.GetEventsAsync("tester", 0))!.Events;
            Assert.Equal(JobEventTypes.Cancelled, events[^1].Type);
            TestJobs.AssertWellOrdered(events);
        }
        finally
        {
            Searxng.Options.OpenGate();
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task A_query_whose_calls_always_fail_is_recorded_and_the_job_still_completes()
    {
        var queries = TestJobs.UniqueQueries("mixed", 3);
        var failing = queries[1];
        Searxng.Options.FailQueries = q => q == failing;
        try
        {
            var submission = TestJobs.Submission(queries, pages: 2);
            var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            var status = await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", true), s => JobStates.IsTerminal(s!.Status), "the job to end");

            Assert.Equal(JobStates.Completed, status!.Status);
            var failed = status.Queries[1];
            Assert.Equal(QueryStates.Failed, failed.Status);
            Assert.Equal(6, failed.Attempts); // 3 attempts for each of 2 pages
            Assert.Contains("500", failed.Error);
            Assert.Equal(3, Searxng.RequestsFor(failing, 1));
            Assert.Equal(40, status.Results.Count);
            Assert.DoesNotContain(status.Results, r => r.Query == failing);
            Assert.Equal(2, status.Stats.Errors);
            Assert.Equal(4, status.Stats.Retries);

            var debug = await job.GetDebugAsync("tester");
            var attempts = debug!.Queries[1].Attempts;
            Assert.Equal(6, attempts.Count);
            Assert.All(attempts, a => Assert.Equal(500, a.StatusCode));
            Assert.Equal(4, attempts.Count(a => a.RetryDelayMs is not null));
        }
        finally
        {
            Searxng.Options.FailQueries = null;
        }
    }

    [Fact]
    public async Task A_job_fails_only_when_nothing_could_be_done()
    {
        var queries = TestJobs.UniqueQueries("all-fail", 2);
        Searxng.Options.FailQueries = q => queries.Contains(q);
        try
        {
            var submission = TestJobs.Submission(queries, pages: 1);
            var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            var status = await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false), s => JobStates.IsTerminal(s!.Status), "the job to end");
            Assert.Equal(JobStates.Failed, status!.Status);
            Assert.Contains("500", status.Error);
            Assert.True(status.Progress < 100);
        }
        finally
        {
            Searxng.Options.FailQueries = null;
        }
    }

    [Fact]
    public async Task Transient_failures_are_retried_and_counted()
    {
        var queries = TestJobs.UniqueQueries("transient", 1);
        Searxng.Options.FailFirstAttempts = 2;
        try
        {
            var submission = TestJobs.Submission(queries, pages: 1);
            var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            var status = await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false), s => JobStates.IsTerminal(s!.Status), "the job to end");
            Assert.Equal(JobStates.Completed, status!.Status);
            Assert.Equal((3, 2, 10), (status.Queries[0].Attempts, status.Stats.Retries, status.Stats.TotalResults));
        }
        finally
        {
            Searxng.Options.FailFirstAttempts = 0;
        }
    }

    [Fact]
    public async Task Submit_is_idempotent_and_other_owners_see_nothing()
    {
        var submission = TestJobs.Submission(TestJobs.UniqueQueries("idem", 1), pages: 1);
        var job = Client.GetGrain<ISearchJobGrain>(submission.JobId);
        var first = await job.SubmitAsync(submission);
        var second = await job.SubmitAsync(submission);
        Assert.Equal(first.JobId, second.JobId);
        await Assert.ThrowsAsync<JobConflictException>(() => job.SubmitAsync(submission with { Fingerprint = "other" }));
        Assert.Null(await job.GetStatusAsync("someone-else", false));
        Assert.Null(await job.CancelAsync("someone-else"));
        Assert.Null(await job.GetEventsAsync("someone-else", 0));
    }
}
