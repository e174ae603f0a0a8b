namespace Orleans.Search.Fakes;

/// <summary>
/// Behaviour knobs for <see cref="FakeSearxng"/>. The server reads them on every request, so a test may
/// change them while requests are running; each knob is read and written atomically.
/// </summary>
public sealed class FakeSearxngOptions
{
    private long _latencyTicks;
    private Func<string, bool>? _failQueries;
    private Func<FakeSearxngSearch, FakeSearxngFault?>? _faults;
    private string? _requiredBearerToken;
    private int _failFirstAttempts;
    private double _ratePerSecond;
    private int _burst = 1;
    private volatile bool _sendRetryAfter = true;
    private int _resultsPerPage = 10;
    private int _maxPages = 10;
    private volatile bool _includeNumberOfResults = true;
    private TaskCompletionSource? _gate;
    private int _arrivalLogLimit = 100_000;
    private int _throttleNextCount;
    private int _throttleNextRetryAfterSeconds;
    private long _bodyPaddingBytes;
    private volatile bool _chunkedBody;
    private Func<FakeSearxngResult, FakeSearxngResult>? _shapeResult;
    private Func<string, int, Task>? _hold;

    /// <summary>The port on 127.0.0.1 to listen on; 0 (the default) picks a free one. Set it only before start.</summary>
    public int Port { get; init; }

    /// <summary>The clock for the quota, the latency delay and arrival timestamps. Set it only before start.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The delay before a search answers. The delay stops when the client aborts the request.</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }
    }

    /// <summary>Queries for which the search always fails with 500 <c>{"error":"search error"}</c>. Null means none.</summary>
    public Func<string, bool>? FailQueries
    {
        get => Volatile.Read(ref _failQueries);
        set => Volatile.Write(ref _failQueries, value);
    }

    /// <summary>
    /// Decides per search (query, page and attempt) whether it fails and how: a status code (with <c>Retry-After</c>),
    /// a dropped connection, no answer at all, or a malformed body. Null (or a null answer) means no fault.
    /// Checked after <see cref="FailQueries"/>; only searches that reach this stage count as attempts.
    /// </summary>
    public Func<FakeSearxngSearch, FakeSearxngFault?>? Faults
    {
        get => Volatile.Read(ref _faults);
        set => Volatile.Write(ref _faults, value);
    }

    /// <summary>
    /// When set, every search must carry <c>Authorization: Bearer {token}</c> or it answers 401 (as a key-checking
    /// proxy in front of SearXNG would). Null (the default) accepts anything.
    /// </summary>
    public string? RequiredBearerToken
    {
        get => Volatile.Read(ref _requiredBearerToken);
        set => Volatile.Write(ref _requiredBearerToken, value);
    }

    /// <summary>
    /// The first N searches for each (q, pageno) answer 503, and later ones succeed. Only requests that reach
    /// the search stage count, so requests refused earlier with 429, 403 or 400 do not use up the failures.
    /// </summary>
    public int FailFirstAttempts
    {
        get => Volatile.Read(ref _failFirstAttempts);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _failFirstAttempts, value);
        }
    }

    /// <summary>The token-bucket refill rate in requests per second. 0 means unlimited.</summary>
    public double RatePerSecond
    {
        get => Volatile.Read(ref _ratePerSecond);
        set
        {
            if (double.IsNaN(value) || value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The rate must be 0 (unlimited) or positive.");
            }

            Volatile.Write(ref _ratePerSecond, value);
        }
    }

    /// <summary>The token-bucket capacity: how many requests may arrive at once after an idle period.</summary>
    public int Burst
    {
        get => Volatile.Read(ref _burst);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref _burst, value);
        }
    }

    /// <summary>
    /// Whether a 429 carries <c>Retry-After</c> (whole seconds). Real SearXNG sends none. The fake sends it by default so
    /// that resilience code which honours the header can be tested. Turn it off to behave like the real server.
    /// </summary>
    public bool SendRetryAfter
    {
        get => _sendRetryAfter;
        set => _sendRetryAfter = value;
    }

    /// <summary>Results per page, for pages 1..<see cref="MaxPages"/>.</summary>
    public int ResultsPerPage
    {
        get => Volatile.Read(ref _resultsPerPage);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _resultsPerPage, value);
        }
    }

    /// <summary>The last page that has results. Pages after it return an empty <c>results</c> list.</summary>
    public int MaxPages
    {
        get => Volatile.Read(ref _maxPages);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _maxPages, value);
        }
    }

    /// <summary>
    /// Whether to emit <c>number_of_results</c> (always 0, as most instances send). Upstream removed the field
    /// in 2026, so turn this off to check that a client tolerates its absence.
    /// </summary>
    public bool IncludeNumberOfResults
    {
        get => _includeNumberOfResults;
        set => _includeNumberOfResults = value;
    }

    /// <summary>
    /// The most arrivals the log keeps. The oldest entries are dropped first, so that a long benchmark does not grow
    /// memory without bound. 0 turns the log off. Counters are not affected.
    /// </summary>
    public int ArrivalLogLimit
    {
        get => Volatile.Read(ref _arrivalLogLimit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _arrivalLogLimit, value);
        }
    }

    /// <summary>
    /// Extra bytes in every 200 body: a <c>"padding"</c> string of this many ASCII bytes after the results, written in
    /// chunks from one shared buffer, so a huge body costs the fake no memory. 0 (the default) sends none.
    /// </summary>
    public long BodyPaddingBytes
    {
        get => Interlocked.Read(ref _bodyPaddingBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Interlocked.Exchange(ref _bodyPaddingBytes, value);
        }
    }

    /// <summary>Whether a 200 body goes out chunked, without <c>Content-Length</c>, so the client learns its size only by reading it.</summary>
    public bool ChunkedBody
    {
        get => _chunkedBody;
        set => _chunkedBody = value;
    }

    /// <summary>Rewrites each generated result before it is written (to serve huge titles, say). Null leaves them as they are.</summary>
    public Func<FakeSearxngResult, FakeSearxngResult>? ShapeResult
    {
        get => Volatile.Read(ref _shapeResult);
        set => Volatile.Write(ref _shapeResult, value);
    }

    /// <summary>
    /// When set, searches that passed validation wait for this task before the latency starts (they count as in flight).
    /// Prefer <see cref="CloseGate"/> and <see cref="OpenGate"/>.
    /// </summary>
    public TaskCompletionSource? Gate
    {
        get => Volatile.Read(ref _gate);
        set => Volatile.Write(ref _gate, value);
    }

    /// <summary>Holds searches in flight until <see cref="OpenGate"/> is called. Returns the gate, which stays closed if it already was.</summary>
    public TaskCompletionSource CloseGate()
    {
        var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return Interlocked.CompareExchange(ref _gate, fresh, null) ?? fresh;
    }

    /// <summary>
    /// When set, a search (query, page) that passed the gate waits for the task this returns for it, or until the client
    /// gives up, so a test can hold chosen pages in flight while others go through. Null (the default) holds none.
    /// </summary>
    public Func<string, int, Task>? Hold
    {
        get => Volatile.Read(ref _hold);
        set => Volatile.Write(ref _hold, value);
    }

    /// <summary>Releases every held search and lets later ones through.</summary>
    public void OpenGate() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

    /// <summary>
    /// The next <paramref name="count"/> searches answer 429 with <c>Retry-After: <paramref name="retryAfterSeconds"/></c>
    /// whatever the quota (at the quota stage); later ones are served as usual. <see cref="FakeSearxng.ForcedThrottlesSnapshot"/>
    /// says when each was answered.
    /// </summary>
    public void ThrottleNext(int count, int retryAfterSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(retryAfterSeconds);
        Volatile.Write(ref _throttleNextRetryAfterSeconds, retryAfterSeconds);
        Volatile.Write(ref _throttleNextCount, count);
    }

    /// <summary>Takes one of the 429s <see cref="ThrottleNext"/> armed, if any is left.</summary>
    internal bool TryTakeThrottle(out int retryAfterSeconds)
    {
        retryAfterSeconds = Volatile.Read(ref _throttleNextRetryAfterSeconds);
        while (true)
        {
            var left = Volatile.Read(ref _throttleNextCount);
            if (left <= 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _throttleNextCount, left - 1, left) == left)
            {
                return true;
            }
        }
    }
}
