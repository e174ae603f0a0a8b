using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orleans.Search.Gateway.FrontDoor;
using Orleans.Search.Providers;

namespace Orleans.Search.Gateway.Api;

/// <summary>Validates a <see cref="JobSpec"/> against the API's rules (README) and turns it into a <see cref="JobSubmission"/>.</summary>
public sealed class JobRequests(IOptionsMonitor<SearchOptions> search, TimeProvider time)
{
    public const int MaxQueryLength = 1000;
    public const int MaxQueries = 50;
    public const int MaxPages = 10;
    public const int MaxWaitSeconds = 300;
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>A problem names at most this many fields: validation stops there.</summary>
    public const int MaxErrors = 20;

    /// <summary>Cursors this API gives out are about 90 characters.</summary>
    public const int MaxCursorLength = 128;

    /// <summary>An event id is a non-negative <see cref="long"/>.</summary>
    public const int MaxEventIdDigits = 19;

    /// <summary>Field name → messages; empty when the spec is valid.</summary>
    public Dictionary<string, string[]> Validate(JobSpec spec)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string field, string message)
        {
            if (errors.Count < MaxErrors)
            {
                errors[field] = [message];
            }
        }

        if (spec.Query is not null && spec.Queries is not null)
        {
            Add("query", "Give either 'query' or 'queries', not both.");
        }
        else if (spec.Query is null && spec.Queries is null)
        {
            Add("query", $"Give 'query' (1–{MaxQueryLength} characters) or 'queries' (1–{MaxQueries} of them).");
        }
        else if (spec.Query is { } query)
        {
            if (QueryError(query) is { } error)
            {
                Add("query", $"'query' {error}.");
            }
        }
        else if (spec.Queries is { } queries)
        {
            if (queries.Count is 0 or > MaxQueries)
            {
                Add("queries", $"'queries' must hold 1–{MaxQueries} queries; it has {queries.Count}.");
            }
            for (var i = 0; i < queries.Count && errors.Count < MaxErrors; i++)
            {
                if (QueryError(queries[i]) is { } error)
                {
                    Add($"queries[{i}]", $"'queries[{i}]' {error}.");
                }
            }
        }

        var providers = search.CurrentValue.Providers;
        if (spec.Provider is { } provider && !providers.ContainsKey(provider))
        {
            Add("provider", $"Unknown provider '{FrontDoorProblems.Shorten(provider)}'. Configured providers: {string.Join(", ", providers.Keys.Order())}.");
        }
        if (spec.Pages is { } pages && pages is < 1 or > MaxPages)
        {
            Add("pages", $"'pages' must be between 1 and {MaxPages}; it is {pages}.");
        }
        if (spec.WaitSeconds is { } wait && wait is < 0 or > MaxWaitSeconds)
        {
            Add("waitSeconds", $"'waitSeconds' must be between 0 and {MaxWaitSeconds}; it is {wait}.");
        }
        return errors;
    }

    public static string? ValidateIdempotencyKey(string? key) =>
        key is null ? null
        : key.Length is 0 or > MaxIdempotencyKeyLength || key.Any(char.IsControl)
            ? $"The Idempotency-Key header must be 1–{MaxIdempotencyKeyLength} printable characters."
            : null;

    /// <summary>
    /// <c>Last-Event-ID</c> (header or query): the decimal id of an event the stream sent. Null when it is absent or
    /// well-formed (then in <paramref name="after"/>), else the problem, echoing only the start of the value.
    /// </summary>
    public static string? ParseLastEventId(string? text, out long after)
    {
        after = 0;
        if (string.IsNullOrEmpty(text)
            || text.Length <= MaxEventIdDigits && text.All(char.IsAsciiDigit) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            return null;
        }
        return $"'Last-Event-ID' must be an event id this stream sent (a whole number of at most {MaxEventIdDigits} digits); it is '{FrontDoorProblems.Shorten(text, 24)}'.";
    }

    /// <summary>A list cursor as this API gives them out: short, decodable, and naming a well-formed job id.</summary>
    public static bool IsWellFormedCursor(string cursor) =>
        cursor.Length <= MaxCursorLength && JobListCursor.TryParse(cursor, out var position) && IsWellFormedJobId(position.JobId);

    /// <summary>A valid spec as a submission. With an idempotency key the job id is derived from it, so a retry finds the same job.</summary>
    public JobSubmission ToSubmission(JobSpec spec, string owner, string? idempotencyKey)
    {
        var queries = spec.Query is { } q ? [q] : spec.Queries!.ToList();
        var provider = spec.Provider ?? search.CurrentValue.DefaultProvider;
        var pages = spec.Pages ?? 1;
        var cache = spec.Cache ?? true;
        var fingerprint = Hash(JsonSerializer.Serialize(new { queries, provider = provider.ToLowerInvariant(), pages, cache }));
        var jobId = idempotencyKey is null
            ? Guid.CreateVersion7().ToString("N")
            : Hash($"{owner}\u001f{idempotencyKey}")[..32];
        return new JobSubmission
        {
            JobId = jobId,
            Owner = owner,
            Queries = queries,
            Provider = providers(provider),
            Pages = pages,
            Fingerprint = fingerprint,
            CreatedAt = time.GetUtcNow(),
            UseCache = cache,
        };

        string providers(string name) => search.CurrentValue.Providers.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
    }

    /// <summary>Job ids are ours (hex), so anything else cannot name a job.</summary>
    public static bool IsWellFormedJobId(string id) => id.Length is > 0 and <= 64 && id.All(char.IsAsciiLetterOrDigit);

    private static string? QueryError(string? query) =>
        query is null ? "must not be null"
        : string.IsNullOrWhiteSpace(query) ? "must not be blank"
        : query.Length > MaxQueryLength ? $"must be at most {MaxQueryLength} characters; it has {query.Length}"
        : null;

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
