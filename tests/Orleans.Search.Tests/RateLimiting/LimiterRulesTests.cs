using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Search.Fakes;
using Orleans.Search.Hosting;
using Orleans.Search.Providers;
using Orleans.Search.Queries;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Tests.RateLimiting;

/// <summary>The rules under the limiter grain and the resilience pipeline, driven by a fake clock instead of sleeps.</summary>
[Collection(SearchClusterCollection.Name)]
public sealed class LimiterRulesTests(SearchClusterFixture fixture)
{
    [Theory]
    [InlineData(600, 10, 0, 1)]
    [InlineData(3000, 5, 0, 7)]
    [InlineData(60, 1, 0, 42)]
    [InlineData(3000, 5, 0.25, 3)]
    [InlineData(600, 2, 0.5, 9)]
    public void The_bucket_never_grants_more_than_burst_plus_lead_plus_rate_times_t_in_any_window(double perMinute, int burst, double lead, int seed)
    {
        var random = new Random(seed);
        var bucket = new PermitBucket();
        var now = DateTimeOffset.UnixEpoch;
        var grants = new List<DateTimeOffset>();
        var refused = 0;
        // Callers at random moments, for a simulated ten minutes; sometimes idle, so the bucket fills up again.
        for (var step = 0; step < 20_000; step++)
        {
            now += TimeSpan.FromMilliseconds(random.Next(0, 60));
            var tries = random.Next(0, 4);
            for (var i = 0; i < tries; i++)
            {
                if (bucket.TryTake(now, perMinute, burst, lead))
                {
                    grants.Add(now);
                }
                else
                {
                    refused++;
                }
            }
        }

        var perSecond = perMinute / 60;
        // What they got is checked by the next test; here they only had to ask for more than the bucket gives.
        Assert.True(refused > 0, "the callers were greedy enough to be limited");
        for (int start = 0, end = 0; start < grants.Count; start++)
        {
            // Every window that begins at a grant: the ones inside it (inclusive) may not exceed burst + lead + rate·t.
            foreach (var window in new[] { 0.0, 0.1, 1, 10 })
            {
                end = start;
                while (end < grants.Count && (grants[end] - grants[start]).TotalSeconds <= window)
                {
                    end++;
                }
                var allowed = burst + lead + perSecond * window;
                Assert.True(end - start <= allowed + 1e-9, $"{end - start} grants within {window} s of {grants[start]:O}; at most {allowed} allowed");
            }
        }
    }

    [Theory]
    [InlineData(600, 10, 0, 1)]
    [InlineData(3000, 5, 0, 7)]
    [InlineData(60, 1, 0, 42)]
    [InlineData(3000, 5, 0.25, 3)]
    [InlineData(600, 2, 0.5, 9)]
    public void Greedy_callers_get_the_burst_plus_the_rate_to_within_one_token_at_every_moment(double perMinute, int burst, double lead, int seed)
    {
        // Callers that take every token there is whenever they look, and look at least as soon as the bucket says the
        // next token is due (as the limiter grain's timer does). Nothing is wasted, so after t seconds they hold exactly
        // burst + rate·t less what is still accruing: between -lead and 1 - lead tokens left in the bucket.
        var random = new Random(seed);
        var bucket = new PermitBucket();
        var start = DateTimeOffset.UnixEpoch;
        var now = start;
        var perSecond = perMinute / 60;
        // They start by emptying the full bucket: that is the burst.
        var granted = 0;
        while (bucket.TryTake(now, perMinute, burst, lead))
        {
            granted++;
        }
        Assert.Equal(burst, granted);
        for (var step = 0; step < 20_000; step++)
        {
            var wake = now + TimeSpan.FromMilliseconds(random.Next(0, 60));
            var due = bucket.NextTokenAt(now, perMinute, burst, lead);
            now = due > now && due < wake ? due : wake;
            while (bucket.TryTake(now, perMinute, burst, lead))
            {
                granted++;
            }

            var supplied = burst + perSecond * (now - start).TotalSeconds;
            Assert.True(granted > supplied - (1 - lead) - 1e-6 && granted <= supplied + lead + 1e-6,
                $"{granted} granted after {(now - start).TotalSeconds:0.000} s; burst + rate·t is {supplied:0.000}");
        }
        Assert.True(now - start > TimeSpan.FromMinutes(4), $"the run covered {(now - start).TotalMinutes:0.0} simulated minutes");
    }

    [Fact]
    public void The_bucket_refills_at_its_rate_and_says_when_the_next_token_is_due()
    {
        var bucket = new PermitBucket();
        var now = DateTimeOffset.UnixEpoch;
        for (var i = 0; i < 3; i++)
        {
            Assert.True(bucket.TryTake(now, 60, 3));
        }
        Assert.False(bucket.TryTake(now, 60, 3));
        Assert.Equal(now + TimeSpan.FromSeconds(1), bucket.NextTokenAt(now, 60, 3));
        Assert.False(bucket.TryTake(now + TimeSpan.FromMilliseconds(999), 60, 3));
        Assert.True(bucket.TryTake(now + TimeSpan.FromSeconds(1), 60, 3));

        bucket.Drain(now + TimeSpan.FromSeconds(5), 60, 3);
        Assert.False(bucket.TryTake(now + TimeSpan.FromSeconds(5), 60, 3));
    }

    [Fact]
    public void Limits_changed_in_configuration_take_effect_on_the_next_call()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:PermitsPerMinute"] = "600",
            ["Search:Providers:web:Burst"] = "10",
            ["Search:Providers:web:MaxConcurrency"] = "4",
            ["Search:Providers:web:JitterToleranceMs"] = "0",
            ["Limits:User:PermitsPerMinute"] = "120",
            ["Limits:User:Burst"] = "5",
            ["Limits:User:MaxConcurrency"] = "2",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddSearchGrainServices(configuration).BuildServiceProvider();
        var source = services.GetRequiredService<LimiterSettingsSource>();
        Assert.Equal(new LimiterSettings(600, 10, 10, 4), source.For(LimiterKeys.Provider("web")));
        Assert.Equal(new LimiterSettings(120, 5, 5, 2), source.For(LimiterKeys.User("alice")));

        configuration["Search:Providers:web:PermitsPerMinute"] = "30";
        configuration["Search:Providers:web:MaxConcurrency"] = "1";
        configuration["Limits:User:Burst"] = "50";
        configuration.Reload();

        Assert.Equal(new LimiterSettings(30, 10, 10, 1), source.For(LimiterKeys.Provider("web")));
        Assert.Equal(new LimiterSettings(120, 50, 50, 2), source.For(LimiterKeys.User("alice")));
    }

    [Fact]
    public void The_burst_in_use_keeps_back_the_tokens_that_accrue_within_the_jitter_tolerance()
    {
        // 6000/min = 100/s; 200 ms of tolerance = 20 tokens held back from a burst of 50.
        Assert.Equal(30, LimiterSettingsSource.EffectiveBurst(new SearchProviderOptions { PermitsPerMinute = 6000, Burst = 50, JitterToleranceMs = 200 }));
        Assert.Equal(1, LimiterSettingsSource.EffectiveBurst(new SearchProviderOptions { PermitsPerMinute = 6000, Burst = 5, JitterToleranceMs = 200 }));
        Assert.Equal(5, LimiterSettingsSource.EffectiveBurst(new SearchProviderOptions { PermitsPerMinute = 0, Burst = 5, JitterToleranceMs = 200 }));
    }

    [Theory]
    [InlineData(400, 1)]
    [InlineData(401, 1)]
    [InlineData(403, 1)]
    [InlineData(404, 1)]
    [InlineData(408, 3)]
    [InlineData(429, 3)]
    [InlineData(500, 3)]
    [InlineData(503, 3)]
    [InlineData(null, 3)]
    public async Task Only_408_429_5xx_and_no_response_are_retried(int? status, int expectedAttempts)
    {
        var resilience = Resilience(out var provider);
        var attempts = 0;
        var delays = new List<TimeSpan>();
        var error = await Assert.ThrowsAsync<ProviderException>(() => resilience.RetryAsync<ProviderPage>(provider, _ =>
        {
            attempts++;
            throw new ProviderException(provider, $"answered {status}", status, status == 429 ? TimeSpan.FromMilliseconds(30) : null);
        }, delays.Add, CancellationToken.None));

        Assert.Equal(status, error.StatusCode);
        Assert.Equal(expectedAttempts, attempts);
        Assert.Equal(expectedAttempts - 1, delays.Count);
        if (status == 429)
        {
            Assert.All(delays, d => Assert.Equal(TimeSpan.FromMilliseconds(30), d));
        }
    }

    /// <summary>Every answer a provider (or the network to it) gives, how many attempts it gets in all, and the status recorded.</summary>
    public static TheoryData<string, int, int?> ProviderAnswers() => new()
    {
        { "400", 1, 400 },
        { "401", 1, 401 },
        { "403", 1, 403 },
        { "404", 1, 404 },
        { "408", 3, 408 },
        { "429", 3, 429 },
        { "500", 3, 500 },
        { "502", 3, 502 },
        { "503", 3, 503 },
        { "504", 3, 504 },
        { "dropped connection", 3, null },
        { "no answer", 3, null },
        { "stalled mid-body", 3, null },
        { "malformed JSON", 1, null },
    };

    [Theory]
    [MemberData(nameof(ProviderAnswers))]
    public async Task Each_provider_answer_is_retried_or_not_and_recorded_on_the_job_through_the_real_adapter(string answer, int expectedAttempts, int? expectedStatus)
    {
        // Provider 'rules' on the loopback fake: three attempts, 1 ms backoff base, a 2 s attempt timeout.
        var searxng = fixture.Searxng;
        var query = TestJobs.UniqueQueries($"answer {answer}", 1)[0];
        var fault = answer switch
        {
            "dropped connection" => FakeSearxngFault.DropConnection,
            "stalled mid-body" => FakeSearxngFault.StallMidBody,
            "no answer" => FakeSearxngFault.Hang,
            "malformed JSON" => FakeSearxngFault.MalformedJson,
            "429" => FakeSearxngFault.Status(429, retryAfterSeconds: 1),
            _ => FakeSearxngFault.Status(int.Parse(answer)),
        };
        searxng.Options.Faults = s => s.Query == query ? fault : null;
        try
        {
            var submission = TestJobs.Submission([query], pages: 1, provider: "rules");
            var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            var status = (await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false), s => JobStates.IsTerminal(s!.Status), "the job to end"))!;
            var debug = (await job.GetDebugAsync("tester"))!.Queries.Single();
            var arrivals = searxng.ArrivalsSnapshot().Where(a => a.Query == query).Select(a => a.ArrivedAt).ToList();

            // Counted once the job ended: no attempt can come later.
            Assert.Equal(expectedAttempts, searxng.RequestsFor(query, 1));
            var failed = status.Queries.Single();
            Assert.Equal((JobStates.Failed, QueryStates.Failed, expectedAttempts, expectedAttempts - 1), (status.Status, failed.Status, failed.Attempts, status.Stats.Retries));
            Assert.False(string.IsNullOrWhiteSpace(failed.Error));
            Assert.Equal(expectedAttempts, debug.Attempts.Count);
            if (answer != "malformed JSON")
            {
                // Left open for a malformed body: today no status is recorded, though the provider did answer 200.
                Assert.All(debug.Attempts, a => Assert.Equal(expectedStatus, a.StatusCode));
            }
            Assert.All(debug.Attempts, a => Assert.False(string.IsNullOrWhiteSpace(a.Error)));
            Assert.All(debug.Attempts.SkipLast(1), a => Assert.NotNull(a.RetryDelayMs));
            Assert.Null(debug.Attempts[^1].RetryDelayMs);
            if (expectedStatus is { } code)
            {
                Assert.Contains(code.ToString(), failed.Error, StringComparison.Ordinal);
            }
            switch (answer)
            {
                case "429":
                    // Retry-After: 1 is honoured as the backoff, and no attempt follows another sooner.
                    Assert.All(debug.Attempts.SkipLast(1), a => Assert.Equal(1000, a.RetryDelayMs));
                    Assert.All(arrivals.Zip(arrivals.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(0.95), $"attempts {(pair.Second - pair.First).TotalMilliseconds:0} ms apart"));
                    break;
                case "no answer" or "stalled mid-body":
                    // Each attempt is given up after its 2 s timeout, and the fake sees each one aborted.
                    Assert.Contains("timed out", failed.Error, StringComparison.Ordinal);
                    Assert.Equal(expectedAttempts, searxng.AbortsFor(query, 1));
                    Assert.All(debug.Attempts, a => Assert.InRange(a.DurationMs, 1900, 8000));
                    break;
                case "malformed JSON":
                    // Decided: a complete answer whose body is not JSON is not retried (the same bytes would come back);
                    // the query fails with the parser's complaint.
                    Assert.Contains("JSON", failed.Error, StringComparison.Ordinal);
                    break;
            }
        }
        finally
        {
            searxng.Options.Faults = null;
        }
    }

    [Fact]
    public async Task An_attempt_slower_than_TimeoutSeconds_is_aborted_at_the_timeout_recorded_and_retried()
    {
        // Provider 'rules' gives each attempt 2 s. The first attempt gets no answer; the second is answered at once.
        var searxng = fixture.Searxng;
        var query = TestJobs.UniqueQueries("slow attempt", 1)[0];
        searxng.Options.Faults = s => s.Query == query && s.Attempt == 1 ? FakeSearxngFault.Hang : null;
        try
        {
            var submission = TestJobs.Submission([query], pages: 1, provider: "rules");
            var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            var status = (await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false), s => JobStates.IsTerminal(s!.Status), "the job to end"))!;
            var debug = (await job.GetDebugAsync("tester"))!.Queries.Single();

            Assert.Equal((JobStates.Completed, 10, 2, 1), (status.Status, status.Stats.TotalResults, status.Queries[0].Attempts, status.Stats.Retries));
            Assert.Equal((2, 1, 1), (searxng.RequestsFor(query, 1), searxng.AbortsFor(query, 1), searxng.SuccessesFor(query, 1)));
            // The slow attempt was given up by its timeout, not sooner and not much later (8 s is generous for a loaded machine).
            Assert.InRange(searxng.LastAbortFor(query, 1)!.Value - debug.Attempts[0].StartedAt, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(8));
            Assert.Collection(debug.Attempts,
                slow =>
                {
                    Assert.Equal((1, 1, (int?)null), (slow.Page, slow.Attempt, slow.StatusCode));
                    Assert.Contains("timed out after 2 s", slow.Error, StringComparison.Ordinal);
                    Assert.InRange(slow.DurationMs, 1900, 8000);
                    Assert.NotNull(slow.RetryDelayMs);
                },
                quick =>
                {
                    Assert.Equal((1, 2, (int?)200, (string?)null), (quick.Page, quick.Attempt, quick.StatusCode, quick.Error));
                    Assert.Null(quick.RetryDelayMs);
                });
        }
        finally
        {
            searxng.Options.Faults = null;
        }
    }

    [Fact]
    public void Retry_After_is_read_as_seconds_as_an_HTTP_date_and_from_rate_limit_reset_headers()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

        using var seconds = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        seconds.Headers.TryAddWithoutValidation("Retry-After", "7");
        Assert.Equal(TimeSpan.FromSeconds(7), ProviderHeaders.RetryAfter(seconds, TimeSpan.FromSeconds(300), clock));

        using var date = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        date.Headers.TryAddWithoutValidation("Retry-After", "Tue, 01 Dec 2026 12:00:30 GMT");
        Assert.Equal(TimeSpan.FromSeconds(30), ProviderHeaders.RetryAfter(date, TimeSpan.FromSeconds(300), clock));

        using var past = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        past.Headers.TryAddWithoutValidation("Retry-After", "Tue, 01 Dec 2026 11:59:00 GMT");
        Assert.Equal(TimeSpan.Zero, ProviderHeaders.RetryAfter(past, TimeSpan.FromSeconds(300), clock));

        using var reset = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        reset.Headers.TryAddWithoutValidation("RateLimit-Reset", "2.5");
        Assert.Equal(TimeSpan.FromSeconds(2.5), ProviderHeaders.RetryAfter(reset, TimeSpan.FromSeconds(300), clock));

        using var legacy = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        legacy.Headers.TryAddWithoutValidation("X-RateLimit-Reset", "4");
        Assert.Equal(TimeSpan.FromSeconds(4), ProviderHeaders.RetryAfter(legacy, TimeSpan.FromSeconds(300), clock));

        using var none = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        Assert.Null(ProviderHeaders.RetryAfter(none, TimeSpan.FromSeconds(300), clock));
    }

    private ProviderResilience Resilience(out string provider)
    {
        provider = "rules-" + Guid.NewGuid().ToString("N")[..8];
        var options = new SearchOptions();
        options.Providers[provider] = new SearchProviderOptions
        {
            Kind = "searxng",
            MaxAttempts = 3,
            RetryBaseDelayMs = 1,
            BreakerMinimumThroughput = 100_000,
        };
        return new ProviderResilience(new StaticOptionsMonitor<SearchOptions>(options), fixture.Client, TimeProvider.System, NullLogger<ProviderResilience>.Instance);
    }

    private sealed class StaticOptionsMonitor<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
