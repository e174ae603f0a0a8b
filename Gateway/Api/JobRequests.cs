using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans.Search.Gateway.FrontDoor;
using Orleans.Search.Providers;

namespace Orleans.Search.Gateway.Api;

/// <summary>Validates a <see cref="JobSpec"/> against the API's rules (README) and turns it into a <see cref="JobSubmission"/>.</summary>
public sealed class JobRequests(IOptionsMonitor<SearchOptions> search, IConfiguration configuration, TimeProvider time)
{
    public const int MaxQueryLength = 1000;
    public const int MaxQueries = 50;
    public const int MaxPages = 10;
    public const int MaxWaitSeconds = 300;
    public const int MaxIdempotencyKeyLength = 200;
    public const int MaxExpand = 10;
    public const int DefaultExpand = 4;
    public const int MaxRead = 50;
    public const int ResearchRead = 8;
    public const int MaxDepth = 5;
    public const int DefaultDepth = 2;

    /// <summary>A problem names at most this many fields: validation stops there.</summary>
    public const int MaxErrors = 20;

    /// <summary>Cursors this API gives out are about 90 characters.</summary>
    public const int MaxCursorLength = 128;

    /// <summary>An event id is a non-negative <see cref="long"/>.</summary>
    public const int MaxEventIdDigits = 19;

    /// <summary>Field name → messages; empty when the spec is valid.</summary>
    public Dictionary<string, string[]> Validate(JobSpec spec)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string field, string message)
        {
            if (errors.Count < MaxErrors)
            {
                errors[field] = [message];
            }
        }

        if (spec.Query is not null && spec.Queries is not null)
        {
            Add("query", "Give either 'query' or 'queries', not both.");
        }
        else if (spec.Query is null && spec.Queries is null)
        {
            Add("query", $"Give 'query' (1–{MaxQueryLength} characters) or 'queries' (1–{MaxQueries} of them).");
        }
        else if (spec.Query is { } query)
        {
            if (QueryError(query) is { } error)
            {
                Add("query", $"'query' {error}.");
            }
        }
        else if (spec.Queries is { } queries)
        {
            if (queries.Count is 0 or > MaxQueries)
            {
                Add("queries", $"'queries' must hold 1–{MaxQueries} queries; it has {queries.Count}.");
            }
            for (var i = 0; i < queries.Count && errors.Count < MaxErrors; i++)
            {
                if (QueryError(queries[i]) is { } error)
                {
                    Add($"queries[{i}]", $"'queries[{i}]' {error}.");
                }
            }
        }

        var providers = search.CurrentValue.Providers;
        if (spec.Provider is { } provider && !providers.ContainsKey(provider))
        {
            Add("provider", $"Unknown provider '{FrontDoorProblems.Shorten(provider)}'. Configured providers: {string.Join(", ", providers.Keys.Order())}.");
        }
        if (spec.Pages is { } pages && pages is < 1 or > MaxPages)
        {
            Add("pages", $"'pages' must be between 1 and {MaxPages}; it is {pages}.");
        }
        if (spec.WaitSeconds is { } wait && wait is < 0 or > MaxWaitSeconds)
        {
            Add("waitSeconds", $"'waitSeconds' must be between 0 and {MaxWaitSeconds}; it is {wait}.");
        }
        ValidateResearch(spec, Add);
        if (spec.Webhook is { } webhook && !Webhooks.WebhookIds.IsEndpointId(webhook.EndpointId))
        {
            Add("webhook.endpointId", webhook.EndpointId is null
                ? "'webhook.endpointId' is required: the id of one of your webhook endpoints (POST /api/webhook-endpoints)."
                : $"'webhook.endpointId' is not a webhook endpoint id; it is '{FrontDoorProblems.Shorten(webhook.EndpointId)}'.");
        }
        return errors;
    }

    /// <summary>The configured LLM providers (<c>Llm:Providers</c>) and the default (<c>Llm:DefaultProvider</c>, else the only one).</summary>
    private (IReadOnlyList<string> Names, string? Default) LlmProviders()
    {
        var names = configuration.GetSection("Llm:Providers").GetChildren().Select(c => c.Key).ToList();
        var configured = configuration["Llm:DefaultProvider"];
        var fallback = string.IsNullOrEmpty(configured) ? (names.Count == 1 ? names[0] : null) : configured;
        return (names, fallback);
    }

    private void ValidateResearch(JobSpec spec, Action<string, string> report)
    {
        // The first problem of a field stands; whether an LLM is needed is asked only of an otherwise valid spec.
        var failed = false;
        void add(string field, string message)
        {
            failed = true;
            report(field, message);
        }

        if (spec.Mode is { } mode && mode is not (JobModes.Search or JobModes.Research or JobModes.Deep))
        {
            add("mode", $"'mode' must be '{JobModes.Search}', '{JobModes.Research}' or '{JobModes.Deep}'; it is '{FrontDoorProblems.Shorten(mode)}'.");
        }
        if (spec.Expand is { Count: { } count } && count is < 1 or > MaxExpand)
        {
            add("expand", $"'expand' must be true, false or a number of sub-queries between 1 and {MaxExpand}; it is {count}.");
        }
        if (spec.Expand is { Enabled: true } && spec.Queries is not null)
        {
            add("expand", "'expand' expands a single 'query'; with 'queries' the queries are given already.");
        }
        if (spec.Read is { } read && read is < 1 or > MaxRead)
        {
            add("read", $"'read' must be between 1 and {MaxRead}; it is {read}.");
        }
        if (spec.Depth is { } depth && depth is < 1 or > MaxDepth)
        {
            add("depth", $"'depth' must be between 1 and {MaxDepth}; it is {depth}.");
        }
        else if (spec.Depth is not null && spec.Mode != JobModes.Deep)
        {
            add("depth", $"'depth' counts the follow-up rounds of mode '{JobModes.Deep}'.");
        }
        if (spec.Budget is { } budget)
        {
            if (budget.MaxTokens is { } tokens && tokens < 1)
            {
                add("budget.maxTokens", $"'budget.maxTokens' must be 1 or more; it is {tokens}.");
            }
            if (budget.MaxCostUsd is { } cost && cost <= 0)
            {
                add("budget.maxCostUsd", $"'budget.maxCostUsd' must be more than 0; it is {cost}.");
            }
        }
        var (names, fallback) = LlmProviders();
        if (spec.Llm is { } llm && !names.Contains(llm, StringComparer.OrdinalIgnoreCase))
        {
            add("llm", names.Count == 0
                ? $"'llm' names an LLM provider, and none is configured (Llm:Providers)."
                : $"Unknown LLM provider '{FrontDoorProblems.Shorten(llm)}'. Configured LLM providers: {string.Join(", ", names.Order())}.");
        }
        else if (spec.Llm is null && fallback is null && NeedsLlm(spec) && !failed)
        {
            var field = spec.Mode is JobModes.Research or JobModes.Deep ? "mode" : spec.Answer == true ? "answer" : "expand";
            add(field, names.Count == 0
                ? $"'{field}' needs an LLM, and none is configured (Llm:Providers, Llm:DefaultProvider)."
                : $"'{field}' needs an LLM: name one in 'llm' ({string.Join(", ", names.Order())}) or configure Llm:DefaultProvider.");
        }
    }

    private static bool NeedsLlm(JobSpec spec) =>
        spec.Mode is JobModes.Research or JobModes.Deep || spec.Answer == true || spec.Expand is { Enabled: true };

    public static string? ValidateIdempotencyKey(string? key) =>
        key is null ? null
        : key.Length is 0 or > MaxIdempotencyKeyLength || key.Any(char.IsControl)
            ? $"The Idempotency-Key header must be 1–{MaxIdempotencyKeyLength} printable characters."
            : null;

    /// <summary>
    /// <c>Last-Event-ID</c> (header or query): the decimal id of an event the stream sent. Null when it is absent or
    /// well-formed (then in <paramref name="after"/>), else the problem, echoing only the start of the value.
    /// </summary>
    public static string? ParseLastEventId(string? text, out long after)
    {
        after = 0;
        if (string.IsNullOrEmpty(text)
            || text.Length <= MaxEventIdDigits && text.All(char.IsAsciiDigit) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            return null;
        }
        return $"'Last-Event-ID' must be an event id this stream sent (a whole number of at most {MaxEventIdDigits} digits); it is '{FrontDoorProblems.Shorten(text, 24)}'.";
    }

    /// <summary>A list cursor as this API gives them out: short, decodable, and naming a well-formed job id.</summary>
    public static bool IsWellFormedCursor(string cursor) =>
        cursor.Length <= MaxCursorLength && JobListCursor.TryParse(cursor, out var position) && IsWellFormedJobId(position.JobId);

    /// <summary>A valid spec as a submission. With an idempotency key the job id is derived from it, so a retry finds the same job.</summary>
    public JobSubmission ToSubmission(JobSpec spec, string owner, string? idempotencyKey)
    {
        var queries = spec.Query is { } q ? [q] : spec.Queries!.ToList();
        var provider = spec.Provider ?? search.CurrentValue.DefaultProvider;
        var pages = spec.Pages ?? 1;
        var cache = spec.Cache ?? true;
        var mode = spec.Mode ?? JobModes.Search;
        var research = mode is JobModes.Research or JobModes.Deep;
        // Research modes turn the stages on; what the spec says explicitly wins.
        var expand = spec.Expand is { } e ? (e.Enabled ? e.Count ?? DefaultExpand : 0) : research && spec.Query is not null ? DefaultExpand : 0;
        var read = spec.Read ?? (research ? ResearchRead : 0);
        var answer = spec.Answer ?? research;
        var depth = mode == JobModes.Deep ? spec.Depth ?? DefaultDepth : 0;
        var (llmNames, llmDefault) = LlmProviders();
        var llm = spec.Llm is { } named ? llmNames.First(n => string.Equals(n, named, StringComparison.OrdinalIgnoreCase)) : llmDefault;
        var needsLlm = expand > 0 || answer || depth > 0;
        var fingerprint = Hash(JsonSerializer.Serialize(new
        {
            queries, provider = provider.ToLowerInvariant(), pages, cache,
            mode, expand, read, answer, depth, budget = spec.Budget, llm = needsLlm ? llm?.ToLowerInvariant() : null,
        }) + (spec.Webhook is { } webhook ? $"\u001fwebhook:{webhook.EndpointId}" : ""));
        var jobId = idempotencyKey is null
            ? Guid.CreateVersion7().ToString("N")
            : Hash($"{owner}\u001f{idempotencyKey}")[..32];
        return new JobSubmission
        {
            JobId = jobId,
            Owner = owner,
            Queries = queries,
            Provider = providers(provider),
            Pages = pages,
            Fingerprint = fingerprint,
            CreatedAt = time.GetUtcNow(),
            UseCache = cache,
            Mode = mode,
            ExpandCount = expand,
            ReadCount = read,
            Answer = answer,
            Depth = depth,
            Budget = spec.Budget,
            Llm = needsLlm ? llm : null,
            WebhookEndpointId = spec.Webhook?.EndpointId,
        };

        string providers(string name) => search.CurrentValue.Providers.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
    }

    /// <summary>Job ids are ours (hex), so anything else cannot name a job.</summary>
    public static bool IsWellFormedJobId(string id) => id.Length is > 0 and <= 64 && id.All(char.IsAsciiLetterOrDigit);

    private static string? QueryError(string? query) =>
        query is null ? "must not be null"
        : string.IsNullOrWhiteSpace(query) ? "must not be blank"
        : query.Length > MaxQueryLength ? $"must be at most {MaxQueryLength} characters; it has {query.Length}"
        : null;

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
