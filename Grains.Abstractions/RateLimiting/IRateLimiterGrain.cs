namespace Orleans.Search.RateLimiting;

/// <summary>
/// A cluster-wide limiter for one key (<c>user:{id}</c> or <c>provider:{name}</c>): a token bucket plus a
/// concurrency cap with a FIFO queue. One activation per key makes it distributed without Redis.
/// The answer is a reservation ("go now" or "go at t"), so callers wait on their own side;
/// a lease not released in time (a caller that died) is reclaimed.
/// </summary>
[Alias("Orleans.Search.IRateLimiterGrain")]
public interface IRateLimiterGrain : IGrainWithStringKey
{
    /// <summary>
    /// Reserves one permit. Returns at once with a lease when a concurrency slot is free (its token may be due
    /// later: see <see cref="PermitGrant.NotBefore"/>); otherwise queues and returns when a slot frees,
    /// or returns not granted after a short while so the caller asks again. A <see cref="PermitRequest.NoWait"/>
    /// request is answered at once and never queues.
    /// </summary>
    [Alias("Acquire")]
    Task<PermitGrant> AcquireAsync(PermitRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns a lease's concurrency slot, or withdraws a request still queued. A provider's 429 reported here
    /// pauses the limiter for the whole cluster until the provider's Retry-After has passed.
    /// </summary>
    [Alias("Release"), OneWay]
    Task ReleaseAsync(Guid leaseId, PermitOutcome? outcome = null);

    /// <summary>
    /// Extends a held lease to <paramref name="leaseDuration"/> from now: the holder is alive, only waiting (for its
    /// other permit). A lease that already expired or was released stays gone.
    /// </summary>
    [Alias("Renew"), OneWay]
    Task RenewAsync(Guid leaseId, TimeSpan leaseDuration);

    /// <summary>A silo's circuit breaker for this provider changed state.</summary>
    [Alias("ReportCircuit"), OneWay]
    Task ReportCircuitAsync(CircuitReport report);

    /// <summary>Live numbers and settings.</summary>
    [Alias("Snapshot"), ReadOnly]
    Task<LimiterSnapshot> GetSnapshotAsync();
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.PermitRequest")]
public sealed record PermitRequest
{
    /// <summary>Who holds the lease (for diagnostics), e.g. the query grain key.</summary>
    [Id(0)] public required string Holder { get; init; }

    /// <summary>The job, for fairness across a user's jobs.</summary>
    [Id(1)] public string? JobId { get; init; }

    /// <summary>The user, for fairness across users.</summary>
    [Id(4)] public string? User { get; init; }

    /// <summary>How long the caller may hold the lease before it is reclaimed.</summary>
    [Id(2)] public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Chosen by the caller, so it can release the permit even when it gave up waiting before the answer came
    /// (a release for a queued request withdraws it).
    /// </summary>
    [Id(3)] public required Guid LeaseId { get; init; }

    /// <summary>The holder's silo: when it is declared dead, its leases are reclaimed at once rather than at expiry.</summary>
    [Id(5)] public SiloAddress? HolderSilo { get; init; }

    /// <summary>Answer at once: granted if a permit is free now, otherwise not granted, without queueing.</summary>
    [Id(6)] public bool NoWait { get; init; }
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.PermitGrant")]
public sealed record PermitGrant
{
    [Id(0)] public bool Granted { get; init; }
    [Id(1)] public Guid LeaseId { get; init; }

    /// <summary>When the reserved token becomes valid; the caller must not call the provider before.</summary>
    [Id(2)] public DateTimeOffset NotBefore { get; init; }
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.LimiterSnapshot")]
public sealed record LimiterSnapshot
{
    [Id(0)] public required string Key { get; init; }
    [Id(1)] public double PermitsAvailable { get; init; }
    [Id(2)] public int Queued { get; init; }
    [Id(3)] public int InFlight { get; init; }
    [Id(4)] public double PermitsPerMinute { get; init; }
    [Id(5)] public int Burst { get; init; }
    [Id(6)] public int MaxConcurrency { get; init; }
    [Id(7)] public long Granted { get; init; }
    [Id(8)] public long LeasesExpired { get; init; }

    /// <summary>429s reported by callers.</summary>
    [Id(9)] public long Throttled { get; init; }

    /// <summary>No permit is granted before this (a provider's Retry-After).</summary>
    [Id(10)] public DateTimeOffset? PausedUntil { get; init; }

    /// <summary>Open if any silo's breaker is open, else half-open if any is, else closed.</summary>
    [Id(11)] public CircuitState Circuit { get; init; }
    [Id(12)] public IReadOnlyList<CircuitReport> Circuits { get; init; } = [];

    /// <summary>The burst the limiter grants: the configured one less the headroom kept for jitter.</summary>
    [Id(13)] public int BurstInUse { get; init; }
}

/// <summary>What a provider call came to, as far as the limiter cares.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.PermitOutcome")]
public sealed record PermitOutcome
{
    [Id(0)] public int? StatusCode { get; init; }
    [Id(1)] public TimeSpan? RetryAfter { get; init; }
}

/// <summary>The state of one silo's circuit breaker for a provider.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.CircuitReport")]
public sealed record CircuitReport
{
    [Id(0)] public required string Silo { get; init; }
    [Id(1)] public required CircuitState State { get; init; }
    [Id(2)] public DateTimeOffset Since { get; init; }

    /// <summary>When an open breaker lets a trial call through.</summary>
    [Id(3)] public DateTimeOffset? OpenUntil { get; init; }
    [Id(4)] public string? LastError { get; init; }
}

/// <summary>Limiter keys.</summary>
public static class LimiterKeys
{
    public static string User(string userId) => $"user:{userId}";

    public static string Provider(string name) => $"provider:{name}";

    /// <summary>A user's open event streams and sync waits: a concurrency cap only, no rate.</summary>
    public static string Streams(string userId) => $"streams:{userId}";
}
