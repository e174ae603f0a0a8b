using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Orleans.Search.Diagnostics;
using Orleans.Search.Providers;
using Polly;
using Polly.Retry;

namespace Orleans.Search.Llm;

/// <summary>
/// <see cref="ILanguageModels"/> over any OpenAI-compatible chat-completions API, spoken directly over HTTP (see
/// <see cref="OpenAiChatWire"/>). Each attempt first gets a permit from the provider's <c>llm:{name}</c> limiter grain
/// (one request, and prompt + max output tokens, trued up to the billed tokens when the attempt ends). An attempt is
/// retried until its first token has arrived: on 429 <c>rate_limit_exceeded</c> after the provider's Retry-After (which
/// also pauses the limiter for the whole cluster), on 408/5xx/no response/timeout with exponential backoff; a 429
/// <c>insufficient_quota</c>, 401 and other 4xx fail at once. Once text has been handed out the call is not retried:
/// a failure then is an <see cref="LlmException"/> with the tokens billed so far.
/// </summary>
public sealed partial class LanguageModels(
    IOptionsMonitor<LlmOptions> options,
    IOptionsMonitor<SearchOptions> search,
    IHttpClientFactory httpClients,
    IGrainFactory grains,
    ILocalSiloDetails silo,
    LlmTokenizer tokenizer,
    TimeProvider time,
    ILogger<LanguageModels> logger) : ILanguageModels
{
    public const string HttpClientName = "llm";

    /// <summary>An error body is read up to this much; it is only for the message and code.</summary>
    private const int MaxErrorBytes = 64 * 1024;

    /// <summary>A non-streamed body is read up to this much.</summary>
    private const int MaxBodyBytes = 8 * 1024 * 1024;

    // The nested attempt reaches the captured services through these.
    private TimeProvider Time => time;
    private IHttpClientFactory HttpClients => httpClients;
    private ILogger Logger => logger;
    private LlmTokenizer Tokenizer => tokenizer;
    private TimeSpan MaxPause => search.CurrentValue.MaxPause;

    string? ILanguageModels.DefaultProvider => options.CurrentValue.DefaultProvider is { Length: > 0 } name ? name : null;

    LlmModelInfo ILanguageModels.Describe(string provider) => Describe(provider);

    int ILanguageModels.EstimatePromptTokens(string provider, IReadOnlyList<LlmMessage> messages) => tokenizer.CountPrompt(messages);

    decimal ILanguageModels.CostUsd(string provider, TokenUsage usage) => CostUsd(Describe(provider), usage);

    IAsyncEnumerable<LlmUpdate> ILanguageModels.StreamAsync(LlmRequest request, CancellationToken cancellationToken) => StreamAsync(request, cancellationToken);

    private LlmModelInfo Describe(string provider)
    {
        var current = options.CurrentValue;
        if (!current.Providers.TryGetValue(provider, out var p))
        {
            throw new KeyNotFoundException($"LLM provider '{provider}' is not configured (Llm:Providers).");
        }
        var model = p.Model ?? "";
        var price = current.Prices.TryGetValue(model, out var configured) ? configured : new LlmPriceOptions();
        return new LlmModelInfo(provider, model, price.InputPerMillion, price.CachedInputPerMillion, price.OutputPerMillion);
    }

    /// <summary>Uncached input, cached input and output (reasoning included) at their prices.</summary>
    private static decimal CostUsd(LlmModelInfo model, TokenUsage usage) =>
        ((usage.Input - usage.CachedInput) * model.InputPerMillion + usage.CachedInput * model.CachedInputPerMillion + usage.Output * model.OutputPerMillion) / 1_000_000m;

    private async IAsyncEnumerable<LlmUpdate> StreamAsync(LlmRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!options.CurrentValue.Providers.TryGetValue(request.Provider, out var provider))
        {
            throw new KeyNotFoundException($"LLM provider '{request.Provider}' is not configured (Llm:Providers).");
        }
        if (request.Messages.Count == 0 || request.MaxOutputTokens < 1)
        {
            throw new ArgumentException("An LLM request needs at least one message and MaxOutputTokens of 1 or more.", nameof(request));
        }
        var call = new Call(request, provider, Describe(request.Provider), tokenizer.CountPrompt(request.Messages));
        var attempt = await OpenAsync(call, cancellationToken);
        try
        {
            while (await attempt.NextAsync(cancellationToken) is { } update)
            {
                yield return update;
            }
        }
        finally
        {
            await attempt.DisposeAsync();
        }
    }

    /// <summary>Attempts until one has produced its first token (or its whole answer), with the retry rules.</summary>
    private async Task<Attempt> OpenAsync(Call call, CancellationToken cancellationToken)
    {
        var builder = new ResiliencePipelineBuilder<Attempt> { TimeProvider = time };
        if (call.Provider.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<Attempt>
            {
                MaxRetryAttempts = call.Provider.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(Math.Max(1, call.Provider.RetryBaseDelayMs)),
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder<Attempt>().Handle<AttemptFailure>(f => f.Transient),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is AttemptFailure { RetryAfter: { } wait } ? ProviderHeaders.Clamp(wait, search.CurrentValue.MaxPause) : (TimeSpan?)null),
                OnRetry = args =>
                {
                    LogRetry(logger, call.Model.Provider, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message);
                    return default;
                },
            });
        }
        var pipeline = builder.Build();
        try
        {
            return await pipeline.ExecuteAsync(async token => await OpenAttemptAsync(call, token), cancellationToken);
        }
        catch (AttemptFailure failure)
        {
            throw new LlmException(call.Model.Provider, failure.Message, failure.StatusCode, failure.Code, call.Billed, failure);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new LlmCallCanceledException(call.Model.Provider, call.Billed, cancellationToken);
        }
    }

    private async Task<Attempt> OpenAttemptAsync(Call call, CancellationToken cancellationToken)
    {
        var limiter = grains.GetGrain<ILlmLimiterGrain>(LlmLimiterGrain.Key(call.Model.Provider));
        var timeout = TimeSpan.FromSeconds(call.Provider.TimeoutSeconds);
        var permit = new LlmPermitRequest
        {
            LeaseId = Guid.NewGuid(),
            Holder = call.Request.Caller ?? "llm",
            User = call.Request.Caller,
            Tokens = call.PromptTokens + call.Request.MaxOutputTokens,
            LeaseDuration = TimeSpan.FromSeconds(Math.Max(120, timeout.TotalSeconds * 4)),
            HolderSilo = silo.SiloAddress,
        };
        var waitStarted = time.GetTimestamp();
        try
        {
            while (await limiter.AcquireAsync(permit, cancellationToken) is not { Granted: true })
            {
            }
        }
        catch (OperationCanceledException)
        {
            // Withdraw it even if the cancellation never reached the limiter: it may be queued, or just granted.
            _ = limiter.ReleaseAsync(permit.LeaseId, 0);
            throw;
        }
        SearchMetrics.LlmLimiterWait.Record(time.GetElapsedTime(waitStarted).TotalMilliseconds, new KeyValuePair<string, object?>("provider", call.Model.Provider));

        var attempt = new Attempt(this, call, limiter, permit, timeout);
        try
        {
            await attempt.StartAsync(cancellationToken);
            return attempt;
        }
        catch (Exception ex)
        {
            await attempt.DisposeAsync();
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            throw attempt.Failure ?? new AttemptFailure($"LLM provider '{call.Model.Provider}' failed: {ex.Message}", null, null, null, transient: false, ex);
        }
    }

    /// <summary>At most <paramref name="limit"/> bytes of <paramref name="stream"/> (a longer body is cut there).</summary>
    private static async Task<byte[]> ReadUpToAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while (buffer.Length < limit && (read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, (int)Math.Min(read, limit - buffer.Length));
        }
        return buffer.ToArray();
    }

    private static Uri Endpoint(LlmProviderOptions provider) => new($"{provider.BaseUrl!.TrimEnd('/')}/chat/completions", UriKind.Absolute);

    private static KeyValuePair<string, object?>[] Tags(string provider, string status) =>
        [new("provider", provider), new("status", status)];

    private static void RecordUsage(LlmModelInfo model, TokenUsage usage)
    {
        var provider = new KeyValuePair<string, object?>("provider", model.Provider);
        SearchMetrics.LlmTokens.Add(usage.Input, provider, new("kind", "input"));
        SearchMetrics.LlmTokens.Add(usage.CachedInput, provider, new("kind", "cached_input"));
        SearchMetrics.LlmTokens.Add(usage.Output, provider, new("kind", "output"));
        SearchMetrics.LlmTokens.Add(usage.Reasoning, provider, new("kind", "reasoning"));
        SearchMetrics.LlmCostUsd.Add((double)CostUsd(model, usage), provider);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM provider {Provider}: attempt {Attempt} in {DelayMs} ms after: {Error}")]
    private static partial void LogRetry(ILogger logger, string provider, int attempt, double delayMs, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM provider {Provider}: call failed after its first token: {Error}")]
    private static partial void LogCut(ILogger logger, string provider, string error);

    /// <summary>One call: what it asked for, and the tokens billed by attempts that did not finish it.</summary>
    private sealed class Call(LlmRequest request, LlmProviderOptions provider, LlmModelInfo model, int promptTokens)
    {
        public LlmRequest Request { get; } = request;
        public LlmProviderOptions Provider { get; } = provider;
        public LlmModelInfo Model { get; } = model;
        public int PromptTokens { get; } = promptTokens;
        public TokenUsage Billed { get; set; } = TokenUsage.None;
    }

    /// <summary>A failed attempt, as the retry rules see it.</summary>
    private sealed class AttemptFailure(string message, int? statusCode, string? code, TimeSpan? retryAfter, bool transient, Exception? inner = null)
        : Exception(message, inner)
    {
        public int? StatusCode { get; } = statusCode;
        public string? Code { get; } = code;
        public TimeSpan? RetryAfter { get; } = retryAfter;
        public bool Transient { get; } = transient;
    }

    /// <summary>
    /// One HTTP exchange under one permit. <see cref="StartAsync"/> runs until the first token (or the whole body);
    /// <see cref="NextAsync"/> hands out what was read and reads on. Disposing it aborts the HTTP stream and trues up the permit.
    /// </summary>
    private sealed class Attempt(LanguageModels owner, Call call, ILlmLimiterGrain limiter, LlmPermitRequest permit, TimeSpan timeout) : IAsyncDisposable
    {
        private readonly Queue<LlmUpdate> _ready = new();
        private readonly StringBuilder _text = new();
        private HttpResponseMessage? _response;
        private CancellationTokenSource? _reading;
        private IAsyncEnumerator<SseItem<string>>? _events;
        private TokenUsage? _reported;
        private string? _model;
        private string? _finish;
        private bool _started;   // a 200 arrived: from here on the provider bills
        private bool _completed;
        private bool _released;
        private TimeSpan? _pause;
        private long _renewedAt = owner.Time.GetTimestamp();

        /// <summary>Why the attempt failed, when it failed in a way the retry rules know.</summary>
        public AttemptFailure? Failure { get; private set; }

        private string Provider => call.Model.Provider;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, Endpoint(call.Provider))
                {
                    Content = new ByteArrayContent(OpenAiChatWire.RequestBody(call.Request, call.Model.Model, call.Provider.Stream)),
                };
                message.Content.Headers.ContentType = new("application/json");
                if (!string.IsNullOrEmpty(call.Provider.ApiKey))
                {
                    message.Headers.Authorization = new("Bearer", call.Provider.ApiKey);
                }
                var http = owner.HttpClients.CreateClient(HttpClientName);
                _response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                _ = limiter.StartedAsync(permit.LeaseId);
                var status = (int)_response.StatusCode;
                if (!_response.IsSuccessStatusCode)
                {
                    await FailFromStatusAsync(_response, deadline.Token);
                }
                _started = true;
                if (!call.Provider.Stream)
                {
                    await ReadWholeBodyAsync(deadline.Token);
                    return;
                }
                _reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var stream = await _response.Content.ReadAsStreamAsync(deadline.Token);
                _events = SseParser.Create(stream, static (_, data) => Encoding.UTF8.GetString(data)).EnumerateAsync(_reading.Token).GetAsyncEnumerator(_reading.Token);
                // Until the first token the attempt can still be retried, so the first token counts against the attempt's timeout.
                _reading.CancelAfter(timeout);
                while (_ready.Count == 0 && !_completed)
                {
                    await ReadEventAsync();
                }
                _ = status;
            }
            catch (AttemptFailure failure)
            {
                Failure = failure;
                Count(failure.StatusCode?.ToString(CultureInfo.InvariantCulture) ?? "error");
                throw;
            }
            catch (Exception ex) when (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Failure = new AttemptFailure($"LLM provider '{Provider}' sent no first token within {timeout.TotalSeconds:0.#} s.", null, "timeout", null, transient: true, ex);
                Count("timeout");
                throw Failure;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                Failure = new AttemptFailure(_started ? $"LLM provider '{Provider}' cut the stream before its first token: {ex.Message}"
                    : $"LLM provider '{Provider}' could not be reached: {ex.Message}", _started ? 200 : null, _started ? "stream_cut" : null, null, transient: true, ex);
                Count(_started ? "cut" : "error");
                throw Failure;
            }
            catch (JsonException ex)
            {
                Failure = new AttemptFailure($"LLM provider '{Provider}' sent a malformed response: {ex.Message}", 200, "malformed_response", null, transient: false, ex);
                Count("malformed");
                throw Failure;
            }
            catch (OperationCanceledException)
            {
                Count("cancelled");
                throw;
            }
        }

        public async ValueTask<LlmUpdate?> NextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                if (_ready.TryDequeue(out var update))
                {
                    return update;
                }
                if (_completed)
                {
                    return null;
                }
                RenewIfDue();
                try
                {
                    _reading!.CancelAfter(timeout);
                    await ReadEventAsync();
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    Count("cancelled");
                    await DisposeAsync();
                    throw new LlmCallCanceledException(Provider, call.Billed, cancellationToken);
                }
                catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException or JsonException or AttemptFailure)
                {
                    var (why, code) = ex switch
                    {
                        OperationCanceledException => ($"no data for {timeout.TotalSeconds:0.#} s", "timeout"),
                        AttemptFailure f => (f.Message, f.Code),
                        JsonException => ($"malformed chunk: {ex.Message}", "malformed_response"),
                        _ => ($"stream cut: {ex.Message}", "stream_cut"),
                    };
                    Count(code == "timeout" ? "timeout" : "cut");
                    await DisposeAsync();
                    LogCut(owner.Logger, Provider, why);
                    throw new LlmException(Provider, $"LLM provider '{Provider}' failed mid-answer ({why}); the tokens billed so far are counted.", 200, code, call.Billed, ex);
                }
            }
        }

        /// <summary>Reads one SSE event into <see cref="_ready"/>; at the end, the completion.</summary>
        private async Task ReadEventAsync()
        {
            if (!await _events!.MoveNextAsync())
            {
                if (_finish is null)
                {
                    throw new IOException("the stream ended before the answer was finished");
                }
                Complete();
                return;
            }
            var data = _events.Current.Data;
            if (data == "[DONE]")
            {
                Complete();
                return;
            }
            Accept(OpenAiChatWire.ParsePart(data));
        }

        private void Accept(OpenAiChatWire.Part part)
        {
            if (part.Error is { } error)
            {
                throw new AttemptFailure($"LLM provider '{Provider}' reported an error mid-stream: {error.Message}", 200, error.Code ?? error.Type, null, transient: false);
            }
            _model ??= part.Model;
            _finish = part.FinishReason ?? _finish;
            _reported = part.Usage ?? _reported;
            if (!string.IsNullOrEmpty(part.Text))
            {
                _text.Append(part.Text);
                _ready.Enqueue(new LlmTextDelta(part.Text));
            }
        }

        private async Task ReadWholeBodyAsync(CancellationToken cancellationToken)
        {
            await using var stream = await _response!.Content.ReadAsStreamAsync(cancellationToken);
            var body = await ReadUpToAsync(stream, MaxBodyBytes, cancellationToken);
            // DeepSeek sends blank lines while a request waits to be served.
            var part = OpenAiChatWire.ParsePart(Encoding.UTF8.GetString(body).Trim());
            if (part.Error is null && part.FinishReason is null && part.Text is null)
            {
                throw new JsonException("no choices in the response");
            }
            Accept(part);
            Complete();
        }

        private void Complete()
        {
            var usage = _reported ?? SoFar();
            var total = call.Billed + usage;
            call.Billed = total;
            _completed = true;
            Count("200");
            Release(usage);
            _ready.Enqueue(new LlmCompleted(total, _model ?? call.Model.Model, _finish));
        }

        /// <summary>What the provider has billed for this attempt as far as the client knows: the prompt and the output received.</summary>
        private TokenUsage SoFar() => new()
        {
            Input = call.PromptTokens,
            Output = owner.Tokenizer.CountText(_text.ToString()),
            Estimated = true,
        };

        private void RenewIfDue()
        {
            if (owner.Time.GetElapsedTime(_renewedAt) > permit.LeaseDuration / 3)
            {
                _renewedAt = owner.Time.GetTimestamp();
                _ = limiter.RenewAsync(permit.LeaseId, permit.LeaseDuration);
            }
        }

        private async Task FailFromStatusAsync(HttpResponseMessage response, CancellationToken cancellationToken)
        {
            var status = (int)response.StatusCode;
            string body;
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
                body = Encoding.UTF8.GetString(await ReadUpToAsync(stream, MaxErrorBytes, cancellationToken));
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException)
            {
                body = "";
            }
            var error = OpenAiChatWire.ParseError(body);
            var code = error?.Code ?? error?.Type;
            var retryAfter = RetryAfter(response);
            // Quota and billing problems are 429 too, but waiting does not fix them.
            var quota = code is "insufficient_quota" || error?.Type == "insufficient_quota";
            var transient = !quota && status is 408 or 409 or 429 or >= 500;
            if (status == 429 && !quota)
            {
                _pause = retryAfter ?? TimeSpan.FromSeconds(1);
            }
            var what = error?.Message is { Length: > 0 } m ? m : $"HTTP {status}";
            throw new AttemptFailure($"LLM provider '{Provider}' answered {status}{(code is null ? "" : $" {code}")}: {what}", status, code ?? status.ToString(CultureInfo.InvariantCulture),
                retryAfter, transient);
        }

        /// <summary><c>retry-after-ms</c> (OpenAI's, milliseconds), else <c>Retry-After</c> and the reset headers, clamped.</summary>
        private TimeSpan? RetryAfter(HttpResponseMessage response)
        {
            var max = owner.MaxPause;
            if (response.Headers.TryGetValues("retry-after-ms", out var values)
                && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && double.IsFinite(ms))
            {
                return TimeSpan.FromMilliseconds(Math.Clamp(ms, 0, max.TotalMilliseconds));
            }
            return ProviderHeaders.RetryAfter(response, max, owner.Time);
        }

        private void Count(string status) => SearchMetrics.LlmCalls.Add(1, Tags(Provider, status));

        /// <summary>Trues the permit up to <paramref name="usage"/> and records the tokens (once).</summary>
        private void Release(TokenUsage usage)
        {
            if (_released)
            {
                return;
            }
            _released = true;
            _ = limiter.ReleaseAsync(permit.LeaseId, usage.Total, _pause);
            RecordUsage(call.Model, usage);
        }

        public ValueTask DisposeAsync()
        {
            if (!_completed && !_released)
            {
                // Cut short (a failure, a cancel, a caller that stopped reading): once a 200 arrived, the provider bills
                // the prompt and the output it sent.
                var usage = _started ? SoFar() : TokenUsage.None;
                call.Billed += usage;
                Release(usage);
            }
            _reading?.Cancel();
            // Disposing the response mid-body closes the connection: the provider sees the stream aborted at once.
            _response?.Dispose();
            _reading?.Dispose();
            _reading = null;
            _response = null;
            return ValueTask.CompletedTask;
        }
    }
}
