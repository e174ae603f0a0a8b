using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// A gateway of its own for the event stream's limits: keep-alive every <see cref="KeepAliveSeconds"/> s, at most
/// <see cref="MaxOpenStreams"/> open streams and waits per user, a tail of <see cref="EventTailLength"/> events.
/// Providers: <c>web</c> (default; a fake with latency, one call at a time, so a multi-page job runs for a while) and
/// <c>gated</c> (a fake whose gate tests close to hold a job in flight). No API keys: every caller is user <c>local</c>.
/// </summary>
public sealed class StreamGatewayFixture : IAsyncLifetime
{
    public const int KeepAliveSeconds = 1;
    public const int MaxOpenStreams = 5;
    public const int EventTailLength = 10;

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Slow { get; private set; } = null!;

    public FakeSearxng Gated { get; private set; } = null!;

    public HttpClient Http => Gateway.Http;

    /// <summary>The gated provider's settings, for a test's own gateway on the same fake.</summary>
    public Dictionary<string, string?> GatedSettings() => new()
    {
        ["Search:Providers:gated:Kind"] = "searxng",
        ["Search:Providers:gated:BaseUrl"] = Gated.BaseUrl.ToString(),
        ["Search:Providers:gated:PermitsPerMinute"] = "60000",
        ["Search:Providers:gated:Burst"] = "200",
        ["Search:Providers:gated:MaxConcurrency"] = "50",
        ["Search:Providers:gated:MaxAttempts"] = "1",
        ["Search:Providers:gated:TimeoutSeconds"] = "120",
    };

    public async Task InitializeAsync()
    {
        Slow = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(50) });
        Gated = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = GatewaySettings.Common(Slow);
        settings["Search:Providers:web:MaxConcurrency"] = "1";
        foreach (var (key, value) in GatedSettings())
        {
            settings[key] = value;
        }
        settings["Events:KeepAliveSeconds"] = KeepAliveSeconds.ToString();
        settings["Limits:User:MaxOpenStreams"] = MaxOpenStreams.ToString();
        settings["Jobs:EventTailLength"] = EventTailLength.ToString();
        // The tests poll job status while they wait.
        settings["Http:PermitsPerMinute"] = "100000";
        settings["Http:PermitsPerMinutePerAddress"] = "100000";
        Gateway = await GatewayHost.StartAsync(settings);
    }

    /// <summary>The cluster-wide count of a gateway's user's open streams and waits, as the limiter grain holds it.</summary>
    public static Task<LimiterSnapshot> OpenStreamsAsync(GatewayHost gateway, string user = "local") =>
        gateway.Services.GetRequiredService<IGrainFactory>().GetGrain<IRateLimiterGrain>(LimiterKeys.Streams(user)).GetSnapshotAsync();

    public Task<LimiterSnapshot> WaitForOpenStreamsAsync(int count) =>
        Eventually.ReturnsAsync(() => OpenStreamsAsync(Gateway), s => s.InFlight == count, $"{count} open streams counted", TimeSpan.FromSeconds(30));

    public async Task DisposeAsync()
    {
        Gated?.Options.OpenGate();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (Gated is not null)
        {
            await Gated.DisposeAsync();
        }
        if (Slow is not null)
        {
            await Slow.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class StreamGatewayCollection : ICollectionFixture<StreamGatewayFixture>
{
    public const string Name = "api: event stream limits";
}

[Collection(StreamGatewayCollection.Name)]
public sealed class EventStreamLimitTests(StreamGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Late_joiners_at_random_moments_of_a_running_job_never_see_progress_go_back()
    {
        await fixture.WaitForOpenStreamsAsync(0);
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var queries = TestJobs.UniqueQueries("sse-joiners", 3);
        const int pages = 8;
        const int totalPages = 3 * pages;
        var created = await GatewayApi.CreateJobAsync(Http, new { queries, pages });
        int Fetched(FakeSearxng f) => queries.Sum(q => Enumerable.Range(1, pages).Sum(p => f.RequestsFor(q, p)));

        // The first client follows from the start; each joiner comes when the job has fetched k of its 24 pages (one at
        // a time, 50 ms each: at least a dozen pages are still to come). Every other joiner is a reconnect that sends
        // the id of an event the first client had seen by then.
        var first = new List<SseMessage>();
        var firstRead = GatewayApi.ReadEventsAsync(Http, created.JobId, "0", onMessage: m =>
        {
            lock (first)
            {
                first.Add(m);
            }
        });
        var moments = Enumerable.Range(1, totalPages / 2).OrderBy(_ => random.Next()).Take(StreamGatewayFixture.MaxOpenStreams - 1).Order().ToList();
        var joiners = new List<(string Name, long? LastEventId, Task<List<SseMessage>> Read)>();
        foreach (var (k, i) in moments.Select((k, i) => (k, i)))
        {
            await fixture.Slow.WaitUntilAsync(f => Fetched(f) >= k, TimeSpan.FromSeconds(60));
            long? lastEventId = null;
            if (i % 2 == 1)
            {
                lock (first)
                {
                    lastEventId = first.Count == 0 ? 0 : long.Parse(first[random.Next(first.Count)].Id!);
                }
            }
            joiners.Add(($"joiner {i} (after {k} pages, Last-Event-ID {lastEventId?.ToString() ?? "none"}, seed {seed})", lastEventId,
                GatewayApi.ReadEventsAsync(Http, created.JobId, lastEventId?.ToString())));
        }

        EventStreamAssert.NeverGoesBack(await firstRead, 0, $"first client (seed {seed})");
        var lateSnapshots = 0;
        foreach (var (name, lastEventId, read) in joiners)
        {
            var messages = await read;
            var snapshot = EventStreamAssert.NeverGoesBack(messages, lastEventId, name);
            if (snapshot is { Status: JobStates.Running, Progress: > 0 })
            {
                lateSnapshots++;
            }
        }
        // The point of the test: a client joined a job already under way (and then saw it through).
        Assert.True(lateSnapshots > 0, $"no joiner came while the job ran (seed {seed})");
        Assert.Equal(JobStates.Completed, (await GatewayApi.GetJobAsync(Http, created.JobId)).Status);
    }

    [Fact]
    public async Task A_Last_Event_ID_older_than_the_retained_tail_gets_a_snapshot_with_its_id_then_every_later_event()
    {
        await fixture.WaitForOpenStreamsAsync(0);
        var gated = fixture.Gated;
        const int pages = 8;
        var queries = TestJobs.UniqueQueries("sse-trimmed", 2);
        var warm = await GatewayApi.CreateJobAsync(Http, new { query = queries[0], pages, provider = "gated" });
        Assert.Equal(JobStates.Completed, (await GatewayApi.WaitForEndAsync(Http, warm.JobId)).Status);
        Task<List<SseMessage>> reading;
        gated.Options.CloseGate();
        try
        {
            // The first query's pages come from the cache, the second's are held: more events than the tail keeps.
            var created = await GatewayApi.CreateJobAsync(Http, new { queries, pages, provider = "gated" });
            var half = await GatewayApi.WaitForJobAsync(Http, created.JobId, s => s.Progress >= 50, "the cached query's pages done");
            Assert.True(half.LastSeq > StreamGatewayFixture.EventTailLength + 1, $"only {half.LastSeq} events");
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            reading = GatewayApi.ReadEventsAsync(Http, created.JobId, "1", onMessage: _ => connected.TrySetResult());
            await connected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            gated.Options.OpenGate();
        }

        var messages = await reading;

        var snapshot = EventStreamAssert.NeverGoesBack(messages, 1);
        Assert.NotNull(snapshot);
        Assert.Equal(50, snapshot.Progress);
        Assert.Equal(pages, messages.Count(m => m.Event == JobEventTypes.PageCompleted));
        Assert.Equal(JobEventTypes.Completed, messages[^1].Event);
    }

    [Fact]
    public async Task An_idle_stream_sends_a_keep_alive_comment_every_KeepAliveSeconds()
    {
        await fixture.WaitForOpenStreamsAsync(0);
        var gated = fixture.Gated;
        var query = TestJobs.UniqueQueries("sse-keepalive", 1)[0];
        var lines = new List<string>();
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { query, provider = "gated" });
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var comments = 0;
            // The job is held at the provider: after the snapshot nothing happens, so comments keep the connection alive.
            await foreach (var line in SseClient.ReadLinesAsync(Http, $"/api/search-jobs/{created.JobId}/events", cancellationToken: deadline.Token))
            {
                lines.Add(line);
                if (line.StartsWith(':') && lines.Any(l => l == "event: snapshot") && ++comments == 3)
                {
                    break;
                }
            }
            Assert.StartsWith("retry:", lines[0]);
            var messages = SseClient.Parse(lines);
            Assert.Equal("snapshot", messages[0].Event);
            Assert.DoesNotContain(messages, m => JobEventTypes.IsTerminal(m.Event));
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }

    [Fact]
    public async Task A_stream_ends_after_MaxStreamMinutes_and_a_reconnect_with_Last_Event_ID_carries_on()
    {
        var settings = GatewaySettings.Common(fixture.Slow);
        foreach (var (key, value) in fixture.GatedSettings())
        {
            settings[key] = value;
        }
        settings["Events:MaxStreamMinutes"] = "0.05"; // 3 s
        settings["Http:PermitsPerMinute"] = "100000";
        settings["Http:PermitsPerMinutePerAddress"] = "100000";
        await using var gateway = await GatewayHost.StartAsync(settings);
        var gated = fixture.Gated;
        var query = TestJobs.UniqueQueries("sse-maxlife", 1)[0];
        var jobId = "";
        var lines = new List<string>();
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(gateway.Http, new { query, pages = 2, provider = "gated" });
            jobId = created.JobId;
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) + f.RequestsFor(query, 2) == 2, TimeSpan.FromSeconds(30));
            // The job is held, so only the stream's maximum life can end this read; the deadline is a failure.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await foreach (var line in SseClient.ReadLinesAsync(gateway.Http, $"/api/search-jobs/{jobId}/events", cancellationToken: deadline.Token))
            {
                lines.Add(line);
            }
        }
        finally
        {
            gated.Options.OpenGate();
        }

        Assert.StartsWith("retry:", lines[0]);
        var received = SseClient.Parse(lines);
        Assert.Equal("snapshot", received[0].Event);
        Assert.DoesNotContain(received, m => JobEventTypes.IsTerminal(m.Event));

        // As an EventSource does: reconnect with the last id seen until the job's terminal event arrives.
        for (var reconnects = 0; !JobEventTypes.IsTerminal(received[^1].Event); reconnects++)
        {
            Assert.True(reconnects < 20, "the job never ended");
            received.AddRange(await GatewayApi.ReadEventsAsync(gateway.Http, jobId, received[^1].Id));
        }
        EventStreamAssert.NeverGoesBack(received, null);
        Assert.Equal(2, received.Count(m => m.Event == JobEventTypes.PageCompleted));
        await Eventually.ReturnsAsync(() => StreamGatewayFixture.OpenStreamsAsync(gateway), s => s.InFlight == 0, "every stream's permit released");
    }

    [Fact]
    public async Task Open_streams_and_waits_over_MaxOpenStreams_are_429_with_Retry_After_and_a_closed_stream_makes_room()
    {
        var max = StreamGatewayFixture.MaxOpenStreams;
        await fixture.WaitForOpenStreamsAsync(0);
        var gated = fixture.Gated;
        var streams = new List<HeldStream>();
        Task<HttpResponseMessage>? wait = null;
        gated.Options.CloseGate();
        try
        {
            var job = await GatewayApi.CreateJobAsync(Http, new { query = TestJobs.UniqueQueries("sse-cap", 1)[0], provider = "gated" });
            for (var i = 0; i < max; i++)
            {
                streams.Add(await HeldStream.OpenAsync(Http, job.JobId));
            }
            var jobsBefore = (await GatewayApi.ListAllAsync(Http)).Count;

            using (var over = await GetEventsAsync(job.JobId))
            {
                await AssertTooManyStreamsAsync(over);
            }
            using (var overWait = await GatewayApi.PostAsync(Http, "/api/search?waitSeconds=60", GatewayApi.ToJson(new { query = "one wait too many", provider = "gated" })))
            {
                await AssertTooManyStreamsAsync(overWait);
            }
            // Refused before anything was created.
            Assert.Equal(jobsBefore, (await GatewayApi.ListAllAsync(Http)).Count);

            // A client goes away: its permit comes back and a new stream is admitted.
            await streams[0].DisposeAsync();
            streams.RemoveAt(0);
            await fixture.WaitForOpenStreamsAsync(max - 1);
            streams.Add(await HeldStream.OpenAsync(Http, job.JobId));
            using (var over = await GetEventsAsync(job.JobId))
            {
                await AssertTooManyStreamsAsync(over);
            }

            // A sync wait takes a place as a stream does.
            await streams[0].DisposeAsync();
            streams.RemoveAt(0);
            await fixture.WaitForOpenStreamsAsync(max - 1);
            wait = GatewayApi.PostAsync(Http, "/api/search?waitSeconds=60", GatewayApi.ToJson(new { query = TestJobs.UniqueQueries("sse-cap-wait", 1)[0], provider = "gated" }));
            await fixture.WaitForOpenStreamsAsync(max);
            Assert.False(wait.IsCompleted);
            using (var over = await GetEventsAsync(job.JobId))
            {
                await AssertTooManyStreamsAsync(over);
            }
        }
        finally
        {
            gated.Options.OpenGate();
        }

        // The jobs end, their streams and the wait with them, and every place is given back.
        using (var waited = await wait!)
        {
            Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
        }
        foreach (var stream in streams)
        {
            var messages = await stream.Completion;
            Assert.Equal(JobEventTypes.Completed, messages[^1].Event);
            await stream.DisposeAsync();
        }
        await fixture.WaitForOpenStreamsAsync(0);
    }

    private Task<HttpResponseMessage> GetEventsAsync(string jobId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{jobId}/events");
        request.Headers.Accept.Add(new("text/event-stream"));
        return Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static async Task AssertTooManyStreamsAsync(HttpResponseMessage response)
    {
        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
        Assert.Contains(StreamGatewayFixture.MaxOpenStreams.ToString(), problem.Detail, StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Null(response.Headers.Location);
    }

    /// <summary>An event stream a test keeps open (admitted once its snapshot arrived) and closes by disposing.</summary>
    private sealed class HeldStream(CancellationTokenSource close, Task<List<SseMessage>> completion) : IAsyncDisposable
    {
        public Task<List<SseMessage>> Completion => completion;

        public static async Task<HeldStream> OpenAsync(HttpClient http, string jobId)
        {
            var close = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var stream = new HeldStream(close, ReadAsync(http, jobId, admitted, close.Token));
            await Task.WhenAny(admitted.Task, stream.Completion).WaitAsync(TimeSpan.FromSeconds(30));
            if (stream.Completion.IsFaulted)
            {
                await stream.Completion; // refused: the exception says why
            }
            return stream;
        }

        private static async Task<List<SseMessage>> ReadAsync(HttpClient http, string jobId, TaskCompletionSource admitted, CancellationToken cancellationToken)
        {
            var messages = new List<SseMessage>();
            await foreach (var m in SseClient.ReadAsync(http, $"/api/search-jobs/{jobId}/events", cancellationToken: cancellationToken))
            {
                messages.Add(m);
                admitted.TrySetResult();
            }
            return messages;
        }

        public async ValueTask DisposeAsync()
        {
            if (!completion.IsCompleted)
            {
                close.Cancel();
                try
                {
                    await completion;
                }
                catch (OperationCanceledException)
                {
                    // Closed by the test, as a client that goes away.
                }
            }
            close.Dispose();
        }
    }
}
