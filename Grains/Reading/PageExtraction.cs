using AngleSharp.Html.Parser;

namespace Orleans.Search.Reading;

/// <summary>The main content of an HTML page: SmartReader (Mozilla Readability) finds it, <see cref="HtmlText"/> writes it.</summary>
public static class PageExtraction
{
    /// <summary>Readability gives up past this many elements (a bound on its cost); the page is then walked whole.</summary>
    private const int MaxElements = 50_000;
    private static readonly string[] Chrome = ["nav", "header", "footer", "aside", "menu", "[role=navigation]", "[role=banner]", "[role=contentinfo]"];

    public static (string? Title, string Text) FromHtml(string html, Uri url, bool markdown)
    {
        var parser = new HtmlParser();
        var document = parser.ParseDocument(html);
        var title = string.IsNullOrWhiteSpace(document.Title) ? null : document.Title.Trim();
        try
        {
            var reader = new SmartReader.Reader(url.AbsoluteUri, document) { MaxElemsToParse = MaxElements };
            var article = reader.GetArticle();
            if (article.IsReadable && !string.IsNullOrWhiteSpace(article.Content))
            {
                var content = parser.ParseDocument("<!doctype html><html><body>" + article.Content + "</body></html>");
                var text = HtmlText.Render(content.Body!, url, markdown);
                if (text.Length > 0)
                {
                    return (string.IsNullOrWhiteSpace(article.Title) ? title : article.Title.Trim(), text);
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Readability could not make sense of the page: the fallback below reads all of it but the chrome.
        }
        var whole = parser.ParseDocument(html);
        foreach (var element in whole.QuerySelectorAll(string.Join(',', Chrome)).ToList())
        {
            element.Remove();
        }
        return (title, whole.Body is null ? "" : HtmlText.Render(whole.Body, url, markdown));
    }
}
