using System.Globalization;
using System.Text;
using Orleans.Search.Fakes.Hostile;

namespace Orleans.Search.Bench.Soak;

/// <summary>
/// Renders bench/RESULTS-soak.md, and keeps a copy of it in bench/RESULTS.md between markers: <c>--soak</c> replaces the
/// marked section, and a full run (<see cref="ResultsReport"/>) re-appends it from RESULTS-soak.md.
/// </summary>
public static class SoakReport
{
    public const string FileName = "RESULTS-soak.md";
    private static readonly MarkedSection Results = new(FileName,
        "<!-- soak-results:begin (written by --soak from RESULTS-soak.md; a full run keeps it) -->",
        "<!-- soak-results:end -->");
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(SoakResult r, MachineInfo start, MachineInfo end)
    {
        var o = r.Options;
        var t = r.Tally;
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');
        string Ms(IReadOnlyList<double> values) => values.Count == 0 ? "—"
            : string.Create(Inv, $"p50 **{Stats.Percentile(values, 50):0} ms**, p99 **{Stats.Percentile(values, 99):0} ms** ({values.Count} calls, max {values.Max():0} ms)");

        L("# Orleans.Search soak: normal clients beside hostile ones");
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC, {r.Elapsed.TotalMinutes:0.0} min: {o.Duration.TotalMinutes:0.#} min of load, then the normal jobs still in flight followed to their end. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --soak --minutes {o.Duration.TotalMinutes:0.#}`; see [README.md](README.md)."));
        L(string.Create(Inv, $"Built from {r.Build}."));
        L(string.Create(Inv, $"Machine: {start.Cores} cores ({start.Cpu}), {start.MemoryGiB:0.#} GiB, {start.Os}, {start.Runtime}; load average {start.LoadAverage} at start, {end.LoadAverage} at end; other test runs: {(start.OtherTestRuns.Count + end.OtherTestRuns.Count == 0 ? "none seen" : $"{start.OtherTestRuns.Count} at start, {end.OtherTestRuns.Count} at end")}."));
        L();
        L(string.Create(Inv, $"The service: the gateway as a child process (embedded silo, SQLite file in a temp folder, `Auth:Mode=keys`), every request and admission limit at its default (`Http:MaxBodyBytes` 256 KB, `Http:PermitsPerMinute` 600 per user, `Http:PermitsPerMinutePerAddress` 1200, `Limits:User:MaxJobsPerMinute` 30, `MaxOpenStreams` 8, `MaxStoredJobs` 1000, `MaxActiveJobs` 20); a fake SearXNG with L = {o.Latency.TotalMilliseconds:0} ms behind provider `web`, and the `local` provider on the sample corpus. Everything on this machine, over loopback."));
        L(string.Create(Inv, $"- **{o.NormalClients} normal clients**, each with its own key, from 127.0.0.1: a job of {o.Pages} pages on `web` every {o.JobInterval.TotalSeconds:0.#} s (or as soon as its last one is done), followed over SSE to its terminal event (reconnecting with `Last-Event-ID` if a stream ends early), then read with GET."));
        L(string.Create(Inv, $"- **{o.HostileClients} hostile clients**, each with its own key and its own loopback address (127.0.0.10 and up, so the per-address limit sees separate callers): the hostile-input corpus ({r.HostileCases} cases{(o.Skip.Count > 0 ? $", leaving out those matching {string.Join(", ", o.Skip.Select(s => $"`{s}`"))}" : "")}; `tests/Orleans.Search.Fakes/Hostile/HostileCorpus.cs`, the same list the hostile-input test runs) case after case, back to back, each on a fresh connection: oversized and malformed bodies, unknown and duplicate members, control characters, garbage headers, forged cursors, other users' job ids, and Lucene syntax bombs as queries on `local`."));
        L();
        L("| measure | value |");
        L("| --- | --- |");
        var m = r.Memory;
        L(string.Create(Inv, $"| service peak RSS (`VmHWM`) | **{ProcessReading.Megabytes(m.PeakRss)}** ({ProcessReading.Megabytes(m.StartRss)} when the soak started, {ProcessReading.Megabytes(m.EndRss)} at its end){(m.Killed ? " — **killed for passing the RSS limit**" : "")}{(m.ExitedHow is { } how ? $" — **{how}**" : "")} |"));
        var perMinute = m.Samples.GroupBy(s => (int)s.At.TotalMinutes).Select(g => $"{g.Key + 1}: {g.Max(s => s.Rss) / 1024 / 1024}").ToList();
        L($"| service RSS, highest in each minute (MB) | {(perMinute.Count == 0 ? "—" : string.Join(", ", perMinute))} |");
        var soakSeconds = m.Samples.Count > 0 ? m.Samples[^1].At.TotalSeconds : r.Elapsed.TotalSeconds;
        L(string.Create(Inv, $"| service CPU during the soak | {m.Cpu.TotalSeconds:0} s ({100 * m.Cpu.TotalSeconds / Math.Max(1, soakSeconds):0} % of one core over {soakSeconds:0} s) |"));
        L(string.Create(Inv, $"| normal jobs | **{t.NormalCreated} created, {t.NormalCompleted} completed** ({(r.AllNormalJobsCompleted ? "all" : "**NOT all**")}){(t.NormalRefused.IsEmpty ? "" : "; creates refused: " + string.Join(", ", t.NormalRefused.Select(k => $"{k.Value} × {k.Key}")))}{(t.NormalProblems.IsEmpty ? "" : $"; {t.NormalProblems.Count} jobs with problems")} |"));
        L($"| normal create, `POST /api/search-jobs` → 202 | {Ms(t.Snapshot(t.CreateMs))} |");
        L($"| normal read, `GET /api/search-jobs/{{id}}` | {Ms(t.Snapshot(t.GetMs))} |");
        L(string.Create(Inv, $"| normal SSE reconnects | {t.SseReconnects} |"));
        var hostileTotal = t.HostileAnswers.Values.Sum();
        L(string.Create(Inv, $"| hostile requests | {hostileTotal} ({hostileTotal / Math.Max(1, soakSeconds):0} per second): {string.Join(", ", t.HostileAnswers.OrderByDescending(a => a.Value).Select(a => $"{a.Value} × {a.Key}"))} |"));
        var throttled = t.HostileAnswers.GetValueOrDefault("429") - t.HostileThrottledAsExpected;
        L(string.Create(Inv, $"| hostile answers as the hostile-input test expects them | {t.HostileAsExpected} ({100.0 * t.HostileAsExpected / Math.Max(1, hostileTotal):0.0} %); of the others, {throttled} were 429 (a limit refused them before their content was looked at) and {hostileTotal - t.HostileAsExpected - throttled} something else |"));
        var bad = t.HostileBad.Values.Sum();
        L(string.Create(Inv, $"| hostile requests answered 5xx or not at all | {(bad == 0 ? "**0**" : $"**{bad}** (below)")} |"));
        L(string.Create(Inv, $"| hostile users' jobs at the end (accepted query bombs, and one setup job each) | {t.HostileJobs.Count} accepted as the test expects; now {(r.HostileJobEnds.Count == 0 ? "—" : string.Join(", ", r.HostileJobEnds.OrderByDescending(e => e.Value).Select(e => $"{e.Value} × {e.Key}")))} |"));
        L($"| a normal user's job, probed by every hostile client | {(r.VictimUntouched ? "untouched (GET before = after)" : "**CHANGED or unreadable**")} |");
        L($"| health at the end | {(r.HealthyAtEnd ? "`/healthz` and `/readyz` 200" : "**not healthy**")} |");
        if (!t.HostileBad.IsEmpty)
        {
            L();
            L("Hostile requests answered 5xx or not at all (case → answer: count):");
            L();
            foreach (var (what, count) in t.HostileBad.OrderByDescending(b => b.Value).Take(30))
            {
                L(string.Create(Inv, $"- {what.Replace("|", "\\|", StringComparison.Ordinal)}: {count}"));
            }
        }
        if (!t.NormalProblems.IsEmpty)
        {
            L();
            L("Normal jobs with problems (first 20):");
            L();
            foreach (var problem in t.NormalProblems.Take(20))
            {
                L("- " + problem);
            }
        }
        L();
        L("What to look for: the RSS per minute should level off (no growth with the number of requests served), every normal job should complete, the normal p99 should stay within a small multiple of an idle service's, and no hostile request should get a 5xx or no answer.");
        return md.ToString();
    }

    /// <summary>Replaces (or appends) the marked section in RESULTS.md, if that file exists.</summary>
    public static void UpdateMainReport(string resultsPath, string report) => Results.UpdateMainReport(resultsPath, report);

    /// <summary>For <see cref="ResultsReport"/>: the marked section from bench/RESULTS-soak.md, or nothing if there is none.</summary>
    public static string SectionFromFile() => Results.SectionFromFile();
}
