using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Orleans.Search.Jobs;

namespace Orleans.Search.Client;

/// <summary>
/// A typed client of the search-job HTTP API: create (with an <c>Idempotency-Key</c>), get, list, cancel, delete, and
/// <see cref="FollowAsync"/>, which reads a job's events and reconnects by itself. Every error answer becomes a
/// <see cref="SearchApiException"/>. Thread-safe; register it with <c>AddOrleansSearchClient</c> or construct it over
/// an <see cref="HttpClient"/> whose lifetime you manage.
/// </summary>
public sealed class SearchJobsClient
{
    /// <summary>The JSON the API speaks: camelCase, nulls left out of requests.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The event type <see cref="FollowAsync"/> gives a snapshot the server sent in place of events it no longer retains.</summary>
    public const string SnapshotEventType = "snapshot";

    private const string JobsPath = "api/search-jobs";

    private readonly HttpClient _http;
    private readonly SearchClientOptions _options;

    /// <param name="http">Its <see cref="HttpClient.BaseAddress"/> is used when set, else <see cref="SearchClientOptions.BaseAddress"/>.</param>
    /// <param name="options">Defaults when null; an <see cref="SearchClientOptions.ApiKey"/> is sent unless <paramref name="http"/> already sends an Authorization header.</param>
    public SearchJobsClient(HttpClient http, SearchClientOptions? options = null)
    {
        _options = options ?? new SearchClientOptions();
        _options.Validate();
        _http = http;
        _http.BaseAddress ??= _options.BaseAddress;
        if (_options.ApiKey is { Length: > 0 } key && _http.DefaultRequestHeaders.Authorization is null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    /// <summary>Creates a background job; answers once it is stored. A retry with the same <paramref name="idempotencyKey"/> returns the same job.</summary>
    public Task<JobStatus> CreateAsync(JobSpec spec, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        CreateAsync(JsonSerializer.SerializeToNode(spec, Json)!.AsObject(), idempotencyKey, cancellationToken);

    /// <summary>
    /// Creates a background job from a spec given as JSON, for members this version of the library has no property for
    /// (the server names any member it does not know in a 400).
    /// </summary>
    public async Task<JobStatus> CreateAsync(JsonObject spec, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, JobsPath) { Content = JsonContent.Create(spec, options: Json) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return await SendAsync<JobStatus>(request, cancellationToken);
    }

    /// <summary>A job's status with its results.</summary>
    public Task<JobStatus> GetAsync(string jobId, CancellationToken cancellationToken = default) =>
        SendAsync<JobStatus>(new HttpRequestMessage(HttpMethod.Get, JobPath(jobId)), cancellationToken);

    /// <summary>A job's status as the server sent it, including members newer than this library (a research answer, say).</summary>
    public Task<JsonObject> GetJsonAsync(string jobId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonObject>(new HttpRequestMessage(HttpMethod.Get, JobPath(jobId)), cancellationToken);

    /// <summary>One page of the caller's jobs, newest first; pass <see cref="JobList.NextCursor"/> for the next.</summary>
    public Task<JobList> ListAsync(string? status = null, int? limit = null, string? cursor = null, CancellationToken cancellationToken = default)
    {
        var query = new List<string>();
        if (status is not null)
        {
            query.Add("status=" + Uri.EscapeDataString(status));
        }
        if (limit is { } l)
        {
            query.Add("limit=" + l.ToString(CultureInfo.InvariantCulture));
        }
        if (cursor is not null)
        {
            query.Add("cursor=" + Uri.EscapeDataString(cursor));
        }
        var path = query.Count == 0 ? JobsPath : JobsPath + "?" + string.Join('&', query);
        return SendAsync<JobList>(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);
    }

    /// <summary>Every job of the caller, newest first, following the cursors page by page.</summary>
    public async IAsyncEnumerable<JobSummary> ListAllAsync(string? status = null, int pageSize = 100,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(status, pageSize, cursor, cancellationToken);
            foreach (var job in page.Items)
            {
                yield return job;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>Cancels a running job, keeping its results so far. A job that already ended answers 409.</summary>
    public Task<JobStatus> CancelAsync(string jobId, CancellationToken cancellationToken = default) =>
        SendAsync<JobStatus>(new HttpRequestMessage(HttpMethod.Post, JobPath(jobId) + "/cancel"), cancellationToken);

    /// <summary>Erases a job and all it stored, cancelling it first if it runs. A job that is gone answers 404.</summary>
    public async Task DeleteAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, JobPath(jobId));
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>
    /// A job's events after <paramref name="afterSeq"/>, in order, each once, ending after the terminal one
    /// (<c>completed</c>, <c>failed</c> or <c>cancelled</c>). A dropped connection, a gateway that went away or a stream
    /// the server ended is resumed with <c>Last-Event-ID</c> after a backoff (doubling from
    /// <see cref="SearchClientOptions.InitialReconnectDelay"/>, honouring <c>Retry-After</c>); after
    /// <see cref="SearchClientOptions.MaxReconnectAttempts"/> failures in a row the last error is thrown. When the server
    /// no longer retains some events it sends a snapshot instead, yielded as an event of type
    /// <see cref="SnapshotEventType"/> whose <see cref="JobEvent.Seq"/> is the last seq it reflects.
    /// </summary>
    /// <exception cref="SearchApiException">The job is not found (404), the key is refused, or another error that no retry mends.</exception>
    public async IAsyncEnumerable<JobEvent> FollowAsync(string jobId, long afterSeq = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var last = afterSeq;
        var failures = 0;
        Exception? lastError = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (failures > 0)
            {
                if (failures > _options.MaxReconnectAttempts)
                {
                    throw lastError is SearchApiException ? lastError : new HttpRequestException(
                        $"Following job '{jobId}' failed {failures} times in a row; the last error: {lastError?.Message}", lastError);
                }
                await Task.Delay(Backoff(failures, lastError), cancellationToken);
            }

            HttpResponseMessage? response = null;
            IAsyncEnumerator<SseMessage>? messages = null;
            try
            {
                var request = new HttpRequestMessage(HttpMethod.Get, JobPath(jobId) + "/events");
                request.Headers.Accept.ParseAdd("text/event-stream");
                request.Headers.TryAddWithoutValidation("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
                try
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        var error = await ReadErrorAsync(response, cancellationToken);
                        if (!IsTransient(error.Status))
                        {
                            throw error;
                        }
                        lastError = error;
                        failures++;
                        continue;
                    }
                    messages = SseParser.ReadAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken)
                        .GetAsyncEnumerator(cancellationToken);
                }
                catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
                {
                    lastError = ex;
                    failures++;
                    continue;
                }

                var progressed = false;
                while (true)
                {
                    SseMessage message;
                    try
                    {
                        if (!await messages.MoveNextAsync())
                        {
                            break;
                        }
                        message = messages.Current;
                    }
                    catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
                    {
                        lastError = ex;
                        break;
                    }
                    var e = ToEvent(message);
                    if (e is null || e.Seq <= last)
                    {
                        // Already yielded (a resumed stream repeats nothing, but a snapshot may stand at a seq already seen).
                        continue;
                    }
                    last = e.Seq;
                    progressed = true;
                    failures = 0;
                    yield return e;
                    if (IsTerminal(e))
                    {
                        yield break;
                    }
                }
                // The stream ended before the terminal event: the connection dropped or the server ended a long stream.
                // A clean end after progress reconnects at once; anything else backs off.
                lastError ??= new HttpRequestException($"The event stream of job '{jobId}' ended before the job did.");
                failures = progressed ? 0 : failures + 1;
                if (progressed)
                {
                    lastError = null;
                }
            }
            finally
            {
                if (messages is not null)
                {
                    await messages.DisposeAsync();
                }
                response?.Dispose();
            }
        }
    }

    private TimeSpan Backoff(int failures, Exception? lastError)
    {
        if (lastError is SearchApiException { RetryAfter: { } retryAfter })
        {
            return retryAfter;
        }
        var doubled = _options.InitialReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = Math.Min(doubled, _options.MaxReconnectDelay.TotalMilliseconds);
        // Up to a fifth less, so clients cut off together do not all come back at one instant.
        return TimeSpan.FromMilliseconds(capped * (1 - Random.Shared.NextDouble() * 0.2));
    }

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable
            or HttpStatusCode.GatewayTimeout or HttpStatusCode.InternalServerError or HttpStatusCode.RequestTimeout;

    private static bool IsConnectionError(Exception ex, CancellationToken cancellationToken) =>
        ex is HttpRequestException or IOException
        || ex is OperationCanceledException && !cancellationToken.IsCancellationRequested;

    private static bool IsTerminal(JobEvent e) =>
        e.Type == SnapshotEventType ? JobStates.IsTerminal(e.Status) : JobEventTypes.IsTerminal(e.Type);

    private static JobEvent? ToEvent(SseMessage message)
    {
        if (message.Event == SnapshotEventType)
        {
            var status = JsonSerializer.Deserialize<JobStatus>(message.Data, Json);
            return status is null ? null : new JobEvent
            {
                Seq = status.LastSeq,
                JobId = status.JobId,
                Type = SnapshotEventType,
                Status = status.Status,
                Progress = status.Progress,
                Message = status.Message,
                Stats = status.Stats,
                Timestamp = status.UpdatedAt,
                Error = status.Error,
            };
        }
        return JsonSerializer.Deserialize<JobEvent>(message.Data, Json);
    }

    private static string JobPath(string jobId) => $"{JobsPath}/{Uri.EscapeDataString(jobId)}";

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            await EnsureSuccessAsync(response, cancellationToken);
            return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken)
                ?? throw new SearchApiException(response.StatusCode, "Empty answer", $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode} with no body.", null);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ReadErrorAsync(response, cancellationToken);
        }
    }

    /// <summary>An error answer as an exception: the problem's members when the body is problem+json, else the bare status.</summary>
    private static async Task<SearchApiException> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date > DateTimeOffset.UtcNow ? date - DateTimeOffset.UtcNow : TimeSpan.Zero,
            _ => (TimeSpan?)null,
        };
        string? title = null;
        string? detail = null;
        var errors = new Dictionary<string, string[]>();
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
        {
            try
            {
                using var problem = JsonDocument.Parse(body);
                var root = problem.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    title = root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                    if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var field in e.EnumerateObject())
                        {
                            errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                                ? field.Value.EnumerateArray().Select(m => m.ToString()).ToArray()
                                : [field.Value.ToString()];
                        }
                    }
                }
            }
            catch (JsonException)
            {
                // Not a problem document after all: the status and the raw body still say what happened.
            }
        }
        return new SearchApiException(response.StatusCode, title ?? response.ReasonPhrase, detail, retryAfter, errors, body);
    }
}
