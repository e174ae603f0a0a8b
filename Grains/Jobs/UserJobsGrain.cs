using System.Globalization;
using Orleans.Search.Storage;

namespace Orleans.Search.Jobs;

/// <summary>Index state: one line per job, newest first.</summary>
public sealed class UserJobsState
{
    public List<JobSummary> Jobs { get; set; } = [];
}

public sealed class UserJobsGrain(
    [PersistentState("user-jobs", SearchStorage.Name)] IPersistentState<UserJobsState> state,
    TimeProvider time) : Grain, IUserJobsGrain
{
    /// <summary>A reservation outlives a gateway that died between admitting and submitting a job only this long.</summary>
    private static readonly TimeSpan ReservationLifetime = TimeSpan.FromMinutes(1);

    /// <summary>Jobs admitted but maybe not indexed yet, with when their reservation lapses. In memory: they last a request.</summary>
    private readonly Dictionary<string, DateTimeOffset> _reservations = [];

    private List<JobSummary> Jobs => state.State.Jobs;

    async Task IUserJobsGrain.UpsertAsync(JobSummary summary)
    {
        var index = Jobs.FindIndex(j => j.JobId == summary.JobId);
        if (index >= 0)
        {
            if (Jobs[index] == summary)
            {
                return;
            }
            Jobs.RemoveAt(index);
        }
        var position = Jobs.FindIndex(j => Compare(summary, j) < 0);
        Jobs.Insert(position < 0 ? Jobs.Count : position, summary);
        await state.WriteStateAsync();
    }

    async Task IUserJobsGrain.RemoveAsync(string jobId)
    {
        if (Jobs.RemoveAll(j => j.JobId == jobId) > 0)
        {
            await state.WriteStateAsync();
        }
    }

    Task<JobList> IUserJobsGrain.ListAsync(string? status, int limit, string? cursor)
    {
        IEnumerable<JobSummary> query = Jobs;
        if (Cursor.TryParse(cursor, out var after))
        {
            query = query.Where(j => Compare(j, after) > 0);
        }
        if (status is not null)
        {
            query = query.Where(j => j.Status == status);
        }
        var page = query.Take(limit + 1).ToList();
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(page.Count - 1);
        }
        return Task.FromResult(new JobList { Items = page, NextCursor = more ? Cursor.Format(page[^1]) : null });
    }

    Task<int> IUserJobsGrain.CountActiveAsync() =>
        Task.FromResult(Jobs.Count(j => !JobStates.IsTerminal(j.Status)));

    Task<JobAdmission> IUserJobsGrain.TryReserveAsync(string jobId, int maxActive)
    {
        var now = time.GetUtcNow();
        foreach (var lapsed in _reservations.Where(r => r.Value <= now).Select(r => r.Key).ToList())
        {
            _reservations.Remove(lapsed);
        }
        var indexed = Jobs.Select(j => j.JobId).ToHashSet();
        var active = Jobs.Count(j => !JobStates.IsTerminal(j.Status)) + _reservations.Keys.Count(id => !indexed.Contains(id));
        var known = indexed.Contains(jobId) || _reservations.ContainsKey(jobId);
        if (!known && maxActive > 0 && active >= maxActive)
        {
            return Task.FromResult(new JobAdmission { Admitted = false, Active = active });
        }
        _reservations[jobId] = now + ReservationLifetime;
        return Task.FromResult(new JobAdmission { Admitted = true, Active = active });
    }

    Task IUserJobsGrain.ReleaseReservationAsync(string jobId)
    {
        _reservations.Remove(jobId);
        return Task.CompletedTask;
    }

    /// <summary>Newest first; ties broken by id so the order (and so the cursor) is total.</summary>
    private static int Compare(JobSummary a, JobSummary b) => Compare(a.CreatedAt, a.JobId, b.CreatedAt, b.JobId);

    private static int Compare(JobSummary a, (DateTimeOffset CreatedAt, string JobId) b) => Compare(a.CreatedAt, a.JobId, b.CreatedAt, b.JobId);

    private static int Compare(DateTimeOffset aTime, string aId, DateTimeOffset bTime, string bId)
    {
        var byTime = bTime.CompareTo(aTime);
        return byTime != 0 ? byTime : string.CompareOrdinal(bId, aId);
    }

    /// <summary>An opaque cursor: the creation time and id of the last item returned.</summary>
    public static class Cursor
    {
        public static string Format(JobSummary last) =>
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{last.CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{last.JobId}"))
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
                var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64));
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
}
