using System.Text;
using AngleSharp.Dom;

namespace Orleans.Search.Reading;

/// <summary>
/// Turns an HTML subtree into markdown (headings, paragraphs, lists, links, emphasis, code, quotes, tables as rows) or
/// plain text. A walk over AngleSharp's DOM; whitespace collapsed as a browser would, <c>pre</c> kept as written.
/// Nesting deeper than <see cref="MaxDepth"/> is flattened to its text, so a hostile page cannot exhaust the stack.
/// </summary>
public sealed class HtmlText
{
    private const int MaxDepth = 200;
    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase)
    {
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "head", "button", "select", "input", "textarea", "form",
    };
    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "figure", "figcaption", "address", "dl", "dt", "dd",
        "details", "summary", "center", "body", "html",
    };

    private readonly StringBuilder _out = new();
    private readonly Uri _baseUrl;
    private readonly bool _markdown;
    private bool _space;
    private int _listDepth;

    private HtmlText(Uri baseUrl, bool markdown)
    {
        _baseUrl = baseUrl;
        _markdown = markdown;
    }

    public static string Render(INode root, Uri baseUrl, bool markdown)
    {
        var writer = new HtmlText(baseUrl, markdown);
        writer.Walk(root, 0);
        return writer._out.ToString().Trim();
    }

    private void Walk(INode node, int depth)
    {
        foreach (var child in node.ChildNodes)
        {
            switch (child)
            {
                case IText text:
                    Text(text.Data);
                    break;
                case IElement element when depth >= MaxDepth:
                    Text(element.TextContent);
                    break;
                case IElement element:
                    Element(element, depth + 1);
                    break;
            }
        }
    }

    private void Element(IElement e, int depth)
    {
        var tag = e.LocalName;
        if (Skipped.Contains(tag) || e.HasAttribute("hidden") || string.Equals(e.GetAttribute("aria-hidden"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        switch (tag)
        {
            case "h1" or "h2" or "h3" or "h4" or "h5" or "h6":
                Block();
                if (_markdown)
                {
                    _out.Append('#', tag[1] - '0').Append(' ');
                }
                Walk(e, depth);
                Block();
                return;
            case "br":
                Line();
                return;
            case "hr":
                Block();
                _out.Append(_markdown ? "---" : "");
                Block();
                return;
            case "ul" or "ol":
                List(e, ordered: tag == "ol", depth);
                return;
            case "li":
                Line();
                _out.Append(_markdown ? "- " : "• ");
                Walk(e, depth);
                Line();
                return;
            case "pre":
                Block();
                _out.Append(_markdown ? "```\n" : "").Append(e.TextContent.TrimEnd('\n', '\r')).Append(_markdown ? "\n```" : "");
                Block();
                return;
            case "code" or "kbd" or "samp":
                Inline(_markdown ? "`" : "", e, depth, e.TextContent.Contains('`') ? "" : null);
                return;
            case "strong" or "b":
                Inline(_markdown ? "**" : "", e, depth);
                return;
            case "em" or "i":
                Inline(_markdown ? "_" : "", e, depth);
                return;
            case "a":
                Link(e, depth);
                return;
            case "img":
                return;
            case "blockquote":
                Quote(e, depth);
                return;
            case "tr":
                Line();
                var first = true;
                foreach (var cell in e.Children.Where(c => c.LocalName is "td" or "th"))
                {
                    if (!first)
                    {
                        _out.Append(" | ");
                    }
                    first = false;
                    _space = false;
                    Walk(cell, depth + 1);
                }
                Line();
                return;
            case "table":
                Block();
                Walk(e, depth);
                Block();
                return;
        }
        if (Blocks.Contains(tag))
        {
            Block();
            Walk(e, depth);
            Block();
            return;
        }
        Walk(e, depth);
    }

    private void List(IElement list, bool ordered, int depth)
    {
        if (_listDepth == 0)
        {
            Block();
        }
        _listDepth++;
        var n = 0;
        foreach (var item in list.Children)
        {
            if (item.LocalName != "li")
            {
                Walk(item, depth);
                continue;
            }
            n++;
            Line();
            _out.Append(' ', (_listDepth - 1) * 2).Append(ordered ? $"{n}. " : _markdown ? "- " : "• ");
            _space = false;
            Walk(item, depth + 1);
            Line();
        }
        _listDepth--;
        if (_listDepth == 0)
        {
            Block();
        }
    }

    private void Inline(string mark, IElement e, int depth, string? markOverride = null)
    {
        mark = markOverride ?? mark;
        var inner = Render(e, depth);
        if (inner.Length == 0)
        {
            return;
        }
        FlushSpace();
        _out.Append(mark).Append(inner).Append(mark);
    }

    private void Link(IElement e, int depth)
    {
        var inner = Render(e, depth);
        if (inner.Length == 0)
        {
            return;
        }
        FlushSpace();
        var href = e.GetAttribute("href");
        if (_markdown && href is not null && Uri.TryCreate(_baseUrl, href, out var target) && (target.Scheme == "http" || target.Scheme == "https"))
        {
            _out.Append('[').Append(inner.Replace("[", "\\[").Replace("]", "\\]")).Append("](").Append(target.AbsoluteUri.Replace(")", "%29")).Append(')');
        }
        else
        {
            _out.Append(inner);
        }
    }

    private void Quote(IElement e, int depth)
    {
        var inner = Render(e, depth);
        if (inner.Length == 0)
        {
            return;
        }
        Block();
        var prefix = _markdown ? "> " : "  ";
        _out.Append(string.Join('\n', inner.Split('\n').Select(l => l.Length == 0 ? prefix.TrimEnd() : prefix + l)));
        Block();
    }

    /// <summary>A child rendering, for inline marks that wrap it.</summary>
    private string Render(IElement e, int depth)
    {
        var writer = new HtmlText(_baseUrl, _markdown);
        writer.Walk(e, depth);
        return writer._out.ToString().Trim();
    }

    private void Text(string data)
    {
        foreach (var c in data)
        {
            if (char.IsWhiteSpace(c))
            {
                _space = true;
                continue;
            }
            FlushSpace();
            _out.Append(c);
        }
    }

    private void FlushSpace()
    {
        if (_space && _out.Length > 0 && _out[^1] is not ('\n' or ' '))
        {
            _out.Append(' ');
        }
        _space = false;
    }

    private void Line()
    {
        TrimTrailingSpaces();
        if (_out.Length > 0 && _out[^1] != '\n')
        {
            _out.Append('\n');
        }
        _space = false;
    }

    private void Block()
    {
        TrimTrailingSpaces();
        if (_out.Length == 0)
        {
            return;
        }
        if (_out[^1] != '\n')
        {
            _out.Append('\n');
        }
        if (_out.Length < 2 || _out[^2] != '\n')
        {
            _out.Append('\n');
        }
        _space = false;
    }

    private void TrimTrailingSpaces()
    {
        while (_out.Length > 0 && _out[^1] == ' ')
        {
            _out.Length--;
        }
    }
}
