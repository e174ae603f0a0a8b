using Orleans.Search.Harness;
using System.Diagnostics;
using System.Globalization;
using Orleans.Search.Fakes;

namespace Orleans.Search.Bench;

/// <summary>
/// The benchmark. Runs, side by side on the same workload against a loopback fake SearXNG:
/// (a) a sequential loop of awaits, (b) Task.WhenAll + SemaphoreSlim(C) + a token bucket, (c) Orleans.Search over
/// its HTTP API (gateway process, embedded silo, SQLite, durable checkpoints). Each cell runs several times and is
/// reported as the median and the spread. Writes bench/RESULTS.md.
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--postgres"))
        {
            return await Postgres.PostgresBench.MainAsync(args); // the PostgreSQL column and the silo kill (Postgres/)
        }
        if (args.Contains("--reading"))
        {
            return await Reading.ReadingBench.MainAsync(args); // 100 pages over 20 hosts, and extraction per page (Reading/)
        }
        if (args.Contains("--research"))
        {
            return await Research.ResearchBench.MainAsync(args); // one research job against its critical path (Research/)
        }
        if (args.Contains("--soak"))
        {
            return await Soak.SoakBench.MainAsync(args); // normal clients beside hostile ones (Soak/)
        }
        if (args.Contains("--admission"))
        {
            return await Admission.AdmissionBench.MainAsync(args); // many users creating jobs at once (Admission/)
        }
        if (args.Contains("--code-search"))
        {
            return await CodeSearch.CodeSearchBench.MainAsync(args); // the code provider on a 50,000-file folder (CodeSearch/)
        }
        var options = BenchOptions.Parse(args);
        if (options is null)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 2;
        }
        return await RunUntilCtrlCAsync(async cancellationToken =>
        {
            await new Benchmark(options).RunAsync(cancellationToken);
            return 0;
        });
    }

    /// <summary>Runs <paramref name="run"/> with a token Ctrl+C cancels; a run so cancelled exits 130.</summary>
    internal static async Task<int> RunUntilCtrlCAsync(Func<CancellationToken, Task<int>> run)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        try
        {
            return await run(cts.Token);
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
          --quick                 40 and 400 calls only (about 10 minutes at --repeat 3); the full run adds 4000 calls (about 55 minutes)
          --repeat 3              run each cell (each system in each scenario) this many times; report the median and min–max
          --calls 40,400,4000     the call counts to run (N queries × 10 pages)
          --sequential-max 100    run (a) only where calls × L fits in this many seconds
          --cell-max 100          run a scenario only where its concurrency bound ceil(calls/C) × L fits in this many seconds
          --sequential-repeat 1   how many times (a) runs per call count and rate at L = 200 ms (it takes calls × L; the L = 0 run repeats it --repeat times)
          --fast-concurrency 200  C of the L = 0 overhead run
          --overhead-4x50         also run the L = 0 overhead run as 4 jobs × 50 queries × 10 pages at provider concurrency 50
          --out PATH              where to write the Markdown (default: bench/RESULTS.md in the repository)
          --overhead-only         only the L = 0 overhead run (for profiling; one warm-up round, then --repeat rounds)
          --concurrency 5,50      the values of C
          --rated-only            only the rate-limited scenarios
          --unrated-only          only the scenarios without a rate limit
          --no-overhead           skip the L = 0 run
          --overhead-rounds N     run the L = 0 run N − 1 times as warm-up (not reported) before its --repeat reported runs (default 1: no extra warm-up)
          --gateway-env KEY=VALUE an extra environment variable for the gateway process (repeatable)
          --gateway-log PATH      keep the gateway's console output there
        Other modes: --postgres (PostgreSQL and a silo kill), --soak (normal clients beside hostile ones; --soak --help),
          --reading (the page reader: --hosts 20 --pages 100 --latency-ms 300 --per-host 2 --repeat 3)
          --research (one research job vs its critical path: --ttft-ms 400 --tokens-per-second 50 --search-ms 300 --repeat 3)
          --code-search [--files 50000] [--repeat 5] (the code provider on a generated folder)
          --admission (200 concurrent creates from 20 users, SQLite and PostgreSQL; --admission --help)
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

    /// <summary>A scenario whose concurrency bound (ceil(calls/C) × L) exceeds this is skipped: at C = 5 and 4000 calls one run takes 160 s and the limiter never binds.</summary>
    public double CellMaxSeconds { get; init; } = 100;

    public int OverheadCalls { get; init; } = 4000;

    public int FastConcurrency { get; init; } = 200;

    /// <summary>Rounds of the L = 0 run: the first <c>OverheadRounds − 1</c> warm the service up and are not reported, then <see cref="Repeat"/> are.</summary>
    public int OverheadRounds { get; init; } = 1;

    /// <summary>How many times each cell (each system in each scenario) runs; the report gives the median and the spread.</summary>
    public int Repeat { get; init; } = 3;

    /// <summary>How many times (a) runs per call count and rate at L = 200 ms: it takes calls × L (80 s at 400 calls) and barely varies.</summary>
    public int SequentialRepeat { get; init; } = 1;

    /// <summary>Also run the L = 0 run as <see cref="JobShapeQueries"/> queries (4 jobs of 50) × 10 pages at <see cref="JobShapeConcurrency"/>.</summary>
    public bool OverheadJobShape { get; init; }

    public const int JobShapeQueries = 4 * OrleansRunner.MaxQueriesPerJob;

    public const int JobShapeConcurrency = 50;

    public bool Quick { get; init; }

    public string? OutputPath { get; init; }

    public bool OverheadOnly { get; init; }

    public bool RatedOnly { get; init; }

    public bool UnratedOnly { get; init; }

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
                case "--repeat": o = o with { Repeat = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)) }; break;
                case "--cell-max": o = o with { CellMaxSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--sequential-repeat": o = o with { SequentialRepeat = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)) }; break;
                case "--overhead-4x50": o = o with { OverheadJobShape = true }; break;
                case "--concurrency": o = o with { Concurrencies = Next().Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList() }; break;
                case "--rated-only": o = o with { RatedOnly = true }; break;
                case "--unrated-only": o = o with { UnratedOnly = true }; break;
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

/// <summary>
/// One row: a scenario and what (a), (b) and (c) did on it, one measurement per repeat (the i-th of (b) and of (c) ran
/// back to back). A skipped (a) is one measurement with a note.
/// </summary>
public sealed record Row(Scenario Scenario, IReadOnlyList<Measurement> Sequential, IReadOnlyList<Measurement> WhenAll, IReadOnlyList<Measurement> Orleans, bool SequentialShared);

public sealed class Benchmark(BenchOptions options)
{
    private readonly string _runId = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
    private const string JobShapeProvider = "fast50";
    private readonly List<Row> _rows = [];
    private readonly List<Row> _overheads = [];
    private readonly List<Scenario> _skipped = [];
    private readonly List<string> _log = [];
    private string _salt = "";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var machine = MachineInfo.Capture();
        var revision = SourceRevision.Capture(RepositoryRoot());
        Say($"Orleans.Search benchmark — {machine.Summary}");
        Say($"Code: {revision.Describe()}; each cell runs {options.Repeat} time(s)");
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
            ["Http:PermitsPerMinute"] = "0",
            ["Http:PermitsPerMinutePerAddress"] = "0",
            ["Limits:User:MaxJobsPerMinute"] = "1000000",
            ["Limits:User:MaxStoredJobs"] = "1000000",
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
        if (options.OverheadJobShape)
        {
            Provider(JobShapeProvider, fast, 0, BenchOptions.JobShapeConcurrency);
        }
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

            foreach (var rateLimited in options.RatedOnly ? new[] { true } : options.UnratedOnly ? new[] { false } : new[] { true, false })
            {
                foreach (var calls in options.CallCounts)
                {
                    IReadOnlyList<Measurement>? sequential = null;
                    foreach (var c in options.Concurrencies)
                    {
                        var scenario = new Scenario(calls / options.Pages, options.Pages, c, options.Latency, rateLimited ? options.RatePerSecond : 0, options.Burst);
                        if (Math.Ceiling((double)calls / c) * options.Latency.TotalSeconds > options.CellMaxSeconds)
                        {
                            Say($"— {scenario}: skipped (its concurrency bound exceeds --cell-max {options.CellMaxSeconds:0} s)");
                            _skipped.Add(scenario);
                            continue;
                        }
                        var fake = rateLimited ? rated : free;
                        var provider = $"{(rateLimited ? "r" : "n")}{c}";
                        Say($"— {scenario}; bound {scenario.Bound.TotalSeconds:0.00} s");
                        var shared = sequential is not null;
                        sequential ??= await SequentialRepeatsAsync(scenario, directHttp, fake, cancellationToken);
                        var whenAll = new List<Measurement>();
                        var orleans = new List<Measurement>();
                        // (b) and (c) alternate, so a change in the machine's load during the cell hits both alike.
                        for (var run = 1; run <= options.Repeat; run++)
                        {
                            _salt = $"-run{run}";
                            Say($"  run {run} of {options.Repeat}");
                            whenAll.Add(await WhenAllAsync(scenario, directHttp, fake, cancellationToken));
                            orleans.Add(await OrleansAsync(scenario, provider, serviceHttp, fake, probe, gateway, cancellationToken));
                        }
                        _rows.Add(new Row(scenario, sequential, whenAll, orleans, shared));
                    }
                }
            }

            if (options.NoOverhead)
            {
                return;
            }
            var shapes = new List<(Scenario Scenario, string Provider)>
            {
                (new Scenario(options.OverheadCalls / options.Pages, options.Pages, options.FastConcurrency, TimeSpan.Zero, 0, options.Burst), "fast"),
            };
            if (options.OverheadJobShape)
            {
                shapes.Add((new Scenario(BenchOptions.JobShapeQueries, options.Pages, BenchOptions.JobShapeConcurrency, TimeSpan.Zero, 0, options.Burst), JobShapeProvider));
            }
            foreach (var (overhead, provider) in shapes)
            {
                Say($"— Orchestration overhead: {overhead}");
                var warmUps = options.OverheadRounds - 1;
                var rounds = warmUps + options.Repeat;
                var seqFast = new List<Measurement>();
                var whenAllFast = new List<Measurement>();
                var orleansFast = new List<Measurement>();
                for (var round = 1; round <= rounds; round++)
                {
                    _salt = $"-round{round}";
                    var reported = round > warmUps;
                    Say($"  round {round} of {rounds}{(reported ? "" : " (warm-up, not reported)")}");
                    var a = await SequentialAsync(overhead, directHttp, fast, cancellationToken, force: true);
                    var b = await WhenAllAsync(overhead, directHttp, fast, cancellationToken);
                    var c = await OrleansAsync(overhead, provider, serviceHttp, fast, probe, gateway, cancellationToken);
                    if (reported)
                    {
                        seqFast.Add(a);
                        whenAllFast.Add(b);
                        orleansFast.Add(c);
                    }
                }
                _overheads.Add(new Row(overhead, seqFast, whenAllFast, orleansFast, false));
            }
        }
        finally
        {
            var elapsed = started.Elapsed;
            if (options.GatewayLog is { } log)
            {
                await File.WriteAllTextAsync(log, gateway.Output, CancellationToken.None);
            }
            var report = ResultsReport.Render(options, machine, MachineInfo.Capture(), revision, elapsed, _rows, _overheads, _skipped);
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
    private async Task<GatewayProcess> StartGatewayAsync(string work, Dictionary<string, string> settings, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await BenchChildren.StartGatewayAsync(work, settings);
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
        if (options.OverheadJobShape)
        {
            await new OrleansRunner(serviceHttp, fastFake).RunAsync(JobShapeProvider, Workloads.Queries(_runId, "warm-jobshape", 50), 4, TimeSpan.FromMinutes(2), cancellationToken);
        }
    }

    /// <summary>(a) for a call count and rate, <see cref="BenchOptions.SequentialRepeat"/> times, or a note that it was skipped.</summary>
    private async Task<IReadOnlyList<Measurement>> SequentialRepeatsAsync(Scenario scenario, HttpClient http, FakeSearxng fake, CancellationToken cancellationToken)
    {
        var estimate = scenario.Calls * scenario.Latency.TotalSeconds;
        if (estimate > options.SequentialMaxSeconds)
        {
            var note = $"skipped (≈{estimate:0} s)";
            Say($"  (a) sequential: {note}");
            return [new Measurement { System = "a", Note = note }];
        }
        var runs = new List<Measurement>();
        for (var run = 1; run <= options.SequentialRepeat; run++)
        {
            _salt = $"-run{run}";
            runs.Add(await SequentialAsync(scenario, http, fake, cancellationToken, force: true));
        }
        return runs;
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
        var run = await new DirectRunners(http, fake).SequentialAsync(calls, cancellationToken);
        return Report(Pacing(new Measurement
        {
            System = "a", Makespan = run.Makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests, MaxInFlight = fake.MaxInFlight,
            ToLastProviderResponse = ToLastResponse(fake, calls, run.StartedTimestamp),
        }, fake, started), scenario);
    }

    private async Task<Measurement> WhenAllAsync(Scenario scenario, HttpClient http, FakeSearxng fake, CancellationToken cancellationToken)
    {
        await QuietAsync(fake, cancellationToken);
        var calls = Workloads.Calls(Workloads.Queries(_runId, $"b-{Tag(scenario)}", scenario.Queries), scenario.Pages);
        var started = DateTimeOffset.UtcNow;
        var run = await new DirectRunners(http, fake).WhenAllAsync(calls, scenario.Concurrency, scenario.RatePerSecond, options.BurstInUse, cancellationToken);
        return Report(Pacing(new Measurement
        {
            System = "b", Makespan = run.Makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests, MaxInFlight = fake.MaxInFlight,
            ToLastProviderResponse = ToLastResponse(fake, calls, run.StartedTimestamp),
        }, fake, started), scenario);
    }

    private async Task<Measurement> OrleansAsync(Scenario scenario, string provider, HttpClient http, FakeSearxng fake, StorageProbe probe, GatewayProcess gateway, CancellationToken cancellationToken)
    {
        await QuietAsync(fake, cancellationToken);
        var before = await probe.WritesByGrainTypeAsync(cancellationToken);
        var queries = Workloads.Queries(_runId, $"c-{Tag(scenario)}", scenario.Queries);
        var timeout = TimeSpan.FromSeconds(60 + 3 * scenario.Bound.TotalSeconds);
        var cpuBefore = gateway.CpuTime;
        var threadsBefore = ThreadCpu.Read(gateway.ProcessId);
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
            await runner.WaitForBookkeepingAsync(cancellationToken); // the active-set and index writes land after the terminal event
            var after = await probe.WritesByGrainTypeAsync(cancellationToken);
            var (jitCpu, gcCpu) = ThreadCpu.RuntimeCpu(threadsBefore, ThreadCpu.Read(gateway.ProcessId));
            return Report(Pacing(new Measurement
            {
                System = "c", Makespan = outcome.Makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests,
                MaxInFlight = fake.MaxInFlight, EventDelaysMs = outcome.EventDelaysMs, Writes = StorageProbe.Delta(before, after),
                Error = outcome.Problems.Count == 0 ? null : string.Join("; ", outcome.Problems.Take(3)),
                ToLastProviderResponse = ToLastResponse(fake, Workloads.Calls(queries, scenario.Pages), outcome.StartedTimestamp),
                GatewayCpu = gateway.CpuTime - cpuBefore,
                GatewayJitCpu = jitCpu,
                GatewayGcCpu = gcCpu,
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

    /// <summary>From the run's first request to the moment the fake finished writing the last successful response of its calls.</summary>
    private static TimeSpan? ToLastResponse(FakeSearxng fake, IEnumerable<Call> calls, long startedTimestamp)
    {
        long? last = null;
        foreach (var call in calls)
        {
            if (fake.LastSuccessTimestampFor(call.Query, call.Page) is { } answered && (last is null || answered > last))
            {
                last = answered;
            }
        }
        return last is { } l ? Stopwatch.GetElapsedTime(startedTimestamp, l) : null;
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
        if (m.ToLastProviderResponse is { } lastResponse)
        {
            line += $"; last provider response at {lastResponse.TotalSeconds:0.000} s";
        }
        if (m.GatewayCpu is { } cpu)
        {
            line += $"; gateway CPU {cpu.TotalMilliseconds / scenario.Calls:0.00} ms/call";
            if (m.GatewayJitCpu is { } jit && m.GatewayGcCpu is { } gc)
            {
                line += $" (JIT compiler thread {jit.TotalMilliseconds / scenario.Calls:0.00}, GC threads {gc.TotalMilliseconds / scenario.Calls:0.00}, the rest {(cpu - jit - gc).TotalMilliseconds / scenario.Calls:0.00})";
            }
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

    private static string DefaultOutputPath() =>
        FindRepositoryRoot(Directory.GetCurrentDirectory()) is { } root ? Path.Combine(root, "bench", "RESULTS.md") : Path.GetFullPath("RESULTS.md");

    /// <summary>Where git is asked for the commit: the repository above the current directory, or else above the benchmark's binaries.</summary>
    private static string RepositoryRoot() =>
        FindRepositoryRoot(Directory.GetCurrentDirectory()) ?? FindRepositoryRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();

    private static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.Search.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}
