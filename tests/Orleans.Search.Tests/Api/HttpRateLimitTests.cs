using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// A gateway with low HTTP rate limits (<see cref="PerAddress"/> requests a minute per remote address,
/// <see cref="PerUser"/> per user), keys for alice, bob and carol, an admin key for ops, and the dashboard on.
/// Each test talks from its own loopback address (127.0.0.x), so the per-address buckets of tests do not mix.
/// </summary>
public sealed class LimitedGatewayFixture : IAsyncLifetime
{
    public const int PerAddress = 10;
    public const int PerUser = 2;
    public const string AliceKey = "limited-alice";
    public const string BobKey = "limited-bob";
    public const string CarolKey = "limited-carol";
    public const string OpsKey = "limited-ops";

    public GatewayHost Gateway { get; private set; } = null!;

    private FakeSearxng Searxng { get; set; } = null!;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        var settings = GatewaySettings.Common(Searxng);
        settings["Auth:Mode"] = "keys";
        TestKeys.Configure(settings, 0, AliceKey, "alice");
        TestKeys.Configure(settings, 1, BobKey, "bob");
        TestKeys.Configure(settings, 2, CarolKey, "carol");
        TestKeys.Configure(settings, 3, OpsKey, "ops", "admin");
        settings["Http:PermitsPerMinute"] = PerUser.ToString();
        settings["Http:PermitsPerMinutePerAddress"] = PerAddress.ToString();
        settings["Dashboard:Enabled"] = "true";
        Gateway = await GatewayHost.StartAsync(settings);
    }

    /// <summary>A client whose connections come from <c>127.0.0.{lastOctet}</c>, optionally with an X-Api-Key.</summary>
    public HttpClient ClientFrom(int lastOctet, string? key = null)
    {
        var source = new IPAddress([127, 0, 0, (byte)lastOctet]);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = Gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        return client;
    }

    public async Task DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (Searxng is not null)
        {
            await Searxng.DisposeAsync();
        }
    }
}

public sealed class HttpRateLimitTests(LimitedGatewayFixture fixture) : IClassFixture<LimitedGatewayFixture>
{
    [Fact]
    public async Task Anonymous_requests_from_one_address_get_429_with_Retry_After_past_the_limit()
    {
        using var http = fixture.ClientFrom(2);

        var (admitted, refused, elapsed) = await SendUntilRefusedAsync(() => http.GetAsync("/readyz"), HttpStatusCode.OK);

        AssertWithinBucket(admitted, LimitedGatewayFixture.PerAddress, elapsed);
        var problem = await AssertTooManyRequestsAsync(refused);
        Assert.Contains("address", problem.Detail, StringComparison.Ordinal);
        using (var openApi = await http.GetAsync("/openapi/v1.json"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, openApi.StatusCode);
        }
        // Liveness stays answerable: an orchestrator's probe must not be throttled into a restart.
        for (var i = 0; i < 3; i++)
        {
            using var live = await http.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
    }

    [Fact]
    public async Task Guessed_keys_are_throttled_by_address_before_they_are_checked()
    {
        using var http = fixture.ClientFrom(3);
        var guess = 0;

        var (admitted, refused, elapsed) = await SendUntilRefusedAsync(() =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/rate-limits");
            request.Headers.Add("X-Api-Key", $"guess-{guess++}");
            return http.SendAsync(request);
        }, HttpStatusCode.Unauthorized);

        AssertWithinBucket(admitted, LimitedGatewayFixture.PerAddress, elapsed);
        await AssertTooManyRequestsAsync(refused);
    }

    [Fact]
    public async Task A_user_past_the_limit_gets_429_from_any_address_while_other_users_go_on()
    {
        using var alice = fixture.ClientFrom(4, LimitedGatewayFixture.AliceKey);
        var (admitted, refused, elapsed) = await SendUntilRefusedAsync(() => alice.GetAsync("/api/rate-limits"), HttpStatusCode.OK);

        AssertWithinBucket(admitted, LimitedGatewayFixture.PerUser, elapsed);
        var problem = await AssertTooManyRequestsAsync(refused);
        Assert.Contains("alice", problem.Detail, StringComparison.Ordinal);

        // From a fresh address alice is still over her limit (a token comes back every 30 s, so of two requests
        // made at once at least one is refused), and bob, from that address, is not.
        using var aliceElsewhere = fixture.ClientFrom(5, LimitedGatewayFixture.AliceKey);
        using var first = await aliceElsewhere.GetAsync("/api/rate-limits");
        using var second = await aliceElsewhere.GetAsync("/api/rate-limits");
        Assert.Contains(HttpStatusCode.TooManyRequests, new[] { first.StatusCode, second.StatusCode });
        using var bob = fixture.ClientFrom(5, LimitedGatewayFixture.BobKey);
        using var bobs = await bob.GetAsync("/api/rate-limits");
        Assert.Equal(HttpStatusCode.OK, bobs.StatusCode);
    }

    [Fact]
    public async Task The_dashboard_needs_a_key_with_the_admin_role()
    {
        using (var anonymous = fixture.ClientFrom(6))
        using (var response = await anonymous.GetAsync("/dashboard/"))
        {
            await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Unauthorized);
        }
        using (var carol = fixture.ClientFrom(6, LimitedGatewayFixture.CarolKey))
        using (var response = await carol.GetAsync("/dashboard/"))
        {
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Forbidden);
            Assert.Contains("admin", problem.Detail, StringComparison.Ordinal);
        }
        using var ops = fixture.ClientFrom(6, LimitedGatewayFixture.OpsKey);
        using var page = await ops.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Sends until a request is refused (at most 100); every earlier one must answer <paramref name="admittedStatus"/>.</summary>
    private static async Task<(int Admitted, HttpResponseMessage Refused, TimeSpan Elapsed)> SendUntilRefusedAsync(
        Func<Task<HttpResponseMessage>> send, HttpStatusCode admittedStatus)
    {
        var clock = Stopwatch.StartNew();
        for (var admitted = 0; admitted < 100; admitted++)
        {
            var response = await send();
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return (admitted, response, clock.Elapsed);
            }
            Assert.True(response.StatusCode == admittedStatus, $"request {admitted + 1} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            response.Dispose();
        }
        throw new Xunit.Sdk.XunitException("100 requests in a row were admitted.");
    }

    /// <summary>
    /// A bucket of <paramref name="perMinute"/> admits that many at once and refills at that rate, so the requests admitted
    /// before the first refusal are the burst plus whatever refilled meanwhile (the machine may be slow), never more.
    /// </summary>
    private static void AssertWithinBucket(int admitted, int perMinute, TimeSpan elapsed)
    {
        var refilled = (int)Math.Ceiling(elapsed.TotalMinutes * perMinute);
        Assert.InRange(admitted, perMinute, perMinute + refilled);
    }

    private static async Task<Problem> AssertTooManyRequestsAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
            var retryAfter = response.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter is { } delay && delay >= TimeSpan.FromSeconds(1) && delay <= TimeSpan.FromMinutes(1),
                $"Retry-After should be 1–60 s: {response.Headers.RetryAfter}");
            return problem;
        }
    }
}
