using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Search.Providers.Local;

/// <summary>The title (the first "# " heading outside code) and the prose of a Markdown file.</summary>
public static partial class MarkdownText
{
    public static (string? Title, string Body) Extract(string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        string? title = null;
        var body = new StringBuilder(markdown.Length);
        var inFence = false;
        foreach (var line in lines)
        {
            var trimmed = line.TrimStart();
            if (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal))
            {
                // Code stays searchable, but a "# comment" inside a fence is not a heading.
                inFence = !inFence;
                continue;
            }

            if (!inFence && title is null && trimmed.StartsWith("# ", StringComparison.Ordinal))
            {
                // The title is indexed in its own field; leaving it out of the body keeps it out of snippets.
                title = trimmed[2..].Trim().TrimEnd('#').Trim();
                continue;
            }

            body.Append(inFence ? line : Strip(trimmed)).Append('\n');
        }

        return (title, body.ToString());
    }

    /// <summary>Removes the markup a reader would not see, so snippets read as prose.</summary>
    public static string Strip(string line)
    {
        line = HeadingOrQuoteOrBullet().Replace(line, "");
        line = ImageOrLink().Replace(line, "$1");
        return Emphasis().Replace(line, "");
    }

    [GeneratedRegex(@"^(#{1,6}\s+|>\s?|[-*+]\s+|\d+\.\s+)+")]
    private static partial Regex HeadingOrQuoteOrBullet();

    // Bounded, so a line of unclosed brackets costs each bracket a short look ahead, not the rest of the line.
    [GeneratedRegex(@"!?\[([^\]]{0,256})\]\([^)]{0,1024}\)")]
    private static partial Regex ImageOrLink();

    [GeneratedRegex(@"\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")]
    private static partial Regex Emphasis();
}
