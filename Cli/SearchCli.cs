using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Search.Client;
using Orleans.Search.Jobs;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Orleans.Search.Cli;

/// <summary>Exit codes of <c>orleans-search</c>.</summary>
public static class ExitCodes
{
    /// <summary>Done; a followed or shown job completed.</summary>
    public const int Ok = 0;

    /// <summary>The followed or shown job ended <c>failed</c> or <c>cancelled</c>.</summary>
    public const int JobNotCompleted = 1;

    /// <summary>The command line is wrong (unknown command or option, a missing or malformed value).</summary>
    public const int Usage = 2;

    /// <summary>The API answered an error (a problem: not found, refused key, invalid spec, rate limited) or could not be reached.</summary>
    public const int ApiError = 3;
}

/// <summary>The <c>orleans-search</c> command-line tool: search, jobs, show, cancel, delete.</summary>
public static class SearchCli
{
    public const string ApiKeyVariable = "ORLEANS_SEARCH_API_KEY";
    public const string UrlVariable = "ORLEANS_SEARCH_URL";
    public const string DefaultUrl = "http://localhost:5080";

    private static readonly JsonSerializerOptions PrintJson = new(SearchJobsClient.Json) { WriteIndented = true };

    private static readonly HashSet<string> Flags = ["--json", "--follow", "--all", "--no-cache", "--help"];
    private static readonly HashSet<string> ValueOptions = ["--url", "--mode", "--pages", "--provider", "--status", "--limit", "--idempotency-key"];

    public const string Usage = """
        Usage: orleans-search <command> [options]

        Commands:
          search "question" [--mode M] [--pages N] [--provider P] [--no-cache] [--idempotency-key K] [--follow]
                              create a job; with --follow show its progress, then the answer and the results
          jobs [--status S] [--limit N] [--all]
                              your jobs, newest first (--all follows every page)
          show <id>           a job's status, answer and results
          cancel <id>         cancel a running job, keeping the results so far
          delete <id>         erase a job and everything stored for it (a running one is cancelled first)

        Options:
          --json              machine-readable JSON on stdout, no colours or progress (search --follow --json prints
                              the finished job)
          --url URL           the gateway (default: $ORLEANS_SEARCH_URL, else http://localhost:5080)
          -h, --help          this text

        The API key is read from $ORLEANS_SEARCH_API_KEY.
        Exit codes: 0 ok; 1 the job failed or was cancelled; 2 usage error; 3 API error or gateway unreachable.
        """;

    /// <summary>Runs one command line and returns its exit code; output goes to <paramref name="stdout"/>, errors to <paramref name="stderr"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment,
        CancellationToken cancellationToken = default)
    {
        CommandLine line;
        try
        {
            line = CommandLine.Parse(args, ValueOptions, Flags);
        }
        catch (UsageException ex)
        {
            return UsageError(stderr, ex.Message);
        }
        if (line.Has("--help") || line.Command is null or "help")
        {
            (line.Command is null && !line.Has("--help") ? stderr : stdout).WriteLine(Usage);
            return line.Command is null && !line.Has("--help") ? ExitCodes.Usage : ExitCodes.Ok;
        }

        var json = line.Has("--json");
        try
        {
            var url = line.Value("--url") ?? environment(UrlVariable) ?? DefaultUrl;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
            {
                throw new UsageException($"'{url}' is not an http or https address.");
            }
            using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(100) };
            var client = new SearchJobsClient(http, new SearchClientOptions { BaseAddress = baseAddress, ApiKey = environment(ApiKeyVariable) });
            var output = new Output(stdout, json);
            return line.Command switch
            {
                "search" => await SearchAsync(client, line, output, cancellationToken),
                "jobs" => await JobsAsync(client, line, output, cancellationToken),
                "show" => await ShowAsync(client, line, output, cancellationToken),
                "cancel" => await CancelAsync(client, line, output, cancellationToken),
                "delete" => await DeleteAsync(client, line, output, cancellationToken),
                _ => throw new UsageException($"Unknown command '{line.Command}'."),
            };
        }
        catch (UsageException ex)
        {
            return UsageError(stderr, ex.Message);
        }
        catch (SearchApiException ex)
        {
            if (json)
            {
                stderr.WriteLine(ex.Body is { Length: > 0 } body && body.TrimStart().StartsWith('{')
                    ? body
                    : JsonSerializer.Serialize(new { status = (int)ex.Status, title = ex.Title, detail = ex.Detail }, SearchJobsClient.Json));
            }
            else
            {
                stderr.WriteLine($"Error: {ex.Message}");
                foreach (var (field, messages) in ex.Errors)
                {
                    stderr.WriteLine($"  {field}: {string.Join(" ", messages)}");
                }
                if (ex.RetryAfter is { } retryAfter)
                {
                    stderr.WriteLine($"  Retry after {Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s.");
                }
            }
            return ExitCodes.ApiError;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine(json
                ? JsonSerializer.Serialize(new { status = 0, title = "Gateway unreachable", detail = ex.Message }, SearchJobsClient.Json)
                : $"Error: the gateway could not be reached: {ex.Message}");
            return ExitCodes.ApiError;
        }
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"orleans-search: {message}");
        stderr.WriteLine("Run 'orleans-search --help' for usage.");
        return ExitCodes.Usage;
    }

    private static async Task<int> SearchAsync(SearchJobsClient client, CommandLine line, Output output, CancellationToken cancellationToken)
    {
        line.Expect(1, "one question (quote it)");
        var spec = new JsonObject { ["query"] = line.Arguments[0] };
        if (line.Value("--mode") is { } mode)
        {
            spec["mode"] = mode;
        }
        if (line.Int("--pages", 1, 10) is { } pages)
        {
            spec["pages"] = pages;
        }
        if (line.Value("--provider") is { } provider)
        {
            spec["provider"] = provider;
        }
        if (line.Has("--no-cache"))
        {
            spec["cache"] = false;
        }
        var created = await client.CreateAsync(spec, line.Value("--idempotency-key"), cancellationToken);
        if (!line.Has("--follow"))
        {
            if (output.Json)
            {
                output.WriteJson(created);
            }
            else
            {
                output.Console.MarkupLineInterpolated($"Created job [bold]{created.JobId}[/] ({created.Status}): {created.Message ?? ""}");
                output.Console.MarkupLineInterpolated($"Follow it with: orleans-search show {created.JobId}");
            }
            return ExitCodes.Ok;
        }

        if (output.Json)
        {
            await foreach (var _ in client.FollowAsync(created.JobId, cancellationToken: cancellationToken))
            {
            }
        }
        else
        {
            output.Console.MarkupLineInterpolated($"Job [bold]{created.JobId}[/]");
            await output.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    var bar = progress.AddTask(Step(created.Message ?? "Starting"), maxValue: 100);
                    await foreach (var e in client.FollowAsync(created.JobId, cancellationToken: cancellationToken))
                    {
                        bar.Value = e.Progress;
                        bar.Description = Step(e.Message ?? e.Type);
                    }
                    bar.StopTask();
                });
        }
        return await ShowStatusAsync(client, created.JobId, output, cancellationToken);
    }

    private static Task<int> ShowAsync(SearchJobsClient client, CommandLine line, Output output, CancellationToken cancellationToken)
    {
        line.Expect(1, "a job id");
        return ShowStatusAsync(client, line.Arguments[0], output, cancellationToken);
    }

    private static async Task<int> ShowStatusAsync(SearchJobsClient client, string jobId, Output output, CancellationToken cancellationToken)
    {
        var raw = await client.GetJsonAsync(jobId, cancellationToken);
        var status = raw.Deserialize<JobStatus>(SearchJobsClient.Json)!;
        if (output.Json)
        {
            output.WriteJson(raw);
        }
        else
        {
            WriteStatus(output.Console, status, raw);
        }
        return status.Status == JobStates.Completed || !JobStates.IsTerminal(status.Status) ? ExitCodes.Ok : ExitCodes.JobNotCompleted;
    }

    private static async Task<int> JobsAsync(SearchJobsClient client, CommandLine line, Output output, CancellationToken cancellationToken)
    {
        line.Expect(0, "options");
        var status = line.Value("--status");
        var limit = line.Int("--limit", 1, 100);
        JobList list;
        if (line.Has("--all"))
        {
            var all = new List<JobSummary>();
            await foreach (var job in client.ListAllAsync(status, limit ?? 100, cancellationToken))
            {
                all.Add(job);
            }
            list = new JobList { Items = all };
        }
        else
        {
            list = await client.ListAsync(status, limit, cancellationToken: cancellationToken);
        }
        if (output.Json)
        {
            output.WriteJson(list);
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("Job", "Status", "Created", "Queries", "Title");
        foreach (var job in list.Items)
        {
            table.AddRow(Plain(job.JobId), Plain(job.Status), Plain(job.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
                Plain(job.QueryCount.ToString(CultureInfo.InvariantCulture)), Plain(job.Title));
        }
        output.Console.Write(table);
        if (list.NextCursor is not null)
        {
            output.Console.MarkupLine("[grey]More jobs: add --all, or page with the API's cursor.[/]");
        }
        return ExitCodes.Ok;
    }

    private static async Task<int> CancelAsync(SearchJobsClient client, CommandLine line, Output output, CancellationToken cancellationToken)
    {
        line.Expect(1, "a job id");
        var status = await client.CancelAsync(line.Arguments[0], cancellationToken);
        if (output.Json)
        {
            output.WriteJson(status);
        }
        else
        {
            output.Console.MarkupLineInterpolated($"Cancelled job [bold]{status.JobId}[/]; {status.Stats.TotalResults} results kept.");
        }
        return ExitCodes.Ok;
    }

    private static async Task<int> DeleteAsync(SearchJobsClient client, CommandLine line, Output output, CancellationToken cancellationToken)
    {
        line.Expect(1, "a job id");
        var jobId = line.Arguments[0];
        await client.DeleteAsync(jobId, cancellationToken);
        if (output.Json)
        {
            output.WriteJson(new { jobId, deleted = true });
        }
        else
        {
            output.Console.MarkupLineInterpolated($"Deleted job [bold]{jobId}[/].");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The current step as a bar's label: one line, markup escaped, short enough to leave the bar room.</summary>
    private static string Step(string text)
    {
        var single = text.ReplaceLineEndings(" ");
        return Markup.Escape(single.Length <= 60 ? single : single[..59] + "…");
    }

    /// <summary>Text from the server is shown as text, never read as markup (a result title may hold anything).</summary>
    private static Text Plain(string? text) => new(text ?? "");

    private static void WriteStatus(IAnsiConsole console, JobStatus status, JsonObject raw)
    {
        var colour = status.Status switch
        {
            JobStates.Completed => "green",
            JobStates.Failed => "red",
            JobStates.Cancelled => "yellow",
            _ => "blue",
        };
        console.MarkupLineInterpolated($"[bold]{status.JobId}[/]  [{colour}]{status.Status}[/]  {status.Progress.ToString("0.#", CultureInfo.InvariantCulture)}%  {status.Message ?? ""}");
        var stats = status.Stats;
        console.MarkupLineInterpolated($"[grey]{stats.TotalResults} results · {stats.ApiCalls} provider calls · {stats.CacheHits} cache hits · {stats.Retries} retries · {stats.Errors} errors[/]");
        if (status.Error is { } error)
        {
            console.MarkupLineInterpolated($"[red]{error}[/]");
        }

        if (raw["answer"] is JsonValue answerValue && answerValue.TryGetValue<string>(out var answer) && answer.Length > 0)
        {
            console.Write(new Panel(new Text(answer)).Header("Answer").Expand());
            if (raw["citations"] is JsonArray citations && citations.Count > 0)
            {
                var cited = new Table().AddColumns("#", "Title", "URL");
                foreach (var citation in citations.OfType<JsonObject>())
                {
                    cited.AddRow(Plain(citation["n"]?.ToString()), Plain(citation["title"]?.ToString()), Plain(citation["url"]?.ToString()));
                }
                console.Write(cited);
            }
        }

        if (status.Queries.Count > 1)
        {
            var queries = new Table().AddColumns("Query", "Status", "Pages", "Results", "Error");
            foreach (var q in status.Queries)
            {
                queries.AddRow(Plain(q.Query), Plain(q.Status), Plain($"{q.PagesDone}/{q.PagesTotal}"),
                    Plain(q.ResultCount.ToString(CultureInfo.InvariantCulture)), Plain(q.Error));
            }
            console.Write(queries);
        }

        if (status.Results.Count > 0)
        {
            var results = new Table().Title("Results").AddColumns("#", "Title", "URL", "Page");
            foreach (var (result, i) in status.Results.Select((r, i) => (r, i)))
            {
                results.AddRow(Plain((i + 1).ToString(CultureInfo.InvariantCulture)), Plain(result.Title), Plain(result.Url),
                    Plain(result.Page.ToString(CultureInfo.InvariantCulture)));
            }
            console.Write(results);
        }
    }

    /// <summary>Where a command writes: JSON as is, or a console for people (colours only where the terminal has them).</summary>
    private sealed class Output(TextWriter stdout, bool json)
    {
        private IAnsiConsole? _console;

        public bool Json { get; } = json;

        public IAnsiConsole Console => _console ??= AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });

        public void WriteJson<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, PrintJson));
    }
}
