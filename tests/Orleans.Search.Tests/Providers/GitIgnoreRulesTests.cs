using Orleans.Search.Providers.Code;

namespace Orleans.Search.Tests.Providers;

public sealed class GitIgnoreRulesTests
{
    [Theory]
    [InlineData("*.log", "a.log", false, true)]
    [InlineData("*.log", "deep/down/a.log", false, true)]
    [InlineData("/top.txt", "top.txt", false, true)]
    [InlineData("/top.txt", "sub/top.txt", false, null)]
    [InlineData("build/", "build", true, true)]
    [InlineData("build/", "build", false, null)]
    [InlineData("a/**/z.txt", "a/z.txt", false, true)]
    [InlineData("a/**/z.txt", "a/b/c/z.txt", false, true)]
    [InlineData("**/cache", "x/y/cache", true, true)]
    [InlineData("logs/**", "logs/x/y.txt", false, true)]
    [InlineData("file?.txt", "file1.txt", false, true)]
    [InlineData("file?.txt", "file10.txt", false, null)]
    [InlineData("[abc].md", "b.md", false, true)]
    [InlineData("[!abc].md", "b.md", false, null)]
    [InlineData(@"\#hash", "#hash", false, true)]
    public void Patterns_match_as_git_reads_them(string pattern, string path, bool isDirectory, bool? expected) =>
        Assert.Equal(expected, GitIgnoreRules.Parse([pattern]).Match(path, isDirectory));

    [Fact]
    public void The_last_matching_rule_wins_so_a_negation_re_includes()
    {
        var rules = GitIgnoreRules.Parse(["*.log", "!keep.log", "# comment", "", "   "]);
        Assert.Equal(true, rules.Match("x.log", false));
        Assert.Equal(false, rules.Match("keep.log", false));
        Assert.Null(rules.Match("x.txt", false));
    }
}
