using System.Globalization;
using System.Text;

namespace Orleans.Search.Bench;

/// <summary>
/// Renders bench/RESULTS.md. Every cell ran <see cref="BenchOptions.Repeat"/> times; a figure is the median of the
/// runs that produced it, with the spread (min–max) beside it, and each target line names the figure it rests on.
/// </summary>
public static class ResultsReport
{
    /// <summary>The share over the bound (and over (b)) a rate-limited row may take and still meet its target.</summary>
    private const double Tolerance = 1.10;

    /// <summary>Provider calls per second end to end the L = 0 run must reach through Orleans.Search.</summary>
    private const double OverheadTarget = 1000;
    private const double ShapeRateTarget = 2000;
    private const double CpuPerCallTarget = 0.40;
    private const double FastSseP99TargetMs = 250;
    private const double SlowSseP99TargetMs = 50;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(BenchOptions o, MachineInfo start, MachineInfo end, SourceRevision revision, TimeSpan elapsed, IReadOnlyList<Row> rows, IReadOnlyList<Row> overheads, IReadOnlyList<Scenario> skipped)
    {
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');

        L("# Orleans.Search benchmark results");
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:0.0} min{(o.Quick ? " (`--quick`)" : "")}. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench`; see [README.md](README.md)."));
        L();
        L("| machine and run | |");
        L("| --- | --- |");
        L($"| code | commit {revision.Describe()} (at the start of the run) |");
        L(string.Create(Inv, $"| repeats | each cell (each system in each scenario) ran {Times(o.Repeat)}, except (a) at L = {o.Latency.TotalMilliseconds:0} ms: {Times(o.SequentialRepeat)} per call count and rate |"));
        L(string.Create(Inv, $"| cores | {start.Cores} ({start.Cpu}) |"));
        L(string.Create(Inv, $"| memory | {start.MemoryGiB:0.#} GiB |"));
        L($"| OS, runtime | {start.Os}, {start.Runtime} |");
        L($"| load average (1, 5, 15 min) | {start.LoadAverage} at start, {end.LoadAverage} at end |");
        L($"| other test runs on the machine | {(start.OtherTestRuns.Count + end.OtherTestRuns.Count == 0 ? "none seen at start or end" : $"{start.OtherTestRuns.Count} at start, {end.OtherTestRuns.Count} at end")} |");
        L();
        L("Everything runs on this one machine over loopback: the fake SearXNG (Kestrel, in the benchmark process), the");
        L("clients of (a) and (b), and Orleans.Search as a child process (`Orleans.Search.Gateway.dll`, embedded silo,");
        L("SQLite file in a temp folder, WAL, every page checkpointed before it counts as done). They share the cores.");
        L();
        L(string.Create(Inv, $"**How to read a cell:** the median of the {o.Repeat} runs, and in brackets the spread (the lowest and the highest run); a cell with one figure ran once. Within a scenario the runs of (b) and (c) alternate ((b) run 1, (c) run 1, (b) run 2, …), each on fresh query texts, so a change in the machine's load hits both alike; (c)/(b) divides each run of (c) by the run of (b) just before it. If a run failed, the cell says so and its figures come from the others."));

        if (rows.Count > 0)
        {
            RenderMakespans(o, rows, skipped, L);
        }

        var problems = rows.Concat(overheads)
            .SelectMany(r => r.Orleans.Select((m, i) => (Row: r, Run: i + 1, m.Error)))
            .Where(x => x.Error is not null)
            .Select(x => $"{x.Row.Scenario}, run {x.Run}: {x.Error}")
            .ToList();
        if (problems.Count > 0)
        {
            L();
            L("**Problems seen:** " + string.Join("; ", problems));
        }

        if (overheads.Count > 0)
        {
            L();
            L("## Orchestration overhead (L = 0)");
            L();
            L("Provider latency 0, no rate limit: what is measured is what each system spends per call. Each system's span starts at its first request ((a), (b): the first call to the fake; (c): the first `POST /api/search-jobs`) and is timed to two ends on the same clock (the benchmark process's Stopwatch, which the fake uses too):");
            L();
            L("- **to the last provider response**: the fake finished writing the run's last successful response. The same span for all three systems.");
            L("- **to all results in hand**: (a), (b): the client has read and parsed the last response; (c): the benchmark has read the last job's terminal SSE event. This is the end-to-end figure; for (c) it adds the checkpoints, the job grains' events and the SSE relay that trail the last call.");
            foreach (var overhead in overheads)
            {
                RenderOverhead(o, start, overhead, L);
            }
        }

        L();
        L("## What bounds Orleans.Search here, and what would lift it");
        L();
        L("- **Per page** the service does: a result-cache lookup (one grain call), a permit from the user's and the provider's limiter grains (and their release), the HTTP call through the Polly pipeline, a durable checkpoint of the query's row, a report to the job grain, and the job's event through the memory stream to the gateway's SSE relay. With L = 200 ms all of that hides behind the provider's latency; what shows is a fixed cost per job (the `first call` column: the job row, the active-jobs shard, the reminder and the user's job index are written before the first call) and the last page's path to the terminal event.");
        L(string.Create(Inv, $"- **Rate-limited rows**: the service and (b) both spend a burst of {o.BurstInUse} instead of {o.Burst} (`JitterToleranceMs` keeps tokens back so the provider never sees more than its quota even if calls bunch up on the way), which costs ({o.Burst}−{o.BurstInUse})/R = {(o.Burst - o.BurstInUse) / o.RatePerSecond:0.00} s against the bound; it is the price of zero 429s. The limiter grants from a grain timer; a grant may come up to 5 ms early so a late timer does not lose pace (the `arrivals/s` column)."));
        L("- **Storage**: SQLite takes one writer at a time and every commit is fsynced (WAL, `synchronous=FULL`: a page counts as done only once its results are on disk). The silo's grain writes are group-committed: the rows all grains ask for while one transaction runs share the next one and its fsync (each grain is answered only once its row is committed), so the count of writes (rows, the column) is not the count of commits. Within a query, pages that finish during its write share the next one, and the last page's write also ends the query. The transactions take turns on an async lock with the silo's other writes (no thread sleeps in the driver's busy-retry). `synchronous=NORMAL` would be faster but can lose the last commits on power loss, so it is not used.");
        if (overheads.Count > 0 && CpuPerCall(overheads[0]) is { } cpu)
        {
            L(string.Create(Inv, $"- **L = 0**: all processes share {start.Cores} cores (the fake and the SSE clients in the benchmark process, the whole service in the gateway process); the gateway used {cpu.Format("0.00", " ms")} of CPU per provider call in the {overheads[0].Scenario.Calls}-call run. The gap between the two spans of (c) is queueing: calls complete faster than the job grains turn pages into events, so the last events (and the terminal one) trail the last call. More cores or silos (jobs spread over silos), or fewer events per page, would lift it."));
        }

        RenderTargets(o, rows, overheads, L);
        L();
        L("Profiles of the gateway (where its CPU per call goes) and other figures taken by hand are in [PROFILES.md](PROFILES.md); a full run leaves that file alone.");
        md.Append(Postgres.PostgresReport.SectionFromFile()); // the --postgres figures, kept across full runs
        md.Append(Soak.SoakReport.SectionFromFile()); // the --soak figures, kept across full runs
        md.Append(Reading.ReadingBench.Results.SectionFromFile()); // the --reading figures, kept across full runs
        md.Append(Research.ResearchBench.Results.SectionFromFile()); // the --research figures, kept across full runs
        md.Append(CodeSearch.CodeSearchBench.SectionFromFile()); // the --code-search figures, kept across full runs
        md.Append(Admission.AdmissionBench.Results.SectionFromFile()); // the --admission figures, kept across full runs
        return md.ToString();
    }

    private static void RenderMakespans(BenchOptions o, IReadOnlyList<Row> rows, IReadOnlyList<Scenario> skipped, Action<string> L)
    {
        L("");
        L("## Makespan vs the bound");
        L("");
        L(string.Create(Inv, $"Workload: N queries × {o.Pages} pages, provider latency L = {o.Latency.TotalMilliseconds:0} ms. Bound = `max(ceil(calls/C)·L, (calls−B)/R + L)`, without a rate limit the second term drops. Makespan: from the first request to all results in hand ((a), (b): the last response parsed; (c): the last job's terminal SSE event)."));
        L(string.Create(Inv, $"Rate limit: the fake polices R = {o.RatePerSecond:0.#}/s with burst B = {o.Burst} (429 + Retry-After over it); Orleans.Search has `PermitsPerMinute` = {60 * o.RatePerSecond:0}, `Burst` = {o.Burst}, `MaxConcurrency` = C, default `JitterToleranceMs` = {o.JitterToleranceMs:0} (so it spends a burst of {o.BurstInUse}); (b) uses a `TokenBucketRateLimiter` with the same burst in use and 1 token per {1000 / o.RatePerSecond:0} ms."));
        L(string.Create(Inv, $"**limiter binds**: whether the rate limit, not C, sets the pace, i.e. C/L > R. With C = 5 and L = {o.Latency.TotalMilliseconds:0} ms at most {5 / o.Latency.TotalSeconds:0}/s can be in progress, under the {o.RatePerSecond:0.#}/s quota, so the limiter never holds a call back and a rate-limited C = 5 row tests the concurrency limit only."));
        L("User limits are set far above the workload. (a), (b), (c) cells: makespan (spread), then the ratio to the bound (spread). 429s are counted by the fake, summed over the runs; max in flight is the highest of the runs.");
        L("");
        L("| calls (N×P) | C | rate limit | limiter binds | bound | (a) sequential | (b) WhenAll + SemaphoreSlim + bucket | (c) Orleans.Search | (c)/(b) | 429s a / b / c | max in flight b / c | arrivals/s b / c | first call (c) | page→SSE p50 / p99 (c) | writes per call (c) |");
        L("| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | --- | ---: |");
        foreach (var r in rows)
        {
            var s = r.Scenario;
            var shared = r.SequentialShared && r.Sequential.Any(m => m.Makespan is not null) ? " †" : "";
            L(string.Create(Inv, $"| {s.Calls} ({s.Queries}×{s.Pages}) | {s.Concurrency} | {s.RateText} | {Binds(s)} | {s.Bound.TotalSeconds:0.00} s | {Makespan(r.Sequential, s)}{shared} | {Makespan(r.WhenAll, s)} | {Makespan(r.Orleans, s)} | {Fmt(PairedRatio(r), "0.00", "×")} | {Throttled(r.Sequential)} / {Throttled(r.WhenAll)} / {Throttled(r.Orleans)} | {MaxInFlight(r.WhenAll)} / {MaxInFlight(r.Orleans)} | {Fmt(Spread.Of(r.WhenAll.Select(m => m.ArrivalRate)), "0.0")} / {Fmt(Spread.Of(r.Orleans.Select(m => m.ArrivalRate)), "0.0")} | {Fmt(Spread.Of(r.Orleans.Select(m => m.FirstArrivalMs)), "0", " ms")} | {Delays(r.Orleans)} | {Fmt(WritesPerCall(r.Orleans, s), "0.00")} |"));
        }
        L("");
        L(string.Create(Inv, $"(a) does not depend on C: it ran {Times(o.SequentialRepeat)} per call count and rate (one run takes calls × L, 80 s at 400 calls, and varies only by the per-call overhead; `--sequential-repeat` changes it), and the figure is shown in each C row († on the rows that reuse it). (a) runs only where calls × L ≤ {o.SequentialMaxSeconds:0} s; at 4000 calls it would take 800 s, so it is skipped there."));
        if (skipped.Count > 0)
        {
            L(string.Create(Inv, $"Not run: {string.Join("; ", skipped.Select(s => s.ToString()))}. A scenario runs only where its concurrency bound ceil(calls/C)·L is at most {o.CellMaxSeconds:0} s (`--cell-max`): at C = 5 one such run takes 160 s per system and repeat, and C = 5 never lets the limiter bind."));
        }
        L("page→SSE: from the moment the fake finished writing a page's response to the moment the benchmark read the `page.completed` event for it from `/api/search-jobs/{id}/events` (same process, same Stopwatch clock); it includes reading and parsing the response, the durable checkpoint, the report to the job grain, the stream and the SSE relay. p50 and p99 are taken per run; the cell gives the median (spread) of each over the runs.");
        L("writes per call: grain-state writes (the sum of the rows' `Version` in `OrleansStorage`) during the run, divided by the provider calls.");
        L(string.Create(Inv, $"arrivals/s: calls per second at the fake from the first arrival to the last (the pace the limiter achieved; {o.RatePerSecond:0.#}/s is the quota). first call: from the first POST to the first call reaching the fake."));
    }

    private static void RenderOverhead(BenchOptions o, MachineInfo start, Row overhead, Action<string> L)
    {
        var s = overhead.Scenario;
        var jobs = (s.Queries + OrleansRunner.MaxQueriesPerJob - 1) / OrleansRunner.MaxQueriesPerJob;
        L("");
        L(string.Create(Inv, $"### {s.Calls} calls: {jobs} jobs × {Math.Min(s.Queries, OrleansRunner.MaxQueriesPerJob)} queries × {s.Pages} pages, C = {s.Concurrency}"));
        L("");
        L(string.Create(Inv, $"{s.Calls} calls ({s.Queries}×{s.Pages}; for (c) {jobs} jobs of up to {OrleansRunner.MaxQueriesPerJob} queries, each followed over SSE), provider latency 0, C = {s.Concurrency} (the provider's `MaxConcurrency` for (c), the semaphore for (b)), no rate limit. {overhead.Orleans.Count} reported run{Plural(overhead.Orleans.Count)} per system{(o.OverheadRounds > 1 ? string.Create(Inv, $", after {o.OverheadRounds - 1} warm-up round{Plural(o.OverheadRounds - 1)} (not reported)") : "")}."));
        L("");
        L("| system | to the last provider response | calls/s over it | to all results in hand | calls/s end to end | arrivals/s at the fake | first call | 429s | page→SSE p50 / p99 | writes per call | gateway CPU per call |");
        L("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
        foreach (var (name, ms) in new[] { ("(a) sequential", overhead.Sequential), ("(b) WhenAll + SemaphoreSlim", overhead.WhenAll), ("(c) Orleans.Search", overhead.Orleans) })
        {
            var toLast = Spread.Of(ms.Select(m => m.ToLastProviderResponse?.TotalSeconds));
            var lastRate = Spread.Of(ms.Select(m => m.ToLastProviderResponse is { } t && t > TimeSpan.Zero ? s.Calls / t.TotalSeconds : (double?)null));
            var endToEnd = Spread.Of(ms.Select(m => m.Makespan?.TotalSeconds));
            var endRate = CallsPerSecond(ms, s);
            var failed = ms.Count(m => m.Makespan is null);
            var failure = failed == 0 ? "" : string.Create(Inv, $" ({failed} of {ms.Count} failed)");
            L(string.Create(Inv, $"| {name} | {Fmt(toLast, "0.000", " s")} | {Fmt(lastRate, "0")} | {Fmt(endToEnd, "0.000", " s")}{failure} | {Fmt(endRate, "0")} | {Fmt(Spread.Of(ms.Select(m => m.ArrivalRate)), "0")} | {Fmt(Spread.Of(ms.Select(m => m.FirstArrivalMs)), "0", " ms")} | {Throttled(ms)} | {Delays(ms)} | {Fmt(WritesPerCall(ms, s), "0.00")} | {Fmt(CpuPerCall(ms, s), "0.00", " ms")} |"));
        }
        L("");
        var writes = overhead.Orleans.Where(m => m.Writes.Count > 0).ToList();
        if (writes.Count > 0)
        {
            var perType = writes.SelectMany(m => m.Writes.Keys).Distinct()
                .Select(k => (Type: k, Median: Stats.Median(writes.Select(m => (double)m.Writes.GetValueOrDefault(k)).ToList())))
                .OrderByDescending(x => x.Median);
            L(string.Create(Inv, $"Storage writes of (c) by grain type (median of the runs): {string.Join(", ", perType.Select(x => $"{x.Type} {x.Median:0.#}"))}."));
        }
        if (CpuPerCall(overhead) is { } cpu)
        {
            L(string.Create(Inv, $"Gateway process CPU during (c): {cpu.Format("0.00", " ms")} per provider call (all threads, embedded silo included, from just before the first POST until the writes were counted; at the median, {start.Cores} cores give at most {start.Cores * 1000.0 / Math.Max(0.001, cpu.Median):0} calls/s of it if nothing else ran)."));
        }
    }

    private static void RenderTargets(BenchOptions o, IReadOnlyList<Row> rows, IReadOnlyList<Row> overheads, Action<string> L)
    {
        L("");
        L("## Targets");
        L("");
        L(string.Create(Inv, $"Each line names the figure it rests on: the median of the runs (spread in brackets). **met** means the median meets the target; the line also says how many of the runs did on their own."));
        L("");
        var limited = rows.Where(r => r.Scenario.RateLimited && r.Scenario.LimiterBinds && r.Scenario.Calls >= 400).ToList();
        foreach (var r in limited)
        {
            var s = r.Scenario;
            var vsBound = Spread.Of(r.Orleans.Select(m => m.Makespan / s.Bound));
            var vsB = PairedRatio(r);
            if (vsBound is null || vsB is null)
            {
                L(string.Create(Inv, $"- {s.Calls} calls, rate-limited, C = {s.Concurrency}: no run of (c) and (b) completed → **not met**"));
                continue;
            }
            var runs = r.Orleans.Zip(r.WhenAll).Where(p => p.First.Makespan is not null && p.Second.Makespan is not null).ToList();
            var within = runs.Count(p => p.First.Makespan!.Value / s.Bound <= Tolerance && p.First.Makespan.Value / p.Second.Makespan!.Value <= Tolerance);
            var ok = vsBound.Median <= Tolerance && vsB.Median <= Tolerance;
            L(string.Create(Inv, $"- {s.Calls} calls, rate-limited, C = {s.Concurrency} (the limiter binds: C/L = {s.ConcurrencyPaceCap:0}/s > R = {s.RatePerSecond:0.#}/s): (c) median {vsBound.Format("0.000", "× the bound")} and (c)/(b) median {vsB.Format("0.000", "×")}, over {vsBound.Count} run{Plural(vsBound.Count)} → {(ok ? "**met**" : "**not met**")} (target: both within 10%; {within} of {r.Orleans.Count} runs within on their own)"));
        }
        if (limited.Count == 0)
        {
            L("- Rate-limited makespan: no row where the rate limit binds (C/L > R) with 400 calls or more was run (see `--calls`, `--concurrency`), so there is no line for it.");
        }
        var notBinding = rows.Where(r => r.Scenario.RateLimited && !r.Scenario.LimiterBinds).Select(r => r.Scenario.Concurrency).Distinct().ToList();
        if (notBinding.Count > 0)
        {
            L(string.Create(Inv, $"- Not a target: the rate-limited rows at C = {string.Join(", ", notBinding)}. There C/L ≤ R ({string.Join(", ", notBinding.Select(c => $"{c / o.Latency.TotalSeconds:0}/s"))} against {o.RatePerSecond:0.#}/s), so the rate limiter never holds a call back and being near the bound shows only that the concurrency limit works."));
        }

        var everything = rows.Concat(overheads).SelectMany(r => r.Sequential.Concat(r.WhenAll).Concat(r.Orleans)).Where(m => m.Makespan is not null).ToList();
        var orleansRuns = rows.Concat(overheads).SelectMany(r => r.Orleans).Where(m => m.Makespan is not null).ToList();
        var throttled = everything.Sum(m => m.Throttled);
        var orleansThrottled = orleansRuns.Sum(m => m.Throttled);
        L(string.Create(Inv, $"- 429s: {orleansThrottled} for Orleans.Search over its {orleansRuns.Count} completed runs, {throttled} in all {everything.Count} runs together (every repeat of (a), (b) and (c), L = 0 included) → {(throttled == 0 ? "**met** (zero everywhere)" : orleansThrottled == 0 ? "**met for Orleans.Search**" : "**not met**")}"));

        foreach (var overhead in overheads)
        {
            var s = overhead.Scenario;
            var rate = CallsPerSecond(overhead.Orleans, s);
            if (rate is null)
            {
                L(string.Create(Inv, $"- L = 0, {s.Calls} calls, C = {s.Concurrency}: no run of (c) completed → **not met**"));
                continue;
            }
            if (s.Concurrency == o.FastConcurrency && s.Calls == o.OverheadCalls)
            {
                var within = overhead.Orleans.Count(m => m.Makespan is { } t && s.Calls / t.TotalSeconds >= OverheadTarget);
                L(string.Create(Inv, $"- L = 0, {s.Calls} calls, C = {s.Concurrency}: Orleans.Search median {rate.Format("0", " provider calls per second")} end to end (to all results in hand), over {rate.Count} run{Plural(rate.Count)} → {(rate.Median >= OverheadTarget ? "**met**" : "**not met**")} (target ≥ 1,000/s; {within} of {overhead.Orleans.Count} runs on their own)"));
            }
            else
            {
                // The orchestration-cost targets: the shape of four users' jobs, every page durable before it counts.
                var cpu = CpuPerCall(overhead);
                var p99 = Spread.Of(overhead.Orleans.Where(m => m.EventDelaysMs.Count > 0).Select(m => Stats.Percentile(m.EventDelaysMs, 99)));
                var shape = $"{(s.Queries + OrleansRunner.MaxQueriesPerJob - 1) / OrleansRunner.MaxQueriesPerJob} jobs × {Math.Min(s.Queries, OrleansRunner.MaxQueriesPerJob)} queries × {s.Pages} pages";
                var fast = overhead.Orleans.Count(m => m.Makespan is { } t && s.Calls / t.TotalSeconds >= ShapeRateTarget);
                L(string.Create(Inv, $"- L = 0, {s.Calls} calls as {shape}, C = {s.Concurrency}: Orleans.Search median {rate.Format("0", " calls/s")} end to end, over {rate.Count} run{Plural(rate.Count)} → {(rate.Median >= ShapeRateTarget ? "**met**" : "**not met**")} (target ≥ 2,000/s; {fast} of {overhead.Orleans.Count} runs on their own); {Fmt(WritesPerCall(overhead.Orleans, s), "0.00")} storage writes (rows) per call"));
                L(string.Create(Inv, $"- the same runs, gateway CPU per provider call: median {Fmt(cpu, "0.00", " ms")} (of it the JIT's background compiler {Fmt(Spread.Of(overhead.Orleans.Where(m => m.Makespan is not null).Select(m => m.GatewayJitCpu?.TotalMilliseconds / s.Calls)), "0.00", " ms")}, the GC threads {Fmt(Spread.Of(overhead.Orleans.Where(m => m.Makespan is not null).Select(m => m.GatewayGcCpu?.TotalMilliseconds / s.Calls)), "0.00", " ms")}) → {(cpu is not null && cpu.Median <= CpuPerCallTarget ? "**met**" : "**not met**")} (target ≤ 0.40 ms)"));
                L(string.Create(Inv, $"- the same runs, page→SSE p99: median {Fmt(p99, "0", " ms")} → {(p99 is not null && p99.Median < FastSseP99TargetMs ? "**met**" : "**not met**")} (target < 250 ms)"));
            }
        }
        // Page→SSE at L = 200 ms: every scenario of the table above, (c)'s p99 per run.
        var latencyRows = rows.Where(r => r.Orleans.Any(m => m.EventDelaysMs.Count > 0)).ToList();
        if (latencyRows.Count > 0)
        {
            var worst = latencyRows
                .Select(r => (Row: r, P99: Spread.Of(r.Orleans.Where(m => m.EventDelaysMs.Count > 0).Select(m => Stats.Percentile(m.EventDelaysMs, 99)))!))
                .OrderByDescending(x => x.P99.Median).ToList();
            var under = worst.Count(x => x.P99.Median < SlowSseP99TargetMs);
            var top = worst[0];
            L(string.Create(Inv, $"- L = {top.Row.Scenario.Latency.TotalMilliseconds:0} ms, page→SSE p99 (c): {under} of {worst.Count} scenarios have a median p99 under {SlowSseP99TargetMs} ms; the highest is {top.Row.Scenario.Calls} calls, C = {top.Row.Scenario.Concurrency}, {(top.Row.Scenario.RateLimited ? "rate-limited" : "no rate limit")}: {top.P99.Format("0", " ms")} → {(under == worst.Count ? "**met**" : "**not met**")} (target < 50 ms)"));
        }
    }

    private static string Plural(int count) => count == 1 ? "" : "s";

    private static string Times(int count) => count == 1 ? "once" : count.ToString(Inv) + " times";

    private static string Fmt(Spread? spread, string format, string unit = "") => spread?.Format(format, unit) ?? "—";

    private static string Binds(Scenario s) => !s.RateLimited ? "—"
        : s.LimiterBinds ? string.Create(Inv, $"yes (C/L = {s.ConcurrencyPaceCap:0}/s)")
        : string.Create(Inv, $"no (C/L = {s.ConcurrencyPaceCap:0}/s)");

    /// <summary>Makespan (spread), ratio to the bound (spread); or why there is none.</summary>
    private static string Makespan(IReadOnlyList<Measurement> runs, Scenario s)
    {
        if (runs.Count > 0 && runs.All(m => m.Note is not null))
        {
            return runs[0].Note!;
        }
        var done = runs.Where(m => m.Makespan is not null).ToList();
        var failed = runs.Count - done.Count;
        if (done.Count == 0)
        {
            var error = runs.Select(m => m.Error).FirstOrDefault(e => e is not null) ?? "no run completed";
            return "error: " + (error.Length > 60 ? error[..60] + "…" : error);
        }
        var makespan = Spread.Of(done.Select(m => m.Makespan!.Value.TotalSeconds))!;
        var ratio = Spread.Of(done.Select(m => m.Makespan!.Value / s.Bound))!;
        var cell = $"{makespan.Format("0.00", " s")}, {ratio.Format("0.00", "×")}";
        return failed == 0 ? cell : string.Create(Inv, $"{cell}; {failed} of {runs.Count} runs failed");
    }

    /// <summary>Each run of (c) over the run of (b) just before it.</summary>
    private static Spread? PairedRatio(Row r) =>
        Spread.Of(r.Orleans.Zip(r.WhenAll).Select(p => p.First.Makespan is { } c && p.Second.Makespan is { } b ? c / b : (double?)null));

    private static string Throttled(IReadOnlyList<Measurement> runs) =>
        runs.Any(m => m.Makespan is not null) ? runs.Sum(m => m.Throttled).ToString(Inv) : "—";

    private static string MaxInFlight(IReadOnlyList<Measurement> runs) =>
        runs.Any(m => m.Makespan is not null) ? runs.Max(m => m.MaxInFlight).ToString(Inv) : "—";

    private static string Delays(IReadOnlyList<Measurement> runs)
    {
        var withDelays = runs.Where(m => m.EventDelaysMs.Count > 0).ToList();
        if (withDelays.Count == 0)
        {
            return "—";
        }
        var p50 = Spread.Of(withDelays.Select(m => Stats.Percentile(m.EventDelaysMs, 50)))!;
        var p99 = Spread.Of(withDelays.Select(m => Stats.Percentile(m.EventDelaysMs, 99)))!;
        return $"{p50.Format("0.0")} / {p99.Format("0.0")} ms";
    }

    private static Spread? WritesPerCall(IReadOnlyList<Measurement> runs, Scenario s) =>
        Spread.Of(runs.Where(m => m.Makespan is not null && m.Writes.Count > 0).Select(m => m.Writes.Values.Sum() / (double)s.Calls));

    private static Spread? CallsPerSecond(IReadOnlyList<Measurement> runs, Scenario s) =>
        Spread.Of(runs.Select(m => m.Makespan is { } t && t > TimeSpan.Zero ? s.Calls / t.TotalSeconds : (double?)null));

    private static Spread? CpuPerCall(IReadOnlyList<Measurement> runs, Scenario s) =>
        Spread.Of(runs.Where(m => m.Makespan is not null).Select(m => m.GatewayCpu?.TotalMilliseconds / s.Calls));

    private static Spread? CpuPerCall(Row overhead) => CpuPerCall(overhead.Orleans, overhead.Scenario);
}
