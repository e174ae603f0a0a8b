using System.Text.Json.Serialization;

namespace Orleans.Search.RateLimiting;

/// <summary>A provider's circuit breaker, as the API shows it: <c>closed</c>, <c>half-open</c> or <c>open</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CircuitState>))]
public enum CircuitState
{
    /// <summary>Calls go through.</summary>
    [JsonStringEnumMemberName("closed")] Closed,

    /// <summary>A trial call goes through; its outcome closes or reopens the breaker.</summary>
    [JsonStringEnumMemberName("half-open")] HalfOpen,

    /// <summary>Calls are refused until the break ends.</summary>
    [JsonStringEnumMemberName("open")] Open,
}
