using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Harness;

namespace Orleans.Search.Bench.Admission;

/// <summary>
/// <c>--admission</c>: many users creating jobs at once. U users (one API key each) each send J
/// <c>POST /api/search-jobs</c> of Q queries × P pages, all U × J at the same moment, against a fake SearXNG of latency L;
/// every job is durable before its <c>202</c>. Measured per round: creates per second (U × J over the span from the first
/// POST to the last <c>202</c>), the create latency (each POST to its <c>202</c>), the storage writes per create while
/// admitting, the gateway's CPU per create, and the time until every job has ended. On SQLite and on PostgreSQL (a fresh
/// database). Writes bench/RESULTS-admission.md (one section per <c>--label</c>, so a "before" and an "after" sit side by
/// side) and its marked copy in RESULTS.md.
/// </summary>
public static class AdmissionBench
{
    public const string FileName = "RESULTS-admission.md";

    public static readonly MarkedSection Results = new(FileName,
        "<!-- admission-results:begin (written by --admission from RESULTS-admission.md; a full run keeps it) -->",
        "<!-- admission-results:end -->");

    public const string Usage = """
        dotnet run -c Release --project bench/Orleans.Search.Bench -- --admission [options]
          --storages sqlite,postgres  where the service stores (PostgreSQL: a fresh database on --pg, else $ORLEANS_SEARCH_TEST_POSTGRES, else scripts/postgres.sh)
          --pg CONNECTION_STRING  the PostgreSQL server
          --users 20              users, each with its own API key
          --jobs-per-user 10      jobs each user creates at once (all users at the same moment)
          --queries 10 --pages 2  each job's shape
          --latency-ms 100        the fake provider's latency
          --concurrency 200       the provider's MaxConcurrency
          --repeat 3              reported rounds per storage (after the warm-up rounds)
          --warmup 1              unreported rounds before the reported ones
          --gateway-log PATH      keep the gateway's console output (PATH.sqlite, PATH.postgres)
          --label NAME            the section of RESULTS-admission.md this run writes (default: "latest"); other labels are kept
          --out PATH              where to write the Markdown (default: bench/RESULTS-admission.md, copied into RESULTS.md)
        """;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> MainAsync(string[] args)
    {
        var o = new AdmissionOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int NextInt() => int.Parse(Next(), Inv);
            switch (args[i])
            {
                case "--admission": break;
                case "--storages": o = o with { Storages = Next().Split(',') }; break;
                case "--pg": o = o with { Server = Next() }; break;
                case "--users": o = o with { Users = NextInt() }; break;
                case "--jobs-per-user": o = o with { JobsPerUser = NextInt() }; break;
                case "--queries": o = o with { Queries = NextInt() }; break;
                case "--pages": o = o with { Pages = NextInt() }; break;
                case "--latency-ms": o = o with { Latency = TimeSpan.FromMilliseconds(NextInt()) }; break;
                case "--concurrency": o = o with { Concurrency = NextInt() }; break;
                case "--repeat": o = o with { Repeat = Math.Max(1, NextInt()) }; break;
                case "--label": o = o with { Label = Next() }; break;
                case "--gateway-log": o = o with { GatewayLog = Next() }; break;
                case "--warmup": o = o with { WarmupRounds = Math.Max(1, NextInt()) }; break;
                case "--out": o = o with { OutputPath = Next() }; break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}\n{Usage}");
                    return 2;
            }
        }
        return await BenchProgram.RunUntilCtrlCAsync(async cancellationToken =>
        {
            await RunAsync(o, cancellationToken);
            return 0;
        });
    }

    private static async Task RunAsync(AdmissionOptions o, CancellationToken cancellationToken)
    {
        var root = Postgres.PostgresRun.RepositoryRoot();
        var start = MachineInfo.Capture();
        var revision = SourceRevision.Capture(root);
        Say($"Orleans.Search admission benchmark — {start.Summary}");
        Say($"Code: {revision.Describe()}");
        var results = new List<StorageResult>();
        foreach (var storage in o.Storages)
        {
            try
            {
                results.Add(await StorageAsync(o, storage, root, cancellationToken));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Say($"{storage} failed: {ex}");
                results.Add(new StorageResult(storage, [], ex.Message.Split('\n')[0]));
            }
        }
        var section = RenderSection(o, start, MachineInfo.Capture(), revision, results);
        var path = o.OutputPath ?? Path.Combine(root, "bench", FileName);
        var report = Merge(File.Exists(path) ? await File.ReadAllTextAsync(path, CancellationToken.None) : null, o.Label, section);
        await File.WriteAllTextAsync(path, report, CancellationToken.None);
        if (o.OutputPath is null)
        {
            Results.UpdateMainReport(Path.Combine(root, "bench", "RESULTS.md"), report);
        }
        Say($"Wrote {path}");
        Console.WriteLine();
        Console.WriteLine(section);
    }

    private static async Task<StorageResult> StorageAsync(AdmissionOptions o, string storage, string root, CancellationToken cancellationToken)
    {
        var work = Directory.CreateTempSubdirectory("orleans-search-admission-").FullName;
        await using var fake = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = o.Latency, ArrivalLogLimit = 100_000 }, cancellationToken);
        PostgresDatabase? database = null;
        try
        {
            if (storage == "postgres")
            {
                var server = await Postgres.BenchPostgres.ServerAsync(o.Server, root, cancellationToken);
                database = await PostgresDatabase.CreateAsync(server, Postgres.BenchPostgres.DatabasePrefix, 30);
            }
            else if (storage != "sqlite")
            {
                throw new ArgumentException($"Unknown storage '{storage}': sqlite or postgres.");
            }
            var sqlite = Path.Combine(work, "orleans-search.db");
            var keys = Enumerable.Range(1, o.Users).Select(u => (User: $"user{u:00}", Key: $"admission-bench-key-{u:00}-{Guid.NewGuid():N}")).ToList();
            var settings = new Dictionary<string, string>
            {
                ["ConnectionStrings:Orleans"] = database?.ConnectionString ?? $"Data Source={sqlite}",
                ["Search:DefaultProvider"] = "adm",
                ["Search:Providers:adm:Kind"] = "searxng",
                ["Search:Providers:adm:BaseUrl"] = fake.BaseUrl.ToString(),
                ["Search:Providers:adm:PermitsPerMinute"] = "0",
                ["Search:Providers:adm:MaxConcurrency"] = o.Concurrency.ToString(Inv),
                // Admission is under test, not the limits: none of them may refuse or hold back a create or a call.
                ["Limits:User:PermitsPerMinute"] = "100000000",
                ["Limits:User:Burst"] = "1000000",
                ["Limits:User:MaxConcurrency"] = "1000000",
                ["Limits:User:MaxActiveJobs"] = "100000",
                ["Limits:User:MaxJobsPerMinute"] = "1000000",
                ["Limits:User:MaxStoredJobs"] = "1000000",
                ["Http:PermitsPerMinute"] = "0",
                ["Http:PermitsPerMinutePerAddress"] = "0",
                ["Auth:Mode"] = "keys",
            };
            if (database is not null)
            {
                settings["Cluster:Storage"] = "postgres";
            }
            for (var n = 0; n < keys.Count; n++)
            {
                settings[$"Auth:Keys:{n}:Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(keys[n].Key)));
                settings[$"Auth:Keys:{n}:User"] = keys[n].User;
                settings[$"Auth:Keys:{n}:Role"] = "user";
            }
            Say($"[{storage}] starting the gateway (embedded silo, {(database is null ? $"SQLite at {sqlite}" : $"PostgreSQL database {database.Name}")})…");
            await using var gateway = await BenchChildren.StartGatewayAsync(work, settings);
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            var clients = keys.Select(k =>
            {
                var client = new HttpClient(handler, disposeHandler: false) { BaseAddress = gateway.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", k.Key);
                return client;
            }).ToList();
            var probe = new AdmissionProbe(database is null ? sqlite : null, database);
            var rounds = new List<Round>();
            try
            {
                for (var round = 1 - o.WarmupRounds; round <= o.Repeat; round++)
                {
                    var measured = await RoundAsync(o, storage, round, clients, fake, gateway, probe, cancellationToken);
                    if (round > 0)
                    {
                        rounds.Add(measured);
                    }
                }
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
                if (o.GatewayLog is { } log)
                {
                    await File.WriteAllTextAsync($"{log}.{storage}", gateway.Output, CancellationToken.None);
                }
            }
            return new StorageResult(storage, rounds, null);
        }
        finally
        {
            if (database is not null)
            {
                await database.DisposeAsync();
            }
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>One round: every user's creates at once, then wait until every job has ended and is indexed as ended.</summary>
    private static async Task<Round> RoundAsync(AdmissionOptions o, string storage, int round, List<HttpClient> clients, FakeSearxng fake,
        GatewayProcess gateway, AdmissionProbe probe, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken); // the previous round's last writes settle
        fake.Reset();
        var runId = DateTime.UtcNow.ToString("HHmmssfff", Inv);
        // Bodies made before the clock starts: the round times the service, not the JSON writer.
        var bodies = clients.Select((_, u) => Enumerable.Range(0, o.JobsPerUser).Select(j => JsonSerializer.SerializeToUtf8Bytes(new
        {
            queries = Workloads.Queries(runId, $"{storage}-r{round}-u{u}-j{j}", o.Queries),
            pages = o.Pages,
        })).ToList()).ToList();
        var writesBefore = await probe.WritesAsync(cancellationToken);
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();

        var creates = await Task.WhenAll(clients.SelectMany((client, u) => bodies[u].Select(body => CreateAsync(client, body, started, cancellationToken))));

        var admittedAt = creates.Max(c => c.DoneMs);
        var cpuAdmitting = gateway.CpuTime - cpuBefore;
        var writesAdmitting = StorageProbe.Delta(writesBefore, await probe.WritesAsync(cancellationToken));
        var refused = creates.Where(c => c.JobId is null).ToList();
        var problems = refused.GroupBy(c => c.Status).Select(g => $"{g.Count()} × {g.Key}: {g.First().Problem}").ToList();

        // Every job runs to its end and is indexed as ended (its last bookkeeping write) before the next round starts.
        var pending = creates.Where(c => c.JobId is not null).Select(c => (c.Client, JobId: c.JobId!)).ToList();
        var ended = await WaitUntilEndedAsync(pending, TimeSpan.FromSeconds(120), cancellationToken);
        var endedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (ended.NotEnded > 0)
        {
            problems.Add($"{ended.NotEnded} jobs had not ended after 120 s");
        }
        if (ended.NotCompleted > 0)
        {
            problems.Add($"{ended.NotCompleted} jobs ended other than completed");
        }
        var measured = new Round(
            Creates: creates.Length - refused.Count,
            AdmittedMs: admittedAt,
            LatenciesMs: creates.Where(c => c.JobId is not null).Select(c => c.LatencyMs).ToList(),
            EndedMs: endedMs,
            Writes: writesAdmitting,
            GatewayCpu: cpuAdmitting,
            ProviderCalls: fake.TotalRequests,
            Problems: problems);
        Say(string.Create(Inv, $"[{storage}] round {round}{(round <= 0 ? " (warm-up, not reported)" : "")}: {measured.Creates} creates in {admittedAt:0} ms = {measured.CreatesPerSecond:0}/s; latency p50 {Stats.Percentile(measured.LatenciesMs, 50):0} ms, p99 {Stats.Percentile(measured.LatenciesMs, 99):0} ms; ")
            + string.Create(Inv, $"writes while admitting {FormatWrites(writesAdmitting)} ({measured.AdmissionWritesPerCreate:0.00} per create without query checkpoints); gateway CPU {measured.CpuMsPerCreate:0.00} ms per create; all ended at {endedMs:0} ms, {fake.TotalRequests} provider calls")
            + (problems.Count > 0 ? $"; PROBLEMS: {string.Join("; ", problems)}" : ""));
        return measured;
    }

    private sealed record Create(HttpClient Client, string? JobId, HttpStatusCode Status, string? Problem, double LatencyMs, double DoneMs);

    private static async Task<Create> CreateAsync(HttpClient client, byte[] body, long roundStarted, CancellationToken cancellationToken)
    {
        await Task.Yield(); // every POST leaves at once; none waits for the previous one to be sent
        var sent = Stopwatch.GetTimestamp();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("/api/search-jobs", content, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var done = Stopwatch.GetTimestamp();
        string? jobId = null;
        if (response.StatusCode == HttpStatusCode.Accepted)
        {
            using var json = JsonDocument.Parse(text);
            jobId = json.RootElement.GetProperty("jobId").GetString();
        }
        return new Create(client, jobId, response.StatusCode, jobId is null ? text[..Math.Min(200, text.Length)] : null,
            Stopwatch.GetElapsedTime(sent, done).TotalMilliseconds, Stopwatch.GetElapsedTime(roundStarted, done).TotalMilliseconds);
    }

    /// <summary>Polls each user's job list (it says "ended" only once the job's last bookkeeping write is done).</summary>
    private static async Task<(int NotEnded, int NotCompleted)> WaitUntilEndedAsync(List<(HttpClient Client, string JobId)> jobs, TimeSpan limit, CancellationToken cancellationToken)
    {
        var pending = jobs.GroupBy(j => j.Client).ToDictionary(g => g.Key, g => g.Select(j => j.JobId).ToHashSet(StringComparer.Ordinal));
        var notCompleted = 0;
        var watch = Stopwatch.StartNew();
        while (pending.Values.Any(p => p.Count > 0) && watch.Elapsed < limit)
        {
            await Task.Delay(100, cancellationToken);
            foreach (var (client, ids) in pending.Where(p => p.Value.Count > 0))
            {
                string? cursor = null;
                do
                {
                    using var response = await client.GetAsync("/api/search-jobs?limit=100" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        break; // a 503 while the database is overloaded: ask again at the next poll
                    }
                    var page = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                    foreach (var item in page.GetProperty("items").EnumerateArray())
                    {
                        var status = item.GetProperty("status").GetString();
                        if (status is "completed" or "failed" or "cancelled" && ids.Remove(item.GetProperty("jobId").GetString()!) && status != "completed")
                        {
                            notCompleted++;
                        }
                    }
                    cursor = page.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
                }
                while (cursor is not null && ids.Count > 0);
            }
        }
        return (pending.Values.Sum(p => p.Count), notCompleted);
    }

    private static string FormatWrites(IReadOnlyDictionary<string, long> writes) =>
        writes.Count == 0 ? "none" : string.Join(", ", writes.OrderByDescending(w => w.Value).Select(w => $"{w.Key} {w.Value}"));

    // ---- the report ----

    private static string RenderSection(AdmissionOptions o, MachineInfo start, MachineInfo end, SourceRevision revision, List<StorageResult> results)
    {
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');
        L(string.Create(Inv, $"### {o.Label}"));
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC, code {revision.Describe()}. Load average (1, 5, 15 min) {start.LoadAverage} at start, {end.LoadAverage} at end; other test runs: {(start.OtherTestRuns.Count == 0 ? "none seen" : string.Join(" | ", start.OtherTestRuns))}."));
        L(string.Create(Inv, $"{o.Users} users × {o.JobsPerUser} jobs at once ({o.Users * o.JobsPerUser} creates), each job {o.Queries} queries × {o.Pages} pages, L = {o.Latency.TotalMilliseconds:0} ms, provider `MaxConcurrency` {o.Concurrency}; {o.Repeat} reported rounds after {(o.WarmupRounds == 1 ? "a warm-up round" : $"{o.WarmupRounds} warm-up rounds")}; median (spread)."));
        L();
        L("| storage | creates/s | create latency p50 | p99 | to the last `202` | admission writes per create | writes while admitting (by kind, median round) | gateway CPU per create | to every job ended | problems |");
        L("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |");
        foreach (var r in results)
        {
            if (r.Rounds.Count == 0)
            {
                L($"| {r.Storage} | — | — | — | — | — | — | — | — | failed: {r.Error} |");
                continue;
            }
            var mid = r.Rounds.OrderBy(x => x.CreatesPerSecond).ElementAt(r.Rounds.Count / 2);
            var problems = r.Rounds.SelectMany(x => x.Problems).Distinct().ToList();
            L(string.Create(Inv, $"| {r.Storage} | {Fig(r.Rounds, x => x.CreatesPerSecond, "0")} | {Fig(r.Rounds, x => Stats.Percentile(x.LatenciesMs, 50), "0", " ms")} | {Fig(r.Rounds, x => Stats.Percentile(x.LatenciesMs, 99), "0", " ms")} | {Fig(r.Rounds, x => x.AdmittedMs, "0", " ms")} | {Fig(r.Rounds, x => x.AdmissionWritesPerCreate, "0.00")} | {FormatWrites(mid.Writes)} | {Fig(r.Rounds, x => x.CpuMsPerCreate, "0.00", " ms")} | {Fig(r.Rounds, x => x.EndedMs / 1000, "0.0", " s")} | {(problems.Count == 0 ? "none" : string.Join("; ", problems))} |"));
        }
        L();
        return md.ToString();
    }

    private static string Fig(IReadOnlyList<Round> rounds, Func<Round, double> f, string format, string unit = "")
    {
        var values = rounds.Select(f).Order().ToList();
        var median = Stats.Median(values);
        return values.Count == 1
            ? string.Create(Inv, $"{median.ToString(format, Inv)}{unit}")
            : string.Create(Inv, $"{median.ToString(format, Inv)}{unit} ({values[0].ToString(format, Inv)}–{values[^1].ToString(format, Inv)})");
    }

    private const string Intro = """
        # Orleans.Search admission: many users creating jobs at once

        Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --admission [--label NAME]`; each label is
        one run's section (a new run replaces its own label's section and keeps the others, so "before" and "after" a change
        sit side by side; compare only sections run back to back on the same load).

        Everything runs on this machine over loopback: the fake SearXNG and the clients in the benchmark process, the
        gateway as a child process (embedded silo, `Auth:Mode=keys` with one key per user, every job and HTTP limit set far
        above the workload). All creates of a round are sent at the same moment; the jobs then run (the provider calls
        compete with the creates still being admitted) and the round waits until every job has ended and is indexed as
        ended before the next one starts.

        - **creates/s**: the round's creates over the span from the first POST to the last `202`.
        - **create latency**: from each POST being sent to its `202` read, over all the round's creates (p50, p99 per round).
        - **admission writes per create**: storage writes while admitting (first POST to last `202`) of the job rows, the
          active-job shards, the stream rendezvous, the reminder table (`reminders`: rows + versions) and the user index
          (`index rows`: rows inserted), per create. Query checkpoints (`query`) landing in the same span are the jobs'
          work, not admission: listed in the next column, left out of this one. A job that ends within the span adds its
          end's writes.
        - **gateway CPU per create**: the gateway process's CPU over the same span, per create (the jobs' first provider
          calls, which start meanwhile, included).

        """;

    /// <summary>The file: the intro, then every label's section, this run's replacing its own.</summary>
    private static string Merge(string? existing, string label, string section)
    {
        var sections = new List<(string Label, string Text)>();
        if (existing is not null)
        {
            foreach (var part in existing.Split("<!-- admission-run: ", StringSplitOptions.None).Skip(1))
            {
                var close = part.IndexOf(" -->", StringComparison.Ordinal);
                var endMarker = part.IndexOf("<!-- /admission-run -->", StringComparison.Ordinal);
                if (close > 0 && endMarker > close)
                {
                    sections.Add((part[..close], part[(close + 4)..endMarker].Trim('\n')));
                }
            }
        }
        var index = sections.FindIndex(s => s.Label == label);
        if (index >= 0)
        {
            sections[index] = (label, section.Trim('\n'));
        }
        else
        {
            sections.Add((label, section.Trim('\n')));
        }
        var notes = existing is not null && existing.IndexOf(NotesMarker, StringComparison.Ordinal) is var n and >= 0 ? existing[n..].TrimEnd('\n') : null;
        var md = new StringBuilder(Intro);
        foreach (var (name, text) in sections)
        {
            md.Append("<!-- admission-run: ").Append(name).Append(" -->\n").Append(text).Append("\n<!-- /admission-run -->\n\n");
        }
        if (notes is not null)
        {
            md.Append(notes).Append('\n');
        }
        return md.ToString();
    }

    /// <summary>Hand-written notes after this marker are kept by every run.</summary>
    private const string NotesMarker = "## Notes";

    private static void Say(string line) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}

public sealed record AdmissionOptions
{
    public IReadOnlyList<string> Storages { get; init; } = ["sqlite", "postgres"];

    public string? Server { get; init; }

    public int Users { get; init; } = 20;

    public int JobsPerUser { get; init; } = 10;

    public int Queries { get; init; } = 10;

    public int Pages { get; init; } = 2;

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(100);

    public int Concurrency { get; init; } = 200;

    public int Repeat { get; init; } = 3;

    public string Label { get; init; } = "latest";

    /// <summary>Where to keep the gateway's console output (one file per storage, the storage's name appended).</summary>
    public string? GatewayLog { get; init; }

    /// <summary>Unreported rounds before the reported ones (the service compiles its hot paths in the first ones).</summary>
    public int WarmupRounds { get; init; } = 1;

    public string? OutputPath { get; init; }
}

internal sealed record Round(int Creates, double AdmittedMs, IReadOnlyList<double> LatenciesMs, double EndedMs,
    IReadOnlyDictionary<string, long> Writes, TimeSpan GatewayCpu, int ProviderCalls, IReadOnlyList<string> Problems)
{
    public double CreatesPerSecond => Creates / (AdmittedMs / 1000);

    public double AdmissionWritesPerCreate => Creates == 0 ? double.NaN
        : Writes.Where(w => w.Key != "query").Sum(w => w.Value) / (double)Creates;

    public double CpuMsPerCreate => Creates == 0 ? double.NaN : GatewayCpu.TotalMilliseconds / Creates;
}

internal sealed record StorageResult(string Storage, IReadOnlyList<Round> Rounds, string? Error);
