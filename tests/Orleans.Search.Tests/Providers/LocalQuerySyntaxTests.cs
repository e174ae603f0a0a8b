using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers;

/// <summary>A folder of a few hundred generated text files (a term dictionary of thousands of words) plus a few known ones.</summary>
public sealed class LocalCorpusFixture : IAsyncLifetime
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("orleans-search-corpus-").FullName;

    public ProviderServices Services { get; private set; } = null!;

    public ISearchProvider Provider => Services.Provider("local");

    public async Task InitializeAsync()
    {
        var random = new Random(42);
        var vocabulary = Enumerable.Range(0, 4000).Select(_ => Word(random)).Distinct().ToArray();
        for (var i = 0; i < 300; i++)
        {
            var words = Enumerable.Range(0, 150).Select(_ => vocabulary[random.Next(vocabulary.Length)]);
            File.WriteAllText(Path.Combine(Folder, $"gen-{i:D3}.txt"), $"Generated {i}\n{string.Join(' ', words)}\n");
        }
        Write("quick-fox.txt", "Animals\nthe quick fox jumps over the lazy dog");
        Write("fox-quick.txt", "Reversed\nthe fox was never quick enough");
        Write("alpha-only.txt", "First\nalpha stands alone here");
        Write("beta-only.txt", "Second\nbeta stands alone here");
        Write("alpha-beta.txt", "Both\nalpha and beta side by side");
        Write("alphabet.txt", "Letters\nalphabet soup");
        Write("alphq.txt", "Typo\nalphq is a misspelling");

        Services = ProviderServices.Create(new Dictionary<string, string?>
        {
            ["Search:Providers:local:Kind"] = "local",
            ["Search:Providers:local:Path"] = Folder,
        });
        // Build the index before anything is measured.
        await Provider.SearchAsync(new ProviderQuery("warm", 1, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }

    public async Task<List<string>> FilesFoundAsync(string query)
    {
        var page = await Provider.SearchAsync(new ProviderQuery(query, 1, 50), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return page.Hits.Select(h => Path.GetFileName(new Uri(h.Url).LocalPath)).Order(StringComparer.Ordinal).ToList();
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(Folder, name), text);

    private static string Word(Random random)
    {
        var letters = new char[random.Next(3, 10)];
        for (var i = 0; i < letters.Length; i++)
        {
            letters[i] = (char)('a' + random.Next(26));
        }
        return new string(letters);
    }
}

/// <summary>
/// Query text is data for the local provider: no syntax in it reaches Lucene as regex, wildcard, prefix, fuzzy,
/// range or field syntax, so none can cost more than a bounded amount of memory and CPU.
/// </summary>
[Collection(AllocationSensitiveCollection.Name)]
public sealed class LocalQuerySyntaxTests(LocalCorpusFixture corpus) : IClassFixture<LocalCorpusFixture>
{
    /// <summary>
    /// Generous: a plain search here allocates well under a megabyte. The regex below, reaching Lucene, allocated
    /// about 100 MB per second without end.
    /// </summary>
    private const long MaxAllocatedBytes = 64L * 1024 * 1024;

    public static TheoryData<string, string> SyntaxBombs() => new()
    {
        { "the reported regex", "/.*a.{30}/" },
        { "regex with nested repeats", "/(a|aa)*(b{1,50}){1,50}[a-z]{1,100}/" },
        { "regex over all", "/.*/" },
        { "field regex", "title:/.*a.{40}/" },
        { "leading and trailing wildcard", "*a*" },
        { "many wildcards", "?a*b*c*d*e*f*g*h*i*" },
        { "1000-char wildcard string", string.Concat(Enumerable.Repeat("a*", 500)) },
        { "1000-char question marks", "*" + new string('?', 999) },
        { "200 prefix terms", string.Join(' ', Enumerable.Range(0, 200).Select(i => ((char)('a' + i % 26)).ToString() + "*")) },
        { "fuzzy", "a~2" },
        { "fuzzy on many words", string.Join(' ', Enumerable.Range(0, 150).Select(i => $"w{i}~2")) },
        { "sloppy phrase", "\"quick fox\"~100000" },
        { "deep parentheses", new string('(', 500) + "alpha" + new string(')', 500) },
        { "unbalanced parentheses", new string('(', 700) + "alpha" },
        { "range", "field:[a TO z]" },
        { "exclusive range on body", "body:{a TO zzzz}" },
        { "nested quotes", "\"a \"b \"c\" d\" e\"" },
        { "only quotes", new string('"', 999) },
        { "boost", "alpha^1000000000 beta^-1" },
        { "operators only", "AND OR NOT && || ! + - ~ * ? : \\ / ^" },
        { "escapes", "\\*\\?\\~\\:\\/" },
        { "unicode", "ｆｕｌｌwidth 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 عربى 中文检索 ✓ e\u0301 \u200b\u0000 \ud800 dangling" },
        { "1000 words", string.Join(' ', Enumerable.Range(0, 300).Select(i => $"w{i}")) },
        { "one 1000-char word", new string('a', 1000) },
        { "a million chars", string.Concat(Enumerable.Repeat("/.*a.{30}/ *a* a~2 ", 50_000)) },
    };

    [Theory]
    [MemberData(nameof(SyntaxBombs))]
    public async Task A_syntax_bomb_returns_promptly_with_sane_results_and_bounded_allocation(string name, string query)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        // The bound only catches runaway expansion: a query over this 300-file index takes milliseconds.
        var page = await corpus.Provider.SearchAsync(new ProviderQuery(query, 1, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.True(allocated < MaxAllocatedBytes, $"{name}: allocated {allocated / 1024 / 1024} MB");
        Assert.InRange(page.Hits.Count, 0, 10);
        var folder = new Uri(corpus.Folder + Path.DirectorySeparatorChar).AbsoluteUri;
        Assert.All(page.Hits, h =>
        {
            Assert.StartsWith(folder, h.Url, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(h.Title));
        });
    }

    [Fact]
    public async Task Plain_words_match_any_of_them_and_a_quoted_phrase_matches_its_words_in_order()
    {
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt", "beta-only.txt"], await corpus.FilesFoundAsync("alpha beta"));
        Assert.Equal(["fox-quick.txt", "quick-fox.txt"], await corpus.FilesFoundAsync("quick fox"));
        Assert.Equal(["quick-fox.txt"], await corpus.FilesFoundAsync("\"quick fox\""));
        // An unclosed quote runs to the end of the text.
        Assert.Equal(["quick-fox.txt"], await corpus.FilesFoundAsync("\"quick fox"));
    }

    [Fact]
    public async Task AND_OR_NOT_and_plus_minus_combine_words()
    {
        Assert.Equal(["alpha-beta.txt"], await corpus.FilesFoundAsync("alpha AND beta"));
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt", "beta-only.txt"], await corpus.FilesFoundAsync("alpha OR beta"));
        Assert.Equal(["alpha-only.txt"], await corpus.FilesFoundAsync("alpha NOT beta"));
        Assert.Equal(["alpha-only.txt"], await corpus.FilesFoundAsync("alpha -beta"));
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt"], await corpus.FilesFoundAsync("+alpha beta"));
        Assert.Equal(["fox-quick.txt"], await corpus.FilesFoundAsync("fox -\"quick fox\""));
        // Lowercase "and" is a word (a stop word), not an operator.
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt", "beta-only.txt"], await corpus.FilesFoundAsync("alpha and beta"));
        // Nothing but exclusions matches nothing.
        Assert.Empty(await corpus.FilesFoundAsync("-alpha"));
    }

    [Fact]
    public async Task Wildcard_fuzzy_regex_range_and_field_characters_are_plain_punctuation()
    {
        // No prefix expansion: "alpha*" is the word alpha, not alphabet.
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt"], await corpus.FilesFoundAsync("alpha*"));
        // No fuzzy matching: alpha~ does not find the misspelling alphq.
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt"], await corpus.FilesFoundAsync("alpha~"));
        // No field restriction: "title:alpha" also finds alpha in a body (and the word "title" matches nothing here).
        Assert.Equal(["alpha-beta.txt", "alpha-only.txt"], await corpus.FilesFoundAsync("title:alpha"));
        // No regex: the slashes are punctuation around the word.
        Assert.Equal(["alphabet.txt"], await corpus.FilesFoundAsync("/alphabet/"));
        Assert.Contains("alphabet.txt", await corpus.FilesFoundAsync("[alphabet TO soup]"));
    }

    [Fact]
    public async Task A_search_stops_when_its_token_is_cancelled()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => corpus.Provider.SearchAsync(new ProviderQuery("alpha", 1, 10), cancelled.Token).WaitAsync(TimeSpan.FromSeconds(15)));
    }
}
