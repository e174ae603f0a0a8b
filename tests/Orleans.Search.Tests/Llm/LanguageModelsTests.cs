using System.Diagnostics;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Llm;
using Orleans.Search.Tests.Infrastructure;

namespace Orleans.Search.Tests.Llm;

/// <summary>The LLM client in a real silo against the loopback OpenAI-compatible fake, over real HTTP.</summary>
[Collection(LlmClusterCollection.Name)]
public sealed class LanguageModelsTests(LlmClusterFixture fixture)
{
    private const string Story = "The quick brown fox jumps over the lazy dog, and the dog, unbothered, keeps sleeping in the warm afternoon sun.";

    private static LlmRequest Ask(string provider = "main", string question = "Tell me about foxes.", int maxOutput = 400, string? caller = null) => new()
    {
        Provider = provider,
        Messages = [new("system", "You are terse."), new("user", question)],
        MaxOutputTokens = maxOutput,
        Caller = caller,
    };

    private static async Task<(List<string> Deltas, LlmCompleted Completed)> RunAsync(ILanguageModels models, LlmRequest request, CancellationToken cancellationToken = default)
    {
        var deltas = new List<string>();
        LlmCompleted? completed = null;
        await foreach (var update in models.StreamAsync(request, cancellationToken))
        {
            switch (update)
            {
                case LlmTextDelta delta:
                    Assert.Null(completed);
                    deltas.Add(delta.Text);
                    break;
                case LlmCompleted done:
                    Assert.Null(completed);
                    completed = done;
                    break;
            }
        }
        Assert.NotNull(completed);
        return (deltas, completed);
    }

    private static TokenUsage Bill(FakeOpenAi fake) => new()
    {
        Input = fake.BilledInputTokens,
        CachedInput = fake.BilledCachedTokens,
        Output = fake.BilledOutputTokens,
        Reasoning = fake.BilledReasoningTokens,
    };

    [Fact]
    public async Task Streamed_deltas_arrive_in_order_and_the_usage_equals_the_fakes_bill()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => new FakeOpenAiReply(Story, CachedInputTokens: 6, ReasoningTokens: 9);
        var request = Ask();

        var (deltas, completed) = await RunAsync(fixture.Models, request);

        Assert.True(deltas.Count > 10, $"one delta per token expected, got {deltas.Count}");
        Assert.Equal(Story, string.Concat(deltas));
        var sent = Assert.Single(fake.RequestsSnapshot());
        Assert.True(sent.Stream);
        Assert.True(sent.IncludeUsage);
        Assert.Equal("main-model", sent.Model);
        Assert.Equal(400, sent.MaxTokens);
        Assert.Equal($"Bearer {LlmClusterFixture.ApiKey}", sent.Authorization);
        Assert.Equal(["system", "user"], sent.Messages.Select(m => m.Role));

        var bill = Bill(fake);
        Assert.Equal(bill, completed.Usage with { Estimated = false });
        Assert.False(completed.Usage.Estimated);
        Assert.Equal(6, completed.Usage.CachedInput);
        Assert.Equal(9, completed.Usage.Reasoning);
        Assert.Equal(FakeOpenAi.CountTokens(Story) + 9, completed.Usage.Output);
        Assert.Equal("stop", completed.FinishReason);
        Assert.Equal("main-model", completed.Model);
        // The client's prompt estimate (its limiter reservation) is the prompt the fake billed.
        Assert.Equal(sent.PromptTokens, fixture.Models.EstimatePromptTokens("main", request.Messages));

        // Cost: uncached input, cached input and output (reasoning included) at the configured prices.
        var expected = ((bill.Input - bill.CachedInput) * LlmClusterFixture.InputPrice + bill.CachedInput * LlmClusterFixture.CachedPrice
            + bill.Output * LlmClusterFixture.OutputPrice) / 1_000_000m;
        Assert.Equal(expected, fixture.Models.CostUsd("main", completed.Usage));
        Assert.True(expected > 0);
        var info = fixture.Models.Describe("main");
        Assert.Equal(new LlmModelInfo("main", "main-model", LlmClusterFixture.InputPrice, LlmClusterFixture.CachedPrice, LlmClusterFixture.OutputPrice), info);
        Assert.Equal("main", fixture.Models.DefaultProvider);
        Assert.Throws<KeyNotFoundException>(() => fixture.Models.Describe("nope"));
    }

    [Fact]
    public async Task A_provider_configured_without_streaming_gets_one_body_and_its_usage()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => new FakeOpenAiReply(Story, CachedInputTokens: 3);

        var (deltas, completed) = await RunAsync(fixture.Models, Ask("plain"));

        Assert.Equal([Story], deltas);
        var sent = Assert.Single(fake.RequestsSnapshot());
        Assert.False(sent.Stream);
        Assert.Equal(Bill(fake), completed.Usage);
        Assert.Equal(3, completed.Usage.CachedInput);
    }

    [Fact]
    public async Task Keep_alive_comments_before_the_first_chunk_are_skipped()
    {
        var fake = fixture.FreshFake();
        fake.Options.KeepAliveComments = true;
        fake.Options.Reply = _ => FakeOpenAiReply.Of(Story);

        var (deltas, completed) = await RunAsync(fixture.Models, Ask());

        Assert.Equal(Story, string.Concat(deltas));
        Assert.Equal(Bill(fake), completed.Usage);
    }

    [Fact]
    public async Task Json_output_asks_for_json_object_or_a_schema_and_returns_the_text_as_sent()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = r => r.ResponseFormat == "json_schema" ? FakeOpenAiReply.Of("""{"queries":["a","b"]}""") : FakeOpenAiReply.Of("""{"queries": [""");

        var (objectDeltas, _) = await RunAsync(fixture.Models, Ask(question: "Answer in JSON: list queries.") with { JsonOutput = true });
        var schema = """{"type":"object","properties":{"queries":{"type":"array","items":{"type":"string"}}},"required":["queries"],"additionalProperties":false}""";
        var (schemaDeltas, _) = await RunAsync(fixture.Models, Ask(question: "List queries.") with { JsonOutput = true, JsonSchema = schema });

        var requests = fake.RequestsSnapshot();
        Assert.Equal("json_object", requests[0].ResponseFormat);
        Assert.Equal("json_schema", requests[1].ResponseFormat);
        Assert.Equal("response", requests[1].JsonSchemaName);
        // Bad JSON is the model's answer: the client passes it on as it came, and the stage that asked judges it.
        Assert.Equal("""{"queries": [""", string.Concat(objectDeltas));
        using var parsed = JsonDocument.Parse(string.Concat(schemaDeltas));
        Assert.Equal(2, parsed.RootElement.GetProperty("queries").GetArrayLength());
    }

    [Fact]
    public async Task A_429_rate_limit_is_retried_after_its_retry_after_and_pauses_the_limiter()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = r => r.Index == 1 ? FakeOpenAiReply.Failing(FakeOpenAiFaultKind.RateLimited, retryAfterSeconds: 1) : FakeOpenAiReply.Of(Story);
        var limiter = fixture.Cluster.Client.GetGrain<ILlmLimiterGrain>("llm:main");
        var throttledBefore = (await limiter.GetSnapshotAsync()).Throttled;

        var (deltas, completed) = await RunAsync(fixture.Models, Ask());

        Assert.Equal(Story, string.Concat(deltas));
        var requests = fake.RequestsSnapshot();
        Assert.Equal(2, requests.Count);
        var waited = requests[1].ArrivedAt - requests[0].ArrivedAt;
        Assert.True(waited >= TimeSpan.FromMilliseconds(990), $"the retry came {waited.TotalMilliseconds:0} ms after the 429 that asked for 1000 ms");
        Assert.Equal(throttledBefore + 1, (await limiter.GetSnapshotAsync()).Throttled);
        // A refused request is billed nothing.
        Assert.Equal(Bill(fake), completed.Usage);
    }

    [Fact]
    public async Task Insufficient_quota_is_not_retried()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => FakeOpenAiReply.Failing(FakeOpenAiFaultKind.InsufficientQuota);

        var error = await Assert.ThrowsAsync<LlmException>(() => RunAsync(fixture.Models, Ask()));

        Assert.Equal(429, error.StatusCode);
        Assert.Equal("insufficient_quota", error.Code);
        Assert.Equal("main", error.Provider);
        Assert.Equal(TokenUsage.None, error.Usage);
        Assert.Single(fake.RequestsSnapshot());
    }

    [Fact]
    public async Task A_wrong_api_key_is_a_401_that_is_not_retried()
    {
        var fake = fixture.FreshFake();

        var error = await Assert.ThrowsAsync<LlmException>(() => RunAsync(fixture.Models, Ask("wrongkey")));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("invalid_api_key", error.Code);
        Assert.Equal(1, fake.ResponsesWithStatus(401));
        Assert.Equal(1, fake.TotalRequests);
        Assert.DoesNotContain("sk-wrong", error.Message);
    }

    [Fact]
    public async Task A_500_is_retried_with_backoff()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = r => r.Index <= 2 ? FakeOpenAiReply.Failing(FakeOpenAiFaultKind.ServerError) : FakeOpenAiReply.Of(Story);

        var (deltas, completed) = await RunAsync(fixture.Models, Ask());

        Assert.Equal(Story, string.Concat(deltas));
        Assert.Equal(3, fake.RequestsSnapshot().Count);
        Assert.Equal(2, fake.ResponsesWithStatus(500));
        Assert.Equal(Bill(fake), completed.Usage);
    }

    [Fact]
    public async Task Three_500s_fail_the_call_after_its_attempts()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => FakeOpenAiReply.Failing(FakeOpenAiFaultKind.ServerError);

        var error = await Assert.ThrowsAsync<LlmException>(() => RunAsync(fixture.Models, Ask()));

        Assert.Equal(500, error.StatusCode);
        Assert.Equal(3, fake.TotalRequests);
    }

    [Fact]
    public async Task A_slow_first_token_within_the_timeout_is_waited_for()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => new FakeOpenAiReply(Story, TimeToFirstToken: TimeSpan.FromSeconds(1.5));

        var (deltas, completed) = await RunAsync(fixture.Models, Ask());

        Assert.Equal(Story, string.Concat(deltas));
        Assert.Equal(1, fake.TotalRequests);
        Assert.Equal(Bill(fake), completed.Usage);
    }

    [Fact]
    public async Task A_first_token_later_than_the_timeout_aborts_the_attempt_and_retries_counting_the_abandoned_prompt()
    {
        var fake = fixture.FreshFake();
        // The provider's timeout is 4 s: the first attempt's first token would come after 30 s.
        fake.Options.Reply = r => new FakeOpenAiReply(Story, TimeToFirstToken: r.Index == 1 ? TimeSpan.FromSeconds(30) : TimeSpan.Zero);

        var (deltas, completed) = await RunAsync(fixture.Models, Ask());

        Assert.Equal(Story, string.Concat(deltas));
        Assert.Equal(2, fake.TotalRequests);
        await Eventually.TrueAsync(() => fake.BillsSnapshot().Count == 2, "the fake's bill of the abandoned attempt");
        Assert.Equal(1, fake.AbortedRequests);
        // The abandoned attempt's prompt was billed; the client counted it (estimated, with the same tokenizer).
        Assert.Equal(Bill(fake), completed.Usage with { Estimated = false });
        Assert.True(completed.Usage.Estimated);
    }

    [Fact]
    public async Task A_stream_cut_mid_answer_fails_with_the_usage_known_so_far()
    {
        var fake = fixture.FreshFake();
        fake.Options.Reply = _ => FakeOpenAiReply.CutAfter(Story, tokens: 5);
        var deltas = new List<string>();

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var update in fixture.Models.StreamAsync(Ask(), CancellationToken.None))
            {
                deltas.Add(((LlmTextDelta)update).Text);
            }
        });

        Assert.Equal(5, deltas.Count);
        Assert.Equal(1, fake.TotalRequests); // text was handed out: no retry
        Assert.Equal(1, fake.CutResponses);
        Assert.Equal("stream_cut", error.Code);
        var bill = Assert.Single(fake.BillsSnapshot());
        Assert.True(bill.Cut);
        Assert.Equal(5, bill.CompletionTokens);
        Assert.True(error.Usage.Estimated);
        Assert.Equal(bill.PromptTokens, error.Usage.Input);
        Assert.Equal(bill.CompletionTokens, error.Usage.Output);
    }

    [Fact]
    public async Task Cancelling_aborts_the_stream_at_once()
    {
        var fake = fixture.FreshFake();
        fake.Options.TokensPerSecond = 5; // the whole answer would take over a minute
        var longText = string.Concat(Enumerable.Repeat(Story + " ", 4));
        fake.Options.Reply = _ => FakeOpenAiReply.Of(longText);
        using var cancel = new CancellationTokenSource();
        var deltas = 0;
        var clock = new Stopwatch();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in fixture.Models.StreamAsync(Ask(), cancel.Token))
            {
                if (update is LlmTextDelta && ++deltas == 2)
                {
                    clock.Start();
                    await cancel.CancelAsync();
                }
            }
        });
        var returnedAfter = clock.Elapsed;

        // "At once": the enumeration ends on the cancel and the server sees its client gone, well before the next tokens
        // (200 ms apart) would have made much progress; 5 s is generous for a loaded machine and far below the minute left.
        Assert.True(returnedAfter < TimeSpan.FromSeconds(5), $"the call returned {returnedAfter.TotalMilliseconds:0} ms after the cancel");
        await Eventually.TrueAsync(() => fake.AbortedRequests == 1, "the fake to see the stream aborted", TimeSpan.FromSeconds(5));
        var bill = Assert.Single(fake.BillsSnapshot());
        Assert.True(bill.Aborted);
        Assert.True(bill.CompletionTokens < FakeOpenAi.CountTokens(longText) / 2);
        var canceled = Assert.IsType<LlmCallCanceledException>(error);
        Assert.Equal(bill.PromptTokens, canceled.Usage.Input);
        Assert.InRange(canceled.Usage.Output, 2, bill.CompletionTokens);
        Assert.Equal(1, fake.TotalRequests);
    }

    [Fact]
    public async Task A_provider_that_reports_no_usage_is_counted_with_the_tokenizer_and_flagged()
    {
        var fake = fixture.FreshFake();
        fake.Options.ReportUsage = false;
        fake.Options.Reply = _ => FakeOpenAiReply.Of(Story);

        var (_, streamed) = await RunAsync(fixture.Models, Ask());
        var (_, plain) = await RunAsync(fixture.Models, Ask("plain"));

        Assert.True(streamed.Usage.Estimated);
        Assert.True(plain.Usage.Estimated);
        var bills = fake.BillsSnapshot();
        Assert.Equal(2, bills.Count);
        Assert.All(bills, b => Assert.Equal(FakeOpenAi.CountTokens(Story), b.CompletionTokens));
        Assert.Equal(bills[0].PromptTokens, streamed.Usage.Input);
        Assert.Equal(bills[0].CompletionTokens, streamed.Usage.Output);
        Assert.Equal(bills[1].PromptTokens, plain.Usage.Input);
        Assert.Equal(bills[1].CompletionTokens, plain.Usage.Output);
    }

    [Fact]
    public async Task Three_users_at_once_never_exceed_the_providers_requests_or_tokens_per_minute()
    {
        var fake = fixture.FreshFake();
        // The fake polices the same quota the provider is configured with: 60 requests and 6000 tokens a minute, 5 s of each at once.
        fake.Options.RequestsPerMinute = 60;
        fake.Options.TokensPerMinute = 6000;
        fake.Options.BurstSeconds = 5;
        fake.Options.TokensPerSecond = 400;
        fake.Options.Reply = r => FakeOpenAiReply.Of(string.Concat(Enumerable.Repeat("Fox facts for " + r.LastUserContent + ". ", 3)));
        const int callsPerUser = 5;
        var clock = Stopwatch.StartNew();

        var users = Enumerable.Range(1, 3).Select(user => Task.Run(async () =>
        {
            var usages = new List<TokenUsage>();
            for (var i = 0; i < callsPerUser; i++)
            {
                var (_, completed) = await RunAsync(fixture.Models, Ask("quota", $"user {user} question {i}", maxOutput: 120, caller: $"user-{user}"));
                usages.Add(completed.Usage);
            }
            return usages;
        })).ToList();
        var results = await Task.WhenAll(users);

        Assert.True(fake.QuotaRejections == 0, "the fake's quota was exceeded:\n" + string.Join("\n", fake.QuotaRejectionsSnapshot()));
        Assert.Equal(0, fake.RateLimitedResponses);
        Assert.Equal(3 * callsPerUser, fake.TotalRequests);
        Assert.All(results, r => Assert.Equal(callsPerUser, r.Count));
        // The limiter had to hold calls back: 15 requests at 1 a second after a burst of 5 take about 10 s.
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(8), $"all calls done in {clock.Elapsed.TotalSeconds:0.0} s: the quota was never binding");
        var total = results.SelectMany(r => r).Aggregate(TokenUsage.None, (a, b) => a + b);
        Assert.Equal(Bill(fake), total);
    }
}
