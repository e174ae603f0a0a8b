namespace Orleans.Search.Jobs;

/// <summary>What a caller asks for: one question or an explicit list of queries.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobSpec")]
public sealed record JobSpec
{
    /// <summary>A single query (1–1000 characters). Exactly one of <see cref="Query"/> and <see cref="Queries"/>.</summary>
    [Id(0)] public string? Query { get; init; }

    /// <summary>1–50 queries, each 1–1000 characters.</summary>
    [Id(1)] public IReadOnlyList<string>? Queries { get; init; }

    /// <summary>A configured provider name; default <c>Search:DefaultProvider</c>.</summary>
    [Id(2)] public string? Provider { get; init; }

    /// <summary>Pages per query, 1–10 (default 1).</summary>
    [Id(3)] public int? Pages { get; init; }

    /// <summary>For <c>POST /api/search</c> only: how long to wait for the finished job (0–300 s, default 30).</summary>
    [Id(4)] public int? WaitSeconds { get; init; }

    /// <summary>Use the shared result cache (default true); false always calls the provider.</summary>
    [Id(5)] public bool? Cache { get; init; }

    /// <summary>Let an LLM expand <see cref="Query"/> into sub-queries: <c>true</c> (4 of them), <c>false</c>, or a count 1–10.</summary>
    [Id(6)] public ExpandSpec? Expand { get; init; }

    /// <summary>Read the top N result pages (1–50).</summary>
    [Id(7)] public int? Read { get; init; }

    /// <summary>Let an LLM write a cited answer.</summary>
    [Id(8)] public bool? Answer { get; init; }

    /// <summary><c>search</c> (default; stages as asked), <c>research</c> (expand, search, read 8, answer) or <c>deep</c> (research with follow-up rounds).</summary>
    [Id(9)] public string? Mode { get; init; }

    /// <summary>Follow-up rounds of <c>deep</c> mode (1–5, default 2).</summary>
    [Id(10)] public int? Depth { get; init; }

    /// <summary>Limits on the job's LLM spending; a call whose worst case does not fit is not made.</summary>
    [Id(11)] public JobBudget? Budget { get; init; }

    /// <summary>A configured LLM provider name (<c>Llm:Providers</c>); default <c>Llm:DefaultProvider</c>.</summary>
    [Id(12)] public string? Llm { get; init; }

    /// <summary>A webhook endpoint of the caller's that gets the job's terminal event (besides the endpoints subscribed to it).</summary>
    [Id(13)] public JobWebhookSpec? Webhook { get; init; }
}

/// <summary><c>webhook</c> as given: the id of one of the caller's webhook endpoints.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobWebhookSpec")]
public sealed record JobWebhookSpec
{
    [Id(0)] public string? EndpointId { get; init; }
}

/// <summary><c>expand</c> as given: <c>true</c>/<c>false</c>, or a number of sub-queries.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.ExpandSpec")]
public sealed record ExpandSpec
{
    [Id(0)] public bool Enabled { get; init; }

    /// <summary>The number of sub-queries when given as a number.</summary>
    [Id(1)] public int? Count { get; init; }
}

/// <summary>A job's LLM budget; either limit may be left out.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobBudget")]
public sealed record JobBudget
{
    [Id(0)] public long? MaxTokens { get; init; }
    [Id(1)] public decimal? MaxCostUsd { get; init; }
}

/// <summary>Job modes.</summary>
public static class JobModes
{
    public const string Search = "search";
    public const string Research = "research";
    public const string Deep = "deep";
}

/// <summary>A validated, normalized job as the job grain stores it.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobSubmission")]
public sealed record JobSubmission
{
    [Id(0)] public required string JobId { get; init; }

    /// <summary>The user id that owns the job.</summary>
    [Id(1)] public required string Owner { get; init; }

    [Id(2)] public required IReadOnlyList<string> Queries { get; init; }

    [Id(3)] public required string Provider { get; init; }

    [Id(4)] public required int Pages { get; init; }

    /// <summary>A fingerprint of the request, so an <c>Idempotency-Key</c> reused with another body is detected.</summary>
    [Id(5)] public required string Fingerprint { get; init; }

    [Id(6)] public required DateTimeOffset CreatedAt { get; init; }

    [Id(7)] public bool UseCache { get; init; } = true;

    [Id(8)] public string Mode { get; init; } = JobModes.Search;

    /// <summary>Sub-queries to ask the LLM for; 0 = no expansion.</summary>
    [Id(9)] public int ExpandCount { get; init; }

    /// <summary>Result pages to read per round; 0 = no reading.</summary>
    [Id(10)] public int ReadCount { get; init; }

    [Id(11)] public bool Answer { get; init; }

    /// <summary>Follow-up rounds (deep mode); 0 otherwise.</summary>
    [Id(12)] public int Depth { get; init; }

    [Id(13)] public JobBudget? Budget { get; init; }

    /// <summary>The LLM provider the job's LLM stages use; null when it has none.</summary>
    [Id(14)] public string? Llm { get; init; }

    /// <summary>The caller's webhook endpoint named by the spec, which gets the terminal event; null when none was named.</summary>
    [Id(15)] public string? WebhookEndpointId { get; init; }

    /// <summary>Whether any stage needs an LLM.</summary>
    public bool NeedsLlm => ExpandCount > 0 || Answer || Depth > 0;
}
