using Orleans.Search.Fakes.Providers;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>The <c>brave</c> adapter against its loopback fake of the Brave web search API.</summary>
public sealed class BraveProviderTests() : HttpProviderTestBase<FakeBrave>("brave", FakeBrave.StartAsync)
{
    [Fact]
    public async Task Results_map_without_highlight_markup_and_pages_become_a_zero_based_offset()
    {
        AssertPage(await SearchAsync("orleans grains", page: 3), "orleans grains", 3);

        var request = Assert.Single(Fake.Requests);
        Assert.Equal("/res/v1/web/search", request.PathAndQuery[..request.PathAndQuery.IndexOf('?')]);
        Assert.Equal(("orleans grains", "10", "2"), (request.Query("q"), request.Query("count"), request.Query("offset")));
        Assert.Equal(FakeProviderServer.ValidKey, request.Header("X-Subscription-Token"));
    }

    [Fact]
    public async Task Pages_past_brave_s_last_offset_are_empty_without_a_call()
    {
        Assert.Empty((await SearchAsync("deep", page: 11)).Hits);
        Assert.Empty(Fake.Requests);
    }

    [Fact]
    public async Task A_result_page_without_web_results_is_empty()
    {
        Fake.TotalResults = 0;
        Assert.Empty((await SearchAsync("nothing")).Hits);
    }

    [Fact]
    public async Task A_429_without_Retry_After_waits_for_the_window_that_is_used_up()
    {
        // Per second used up (resets in 2 s); the month still has calls left.
        Fake.ThrottledWindows = ("0, 13999", "2, 1419704");
        var perSecond = await FailsAsync("busy", FakeProviderFault.RateLimited);
        Assert.Equal((429, true, TimeSpan.FromSeconds(2)), (perSecond.StatusCode, perSecond.IsTransient, perSecond.RetryAfter));
        Assert.Contains("RATE_LIMITED", perSecond.Message);

        // The month used up: its reset is the wait, cut to Search:MaxPauseSeconds (300 s by default).
        Fake.ThrottledWindows = ("1, 0", "1, 1419704");
        var monthly = await FailsAsync("busy", FakeProviderFault.RateLimited);
        Assert.Equal(TimeSpan.FromSeconds(300), monthly.RetryAfter);
    }

    [Fact]
    public async Task A_success_that_uses_up_a_window_holds_the_next_call_as_a_429_without_sending_it()
    {
        Fake.Remaining = "0, 13000";
        Fake.Reset = "3, 1419704";
        await SearchAsync("last one");

        var held = await Assert.ThrowsAsync<ProviderException>(() => SearchAsync("next"));
        Assert.Equal((429, true), (held.StatusCode, held.IsTransient));
        Assert.InRange(held.RetryAfter!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
        Assert.Contains("not sent", held.Message);
        Assert.Single(Fake.Requests);
    }

    [Fact]
    public async Task A_bad_token_is_brave_s_422_and_not_retried_a_500_is()
    {
        await using var wrong = Create("not-the-key");
        var error = await Assert.ThrowsAsync<ProviderException>(() => wrong.Provider("brave").SearchAsync(new("q", 1, 10), CancellationToken.None));
        Assert.Equal((422, false), (error.StatusCode, error.IsTransient));
        Assert.Contains("SUBSCRIPTION_TOKEN_INVALID", error.Message);

        var server = await FailsAsync("q", FakeProviderFault.ServerError);
        Assert.Equal((500, true), (server.StatusCode, server.IsTransient));
        var quota = await FailsAsync("q", FakeProviderFault.OutOfCredit);
        Assert.Equal((402, false), (quota.StatusCode, quota.IsTransient));
    }

    [Fact]
    public Task A_missing_key_fails_at_once() => A_missing_key_is_refused_before_any_call();
}
