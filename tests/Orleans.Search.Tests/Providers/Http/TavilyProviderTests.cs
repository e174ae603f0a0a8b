using System.Text.Json;
using Orleans.Search.Fakes.Providers;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>The <c>tavily</c> adapter against its loopback fake of Tavily's <c>/search</c>.</summary>
public sealed class TavilyProviderTests() : HttpProviderTestBase<FakeTavily>("tavily", FakeTavily.StartAsync)
{
    [Fact]
    public async Task Results_map_and_page_two_asks_for_twenty_and_keeps_the_second_ten()
    {
        AssertPage(await SearchAsync("orleans grains", page: 2), "orleans grains", 2);

        var request = Assert.Single(Fake.Requests);
        Assert.Equal(("POST", "/search"), (request.Method, request.PathAndQuery));
        Assert.Equal("Bearer " + FakeProviderServer.ValidKey, request.Header("Authorization"));
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("orleans grains", body.RootElement.GetProperty("query").GetString());
        Assert.Equal(20, body.RootElement.GetProperty("max_results").GetInt32());
    }

    [Fact]
    public async Task Pages_past_twenty_results_are_empty_without_a_call()
    {
        Assert.Empty((await SearchAsync("deep", page: 3)).Hits);
        Assert.Empty(Fake.Requests);
    }

    [Fact]
    public async Task A_429_is_transient_with_its_wait_plan_limits_and_bad_keys_are_not()
    {
        Fake.RetryAfterSeconds = 5;
        var busy = await FailsAsync("q", FakeProviderFault.RateLimited);
        Assert.Equal((429, true, TimeSpan.FromSeconds(5)), (busy.StatusCode, busy.IsTransient, busy.RetryAfter));
        Assert.Contains("excessive requests", busy.Message);

        var plan = await FailsAsync("q", FakeProviderFault.OutOfCredit);
        Assert.Equal((432, false), (plan.StatusCode, plan.IsTransient));
        Assert.Contains("usage limit", plan.Message);

        var server = await FailsAsync("q", FakeProviderFault.ServerError);
        Assert.Equal((500, true), (server.StatusCode, server.IsTransient));

        await using var wrong = Create("not-the-key");
        var key = await Assert.ThrowsAsync<ProviderException>(() => wrong.Provider("tavily").SearchAsync(new("q", 1, 10), CancellationToken.None));
        Assert.Equal((401, false), (key.StatusCode, key.IsTransient));
    }

    [Fact]
    public Task A_missing_key_fails_at_once() => A_missing_key_is_refused_before_any_call();
}
