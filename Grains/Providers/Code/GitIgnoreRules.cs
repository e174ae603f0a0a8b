using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Search.Providers.Code;

/// <summary>
/// The rules of one <c>.gitignore</c> file, matched the way git does for the common forms: <c>#</c> comments,
/// <c>!</c> negation, a trailing <c>/</c> for directories only, a <c>/</c> at the start or in the middle anchoring the
/// pattern to the file's folder (else it matches a name at any depth), <c>*</c>, <c>?</c>, <c>[…]</c> and <c>**</c>.
/// </summary>
public sealed class GitIgnoreRules
{
    private readonly List<Rule> _rules;

    private GitIgnoreRules(List<Rule> rules) => _rules = rules;

    public bool IsEmpty => _rules.Count == 0;

    public static GitIgnoreRules Parse(IEnumerable<string> lines)
    {
        var rules = new List<Rule>();
        foreach (var raw in lines)
        {
            var line = TrimTrailingSpaces(raw);
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var negated = line[0] == '!';
            if (negated)
            {
                line = line[1..];
            }
            else if (line.StartsWith(@"\!", StringComparison.Ordinal) || line.StartsWith(@"\#", StringComparison.Ordinal))
            {
                line = line[1..];
            }
            var directoryOnly = line.EndsWith('/');
            line = line.TrimEnd('/');
            if (line.Length == 0)
            {
                continue;
            }
            var anchored = line.Contains('/');
            line = line.TrimStart('/');
            var regex = new Regex("^" + ToRegex(line) + "$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            rules.Add(new Rule(regex, negated, directoryOnly, anchored));
        }
        return new GitIgnoreRules(rules);
    }

    /// <summary>
    /// What these rules say about a path (relative to the folder of the <c>.gitignore</c>, with <c>/</c> separators):
    /// true ignored, false re-included by a negation, null when no rule matches. The last matching rule wins.
    /// </summary>
    public bool? Match(string relativePath, bool isDirectory)
    {
        var name = relativePath[(relativePath.LastIndexOf('/') + 1)..];
        for (var i = _rules.Count - 1; i >= 0; i--)
        {
            var rule = _rules[i];
            if (rule.DirectoryOnly && !isDirectory)
            {
                continue;
            }
            if (rule.Pattern.IsMatch(rule.Anchored ? relativePath : name))
            {
                return !rule.Negated;
            }
        }
        return null;
    }

    private static string TrimTrailingSpaces(string line)
    {
        var end = line.Length;
        while (end > 0 && line[end - 1] is ' ' or '\t' or '\r' && !(end > 1 && line[end - 2] == '\\'))
        {
            end--;
        }
        return line[..end];
    }

    private static string ToRegex(string glob)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '*' when i + 1 < glob.Length && glob[i + 1] == '*':
                    i++;
                    if (i + 1 < glob.Length && glob[i + 1] == '/')
                    {
                        // "**/" is zero or more folders.
                        i++;
                        regex.Append("(?:.*/)?");
                    }
                    else
                    {
                        regex.Append(".*");
                    }
                    break;
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case '[':
                    var close = glob.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        regex.Append(@"\[");
                        break;
                    }
                    var body = glob[(i + 1)..close];
                    regex.Append('[').Append(body[0] == '!' ? "^" + Escaped(body[1..]) : Escaped(body)).Append(']');
                    i = close;
                    break;
                case '\\' when i + 1 < glob.Length:
                    i++;
                    regex.Append(Regex.Escape(glob[i].ToString()));
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return regex.ToString();
    }

    // Inside a class only the backslash and a leading caret mean something to .NET that they do not to git.
    private static string Escaped(string classBody) => classBody.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal);

    private sealed record Rule(Regex Pattern, bool Negated, bool DirectoryOnly, bool Anchored);
}
