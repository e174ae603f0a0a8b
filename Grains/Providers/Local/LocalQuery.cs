using Lucene.Net.Analysis;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Index;
using Lucene.Net.Search;

namespace Orleans.Search.Providers.Local;

/// <summary>
/// Builds the local provider's Lucene query from query text without Lucene's query parser: the text is data.
/// Words are analysed into terms (any word matches); "quoted phrases" match their words in order; upper-case
/// <c>AND</c>, <c>OR</c>, <c>NOT</c> and a leading <c>+</c> (required) or <c>-</c> (excluded) combine them.
/// Everything else (wildcards, regexes, fuzzy and range syntax, field names, parentheses, boosts) is punctuation that
/// separates words, so any text becomes at most <see cref="MaxClauses"/> term or phrase queries, whose cost is
/// bounded by the index's postings.
/// </summary>
public sealed class LocalQuery
{
    /// <summary>Text past this is ignored (the gateway admits far less).</summary>
    public const int MaxTextChars = 4096;

    public const int MaxClauses = 32;

    /// <summary>Terms of one phrase (or one hyphenated word) past this are ignored.</summary>
    public const int MaxPhraseTerms = 16;

    private LocalQuery(Query? query, IReadOnlySet<string> terms)
    {
        Query = query;
        Terms = terms;
    }

    /// <summary>Null when nothing can match (no words left after analysis, or only exclusions).</summary>
    public Query? Query { get; }

    /// <summary>The analysed terms a snippet should show.</summary>
    public IReadOnlySet<string> Terms { get; }

    /// <param name="fields">Each field searched, with its boost.</param>
    public static LocalQuery Build(string text, Analyzer analyzer, IReadOnlyList<(string Field, float Boost)> fields)
    {
        if (text.Length > MaxTextChars)
        {
            text = text[..MaxTextChars];
        }
        var clauses = new List<(Query Query, Occur Occur)>();
        var terms = new HashSet<string>(StringComparer.Ordinal);
        var and = false;
        var not = false;
        foreach (var token in Tokens(text))
        {
            switch (token.Kind)
            {
                case TokenKind.And:
                    and = clauses.Count > 0;
                    continue;
                case TokenKind.Or:
                    and = false;
                    continue;
                case TokenKind.Not:
                    not = true;
                    continue;
            }

            var analysed = Analyze(analyzer, fields[0].Field, token.Text);
            if (analysed.Count == 0)
            {
                // A stop word or bare punctuation: nothing to match, and no operator binds to it.
                not = false;
                continue;
            }
            var occur = not || token.Modifier == '-' ? Occur.MUST_NOT : token.Modifier == '+' ? Occur.MUST : Occur.SHOULD;
            if (and)
            {
                // "a AND b": both required (an excluded side stays excluded).
                occur = occur == Occur.SHOULD ? Occur.MUST : occur;
                if (clauses[^1].Occur == Occur.SHOULD)
                {
                    clauses[^1] = (clauses[^1].Query, Occur.MUST);
                }
            }
            clauses.Add((InAnyField(analysed, fields), occur));
            if (occur != Occur.MUST_NOT)
            {
                terms.UnionWith(analysed.Select(t => t.Term));
            }
            (and, not) = (false, false);
            if (clauses.Count == MaxClauses)
            {
                break;
            }
        }

        if (!clauses.Any(c => c.Occur != Occur.MUST_NOT))
        {
            return new LocalQuery(null, terms);
        }
        var query = new BooleanQuery();
        foreach (var (clause, occur) in clauses)
        {
            query.Add(clause, occur);
        }
        return new LocalQuery(query, terms);
    }

    /// <summary>One term, or the terms in order as a phrase, in any of the fields.</summary>
    private static BooleanQuery InAnyField(List<(string Term, int Position)> analysed, IReadOnlyList<(string Field, float Boost)> fields)
    {
        var any = new BooleanQuery();
        foreach (var (field, boost) in fields)
        {
            Query query;
            if (analysed.Count == 1)
            {
                query = new TermQuery(new Term(field, analysed[0].Term));
            }
            else
            {
                var phrase = new PhraseQuery();
                foreach (var (term, position) in analysed)
                {
                    phrase.Add(new Term(field, term), position);
                }
                query = phrase;
            }
            query.Boost = boost;
            any.Add(query, Occur.SHOULD);
        }
        return any;
    }

    /// <summary>Analysed terms with their positions (a dropped stop word leaves a gap, as it does in the index).</summary>
    private static List<(string Term, int Position)> Analyze(Analyzer analyzer, string field, string text)
    {
        var terms = new List<(string, int)>();
        // The stream must be disposed before this thread asks the analyzer for another one (it is reused per thread).
        using var stream = analyzer.GetTokenStream(field, text);
        var term = stream.AddAttribute<ICharTermAttribute>();
        var increment = stream.AddAttribute<IPositionIncrementAttribute>();
        stream.Reset();
        var position = -1;
        while (terms.Count < MaxPhraseTerms && stream.IncrementToken())
        {
            position += increment.PositionIncrement;
            terms.Add((term.ToString(), position));
        }
        stream.End();
        if (terms.Count > 0 && terms[0].Item2 > 0)
        {
            var first = terms[0].Item2;
            terms = terms.Select(t => (t.Item1, t.Item2 - first)).ToList();
        }
        return terms;
    }

    private enum TokenKind
    {
        Words,
        And,
        Or,
        Not,
    }

    private readonly record struct Token(TokenKind Kind, string Text, char Modifier);

    /// <summary>
    /// Lucene's syntax characters separate words like spaces do (the analyser would keep "title:alpha" as one
    /// unmatchable word; split, it finds alpha).
    /// </summary>
    private static bool IsSeparator(char c) => char.IsWhiteSpace(c) || c is ':' or '*' or '?' or '~' or '^' or '(' or ')' or '[' or ']' or '{' or '}' or '\\' or '/';

    /// <summary>Splits into words, keeping "quoted text" (to the closing quote, or the end) together.</summary>
    private static IEnumerable<Token> Tokens(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            if (IsSeparator(text[i]))
            {
                i++;
                continue;
            }
            var modifier = '\0';
            if (text[i] is '+' or '-' && i + 1 < text.Length && !IsSeparator(text[i + 1]))
            {
                modifier = text[i];
                i++;
            }
            if (text[i] == '"')
            {
                var close = text.IndexOf('"', i + 1);
                var end = close < 0 ? text.Length : close;
                yield return new Token(TokenKind.Words, text[(i + 1)..end], modifier);
                i = end + 1;
                continue;
            }
            var start = i;
            while (i < text.Length && !IsSeparator(text[i]) && text[i] != '"')
            {
                i++;
            }
            var word = text[start..i];
            yield return (modifier, word) switch
            {
                ('\0', "AND") => new Token(TokenKind.And, word, modifier),
                ('\0', "OR") => new Token(TokenKind.Or, word, modifier),
                ('\0', "NOT") => new Token(TokenKind.Not, word, modifier),
                _ => new Token(TokenKind.Words, word, modifier),
            };
        }
    }
}
