using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orleans.Search.Fakes;

/// <summary>One request as it arrived, before any response. <see cref="Page"/> is null when <c>pageno</c> was invalid.</summary>
public sealed record FakeSearxngArrival(DateTimeOffset ArrivedAt, string Method, string Path, string? Query, int? Page, string? Format);

/// <summary>One generated result (<paramref name="Index"/> is 1-based on its page), as <see cref="FakeSearxngOptions.ShapeResult"/> sees it.</summary>
public sealed record FakeSearxngResult(string Query, int Page, int Index, string Url, string Title, string Content);

/// <summary>
/// Loopback stand-in for a SearXNG server, speaking its JSON API (<c>GET|POST /search</c> and <c>/</c>,
/// with <c>q</c>, <c>format=json</c> and <c>pageno</c>). It runs on a real Kestrel server bound only to 127.0.0.1
/// on an ephemeral port. Behaviour is set by <see cref="Options"/>, and the counters can be read while it runs.
/// </summary>
/// <remarks>
/// A request goes through these stages in order:
/// bearer token (401) → forced 429 (ThrottleNext) → quota (429) → format (403) → q (400) → pageno (400) → gate → latency
/// → FailQueries (500) → Faults → FailFirstAttempts (503) → 200.
/// The quota comes first because SearXNG's limiter runs before the search view. The gate and the latency stand for the
/// time spent querying engines, so they come after the cheap validation, as they do in SearXNG.
/// One difference: real SearXNG answers <c>/?q=…</c> with a 308 redirect to <c>/search</c>. The fake serves <c>/</c>
/// directly so that each client call counts as one request.
/// </remarks>
public sealed class FakeSearxng : IAsyncDisposable
{
    /// <summary>The host of every generated result URL.</summary>
    public const string ResultHost = "results.example";

    private static readonly byte[] _tooManyRequestsBody = "Too Many Requests"u8.ToArray();
    private static readonly byte[] _serviceUnavailableBody = "Service Unavailable"u8.ToArray();
    private static readonly byte[] _okBody = "OK"u8.ToArray();
    private static readonly byte[] _searchErrorBody = """{"error": "search error"}"""u8.ToArray();
    private static readonly byte[] _noQueryBody = """{"error": "No query"}"""u8.ToArray();
    private static readonly byte[] _unauthorizedBody = """{"error": "unauthorized"}"""u8.ToArray();
    private static readonly byte[] _malformedBody = """{"query": "x", "results": [{"url": "https://results.example/1", "title": """u8.ToArray();

    // Werkzeug's default pages, which flask.abort(403) and unknown routes produce.
    private static readonly byte[] _forbiddenBody = Encoding.UTF8.GetBytes(
        "<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n"
        + "<p>You don&#39;t have the permission to access the requested resource. It is either read-protected or not readable by the server.</p>\n");
    private static readonly byte[] _notFoundBody = Encoding.UTF8.GetBytes(
        "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        + "<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n");
    private static readonly byte[] _methodNotAllowedBody = Encoding.UTF8.GetBytes(
        "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n"
        + "<p>The method is not allowed for the requested URL.</p>\n");

    private LoopbackHost? _host;
    private readonly TokenBucketQuota _quota;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<(string Query, int Page), KeyCounters> _perKey = new();
    private readonly int[] _statusCounts = new int[600];
    private readonly Lock _arrivalsLock = new();
    private readonly Queue<FakeSearxngArrival> _arrivals = new();
    private readonly List<DateTimeOffset> _forcedThrottles = [];
    private readonly Lock _waitersLock = new();
    private readonly List<Waiter> _waiters = [];

    private FakeSearxngArrival? _lastArrival;
    private int _totalRequests;
    private int _inFlight;
    private int _maxInFlight;
    private int _aborted;
    private int _disposed;

    private FakeSearxng(FakeSearxngOptions options)
    {
        Options = options;
        _quota = new TokenBucketQuota(options.TimeProvider);
    }

    /// <summary>The live options. Changes take effect on the next request.</summary>
    public FakeSearxngOptions Options { get; }

    /// <summary>The address the server listens on, for example <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Every request that arrived, whatever its path or outcome.</summary>
    public int TotalRequests => Volatile.Read(ref _totalRequests);

    /// <summary>Requests being handled now. A request counts until its handler returns.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The highest <see cref="InFlight"/> seen since start or <see cref="Reset"/>.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests whose client went away (RequestAborted fired) before the response was written.</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);

    /// <summary>429 responses sent.</summary>
    public int RateLimitedResponses => ResponsesWithStatus(StatusCodes.Status429TooManyRequests);

    /// <summary>
    /// Starts the server on 127.0.0.1, on <see cref="FakeSearxngOptions.Port"/> or else an ephemeral port. When <paramref name="options"/> is given, that same instance
    /// becomes the live <see cref="Options"/>.
    /// </summary>
    public static async Task<FakeSearxng> StartAsync(FakeSearxngOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeSearxngOptions();

        var fake = new FakeSearxng(options);
        try
        {
            fake._host = await LoopbackHost.StartAsync(fake.HandleAsync, options.Port, cancellationToken).ConfigureAwait(false);
            fake.BaseUrl = fake._host.BaseUrl;
            return fake;
        }
        catch
        {
            await fake.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The URL for a JSON search on this server.</summary>
    public Uri SearchUri(string query, int page = 1) =>
        new(BaseUrl, $"search?q={Uri.EscapeDataString(query)}&format=json&pageno={page.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The URL of result <paramref name="index"/> (1-based) on <paramref name="page"/> for <paramref name="query"/>.</summary>
    public static string ResultUrl(string query, int page, int index) => $"https://{ResultHost}{ResultPath(query, page, index)}";

    /// <summary>The title of result <paramref name="index"/> (1-based) on <paramref name="page"/> for <paramref name="query"/>.</summary>
    public static string ResultTitle(string query, int page, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{query} — result {page}.{index}");

    /// <summary>The snippet of result <paramref name="index"/> (1-based) on <paramref name="page"/> for <paramref name="query"/>.</summary>
    public static string ResultContent(string query, int page, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"Snippet {page}.{index} about {query}: deterministic text from the fake SearXNG.");

    /// <summary>Requests that arrived with this q and pageno (a missing pageno counts as 1), whatever the response.</summary>
    public int RequestsFor(string query, int page) =>
        _perKey.TryGetValue((query, page), out var counters) ? Volatile.Read(ref counters.Requests) : 0;

    /// <summary>Requests for this q and pageno whose client went away before the response was written.</summary>
    public int AbortsFor(string query, int page) =>
        _perKey.TryGetValue((query, page), out var counters) ? Volatile.Read(ref counters.Aborts) : 0;

    /// <summary>When the last request for this q and pageno was seen aborted (by <see cref="FakeSearxngOptions.TimeProvider"/>); null if none was.</summary>
    public DateTimeOffset? LastAbortFor(string query, int page) =>
        _perKey.TryGetValue((query, page), out var counters) && Interlocked.Read(ref counters.LastAbortUtcTicks) is var ticks and not 0
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : null;

    /// <summary>200 responses fully written for this q and pageno.</summary>
    public int SuccessesFor(string query, int page) =>
        _perKey.TryGetValue((query, page), out var counters) ? Volatile.Read(ref counters.Successes) : 0;

    /// <summary>
    /// When the last 200 for this q and pageno was fully written, as a <see cref="TimeProvider.GetTimestamp"/> value of
    /// <see cref="FakeSearxngOptions.TimeProvider"/> (the <see cref="System.Diagnostics.Stopwatch"/> clock by default); null if none was.
    /// </summary>
    public long? LastSuccessTimestampFor(string query, int page) =>
        _perKey.TryGetValue((query, page), out var counters) && Volatile.Read(ref counters.LastSuccessTimestamp) is var at and not 0 ? at : null;

    /// <summary>Responses fully written with this status code.</summary>
    public int ResponsesWithStatus(int statusCode) =>
        statusCode >= 0 && statusCode < _statusCounts.Length ? Volatile.Read(ref _statusCounts[statusCode]) : 0;

    /// <summary>A copy of the request counts per (q, pageno).</summary>
    public IReadOnlyDictionary<(string Query, int Page), int> RequestCountsSnapshot() =>
        _perKey.ToDictionary(kv => kv.Key, kv => Volatile.Read(ref kv.Value.Requests));

    /// <summary>A copy of the success (200) counts per (q, pageno). Keys with no success are left out.</summary>
    public IReadOnlyDictionary<(string Query, int Page), int> SuccessCountsSnapshot() =>
        _perKey.Select(kv => (kv.Key, Count: Volatile.Read(ref kv.Value.Successes)))
            .Where(x => x.Count > 0)
            .ToDictionary(x => x.Key, x => x.Count);

    /// <summary>A copy of the arrival log, in arrival order (at most <see cref="FakeSearxngOptions.ArrivalLogLimit"/> entries).</summary>
    public IReadOnlyList<FakeSearxngArrival> ArrivalsSnapshot()
    {
        lock (_arrivalsLock)
        {
            return [.. _arrivals];
        }
    }

    /// <summary>When each 429 armed by <see cref="FakeSearxngOptions.ThrottleNext"/> was answered (taken just before it was written).</summary>
    public IReadOnlyList<DateTimeOffset> ForcedThrottlesSnapshot()
    {
        lock (_arrivalsLock)
        {
            return [.. _forcedThrottles];
        }
    }

    /// <summary>How many requests arrived strictly after <paramref name="instant"/>, for checks such as "nothing was sent after cancellation".</summary>
    public int ArrivalsAfter(DateTimeOffset instant)
    {
        lock (_arrivalsLock)
        {
            return _arrivals.Count(a => a.ArrivedAt > instant);
        }
    }

    /// <summary>When the last request arrived, or null if none has.</summary>
    public DateTimeOffset? LastArrivalAt
    {
        get
        {
            lock (_arrivalsLock)
            {
                return _lastArrival?.ArrivedAt;
            }
        }
    }

    /// <summary>
    /// Clears every counter, the arrival log, the FailFirstAttempts history and the quota bucket. The options stay as they are.
    /// Call it while no request is running. Requests running during a reset may be counted on either side of it.
    /// </summary>
    public void Reset()
    {
        _perKey.Clear();
        for (var i = 0; i < _statusCounts.Length; i++)
        {
            Volatile.Write(ref _statusCounts[i], 0);
        }

        lock (_arrivalsLock)
        {
            _arrivals.Clear();
            _forcedThrottles.Clear();
            _lastArrival = null;
        }

        Volatile.Write(ref _totalRequests, 0);
        Volatile.Write(ref _aborted, 0);
        Volatile.Write(ref _maxInFlight, InFlight);
        _quota.Reset();
    }

    /// <summary>Completes when <see cref="TotalRequests"/> reaches <paramref name="count"/>. Throws <see cref="TimeoutException"/> if it does not within <paramref name="timeout"/>.</summary>
    public Task WaitForRequestsAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitCoreAsync(
            () => TotalRequests >= count,
            timeout,
            () => $"Expected at least {count} request(s) within {timeout}, but the fake SearXNG has received {TotalRequests}.",
            cancellationToken);

    /// <summary>Completes when <see cref="InFlight"/> reaches <paramref name="count"/>. Throws <see cref="TimeoutException"/> if it does not within <paramref name="timeout"/>.</summary>
    public Task WaitForInFlightAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitCoreAsync(
            () => InFlight >= count,
            timeout,
            () => $"Expected at least {count} request(s) in flight within {timeout}, but the fake SearXNG has {InFlight} (max {MaxInFlight}).",
            cancellationToken);

    /// <summary>
    /// Completes when <paramref name="condition"/> holds. It is checked now and each time a request arrives, finishes or is aborted.
    /// Throws <see cref="TimeoutException"/> if it does not hold within <paramref name="timeout"/>.
    /// </summary>
    public Task WaitUntilAsync(Func<FakeSearxng, bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitCoreAsync(
            () => condition(this),
            timeout,
            () => $"The condition did not hold within {timeout} (requests {TotalRequests}, in flight {InFlight}, aborted {AbortedRequests}).",
            cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // Held and delayed requests end at once, so that shutdown does not wait for the gate or the latency.
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_host is not null)
        {
            await _host.DisposeAsync().ConfigureAwait(false);
        }

        lock (_waitersLock)
        {
            foreach (var waiter in _waiters)
            {
                waiter.Done.TrySetException(new ObjectDisposedException(nameof(FakeSearxng)));
            }

            _waiters.Clear();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";

        if (path == "/healthz")
        {
            await WriteAsync(context, StatusCodes.Status200OK, "text/plain; charset=utf-8", _okBody, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var isSearchPath = path is "/" or "" or "/search";
        var isSearchMethod = HttpMethods.IsGet(request.Method) || HttpMethods.IsPost(request.Method) || HttpMethods.IsHead(request.Method);

        // SearXNG merges the form and the query string, and the form wins.
        IFormCollection? form = null;
        if (isSearchPath && isSearchMethod && request.HasFormContentType)
        {
            try
            {
                form = await request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidDataException)
            {
                form = null;
            }
        }

        var query = Parameter(request, form, "q");
        var format = Parameter(request, form, "format");
        var pageText = Parameter(request, form, "pageno") ?? "1";
        int? page = TryParsePage(pageText, out var parsedPage) ? parsedPage : null;

        var counters = RecordArrival(request, path, query, page, format);

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var cancellationToken = linked.Token;
        try
        {
            if (!isSearchPath)
            {
                await WriteAsync(context, StatusCodes.Status404NotFound, "text/html; charset=utf-8", _notFoundBody, cancellationToken).ConfigureAwait(false);
            }
            else if (!isSearchMethod)
            {
                context.Response.Headers.Allow = "GET, HEAD, OPTIONS, POST";
                await WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "text/html; charset=utf-8", _methodNotAllowedBody, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SearchAsync(context, query, format, pageText, page, counters, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && cancellationToken.IsCancellationRequested)
        {
            if (_stopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                // Shutting down: drop the connection rather than make Kestrel wait for it.
                context.Abort();
            }
            else
            {
                if (counters is not null)
                {
                    Interlocked.Exchange(ref counters.LastAbortUtcTicks, Options.TimeProvider.GetUtcNow().UtcTicks);
                    Interlocked.Increment(ref counters.Aborts);
                }
                Interlocked.Increment(ref _aborted);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            SignalWaiters();
        }
    }

    private async Task SearchAsync(
        HttpContext context, string? query, string? format, string pageText, int? page, KeyCounters? counters, CancellationToken cancellationToken)
    {
        var options = Options;

        if (options.RequiredBearerToken is { } token
            && !string.Equals(context.Request.Headers.Authorization.ToString(), $"Bearer {token}", StringComparison.Ordinal))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await WriteAsync(context, StatusCodes.Status401Unauthorized, "application/json", _unauthorizedBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (options.TryTakeThrottle(out var forcedRetryAfter))
        {
            lock (_arrivalsLock)
            {
                _forcedThrottles.Add(options.TimeProvider.GetUtcNow());
            }
            context.Response.Headers.RetryAfter = forcedRetryAfter.ToString(CultureInfo.InvariantCulture);
            await WriteAsync(context, StatusCodes.Status429TooManyRequests, "text/plain; charset=utf-8", _tooManyRequestsBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!_quota.TryAcquire(options.RatePerSecond, options.Burst, out var wait))
        {
            if (options.SendRetryAfter)
            {
                context.Response.Headers.RetryAfter = TokenBucketQuota.ToRetryAfterSeconds(wait).ToString(CultureInfo.InvariantCulture);
            }

            await WriteAsync(context, StatusCodes.Status429TooManyRequests, "text/plain; charset=utf-8", _tooManyRequestsBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Only json is enabled in this fake's "settings.yml". A missing format means html, which gives 403 too.
        if (!string.Equals(format, "json", StringComparison.Ordinal))
        {
            await WriteAsync(context, StatusCodes.Status403Forbidden, "text/html; charset=utf-8", _forbiddenBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(query))
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, "application/json", _noQueryBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (page is not { } pageNo || counters is null)
        {
            // The text of SearXNG's SearxParameterException for pageno.
            var message = pageText.Length == 0 ? "Empty pageno parameter" : $"Invalid value \"{pageText}\" for parameter pageno";
            await WriteAsync(context, StatusCodes.Status400BadRequest, "application/json", ErrorJson(message), cancellationToken).ConfigureAwait(false);
            return;
        }

        if (options.Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (options.Hold is { } hold)
        {
            await hold(query, pageNo).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var latency = options.Latency;
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }

        if (options.FailQueries is { } failQueries && failQueries(query))
        {
            await WriteAsync(context, StatusCodes.Status500InternalServerError, "application/json", _searchErrorBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        var search = Interlocked.Increment(ref counters.Searches);
        if (options.Faults is { } faults && faults(new FakeSearxngSearch(query, pageNo, search)) is { } fault)
        {
            await FailAsync(context, fault, cancellationToken).ConfigureAwait(false);
            return;
        }

        var attempt = Interlocked.Increment(ref counters.Attempts);
        if (attempt <= options.FailFirstAttempts)
        {
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "text/plain; charset=utf-8", _serviceUnavailableBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        var body = ResultsJson(query, pageNo, options);
        var padding = options.BodyPaddingBytes;
        if (padding > 0 || options.ChunkedBody)
        {
            await WriteLargeAsync(context, body, padding, options.ChunkedBody, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await WriteAsync(context, StatusCodes.Status200OK, "application/json", body, cancellationToken).ConfigureAwait(false);
        }

        Volatile.Write(ref counters.LastSuccessTimestamp, options.TimeProvider.GetTimestamp());
        Interlocked.Increment(ref counters.Successes);
    }

    private async Task FailAsync(HttpContext context, FakeSearxngFault fault, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case FakeSearxngFaultKind.Status:
                if (fault.RetryAfterSeconds is { } seconds)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                }
                await WriteAsync(context, fault.StatusCode, "application/json", ErrorJson($"fault {fault.StatusCode}"), cancellationToken).ConfigureAwait(false);
                break;
            case FakeSearxngFaultKind.DropConnection:
                // A reset with no response: the client sees the connection end, as when a proxy or the server dies.
                context.Abort();
                break;
            case FakeSearxngFaultKind.StallMidBody:
            {
                var response = context.Response;
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "application/json";
                response.ContentLength = _malformedBody.Length * 4;
                await response.Body.WriteAsync(_malformedBody, cancellationToken).ConfigureAwait(false);
                await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(Timeout.InfiniteTimeSpan, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                break;
            }
            case FakeSearxngFaultKind.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                break;
            case FakeSearxngFaultKind.MalformedJson:
                await WriteAsync(context, StatusCodes.Status200OK, "application/json", _malformedBody, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault.Kind, "Unknown fault.");
        }
    }

    private KeyCounters? RecordArrival(HttpRequest request, string path, string? query, int? page, string? format)
    {
        var arrival = new FakeSearxngArrival(Options.TimeProvider.GetUtcNow(), request.Method, path, query, page, format);
        var limit = Options.ArrivalLogLimit;
        lock (_arrivalsLock)
        {
            _lastArrival = arrival;
            _arrivals.Enqueue(arrival);
            while (_arrivals.Count > limit)
            {
                _arrivals.Dequeue();
            }
        }

        KeyCounters? counters = null;
        if (!string.IsNullOrEmpty(query) && page is { } pageNo)
        {
            counters = _perKey.GetOrAdd((query, pageNo), static _ => new KeyCounters());
            Interlocked.Increment(ref counters.Requests);
        }

        var inFlight = Interlocked.Increment(ref _inFlight);
        var max = Volatile.Read(ref _maxInFlight);
        while (inFlight > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxInFlight, inFlight, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }

        // Total last, so that a waiter woken by it sees the per-key count and the log entry already in place.
        Interlocked.Increment(ref _totalRequests);
        SignalWaiters();
        return counters;
    }

    private async Task WriteAsync(HttpContext context, int statusCode, string contentType, byte[] body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var response = context.Response;
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        }

        await response.CompleteAsync().ConfigureAwait(false);
        Interlocked.Increment(ref _statusCounts[statusCode]);
    }

    private static readonly byte[] _paddingChunk = Enumerable.Repeat((byte)'x', 64 * 1024).ToArray();
    private static readonly byte[] _paddingOpen = ",\"padding\":\""u8.ToArray();

    // The results object with a "padding" member spliced in before its closing brace, written in chunks.
    private async Task WriteLargeAsync(HttpContext context, byte[] body, long padding, bool chunked, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        var head = body.AsMemory(0, body.Length - 1); // without the closing '}'
        if (!chunked)
        {
            response.ContentLength = head.Length + (padding > 0 ? _paddingOpen.Length + padding + 1 : 0) + 1;
        }

        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(head, cancellationToken).ConfigureAwait(false);
            if (padding > 0)
            {
                await response.Body.WriteAsync(_paddingOpen, cancellationToken).ConfigureAwait(false);
                for (var left = padding; left > 0; left -= _paddingChunk.Length)
                {
                    await response.Body.WriteAsync(_paddingChunk.AsMemory(0, (int)Math.Min(left, _paddingChunk.Length)), cancellationToken).ConfigureAwait(false);
                }

                await response.Body.WriteAsync("\""u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }

            await response.Body.WriteAsync("}"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        await response.CompleteAsync().ConfigureAwait(false);
        Interlocked.Increment(ref _statusCounts[StatusCodes.Status200OK]);
    }

    private static string? Parameter(HttpRequest request, IFormCollection? form, string name)
    {
        if (form is not null && form.TryGetValue(name, out var fromForm))
        {
            return fromForm.ToString();
        }

        return request.Query.TryGetValue(name, out var fromQuery) ? fromQuery.ToString() : null;
    }

    // SearXNG accepts only digit strings of value 1 or more.
    private static bool TryParsePage(string text, out int page)
    {
        page = 0;
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
        {
            return false;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out page) && page >= 1;
    }

    private static string ResultPath(string query, int page, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"/{Uri.EscapeDataString(query)}/{page}/{index}");

    private static byte[] ErrorJson(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    // The shape of SearXNG's get_json_response: one engine ("fake") whose score is 1/position, as SearXNG
    // scores a result found by one engine of weight 1.
    private static byte[] ResultsJson(string query, int page, FakeSearxngOptions options)
    {
        var count = page <= options.MaxPages ? options.ResultsPerPage : 0;
        var buffer = new ArrayBufferWriter<byte>(512 + (count * 640));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("query", query);
            if (options.IncludeNumberOfResults)
            {
                writer.WriteNumber("number_of_results", 0);
            }

            writer.WriteStartArray("results");
            var shape = options.ShapeResult;
            for (var i = 1; i <= count; i++)
            {
                var path = ResultPath(query, page, i);
                var result = new FakeSearxngResult(query, page, i, $"https://{ResultHost}{path}", ResultTitle(query, page, i), ResultContent(query, page, i));
                result = shape?.Invoke(result) ?? result;
                writer.WriteStartObject();
                writer.WriteString("url", result.Url);
                writer.WriteString("title", result.Title);
                writer.WriteString("content", result.Content);
                writer.WriteString("engine", "fake");
                writer.WriteStartArray("engines");
                writer.WriteStringValue("fake");
                writer.WriteEndArray();
                writer.WriteStartArray("positions");
                writer.WriteNumberValue(i);
                writer.WriteEndArray();
                writer.WriteNumber("score", 1.0 / i);
                writer.WriteString("category", "general");
                writer.WriteString("template", "default.html");
                writer.WriteStartArray("parsed_url");
                writer.WriteStringValue("https");
                writer.WriteStringValue(ResultHost);
                writer.WriteStringValue(path);
                writer.WriteStringValue("");
                writer.WriteStringValue("");
                writer.WriteStringValue("");
                writer.WriteEndArray();
                writer.WriteNull("publishedDate");
                writer.WriteString("thumbnail", "");
                writer.WriteString("img_src", "");
                writer.WriteString("priority", "");
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("answers");
            writer.WriteEndArray();
            writer.WriteStartArray("corrections");
            writer.WriteEndArray();
            writer.WriteStartArray("infoboxes");
            writer.WriteEndArray();
            writer.WriteStartArray("suggestions");
            writer.WriteEndArray();
            writer.WriteStartArray("unresponsive_engines");
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task WaitCoreAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        var waiter = new Waiter(condition);
        lock (_waitersLock)
        {
            // Checked under the same lock that SignalWaiters takes after each counter change, so no wake-up is lost.
            if (condition())
            {
                return;
            }

            _waiters.Add(waiter);
        }

        try
        {
            await waiter.Done.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(describe());
        }
        finally
        {
            lock (_waitersLock)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    private void SignalWaiters()
    {
        lock (_waitersLock)
        {
            foreach (var waiter in _waiters)
            {
                if (waiter.Done.Task.IsCompleted)
                {
                    continue;
                }

                try
                {
                    if (waiter.Condition())
                    {
                        waiter.Done.TrySetResult();
                    }
                }
                catch (Exception ex)
                {
                    waiter.Done.TrySetException(ex);
                }
            }
        }
    }

    private sealed class KeyCounters
    {
        public int Requests;
        public int Attempts;
        public int Searches;
        public int Successes;
        public int Aborts;
        public long LastAbortUtcTicks;
        public long LastSuccessTimestamp;
    }

    private sealed class Waiter(Func<bool> condition)
    {
        public Func<bool> Condition { get; } = condition;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
