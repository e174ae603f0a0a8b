namespace Orleans.Search.Tests.Api;

[Collection(PromiseGatewayCollection.Name)]
public sealed class EventTailTests(PromiseGatewayFixture fixture)
{
    private const int Tail = 500;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_job_keeps_its_last_500_events_and_a_Last_Event_ID_older_than_them_gets_a_snapshot_in_their_place()
    {
        // 50 queries × 10 pages: a page.completed event for each of 500 pages, plus the job's and queries' own events.
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = TestJobs.UniqueQueries("tail", 50), pages = 10, cache = false });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);
        var last = done.LastSeq;
        Assert.True(last >= 600, $"the job made {last} events");
        var kept = Enumerable.Range((int)(last - Tail + 1), Tail).Select(s => (long)s).ToList();

        // Last-Event-ID just before the oldest event kept: all 500 kept events, nothing older, no snapshot.
        var all = await GatewayApi.ReadEventsAsync(Http, created.JobId, (last - Tail).ToString());
        Assert.DoesNotContain(all, m => m.Event == "snapshot");
        var events = all.Select(GatewayApi.ParseEvent).ToList();
        Assert.Equal(kept, events.Select(e => e.Seq));
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
        TestJobs.AssertWellOrdered(events);

        // Older than the tail: the events after it are gone, so a snapshot of the (ended) job stands in for them, with
        // the id of the last event it reflects; nothing older than what the client has is sent.
        foreach (var older in new[] { 0, 1, last - Tail - 1 })
        {
            var replay = await GatewayApi.ReadEventsAsync(Http, created.JobId, older.ToString());
            var snapshot = Assert.Single(replay);
            Assert.Equal(("snapshot", last.ToString()), (snapshot.Event, snapshot.Id));
        }

        // Inside the tail: exactly the events after it.
        var recent = await GatewayApi.ReadEventsAsync(Http, created.JobId, (last - 10).ToString());
        Assert.Equal(kept.TakeLast(10), recent.Select(m => long.Parse(m.Id!)));
    }
}
