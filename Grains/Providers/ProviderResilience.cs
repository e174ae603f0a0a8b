using System.Collections.Concurrent;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Orleans.Search.Providers;

/// <summary>
/// One Polly pipeline per provider: retries with exponential backoff and jitter on transient failures
/// (408, 429, 5xx, no response, attempt timeout), honouring the provider's Retry-After; a timeout per attempt.
/// </summary>
public sealed class ProviderResilience(IOptionsMonitor<SearchOptions> options, TimeProvider time)
{
    private static readonly ResiliencePropertyKey<Action<TimeSpan>> RetryObserver = new("orleans-search.retry-observer");
    private readonly ConcurrentDictionary<string, (SearchProviderOptions Options, ResiliencePipeline Pipeline)> _pipelines = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Runs <paramref name="attempt"/> under the provider's pipeline. <paramref name="onRetry"/> hears each backoff delay.
    /// Continuations stay on the caller's scheduler, so grain code can run inside <paramref name="attempt"/>.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(string provider, Func<CancellationToken, Task<T>> attempt, Action<TimeSpan> onRetry, CancellationToken cancellationToken)
    {
        var pipeline = PipelineFor(provider);
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, cancellationToken);
        context.Properties.Set(RetryObserver, onRetry);
        try
        {
            return await pipeline.ExecuteAsync(static async (ctx, run) => await run(ctx.CancellationToken), context, attempt);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline PipelineFor(string provider)
    {
        var current = options.CurrentValue.Providers.TryGetValue(provider, out var o) ? o : new SearchProviderOptions();
        var entry = _pipelines.AddOrUpdate(provider,
            _ => (current, Build(current)),
            (_, existing) => ReferenceEquals(existing.Options, current) ? existing : (current, Build(current)));
        return entry.Pipeline;
    }

    private ResiliencePipeline Build(SearchProviderOptions o)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (o.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = o.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(Math.Max(1, o.RetryBaseDelayMs)),
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder()
                    .Handle<ProviderException>(ex => ex.IsTransient)
                    .Handle<TimeoutRejectedException>(),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is ProviderException { RetryAfter: { } wait } ? wait : (TimeSpan?)null),
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
        builder.AddTimeout(TimeSpan.FromSeconds(o.TimeoutSeconds > 0 ? o.TimeoutSeconds : 20));
        return builder.Build();
    }
}
