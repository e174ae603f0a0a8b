using System.Globalization;
using System.Text;

namespace Orleans.Search.Jobs;

/// <summary>
/// The opaque cursor of <see cref="JobList.NextCursor"/>: the creation time and id of the last item returned, as
/// URL-safe base64. The index grain writes it; the API checks a caller's cursor with it before asking the grain.
/// </summary>
public static class JobListCursor
{
    public static string Format(JobSummary last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{last.CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{last.JobId}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryParse(string? cursor, out (DateTimeOffset CreatedAt, string JobId) position)
    {
        position = default;
        if (string.IsNullOrEmpty(cursor))
        {
            return false;
        }
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            var colon = text.IndexOf(':');
            if (colon <= 0 || !long.TryParse(text[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return false;
            }
            position = (new DateTimeOffset(ticks, TimeSpan.Zero), text[(colon + 1)..]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
