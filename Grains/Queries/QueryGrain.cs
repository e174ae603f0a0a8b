using System.Diagnostics;
using Orleans.Search.Caching;
using Orleans.Search.Diagnostics;
using Orleans.Search.Providers;
using Orleans.Search.Storage;

namespace Orleans.Search.Queries;

/// <summary>
/// Runs its pages concurrently, each through both limiters and the provider's resilience pipeline.
/// A page is checkpointed (results and all) before it is reported; reports go to the job one at a time,
/// newest state first, so the job never sees them out of order.
/// </summary>
public sealed class QueryGrain(
    [PersistentState("query", SearchStorage.Name)] IPersistentState<QueryState> state,
    SearchProviderCatalog providers,
    ProviderResilience resilience,
    ProviderPermits permits,
    ILocalSiloDetails localSilo,
    TimeProvider time,
    ILogger<QueryGrain> logger) : Grain, IQueryGrain
{
    private const int AttemptLogLength = 100;
    private readonly StateWriteGate<QueryState> _writes = new(state, logger, time);
    private CancellationTokenSource? _run;
    private Task? _runTask;
    private CoalescedReports? _reports;

    /// <summary>Pages whose results a delivered report carried (this activation only: after a restart the job may lack them).</summary>
    private int _pagesDelivered;
    private IGrainTimer? _keepAlive;

    private QueryState S => state.State;

    Task<QueryReport> IQueryGrain.StartAsync(QueryWork work)
    {
        if (S.Work is null)
        {
            // Not written here: the first checkpoint stores the work with the page. Until then there is nothing this
            // row could save after a crash that the job does not resend (it resumes every unfinished query with its work).
            S.Work = work;
            S.Status = QueryStates.Running;
            S.Version++;
        }
        if (!QueryStates.IsTerminal(S.Status) && _runTask is null)
        {
            _run = new CancellationTokenSource();
            var run = RunAsync(_run.Token);
            // A run whose awaits all completed synchronously has ended (and cleared _runTask) already: keep only a running one.
            _runTask = run.IsCompleted ? null : run;
        }
        return Task.FromResult(BuildReport());
    }

    async Task<QueryReport> IQueryGrain.CancelAsync(QueryWork work)
    {
        // A query cancelled before it started keeps a tombstone, so a late StartAsync cannot start it.
        S.Work ??= work;
        if (!QueryStates.IsTerminal(S.Status))
        {
            // Cancel first: from here on no provider call can start, and in-flight ones are aborted.
            _run?.Cancel();
            S.Status = QueryStates.Cancelled;
            S.Version++;
            await _writes.WriteAsync();
        }
        return BuildReport();
    }

    Task<IReadOnlyList<SearchResult>> IQueryGrain.GetResultsAsync()
    {
        if (S.Work is not { } work)
        {
            return Task.FromResult<IReadOnlyList<SearchResult>>([]);
        }
        IReadOnlyList<SearchResult> results = S.Pages.OrderBy(p => p.Key).SelectMany(p => ResultsOf(work, p.Key, p.Value)).ToList();
        return Task.FromResult(results);
    }

    private static IEnumerable<SearchResult> ResultsOf(QueryWork work, int page, List<StoredHit> hits) =>
        hits.Select((hit, i) => new SearchResult
        {
            Url = hit.Url,
            Title = hit.Title,
            Snippet = hit.Snippet,
            Query = work.Query,
            Page = page,
            Rank = i + 1,
            Provider = work.Provider,
            Path = hit.Path,
            Line = hit.Line,
        });

    Task<QueryDebug?> IQueryGrain.GetDebugAsync() => Task.FromResult(S.Work is { } work
        ? new QueryDebug { Index = work.Index, Query = work.Query, Provider = work.Provider, Status = S.Status, Attempts = S.AttemptLog.ToList(), Error = S.Error }
        : null);

    async Task IQueryGrain.DeleteAsync()
    {
        _run?.Cancel();
        await _writes.ClearAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _run?.Cancel();
        if (_runTask is { } run)
        {
            await run.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Current);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // Keep the activation alive while it works, however long the limiters make it wait.
        _keepAlive = this.RegisterGrainTimer(_ => Task.CompletedTask, new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true });
        try
        {
            var work = S.Work!;
            var pending = Enumerable.Range(1, work.Pages).Where(p => !PageMask.IsSet(S.PagesSucceeded | S.PagesFailed, p)).ToList();
            // One look at the cache for all the pages (one call to the query's cache activation, not one per page).
            var fetcherId = Guid.NewGuid();
            var cache = work.UseCache ? GrainFactory.GetGrain<IResultCacheGrain>(CacheKeys.For(work.Provider, work.Query)) : null;
            var lookups = cache is null ? null : await LookupPagesAsync(cache, pending, fetcherId, cancellationToken);
            await Task.WhenAll(pending.Select((page, i) => RunPageAsync(work, page, lookups is null ? null : cache, lookups?[i], fetcherId, cancellationToken)));
            if (cancellationToken.IsCancellationRequested || QueryStates.IsTerminal(S.Status))
            {
                return;
            }
            S.Status = S.PagesFailed == 0 ? QueryStates.Completed : QueryStates.Failed;
            await SaveAndReportAsync();
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.StoppedUnexpectedly(ex, this.GetPrimaryKeyString());
        }
        finally
        {
            _keepAlive?.Dispose();
            _runTask = null;
        }
    }

    /// <param name="cache">The query's cache activation, or null when the page is fetched uncached.</param>
    /// <param name="lookup">What the first look at the cache said about this page (with <paramref name="cache"/>).</param>
    private async Task RunPageAsync(QueryWork work, int page, IResultCacheGrain? cache, CacheLookup? lookup, Guid fetcherId, CancellationToken cancellationToken)
    {
        var options = providers.GetOptions(work.Provider);
        var attempt = 0;
        try
        {
            if (cache is not null)
            {
                if (lookup is { InFlight: true })
                {
                    // Another caller fetches this page: wait for its results (or become the fetcher if it gives up).
                    lookup = await LookupAsync(cache, page, fetcherId, cancellationToken);
                }
                if (lookup is null)
                {
                    cache = null;
                }
                else if (lookup.Hits is { } cached)
                {
                    S.Counters = S.Counters with { CacheHits = S.Counters.CacheHits + 1 };
                    SearchMetrics.CacheLookups.Add(1, new KeyValuePair<string, object?>("result", "hit"));
                    Log(new AttemptRecord { Page = page, Attempt = 0, StartedAt = time.GetUtcNow(), StatusCode = 200, CacheHit = true });
                    await CheckpointAsync(page, cached.Select(h => new StoredHit(h.Url, h.Title, h.Snippet, h.Path, h.Line)).ToList());
                    return;
                }
                else
                {
                    S.Counters = S.Counters with { CacheMisses = S.Counters.CacheMisses + 1 };
                    SearchMetrics.CacheLookups.Add(1, new KeyValuePair<string, object?>("result", "miss"));
                }
            }

            var result = await FetchAsync(work, page, options, () => ++attempt, cancellationToken);
            var hits = result.Hits.Select(h => new StoredHit(h.Url, h.Title, h.Snippet, h.Path, h.Line)).ToList();
            _ = cache?.CompleteAsync(page, fetcherId, hits.Select(h => new CachedHit(h.Url, h.Title, h.Snippet, h.Path, h.Line)).ToList());
            await CheckpointAsync(page, hits);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            _ = cache?.AbandonAsync(page, fetcherId);
        }
        catch (Exception ex)
        {
            _ = cache?.AbandonAsync(page, fetcherId);
            S.PagesFailed |= PageMask.Bit(page);
            S.Counters = S.Counters with { Errors = S.Counters.Errors + 1 };
            S.Error = ex switch
            {
                ProviderException pe => $"page {page}: {pe.Message}",
                Polly.Timeout.TimeoutRejectedException => $"page {page}: timed out after {options.TimeoutSeconds:0.#} s ({attempt} attempts)",
                Polly.CircuitBreaker.BrokenCircuitException broken => $"page {page}: {ProviderResilience.Describe(broken, work.Provider)}",
                _ => $"page {page}: {ex.Message}",
            };
            if (ex is Polly.CircuitBreaker.BrokenCircuitException)
            {
                Log(new AttemptRecord { Page = page, Attempt = attempt + 1, StartedAt = time.GetUtcNow(), Error = S.Error });
            }
            // Provider failures are expected and described; anything else is a bug, so keep its stack.
            logger.PageFailed(ex is ProviderException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException ? null : ex,
                this.GetPrimaryKeyString(), page, attempt, S.Error);
            EndIfAllPagesDone(work);
            await SaveAndReportAsync();
        }
    }

    /// <summary>The cache is an optimization: if it cannot answer, the pages are fetched uncached rather than failed.</summary>
    private async Task<IReadOnlyList<CacheLookup>?> LookupPagesAsync(IResultCacheGrain cache, List<int> pages, Guid fetcherId, CancellationToken cancellationToken)
    {
        try
        {
            // Not cancelled midway: the answer may make this query a page's fetcher, which each page then completes or
            // abandons (a cancelled page abandons), so no other query waits on a fetch nobody makes.
            return await cache.LookupPagesAsync(pages, fetcherId, localSilo.SiloAddress);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.CacheUnavailable(ex, this.GetPrimaryKeyString());
            return null;
        }
    }

    /// <summary>Waits for another caller's fetch of the page; null (fetch it uncached) if the cache cannot answer.</summary>
    private async Task<CacheLookup?> LookupAsync(IResultCacheGrain cache, int page, Guid fetcherId, CancellationToken cancellationToken)
    {
        try
        {
            return await cache.LookupAsync(page, fetcherId, localSilo.SiloAddress, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.CacheUnavailable(ex, this.GetPrimaryKeyString());
            return null;
        }
    }

    /// <summary>One page through the provider's resilience pipeline; every attempt takes both permits first.</summary>
    private Task<ProviderPage> FetchAsync(QueryWork work, int page, SearchProviderOptions options, Func<int> nextAttempt, CancellationToken cancellationToken)
    {
        var leaseDuration = TimeSpan.FromSeconds(options.TimeoutSeconds + 10);
        AttemptRecord? last = null;
        return resilience.RetryAsync(work.Provider, async attemptToken =>
        {
            var attempt = nextAttempt();
            using var lease = await permits.AcquireAsync(work.Owner, work.Provider, this.GetPrimaryKeyString(), work.JobId, leaseDuration, attemptToken);
            attemptToken.ThrowIfCancellationRequested();
            S.Counters = S.Counters with
            {
                Attempts = S.Counters.Attempts + 1,
                ApiCalls = S.Counters.ApiCalls + 1,
                RateLimitWaitMs = S.Counters.RateLimitWaitMs + lease.WaitMs,
            };
            SearchMetrics.LimiterWait.Record(lease.WaitMs);
            var startedAt = time.GetUtcNow();
            var watch = Stopwatch.StartNew();
            try
            {
                var provider = providers.Get(work.Provider);
                var providerPage = await resilience.CallAsync(work.Provider, callToken => provider.SearchAsync(new ProviderQuery(work.Query, page, options.PageSize), callToken), attemptToken);
                last = Log(new AttemptRecord { Page = page, Attempt = attempt, StartedAt = startedAt, DurationMs = watch.ElapsedMilliseconds, StatusCode = providerPage.StatusCode, LimiterWaitMs = lease.WaitMs, Bytes = providerPage.Bytes });
                if (providerPage.Usage is { } usage)
                {
                    // Billed whether or not the page is kept: counted on the attempt that paid for it.
                    S.Counters = S.Counters with { SearchTokens = S.Counters.SearchTokens + usage };
                }
                CountCall(work.Provider, providerPage.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return providerPage;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (ex is ProviderException { StatusCode: 429 } throttled)
                {
                    lease.Report(new PermitOutcome { StatusCode = 429, RetryAfter = throttled.RetryAfter });
                    SearchMetrics.ProviderThrottled.Add(1, new KeyValuePair<string, object?>("provider", work.Provider));
                }
                CountCall(work.Provider, (ex as ProviderException)?.StatusCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "error");
                var message = ex is Polly.Timeout.TimeoutRejectedException ? $"attempt timed out after {options.TimeoutSeconds:0.#} s" : ex.Message;
                last = Log(new AttemptRecord { Page = page, Attempt = attempt, StartedAt = startedAt, DurationMs = watch.ElapsedMilliseconds, StatusCode = (ex as ProviderException)?.StatusCode, Error = message, LimiterWaitMs = lease.WaitMs, Bytes = (ex as ProviderException)?.ResponseBytes });
                throw;
            }
        },
        delay =>
        {
            S.Counters = S.Counters with { Retries = S.Counters.Retries + 1 };
            SearchMetrics.ProviderRetries.Add(1, new KeyValuePair<string, object?>("provider", work.Provider));
            if (last is not null)
            {
                ReplaceLast(last, last with { RetryDelayMs = (long)delay.TotalMilliseconds });
            }
        },
        cancellationToken);
    }

    private static void CountCall(string provider, string status) =>
        SearchMetrics.ProviderCalls.Add(1, new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("status", status));

    /// <summary>Durable before reported: a crash after this never refetches the page.</summary>
    private Task CheckpointAsync(int page, List<StoredHit> hits)
    {
        S.Pages[page] = hits;
        S.PagesSucceeded |= PageMask.Bit(page);
        EndIfAllPagesDone(S.Work!);
        return SaveAndReportAsync();
    }

    /// <summary>The last page's write also stores the query's end, so a query costs one write fewer.</summary>
    private void EndIfAllPagesDone(QueryWork work)
    {
        if (!QueryStates.IsTerminal(S.Status) && PageMask.Count(S.PagesSucceeded | S.PagesFailed) >= work.Pages)
        {
            S.Status = S.PagesFailed == 0 ? QueryStates.Completed : QueryStates.Failed;
        }
    }

    private async Task SaveAndReportAsync()
    {
        S.Version++;
        await _writes.WriteRetryingAsync();
        RequestReport();
    }

    private AttemptRecord Log(AttemptRecord record)
    {
        S.AttemptLog.Add(record);
        if (S.AttemptLog.Count > AttemptLogLength)
        {
            S.AttemptLog.RemoveAt(0);
        }
        return record;
    }

    private void ReplaceLast(AttemptRecord old, AttemptRecord updated)
    {
        var index = S.AttemptLog.LastIndexOf(old);
        if (index >= 0)
        {
            S.AttemptLog[index] = updated;
        }
    }

    private void RequestReport() => (_reports ??= new CoalescedReports(SendReportAsync)).Request();

    /// <summary>Sends the newest summary, retrying while the job cannot take it.</summary>
    private async Task SendReportAsync()
    {
        try
        {
            var job = GrainFactory.GetGrain<ISearchJobGrain>(S.Work!.JobId);
            var (report, carried) = BuildReportWithNewResults();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await job.ReportQueryAsync(report);
                    _pagesDelivered |= carried;
                    return;
                }
                catch (Exception ex) when (attempt < 30)
                {
                    // The job may be busy riding out a storage outage; keep trying for a few minutes.
                    logger.ReportRetrying(ex, this.GetPrimaryKeyString(), attempt);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 200 * attempt * attempt)), time);
                }
            }
        }
        catch (Exception ex)
        {
            // The job reconciles from this grain when it resumes.
            logger.ReportFailed(ex, this.GetPrimaryKeyString());
        }
    }

    /// <summary>The summary, with the results of the pages no delivered report carried yet (and the mask of those pages).</summary>
    private (QueryReport Report, int Carried) BuildReportWithNewResults()
    {
        var report = BuildReport();
        var carried = S.PagesSucceeded & ~_pagesDelivered;
        if (carried == 0 || S.Work is not { } work)
        {
            return (report, 0);
        }
        var results = S.Pages.Where(p => PageMask.IsSet(carried, p.Key)).OrderBy(p => p.Key).SelectMany(p => ResultsOf(work, p.Key, p.Value)).ToList();
        return (report with { NewResults = results }, carried);
    }

    private QueryReport BuildReport()
    {
        var work = S.Work;
        return new QueryReport
        {
            Index = work?.Index ?? -1,
            Version = S.Version,
            Status = S.Status,
            PagesSucceeded = S.PagesSucceeded,
            PagesFailed = S.PagesFailed,
            PageResultCounts = work is null ? [] : Enumerable.Range(1, work.Pages).Select(p => S.Pages.TryGetValue(p, out var hits) ? hits.Count : 0).ToList(),
            ResultCount = S.Pages.Values.Sum(p => p.Count),
            Counters = S.Counters,
            Error = S.Error,
        };
    }
}
