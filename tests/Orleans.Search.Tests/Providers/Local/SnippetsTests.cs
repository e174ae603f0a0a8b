using Lucene.Net.Analysis.En;
using Lucene.Net.Util;
using Orleans.Search.Providers.Local;

namespace Orleans.Search.Tests.Providers.Local;

/// <summary>A hit's snippet: a window of about <see cref="Snippets.Length"/> characters around where the query's terms cluster.</summary>
public sealed class SnippetsTests : IDisposable
{
    private readonly EnglishAnalyzer _analyzer = new(LuceneVersion.LUCENE_48);

    public void Dispose() => _analyzer.Dispose();

    private string Around(string body, params string[] terms) =>
        Snippets.Around(body, terms.ToHashSet(), _analyzer, "body", CancellationToken.None);

    private static string Filler(string word, int count) => string.Join(' ', Enumerable.Repeat(word, count));

    [Fact]
    public void A_short_body_is_its_own_snippet()
    {
        Assert.Equal("all of it", Around("all of it", "it"));
    }

    [Fact]
    public void The_window_centres_on_the_densest_cluster_of_terms_cut_at_words_with_ellipses()
    {
        // One lone mention early, then a cluster of three far later: the cluster wins.
        var body = $"{Filler("lorem", 10)} zebra {Filler("ipsum", 80)} zebra zebra zebra {Filler("dolor", 80)}";

        var snippet = Around(body, "zebra");

        Assert.StartsWith("…", snippet);
        Assert.EndsWith("…", snippet);
        Assert.Contains("zebra zebra zebra", snippet);
        Assert.DoesNotContain("lorem", snippet);
        Assert.True(snippet.Length <= Snippets.Length + 2, $"{snippet.Length}: {snippet}");
        // Whole words only: every word is one of the body's.
        Assert.All(snippet.Trim('…').Split(' ', StringSplitOptions.RemoveEmptyEntries), w => Assert.Contains(w, new[] { "ipsum", "zebra", "dolor" }));
    }

    [Fact]
    public void Terms_match_as_the_analyzer_makes_them()
    {
        // The English analyzer stems "running" to "run": the snippet finds it by the stemmed term.
        var body = $"{Filler("alpha", 60)} running {Filler("omega", 60)}";

        Assert.Contains("running", Around(body, "run"));
    }

    [Fact]
    public void Without_a_mention_in_the_body_the_snippet_is_its_opening()
    {
        var body = Filler("opening", 60);

        var snippet = Around(body, "absent");

        Assert.StartsWith("opening", snippet);
        Assert.EndsWith("…", snippet);
    }

    [Fact]
    public void A_window_with_no_space_is_cut_mid_word_rather_than_lost()
    {
        Assert.Equal(5, Snippets.WordEndAtOrBefore(new string('x', 10), 5, limit: 0));
        Assert.Equal(4, Snippets.WordEndAtOrBefore("abc defgh", 6, limit: 0));
        Assert.Equal(3, Snippets.WordStartAtOrAfter("abc defgh", 2, limit: 9));
    }
}
