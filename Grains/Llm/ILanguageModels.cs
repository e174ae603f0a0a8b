namespace Orleans.Search.Llm;

/// <summary>
/// The configured LLM providers (<c>Llm:Providers:{name}</c>, any OpenAI-compatible chat-completions API) as the
/// research pipeline's stages use them. Every call goes through the cluster-wide <c>llm:{name}</c> limiter
/// (requests and tokens per minute), is streamed, is retried per the provider resilience rules, and reports its
/// token usage. Cancelling the token aborts the HTTP stream at once.
/// </summary>
public interface ILanguageModels
{
    /// <summary>The configured default provider name (<c>Llm:DefaultProvider</c>), or null when none is configured.</summary>
    string? DefaultProvider { get; }

    /// <summary>The provider's model and prices; throws <see cref="KeyNotFoundException"/> for an unknown name.</summary>
    LlmModelInfo Describe(string provider);

    /// <summary>A tokenizer's count of the prompt tokens of <paramref name="messages"/> (for budgets and limiter reservations).</summary>
    int EstimatePromptTokens(string provider, IReadOnlyList<LlmMessage> messages);

    /// <summary>The cost of <paramref name="usage"/> at the provider's model's configured prices (<c>Llm:Prices:{model}</c>).</summary>
    decimal CostUsd(string provider, TokenUsage usage);

    /// <summary>
    /// Makes one call: <see cref="LlmTextDelta"/>s as text arrives, then exactly one <see cref="LlmCompleted"/>.
    /// Throws <see cref="LlmException"/> when the call fails for good (after retries), carrying the tokens the
    /// provider billed before it failed.
    /// </summary>
    IAsyncEnumerable<LlmUpdate> StreamAsync(LlmRequest request, CancellationToken cancellationToken);
}

/// <summary>A provider's model and its prices in USD per million tokens.</summary>
public sealed record LlmModelInfo(string Provider, string Model, decimal InputPerMillion, decimal CachedInputPerMillion, decimal OutputPerMillion);

/// <summary>One chat message; <paramref name="Role"/> is <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record LlmMessage(string Role, string Content);

/// <summary>One chat-completions call as a stage asks for it.</summary>
public sealed record LlmRequest
{
    /// <summary>A configured provider name (<c>Llm:Providers</c>).</summary>
    public required string Provider { get; init; }
    public required IReadOnlyList<LlmMessage> Messages { get; init; }

    /// <summary>The most output tokens the call may produce (<c>max_tokens</c>); budgets reserve prompt + this.</summary>
    public int MaxOutputTokens { get; init; } = 1024;

    /// <summary>Ask for a JSON object (<c>response_format</c>); with <see cref="JsonSchema"/>, that schema.</summary>
    public bool JsonOutput { get; init; }
    public string? JsonSchema { get; init; }
    public double? Temperature { get; init; }

    /// <summary>Who the call is for (a user id), for metrics and logs.</summary>
    public string? Caller { get; init; }
}

/// <summary>One step of a streamed call.</summary>
public abstract record LlmUpdate;

/// <summary>Text as it arrived.</summary>
public sealed record LlmTextDelta(string Text) : LlmUpdate;

/// <summary>The end of a call: its usage (as reported, or estimated and flagged) and why it stopped.</summary>
public sealed record LlmCompleted(TokenUsage Usage, string Model, string? FinishReason) : LlmUpdate;

/// <summary>A call that failed for good; <see cref="Usage"/> is what the provider billed before the failure.</summary>
public sealed class LlmException(string provider, string message, int? statusCode = null, string? code = null,
    TokenUsage? usage = null, Exception? inner = null) : Exception(message, inner)
{
    public string Provider { get; } = provider;

    /// <summary>HTTP status, or null when no response arrived.</summary>
    public int? StatusCode { get; } = statusCode;

    /// <summary>The provider's error code, e.g. <c>insufficient_quota</c>, <c>rate_limit_exceeded</c>.</summary>
    public string? Code { get; } = code;
    public TokenUsage Usage { get; } = usage ?? TokenUsage.None;
}
