namespace Orleans.Search.Jobs.Pipeline;

/// <summary>
/// Plans a job's stages and their work units up front, at the most they can take: later facts (fewer sub-queries than
/// asked, fewer URLs to read, a deep round that is not needed) only shrink a plan, so progress never goes back.
/// </summary>
public static class StagePlanner
{
    /// <summary>At most this many follow-up queries per deep round.</summary>
    public const int MaxFollowupsPerRound = 3;

    public static List<StageState> Plan(JobSubmission job)
    {
        var stages = new List<StageState>();
        if (job.ExpandCount > 0)
        {
            stages.Add(new StageState { Name = StageNames.Expand, UnitsTotal = 1 });
        }
        stages.Add(new StageState
        {
            Name = StageNames.Search,
            UnitsTotal = (job.Queries.Count + job.ExpandCount + job.Depth * MaxFollowupsPerRound) * job.Pages,
        });
        if (job.ReadCount > 0)
        {
            stages.Add(new StageState { Name = StageNames.Read, UnitsTotal = job.ReadCount * (1 + job.Depth) });
        }
        if (job.Depth > 0)
        {
            stages.Add(new StageState { Name = StageNames.Followup, UnitsTotal = job.Depth });
        }
        if (job.Answer)
        {
            stages.Add(new StageState { Name = StageNames.Answer, UnitsTotal = 1 });
        }
        return stages;
    }

    /// <summary>The search units still possible: the queries there are, and the follow-up rounds not yet planned.</summary>
    public static int SearchUnits(JobSubmission job, int queries, int roundsLeft) =>
        (queries + roundsLeft * MaxFollowupsPerRound) * job.Pages;

    /// <summary>
    /// What the pipeline does next. Search runs while any query is unfinished; read follows each search round; a deep
    /// round follows each read round until <see cref="JobSubmission.Depth"/> rounds ran or the LLM says nothing is missing.
    /// </summary>
    public static string? NextStep(SearchJobState state)
    {
        var job = state.Spec!;
        StageState? Stage(string name) => state.Stages.FirstOrDefault(s => s.Name == name);
        if (Stage(StageNames.Expand) is { } expand && !StageStates.IsEnded(expand.Status))
        {
            return StageNames.Expand;
        }
        if (state.Queries.Any(q => !QueryStates.IsTerminal(q.Status)))
        {
            return StageNames.Search;
        }
        var searchFailed = state.Queries.All(q => q.Status == QueryStates.Failed && q.PagesSucceeded == 0);
        if (searchFailed)
        {
            // Nothing found: nothing to read or answer from.
            return null;
        }
        if (Stage(StageNames.Read) is { } read && read.Status != StageStates.Skipped && state.ReadRounds <= state.Round)
        {
            return StageNames.Read;
        }
        // Not "until the stage has ended": the stage ends each round (completed) and starts again for the next one; the
        // rounds end when Depth of them ran or the LLM found nothing missing (or could not say, or the budget ran out).
        if (Stage(StageNames.Followup) is { } followup && followup.Status != StageStates.Skipped
            && !state.FollowupsEnded && state.Round < job.Depth)
        {
            return StageNames.Followup;
        }
        if (Stage(StageNames.Answer) is { } answer && !StageStates.IsEnded(answer.Status))
        {
            return StageNames.Answer;
        }
        return null;
    }
}
