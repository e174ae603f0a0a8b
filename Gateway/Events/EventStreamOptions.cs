namespace Orleans.Search.Gateway.Events;

/// <summary>The <c>Events</c> section: how the gateway keeps a job's event stream alive, and how long one lasts.</summary>
public sealed class EventStreamOptions
{
    public const string Section = "Events";

    /// <summary>A <c>:</c> comment goes out whenever nothing else did for this long, so proxies and clients keep the connection.</summary>
    public double KeepAliveSeconds { get; set; } = 15;

    /// <summary>A stream ends after this long (fractions allowed); the client reconnects with Last-Event-ID.</summary>
    public double MaxStreamMinutes { get; set; } = 30;

    public TimeSpan KeepAlive => TimeSpan.FromSeconds(KeepAliveSeconds);

    public TimeSpan MaxStreamLife => TimeSpan.FromMinutes(MaxStreamMinutes);

    /// <summary>Problems with the settings, none when they are usable.</summary>
    public IEnumerable<string> Errors()
    {
        if (!(KeepAliveSeconds is > 0 and <= 3600))
        {
            yield return $"{Section}:KeepAliveSeconds must be more than 0 and at most 3600; it is {KeepAliveSeconds}.";
        }
        if (!(MaxStreamMinutes is > 0 and <= 1440))
        {
            yield return $"{Section}:MaxStreamMinutes must be more than 0 and at most 1440; it is {MaxStreamMinutes}.";
        }
    }
}

/// <summary>Refuses to start with settings that would make streams unusable.</summary>
public sealed class EventStreamOptionsValidator : IValidateOptions<EventStreamOptions>
{
    ValidateOptionsResult IValidateOptions<EventStreamOptions>.Validate(string? name, EventStreamOptions options)
    {
        var errors = options.Errors().ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
