using System.Collections.Concurrent;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using CircuitState = Orleans.Search.RateLimiting.CircuitState;

namespace Orleans.Search.Providers;

/// <summary>
/// One Polly pipeline per provider and silo: retries with exponential backoff and jitter on transient failures
/// (408, 429, 5xx, no response, attempt timeout) honouring the provider's Retry-After; a circuit breaker that
/// fails fast while the provider is broken (429s do not count: they mean "slow down", which the limiter handles);
/// and a timeout per attempt. Breaker changes are reported to the provider's limiter grain, so
/// <c>/api/rate-limits</c> shows them for the whole cluster.
/// </summary>
public sealed partial class ProviderResilience(IOptionsMonitor<SearchOptions> options, IGrainFactory grains, TimeProvider time, ILogger<ProviderResilience> logger)
{
    private static readonly ResiliencePropertyKey<Action<TimeSpan>> RetryObserver = new("orleans-search.retry-observer");
    private readonly ConcurrentDictionary<string, (SearchProviderOptions Options, Pipelines Pipelines)> _pipelines = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _silo = $"{Environment.MachineName}/{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>
    /// Runs <paramref name="attempt"/> with the provider's retries. <paramref name="onRetry"/> hears each backoff delay.
    /// Continuations stay on the caller's scheduler, so grain code can run inside <paramref name="attempt"/>.
    /// </summary>
    public Task<T> RetryAsync<T>(string provider, Func<CancellationToken, Task<T>> attempt, Action<TimeSpan> onRetry, CancellationToken cancellationToken) =>
        RunAsync(PipelinesFor(provider).Retry, attempt, onRetry, cancellationToken);

    /// <summary>
    /// One provider call through the provider's circuit breaker and attempt timeout. Called after the permits are
    /// held, so calls queued in the limiters are refused as soon as the breaker opens.
    /// </summary>
    public Task<T> CallAsync<T>(string provider, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        RunAsync(PipelinesFor(provider).Call, call, null, cancellationToken);

    private static async Task<T> RunAsync<T>(ResiliencePipeline pipeline, Func<CancellationToken, Task<T>> callback, Action<TimeSpan>? onRetry, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, cancellationToken);
        if (onRetry is not null)
        {
            context.Properties.Set(RetryObserver, onRetry);
        }
        try
        {
            return await pipeline.ExecuteAsync(static async (ctx, run) => await run(ctx.CancellationToken), context, callback);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>A clear message for a call refused by an open circuit.</summary>
    public static string Describe(BrokenCircuitException ex, string provider) =>
        $"provider '{provider}' is failing, so its circuit breaker is open: calls are refused" +
        (ex.RetryAfter is { } wait ? $" for another {wait.TotalSeconds:0.#} s" : "") + ".";

    private Pipelines PipelinesFor(string provider)
    {
        var current = options.CurrentValue.Providers.TryGetValue(provider, out var o) ? o : new SearchProviderOptions();
        var entry = _pipelines.AddOrUpdate(provider,
            name => (current, Build(name, current)),
            (name, existing) => ReferenceEquals(existing.Options, current) ? existing : (current, Build(name, current)));
        return entry.Pipelines;
    }

    private Pipelines Build(string provider, SearchProviderOptions o)
    {
        var retry = new ResiliencePipelineBuilder { TimeProvider = time };
        if (o.MaxAttempts > 1)
        {
            retry.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = o.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryBaseDelay,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder()
                    .Handle<ProviderException>(ex => ex.IsTransient)
                    .Handle<TimeoutRejectedException>(),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is ProviderException { RetryAfter: { } wait } ? ProviderHeaders.Clamp(wait, options.CurrentValue.MaxPause) : (TimeSpan?)null),
                OnRetry = args =>
                {
                    if (args.Context.Properties.TryGetValue(RetryObserver, out var observer))
                    {
                        observer(args.RetryDelay);
                    }
                    return default;
                },
            });
        }
        var limiter = grains.GetGrain<RateLimiting.IRateLimiterGrain>(RateLimiting.LimiterKeys.Provider(provider));
        var call = new ResiliencePipelineBuilder { TimeProvider = time };
        call.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            // Validated at start (SearchOptionsValidator): within Polly's ranges.
            FailureRatio = o.BreakerFailureRatio,
            MinimumThroughput = o.BreakerMinimumThroughput,
            SamplingDuration = o.BreakerSampling,
            BreakDuration = o.BreakerBreak,
            ShouldHandle = new PredicateBuilder()
                .Handle<ProviderException>(ex => ex.StatusCode is null or 408 or >= 500)
                .Handle<TimeoutRejectedException>(),
            OnOpened = args =>
            {
                LogCircuitOpened(logger, args.Outcome.Exception, provider, args.BreakDuration);
                Report(limiter, CircuitState.Open, time.GetUtcNow() + args.BreakDuration, args.Outcome.Exception?.Message);
                return default;
            },
            OnHalfOpened = _ =>
            {
                Report(limiter, CircuitState.HalfOpen, null, null);
                return default;
            },
            OnClosed = _ =>
            {
                LogCircuitClosed(logger, provider);
                Report(limiter, CircuitState.Closed, null, null);
                return default;
            },
        });
        call.AddTimeout(o.Timeout);
        return new Pipelines(retry.Build(), call.Build());
    }

    private sealed record Pipelines(ResiliencePipeline Retry, ResiliencePipeline Call);

    private void Report(RateLimiting.IRateLimiterGrain limiter, CircuitState state, DateTimeOffset? openUntil, string? error) =>
        _ = limiter.ReportCircuitAsync(new RateLimiting.CircuitReport { Silo = _silo, State = state, Since = time.GetUtcNow(), OpenUntil = openUntil, LastError = error });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provider {Provider}: circuit opened for {Duration}")]
    private static partial void LogCircuitOpened(ILogger logger, Exception? exception, string provider, TimeSpan duration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Provider {Provider}: circuit closed")]
    private static partial void LogCircuitClosed(ILogger logger, string provider);
}
