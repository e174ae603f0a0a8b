using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Harness;
using Orleans.Search.Jobs;

namespace Orleans.Search.Bench.Research;

/// <summary>
/// <c>--research</c>: one research job (an LLM expands the question into 3 more queries, 4 queries × 2 pages are searched,
/// an LLM streams the answer) through the gateway as a real process, on fakes with realistic latencies: the LLM's first
/// token after 400 ms and 50 tokens a second after it, every search page after 300 ms. Reports the makespan against the
/// critical path (expansion call, then the slowest query's pages, then the answer), the time to the first
/// <c>answer.delta</c>, and the orchestration overhead. Writes bench/RESULTS-research.md and its marked copy in RESULTS.md.
/// </summary>
public static class ResearchBench
{
    public const string FileName = "RESULTS-research.md";
    public static readonly MarkedSection Results = new(FileName,
        "<!-- research-results:begin (written by --research from RESULTS-research.md; a full run keeps it) -->",
        "<!-- research-results:end -->");
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private const string ApiKey = "bench-research-key-0123456789abcdef";
    private const int SubQueries = 3, Pages = 2;

    public static async Task<int> MainAsync(string[] args)
    {
        var repeat = Arg(args, "--repeat", 3);
        var ttftMs = Arg(args, "--ttft-ms", 400);
        var tokensPerSecond = Arg(args, "--tokens-per-second", 50);
        var searchMs = Arg(args, "--search-ms", 300);
        var root = Postgres.PostgresRun.RepositoryRoot();
        var start = MachineInfo.Capture();
        var build = SourceRevision.Capture(root).Describe();
        var answer = AnswerText();

        var work = Path.Combine(Path.GetTempPath(), $"orleans-search-research-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        await using var searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(searchMs), ArrivalLogLimit = 10_000 });
        await using var llm = await FakeOpenAi.StartAsync(new FakeOpenAiOptions
        {
            Reply = r => r.ResponseFormat is not null ? FakeOpenAiReply.Of(ExpansionText()) : FakeOpenAiReply.Of(answer),
        });
        llm.Options.TimeToFirstToken = TimeSpan.FromMilliseconds(ttftMs);
        llm.Options.TokensPerSecond = tokensPerSecond;
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = $"Data Source={Path.Combine(work, "orleans-search.db")}",
            ["Auth:Mode"] = "keys",
            ["Auth:Keys:0:Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey))),
            ["Auth:Keys:0:User"] = "bench",
            ["Auth:Keys:0:Role"] = "user",
            ["Net:AllowListOnly"] = "true",
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = searxng.BaseUrl.ToString(),
            // The providers' limits are not under test: they stay out of the way.
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "200",
            ["Search:Providers:web:MaxConcurrency"] = "100",
            ["Llm:DefaultProvider"] = "bench",
            ["Llm:Providers:bench:BaseUrl"] = llm.ApiBaseUrl.ToString(),
            ["Llm:Providers:bench:Model"] = "bench-model",
        };
        var gateway = await BenchChildren.StartGatewayAsync(work, settings);
        try
        {
            using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
            var model = new CriticalPath(
                Expand: Call(ttftMs, FakeOpenAi.CountTokens(ExpansionText()), tokensPerSecond),
                Search: TimeSpan.FromMilliseconds(searchMs),
                Answer: Call(ttftMs, FakeOpenAi.CountTokens(answer), tokensPerSecond));
            Console.WriteLine("warm-up job (not reported)…");
            await RunAsync(http, searxng, llm, "warm-up");
            var runs = new List<Run>();
            for (var r = 0; r < repeat; r++)
            {
                var run = await RunAsync(http, searxng, llm, $"round {r + 1}");
                runs.Add(run);
                Console.WriteLine(string.Create(Inv,
                    $"round {r + 1}: makespan {run.Makespan.TotalMilliseconds:0} ms, critical path {model.Total.TotalMilliseconds:0} ms, first answer.delta at {run.FirstDelta.TotalMilliseconds:0} ms"));
            }
            var report = Render(start, MachineInfo.Capture(), build, ttftMs, tokensPerSecond, searchMs, model, runs);
            await File.WriteAllTextAsync(Path.Combine(root, "bench", FileName), report);
            Results.UpdateMainReport(Path.Combine(root, "bench", "RESULTS.md"), report);
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            await gateway.DisposeAsync();
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>An LLM call as the fake times it: the first token after the TTFT, each further one 1/rate later.</summary>
    private static TimeSpan Call(int ttftMs, int tokens, int tokensPerSecond) =>
        TimeSpan.FromMilliseconds(ttftMs + Math.Max(0, tokens - 1) * 1000.0 / tokensPerSecond);

    /// <summary>The phases of the critical path as the fakes impose them (pages of one query are fetched at once).</summary>
    private sealed record CriticalPath(TimeSpan Expand, TimeSpan Search, TimeSpan Answer)
    {
        public TimeSpan Total => Expand + Search + Answer;
    }

    /// <summary>
    /// One job, timed from the client: the POST's start, the first <c>answer.delta</c> and the <c>completed</c> event as
    /// the SSE stream delivered them; and from the fakes: when each call arrived, so the gaps between the phases show.
    /// </summary>
    private sealed record Run(TimeSpan Makespan, TimeSpan FirstDelta, TimeSpan ToExpand, TimeSpan ExpandToSearch, TimeSpan SearchToAnswer,
        TimeSpan AnswerToFirstDelta, TimeSpan AnswerToCompleted, int Queries, int PagesFetched, int Deltas, TimeSpan ExpandTook, TimeSpan AnswerTook)
    {
        /// <summary>The critical path as the fakes actually delivered it this time (their own delays run late on a busy machine).</summary>
        public TimeSpan Delivered(TimeSpan search) => ExpandTook + search + AnswerTook;
    }

    private static async Task<Run> RunAsync(HttpClient http, FakeSearxng searxng, FakeOpenAi llm, string label)
    {
        var marker = $"research-bench-{Guid.NewGuid():N}";
        var question = $"{marker} how do Orleans grains keep their state consistent";
        var clock = Stopwatch.StartNew();
        var posted = DateTimeOffset.UtcNow;
        using var created = await http.PostAsJsonAsync("/api/search-jobs", new { query = question, expand = SubQueries, pages = Pages, answer = true, cache = false });
        if (!created.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{label}: create answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        }
        var jobId = (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;
        TimeSpan? firstDelta = null, completed = null;
        var deltas = 0;
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{jobId}/events"))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            request.Headers.Add("Last-Event-ID", "0");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? type = null;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.Length == 0 && type is not null)
                {
                    if (type == JobEventTypes.AnswerDelta)
                    {
                        deltas++;
                        firstDelta ??= clock.Elapsed;
                    }
                    if (JobEventTypes.IsTerminal(type))
                    {
                        completed = clock.Elapsed;
                        if (type != JobEventTypes.Completed)
                        {
                            throw new InvalidOperationException($"{label}: the job ended {type}");
                        }
                        break;
                    }
                    type = null;
                }
            }
        }
        if (completed is null || firstDelta is null)
        {
            throw new InvalidOperationException($"{label}: the event stream ended without {(completed is null ? "the completed event" : "an answer.delta")}");
        }
        var status = await http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json);
        var queries = status!.Queries.Select(q => q.Query).ToHashSet(StringComparer.Ordinal);
        var calls = llm.RequestsSnapshot().Where(r => r.Messages.Any(m => m.Content.Contains(marker, StringComparison.Ordinal))).OrderBy(r => r.Index).ToList();
        var pages = searxng.ArrivalsSnapshot().Where(a => a.ArrivedAt >= posted && a.Query is { } q && queries.Contains(q)).OrderBy(a => a.ArrivedAt).ToList();
        if (calls.Count != 2 || queries.Count != 1 + SubQueries || pages.Count != queries.Count * Pages)
        {
            throw new InvalidOperationException($"{label}: {calls.Count} LLM calls, {queries.Count} queries, {pages.Count} page requests; expected 2, {1 + SubQueries}, {(1 + SubQueries) * Pages}");
        }
        var (expandAt, answerAt) = (calls[0].ArrivedAt - posted, calls[1].ArrivedAt - posted);
        var (firstPageAt, lastPageAt) = (pages[0].ArrivedAt - posted, pages[^1].ArrivedAt - posted);
        var bills = llm.BillsSnapshot();
        TimeSpan Took(FakeOpenAiRequest call) => bills.Single(b => b.Index == call.Index).EndedAt - call.ArrivedAt;
        return new Run(completed.Value, firstDelta.Value, expandAt, firstPageAt - expandAt, answerAt - lastPageAt, firstDelta.Value - answerAt,
            completed.Value - answerAt, queries.Count, pages.Count, deltas, Took(calls[0]), Took(calls[1]));
    }

    /// <summary>The same sub-queries every time: the jobs ask for no cache, so each one searches them again.</summary>
    private static string ExpansionText() =>
        JsonSerializer.Serialize(new { queries = new[] { "orleans grain state persistence", "orleans grain activation consistency", "virtual actor single activation guarantee" } });

    /// <summary>About 300 tokens of markdown with citations, the length of a short cited answer.</summary>
    private static string AnswerText()
    {
        var text = new StringBuilder("## How grains stay consistent\n\n");
        for (var i = 1; i <= 6; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"Point {i}: a grain has at most one activation in the cluster at a time, so calls to it are processed one after another [{i}]. ")
                .Append("Its state is read when it activates and written back by the grain when it decides, with an ETag that rejects a stale write.\n\n");
        }
        return text.ToString();
    }

    private static string Render(MachineInfo start, MachineInfo end, string build, int ttftMs, int tokensPerSecond, int searchMs, CriticalPath model, List<Run> runs)
    {
        var md = new StringBuilder();
        void L(string line = "") => md.Append(line).Append('\n');
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            return sorted[sorted.Count / 2];
        }
        string Ms(Func<Run, TimeSpan> pick) => string.Create(Inv,
            $"{Median(runs.Select(r => pick(r).TotalMilliseconds)):0} ms ({runs.Min(r => pick(r).TotalMilliseconds):0}–{runs.Max(r => pick(r).TotalMilliseconds):0})");
        var critical = model.Total.TotalMilliseconds;
        var overheads = runs.Select(r => r.Makespan.TotalMilliseconds - critical).ToList();
        var medianOverhead = Median(overheads);
        var deliveredOverheads = runs.Select(r => (r.Makespan - r.Delivered(model.Search)).TotalMilliseconds).ToList();
        var deliveredShares = runs.Select(r => 100 * (r.Makespan - r.Delivered(model.Search)).TotalMilliseconds / r.Delivered(model.Search).TotalMilliseconds).ToList();
        L("# Orleans.Search research job");
        L();
        L(string.Create(Inv, $"Run {start.At:yyyy-MM-dd HH:mm} UTC. Produced by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --research --repeat {runs.Count}`; see [README.md](README.md). Built from {build}."));
        L($"Machine: {start.Summary}; load average at start {start.LoadAverage}, at end {end.LoadAverage}.");
        L();
        L(string.Create(Inv, $"One job through the gateway as a real process (embedded silo, SQLite file): `{{\"query\": …, \"expand\": {SubQueries}, \"pages\": {Pages}, \"answer\": true, \"cache\": false}}`, so an LLM expands the question into {SubQueries} more queries, {1 + SubQueries} queries × {Pages} pages are searched, and an LLM streams a cited answer. Fakes on loopback: the OpenAI-compatible fake sends its first token {ttftMs} ms after the response headers and then {tokensPerSecond} tokens a second; the SearXNG fake answers every page after {searchMs} ms. The client times the POST to the first `answer.delta` and to the `completed` event on the job's SSE stream. One warm-up job, then {runs.Count} reported jobs, median (min–max)."));
        L();
        L(string.Create(Inv, $"Critical path, as the fakes impose it: the expansion call ({model.Expand.TotalMilliseconds:0} ms: {ttftMs} ms to the first token, then its {FakeOpenAi.CountTokens(ExpansionText())} tokens), then the slowest query's pages ({model.Search.TotalMilliseconds:0} ms: the {Pages} pages of a query are fetched at once), then the answer ({model.Answer.TotalMilliseconds:0} ms: {ttftMs} ms, then its {FakeOpenAi.CountTokens(AnswerText())} tokens) = **{critical:0} ms**."));
        L();
        L("| | median (min–max) |");
        L("| --- | --- |");
        L($"| makespan (POST → `completed` on the stream) | **{Ms(r => r.Makespan)}** |");
        L(string.Create(Inv, $"| critical path | {critical:0} ms |"));
        L(string.Create(Inv, $"| orchestration overhead (makespan − critical path) | **{medianOverhead:0} ms = {100 * medianOverhead / critical:0.0} %** ({overheads.Min():0}–{overheads.Max():0} ms; target under 5 % = {critical * 0.05:0} ms) |"));
        L($"| critical path as the fakes delivered it (their calls timed at the fake, from arrival to last byte; the search part as above) | {Ms(r => r.Delivered(model.Search))} |");
        L(string.Create(Inv, $"| overhead on the delivered critical path | **{Median(deliveredOverheads):0} ms = {Median(deliveredShares):0.0} %** ({deliveredOverheads.Min():0}–{deliveredOverheads.Max():0} ms) |"));
        L($"| time to the first `answer.delta` (from the POST) | **{Ms(r => r.FirstDelta)}** |");
        L(string.Create(Inv, $"| … of which after the answer call reached the LLM (its time to first token is {ttftMs} ms) | {Ms(r => r.AnswerToFirstDelta)} |"));
        L();
        L("Where the overhead goes (from the fakes' arrival logs; each gap is time spent in the service between two phases):");
        L();
        L("| gap | median (min–max) |");
        L("| --- | --- |");
        L($"| POST → the expansion call arrives at the LLM | {Ms(r => r.ToExpand)} |");
        L(string.Create(Inv, $"| expansion call arrives → the first page request arrives (the call itself takes {model.Expand.TotalMilliseconds:0} ms) | {Ms(r => r.ExpandToSearch)} |"));
        L(string.Create(Inv, $"| last page request arrives → the answer call arrives (the pages take {model.Search.TotalMilliseconds:0} ms) | {Ms(r => r.SearchToAnswer)} |"));
        L(string.Create(Inv, $"| answer call arrives → `completed` reaches the client (the call takes {model.Answer.TotalMilliseconds:0} ms) | {Ms(r => r.AnswerToCompleted)} |"));
        L();
        L("| job | makespan | overhead | expansion call at the fake | answer call at the fake | overhead on the delivered path | first `answer.delta` | queries | page requests | `answer.delta` events |");
        L("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (var i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            L(string.Create(Inv, $"| {i + 1} | {r.Makespan.TotalMilliseconds:0} ms | {r.Makespan.TotalMilliseconds - critical:0} ms ({100 * (r.Makespan.TotalMilliseconds - critical) / critical:0.0} %) | {r.ExpandTook.TotalMilliseconds:0} ms (model {model.Expand.TotalMilliseconds:0}) | {r.AnswerTook.TotalMilliseconds:0} ms (model {model.Answer.TotalMilliseconds:0}) | {deliveredOverheads[i]:0} ms ({deliveredShares[i]:0.0} %) | {r.FirstDelta.TotalMilliseconds:0} ms | {r.Queries} | {r.PagesFetched} | {r.Deltas} |"));
        }
        L();
        L("On a busy machine the fakes' own delays (one timer per streamed token) run late, and that lateness is not the service's: the overhead on the delivered critical path separates the two. The target (under 5 %) is for a quiet machine.");
        L();
        L("What the overhead holds: the job's durable steps (its row is written before the expansion call and after each stage; each page is checkpointed by its query before the job counts it), grain calls between the job, its queries and the limiters, the first-token wait of a streamed HTTP response, and SSE delivery to the client. Each stage starts the moment the previous one is durable: nothing polls.");
        return md.ToString();
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, Inv, out var v) ? v : fallback;
    }
}
