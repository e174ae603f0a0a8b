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
}
