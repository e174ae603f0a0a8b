using System.Diagnostics.Metrics;

namespace Orleans.Search.Diagnostics;

/// <summary>The product's own metrics (meter <c>Orleans.Search</c>), exported by the hosts through OpenTelemetry.</summary>
public static class SearchMetrics
{
    public const string MeterName = "Orleans.Search";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> JobsStarted = Meter.CreateCounter<long>("search.jobs.started", description: "Jobs accepted");

    /// <summary>Tagged with <c>status</c>: completed, failed, cancelled.</summary>
    public static readonly Counter<long> JobsEnded = Meter.CreateCounter<long>("search.jobs.ended", description: "Jobs that reached a terminal status");

    /// <summary>Tagged with <c>provider</c> and <c>status</c> (HTTP status, or "error" when no response came).</summary>
    public static readonly Counter<long> ProviderCalls = Meter.CreateCounter<long>("search.provider.calls", description: "Provider calls");

    public static readonly Counter<long> ProviderThrottled = Meter.CreateCounter<long>("search.provider.throttled", description: "Provider answers 429");

    public static readonly Counter<long> ProviderRetries = Meter.CreateCounter<long>("search.provider.retries", description: "Retried provider calls");

    public static readonly Histogram<double> LimiterWait = Meter.CreateHistogram<double>("search.limiter.wait", unit: "ms", description: "Time waiting for rate-limit permits per call");

    /// <summary>Tagged with <c>result</c>: hit or miss.</summary>
    public static readonly Counter<long> CacheLookups = Meter.CreateCounter<long>("search.cache.lookups", description: "Result cache lookups");

    public static readonly Histogram<double> EventDeliveryDelay = Meter.CreateHistogram<double>("search.events.delivery_delay", unit: "ms", description: "From a job event's creation to its relay to an HTTP client");

    /// <summary>LLM call attempts, tagged with <c>provider</c> and <c>status</c> (HTTP status, or error, timeout, cut, cancelled).</summary>
    public static readonly Counter<long> LlmCalls = Meter.CreateCounter<long>("search.llm.calls", description: "LLM call attempts");

    /// <summary>Tokens billed by LLM providers, tagged with <c>provider</c> and <c>kind</c>: input, cached_input, output, reasoning.</summary>
    public static readonly Counter<long> LlmTokens = Meter.CreateCounter<long>("search.llm.tokens", unit: "{token}", description: "LLM tokens billed");

    /// <summary>Tagged with <c>provider</c>.</summary>
    public static readonly Counter<double> LlmCostUsd = Meter.CreateCounter<double>("search.llm.cost_usd", unit: "USD", description: "LLM cost at the configured prices");

    /// <summary>Tagged with <c>provider</c>.</summary>
    public static readonly Histogram<double> LlmLimiterWait = Meter.CreateHistogram<double>("search.llm.limiter.wait", unit: "ms", description: "Time waiting for the LLM limiter per attempt");
}
