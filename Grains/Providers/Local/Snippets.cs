using System.Text;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.TokenAttributes;

namespace Orleans.Search.Providers.Local;

/// <summary>The snippet of a hit: a window of its text around where the query's terms cluster.</summary>
public static class Snippets
{
    /// <summary>About this many characters; a shorter body is its own snippet.</summary>
    public const int Length = 200;

    /// <summary>Hit positions a snippet considers; the window only needs the densest cluster near the start.</summary>
    public const int MaxHits = 1000;

    /// <summary>Where the body mentions <paramref name="terms"/> (at most <see cref="MaxHits"/> places).</summary>
    public static List<(string Term, int Start, int End)> Mentions(string body, IReadOnlySet<string> terms, Analyzer analyzer, string field, CancellationToken cancellationToken)
    {
        var mentions = new List<(string Term, int Start, int End)>();

        // The stream must be disposed before this thread asks the analyzer for another one (it is reused per thread).
        using var stream = analyzer.GetTokenStream(field, body);
        var termAttribute = stream.AddAttribute<ICharTermAttribute>();
        var offsetAttribute = stream.AddAttribute<IOffsetAttribute>();
        stream.Reset();
        for (var seen = 0; mentions.Count < MaxHits && stream.IncrementToken(); seen++)
        {
            if ((seen & 4095) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var term = termAttribute.ToString();
            if (terms.Contains(term))
            {
                mentions.Add((term, offsetAttribute.StartOffset, offsetAttribute.EndOffset));
            }
        }

        stream.End();
        return mentions;
    }

    /// <summary>
    /// About <see cref="Length"/> chars of the body around the densest cluster of query-term hits (terms as
    /// <paramref name="analyzer"/> makes them for <paramref name="field"/>), cut at word boundaries, with "…" where text was cut.
    /// </summary>
    public static string Around(string body, IReadOnlySet<string> terms, Analyzer analyzer, string field, CancellationToken cancellationToken)
    {
        if (body.Length <= Length)
        {
            return body;
        }

        var hits = terms.Count == 0 ? [] : Mentions(body, terms, analyzer, field, cancellationToken);
        int start, end;
        if (hits.Count == 0)
        {
            // Nothing to centre on (a match in the title only, say): the opening of the body.
            start = 0;
            end = WordEndAtOrBefore(body, Length, limit: 0);
        }
        else
        {
            // Sliding window over hit positions: the hit that starts the window holding the most hits wins (earliest on ties).
            int bestFirst = 0, bestLast = 0, last = 0;
            for (var first = 0; first < hits.Count; first++)
            {
                last = Math.Max(last, first);
                while (last + 1 < hits.Count && hits[last + 1].End - hits[first].Start <= Length)
                {
                    last++;
                }

                if (last - first > bestLast - bestFirst)
                {
                    (bestFirst, bestLast) = (first, last);
                }
            }

            // Centre the cluster in the window, then shift the window back inside the body.
            var clusterStart = hits[bestFirst].Start;
            var clusterEnd = hits[bestLast].End;
            start = Math.Max(0, clusterStart - (Length - (clusterEnd - clusterStart)) / 2);
            end = Math.Min(body.Length, start + Length);
            start = Math.Max(0, end - Length);

            // Move inward to whole words, but never past a hit.
            start = WordStartAtOrAfter(body, start, limit: clusterStart);
            end = WordEndAtOrBefore(body, end, limit: clusterEnd);
        }

        var snippet = new StringBuilder(end - start + 2);
        if (start > 0)
        {
            snippet.Append('…');
        }

        snippet.Append(body.AsSpan(start, end - start).Trim());
        if (end < body.Length)
        {
            snippet.Append('…');
        }

        return snippet.ToString();
    }

    public static int WordStartAtOrAfter(string text, int index, int limit)
    {
        if (index == 0 || char.IsWhiteSpace(text[index - 1]))
        {
            return index;
        }

        while (index < limit && !char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        return index;
    }

    public static int WordEndAtOrBefore(string text, int index, int limit)
    {
        if (index >= text.Length || char.IsWhiteSpace(text[index]))
        {
            return index;
        }

        var end = index;
        while (end > limit && !char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        // No space between the limit and the window's end (a long URL, say): cut mid-word rather than lose the text.
        return end > limit ? end : index;
    }
}
