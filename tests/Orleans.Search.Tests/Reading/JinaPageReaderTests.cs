using Orleans.Search.Fakes;
using Orleans.Search.Reading;

namespace Orleans.Search.Tests.Reading;

public sealed class JinaPageReaderTests
{
    [Fact]
    public async Task Jina_Reader_gives_the_page_text_and_its_errors_are_recorded()
    {
        await using var jina = await FakeJinaReader.StartAsync();
        await using var site = await FakeSite.StartAsync();
        var url = site.Url("/article");
        jina.Serve(url, "An article", "# An article\n\nBody from Jina.");
        await using var services = ReadingServices.Create(new Dictionary<string, string?>
        {
            ["Read:Reader"] = "jina",
            ["Read:Jina:BaseUrl"] = jina.BaseUrl.AbsoluteUri,
            ["Read:Jina:ApiKey"] = "jina_test_key",
        });

        var read = await services.Jina.ReadAsync(url, CancellationToken.None);
        var unknown = await services.Jina.ReadAsync(site.Url("/other"), CancellationToken.None);
        jina.ThrottleNext(1);
        var throttled = await services.Jina.ReadAsync(url, CancellationToken.None);
        var refused = await services.Jina.ReadAsync("http://169.254.169.254/latest/meta-data/", CancellationToken.None);

        Assert.Equal(PageReadStatuses.Read, read.Status);
        Assert.Equal("# An article\n\nBody from Jina.", read.Text);
        Assert.Equal("An article", read.Title);
        Assert.Equal(read.Text!.Length, read.TextLength);
        Assert.Equal(PageReadStatuses.Failed, unknown.Status);
        Assert.Equal(422, unknown.HttpStatus);
        Assert.Contains("AssertionFailureError", unknown.Error);
        Assert.Equal(429, throttled.HttpStatus);
        Assert.Contains("rate limit", throttled.Error);
        Assert.Equal(PageReadStatuses.Skipped, refused.Status);
        Assert.Equal(3, jina.Requests.Count);
        Assert.All(jina.Requests, r => Assert.Equal("Bearer jina_test_key", r.Authorization));
        Assert.Equal(url, jina.Requests[0].Target);
        Assert.Empty(site.Arrivals);
    }
}
