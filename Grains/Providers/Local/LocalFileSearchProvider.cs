using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.En;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.QueryParsers.Classic;
using Lucene.Net.Search;
using Lucene.Net.Store;
using Lucene.Net.Util;
using Microsoft.Extensions.Logging;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace Orleans.Search.Providers.Local;

/// <summary>
/// Full-text search over a folder of .txt, .md/.markdown and .html/.htm files, indexed in memory with Lucene.NET.
/// The index is built once, on the first search, so constructing the provider (at startup) costs nothing.
/// Thread-safe: concurrent searches share one <see cref="IndexSearcher"/>, which Lucene documents as thread-safe.
/// </summary>
public sealed partial class LocalFileSearchProvider : ISearchProvider, IDisposable
{
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;
    private const string PathField = "path";
    private const string TitleField = "title";
    private const string BodyField = "body";
    private const float TitleBoost = 2f;
    private const int SnippetLength = 200;
    private const int MaxTitleLength = 120;

    // Caps the plain-terms fallback query well below BooleanQuery's 1024-clause limit.
    private const int MaxFallbackTerms = 64;

    private static readonly string[] SearchFields = [TitleField, BodyField];
    private static readonly Dictionary<string, float> FieldBoosts = new() { [TitleField] = TitleBoost, [BodyField] = 1f };

    private static readonly HashSet<string> Extensions =
        new(StringComparer.OrdinalIgnoreCase) { ".txt", ".md", ".markdown", ".html", ".htm" };

    // Elements whose text is never shown to a reader.
    private static readonly HashSet<string> InvisibleTags =
        new(StringComparer.OrdinalIgnoreCase) { "script", "style", "noscript", "template", "head", "svg" };

    // Inline elements do not separate words; every other element does ("<p>a</p><p>b</p>" is "a b", not "ab").
    private static readonly HashSet<string> InlineTags = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark", "q", "s",
        "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    };

    private readonly string _folder;
    private readonly ILogger<LocalFileSearchProvider> _logger;
    private readonly Analyzer _analyzer = new EnglishAnalyzer(Version);
    private readonly SemaphoreSlim _buildLock = new(1, 1);
    private volatile IndexState? _index;
    private volatile bool _disposed;

    public LocalFileSearchProvider(string name, string folder, ILogger<LocalFileSearchProvider> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(logger);
        Name = name;
        _folder = folder;
        _logger = logger;
    }

    public string Name { get; }

    public async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (query.Page < 1 || query.PageSize < 1)
        {
            // Not transient (4xx), so resilience code will not retry a caller's bug.
            throw new ProviderException(Name, $"Page ({query.Page}) and page size ({query.PageSize}) must be at least 1", statusCode: 400);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (string.IsNullOrWhiteSpace(query.Text))
        {
            return new ProviderPage([]);
        }

        var index = _index ?? await BuildIndexOnceAsync(cancellationToken).ConfigureAwait(false);
        return Search(index, query, cancellationToken);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _index?.Dispose();
        _analyzer.Dispose();
        _buildLock.Dispose();
    }

    private ProviderPage Search(IndexState index, ProviderQuery query, CancellationToken cancellationToken)
    {
        // long arithmetic: Page * PageSize can overflow int for absurd pages.
        var start = (long)(query.Page - 1) * query.PageSize;
        var maxDoc = index.Searcher.IndexReader.MaxDoc;
        if (start >= maxDoc)
        {
            // Also keeps Lucene from allocating a priority queue of Page * PageSize entries.
            return new ProviderPage([]);
        }

        var wanted = (int)Math.Min(start + query.PageSize, maxDoc);
        var luceneQuery = ParseQuery(query.Text);
        cancellationToken.ThrowIfCancellationRequested();

        var top = index.Searcher.Search(luceneQuery, wanted);
        if (top.ScoreDocs.Length <= start)
        {
            return new ProviderPage([]);
        }

        var terms = QueryTerms(index.Searcher, luceneQuery, query.Text);
        var hits = new List<ProviderHit>(top.ScoreDocs.Length - (int)start);
        for (var i = (int)start; i < top.ScoreDocs.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var doc = index.Searcher.Doc(top.ScoreDocs[i].Doc);
            var path = doc.Get(PathField);
            var body = doc.Get(BodyField) ?? "";
            hits.Add(new ProviderHit(new Uri(path).AbsoluteUri, doc.Get(TitleField) ?? Path.GetFileName(path), Snippet(body, terms)));
        }

        return new ProviderPage(hits);
    }

    /// <summary>
    /// Parses with Lucene syntax (phrases, field:term, AND/OR, wildcards); on a syntax error falls back to the
    /// analyzed words as plain OR'ed terms, so a user's stray quote or bracket never becomes an error.
    /// </summary>
    private Query ParseQuery(string text)
    {
        // QueryParser keeps per-parse state, so it is not thread-safe: one per search.
        var parser = new MultiFieldQueryParser(Version, SearchFields, _analyzer, FieldBoosts);
        try
        {
            return parser.Parse(text);
        }
        catch (ParseException)
        {
            // Escape() does not neutralize AND/OR/NOT ("rate AND" still fails), so skip the parser entirely
            // and build the plain-terms query from the analyzer's own tokens.
            var query = new BooleanQuery();
            foreach (var term in Analyze(BodyField, text).Select(t => t.Term).Distinct().Take(MaxFallbackTerms))
            {
                query.Add(new TermQuery(new Term(TitleField, term)) { Boost = TitleBoost }, Occur.SHOULD);
                query.Add(new TermQuery(new Term(BodyField, term)), Occur.SHOULD);
            }

            return query;
        }
    }

    /// <summary>The analyzed (stemmed) terms a snippet should show.</summary>
    private HashSet<string> QueryTerms(IndexSearcher searcher, Query query, string text)
    {
        var terms = new HashSet<Term>();
        try
        {
            // Rewrite first so prefix/wildcard/fuzzy queries expand into the concrete terms that matched.
            searcher.Rewrite(query).ExtractTerms(terms);
        }
        catch (NotSupportedException)
        {
            // Some rewritten forms (constant-score filters over many terms) cannot list their terms.
        }

        var result = terms.Where(t => t.Field is BodyField or TitleField).Select(t => t.Text).ToHashSet(StringComparer.Ordinal);
        if (result.Count == 0)
        {
            result.UnionWith(Analyze(BodyField, text).Select(t => t.Term));
        }

        return result;
    }

    private List<(string Term, int Start, int End)> Analyze(string field, string text)
    {
        var tokens = new List<(string Term, int Start, int End)>();

        // The stream must be disposed before this thread asks the analyzer for another one (it is reused per thread).
        using var stream = _analyzer.GetTokenStream(field, text);
        var termAttribute = stream.AddAttribute<ICharTermAttribute>();
        var offsetAttribute = stream.AddAttribute<IOffsetAttribute>();
        stream.Reset();
        while (stream.IncrementToken())
        {
            tokens.Add((termAttribute.ToString(), offsetAttribute.StartOffset, offsetAttribute.EndOffset));
        }

        stream.End();
        return tokens;
    }

    /// <summary>
    /// About <see cref="SnippetLength"/> chars of the body around the densest cluster of query-term hits,
    /// cut at word boundaries, with "…" where text was cut.
    /// </summary>
    private string Snippet(string body, HashSet<string> terms)
    {
        if (body.Length <= SnippetLength)
        {
            return body;
        }

        var hits = terms.Count == 0 ? [] : Analyze(BodyField, body).Where(t => terms.Contains(t.Term)).ToList();
        int start, end;
        if (hits.Count == 0)
        {
            // Nothing to centre on (a match in the title only, say): the opening of the body.
            start = 0;
            end = WordEndAtOrBefore(body, SnippetLength, limit: 0);
        }
        else
        {
            // Sliding window over hit positions: the hit that starts the window holding the most hits wins (earliest on ties).
            int bestFirst = 0, bestLast = 0, last = 0;
            for (var first = 0; first < hits.Count; first++)
            {
                last = Math.Max(last, first);
                while (last + 1 < hits.Count && hits[last + 1].End - hits[first].Start <= SnippetLength)
                {
                    last++;
                }

                if (last - first > bestLast - bestFirst)
                {
                    (bestFirst, bestLast) = (first, last);
                }
            }

            // Centre the cluster in the window, then shift the window back inside the body.
            var clusterStart = hits[bestFirst].Start;
            var clusterEnd = hits[bestLast].End;
            start = Math.Max(0, clusterStart - (SnippetLength - (clusterEnd - clusterStart)) / 2);
            end = Math.Min(body.Length, start + SnippetLength);
            start = Math.Max(0, end - SnippetLength);

            // Move inward to whole words, but never past a hit.
            start = WordStartAtOrAfter(body, start, limit: clusterStart);
            end = WordEndAtOrBefore(body, end, limit: clusterEnd);
        }

        var snippet = new StringBuilder(end - start + 2);
        if (start > 0)
        {
            snippet.Append('…');
        }

        snippet.Append(body.AsSpan(start, end - start).Trim());
        if (end < body.Length)
        {
            snippet.Append('…');
        }

        return snippet.ToString();
    }

    private static int WordStartAtOrAfter(string text, int index, int limit)
    {
        if (index == 0 || char.IsWhiteSpace(text[index - 1]))
        {
            return index;
        }

        while (index < limit && !char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        return index;
    }

    private static int WordEndAtOrBefore(string text, int index, int limit)
    {
        if (index >= text.Length || char.IsWhiteSpace(text[index]))
        {
            return index;
        }

        var end = index;
        while (end > limit && !char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        // No space between the limit and the window's end (a long URL, say): cut mid-word rather than lose the text.
        return end > limit ? end : index;
    }

    private async Task<IndexState> BuildIndexOnceAsync(CancellationToken cancellationToken)
    {
        await _buildLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A failed or cancelled build leaves _index null, so the next search tries again
            // (unlike Lazy<T>, which would cache the exception forever).
            // Task.Run keeps file I/O and analysis off the caller's scheduler (an Orleans grain's, say).
            return _index ??= await Task.Run(() => BuildIndex(cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _buildLock.Release();
        }
    }

    private IndexState BuildIndex(CancellationToken cancellationToken)
    {
        if (!System.IO.Directory.Exists(_folder))
        {
            throw new ProviderException(Name, $"Local corpus folder '{_folder}' does not exist", statusCode: 404);
        }

        var stopwatch = Stopwatch.StartNew();
        var files = System.IO.Directory
            .EnumerateFiles(_folder, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(f => Extensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal) // stable doc ids, so equal scores rank the same on every start
            .ToList();

        var directory = new RAMDirectory();
        try
        {
            var indexed = 0;
            var characters = 0L;
            using (var writer = new IndexWriter(directory, new IndexWriterConfig(Version, _analyzer) { OpenMode = OpenMode.CREATE }))
            {
                foreach (var file in files)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    string raw;
                    try
                    {
                        raw = File.ReadAllText(file);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        LogFileSkipped(file, ex);
                        continue;
                    }

                    var (title, body) = Extract(file, raw);
                    writer.AddDocument(
                    [
                        new StringField(PathField, Path.GetFullPath(file), Field.Store.YES),
                        new TextField(TitleField, title, Field.Store.YES),
                        new TextField(BodyField, body, Field.Store.YES),
                    ]);
                    indexed++;
                    characters += body.Length;
                }

                // Commit even when empty: DirectoryReader.Open needs a commit point to exist.
                writer.Commit();
            }

            var state = new IndexState(directory, DirectoryReader.Open(directory));
            LogIndexBuilt(Name, _folder, indexed, characters, stopwatch.ElapsedMilliseconds);
            if (indexed == 0)
            {
                LogEmptyCorpus(Name, _folder);
            }

            return state;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    private static (string Title, string Body) Extract(string file, string raw)
    {
        var extension = Path.GetExtension(file).ToLowerInvariant();
        var (title, body) = extension switch
        {
            ".html" or ".htm" => ExtractHtml(raw),
            ".md" or ".markdown" => ExtractMarkdown(raw),
            _ => ExtractText(raw),
        };

        return (string.IsNullOrWhiteSpace(title) ? Path.GetFileName(file) : Shorten(title), CollapseWhitespace(body));
    }

    private static (string? Title, string Body) ExtractHtml(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var title = CollapseWhitespace(document.Title ?? "");
        if (title.Length == 0)
        {
            title = CollapseWhitespace(document.QuerySelector("h1")?.TextContent ?? "");
        }

        var text = new StringBuilder();
        AppendVisibleText((INode?)document.Body ?? document, text);
        return (title, text.ToString());
    }

    private static void AppendVisibleText(INode node, StringBuilder text)
    {
        foreach (var child in node.ChildNodes)
        {
            switch (child)
            {
                case IText textNode:
                    text.Append(textNode.Data);
                    break;
                case IElement element when InvisibleTags.Contains(element.LocalName):
                    break;
                case IElement element when InlineTags.Contains(element.LocalName):
                    AppendVisibleText(element, text);
                    break;
                case IElement element:
                    text.Append(' ');
                    AppendVisibleText(element, text);
                    text.Append(' ');
                    break;
            }
        }
    }

    private static (string? Title, string Body) ExtractMarkdown(string markdown)
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

            body.Append(inFence ? line : StripMarkdown(trimmed)).Append('\n');
        }

        return (title, body.ToString());
    }

    /// <summary>Removes the markup a reader would not see, so snippets read as prose.</summary>
    private static string StripMarkdown(string line)
    {
        line = HeadingOrQuoteOrBullet().Replace(line, "");
        line = ImageOrLink().Replace(line, "$1");
        return Emphasis().Replace(line, "");
    }

    private static (string? Title, string Body) ExtractText(string text)
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

    private static string Shorten(string title)
    {
        title = CollapseWhitespace(title);
        if (title.Length <= MaxTitleLength)
        {
            return title;
        }

        var cut = title.LastIndexOf(' ', MaxTitleLength);
        return string.Concat(title.AsSpan(0, cut > 0 ? cut : MaxTitleLength), "…");
    }

    private static string CollapseWhitespace(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^(#{1,6}\s+|>\s?|[-*+]\s+|\d+\.\s+)+")]
    private static partial Regex HeadingOrQuoteOrBullet();

    [GeneratedRegex(@"!?\[([^\]]*)\]\([^)]*\)")]
    private static partial Regex ImageOrLink();

    [GeneratedRegex(@"\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")]
    private static partial Regex Emphasis();

    [LoggerMessage(Level = LogLevel.Information, Message = "Local provider {Provider} indexed {Files} files ({Characters} chars) from {Folder} in {ElapsedMs} ms")]
    private partial void LogIndexBuilt(string provider, string folder, int files, long characters, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Local provider {Provider} found no .txt/.md/.html files in {Folder}; every search will be empty")]
    private partial void LogEmptyCorpus(string provider, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped unreadable file {File}")]
    private partial void LogFileSkipped(string file, Exception exception);

    /// <summary>The built index: the reader and searcher live as long as the provider.</summary>
    private sealed class IndexState(LuceneDirectory directory, DirectoryReader reader) : IDisposable
    {
        private readonly LuceneDirectory _directory = directory;
        private readonly DirectoryReader _reader = reader;

        public IndexSearcher Searcher { get; } = new(reader);

        public void Dispose()
        {
            _reader.Dispose();
            _directory.Dispose();
        }
    }
}
