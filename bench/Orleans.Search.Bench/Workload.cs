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

    /// <summary>
    /// Whether the provider's rate limit, not C, sets the pace: only when C/L exceeds R. At C = 5 and L = 200 ms the
    /// concurrency alone caps the pace at 25/s, under a 50/s quota, and the limiter never has to hold a call back.
    /// </summary>
    public bool LimiterBinds => RateLimited && (Latency <= TimeSpan.Zero || Concurrency / Latency.TotalSeconds > RatePerSecond);

    /// <summary>The most calls per second C calls in flight of latency L allow (C/L).</summary>
    public double ConcurrencyPaceCap => Latency <= TimeSpan.Zero ? double.PositiveInfinity : Concurrency / Latency.TotalSeconds;

    public string RateText => RateLimited ? string.Create(CultureInfo.InvariantCulture, $"{RatePerSecond:0.#}/s, B={Burst}") : "none";

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Calls} calls ({Queries}×{Pages}), C={Concurrency}, L={Latency.TotalMilliseconds:0} ms, rate {RateText}");
}

/// <summary>When a run began (a <see cref="System.Diagnostics.Stopwatch"/> timestamp, the fake's clock too) and how long it took.</summary>
public readonly record struct TimedRun(long StartedTimestamp, TimeSpan Makespan);

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

    /// <summary>
    /// From the first request (the first call to the fake for (a) and (b), the first POST for (c)) to the moment the
    /// fake finished writing the run's last successful response: the same span for every system.
    /// </summary>
    public TimeSpan? ToLastProviderResponse { get; init; }

    /// <summary>CPU time the gateway process used from just before the run's first POST until its writes were counted ((c) only).</summary>
    public TimeSpan? GatewayCpu { get; init; }

    /// <summary>Of <see cref="GatewayCpu"/>: the JIT's background (tiered) compiler thread, and the GC threads.</summary>
    public TimeSpan? GatewayJitCpu { get; init; }

    public TimeSpan? GatewayGcCpu { get; init; }
}

public static class Stats
{
    /// <summary>The median (the mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

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

/// <summary>A figure over a cell's repeats: the median and the spread (min–max) of the runs that produced one.</summary>
public sealed record Spread(double Median, double Min, double Max, int Count)
{
    public static Spread? Of(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().Where(x => !double.IsNaN(x)).ToList();
        return v.Count == 0 ? null : new Spread(Stats.Median(v), v.Min(), v.Max(), v.Count);
    }

    public static Spread? Of(IEnumerable<double> values) => Of(values.Select(v => (double?)v));

    /// <summary>"median unit (min–max)", or just "value unit" for a single run.</summary>
    public string Format(string format, string unit = "") => Count == 1
        ? string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)}{unit}")
        : string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)}{unit} ({Min.ToString(format, CultureInfo.InvariantCulture)}–{Max.ToString(format, CultureInfo.InvariantCulture)})");
}
