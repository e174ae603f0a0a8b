using Orleans.Search.RateLimiting;

namespace Orleans.Search.Tests.RateLimiting;

[Collection(SearchClusterCollection.Name)]
public sealed class RateLimiterGrainTests(SearchClusterFixture fixture)
{
    private IRateLimiterGrain Limiter(string provider) => fixture.Client.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(provider));

    private static PermitRequest Request(string holder, TimeSpan? lease = null) =>
        new() { Holder = holder, LeaseId = Guid.NewGuid(), LeaseDuration = lease ?? TimeSpan.FromMinutes(1) };

    [Fact]
    public async Task A_429_asking_for_years_pauses_the_provider_for_at_most_MaxPauseSeconds()
    {
        // Its own key: a pause must not hold up the other tests' providers.
        var limiter = Limiter("paused-" + Guid.NewGuid().ToString("N")[..8]);
        var lease = await limiter.AcquireAsync(Request("throttled-caller"));
        Assert.True(lease.Granted);
        var before = DateTimeOffset.UtcNow;

        // As a caller on another silo might report it, whatever its own parsing did.
        await limiter.ReleaseAsync(lease.LeaseId, new PermitOutcome { StatusCode = 429, RetryAfter = TimeSpan.FromDays(3650) });

        var snapshot = await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.Throttled == 1, "the limiter to hear the 429", TimeSpan.FromSeconds(10));
        Assert.NotNull(snapshot.PausedUntil);
        Assert.InRange(snapshot.PausedUntil.Value, before, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(300));
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_never_holds_a_slot()
    {
        var limiter = Limiter("serial");
        var held = await limiter.AcquireAsync(Request("holder"));
        Assert.True(held.Granted);
        using var cts = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync(Request("waiter"), cts.Token);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.Queued == 1, "the waiter to queue");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.Queued == 0, "the waiter to leave the queue", TimeSpan.FromSeconds(5));

        await limiter.ReleaseAsync(held.LeaseId);
        var snapshot = await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.InFlight == 0, "the slot to come back", TimeSpan.FromSeconds(5));
        Assert.Equal(0, snapshot.Queued);
    }

    [Fact]
    public async Task A_permit_held_by_a_caller_that_died_comes_back_after_its_lease()
    {
        var limiter = Limiter("serial");
        // The holder takes a slot with a short lease and never releases it.
        var dead = await limiter.AcquireAsync(Request("dead-caller", TimeSpan.FromSeconds(1)));
        Assert.True(dead.Granted);
        var next = await limiter.AcquireAsync(Request("next"));
        Assert.True(next.Granted, "the next caller gets the slot once the dead caller's lease expired");
        var snapshot = await limiter.GetSnapshotAsync();
        Assert.True(snapshot.LeasesExpired >= 1);
        await limiter.ReleaseAsync(next.LeaseId);
    }

    [Fact]
    public async Task A_renewed_lease_is_not_reclaimed_while_its_holder_waits()
    {
        var limiter = Limiter("serial");
        var before = (await limiter.GetSnapshotAsync()).LeasesExpired;
        // A lease of 1 s, renewed at once to 2 min: its holder is alive, only waiting for its other permit.
        var held = await limiter.AcquireAsync(Request("waiting-holder", TimeSpan.FromSeconds(1)));
        Assert.True(held.Granted);
        await limiter.RenewAsync(held.LeaseId, TimeSpan.FromMinutes(2));

        // Without the renewal the slot would come back after 1 s; with it, the next caller is told "not yet" (after
        // the limiter's 10 s queue wait) and nothing was reclaimed.
        var next = await limiter.AcquireAsync(Request("next"));
        Assert.False(next.Granted);
        Assert.Equal(before, (await limiter.GetSnapshotAsync()).LeasesExpired);

        await limiter.ReleaseAsync(next.LeaseId);
        await limiter.ReleaseAsync(held.LeaseId);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.InFlight == 0 && s.Queued == 0, "the slot to come back", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_request_that_must_not_wait_is_refused_at_once_when_no_slot_is_free_and_never_queues()
    {
        var limiter = Limiter("serial");
        var held = await limiter.AcquireAsync(Request("holder"));
        Assert.True(held.Granted);

        var started = DateTime.UtcNow;
        var refused = await limiter.AcquireAsync(Request("no-wait") with { NoWait = true });

        Assert.False(refused.Granted);
        // "At once": a queued request would be answered only after the limiter's 10 s queue wait; 5 s is generous.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), $"answered after {DateTime.UtcNow - started}");
        var snapshot = await limiter.GetSnapshotAsync();
        Assert.Equal(0, snapshot.Queued);
        Assert.Equal(1, snapshot.InFlight);

        await limiter.ReleaseAsync(held.LeaseId);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.InFlight == 0, "the slot to come back", TimeSpan.FromSeconds(5));
        var granted = await limiter.AcquireAsync(Request("no-wait") with { NoWait = true });
        Assert.True(granted.Granted);
        await limiter.ReleaseAsync(granted.LeaseId);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.InFlight == 0, "the slot to come back", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_short_lease_granted_after_a_long_one_is_still_reclaimed_when_it_expires()
    {
        // An unknown key: no rate, no cap, so both leases are granted at once and only expiry can take one back. The
        // limiter looks for expired leases only once the earliest can be due: a short lease granted after a long one
        // must bring that moment forward, or it would stay held for the long lease's two minutes.
        var limiter = Limiter("expiry-" + Guid.NewGuid().ToString("N")[..8]);
        var longLease = await limiter.AcquireAsync(Request("long-holder", TimeSpan.FromMinutes(2)));
        var shortLease = await limiter.AcquireAsync(Request("short-holder-that-dies", TimeSpan.FromSeconds(1)));
        Assert.True(longLease.Granted && shortLease.Granted);

        var snapshot = await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.LeasesExpired == 1,
            "the short lease to be reclaimed", TimeSpan.FromSeconds(15));
        Assert.Equal(1, snapshot.InFlight);

        await limiter.ReleaseAsync(longLease.LeaseId);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.InFlight == 0, "the long lease to be released", TimeSpan.FromSeconds(5));
        Assert.Equal(1, (await limiter.GetSnapshotAsync()).LeasesExpired);
    }
}
