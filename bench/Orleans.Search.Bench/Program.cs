using System.Diagnostics;
using System.Globalization;
using Orleans.Search.Fakes;

namespace Orleans.Search.Bench;

/// <summary>
/// Issue 3's benchmark. Runs, side by side on the same workload against a loopback fake SearXNG:
/// (a) a sequential loop of awaits, (b) Task.WhenAll + SemaphoreSlim(C) + a token bucket, (c) Orleans.Search over
/// its HTTP API (gateway process, embedded silo, SQLite, durable checkpoints). Writes bench/RESULTS.md.
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--postgres"))
        {
            return await Postgres.PostgresBench.MainAsync(args); // issue 4: PostgreSQL column and silo kill (Postgres/)
        }
        if (args.Contains("--soak"))
        {
            return await Soak.SoakBench.MainAsync(args); // normal clients beside hostile ones (Soak/)
        }
        var options = BenchOptions.Parse(args);
        if (options is null)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 2;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        try
        {
            await new Benchmark(options).RunAsync(cts.Token);
            return 0;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return 130;
        }
    }
}

public sealed record BenchOptions
{
    public const string Usage = """
        dotnet run -c Release --project bench/Orleans.Search.Bench [-- options]
          --quick                 40 and 400 calls only (about 5 minutes); the full run adds 4000 calls (about 20 minutes)
          --calls 40,400,4000     the call counts to run (N queries × 10 pages)
          --sequential-max 100    run (a) only where calls × L fits in this many seconds
          --fast-concurrency 200  C of the L = 0 overhead run
          --out PATH              where to write the Markdown (default: bench/RESULTS.md in the repository)
          --overhead-only         only the L = 0 overhead run (for profiling; two rounds, the first as warm-up)
          --concurrency 5,50      the values of C
          --rated-only            only the rate-limited scenarios
          --no-overhead           skip the L = 0 run
          --overhead-rounds N     repeat the L = 0 run N times and report the last (default 1)
          --gateway-env KEY=VALUE an extra environment variable for the gateway process (repeatable)
          --gateway-log PATH      keep the gateway's console output there
        Other modes: --postgres (PostgreSQL and a silo kill), --soak (normal clients beside hostile ones; --soak --help)
        """;

    public IReadOnlyList<int> CallCounts { get; init; } = [40, 400, 4000];

    public IReadOnlyList<int> Concurrencies { get; init; } = [5, 50];

    public int Pages { get; init; } = 10;

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(200);

    public double RatePerSecond { get; init; } = 50;

    public int Burst { get; init; } = 10;

    /// <summary>The service's default: tokens that accrue in this time are held back from the burst.</summary>
    public double JitterToleranceMs { get; init; } = 200;

    public double SequentialMaxSeconds { get; init; } = 100;

    public int OverheadCalls { get; init; } = 4000;

    public int FastConcurrency { get; init; } = 200;

    /// <summary>The L = 0 run is repeated this many times; only the last is reported (the others warm the service up).</summary>
    public int OverheadRounds { get; init; } = 1;

    public bool Quick { get; init; }

    public string? OutputPath { get; init; }

    public bool OverheadOnly { get; init; }

    public bool RatedOnly { get; init; }

    public bool NoOverhead { get; init; }

    public IReadOnlyDictionary<string, string> GatewayEnvironment { get; init; } = new Dictionary<string, string>();

    public string? GatewayLog { get; init; }

    public int BurstInUse => Math.Max(1, Burst - (int)Math.Ceiling(RatePerSecond * JitterToleranceMs / 1000));

    public static BenchOptions? Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick": o = o with { Quick = true, CallCounts = [40, 400] }; break;
                case "--calls": o = o with { CallCounts = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList() }; break;
                case "--sequential-max": o = o with { SequentialMaxSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--fast-concurrency": o = o with { FastConcurrency = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--out": o = o with { OutputPath = Next() }; break;
                case "--overhead-only": o = o with { OverheadOnly = true, CallCounts = [], OverheadRounds = Math.Max(o.OverheadRounds, 2) }; break;
                case "--concurrency": o = o with { Concurrencies = Next().Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList() }; break;
                case "--rated-only": o = o with { RatedOnly = true }; break;
                case "--no-overhead": o = o with { NoOverhead = true }; break;
                case "--overhead-rounds": o = o with { OverheadRounds = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)) }; break;
                case "--gateway-log": o = o with { GatewayLog = Next() }; break;
                case "--gateway-env":
                    var pair = Next().Split('=', 2);
                    o = o with { GatewayEnvironment = new Dictionary<string, string>(o.GatewayEnvironment) { [pair[0]] = pair.Length > 1 ? pair[1] : "" } };
                    break;
                case "-h" or "--help": return null;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return null;
            }
        }
        return o;
    }
}

/// <summary>One row: a scenario and what (a), (b) and (c) did on it.</summary>
public sealed record Row(Scenario Scenario, Measurement? Sequential, Measurement WhenAll, Measurement Orleans, bool SequentialShared);

public sealed class Benchmark(BenchOptions options)
{
    private readonly string _runId = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
    private readonly List<Row> _rows = [];
    private readonly List<string> _log = [];
    private Row? _overhead;
    private double _overheadGatewayCpuMsPerCall;
    private string _salt = "";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var machine = MachineInfo.Capture();
        Say($"Orleans.Search benchmark — {machine.Summary}");
        var started = Stopwatch.StartNew();
        var work = Path.Combine(Path.GetTempPath(), $"orleans-search-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        var database = Path.Combine(work, "orleans-search.db");

        await using var rated = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = options.Latency, RatePerSecond = options.RatePerSecond, Burst = options.Burst, ArrivalLogLimit = 100_000,
        }, cancellationToken);
        await using var free = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = options.Latency, ArrivalLogLimit = 100_000 }, cancellationToken);
        await using var fast = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.Zero, ArrivalLogLimit = 100_000 }, cancellationToken);

        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = $"Data Source={database}",
            ["Search:DefaultProvider"] = "fast",
            // The user's limits must not be the bottleneck: only the provider's are under test.
            ["Limits:User:PermitsPerMinute"] = "100000000",
            ["Limits:User:Burst"] = "1000000",
            ["Limits:User:MaxConcurrency"] = "1000000",
            ["Limits:User:MaxActiveJobs"] = "100000",
        };
        void Provider(string name, FakeSearxng fake, double permitsPerMinute, int concurrency)
        {
            var p = $"Search:Providers:{name}:";
            settings[p + "Kind"] = "searxng";
            settings[p + "BaseUrl"] = fake.BaseUrl.ToString();
            settings[p + "PermitsPerMinute"] = permitsPerMinute.ToString(CultureInfo.InvariantCulture);
            settings[p + "Burst"] = options.Burst.ToString(CultureInfo.InvariantCulture);
            settings[p + "MaxConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture);
            settings[p + "JitterToleranceMs"] = options.JitterToleranceMs.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var c in options.Concurrencies)
        {
            Provider($"r{c}", rated, 60 * options.RatePerSecond, c);
            Provider($"n{c}", free, 0, c);
        }
        Provider("fast", fast, 0, options.FastConcurrency);
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            settings[key] = value;
        }

        Say($"Starting the gateway (embedded silo, SQLite at {database})…");
        await using var gateway = await StartGatewayAsync(work, settings, cancellationToken);
        Say($"Gateway pid {gateway.ProcessId} at {gateway.BaseAddress}");
        using var serviceHttp = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = gateway.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        using var directHttp = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = TimeSpan.FromSeconds(30) };
        var probe = new StorageProbe(database);
        var fakes = new Dictionary<string, FakeSearxng> { ["r"] = rated, ["n"] = free, ["fast"] = fast };

        try
        {
            await WarmUpAsync(serviceHttp, directHttp, fakes, cancellationToken);

            foreach (var rateLimited in options.RatedOnly ? new[] { true } : new[] { true, false })
            {
                foreach (var calls in options.CallCounts)
                {
                    Measurement? sequential = null;
                    foreach (var c in options.Concurrencies)
                    {
                        var scenario = new Scenario(calls / options.Pages, options.Pages, c, options.Latency, rateLimited ? options.RatePerSecond : 0, options.Burst);
                        var fake = rateLimited ? rated : free;
                        var provider = $"{(rateLimited ? "r" : "n")}{c}";
                        Say($"— {scenario}; bound {scenario.Bound.TotalSeconds:0.00} s");
                        var shared = sequential is not null;
                        sequential ??= await SequentialAsync(scenario, directHttp, fake, cancellationToken);
                        var whenAll = await WhenAllAsync(scenario, directHttp, fake, cancellationToken);
                        var orleans = await OrleansAsync(scenario, provider, serviceHttp, fake, probe, gateway, cancellationToken);
                        _rows.Add(new Row(scenario, sequential, whenAll, orleans, shared));
                    }
                }
            }

            if (options.NoOverhead)
            {
                return;
            }
            var overhead = new Scenario(options.OverheadCalls / options.Pages, options.Pages, options.FastConcurrency, TimeSpan.Zero, 0, options.Burst);
            Say($"— Orchestration overhead: {overhead}");
            for (var round = 1; round <= options.OverheadRounds; round++)
            {
                _salt = $"-round{round}";
                if (options.OverheadRounds > 1)
                {
                    Say($"  round {round} of {options.OverheadRounds}{(round < options.OverheadRounds ? " (warm-up, not reported)" : "")}");
                }
                var seqFast = await SequentialAsync(overhead, directHttp, fast, cancellationToken, force: true);
                var whenAllFast = await WhenAllAsync(overhead, directHttp, fast, cancellationToken);
                var cpuBefore = gateway.CpuTime;
                var orleansFast = await OrleansAsync(overhead, "fast", serviceHttp, fast, probe, gateway, cancellationToken);
                _overheadGatewayCpuMsPerCall = (gateway.CpuTime - cpuBefore).TotalMilliseconds / overhead.Calls;
                _overhead = new Row(overhead, seqFast, whenAllFast, orleansFast, false);
            }
        }
        finally
        {
            var elapsed = started.Elapsed;
            if (options.GatewayLog is { } log)
            {
                await File.WriteAllTextAsync(log, gateway.Output, CancellationToken.None);
            }
            var report = ResultsReport.Render(options, machine, MachineInfo.Capture(), elapsed, _rows, _overhead, _overheadGatewayCpuMsPerCall);
            var path = options.OutputPath ?? DefaultOutputPath();
            await File.WriteAllTextAsync(path, report, CancellationToken.None);
            Say($"Wrote {path} ({elapsed.TotalMinutes:0.0} min)");
            Console.WriteLine();
            Console.WriteLine(report);
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Starts the gateway, trying again if it dies before it is ready (another run on the machine may kill processes).</summary>
    private async Task<GatewayChild> StartGatewayAsync(string work, Dictionary<string, string> settings, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await GatewayChild.StartAsync(work, settings, cancellationToken);
            }
            catch (InvalidOperationException ex) when (attempt < 3)
            {
                Say($"The gateway did not start ({ex.Message.Split('\n')[0]}); trying again");
            }
            catch
            {
                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                }
                throw;
            }
        }
    }

    private async Task WarmUpAsync(HttpClient serviceHttp, HttpClient directHttp, Dictionary<string, FakeSearxng> fakes, CancellationToken cancellationToken)
    {
        Say("Warming up (JIT, connections, grain activations)…");
        foreach (var c in options.Concurrencies)
        {
            foreach (var prefix in new[] { "r", "n" })
            {
                var fake = fakes[prefix];
                var queries = Workloads.Queries(_runId, $"warm-{prefix}{c}", 2);
                await new OrleansRunner(serviceHttp, fake).RunAsync($"{prefix}{c}", queries, 2, TimeSpan.FromMinutes(1), cancellationToken);
                await new DirectRunners(directHttp, fake).WhenAllAsync(Workloads.Calls(queries.Select(q => q + " direct").ToList(), 2), c, 0, 1, cancellationToken);
            }
        }
        var fastFake = fakes["fast"];
        for (var round = 0; round < 3; round++)
        {
            var queries = Workloads.Queries(_runId, $"warm-fast{round}", 50);
            await new OrleansRunner(serviceHttp, fastFake).RunAsync("fast", queries, 4, TimeSpan.FromMinutes(2), cancellationToken);
            await new DirectRunners(directHttp, fastFake).WhenAllAsync(Workloads.Calls(queries.Select(q => q + " direct").ToList(), 4), options.FastConcurrency, 0, 1, cancellationToken);
        }
    }

    private async Task<Measurement> SequentialAsync(Scenario scenario, HttpClient http, FakeSearxng fake, CancellationToken cancellationToken, bool force = false)
    {
        var estimate = scenario.Calls * scenario.Latency.TotalSeconds;
        if (!force && estimate > options.SequentialMaxSeconds)
        {
            var note = $"skipped (≈{estimate:0} s)";
            Say($"  (a) sequential: {note}");
            return new Measurement { System = "a", Note = note };
        }
        await QuietAsync(fake, cancellationToken);
        var calls = Workloads.Calls(Workloads.Queries(_runId, $"a-{Tag(scenario)}", scenario.Queries), scenario.Pages);
        var started = DateTimeOffset.UtcNow;
        var makespan = await new DirectRunners(http, fake).SequentialAsync(calls, cancellationToken);
        return Report(Pacing(new Measurement
        {
            System = "a", Makespan = makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests, MaxInFlight = fake.MaxInFlight,
        }, fake, started), scenario);
    }

    private async Task<Measurement> WhenAllAsync(Scenario scenario, HttpClient http, FakeSearxng fake, CancellationToken cancellationToken)
    {
        await QuietAsync(fake, cancellationToken);
        var calls = Workloads.Calls(Workloads.Queries(_runId, $"b-{Tag(scenario)}", scenario.Queries), scenario.Pages);
        var started = DateTimeOffset.UtcNow;
        var makespan = await new DirectRunners(http, fake).WhenAllAsync(calls, scenario.Concurrency, scenario.RatePerSecond, options.BurstInUse, cancellationToken);
        return Report(Pacing(new Measurement
        {
            System = "b", Makespan = makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests, MaxInFlight = fake.MaxInFlight,
        }, fake, started), scenario);
    }

    private async Task<Measurement> OrleansAsync(Scenario scenario, string provider, HttpClient http, FakeSearxng fake, StorageProbe probe, GatewayChild gateway, CancellationToken cancellationToken)
    {
        await QuietAsync(fake, cancellationToken);
        var before = await probe.WritesByGrainTypeAsync(cancellationToken);
        var queries = Workloads.Queries(_runId, $"c-{Tag(scenario)}", scenario.Queries);
        var timeout = TimeSpan.FromSeconds(60 + 3 * scenario.Bound.TotalSeconds);
        try
        {
            var started = DateTimeOffset.UtcNow;
            var runner = new OrleansRunner(http, fake);
            var outcome = await runner.RunAsync(provider, queries, scenario.Pages, timeout, cancellationToken);
            if (runner.Ended.Count > 1)
            {
                var arrivals = fake.ArrivalsSnapshot().Select(a => a.ArrivedAt).Where(t => t >= started).Order().ToList();
                var last = arrivals.Count > 0 ? (arrivals[^1] - started).TotalSeconds : double.NaN;
                Say($"  (c) jobs ended at {string.Join(", ", runner.Ended.Values.Order().Select(t => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)))} s; last call arrived at {last:0.0} s");
            }
            await Task.Delay(500, cancellationToken); // the coalesced job write and the index update land after the terminal event
            var after = await probe.WritesByGrainTypeAsync(cancellationToken);
            return Report(Pacing(new Measurement
            {
                System = "c", Makespan = outcome.Makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests,
                MaxInFlight = fake.MaxInFlight, EventDelaysMs = outcome.EventDelaysMs, Writes = StorageProbe.Delta(before, after),
                Error = outcome.Problems.Count == 0 ? null : string.Join("; ", outcome.Problems.Take(3)),
            }, fake, started), scenario);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Say($"  (c) failed: {ex.Message}\n{Tail(gateway.Output)}");
            return new Measurement { System = "c", Error = ex.Message, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests };
        }
    }

    /// <summary>From the fake's arrival log: when the first call arrived after the run started, and the arrival rate from first to last.</summary>
    private static Measurement Pacing(Measurement m, FakeSearxng fake, DateTimeOffset started)
    {
        var arrivals = fake.ArrivalsSnapshot().Select(a => a.ArrivedAt).Where(t => t >= started).Order().ToList();
        if (arrivals.Count < 2)
        {
            return m;
        }
        var span = (arrivals[^1] - arrivals[0]).TotalSeconds;
        return m with { FirstArrivalMs = (arrivals[0] - started).TotalMilliseconds, ArrivalRate = span > 0 ? (arrivals.Count - 1) / span : double.NaN };
    }

    /// <summary>Between runs: counters reset, and the buckets (the fake's and the service's) refilled by a quiet second.</summary>
    private static async Task QuietAsync(FakeSearxng fake, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        fake.Reset();
    }

    private Measurement Report(Measurement m, Scenario scenario)
    {
        var name = m.System switch { "a" => "(a) sequential", "b" => "(b) WhenAll+semaphore+bucket", _ => "(c) Orleans.Search" };
        var line = $"  {name}: {m.Makespan!.Value.TotalSeconds:0.000} s = {m.Makespan.Value / scenario.Bound:0.000}× bound; {m.ProviderRequests} requests, {m.Throttled} × 429, max in flight {m.MaxInFlight}";
        if (scenario.Bound == TimeSpan.Zero)
        {
            line = $"  {name}: {m.Makespan!.Value.TotalSeconds:0.000} s = {scenario.Calls / m.Makespan.Value.TotalSeconds:0} calls/s; {m.ProviderRequests} requests, {m.Throttled} × 429, max in flight {m.MaxInFlight}";
        }
        if (m.ArrivalRate is { } arrivalRate)
        {
            line += $"; first call after {m.FirstArrivalMs:0} ms, arrivals at {arrivalRate:0.0}/s";
        }
        if (m.EventDelaysMs.Count > 0)
        {
            line += $"; page→SSE p50 {Stats.Percentile(m.EventDelaysMs, 50):0.0} ms, p99 {Stats.Percentile(m.EventDelaysMs, 99):0.0} ms";
        }
        if (m.Writes.Count > 0)
        {
            line += $"; writes/call {m.Writes.Values.Sum() / (double)scenario.Calls:0.00} ({string.Join(", ", m.Writes.OrderByDescending(w => w.Value).Select(w => $"{w.Key} {w.Value}"))})";
        }
        if (m.Error is not null)
        {
            line += $"; PROBLEM: {m.Error}";
        }
        Say(line);
        return m;
    }

    private string Tag(Scenario s) => string.Create(CultureInfo.InvariantCulture, $"{s.Calls}-c{s.Concurrency}-{(s.RateLimited ? "r" : "n")}-l{s.Latency.TotalMilliseconds:0}{_salt}");

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private void Say(string line)
    {
        var stamped = $"[{DateTime.UtcNow:HH:mm:ss}] {line}";
        _log.Add(stamped);
        Console.WriteLine(stamped);
    }

    private static string DefaultOutputPath()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.Search.sln")))
            {
                return Path.Combine(dir.FullName, "bench", "RESULTS.md");
            }
        }
        return Path.GetFullPath("RESULTS.md");
    }
}
