namespace Orleans.Search.Reading;

/// <summary>The <c>Read</c> section: how result pages are read.</summary>
public sealed class ReadOptions
{
    public const string Section = "Read";

    /// <summary>Pages read at once by one silo, all hosts together.</summary>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>Requests to one host (scheme, name and port) in flight at once from one silo.</summary>
    public int PerHostConcurrency { get; set; } = 2;

    /// <summary>The longest one page read may take (response and body), robots.txt excluded.</summary>
    public double TimeoutSeconds { get; set; } = 15;

    /// <summary>The most bytes of one page read (after decompression); the rest is cut off.</summary>
    public long MaxBytes { get; set; } = 2 * 1024 * 1024;

    public string UserAgent { get; set; } = "OrleansSearch/1.0 (+https://github.com/orleans-search; reader)";

    public bool RespectRobotsTxt { get; set; } = true;

    /// <summary><c>direct</c> (fetch and extract here) or <c>jina</c> (Jina Reader).</summary>
    public string Reader { get; set; } = "direct";

    /// <summary><c>markdown</c> or <c>text</c>.</summary>
    public string Format { get; set; } = "markdown";

    /// <summary>The longest <c>Crawl-delay</c> honoured; a longer one is read as this.</summary>
    public double MaxCrawlDelaySeconds { get; set; } = 30;

    /// <summary>Jina Reader, when <see cref="Reader"/> is <c>jina</c>.</summary>
    public JinaReaderOptions Jina { get; set; } = new();

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    /// <summary>The product token robots.txt groups are matched against: the user agent up to its first '/' or space.</summary>
    public string ProductToken
    {
        get
        {
            var end = UserAgent.IndexOfAny(['/', ' ']);
            return end < 0 ? UserAgent : UserAgent[..end];
        }
    }

    internal static IEnumerable<string> Problems(ReadOptions o)
    {
        if (o.MaxConcurrency < 1)
        {
            yield return "Read:MaxConcurrency must be 1 or more.";
        }
        if (o.PerHostConcurrency < 1)
        {
            yield return "Read:PerHostConcurrency must be 1 or more.";
        }
        if (!double.IsFinite(o.TimeoutSeconds) || o.TimeoutSeconds <= 0)
        {
            yield return "Read:TimeoutSeconds must be positive.";
        }
        if (o.MaxBytes < 1024)
        {
            yield return "Read:MaxBytes must be 1024 or more.";
        }
        if (string.IsNullOrWhiteSpace(o.UserAgent) || o.UserAgent.Any(char.IsControl))
        {
            yield return "Read:UserAgent must be a non-empty header value.";
        }
        if (o.Reader is not ("direct" or "jina"))
        {
            yield return "Read:Reader must be direct or jina.";
        }
        if (o.Format is not ("markdown" or "text"))
        {
            yield return "Read:Format must be markdown or text.";
        }
        if (!double.IsFinite(o.MaxCrawlDelaySeconds) || o.MaxCrawlDelaySeconds < 0)
        {
            yield return "Read:MaxCrawlDelaySeconds must be 0 or more.";
        }
        if (!Uri.TryCreate(o.Jina.BaseUrl, UriKind.Absolute, out var jina) || (jina.Scheme != "http" && jina.Scheme != "https"))
        {
            yield return "Read:Jina:BaseUrl must be an absolute http(s) URL.";
        }
    }
}

/// <summary>The <c>Read:Jina</c> section.</summary>
public sealed class JinaReaderOptions
{
    public string BaseUrl { get; set; } = "https://r.jina.ai/";

    /// <summary>Optional for the Reader (it raises the rate limit).</summary>
    public string? ApiKey { get; set; }
}
