namespace Orleans.Search.Llm;

/// <summary>The <c>Llm</c> section: LLM providers (OpenAI-compatible chat-completions APIs) and model prices.</summary>
public sealed class LlmOptions
{
    public const string Section = "Llm";

    /// <summary>The provider the pipeline uses when a job names none.</summary>
    public string? DefaultProvider { get; set; }

    public Dictionary<string, LlmProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Prices per model name (USD per million tokens); a model with no entry costs nothing (a local server).</summary>
    public Dictionary<string, LlmPriceOptions> Prices { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary><c>Llm:Providers:{name}</c>.</summary>
public sealed class LlmProviderOptions
{
    /// <summary><c>openai</c>: any OpenAI-compatible chat-completions API (OpenAI, DeepSeek, vLLM, Ollama's <c>/v1</c>).</summary>
    public string Kind { get; set; } = "openai";

    /// <summary>The API base, e.g. <c>https://api.openai.com/v1</c>; <c>/chat/completions</c> is appended.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>Sent as <c>Authorization: Bearer</c>; none for a local server that needs no key.</summary>
    public string? ApiKey { get; set; }

    public string? Model { get; set; }

    /// <summary>Cluster-wide requests per minute; 0 means no limit.</summary>
    public double RequestsPerMinute { get; set; }

    /// <summary>Cluster-wide tokens per minute (reserved as prompt + max output, trued up from usage); 0 means no limit.</summary>
    public double TokensPerMinute { get; set; }

    /// <summary>How many seconds of each per-minute rate may be spent at once (the buckets' size); 60 by default.</summary>
    public double BurstSeconds { get; set; } = 60;

    /// <summary>How much later than granted a call may reach the provider; that much of each burst is kept back.</summary>
    public double JitterToleranceMs { get; set; } = 200;

    /// <summary>Calls in flight at once across the cluster; 0 means no limit.</summary>
    public int MaxConcurrency { get; set; }

    /// <summary>The longest wait for the first token of an attempt, and then between two streamed chunks.</summary>
    public double TimeoutSeconds { get; set; } = 60;

    /// <summary>Attempts per call (429 rate_limit_exceeded, 408, 5xx, no response, timeout before the first token).</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The first backoff (doubled per retry, with jitter) when the provider gave no Retry-After.</summary>
    public int RetryBaseDelayMs { get; set; } = 500;

    /// <summary>False sends <c>stream: false</c> and reads one JSON body (for servers that cannot stream).</summary>
    public bool Stream { get; set; } = true;
}

/// <summary><c>Llm:Prices:{model}</c>, in USD per million tokens.</summary>
public sealed class LlmPriceOptions
{
    public decimal InputPerMillion { get; set; }

    /// <summary>Prompt tokens served from the provider's cache.</summary>
    public decimal CachedInputPerMillion { get; set; }

    /// <summary>Completion tokens, reasoning included.</summary>
    public decimal OutputPerMillion { get; set; }
}

/// <summary>Checks the <c>Llm</c> section at start; each failure names its key.</summary>
public sealed class LlmOptionsValidator : IValidateOptions<LlmOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrEmpty(options.DefaultProvider) && !options.Providers.ContainsKey(options.DefaultProvider))
        {
            failures.Add($"Llm:DefaultProvider '{options.DefaultProvider}' is not a configured Llm:Providers entry.");
        }
        foreach (var (provider, p) in options.Providers)
        {
            var key = $"Llm:Providers:{provider}";
            if (!string.Equals(p.Kind, "openai", StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{key}:Kind must be 'openai' (any OpenAI-compatible chat-completions API), not '{p.Kind}'.");
            }
            if (!Uri.TryCreate(p.BaseUrl, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
            {
                failures.Add($"{key}:BaseUrl must be an absolute http or https URL.");
            }
            if (string.IsNullOrWhiteSpace(p.Model))
            {
                failures.Add($"{key}:Model is required.");
            }
            if (!(double.IsFinite(p.RequestsPerMinute) && p.RequestsPerMinute >= 0))
            {
                failures.Add($"{key}:RequestsPerMinute must be 0 (no limit) or more.");
            }
            if (!(double.IsFinite(p.TokensPerMinute) && p.TokensPerMinute >= 0))
            {
                failures.Add($"{key}:TokensPerMinute must be 0 (no limit) or more.");
            }
            if (!(double.IsFinite(p.BurstSeconds) && p.BurstSeconds > 0 && p.BurstSeconds <= 60))
            {
                failures.Add($"{key}:BurstSeconds must be more than 0 and at most 60.");
            }
            if (!(double.IsFinite(p.JitterToleranceMs) && p.JitterToleranceMs >= 0 && p.JitterToleranceMs < p.BurstSeconds * 1000))
            {
                failures.Add($"{key}:JitterToleranceMs must be 0 or more and less than BurstSeconds.");
            }
            if (p.MaxConcurrency < 0)
            {
                failures.Add($"{key}:MaxConcurrency must be 0 (no limit) or more.");
            }
            if (!(double.IsFinite(p.TimeoutSeconds) && p.TimeoutSeconds > 0))
            {
                failures.Add($"{key}:TimeoutSeconds must be positive.");
            }
            if (p.MaxAttempts < 1)
            {
                failures.Add($"{key}:MaxAttempts must be 1 or more.");
            }
            if (p.RetryBaseDelayMs < 0)
            {
                failures.Add($"{key}:RetryBaseDelayMs must be 0 or more.");
            }
        }
        foreach (var (model, price) in options.Prices)
        {
            if (price.InputPerMillion < 0 || price.CachedInputPerMillion < 0 || price.OutputPerMillion < 0)
            {
                failures.Add($"Llm:Prices:{model}: InputPerMillion, CachedInputPerMillion and OutputPerMillion must be 0 or more.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
