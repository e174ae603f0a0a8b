using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// A research job's gateway (embedded silo, SQLite file) killed with SIGKILL while the answer streams, and started again
/// on the same database: only the answer runs again, and the call the crash cut is counted.
/// </summary>
public sealed class ResearchCrashTests : IAsyncLifetime
{
    private const string AnswerText = "Grains are virtual actors [1], activated on demand [2].";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TempDatabase _database = new();
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FakeSearxng _searxng = null!;
    private FakeOpenAi _llm = null!;

    public async Task InitializeAsync()
    {
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        _llm = await FakeOpenAi.StartAsync(new FakeOpenAiOptions());
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        await _llm.DisposeAsync();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }

    [Fact]
    public async Task A_research_job_killed_during_its_answer_runs_only_the_answer_again_and_counts_the_cut_call()
    {
        var marker = $"crash-answer-{Guid.NewGuid():N}";
        var answers = 0;
        _llm.Options.Reply = r => r.ResponseFormat is not null
            ? FakeOpenAiReply.Of(JsonSerializer.Serialize(new { queries = new[] { $"{marker} sub one", $"{marker} sub two" } }))
            // The first answer is held before its first token (its prompt is billed): the process dies while it waits.
            : Interlocked.Increment(ref answers) == 1 ? FakeOpenAiReply.Of(AnswerText) with { Hold = _release.Task } : FakeOpenAiReply.Of(AnswerText);
        var question = $"{marker} how do grains work";
        string jobId;
        var gateway = await StartGatewayAsync();
        try
        {
            var created = await gateway.Http().PostAsJsonAsync("/api/search-jobs", new { query = question, mode = "research", pages = 2 });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            jobId = (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;
            await Eventually.TrueAsync(() => _llm.InFlight == 1 && Volatile.Read(ref answers) == 1, "the answer's call held at the fake");
            var before = await gateway.Http().GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json);
            Assert.Equal((JobStates.Running, (string?)StageNames.Answer), (before!.Status, before.CurrentStep));
            gateway.Kill();
        }
        finally
        {
            await gateway.DisposeAsync();
        }
        await Eventually.TrueAsync(() => _llm.AbortedRequests == 1, "the fake to see the cut answer's stream aborted");
        var searchedBeforeKill = _searxng.RequestCountsSnapshot();

        await using var restarted = await StartGatewayAsync();
        var done = await Eventually.ReturnsAsync(() => restarted.Http().GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json),
            s => JobStates.IsTerminal(s!.Status), "the job to finish after the restart", TimeSpan.FromSeconds(90));

        Assert.Equal((JobStates.Completed, 100.0), (done!.Status, done.Progress));
        Assert.Equal(AnswerText, done.Answer);
        Assert.Equal([1, 2], done.Citations.Select(c => c.N));
        // Nothing but the answer ran again: one expansion call, every page fetched once, and two answer calls (the cut one).
        var requests = _llm.RequestsSnapshot();
        Assert.Equal(1, requests.Count(r => r.ResponseFormat is not null));
        Assert.Equal(2, requests.Count(r => r.ResponseFormat is null));
        Assert.Equal(searchedBeforeKill.OrderBy(p => p.Key).ToList(), _searxng.RequestCountsSnapshot().OrderBy(p => p.Key).ToList());
        Assert.Equal(3 * 2, searchedBeforeKill.Count);
        Assert.All(searchedBeforeKill.Values, n => Assert.Equal(1, n));

        // The cut call billed its prompt and no output; the job counts it from its checkpoint (estimated, the same tokenizer).
        var bills = _llm.BillsSnapshot();
        var cut = Assert.Single(bills, b => b.Aborted);
        Assert.Equal(0, cut.CompletionTokens);
        var tokens = done.Stats.Tokens;
        Assert.Equal((_llm.BilledInputTokens, _llm.BilledOutputTokens), (tokens.Input, tokens.Output));
        Assert.True(tokens.Estimated, "a count from the job's checkpoint is an estimate");
        var answerStage = done.Stages.Single(s => s.Name == StageNames.Answer);
        Assert.Equal(bills.Where(b => requests.Single(r => r.Index == b.Index).ResponseFormat is null).Sum(b => (long)b.PromptTokens), answerStage.Tokens.Input);

        var debug = await restarted.Http().GetFromJsonAsync<JobDebug>($"/api/search-jobs/{jobId}/debug", Json);
        Assert.Equal([LlmCallStates.Completed, LlmCallStates.Interrupted, LlmCallStates.Completed], debug!.LlmCalls.Select(c => c.Status));
        Assert.Equal(cut.PromptTokens, debug.LlmCalls[1].Tokens.Input);
        Assert.Equal(["expand", "answer", "answer"], debug.LlmCalls.Select(c => c.Prompt));
    }

    private Task<GatewayProcess> StartGatewayAsync() =>
        GatewayProcess.StartAsync(_database.Folder, new Dictionary<string, string>
        {
            ["Jobs:ResumeReminderPeriod"] = "00:10:00",
            ["Jobs:StallCheckPeriod"] = "00:10:00",
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Net:AllowListOnly"] = "true",
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Llm:DefaultProvider"] = "main",
            ["Llm:Providers:main:BaseUrl"] = _llm.ApiBaseUrl.ToString(),
            ["Llm:Providers:main:Model"] = "main-model",
            ["Llm:Prices:main-model:InputPerMillion"] = "2.5",
            ["Llm:Prices:main-model:OutputPerMillion"] = "10",
        });
}
