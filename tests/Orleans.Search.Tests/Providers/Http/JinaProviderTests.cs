using Orleans.Search.Fakes.Providers;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>The <c>jina</c> adapter against its loopback fake of s.jina.ai.</summary>
public sealed class JinaProviderTests() : HttpProviderTestBase<FakeJina>("jina", FakeJina.StartAsync)
{
    [Fact]
    public async Task Results_map_and_pages_pass_through_with_the_key_and_no_page_content()
    {
        AssertPage(await SearchAsync("orleans grains", page: 2), "orleans grains", 2);

        var request = Assert.Single(Fake.Requests);
        Assert.Equal(("orleans grains", "10", "2"), (request.Query("q"), request.Query("num"), request.Query("page")));
        Assert.Equal("Bearer " + FakeProviderServer.ValidKey, request.Header("Authorization"));
        Assert.Equal("application/json", request.Header("Accept"));
        Assert.Equal("no-content", request.Header("X-Respond-With"));
    }

    [Fact]
    public async Task A_page_past_the_results_is_empty() =>
        Assert.Empty((await SearchAsync("few", page: 6)).Hits);

    [Fact]
    public async Task A_429_is_transient_and_waits_what_Retry_After_says()
    {
        Fake.RetryAfterSeconds = 7;
        var error = await FailsAsync("busy", FakeProviderFault.RateLimited);
        Assert.Equal((429, true, TimeSpan.FromSeconds(7)), (error.StatusCode, error.IsTransient, error.RetryAfter));
        Assert.Contains("RateLimitTriggeredError 42903", error.Message);
    }

    [Fact]
    public async Task A_429_without_the_header_waits_what_the_body_says()
    {
        Fake.RetryAfterSeconds = 4;
        Fake.OmitRetryAfterHeader = true;
        var error = await FailsAsync("busy", FakeProviderFault.RateLimited);
        Assert.Equal(TimeSpan.FromSeconds(4), error.RetryAfter);
    }

    [Fact]
    public async Task A_bad_key_and_no_credit_are_not_retried_a_503_is()
    {
        Assert.Equal((401, false), await Outcome(FakeProviderFault.BadKey));
        Assert.Equal((402, false), await Outcome(FakeProviderFault.OutOfCredit));
        Assert.Equal((503, true), await Outcome(FakeProviderFault.ServerError));

        async Task<(int?, bool)> Outcome(FakeProviderFault fault)
        {
            var error = await FailsAsync("q", fault);
            return (error.StatusCode, error.IsTransient);
        }
    }

    [Fact]
    public async Task A_wrong_key_gets_the_providers_401_with_its_message()
    {
        await using var wrong = Create("not-the-key");
        var error = await Assert.ThrowsAsync<ProviderException>(() => wrong.Provider("jina").SearchAsync(new("q", 1, 10), CancellationToken.None));
        Assert.Equal((401, false), (error.StatusCode, error.IsTransient));
        Assert.Contains("Authentication is required", error.Message);
    }

    [Fact]
    public Task A_missing_key_fails_at_once() => A_missing_key_is_refused_before_any_call();
}
