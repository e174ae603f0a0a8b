using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Orleans.Search.Jobs.Pipeline;

/// <summary>One numbered source the answer may cite.</summary>
public sealed record AnswerSource(int N, string Url, string Title, string Text);

/// <summary>The pipeline's prompts and the checks on what the LLM gives back. Pure: no I/O.</summary>
public static partial class ResearchText
{
    public const int MaxQueryLength = 1000;

    public static IReadOnlyList<Llm.LlmMessage> ExpandPrompt(string question, int count) =>
    [
        new("system", "You turn a research question into web search queries. Answer with a JSON object only, of the form "
            + "{\"queries\": [\"...\"]}: well-formed, distinct queries that together cover the question, each under 200 characters."),
        new("user", $"Question: {question}\nGive {count} queries."),
    ];

    /// <summary>The second try, after output that was not valid JSON even once repaired.</summary>
    public static IReadOnlyList<Llm.LlmMessage> SimplerExpandPrompt(string question, int count) =>
    [
        new("user", $"Write {count} short web search queries for: {question}\nReply with only a JSON array of strings, like [\"a\", \"b\"]."),
    ];

    public static IReadOnlyList<Llm.LlmMessage> FollowupPrompt(string question, IReadOnlyList<string> queriesDone, IReadOnlyList<AnswerSource> sources, int max) =>
    [
        new("system", "You plan further research. Given a question, the searches already run and what they found, name what is "
            + $"still missing as at most {max} new web search queries. Answer with a JSON object only: {{\"queries\": [\"...\"]}}; "
            + "an empty list when nothing important is missing."),
        new("user", $"Question: {question}\n\nSearches run:\n{string.Join("\n", queriesDone.Select(q => "- " + q))}\n\nFound:\n{FormatSources(sources)}"),
    ];

    public static IReadOnlyList<Llm.LlmMessage> AnswerPrompt(string question, IReadOnlyList<AnswerSource> sources) =>
    [
        new("system", "You answer a question from numbered sources. Write markdown. Cite every claim with the source's number "
            + "in square brackets, like [1] or [2][3]; cite only the sources given. If the sources do not answer the question, say so."),
        new("user", $"Question: {question}\n\nSources:\n{FormatSources(sources)}"),
    ];

    private static string FormatSources(IReadOnlyList<AnswerSource> sources) =>
        sources.Count == 0 ? "(none)" : string.Join("\n\n", sources.Select(s => $"[{s.N}] {s.Title}\n{s.Url}\n{s.Text}"));

    /// <summary>How reading the LLM's query list went.</summary>
    public enum ParseOutcome
    {
        Valid,
        Repaired,
        Invalid,
    }

    /// <summary>
    /// Reads <c>{"queries": [...]}</c> (or a bare array). Output that is not valid JSON is repaired once (a markdown fence
    /// around it, prose before or after, trailing commas); anything still invalid is <see cref="ParseOutcome.Invalid"/>.
    /// </summary>
    public static (IReadOnlyList<string>? Queries, ParseOutcome Outcome) ParseQueries(string text)
    {
        if (TryRead(text) is { } queries)
        {
            return (queries, ParseOutcome.Valid);
        }
        return TryRead(Repair(text)) is { } repaired ? (repaired, ParseOutcome.Repaired) : (null, ParseOutcome.Invalid);
    }

    private static string Repair(string text)
    {
        var t = text.Trim();
        var first = t.IndexOfAny(['{', '[']);
        var last = t.LastIndexOfAny(['}', ']']);
        if (first >= 0 && last > first)
        {
            t = t[first..(last + 1)];
        }
        return TrailingComma().Replace(t, "$1");
    }

    [GeneratedRegex(@",\s*([}\]])")]
    private static partial Regex TrailingComma();

    private static List<string>? TryRead(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 4 });
            var array = doc.RootElement.ValueKind switch
            {
                JsonValueKind.Array => doc.RootElement,
                JsonValueKind.Object when doc.RootElement.TryGetProperty("queries", out var q) && q.ValueKind == JsonValueKind.Array => q,
                _ => default,
            };
            if (array.ValueKind != JsonValueKind.Array)
            {
                return null;
            }
            var queries = new List<string>();
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    return null;
                }
                var query = item.GetString()!.Trim();
                if (query.Length is 0 or > MaxQueryLength || query.Any(char.IsControl))
                {
                    return null;
                }
                queries.Add(query);
            }
            return queries;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A query as duplicates are recognised: case, spacing and end punctuation do not count.</summary>
    public static string Normalize(string query)
    {
        var builder = new StringBuilder(query.Length);
        foreach (var word in query.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }
            builder.Append(word.ToLowerInvariant());
        }
        return builder.ToString().TrimEnd('?', '.', '!', ',', ';', ':');
    }

    /// <summary>New queries not already among <paramref name="existing"/> (or each other), at most <paramref name="max"/>.</summary>
    public static List<string> NewQueries(IEnumerable<string> existing, IEnumerable<string> proposed, int max)
    {
        var seen = existing.Select(Normalize).ToHashSet(StringComparer.Ordinal);
        return proposed.Where(q => Normalize(q).Length > 0 && seen.Add(Normalize(q))).Take(max).ToList();
    }

    /// <summary>The citations the answer makes that point at a source, by number.</summary>
    public static List<Citation> Citations(string answer, IReadOnlyList<AnswerSource> sources)
    {
        var cited = CitationMarker().Matches(answer).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        return sources.Where(s => cited.Contains(s.N)).OrderBy(s => s.N).Select(s => new Citation { N = s.N, Url = s.Url, Title = s.Title }).ToList();
    }

    [GeneratedRegex(@"\[(\d{1,4})\]")]
    private static partial Regex CitationMarker();
}

/// <summary>
/// Filters streamed answer text so a citation marker that points at no source is dropped before anyone sees it: text is
/// passed on at once except from a <c>[</c> that may begin a marker, held until the marker closes or cannot be one.
/// </summary>
public sealed class CitationFilter(int sources)
{
    /// <summary>Longest marker held: <c>[9999]</c>.</summary>
    private const int MaxMarker = 6;
    private readonly StringBuilder _held = new();

    public string Push(string text)
    {
        var output = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (_held.Length == 0)
            {
                if (c == '[')
                {
                    _held.Append(c);
                }
                else
                {
                    output.Append(c);
                }
                continue;
            }
            if (char.IsAsciiDigit(c) && _held.Length < MaxMarker - 1)
            {
                _held.Append(c);
                continue;
            }
            if (c == ']' && _held.Length > 1)
            {
                var n = int.Parse(_held.ToString(1, _held.Length - 1), System.Globalization.CultureInfo.InvariantCulture);
                if (n >= 1 && n <= sources)
                {
                    output.Append(_held).Append(c);
                }
                _held.Clear();
                continue;
            }
            // Not a marker after all: let it through (a new '[' starts holding again).
            output.Append(_held);
            _held.Clear();
            if (c == '[')
            {
                _held.Append(c);
            }
            else
            {
                output.Append(c);
            }
        }
        return output.ToString();
    }

    /// <summary>The end of the stream: text held back was not a marker.</summary>
    public string Flush()
    {
        var rest = _held.ToString();
        _held.Clear();
        return rest;
    }
}
