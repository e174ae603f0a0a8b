using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Diagnostics;
using Orleans.Search.Jobs.Pipeline;
using Orleans.Search.Llm;
using Orleans.Search.Reading;
using Orleans.Search.Storage;
using Orleans.Storage;

namespace Orleans.Search.Jobs;

/// <summary>
/// Owns a job and orchestrates it. Query grains report full summaries; the <see cref="JobLedger"/> turns the difference
/// into events, the <see cref="JobEventOutbox"/> publishes them, and the row is written as <see cref="CoalescedWrites"/>
/// says. After a crash the summaries are rebuilt from the query grains' checkpoints.
/// </summary>
public sealed class SearchJobGrain(
    [PersistentState("job", SearchStorage.Name)] IPersistentState<SearchJobState> state,
    IOptionsMonitor<JobOptions> jobOptions,
    IOptionsMonitor<ResearchOptions> researchOptions,
    IServiceProvider services,
    TimeProvider time,
    ILogger<SearchJobGrain> logger) : Grain, ISearchJobGrain, IRemindable
{
    private const string LifecycleReminder = "lifecycle";

    private readonly StateWriteGate<SearchJobState> _writes = new(state, logger, time,
        () => TimeSpan.FromSeconds(Math.Max(0, jobOptions.CurrentValue.StorageRetrySeconds)));
    private JobEventOutbox _outbox = null!;
    private CoalescedWrites _coalesced = new(1);
    private JobLedger? _ledger;

    /// <summary>Optional seams: a silo without an LLM or a page reader still runs searches (and reads from snippets).</summary>
    private readonly ILanguageModels? _models = services.GetService<ILanguageModels>();
    private readonly IPageReader? _reader = services.GetService<IPageReader>();
    private readonly LlmTokenizer? _tokenizer = services.GetService<LlmTokenizer>();

    /// <summary>The pipeline is being driven (one driver at a time; reports and timers only poke it).</summary>
    private bool _driving;

    /// <summary>Cancels the running LLM or read stage: a cancel aborts its stream at once.</summary>
    private CancellationTokenSource? _stageRun;
    private IGrainTimer? _flushTimer;
    private Task? _starting;
    private bool _resumeAnnounced;
    private IGrainTimer? _stallCheck;
    private IGrainTimer? _forget;
    private long _lastChangeTimestamp;

    /// <summary>A create is being stored: the job does not exist yet, but this activation must not go away.</summary>
    private bool _creating;

    /// <summary>The user's index missed the job's last change (its write failed); the next change tries again.</summary>
    private bool _indexOwed;

    /// <summary>This activation has seen the job's lifecycle reminder registered (or registered it).</summary>
    private bool _lifecycleReminderKnown;

    /// <summary>Retries the bookkeeping after the end (shard, index, retention reminder) while it keeps failing.</summary>
    private IGrainTimer? _endBookkeepingRetry;

    private bool _deactivating;

    private SearchJobState S => state.State;

    /// <summary>The ledger of the current state (a create or a delete replaces the state object).</summary>
    private JobLedger Ledger => _ledger is { } ledger && ReferenceEquals(ledger.State, state.State)
        ? ledger
        : _ledger = new JobLedger(state.State, JobId, time, () => jobOptions.CurrentValue.EventTailLength, e =>
        {
            _outbox.Enqueue(e);
            _coalesced.Changed();
        }, PriceSearchTokens);

    private decimal PriceSearchTokens(TokenUsage usage)
    {
        // A search provider that bills tokens (Perplexity) is priced when an LLM provider of its name has prices.
        if (usage.Total == 0 || _models is null || S.Spec is not { } spec)
        {
            return 0;
        }
        try
        {
            return _models.CostUsd(spec.Provider, usage);
        }
        catch (KeyNotFoundException)
        {
            return 0;
        }
    }

    private string JobId => this.GetPrimaryKeyString();

    private bool Exists => S.Spec is not null;

    /// <summary>How long a running job goes without any query report before it checks on its queries.</summary>
    private TimeSpan StallCheckPeriod => jobOptions.CurrentValue.StallCheckPeriod;

    /// <summary>How long an activation asked about a job that does not exist stays to answer calls already on their way.</summary>
    private static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(5);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _outbox = new JobEventOutbox(this.GetStreamProvider(SearchStreams.ProviderName).GetStream<JobEvent>(SearchStreams.ForJob(JobId)), JobId, logger);
        _coalesced = new CoalescedWrites(S.NextSeq);
        if (Exists)
        {
            SettleInterruptedLlmCall();
        }
        if (Exists && !JobStates.IsTerminal(S.Status))
        {
            S.NextSeq += CoalescedWrites.SeqGapAfterCrash;
            // Resume without waiting for a caller or the reminder.
            this.RegisterGrainTimer(static (self, _) => self.ResumeCoreAsync(), this,
                new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
            WatchForStalls();
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating = true;
        _stageRun?.Cancel();
        if (Exists && _coalesced.Unpersisted > 0)
        {
            try
            {
                await WriteNowAsync();
            }
            catch (Exception ex)
            {
                // The job resumes from its checkpoints; only its summary's latest events are lost.
                logger.DeactivationWriteFailed(ex, JobId);
            }
        }
    }

    async Task<JobStatus> ISearchJobGrain.SubmitAsync(JobSubmission submission)
    {
        if (Exists)
        {
            if (S.Spec!.Owner != submission.Owner || S.Spec.Fingerprint != submission.Fingerprint)
            {
                throw new JobConflictException($"Job '{JobId}' already exists with a different request; use a new Idempotency-Key.");
            }
            await RegisterAsync();
            return await BuildStatusAsync(includeResults: false);
        }

        _creating = true;
        try
        {
            // Registered before the job is stored: if it never is (a failure, a crash), the shard drops an id that resumes
            // to nothing. The lifecycle reminder is not written here: until the first stall check registers it, the shard
            // is what resumes the job after a crash (the startup sweep, the sweep after a silo dies), and a job that ends
            // sooner writes its reminder once, for its retention.
            await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).AddAsync(JobId);
            await StoreNewJobAsync(submission);
        }
        finally
        {
            _creating = false;
        }
        await IndexOrOweAsync();
        // Not awaited: the create is answered once the job is stored and indexed; its first events reach the stream in
        // order (the outbox) and are in the stored tail already for a follower that subscribes first.
        _ = PublishAsync();

        SearchMetrics.JobsStarted.Add(1);
        Advance();
        WatchForStalls();
        return await BuildStatusAsync(includeResults: false);
    }

    async Task<JobStatus?> ISearchJobGrain.GetStatusAsync(string requester, bool includeResults) =>
        Owns(requester) ? await BuildStatusAsync(includeResults) : null;

    async Task<JobStatus?> ISearchJobGrain.CancelAsync(string requester)
    {
        if (!Owns(requester))
        {
            return null;
        }
        if (JobStates.IsTerminal(S.Status))
        {
            return await BuildStatusAsync(includeResults: false);
        }

        // Terminal first, so reports arriving meanwhile add no events after the terminal one.
        S.Status = JobStates.Cancelled;
        // Before anything awaits: from here no LLM call or read starts, and one in flight is aborted.
        _stageRun?.Cancel();
        var reports = await Task.WhenAll(Enumerable.Range(0, S.Queries.Count)
            .Where(i => !QueryStates.IsTerminal(S.Queries[i].Status))
            .Select(async i =>
            {
                try
                {
                    return await QueryGrain(i).CancelAsync(WorkFor(i));
                }
                catch (Exception ex)
                {
                    logger.QueryCancelFailed(ex, JobId, i);
                    return null;
                }
            }));
        foreach (var report in reports.OfType<QueryReport>())
        {
            Apply(report);
        }
        Ledger.Cancelled();
        await EndAsync();
        return await BuildStatusAsync(includeResults: false);
    }

    Task<JobEventPage?> ISearchJobGrain.GetEventsAsync(string requester, long afterSeq) =>
        Task.FromResult(Owns(requester)
            ? new JobEventPage
            {
                Events = S.Events.Where(e => e.Seq > afterSeq).ToList(),
                FirstRetainedSeq = S.Events.Count > 0 ? S.Events[0].Seq : S.NextSeq,
                Status = S.Status,
            }
            : null);

    async Task<JobDebug?> ISearchJobGrain.GetDebugAsync(string requester)
    {
        if (!Owns(requester))
        {
            return null;
        }
        var queries = await Task.WhenAll(Enumerable.Range(0, S.Queries.Count).Select(async i =>
            S.Queries[i].Version > 0 && await QueryGrain(i).GetDebugAsync() is { } debug
                ? debug
                : new QueryDebug { Index = i, Query = S.Queries[i].Query, Provider = S.Spec!.Provider, Status = S.Queries[i].Status }));
        var stats = Ledger.Stats();
        return new JobDebug
        {
            JobId = JobId,
            Status = S.Status,
            Queries = queries,
            Reads = S.Reads.Select(r => r with { Text = null }).ToList(),
            Stages = JobStatusProjection.Stages(S, stats),
            LlmCalls = S.OpenLlmCall is { } open ? [.. S.LlmCalls, open] : [.. S.LlmCalls],
            Tokens = stats.Tokens,
            CostUsd = stats.CostUsd,
        };
    }

    async Task<IReadOnlyList<SearchResult>?> ISearchJobGrain.GetPageResultsAsync(string requester, int queryIndex, int page)
    {
        if (!Owns(requester))
        {
            return null;
        }
        if (queryIndex < 0 || queryIndex >= S.Queries.Count || page < 1 || page > S.Spec!.Pages || !PageMask.IsSet(S.Queries[queryIndex].PagesSucceeded, page))
        {
            return [];
        }
        return (await QueryGrain(queryIndex).GetResultsAsync()).Where(r => r.Page == page).ToList();
    }

    async Task<bool> ISearchJobGrain.ResumeAsync()
    {
        if (!Exists)
        {
            ForgetIfNoJob();
            return false;
        }
        if (JobStates.IsTerminal(S.Status))
        {
            // Still in the shard after its end: the bookkeeping after the end was cut short (a crash, an outage). The shard
            // drops it itself; the index and the retention reminder are made in the background (the sweep need not wait,
            // and a create of this job waiting in the owner's grain must not wait for this job either).
            _ = EndBookkeepingAsync(leaveShard: false);
            return false;
        }
        await ResumeCoreAsync();
        return true;
    }

    async Task ISearchJobGrain.ReportQueryAsync(QueryReport report)
    {
        if (!Exists)
        {
            ForgetIfNoJob();
            return;
        }
        if (Apply(report))
        {
            await AfterChangeAsync();
        }
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!Exists)
        {
            await UnregisterLifecycleAsync();
            ForgetIfNoJob();
            return;
        }
        if (!JobStates.IsTerminal(S.Status))
        {
            await ResumeCoreAsync();
            return;
        }
        var expiresAt = (S.CompletedAt ?? S.UpdatedAt) + Retention;
        if (time.GetUtcNow() >= expiresAt)
        {
            await DeleteAsync();
        }
        else if (S.TerminalWebhooksOwed)
        {
            await EndBookkeepingAsync(leaveShard: true);
        }
    }

    private TimeSpan Retention => TimeSpan.FromHours(Math.Max(0, jobOptions.CurrentValue.RetentionHours));

    private bool Owns(string requester)
    {
        if (!Exists)
        {
            ForgetIfNoJob();
            return false;
        }
        return S.Spec!.Owner == requester;
    }

    /// <summary>
    /// Asked about a job that does not exist (an unknown id, a deleted job): answer, then go soon. An activation kept for
    /// an id with no job would cost memory for the collection age, one per id a caller makes up. Going at once is worse:
    /// calls already queued here (concurrent creates with one Idempotency-Key each ask first) are forwarded to the next
    /// activation, which would go at once too, and Orleans rejects a call forwarded twice.
    /// </summary>
    private void ForgetIfNoJob()
    {
        if (!Exists && !_creating)
        {
            _forget ??= this.RegisterGrainTimer(static (self, _) =>
            {
                self._forget?.Dispose();
                self._forget = null;
                if (!self.Exists && !self._creating)
                {
                    self.DeactivateOnIdle();
                }
                return Task.CompletedTask;
            }, this, new GrainTimerCreationOptions(ForgetAfter, Timeout.InfiniteTimeSpan));
        }
    }

    /// <summary>
    /// The job's first state, written before anything else sees it: until the write succeeds this activation holds no
    /// job, so a failed create leaves nothing that a retry (same Idempotency-Key) could mistake for a stored job.
    /// </summary>
    private async Task StoreNewJobAsync(JobSubmission submission)
    {
        state.State = new SearchJobState
        {
            Spec = submission,
            Status = JobStates.Running,
            UpdatedAt = time.GetUtcNow(),
            Queries = submission.Queries
                .Select(q => new QuerySummary { Query = q, PageResultCounts = [.. new int[submission.Pages]] })
                .ToList(),
            Message = $"{submission.Queries.Count} {(submission.Queries.Count == 1 ? "query" : "queries")} × {submission.Pages} {(submission.Pages == 1 ? "page" : "pages")} on {submission.Provider}"
                + (submission.Mode == JobModes.Search ? "" : $" ({submission.Mode})"),
            Stages = StagePlanner.Plan(submission),
        };
        Ledger.Emit(JobEventTypes.Created, S.Message);
        Ledger.Emit(JobEventTypes.Started, "Started");
        try
        {
            await WriteNowAsync(retrying: false);
        }
        catch
        {
            state.State = new SearchJobState();
            _outbox.Clear();
            _coalesced.Reset(S.NextSeq);
            // The write may have reached the database although it reported a failure; the next activation reads what is there.
            DeactivateOnIdle();
            throw;
        }
    }

    private IQueryGrain QueryGrain(int index) => GrainFactory.GetGrain<IQueryGrain>($"{JobId}/{index}");

    private QueryWork WorkFor(int index) => new()
    {
        JobId = JobId,
        Index = index,
        Query = S.Queries[index].Query,
        Provider = S.Spec!.Provider,
        Pages = S.Spec.Pages,
        Owner = S.Spec.Owner,
        UseCache = S.Spec.UseCache,
    };

    /// <summary>
    /// While the job runs: if no query has reported for <see cref="StallCheckPeriod"/>, ask the unfinished queries
    /// for their state (and restart any whose activation was lost). A report lost with a dead silo, or a query whose
    /// silo died unnoticed, then costs seconds rather than the reminder's period. Jobs that progress pay nothing.
    /// </summary>
    private void WatchForStalls()
    {
        _lastChangeTimestamp = time.GetTimestamp();
        _stallCheck ??= this.RegisterGrainTimer(static (self, _) => self.CheckForStallAsync(), this,
            new GrainTimerCreationOptions(StallCheckPeriod, StallCheckPeriod));
    }

    private async Task CheckForStallAsync()
    {
        if (!Exists || JobStates.IsTerminal(S.Status))
        {
            _stallCheck?.Dispose();
            _stallCheck = null;
            return;
        }
        await EnsureLifecycleReminderAsync();
        if (_starting is not null || time.GetElapsedTime(_lastChangeTimestamp) < StallCheckPeriod)
        {
            return;
        }
        _lastChangeTimestamp = time.GetTimestamp();
        // A stage on an LLM or the reader may run for minutes with no report; a search, or a driver that stopped, may
        // not: something was lost (a report, a silo), so say so.
        var step = Ledger.NextStep();
        var stalled = step == StageNames.Search || !_driving;
        if (stalled)
        {
            logger.StallDetected(JobId, StallCheckPeriod, step, UnfinishedQueries(), _driving);
        }
        // A driver that stopped on an error (a write during an outage) is picked up again here.
        Advance();
        try
        {
            await StartQueriesOnceAsync();
            if (stalled)
            {
                logger.StallChecked(JobId, Ledger.NextStep(), UnfinishedQueries());
            }
        }
        catch (Exception ex)
        {
            logger.StallCheckFailed(ex, JobId);
        }
    }

    private int UnfinishedQueries() => S.Queries.Count(q => !QueryStates.IsTerminal(q.Status));

    /// <summary>
    /// Restarts an unfinished job's queries. Never calls back into the active-job shard: the shard may be the caller (its
    /// sweep), and it forgets finished and missing jobs itself from <see cref="ISearchJobGrain.ResumeAsync"/>'s answer.
    /// </summary>
    private async Task ResumeCoreAsync()
    {
        if (!Exists || JobStates.IsTerminal(S.Status))
        {
            return;
        }
        await StartQueriesOnceAsync(resumed: true);
    }

    /// <summary>
    /// Starts the queries unless a start is already running, which the caller then joins. A start that finished
    /// without awaiting anything (nothing to start yet, say during the expansion) is not kept as running: it already
    /// cleared <see cref="_starting"/> before it returned, so storing it would leave a finished task there for good,
    /// and every later start (and the stall check) would join it instead of starting the queries.
    /// </summary>
    private Task StartQueriesOnceAsync(bool resumed = false)
    {
        if (_starting is { } running)
        {
            return running;
        }
        var start = StartQueriesAsync(resumed);
        _starting = start.IsCompleted ? null : start;
        return start;
    }

    /// <summary>Starts (or, after a restart, resumes and reconciles) every unfinished query.</summary>
    private async Task StartQueriesAsync(bool resumed = false)
    {
        try
        {
            // Queries run in the search stage only: not before the expansion has named them all.
            var searching = Ledger.NextStep() == StageNames.Search;
            var reports = await Task.WhenAll(Enumerable.Range(0, S.Queries.Count)
                .Where(i => searching && !QueryStates.IsTerminal(S.Queries[i].Status))
                .Select(async i =>
                {
                    try
                    {
                        return await QueryGrain(i).StartAsync(WorkFor(i));
                    }
                    catch (Exception ex)
                    {
                        logger.QueryStartFailed(ex, JobId, i);
                        return null;
                    }
                }));
            if (JobStates.IsTerminal(S.Status))
            {
                return;
            }
            foreach (var report in reports.OfType<QueryReport>())
            {
                Apply(report);
            }
            // Several pokes may resume one activation (its own timer, the startup sweep, a sweep after a silo died): say it once.
            if (resumed && !_resumeAnnounced)
            {
                _resumeAnnounced = true;
                Ledger.Emit(JobEventTypes.Resumed, $"Resumed at {Ledger.Progress():0.#}%");
            }
            await AfterChangeAsync();
            // A resume that could not restart every query says so, so whoever poked (a sweep after a silo died) tries again.
            var notStarted = reports.Count(r => r is null);
            if (resumed && notStarted > 0)
            {
                throw new InvalidOperationException($"Job '{JobId}': {notStarted} queries could not be restarted yet.");
            }
        }
        finally
        {
            _starting = null;
        }
    }

    /// <summary>Applies a query's report through the ledger; a change counts as a sign of life.</summary>
    private bool Apply(QueryReport report)
    {
        if (!Ledger.Apply(report))
        {
            return false;
        }
        _lastChangeTimestamp = time.GetTimestamp();
        return true;
    }

    private async Task AfterChangeAsync()
    {
        S.UpdatedAt = time.GetUtcNow();
        if (_indexOwed)
        {
            await IndexOrOweAsync();
        }
        // Publish first: subscribers need not wait for the job's coalesced write (the pages behind these events are
        // already durable in their query grains, and up to MaxUnpersistedEvents events go out unpersisted anyway).
        // Not awaited: the report's turn ends without a round trip to the stream's queue, so the next query's report
        // is applied meanwhile; the outbox keeps the order, and what queues while one publish is in flight goes out
        // as the next batch.
        _ = PublishAsync();
        await WriteAsPolicySaysAsync();
        if (!JobStates.IsTerminal(S.Status) && Ledger.NextStep() != StageNames.Search)
        {
            Advance();
        }
    }

    private async Task WriteAsPolicySaysAsync()
    {
        switch (_coalesced.Decide(S.NextSeq))
        {
            case JobWrite.NowAndWait:
                await WriteNowAsync();
                break;
            case JobWrite.InBackground:
                _ = WriteInBackgroundAsync();
                break;
            case JobWrite.Soon:
                _flushTimer ??= this.RegisterGrainTimer(static (self, _) => self.FlushAsync(), this,
                    new GrainTimerCreationOptions(CoalescedWrites.FlushDelay, Timeout.InfiniteTimeSpan));
                break;
        }
    }

    /// <summary>Drives the pipeline from where it is, unless a driver is already at it.</summary>
    private void Advance()
    {
        if (_driving || !Exists || JobStates.IsTerminal(S.Status) || _deactivating)
        {
            return;
        }
        _driving = true;
        _ = DriveAsync();
    }

    /// <summary>
    /// Runs the pipeline's steps in order until it waits for queries (their reports poke it again) or ends. LLM and read
    /// stages run here, off any request: the job still answers status, events and cancel between their awaits.
    /// </summary>
    private async Task DriveAsync()
    {
        try
        {
            while (Exists && !JobStates.IsTerminal(S.Status) && !_deactivating)
            {
                var step = Ledger.NextStep();
                if (step != StageNames.Search && Ledger.Stage(StageNames.Search) is { Status: StageStates.Running })
                {
                    Ledger.EndStage(StageNames.Search);
                    Ledger.Shrink(StageNames.Search, StagePlanner.SearchUnits(S.Spec!, S.Queries.Count, RoundsLeft));
                }
                if (step == StageNames.Search)
                {
                    Ledger.StartStage(StageNames.Search);
                    if (S.Queries.Any(q => q.Version == 0))
                    {
                        await StartQueriesOnceAsync();
                    }
                    if (Ledger.NextStep() == StageNames.Search)
                    {
                        await PublishAsync();
                        // Reports interleave with that await, and one that ends the search finds this driver still
                        // running (so it does not start another): look again before leaving, with no await between.
                        if (Ledger.NextStep() == StageNames.Search)
                        {
                            return;
                        }
                    }
                    continue;
                }
                if (step is null)
                {
                    Ledger.Finish();
                    await EndAsync();
                    return;
                }
                await RunStageAsync(step);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !JobStates.IsTerminal(S.Status))
        {
            // The stall check drives it again; a stage's finished work is in the state already.
            logger.PipelineStopped(ex, JobId, S.CurrentStep);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _driving = false;
        }
    }

    private int RoundsLeft => S.FollowupsEnded ? 0 : Math.Max(0, S.Spec!.Depth - S.Round);

    private async Task RunStageAsync(string step)
    {
        using var run = new CancellationTokenSource();
        _stageRun = run;
        // A stage may wait on an LLM for minutes with no call to the grain: keep the activation.
        using var keepAlive = this.RegisterGrainTimer(static _ => Task.CompletedTask,
            new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true });
        try
        {
            Ledger.StartStage(step);
            await PublishAsync();
            switch (step)
            {
                case StageNames.Expand:
                    await ExpandAsync(run.Token);
                    break;
                case StageNames.Read:
                    await ReadAsync(run.Token);
                    break;
                case StageNames.Followup:
                    await FollowupAsync(run.Token);
                    break;
                case StageNames.Answer:
                    await AnswerAsync(run.Token);
                    break;
            }
            _lastChangeTimestamp = time.GetTimestamp();
            // The stage's result is durable before the next stage builds on it: a crash later never re-runs it.
            await WriteNowAsync();
            await PublishAsync();
        }
        finally
        {
            _stageRun = null;
        }
    }

    private string? LlmProvider => _models is null ? null : S.Spec!.Llm;

    private string Question => S.Spec!.Queries.Count == 1 ? S.Spec.Queries[0] : string.Join("; ", S.Spec.Queries);

    /// <summary>
    /// One LLM call for a stage: made only when its worst case (prompt estimate + max output, priced) fits the budget,
    /// else null and the job is marked out of budget. The call is written down (durably) before it is made, so a crash
    /// during it is found and counted after the restart; its usage is added to the stage as it ends, or as far as a
    /// failed or cancelled call reported it, and it is recorded for <c>/debug</c>.
    /// </summary>
    private async Task<string?> CallLlmAsync(string stage, string prompt, IReadOnlyList<LlmMessage> messages, int maxOutputTokens, bool json,
        Action<string>? onText, CancellationToken cancellationToken)
    {
        var models = _models!;
        var provider = LlmProvider!;
        var promptTokens = models.EstimatePromptTokens(provider, messages);
        var worst = new TokenUsage { Input = promptTokens, Output = maxOutputTokens };
        if (!Ledger.Fits(worst.Total, models.CostUsd(provider, worst)))
        {
            S.BudgetExhausted = true;
            _coalesced.Owe();
            return null;
        }
        cancellationToken.ThrowIfCancellationRequested();
        var open = new LlmCallRecord
        {
            Stage = stage,
            Prompt = prompt,
            Status = LlmCallStates.Running,
            StartedAt = time.GetUtcNow(),
            Tokens = new TokenUsage { Input = promptTokens, Estimated = true },
            Round = S.Round,
        };
        S.OpenLlmCall = open;
        try
        {
            // Durable before the provider can bill anything: a process that dies during the call leaves this behind.
            await WriteNowAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch
        {
            // Not made (a cancel came during the write, or the write failed): nothing to count.
            if (ReferenceEquals(S.OpenLlmCall, open))
            {
                S.OpenLlmCall = null;
                _coalesced.Owe();
                if (JobStates.IsTerminal(S.Status))
                {
                    // A cancel's write may have stored the call as open: store that it was never made.
                    _ = WriteInBackgroundAsync();
                }
            }
            throw;
        }
        var startedAt = time.GetTimestamp();
        void Close(string status, TokenUsage usage, int? statusCode, string? error)
        {
            if (!ReferenceEquals(S.OpenLlmCall, open))
            {
                return;
            }
            var cost = models.CostUsd(provider, usage);
            Ledger.AddUsage(stage, usage, cost);
            RecordLlmCall(open with
            {
                Status = status,
                DurationMs = (long)time.GetElapsedTime(startedAt).TotalMilliseconds,
                StatusCode = statusCode,
                Error = error,
                Tokens = usage,
                CostUsd = cost,
            });
        }

        var request = new LlmRequest
        {
            Provider = provider,
            Messages = messages,
            MaxOutputTokens = maxOutputTokens,
            JsonOutput = json,
            Caller = S.Spec!.Owner,
        };
        var text = new StringBuilder();
        try
        {
            await foreach (var update in models.StreamAsync(request, cancellationToken).WithCancellation(cancellationToken))
            {
                switch (update)
                {
                    case LlmTextDelta delta:
                        text.Append(delta.Text);
                        onText?.Invoke(delta.Text);
                        break;
                    case LlmCompleted completed:
                        Close(LlmCallStates.Completed, completed.Usage, 200, null);
                        break;
                }
            }
        }
        catch (LlmCallCanceledException ex)
        {
            // Cut short by a cancel: counted as far as the provider got; the cancel already wrote the job's end.
            Close(LlmCallStates.Cancelled, ex.Usage, null, null);
            _coalesced.Owe();
            _ = WriteInBackgroundAsync();
            throw;
        }
        catch (LlmException ex)
        {
            var cancelled = cancellationToken.IsCancellationRequested;
            Close(cancelled ? LlmCallStates.Cancelled : LlmCallStates.Failed, ex.Usage, ex.StatusCode, ex.Message);
            _coalesced.Owe();
            if (cancelled)
            {
                // Counted as far as the provider reported; the cancel already wrote the job's end, so write again.
                _ = WriteInBackgroundAsync();
                throw new OperationCanceledException(cancellationToken);
            }
            throw;
        }
        finally
        {
            // Anything else (a fault of this process, not the provider's): nothing is known to be billed.
            Close(LlmCallStates.Failed, TokenUsage.None, null, "the call did not end normally");
        }
        return text.ToString();
    }

    private void RecordLlmCall(LlmCallRecord call)
    {
        S.OpenLlmCall = null;
        S.LlmCalls.Add(call);
        if (S.LlmCalls.Count > LlmCallRecord.MaxKept)
        {
            S.LlmCalls.RemoveRange(0, S.LlmCalls.Count - LlmCallRecord.MaxKept);
        }
    }

    /// <summary>
    /// An LLM call found open after a restart was cut by the crash. The provider bills the prompt once it answered, and
    /// the output it sent; all the job knows of that is the prompt and the answer text it had checkpointed, so that is
    /// what is counted (estimated) before the stage runs again. Output sent after the last checkpoint is not counted.
    /// </summary>
    private void SettleInterruptedLlmCall()
    {
        if (S.OpenLlmCall is not { } open)
        {
            return;
        }
        var output = open.Stage == StageNames.Answer && _tokenizer is { } tokenizer ? tokenizer.CountText(S.Answer ?? "") : 0;
        var usage = open.Tokens with { Output = output, Estimated = true };
        decimal cost = 0;
        try
        {
            cost = S.Spec?.Llm is { } provider && _models is not null ? _models.CostUsd(provider, usage) : 0;
        }
        catch (KeyNotFoundException)
        {
            // The provider is no longer configured: the tokens still count, at no known price.
        }
        if (Ledger.Stage(open.Stage) is not null)
        {
            Ledger.AddUsage(open.Stage, usage, cost);
        }
        RecordLlmCall(open with { Status = LlmCallStates.Interrupted, Tokens = usage, CostUsd = cost, Error = "cut by a restart of the process that made it" });
        _coalesced.Owe();
    }

    private async Task ExpandAsync(CancellationToken cancellationToken)
    {
        var spec = S.Spec!;
        var options = researchOptions.CurrentValue;
        IReadOnlyList<string> proposed = [];
        string? note = null;
        var status = StageStates.Completed;
        const string alone = "searching the query alone";
        if (LlmProvider is null)
        {
            (status, note) = (StageStates.Skipped, $"no LLM is configured; {alone}");
        }
        else
        {
            try
            {
                var text = await CallLlmAsync(StageNames.Expand, "expand", ResearchText.ExpandPrompt(Question, spec.ExpandCount), options.ExpandMaxOutputTokens, true, null, cancellationToken);
                if (text is null)
                {
                    (status, note) = (StageStates.Skipped, $"the budget cannot cover the call; {alone}");
                }
                else
                {
                    var (queries, outcome) = ResearchText.ParseQueries(text);
                    if (outcome == ResearchText.ParseOutcome.Repaired)
                    {
                        note = "the LLM's JSON was invalid; repaired";
                    }
                    if (queries is null)
                    {
                        // Retry once, asking for less.
                        var retry = await CallLlmAsync(StageNames.Expand, "expand-simpler", ResearchText.SimplerExpandPrompt(Question, spec.ExpandCount), options.ExpandMaxOutputTokens, true, null, cancellationToken);
                        (queries, outcome) = retry is null ? (null, ResearchText.ParseOutcome.Invalid) : ResearchText.ParseQueries(retry);
                        note = retry is null ? $"the LLM's JSON was invalid and not repairable; the budget cannot cover a retry; {alone}"
                            : queries is null ? $"the LLM's JSON was invalid, not repairable, and invalid again with a simpler prompt; {alone}"
                            : "the LLM's JSON was invalid and not repairable; a simpler prompt worked";
                        if (retry is null)
                        {
                            status = StageStates.Skipped;
                        }
                    }
                    proposed = queries ?? [];
                }
            }
            catch (LlmException ex) when (!cancellationToken.IsCancellationRequested)
            {
                (status, note) = (StageStates.Failed, $"the LLM call failed: {ex.Message}; {alone}");
            }
        }
        Ledger.AddQueries(ResearchText.NewQueries(S.Queries.Select(q => q.Query), proposed, spec.ExpandCount), QueryOrigins.Expand);
        Ledger.UnitDone(StageNames.Expand);
        Ledger.Shrink(StageNames.Search, StagePlanner.SearchUnits(spec, S.Queries.Count, RoundsLeft));
        Ledger.Emit(JobEventTypes.ExpandCompleted, $"{S.Queries.Count} queries", stage: StageNames.Expand, queries: S.Queries.Select(q => q.Query).ToList());
        Ledger.EndStage(StageNames.Expand, status, note);
    }

    /// <summary>Every query's counted results as one ranked list.</summary>
    private async Task<List<SearchResult>> FusedResultsAsync()
    {
        var counted = S.Queries.Select(q => q.PagesSucceeded).ToList();
        var perQuery = await Task.WhenAll(Enumerable.Range(0, counted.Count)
            .Select(i => counted[i] != 0 ? QueryGrain(i).GetResultsAsync() : Task.FromResult<IReadOnlyList<SearchResult>>([])));
        return [.. JobStatusProjection.CountedResults(counted, perQuery)];
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var spec = S.Spec!;
        var options = researchOptions.CurrentValue;
        var done = S.Reads.Select(r => ResultFusion.NormalizeUrl(r.Url)).ToHashSet(StringComparer.Ordinal);
        // This round's share: a round resumed after a crash reads only what it had not.
        var quota = Math.Max(0, spec.ReadCount * (S.ReadRounds + 1) - S.Reads.Count);
        var targets = (await FusedResultsAsync()).Where(r => !done.Contains(ResultFusion.NormalizeUrl(r.Url))).Take(quota).ToList();
        var read = Ledger.Stage(StageNames.Read)!;
        Ledger.Shrink(StageNames.Read, read.UnitsDone + targets.Count + RoundsLeft * spec.ReadCount);

        void Record(SearchResult target, PageRead page)
        {
            var text = page.Text is { } t && t.Length > options.ExcerptChars ? t[..options.ExcerptChars] : page.Text;
            S.Reads.Add(page with { Text = text, Title = page.Title ?? target.Title });
            Ledger.UnitDone(StageNames.Read);
            Ledger.Emit(JobEventTypes.ReadCompleted, $"{page.Status}: {page.Url}", stage: StageNames.Read, url: page.Url, error: page.Error);
        }

        if (_reader is null)
        {
            foreach (var target in targets)
            {
                Record(target, new PageRead
                {
                    Url = target.Url,
                    Status = PageReadStatuses.Skipped,
                    Reason = PageReadReasons.NoReader,
                    Skipped = "no page reader is configured; the snippet stands in",
                });
            }
        }
        else
        {
            await Task.WhenAll(targets.Select(async target =>
            {
                PageRead page;
                try
                {
                    page = await _reader.ReadAsync(target.Url, cancellationToken);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // A read is never fatal.
                    page = new PageRead { Url = target.Url, Status = PageReadStatuses.Failed, Reason = PageReadReasons.Error, Error = ex.Message };
                }
                Record(target, page);
                await PublishAsync();
            }));
        }
        cancellationToken.ThrowIfCancellationRequested();
        S.ReadRounds++;
        Ledger.EndStage(StageNames.Read, note: _reader is null ? "no page reader is configured; answering from snippets" : null);
    }

    /// <summary>What the answer (and a deep round) is written from: the read text, or the snippets when nothing was read.</summary>
    private async Task<List<AnswerSource>> SourcesAsync()
    {
        var read = S.Reads.Where(r => r.Status == PageReadStatuses.Read && !string.IsNullOrWhiteSpace(r.Text)).ToList();
        if (read.Count > 0)
        {
            return read.Select((r, i) => new AnswerSource(i + 1, r.Url, r.Title ?? r.Url, r.Text!)).ToList();
        }
        return (await FusedResultsAsync()).Take(researchOptions.CurrentValue.SnippetSources)
            .Select((r, i) => new AnswerSource(i + 1, r.Url, r.Title, r.Snippet)).ToList();
    }

    private async Task FollowupAsync(CancellationToken cancellationToken)
    {
        var spec = S.Spec!;
        List<string> added = [];
        string? note = null;
        var status = StageStates.Completed;
        if (LlmProvider is null)
        {
            (status, note) = (StageStates.Skipped, "no LLM is configured");
        }
        else
        {
            try
            {
                var sources = (await SourcesAsync()).Select(s => s with { Text = s.Text.Length > 500 ? s.Text[..500] : s.Text }).ToList();
                var text = await CallLlmAsync(StageNames.Followup, "followup",
                    ResearchText.FollowupPrompt(Question, S.Queries.Select(q => q.Query).ToList(), sources, StagePlanner.MaxFollowupsPerRound),
                    researchOptions.CurrentValue.FollowupMaxOutputTokens, true, null, cancellationToken);
                if (text is null)
                {
                    (status, note) = (StageStates.Skipped, "the budget cannot cover another round");
                }
                else
                {
                    var (queries, outcome) = ResearchText.ParseQueries(text);
                    note = outcome switch
                    {
                        ResearchText.ParseOutcome.Repaired => "the LLM's JSON was invalid; repaired",
                        ResearchText.ParseOutcome.Invalid => "the LLM's JSON was invalid; no more rounds",
                        _ => null,
                    };
                    added = ResearchText.NewQueries(S.Queries.Select(q => q.Query), queries ?? [], StagePlanner.MaxFollowupsPerRound);
                }
            }
            catch (LlmException ex) when (!cancellationToken.IsCancellationRequested)
            {
                (status, note) = (StageStates.Failed, $"the LLM call failed: {ex.Message}");
            }
        }
        Ledger.UnitDone(StageNames.Followup);
        if (added.Count == 0)
        {
            S.FollowupsEnded = true;
            note ??= "nothing is missing";
            Ledger.Shrink(StageNames.Followup, Ledger.Stage(StageNames.Followup)!.UnitsDone);
            if (Ledger.Stage(StageNames.Read) is { } read)
            {
                Ledger.Shrink(StageNames.Read, read.UnitsDone);
            }
        }
        else
        {
            S.Round++;
            Ledger.AddQueries(added, QueryOrigins.Followup);
        }
        Ledger.Shrink(StageNames.Search, StagePlanner.SearchUnits(spec, S.Queries.Count, RoundsLeft));
        Ledger.Emit(JobEventTypes.FollowupCompleted, added.Count == 0 ? "No follow-up queries" : $"{added.Count} follow-up queries",
            stage: StageNames.Followup, queries: added);
        Ledger.EndStage(StageNames.Followup, S.FollowupsEnded || S.Round >= spec.Depth ? status : StageStates.Completed, note);
    }

    private async Task AnswerAsync(CancellationToken cancellationToken)
    {
        if (LlmProvider is null)
        {
            Ledger.EndStage(StageNames.Answer, StageStates.Skipped, "no LLM is configured");
            return;
        }
        var options = researchOptions.CurrentValue;
        var sources = await SourcesAsync();
        // A re-run (after a crash) starts over: its deltas start at offset 0 again.
        S.Answer = null;
        S.Citations = [];
        var filter = new CitationFilter(sources.Count);
        var pending = new StringBuilder();
        var lastDelta = time.GetTimestamp();
        void Flush(bool force)
        {
            if (pending.Length > 0 && (force || pending.Length >= options.AnswerDeltaChars
                || time.GetElapsedTime(lastDelta).TotalMilliseconds >= options.AnswerDeltaMilliseconds))
            {
                Ledger.AnswerDelta(pending.ToString());
                pending.Clear();
                lastDelta = time.GetTimestamp();
                _ = PublishAsync();
                _ = WriteAsPolicySaysAsync();
            }
        }
        try
        {
            var text = await CallLlmAsync(StageNames.Answer, "answer", ResearchText.AnswerPrompt(Question, sources), options.AnswerMaxOutputTokens, false,
                t =>
                {
                    pending.Append(filter.Push(t));
                    Flush(force: false);
                }, cancellationToken);
            if (text is null)
            {
                Ledger.EndStage(StageNames.Answer, StageStates.Skipped, "the budget cannot cover the answer");
                return;
            }
        }
        catch (LlmException ex) when (!cancellationToken.IsCancellationRequested)
        {
            pending.Clear();
            Ledger.EndStage(StageNames.Answer, StageStates.Failed, $"the LLM call failed: {ex.Message}");
            return;
        }
        pending.Append(filter.Flush());
        Flush(force: true);
        S.Citations = ResearchText.Citations(S.Answer ?? "", sources);
        Ledger.UnitDone(StageNames.Answer);
        Ledger.EndStage(StageNames.Answer);
    }

    /// <summary>After a terminal state: persist, publish, leave the active set, and schedule deletion.</summary>
    private async Task EndAsync()
    {
        SearchMetrics.JobsEnded.Add(1, new KeyValuePair<string, object?>("status", S.Status));
        S.UpdatedAt = time.GetUtcNow();
        S.TerminalWebhooksOwed = true;
        await WriteNowAsync();
        await PublishAsync();
        await EndBookkeepingAsync(leaveShard: true);
    }

    /// <summary>
    /// Indexes the end, hands the terminal event to the webhook deliveries, registers the retention reminder, then leaves
    /// the active set. A failure is retried by a timer: a job that ended before its first stall check has no lifecycle
    /// reminder that would otherwise retry it.
    /// </summary>
    private async Task EndBookkeepingAsync(bool leaveShard)
    {
        if (!Exists || !JobStates.IsTerminal(S.Status))
        {
            return;
        }
        try
        {
            await IndexAsync();
            if (S.TerminalWebhooksOwed)
            {
                var enqueued = await Webhooks.JobWebhooks.NotifyTerminalAsync(GrainFactory, S.Spec!, await BuildStatusAsync(includeResults: false), time.GetUtcNow());
                S.TerminalWebhooksOwed = false;
                if (enqueued > 0)
                {
                    // Else the flag may stay set in the row: a later pass finds nothing to enqueue again, or dedupes.
                    _coalesced.Owe();
                    await WriteNowAsync();
                }
            }
            var retention = Retention;
            await this.RegisterOrUpdateReminder(LifecycleReminder, retention > TimeSpan.Zero ? retention : TimeSpan.FromSeconds(1),
                retention > jobOptions.CurrentValue.ResumeReminderPeriod ? retention : jobOptions.CurrentValue.ResumeReminderPeriod);
            _lifecycleReminderKnown = true;
            // The shard entry goes last: until the reminder exists it is what brings a job that crashed here back, to
            // finish this bookkeeping (its webhooks included).
            if (leaveShard)
            {
                await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).RemoveAsync(JobId);
            }
            _endBookkeepingRetry?.Dispose();
            _endBookkeepingRetry = null;
        }
        catch (Exception ex)
        {
            logger.EndBookkeepingFailed(ex, JobId, EndBookkeepingRetryDelay);
            _endBookkeepingRetry ??= this.RegisterGrainTimer(static (self, _) => self.EndBookkeepingAsync(leaveShard: true), this,
                new GrainTimerCreationOptions(EndBookkeepingRetryDelay, EndBookkeepingRetryDelay) { KeepAlive = true });
        }
    }

    private static readonly TimeSpan EndBookkeepingRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Registers the reminder that resumes the unfinished job if nothing else does (the backstop behind the shard sweeps),
    /// once per activation, off the create's path: the first stall check does it. A failure is tried at the next check.
    /// </summary>
    private async Task EnsureLifecycleReminderAsync()
    {
        if (_lifecycleReminderKnown)
        {
            return;
        }
        try
        {
            if (await this.GetReminder(LifecycleReminder) is null && Exists && !JobStates.IsTerminal(S.Status))
            {
                var period = jobOptions.CurrentValue.ResumeReminderPeriod;
                await this.RegisterOrUpdateReminder(LifecycleReminder, period, period);
            }
            _lifecycleReminderKnown = true;
        }
        catch (Exception ex)
        {
            logger.LifecycleReminderFailed(ex, JobId);
        }
    }

    private async Task DeleteAsync()
    {
        logger.RetentionPassed(JobId);
        _stageRun?.Cancel();
        await Task.WhenAll(Enumerable.Range(0, S.Queries.Count).Select(i => QueryGrain(i).DeleteAsync()));
        await GrainFactory.GetGrain<IUserJobsGrain>(S.Spec!.Owner).RemoveAsync(JobId);
        await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).RemoveAsync(JobId);
        _endBookkeepingRetry?.Dispose();
        _endBookkeepingRetry = null;
        await UnregisterLifecycleAsync();
        await services.GetRequiredService<IStreamRegistryStore>().EraseJobStreamAsync(JobId);
        await _writes.ClearAsync();
        state.State = new SearchJobState();
        DeactivateOnIdle();
    }

    private async Task UnregisterLifecycleAsync()
    {
        if (await this.GetReminder(LifecycleReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>An idempotent retry makes sure the job is where it should be: in the active set while unfinished, and indexed.</summary>
    private Task RegisterAsync() => JobStates.IsTerminal(S.Status)
        ? IndexAsync()
        : Task.WhenAll(GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).AddAsync(JobId), IndexAsync());

    /// <summary>Indexes the job; a failure is owed, not fatal (the job is stored and runs), and the next change pays it.</summary>
    private async Task IndexOrOweAsync()
    {
        try
        {
            await IndexAsync();
            _indexOwed = false;
        }
        catch (Exception ex)
        {
            _indexOwed = true;
            logger.IndexingFailed(ex, JobId);
        }
    }

    private Task IndexAsync() => GrainFactory.GetGrain<IUserJobsGrain>(S.Spec!.Owner).UpsertAsync(new JobSummary
    {
        JobId = JobId,
        Status = S.Status,
        CreatedAt = S.Spec.CreatedAt,
        UpdatedAt = S.UpdatedAt,
        Title = S.Spec.Queries[0].Length <= 200 ? S.Spec.Queries[0] : S.Spec.Queries[0][..200] + "…",
        QueryCount = S.Spec.Queries.Count,
    });

    private async Task FlushAsync()
    {
        _flushTimer?.Dispose();
        _flushTimer = null;
        if (_coalesced.Unpersisted > 0)
        {
            await WriteInBackgroundAsync();
        }
    }

    private async Task WriteInBackgroundAsync()
    {
        try
        {
            await WriteNowAsync();
        }
        catch (Exception ex)
        {
            // Still owed: WriteNowAsync scheduled another attempt (and a deactivation writes too).
            logger.CoalescedWriteFailed(ex, JobId, CoalescedWrites.FailedFlushRetryDelay);
        }
    }

    /// <summary>
    /// Writes at once. Request paths fail fast (the gateway answers 503); background paths ride out an outage, and when
    /// even that fails the changes stay owed (counted in <see cref="_coalesced"/>) and a later flush writes them.
    /// </summary>
    private async Task WriteNowAsync(bool retrying = true)
    {
        // Only what is unpersisted now is settled by this write; changes made while it runs stay owed.
        var settling = _coalesced.Unpersisted;
        _flushTimer?.Dispose();
        _flushTimer = null;
        var seq = S.NextSeq;
        try
        {
            await (retrying ? _writes.WriteRetryingAsync() : _writes.WriteAsync());
        }
        catch (InconsistentStateException) when (retrying && !_deactivating)
        {
            // Another activation wrote the row: this one's view is stale and no retry can succeed. Reload from storage
            // (the job resumes from its checkpoints).
            DeactivateOnIdle();
            throw;
        }
        catch when (retrying && Exists && !_deactivating)
        {
            _coalesced.Owe();
            _flushTimer ??= this.RegisterGrainTimer(static (self, _) => self.FlushAsync(), this,
                new GrainTimerCreationOptions(CoalescedWrites.FailedFlushRetryDelay, Timeout.InfiniteTimeSpan));
            throw;
        }
        _coalesced.Written(settling, seq);
    }

    private Task PublishAsync() => _outbox.PublishAsync();

    private async Task<JobStatus> BuildStatusAsync(bool includeResults)
    {
        // Taken before the results are awaited, and listing only the pages it counts: a stage step or report that moves
        // the job on during the await cannot make the status claim pages (or an end) whose results it does not hold.
        var status = JobStatusProjection.Project(JobId, Ledger, null);
        if (!includeResults)
        {
            return status;
        }
        var counted = S.Queries.Select(q => q.PagesSucceeded).ToList();
        var results = await Task.WhenAll(Enumerable.Range(0, counted.Count)
            .Select(i => counted[i] != 0 ? QueryGrain(i).GetResultsAsync() : Task.FromResult<IReadOnlyList<SearchResult>>([])));
        return status with { Results = JobStatusProjection.CountedResults(counted, results) };
    }

    /// <summary>
    /// Erases the job for its owner: a running job is cancelled first (its provider calls abort and its stream ends with
    /// the terminal event), then every row it stored goes the way retention removes them. False for no job or another's.
    /// </summary>
    async Task<bool> ISearchJobGrain.DeleteAsync(string requester)
    {
        if (!Owns(requester))
        {
            return false;
        }
        if (!JobStates.IsTerminal(S.Status))
        {
            await ((ISearchJobGrain)this).CancelAsync(requester);
        }
        logger.DeletedByOwner(JobId);
        await DeleteAsync();
        return true;
    }
}
