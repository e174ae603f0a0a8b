namespace Orleans.Search.Tests.Jobs;

/// <summary>Fusion as a pure function: dedupe by normalized URL, reciprocal rank fusion (k = 60), every finding query kept.</summary>
public sealed class ResultFusionTests
{
    private static SearchResult Hit(string url, string query, int page = 1, int rank = 1, string provider = "web", string? title = null) => new()
    {
        Url = url,
        Title = title ?? url,
        Snippet = "",
        Query = query,
        Page = page,
        Rank = rank,
        Provider = provider,
    };

    [Fact]
    public void The_same_url_found_by_three_queries_appears_once_with_all_three_queries()
    {
        var fused = ResultFusion.Fuse(
        [
            Hit("https://Example.org/guide/?utm_source=news", "orleans grains", rank: 2),
            Hit("https://other.example/a", "orleans grains", rank: 1),
            Hit("HTTPS://example.org:443/guide#intro", "virtual actors", rank: 1),
            Hit("https://example.org/guide?gclid=abc&fbclid=def", "orleans silo", rank: 3),
            Hit("https://third.example/z", "orleans silo", rank: 1),
        ]);

        var guide = Assert.Single(fused, r => r.Url == "https://example.org/guide");
        Assert.Equal(["orleans grains", "virtual actors", "orleans silo"], guide.Queries);
        Assert.Equal(3, fused.Count);
        // Found by three lists, it outranks the two found once each, even at rank 1.
        Assert.Same(guide, fused[0]);
        // The fields of its best sighting (rank 1 for "virtual actors").
        Assert.Equal(("virtual actors", 1), (guide.Query, guide.Rank));
    }

    [Fact]
    public void Scores_are_reciprocal_rank_fusion_with_k_60_across_pages_in_order()
    {
        // One query's list is its pages in order: page 2 rank 1 is list rank 3 after two hits on page 1.
        var scored = ResultFusion.Score(
        [
            Hit("https://a.example/1", "q1", page: 1, rank: 1),
            Hit("https://a.example/2", "q1", page: 1, rank: 2),
            Hit("https://a.example/3", "q1", page: 2, rank: 1),
            Hit("https://a.example/3", "q2", page: 1, rank: 1),
        ]);

        var three = Assert.Single(scored, s => s.Result.Url == "https://a.example/3");
        Assert.Equal(1.0 / 63 + 1.0 / 61, three.Score, 12);
        Assert.Equal(1.0 / 61, Assert.Single(scored, s => s.Result.Url == "https://a.example/1").Score, 12);
        Assert.Equal(["https://a.example/3", "https://a.example/1", "https://a.example/2"], scored.Select(s => s.Result.Url));
    }

    [Fact]
    public void A_url_twice_in_one_list_counts_once_at_its_best_rank()
    {
        var scored = ResultFusion.Score(
        [
            Hit("https://a.example/x", "q", page: 2, rank: 4),
            Hit("https://a.example/x/", "q", page: 1, rank: 1),
        ]);

        var only = Assert.Single(scored);
        Assert.Equal(1.0 / 61, only.Score, 12);
        Assert.Equal(["q"], only.Result.Queries);
        Assert.Equal((1, 1), (only.Result.Page, only.Result.Rank));
    }

    [Fact]
    public void Different_providers_are_different_lists()
    {
        var only = Assert.Single(ResultFusion.Score(
        [
            Hit("https://a.example/x", "q", provider: "brave"),
            Hit("https://a.example/x", "q", provider: "tavily"),
        ]));
        Assert.Equal(2.0 / 61, only.Score, 12);
        Assert.Equal(["q"], only.Result.Queries);
    }

    [Fact]
    public void Ties_keep_the_input_order()
    {
        var fused = ResultFusion.Fuse([Hit("https://b.example/", "q1"), Hit("https://a.example/", "q2")]);
        Assert.Equal(["https://b.example/", "https://a.example/"], fused.Select(r => r.Url));
    }

    [Theory]
    [InlineData("HTTPS://WWW.Example.ORG/Path/", "https://www.example.org/Path")]
    [InlineData("http://example.org:80/a", "http://example.org/a")]
    [InlineData("https://example.org:8443/a", "https://example.org:8443/a")]
    [InlineData("https://example.org", "https://example.org/")]
    [InlineData("https://example.org/?", "https://example.org/")]
    [InlineData("https://example.org/a?b=1&utm_source=x&UTM_Medium=y&c=2#frag", "https://example.org/a?b=1&c=2")]
    [InlineData("https://example.org/a?gclid=1&fbclid=2&msclkid=3&mc_eid=4", "https://example.org/a")]
    [InlineData("https://example.org/a?utmost=1", "https://example.org/a?utmost=1")]
    [InlineData("file:///src/app.cs#L12", "file:///src/app.cs#L12")]
    [InlineData("urn:perplexity:answer:abc", "urn:perplexity:answer:abc")]
    public void Urls_normalize(string url, string expected) => Assert.Equal(expected, ResultFusion.NormalizeUrl(url));

    [Fact]
    public void Fusion_is_pure()
    {
        SearchResult[] input = [Hit("https://a.example/1", "q1"), Hit("https://a.example/2", "q2", rank: 2), Hit("https://a.example/1", "q2")];
        Assert.Equal(ResultFusion.Fuse(input).Select(r => (r.Url, string.Join('|', r.Queries))), ResultFusion.Fuse(input).Select(r => (r.Url, string.Join('|', r.Queries))));
        Assert.Equal(3, input.Length);
        Assert.Empty(input[0].Queries);
    }
}
