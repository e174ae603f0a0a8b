using Orleans.Search.Jobs.Pipeline;
using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Jobs;

/// <summary>What the pipeline does next, from a job's stored state alone.</summary>
public sealed class StagePlannerTests
{
    private static SearchJobState DeepJob(int depth, int round, int readRounds, string followupStatus)
    {
        var spec = TestJobs.Submission(["q"], pages: 1) with { Mode = JobModes.Deep, ExpandCount = 2, ReadCount = 1, Answer = true, Depth = depth };
        var state = new SearchJobState
        {
            Spec = spec,
            Status = JobStates.Running,
            Stages = StagePlanner.Plan(spec),
            Round = round,
            ReadRounds = readRounds,
            Queries = [new QuerySummary { Query = "q", Status = QueryStates.Completed, PagesSucceeded = 1 }],
        };
        foreach (var stage in state.Stages.Where(s => s.Name is StageNames.Expand or StageNames.Search or StageNames.Read))
        {
            stage.Status = StageStates.Completed;
        }
        state.Stages.Single(s => s.Name == StageNames.Followup).Status = followupStatus;
        return state;
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    public void A_deep_job_with_rounds_left_runs_another_follow_up_after_the_rounds_read(int depth, int round)
    {
        // Round r's follow-up ended (completed) and its queries were searched and read: the next round comes before the answer.
        var state = DeepJob(depth, round, readRounds: round + 1, StageStates.Completed);
        Assert.Equal(StageNames.Followup, StagePlanner.NextStep(state));
    }

    [Fact]
    public void A_deep_job_answers_once_its_rounds_are_done_or_the_LLM_found_nothing_missing()
    {
        Assert.Equal(StageNames.Answer, StagePlanner.NextStep(DeepJob(depth: 2, round: 2, readRounds: 3, StageStates.Completed)));
        var nothingMissing = DeepJob(depth: 2, round: 1, readRounds: 2, StageStates.Completed);
        nothingMissing.FollowupsEnded = true;
        Assert.Equal(StageNames.Answer, StagePlanner.NextStep(nothingMissing));
    }

    [Fact]
    public void A_deep_job_reads_a_rounds_new_results_before_its_next_follow_up()
    {
        Assert.Equal(StageNames.Read, StagePlanner.NextStep(DeepJob(depth: 2, round: 1, readRounds: 1, StageStates.Completed)));
    }
}
