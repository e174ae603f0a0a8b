using Orleans.Search.Gateway.Events;

namespace Orleans.Search.Tests.Api;

public sealed class SseFrameTests
{
    [Theory]
    [InlineData("one line", "data: one line\n")]
    [InlineData("", "data: \n")]
    [InlineData("a\nb\r\nc\rd", "data: a\ndata: b\ndata: c\ndata: d\n")]
    [InlineData("ends with a break\n", "data: ends with a break\ndata: \n")]
    [InlineData("\r\n\r\n", "data: \ndata: \ndata: \n")]
    public void Every_line_of_data_gets_its_own_field_and_a_client_reads_back_the_same_text(string data, string dataLines)
    {
        var frame = SseFrame.Event("7", "page.completed", data);

        Assert.Equal("id: 7\nevent: page.completed\n" + dataLines + "\n", frame);
        var message = Assert.Single(SseClient.Parse(frame.Split('\n')));
        Assert.Equal(new SseMessage("7", "page.completed", data.ReplaceLineEndings("\n")), message);
    }

    [Fact]
    public void Comments_and_retry_hints_are_not_messages()
    {
        var lines = (SseFrame.Retry(TimeSpan.FromSeconds(1)) + SseFrame.Comment("keep-alive") + SseFrame.Event(null, "snapshot", "{}")).Split('\n');

        Assert.Equal("retry: 1000", lines[0]);
        Assert.Contains(": keep-alive", lines);
        Assert.Equal(new SseMessage(null, "snapshot", "{}"), Assert.Single(SseClient.Parse(lines)));
    }

    [Fact]
    public void A_field_that_would_span_lines_is_refused()
    {
        Assert.Throws<ArgumentException>(() => SseFrame.Event("1\n2", "x", "{}"));
        Assert.Throws<ArgumentException>(() => SseFrame.Event("1", "x\r", "{}"));
        Assert.Throws<ArgumentException>(() => SseFrame.Comment("a\nb"));
    }
}
