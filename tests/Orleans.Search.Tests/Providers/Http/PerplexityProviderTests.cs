using System.Text.Json;
using Orleans.Search.Fakes.Providers;
using Orleans.Search.Providers;
using Orleans.Search.Providers.Perplexity;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>The <c>perplexity</c> adapter against its loopback fake of Sonar chat completions.</summary>
public sealed class PerplexityProviderTests() : HttpProviderTestBase<FakePerplexity>("perplexity", FakePerplexity.StartAsync)
{
    [Fact]
    public async Task The_answer_is_the_first_result_then_the_search_results_and_the_usage_is_on_the_page()
    {
        var page = await SearchAsync("orleans grains");

        Assert.Equal(6, page.Hits.Count);
        var answer = page.Hits[0];
        Assert.StartsWith(PerplexitySearchProvider.AnswerUrnPrefix, answer.Url);
        Assert.Equal(FakePerplexity.Answer("orleans grains"), answer.Snippet);
        Assert.Equal("Perplexity answer: orleans grains", answer.Title);
        for (var n = 1; n <= 5; n++)
        {
            Assert.Equal((FakeProviderServer.ResultUrl("orleans grains", n), FakeProviderServer.ResultTitle("orleans grains", n), FakeProviderServer.ResultSnippet("orleans grains", n)),
                (page.Hits[n].Url, page.Hits[n].Title, page.Hits[n].Snippet));
        }
        Assert.NotNull(page.Usage);
        Assert.Equal((FakePerplexity.PromptTokens, FakePerplexity.CompletionTokens, FakePerplexity.ReasoningTokens, false),
            (page.Usage.Input, page.Usage.Output, page.Usage.Reasoning, page.Usage.Estimated));

        var request = Assert.Single(Fake.Requests);
        Assert.Equal(("POST", "/chat/completions"), (request.Method, request.PathAndQuery));
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("sonar", body.RootElement.GetProperty("model").GetString());
        Assert.Equal("orleans grains", body.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Without_search_results_the_citations_become_the_results()
    {
        Fake.CitationsOnly = true;
        var page = await SearchAsync("cited");
        Assert.Equal(6, page.Hits.Count);
        Assert.Equal(Enumerable.Range(1, 5).Select(n => FakeProviderServer.ResultUrl("cited", n)), page.Hits.Skip(1).Select(h => h.Url));
        Assert.All(page.Hits.Skip(1), h => Assert.Equal(h.Url, h.Title));
    }

    [Fact]
    public async Task One_call_answers_a_query_so_later_pages_are_empty_without_a_call()
    {
        var page = await SearchAsync("once", page: 2);
        Assert.Empty(page.Hits);
        Assert.Null(page.Usage);
        Assert.Empty(Fake.Requests);
    }

    [Fact]
    public async Task A_429_waits_for_its_reset_out_of_quota_is_not_retried_and_neither_is_a_bad_key()
    {
        Fake.ResetSeconds = 6;
        var busy = await FailsAsync("q", FakeProviderFault.RateLimited);
        Assert.Equal((429, true, TimeSpan.FromSeconds(6)), (busy.StatusCode, busy.IsTransient, busy.RetryAfter));
        Assert.Contains("request_rate_limit_exceeded", busy.Message);

        var quota = await FailsAsync("q", FakeProviderFault.OutOfCredit);
        Assert.Equal((429, false), (quota.StatusCode, quota.IsTransient));
        Assert.Contains("insufficient_quota", quota.Message);

        var server = await FailsAsync("q", FakeProviderFault.ServerError);
        Assert.Equal((500, true), (server.StatusCode, server.IsTransient));

        await using var wrong = Create("not-the-key");
        var key = await Assert.ThrowsAsync<ProviderException>(() => wrong.Provider("perplexity").SearchAsync(new("q", 1, 10), CancellationToken.None));
        Assert.Equal((401, false), (key.StatusCode, key.IsTransient));
    }

    [Fact]
    public Task A_missing_key_fails_at_once() => A_missing_key_is_refused_before_any_call();
}
