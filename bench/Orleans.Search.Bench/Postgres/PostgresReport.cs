using System.Globalization;
using System.Text;

namespace Orleans.Search.Bench.Postgres;

/// <summary>
/// Renders bench/RESULTS-postgres.md, and keeps a copy of it in bench/RESULTS.md between markers: <c>--postgres</c>
/// replaces the marked section, and a full run (<see cref="ResultsReport"/>) re-appends it from RESULTS-postgres.md.
/// </summary>
public static class PostgresReport
{
    public const string FileName = "RESULTS-postgres.md";
    private static readonly MarkedSection Results = new(FileName,
        "<!-- postgres-results:begin (written by --postgres from RESULTS-postgres.md; a full run keeps it) -->",
        "<!-- postgres-results:end -->");
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(PgOptions o, MachineInfo start, MachineInfo end, SourceRevision revision, TimeSpan elapsed, IReadOnlyList<StorageRow> rows, IReadOnlyList<KillRun> kills, IReadOnlyList<string> problems)
    {
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');

        L("# Orleans.Search benchmark results: PostgreSQL and a silo kill");
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:0.0} min. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --postgres`; see [README.md](README.md)."));
        L($"Code: commit {revision.Describe()} (at the start of the run).");
        L(string.Create(Inv, $"Machine: {start.Cores} cores ({start.Cpu}), {start.MemoryGiB:0.#} GiB, {start.Os}, {start.Runtime}; load average {start.LoadAverage} at start, {end.LoadAverage} at end; other test runs: {(start.OtherTestRuns.Count + end.OtherTestRuns.Count == 0 ? "none seen" : $"{start.OtherTestRuns.Count} at start, {end.OtherTestRuns.Count} at end")}."));
        L(string.Create(Inv, $"PostgreSQL 15 on the same machine (loopback, `max_connections` = 100, shared with whatever else runs), a fresh database per run, created and dropped by the benchmark. Every service process gets `Maximum Pool Size={o.MaxPoolSize}`: with Npgsql's default (100) the L = 0 run (200 checkpoints at once) took every connection slot, activations failed with `53300: remaining connection slots are reserved`, and the run waited for the 1-minute resume reminder (about 60 s instead of a few)."));
        if (problems.Count > 0)
        {
            L();
            L("**Problems seen:** " + string.Join("; ", problems));
        }

        if (rows.Count > 0)
        {
            L();
            L("## (c) Orleans.Search on SQLite vs PostgreSQL");
            L();
            L(string.Create(Inv, $"Same as (c) in RESULTS.md: the gateway as a child process with its embedded silo, through the HTTP API (jobs of up to {OrleansRunner.MaxQueriesPerJob} queries, each followed over SSE), every page checkpointed before it counts as done. SQLite: a file in a temp folder (WAL, `synchronous=FULL`). PostgreSQL: `Cluster:Storage=postgres`, localhost membership. Both runs back to back in this process, each after its own warm-up."));
            L(string.Create(Inv, $"Rate-limited rows: L = {o.Latency.TotalMilliseconds:0} ms, the fake polices R = {o.RatePerSecond:0}/s, B = {o.Burst}; bound = `max(ceil(calls/C)·L, (calls−B)/R + L)`. L = 0 row: {o.OverheadCalls} calls, C = {o.FastConcurrency}, no rate limit (provider calls per second end to end)."));
            L();
            L("| scenario | bound | SQLite | PostgreSQL | PG / SQLite | 429s SQLite / PG | arrivals/s SQLite / PG | first / last call SQLite · PG | page→SSE p50 / p99, SQLite · PG | writes per call SQLite / PG | gateway CPU ms per call SQLite / PG |");
            L("| --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- |");
            foreach (var group in rows.GroupBy(r => (r.Scenario.Calls, r.Scenario.Concurrency, r.Scenario.Latency)))
            {
                var s = group.First().Scenario;
                var sq = group.FirstOrDefault(r => r.Storage == "sqlite");
                var pg = group.FirstOrDefault(r => r.Storage == "postgres");
                var name = string.Create(Inv, $"{s.Calls} calls ({s.Queries}×{s.Pages}), C = {s.Concurrency}, L = {s.Latency.TotalMilliseconds:0} ms, {(s.RateLimited ? $"R = {s.RatePerSecond:0}/s, B = {s.Burst}" : "no rate limit")}");
                var ratio = sq?.Orleans.Makespan is { } a && pg?.Orleans.Makespan is { } b ? (b / a).ToString("0.00", Inv) + "×" : "—";
                L($"| {name} | {(s.Bound == TimeSpan.Zero ? "—" : s.Bound.TotalSeconds.ToString("0.00", Inv) + " s")} | {Cell(sq, s)} | {Cell(pg, s)} | {ratio} | {sq?.Orleans.Throttled.ToString(Inv) ?? "—"} / {pg?.Orleans.Throttled.ToString(Inv) ?? "—"} | {Pace(sq)} / {Pace(pg)} | {First(sq)} / {Last(sq)} · {First(pg)} / {Last(pg)} | {Delays(sq)} · {Delays(pg)} | {Writes(sq)} / {Writes(pg)} | {Cpu(sq)} / {Cpu(pg)} |");
            }
            var errors = rows.Where(r => r.Orleans.Error is not null).Select(r => $"{r.Storage} {r.Scenario}: {r.Orleans.Error}").ToList();
            if (errors.Count > 0)
            {
                L();
                L("**Problems:** " + string.Join("; ", errors));
            }
            L();
            L("writes per call: grain-state writes (the sum of `Version` in `OrleansStorage`, by grain type below) during the run ÷ provider calls. first / last call: from the first POST to the first and the last provider call reaching the fake. gateway CPU: the gateway process's CPU time (all threads, embedded silo included) during the run ÷ calls.");
            foreach (var r in rows.Where(r => r.Orleans.Writes.Count > 0))
            {
                L(string.Create(Inv, $"- {r.Storage}, {r.Scenario.Calls} calls, C = {r.Scenario.Concurrency}, L = {r.Scenario.Latency.TotalMilliseconds:0} ms: {string.Join(", ", r.Orleans.Writes.OrderByDescending(w => w.Value).Select(w => $"{w.Key} {w.Value}"))}"));
            }
        }

        if (kills.Count > 0)
        {
            L();
            L("## Silo kill: time to the job's next progress event");
            L();
            L(string.Create(Inv, $"Per run: a fresh PostgreSQL database, two silo processes (`Orleans.Search.Silo.dll`, ADO.NET membership) and one client-mode gateway process (`Cluster:Mode=client`). A warm-up job, then one job of {o.KillQueries} queries × {o.KillPages} pages (L = {o.Latency.TotalMilliseconds:0} ms, the provider's `MaxConcurrency` = {o.KillConcurrency}, so about {o.KillQueries * o.KillPages * o.Latency.TotalSeconds / o.KillConcurrency:0} s) without a kill, then the same-sized job again, followed over SSE from the gateway; once {o.KillAfterPages} of its pages have been reported, the silo that hosts its job grain (found with `IManagementGrain.GetDetailedGrainStatistics`) is SIGKILLed. Default `Jobs:ResumeReminderPeriod` (1 min): a resume within seconds comes from the survivors' silo-death sweep."));
            L("kill → next event: from the SIGKILL to the next event the benchmark read from the job's SSE stream (any type); → page.completed: to the next `page.completed`; → resumed: to the `resumed` event the job emits when its grain re-activates on the survivor. first provider call: the first call of the job that reached the fake after the kill (work resumed on the survivor). first event after the stall: the event that ended the longest silence after the kill (an event already on its way when the silo died can arrive a few ms after the kill; this one is the first that needed the recovery). longest gap: that silence. refetched: pages that had been reported before the kill and were requested from the provider again (must be 0). extra requests: provider requests beyond one per page (pages in flight on the killed silo, fetched again).");
            L();
            L("| run | makespan without / with kill | pages reported at kill | killed silo hosted | kill → next event | kill → page.completed | kill → resumed | kill → first provider call | kill → first event after the stall | longest gap | SSE reconnects | job ended | results | refetched | extra requests | max in flight without / with kill |");
            L("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |");
            foreach (var k in kills)
            {
                var x = k.Killed;
                L(string.Create(Inv, $"| {k.Run} | {k.Baseline.Makespan.TotalSeconds:0.00} s / {x.Makespan.TotalSeconds:0.00} s (+{(x.Makespan - k.Baseline.Makespan).TotalSeconds:0.00} s) | {x.PagesDoneAtKill} of {x.Pages} | {(x.VictimHostedJob ? "the job grain" : "not the job grain (not found)")} and {x.QueryGrainsOnVictim} of {x.QueryGrainsTotal} query grains, {x.LimitersOnVictim} limiter grains | {Ms(x.NextEventMs)} ({x.NextEventType ?? "—"}) | {Ms(x.NextPageMs)} | {Ms(x.ResumedMs)} | {Ms(x.FirstCallMs)} | {Ms(x.AfterStallMs)} ({x.AfterStallType ?? "—"}) | {Ms(x.LongestGapMs)} | {x.Reconnects} | {x.Terminal} ({x.FinalStatus}) | {x.Results} of {x.ExpectedResults} | {x.Refetched} | {x.ExtraRequests} | {k.Baseline.MaxInFlight} / {x.MaxInFlight} |"));
            }
            if (kills.Count > 1)
            {
                double? Median(Func<KillJob, double?> f) => kills.Select(k => f(k.Killed)).OfType<double>().ToList() is { Count: > 0 } v ? Stats.Percentile(v, 50) : null;
                L(string.Create(Inv, $"| **median** | {Stats.Percentile(kills.Select(k => k.Baseline.Makespan.TotalSeconds).ToList(), 50):0.00} s / {Stats.Percentile(kills.Select(k => k.Killed.Makespan.TotalSeconds).ToList(), 50):0.00} s | | | {Ms(Median(j => j.NextEventMs))} | {Ms(Median(j => j.NextPageMs))} | {Ms(Median(j => j.ResumedMs))} | {Ms(Median(j => j.FirstCallMs))} | {Ms(Median(j => j.AfterStallMs))} | {Ms(Median(j => j.LongestGapMs))} | | | | | | |"));
            }
            L();
            L("Events after each kill (ms after the SIGKILL, type; the first eight):");
            foreach (var k in kills)
            {
                L(string.Create(Inv, $"- run {k.Run}: {k.Killed.Timeline}"));
            }
            L();
            L("What bounds it: the membership settings of `Cluster:Membership=adonet` (`ProbeTimeout` = 1 s, `NumMissedProbesLimit` = 2, `NumVotesForDeathDeclaration` = 1). The survivor probes every silo once per `ProbeTimeout`; a SIGKILLed process refuses connections at once, so a probe fails without waiting out its timeout, and the second failed probe (one probe period, up to 1 s, after the first) lets the one vote declare the silo dead in the membership table: the floor is about one to two probe periods, 1–2 s, plus the table write and the other silos' reading of it. Until then calls to grains on the dead silo wait or fail; the job grain lived there, so no event can be produced. Once the silo is declared dead, the survivor's sweep pokes the unfinished jobs, the job grain re-activates from its checkpoint (PostgreSQL reads), emits `resumed`, restarts its unfinished queries (their grains too re-activate from their checkpoints), and the next `page.completed` follows about one provider latency (L) later. The gateway's SSE stream to the benchmark stays open (its feed re-reads the job's tail when the stream goes quiet), so the benchmark did not reconnect unless the column says so.");
        }
        return md.ToString();
    }

    /// <summary>Replaces (or appends) the marked section in RESULTS.md, if that file exists.</summary>
    public static void UpdateMainReport(string resultsPath, string report) => Results.UpdateMainReport(resultsPath, report);

    /// <summary>For <see cref="ResultsReport"/>: the marked section from bench/RESULTS-postgres.md, or nothing if there is none.</summary>
    public static string SectionFromFile() => Results.SectionFromFile();

    private static string Cell(StorageRow? r, Scenario s) => r?.Orleans.Makespan is not { } t ? (r?.Orleans.Error is { } e ? "error: " + e : "—")
        : s.Bound == TimeSpan.Zero
            ? string.Create(Inv, $"{t.TotalSeconds:0.00} s = **{s.Calls / t.TotalSeconds:0} calls/s**")
            : string.Create(Inv, $"{t.TotalSeconds:0.00} s (**{t / s.Bound:0.000}×**)");

    private static string Pace(StorageRow? r) => r?.Orleans.ArrivalRate is { } x ? x.ToString("0.0", Inv) : "—";

    private static string First(StorageRow? r) => r?.Orleans.FirstArrivalMs is { } x ? x.ToString("0", Inv) + " ms" : "—";

    private static string Last(StorageRow? r) => r is null || double.IsNaN(r.LastCallSeconds) ? "—" : r.LastCallSeconds.ToString("0.00", Inv) + " s";

    private static string Delays(StorageRow? r) => r is null || r.Orleans.EventDelaysMs.Count == 0 ? "—"
        : string.Create(Inv, $"{Stats.Percentile(r.Orleans.EventDelaysMs, 50):0.0} / {Stats.Percentile(r.Orleans.EventDelaysMs, 99):0.0} ms");

    private static string Writes(StorageRow? r) => r is null || r.Orleans.Writes.Count == 0 ? "—"
        : (r.Orleans.Writes.Values.Sum() / (double)r.Scenario.Calls).ToString("0.00", Inv);

    private static string Cpu(StorageRow? r) => r is null || double.IsNaN(r.GatewayCpuMsPerCall) ? "—" : r.GatewayCpuMsPerCall.ToString("0.00", Inv);

    private static string Ms(double? ms) => ms is { } x ? x.ToString("0", Inv) + " ms" : "—";
}
