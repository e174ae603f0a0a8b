using Orleans.Search.Fakes;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers;

/// <summary>
/// The SearXNG adapter reads a response through a size limit (<c>Search:MaxResponseBytes</c>, 2 MB by default) and
/// stores only bounded fields, whatever the server sends.
/// </summary>
[Collection(AllocationSensitiveCollection.Name)]
public sealed class SearxngResponseLimitsTests : IAsyncLifetime
{
    private FakeSearxng _searxng = null!;
    private ProviderServices _services = null!;

    private ISearchProvider Web => _services.Provider("web");

    public async Task InitializeAsync()
    {
        _searxng = await FakeSearxng.StartAsync();
        _services = ProviderServices.Create(new Dictionary<string, string?>
        {
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
        });
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _searxng.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_over_MaxResponseBytes_fails_the_call_for_good_without_reading_it_all(bool chunked)
    {
        _searxng.Options.BodyPaddingBytes = 256L * 1024 * 1024;
        _searxng.Options.ChunkedBody = chunked;
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var error = await Assert.ThrowsAsync<ProviderException>(
            () => Web.SearchAsync(new ProviderQuery("huge body", 1, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.False(error.IsTransient, "a body that is too big now will be too big on a retry");
        Assert.Contains("Search:MaxResponseBytes", error.Message);
        Assert.Contains("2097152", error.Message);
        // Reading the whole body would allocate at least its 256 MB; the adapter stops after 2 MB.
        Assert.True(allocated < 32L * 1024 * 1024, $"allocated {allocated / 1024 / 1024} MB");
    }

    [Fact]
    public async Task A_body_under_the_limit_is_read_whole()
    {
        _searxng.Options.BodyPaddingBytes = 1024 * 1024;
        _searxng.Options.ChunkedBody = true;

        var page = await Web.SearchAsync(new ProviderQuery("padded body", 1, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(10, page.Hits.Count);
        Assert.Equal(FakeSearxng.ResultUrl("padded body", 1, 1), page.Hits[0].Url);
    }

    [Fact]
    public async Task Long_titles_and_snippets_are_cut_with_an_ellipsis_and_a_result_with_an_overlong_url_is_left_out()
    {
        _searxng.Options.ShapeResult = r => r.Index switch
        {
            1 => r with { Title = new string('T', 100_000), Content = new string('C', 100_000) },
            2 => r with { Url = r.Url + "/" + new string('u', 5000) },
            3 => r with { Title = new string('t', 300), Content = new string('c', 1000) },
            _ => r,
        };

        var page = await Web.SearchAsync(new ProviderQuery("long fields", 1, 10), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(9, page.Hits.Count);
        var cut = page.Hits[0];
        Assert.Equal(300, cut.Title.Length);
        Assert.Equal(new string('T', 299) + "…", cut.Title);
        Assert.Equal(1000, cut.Snippet.Length);
        Assert.Equal(new string('C', 999) + "…", cut.Snippet);
        // A cut URL would point somewhere else: the result is dropped instead.
        Assert.DoesNotContain(page.Hits, h => h.Url.Length > 2048);
        Assert.Equal(FakeSearxng.ResultUrl("long fields", 1, 3), page.Hits[1].Url);
        // Exactly at the bounds: kept as they are.
        Assert.Equal((new string('t', 300), new string('c', 1000)), (page.Hits[1].Title, page.Hits[1].Snippet));
        Assert.Equal(FakeSearxng.ResultTitle("long fields", 1, 4), page.Hits[2].Title);
    }
}
