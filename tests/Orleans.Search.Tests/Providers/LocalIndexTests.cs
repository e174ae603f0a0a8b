using System.Runtime.InteropServices;
using System.Text;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers;

/// <summary>
/// The local provider's index is built by a startup service of the silo, in the background, within
/// <c>MaxFiles</c> and <c>MaxFileBytes</c>; a search never builds it under its own timeout.
/// </summary>
public sealed class LocalIndexTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("orleans-search-index-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_index_is_built_at_startup_without_any_search_and_the_log_reports_it()
    {
        Write("one.txt", "One\nalpha");
        Write("two.md", "# Two\nbeta");
        Write("ignored.bin", "not a text file");
        await using var services = ProviderServices.Create(Settings());

        await services.StartHostedServicesAsync();

        await Eventually.TrueAsync(() => services.Logs.Any(m => m.Contains("Local provider local indexed", StringComparison.Ordinal)),
            "the index build to finish and say so, with no search", TimeSpan.FromSeconds(30));
        var summary = services.Logs.Lines.Single(l => l.Message.Contains("Local provider local indexed", StringComparison.Ordinal)).Message;
        Assert.Contains("2 of 2 files seen", summary);
        Assert.Contains("0 skipped", summary);
        Assert.Single(services.Logs.Lines, l => l.Message.Contains("started indexing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_index_holds_at_most_MaxFiles_files_and_MaxFileBytes_of_each_and_the_log_says_what_was_left_out()
    {
        // Path order decides which files make the cut: a-big.txt, then f1..f4.
        var big = new StringBuilder("Big\nfrontword ");
        while (big.Length < 5000)
        {
            big.Append("filler ");
        }
        big.Append("backword");
        Write("a-big.txt", big.ToString());
        for (var i = 1; i <= 8; i++)
        {
            Write($"f{i}.txt", $"File {i}\ncommon words");
        }
        await using var services = ProviderServices.Create(Settings(("MaxFileBytes", "1000"), ("MaxFiles", "5")));
        await services.StartHostedServicesAsync();
        var local = services.Provider("local");

        Assert.Equal(["f1.txt", "f2.txt", "f3.txt", "f4.txt"], await FilesFoundAsync(local, "common"));
        Assert.Equal(["a-big.txt"], await FilesFoundAsync(local, "frontword"));
        Assert.Empty(await FilesFoundAsync(local, "backword"));

        Assert.True(services.Logs.Any(m => m.Contains("a-big.txt", StringComparison.Ordinal) && m.Contains("MaxFileBytes", StringComparison.Ordinal) && m.Contains("first 1000 bytes", StringComparison.Ordinal)),
            "the log names the truncated file:\n" + services.Logs);
        Assert.True(services.Logs.Any(m => m.Contains("MaxFiles", StringComparison.Ordinal) && m.Contains("9 files", StringComparison.Ordinal) && m.Contains("skipped 4", StringComparison.Ordinal)),
            "the log says files were left out:\n" + services.Logs);
        var summary = services.Logs.Lines.Single(l => l.Message.Contains("Local provider local indexed", StringComparison.Ordinal)).Message;
        Assert.Contains("5 of 9 files seen", summary);
        Assert.Contains("4 skipped", summary);
        Assert.Contains("1 truncated", summary);
    }

    [Fact]
    public async Task A_search_during_a_slow_build_fails_transiently_and_does_not_stop_the_build()
    {
        Write("a.txt", "First\nalpha");
        Write("z.txt", "Last\nzeta");
        // A named pipe: the build blocks reading it until this test writes, so the build is slow for as long as we like.
        var pipe = Path.Combine(_folder, "m-pipe.txt");
        Assert.Equal(0, Native.mkfifo(pipe, Convert.ToUInt32("600", 8)));
        await using var services = ProviderServices.Create(Settings(("TimeoutSeconds", "2")));
        var writer = -1;
        try
        {
            await services.StartHostedServicesAsync();
            // Opening the write end succeeds only once the build has opened the read end.
            await Eventually.TrueAsync(() => (writer = Native.open(pipe, Native.O_WRONLY | Native.O_NONBLOCK)) >= 0,
                "the build to reach the pipe", TimeSpan.FromSeconds(30));
            var local = services.Provider("local");

            // An attempt with a 2 s timeout, as the resilience pipeline would give it.
            using (var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            {
                var error = await Assert.ThrowsAsync<ProviderException>(() => local.SearchAsync(new ProviderQuery("alpha", 1, 10), attempt.Token).WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.True(error.IsTransient, error.Message);
                Assert.Contains("still being built", error.Message);
            }

            var text = "Piped\nomega arrives late"u8.ToArray();
            Assert.Equal(text.Length, (int)Native.write(writer, text, text.Length));
            Native.close(writer);
            writer = -1;

            // The build went on past the search's timeout: the piped file and the one after it are in the index.
            Assert.Equal(["m-pipe.txt"], await FilesFoundAsync(local, "omega"));
            Assert.Equal(["z.txt"], await FilesFoundAsync(local, "zeta"));
        }
        finally
        {
            if (writer >= 0)
            {
                Native.close(writer);
            }
        }
    }

    [Fact]
    public async Task A_deeply_nested_html_file_within_MaxFileBytes_is_indexed_without_exhausting_the_stack()
    {
        // 150,000 nested elements in under 1 MB: walking the tree recursively would overflow the build thread's stack.
        const int depth = 150_000;
        Write("nested.html", "<html><head><title>Deep &amp; nested</title></head><body><script>hiddenword()</script><!-- commentword -->"
            + string.Concat(Enumerable.Repeat("<div>", depth)) + "deepword &lt;tagged&gt;" + string.Concat(Enumerable.Repeat("</div>", depth)) + "</body></html>");
        Write("plain.txt", "Plain\nshallow words");
        await using var services = ProviderServices.Create(Settings());
        await services.StartHostedServicesAsync();
        var local = services.Provider("local");

        Assert.Equal(["plain.txt"], await FilesFoundAsync(local, "shallow"));
        Assert.Equal(["nested.html"], await FilesFoundAsync(local, "deepword"));
        Assert.Equal(["nested.html"], await FilesFoundAsync(local, "tagged"));
        Assert.Empty(await FilesFoundAsync(local, "hiddenword"));
        Assert.Empty(await FilesFoundAsync(local, "commentword"));
        var hit = (await local.SearchAsync(new ProviderQuery("deepword", 1, 10), CancellationToken.None)).Hits.Single();
        Assert.Equal("Deep & nested", hit.Title);
    }

    [Fact]
    public async Task A_markdown_line_of_a_million_brackets_is_indexed_promptly()
    {
        // Link syntax matched without bounds rescans the rest of the line from every bracket: half a minute or more for
        // this line. Bounded, the whole build takes about a second; 15 s only catches the quadratic case.
        Write("brackets.md", "# Brackets\n" + new string('[', 1_000_000) + " linkword\n[shown](https://example.org/x)\n");
        await using var services = ProviderServices.Create(Settings());
        await services.StartHostedServicesAsync();
        var local = services.Provider("local");

        Assert.Equal(["brackets.md"], await FilesFoundAsync(local, "linkword", TimeSpan.FromSeconds(15)));
        Assert.Equal(["brackets.md"], await FilesFoundAsync(local, "shown"));
    }

    private Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Search:Providers:local:Kind"] = "local",
            ["Search:Providers:local:Path"] = _folder,
        };
        foreach (var (key, value) in extra)
        {
            settings[$"Search:Providers:local:{key}"] = value;
        }
        return settings;
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_folder, name), text);

    /// <summary>The files a search finds, once the index is ready (a search before that fails transiently).</summary>
    private static async Task<List<string>> FilesFoundAsync(ISearchProvider provider, string query, TimeSpan? timeout = null)
    {
        var page = await Eventually.ReturnsAsync(async () =>
        {
            try
            {
                return await provider.SearchAsync(new ProviderQuery(query, 1, 50), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (ProviderException ex) when (ex.IsTransient)
            {
                return null;
            }
        }, p => p is not null, $"a search for '{query}' once the index is ready", timeout ?? TimeSpan.FromSeconds(30));
        return page!.Hits.Select(h => Path.GetFileName(new Uri(h.Url).LocalPath)).Order(StringComparer.Ordinal).ToList();
    }

    private static class Native
    {
        public const int O_WRONLY = 1;
        public const int O_NONBLOCK = 0x800;

        [DllImport("libc", SetLastError = true)]
        public static extern int mkfifo(string path, uint mode);

        [DllImport("libc", SetLastError = true)]
        public static extern int open(string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint write(int fd, byte[] buffer, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
