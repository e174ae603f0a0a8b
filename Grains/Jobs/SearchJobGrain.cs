using Orleans.Search.Diagnostics;
using Orleans.Search.Storage;
using Orleans.Storage;
using Orleans.Streams;

namespace Orleans.Search.Jobs;

/// <summary>
/// Owns a job. Query grains report full summaries; the job turns the difference into events, publishes
/// them on the job's stream, keeps a bounded tail for replay, and writes its small row coalesced: at once
/// for creation and terminal states, otherwise every <see cref="MaxUnpersistedEvents"/> events or
/// <see cref="FlushDelay"/>. After a crash the summaries are rebuilt from the query grains' checkpoints.
/// </summary>
public sealed class SearchJobGrain(
    [PersistentState("job", SearchStorage.Name)] IPersistentState<SearchJobState> state,
    IOptionsMonitor<JobOptions> jobOptions,
    TimeProvider time,
    ILogger<SearchJobGrain> logger) : Grain, ISearchJobGrain, IRemindable
{
    private const string LifecycleReminder = "lifecycle";
    private const int MaxUnpersistedEvents = 32;

    /// <summary>Sequence numbers skipped after an unclean stop, more than could have been published unpersisted.</summary>
    private const long SeqGapAfterCrash = 1000;
    private static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>After a coalesced write gave up (the database was away for the whole retry window), when to try again.</summary>
    private static readonly TimeSpan FailedFlushRetryDelay = TimeSpan.FromSeconds(5);

    private readonly StateWriteGate<SearchJobState> _writes = new(state, logger, time,
        () => TimeSpan.FromSeconds(Math.Max(0, jobOptions.CurrentValue.StorageRetrySeconds)));
    private readonly SemaphoreSlim _publishGate = new(1, 1);
    private readonly Queue<JobEvent> _outbox = new();
    private IAsyncStream<JobEvent>? _stream;
    private IGrainTimer? _flushTimer;
    private Task? _starting;
    private int _unpersisted;
    private bool _resumeAnnounced;
    private IGrainTimer? _stallCheck;
    private IGrainTimer? _forget;
    private long _lastChangeTimestamp;

    /// <summary>A create is being stored: the job does not exist yet, but this activation must not go away.</summary>
    private bool _creating;

    /// <summary>The user's index missed the job's last change (its write failed); the next change tries again.</summary>
    private bool _indexOwed;

    private bool _deactivating;

    /// <summary>Every event before this sequence number is in storage.</summary>
    private long _storedSeq;

    private SearchJobState S => state.State;

    private string JobId => this.GetPrimaryKeyString();

    private bool Exists => S.Spec is not null;

    /// <summary>How long a running job goes without any query report before it checks on its queries.</summary>
    private TimeSpan StallCheckPeriod => jobOptions.CurrentValue.StallCheckPeriod;

    /// <summary>How long an activation asked about a job that does not exist stays to answer calls already on their way.</summary>
    private static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(5);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _stream = this.GetStreamProvider(SearchStreams.ProviderName).GetStream<JobEvent>(SearchStreams.ForJob(JobId));
        _storedSeq = S.NextSeq;
        if (Exists && !JobStates.IsTerminal(S.Status))
        {
            S.NextSeq += SeqGapAfterCrash;
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
        if (Exists && _unpersisted > 0)
        {
            try
            {
                await WriteNowAsync();
            }
            catch (Exception ex)
            {
                // The job resumes from its checkpoints; only its summary's latest events are lost.
                logger.LogWarning(ex, "Job {JobId}: writing its row while deactivating failed", JobId);
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
            // to nothing and the reminder of a job that does not exist unregisters itself.
            await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).AddAsync(JobId);
            await this.RegisterOrUpdateReminder(LifecycleReminder, jobOptions.CurrentValue.ResumeReminderPeriod, jobOptions.CurrentValue.ResumeReminderPeriod);
            await StoreNewJobAsync(submission);
        }
        finally
        {
            _creating = false;
        }
        await IndexOrOweAsync();
        await PublishAsync();

        SearchMetrics.JobsStarted.Add(1);
        _starting = StartQueriesAsync();
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
                    logger.LogError(ex, "Job {JobId}: cancelling query {Index} failed", JobId, i);
                    return null;
                }
            }));
        foreach (var report in reports.OfType<QueryReport>())
        {
            Apply(report);
        }
        var now = time.GetUtcNow();
        S.CompletedAt = now;
        S.Message = $"Cancelled with {S.Queries.Sum(q => q.ResultCount)} results found so far";
        Emit(JobEventTypes.Cancelled, S.Message);
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
                : new QueryDebug { Index = i, Query = S.Queries[i].Query, Status = S.Queries[i].Status }));
        return new JobDebug { JobId = JobId, Status = S.Status, Queries = queries };
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
            Message = $"{submission.Queries.Count} {(submission.Queries.Count == 1 ? "query" : "queries")} × {submission.Pages} {(submission.Pages == 1 ? "page" : "pages")} on {submission.Provider}",
        };
        Emit(JobEventTypes.Created, S.Message);
        Emit(JobEventTypes.Started, "Started");
        try
        {
            await WriteNowAsync(retrying: false);
        }
        catch
        {
            state.State = new SearchJobState();
            _outbox.Clear();
            _unpersisted = 0;
            _storedSeq = S.NextSeq;
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
        if (_starting is not null || time.GetElapsedTime(_lastChangeTimestamp) < StallCheckPeriod)
        {
            return;
        }
        _lastChangeTimestamp = time.GetTimestamp();
        try
        {
            _starting = StartQueriesAsync();
            await _starting;
        }
        catch (Exception ex)
        {
            logger.LogWarning("Job {JobId}: checking on stalled queries failed: {Error}; trying again later", JobId, ex.Message);
        }
    }

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
        _starting ??= StartQueriesAsync(resumed: true);
        await _starting;
    }

    /// <summary>Starts (or, after a restart, resumes and reconciles) every unfinished query.</summary>
    private async Task StartQueriesAsync(bool resumed = false)
    {
        try
        {
            var reports = await Task.WhenAll(Enumerable.Range(0, S.Queries.Count)
                .Where(i => !QueryStates.IsTerminal(S.Queries[i].Status))
                .Select(async i =>
                {
                    try
                    {
                        return await QueryGrain(i).StartAsync(WorkFor(i));
                    }
                    catch (Exception ex)
                    {
                        logger.LogError(ex, "Job {JobId}: starting query {Index} failed; the lifecycle reminder retries", JobId, i);
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
                Emit(JobEventTypes.Resumed, $"Resumed at {Progress():0.#}%");
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

    /// <summary>Applies a query's report if it is newer than what the job has; returns whether anything changed.</summary>
    private bool Apply(QueryReport report)
    {
        if (report.Index < 0 || report.Index >= S.Queries.Count)
        {
            return false;
        }
        var q = S.Queries[report.Index];
        if (report.Version <= q.Version)
        {
            return false;
        }
        var live = !JobStates.IsTerminal(S.Status);
        var wasStatus = q.Status;
        var (oldSucceeded, oldFailed) = (q.PagesSucceeded, q.PagesFailed);

        _lastChangeTimestamp = time.GetTimestamp();
        q.Version = report.Version;
        q.Status = report.Status;
        q.PageResultCounts = [.. report.PageResultCounts];
        q.ResultCount = report.ResultCount;
        q.Attempts = report.Attempts;
        q.ApiCalls = report.ApiCalls;
        q.Retries = report.Retries;
        q.CacheHits = report.CacheHits;
        q.CacheMisses = report.CacheMisses;
        q.RateLimitWaitMs = report.RateLimitWaitMs;
        q.Errors = report.Errors;
        q.Error = report.Error;

        if (live && wasStatus == QueryStates.Pending && report.Status != QueryStates.Pending)
        {
            Emit(JobEventTypes.QueryStarted, $"Query {report.Index + 1} started", report.Index);
        }
        // Masks grow page by page so each event carries the progress of that moment.
        for (var page = 1; page <= S.Spec!.Pages; page++)
        {
            var bit = 1 << (page - 1);
            if ((report.PagesSucceeded & bit) != 0 && (oldSucceeded & bit) == 0)
            {
                q.PagesSucceeded |= bit;
                if (live)
                {
                    var count = page <= q.PageResultCounts.Count ? q.PageResultCounts[page - 1] : 0;
                    Emit(JobEventTypes.PageCompleted, $"Query {report.Index + 1}, page {page}: {count} results", report.Index, page, count);
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

    private async Task AfterChangeAsync()
    {
        S.UpdatedAt = time.GetUtcNow();
        if (_indexOwed)
        {
            await IndexOrOweAsync();
        }
        if (!JobStates.IsTerminal(S.Status) && S.Queries.All(q => QueryStates.IsTerminal(q.Status)))
        {
            Finish();
            await EndAsync();
            return;
        }
        // Publish first: subscribers need not wait for the job's coalesced write (the pages behind these events are
        // already durable in their query grains, and up to MaxUnpersistedEvents events go out unpersisted anyway).
        await PublishAsync();
        if (S.NextSeq - _storedSeq >= 8 * MaxUnpersistedEvents)
        {
            // Storage is far behind: wait for it, so published-but-unstored events stay well under SeqGapAfterCrash.
            await WriteNowAsync();
        }
        else if (_unpersisted >= MaxUnpersistedEvents)
        {
            // In the background: the next reports need not wait for the job's own (rebuildable) row.
            _ = WriteInBackgroundAsync();
        }
        else if (_unpersisted > 0)
        {
            _flushTimer ??= this.RegisterGrainTimer(static (self, _) => self.FlushAsync(), this,
                new GrainTimerCreationOptions(FlushDelay, Timeout.InfiniteTimeSpan));
        }
    }

    private void Finish()
    {
        var results = S.Queries.Sum(q => q.ResultCount);
        var failed = S.Queries.Where(q => q.Status == QueryStates.Failed).ToList();
        S.CompletedAt = time.GetUtcNow();
        // A job fails only when nothing could be done.
        if (failed.Count == S.Queries.Count && S.Queries.All(q => q.PagesSucceeded == 0))
        {
            S.Status = JobStates.Failed;
            S.Error = failed.Count == 1 ? failed[0].Error : $"All {failed.Count} queries failed; first error: {failed[0].Error}";
            S.Message = "Failed";
            Emit(JobEventTypes.Failed, S.Error, error: S.Error);
            return;
        }
        S.Status = JobStates.Completed;
        S.Message = failed.Count == 0
            ? $"Completed: {results} results"
            : $"Completed: {results} results; {failed.Count} of {S.Queries.Count} queries failed";
        Emit(JobEventTypes.Completed, S.Message);
    }

    /// <summary>After a terminal state: persist, publish, leave the active set, and schedule deletion.</summary>
    private async Task EndAsync()
    {
        SearchMetrics.JobsEnded.Add(1, new KeyValuePair<string, object?>("status", S.Status));
        S.UpdatedAt = time.GetUtcNow();
        await WriteNowAsync();
        await PublishAsync();
        try
        {
            await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).RemoveAsync(JobId);
            await IndexAsync();
            var retention = Retention;
            await this.RegisterOrUpdateReminder(LifecycleReminder, retention > TimeSpan.Zero ? retention : TimeSpan.FromSeconds(1),
                retention > jobOptions.CurrentValue.ResumeReminderPeriod ? retention : jobOptions.CurrentValue.ResumeReminderPeriod);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Job {JobId}: bookkeeping after the end failed; the reminder retries", JobId);
        }
    }

    private async Task DeleteAsync()
    {
        logger.LogInformation("Job {JobId}: retention passed; deleting", JobId);
        await Task.WhenAll(Enumerable.Range(0, S.Queries.Count).Select(i => QueryGrain(i).DeleteAsync()));
        await GrainFactory.GetGrain<IUserJobsGrain>(S.Spec!.Owner).RemoveAsync(JobId);
        await GrainFactory.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(JobId)).RemoveAsync(JobId);
        await UnregisterLifecycleAsync();
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
            logger.LogWarning("Job {JobId}: indexing it for its owner failed: {Error}; trying again at its next change", JobId, ex.Message);
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
        if (_unpersisted > 0)
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
            logger.LogWarning(ex, "Job {JobId}: a coalesced write failed; trying again in {Delay}", JobId, FailedFlushRetryDelay);
        }
    }

    /// <summary>
    /// Writes at once. Request paths fail fast (the gateway answers 503); background paths ride out an outage, and when
    /// even that fails the changes stay owed (counted in <see cref="_unpersisted"/>) and a later flush writes them.
    /// </summary>
    private async Task WriteNowAsync(bool retrying = true)
    {
        // Only what is unpersisted now is settled by this write; changes made while it runs stay owed.
        var settling = _unpersisted;
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
            _unpersisted = Math.Max(_unpersisted, 1);
            _flushTimer ??= this.RegisterGrainTimer(static (self, _) => self.FlushAsync(), this,
                new GrainTimerCreationOptions(FailedFlushRetryDelay, Timeout.InfiniteTimeSpan));
            throw;
        }
        _unpersisted = Math.Max(0, _unpersisted - settling);
        _storedSeq = Math.Max(_storedSeq, seq);
    }

    private void Emit(string type, string? message, int? queryIndex = null, int? page = null, int? resultCount = null, string? error = null)
    {
        var e = new JobEvent
        {
            Seq = S.NextSeq++,
            JobId = JobId,
            Type = type,
            Status = S.Status,
            Progress = Progress(),
            Message = message,
            Stats = Stats(),
            Timestamp = time.GetUtcNow(),
            QueryIndex = queryIndex,
            Query = queryIndex is { } i ? S.Queries[i].Query : null,
            Page = page,
            ResultCount = resultCount,
            Error = error,
        };
        S.Events.Add(e);
        var excess = S.Events.Count - Math.Max(10, jobOptions.CurrentValue.EventTailLength);
        if (excess > 0)
        {
            S.Events.RemoveRange(0, excess);
        }
        _outbox.Enqueue(e);
        _unpersisted++;
    }

    /// <summary>Publishes queued events in order; the stream is best effort, the tail is the record.</summary>
    private async Task PublishAsync()
    {
        await _publishGate.WaitAsync();
        try
        {
            while (_outbox.Count > 0)
            {
                // Everything queued goes out as one stream message: a report that completes ten pages costs one
                // enqueue, not ten round trips. Subscribers still receive the events one by one, in order.
                var batch = new List<JobEvent>(_outbox.Count);
                while (_outbox.TryDequeue(out var e))
                {
                    batch.Add(e);
                }
                try
                {
                    if (batch.Count == 1)
                    {
                        await _stream!.OnNextAsync(batch[0]);
                    }
                    else
                    {
                        await _stream!.OnNextBatchAsync(batch);
                    }
                }
                catch (Exception ex)
                {
                    logger.LogWarning(ex, "Job {JobId}: publishing events {First}–{Last} failed; subscribers catch up from the tail", JobId, batch[0].Seq, batch[^1].Seq);
                }
            }
        }
        finally
        {
            _publishGate.Release();
        }
    }

    /// <summary>Share of planned page units done; 100 only once completed.</summary>
    private double Progress()
    {
        if (S.Status == JobStates.Completed)
        {
            return 100;
        }
        var planned = S.Queries.Count * (S.Spec?.Pages ?? 1);
        if (planned == 0)
        {
            return 0;
        }
        var done = S.Queries.Sum(q => PageMask.Count(q.PagesSucceeded | q.PagesFailed));
        return Math.Min(99.9, Math.Floor(1000.0 * done / planned) / 10);
    }

    private JobStats Stats()
    {
        var apiCalls = S.Queries.Sum(q => q.ApiCalls);
        var hits = S.Queries.Sum(q => q.CacheHits);
        var misses = S.Queries.Sum(q => q.CacheMisses);
        var errors = S.Queries.Sum(q => q.Errors);
        return new JobStats
        {
            ApiCalls = apiCalls,
            CacheHits = hits,
            CacheMisses = misses,
            CacheHitRate = hits + misses == 0 ? 0 : Math.Round((double)hits / (hits + misses), 4),
            TotalResults = S.Queries.Sum(q => q.ResultCount),
            Errors = errors,
            ErrorRate = apiCalls == 0 ? 0 : Math.Round((double)errors / apiCalls, 4),
            Retries = S.Queries.Sum(q => q.Retries),
            RateLimitWaitMs = S.Queries.Sum(q => q.RateLimitWaitMs),
        };
    }

    private async Task<JobStatus> BuildStatusAsync(bool includeResults)
    {
        var spec = S.Spec!;
        IReadOnlyList<SearchResult> results = [];
        if (includeResults)
        {
            var perQuery = await Task.WhenAll(Enumerable.Range(0, S.Queries.Count)
                .Select(i => S.Queries[i].Version > 0 ? QueryGrain(i).GetResultsAsync() : Task.FromResult<IReadOnlyList<SearchResult>>([])));
            // Only pages the job has counted: a query shows a page as soon as it has it, before its checkpoint is durable
            // and reported, and a status must not list results its own page counts do not include.
            results = perQuery.SelectMany((r, i) => r.Where(result => PageMask.IsSet(S.Queries[i].PagesSucceeded, result.Page))).ToList();
        }
        return new JobStatus
        {
            JobId = JobId,
            Status = S.Status,
            Progress = Progress(),
            Message = S.Message,
            CreatedAt = spec.CreatedAt,
            UpdatedAt = S.UpdatedAt,
            CompletedAt = S.CompletedAt,
            Provider = spec.Provider,
            Pages = spec.Pages,
            Queries = S.Queries.Select(q => new QueryStatus
            {
                Query = q.Query,
                Status = q.Status,
                PagesDone = PageMask.Count(q.PagesSucceeded),
                PagesTotal = spec.Pages,
                ResultCount = q.ResultCount,
                Attempts = q.Attempts,
                Error = q.Error,
            }).ToList(),
            Stats = Stats(),
            Results = results,
            Error = S.Error,
            LastSeq = S.NextSeq - 1,
        };
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
        logger.LogInformation("Job {JobId}: deleted by its owner", JobId);
        await DeleteAsync();
        return true;
    }
}
