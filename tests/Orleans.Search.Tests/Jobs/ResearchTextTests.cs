using Orleans.Search.Jobs.Pipeline;

namespace Orleans.Search.Tests.Jobs;

/// <summary>What the pipeline accepts from an LLM: query lists (repaired once), deduplicated queries, and citations that point somewhere.</summary>
public sealed class ResearchTextTests
{
    [Fact]
    public void Valid_json_is_read_as_is()
    {
        var (queries, outcome) = ResearchText.ParseQueries("""{"queries": ["a b", "c"]}""");
        Assert.Equal(ResearchText.ParseOutcome.Valid, outcome);
        Assert.Equal(["a b", "c"], queries!);
    }

    [Theory]
    [InlineData("```json\n{\"queries\": [\"a\", \"b\",]}\n```")]
    [InlineData("Here you go: [\"a\", \"b\"] Hope it helps")]
    public void Json_in_a_fence_or_prose_or_with_a_trailing_comma_is_repaired_once(string text)
    {
        var (queries, outcome) = ResearchText.ParseQueries(text);
        Assert.Equal(ResearchText.ParseOutcome.Repaired, outcome);
        Assert.Equal(["a", "b"], queries!);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"queries": "a"}""")]
    [InlineData("""{"queries": [1, 2]}""")]
    [InlineData("""{"queries": ["a\u0000b"]}""")]
    public void Output_that_stays_invalid_is_refused(string text)
    {
        var (queries, outcome) = ResearchText.ParseQueries(text);
        Assert.Equal(ResearchText.ParseOutcome.Invalid, outcome);
        Assert.Null(queries);
    }

    [Fact]
    public void New_queries_drop_normalized_duplicates_of_the_original_and_of_each_other()
    {
        var added = ResearchText.NewQueries(["Orleans grains?"], ["orleans  GRAINS", "virtual actors", "Virtual actors.", "streams", "more"], 2);
        Assert.Equal(["virtual actors", "streams"], added);
    }

    [Fact]
    public void A_streamed_citation_marker_that_points_at_no_source_is_dropped_and_others_pass_whole()
    {
        var filter = new CitationFilter(sources: 2);
        var chunks = new[] { "See [", "1] and [", "7", "] and [2][", "3] or [x] and [12" };
        var text = string.Concat(chunks.Select(filter.Push)) + filter.Flush();
        Assert.Equal("See [1] and  and [2] or [x] and [12", text);
        Assert.Equal([1, 2], ResearchText.Citations(text, [new(1, "https://a/", "A", ""), new(2, "https://b/", "B", "")]).Select(c => c.N));
    }
}
