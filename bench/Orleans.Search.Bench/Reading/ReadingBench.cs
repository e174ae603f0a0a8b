using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;
using Orleans.Search.Reading;

namespace Orleans.Search.Bench.Reading;

/// <summary>
/// <c>--reading</c>: the <c>direct</c> page reader reading 100 pages spread over 20 loopback hosts (fake sites on
/// distinct ports, each answering after L), against the politeness bound max over hosts of ceil(pages / per-host
/// concurrency) × L; and the extraction time per page. Writes bench/RESULTS-reading.md and its marked copy in RESULTS.md.
/// </summary>
public static class ReadingBench
{
    public const string FileName = "RESULTS-reading.md";
    public static readonly MarkedSection Results = new(FileName,
        "<!-- reading-results:begin (written by --reading from RESULTS-reading.md; a full run keeps it) -->",
        "<!-- reading-results:end -->");
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> MainAsync(string[] args)
    {
        var hosts = Arg(args, "--hosts", 20);
        var pages = Arg(args, "--pages", 100);
        var latencyMs = Arg(args, "--latency-ms", 300);
        var perHost = Arg(args, "--per-host", 2);
        var repeat = Arg(args, "--repeat", 3);
        var root = Postgres.PostgresRun.RepositoryRoot();
        var start = MachineInfo.Capture();
        var build = SourceRevision.Capture(root).Describe();
        var html = BenchPage();

        var sites = await Task.WhenAll(Enumerable.Range(0, hosts).Select(_ => FakeSite.StartAsync()));
        try
        {
            foreach (var site in sites)
            {
                site.Latency = TimeSpan.FromMilliseconds(latencyMs);
                for (var i = 0; i < pages; i++)
                {
                    site.Serve($"/p{i}", FakeSitePage.Html(html));
                }
            }
            var urls = Enumerable.Range(0, pages).Select(i => sites[i % hosts].Url($"/p{i}")).ToList();
            var perHostPages = Enumerable.Range(0, hosts).Select(h => urls.Count(u => u.StartsWith(sites[h].BaseUrl.AbsoluteUri, StringComparison.Ordinal))).ToList();
            var bound = TimeSpan.FromMilliseconds(perHostPages.Max(n => Math.Ceiling(n / (double)perHost)) * latencyMs);
            var maxConcurrency = hosts * perHost;

            var runs = new List<RunResult>();
            for (var r = 0; r < repeat; r++)
            {
                // Fresh services each round: robots.txt is fetched again (cold), then the same pages read again (warm).
                await using var services = Services(maxConcurrency, perHost);
                var reader = services.GetRequiredService<DirectPageReader>() as IPageReader;
                await reader.ReadAsync(sites[0].Url("/p0"), CancellationToken.None); // warm-up: JIT, and host 0's robots.txt
                var cold = await TimeAsync(reader, urls, sites);
                var warm = await TimeAsync(reader, urls, sites);
                runs.Add(new RunResult(cold.Makespan, warm.Makespan, cold.Reads, Math.Max(cold.MaxInFlight, warm.MaxInFlight)));
                Console.WriteLine(string.Create(Inv, $"round {r + 1}: cold {cold.Makespan.TotalMilliseconds:0} ms, warm {warm.Makespan.TotalMilliseconds:0} ms, max in flight per host {Math.Max(cold.MaxInFlight, warm.MaxInFlight)}"));
            }

            var extraction = MeasureExtraction(html);
            var report = Render(start, MachineInfo.Capture(), build, hosts, pages, latencyMs, perHost, maxConcurrency, bound, runs, extraction, html);
            var path = Path.Combine(root, "bench", FileName);
            await File.WriteAllTextAsync(path, report);
            Results.UpdateMainReport(Path.Combine(root, "bench", "RESULTS.md"), report);
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            foreach (var site in sites)
            {
                await site.DisposeAsync();
            }
        }
    }

    private static ServiceProvider Services(int maxConcurrency, int perHost)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Net:AllowHosts:0"] = "127.0.0.1",
            ["Read:MaxConcurrency"] = maxConcurrency.ToString(Inv),
            ["Read:PerHostConcurrency"] = perHost.ToString(Inv),
        }).Build();
        return new ServiceCollection().AddLogging().AddPageReading(configuration).BuildServiceProvider();
    }

    private static async Task<(TimeSpan Makespan, int Reads, int MaxInFlight)> TimeAsync(IPageReader reader, List<string> urls, FakeSite[] sites)
    {
        var watch = Stopwatch.StartNew();
        var reads = await Task.WhenAll(urls.Select(u => reader.ReadAsync(u, CancellationToken.None)));
        var makespan = watch.Elapsed;
        var ok = reads.Count(r => r.Status == PageReadStatuses.Read);
        if (ok != urls.Count)
        {
            throw new InvalidOperationException($"only {ok} of {urls.Count} pages were read: {reads.First(r => r.Status != PageReadStatuses.Read)}");
        }
        return (makespan, ok, sites.Max(s => s.MaxInFlight));
    }

    private sealed record RunResult(TimeSpan Cold, TimeSpan Warm, int Reads, int MaxInFlightPerHost);

    private sealed record Extraction(int Runs, double MeanMs, double P50Ms, double P95Ms, int TextLength);

    private static Extraction MeasureExtraction(string html)
    {
        var url = new Uri("http://127.0.0.1/page");
        for (var i = 0; i < 20; i++)
        {
            PageExtraction.FromHtml(html, url, markdown: true);
        }
        var times = new List<double>();
        var length = 0;
        for (var i = 0; i < 200; i++)
        {
            var watch = Stopwatch.StartNew();
            length = PageExtraction.FromHtml(html, url, markdown: true).Text.Length;
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return new Extraction(times.Count, times.Average(), times[times.Count / 2], times[(int)(times.Count * 0.95)], length);
    }

    private static string Render(MachineInfo start, MachineInfo end, string build, int hosts, int pages, int latencyMs, int perHost, int maxConcurrency,
        TimeSpan bound, List<RunResult> runs, Extraction x, string html)
    {
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');
        static string Med(IEnumerable<TimeSpan> values)
        {
            var ms = values.Select(v => v.TotalMilliseconds).Order().ToList();
            return string.Create(Inv, $"**{ms[ms.Count / 2]:0} ms** ({ms[0]:0}–{ms[^1]:0})");
        }
        var coldMedian = runs.Select(r => r.Cold.TotalMilliseconds).Order().ToList()[runs.Count / 2];
        var warmMedian = runs.Select(r => r.Warm.TotalMilliseconds).Order().ToList()[runs.Count / 2];
        L("# Orleans.Search page reading");
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --reading`; see [README.md](README.md). Built from {build}."));
        L($"Machine: {start.Summary}; load average at end {end.LoadAverage}.");
        L();
        L(string.Create(Inv, $"The `direct` reader (outbound guard, robots.txt, per-host slots, charset, SmartReader extraction, markdown) reads {pages} pages spread evenly over {hosts} loopback fake sites (each its own port, so its own host), every response after L = {latencyMs} ms, `Read:PerHostConcurrency` = {perHost}, `Read:MaxConcurrency` = {maxConcurrency} (hosts × per-host, so only politeness limits). Each page is the same {Encoding.UTF8.GetByteCount(html) / 1024.0:0.#} KB article buried in navigation. All {pages} reads start at once; the makespan is until the last one returns. {runs.Count} rounds, median (min–max)."));
        L();
        L(string.Create(Inv, $"Bound: max over hosts of ceil(pages on the host / {perHost}) × L = **{bound.TotalMilliseconds:0} ms**. A cold round also fetches each host's robots.txt first (one more L before the host's first page: bound + L = {bound.TotalMilliseconds + latencyMs:0} ms); a warm round finds it cached."));
        L();
        L("| round | makespan | bound | overhead over the bound | max requests in flight at one host |");
        L("| --- | --- | --- | --- | --- |");
        L(string.Create(Inv, $"| cold (robots.txt fetched) | {Med(runs.Select(r => r.Cold))} | {bound.TotalMilliseconds + latencyMs:0} ms | {coldMedian - bound.TotalMilliseconds - latencyMs:0} ms | {runs.Max(r => r.MaxInFlightPerHost)} |"));
        L(string.Create(Inv, $"| warm (robots.txt cached) | {Med(runs.Select(r => r.Warm))} | {bound.TotalMilliseconds:0} ms | {warmMedian - bound.TotalMilliseconds:0} ms | {runs.Max(r => r.MaxInFlightPerHost)} |"));
        L();
        L(string.Create(Inv, $"Extraction per page (decode excluded; parse, SmartReader, markdown walk) on this page, {x.Runs} runs after 20 warm-up: mean **{x.MeanMs:0.00} ms**, p50 {x.P50Ms:0.00} ms, p95 {x.P95Ms:0.00} ms; {x.TextLength} characters of markdown out of {html.Length} of HTML."));
        L();
        L(string.Create(Inv, $"What the overhead is: mostly extraction CPU. {pages} pages × {x.MeanMs:0} ms = {pages * x.MeanMs / 1000:0.0} s of CPU, {pages * x.MeanMs / 1000 / start.Cores:0.0} s on {start.Cores} cores if the reader had them to itself; with a load average of {start.LoadAverage} at the start it had a fraction of them. The rest: connection set-up to each host and the scheduling of {pages} concurrent reads. The politeness part holds (never more than {perHost} requests at one host); the makespan minus the extraction CPU is what to compare with the bound on a busy machine, and on a quiet one with several cores the bound plus {x.MeanMs:0} ms × pages / cores."));
        return md.ToString();
    }

    private static string BenchPage()
    {
        var paragraphs = string.Concat(Enumerable.Range(1, 24).Select(i =>
            $"<p>Paragraph {i} of the article: grains keep their state in a storage provider, and a silo that dies leaves the state where it was written, so the next activation on another silo reads it and carries on. This sentence pads the paragraph to a realistic length, with a <a href=\"/ref{i}\">link</a> and some <code>code</code>.</p>"
            + (i % 6 == 0 ? $"<h2>Section {i / 6}</h2><ul><li>point one</li><li>point two</li><li>point three</li></ul>" : "")));
        var nav = string.Concat(Enumerable.Range(1, 60).Select(i => $"<li><a href=\"/n{i}\">Navigation link {i}</a></li>"));
        return $"<!doctype html><html><head><meta charset=\"utf-8\"><title>Bench article</title><script>var x = 1;</script><style>body{{margin:0}}</style></head><body>"
            + $"<header><nav><ul>{nav}</ul></nav></header><div class=\"layout\"><aside class=\"sidebar\"><ul>{nav}</ul></aside>"
            + $"<main><article><h1>Bench article</h1>{paragraphs}</article></main></div><footer><p>Footer text</p></footer></body></html>";
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, Inv, out var v) ? v : fallback;
    }
}
