using System.Globalization;
using Orleans.Search.Caching;
using Orleans.Search.Providers;

namespace Orleans.Search.Hosting;

/// <summary>Collects a settings section's problems, each naming its configuration key and the value found.</summary>
internal sealed class SettingsErrors(string section)
{
    private readonly List<string> _errors = [];

    public void Require(bool valid, string key, string rule, object value)
    {
        if (!valid)
        {
            _errors.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{key} must be {rule}; it is {value}."));
        }
    }

    public ValidateOptionsResult Result => _errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_errors);
}

/// <summary>Refuses to start with <c>Search</c> settings the providers, their resilience or the limiters cannot use.</summary>
public sealed class SearchOptionsValidator : IValidateOptions<SearchOptions>
{
    ValidateOptionsResult IValidateOptions<SearchOptions>.Validate(string? name, SearchOptions o)
    {
        var errors = new SettingsErrors(SearchOptions.Section);
        errors.Require(o.MaxResponseBytes > 0, nameof(o.MaxResponseBytes), "positive", o.MaxResponseBytes);
        errors.Require(double.IsFinite(o.MaxPauseSeconds) && o.MaxPauseSeconds >= 0, nameof(o.MaxPauseSeconds), "0 or more", o.MaxPauseSeconds);
        foreach (var (provider, p) in o.Providers)
        {
            var key = $"Providers:{provider}:";
            errors.Require(p.MaxFileBytes > 0, key + nameof(p.MaxFileBytes), "positive", p.MaxFileBytes);
            errors.Require(p.MaxFiles > 0, key + nameof(p.MaxFiles), "positive", p.MaxFiles);
            errors.Require(p.PageSize > 0, key + nameof(p.PageSize), "positive", p.PageSize);
            errors.Require(double.IsFinite(p.PermitsPerMinute) && p.PermitsPerMinute >= 0, key + nameof(p.PermitsPerMinute), "0 (no rate) or more", p.PermitsPerMinute);
            errors.Require(p.Burst >= 1, key + nameof(p.Burst), "at least 1", p.Burst);
            errors.Require(p.MaxConcurrency >= 0, key + nameof(p.MaxConcurrency), "0 (no cap) or more", p.MaxConcurrency);
            errors.Require(double.IsFinite(p.JitterToleranceMs) && p.JitterToleranceMs >= 0, key + nameof(p.JitterToleranceMs), "0 or more", p.JitterToleranceMs);
            errors.Require(double.IsFinite(p.TimeoutSeconds) && p.TimeoutSeconds > 0, key + nameof(p.TimeoutSeconds), "more than 0", p.TimeoutSeconds);
            errors.Require(p.MaxAttempts >= 1, key + nameof(p.MaxAttempts), "at least 1", p.MaxAttempts);
            errors.Require(p.RetryBaseDelayMs >= 1, key + nameof(p.RetryBaseDelayMs), "at least 1", p.RetryBaseDelayMs);
            errors.Require(p.BreakerFailureRatio is >= 0.01 and <= 1, key + nameof(p.BreakerFailureRatio), "from 0.01 to 1", p.BreakerFailureRatio);
            errors.Require(p.BreakerMinimumThroughput >= 2, key + nameof(p.BreakerMinimumThroughput), "at least 2", p.BreakerMinimumThroughput);
            errors.Require(double.IsFinite(p.BreakerSamplingSeconds) && p.BreakerSamplingSeconds >= 0.5, key + nameof(p.BreakerSamplingSeconds), "at least 0.5", p.BreakerSamplingSeconds);
            errors.Require(double.IsFinite(p.BreakerBreakSeconds) && p.BreakerBreakSeconds >= 0.5, key + nameof(p.BreakerBreakSeconds), "at least 0.5", p.BreakerBreakSeconds);
        }
        return errors.Result;
    }
}

/// <summary>Refuses to start with <c>Limits:User</c> settings admission or the limiters cannot use.</summary>
public sealed class UserLimitOptionsValidator : IValidateOptions<UserLimitOptions>
{
    ValidateOptionsResult IValidateOptions<UserLimitOptions>.Validate(string? name, UserLimitOptions o)
    {
        var errors = new SettingsErrors(UserLimitOptions.Section);
        errors.Require(double.IsFinite(o.PermitsPerMinute) && o.PermitsPerMinute >= 0, nameof(o.PermitsPerMinute), "0 (no rate) or more", o.PermitsPerMinute);
        errors.Require(o.Burst >= 1, nameof(o.Burst), "at least 1", o.Burst);
        errors.Require(o.MaxConcurrency >= 0, nameof(o.MaxConcurrency), "0 (no cap) or more", o.MaxConcurrency);
        errors.Require(o.MaxOpenStreams >= 0, nameof(o.MaxOpenStreams), "0 (no cap) or more", o.MaxOpenStreams);
        errors.Require(o.MaxActiveJobs >= 0, nameof(o.MaxActiveJobs), "0 (no limit) or more", o.MaxActiveJobs);
        errors.Require(o.MaxJobsPerMinute >= 0, nameof(o.MaxJobsPerMinute), "0 (no limit) or more", o.MaxJobsPerMinute);
        errors.Require(o.MaxStoredJobs >= 0, nameof(o.MaxStoredJobs), "0 (no limit) or more", o.MaxStoredJobs);
        return errors.Result;
    }
}

/// <summary>Refuses to start with <c>Jobs</c> settings a job cannot run with.</summary>
public sealed class JobOptionsValidator : IValidateOptions<JobOptions>
{
    ValidateOptionsResult IValidateOptions<JobOptions>.Validate(string? name, JobOptions o)
    {
        var errors = new SettingsErrors(JobOptions.Section);
        errors.Require(double.IsFinite(o.RetentionHours) && o.RetentionHours >= 0, nameof(o.RetentionHours), "0 or more", o.RetentionHours);
        errors.Require(o.ResumeReminderPeriod > TimeSpan.Zero, nameof(o.ResumeReminderPeriod), "positive", o.ResumeReminderPeriod);
        errors.Require(o.StallCheckPeriod > TimeSpan.Zero, nameof(o.StallCheckPeriod), "positive", o.StallCheckPeriod);
        errors.Require(o.EventTailLength >= JobOptions.MinEventTailLength, nameof(o.EventTailLength), $"at least {JobOptions.MinEventTailLength}", o.EventTailLength);
        errors.Require(double.IsFinite(o.StorageRetrySeconds) && o.StorageRetrySeconds >= 0, nameof(o.StorageRetrySeconds), "0 or more", o.StorageRetrySeconds);
        return errors.Result;
    }
}

/// <summary>Refuses to start with a <c>Search:Cache</c> TTL that would cache nothing.</summary>
public sealed class CacheOptionsValidator : IValidateOptions<CacheOptions>
{
    ValidateOptionsResult IValidateOptions<CacheOptions>.Validate(string? name, CacheOptions o)
    {
        var errors = new SettingsErrors(CacheOptions.Section);
        errors.Require(o.Ttl > TimeSpan.Zero, nameof(o.Ttl), "positive", o.Ttl);
        return errors.Result;
    }
}
