using System.Globalization;
using System.Runtime.InteropServices;
using Orleans.Search.Fakes;

// A SearXNG-compatible JSON API on 127.0.0.1, for trying the service against "the web" offline:
//   dotnet run --project tests/Orleans.Search.Fakes.Server -- --port 8888 --latency-ms 200 --rate 50 --burst 10
// Ctrl+C (or SIGTERM) prints how many times each (query, page) was fetched, so a crash test by hand can check for refetches.
var settings = Arguments.Parse(args);
var options = new FakeSearxngOptions
{
    Port = settings.Int("port", 8888),
    Latency = TimeSpan.FromMilliseconds(settings.Number("latency-ms", 100)),
    RatePerSecond = settings.Number("rate", 0),
    Burst = Math.Max(1, settings.Int("burst", 10)),
};
FakeSearxng fake;
try
{
    fake = await FakeSearxng.StartAsync(options);
}
catch (IOException ex)
{
    Console.Error.WriteLine($"Cannot listen on 127.0.0.1:{options.Port}: {ex.Message} Pass another --port.");
    return 1;
}
await using var _ = fake;
Console.WriteLine($"Fake SearXNG on {fake.BaseUrl} (latency {options.Latency.TotalMilliseconds} ms, " +
    (options.RatePerSecond > 0 ? $"quota {options.RatePerSecond}/s burst {options.Burst}" : "no quota") + "). Ctrl+C to stop.");

var stopped = new TaskCompletionSource();
// SIGINT (Ctrl+C) and SIGTERM (kill) both end the server after the summary below.
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
await stopped.Task;

var counts = fake.RequestCountsSnapshot();
var refetched = counts.Where(c => c.Value > 1).ToList();
Console.WriteLine($"{fake.TotalRequests} requests for {counts.Count} (query, page) pairs; {fake.RateLimitedResponses} answered 429; " +
    $"{refetched.Count} pairs requested more than once.");
foreach (var ((query, page), n) in refetched.OrderByDescending(c => c.Value).Take(20))
{
    Console.WriteLine($"  {n}× '{query}' page {page}");
}
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stopped.TrySetResult();
}

internal static class Arguments
{
    /// <summary><c>--name value</c> pairs of numbers.</summary>
    public static Dictionary<string, double> Parse(string[] args)
    {
        var values = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || !double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                throw new ArgumentException($"Expected '--name number', got '{args[i]} {args[i + 1]}'.");
            }
            values[args[i][2..]] = value;
        }
        return values;
    }

    public static int Int(this Dictionary<string, double> values, string name, int fallback) =>
        values.TryGetValue(name, out var v) ? (int)v : fallback;

    public static double Number(this Dictionary<string, double> values, string name, double fallback) =>
        values.TryGetValue(name, out var v) ? v : fallback;
}
