using Orleans.Search.Harness;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Fakes.Hostile;

namespace Orleans.Search.Bench.Soak;

/// <summary>
/// <c>--soak</c>: the gateway (a child process, embedded silo, SQLite, default limits) serves normal clients that
/// create jobs and follow them over SSE while hostile clients fire the hostile-input corpus at it back to back, each from
/// its own loopback address and key. Reports the service's peak memory and CPU, the normal calls' latency, whether every
/// normal job completed, and the hostile answers by status. Writes bench/RESULTS-soak.md and a copy into bench/RESULTS.md.
/// </summary>
public static class SoakBench
{
    public const string Usage = """
        dotnet run -c Release --project bench/Orleans.Search.Bench -- --soak [options]
          --minutes 10            how long the clients run (normal jobs in flight at the end are then followed to their end)
          --normal 4              normal clients (each its own key, from 127.0.0.1): a job every --interval seconds, followed over SSE, then read
          --hostile 4             hostile clients (each its own key and address 127.0.0.10+i): the hostile corpus, case after case
          --interval 3            seconds between one normal client's job creations (30 jobs per minute per user is the default limit)
          --pages 3               pages per normal job
          --latency 100           the fake SearXNG's latency, ms
          --skip TEXT             leave out hostile cases whose "category: name" contains TEXT (repeatable; to soak a build without some defence)
          --kill-above-mb 4096    kill the service if its RSS passes this (a runaway must not take the machine down)
          --out PATH              where to write the Markdown (default: bench/RESULTS-soak.md; a copy goes into bench/RESULTS.md)
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        var o = new SoakOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            double Number() => double.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--soak": break;
                case "--minutes": o = o with { Duration = TimeSpan.FromMinutes(Number()) }; break;
                case "--normal": o = o with { NormalClients = (int)Number() }; break;
                case "--hostile": o = o with { HostileClients = (int)Number() }; break;
                case "--interval": o = o with { JobInterval = TimeSpan.FromSeconds(Number()) }; break;
                case "--pages": o = o with { Pages = (int)Number() }; break;
                case "--latency": o = o with { Latency = TimeSpan.FromMilliseconds(Number()) }; break;
                case "--skip": o = o with { Skip = [.. o.Skip, Next()] }; break;
                case "--kill-above-mb": o = o with { KillAboveBytes = (long)(Number() * 1024 * 1024) }; break;
                case "--out": o = o with { OutputPath = Next() }; break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}\n{Usage}");
                    return 2;
            }
        }
        if (o.HostileClients is < 0 or > 200 || o.NormalClients < 1)
        {
            Console.Error.WriteLine($"--normal must be at least 1 and --hostile 0 to 200\n{Usage}");
            return 2;
        }
        return await BenchProgram.RunUntilCtrlCAsync(cancellationToken => new SoakRun(o).RunAsync(cancellationToken));
    }
}

public sealed record SoakOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    public int NormalClients { get; init; } = 4;

    public int HostileClients { get; init; } = 4;

    public TimeSpan JobInterval { get; init; } = TimeSpan.FromSeconds(3);

    public int Pages { get; init; } = 3;

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(100);

    public IReadOnlyList<string> Skip { get; init; } = [];

    public long KillAboveBytes { get; init; } = 4L << 30;

    public string? OutputPath { get; init; }
}

/// <summary>Everything the soak counts; the clients add to it concurrently.</summary>
public sealed class SoakTally
{
    private readonly Lock _lock = new();

    public List<double> CreateMs { get; } = [];

    public List<double> GetMs { get; } = [];

    public int NormalCreated;
    public int NormalCompleted;

    /// <summary>Normal creates that were not 202, by status (or failure kind).</summary>
    public ConcurrentDictionary<string, int> NormalRefused { get; } = new();

    /// <summary>Normal jobs that did not end completed (or whose stream or read failed), with why.</summary>
    public ConcurrentBag<string> NormalProblems { get; } = [];

    /// <summary>Hostile answers by status code, or by failure kind (timeout, reset, closed, connect).</summary>
    public ConcurrentDictionary<string, int> HostileAnswers { get; } = new();

    /// <summary>Hostile answers that were what the hostile-input test expects of them.</summary>
    public int HostileAsExpected;

    /// <summary>Of <see cref="HostileAsExpected"/>, the 429s a case expected (floods), so the other 429s can be told apart.</summary>
    public int HostileThrottledAsExpected;

    /// <summary>Other hostile answers, by "case → answer", for the 5xx and the no-answers.</summary>
    public ConcurrentDictionary<string, int> HostileBad { get; } = new();

    public ConcurrentBag<(string Key, string JobId)> HostileJobs { get; } = [];

    public int SseReconnects;

    public void Add(List<double> into, double value)
    {
        lock (_lock)
        {
            into.Add(value);
        }
    }

    public IReadOnlyList<double> Snapshot(List<double> of)
    {
        lock (_lock)
        {
            return [.. of];
        }
    }
}

/// <summary>RSS samples (one per second) and what they add up to.</summary>
public sealed record MemoryTrace(long StartRss, long PeakRss, long EndRss, IReadOnlyList<(TimeSpan At, long Rss)> Samples, TimeSpan Cpu, bool Killed, string? ExitedHow);

public sealed class SoakRun(SoakOptions options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _runId = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
    private readonly SoakTally _tally = new();

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var machine = MachineInfo.Capture();
        Say($"Orleans.Search soak — {machine.Summary}");
        var cases = HostileCorpus.Cases.Where(c => !options.Skip.Any(s => c.ToString().Contains(s, StringComparison.Ordinal))).ToList();
        Say($"{options.NormalClients} normal clients, {options.HostileClients} hostile clients ({cases.Count} of {HostileCorpus.Cases.Count} hostile cases), {options.Duration.TotalMinutes:0.#} min");
        var work = Path.Combine(Path.GetTempPath(), $"orleans-search-soak-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        await using var web = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = options.Latency, ArrivalLogLimit = 10_000 }, cancellationToken);

        var normalKeys = Enumerable.Range(1, options.NormalClients).Select(i => ($"normal-{i}", $"soak-normal-{i}-{RandomKey()}")).ToList();
        var hostileKeys = Enumerable.Range(1, options.HostileClients).Select(i => ($"hostile-{i}", $"soak-hostile-{i}-{RandomKey()}")).ToList();
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = $"Data Source={Path.Combine(work, "orleans-search.db")}",
            ["Auth:Mode"] = "keys",
            ["Search:DefaultProvider"] = "local",
            ["Search:Providers:local:Kind"] = "local",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = web.BaseUrl.ToString(),
            // The provider is not what is under test: its limits stay out of the way.
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "200",
            ["Search:Providers:web:MaxConcurrency"] = "100",
        };
        var n = 0;
        foreach (var (user, key) in normalKeys.Concat(hostileKeys))
        {
            settings[$"Auth:Keys:{n}:Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
            settings[$"Auth:Keys:{n}:User"] = user;
            settings[$"Auth:Keys:{n}:Role"] = "user";
            n++;
        }

        Say("Starting the gateway (embedded silo, SQLite, the limits' defaults)…");
        var gateway = await BenchChildren.StartGatewayAsync(work, settings);
        var started = Stopwatch.StartNew();
        MemoryTrace? memory = null;
        string? victimBefore = null, victimAfter = null;
        var healthyAtEnd = false;
        var hostileJobEnds = new Dictionary<string, int>();
        try
        {
            Say($"Gateway pid {gateway.ProcessId} at {gateway.BaseAddress}");
            using var victimClient = Client(gateway.BaseAddress, normalKeys[0].Item2, IPAddress.Loopback);
            var victim = await CreateAndFinishAsync(victimClient, new { query = $"soak {_runId} victim", provider = "web", pages = 2 }, cancellationToken);
            victimBefore = await ReadJobTextAsync(victimClient, victim, cancellationToken);
            var hostileContexts = new List<(HostileContext Context, IPAddress From)>();
            for (var i = 0; i < hostileKeys.Count; i++)
            {
                var from = LoopbackClients.Address(10 + i);
                using var own = Client(gateway.BaseAddress, hostileKeys[i].Item2, from);
                var ownJob = await CreateAndFinishAsync(own, new { query = "actor model", provider = "local" }, cancellationToken);
                hostileContexts.Add((new HostileContext(gateway.BaseAddress.Authority, hostileKeys[i].Item2, ownJob, victim), from));
            }

            var end = DateTime.UtcNow + options.Duration;
            Say($"Soaking until {end:HH:mm:ss} UTC…");
            using var soakCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var meter = MeasureAsync(gateway, soakCts.Token);
            var progress = ReportProgressAsync(end, soakCts.Token);
            var normal = normalKeys.Select((k, i) => NormalClientAsync(i + 1, gateway.BaseAddress, k.Item2, end, cancellationToken)).ToList();
            var hostile = hostileContexts.Select((h, i) => HostileClientAsync(i, gateway, h.Context, h.From, cases, end, soakCts.Token)).ToList();
            await Task.WhenAll(hostile);
            Say("Hostile clients stopped; following the normal jobs still in flight to their end…");
            await Task.WhenAll(normal);
            await soakCts.CancelAsync();
            memory = await meter;
            try
            {
                await progress;
            }
            catch (OperationCanceledException)
            {
            }

            if (gateway.ProcessId > 0 && ProcessMeter.Read(gateway.ProcessId) is not null)
            {
                using var health = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
                healthyAtEnd = (await health.GetAsync("/healthz", cancellationToken)).IsSuccessStatusCode
                    && (await health.GetAsync("/readyz", cancellationToken)).IsSuccessStatusCode;
                victimAfter = await ReadJobTextAsync(victimClient, victim, cancellationToken);
                hostileJobEnds = await HostileJobEndsAsync(gateway.BaseAddress, hostileContexts.Select(h => (h.Context.Key!, h.From)).ToList(), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Say($"The soak stopped early: {ex.Message}\n{Tail(gateway.Output)}");
        }
        finally
        {
            memory ??= ProcessMeter.Read(gateway.ProcessId) is { } last
                ? new MemoryTrace(0, last.PeakRssBytes, last.RssBytes, [], last.CpuTime, false, null)
                : new MemoryTrace(0, 0, 0, [], TimeSpan.Zero, false, "the gateway exited");
            await gateway.DisposeAsync();
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        var result = new SoakResult(options, cases.Count, started.Elapsed, memory, _tally, victimBefore is not null && victimBefore == victimAfter, healthyAtEnd, hostileJobEnds)
        {
            Build = await BuildAsync(),
        };
        var report = SoakReport.Render(result, machine, MachineInfo.Capture());
        var path = options.OutputPath ?? Path.Combine(Postgres.PostgresRun.RepositoryRoot(), "bench", SoakReport.FileName);
        await File.WriteAllTextAsync(path, report, CancellationToken.None);
        if (options.OutputPath is null)
        {
            SoakReport.UpdateMainReport(Path.Combine(Postgres.PostgresRun.RepositoryRoot(), "bench", "RESULTS.md"), report);
        }
        Say($"Wrote {path}");
        Console.WriteLine();
        Console.WriteLine(report);
        return result.AllNormalJobsCompleted ? 0 : 1;
    }

    /// <summary>One normal client: a job every interval (or when the last one is done), followed over SSE to its end, then read.</summary>
    private async Task NormalClientAsync(int client, Uri baseAddress, string key, DateTime end, CancellationToken cancellationToken)
    {
        using var http = Client(baseAddress, key, IPAddress.Loopback);
        var next = DateTime.UtcNow;
        for (var job = 1; DateTime.UtcNow < end; job++)
        {
            var wait = next - DateTime.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
            next = DateTime.UtcNow + options.JobInterval;
            var query = $"soak {_runId} n{client} j{job}";
            var watch = Stopwatch.StartNew();
            string jobId;
            try
            {
                using var created = await http.PostAsJsonAsync("/api/search-jobs", new { query, provider = "web", pages = options.Pages }, cancellationToken);
                _tally.Add(_tally.CreateMs, watch.Elapsed.TotalMilliseconds);
                if (created.StatusCode != HttpStatusCode.Accepted)
                {
                    _tally.NormalRefused.AddOrUpdate(((int)created.StatusCode).ToString(CultureInfo.InvariantCulture), 1, (_, c) => c + 1);
                    continue;
                }
                jobId = (await created.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("jobId").GetString()!;
                Interlocked.Increment(ref _tally.NormalCreated);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                _tally.NormalRefused.AddOrUpdate("no answer", 1, (_, c) => c + 1);
                continue;
            }
            try
            {
                var terminal = await FollowAsync(http, jobId, cancellationToken);
                watch.Restart();
                using var read = await http.GetAsync($"/api/search-jobs/{jobId}", cancellationToken);
                _tally.Add(_tally.GetMs, watch.Elapsed.TotalMilliseconds);
                var status = read.IsSuccessStatusCode ? (await read.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)) : default;
                var results = read.IsSuccessStatusCode ? status.GetProperty("results").GetArrayLength() : -1;
                if (terminal == "completed" && read.IsSuccessStatusCode && status.GetProperty("status").GetString() == "completed" && results == options.Pages * 10)
                {
                    Interlocked.Increment(ref _tally.NormalCompleted);
                }
                else
                {
                    _tally.NormalProblems.Add($"job {jobId}: stream ended '{terminal}', GET {(int)read.StatusCode} with {results} results");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or JsonException && !cancellationToken.IsCancellationRequested)
            {
                _tally.NormalProblems.Add($"job {jobId}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    /// <summary>Follows a job's event stream to its terminal event, reconnecting with Last-Event-ID when the stream ends early.</summary>
    private async Task<string> FollowAsync(HttpClient http, string jobId, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(3));
        string? lastId = null;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                Interlocked.Increment(ref _tally.SseReconnects);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * Math.Min(attempt, 10)), deadline.Token);
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{jobId}/events");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (lastId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastId);
            }
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                if (!response.IsSuccessStatusCode)
                {
                    continue; // 429 (too many open streams) or 5xx: try again after a pause
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(deadline.Token));
                string? type = null;
                while (await reader.ReadLineAsync(deadline.Token) is { } line)
                {
                    if (line.StartsWith("id:", StringComparison.Ordinal))
                    {
                        lastId = line[3..].Trim();
                    }
                    else if (line.StartsWith("event:", StringComparison.Ordinal))
                    {
                        type = line[6..].Trim();
                    }
                    else if (line.Length == 0)
                    {
                        if (type is "completed" or "failed" or "cancelled")
                        {
                            return type;
                        }
                        if (type == "snapshot" && attempt == 0)
                        {
                            // A job that ended before the stream opened shows it in the snapshot alone.
                        }
                        type = null;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && !deadline.IsCancellationRequested)
            {
            }
            // The stream ended without a terminal event: the job may have ended before it opened.
            using var status = await http.GetAsync($"/api/search-jobs/{jobId}", deadline.Token);
            if (status.IsSuccessStatusCode)
            {
                var state = (await status.Content.ReadFromJsonAsync<JsonElement>(deadline.Token)).GetProperty("status").GetString();
                if (state is "completed" or "failed" or "cancelled")
                {
                    return state;
                }
            }
        }
    }

    /// <summary>One hostile client: the corpus, case after case, from its own address, until the end.</summary>
    private async Task HostileClientAsync(int client, GatewayProcess gateway, HostileContext context, IPAddress from, IReadOnlyList<HostileCase> cases, DateTime end, CancellationToken cancellationToken)
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, gateway.BaseAddress.Port);
        for (var i = client * 37; DateTime.UtcNow < end && !cancellationToken.IsCancellationRequested; i++)
        {
            var c = cases[i % cases.Count];
            RawHttpOutcome outcome;
            try
            {
                outcome = await RawHttp.SendAsync(endpoint, from, c.Request.Head(context), c.Request.Body, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(2), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            _tally.HostileAnswers.AddOrUpdate(outcome.Kind, 1, (_, n) => n + 1);
            if (c.Expected.Judge(outcome, out var jobId) is null)
            {
                Interlocked.Increment(ref _tally.HostileAsExpected);
                if (outcome.Kind == "429")
                {
                    Interlocked.Increment(ref _tally.HostileThrottledAsExpected);
                }
                if (jobId is not null)
                {
                    _tally.HostileJobs.Add((context.Key!, jobId));
                }
            }
            else if (outcome.Response is not { Status: < 500 })
            {
                _tally.HostileBad.AddOrUpdate($"{c} → {outcome.Kind}", 1, (_, n) => n + 1);
            }
        }
    }

    /// <summary>
    /// How the hostile users' jobs (the accepted query bombs, and each one's setup job) stand, by status, from their own
    /// job lists. Their limits are spent when the soak stops, so a 429 is waited out (Retry-After, a minute at most).
    /// </summary>
    private static async Task<Dictionary<string, int>> HostileJobEndsAsync(Uri baseAddress, IReadOnlyList<(string Key, IPAddress From)> hostiles, CancellationToken cancellationToken)
    {
        var ends = new Dictionary<string, int>();
        foreach (var (key, from) in hostiles)
        {
            using var http = Client(baseAddress, key, from);
            var giveUp = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            string? cursor = null;
            while (true)
            {
                using var response = await http.GetAsync($"/api/search-jobs?limit=100{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", cancellationToken);
                if (response.StatusCode == HttpStatusCode.TooManyRequests && DateTime.UtcNow < giveUp)
                {
                    await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 5, 1, 30)), cancellationToken);
                    continue;
                }
                if (!response.IsSuccessStatusCode)
                {
                    ends[$"list answered {(int)response.StatusCode}"] = ends.GetValueOrDefault($"list answered {(int)response.StatusCode}") + 1;
                    break;
                }
                var page = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                foreach (var item in page.GetProperty("items").EnumerateArray())
                {
                    var status = item.GetProperty("status").GetString() ?? "?";
                    ends[status] = ends.GetValueOrDefault(status) + 1;
                }
                cursor = page.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
                if (cursor is null)
                {
                    break;
                }
            }
        }
        return ends;
    }

    private async Task<MemoryTrace> MeasureAsync(GatewayProcess gateway, CancellationToken cancellationToken)
    {
        var start = ProcessMeter.Read(gateway.ProcessId) ?? throw new InvalidOperationException("cannot read /proc for the gateway");
        var samples = new List<(TimeSpan, long)>();
        var watch = Stopwatch.StartNew();
        var last = start;
        var peak = start.PeakRssBytes;
        var killed = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (ProcessMeter.Read(gateway.ProcessId) is not { } reading)
            {
                return new MemoryTrace(start.RssBytes, peak, last.RssBytes, samples, last.CpuTime - start.CpuTime, killed, "the gateway exited");
            }
            last = reading;
            peak = Math.Max(peak, Math.Max(reading.PeakRssBytes, reading.RssBytes));
            samples.Add((watch.Elapsed, reading.RssBytes));
            if (reading.RssBytes > options.KillAboveBytes && !killed)
            {
                killed = true;
                Say($"The gateway's RSS passed {ProcessReading.Megabytes(options.KillAboveBytes)}: killing it");
                try
                {
                    Process.GetProcessById(gateway.ProcessId).Kill(entireProcessTree: true);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                    // It is gone already.
                }
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return new MemoryTrace(start.RssBytes, peak, last.RssBytes, samples, last.CpuTime - start.CpuTime, killed, null);
    }

    private async Task ReportProgressAsync(DateTime end, CancellationToken cancellationToken)
    {
        while (DateTime.UtcNow < end)
        {
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            Say($"  normal jobs {_tally.NormalCreated} created, {_tally.NormalCompleted} completed; hostile answers {string.Join(", ", _tally.HostileAnswers.OrderByDescending(a => a.Value).Take(6).Select(a => $"{a.Value} × {a.Key}"))}");
        }
    }

    private static async Task<string> CreateAndFinishAsync(HttpClient http, object spec, CancellationToken cancellationToken)
    {
        using var created = await http.PostAsJsonAsync("/api/search-jobs", spec, cancellationToken);
        if (created.StatusCode != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"creating a setup job answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync(cancellationToken)}");
        }
        var jobId = (await created.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("jobId").GetString()!;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            var status = await http.GetFromJsonAsync<JsonElement>($"/api/search-jobs/{jobId}", cancellationToken);
            if (status.GetProperty("status").GetString() is "completed")
            {
                return jobId;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new InvalidOperationException($"setup job {jobId} did not complete within a minute");
    }

    private static async Task<string> ReadJobTextAsync(HttpClient http, string jobId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/api/search-jobs/{jobId}", cancellationToken);
        return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
    }

    private static HttpClient Client(Uri baseAddress, string key, IPAddress from)
    {
        var http = LoopbackClients.From(from, baseAddress, TimeSpan.FromMinutes(2));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>"commit abc1234 on branch x", from git in the repository (the figures belong to a build).</summary>
    private static async Task<string> BuildAsync()
    {
        async Task<string?> Git(string arguments)
        {
            try
            {
                var start = new ProcessStartInfo("git", arguments) { WorkingDirectory = Postgres.PostgresRun.RepositoryRoot(), RedirectStandardOutput = true, RedirectStandardError = true };
                using var git = Process.Start(start)!;
                var text = (await git.StandardOutput.ReadToEndAsync()).Trim();
                await git.WaitForExitAsync();
                return git.ExitCode == 0 ? text : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }
        var commit = await Git("rev-parse --short HEAD");
        if (commit is null)
        {
            return "an unknown commit (no git)";
        }
        var branch = await Git("rev-parse --abbrev-ref HEAD");
        var dirty = await Git("status --porcelain --untracked-files=no");
        return $"commit `{commit}` on branch `{branch}`{(string.IsNullOrEmpty(dirty) ? "" : " with local changes")}";
    }

    private static string RandomKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static void Say(string line) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}

/// <summary>What a soak run measured.</summary>
public sealed record SoakResult(SoakOptions Options, int HostileCases, TimeSpan Elapsed, MemoryTrace Memory, SoakTally Tally, bool VictimUntouched, bool HealthyAtEnd, IReadOnlyDictionary<string, int> HostileJobEnds)
{
    /// <summary>The commit and branch the service was built from (with "+ local changes" when the tree was dirty).</summary>
    public string Build { get; init; } = "an unknown commit";

    public bool AllNormalJobsCompleted => Tally.NormalCreated > 0 && Tally.NormalCompleted == Tally.NormalCreated && Tally.NormalRefused.IsEmpty;
}
