using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// Research jobs through the real gateway's HTTP API against loopback fakes: the expansion's fallbacks when the LLM
/// writes bad JSON, deep mode's follow-up rounds, each stage's and each LLM call's cost in <c>/debug</c>, and three
/// users' jobs held within the LLM provider's quota.
/// </summary>
public sealed class ResearchPipelineTests(ResearchGatewayFixture fixture) : IClassFixture<ResearchGatewayFixture>
{
    private const string AnswerText = "Grains are virtual actors [1], placed on demand [2].";

    private static bool IsExpand(FakeOpenAiRequest r) => r.Messages[0].Content.StartsWith("You turn a research question", StringComparison.Ordinal);

    private static bool IsSimplerExpand(FakeOpenAiRequest r) => r.Messages.Count == 1 && r.LastUserContent.StartsWith("Write ", StringComparison.Ordinal);

    private static bool IsFollowup(FakeOpenAiRequest r) => r.Messages[0].Content.StartsWith("You plan further research", StringComparison.Ordinal);

    private static bool IsAnswer(FakeOpenAiRequest r) => r.Messages[0].Content.StartsWith("You answer a question", StringComparison.Ordinal);

    private static string Queries(params string[] queries) => JsonSerializer.Serialize(new { queries });

    /// <summary>Runs a research job (1 page, answer) whose expansion gets <paramref name="firstExpand"/>, then <paramref name="simplerExpand"/>.</summary>
    private async Task<(JobStatus Done, JobDebug Debug, string Question, IReadOnlyList<FakeOpenAiRequest> Requests)> ExpandWithAsync(string label,
        Func<string, string> firstExpand, Func<string, string> simplerExpand)
    {
        var llm = fixture.FreshLlm();
        var marker = $"{label}-{Guid.NewGuid():N}";
        llm.Options.Reply = r => IsExpand(r) ? FakeOpenAiReply.Of(firstExpand(marker))
            : IsSimplerExpand(r) ? FakeOpenAiReply.Of(simplerExpand(marker))
            : FakeOpenAiReply.Of(AnswerText);
        using var http = fixture.As();
        var question = $"{marker} how do grains work";
        var jobId = await ResearchGatewayFixture.CreateAsync(http, new { query = question, mode = "research", pages = 1, read = 1 });
        var done = await ResearchGatewayFixture.EndAsync(http, jobId);
        return (done, await ResearchGatewayFixture.DebugAsync(http, jobId), question, llm.RequestsSnapshot());
    }

    [Fact]
    public async Task Expand_output_that_is_not_valid_JSON_is_repaired_once_and_the_repair_is_recorded_on_the_stage()
    {
        // A markdown fence, prose around it and a trailing comma: not JSON, but repairable.
        var (done, debug, question, requests) = await ExpandWithAsync("repair",
            m => $"Sure! Here you go:\n```json\n{{\"queries\": [\"{m} alpha\", \"{m} beta\",]}}\n```\nHope it helps.",
            _ => throw new InvalidOperationException("no retry expected"));

        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal([question, $"{question.Split(' ')[0]} alpha", $"{question.Split(' ')[0]} beta"], done.Queries.Select(q => q.Query));
        var expand = done.Stages.Single(s => s.Name == StageNames.Expand);
        Assert.Equal(StageStates.Completed, expand.Status);
        Assert.Equal("the LLM's JSON was invalid; repaired", expand.Note);
        Assert.Single(requests, IsExpand);
        Assert.DoesNotContain(requests, IsSimplerExpand);
        Assert.Equal(["expand", "answer"], debug.LlmCalls.Select(c => c.Prompt));
    }

    [Fact]
    public async Task Expand_output_that_cannot_be_repaired_is_asked_for_once_more_with_a_simpler_prompt()
    {
        var (done, debug, question, requests) = await ExpandWithAsync("simpler",
            _ => "I would search for grains, actors and silos.",
            m => $"[\"{m} gamma\", \"{m} delta\"]");

        var marker = question.Split(' ')[0];
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal([question, $"{marker} gamma", $"{marker} delta"], done.Queries.Select(q => q.Query));
        var expand = done.Stages.Single(s => s.Name == StageNames.Expand);
        Assert.Equal(StageStates.Completed, expand.Status);
        Assert.Equal("the LLM's JSON was invalid and not repairable; a simpler prompt worked", expand.Note);
        // Exactly one retry, with the simpler prompt (one user message naming the question).
        Assert.Single(requests, IsExpand);
        var retry = Assert.Single(requests, IsSimplerExpand);
        Assert.Contains(question, retry.LastUserContent);
        Assert.Equal(["expand", "expand-simpler", "answer"], debug.LlmCalls.Select(c => c.Prompt));
        Assert.All(debug.LlmCalls, c => Assert.Equal(LlmCallStates.Completed, c.Status));
    }

    [Fact]
    public async Task Expand_output_invalid_twice_falls_back_to_the_query_alone_and_says_so()
    {
        var (done, debug, question, requests) = await ExpandWithAsync("alone",
            _ => "{\"queries\": [\"unterminated",
            _ => "no JSON here either");

        Assert.Equal(JobStates.Completed, done.Status);
        var only = Assert.Single(done.Queries);
        Assert.Equal((question, QueryOrigins.User), (only.Query, only.Origin));
        Assert.Equal(1, fixture.Searxng.RequestsFor(question, 1));
        var expand = done.Stages.Single(s => s.Name == StageNames.Expand);
        Assert.Equal("the LLM's JSON was invalid, not repairable, and invalid again with a simpler prompt; searching the query alone", expand.Note);
        Assert.Single(requests, IsExpand);
        Assert.Single(requests, IsSimplerExpand);
        Assert.Equal(["expand", "expand-simpler", "answer"], debug.LlmCalls.Select(c => c.Prompt));
        // The answer is still written, from what the query alone found.
        Assert.Equal(AnswerText, done.Answer);
    }

    [Fact]
    public async Task Debug_shows_each_stages_tokens_and_cost_and_each_LLM_call_as_the_provider_billed_it()
    {
        var llm = fixture.FreshLlm();
        var marker = $"debug-{Guid.NewGuid():N}";
        llm.Options.Reply = r => IsExpand(r) ? FakeOpenAiReply.Of(Queries($"{marker} one", $"{marker} two"))
            : new FakeOpenAiReply(AnswerText, ReasoningTokens: 5, TimeToFirstToken: TimeSpan.FromMilliseconds(300));
        using var http = fixture.As();
        var jobId = await ResearchGatewayFixture.CreateAsync(http, new { query = $"{marker} question", mode = "research", pages = 1, read = 2 });
        var done = await ResearchGatewayFixture.EndAsync(http, jobId);
        var debug = await ResearchGatewayFixture.DebugAsync(http, jobId);

        Assert.Equal(JobStates.Completed, done.Status);
        // Stages: the same figures as the status, and they add up to the job's.
        Assert.Equal(done.Stages.Select(s => (s.Name, s.Tokens, s.CostUsd)), debug.Stages.Select(s => (s.Name, s.Tokens, s.CostUsd)));
        Assert.Equal((done.Stats.Tokens, done.Stats.CostUsd), (debug.Tokens, debug.CostUsd));
        Assert.Equal(debug.CostUsd, debug.Stages.Sum(s => s.CostUsd));
        Assert.True(debug.Stages.Single(s => s.Name == StageNames.Expand).CostUsd > 0);
        Assert.True(debug.Stages.Single(s => s.Name == StageNames.Answer).CostUsd > 0);

        // Calls: one per request the fake billed, in order, each with the fake's bill and its price.
        var mine = llm.RequestsSnapshot().Where(r => r.Messages.Any(m => m.Content.Contains(marker, StringComparison.Ordinal))).Select(r => r.Index).ToHashSet();
        var bills = llm.BillsSnapshot().Where(b => mine.Contains(b.Index)).OrderBy(b => b.Index).ToList();
        Assert.Equal(bills.Count, debug.LlmCalls.Count);
        Assert.Equal([StageNames.Expand, StageNames.Answer], debug.LlmCalls.Select(c => c.Stage));
        foreach (var (call, bill) in debug.LlmCalls.Zip(bills))
        {
            Assert.Equal((LlmCallStates.Completed, (int?)200, (string?)null), (call.Status, call.StatusCode, call.Error));
            Assert.Equal((bill.PromptTokens, bill.CompletionTokens, bill.ReasoningTokens), ((int)call.Tokens.Input, (int)call.Tokens.Output, (int)call.Tokens.Reasoning));
            Assert.Equal((bill.PromptTokens * ResearchGatewayFixture.InputPrice + bill.CompletionTokens * ResearchGatewayFixture.OutputPrice) / 1_000_000m, call.CostUsd);
            Assert.InRange(call.DurationMs, 0, 60_000);
        }
        Assert.Equal(5, debug.LlmCalls[1].Tokens.Reasoning);
        // The answer's first token came 300 ms after its headers: the call's time includes that wait. The bound leaves
        // room for a timer that fires a few milliseconds early (seen: 298 ms); without the wait the call takes a few ms.
        Assert.True(debug.LlmCalls[1].DurationMs >= 250, $"the answer's call took {debug.LlmCalls[1].DurationMs} ms");
        Assert.Equal(debug.CostUsd, debug.LlmCalls.Sum(c => c.CostUsd));
    }

    [Fact]
    public async Task Deep_mode_runs_its_follow_up_rounds_shows_each_step_and_progress_never_goes_back()
    {
        var llm = fixture.FreshLlm();
        var marker = $"deep-{Guid.NewGuid():N}";
        // Each LLM step is held at the fake until the test has seen the job's current step.
        var holds = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var followups = 0;
        llm.Options.Reply = r =>
        {
            if (IsExpand(r))
            {
                return FakeOpenAiReply.Of(Queries($"{marker} sub"));
            }
            if (IsFollowup(r))
            {
                var round = Interlocked.Increment(ref followups);
                var text = round == 1 ? Queries($"{marker} missing one", $"{marker} missing two") : Queries($"{marker} missing three");
                return FakeOpenAiReply.Of(text) with { Hold = holds[round - 1].Task };
            }
            return FakeOpenAiReply.Of(AnswerText) with { Hold = holds[2].Task };
        };
        using var http = fixture.As();
        var question = $"{marker} question";
        var jobId = await ResearchGatewayFixture.CreateAsync(http, new { query = question, mode = "deep", depth = 2, pages = 2, read = 1 });
        var events = new List<JobEvent>();
        var reading = Task.Run(async () =>
        {
            await foreach (var message in SseClient.ReadAsync(http, $"/api/search-jobs/{jobId}/events", lastEventId: "0"))
            {
                if (message.Event != "snapshot")
                {
                    lock (events)
                    {
                        events.Add(JsonSerializer.Deserialize<JobEvent>(message.Data, ResearchGatewayFixture.Json)!);
                    }
                }
            }
        });

        var steps = new List<(string Step, int Round)>();
        try
        {
            foreach (var (hold, step, round) in new[] { (holds[0], StageNames.Followup, 0), (holds[1], StageNames.Followup, 1), (holds[2], StageNames.Answer, 2) })
            {
                var seen = await Eventually.ReturnsAsync(() => ResearchGatewayFixture.StatusAsync(http, jobId),
                    s => s.CurrentStep == step && s.Round == round && llm.InFlight == 1, $"the job at {step} in round {round}");
                steps.Add((seen.CurrentStep!, seen.Round));
                hold.SetResult();
            }
        }
        finally
        {
            // A failure here must not leave a call held at the fake for the next test.
            foreach (var hold in holds)
            {
                hold.TrySetResult();
            }
        }
        var done = await ResearchGatewayFixture.EndAsync(http, jobId);
        await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((JobStates.Completed, 100.0, 2, (string?)null), (done.Status, done.Progress, done.Round, done.CurrentStep));
        Assert.Equal([(StageNames.Followup, 0), (StageNames.Followup, 1), (StageNames.Answer, 2)], steps);
        Assert.Equal([question, $"{marker} sub", $"{marker} missing one", $"{marker} missing two", $"{marker} missing three"], done.Queries.Select(q => q.Query));
        Assert.Equal([QueryOrigins.User, QueryOrigins.Expand, QueryOrigins.Followup, QueryOrigins.Followup, QueryOrigins.Followup], done.Queries.Select(q => q.Origin));
        Assert.All(done.Queries, q => Assert.Equal(1, fixture.Searxng.RequestsFor(q.Query, 1)));
        Assert.All(done.Queries, q => Assert.Equal(1, fixture.Searxng.RequestsFor(q.Query, 2)));
        var followup = done.Stages.Single(s => s.Name == StageNames.Followup);
        Assert.Equal((StageStates.Completed, 2, 2), (followup.Status, followup.UnitsDone, followup.UnitsTotal));
        Assert.All(done.Stages, s => Assert.Equal(s.UnitsTotal, s.UnitsDone));

        // Every event, live: the rounds' steps in order, progress never falling, 100 only at the end.
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
        TestJobs.AssertWellOrdered(events);
        Assert.Equal(
            ["expand", "search", "read", "followup", "search", "read", "followup", "search", "read", "answer"],
            events.Where(e => e.Type == JobEventTypes.StageStarted).Select(e => e.Stage!));
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], events.Where(e => e.Type == JobEventTypes.StageStarted).Select(e => e.Round!.Value));
        Assert.Equal(new[] { new[] { $"{marker} missing one", $"{marker} missing two" }, new[] { $"{marker} missing three" } },
            events.Where(e => e.Type == JobEventTypes.FollowupCompleted).Select(e => e.Queries!.ToArray()));
        Assert.True(events.Count(e => e.Type == JobEventTypes.PageCompleted) == 10, "every page of every round reported");
    }

    [Fact]
    public async Task Three_users_research_jobs_at_once_stay_within_the_LLM_providers_quota_and_all_complete()
    {
        var llm = fixture.FreshLlm();
        fixture.ConfigureQuota();
        var marker = $"quota-{Guid.NewGuid():N}";
        llm.Options.TokensPerSecond = 500;
        llm.Options.Reply = r => IsExpand(r) ? FakeOpenAiReply.Of(Queries($"{marker} sub {r.Index}")) : FakeOpenAiReply.Of(AnswerText);
        try
        {
            var jobs = await Task.WhenAll(ResearchGatewayFixture.Users.Select(async user =>
            {
                using var http = fixture.As(user);
                var jobId = await ResearchGatewayFixture.CreateAsync(http, new { query = $"{marker} {user} question", mode = "research", pages = 1, read = 1, llm = "quota" });
                return (user, jobId);
            }));
            var done = await Task.WhenAll(jobs.Select(async j =>
            {
                using var http = fixture.As(j.user);
                return await ResearchGatewayFixture.EndAsync(http, j.jobId, TimeSpan.FromMinutes(3));
            }));

            Assert.True(llm.QuotaRejections == 0, "the fake's quota was exceeded:\n" + string.Join("\n", llm.QuotaRejectionsSnapshot()));
            Assert.Equal(0, llm.RateLimitedResponses);
            Assert.All(done, d => Assert.Equal((JobStates.Completed, StageStates.Completed), (d.Status, d.Stages.Single(s => s.Name == StageNames.Answer).Status)));
            Assert.All(done, d => Assert.Equal(AnswerText, d.Answer));
            var mine = llm.RequestsSnapshot().Where(r => r.Messages.Any(m => m.Content.Contains(marker, StringComparison.Ordinal))).ToList();
            Assert.Equal(6, mine.Count);
            // The quota was binding: the six calls' reservations together are more than the tokens bucket holds.
            var reserved = mine.Sum(r => r.PromptTokens + (r.MaxTokens ?? 0));
            Assert.True(reserved > ResearchGatewayFixture.QuotaTokensPerMinute * ResearchGatewayFixture.QuotaBurstSeconds / 60,
                $"the jobs reserved {reserved} tokens: the quota never bound");
        }
        finally
        {
            fixture.FreshLlm();
        }
    }
}
