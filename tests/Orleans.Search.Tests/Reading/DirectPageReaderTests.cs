using System.Diagnostics;
using System.Text;
using Orleans.Search.Fakes;
using Orleans.Search.Reading;

namespace Orleans.Search.Tests.Reading;

/// <summary>The <c>direct</c> reader against loopback fake sites (each on its own port, so each its own host).</summary>
public sealed class DirectPageReaderTests
{
    private static async Task<PageRead> ReadAsync(ReadingServices services, string url) => await services.Direct.ReadAsync(url, CancellationToken.None);

    [Fact]
    public async Task A_path_robots_txt_disallows_is_skipped_and_never_requested()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/robots.txt", FakeSitePage.Text("User-agent: *\nDisallow: /private\nAllow: /private/open\n"));
        site.Serve("/private/page", FakeSitePage.Html("<p>secret</p>"));
        site.Serve("/private/open", FakeSitePage.Html("<p>open</p>"));
        site.Serve("/public", FakeSitePage.Html("<p>public page</p>"));
        await using var services = ReadingServices.Create();

        var reads = await Task.WhenAll(new[] { "/private/page", "/public", "/private/open" }.Select(p => ReadAsync(services, site.Url(p))));

        Assert.Equal(PageReadStatuses.Skipped, reads[0].Status);
        Assert.Equal("disallowed by robots.txt", reads[0].Skipped);
        Assert.Equal(0, site.RequestsFor("/private/page"));
        Assert.Equal(PageReadStatuses.Read, reads[1].Status);
        Assert.Equal(PageReadStatuses.Read, reads[2].Status);
        Assert.Equal(1, site.RequestsFor("/robots.txt"));
        Assert.All(site.Arrivals, a => Assert.StartsWith("OrleansSearch/", a.UserAgent));
    }

    [Fact]
    public async Task Readers_of_a_host_that_arrive_together_share_one_robots_txt_request()
    {
        await using var group = await SiteGroup.StartAsync(8, latency: TimeSpan.FromMilliseconds(100));
        var sites = group.Sites;
        foreach (var site in sites)
        {
            site.Serve("/robots.txt", FakeSitePage.Text("User-agent: *\nAllow: /\n"));
        }
        await using var services = ReadingServices.Create();
        var robots = services.Get<RobotsCache>();

        // Threads of their own released at one moment, so the first looks at a host's entry race each other.
        const int perHost = 16;
        using var start = new Barrier(sites.Length * perHost);
        var looks = sites.SelectMany(s => Enumerable.Range(0, perHost).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait(TimeSpan.FromSeconds(10));
            return robots.GetAsync(new Uri(s.Url("/page")), CancellationToken.None);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap())).ToList();
        var rules = await Task.WhenAll(looks);

        Assert.All(rules, r => Assert.False(r.DisallowAll));
        Assert.All(sites, s => Assert.Equal(1, s.RequestsFor("/robots.txt")));
    }

    [Fact]
    public async Task Robots_txt_that_fails_with_5xx_stops_reading_and_a_404_allows_all()
    {
        await using var down = await FakeSite.StartAsync();
        down.Serve("/robots.txt", new FakeSitePage { Status = 503, Body = "busy"u8.ToArray() });
        down.Serve("/page", FakeSitePage.Html("<p>x</p>"));
        await using var open = await FakeSite.StartAsync();
        open.Serve("/page", FakeSitePage.Html("<p>open page</p>"));
        await using var services = ReadingServices.Create();

        var refused = await ReadAsync(services, down.Url("/page"));
        var read = await ReadAsync(services, open.Url("/page"));

        Assert.Equal(PageReadStatuses.Skipped, refused.Status);
        Assert.Contains("robots.txt unavailable", refused.Skipped);
        Assert.Equal(0, down.RequestsFor("/page"));
        Assert.Equal(PageReadStatuses.Read, read.Status);
        Assert.Equal(1, open.RequestsFor("/robots.txt"));
    }

    [Fact]
    public async Task Robots_txt_is_ignored_when_configured_so()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/robots.txt", FakeSitePage.Text("User-agent: *\nDisallow: /\n"));
        site.Serve("/page", FakeSitePage.Html("<p>page</p>"));
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:RespectRobotsTxt"] = "false" });

        var read = await ReadAsync(services, site.Url("/page"));

        Assert.Equal(PageReadStatuses.Read, read.Status);
        Assert.Equal(0, site.RequestsFor("/robots.txt"));
    }

    [Fact]
    public async Task Crawl_delay_spaces_the_requests_to_a_host()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/robots.txt", FakeSitePage.Text("User-agent: *\nCrawl-delay: 1\n"));
        for (var i = 0; i < 3; i++)
        {
            site.Serve($"/p{i}", FakeSitePage.Html($"<p>page {i}</p>"));
        }
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:PerHostConcurrency"] = "2" });

        var reads = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => ReadAsync(services, site.Url($"/p{i}"))));

        Assert.All(reads, r => Assert.Equal(PageReadStatuses.Read, r.Status));
        var starts = site.Arrivals.Where(a => a.PathAndQuery.StartsWith("/p")).Select(a => a.StartedAt).Order().ToList();
        Assert.Equal(3, starts.Count);
        // Measured at the fake: the delay is between our starts, so the arrivals are at least ~1 s apart (a little
        // less is allowed for the request's own travel, which varies from one request to the next).
        for (var i = 1; i < starts.Count; i++)
        {
            Assert.True(Stopwatch.GetElapsedTime(starts[i - 1], starts[i]) >= TimeSpan.FromMilliseconds(900),
                $"gap {i}: {Stopwatch.GetElapsedTime(starts[i - 1], starts[i]).TotalMilliseconds} ms");
        }
        // Each read says how long it waited to be polite: the reads started together, so the second waited a delay
        // after the first ended, the third two.
        var waits = reads.Select(r => r.WaitMs).Order().ToList();
        Assert.True(waits[1] >= 900 && waits[2] >= 1800, $"waits: {string.Join(", ", waits)} ms");
        Assert.All(reads, r => Assert.InRange(r.WaitMs, 0, r.Ms));
    }

    [Fact]
    public async Task Per_host_concurrency_is_never_exceeded_while_several_hosts_are_read_at_once()
    {
        await using var group = await SiteGroup.StartAsync(4, latency: TimeSpan.FromMilliseconds(200));
        var sites = group.Sites;
        foreach (var site in sites)
        {
            for (var i = 0; i < 6; i++)
            {
                site.Serve($"/p{i}", FakeSitePage.Html($"<p>page {i}</p>"));
            }
        }
        await using var services = ReadingServices.Create(new Dictionary<string, string?>
        {
            ["Read:PerHostConcurrency"] = "2",
            ["Read:MaxConcurrency"] = "16",
        });

        var reads = await Task.WhenAll(sites.SelectMany(s => Enumerable.Range(0, 6).Select(i => ReadAsync(services, s.Url($"/p{i}")))));

        Assert.All(reads, r => Assert.Equal(PageReadStatuses.Read, r.Status));
        Assert.All(sites, s => Assert.InRange(s.MaxInFlight, 1, 2));
        Assert.Contains(sites, s => s.MaxInFlight == 2);
        // The hosts were read at once: at some moment more than two page requests were in flight in all.
        var pages = sites.SelectMany(s => s.Arrivals.Where(a => a.PathAndQuery.StartsWith("/p"))).ToList();
        var mostAtOnce = pages.Max(a => pages.Count(b => b.StartedAt <= a.StartedAt && b.EndedAt > a.StartedAt));
        Assert.True(mostAtOnce > 2, $"at most {mostAtOnce} requests in flight across the hosts");
    }

    [Fact]
    public async Task A_slow_page_times_out_and_is_recorded()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/slow", FakeSitePage.Html("<p>late</p>") with { Delay = TimeSpan.FromSeconds(30) });
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:TimeoutSeconds"] = "1" });

        var read = await ReadAsync(services, site.Url("/slow"));

        Assert.Equal(PageReadStatuses.Failed, read.Status);
        Assert.Equal("timed out after 1 s", read.Error);
        // The promise is the timeout: 1 s, with generous room for a loaded machine, far below the page's 30 s.
        Assert.InRange(read.Ms, 900, 10_000);
    }

    [Fact]
    public async Task A_huge_page_is_cut_at_MaxBytes()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/huge", FakeSitePage.Text(new string('x', 1_000_000)));
        site.Serve("/huge.html", FakeSitePage.Html("<html><body><p>" + string.Concat(Enumerable.Repeat("word ", 200_000)) + "</p></body></html>"));
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:MaxBytes"] = "65536" });

        var text = await ReadAsync(services, site.Url("/huge"));
        var html = await ReadAsync(services, site.Url("/huge.html"));

        Assert.Equal(PageReadStatuses.Read, text.Status);
        Assert.Equal(65536, text.Bytes);
        Assert.True(text.Truncated);
        Assert.Equal(65536, text.TextLength);
        Assert.Equal(PageReadStatuses.Read, html.Status);
        Assert.Equal(65536, html.Bytes);
        Assert.True(html.Truncated);
        Assert.InRange(html.TextLength, 60_000, 65536);
    }

    [Theory]
    [InlineData("application/pdf")]
    [InlineData("image/png")]
    [InlineData("application/octet-stream")]
    [InlineData(null)]
    public async Task A_page_that_is_not_text_or_html_is_skipped(string? contentType)
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/file", new FakeSitePage { ContentType = contentType, Body = new byte[50_000] });
        await using var services = ReadingServices.Create();

        var read = await ReadAsync(services, site.Url("/file"));

        Assert.Equal(PageReadStatuses.Skipped, read.Status);
        Assert.Equal($"content type {contentType ?? "missing"} is not read", read.Skipped);
        Assert.Equal(200, read.HttpStatus);
        Assert.Null(read.Text);
    }

    [Theory]
    [InlineData("text/html; charset=windows-1252", "")]
    [InlineData("text/html; charset=ISO-8859-1", "")]
    [InlineData("text/html", "<meta charset=\"windows-1252\">")]
    [InlineData("text/html", "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">")]
    [InlineData("text/html", "")]
    public async Task A_page_in_Windows_1252_is_decoded_right(string contentType, string meta)
    {
        const string words = "Café crème – “quoted” costs €5 … naïve façade";
        await using var site = await FakeSite.StartAsync();
        var html = $"<html><head>{meta}<title>Menu</title></head><body><p>{words}</p></body></html>";
        site.Serve("/menu", new FakeSitePage { ContentType = contentType, Body = PageDecoding.Windows1252.GetBytes(html) });
        await using var services = ReadingServices.Create();

        var read = await ReadAsync(services, site.Url("/menu"));

        Assert.Equal(PageReadStatuses.Read, read.Status);
        Assert.Contains(words, read.Text);
    }

    [Fact]
    public async Task A_UTF8_page_with_a_BOM_and_a_wrong_header_is_decoded_by_the_BOM()
    {
        await using var site = await FakeSite.StartAsync();
        var body = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("<p>Grüße aus Köln</p>")).ToArray();
        site.Serve("/bom", new FakeSitePage { ContentType = "text/html; charset=windows-1252", Body = body });
        await using var services = ReadingServices.Create();

        var read = await ReadAsync(services, site.Url("/bom"));

        Assert.Contains("Grüße aus Köln", read.Text);
    }

    [Fact]
    public async Task Main_content_buried_in_navigation_is_extracted_as_markdown()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/article", FakeSitePage.Html(BuriedArticle));
        await using var services = ReadingServices.Create();

        var read = await ReadAsync(services, site.Url("/article"));

        Assert.Equal(PageReadStatuses.Read, read.Status);
        Assert.Equal("text/html", read.ContentType);
        Assert.Equal("How orleans grains keep state", read.Title);
        var text = read.Text!;
        Assert.Contains("Grains persist their state through a storage provider", text);
        Assert.Contains("The last paragraph explains recovery after a crash", text);
        Assert.Contains("## Writing state", text);
        Assert.Contains("- first point about storage", text);
        Assert.Contains("[the storage docs](" + site.Url("/docs/storage") + ")", text);
        Assert.Contains("```\nawait state.WriteStateAsync();\n```", text);
        Assert.Contains("`ClearStateAsync`", text);
        Assert.DoesNotContain("Navigation link 17", text);
        Assert.DoesNotContain("Copyright footer", text);
        Assert.DoesNotContain("Sidebar advert", text);
        Assert.Equal(text.Length, read.TextLength);
    }

    [Fact]
    public async Task Plain_text_output_has_no_markdown()
    {
        await using var site = await FakeSite.StartAsync();
        site.Serve("/article", FakeSitePage.Html(BuriedArticle));
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:Format"] = "text" });

        var read = await ReadAsync(services, site.Url("/article"));

        Assert.Contains("Grains persist their state through a storage provider", read.Text);
        Assert.DoesNotContain("##", read.Text);
        Assert.DoesNotContain("](", read.Text);
        Assert.DoesNotContain("```", read.Text);
    }

    [Fact]
    public async Task Failures_are_values_with_their_facts()
    {
        await using var site = await FakeSite.StartAsync();
        await using var services = ReadingServices.Create();

        var missing = await ReadAsync(services, site.Url("/nowhere"));
        var refused = await ReadAsync(services, "http://10.0.0.1/page");
        var bad = await ReadAsync(services, "not a url");

        Assert.Equal(PageReadStatuses.Failed, missing.Status);
        Assert.Equal(404, missing.HttpStatus);
        Assert.Equal("HTTP 404", missing.Error);
        Assert.Equal(PageReadStatuses.Skipped, refused.Status);
        Assert.Equal("refused: private address", refused.Skipped);
        Assert.Equal(PageReadStatuses.Skipped, bad.Status);
    }

    [Fact]
    public async Task Options_are_validated_naming_the_key()
    {
        await using var services = ReadingServices.Create(new Dictionary<string, string?> { ["Read:PerHostConcurrency"] = "0", ["Read:Reader"] = "magic" });

        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => services.Get<Microsoft.Extensions.Options.IOptions<ReadOptions>>().Value);

        Assert.Contains("Read:PerHostConcurrency", e.Message);
        Assert.Contains("Read:Reader", e.Message);
    }

    internal static readonly string BuriedArticle = $$"""
        <!doctype html>
        <html><head><title>How orleans grains keep state</title></head>
        <body>
          <header class="site-header"><div class="logo">Example Docs</div>
            <nav class="menu"><ul>{{string.Concat(Enumerable.Range(1, 40).Select(i => $"<li><a href=\"/n{i}\">Navigation link {i}</a></li>"))}}</ul></nav>
          </header>
          <div class="layout">
            <aside class="sidebar"><div class="ad">Sidebar advert: buy more storage today</div>
              <ul>{{string.Concat(Enumerable.Range(1, 20).Select(i => $"<li><a href=\"/s{i}\">Related {i}</a></li>"))}}</ul></aside>
            <main><article class="post">
              <h1>How orleans grains keep state</h1>
              <p>Grains persist their state through a storage provider, configured once per silo and named by each grain. This paragraph has enough words to look like real prose to a readability scorer, with commas, too.</p>
              <p>When a grain activates, its state is read from storage before any call is delivered, so the grain never sees a stale or half-loaded value, and writes happen only when the grain asks for them.</p>
              <h2>Writing state</h2>
              <p>Call the write method after changing state; see <a href="/docs/storage">the storage docs</a> for the providers that exist, and their options.</p>
              <pre><code>await state.WriteStateAsync();</code></pre>
              <ul><li>first point about storage</li><li>second point about storage</li></ul>
              <p>Use <code>ClearStateAsync</code> to delete the row, which some providers do only when told to, by an option of theirs.</p>
              <p>The last paragraph explains recovery after a crash: the next activation reads what was last written, and nothing else, which is the whole point.</p>
            </article></main>
          </div>
          <footer><p>Copyright footer 2026, all rights reserved.</p><nav><a href="/privacy">Privacy</a></nav></footer>
        </body></html>
        """;
}

/// <summary>Several fake sites (each its own host) that answer after the same latency, disposed together.</summary>
internal sealed class SiteGroup : IAsyncDisposable
{
    private SiteGroup(FakeSite[] sites) => Sites = sites;

    public FakeSite[] Sites { get; }

    public static async Task<SiteGroup> StartAsync(int count, TimeSpan latency)
    {
        var sites = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => FakeSite.StartAsync()));
        foreach (var site in sites)
        {
            site.Latency = latency;
        }
        return new SiteGroup(sites);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var site in Sites)
        {
            await site.DisposeAsync();
        }
    }
}
