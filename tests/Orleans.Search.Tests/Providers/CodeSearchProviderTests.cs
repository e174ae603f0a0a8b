using System.Diagnostics;
using System.Globalization;
using Orleans.Search.Providers;
using Orleans.Search.Providers.Code;

namespace Orleans.Search.Tests.Providers;

/// <summary>The <c>code</c> provider over real folders on disk.</summary>
public sealed class CodeSearchProviderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("code-search-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private async Task<ProviderPage> SearchAsync(string query, int page = 1, int? contextLines = null, int regexTimeoutMs = 1000, long? maxFileBytes = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Search:Providers:code:Kind"] = "code",
            ["Search:Providers:code:Path"] = _root,
            ["Search:Providers:code:RegexTimeoutMs"] = regexTimeoutMs.ToString(CultureInfo.InvariantCulture),
        };
        if (contextLines is { } lines)
        {
            settings["Search:Providers:code:ContextLines"] = lines.ToString(CultureInfo.InvariantCulture);
        }
        if (maxFileBytes is { } max)
        {
            settings["Search:Providers:code:MaxFileBytes"] = max.ToString(CultureInfo.InvariantCulture);
        }
        await using var services = ProviderServices.Create(settings);
        return await services.Provider("code").SearchAsync(new ProviderQuery(query, page, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_hit_carries_path_line_and_the_snippet_with_its_context()
    {
        Write("src/app.cs", "line one\nline two\nvar needle = 1;\nline four\nline five\nline six\n");

        var hit = Assert.Single((await SearchAsync("needle")).Hits);

        Assert.Equal(("src/app.cs", 3), (hit.Path, hit.Line));
        Assert.Equal("src/app.cs:3", hit.Title);
        Assert.Equal("1-line one\n2-line two\n3:var needle = 1;\n4-line four\n5-line five", hit.Snippet);
        Assert.Equal(new Uri(Path.Combine(_root, "src", "app.cs")).AbsoluteUri + "#L3", hit.Url);
    }

    [Fact]
    public async Task Context_lines_stop_at_the_file_s_edges()
    {
        Write("edge.txt", "needle first\nsecond\nthird\nfourth\nneedle last\n");

        var hits = (await SearchAsync("needle")).Hits;

        Assert.Equal(["1:needle first\n2-second\n3-third", "3-third\n4-fourth\n5:needle last"], hits.Select(h => h.Snippet));
        Assert.Equal(["1:needle first"], (await SearchAsync("needle", contextLines: 0)).Hits.Take(1).Select(h => h.Snippet));
    }

    [Fact]
    public async Task A_file_without_a_final_newline_and_with_crlf_lines_reads_the_same()
    {
        Write("crlf.txt", "a\r\nb\r\nneedle\r\nc");
        var hit = Assert.Single((await SearchAsync("needle")).Hits);
        Assert.Equal("1-a\n2-b\n3:needle\n4-c", hit.Snippet);
    }

    [Fact]
    public async Task Gitignore_rules_are_honoured_at_every_level()
    {
        Write(".gitignore", "# build output\nbuild/\n*.log\n!keep.log\n/rooted.txt\ndocs/**/draft-*.md\n");
        Write("build/out.cs", "needle");
        Write("app.log", "needle");
        Write("keep.log", "needle");
        Write("rooted.txt", "needle");
        Write("nested/rooted.txt", "needle");
        Write("docs/a/b/draft-1.md", "needle");
        Write("docs/a/final.md", "needle");
        Write("sub/.gitignore", "local.cs\n");
        Write("sub/local.cs", "needle");
        Write("sub/shared.cs", "needle");
        Write("local.cs", "needle");
        Write(".git/config", "needle");

        var paths = (await SearchAsync("needle")).Hits.Select(h => h.Path).ToList();

        // A folder's files by name, then its subfolders by name.
        Assert.Equal(["keep.log", "local.cs", "docs/a/final.md", "nested/rooted.txt", "sub/shared.cs"], paths);
    }

    [Fact]
    public async Task Binary_and_huge_files_are_skipped()
    {
        Write("text.txt", "needle");
        File.WriteAllBytes(Path.Combine(_root, "image.bin"), [.. "needle"u8, 0, 1, 2, .. "needle"u8]);
        Write("huge.txt", "needle\n" + new string('x', 4096));

        var paths = (await SearchAsync("needle", maxFileBytes: 1024)).Hits.Select(h => h.Path).ToList();

        Assert.Equal(["text.txt"], paths);
    }

    [Fact]
    public async Task Twenty_hits_a_page_in_file_then_line_order()
    {
        Write("b.txt", string.Concat(Enumerable.Range(1, 15).Select(i => $"needle {i}\n")));
        Write("a.txt", string.Concat(Enumerable.Range(1, 10).Select(i => $"needle {i}\n")));

        var first = (await SearchAsync("needle", page: 1, contextLines: 0)).Hits;
        var second = (await SearchAsync("needle", page: 2, contextLines: 0)).Hits;

        Assert.Equal(CodeSearchProvider.HitsPerPage, first.Count);
        Assert.Equal(5, second.Count);
        Assert.Equal(("a.txt", 1), (first[0].Path, first[0].Line));
        Assert.Equal(("b.txt", 10), (first[19].Path, first[19].Line));
        Assert.Equal(("b.txt", 15), (second[4].Path, second[4].Line));
        Assert.Empty((await SearchAsync("needle", page: 3)).Hits);
    }

    [Fact]
    public async Task Literals_are_smart_case_and_slashes_make_a_regex()
    {
        Write("f.txt", "Needle\nneedle\nhay 42 stack\n");

        Assert.Equal(2, (await SearchAsync("needle", contextLines: 0)).Hits.Count);
        Assert.Equal([1], (await SearchAsync("Needle", contextLines: 0)).Hits.Select(h => h.Line!.Value));
        Assert.Equal([3], (await SearchAsync(@"/hay \d+ stack/", contextLines: 0)).Hits.Select(h => h.Line!.Value));
        Assert.Equal([1, 2], (await SearchAsync("/^NEEDLE$/i", contextLines: 0)).Hits.Select(h => h.Line!.Value));
        var invalid = await Assert.ThrowsAsync<ProviderException>(() => SearchAsync("/(unclosed/"));
        Assert.Equal((400, false), (invalid.StatusCode, invalid.IsTransient));
    }

    [Fact]
    public async Task Regex_anchors_are_line_anchors_whatever_the_line_endings()
    {
        Write("lf.txt", "x\nfoo\nfoo bar\n");
        Write("crlf.txt", "x\r\nfoo\r\n");

        Assert.Equal(["crlf.txt:2", "lf.txt:2"], (await SearchAsync("/^foo$/", contextLines: 0)).Hits.Select(h => h.Title));
        Assert.Equal(["crlf.txt:2", "lf.txt:2", "lf.txt:3"], (await SearchAsync(@"/\Afoo/", contextLines: 0)).Hits.Select(h => h.Title));
    }

    [Fact]
    public async Task A_pathological_regex_is_bounded_by_its_timeout()
    {
        // 40 a's then a b: (a+)+$ backtracks through 2^40 splits on the backtracking engine.
        Write("evil.txt", new string('a', 40) + "b\n" + new string('a', 12) + "\n");

        // Without lookarounds the non-backtracking engine runs it in linear time and finds the line of a's.
        Assert.Equal([2], (await SearchAsync("/^(a+)+$/", contextLines: 0)).Hits.Select(h => h.Line!.Value));

        // A lookahead needs the backtracking engine: the match timeout ends it, and the search fails for good.
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ProviderException>(() => SearchAsync("/^(?=a)(a+)+$/", regexTimeoutMs: 200));
        Assert.Equal((400, false), (error.StatusCode, error.IsTransient));
        Assert.Contains("RegexTimeoutMs", error.Message);
        // Unbounded, this would run for days; the bound is generous for a loaded machine.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_missing_folder_is_a_404()
    {
        Directory.Delete(_root, recursive: true);
        var error = await Assert.ThrowsAsync<ProviderException>(() => SearchAsync("x"));
        Assert.Equal(404, error.StatusCode);
        Directory.CreateDirectory(_root);
    }
}
