using System.Diagnostics.CodeAnalysis;
using Orleans.Search.Cluster;

namespace Orleans.Search.RateLimiting;

/// <summary>What every lease a limiter grants carries: who holds it, on which silo, and until when.</summary>
public interface ILimiterLease<TLease> where TLease : ILimiterLease<TLease>
{
    string Holder { get; }

    SiloAddress? Silo { get; }

    DateTimeOffset ExpiresAt { get; }

    /// <summary>The same lease, expiring at <paramref name="expiresAt"/>.</summary>
    TLease WithExpiry(DateTimeOffset expiresAt);
}

/// <summary>
/// The leases a limiter grain has granted and not yet had back, with the timer that reclaims the ones never released.
/// Shared by the search providers' and the LLM providers' limiters. Not thread-safe: the owning grain calls it from
/// its own turns (interleaved, but never in parallel).
/// </summary>
public sealed class LeaseBook<TLease>(IClusterMembershipService membership) where TLease : ILimiterLease<TLease>
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private readonly Dictionary<Guid, TLease> _leases = [];
    private IGrainTimer? _sweeper;

    /// <summary>No lease expires before this (a lower bound: renewals only push expiries later).</summary>
    private DateTimeOffset _earliestExpiry = DateTimeOffset.MaxValue;

    /// <summary>The membership version the leases were last checked against for holders on dead silos.</summary>
    private MembershipVersion _checkedMembership = MembershipVersion.MinValue;

    public int Count => _leases.Count;

    /// <summary>
    /// Whether a caller on <paramref name="silo"/> is gone: the cluster declared its silo dead. A queued request of such a
    /// caller is dropped rather than granted: the answer would go nowhere, and the lease would hold a slot until it expired.
    /// </summary>
    public bool IsOnDeadSilo(SiloAddress? silo) => membership.CurrentSnapshot.HasDeclaredDead(silo);

    public IEnumerable<TLease> Values => _leases.Values;

    public bool TryGetValue(Guid leaseId, [MaybeNullWhen(false)] out TLease lease) => _leases.TryGetValue(leaseId, out lease);

    public void Add(Guid leaseId, TLease lease)
    {
        _leases[leaseId] = lease;
        if (lease.ExpiresAt < _earliestExpiry)
        {
            _earliestExpiry = lease.ExpiresAt;
        }
    }

    /// <summary>Replaces a held lease's bookkeeping; its expiry may only move later (see <see cref="Renew"/>).</summary>
    public void Update(Guid leaseId, TLease lease) => _leases[leaseId] = lease;

    public bool Remove(Guid leaseId) => _leases.Remove(leaseId);

    public bool Remove(Guid leaseId, [MaybeNullWhen(false)] out TLease lease) => _leases.Remove(leaseId, out lease);

    /// <summary>Pushes a held lease's expiry to <paramref name="expiresAt"/> if that is later; never shortens it.</summary>
    public void Renew(Guid leaseId, DateTimeOffset expiresAt)
    {
        if (_leases.TryGetValue(leaseId, out var lease) && expiresAt > lease.ExpiresAt)
        {
            _leases[leaseId] = lease.WithExpiry(expiresAt);
        }
    }

    /// <summary>
    /// Removes the leases that expired or whose holder's silo was declared dead, logs each, and answers how many. A
    /// killed silo never releases its leases; without this its slots stay taken until they expire. Every call to the
    /// limiter passes here, so the scan runs only when it can find something: a lease is due or the membership changed.
    /// Without that, a limiter holding n leases scanned all n on every request (n² per burst of n calls).
    /// </summary>
    public int Reclaim(DateTimeOffset now, ILogger logger, string limiterKey)
    {
        var members = membership.CurrentSnapshot;
        if (now < _earliestExpiry && members.Version == _checkedMembership)
        {
            return 0;
        }
        _checkedMembership = members.Version;
        List<Guid>? expired = null;
        var earliest = DateTimeOffset.MaxValue;
        foreach (var (id, lease) in _leases)
        {
            if (lease.ExpiresAt <= now || members.HasDeclaredDead(lease.Silo))
            {
                (expired ??= []).Add(id);
            }
            else if (lease.ExpiresAt < earliest)
            {
                earliest = lease.ExpiresAt;
            }
        }
        _earliestExpiry = earliest;
        if (expired is null)
        {
            return 0;
        }
        foreach (var id in expired)
        {
            _leases.Remove(id, out var lease);
            logger.LeaseReclaimed(limiterKey, lease!.Holder, lease.ExpiresAt <= now ? "expired unreleased" : $"held on dead silo {lease.Silo}");
        }
        return expired.Count;
    }

    /// <summary>
    /// While anything is held or queued, a timer on <paramref name="owner"/> calls <paramref name="sweep"/> every second
    /// so expired leases are reclaimed even if no call arrives; it stops once <paramref name="sweep"/> answers false
    /// (nothing left to watch).
    /// </summary>
    public void EnsureSweeper(IGrainBase owner, Func<bool> sweep)
    {
        _sweeper ??= owner.RegisterGrainTimer(static (state, _) =>
        {
            if (!state.sweep())
            {
                state.self._sweeper?.Dispose();
                state.self._sweeper = null;
            }
            return Task.CompletedTask;
        }, (self: this, sweep), new GrainTimerCreationOptions(SweepInterval, SweepInterval) { Interleave = true });
    }
}
