using System.Text.RegularExpressions;

namespace Orleans.Search.Providers.Local;

/// <summary>What the local index stores of a file: a title and a body, from HTML, Markdown or plain text.</summary>
public static partial class DocumentText
{
    /// <summary>Titles longer than this are cut at a word, with "…".</summary>
    public const int MaxTitleLength = 120;

    /// <summary>A file's title (else its name) and its text with whitespace collapsed, by its extension.</summary>
    public static (string Title, string Body) Extract(string file, string raw)
    {
        var extension = Path.GetExtension(file).ToLowerInvariant();
        var (title, body) = extension switch
        {
            ".html" or ".htm" => HtmlText.Extract(raw),
            ".md" or ".markdown" => MarkdownText.Extract(raw),
            _ => ExtractText(raw),
        };

        return (string.IsNullOrWhiteSpace(title) ? Path.GetFileName(file) : Shorten(title), CollapseWhitespace(body));
    }

    /// <summary>Plain text: a short first line is the title.</summary>
    public static (string? Title, string Body) ExtractText(string text)
    {
        var firstLine = text.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
        if (firstLine is null || firstLine.Length > MaxTitleLength)
        {
            // A long first line is a paragraph, not a heading: keep it in the body.
            return (firstLine, text);
        }

        // A heading-like first line is the title; drop it from the body so snippets do not repeat it.
        var at = text.IndexOf(firstLine, StringComparison.Ordinal);
        return (firstLine, text[(at + firstLine.Length)..]);
    }

    public static string Shorten(string title)
    {
        title = CollapseWhitespace(title);
        if (title.Length <= MaxTitleLength)
        {
            return title;
        }

        var cut = title.LastIndexOf(' ', MaxTitleLength);
        return string.Concat(title.AsSpan(0, cut > 0 ? cut : MaxTitleLength), "…");
    }

    public static string CollapseWhitespace(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
