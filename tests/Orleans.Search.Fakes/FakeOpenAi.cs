using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.ML.Tokenizers;

namespace Orleans.Search.Fakes;

/// <summary>
/// Loopback stand-in for an OpenAI-compatible chat-completions API (<c>POST /v1/chat/completions</c>, also without
/// <c>/v1</c> as DeepSeek serves it) on a real Kestrel server bound to 127.0.0.1. It streams SSE chunks one token each
/// (<c>data: {chunk}</c> … <c>data: [DONE]</c>, usage in a last chunk with empty <c>choices</c> when
/// <c>stream_options.include_usage</c> is set) or answers one JSON body, and bills every token it sends.
/// </summary>
/// <remarks>
/// Tokens are counted with o200k_base (the gpt-4o encoding), the prompt as OpenAI's chat format does: 3 tokens per
/// message plus its role and content, plus 3 to prime the reply. A request goes: route (404) → API key (401) → body
/// (400) → response_format (400) → quota (429 <c>rate_limit_exceeded</c>) → the scripted reply (a fault, or text).
/// </remarks>
public sealed partial class FakeOpenAi : IAsyncDisposable
{
    private static readonly Lazy<Tokenizer> _tokenizer = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    private LoopbackHost? _host;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly List<FakeOpenAiRequest> _requests = [];
    private readonly List<FakeOpenAiBill> _bills = [];
    private readonly List<string> _rejections = [];
    private readonly int[] _statusCounts = new int[600];
    private readonly FakeQuota _quota;
    private int _arrivals;
    private int _inFlight;
    private int _maxInFlight;
    private int _aborted;
    private int _cut;
    private int _quotaRejections;
    private int _disposed;

    private FakeOpenAi(FakeOpenAiOptions options)
    {
        Options = options;
        _quota = new FakeQuota(options.TimeProvider);
    }

    /// <summary>The live options.</summary>
    public FakeOpenAiOptions Options { get; }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The OpenAI-style base URL to configure a client with: <see cref="BaseUrl"/> + <c>v1</c>.</summary>
    public Uri ApiBaseUrl => new(BaseUrl, "v1");

    /// <summary>Every request that arrived on any path.</summary>
    public int TotalRequests => Volatile.Read(ref _arrivals);

    /// <summary>Requests being handled now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most requests handled at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests whose client went away before the response was complete (an aborted stream).</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);

    /// <summary>Streams (or bodies) the fake cut on purpose (<see cref="FakeOpenAiFaultKind.CutStream"/>).</summary>
    public int CutResponses => Volatile.Read(ref _cut);

    /// <summary>429s sent because the fake's own requests- or tokens-per-minute quota was exceeded (not scripted ones).</summary>
    public int QuotaRejections => Volatile.Read(ref _quotaRejections);

    /// <summary>Why each quota 429 was sent (which bucket, how much was asked), for a failing test's message.</summary>
    public IReadOnlyList<string> QuotaRejectionsSnapshot()
    {
        lock (_lock)
        {
            return [.. _rejections];
        }
    }

    /// <summary>All 429 responses, scripted or from the quota.</summary>
    public int RateLimitedResponses => ResponsesWithStatus(StatusCodes.Status429TooManyRequests);

    /// <summary>Responses started with this status code.</summary>
    public int ResponsesWithStatus(int statusCode) =>
        statusCode is >= 0 and < 600 ? Volatile.Read(ref _statusCounts[statusCode]) : 0;

    /// <summary>Chat-completions requests that parsed, in arrival order.</summary>
    public IReadOnlyList<FakeOpenAiRequest> RequestsSnapshot()
    {
        lock (_lock)
        {
            return [.. _requests];
        }
    }

    /// <summary>The bill of every request that got past the quota and ended (answered, failed, cut or aborted), in the order they ended.</summary>
    public IReadOnlyList<FakeOpenAiBill> BillsSnapshot()
    {
        lock (_lock)
        {
            return [.. _bills];
        }
    }

    /// <summary>Total prompt tokens billed (cached ones included).</summary>
    public long BilledInputTokens => Sum(b => b.PromptTokens);

    /// <summary>Total prompt tokens billed as cached.</summary>
    public long BilledCachedTokens => Sum(b => b.CachedTokens);

    /// <summary>Total completion tokens billed (reasoning included).</summary>
    public long BilledOutputTokens => Sum(b => b.CompletionTokens);

    /// <summary>Total completion tokens billed as reasoning.</summary>
    public long BilledReasoningTokens => Sum(b => b.ReasoningTokens);

    /// <summary>Counts tokens of <paramref name="text"/> as the fake bills them (o200k_base).</summary>
    public static int CountTokens(string text) => _tokenizer.Value.CountTokens(text);

    /// <summary>Counts a prompt as the fake bills it.</summary>
    public static int CountPromptTokens(IEnumerable<FakeOpenAiMessage> messages) =>
        3 + messages.Sum(m => 3 + CountTokens(m.Role) + CountTokens(m.Content));

    private long Sum(Func<FakeOpenAiBill, int> part)
    {
        lock (_lock)
        {
            return _bills.Sum(b => (long)part(b));
        }
    }

    /// <summary>Forgets requests, bills and counters, and refills the quota.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _requests.Clear();
            _bills.Clear();
            _rejections.Clear();
            Array.Clear(_statusCounts);
        }
        Interlocked.Exchange(ref _arrivals, 0);
        Interlocked.Exchange(ref _maxInFlight, Volatile.Read(ref _inFlight));
        Interlocked.Exchange(ref _aborted, 0);
        Interlocked.Exchange(ref _cut, 0);
        Interlocked.Exchange(ref _quotaRejections, 0);
        _quota.Reset();
    }

    /// <summary>Starts the server on 127.0.0.1 (on <see cref="FakeOpenAiOptions.Port"/> or an ephemeral port).</summary>
    public static async Task<FakeOpenAi> StartAsync(FakeOpenAiOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeOpenAiOptions();
        var fake = new FakeOpenAi(options);
        try
        {
            fake._host = await LoopbackHost.StartAsync(fake.HandleAsync, options.Port, cancellationToken).ConfigureAwait(false);
            fake.BaseUrl = fake._host.BaseUrl;
            _ = _tokenizer.Value;
            return fake;
        }
        catch
        {
            await fake.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            if (_host is not null)
            {
                await _host.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _stopping.Dispose();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _arrivals);
        var inFlight = Interlocked.Increment(ref _inFlight);
        for (var max = Volatile.Read(ref _maxInFlight); inFlight > max; max = Volatile.Read(ref _maxInFlight))
        {
            if (Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) == max)
            {
                break;
            }
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            await ChatAsync(context, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && linked.IsCancellationRequested)
        {
            if (_stopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                context.Abort();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ChatAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        if (path.TrimEnd('/') is not ("/v1/chat/completions" or "/chat/completions"))
        {
            await ErrorAsync(context, 404, $"Unknown request URL: {request.Method} {path}.", "invalid_request_error", "unknown_url", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!HttpMethods.IsPost(request.Method))
        {
            await ErrorAsync(context, 405, "Method not allowed.", "invalid_request_error", null, cancellationToken).ConfigureAwait(false);
            return;
        }
        var authorization = request.Headers.Authorization.ToString();
        if (Options.RequiredApiKey is { } key && authorization != $"Bearer {key}")
        {
            await ErrorAsync(context, 401, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error", "invalid_api_key", cancellationToken).ConfigureAwait(false);
            return;
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await ErrorAsync(context, 400, $"We could not parse the JSON body of your request. ({ex.Message})", "invalid_request_error", null, cancellationToken).ConfigureAwait(false);
            return;
        }
        using var _ = document;
        if (Parse(document.RootElement, authorization) is not { } parsed)
        {
            await ErrorAsync(context, 400, "Invalid request: 'model' and a non-empty 'messages' array of {role, content} are required.",
                "invalid_request_error", null, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (parsed.ResponseFormat == "json_schema" && (parsed.JsonSchemaName is null || !SchemaName().IsMatch(parsed.JsonSchemaName)))
        {
            await ErrorAsync(context, 400, "Invalid 'response_format.json_schema.name': must be a-z, A-Z, 0-9, underscores and dashes, at most 64 characters.",
                "invalid_request_error", "invalid_value", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (parsed.ResponseFormat == "json_object" && Options.RequireJsonWordForJsonObject
            && !parsed.Messages.Any(m => m.Content.Contains("json", StringComparison.OrdinalIgnoreCase)))
        {
            await ErrorAsync(context, 400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                "invalid_request_error", null, cancellationToken).ConfigureAwait(false);
            return;
        }

        var maxTokens = parsed.MaxTokens ?? 4096;
        var requested = parsed.PromptTokens + maxTokens;
        if (!_quota.TryTake(Options.RequestsPerMinute, Options.TokensPerMinute, Options.BurstSeconds, requested, out var retryAfter, out var onTokens))
        {
            Interlocked.Increment(ref _quotaRejections);
            lock (_lock)
            {
                _rejections.Add($"request {parsed.Index} at {Options.TimeProvider.GetUtcNow():HH:mm:ss.fff}: {(onTokens ? "tokens" : "requests")} short, asked {requested}, retry after {retryAfter.TotalMilliseconds:0.#} ms; {_quota}");
            }
            var what = onTokens ? "tokens per min (TPM)" : "requests per min (RPM)";
            var limit = onTokens ? Options.TokensPerMinute : Options.RequestsPerMinute;
            await RateLimitedAsync(context, retryAfter.TotalSeconds,
                string.Create(CultureInfo.InvariantCulture, $"Rate limit reached for {parsed.Model} in organization org-fake on {what}: Limit {limit}, Requested {(onTokens ? requested : 1)}. Please try again in {retryAfter.TotalSeconds:0.###}s."),
                onTokens ? "tokens" : "requests", cancellationToken).ConfigureAwait(false);
            return;
        }

        var bill = new BillBuilder { Index = parsed.Index, PromptTokens = parsed.PromptTokens, Requested = requested };
        try
        {
            var reply = Options.Reply?.Invoke(parsed) ?? DefaultReply(parsed);
            switch (reply.Fault?.Kind)
            {
                case FakeOpenAiFaultKind.RateLimited:
                    await RateLimitedAsync(context, reply.Fault.RetryAfterSeconds, "Rate limit reached for requests. Please try again later.", "requests", cancellationToken).ConfigureAwait(false);
                    return;
                case FakeOpenAiFaultKind.InsufficientQuota:
                    await ErrorAsync(context, 429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota", cancellationToken).ConfigureAwait(false);
                    return;
                case FakeOpenAiFaultKind.Unauthorized:
                    await ErrorAsync(context, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key", cancellationToken).ConfigureAwait(false);
                    return;
                case FakeOpenAiFaultKind.ServerError:
                    await ErrorAsync(context, 500, "The server had an error while processing your request. Sorry about that!", "server_error", null, cancellationToken).ConfigureAwait(false);
                    return;
            }

            bill.Billed = true;
            bill.CachedTokens = Math.Clamp(reply.CachedInputTokens, 0, parsed.PromptTokens);
            var pieces = Pieces(reply.Text);
            var finish = reply.FinishReason;
            if (pieces.Count > maxTokens)
            {
                pieces = pieces.Take(maxTokens).ToList();
                finish = "length";
            }
            var cutAfter = reply.Fault is { Kind: FakeOpenAiFaultKind.CutStream } cut ? Math.Min(cut.AfterTokens, pieces.Count) : (int?)null;
            var ttft = reply.TimeToFirstToken ?? Options.TimeToFirstToken;
            if (parsed.Stream)
            {
                await StreamAsync(context, parsed, reply, pieces, finish, cutAfter, ttft, bill, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await CompleteAsync(context, parsed, reply, pieces, finish, cutAfter, ttft, bill, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            bill.Aborted = true;
            Interlocked.Increment(ref _aborted);
            throw;
        }
        finally
        {
            Settle(bill);
            if (bill.Billed)
            {
                lock (_lock)
                {
                    _bills.Add(new FakeOpenAiBill(bill.Index, context.Response.StatusCode, bill.PromptTokens, bill.CachedTokens, bill.CompletionTokens,
                        bill.ReasoningTokens, bill.Aborted, bill.Cut) { EndedAt = Options.TimeProvider.GetUtcNow() });
                }
            }
        }
    }

    private async Task StreamAsync(HttpContext context, FakeOpenAiRequest parsed, FakeOpenAiReply reply, List<string> pieces, string finish, int? cutAfter,
        TimeSpan ttft, BillBuilder bill, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["x-request-id"] = $"req_{parsed.Index}";
        Count(200);
        await response.StartAsync(cancellationToken).ConfigureAwait(false);
        // The headers go out at once, as a provider's do: the time to the first token is spent after them.
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (Options.KeepAliveComments)
        {
            await WriteRawAsync(response, ": keep-alive\n\n\n", cancellationToken).ConfigureAwait(false);
        }
        if (ttft > TimeSpan.Zero)
        {
            await Task.Delay(ttft, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        if (reply.Hold is { } hold)
        {
            await hold.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        var id = $"chatcmpl-fake{parsed.Index}";
        var created = Options.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        await WriteEventAsync(response, Chunk(id, created, parsed.Model, w =>
        {
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
        }, null), cancellationToken).ConfigureAwait(false);
        // Hidden reasoning is done before the first visible token.
        bill.ReasoningTokens = reply.ReasoningTokens;
        bill.CompletionTokens = reply.ReasoningTokens;
        var delay = Options.TokensPerSecond > 0 ? TimeSpan.FromSeconds(1 / Options.TokensPerSecond) : TimeSpan.Zero;
        for (var i = 0; i < pieces.Count; i++)
        {
            if (cutAfter == i)
            {
                await EndEarlyAsync(response, bill).ConfigureAwait(false);
                return;
            }
            if (i > 0 && delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            var piece = pieces[i];
            await WriteEventAsync(response, Chunk(id, created, parsed.Model, w => w.WriteString("content", piece), null), cancellationToken).ConfigureAwait(false);
            bill.CompletionTokens++;
        }
        if (cutAfter is not null)
        {
            await EndEarlyAsync(response, bill).ConfigureAwait(false);
            return;
        }
        Settle(bill);
        await WriteEventAsync(response, Chunk(id, created, parsed.Model, _ => { }, finish), cancellationToken).ConfigureAwait(false);
        if (parsed.IncludeUsage && Options.ReportUsage)
        {
            await WriteEventAsync(response, Json(w =>
            {
                ChunkHead(w, id, created, parsed.Model);
                w.WriteStartArray("choices");
                w.WriteEndArray();
                WriteUsage(w, bill);
            }), cancellationToken).ConfigureAwait(false);
        }
        await WriteRawAsync(response, "data: [DONE]\n\n", cancellationToken).ConfigureAwait(false);
        await response.CompleteAsync().ConfigureAwait(false);
    }

    private async Task CompleteAsync(HttpContext context, FakeOpenAiRequest parsed, FakeOpenAiReply reply, List<string> pieces, string finish, int? cutAfter,
        TimeSpan ttft, BillBuilder bill, CancellationToken cancellationToken)
    {
        var generation = ttft + (Options.TokensPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, pieces.Count - 1) / Options.TokensPerSecond) : TimeSpan.Zero);
        if (generation > TimeSpan.Zero)
        {
            await Task.Delay(generation, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        if (reply.Hold is { } hold)
        {
            await hold.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        bill.ReasoningTokens = reply.ReasoningTokens;
        bill.CompletionTokens = reply.ReasoningTokens + (cutAfter ?? pieces.Count);
        var body = Json(w =>
        {
            w.WriteString("id", $"chatcmpl-fake{parsed.Index}");
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", Options.TimeProvider.GetUtcNow().ToUnixTimeSeconds());
            w.WriteString("model", parsed.Model);
            w.WriteString("system_fingerprint", "fp_fake");
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", string.Concat(pieces));
            w.WriteNull("refusal");
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
            if (Options.ReportUsage)
            {
                WriteUsage(w, bill);
            }
        });
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.Headers["x-request-id"] = $"req_{parsed.Index}";
        Count(200);
        if (cutAfter is not null)
        {
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body.AsMemory(0, body.Length / 2), cancellationToken).ConfigureAwait(false);
            await CutAsync(context, bill).ConfigureAwait(false);
            return;
        }
        Settle(bill);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        await response.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The quota keeps what was billed; the rest of the reservation (unused max_tokens, or all of it when nothing was
    /// billed) goes back. Done before the last bytes are written, so a client that saw the end never finds the quota
    /// fuller than the fake does.
    /// </summary>
    private void Settle(BillBuilder bill)
    {
        if (!bill.Settled)
        {
            bill.Settled = true;
            _quota.Refund(bill.Requested - (bill.Billed ? bill.PromptTokens + bill.CompletionTokens : 0));
        }
    }

    /// <summary>
    /// Ends a stream part-way, with no finish_reason, usage or <c>[DONE]</c>, as when a proxy loses the upstream. The body
    /// ends cleanly rather than by a reset, so the client surely reads every token sent before the cut (a reset may
    /// discard bytes still in flight).
    /// </summary>
    private async Task EndEarlyAsync(HttpResponse response, BillBuilder bill)
    {
        bill.Cut = true;
        Interlocked.Increment(ref _cut);
        Settle(bill);
        await response.CompleteAsync().ConfigureAwait(false);
    }

    private async Task CutAsync(HttpContext context, BillBuilder bill)
    {
        bill.Cut = true;
        Interlocked.Increment(ref _cut);
        await context.Response.Body.FlushAsync().ConfigureAwait(false);
        context.Abort();
    }

    private static void WriteUsage(Utf8JsonWriter w, BillBuilder bill)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", bill.PromptTokens);
        w.WriteNumber("completion_tokens", bill.CompletionTokens);
        w.WriteNumber("total_tokens", bill.PromptTokens + bill.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", bill.CachedTokens);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", bill.ReasoningTokens);
        w.WriteNumber("audio_tokens", 0);
        w.WriteNumber("accepted_prediction_tokens", 0);
        w.WriteNumber("rejected_prediction_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static FakeOpenAiReply DefaultReply(FakeOpenAiRequest request) =>
        request.ResponseFormat is "json_object" or "json_schema" ? FakeOpenAiReply.Of("""{"ok":true}""") : FakeOpenAiReply.Of("This is the fake model's answer.");

    /// <summary>The text of each output token, in order (a token inside a multi-byte character carries the empty string).</summary>
    private static List<string> Pieces(string text)
    {
        var tokens = _tokenizer.Value.EncodeToTokens(text, out _);
        var pieces = new List<string>(tokens.Count);
        var at = 0;
        foreach (var token in tokens)
        {
            var end = Math.Clamp(token.Offset.End.GetOffset(text.Length), at, text.Length);
            pieces.Add(text[at..end]);
            at = end;
        }
        if (at < text.Length && pieces.Count > 0)
        {
            pieces[^1] += text[at..];
        }
        return pieces;
    }

    private FakeOpenAiRequest? Parse(JsonElement root, string authorization)
    {
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            return null;
        }
        var list = new List<FakeOpenAiMessage>();
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                return null;
            }
            list.Add(new FakeOpenAiMessage(role.GetString()!, content.GetString()!));
        }
        int? maxTokens = root.TryGetProperty("max_completion_tokens", out var mct) && mct.ValueKind == JsonValueKind.Number ? mct.GetInt32()
            : root.TryGetProperty("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number ? mt.GetInt32() : null;
        var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        string? format = null, schemaName = null;
        if (root.TryGetProperty("response_format", out var rf) && rf.ValueKind == JsonValueKind.Object && rf.TryGetProperty("type", out var type))
        {
            format = type.GetString();
            if (rf.TryGetProperty("json_schema", out var js) && js.ValueKind == JsonValueKind.Object && js.TryGetProperty("name", out var name))
            {
                schemaName = name.GetString();
            }
        }
        double? temperature = root.TryGetProperty("temperature", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble() : null;
        lock (_lock)
        {
            var parsed = new FakeOpenAiRequest(_requests.Count + 1, model.GetString()!, list, maxTokens, stream, includeUsage, format, schemaName,
                temperature, CountPromptTokens(list), authorization.Length == 0 ? null : authorization, Options.TimeProvider.GetUtcNow());
            _requests.Add(parsed);
            return parsed;
        }
    }

    private async Task RateLimitedAsync(HttpContext context, double? retryAfterSeconds, string message, string type, CancellationToken cancellationToken)
    {
        if (retryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(seconds)).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["retry-after-ms"] = Math.Ceiling(seconds * 1000).ToString(CultureInfo.InvariantCulture);
        }
        context.Response.Headers["x-ratelimit-reset-requests"] = "1s";
        await ErrorAsync(context, 429, message, type, "rate_limit_exceeded", cancellationToken).ConfigureAwait(false);
    }

    private async Task ErrorAsync(HttpContext context, int status, string message, string type, string? code, CancellationToken cancellationToken)
    {
        var body = Json(w =>
        {
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            w.WriteNull("param");
            if (code is null)
            {
                w.WriteNull("code");
            }
            else
            {
                w.WriteString("code", code);
            }
            w.WriteEndObject();
        });
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        Count(status);
        await response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        await response.CompleteAsync().ConfigureAwait(false);
    }

    private void Count(int status) => Interlocked.Increment(ref _statusCounts[status]);

    private static byte[] Chunk(string id, long created, string model, Action<Utf8JsonWriter> delta, string? finish) => Json(w =>
    {
        ChunkHead(w, id, created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        delta(w);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        if (finish is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finish);
        }
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private static void ChunkHead(Utf8JsonWriter w, string id, long created, string model)
    {
        w.WriteString("id", id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", "fp_fake");
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task WriteEventAsync(HttpResponse response, byte[] json, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync("data: "u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteRawAsync(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex SchemaName();

    private sealed class BillBuilder
    {
        public int Index;
        public int PromptTokens;
        public int CachedTokens;
        public int CompletionTokens;
        public int ReasoningTokens;
        public bool Billed;
        public bool Aborted;
        public bool Cut;
        public int Requested;
        public bool Settled;
    }

    /// <summary>Two token buckets (requests and tokens), each holding <c>burstSeconds</c> of its per-minute rate; taken together or not at all.</summary>
    private sealed class FakeQuota(TimeProvider time)
    {
        private readonly Lock _lock = new();
        private double _requests = double.PositiveInfinity;
        private double _tokens = double.PositiveInfinity;
        private double _rpm;
        private double _tpm;
        private double _burstSeconds;
        private long _last = time.GetTimestamp();

        public bool TryTake(double rpm, double tpm, double burstSeconds, int tokens, out TimeSpan retryAfter, out bool onTokens)
        {
            lock (_lock)
            {
                Refill(rpm, tpm, burstSeconds);
                retryAfter = TimeSpan.Zero;
                onTokens = false;
                var requestsShort = rpm > 0 && _requests < 1;
                var tokensShort = tpm > 0 && _tokens < tokens;
                if (!requestsShort && !tokensShort)
                {
                    _requests -= rpm > 0 ? 1 : 0;
                    _tokens -= tpm > 0 ? tokens : 0;
                    return true;
                }
                onTokens = tokensShort;
                var wait = tokensShort ? (tokens - _tokens) / (tpm / 60) : (1 - _requests) / (rpm / 60);
                retryAfter = TimeSpan.FromSeconds(Math.Max(0.001, wait));
                return false;
            }
        }

        public void Refund(int tokens)
        {
            lock (_lock)
            {
                if (_tpm > 0 && tokens > 0)
                {
                    Refill(_rpm, _tpm, _burstSeconds);
                    _tokens = Math.Min(_tpm * _burstSeconds / 60, _tokens + tokens);
                }
            }
        }

        public override string ToString()
        {
            lock (_lock)
            {
                return string.Create(CultureInfo.InvariantCulture, $"requests {_requests:0.###}, tokens {_tokens:0.#}");
            }
        }

        public void Reset()
        {
            lock (_lock)
            {
                _requests = double.PositiveInfinity;
                _tokens = double.PositiveInfinity;
                _last = time.GetTimestamp();
            }
        }

        private void Refill(double rpm, double tpm, double burstSeconds)
        {
            var now = time.GetTimestamp();
            var elapsed = Math.Max(0, time.GetElapsedTime(_last, now).TotalSeconds);
            _last = now;
            _rpm = rpm;
            _tpm = tpm;
            _burstSeconds = Math.Max(burstSeconds, 1e-3);
            _requests = rpm > 0 ? Math.Min(rpm * _burstSeconds / 60, _requests + elapsed * rpm / 60) : double.PositiveInfinity;
            _tokens = tpm > 0 ? Math.Min(tpm * _burstSeconds / 60, _tokens + elapsed * tpm / 60) : double.PositiveInfinity;
        }
    }
}
