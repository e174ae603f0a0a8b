using Orleans.Search.Storage;

namespace Orleans.Search.Jobs;

/// <summary>
/// How an earlier version kept the index: the whole list in the grain's state. Read only to move such a list into the
/// index table once; the row is deleted afterwards.
/// </summary>
public sealed class UserJobsState
{
    public List<JobSummary> Jobs { get; set; } = [];
}

/// <summary>
/// A user's job index and the admission point of their new jobs. The index is one row per job in an
/// <see cref="IUserJobStore"/>; the grain keeps in memory only what admission counts (read from the store once, at
/// activation, then kept up to date by the changes it makes itself, as the user's only writer) plus its reservations.
/// </summary>
public sealed partial class UserJobsGrain(
    [PersistentState("user-jobs", SearchStorage.Name)] IPersistentState<UserJobsState> legacy,
    IUserJobStore store,
    IOptionsMonitor<JobOptions> jobOptions,
    TimeProvider time,
    ILogger<UserJobsGrain> logger) : Grain, IUserJobsGrain
{
    /// <summary>A reservation outlives a gateway that died between admitting and submitting a job only this long.</summary>
    private static readonly TimeSpan ReservationLifetime = TimeSpan.FromMinutes(1);

    /// <summary>The window of <see cref="JobLimits.MaxJobsPerMinute"/>.</summary>
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>What a refusal for active jobs suggests waiting: jobs end (or are cancelled) at any moment.</summary>
    private static readonly TimeSpan ActiveRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Bounds of a refusal's wait for stored jobs (until the oldest finished job passes its retention).</summary>
    private static readonly TimeSpan MinStoredRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxStoredRetryAfter = TimeSpan.FromHours(1);

    /// <summary>Jobs admitted but not indexed yet, with when they were admitted. In memory: they last a request.</summary>
    private readonly Dictionary<string, DateTimeOffset> _reservations = [];

    /// <summary>Creation times of the jobs indexed within the last minute, oldest first.</summary>
    private readonly List<DateTimeOffset> _createdLastMinute = [];

    private int _stored;
    private int _active;

    /// <summary>Cached answer of <see cref="IUserJobStore.OldestFinishedAsync"/>; dropped whenever a job finishes or is removed.</summary>
    private (bool Known, DateTimeOffset? At) _oldestFinished;

    private string UserId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (legacy.State.Jobs.Count > 0)
        {
            foreach (var summary in legacy.State.Jobs)
            {
                await store.UpsertAsync(UserId, summary, cancellationToken);
            }
            LogMovedLegacyIndex(logger, legacy.State.Jobs.Count, UserId);
            await legacy.ClearStateAsync(cancellationToken);
        }
        var now = time.GetUtcNow();
        var counts = await store.CountAsync(UserId, now - Minute, cancellationToken);
        (_stored, _active) = (counts.Stored, counts.Active);
        _createdLastMinute.AddRange(counts.CreatedSince.Order());
    }

    async Task IUserJobsGrain.UpsertAsync(JobSummary summary)
    {
        var previous = await store.UpsertAsync(UserId, summary);
        // Indexed: from now on the row counts, not the reservation.
        _reservations.Remove(summary.JobId);
        if (previous is null)
        {
            _stored++;
            InsertInOrder(_createdLastMinute, summary.CreatedAt);
            ForgetCreationsBefore(time.GetUtcNow() - Minute);
        }
        var wasActive = previous is not null && !JobStates.IsTerminal(previous);
        var isActive = !JobStates.IsTerminal(summary.Status);
        if (wasActive != isActive)
        {
            _active = Math.Max(0, _active + (isActive ? 1 : -1));
        }
        if (!isActive && previous != summary.Status)
        {
            _oldestFinished = default;
        }
    }

    async Task IUserJobsGrain.RemoveAsync(string jobId)
    {
        var previous = await store.RemoveAsync(UserId, jobId);
        _reservations.Remove(jobId);
        if (previous is not null)
        {
            _stored = Math.Max(0, _stored - 1);
            if (!JobStates.IsTerminal(previous))
            {
                _active = Math.Max(0, _active - 1);
            }
            _oldestFinished = default;
        }
    }

    async Task<JobList> IUserJobsGrain.ListAsync(string? status, int limit, string? cursor)
    {
        JobPosition? after = JobListCursor.TryParse(cursor, out var position) ? new JobPosition(position.CreatedAt, position.JobId) : null;
        var page = (await store.ListAsync(UserId, status, limit + 1, after)).ToList();
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(page.Count - 1);
        }
        return new JobList { Items = page, NextCursor = more ? JobListCursor.Format(page[^1]) : null };
    }

    Task<int> IUserJobsGrain.CountActiveAsync() => Task.FromResult(_active);

    async Task<JobSubmitOutcome> IUserJobsGrain.SubmitAsync(JobSubmission submission, JobLimits limits, bool idempotent)
    {
        if (submission.Owner != UserId)
        {
            throw new ArgumentException($"A job of user '{submission.Owner}' was submitted to the index of user '{UserId}'.", nameof(submission));
        }
        var job = GrainFactory.GetGrain<ISearchJobGrain>(submission.JobId);
        // A retry of a job that exists is never refused; without an Idempotency-Key the id is new, so there is nothing to ask.
        var reserved = limits.Any && (!idempotent || await job.GetStatusAsync(submission.Owner, includeResults: false) is null);
        if (reserved)
        {
            var admission = await TryReserveAsync(submission.JobId, limits);
            if (!admission.Admitted)
            {
                return JobSubmitOutcome.Refused(admission);
            }
        }
        try
        {
            // The job indexes itself (UpsertAsync here) before it answers: its call comes back along this call chain.
            using var reentry = RequestContext.AllowCallChainReentrancy();
            return JobSubmitOutcome.Admitted(await job.SubmitAsync(submission));
        }
        catch (JobConflictException ex)
        {
            return JobSubmitOutcome.Conflicting(ex.Message);
        }
        finally
        {
            if (reserved)
            {
                // Indexed by now (then UpsertAsync already dropped it) or not created: either way it no longer counts.
                _reservations.Remove(submission.JobId);
            }
        }
    }

    /// <summary>
    /// Reserves a place for a job about to be submitted while every limit has room, counting reservations as jobs. A job
    /// already reserved (a concurrent submission of the same id) is admitted again. No await before the reservation is
    /// taken, so interleaved submissions count each other.
    /// </summary>
    private async ValueTask<JobAdmission> TryReserveAsync(string jobId, JobLimits limits)
    {
        var now = time.GetUtcNow();
        foreach (var lapsed in _reservations.Where(r => r.Value + ReservationLifetime <= now).Select(r => r.Key).ToList())
        {
            _reservations.Remove(lapsed);
        }
        ForgetCreationsBefore(now - Minute);

        if (_reservations.ContainsKey(jobId))
        {
            return new JobAdmission { Admitted = true };
        }
        // Every reservation is a job about to be created: it will be active, created this minute and stored.
        var pending = _reservations.Count;
        if (limits.MaxActiveJobs > 0 && _active + pending >= limits.MaxActiveJobs)
        {
            return Refuse(JobLimitNames.Active, _active + pending, limits.MaxActiveJobs, ActiveRetryAfter);
        }
        if (limits.MaxJobsPerMinute > 0 && _createdLastMinute.Count + pending >= limits.MaxJobsPerMinute)
        {
            // A place frees when the oldest creation (or reservation) in the window is a minute old.
            var oldest = _createdLastMinute.Concat(_reservations.Values).Min();
            return Refuse(JobLimitNames.PerMinute, _createdLastMinute.Count + pending, limits.MaxJobsPerMinute, oldest + Minute - now);
        }
        if (limits.MaxStoredJobs > 0 && _stored + pending >= limits.MaxStoredJobs)
        {
            return Refuse(JobLimitNames.Stored, _stored + pending, limits.MaxStoredJobs, await StoredRetryAfterAsync(now));
        }
        _reservations[jobId] = now;
        return new JobAdmission { Admitted = true };
    }

    private static JobAdmission Refuse(string limit, int count, int max, TimeSpan retryAfter) => new()
    {
        Admitted = false,
        Limit = limit,
        Count = count,
        Max = max,
        RetryAfter = retryAfter > TimeSpan.FromSeconds(1) ? retryAfter : TimeSpan.FromSeconds(1),
    };

    /// <summary>
    /// A place frees when the oldest finished job passes its retention (or sooner, if the user deletes one); with no
    /// finished job, only active ones, a minute is as good a guess as any.
    /// </summary>
    private async Task<TimeSpan> StoredRetryAfterAsync(DateTimeOffset now)
    {
        if (!_oldestFinished.Known)
        {
            _oldestFinished = (true, await store.OldestFinishedAsync(UserId));
        }
        if (_oldestFinished.At is not { } finishedAt)
        {
            return Minute;
        }
        var wait = finishedAt + jobOptions.CurrentValue.Retention - now;
        return wait < MinStoredRetryAfter ? MinStoredRetryAfter : wait > MaxStoredRetryAfter ? MaxStoredRetryAfter : wait;
    }

    private void ForgetCreationsBefore(DateTimeOffset windowStart)
    {
        var inWindow = _createdLastMinute.FindIndex(t => t > windowStart);
        _createdLastMinute.RemoveRange(0, inWindow < 0 ? _createdLastMinute.Count : inWindow);
    }

    private static void InsertInOrder(List<DateTimeOffset> times, DateTimeOffset time)
    {
        var index = times.BinarySearch(time);
        times.Insert(index < 0 ? ~index : index, time);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Moved {Count} jobs of user {UserId} from the old whole-list state into the index table")]
    private static partial void LogMovedLegacyIndex(ILogger logger, int count, string userId);
}
