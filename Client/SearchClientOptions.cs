namespace Orleans.Search.Client;

/// <summary>Where the API is, how to authenticate, and how <see cref="SearchJobsClient.FollowAsync"/> reconnects.</summary>
public sealed class SearchClientOptions
{
    /// <summary>The gateway's base address (default <c>http://localhost:5080</c>).</summary>
    public Uri BaseAddress { get; set; } = new("http://localhost:5080");

    /// <summary>The API key, sent as <c>Authorization: Bearer</c>; null for a gateway without keys.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The first reconnect delay after a dropped event stream; it doubles per failure up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan InitialReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest reconnect delay.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Reconnects in a row without receiving an event before following gives up and throws the last error.</summary>
    public int MaxReconnectAttempts { get; set; } = 30;

    /// <summary>Throws if the options cannot work.</summary>
    public void Validate()
    {
        if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"BaseAddress must be an absolute http or https address; it is '{BaseAddress}'.", nameof(BaseAddress));
        }
        if (InitialReconnectDelay < TimeSpan.Zero || MaxReconnectDelay < InitialReconnectDelay)
        {
            throw new ArgumentException("Reconnect delays must be non-negative, and MaxReconnectDelay at least InitialReconnectDelay.", nameof(MaxReconnectDelay));
        }
        if (MaxReconnectAttempts < 1)
        {
            throw new ArgumentException("MaxReconnectAttempts must be at least 1.", nameof(MaxReconnectAttempts));
        }
    }
}
