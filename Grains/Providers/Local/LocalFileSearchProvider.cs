using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.En;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Store;
using Lucene.Net.Util;
using Microsoft.Extensions.Logging;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace Orleans.Search.Providers.Local;

/// <summary>
/// Full-text search over a folder of .txt, .md/.markdown and .html/.htm files, indexed in memory with Lucene.NET.
/// The index is built in the background (by <see cref="LocalIndexStartup"/> when the silo starts, else on the first
/// search), within <see cref="SearchProviderOptions.MaxFiles"/> files of at most
/// <see cref="SearchProviderOptions.MaxFileBytes"/> bytes each; a search waits for it only briefly.
/// Query text is data (see <see cref="LocalQuery"/>). Thread-safe: concurrent searches share one
/// <see cref="IndexSearcher"/>, which Lucene documents as thread-safe.
/// </summary>
public sealed partial class LocalFileSearchProvider : ISearchProvider, IDisposable
{
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;
    private const string PathField = "path";
    private const string TitleField = "title";
    private const string BodyField = "body";
    private const float TitleBoost = 2f;

    /// <summary>Truncated files named one by one in the log; the summary counts the rest.</summary>
    private const int MaxTruncationLogLines = 20;

    private static readonly TimeSpan ProgressLogInterval = TimeSpan.FromSeconds(5);

    private static readonly (string Field, float Boost)[] SearchFields = [(TitleField, TitleBoost), (BodyField, 1f)];

    private static readonly HashSet<string> Extensions =
        new(StringComparer.OrdinalIgnoreCase) { ".txt", ".md", ".markdown", ".html", ".htm" };

    private readonly string _folder;
    private readonly long _maxFileBytes;
    private readonly int _maxFiles;
    private readonly TimeSpan _indexWait;
    private readonly ILogger<LocalFileSearchProvider> _logger;
    private readonly Analyzer _analyzer = new EnglishAnalyzer(Version);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly System.Threading.Lock _buildGate = new();
    private Task<IndexState>? _build;
    private BuildProgress _progress = new();
    private volatile bool _disposed;

    /// <param name="options">
    /// <see cref="SearchProviderOptions.MaxFiles"/> and <see cref="SearchProviderOptions.MaxFileBytes"/> cap the index;
    /// a search waits for an unfinished index up to half of <see cref="SearchProviderOptions.TimeoutSeconds"/>, then
    /// fails transiently, so its attempt ends with a clear message rather than a timeout.
    /// </param>
    public LocalFileSearchProvider(string name, string folder, SearchProviderOptions options, ILogger<LocalFileSearchProvider> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        Name = name;
        _folder = folder;
        // Validated at start (positive), see SearchOptionsValidator.
        _maxFileBytes = options.MaxFileBytes;
        _maxFiles = options.MaxFiles;
        _indexWait = options.Timeout / 2;
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

        var index = await IndexForSearchAsync(cancellationToken).ConfigureAwait(false);
        // Off the caller's scheduler (a grain's): searching is CPU work, and the token stops it part way.
        return await Task.Run(() => Search(index, query, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Builds the index unless it is built or being built (a failed or cancelled build starts again). The build runs on
    /// its own thread and stops when <paramref name="cancellationToken"/> or this provider's disposal says so; the
    /// returned task ends with it.
    /// </summary>
    public Task BuildIndexAsync(CancellationToken cancellationToken) => StartBuild(cancellationToken);

    public void Dispose()
    {
        lock (_buildGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _lifetime.Cancel();
        if (_build is { IsCompleted: false } running)
        {
            // Still building: the build sees the cancellation and stops; free what it used once it has.
            running.ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result.Dispose();
                }
                _analyzer.Dispose();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }
        if (_build is { IsCompletedSuccessfully: true } built)
        {
            built.Result.Dispose();
        }
        _analyzer.Dispose();
    }

    private Task<IndexState> StartBuild(CancellationToken cancellationToken)
    {
        lock (_buildGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_build is { IsFaulted: false, IsCanceled: false } current)
            {
                return current;
            }

            var linked = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token, cancellationToken);
            _progress = new BuildProgress();
            var progress = _progress;
            // A thread of its own (file I/O can block for long), never the caller's scheduler (a grain's, say).
            var build = Task.Factory.StartNew(() => BuildIndex(progress, linked.Token), linked.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            build.ContinueWith(_ => linked.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _build = build;
            return build;
        }
    }

    /// <summary>The index, waiting for a build in progress no longer than <see cref="_indexWait"/>.</summary>
    private async Task<IndexState> IndexForSearchAsync(CancellationToken cancellationToken)
    {
        // A search never cancels the build: the build outlives this search's timeout and serves the next one.
        var build = StartBuild(CancellationToken.None);
        if (!build.IsCompleted)
        {
            try
            {
                await build.WaitAsync(_indexWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                var progress = _progress;
                throw new ProviderException(Name,
                    $"The index of local provider '{Name}' is still being built ({progress.Seen} files seen, {progress.Indexed} indexed so far); try again shortly.",
                    statusCode: 503, retryAfter: TimeSpan.FromSeconds(1));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw BuildCancelled();
            }
        }

        try
        {
            return await build.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw BuildCancelled();
        }
    }

    private ProviderException BuildCancelled() =>
        new(Name, $"The index build of local provider '{Name}' was cancelled (the service is stopping).", statusCode: 503);

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
        var built = LocalQuery.Build(query.Text, _analyzer, SearchFields);
        if (built.Query is null)
        {
            return new ProviderPage([]);
        }

        var top = TopScoreDocCollector.Create(wanted, docsScoredInOrder: false);
        index.Searcher.Search(built.Query, new CancellableCollector(top, cancellationToken));
        var scoreDocs = top.GetTopDocs().ScoreDocs;
        if (scoreDocs.Length <= start)
        {
            return new ProviderPage([]);
        }

        var hits = new List<ProviderHit>(scoreDocs.Length - (int)start);
        for (var i = (int)start; i < scoreDocs.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var doc = index.Searcher.Doc(scoreDocs[i].Doc);
            var path = doc.Get(PathField);
            var body = doc.Get(BodyField) ?? "";
            hits.Add(new ProviderHit(new Uri(path).AbsoluteUri, doc.Get(TitleField) ?? Path.GetFileName(path), Snippets.Around(body, built.Terms, _analyzer, BodyField, cancellationToken)));
        }

        return new ProviderPage(hits);
    }

    private IndexState BuildIndex(BuildProgress progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        LogIndexingStarted(Name, _folder, _maxFiles, _maxFileBytes);
        if (!System.IO.Directory.Exists(_folder))
        {
            throw new ProviderException(Name, $"Local corpus folder '{_folder}' does not exist", statusCode: 404);
        }

        // The first MaxFiles files in path order (stable doc ids, so equal scores rank the same on every start), kept in
        // a set that never grows past MaxFiles: a folder of millions costs the names of MaxFiles, not of all.
        var chosen = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in System.IO.Directory.EnumerateFiles(_folder, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!Extensions.Contains(Path.GetExtension(file)))
            {
                continue;
            }

            progress.Seen++;
            chosen.Add(file);
            if (chosen.Count > _maxFiles)
            {
                chosen.Remove(chosen.Max!);
                progress.Skipped++;
            }

            ReportProgressIfDue(progress, stopwatch, ref lastReport);
        }

        if (progress.Skipped > 0)
        {
            LogTooManyFiles(Name, progress.Seen, _folder, _maxFiles, progress.Skipped);
        }

        var directory = new RAMDirectory();
        try
        {
            var characters = 0L;
            using (var writer = new IndexWriter(directory, new IndexWriterConfig(Version, _analyzer) { OpenMode = OpenMode.CREATE }))
            {
                foreach (var file in chosen)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    string raw;
                    try
                    {
                        (raw, var truncated) = ReadCapped(file, _maxFileBytes, cancellationToken);
                        if (truncated && ++progress.Truncated <= MaxTruncationLogLines)
                        {
                            LogFileTruncated(Name, file, FileLength(file), _maxFileBytes);
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        progress.Skipped++;
                        LogFileSkipped(file, ex);
                        continue;
                    }

                    var (title, body) = DocumentText.Extract(file, raw);
                    writer.AddDocument(
                    [
                        new StringField(PathField, Path.GetFullPath(file), Field.Store.YES),
                        new TextField(TitleField, title, Field.Store.YES),
                        new TextField(BodyField, body, Field.Store.YES),
                    ]);
                    progress.Indexed++;
                    characters += body.Length;
                    ReportProgressIfDue(progress, stopwatch, ref lastReport);
                }

                // Commit even when empty: DirectoryReader.Open needs a commit point to exist.
                writer.Commit();
            }

            cancellationToken.ThrowIfCancellationRequested();
            var state = new IndexState(directory, DirectoryReader.Open(directory));
            LogIndexBuilt(Name, progress.Indexed, progress.Seen, _folder, progress.Skipped, progress.Truncated, characters, stopwatch.ElapsedMilliseconds);
            if (progress.Indexed == 0)
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

    private void ReportProgressIfDue(BuildProgress progress, Stopwatch stopwatch, ref TimeSpan lastReport)
    {
        if (stopwatch.Elapsed - lastReport >= ProgressLogInterval)
        {
            lastReport = stopwatch.Elapsed;
            LogIndexingProgress(Name, _folder, progress.Seen, progress.Indexed, progress.Skipped, stopwatch.ElapsedMilliseconds);
        }
    }

    /// <summary>
    /// The file's text, streamed: at most <paramref name="maxBytes"/> bytes are read, so a huge file never sits in
    /// memory whole. <c>Truncated</c> says the file had more.
    /// </summary>
    private static (string Text, bool Truncated) ReadCapped(string file, long maxBytes, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.SequentialScan);
        using var bounded = new BoundedReadStream(stream, maxBytes, throwWhenExceeded: false);
        using var reader = new StreamReader(bounded, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
        var text = new StringBuilder();
        var buffer = new char[16 * 1024];
        int read;
        while ((read = reader.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            text.Append(buffer, 0, read);
        }

        return (text.ToString(), bounded.Exceeded);
    }

    private static long? FileLength(string file)
    {
        try
        {
            return new FileInfo(file).Length;
        }
        catch (IOException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Local provider {Provider} started indexing {Folder} (MaxFiles {MaxFiles}, MaxFileBytes {MaxFileBytes})")]
    private partial void LogIndexingStarted(string provider, string folder, int maxFiles, long maxFileBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Local provider {Provider} indexing {Folder}: {Seen} files seen, {Indexed} indexed, {Skipped} skipped, {ElapsedMs} ms so far")]
    private partial void LogIndexingProgress(string provider, string folder, int seen, int indexed, int skipped, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Local provider {Provider} indexed {Indexed} of {Seen} files seen in {Folder} ({Skipped} skipped, {Truncated} truncated to MaxFileBytes; {Characters} chars) in {ElapsedMs} ms")]
    private partial void LogIndexBuilt(string provider, int indexed, int seen, string folder, int skipped, int truncated, long characters, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Local provider {Provider} found {Seen} files in {Folder}, more than MaxFiles ({MaxFiles}): indexing the first {MaxFiles} in path order, skipped {Skipped}")]
    private partial void LogTooManyFiles(string provider, int seen, string folder, int maxFiles, int skipped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Local provider {Provider}: {File} ({Bytes} bytes) is over MaxFileBytes ({MaxFileBytes}): indexed only its first {MaxFileBytes} bytes")]
    private partial void LogFileTruncated(string provider, string file, long? bytes, long maxFileBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Local provider {Provider} found no .txt/.md/.html files in {Folder}; every search will be empty")]
    private partial void LogEmptyCorpus(string provider, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped unreadable file {File}")]
    private partial void LogFileSkipped(string file, Exception exception);

    /// <summary>How far a build got; read by searches that wait for it (torn reads only make a message approximate).</summary>
    private sealed class BuildProgress
    {
        public int Seen;
        public int Indexed;
        public int Skipped;
        public int Truncated;
    }

    /// <summary>Stops a search part way when its token fires (the attempt timed out, or the query was cancelled).</summary>
    private sealed class CancellableCollector(ICollector inner, CancellationToken cancellationToken) : ICollector
    {
        private int _collected;

        public bool AcceptsDocsOutOfOrder => inner.AcceptsDocsOutOfOrder;

        public void SetScorer(Scorer scorer) => inner.SetScorer(scorer);

        public void SetNextReader(AtomicReaderContext context)
        {
            cancellationToken.ThrowIfCancellationRequested();
            inner.SetNextReader(context);
        }

        public void Collect(int doc)
        {
            if ((++_collected & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            inner.Collect(doc);
        }
    }

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
