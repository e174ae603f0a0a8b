namespace Orleans.Search.Fakes;

/// <summary>One chat message as the fake received it.</summary>
public sealed record FakeOpenAiMessage(string Role, string Content);

/// <summary>
/// One chat-completions request as the fake parsed it, before any reply: what a scripted
/// <see cref="FakeOpenAiOptions.Reply"/> decides on. <see cref="Index"/> is 1-based over the fake's life.
/// </summary>
public sealed record FakeOpenAiRequest(
    int Index,
    string Model,
    IReadOnlyList<FakeOpenAiMessage> Messages,
    int? MaxTokens,
    bool Stream,
    bool IncludeUsage,
    string? ResponseFormat,
    string? JsonSchemaName,
    double? Temperature,
    int PromptTokens,
    string? Authorization,
    DateTimeOffset ArrivedAt)
{
    /// <summary>The content of the last user message (empty if none).</summary>
    public string LastUserContent => Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
}

/// <summary>How a scripted reply fails instead of (or part-way through) answering.</summary>
public enum FakeOpenAiFaultKind
{
    /// <summary>429 <c>rate_limit_exceeded</c> with <c>retry-after</c> (and <c>retry-after-ms</c>).</summary>
    RateLimited,

    /// <summary>429 <c>insufficient_quota</c>: must not be retried.</summary>
    InsufficientQuota,

    /// <summary>401 <c>invalid_api_key</c>.</summary>
    Unauthorized,

    /// <summary>500 <c>server_error</c>.</summary>
    ServerError,

    /// <summary>The stream (or body) is cut by a connection reset after <see cref="FakeOpenAiFault.AfterTokens"/> output tokens.</summary>
    CutStream,
}

/// <summary>A fault for one request. <see cref="RetryAfterSeconds"/> is sent as <c>retry-after</c> on <see cref="FakeOpenAiFaultKind.RateLimited"/>.</summary>
public sealed record FakeOpenAiFault(FakeOpenAiFaultKind Kind, double? RetryAfterSeconds = null, int AfterTokens = 0);

/// <summary>
/// What the fake answers to one request: <see cref="Text"/> as the assistant's content (streamed one token per chunk),
/// or a <see cref="Fault"/>. <see cref="CachedInputTokens"/> of the prompt are billed as cached, <see cref="ReasoningTokens"/>
/// are billed on top of the text's tokens as hidden reasoning. <see cref="TimeToFirstToken"/> overrides the option.
/// <see cref="Hold"/>, when set, keeps the response at the first token (after the headers; the prompt is billed) until
/// the task completes or the client goes away.
/// </summary>
public sealed record FakeOpenAiReply(string Text = "", string FinishReason = "stop", int CachedInputTokens = 0, int ReasoningTokens = 0,
    FakeOpenAiFault? Fault = null, TimeSpan? TimeToFirstToken = null, Task? Hold = null)
{
    public static FakeOpenAiReply Of(string text) => new(text);

    public static FakeOpenAiReply Failing(FakeOpenAiFaultKind kind, double? retryAfterSeconds = null) => new(Fault: new FakeOpenAiFault(kind, retryAfterSeconds));

    public static FakeOpenAiReply CutAfter(string text, int tokens) => new(text, Fault: new FakeOpenAiFault(FakeOpenAiFaultKind.CutStream, AfterTokens: tokens));
}

/// <summary>
/// What the fake billed for one request that got past authentication and the quota: the tokens a real provider would
/// charge for it (prompt in full; output as far as it was sent). A request refused with an error bills nothing.
/// </summary>
public sealed record FakeOpenAiBill(int Index, int StatusCode, int PromptTokens, int CachedTokens, int CompletionTokens, int ReasoningTokens,
    bool Aborted, bool Cut)
{
    public int TotalTokens => PromptTokens + CompletionTokens;

    /// <summary>When the response ended (its last byte written, or the cut or abort).</summary>
    public DateTimeOffset EndedAt { get; init; }
}

/// <summary>
/// Behaviour knobs for <see cref="FakeOpenAi"/>, read on every request, so a test may change them while requests run.
/// </summary>
public sealed class FakeOpenAiOptions
{
    private Func<FakeOpenAiRequest, FakeOpenAiReply>? _reply;
    private long _timeToFirstTokenTicks;
    private double _tokensPerSecond;
    private double _requestsPerMinute;
    private double _tokensPerMinute;
    private double _burstSeconds = 60;
    private volatile bool _reportUsage = true;
    private volatile bool _keepAliveComments;
    private volatile bool _requireJsonWord = true;
    private volatile string? _requiredApiKey;

    /// <summary>The port on 127.0.0.1 to listen on; 0 (the default) picks a free one. Set it only before start.</summary>
    public int Port { get; init; }

    /// <summary>The clock for the quota and the delays. Set it only before start.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The reply to each request. Null answers a fixed sentence (or <c>{"ok":true}</c> when JSON was asked for).</summary>
    public Func<FakeOpenAiRequest, FakeOpenAiReply>? Reply
    {
        get => Volatile.Read(ref _reply);
        set => Volatile.Write(ref _reply, value);
    }

    /// <summary>The delay between the response headers and the first token (the whole body, when not streaming, comes after it).</summary>
    public TimeSpan TimeToFirstToken
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _timeToFirstTokenTicks));
        set => Interlocked.Exchange(ref _timeToFirstTokenTicks, value.Ticks);
    }

    /// <summary>Output speed after the first token; 0 (the default) sends all tokens at once.</summary>
    public double TokensPerSecond
    {
        get => Volatile.Read(ref _tokensPerSecond);
        set => Volatile.Write(ref _tokensPerSecond, value);
    }

    /// <summary>The fake's own requests-per-minute quota (a token bucket holding <see cref="BurstSeconds"/> of it); 0 means none.</summary>
    public double RequestsPerMinute
    {
        get => Volatile.Read(ref _requestsPerMinute);
        set => Volatile.Write(ref _requestsPerMinute, value);
    }

    /// <summary>
    /// The fake's own tokens-per-minute quota; 0 means none. A request is charged its prompt plus <c>max_tokens</c> when it
    /// arrives (as OpenAI counts "Requested"), and the unused part is given back when it ends.
    /// </summary>
    public double TokensPerMinute
    {
        get => Volatile.Read(ref _tokensPerMinute);
        set => Volatile.Write(ref _tokensPerMinute, value);
    }

    /// <summary>How many seconds of each quota its bucket holds (the burst); 60 by default.</summary>
    public double BurstSeconds
    {
        get => Volatile.Read(ref _burstSeconds);
        set => Volatile.Write(ref _burstSeconds, value);
    }

    /// <summary>False makes the fake a provider that reports no <c>usage</c> at all (streaming or not).</summary>
    public bool ReportUsage
    {
        get => _reportUsage;
        set => _reportUsage = value;
    }

    /// <summary>Sends a <c>: keep-alive</c> comment and a blank line before the first chunk, as DeepSeek does under load.</summary>
    public bool KeepAliveComments
    {
        get => _keepAliveComments;
        set => _keepAliveComments = value;
    }

    /// <summary>
    /// As OpenAI: <c>response_format: json_object</c> is refused with 400 unless a message contains the word "json". On by default.
    /// </summary>
    public bool RequireJsonWordForJsonObject
    {
        get => _requireJsonWord;
        set => _requireJsonWord = value;
    }

    /// <summary>When set, every request must carry <c>Authorization: Bearer {key}</c> or gets 401 <c>invalid_api_key</c>.</summary>
    public string? RequiredApiKey
    {
        get => _requiredApiKey;
        set => _requiredApiKey = value;
    }
}
