using System.Net;
using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace Orleans.Search.Providers.Local;

/// <summary>The title and visible text of an HTML file, at a cost linear in its size whatever its markup.</summary>
public static class HtmlText
{
    /// <summary>Browsers stop nesting at about this depth too (Blink: 512).</summary>
    public const int MaxDepth = 512;

    // Elements whose text is never shown to a reader.
    private static readonly HashSet<string> InvisibleTags =
        new(StringComparer.OrdinalIgnoreCase) { "script", "style", "noscript", "template", "head", "svg" };

    // Elements that never have content or an end tag.
    private static readonly HashSet<string> VoidTags = new(StringComparer.Ordinal)
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    };

    // Inline elements do not separate words; every other element does ("<p>a</p><p>b</p>" is "a b", not "ab").
    private static readonly HashSet<string> InlineTags = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark", "q", "s",
        "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    };

    /// <summary>
    /// Visible text through a real HTML parser, unless the markup nests deeper than <see cref="MaxDepth"/>: the
    /// HTML5 tree builder is quadratic in nesting depth (a megabyte of nested divs takes it minutes), so such a file
    /// gets the linear, flat extraction instead.
    /// </summary>
    public static (string? Title, string Body) Extract(string html) =>
        NestsDeeperThan(html, MaxDepth) ? ExtractFlat(html) : ExtractTree(html);

    public static (string? Title, string Body) ExtractTree(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var title = DocumentText.CollapseWhitespace(document.Title ?? "");
        if (title.Length == 0)
        {
            title = DocumentText.CollapseWhitespace(document.QuerySelector("h1")?.TextContent ?? "");
        }

        var text = new StringBuilder();
        AppendVisibleText((INode?)document.Body ?? document, text);
        return (title, text.ToString());
    }

    /// <summary>Depth-first with a stack of its own, so no document's depth can exhaust the thread's stack.</summary>
    private static void AppendVisibleText(INode root, StringBuilder text)
    {
        // A string entry is a separator to write after an element's children.
        var pending = new Stack<object>();
        PushChildren(root);
        while (pending.TryPop(out var next))
        {
            switch (next)
            {
                case string separator:
                    text.Append(separator);
                    break;
                case IText textNode:
                    text.Append(textNode.Data);
                    break;
                case IElement element when InvisibleTags.Contains(element.LocalName):
                    break;
                case IElement element when InlineTags.Contains(element.LocalName):
                    PushChildren(element);
                    break;
                case IElement element:
                    text.Append(' ');
                    pending.Push(" ");
                    PushChildren(element);
                    break;
            }
        }

        void PushChildren(INode node)
        {
            for (var i = node.ChildNodes.Length - 1; i >= 0; i--)
            {
                pending.Push(node.ChildNodes[i]);
            }
        }
    }

    /// <summary>
    /// Whether elements nest deeper than <paramref name="maxDepth"/>, judged in one linear pass over the tags: an end tag
    /// closes the innermost open element of its name (a stray one closes nothing, as in the parser); void elements never
    /// open. Unclosed paragraphs and tags in comments or scripts only make the estimate deeper, never shallower.
    /// </summary>
    public static bool NestsDeeperThan(string html, int maxDepth)
    {
        var open = new List<string>();
        for (var lt = html.IndexOf('<'); lt >= 0 && lt + 1 < html.Length; lt = html.IndexOf('<', lt + 1))
        {
            var closing = html[lt + 1] == '/';
            var name = TagName(html, closing ? lt + 2 : lt + 1);
            if (name.Length == 0)
            {
                continue;
            }
            if (closing)
            {
                var at = open.LastIndexOf(name);
                if (at >= 0)
                {
                    open.RemoveRange(at, open.Count - at);
                }
            }
            else if (!VoidTags.Contains(name))
            {
                open.Add(name);
                if (open.Count > maxDepth)
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// Visible text without building a tree, in one pass: tags become separators (inline ones nothing), the contents
    /// of script-like elements and comments are dropped, entities are decoded, and the first &lt;title&gt; is the title.
    /// </summary>
    public static (string? Title, string Body) ExtractFlat(string html)
    {
        string? title = null;
        var text = new StringBuilder(html.Length / 2);
        var i = 0;
        while (i < html.Length)
        {
            var lt = html.IndexOf('<', i);
            if (lt < 0)
            {
                text.Append(html, i, html.Length - i);
                break;
            }
            text.Append(html, i, lt - i);
            if (string.CompareOrdinal(html, lt, "<!--", 0, 4) == 0)
            {
                var commentEnd = html.IndexOf("-->", lt + 4, StringComparison.Ordinal);
                i = commentEnd < 0 ? html.Length : commentEnd + 3;
                continue;
            }
            var gt = html.IndexOf('>', lt + 1);
            if (gt < 0)
            {
                break; // an unterminated tag: the rest is markup
            }
            var closing = lt + 1 < html.Length && html[lt + 1] == '/';
            var name = TagName(html, closing ? lt + 2 : lt + 1);
            i = gt + 1;
            if (!closing && (name == "title" || (InvisibleTags.Contains(name) && name != "head")))
            {
                // Skip to the matching end tag (each skip starts past the last, so the pass stays linear).
                var endTag = html.IndexOf("</" + name, i, StringComparison.OrdinalIgnoreCase);
                var contentEnd = endTag < 0 ? html.Length : endTag;
                if (name == "title")
                {
                    title ??= DocumentText.CollapseWhitespace(WebUtility.HtmlDecode(html[i..contentEnd]));
                }
                var endGt = endTag < 0 ? -1 : html.IndexOf('>', endTag);
                i = endGt < 0 ? html.Length : endGt + 1;
                continue;
            }
            if (!InlineTags.Contains(name))
            {
                text.Append(' ');
            }
        }

        return (title, WebUtility.HtmlDecode(text.ToString()));
    }

    /// <summary>The lower-case tag name starting at <paramref name="at"/> (empty for "&lt;!DOCTYPE", "&lt; 3" and the like).</summary>
    private static string TagName(string html, int at)
    {
        var end = at;
        while (end < html.Length && end - at < 32 && char.IsAsciiLetterOrDigit(html[end]))
        {
            end++;
        }
        return end == at || !char.IsAsciiLetter(html[at]) ? "" : html[at..end].ToLowerInvariant();
    }
}
