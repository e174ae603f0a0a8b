using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Search.Llm;

namespace Orleans.Search.Tests.Llm;

/// <summary>
/// The LLM limiter and a silo the cluster declared dead: a request of a caller there is dropped from the queue rather
/// than granted (the answer would go nowhere, and its lease would hold the slot until it expired), so the slot goes to
/// the next live caller. A cluster of its own: one of its two silos is stopped.
/// </summary>
public sealed class LlmLimiterDeadSiloTests : IAsyncLifetime
{
    private readonly TempDatabase _database = new();
    private Orleans.TestingHost.InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = Infrastructure.SearchClusterFixture.Build(2, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Llm:DefaultProvider"] = "solo",
            // Never called: the test talks to the limiter alone. One call at a time, and leases that outlast the test.
            ["Llm:Providers:solo:BaseUrl"] = "http://127.0.0.1:9/v1/",
            ["Llm:Providers:solo:ApiKey"] = "sk-unused",
            ["Llm:Providers:solo:Model"] = "solo-model",
            ["Llm:Providers:solo:MaxConcurrency"] = "1",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = "http://127.0.0.1:9/",
        });
        await _cluster.DeployAsync();
        await _cluster.WaitForLivenessToStabilizeAsync();
    }

    [Fact]
    public async Task A_request_from_a_dead_silos_caller_is_dropped_and_the_slot_goes_to_a_live_caller()
    {
        var survivor = _cluster.Silos[0];
        var victim = _cluster.Silos[1];
        var victimAddress = victim.SiloAddress;
        await _cluster.StopSiloAsync(victim);
        var membership = survivor.ServiceProvider.GetRequiredService<IClusterMembershipService>();
        await Eventually.TrueAsync(() => membership.CurrentSnapshot.GetSiloStatus(victimAddress) == SiloStatus.Dead,
            "the survivor to see the stopped silo declared dead", TimeSpan.FromSeconds(30));

        // Activated after the stop, so on the survivor.
        var limiter = _cluster.Client.GetGrain<ILlmLimiterGrain>("llm:solo");
        LlmPermitRequest Request(string holder, SiloAddress silo) =>
            new() { LeaseId = Guid.NewGuid(), Holder = holder, HolderSilo = silo, Tokens = 1, LeaseDuration = TimeSpan.FromMinutes(5) };
        var held = Request("live caller A", survivor.SiloAddress);
        Assert.True((await limiter.AcquireAsync(held)).Granted);

        // A request from a caller on the dead silo, while the only slot is held: it must not wait in the queue for the
        // slot (the queue's dispatch drops it, as it drops one whose silo dies while it waits) ...
        var onDeadSilo = limiter.AcquireAsync(Request("caller on the dead silo", victimAddress));
        var dropped = await Record.ExceptionAsync(() => onDeadSilo.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.IsAssignableFrom<OperationCanceledException>(dropped);

        // ... so the next live caller is the one the freed slot goes to, well before the queue's own 10 s "ask again".
        var liveRequest = Request("live caller B", survivor.SiloAddress);
        var live = limiter.AcquireAsync(liveRequest);
        await Eventually.ReturnsAsync(() => limiter.GetSnapshotAsync(), s => s.Queued == 1, "the live request to queue");
        await limiter.ReleaseAsync(held.LeaseId, billedTokens: 1);
        var grant = await live.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(grant.Granted, "the live caller was not granted the freed slot");
        Assert.Equal(liveRequest.LeaseId, grant.LeaseId);
        var snapshot = await limiter.GetSnapshotAsync();
        Assert.Equal(1, snapshot.InFlight);
        Assert.Equal(0, snapshot.Queued);
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        _database.Dispose();
    }
}
