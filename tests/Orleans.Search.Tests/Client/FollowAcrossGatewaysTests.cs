using System.Collections.Concurrent;
using Orleans.Search.Client;
using Orleans.Search.Fakes;
using Orleans.Search.Tests.Cluster;

namespace Orleans.Search.Tests.Client;

/// <summary>
/// <see cref="SearchJobsClient.FollowAsync"/> through two gateway processes (client mode, two silos, PostgreSQL) behind
/// one address, as a load balancer would put them: the gateway serving the stream is SIGKILLed mid-job.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FollowAcrossGatewaysTests
{
    [Fact]
    public async Task FollowAsync_resumes_on_the_other_gateway_after_a_kill_and_yields_every_event_once_in_order()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(100) });
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "2";
        await cluster.StartSilosAsync(2);
        var gateways = await Task.WhenAll(cluster.StartGatewayAsync(), cluster.StartGatewayAsync());
        var (a, b) = (gateways[0], gateways[1]);
        var queries = TestJobs.UniqueQueries("client-failover", 4);
        var balancer = new FirstLiveGateway([a.BaseAddress, b.BaseAddress]);
        using var http = new HttpClient(balancer) { BaseAddress = new Uri("http://search.balancer.invalid/") };
        var client = new SearchJobsClient(http, new SearchClientOptions
        {
            InitialReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromSeconds(2),
        });

        // The provider holds every call until A is dead, so the job cannot end (nor its events be buffered) before the
        // kill: A serves the job's first events, and every page and the end have to come through B.
        cluster.Searxng.Options.CloseGate();
        var jobId = await PostgresCluster.CreateJobAsync(a, queries, pages: 3);
        var received = new List<JobEvent>();
        var killed = false;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await foreach (var e in client.FollowAsync(jobId, cancellationToken: deadline.Token))
            {
                received.Add(e);
                if (!killed && e.Type == JobEventTypes.Started)
                {
                    a.Kill();
                    killed = true;
                    cluster.Searxng.Options.OpenGate();
                }
            }
        }
        finally
        {
            cluster.Searxng.Options.OpenGate();
        }
        Assert.True(killed, "gateway A was never killed");

        // The follower went back through B, carrying on from the last event it had.
        var log = string.Join("; ", balancer.EventRequests.Select(r => $"{r.Gateway.Port}@{r.LastEventId}: {r.Outcome}"));
        var resumes = balancer.EventRequests.Where(r => r.Gateway == b.BaseAddress).ToList();
        Assert.True(resumes.Count > 0, $"A on {a.BaseAddress.Port}, B on {b.BaseAddress.Port}; event requests: {log}");
        Assert.Equal(1, balancer.Refused);
        Assert.All(resumes, r => Assert.True(r.LastEventId > 0, $"resumed with Last-Event-ID {r.LastEventId}; {log}"));

        // Everything the job published, read afterwards from the start, arrived once and in order.
        var all = new List<JobEvent>();
        await foreach (var e in client.FollowAsync(jobId, cancellationToken: deadline.Token))
        {
            all.Add(e);
        }
        Assert.Equal(all.Select(e => (e.Seq, e.Type)), received.Select(e => (e.Seq, e.Type)));
        Assert.Equal(JobEventTypes.Created, received[0].Type);
        Assert.Equal(JobEventTypes.Completed, received[^1].Type);
        Assert.Equal(12, received.Count(e => e.Type == JobEventTypes.PageCompleted));
        TestJobs.AssertWellOrdered(received);
    }

    /// <summary>
    /// Sends each request to the first gateway not marked down, as a load balancer with passive health checks would: a
    /// gateway that refuses a connection is marked down, and that request fails, which the client must ride out itself.
    /// </summary>
    private sealed class FirstLiveGateway(IReadOnlyList<Uri> gateways) : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly ConcurrentDictionary<Uri, bool> _down = new();

        public ConcurrentQueue<EventRequest> EventRequests { get; } = new();

        public int Refused => _down.Count;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var gateway = gateways.First(g => !_down.ContainsKey(g));
            request.RequestUri = new Uri(gateway, request.RequestUri!.PathAndQuery);
            // Every request is logged (-1: no Last-Event-ID), for the failure message.
            var lastEventId = request.Headers.TryGetValues("Last-Event-ID", out var ids)
                ? long.Parse(ids.Single(), System.Globalization.CultureInfo.InvariantCulture)
                : -1;
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                EventRequests.Enqueue(new EventRequest(gateway, lastEventId, ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return response;
            }
            catch (HttpRequestException ex)
            {
                EventRequests.Enqueue(new EventRequest(gateway, lastEventId, ex.Message));
                _down[gateway] = true;
                throw;
            }
        }
    }

    private sealed record EventRequest(Uri Gateway, long LastEventId, string Outcome);
}
