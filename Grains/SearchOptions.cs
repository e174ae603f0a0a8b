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
}

/// <summary>The <c>Jobs</c> section.</summary>
public sealed class JobOptions
{
    public const string Section = "Jobs";

    /// <summary>How long a finished job is kept before it is deleted.</summary>
    public double RetentionHours { get; set; } = 24;

    /// <summary>Period of the reminder that resumes an unfinished job if nothing else does.</summary>
    public TimeSpan ResumeReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many events a job keeps for replay.</summary>
    public int EventTailLength { get; set; } = 500;
}
