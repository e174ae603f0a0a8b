using System.Text.Json.Nodes;

namespace Orleans.Search.Tests.Api;

[Collection(PromiseGatewayCollection.Name)]
public sealed class JobFairnessTests(PromiseGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_small_job_submitted_after_a_big_one_of_the_same_user_waits_for_at_most_one_of_its_calls()
    {
        // The provider's queue is served round-robin across users, then across each user's jobs. So once the small
        // job's call is queued, the big job gets at most one more call before it (besides the one in flight); a plain
        // FIFO would make it wait for all of the big job's calls.
        var gated = fixture.GatedSearxng;
        var big = TestJobs.UniqueQueries("fair big", 8);
        var small = TestJobs.UniqueQueries("fair small", 1);
        var mine = big.Concat(small).ToHashSet();
        gated.Options.CloseGate();
        try
        {
            // Provider 'single' runs one call at a time: one of the big job's calls is held, seven queue behind it.
            await GatewayApi.CreateJobAsync(Http, new { queries = big, provider = "single", cache = false });
            await gated.WaitUntilAsync(f => big.Sum(q => f.RequestsFor(q, 1)) == 1, TimeSpan.FromSeconds(30));
            await Eventually.ReturnsAsync(SingleLimiterAsync, l => (int)l["inFlight"]! == 1 && (int)l["queued"]! == 7, "the big job's other calls queued");

            await GatewayApi.CreateJobAsync(Http, new { queries = small, provider = "single", cache = false });
            await Eventually.ReturnsAsync(SingleLimiterAsync, l => (int)l["queued"]! == 8, "the small job's call queued too");
        }
        finally
        {
            gated.Options.OpenGate();
        }
        await gated.WaitUntilAsync(f => mine.All(q => f.SuccessesFor(q, 1) == 1), TimeSpan.FromSeconds(60));

        var order = gated.ArrivalsSnapshot().Where(a => a.Query is { } q && mine.Contains(q)).Select(a => a.Query!).ToList();
        Assert.Equal(9, order.Count);
        Assert.True(order.IndexOf(small[0]) <= 2, "the small job's call came after " + order.IndexOf(small[0]) + " of the big job's: "
            + string.Join(", ", order.Select(q => small.Contains(q) ? "SMALL" : "big")));
    }

    private async Task<JsonNode> SingleLimiterAsync()
    {
        var limits = await GatewayApi.GetJsonAsync(Http, "/api/rate-limits");
        return limits["providers"]!.AsArray().Single(p => (string?)p!["key"] == "provider:single")!;
    }
}
