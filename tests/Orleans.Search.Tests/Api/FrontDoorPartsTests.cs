using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Orleans.Search.Gateway.Health;
using Orleans.Search.Silo.Security;

namespace Orleans.Search.Tests.Api;

/// <summary>The front door's parts on their own: listen-address rules, the key ring and the readiness cache.</summary>
public sealed class FrontDoorPartsTests
{
    [Theory]
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://LOCALHOST:5080", true)]
    [InlineData("https://localhost:5001", true)]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://127.0.0.2:5080", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://+:5080", false)]
    [InlineData("http://[::]:5080", false)]
    [InlineData("http://localhost.example:5080", false)]
    [InlineData("http://example.com:5080", false)]
    [InlineData("http://10.1.2.3:5080", false)]
    [InlineData("http://unix:/tmp/gateway.sock", false)]
    [InlineData("not a url", false)]
    public void Only_loopback_addresses_count_as_loopback(string url, bool loopback) =>
        Assert.Equal(loopback, ListenAddresses.IsLoopback(url));

    public static TheoryData<Dictionary<string, string?>, string[]> ListenConfigurations() => new()
    {
        { new(), [ListenAddresses.Default] },
        { new() { ["urls"] = "http://localhost:5080" }, ["http://localhost:5080"] },
        { new() { ["urls"] = "http://127.0.0.1:1; http://0.0.0.0:2" }, ["http://127.0.0.1:1", "http://0.0.0.0:2"] },
        { new() { ["http_ports"] = "8080;8081" }, ["http://*:8080", "http://*:8081"] },
        { new() { ["urls"] = "http://localhost:1", ["http_ports"] = "8080" }, ["http://localhost:1"] },
        { new() { ["Kestrel:Endpoints:Api:Url"] = "http://0.0.0.0:9" }, ["http://0.0.0.0:9"] },
    };

    [Theory]
    [MemberData(nameof(ListenConfigurations))]
    public void Listen_addresses_are_read_from_every_place_ASP_NET_reads_them(Dictionary<string, string?> settings, string[] expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        Assert.Equal(expected, ListenAddresses.Configured(configuration));
    }

    [Fact]
    public void The_key_ring_knows_keys_by_their_hash_only()
    {
        var ring = new ApiKeyRing(new AuthOptions
        {
            Keys =
            {
                ["0"] = new ApiKeyOptions { Sha256 = TestKeys.Sha256("alpha"), User = "alice" },
                ["1"] = new ApiKeyOptions { Sha256 = TestKeys.Sha256("bravo").ToUpperInvariant(), User = "bob", Role = "ADMIN" },
                ["2"] = new ApiKeyOptions { Sha256 = TestKeys.Sha256("charlie"), User = "carol", Role = "user" },
            },
        });

        Assert.Equal(new ApiKeyOwner("alice", Roles.User), ring.Find("alpha"));
        Assert.Equal(new ApiKeyOwner("bob", Roles.Admin), ring.Find("bravo"));
        Assert.Equal(new ApiKeyOwner("carol", Roles.User), ring.Find("charlie"));
        Assert.Null(ring.Find(TestKeys.Sha256("alpha")));
        Assert.Null(ring.Find("Alpha"));
        Assert.Null(ring.Find("alph"));
        Assert.Null(ring.Find(""));
        Assert.Equal(TestKeys.Sha256("alpha"), ApiKeyRing.HashHex("alpha"));
    }

    [Fact]
    public async Task Readiness_probes_share_one_run_and_reuse_its_result_for_two_seconds()
    {
        var time = new FakeTimeProvider();
        var storage = new CountingCheck();
        var cached = new CachedHealthCheck<CountingCheck>(storage, time);

        var flood = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => cached.CheckHealthAsync(Context(storage))));
        Assert.All(flood, r => Assert.Equal(HealthStatus.Healthy, r.Status));
        Assert.Equal(1, storage.Runs);

        time.Advance(CachedHealthCheck<CountingCheck>.Ttl - TimeSpan.FromMilliseconds(1));
        Assert.Equal(HealthStatus.Healthy, (await cached.CheckHealthAsync(Context(storage))).Status);
        Assert.Equal(1, storage.Runs);

        // The database goes away: the next probe after the two seconds runs the check again and sees it.
        storage.Status = HealthStatus.Unhealthy;
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(HealthStatus.Unhealthy, (await cached.CheckHealthAsync(Context(storage))).Status);
        Assert.Equal(2, storage.Runs);
    }

    [Fact]
    public async Task A_check_that_hangs_is_unhealthy_after_the_run_timeout()
    {
        var time = new FakeTimeProvider();
        var hanging = new CountingCheck { Hang = true };
        var cached = new CachedHealthCheck<CountingCheck>(hanging, time);

        var probe = cached.CheckHealthAsync(Context(hanging));
        await hanging.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(probe.IsCompleted);
        time.Advance(CachedHealthCheck<CountingCheck>.RunTimeout);

        var result = await probe.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
    }

    private static HealthCheckContext Context(IHealthCheck check) =>
        new() { Registration = new HealthCheckRegistration("storage", check, HealthStatus.Unhealthy, ["ready"]) };

    /// <summary>A check that counts its runs; it can report unhealthy, or hang until cancelled.</summary>
    public sealed class CountingCheck : IHealthCheck
    {
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        public HealthStatus Status { get; set; } = HealthStatus.Healthy;

        public bool Hang { get; init; }

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _runs);
            Entered.TrySetResult();
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            await Task.Yield();
            return new HealthCheckResult(Status);
        }
    }
}
