namespace Orleans.Search.Tests.Api;

[Collection(PromiseGatewayCollection.Name)]
public sealed class EventTailTests(PromiseGatewayFixture fixture)
{
    private const int Tail = 500;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_job_keeps_its_last_500_events_and_a_Last_Event_ID_older_than_them_replays_all_it_kept()
    {
        // 50 queries × 10 pages: a page.completed event for each of 500 pages, plus the job's and queries' own events.
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = TestJobs.UniqueQueries("tail", 50), pages = 10, cache = false });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);
        var last = done.LastSeq;
        Assert.True(last >= 600, $"the job made {last} events");
        var kept = Enumerable.Range((int)(last - Tail + 1), Tail).Select(s => (long)s).ToList();

        // No Last-Event-ID: the snapshot, then the events kept (the oldest ones are gone).
        var fresh = await GatewayApi.ReadEventsAsync(Http, created.JobId);
        Assert.Equal("snapshot", fresh[0].Event);
        var events = fresh.Skip(1).Select(GatewayApi.ParseEvent).ToList();
        Assert.Equal(kept, events.Select(e => e.Seq));
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
        TestJobs.AssertWellOrdered(events);

        // A Last-Event-ID older than the tail: every event kept after it, which is all of them, after the snapshot.
        foreach (var older in new[] { 0, 1, last - Tail - 1, last - Tail })
        {
            var replay = await GatewayApi.ReadEventsAsync(Http, created.JobId, older.ToString());
            Assert.Equal("snapshot", replay[0].Event);
            Assert.Equal(fresh.Skip(1), replay.Skip(1));
        }

        // Inside the tail: exactly the events after it.
        var recent = await GatewayApi.ReadEventsAsync(Http, created.JobId, (last - 10).ToString());
        Assert.Equal(kept.TakeLast(10), recent.Skip(1).Select(m => long.Parse(m.Id!)));
    }
}
