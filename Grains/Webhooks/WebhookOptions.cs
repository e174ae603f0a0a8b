using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Hosting;
using Orleans.Search.Net;

namespace Orleans.Search.Webhooks;

/// <summary>The <c>Webhooks</c> section: how deliveries are retried, timed out and kept.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>The schedule when <see cref="RetrySchedule"/> is not configured: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    /// <summary>
    /// The wait before each attempt: the first after the event, each later one after the attempt before it failed. One
    /// attempt per entry; then the delivery goes to the failed store. Empty (not configured) means the default.
    /// </summary>
    /// <remarks>Empty by default rather than the default schedule: configuration binding appends to an array it finds filled.</remarks>
    public TimeSpan[] RetrySchedule { get; set; } = [];

    /// <summary>How long an attempt waits for the receiver's answer.</summary>
    public double TimeoutSeconds { get; set; } = 15;

    /// <summary>The longest wait a receiver's <c>Retry-After</c> can impose before the next attempt.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(10);

    /// <summary>
    /// Period of a waiting delivery's reminder: the backstop that brings a delivery back after a crash (the first tick is
    /// due at its next attempt). Orleans' minimum reminder period is lowered to it when it is shorter.
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long the previous secret keeps signing after a rotation.</summary>
    public double RotationOverlapHours { get; set; } = 24;

    /// <summary>How long a delivered delivery (with its attempts) is kept before its row is deleted.</summary>
    public double DeliveredRetentionHours { get; set; } = 72;

    /// <summary>Endpoints one user may register.</summary>
    public int MaxEndpointsPerUser { get; set; } = 20;

    /// <summary>Failed deliveries kept per user; past it the oldest failure is dropped (and logged).</summary>
    public int MaxFailedPerUser { get; set; } = 1000;

    /// <summary><see cref="RetrySchedule"/>, or the default when none is configured.</summary>
    public IReadOnlyList<TimeSpan> Schedule => RetrySchedule.Length > 0 ? RetrySchedule : DefaultRetrySchedule;

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    public TimeSpan RotationOverlap => TimeSpan.FromHours(RotationOverlapHours);

    public TimeSpan DeliveredRetention => TimeSpan.FromHours(DeliveredRetentionHours);
}

/// <summary>Refuses to start with <c>Webhooks</c> settings deliveries cannot run with.</summary>
public sealed class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
    /// <summary>More attempts than this per round is a configuration mistake, not a policy.</summary>
    public const int MaxScheduleLength = 50;

    ValidateOptionsResult IValidateOptions<WebhookOptions>.Validate(string? name, WebhookOptions o)
    {
        var errors = new SettingsErrors(WebhookOptions.Section);
        errors.Require(o.RetrySchedule.Length <= MaxScheduleLength, nameof(o.RetrySchedule), $"at most {MaxScheduleLength} entries", o.RetrySchedule.Length);
        for (var i = 0; i < o.RetrySchedule.Length; i++)
        {
            errors.Require(o.RetrySchedule[i] >= TimeSpan.Zero, $"{nameof(o.RetrySchedule)}:{i}", "0 or more", o.RetrySchedule[i]);
        }
        errors.Require(double.IsFinite(o.TimeoutSeconds) && o.TimeoutSeconds > 0 && o.TimeoutSeconds <= 300, nameof(o.TimeoutSeconds), "more than 0 and at most 300", o.TimeoutSeconds);
        errors.Require(o.MaxRetryAfter >= TimeSpan.Zero, nameof(o.MaxRetryAfter), "0 or more", o.MaxRetryAfter);
        errors.Require(o.ReminderPeriod >= TimeSpan.FromSeconds(1), nameof(o.ReminderPeriod), "at least 1 second", o.ReminderPeriod);
        errors.Require(double.IsFinite(o.RotationOverlapHours) && o.RotationOverlapHours >= 0, nameof(o.RotationOverlapHours), "0 or more", o.RotationOverlapHours);
        errors.Require(double.IsFinite(o.DeliveredRetentionHours) && o.DeliveredRetentionHours >= 0, nameof(o.DeliveredRetentionHours), "0 or more", o.DeliveredRetentionHours);
        errors.Require(o.MaxEndpointsPerUser >= 1, nameof(o.MaxEndpointsPerUser), "at least 1", o.MaxEndpointsPerUser);
        errors.Require(o.MaxFailedPerUser >= 1, nameof(o.MaxFailedPerUser), "at least 1", o.MaxFailedPerUser);
        return errors.Result;
    }
}

public static class WebhookServiceCollectionExtensions
{
    /// <summary>What the webhook grains need: their options (validated at start) and the outbound guard.</summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        // Once per container: binding Net twice would bind its arrays twice.
        if (!services.Any(d => d.ServiceType == typeof(OutboundGuard)))
        {
            services.AddOutboundGuard(configuration);
        }
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        return services;
    }
}
