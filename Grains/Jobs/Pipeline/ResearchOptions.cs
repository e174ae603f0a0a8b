namespace Orleans.Search.Jobs.Pipeline;

/// <summary>How the research pipeline's stages call the LLM and what they give it (<c>Research</c> section).</summary>
public sealed class ResearchOptions
{
    public const string Section = "Research";

    /// <summary><c>max_tokens</c> of the expansion call (budgets reserve the prompt plus this).</summary>
    public int ExpandMaxOutputTokens { get; set; } = 400;

    /// <summary><c>max_tokens</c> of a deep round's follow-up call.</summary>
    public int FollowupMaxOutputTokens { get; set; } = 400;

    /// <summary><c>max_tokens</c> of the answer.</summary>
    public int AnswerMaxOutputTokens { get; set; } = 1500;

    /// <summary>How much of each read page's text the job keeps and gives the LLM.</summary>
    public int ExcerptChars { get; set; } = 2000;

    /// <summary>When nothing was read: how many fused results' snippets the answer is written from.</summary>
    public int SnippetSources { get; set; } = 10;

    /// <summary>Answer text is published in pieces of at least this many characters (or after <see cref="AnswerDeltaMilliseconds"/>).</summary>
    public int AnswerDeltaChars { get; set; } = 200;

    public int AnswerDeltaMilliseconds { get; set; } = 100;
}
