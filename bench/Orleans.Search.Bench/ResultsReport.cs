using System.Globalization;
using System.Text;

namespace Orleans.Search.Bench;

/// <summary>Renders bench/RESULTS.md.</summary>
public static class ResultsReport
{
    public static string Render(BenchOptions o, MachineInfo start, MachineInfo end, TimeSpan elapsed, IReadOnlyList<Row> rows, Row? overhead, double gatewayCpuMsPerCall)
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');

        L("# Orleans.Search benchmark results");
        L();
        L(string.Create(inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:0.0} min{(o.Quick ? " (`--quick`)" : "")}. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench`; see [README.md](README.md)."));
        L();
        L("| machine | |");
        L("| --- | --- |");
        L(string.Create(inv, $"| cores | {start.Cores} ({start.Cpu}) |"));
        L(string.Create(inv, $"| memory | {start.MemoryGiB:0.#} GiB |"));
        L($"| OS, runtime | {start.Os}, {start.Runtime} |");
        L($"| load average (1, 5, 15 min) | {start.LoadAverage} at start, {end.LoadAverage} at end |");
        L($"| other test runs on the machine | {(start.OtherTestRuns.Count + end.OtherTestRuns.Count == 0 ? "none seen at start or end" : $"{start.OtherTestRuns.Count} at start, {end.OtherTestRuns.Count} at end")} |");
        L();
        L("Everything runs on this one machine over loopback: the fake SearXNG (Kestrel, in the benchmark process), the");
        L("clients of (a) and (b), and Orleans.Search as a child process (`Orleans.Search.Gateway.dll`, embedded silo,");
        L("SQLite file in a temp folder, WAL, every page checkpointed before it counts as done). They share the cores.");
        L();
        L("## Makespan vs the bound");
        L();
        L(string.Create(inv, $"Workload: N queries × {o.Pages} pages, provider latency L = {o.Latency.TotalMilliseconds:0} ms. Bound = `max(ceil(calls/C)·L, (calls−B)/R + L)`, without a rate limit the second term drops."));
        L(string.Create(inv, $"Rate limit: the fake polices R = {o.RatePerSecond:0.#}/s with burst B = {o.Burst} (429 + Retry-After over it); Orleans.Search has `PermitsPerMinute` = {60 * o.RatePerSecond:0}, `Burst` = {o.Burst}, `MaxConcurrency` = C, default `JitterToleranceMs` = {o.JitterToleranceMs:0} (so it spends a burst of {o.BurstInUse}); (b) uses a `TokenBucketRateLimiter` with the same burst in use and 1 token per {1000 / o.RatePerSecond:0} ms."));
        L("User limits are set far above the workload. Each cell: makespan (× bound). 429s are counted by the fake.");
        L();
        L("| calls (N×P) | C | rate limit | bound | (a) sequential | (b) WhenAll + SemaphoreSlim + bucket | (c) Orleans.Search | (c)/(b) | 429s a / b / c | max in flight b / c | arrivals/s b / c | first call (c) | page→SSE p50 / p99 | writes per call (c) |");
        L("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | --- | ---: |");
        foreach (var r in rows)
        {
            var s = r.Scenario;
            L(string.Create(inv, $"| {s.Calls} ({s.Queries}×{s.Pages}) | {s.Concurrency} | {s.RateText} | {s.Bound.TotalSeconds:0.00} s | {Cell(r.Sequential, s)}{(r.SequentialShared && r.Sequential?.Makespan is not null ? " †" : "")} | {Cell(r.WhenAll, s)} | {Cell(r.Orleans, s)} | {Ratio(r.Orleans, r.WhenAll)} | {Throttled(r.Sequential)} / {Throttled(r.WhenAll)} / {Throttled(r.Orleans)} | {r.WhenAll.MaxInFlight} / {r.Orleans.MaxInFlight} | {Pace(r.WhenAll)} / {Pace(r.Orleans)} | {First(r.Orleans)} | {Delays(r.Orleans)} | {WritesPerCall(r.Orleans, s)} |"));
        }
        L();
        L(string.Create(inv, $"† (a) does not depend on C: measured once per call count and rate, shown in both rows. (a) runs only where calls × L ≤ {o.SequentialMaxSeconds:0} s; at 4000 calls it would take 800 s, so it is skipped there."));
        L("page→SSE: from the moment the fake finished writing a page's response to the moment the benchmark read the `page.completed` event for it from `/api/search-jobs/{id}/events` (same process, same Stopwatch clock); it includes reading and parsing the response, the durable checkpoint, the report to the job grain, the stream and the SSE relay.");
        L("writes per call: grain-state writes (the sum of the rows' `Version` in `OrleansStorage`) during the run, divided by the provider calls.");
        L("arrivals/s: calls per second at the fake from the first arrival to the last (the pace the limiter achieved; 50/s is the quota). first call: from the first POST to the first call reaching the fake.");
        var problems = rows.Append(overhead).Where(r => r is not null).SelectMany(r => new[] { r!.Orleans }).Where(m => m.Error is not null).ToList();
        if (problems.Count > 0)
        {
            L();
            L("**Problems seen:** " + string.Join("; ", problems.Select(p => p.Error)));
        }

        if (overhead is not null)
        {
            var s = overhead.Scenario;
            L();
            L("## Orchestration overhead (L = 0)");
            L();
            L(string.Create(inv, $"{s.Calls} calls ({s.Queries}×{s.Pages}, {(s.Queries + OrleansRunner.MaxQueriesPerJob - 1) / OrleansRunner.MaxQueriesPerJob} jobs of up to {OrleansRunner.MaxQueriesPerJob} queries for (c)), provider latency 0, C = {s.Concurrency}, no rate limit."));
            L();
            L("| system | makespan | provider calls per second (end to end) | arrivals/s at the fake | first call | 429s | page→SSE p50 / p99 | writes per call |");
            L("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
            foreach (var (name, m) in new[] { ("(a) sequential", overhead.Sequential!), ("(b) WhenAll + SemaphoreSlim", overhead.WhenAll), ("(c) Orleans.Search", overhead.Orleans) })
            {
                var rate = m.Makespan is { } t ? (s.Calls / t.TotalSeconds).ToString("0", inv) : "—";
                var writes = m.Writes.Count == 0 ? "—" : string.Create(inv, $"{m.Writes.Values.Sum() / (double)s.Calls:0.00} ({string.Join(", ", m.Writes.OrderByDescending(w => w.Value).Select(w => $"{w.Key} {w.Value}"))})");
                L(string.Create(inv, $"| {name} | {(m.Makespan is { } mk ? mk.TotalSeconds.ToString("0.00", inv) + " s" : m.Error ?? "—")} | {rate} | {Pace(m)} | {First(m)} | {m.Throttled} | {Delays(m)} | {writes} |"));
            }
            L();
            if (o.OverheadRounds > 1)
            {
                L(string.Create(inv, $"The L = 0 run was repeated {o.OverheadRounds} times with fresh queries; the table shows the last one."));
                L();
            }
            L(string.Create(inv, $"Gateway process CPU during (c): {gatewayCpuMsPerCall:0.00} ms per provider call (all threads; {start.Cores} cores give at most {start.Cores * 1000.0 / Math.Max(0.001, gatewayCpuMsPerCall):0} calls/s of it if nothing else ran)."));
        }

        L();
        L("## What bounds Orleans.Search here, and what would lift it");
        L();
        L("- **Per page** the service does: a result-cache lookup (one grain call), a permit from the user's and the provider's limiter grains (and their release), the HTTP call through the Polly pipeline, a durable checkpoint of the query's row, a report to the job grain, and the job's event through the memory stream to the gateway's SSE relay. With L = 200 ms all of that hides behind the provider's latency; what shows is a fixed cost per job (the `first call` column: the job row, the active-jobs shard, the reminder and the user's job index are written before the first call) and the last page's path to the terminal event.");
        L(string.Create(inv, $"- **Rate-limited rows**: the service and (b) both spend a burst of {o.BurstInUse} instead of {o.Burst} (`JitterToleranceMs` keeps tokens back so the provider never sees more than its quota even if calls bunch up on the way), which costs ({o.Burst}−{o.BurstInUse})/R = {(o.Burst - o.BurstInUse) / o.RatePerSecond:0.00} s against the bound; it is the price of zero 429s. The limiter grants from a grain timer; a grant may come up to 5 ms early so a late timer does not lose pace (the `arrivals/s` column)."));
        L("- **Storage**: SQLite takes one writer at a time and every commit is fsynced (WAL, `synchronous=FULL`: a page counts as done only once its results are on disk). The silo's writes take turns on an async lock (no thread sleeps in the driver's busy-retry), a query's pages that finish during a write share the next one, and the last page's write also ends the query, so writes per call fall well below one when pages finish together (see the column). Lifting it further: PostgreSQL (concurrent writers, group commit), or several silos; `synchronous=NORMAL` would be faster but can lose the last commits on power loss, so it is not used.");
        if (overhead is not null)
        {
            L(string.Create(inv, $"- **L = 0**: all processes share {start.Cores} cores (the fake and the SSE clients in the benchmark process, the whole service in the gateway process); the gateway used {gatewayCpuMsPerCall:0.00} ms of CPU per provider call. The page→SSE delay there is queueing: calls complete faster than the job grains turn pages into events, so the last events (and the terminal one) trail the last call. More cores or silos (jobs spread over silos), or fewer events per page, would lift it."));
        }
        L();
        L("## Targets");
        L();
        foreach (var r in rows.Where(r => r.Scenario.Calls == 400 && r.Scenario.RateLimited))
        {
            var vsBound = r.Orleans.Makespan / r.Scenario.Bound;
            var vsB = r.Orleans.Makespan / r.WhenAll.Makespan;
            var ok = vsBound <= 1.10 && vsB <= 1.10;
            L(string.Create(inv, $"- 400 calls, rate-limited, C = {r.Scenario.Concurrency}: (c) = {vsBound:0.000}× bound and {vsB:0.000}× (b) → {(ok ? "**met** (within 10%)" : "**not met**")}"));
        }
        var all = rows.SelectMany(r => new[] { r.Sequential, r.WhenAll, r.Orleans }).Append(overhead?.Orleans).Append(overhead?.WhenAll).Append(overhead?.Sequential).OfType<Measurement>().ToList();
        var throttled = all.Sum(m => m.Throttled);
        var orleansThrottled = rows.Sum(r => r.Orleans.Throttled) + (overhead?.Orleans.Throttled ?? 0);
        L($"- 429s: {orleansThrottled} for Orleans.Search, {throttled} in all runs together → {(throttled == 0 ? "**met** (zero everywhere)" : orleansThrottled == 0 ? "**met for Orleans.Search**" : "**not met**")}");
        if (overhead?.Orleans.Makespan is { } fastMakespan)
        {
            var perSecond = overhead.Scenario.Calls / fastMakespan.TotalSeconds;
            L(string.Create(inv, $"- L = 0: {perSecond:0} provider calls per second end to end through Orleans.Search → {(perSecond >= 1000 ? "**met** (≥ 1,000/s)" : "**not met** (< 1,000/s)")}"));
        }
        md.Append(Postgres.PostgresReport.SectionFromFile()); // the --postgres figures, kept across full runs
        md.Append(Soak.SoakReport.SectionFromFile()); // the --soak figures, kept across full runs
        return md.ToString();
    }

    private static string Cell(Measurement? m, Scenario s) => m switch
    {
        null => "—",
        { Makespan: { } t } => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.00} s ({t / s.Bound:0.00}×)"),
        { Note: { } note } => note,
        { Error: { } error } => "error: " + (error.Length > 60 ? error[..60] + "…" : error),
        _ => "—",
    };

    private static string Ratio(Measurement c, Measurement b) =>
        c.Makespan is { } tc && b.Makespan is { } tb ? (tc / tb).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";

    private static string Throttled(Measurement? m) => m?.Makespan is null ? "—" : m.Throttled.ToString(CultureInfo.InvariantCulture);

    private static string Pace(Measurement m) => m.ArrivalRate is { } r ? r.ToString("0.0", CultureInfo.InvariantCulture) : "—";

    private static string First(Measurement m) => m.FirstArrivalMs is { } f ? f.ToString("0", CultureInfo.InvariantCulture) + " ms" : "—";

    private static string Delays(Measurement m) => m.EventDelaysMs.Count == 0 ? "—"
        : string.Create(CultureInfo.InvariantCulture, $"{Stats.Percentile(m.EventDelaysMs, 50):0.0} / {Stats.Percentile(m.EventDelaysMs, 99):0.0} ms");

    private static string WritesPerCall(Measurement m, Scenario s) => m.Writes.Count == 0 ? "—"
        : (m.Writes.Values.Sum() / (double)s.Calls).ToString("0.00", CultureInfo.InvariantCulture);
}
