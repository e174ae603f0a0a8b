namespace Orleans.Search.Llm;

/// <summary>
/// The cluster-wide limiter of one LLM provider (key <c>llm:{name}</c>): requests per minute, tokens per minute and
/// calls at once. A call reserves its worst case in tokens (prompt estimate + max output) before it starts and trues
/// it up with the tokens the provider billed when it ends.
/// </summary>
public interface ILlmLimiterGrain : IGrainWithStringKey
{
    /// <summary>
    /// Reserves one request and <see cref="LlmPermitRequest.Tokens"/> tokens. Returns granted when both fit and a slot is
    /// free; otherwise waits in a fair queue, or answers not granted after a short while so the caller asks again.
    /// </summary>
    [Alias("Acquire")]
    Task<LlmPermitGrant> AcquireAsync(LlmPermitRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends a lease (or withdraws a queued request): its slot is freed and its reserved tokens are replaced by
    /// <paramref name="billedTokens"/> (what the provider counted; 0 when it refused the call).
    /// A <paramref name="pause"/> (a provider's 429 Retry-After) stops all grants until it has passed.
    /// </summary>
    [Alias("Release"), OneWay]
    Task ReleaseAsync(Guid leaseId, long billedTokens, TimeSpan? pause = null);

    /// <summary>
    /// The provider answered (its response headers arrived): the call reached it some time after it was granted. If our
    /// buckets were nearly full at the grant, they refilled in that time while the provider's, full, could not; the
    /// difference is charged now, so ours are never ahead of the provider's.
    /// </summary>
    [Alias("Started"), OneWay]
    Task StartedAsync(Guid leaseId);

    /// <summary>Extends a held lease to <paramref name="leaseDuration"/> from now (a long stream is still running).</summary>
    [Alias("Renew"), OneWay]
    Task RenewAsync(Guid leaseId, TimeSpan leaseDuration);

    /// <summary>Live numbers.</summary>
    [Alias("Snapshot"), ReadOnly]
    Task<LlmLimiterSnapshot> GetSnapshotAsync();
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.LlmPermitRequest")]
public sealed record LlmPermitRequest
{
    /// <summary>Chosen by the caller, so it can always withdraw or release it.</summary>
    [Id(0)] public required Guid LeaseId { get; init; }

    /// <summary>Who asks (for logs).</summary>
    [Id(1)] public required string Holder { get; init; }

    /// <summary>The user the call is for: waiters are served round-robin across users.</summary>
    [Id(2)] public string? User { get; init; }

    /// <summary>Tokens to reserve: the prompt's estimate plus the most output the call may produce.</summary>
    [Id(3)] public long Tokens { get; init; }

    /// <summary>How long the caller may hold the lease before it is reclaimed unless renewed.</summary>
    [Id(4)] public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The holder's silo: its leases go at once when it is declared dead.</summary>
    [Id(5)] public SiloAddress? HolderSilo { get; init; }
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.LlmPermitGrant")]
public sealed record LlmPermitGrant
{
    [Id(0)] public bool Granted { get; init; }
    [Id(1)] public Guid LeaseId { get; init; }
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.LlmLimiterSnapshot")]
public sealed record LlmLimiterSnapshot
{
    [Id(0)] public required string Key { get; init; }
    [Id(1)] public double RequestsAvailable { get; init; }
    [Id(2)] public double TokensAvailable { get; init; }
    [Id(3)] public int InFlight { get; init; }
    [Id(4)] public int Queued { get; init; }
    [Id(5)] public long Granted { get; init; }

    /// <summary>Tokens reserved by calls in flight.</summary>
    [Id(6)] public long TokensReserved { get; init; }

    /// <summary>429s (rate_limit_exceeded) reported by callers.</summary>
    [Id(7)] public long Throttled { get; init; }
    [Id(8)] public DateTimeOffset? PausedUntil { get; init; }
}
