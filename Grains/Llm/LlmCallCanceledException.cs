namespace Orleans.Search.Llm;

/// <summary>
/// An LLM call cancelled by its caller. It is an <see cref="OperationCanceledException"/>, so cancellation flows as
/// usual, and it carries the tokens the provider billed before the stream was aborted (as far as they are known:
/// prompt and the output received, counted with the tokenizer and flagged estimated).
/// </summary>
public sealed class LlmCallCanceledException(string provider, TokenUsage usage, CancellationToken cancellationToken)
    : OperationCanceledException($"The call to LLM provider '{provider}' was cancelled.", cancellationToken)
{
    public string Provider { get; } = provider;

    public TokenUsage Usage { get; } = usage;
}
