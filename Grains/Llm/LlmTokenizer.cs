using Microsoft.ML.Tokenizers;

namespace Orleans.Search.Llm;

/// <summary>
/// Counts tokens with o200k_base (the gpt-4o/4.1 encoding), and a chat prompt the way OpenAI's chat format does:
/// 3 tokens per message plus its role and content, plus 3 that prime the reply. Other providers' tokenizers differ a
/// little; the limiter trues every reservation up from the provider's <c>usage</c>.
/// </summary>
public sealed class LlmTokenizer
{
    private static readonly Lazy<Tokenizer> O200kBase = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    public int CountText(string text) => string.IsNullOrEmpty(text) ? 0 : O200kBase.Value.CountTokens(text);

    public int CountPrompt(IReadOnlyList<LlmMessage> messages)
    {
        var tokens = 3;
        foreach (var message in messages)
        {
            tokens += 3 + CountText(message.Role) + CountText(message.Content);
        }
        return tokens;
    }
}
