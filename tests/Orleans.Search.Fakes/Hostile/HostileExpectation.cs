using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>What a hostile case must get back.</summary>
public sealed record HostileExpectation
{
    /// <summary>Error bodies larger than this are themselves a failure: validation reports a bounded number of errors.</summary>
    public const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>This exact status; when null, any 4xx.</summary>
    public int? Status { get; init; }

    /// <summary>An RFC 9457 <c>application/problem+json</c> whose <c>status</c> matches and whose <c>detail</c> says something.</summary>
    public bool Problem { get; init; }

    /// <summary>The problem's <c>errors</c> has this member and its <c>detail</c> names it.</summary>
    public string? Field { get; init; }

    public bool RetryAfter { get; init; }

    /// <summary>A 202 whose job (its <c>jobId</c>) must end <c>completed</c> promptly: the runner follows it.</summary>
    public bool JobCompletes { get; init; }

    /// <summary>The server may hang up instead of answering (bytes that are not HTTP).</summary>
    public bool MayClose { get; init; }

    public override string ToString()
    {
        var text = new StringBuilder(Status is { } s ? s.ToString(CultureInfo.InvariantCulture) : "4xx");
        if (Problem)
        {
            text.Append(" problem");
        }
        if (Field is not null)
        {
            text.Append(" naming '").Append(Field).Append('\'');
        }
        if (RetryAfter)
        {
            text.Append(" with Retry-After");
        }
        if (JobCompletes)
        {
            text.Append(", job completes");
        }
        if (MayClose)
        {
            text.Append(" (or the connection closes)");
        }
        return text.ToString();
    }

    /// <summary>Null when <paramref name="outcome"/> is as expected, else what is wrong. <paramref name="jobId"/> is the accepted job's id.</summary>
    public string? Judge(RawHttpOutcome outcome, out string? jobId)
    {
        jobId = null;
        if (outcome.Response is not { } response)
        {
            return MayClose && outcome.Failure is { } f && !f.StartsWith("timeout", StringComparison.Ordinal) ? null : $"no answer ({outcome.Failure})";
        }
        var got = $"{response.Status} {Shorten(response.Body)}";
        if (Status is { } status ? response.Status != status : response.Status is < 400 or > 499)
        {
            return $"expected {this}, got {got}";
        }
        if (response.Status >= 400 && (!response.BodyComplete || Encoding.UTF8.GetByteCount(response.Body) > MaxErrorBodyBytes))
        {
            return $"the error body is not bounded (over {MaxErrorBodyBytes} bytes or endless): {Shorten(response.Body)}";
        }
        if (RetryAfter && !IsRetryAfter(response.Header("Retry-After")))
        {
            return $"no valid Retry-After (got '{response.Header("Retry-After")}'): {got}";
        }
        if (Problem || Field is not null)
        {
            if (response.MediaType != "application/problem+json")
            {
                return $"expected application/problem+json, got '{response.MediaType}': {got}";
            }
            try
            {
                using var problem = JsonDocument.Parse(response.Body);
                var root = problem.RootElement;
                if (!root.TryGetProperty("status", out var s) || s.ValueKind != JsonValueKind.Number || s.GetInt32() != response.Status)
                {
                    return $"the problem's status does not match: {got}";
                }
                var detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                if (string.IsNullOrWhiteSpace(detail))
                {
                    return $"the problem has no detail: {got}";
                }
                if (Field is { } field)
                {
                    var named = root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object && errors.TryGetProperty(field, out _);
                    if (!named || !detail.Contains(field, StringComparison.Ordinal))
                    {
                        return $"the problem does not name '{field}' in errors and detail: {got}";
                    }
                }
            }
            catch (JsonException)
            {
                return $"the problem is not JSON: {got}";
            }
        }
        if (JobCompletes)
        {
            try
            {
                using var job = JsonDocument.Parse(response.Body);
                jobId = job.RootElement.TryGetProperty("jobId", out var id) ? id.GetString() : null;
            }
            catch (JsonException)
            {
            }
            if (jobId is null)
            {
                return $"the 202 has no jobId: {got}";
            }
        }
        return null;
    }

    private static bool IsRetryAfter(string? value) =>
        value is not null && (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _));

    private static string Shorten(string body)
    {
        var flat = body.ReplaceLineEndings(" ");
        return flat.Length <= 300 ? flat : flat[..300] + "…";
    }
}
