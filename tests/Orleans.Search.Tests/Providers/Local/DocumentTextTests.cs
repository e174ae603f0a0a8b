using Orleans.Search.Providers.Local;

namespace Orleans.Search.Tests.Providers.Local;

/// <summary>A file's title and body by its kind, with whitespace collapsed and long titles shortened.</summary>
public sealed class DocumentTextTests
{
    [Theory]
    [InlineData("/corpus/page.HTML", "<title>Html title</title><p>body</p>", "Html title", "body")]
    [InlineData("/corpus/notes.markdown", "# Md title\nbody  text", "Md title", "body text")]
    [InlineData("/corpus/plain.txt", "\n  Text title \nbody\n\ntext", "Text title", "body text")]
    public void The_extension_picks_the_reader(string file, string raw, string title, string body)
    {
        Assert.Equal((title, body), DocumentText.Extract(file, raw));
    }

    [Fact]
    public void A_file_without_a_title_is_named_by_its_file_name()
    {
        Assert.Equal("empty.md", DocumentText.Extract("/corpus/empty.md", "no heading here").Title);
    }

    [Fact]
    public void A_long_first_line_of_text_is_a_paragraph_and_stays_in_the_body()
    {
        var paragraph = string.Join(' ', Enumerable.Repeat("word", 40));

        var (title, body) = DocumentText.ExtractText(paragraph + "\nmore");

        Assert.Equal(paragraph, title);
        Assert.StartsWith(paragraph, body);
    }

    [Fact]
    public void A_long_title_is_cut_at_a_word_with_an_ellipsis()
    {
        var title = string.Join(' ', Enumerable.Repeat("abcdefghi", 20));

        var shortened = DocumentText.Shorten(title);

        Assert.True(shortened.Length <= DocumentText.MaxTitleLength + 1, shortened);
        Assert.EndsWith("abcdefghi…", shortened);
    }
}
