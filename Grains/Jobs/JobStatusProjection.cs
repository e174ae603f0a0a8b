namespace Orleans.Search.Jobs;

/// <summary>The job as callers see it, projected from its stored state and the ledger's figures.</summary>
public static class JobStatusProjection
{
    /// <summary>The results of the pages <paramref name="pagesSucceeded"/> counts (a mask per query), fused.</summary>
    public static IReadOnlyList<SearchResult> CountedResults(IReadOnlyList<int> pagesSucceeded, IReadOnlyList<IReadOnlyList<SearchResult>> results) =>
        ResultFusion.Fuse(results.SelectMany((r, i) => r.Where(result => PageMask.IsSet(pagesSucceeded[i], result.Page))));

    /// <param name="results">Results of every query (all their checkpointed pages), per query index; empty when not asked for.</param>
    public static JobStatus Project(string jobId, JobLedger ledger, IReadOnlyList<IReadOnlyList<SearchResult>>? results)
    {
        var state = ledger.State;
        var spec = state.Spec!;
        var stats = ledger.Stats();
        return new JobStatus
        {
            JobId = jobId,
            Status = state.Status,
            Progress = ledger.Progress(),
            Message = state.Message,
            CreatedAt = spec.CreatedAt,
            UpdatedAt = state.UpdatedAt,
            CompletedAt = state.CompletedAt,
            Provider = spec.Provider,
            Pages = spec.Pages,
            Queries = state.Queries.Select(q => new QueryStatus
            {
                Query = q.Query,
                Status = q.Status,
                PagesDone = PageMask.Count(q.PagesSucceeded),
                PagesTotal = spec.Pages,
                ResultCount = q.ResultCount,
                Attempts = q.Counters.Attempts,
                Error = q.Error,
                Origin = q.Origin,
            }).ToList(),
            Stats = stats,
            // Only pages the job has counted: a query shows a page as soon as it has it, before its checkpoint is durable
            // and reported, and a status must not list results its own page counts do not include. Fused: one entry per
            // normalized URL, best first, with every query that found it.
            Results = results is null ? [] : CountedResults(state.Queries.Select(q => q.PagesSucceeded).ToList(), results),
            Error = state.Error,
            LastSeq = state.NextSeq - 1,
            Mode = spec.Mode,
            CurrentStep = state.CurrentStep,
            Round = state.Round,
            Stages = Stages(state, stats),
            Reads = state.Reads.Select(r => r with { Text = null }).ToList(),
            Answer = state.Answer,
            Citations = state.Citations.ToList(),
            BudgetExhausted = state.BudgetExhausted,
        };
    }

    /// <summary>The stages as callers see them; the search stage's tokens and cost are what its providers billed.</summary>
    public static List<StageStatus> Stages(SearchJobState state, JobStats stats)
    {
        var searchCostUsd = stats.CostUsd - state.Stages.Where(s => s.Name != StageNames.Search).Sum(s => s.CostUsd);
        return state.Stages.Select(s => new StageStatus
        {
            Name = s.Name,
            Status = s.Status,
            UnitsDone = s.Name == StageNames.Search ? state.Queries.Sum(q => PageMask.Count(q.PagesSucceeded | q.PagesFailed)) : s.UnitsDone,
            UnitsTotal = s.UnitsTotal,
            Tokens = s.Name == StageNames.Search ? state.Queries.Aggregate(Llm.TokenUsage.None, (sum, q) => sum + q.Counters.SearchTokens) : s.Tokens,
            CostUsd = s.Name == StageNames.Search ? searchCostUsd : s.CostUsd,
            StartedAt = s.StartedAt,
            CompletedAt = s.CompletedAt,
            Note = s.Note,
        }).ToList();
    }
}
