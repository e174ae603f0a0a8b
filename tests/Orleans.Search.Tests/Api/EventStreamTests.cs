using System.Net;
using System.Net.Http.Headers;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class EventStreamTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Events_of_a_live_job_start_with_a_snapshot_then_ordered_events_and_end_after_completed()
    {
        var gated = fixture.GatedSearxng;
        var queries = TestJobs.UniqueQueries("sse-live", 2);
        var snapshotSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<List<SseMessage>> reading;
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { queries, pages = 2, provider = "gated" });
            reading = GatewayApi.ReadEventsAsync(Http, created.JobId, onMessage: m =>
            {
                if (m.Event == "snapshot")
                {
                    snapshotSeen.TrySetResult();
                }
            });
            // Connected while all four pages are held at the provider: what follows arrives live.
            await snapshotSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await gated.WaitUntilAsync(f => queries.Sum(q => f.RequestsFor(q, 1) + f.RequestsFor(q, 2)) == 4, TimeSpan.FromSeconds(30));
            Assert.False(reading.IsCompleted);
        }
        finally
        {
            gated.Options.OpenGate();
        }

        var messages = await reading;

        var snapshot = GatewayApi.ParseSnapshot(messages[0]);
        Assert.Equal("snapshot", messages[0].Event);
        Assert.Equal(snapshot.LastSeq.ToString(), messages[0].Id);
        Assert.Equal(JobStates.Running, snapshot.Status);
        Assert.True(snapshot.Progress < 100);
        var events = messages.Skip(1).ToList();
        Assert.DoesNotContain(events, m => m.Event == "snapshot");
        var parsed = AssertWellFormed(events);
        // Only what came after the snapshot: nothing it already reflects is sent again.
        Assert.Equal(snapshot.LastSeq + 1, parsed[0].Seq);
        Assert.Equal(JobEventTypes.Completed, parsed[^1].Type);
        Assert.Equal(100, parsed[^1].Progress);
        Assert.Equal(4, parsed.Count(e => e.Type == JobEventTypes.PageCompleted));
        Assert.Equal(2, parsed.Count(e => e.Type == JobEventTypes.QueryCompleted));
        Assert.Equal(40, parsed[^1].Stats.TotalResults);
        Assert.All(parsed, e => Assert.Equal(parsed[0].JobId, e.JobId));
        Assert.Equal((await GatewayApi.GetJobAsync(Http, parsed[0].JobId)).LastSeq, parsed[^1].Seq);
    }

    [Fact]
    public async Task Events_of_a_finished_job_without_Last_Event_ID_are_its_final_snapshot_and_with_0_its_whole_history()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = TestJobs.UniqueQueries("sse-done", 3), pages = 2 });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);

        var messages = await GatewayApi.ReadEventsAsync(Http, created.JobId);

        var snapshot = Assert.Single(messages);
        Assert.Equal("snapshot", snapshot.Event);
        Assert.Equal(done.LastSeq.ToString(), snapshot.Id);
        Assert.Equal(JobStates.Completed, GatewayApi.ParseSnapshot(snapshot).Status);
        Assert.Equal(100, GatewayApi.ParseSnapshot(snapshot).Progress);

        var history = await GatewayApi.ReadEventsAsync(Http, created.JobId, "0");
        var parsed = AssertWellFormed(history);
        Assert.Equal(JobEventTypes.Created, parsed[0].Type);
        Assert.Equal(JobEventTypes.Completed, parsed[^1].Type);
        Assert.Equal(done.LastSeq, parsed[^1].Seq);
        Assert.True(parsed.Count(e => e.Type == JobEventTypes.PageCompleted) == 6,
            $"job {done.Status} ({done.Message}; {string.Join("; ", done.Queries.Select(q => q.Error))}); events: " + string.Join(", ", parsed.Select(e => $"{e.Seq}:{e.Type}:{e.QueryIndex}/{e.Page}")));
    }

    [Fact]
    public async Task Events_with_Last_Event_ID_replay_exactly_the_events_after_it()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = TestJobs.UniqueQueries("sse-replay", 3), pages = 2 });
        await GatewayApi.WaitForEndAsync(Http, created.JobId);
        var full = await GatewayApi.ReadEventsAsync(Http, created.JobId, "0");
        AssertWellFormed(full);
        var ids = full.Select(m => long.Parse(m.Id!)).ToList();

        foreach (var after in new[] { 0, ids[0], ids[ids.Count / 2], ids[^2], ids[^1] })
        {
            var replay = await GatewayApi.ReadEventsAsync(Http, created.JobId, after.ToString());

            Assert.Equal(full.Where(m => long.Parse(m.Id!) > after).ToList(), replay);
        }

        // The query-string form (for EventSource clients that cannot set headers) does the same.
        var middle = ids[ids.Count / 2];
        using var viaQuery = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var fromQuery = new List<SseMessage>();
        await foreach (var m in SseClient.ReadAsync(Http, $"/api/search-jobs/{created.JobId}/events?lastEventId={middle}", cancellationToken: viaQuery.Token))
        {
            fromQuery.Add(m);
        }
        Assert.Equal(full.Where(m => long.Parse(m.Id!) > middle), fromQuery);
    }

    [Fact]
    public async Task Events_with_Last_Event_ID_on_a_live_job_replay_the_missed_events_then_follow_live()
    {
        var gated = fixture.GatedSearxng;
        var queries = TestJobs.UniqueQueries("sse-resume", 2);
        Task<List<SseMessage>> fullRead;
        Task<List<SseMessage>> resumedRead;
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { queries, pages = 2, provider = "gated" });
            await gated.WaitUntilAsync(f => queries.Sum(q => f.RequestsFor(q, 1) + f.RequestsFor(q, 2)) == 4, TimeSpan.FromSeconds(30));
            // The job has published what it can before the provider answers; a client that saw only the first event reconnects.
            var held = await GatewayApi.WaitForJobAsync(Http, created.JobId, s => s.LastSeq >= 2, "created and started published");
            var fullConnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var resumedConnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            fullRead = GatewayApi.ReadEventsAsync(Http, created.JobId, "0", onMessage: _ => fullConnected.TrySetResult());
            resumedRead = GatewayApi.ReadEventsAsync(Http, created.JobId, "1", onMessage: _ => resumedConnected.TrySetResult());
            await Task.WhenAll(fullConnected.Task, resumedConnected.Task).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(fullRead.IsCompleted || resumedRead.IsCompleted);
            Assert.Equal(JobStates.Running, held.Status);
        }
        finally
        {
            gated.Options.OpenGate();
        }

        var full = await fullRead;
        var resumed = await resumedRead;
        Assert.DoesNotContain(resumed, m => m.Event == "snapshot");
        Assert.Equal(full.Where(m => long.Parse(m.Id!) > 1), resumed);
        var parsed = AssertWellFormed(resumed);
        Assert.Equal(2, parsed[0].Seq);
        Assert.Equal(JobEventTypes.Completed, parsed[^1].Type);
    }

    [Fact]
    public async Task Events_of_a_cancelled_job_end_after_the_cancelled_event()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("sse-cancel", 1)[0];
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { query, provider = "gated" });
            var snapshotSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reading = GatewayApi.ReadEventsAsync(Http, created.JobId, onMessage: m => snapshotSeen.TrySetResult());
            await snapshotSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));

            using var cancel = await Http.PostAsync($"/api/search-jobs/{created.JobId}/cancel", null);
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

            var parsed = AssertWellFormed((await reading).Skip(1).ToList());
            Assert.Equal(JobEventTypes.Cancelled, parsed[^1].Type);
            Assert.Equal(JobStates.Cancelled, parsed[^1].Status);
            Assert.True(parsed[^1].Progress < 100);
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }

    [Fact]
    public async Task A_late_joiner_without_Last_Event_ID_gets_a_snapshot_with_its_seq_then_only_later_events_and_progress_never_goes_back()
    {
        var gated = fixture.GatedSearxng;
        var (jobId, half) = await StartHalfDoneJobAsync("sse-late");
        Task<List<SseMessage>> reading;
        try
        {
            var snapshotSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            reading = GatewayApi.ReadEventsAsync(Http, jobId, onMessage: _ => snapshotSeen.TrySetResult());
            await snapshotSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            gated.Options.OpenGate();
        }

        var messages = await reading;

        var snapshot = EventStreamAssert.NeverGoesBack(messages, lastEventId: null);
        Assert.NotNull(snapshot);
        Assert.Equal(JobStates.Running, snapshot.Status);
        Assert.Equal(50, snapshot.Progress);
        Assert.True(snapshot.LastSeq >= half.LastSeq);
        Assert.Equal(JobEventTypes.Completed, messages[^1].Event);
        Assert.Equal(2, messages.Count(m => m.Event == JobEventTypes.PageCompleted));
    }

    [Fact]
    public async Task A_late_joiner_with_Last_Event_ID_gets_every_event_after_it_and_progress_never_goes_back()
    {
        var gated = fixture.GatedSearxng;
        var (jobId, half) = await StartHalfDoneJobAsync("sse-late-id");
        Task<List<SseMessage>> reading;
        try
        {
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // A client that saw 'created' and 'started' before it lost its connection.
            reading = GatewayApi.ReadEventsAsync(Http, jobId, "2", onMessage: _ => connected.TrySetResult());
            await connected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            gated.Options.OpenGate();
        }

        var messages = await reading;

        EventStreamAssert.NeverGoesBack(messages, lastEventId: 2);
        Assert.DoesNotContain(messages, m => m.Event == "snapshot");
        Assert.Equal("3", messages[0].Id);
        // The cached query's pages (done before the client came back) and the held query's, all of them.
        Assert.Equal(4, messages.Count(m => m.Event == JobEventTypes.PageCompleted));
        Assert.Equal(JobEventTypes.Completed, messages[^1].Event);
        Assert.True(long.Parse(messages[^1].Id!) > half.LastSeq);
    }

    /// <summary>
    /// A job of two queries × two pages on the gated provider, half done: the first query's pages come from the cache (a
    /// finished job fetched them), the second query's are held at the closed gate. The caller opens the gate.
    /// </summary>
    private async Task<(string JobId, JobStatus Half)> StartHalfDoneJobAsync(string label)
    {
        var gated = fixture.GatedSearxng;
        var queries = TestJobs.UniqueQueries(label, 2);
        var warm = await GatewayApi.CreateJobAsync(Http, new { query = queries[0], pages = 2, provider = "gated" });
        Assert.Equal(JobStates.Completed, (await GatewayApi.WaitForEndAsync(Http, warm.JobId)).Status);
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { queries, pages = 2, provider = "gated" });
            var half = await GatewayApi.WaitForJobAsync(Http, created.JobId, s => s.Progress >= 50, "the cached query's pages done");
            await gated.WaitUntilAsync(f => f.RequestsFor(queries[1], 1) + f.RequestsFor(queries[1], 2) == 2, TimeSpan.FromSeconds(30));
            Assert.Equal(JobStates.Running, half.Status);
            Assert.Equal(50, half.Progress);
            return (created.JobId, half);
        }
        catch
        {
            gated.Options.OpenGate();
            throw;
        }
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    public async Task Events_with_bad_Last_Event_ID_is_400_naming_it(string lastEventId)
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { query = TestJobs.UniqueQueries("sse-bad", 1)[0], provider = "local" });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{created.JobId}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Add("Last-Event-ID", lastEventId);

        using var response = await Http.SendAsync(request);

        await GatewayApi.AssertInvalidFieldAsync(response, "Last-Event-ID");
        using var viaQuery = await Http.GetAsync($"/api/search-jobs/{created.JobId}/events?lastEventId={Uri.EscapeDataString(lastEventId)}");
        await GatewayApi.AssertInvalidFieldAsync(viaQuery, "Last-Event-ID");
        await GatewayApi.WaitForEndAsync(Http, created.JobId);
    }

    /// <summary>Every message after the snapshot is an event whose id is its seq; ids increase, progress never falls, 100 only on completed; one terminal event, last.</summary>
    private static List<JobEvent> AssertWellFormed(IReadOnlyList<SseMessage> messages)
    {
        Assert.NotEmpty(messages);
        var parsed = messages.Select(GatewayApi.ParseEvent).ToList();
        for (var i = 0; i < messages.Count; i++)
        {
            Assert.Equal(parsed[i].Type, messages[i].Event);
            Assert.Equal(parsed[i].Seq.ToString(), messages[i].Id);
        }
        TestJobs.AssertWellOrdered(parsed);
        Assert.Single(parsed, e => JobEventTypes.IsTerminal(e.Type));
        Assert.True(JobEventTypes.IsTerminal(parsed[^1].Type), $"the stream ended on '{parsed[^1].Type}'");
        return parsed;
    }
}
