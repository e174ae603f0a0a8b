using System.Globalization;
using System.Net;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

[Collection(ProcessGatewayCollection.Name)]
public sealed class MetricsTests(ProcessGatewayFixture fixture)
{
    [Fact]
    public async Task Metrics_serves_every_documented_instrument_with_the_counts_of_what_ran()
    {
        var before = await ScrapeAsync();

        // One job whose only call is throttled once (429, Retry-After: 1) and then answered; a second job for the same
        // query served from the cache; the first job's events read over SSE.
        var query = TestJobs.UniqueQueries("metrics", 1)[0];
        fixture.Searxng.Options.Faults = s => s.Query == query && s.Attempt == 1 ? FakeSearxngFault.Status(429, retryAfterSeconds: 1) : null;
        JobStatus first, second;
        try
        {
            first = await RunAsync(query);
            second = await RunAsync(query);
        }
        finally
        {
            fixture.Searxng.Options.Faults = null;
        }
        Assert.Equal((2, 1, 0, 1), (first.Stats.ApiCalls, first.Stats.Retries, first.Stats.CacheHits, first.Stats.CacheMisses));
        Assert.Equal((0, 1), (second.Stats.ApiCalls, second.Stats.CacheHits));
        // From the first event (Last-Event-ID 0): every event is relayed, none is folded into a snapshot.
        var relayed = (await GatewayApi.ReadEventsAsync(fixture.UserHttp, first.JobId, "0")).Count;

        // Every instrument the README lists, with what this scenario adds to it (the exporter may lag a scrape behind).
        var expected = new (string Series, Func<Sample, bool> Match, double Added)[]
        {
            ("search_jobs_started_total", _ => true, 2),
            ("search_jobs_ended_total", s => s.Label("status") == "completed", 2),
            ("search_provider_calls_total", s => s.Label("provider") == "web" && s.Label("status") == "429", 1),
            ("search_provider_calls_total", s => s.Label("provider") == "web" && s.Label("status") == "200", 1),
            ("search_provider_throttled_total", s => s.Label("provider") == "web", 1),
            ("search_provider_retries_total", s => s.Label("provider") == "web", 1),
            ("search_limiter_wait_milliseconds_count", _ => true, 2),
            ("search_cache_lookups_total", s => s.Label("result") == "miss", 1),
            ("search_cache_lookups_total", s => s.Label("result") == "hit", 1),
            ("search_events_delivery_delay_milliseconds_count", _ => true, relayed),
        };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var after = await ScrapeAsync();
        while (!expected.All(e => Sum(after, e.Series, e.Match) - Sum(before, e.Series, e.Match) >= e.Added) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            after = await ScrapeAsync();
        }
        foreach (var (series, match, added) in expected)
        {
            Assert.True(Sum(after, series, match) - Sum(before, series, match) == added,
                $"{series}: {Sum(before, series, match)} before, {Sum(after, series, match)} after; expected {added} more. /metrics:\n"
                + string.Join("\n", after.Where(s => s.Name.StartsWith("search_", StringComparison.Ordinal)).Select(s => s.Line)));
        }
        // The histograms are histograms (buckets for a dashboard), not bare counts.
        Assert.Contains(after, s => s.Name == "search_limiter_wait_milliseconds_bucket" && s.Label("le") == "+Inf");
        Assert.Contains(after, s => s.Name == "search_events_delivery_delay_milliseconds_bucket" && s.Label("le") == "+Inf");
    }

    private async Task<JobStatus> RunAsync(string query)
    {
        using var response = await GatewayApi.PostAsync(fixture.UserHttp, "/api/search", GatewayApi.ToJson(new { query, waitSeconds = 60 }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = await GatewayApi.ReadJobAsync(response);
        Assert.Equal(JobStates.Completed, status.Status);
        return status;
    }

    /// <summary>/metrics as the admin reads it (it may need the admin role), parsed from the Prometheus text format.</summary>
    private async Task<List<Sample>> ScrapeAsync()
    {
        using var response = await fixture.AdminHttp.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        return text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(Sample.Parse).ToList();
    }

    private static double Sum(IEnumerable<Sample> samples, string series, Func<Sample, bool> match) =>
        samples.Where(s => s.Name == series && match(s)).Sum(s => s.Value);

    /// <summary>One line of the Prometheus text format: <c>name{label="value",…} value [timestamp]</c>.</summary>
    private sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value, string Line)
    {
        public string? Label(string name) => Labels.TryGetValue(name, out var value) ? value : null;

        public static Sample Parse(string line)
        {
            var brace = line.IndexOf('{');
            var close = line.LastIndexOf('}');
            var name = brace < 0 ? line[..line.IndexOf(' ')] : line[..brace];
            var labels = new Dictionary<string, string>();
            if (brace >= 0)
            {
                // Label values in our metrics have no quotes or commas of their own.
                foreach (var pair in line[(brace + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var eq = pair.IndexOf('=');
                    labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
                }
            }
            var rest = line[((brace < 0 ? name.Length : close + 1))..].Trim().Split(' ');
            return new Sample(name, labels, double.Parse(rest[0], CultureInfo.InvariantCulture), line);
        }
    }
}
