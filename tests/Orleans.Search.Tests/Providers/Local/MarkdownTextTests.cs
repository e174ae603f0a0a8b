using Orleans.Search.Providers.Local;

namespace Orleans.Search.Tests.Providers.Local;

/// <summary>Markdown to title and prose: the first heading outside code is the title; markup a reader would not see goes.</summary>
public sealed class MarkdownTextTests
{
    [Fact]
    public void The_first_level_one_heading_is_the_title_and_left_out_of_the_body()
    {
        var (title, body) = MarkdownText.Extract("Intro line\n# The Title #\n## Section\ntext");

        Assert.Equal("The Title", title);
        Assert.DoesNotContain("The Title", body);
        Assert.Contains("Section", body);
    }

    [Fact]
    public void A_hash_line_inside_a_code_fence_is_code_not_a_title_and_stays_searchable()
    {
        var (title, body) = MarkdownText.Extract("```\n# not a heading\n```\n# Real");

        Assert.Equal("Real", title);
        Assert.Contains("# not a heading", body);
    }

    [Theory]
    [InlineData("## Heading", "Heading")]
    [InlineData("> quoted", "quoted")]
    [InlineData("- item", "item")]
    [InlineData("1. first", "first")]
    [InlineData("see [the docs](https://example.org/docs) now", "see the docs now")]
    [InlineData("![a cat](cat.png)", "a cat")]
    [InlineData("**bold** and _it_ and `code`", "bold and it and code")]
    [InlineData("snake_case_name stays", "snake_case_name stays")]
    public void Markup_is_stripped_so_snippets_read_as_prose(string line, string prose)
    {
        Assert.Equal(prose, MarkdownText.Strip(line));
    }
}
