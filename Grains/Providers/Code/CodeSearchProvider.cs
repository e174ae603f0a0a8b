using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Search.Providers.Code;

/// <summary>
/// A ripgrep-like search of a folder: every matching line is a hit with <see cref="ContextLines"/> lines around it,
/// <see cref="HitsPerPage"/> hits a page, in file order (a folder's files by name, then its subfolders by name), then line order. The query is a literal (case-insensitive unless it
/// has an upper-case letter), or a regex written <c>/pattern/</c> or <c>/pattern/i</c>.
/// </summary>
/// <remarks>
/// Regexes run on the non-backtracking engine (linear in the text); patterns it cannot run (backreferences,
/// lookarounds) fall back to the backtracking engine, and both run under a match timeout: a pattern that takes longer
/// fails the search with a 400, not a retry. <c>.gitignore</c> files are honoured at every level, <c>.git</c> is
/// skipped, as are files over <c>MaxFileBytes</c>, files with a NUL byte in their first 8 KB (binary, as ripgrep
/// judges it), and symbolic links. Files are searched concurrently in path-ordered batches, and the search stops at
/// the first batch that fills the page.
/// </remarks>
public sealed partial class CodeSearchProvider(string name, string folder, SearchProviderOptions options) : ISearchProvider
{
    public const int HitsPerPage = 20;

    private const int BinaryProbeBytes = 8000;
    private const int MaxLineChars = 300;
    private const int BatchFiles = 512;

    public string Name => name;

    public string Folder => folder;

    public int ContextLines => Math.Max(0, options.ContextLines);

    public async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        if (query.Page < 1)
        {
            throw new ProviderException(Name, $"Page ({query.Page}) must be at least 1", statusCode: 400);
        }
        var matcher = LineMatcher.Parse(Name, query.Text, TimeSpan.FromMilliseconds(Math.Max(1, options.RegexTimeoutMs)));
        if (!Directory.Exists(folder))
        {
            throw new ProviderException(Name, $"Code folder '{folder}' does not exist", statusCode: 404);
        }
        // Off the caller's scheduler: a grain's turn must not run a folder walk.
        return await Task.Run(() => Search(matcher, query.Page, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private ProviderPage Search(LineMatcher matcher, int page, CancellationToken cancellationToken)
    {
        var wanted = page * HitsPerPage;
        var hits = new List<ProviderHit>(wanted);
        var files = EnumerateFiles(cancellationToken).Take(Math.Max(1, options.MaxFiles));
        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount };
        foreach (var batch in files.Chunk(BatchFiles))
        {
            var found = new List<ProviderHit>?[batch.Length];
            try
            {
                Parallel.For(0, batch.Length, parallel, i => found[i] = SearchFile(batch[i], matcher, wanted));
            }
            catch (AggregateException ex) when (ex.InnerExceptions.OfType<RegexMatchTimeoutException>().FirstOrDefault() is { } timeout)
            {
                throw new ProviderException(Name,
                    $"{Name}: the pattern took longer than {options.RegexTimeoutMs} ms on one line (RegexTimeoutMs); simplify it", statusCode: 400, inner: timeout);
            }
            foreach (var fileHits in found)
            {
                if (fileHits is not null)
                {
                    hits.AddRange(fileHits);
                }
            }
            if (hits.Count >= wanted)
            {
                break;
            }
        }
        return new ProviderPage(hits.Skip((page - 1) * HitsPerPage).Take(HitsPerPage).ToList());
    }

    /// <summary>The files a search may read: those under the folder that <c>.gitignore</c> and the size and link rules leave in (binary ones are found only when read).</summary>
    public int CountSearchableFiles(CancellationToken cancellationToken) => EnumerateFiles(cancellationToken).Count();

    /// <summary>Files under the folder, a folder's files (by ordinal name) before its subfolders, with what <c>.gitignore</c> and the skip rules leave out already left out.</summary>
    internal IEnumerable<CodeFile> EnumerateFiles(CancellationToken cancellationToken)
    {
        var root = new DirectoryInfo(folder);
        var stack = new Stack<(DirectoryInfo Directory, string Relative, IReadOnlyList<(string Base, GitIgnoreRules Rules)> Ignores)>();
        stack.Push((root, "", []));
        while (stack.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (directory, relative, inherited) = stack.Pop();
            var ignores = inherited;
            var gitignore = Path.Combine(directory.FullName, ".gitignore");
            if (File.Exists(gitignore))
            {
                var rules = GitIgnoreRules.Parse(ReadLines(gitignore));
                if (!rules.IsEmpty)
                {
                    ignores = [.. inherited, (relative, rules)];
                }
            }
            FileSystemInfo[] entries;
            try
            {
                entries = directory.GetFileSystemInfos();
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                continue;
            }
            Array.Sort(entries, (a, b) => string.CompareOrdinal(a.Name, b.Name));
            var subdirectories = new List<(DirectoryInfo, string, IReadOnlyList<(string, GitIgnoreRules)>)>();
            foreach (var entry in entries)
            {
                if (entry.Attributes.HasFlag(FileAttributes.ReparsePoint))
                {
                    continue;
                }
                var path = relative.Length == 0 ? entry.Name : relative + "/" + entry.Name;
                var isDirectory = entry is DirectoryInfo;
                if ((isDirectory && entry.Name == ".git") || IsIgnored(ignores, path, isDirectory))
                {
                    continue;
                }
                if (entry is DirectoryInfo subdirectory)
                {
                    subdirectories.Add((subdirectory, path, ignores));
                }
                else if (entry is FileInfo file && file.Length > 0 && file.Length <= options.MaxFileBytes)
                {
                    yield return new CodeFile(file.FullName, path);
                }
            }
            // Reverse onto the stack so folders come out in name order, after this folder's files.
            for (var i = subdirectories.Count - 1; i >= 0; i--)
            {
                stack.Push(subdirectories[i]);
            }
        }
    }

    private static bool IsIgnored(IReadOnlyList<(string Base, GitIgnoreRules Rules)> ignores, string path, bool isDirectory)
    {
        // Deeper .gitignore files are more specific: the deepest one with an opinion decides.
        for (var i = ignores.Count - 1; i >= 0; i--)
        {
            var (at, rules) = ignores[i];
            var relative = at.Length == 0 ? path : path[(at.Length + 1)..];
            if (rules.Match(relative, isDirectory) is { } ignored)
            {
                return ignored;
            }
        }
        return false;
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return [];
        }
    }

    private List<ProviderHit>? SearchFile(CodeFile file, LineMatcher matcher, int wanted)
    {
        // Most files do not match: read and test them in pooled buffers, and make strings only for a file that does.
        byte[]? bytes = null;
        char[]? chars = null;
        try
        {
            int length;
            using (var handle = File.OpenHandle(file.FullPath))
            {
                var size = RandomAccess.GetLength(handle);
                if (size == 0 || size > options.MaxFileBytes)
                {
                    return null;
                }
                bytes = ArrayPool<byte>.Shared.Rent((int)size);
                length = 0;
                int read;
                while (length < size && (read = RandomAccess.Read(handle, bytes.AsSpan(length, (int)size - length), length)) > 0)
                {
                    length += read;
                }
            }
            var content = bytes.AsSpan(0, length);
            if (content[..Math.Min(length, BinaryProbeBytes)].Contains((byte)0))
            {
                return null;
            }
            if (content.StartsWith(Encoding.UTF8.Preamble))
            {
                content = content[Encoding.UTF8.Preamble.Length..];
            }
            chars = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(content.Length));
            var text = chars.AsSpan(0, Encoding.UTF8.GetChars(content, chars));
            return matcher.MayMatch(text) ? SearchLines(file, text.ToString(), matcher, wanted) : null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return null;
        }
        finally
        {
            if (bytes is not null)
            {
                ArrayPool<byte>.Shared.Return(bytes);
            }
            if (chars is not null)
            {
                ArrayPool<char>.Shared.Return(chars);
            }
        }
    }

    private List<ProviderHit>? SearchLines(CodeFile file, string text, LineMatcher matcher, int wanted)
    {
        var lines = text.Split('\n');
        if (lines.Length > 1 && lines[^1].Length == 0)
        {
            // A final newline ends the last line; it does not start another.
            Array.Resize(ref lines, lines.Length - 1);
        }
        List<ProviderHit>? hits = null;
        for (var i = 0; i < lines.Length && (hits?.Count ?? 0) < wanted; i++)
        {
            if (matcher.IsMatch(lines[i].AsSpan().TrimEnd('\r')))
            {
                (hits ??= []).Add(Hit(file, lines, i));
            }
        }
        return hits;
    }

    private ProviderHit Hit(CodeFile file, string[] lines, int index)
    {
        var first = Math.Max(0, index - ContextLines);
        var last = Math.Min(lines.Length - 1, index + ContextLines);
        var snippet = new StringBuilder();
        for (var i = first; i <= last; i++)
        {
            if (snippet.Length > 0)
            {
                snippet.Append('\n');
            }
            // ripgrep's marks: "12:" on the matching line, "11-" on context lines.
            snippet.Append(i + 1).Append(i == index ? ':' : '-').Append(ProviderText.Truncate(lines[i].TrimEnd('\r'), MaxLineChars));
        }
        var line = index + 1;
        var url = new Uri(file.FullPath).AbsoluteUri + "#L" + line;
        return new ProviderHit(url, ProviderText.Truncate($"{file.RelativePath}:{line}", ProviderText.MaxTitleChars),
            ProviderText.Truncate(snippet.ToString(), ProviderText.MaxSnippetChars), file.RelativePath, line);
    }

    internal sealed record CodeFile(string FullPath, string RelativePath);

    /// <summary>A literal (smart case) or a bounded regex, matched one line at a time.</summary>
    private sealed partial class LineMatcher
    {
        private readonly string? _literal;
        private readonly StringComparison _comparison;
        private readonly Regex? _regex;
        private readonly Regex? _wholeFile;

        private LineMatcher(string? literal, StringComparison comparison, Regex? regex, Regex? wholeFile = null)
        {
            _literal = literal;
            _comparison = comparison;
            _regex = regex;
            _wholeFile = wholeFile;
        }

        public static LineMatcher Parse(string provider, string query, TimeSpan timeout)
        {
            if (string.IsNullOrEmpty(query))
            {
                throw new ProviderException(provider, "The query is empty", statusCode: 400);
            }
            if (query.Length >= 3 && query[0] == '/' && (query.EndsWith('/') || query.EndsWith("/i", StringComparison.Ordinal)))
            {
                var ignoreCase = query.EndsWith("/i", StringComparison.Ordinal) && query.Length > 3;
                var pattern = query[1..query.LastIndexOf('/')];
                var flags = RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
                try
                {
                    var regex = Build(pattern, flags, timeout);
                    return new LineMatcher(null, default, regex, WholeFilePrefilter(regex, pattern, flags, timeout));
                }
                catch (ArgumentException ex)
                {
                    throw new ProviderException(provider, $"The pattern is not a valid regex: {ex.Message}", statusCode: 400, inner: ex);
                }
            }
            var comparison = query.Any(char.IsUpper) ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
            return new LineMatcher(query, comparison, null);
        }

        private static Regex Build(string pattern, RegexOptions flags, TimeSpan timeout)
        {
            try
            {
                return new Regex(pattern, flags | RegexOptions.NonBacktracking, timeout);
            }
            catch (NotSupportedException)
            {
                // Backreferences and lookarounds need backtracking; the timeout bounds them.
                return new Regex(pattern, flags, timeout);
            }
        }

        /// <summary>
        /// The same pattern run once over a whole file, with <c>^</c> and <c>$</c> at line ends: a file where it finds
        /// nothing has no matching line. Only for the non-backtracking engine (no lookarounds, which could see across
        /// lines) and without the whole-input anchors <c>\A</c>, <c>\z</c>, <c>\Z</c>, <c>\G</c>.
        /// </summary>
        private static Regex? WholeFilePrefilter(Regex regex, string pattern, RegexOptions flags, TimeSpan timeout) =>
            (regex.Options & RegexOptions.NonBacktracking) != 0 && !WholeInputAnchor().IsMatch(pattern)
                ? new Regex(pattern, flags | RegexOptions.NonBacktracking | RegexOptions.Multiline, timeout)
                : null;

        [GeneratedRegex(@"\\[AzZG]")]
        private static partial Regex WholeInputAnchor();

        /// <summary>A cheap whole-file test that never says no to a file with a matching line.</summary>
        public bool MayMatch(ReadOnlySpan<char> text) =>
            _literal is not null ? text.Contains(_literal, _comparison)
            // "$" does not match before "\r\n", so files with carriage returns go line by line.
            : _wholeFile is null || text.Contains('\r') || _wholeFile.IsMatch(text);

        public bool IsMatch(ReadOnlySpan<char> line) => _literal is not null ? line.Contains(_literal, _comparison) : _regex!.IsMatch(line);
    }
}

/// <summary>Creates <c>code</c> providers over a folder (<c>Path</c>, resolved like <c>local</c>'s).</summary>
public sealed class CodeProviderFactory : ISearchProviderFactory
{
    public string Kind => "code";

    public ISearchProvider Create(string name, SearchProviderOptions options) =>
        new CodeSearchProvider(name, Local.LocalProviderFactory.ResolveFolder(
            options.Path ?? throw new ProviderException(name, $"Provider '{name}' (code) needs a Path (Search:Providers:{name}:Path).", statusCode: 400)), options);
}
