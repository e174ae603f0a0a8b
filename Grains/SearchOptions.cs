using Orleans.Search.Providers;

namespace Orleans.Search;

/// <summary>The <c>Search</c> section: providers and the default one.</summary>
public sealed class SearchOptions
{
    public const string Section = "Search";

    public string DefaultProvider { get; set; } = "local";

    public Dictionary<string, SearchProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The most bytes read of one provider response; a bigger one fails the call (not retried).</summary>
    public long MaxResponseBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>The longest pause a provider's <c>Retry-After</c> or rate-limit reset header can impose on the cluster.</summary>
    public double MaxPauseSeconds { get; set; } = 300;

    public TimeSpan MaxPause => TimeSpan.FromSeconds(MaxPauseSeconds);
}

/// <summary>The <c>Limits:User</c> section: what one user may spend, across the cluster.</summary>
public sealed class UserLimitOptions
{
    public const string Section = "Limits:User";

    public double PermitsPerMinute { get; set; } = 600;

    public int Burst { get; set; } = 20;

    public int MaxConcurrency { get; set; } = 20;

    public int MaxActiveJobs { get; set; } = 20;

    /// <summary>Event streams plus <c>POST /api/search</c> waits one user may hold open at once, across the cluster; 0 means no cap.</summary>
    public int MaxOpenStreams { get; set; } = 8;

    /// <summary>Jobs a user may create in any minute (0: no limit). A retry of an existing job is not a new job.</summary>
    public int MaxJobsPerMinute { get; set; } = 30;

    /// <summary>Jobs a user may keep, finished ones included, until they are deleted or pass their retention (0: no limit).</summary>
    public int MaxStoredJobs { get; set; } = 1000;

    /// <summary>The job limits admission applies.</summary>
    public Jobs.JobLimits JobLimits => new() { MaxActiveJobs = MaxActiveJobs, MaxJobsPerMinute = MaxJobsPerMinute, MaxStoredJobs = MaxStoredJobs };
}

/// <summary>The <c>Jobs</c> section.</summary>
public sealed class JobOptions
{
    public const string Section = "Jobs";

    /// <summary>How long a finished job is kept before it is deleted.</summary>
    public double RetentionHours { get; set; } = 24;

    /// <summary>Period of the reminder that resumes an unfinished job if nothing else does.</summary>
    public TimeSpan ResumeReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a running job may hear nothing from its queries before it asks them for their state and restarts
    /// any whose activation was lost (a report or a query that died with a silo).
    /// </summary>
    public TimeSpan StallCheckPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The smallest event tail a job keeps, whatever is configured: a reconnect needs a few events to replay.</summary>
    public const int MinEventTailLength = 10;

    /// <summary>How many events a job keeps for replay (at least <see cref="MinEventTailLength"/>).</summary>
    public int EventTailLength { get; set; } = 500;

    /// <summary>
    /// How long a job's background writes (its coalesced row) retry a failing database before they give up; what they
    /// held is written by a later attempt.
    /// </summary>
    public double StorageRetrySeconds { get; set; } = 300;

    /// <summary><see cref="RetentionHours"/> as a duration.</summary>
    public TimeSpan Retention => TimeSpan.FromHours(RetentionHours);

    /// <summary><see cref="StorageRetrySeconds"/> as a duration.</summary>
    public TimeSpan StorageRetry => TimeSpan.FromSeconds(StorageRetrySeconds);
}
