using Orleans.Search.Jobs.Pipeline;
using Orleans.Search.Llm;
using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Jobs;

/// <summary>The job's ledger and stage plan without a cluster: reports become events, progress is measured and never goes back.</summary>
public sealed class JobLedgerTests
{
    private readonly List<JobEvent> _emitted = [];

    private JobLedger Ledger(JobSubmission spec)
    {
        var state = new SearchJobState
        {
            Spec = spec,
            Status = JobStates.Running,
            Queries = spec.Queries.Select(q => new QuerySummary { Query = q, PageResultCounts = [.. new int[spec.Pages]] }).ToList(),
            Stages = StagePlanner.Plan(spec),
        };
        return new JobLedger(state, spec.JobId, TimeProvider.System, () => 500, _emitted.Add);
    }

    private static QueryReport Report(int index, long version, int succeeded, string status = QueryStates.Running, int results = 10) => new()
    {
        Index = index,
        Version = version,
        Status = status,
        PagesSucceeded = succeeded,
        ResultCount = results * PageMask.Count(succeeded),
        PageResultCounts = [results, results],
        Counters = QueryCounters.Zero with { ApiCalls = PageMask.Count(succeeded), Attempts = PageMask.Count(succeeded) },
    };

    [Fact]
    public void A_report_becomes_page_and_query_events_once_and_a_stale_report_changes_nothing()
    {
        var ledger = Ledger(TestJobs.Submission(["a", "b"], pages: 2));

        Assert.True(ledger.Apply(Report(0, 1, 0b01)));
        Assert.True(ledger.Apply(Report(0, 3, 0b11, QueryStates.Completed)));
        Assert.False(ledger.Apply(Report(0, 2, 0b01)));

        Assert.Equal([JobEventTypes.QueryStarted, JobEventTypes.PageCompleted, JobEventTypes.PageCompleted, JobEventTypes.QueryCompleted],
            _emitted.Select(e => e.Type));
        Assert.Equal([0.0, 25.0, 50.0, 50.0], _emitted.Select(e => e.Progress));
        Assert.Equal((2, 2, 20), (ledger.Stats().ApiCalls, ledger.Stats().Attempts, ledger.Stats().TotalResults));
        Assert.Equal(_emitted.Select((_, i) => (long)i + 1), _emitted.Select(e => e.Seq));
    }

    [Fact]
    public void A_page_completed_event_goes_out_with_that_page_results_and_is_kept_in_the_tail_without_them()
    {
        var ledger = Ledger(TestJobs.Submission(["a"], pages: 2));
        SearchResult Result(int page, int rank) => new()
        {
            Url = $"https://example.org/{page}/{rank}", Title = $"t{page}.{rank}", Snippet = "s", Query = "a", Page = page, Rank = rank, Provider = "web",
            Path = $"src/{page}.cs", Line = rank,
        };

        // One report completes both pages: each event carries its own page's results, in rank order.
        Assert.True(ledger.Apply(Report(0, 1, 0b11, results: 2) with { NewResults = [Result(1, 1), Result(1, 2), Result(2, 1), Result(2, 2)] }));

        var live = _emitted.Where(e => e.Type == JobEventTypes.PageCompleted).ToList();
        Assert.Equal([1, 2], live.Select(e => e.Page!.Value));
        Assert.All(live, e => Assert.Equal([(e.Page!.Value, 1), (e.Page!.Value, 2)], e.Results!.Select(r => (r.Page, r.Rank))));
        Assert.Equal(["src/1.cs", "src/1.cs"], live[0].Results!.Select(r => r.Path));
        var stored = ledger.State.Events.Where(e => e.Type == JobEventTypes.PageCompleted).ToList();
        Assert.Equal(live.Select(e => e.Seq), stored.Select(e => e.Seq));
        Assert.All(stored, e => Assert.Null(e.Results));
    }

    [Fact]
    public void Progress_is_100_only_once_completed_and_never_goes_back_when_a_plan_shrinks()
    {
        var spec = TestJobs.Submission(["question"], pages: 2) with { ExpandCount = 4, ReadCount = 2, Answer = true, Depth = 2, Mode = JobModes.Deep };
        var ledger = Ledger(spec);
        // expand 1 + search (1 + 4 + 2 × 3) × 2 + read 2 × 3 + followup 2 + answer 1 = 32 units.
        Assert.Equal(32, ledger.State.Stages.Sum(s => s.UnitsTotal));
        Assert.Equal([StageNames.Expand, StageNames.Search, StageNames.Read, StageNames.Followup, StageNames.Answer], ledger.State.Stages.Select(s => s.Name));
        Assert.Equal(StageNames.Expand, ledger.NextStep());

        var seen = new List<double> { ledger.Progress() };
        ledger.StartStage(StageNames.Expand);
        ledger.AddQueries(["sub one"], QueryOrigins.Expand);
        ledger.UnitDone(StageNames.Expand);
        ledger.Shrink(StageNames.Search, StagePlanner.SearchUnits(spec, 2, 2));
        ledger.EndStage(StageNames.Expand);
        seen.Add(ledger.Progress());
        Assert.Equal(StageNames.Search, ledger.NextStep());

        ledger.Apply(Report(0, 1, 0b11, QueryStates.Completed));
        seen.Add(ledger.Progress());
        ledger.Apply(Report(1, 1, 0b11, QueryStates.Completed));
        seen.Add(ledger.Progress());
        Assert.Equal(StageNames.Read, ledger.NextStep());

        ledger.UnitDone(StageNames.Read, 2);
        ledger.State.ReadRounds++;
        seen.Add(ledger.Progress());
        Assert.Equal(StageNames.Followup, ledger.NextStep());

        // The LLM finds nothing missing: the rounds planned for follow-ups are dropped, and the share done only rises.
        ledger.UnitDone(StageNames.Followup);
        ledger.State.FollowupsEnded = true;
        ledger.Shrink(StageNames.Followup, 1);
        ledger.Shrink(StageNames.Read, 2);
        ledger.Shrink(StageNames.Search, StagePlanner.SearchUnits(spec, 2, 0));
        seen.Add(ledger.Progress());
        Assert.Equal(StageNames.Answer, ledger.NextStep());

        ledger.UnitDone(StageNames.Answer);
        ledger.EndStage(StageNames.Answer);
        Assert.Null(ledger.NextStep());
        seen.Add(ledger.Progress());
        Assert.True(seen.Last() < 100);
        ledger.Finish();
        seen.Add(ledger.Progress());

        Assert.Equal(seen.Order(), seen);
        Assert.Equal(100, seen[^1]);
        Assert.All(seen.SkipLast(1), p => Assert.True(p < 100));
        Assert.Equal(JobStates.Completed, ledger.State.Status);
    }

    [Fact]
    public void A_shrink_never_grows_a_plan_nor_drops_below_what_was_done()
    {
        var ledger = Ledger(TestJobs.Submission(["q"], pages: 1) with { ReadCount = 5 });
        ledger.UnitDone(StageNames.Read, 3);
        ledger.Shrink(StageNames.Read, 10);
        Assert.Equal(5, ledger.Stage(StageNames.Read)!.UnitsTotal);
        ledger.Shrink(StageNames.Read, 1);
        Assert.Equal(3, ledger.Stage(StageNames.Read)!.UnitsTotal);
    }

    [Fact]
    public void Tokens_and_cost_add_up_per_stage_and_a_call_is_allowed_only_when_its_worst_case_fits_the_budget()
    {
        var spec = TestJobs.Submission(["q"], pages: 1) with
        {
            ExpandCount = 2,
            Answer = true,
            Budget = new JobBudget { MaxTokens = 1000, MaxCostUsd = 0.01m },
        };
        var ledger = Ledger(spec);
        ledger.AddUsage(StageNames.Expand, new TokenUsage { Input = 300, CachedInput = 100, Output = 200, Reasoning = 50 }, 0.004m);

        var stats = ledger.Stats();
        Assert.Equal((300L, 100L, 200L, 50L, 0.004m), (stats.Tokens.Input, stats.Tokens.CachedInput, stats.Tokens.Output, stats.Tokens.Reasoning, stats.CostUsd));
        Assert.True(ledger.Fits(500, 0.006m));
        Assert.False(ledger.Fits(501, 0.001m));
        Assert.False(ledger.Fits(10, 0.0061m));
    }

    [Fact]
    public void Stage_events_show_only_in_a_pipeline_and_a_plain_search_job_keeps_its_events()
    {
        var plain = Ledger(TestJobs.Submission(["q"], pages: 1));
        plain.StartStage(StageNames.Search);
        plain.EndStage(StageNames.Search);
        Assert.Empty(_emitted);

        var research = Ledger(TestJobs.Submission(["q"], pages: 1) with { Answer = true });
        research.StartStage(StageNames.Search);
        research.EndStage(StageNames.Search);
        Assert.Equal([JobEventTypes.StageStarted, JobEventTypes.StageCompleted], _emitted.Select(e => e.Type));
        Assert.All(_emitted, e => Assert.Equal(StageNames.Search, e.Stage));
    }

    [Fact]
    public void Answer_deltas_carry_their_offsets_and_the_stored_answer_is_their_concatenation()
    {
        var ledger = Ledger(TestJobs.Submission(["q"], pages: 1) with { Answer = true });
        ledger.AnswerDelta("Hello ");
        ledger.AnswerDelta("world [1].");
        Assert.Equal("Hello world [1].", ledger.State.Answer);
        Assert.Equal([0, 6], _emitted.Select(e => e.Offset!.Value));
        Assert.Equal(ledger.State.Answer, string.Concat(_emitted.Select(e => e.Text)));
    }
}
