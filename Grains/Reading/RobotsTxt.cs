using System.Globalization;
using System.Text;

namespace Orleans.Search.Reading;

/// <summary>
/// A parsed robots.txt (RFC 9309) as it applies to one user agent: the rules of the most specific matching group
/// (every group naming our product token, combined; else the <c>*</c> groups; else none), matched longest first with
/// <c>Allow</c> winning ties, <c>*</c> and <c>$</c> wildcards supported. <c>Crawl-delay</c> (not in the RFC, widely
/// used) is read from the same groups.
/// </summary>
public sealed class RobotsTxt
{
    private readonly List<(string Pattern, bool Allow)> _rules;

    private RobotsTxt(List<(string Pattern, bool Allow)> rules, TimeSpan? crawlDelay, bool disallowAll)
    {
        _rules = rules;
        CrawlDelay = crawlDelay;
        DisallowAll = disallowAll;
    }

    /// <summary>No rules: every path allowed (robots.txt absent, or a 4xx).</summary>
    public static RobotsTxt AllowAll { get; } = new([], null, false);

    /// <summary>Every path disallowed (robots.txt unreachable, or a 5xx).</summary>
    public static RobotsTxt DisallowEverything { get; } = new([], null, true);

    public TimeSpan? CrawlDelay { get; }

    public bool DisallowAll { get; }

    /// <summary>Parses <paramref name="content"/> for the crawler whose product token is <paramref name="productToken"/>.</summary>
    public static RobotsTxt Parse(string content, string productToken)
    {
        var groups = new List<(List<string> Agents, List<(string, bool)> Rules, List<double> Delays)>();
        (List<string> Agents, List<(string, bool)> Rules, List<double> Delays)? current = null;
        var lastWasAgent = false;
        foreach (var rawLine in content.Split('\n'))
        {
            var line = rawLine;
            var hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }
            var colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }
            var key = line[..colon].Trim().ToLowerInvariant();
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "user-agent":
                    if (current is null || !lastWasAgent)
                    {
                        current = ([], [], []);
                        groups.Add(current.Value);
                    }
                    current.Value.Agents.Add(value);
                    lastWasAgent = true;
                    break;
                case "allow" or "disallow" when current is not null:
                    // An empty Disallow allows everything; an empty Allow means nothing.
                    if (value.Length > 0)
                    {
                        current.Value.Rules.Add((NormalizePattern(value), key == "allow"));
                    }
                    lastWasAgent = false;
                    break;
                case "crawl-delay" when current is not null:
                    if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && seconds >= 0)
                    {
                        current.Value.Delays.Add(seconds);
                    }
                    lastWasAgent = false;
                    break;
                default:
                    // Sitemap and unknown keys do not end a run of user-agent lines for our purposes, but rules follow them.
                    lastWasAgent = lastWasAgent && key != "sitemap";
                    break;
            }
        }
        var token = productToken.Trim();
        var chosen = groups.Where(g => g.Agents.Any(a => a.Equals(token, StringComparison.OrdinalIgnoreCase))).ToList();
        if (chosen.Count == 0)
        {
            chosen = groups.Where(g => g.Agents.Any(a => a == "*")).ToList();
        }
        var rules = chosen.SelectMany(g => g.Rules).ToList();
        var delays = chosen.SelectMany(g => g.Delays).ToList();
        return new RobotsTxt(rules, delays.Count == 0 ? null : TimeSpan.FromSeconds(Math.Min(delays.Max(), 86_400)), false);
    }

    /// <summary>Whether the path and query of <paramref name="url"/> may be fetched.</summary>
    public bool IsAllowed(Uri url)
    {
        if (DisallowAll)
        {
            return false;
        }
        var path = NormalizePattern(url.PathAndQuery.Length == 0 ? "/" : url.PathAndQuery);
        if (path == "/robots.txt")
        {
            return true;
        }
        var bestLength = -1;
        var allowed = true;
        foreach (var (pattern, allow) in _rules)
        {
            if (pattern.Length < bestLength || (pattern.Length == bestLength && !allow) || !Matches(pattern, path))
            {
                continue;
            }
            allowed = pattern.Length > bestLength ? allow : allowed || allow;
            bestLength = pattern.Length;
        }
        return allowed;
    }

    /// <summary>
    /// Percent-encodes what is not printable ASCII (as UTF-8) and upper-cases percent escapes, so that a pattern and
    /// a path written differently compare as the same octets.
    /// </summary>
    private static string NormalizePattern(string value)
    {
        var builder = new StringBuilder(value.Length);
        var bytes = Encoding.UTF8.GetBytes(value);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (b == '%' && i + 2 < bytes.Length && Uri.IsHexDigit((char)bytes[i + 1]) && Uri.IsHexDigit((char)bytes[i + 2]))
            {
                builder.Append('%').Append(char.ToUpperInvariant((char)bytes[i + 1])).Append(char.ToUpperInvariant((char)bytes[i + 2]));
                i += 2;
            }
            else if (b <= 0x20 || b >= 0x7f)
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }
        return builder.ToString();
    }

    /// <summary>
    /// Prefix match with <c>*</c> (any run of characters) and a final <c>$</c> (end of the path). Greedy with one
    /// backtrack point, so the cost is bounded by pattern length × path length.
    /// </summary>
    public static bool Matches(string pattern, string path)
    {
        var anchored = pattern.EndsWith('$');
        var p = anchored ? pattern[..^1] : pattern;
        int pi = 0, si = 0, star = -1, mark = 0;
        while (si < path.Length)
        {
            if (pi == p.Length && !anchored)
            {
                return true;
            }
            if (pi < p.Length && p[pi] == '*')
            {
                star = pi++;
                mark = si;
            }
            else if (pi < p.Length && p[pi] == path[si])
            {
                pi++;
                si++;
            }
            else if (star >= 0)
            {
                pi = star + 1;
                si = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (pi < p.Length && p[pi] == '*')
        {
            pi++;
        }
        return pi == p.Length;
    }
}
