using System.Globalization;

namespace Orleans.Search.Bench;

/// <summary>One benchmark scenario: N queries × P pages against a provider of latency L, concurrency C and an optional quota.</summary>
public sealed record Scenario(int Queries, int Pages, int Concurrency, TimeSpan Latency, double RatePerSecond, int Burst)
{
    public int Calls => Queries * Pages;

    public bool RateLimited => RatePerSecond > 0;

    /// <summary>The best any client can do: <c>max(ceil(calls/C)·L, (calls−B)/R + L)</c>; without a rate limit the second term drops.</summary>
    public TimeSpan Bound
    {
        get
        {
            var concurrency = Math.Ceiling((double)Calls / Concurrency) * Latency.TotalSeconds;
            var rate = RateLimited ? Math.Max(0, Calls - Burst) / RatePerSecond + Latency.TotalSeconds : 0;
            return TimeSpan.FromSeconds(Math.Max(concurrency, rate));
        }
    }

    public string RateText => RateLimited ? string.Create(CultureInfo.InvariantCulture, $"{RatePerSecond:0.#}/s, B={Burst}") : "none";

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Calls} calls ({Queries}×{Pages}), C={Concurrency}, L={Latency.TotalMilliseconds:0} ms, rate {RateText}");
}

/// <summary>One (query, page) provider call of a workload.</summary>
public readonly record struct Call(string Query, int Page);

public static class Workloads
{
    /// <summary>Unique query texts per system and scenario, so that neither the fake's counters nor the service's cache mix runs.</summary>
    public static IReadOnlyList<string> Queries(string runId, string tag, int count) =>
        Enumerable.Range(1, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"bench {runId} {tag} q{i:0000}")).ToList();

    /// <summary>Query-major order, as a script would loop: every page of query 1, then query 2, …</summary>
    public static IReadOnlyList<Call> Calls(IReadOnlyList<string> queries, int pages) =>
        queries.SelectMany(q => Enumerable.Range(1, pages).Select(p => new Call(q, p))).ToList();
}

/// <summary>What one system did on one scenario.</summary>
public sealed record Measurement
{
    public required string System { get; init; }

    public TimeSpan? Makespan { get; init; }

    /// <summary>Why there is no figure (e.g. skipped because it would take too long).</summary>
    public string? Note { get; init; }

    public int Throttled { get; init; }

    public int ProviderRequests { get; init; }

    public int MaxInFlight { get; init; }

    public IReadOnlyList<double> EventDelaysMs { get; init; } = [];

    /// <summary>Storage writes per grain type during the run (Orleans.Search only).</summary>
    public IReadOnlyDictionary<string, long> Writes { get; init; } = new Dictionary<string, long>();

    public string? Error { get; init; }

    /// <summary>From the start of the run to the first call's arrival at the fake.</summary>
    public double? FirstArrivalMs { get; init; }

    /// <summary>Calls per second at the fake from the first arrival to the last (the pace the limiter achieved).</summary>
    public double? ArrivalRate { get; init; }
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
