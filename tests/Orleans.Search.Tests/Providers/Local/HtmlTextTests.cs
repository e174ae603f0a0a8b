using Orleans.Search.Providers.Local;

namespace Orleans.Search.Tests.Providers.Local;

/// <summary>HTML to title and visible text: the parser's way for ordinary pages, a linear pass for absurd nesting.</summary>
public sealed class HtmlTextTests
{
    private const string Page = """
        <html><head><title> The   Title </title><style>p { color: red }</style><script>var hidden = 1;</script></head>
        <body><h1>Heading</h1><p>first</p><p>second <b>bold</b>er</p><!-- a comment --><noscript>no</noscript>&amp; more</body></html>
        """;

    [Fact]
    public void The_tree_way_takes_the_title_and_only_text_a_reader_sees_with_blocks_separating_words()
    {
        var (title, body) = HtmlText.Extract(Page);
        var words = DocumentText.CollapseWhitespace(body);

        Assert.Equal("The Title", title);
        Assert.Equal("Heading first second bolder & more", words);
    }

    [Fact]
    public void Without_a_title_the_first_h1_is_the_title()
    {
        Assert.Equal("Main heading", HtmlText.ExtractTree("<body><h1>Main <i>heading</i></h1><p>x</p></body>").Title);
    }

    [Fact]
    public void The_flat_way_reads_the_same_text_from_the_same_page()
    {
        var (title, body) = HtmlText.ExtractFlat(Page);

        Assert.Equal("The Title", title);
        Assert.Equal("Heading first second bolder & more", DocumentText.CollapseWhitespace(body));
    }

    [Fact]
    public void Nesting_is_judged_by_open_elements_void_ones_and_closed_ones_do_not_count()
    {
        Assert.False(HtmlText.NestsDeeperThan("<div><div></div><div></div></div>", 2));
        Assert.True(HtmlText.NestsDeeperThan("<div><div><div></div></div></div>", 2));
        Assert.False(HtmlText.NestsDeeperThan("<div><br><img src=x><hr><p>a</p></div>", 2));
        // A stray end tag closes nothing.
        Assert.True(HtmlText.NestsDeeperThan("<div></span><div><div>", 2));
    }

    [Fact]
    public void A_page_nested_deeper_than_browsers_go_is_read_flat_and_its_text_kept()
    {
        var deep = string.Concat(Enumerable.Repeat("<div>", HtmlText.MaxDepth + 1)) + "buried words" + string.Concat(Enumerable.Repeat("</div>", HtmlText.MaxDepth + 1));

        var (_, body) = HtmlText.Extract(deep);

        Assert.Equal("buried words", DocumentText.CollapseWhitespace(body));
    }
}
