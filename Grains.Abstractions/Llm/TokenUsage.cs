namespace Orleans.Search.Llm;

/// <summary>
/// Tokens of one LLM call, or the sum of several, as the provider's <c>usage</c> reported them
/// (<see cref="Estimated"/> when a provider reported none and a tokenizer counted them instead).
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.TokenUsage")]
public sealed record TokenUsage
{
    public static readonly TokenUsage None = new();

    /// <summary>Prompt tokens, including <see cref="CachedInput"/>.</summary>
    [Id(0)] public long Input { get; init; }

    /// <summary>Prompt tokens served from the provider's prompt cache (priced lower).</summary>
    [Id(1)] public long CachedInput { get; init; }

    /// <summary>Completion tokens, including <see cref="Reasoning"/>.</summary>
    [Id(2)] public long Output { get; init; }

    /// <summary>Completion tokens spent on hidden reasoning.</summary>
    [Id(3)] public long Reasoning { get; init; }

    /// <summary>True when any part of this was counted by a tokenizer rather than reported by the provider.</summary>
    [Id(4)] public bool Estimated { get; init; }

    public long Total => Input + Output;

    public static TokenUsage operator +(TokenUsage a, TokenUsage b) => new()
    {
        Input = a.Input + b.Input,
        CachedInput = a.CachedInput + b.CachedInput,
        Output = a.Output + b.Output,
        Reasoning = a.Reasoning + b.Reasoning,
        Estimated = a.Estimated || b.Estimated,
    };
}
