using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Llm;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// Research jobs against the real LLM client and two loopback fakes (an OpenAI-compatible API and SearXNG): the stages
/// and events, progress, every billed token counted and priced, the budget, and cancel during the answer.
/// </summary>
public sealed class ResearchJobTests : IAsyncLifetime
{
    private const decimal InputPrice = 2.5m, CachedPrice = 1.25m, OutputPrice = 10m;
    private const string AnswerText = "Grains are virtual actors [1]. They are placed on demand [2][99]. See [x].";
    private readonly TempDatabase _database = new();
    private FakeOpenAi _llm = null!;
    private FakeSearxng _searxng = null!;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _llm = await FakeOpenAi.StartAsync(new FakeOpenAiOptions());
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Net:AllowListOnly"] = "true",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Llm:DefaultProvider"] = "main",
            ["Llm:Providers:main:BaseUrl"] = _llm.ApiBaseUrl.ToString(),
            ["Llm:Providers:main:Model"] = "main-model",
            ["Llm:Prices:main-model:InputPerMillion"] = "2.5",
            ["Llm:Prices:main-model:CachedInputPerMillion"] = "1.25",
            ["Llm:Prices:main-model:OutputPerMillion"] = "10",
            // Small pieces, so the answer streams as several deltas.
            ["Research:AnswerDeltaChars"] = "10",
        };
        _cluster = SearchClusterFixture.Build(1, settings);
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _llm.DisposeAsync();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }

    /// <summary>JSON asked for: the expansion's sub-queries; otherwise the answer, with cached and reasoning tokens billed.</summary>
    private static FakeOpenAiReply Script(FakeOpenAiRequest request, string marker) => request.ResponseFormat is not null
        ? FakeOpenAiReply.Of(JsonSerializer.Serialize(new { queries = new[] { $"{marker} sub one", $"{marker} SUB one?", $"{marker} sub two" } }))
        : new FakeOpenAiReply(AnswerText, CachedInputTokens: 4, ReasoningTokens: 7);

    private static JobSubmission Research(string question, JobBudget? budget = null) => TestJobs.Submission([question], pages: 2) with
    {
        Mode = JobModes.Research,
        ExpandCount = 3,
        ReadCount = 2,
        Answer = true,
        Llm = "main",
        Budget = budget,
    };

    private async Task<JobStatus> EndAsync(ISearchJobGrain job) => (await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", false),
        s => JobStates.IsTerminal(s!.Status), "the job's end", TimeSpan.FromSeconds(90)))!;

    [Fact]
    public async Task A_resume_during_the_expansion_does_not_keep_the_search_from_starting()
    {
        var marker = $"resume-{Guid.NewGuid():N}";
        var expansion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _llm.Options.Reply = r => r.ResponseFormat is not null ? Script(r, marker) with { Hold = expansion.Task } : Script(r, marker);
        var submission = Research($"{marker} how do grains work");
        var job = _cluster.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        await Eventually.TrueAsync(() => _llm.RequestsSnapshot().Any(r => r.Messages.Any(m => m.Content.Contains(marker, StringComparison.Ordinal))),
            "the expansion's call to be in flight");

        // A sweep's poke while the expansion runs: there is nothing to start yet, and that start ends at once. It must not
        // be taken for a start still running, which the search stage would then join instead of starting its queries.
        Assert.True(await job.ResumeAsync());
        expansion.SetResult();

        var done = await EndAsync(job);
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal(3, done.Queries.Count);
        Assert.All(done.Queries, q => Assert.Equal((1, 1), (_searxng.RequestsFor(q.Query, 1), _searxng.RequestsFor(q.Query, 2))));
    }

    [Fact]
    public async Task A_research_job_expands_searches_reads_and_answers_with_every_billed_token_counted_and_priced()
    {
        var marker = $"research-{Guid.NewGuid():N}";
        _llm.Options.Reply = r => Script(r, marker);
        var submission = Research($"{marker} how do grains work");
        var job = _cluster.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        var done = await EndAsync(job);

        Assert.Equal((JobStates.Completed, 100.0, false), (done.Status, done.Progress, done.BudgetExhausted));
        Assert.Equal([StageNames.Expand, StageNames.Search, StageNames.Read, StageNames.Answer], done.Stages.Select(s => s.Name));
        Assert.All(done.Stages, s => Assert.Equal(StageStates.Completed, s.Status));
        // The original first; the normalized duplicate dropped.
        Assert.Equal([submission.Queries[0], $"{marker} sub one", $"{marker} sub two"], done.Queries.Select(q => q.Query));
        Assert.Equal([QueryOrigins.User, QueryOrigins.Expand, QueryOrigins.Expand], done.Queries.Select(q => q.Origin));
        foreach (var query in done.Queries)
        {
            Assert.Equal((1, 1), (_searxng.RequestsFor(query.Query, 1), _searxng.RequestsFor(query.Query, 2)));
        }
        Assert.Equal(2, _llm.TotalRequests);

        // Nothing was read (no page reader), so the answer cites the top snippets: [99] points at none and is dropped.
        Assert.Equal([1, 2], done.Citations.Select(c => c.N));
        Assert.DoesNotContain("[99]", done.Answer);
        Assert.Contains("[x]", done.Answer);
        Assert.Contains("[1]", done.Answer);

        var events = (await job.GetEventsAsync("tester", 0))!.Events;
        var deltas = events.Where(e => e.Type == JobEventTypes.AnswerDelta).ToList();
        Assert.True(deltas.Count > 1, "the answer streams in pieces");
        Assert.Equal(done.Answer, string.Concat(deltas.Select(d => d.Text)));
        Assert.Equal(deltas.Select(d => d.Offset!.Value), deltas.Select((d, i) => deltas.Take(i).Sum(p => p.Text!.Length)));
        var expanded = Assert.Single(events, e => e.Type == JobEventTypes.ExpandCompleted);
        Assert.Equal(done.Queries.Select(q => q.Query), expanded.Queries!);
        Assert.Equal(["expand", "search", "read", "answer"], events.Where(e => e.Type == JobEventTypes.StageStarted).Select(e => e.Stage!));
        Assert.Equal(events.Select(e => e.Progress).Order(), events.Select(e => e.Progress));
        Assert.All(events.SkipLast(1), e => Assert.True(e.Progress < 100));

        // Every token the fake billed, and nothing else, at the configured prices.
        var tokens = done.Stats.Tokens;
        Assert.Equal((_llm.BilledInputTokens, _llm.BilledCachedTokens, _llm.BilledOutputTokens, _llm.BilledReasoningTokens),
            (tokens.Input, tokens.CachedInput, tokens.Output, tokens.Reasoning));
        Assert.Equal((4L, 7L), (tokens.CachedInput, tokens.Reasoning));
        var expected = ((_llm.BilledInputTokens - _llm.BilledCachedTokens) * InputPrice + _llm.BilledCachedTokens * CachedPrice
            + _llm.BilledOutputTokens * OutputPrice) / 1_000_000m;
        Assert.Equal(expected, done.Stats.CostUsd);
        Assert.Equal(done.Stats.CostUsd, done.Stages.Sum(s => s.CostUsd));
        Assert.Equal(7, done.Stages.Single(s => s.Name == StageNames.Answer).Tokens.Reasoning);
    }

    [Fact]
    public async Task With_a_budget_too_small_for_the_answer_no_call_passes_it_and_the_job_completes_out_of_budget()
    {
        var marker = $"budget-{Guid.NewGuid():N}";
        _llm.Options.Reply = r => Script(r, marker);
        // The expansion's worst case (prompt + 400) fits; the answer's (prompt + 1500) cannot.
        var submission = Research($"{marker} budget", new JobBudget { MaxTokens = 1200 });
        var job = _cluster.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        var before = _llm.TotalRequests;
        await job.SubmitAsync(submission);
        var done = await EndAsync(job);

        Assert.Equal((JobStates.Completed, true, (string?)null), (done.Status, done.BudgetExhausted, done.Answer));
        Assert.Equal(StageStates.Completed, done.Stages.Single(s => s.Name == StageNames.Expand).Status);
        Assert.Equal(StageStates.Skipped, done.Stages.Single(s => s.Name == StageNames.Answer).Status);
        var requests = _llm.RequestsSnapshot().Where(r => r.LastUserContent.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.Single(requests);
        Assert.Equal(before + 1, _llm.TotalRequests);
        Assert.True(done.Stats.Tokens.Total <= 1200, $"billed {done.Stats.Tokens.Total} tokens against a budget of 1200");
    }

    [Fact]
    public async Task Cancel_during_the_answer_aborts_its_stream_and_no_LLM_call_starts_after()
    {
        var marker = $"cancel-{Guid.NewGuid():N}";
        _llm.Options.Reply = r => r.ResponseFormat is not null ? Script(r, marker) : FakeOpenAiReply.Of(AnswerText) with { TimeToFirstToken = TimeSpan.FromMinutes(2) };
        var submission = Research($"{marker} cancel");
        var job = _cluster.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        int Mine() => _llm.RequestsSnapshot().Count(r => r.Messages.Any(m => m.Content.Contains(marker, StringComparison.Ordinal)));
        await Eventually.ReturnsAsync(() => Task.FromResult(Mine()), n => n == 2, "the answer's call at the fake", TimeSpan.FromSeconds(60));
        var aborted = _llm.AbortedRequests;

        var cancelled = await job.CancelAsync("tester");
        Assert.Equal(JobStates.Cancelled, cancelled!.Status);
        await Eventually.ReturnsAsync(() => Task.FromResult(_llm.AbortedRequests), n => n == aborted + 1, "the answer's stream aborted at the fake",
            TimeSpan.FromSeconds(10));
        var status = await job.GetStatusAsync("tester", false);
        Assert.Equal((JobStates.Cancelled, 2), (status!.Status, Mine()));
    }
}
