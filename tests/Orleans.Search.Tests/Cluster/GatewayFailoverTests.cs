using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Cluster;

/// <summary>Two gateways (client mode) over two silos; the one serving an event stream is SIGKILLed mid-stream.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GatewayFailoverTests
{
    [Fact]
    public async Task An_event_stream_cut_by_a_killed_gateway_resumes_on_another_with_Last_Event_ID_and_every_event_arrives_once_in_order()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(100) });
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "2";
        await cluster.StartSilosAsync(2);
        var gateways = await Task.WhenAll(cluster.StartGatewayAsync(), cluster.StartGatewayAsync());
        var (a, b) = (gateways[0], gateways[1]);

        var queries = TestJobs.UniqueQueries("gateway-failover", 4);
        var jobId = await PostgresCluster.CreateJobAsync(a, queries, pages: 3);
        var path = $"/api/search-jobs/{jobId}/events";

        // Follow through A; after a few pages freeze the provider (so the job is surely unfinished) and kill A mid-read.
        var received = new List<SseMessage>();
        var killed = false;
        try
        {
            await foreach (var message in SseClient.ReadAsync(a.Http(), path, lastEventId: "0"))
            {
                received.Add(message);
                if (!killed && received.Count(m => m.Event == JobEventTypes.PageCompleted) >= 3)
                {
                    cluster.Searxng.Options.CloseGate();
                    a.Kill();
                    killed = true;
                }
            }
        }
        catch (Exception ex) when (killed && ex is IOException or HttpRequestException)
        {
            // The connection died with the gateway; events already in the socket buffer were read first.
        }
        Assert.True(killed, "the job finished before gateway A could be killed");
        Assert.DoesNotContain(received, m => JobEventTypes.IsTerminal(m.Event));

        // Reconnect to B where we left off; once it answers, let the job run to the end.
        var lastSeen = received[^1].Id!;
        await foreach (var message in SseClient.ReadAsync(b.Http(), path, lastEventId: lastSeen, onConnected: cluster.Searxng.Options.OpenGate))
        {
            received.Add(message);
        }

        // The job's whole event list, read afterwards from the start.
        var all = new List<SseMessage>();
        await foreach (var message in SseClient.ReadAsync(b.Http(), path, lastEventId: "0"))
        {
            all.Add(message);
        }

        var ids = received.Select(m => long.Parse(m.Id!)).ToList();
        Assert.Equal(all.Select(m => long.Parse(m.Id!)), ids);
        Assert.True(ids.Zip(ids.Skip(1)).All(p => p.Second > p.First), $"ids not strictly increasing: {string.Join(",", ids)}");
        Assert.Equal(all.Select(m => m.Event), received.Select(m => m.Event));
        Assert.Equal(JobEventTypes.Completed, received[^1].Event);
        Assert.Equal(12, received.Count(m => m.Event == JobEventTypes.PageCompleted));
        var events = received.Select(m => JsonSerializer.Deserialize<JobEvent>(m.Data, PostgresCluster.Json)!).ToList();
        TestJobs.AssertWellOrdered(events);
    }
}
