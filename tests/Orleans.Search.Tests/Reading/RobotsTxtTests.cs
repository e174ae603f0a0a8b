using Orleans.Search.Reading;

namespace Orleans.Search.Tests.Reading;

public sealed class RobotsTxtTests
{
    private static bool Allowed(string robots, string path, string agent = "OrleansSearch") =>
        RobotsTxt.Parse(robots, agent).IsAllowed(new Uri("https://site.example" + path));

    [Fact]
    public void The_most_specific_group_wins_and_groups_are_not_merged_with_star()
    {
        const string robots = "User-agent: *\nDisallow: /\n\nUser-agent: orleanssearch\nDisallow: /private\n";

        Assert.True(Allowed(robots, "/public"));
        Assert.False(Allowed(robots, "/private/x"));
        Assert.False(Allowed(robots, "/public", agent: "OtherBot"));
    }

    [Fact]
    public void Groups_naming_the_same_agent_are_combined_and_consecutive_agents_share_a_group()
    {
        const string robots = "User-agent: a\nUser-agent: OrleansSearch\nDisallow: /one\n\nUser-agent: OrleansSearch\nDisallow: /two\n";

        Assert.False(Allowed(robots, "/one"));
        Assert.False(Allowed(robots, "/two"));
        Assert.True(Allowed(robots, "/three"));
    }

    [Theory]
    [InlineData("Allow: /p\nDisallow: /", "/page", true)]
    [InlineData("Allow: /folder\nDisallow: /folder/", "/folder/page", false)]
    [InlineData("Allow: /page\nDisallow: /page", "/page", true)]
    [InlineData("Disallow: /*.pdf$", "/a/b.pdf", false)]
    [InlineData("Disallow: /*.pdf$", "/a/b.pdf?x=1", true)]
    [InlineData("Disallow: /*/private/*", "/x/private/y", false)]
    [InlineData("Disallow: /search?", "/search?q=1", false)]
    [InlineData("Disallow: /$", "/", false)]
    [InlineData("Disallow: /$", "/a", true)]
    [InlineData("Disallow:", "/anything", true)]
    [InlineData("Disallow: /", "/robots.txt", true)]
    [InlineData("Disallow: /caf%c3%a9", "/café", false)]
    [InlineData("disallow : /X # comment", "/Xy", false)]
    [InlineData("Disallow: /x", "/X", true)]
    public void Longest_match_wins_and_allow_wins_ties(string rules, string path, bool allowed) =>
        Assert.Equal(allowed, Allowed("User-agent: *\n" + rules + "\n", path));

    [Fact]
    public void Crawl_delay_comes_from_the_chosen_group()
    {
        var robots = RobotsTxt.Parse("User-agent: *\nCrawl-delay: 2.5\n\nUser-agent: other\nCrawl-delay: 60\n", "OrleansSearch");

        Assert.Equal(TimeSpan.FromSeconds(2.5), robots.CrawlDelay);
    }

    [Fact]
    public void A_pathological_pattern_costs_bounded_time()
    {
        var pattern = "/" + string.Concat(Enumerable.Repeat("*a", 200)) + "b";
        var path = "/" + new string('a', 5000);

        Assert.False(RobotsTxt.Matches(pattern, path));
    }
}
