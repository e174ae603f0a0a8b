using Orleans.Search.Harness;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Search.Fakes;

namespace Orleans.Search.Bench.Postgres;

/// <summary>
/// The PostgreSQL part of the benchmark (<c>--postgres</c>): (c) on SQLite and on PostgreSQL side by side, and the time
/// from a silo's SIGKILL to the job's next progress event on a two-silo PostgreSQL cluster. Writes bench/RESULTS-postgres.md.
/// </summary>
public static class PostgresBench
{
    public const string Usage = """
        dotnet run -c Release --project bench/Orleans.Search.Bench -- --postgres [options]
          --pg CONNECTION_STRING  the PostgreSQL server (default: $ORLEANS_SEARCH_TEST_POSTGRES, else what scripts/postgres.sh prints)
          --kill-runs 3           how many silo-kill runs (each on a fresh database and cluster)
          --no-storage            skip the SQLite/PostgreSQL comparison
          --no-kill               skip the silo-kill runs
          --storages sqlite,postgres  which storages the comparison runs
          --no-rated              only the L = 0 run of the comparison
          --pool-size 30          Npgsql Maximum Pool Size of each service process (Npgsql's default, 100, is PostgreSQL's max_connections)
          --out PATH              where to write the Markdown (default: bench/RESULTS-postgres.md)
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        var o = new PgOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--postgres": break;
                case "--pg": o = o with { Server = Next() }; break;
                case "--kill-runs": o = o with { KillRuns = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--no-storage": o = o with { Storage = false }; break;
                case "--no-kill": o = o with { KillRuns = 0 }; break;
                case "--storages": o = o with { Storages = Next().Split(',') }; break;
                case "--no-rated": o = o with { Concurrencies = [] }; break;
                case "--pool-size": o = o with { MaxPoolSize = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--out": o = o with { OutputPath = Next() }; break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}\n{Usage}");
                    return 2;
            }
        }
        return await BenchProgram.RunUntilCtrlCAsync(async cancellationToken =>
        {
            await new PostgresRun(o).RunAsync(cancellationToken);
            return 0;
        });
    }
}

public sealed record PgOptions
{
    public string? Server { get; init; }

    public int KillRuns { get; init; } = 3;

    /// <summary>Npgsql's <c>Maximum Pool Size</c> for every service process (unless the server's connection string sets one).</summary>
    public int MaxPoolSize { get; init; } = 30;

    public bool Storage { get; init; } = true;

    public IReadOnlyList<string> Storages { get; init; } = ["sqlite", "postgres"];

    public string? OutputPath { get; init; }

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(200);

    public double RatePerSecond { get; init; } = 50;

    public int Burst { get; init; } = 10;

    public int RatedCalls { get; init; } = 400;

    public IReadOnlyList<int> Concurrencies { get; init; } = [5, 50];

    public int OverheadCalls { get; init; } = 4000;

    public int FastConcurrency { get; init; } = 200;

    public int KillQueries { get; init; } = 20;

    public int KillPages { get; init; } = 10;

    /// <summary>The provider's MaxConcurrency in the kill runs: 200 calls × 200 ms / 4 ≈ 10 s per job.</summary>
    public int KillConcurrency { get; init; } = 4;

    /// <summary>Kill once this many pages of the job have been reported.</summary>
    public int KillAfterPages { get; init; } = 60;
}

/// <summary>(c) on one storage, one scenario.</summary>
public sealed record StorageRow(string Storage, Scenario Scenario, Measurement Orleans, double GatewayCpuMsPerCall)
{
    /// <summary>From the first POST to the last provider call's arrival at the fake.</summary>
    public double LastCallSeconds { get; init; } = double.NaN;
}

/// <summary>One job on the two-silo cluster, with or without a kill.</summary>
public sealed record KillJob
{
    public required TimeSpan Makespan { get; init; }

    public required string Terminal { get; init; }

    public required string FinalStatus { get; init; }

    public required int Results { get; init; }

    public required int ExpectedResults { get; init; }

    public required int ProviderRequests { get; init; }

    public int Reconnects { get; init; }

    /// <summary>The most provider calls the fake saw at once during the job (the provider's MaxConcurrency is the cap).</summary>
    public int MaxInFlight { get; init; }

    public bool Killed { get; init; }

    public bool VictimHostedJob { get; init; }

    public int QueryGrainsOnVictim { get; init; }

    /// <summary>Rate-limiter grains (the provider's and the user's) that lived on the killed silo.</summary>
    public int LimitersOnVictim { get; init; }

    public int QueryGrainsTotal { get; init; }

    public int PagesDoneAtKill { get; init; }

    public TimeSpan KillAt { get; init; }

    public double? NextEventMs { get; init; }

    public string? NextEventType { get; init; }

    public double? NextPageMs { get; init; }

    public double? ResumedMs { get; init; }

    /// <summary>From the kill to the first provider call of the job that reached the fake after it (work resumed).</summary>
    public double? FirstCallMs { get; init; }

    /// <summary>From the kill to the event that ended the longest silence (the first progress after the stall).</summary>
    public double? AfterStallMs { get; init; }

    public string? AfterStallType { get; init; }

    /// <summary>The first events after the kill: "ms type" each.</summary>
    public string Timeline { get; init; } = "";

    /// <summary>The longest silence between two events after the kill.</summary>
    public double? LongestGapMs { get; init; }

    /// <summary>Pages reported before the kill and requested again afterwards.</summary>
    public int Refetched { get; init; }

    /// <summary>Provider requests beyond one per page (pages in flight on the killed silo, fetched again).</summary>
    public int ExtraRequests => ProviderRequests - Pages;

    public required int Pages { get; init; }
}

public sealed record KillRun(int Run, KillJob Baseline, KillJob Killed);

public sealed class PostgresRun(PgOptions options)
{
    private readonly string _runId = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var root = RepositoryRoot();
        var machine = MachineInfo.Capture();
        var revision = SourceRevision.Capture(root);
        Say($"Orleans.Search benchmark, PostgreSQL part — {machine.Summary}");
        Say($"Code: {revision.Describe()}");
        var started = Stopwatch.StartNew();
        var server = await BenchPostgres.ServerAsync(options.Server, root, cancellationToken);
        Say($"PostgreSQL server: {Redact(server)}");
        var storageRows = new List<StorageRow>();
        var killRuns = new List<KillRun>();
        var problems = new List<string>();
        try
        {
            if (options.Storage)
            {
                foreach (var storage in options.Storages)
                {
                    try
                    {
                        storageRows.AddRange(await StorageAsync(storage, server, cancellationToken));
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        problems.Add($"{storage}: {ex.Message.Split('\n')[0]}");
                        Say($"{storage} failed: {ex}");
                    }
                }
            }
            for (var run = 1; run <= options.KillRuns; run++)
            {
                try
                {
                    killRuns.Add(await KillRunAsync(run, server, cancellationToken));
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    problems.Add($"kill run {run}: {ex.Message.Split('\n')[0]}");
                    Say($"kill run {run} failed: {ex}");
                }
            }
        }
        finally
        {
            var report = PostgresReport.Render(options, machine, MachineInfo.Capture(), revision, started.Elapsed, storageRows, killRuns, problems);
            var path = options.OutputPath ?? Path.Combine(root, "bench", PostgresReport.FileName);
            await File.WriteAllTextAsync(path, report, CancellationToken.None);
            Say($"Wrote {path} ({started.Elapsed.TotalMinutes:0.0} min)");
            if (options.OutputPath is null)
            {
                PostgresReport.UpdateMainReport(Path.Combine(root, "bench", "RESULTS.md"), report);
            }
            Console.WriteLine();
            Console.WriteLine(report);
        }
    }

    // ---- (c) on SQLite and PostgreSQL ----

    private async Task<List<StorageRow>> StorageAsync(string storage, string server, CancellationToken cancellationToken)
    {
        var work = Directory.CreateTempSubdirectory("orleans-search-benchpg-").FullName;
        await using var rated = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = options.Latency, RatePerSecond = options.RatePerSecond, Burst = options.Burst, ArrivalLogLimit = 100_000,
        }, cancellationToken);
        await using var fast = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.Zero, ArrivalLogLimit = 100_000 }, cancellationToken);
        var database = storage == "postgres" ? await PostgresDatabase.CreateAsync(server, BenchPostgres.DatabasePrefix, options.MaxPoolSize) : null;
        try
        {
            var sqlite = Path.Combine(work, "orleans-search.db");
            var settings = UserLimits();
            settings["ConnectionStrings:Orleans"] = database?.ConnectionString ?? $"Data Source={sqlite}";
            settings["Search:DefaultProvider"] = "fast";
            if (database is not null)
            {
                settings["Cluster:Storage"] = "postgres"; // embedded silo, localhost membership
            }
            foreach (var c in options.Concurrencies)
            {
                Provider(settings, $"r{c}", rated, 60 * options.RatePerSecond, options.Burst, c);
            }
            Provider(settings, "fast", fast, 0, options.Burst, options.FastConcurrency);

            Say($"[{storage}] starting the gateway (embedded silo{(database is null ? $", SQLite at {sqlite}" : $", PostgreSQL database {database.Name}")})…");
            await using var gateway = await BenchChildren.StartGatewayAsync(work, settings);
            using var http = ServiceClient(gateway.BaseAddress);
            Func<CancellationToken, Task<Dictionary<string, long>>> writes = database is not null ? database.WritesByGrainTypeAsync : new StorageProbe(sqlite).WritesByGrainTypeAsync;

            Say($"[{storage}] warming up…");
            foreach (var c in options.Concurrencies)
            {
                await new OrleansRunner(http, rated).RunAsync($"r{c}", Workloads.Queries(_runId, $"{storage}-warm-r{c}", 2), 2, TimeSpan.FromMinutes(1), cancellationToken);
            }
            for (var round = 0; round < 2; round++)
            {
                await new OrleansRunner(http, fast).RunAsync("fast", Workloads.Queries(_runId, $"{storage}-warm-fast{round}", 50), 4, TimeSpan.FromMinutes(2), cancellationToken);
            }

            var rows = new List<StorageRow>();
            foreach (var c in options.Concurrencies)
            {
                var scenario = new Scenario(options.RatedCalls / 10, 10, c, options.Latency, options.RatePerSecond, options.Burst);
                rows.Add(await MeasureAsync(storage, scenario, $"r{c}", http, rated, gateway, writes, cancellationToken));
            }
            var overhead = new Scenario(options.OverheadCalls / 10, 10, options.FastConcurrency, TimeSpan.Zero, 0, options.Burst);
            rows.Add(await MeasureAsync(storage, overhead, "fast", http, fast, gateway, writes, cancellationToken));
            return rows;
        }
        finally
        {
            if (database is not null)
            {
                await database.DisposeAsync();
            }
            TryDelete(work);
        }
    }

    private async Task<StorageRow> MeasureAsync(string storage, Scenario scenario, string provider, HttpClient http, FakeSearxng fake, GatewayProcess gateway,
        Func<CancellationToken, Task<Dictionary<string, long>>> writes, CancellationToken cancellationToken)
    {
        Say($"[{storage}] {scenario}; bound {scenario.Bound.TotalSeconds:0.00} s");
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken); // the buckets refill
        fake.Reset();
        var before = await writes(cancellationToken);
        var cpuBefore = gateway.CpuTime;
        var queries = Workloads.Queries(_runId, $"{storage}-{scenario.Calls}-c{scenario.Concurrency}-l{scenario.Latency.TotalMilliseconds:0}", scenario.Queries);
        var started = DateTimeOffset.UtcNow;
        var limit = TimeSpan.FromSeconds(Math.Max(180, 60 + 3 * scenario.Bound.TotalSeconds));
        var runner = new OrleansRunner(http, fake);
        OrleansRunner.Outcome outcome;
        try
        {
            outcome = await runner.RunAsync(provider, queries, scenario.Pages, limit, cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var log = Path.Combine(Path.GetTempPath(), $"benchpg-gateway-{storage}-{_runId}.log");
            await File.WriteAllTextAsync(log, gateway.Output, CancellationToken.None);
            var error = string.Create(CultureInfo.InvariantCulture, $"not finished within {limit.TotalSeconds:0} s: {fake.TotalRequests} of {scenario.Calls} provider calls made (gateway output in {log})");
            Say($"  (c) {storage}: {error}");
            return new StorageRow(storage, scenario, new Measurement { System = "c", Error = error, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests }, double.NaN);
        }
        var cpuMsPerCall = (gateway.CpuTime - cpuBefore).TotalMilliseconds / scenario.Calls;
        await runner.WaitForBookkeepingAsync(cancellationToken); // the active-set and index writes land after the terminal event
        var after = await writes(cancellationToken);
        var arrivals = fake.ArrivalsSnapshot().Select(a => a.ArrivedAt).Where(t => t >= started).Order().ToList();
        var span = arrivals.Count > 1 ? (arrivals[^1] - arrivals[0]).TotalSeconds : 0;
        var m = new Measurement
        {
            System = "c", Makespan = outcome.Makespan, Throttled = fake.RateLimitedResponses, ProviderRequests = fake.TotalRequests,
            MaxInFlight = fake.MaxInFlight, EventDelaysMs = outcome.EventDelaysMs, Writes = StorageProbe.Delta(before, after),
            Error = outcome.Problems.Count == 0 ? null : string.Join("; ", outcome.Problems.Take(3)),
            FirstArrivalMs = arrivals.Count > 0 ? (arrivals[0] - started).TotalMilliseconds : null,
            ArrivalRate = span > 0 ? (arrivals.Count - 1) / span : null,
        };
        var lastCallS = arrivals.Count > 0 ? (arrivals[^1] - started).TotalSeconds : double.NaN;
        await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), $"benchpg-gateway-{storage}-{_runId}.log"), gateway.Output, CancellationToken.None);
        var rate = scenario.Bound == TimeSpan.Zero
            ? $"{scenario.Calls / outcome.Makespan.TotalSeconds:0} calls/s"
            : $"{outcome.Makespan / scenario.Bound:0.000}× bound";
        Say(string.Create(CultureInfo.InvariantCulture,
            $"  (c) {storage}: {outcome.Makespan.TotalSeconds:0.000} s = {rate}; {m.ProviderRequests} requests, last at {lastCallS:0.00} s, {m.Throttled} × 429; writes/call {m.Writes.Values.Sum() / (double)scenario.Calls:0.00}; gateway CPU {cpuMsPerCall:0.00} ms/call{(m.Error is null ? "" : "; PROBLEM: " + m.Error)}"));
        return new StorageRow(storage, scenario, m, cpuMsPerCall) { LastCallSeconds = lastCallS };
    }

    // ---- silo kill ----

    private async Task<KillRun> KillRunAsync(int run, string server, CancellationToken cancellationToken)
    {
        Say($"[kill {run}] fresh database, two silos, one client-mode gateway…");
        var work = Directory.CreateTempSubdirectory("orleans-search-benchpg-kill-").FullName;
        await using var fake = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = options.Latency, ArrivalLogLimit = 100_000 }, cancellationToken);
        await using var database = await PostgresDatabase.CreateAsync(server, BenchPostgres.DatabasePrefix, options.MaxPoolSize);
        var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var settings = UserLimits();
        settings["ConnectionStrings:Orleans"] = database.ConnectionString;
        settings["Cluster:Storage"] = "postgres";
        settings["Cluster:Membership"] = "adonet";
        settings["Cluster:ClusterId"] = clusterId;
        settings["Cluster:ServiceId"] = clusterId;
        settings["Search:DefaultProvider"] = "web";
        Provider(settings, "web", fake, 60_000, 100, options.KillConcurrency);
        var silos = new List<SiloProcess>();
        IHost? client = null;
        try
        {
            // Side by side; each one that starts is kept for disposal even if the other fails.
            await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
            {
                var silo = await StartSiloAsync(work, settings, database, cancellationToken);
                lock (silos)
                {
                    silos.Add(silo);
                }
            }));
            var gatewaySettings = new Dictionary<string, string>(settings) { ["Cluster:Mode"] = "client" };
            await using var gateway = await BenchChildren.StartGatewayAsync(work, gatewaySettings);
            using var http = ServiceClient(gateway.BaseAddress);
            client = await ClientAsync(database.ConnectionString, clusterId, cancellationToken);
            Say($"[kill {run}] silos on ports {string.Join(", ", silos.Select(s => s.SiloPort))}, gateway {gateway.BaseAddress}");

            // Warm-up (JIT, activations on both silos), then a job without a kill, then the same job with one.
            await new OrleansRunner(http, fake).RunAsync("web", Workloads.Queries(_runId, $"kill{run}-warm", 8), 2, TimeSpan.FromMinutes(1), cancellationToken);
            var baseline = await JobAsync(run, "base", http, fake, null, silos, cancellationToken);
            var killed = await JobAsync(run, "kill", http, fake, client.Services.GetRequiredService<IClusterClient>(), silos, cancellationToken);
            if (silos.All(s => s.HasExited))
            {
                throw new InvalidOperationException("the surviving silo died too:\n" + silos[^1].Output);
            }
            return new KillRun(run, baseline, killed);
        }
        finally
        {
            if (client is not null)
            {
                try
                {
                    await client.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
                }
                catch (Exception)
                {
                    // The client may still be trying the dead silo.
                }
                client.Dispose();
            }
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
            TryDelete(work);
        }
    }

    /// <summary>Tries again if the silo dies before it is ready (a port chosen free may be taken by another process meanwhile).</summary>
    private static async Task<SiloProcess> StartSiloAsync(string work, Dictionary<string, string> settings, PostgresDatabase database, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await BenchChildren.StartSiloAsync(work, settings, database);
            }
            catch (InvalidOperationException ex) when (attempt < 3)
            {
                Say($"A silo did not start ({ex.Message.Split('\n')[0]}); trying again");
            }
        }
    }

    private async Task<KillJob> JobAsync(int run, string tag, HttpClient http, FakeSearxng fake, IClusterClient? killWith, List<SiloProcess> silos, CancellationToken cancellationToken)
    {
        fake.Reset();
        var queries = Workloads.Queries(_runId, $"kill{run}-{tag}", options.KillQueries);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        var watch = Stopwatch.StartNew();
        using var created = await http.PostAsJsonAsync("/api/search-jobs", new { queries, pages = options.KillPages, provider = "web" }, timeout.Token);
        if (created.StatusCode != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"POST /api/search-jobs answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync(timeout.Token)}");
        }
        var jobId = (await created.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("jobId").GetString()!;
        var recorder = new EventRecorder(http, jobId);
        var follow = recorder.RunAsync(timeout.Token);

        long killAt = 0;
        var killedAtUtc = DateTimeOffset.MinValue;
        var victimHostedJob = false;
        int onVictim = 0, queryGrains = 0, doneAtKill = 0, limiters = 0;
        HashSet<(string, int)> completedBeforeKill = [];
        if (killWith is not null)
        {
            while (recorder.Count("page.completed") < options.KillAfterPages && !follow.IsCompleted)
            {
                await Task.Delay(10, timeout.Token);
            }
            // Kill the silo that hosts the job grain: its events stop until the grain re-activates on the survivor.
            var stats = await killWith.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
            var jobGrain = stats.FirstOrDefault(s => s.GrainType.Contains("SearchJobGrain", StringComparison.Ordinal) && s.GrainId.Key.ToString() == jobId);
            var mine = stats.Where(s => s.GrainType.Contains("QueryGrain", StringComparison.Ordinal) && s.GrainId.Key.ToString()!.StartsWith(jobId + "/", StringComparison.Ordinal)).ToList();
            var victim = jobGrain is null ? silos[0] : silos.FirstOrDefault(s => s.SiloPort == jobGrain.SiloAddress.Endpoint.Port) ?? silos[0];
            victimHostedJob = jobGrain is not null && victim.SiloPort == jobGrain.SiloAddress.Endpoint.Port;
            onVictim = mine.Count(g => g.SiloAddress.Endpoint.Port == victim.SiloPort);
            queryGrains = mine.Count;
            limiters = stats.Count(s => s.GrainType.Contains("RateLimiterGrain", StringComparison.Ordinal) && s.SiloAddress.Endpoint.Port == victim.SiloPort);
            killAt = Stopwatch.GetTimestamp();
            killedAtUtc = DateTimeOffset.UtcNow;
            victim.Kill();
            var before = recorder.Snapshot().Where(e => e.At <= killAt && e.Type == "page.completed").ToList();
            doneAtKill = before.Count;
            completedBeforeKill = before.Select(e => (e.Query!, e.Page!.Value)).ToHashSet();
            Say(string.Create(CultureInfo.InvariantCulture,
                $"[kill {run}] SIGKILL silo {victim.SiloPort} at {watch.Elapsed.TotalSeconds:0.00} s ({(victimHostedJob ? "it hosted the job grain" : "job grain not found on it")}, {onVictim} of {queryGrains} query grains, {limiters} limiter grains); {doneAtKill} pages reported"));
        }

        var terminal = await follow;
        var makespan = watch.Elapsed;
        var status = await http.GetFromJsonAsync<JsonElement>($"/api/search-jobs/{jobId}", timeout.Token);
        var results = status.GetProperty("results").GetArrayLength();
        var expected = options.KillQueries * options.KillPages * fake.Options.ResultsPerPage;
        var requests = queries.Sum(q => Enumerable.Range(1, options.KillPages).Sum(p => fake.RequestsFor(q, p)));
        var job = new KillJob
        {
            Makespan = makespan, Terminal = terminal, FinalStatus = status.GetProperty("status").GetString() ?? "?", Results = results, ExpectedResults = expected,
            ProviderRequests = requests, Pages = options.KillQueries * options.KillPages, Reconnects = recorder.Reconnects, MaxInFlight = fake.MaxInFlight, Killed = killWith is not null,
        };
        if (killWith is not null)
        {
            var after = recorder.Snapshot().Where(e => e.At > killAt).OrderBy(e => e.At).ToList();
            double? Ms(ReceivedEvent? e) => e is null ? null : Stopwatch.GetElapsedTime(killAt, e.At).TotalMilliseconds;
            var gaps = after.Select((e, i) => Stopwatch.GetElapsedTime(i == 0 ? killAt : after[i - 1].At, e.At).TotalMilliseconds).ToList();
            var longest = gaps.Count > 0 ? gaps.IndexOf(gaps.Max()) : -1;
            var mineQueries = queries.ToHashSet();
            var firstCall = fake.ArrivalsSnapshot().Where(a => a.ArrivedAt > killedAtUtc && a.Query is { } q && mineQueries.Contains(q)).Select(a => (DateTimeOffset?)a.ArrivedAt).Min();
            job = job with
            {
                FirstCallMs = firstCall is { } fc ? (fc - killedAtUtc).TotalMilliseconds : null,
                AfterStallMs = longest >= 0 ? Ms(after[longest]) : null,
                AfterStallType = longest >= 0 ? after[longest].Type : null,
                Timeline = string.Join(", ", after.Take(8).Select(e => string.Create(CultureInfo.InvariantCulture, $"{Ms(e):0} {e.Type}"))),
                VictimHostedJob = victimHostedJob, QueryGrainsOnVictim = onVictim, LimitersOnVictim = limiters, QueryGrainsTotal = queryGrains, PagesDoneAtKill = doneAtKill,
                NextEventMs = Ms(after.FirstOrDefault()), NextEventType = after.FirstOrDefault()?.Type,
                NextPageMs = Ms(after.FirstOrDefault(e => e.Type == "page.completed")),
                ResumedMs = Ms(after.FirstOrDefault(e => e.Type == "resumed")),
                LongestGapMs = gaps.Count > 0 ? gaps.Max() : null,
                Refetched = completedBeforeKill.Count(k => fake.RequestsFor(k.Item1, k.Item2) > 1),
            };
        }
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[kill {run}] {tag}: {terminal} ({job.FinalStatus}) in {makespan.TotalSeconds:0.00} s, {results}/{expected} results, {requests} provider requests, max in flight {job.MaxInFlight}, {job.Reconnects} SSE reconnects");
        if (job.Killed)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $"; first call after the kill {job.FirstCallMs:0} ms, first event after the stall {job.AfterStallMs:0} ms ({job.AfterStallType}); events: {job.Timeline}; kill→next event {job.NextEventMs:0} ms ({job.NextEventType}), →next page.completed {job.NextPageMs:0} ms, →resumed {job.ResumedMs:0} ms, longest gap {job.LongestGapMs:0} ms, {job.Refetched} completed pages refetched");
        }
        Say(line);
        return job;
    }

    private static async Task<IHost> ClientAsync(string connectionString, string clusterId, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client
            .UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            })
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = clusterId;
            }));
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    // ---- shared ----

    private static Dictionary<string, string> UserLimits() => new()
    {
        // The user's limits must not be the bottleneck: only the provider's are under test.
        ["Limits:User:PermitsPerMinute"] = "100000000",
        ["Limits:User:Burst"] = "1000000",
        ["Limits:User:MaxConcurrency"] = "1000000",
        ["Limits:User:MaxActiveJobs"] = "100000",
        ["Limits:User:MaxJobsPerMinute"] = "1000000",
        ["Limits:User:MaxStoredJobs"] = "1000000",
    };

    private static void Provider(Dictionary<string, string> settings, string name, FakeSearxng fake, double permitsPerMinute, int burst, int concurrency)
    {
        var p = $"Search:Providers:{name}:";
        settings[p + "Kind"] = "searxng";
        settings[p + "BaseUrl"] = fake.BaseUrl.ToString();
        settings[p + "PermitsPerMinute"] = permitsPerMinute.ToString(CultureInfo.InvariantCulture);
        settings[p + "Burst"] = burst.ToString(CultureInfo.InvariantCulture);
        settings[p + "MaxConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture);
    }

    private static HttpClient ServiceClient(Uri baseAddress) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };

    private static string Redact(string connectionString) =>
        string.Join(';', connectionString.Split(';').Where(p => !p.StartsWith("Password", StringComparison.OrdinalIgnoreCase)));

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.Search.sln")))
            {
                return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }

    private static void Say(string line) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}
