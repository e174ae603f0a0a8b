using Orleans.Search.Jobs.Pipeline;
using Orleans.Search.Llm;

namespace Orleans.Search.Jobs;

/// <summary>
/// The job's books, without a cluster: applies query reports to the stored state, turns each change into events,
/// and computes progress and stats. The grain decides when to write and publish; the ledger only keeps the record.
/// </summary>
/// <param name="emitted">Receives every event the ledger appends to the tail (the grain's outbox).</param>
/// <param name="priceSearchTokens">The cost of tokens a search provider billed (zero when it has no configured prices).</param>
public sealed class JobLedger(SearchJobState state, string jobId, TimeProvider time, Func<int> eventTailLength, Action<JobEvent> emitted,
    Func<TokenUsage, decimal>? priceSearchTokens = null)
{
    public SearchJobState State => state;

    private JobSubmission Spec => state.Spec!;

    /// <summary>Applies a query's report if it is newer than what the job has; returns whether anything changed.</summary>
    public bool Apply(QueryReport report)
    {
        if (report.Index < 0 || report.Index >= state.Queries.Count)
        {
            return false;
        }
        var q = state.Queries[report.Index];
        if (report.Version <= q.Version)
        {
            return false;
        }
        var live = !JobStates.IsTerminal(state.Status);
        var wasStatus = q.Status;
        var (oldSucceeded, oldFailed) = (q.PagesSucceeded, q.PagesFailed);

        q.Version = report.Version;
        q.Status = report.Status;
        q.PageResultCounts = [.. report.PageResultCounts];
        q.ResultCount = report.ResultCount;
        q.Counters = report.Counters;
        q.Error = report.Error;

        if (live && wasStatus == QueryStates.Pending && report.Status != QueryStates.Pending)
        {
            Emit(JobEventTypes.QueryStarted, $"Query {report.Index + 1} started", report.Index);
        }
        // Masks grow page by page so each event carries the progress of that moment.
        for (var page = 1; page <= Spec.Pages; page++)
        {
            var bit = 1 << (page - 1);
            if ((report.PagesSucceeded & bit) != 0 && (oldSucceeded & bit) == 0)
            {
                q.PagesSucceeded |= bit;
                if (live)
                {
                    var count = page <= q.PageResultCounts.Count ? q.PageResultCounts[page - 1] : 0;
                    var results = report.NewResults?.Where(r => r.Page == page).ToList();
                    Emit(JobEventTypes.PageCompleted, $"Query {report.Index + 1}, page {page}: {count} results", report.Index, page, count,
                        liveResults: results is { Count: > 0 } ? results : null);
                }
            }
            if ((report.PagesFailed & bit) != 0 && (oldFailed & bit) == 0)
            {
                q.PagesFailed |= bit;
                if (live)
                {
                    Emit(JobEventTypes.PageFailed, $"Query {report.Index + 1}, page {page} failed", report.Index, page, error: report.Error);
                }
            }
        }
        if (Stage(StageNames.Search) is { } search)
        {
            search.UnitsDone = SearchUnitsDone();
            search.UnitsTotal = Math.Max(search.UnitsTotal, search.UnitsDone);
        }
        if (live && !QueryStates.IsTerminal(wasStatus) && QueryStates.IsTerminal(report.Status))
        {
            if (report.Status == QueryStates.Completed)
            {
                Emit(JobEventTypes.QueryCompleted, $"Query {report.Index + 1} completed: {q.ResultCount} results", report.Index);
            }
            else if (report.Status == QueryStates.Failed)
            {
                Emit(JobEventTypes.QueryFailed, $"Query {report.Index + 1} failed: {q.Error}", report.Index, error: q.Error);
            }
        }
        return true;
    }

    /// <summary>Whether every query has ended.</summary>
    public bool AllQueriesEnded => state.Queries.All(q => QueryStates.IsTerminal(q.Status));

    /// <summary>Ends the job: failed when nothing could be done, else completed.</summary>
    public void Finish()
    {
        var results = state.Queries.Sum(q => q.ResultCount);
        var failed = state.Queries.Where(q => q.Status == QueryStates.Failed).ToList();
        state.CompletedAt = time.GetUtcNow();
        if (failed.Count == state.Queries.Count && state.Queries.All(q => q.PagesSucceeded == 0))
        {
            state.Status = JobStates.Failed;
            state.CurrentStep = null;
            state.Error = failed.Count == 1 ? failed[0].Error : $"All {failed.Count} queries failed; first error: {failed[0].Error}";
            state.Message = "Failed";
            Emit(JobEventTypes.Failed, state.Error, error: state.Error);
            return;
        }
        state.Status = JobStates.Completed;
        state.CurrentStep = null;
        foreach (var stage in state.Stages.Where(s => !StageStates.IsEnded(s.Status)))
        {
            // A stage the pipeline did not need (no reads left, no budget, a search that found nothing to answer from).
            stage.Status = StageStates.Skipped;
        }
        state.Message = failed.Count == 0
            ? $"Completed: {results} results"
            : $"Completed: {results} results; {failed.Count} of {state.Queries.Count} queries failed";
        if (state.Answer is { Length: > 0 })
        {
            state.Message += $"; an answer with {state.Citations.Count} citations";
        }
        if (state.BudgetExhausted)
        {
            state.Message += "; the LLM budget ran out";
        }
        Emit(JobEventTypes.Completed, state.Message);
    }

    /// <summary>Records the cancel (the status already says cancelled, so reports applied meanwhile add no events).</summary>
    public void Cancelled()
    {
        state.CurrentStep = null;
        foreach (var stage in state.Stages.Where(s => s.Status == StageStates.Running))
        {
            stage.Status = StageStates.Skipped;
            stage.Note ??= "cancelled";
        }
        state.CompletedAt = time.GetUtcNow();
        state.Message = $"Cancelled with {state.Queries.Sum(q => q.ResultCount)} results found so far";
        Emit(JobEventTypes.Cancelled, state.Message);
    }

    /// <summary>Appends an event to the tail (bounded) and hands it to the outbox.</summary>
    /// <param name="liveResults">
    /// A page's results: published with the event but not kept in the tail. The tail is stored in the job's row, which is
    /// rewritten whole on every write; pages × results there would make each write grow with the job (a 10 × 50 job
    /// would rewrite up to half a megabyte of results per page). Results live in the query rows; a client that missed
    /// the live event reads them from there.
    /// </param>
    public JobEvent Emit(string type, string? message, int? queryIndex = null, int? page = null, int? resultCount = null, string? error = null,
        string? stage = null, IReadOnlyList<string>? queries = null, string? text = null, int? offset = null, string? url = null,
        IReadOnlyList<SearchResult>? liveResults = null)
    {
        var e = new JobEvent
        {
            Seq = state.NextSeq++,
            JobId = jobId,
            Type = type,
            Status = state.Status,
            Progress = Progress(),
            Message = message,
            Stats = Stats(),
            Timestamp = time.GetUtcNow(),
            QueryIndex = queryIndex,
            Query = queryIndex is { } i ? state.Queries[i].Query : null,
            Page = page,
            ResultCount = resultCount,
            Error = error,
            Stage = stage,
            Queries = queries,
            Text = text,
            Offset = offset,
            Url = url,
            Round = state.Spec?.Depth > 0 ? state.Round : null,
        };
        state.Events.Add(e);
        var excess = state.Events.Count - Math.Max(10, eventTailLength());
        if (excess > 0)
        {
            state.Events.RemoveRange(0, excess);
        }
        emitted(liveResults is null ? e : e with { Results = liveResults });
        return e;
    }

    /// <summary>
    /// Share of planned units done, never lower than shown before; 100 only once completed. Units: one per page of each
    /// query, one per URL to read, one per LLM step; plans are made at their largest and only shrink.
    /// </summary>
    public double Progress()
    {
        if (state.Status == JobStates.Completed)
        {
            return 100;
        }
        int planned, done;
        if (state.Stages.Count == 0)
        {
            planned = state.Queries.Count * (state.Spec?.Pages ?? 1);
            done = SearchUnitsDone();
        }
        else
        {
            planned = state.Stages.Sum(s => s.UnitsTotal);
            done = state.Stages.Sum(s => s.Name == StageNames.Search ? SearchUnitsDone() : s.UnitsDone);
        }
        var progress = planned == 0 ? 0 : Math.Min(99.9, Math.Floor(1000.0 * Math.Min(done, planned) / planned) / 10);
        state.ProgressShown = Math.Max(state.ProgressShown, progress);
        return state.ProgressShown;
    }

    private int SearchUnitsDone() => state.Queries.Sum(q => PageMask.Count(q.PagesSucceeded | q.PagesFailed));

    /// <summary>Whether the job runs more than a search (its stages show in events).</summary>
    public bool IsPipeline => state.Stages.Count > 1;

    public StageState? Stage(string name) => state.Stages.FirstOrDefault(s => s.Name == name);

    /// <summary>What the pipeline does next; null when nothing is left but to finish.</summary>
    public string? NextStep() => StagePlanner.NextStep(state);

    /// <summary>A stage starts (or starts another round); announced only in a pipeline.</summary>
    public void StartStage(string name)
    {
        var stage = Stage(name)!;
        state.CurrentStep = name;
        if (stage.Status == StageStates.Running && name == StageNames.Search)
        {
            return;
        }
        // An LLM or read stage running already was interrupted (a restart): it is announced again, as it starts over.
        stage.Status = StageStates.Running;
        stage.StartedAt ??= time.GetUtcNow();
        if (IsPipeline)
        {
            Emit(JobEventTypes.StageStarted, state.Round > 0 ? $"{name} (round {state.Round})" : name, stage: name);
        }
    }

    /// <summary>A stage (or its current round) ended.</summary>
    public void EndStage(string name, string status = StageStates.Completed, string? note = null)
    {
        var stage = Stage(name)!;
        if (note is not null)
        {
            stage.Note = stage.Note is null ? note : $"{stage.Note}; {note}";
        }
        if (stage.Status != StageStates.Running && StageStates.IsEnded(stage.Status))
        {
            return;
        }
        stage.Status = status;
        stage.CompletedAt = time.GetUtcNow();
        if (IsPipeline)
        {
            Emit(JobEventTypes.StageCompleted, $"{name} {status}{(note is null ? "" : ": " + note)}", stage: name);
        }
    }

    /// <summary>Lowers a stage's plan (never below what it did); a plan never grows, so progress never goes back.</summary>
    public void Shrink(string name, int unitsTotal)
    {
        if (Stage(name) is { } stage)
        {
            stage.UnitsTotal = Math.Min(stage.UnitsTotal, Math.Max(unitsTotal, name == StageNames.Search ? SearchUnitsDone() : stage.UnitsDone));
        }
    }

    public void UnitDone(string name, int units = 1)
    {
        var stage = Stage(name)!;
        stage.UnitsDone = Math.Min(stage.UnitsTotal, stage.UnitsDone + units);
    }

    /// <summary>An LLM call's tokens (complete, or as far as a failed call reported them), on its stage and so on the job.</summary>
    public void AddUsage(string name, TokenUsage usage, decimal costUsd)
    {
        var stage = Stage(name)!;
        stage.Tokens += usage;
        stage.CostUsd += costUsd;
    }

    /// <summary>Tokens and cost spent so far (LLM stages and search providers), what a budget is checked against.</summary>
    public (TokenUsage Tokens, decimal CostUsd) Spent()
    {
        var search = state.Queries.Aggregate(TokenUsage.None, (sum, q) => sum + q.Counters.SearchTokens);
        var tokens = state.Stages.Where(s => s.Name != StageNames.Search).Aggregate(search, (sum, s) => sum + s.Tokens);
        var cost = state.Stages.Where(s => s.Name != StageNames.Search).Sum(s => s.CostUsd) + (priceSearchTokens?.Invoke(search) ?? 0);
        return (tokens, cost);
    }

    /// <summary>Whether a call whose worst case is <paramref name="worst"/> tokens costing <paramref name="worstCostUsd"/> fits the budget.</summary>
    public bool Fits(long worst, decimal worstCostUsd)
    {
        if (state.Spec!.Budget is not { } budget)
        {
            return true;
        }
        var (tokens, cost) = Spent();
        return (budget.MaxTokens is not { } maxTokens || tokens.Total + worst <= maxTokens)
            && (budget.MaxCostUsd is not { } maxCost || cost + worstCostUsd <= maxCost);
    }

    /// <summary>Adds queries the pipeline made (expansion, follow-ups), ready to be searched.</summary>
    public void AddQueries(IEnumerable<string> queries, string origin)
    {
        foreach (var query in queries)
        {
            state.Queries.Add(new QuerySummary { Query = query, Origin = origin, PageResultCounts = [.. new int[state.Spec!.Pages]] });
        }
    }

    /// <summary>Appends streamed answer text and announces it with its offset.</summary>
    public void AnswerDelta(string text)
    {
        var offset = state.Answer?.Length ?? 0;
        state.Answer = (state.Answer ?? "") + text;
        Emit(JobEventTypes.AnswerDelta, null, stage: StageNames.Answer, text: text, offset: offset);
    }

    public JobStats Stats()
    {
        var counters = state.Queries.Aggregate(QueryCounters.Zero, (sum, q) => sum.Plus(q.Counters));
        var lookups = counters.CacheHits + counters.CacheMisses;
        return new JobStats
        {
            Attempts = counters.Attempts,
            ApiCalls = counters.ApiCalls,
            Retries = counters.Retries,
            CacheHits = counters.CacheHits,
            CacheMisses = counters.CacheMisses,
            RateLimitWaitMs = counters.RateLimitWaitMs,
            Errors = counters.Errors,
            SearchTokens = counters.SearchTokens,
            CacheHitRate = lookups == 0 ? 0 : Math.Round((double)counters.CacheHits / lookups, 4),
            TotalResults = state.Queries.Sum(q => q.ResultCount),
            ErrorRate = counters.ApiCalls == 0 ? 0 : Math.Round((double)counters.Errors / counters.ApiCalls, 4),
            Tokens = Spent().Tokens,
            CostUsd = Spent().CostUsd,
        };
    }
}
