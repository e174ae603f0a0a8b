namespace Orleans.Search.Tests.Infrastructure;

public static class TestJobs
{
    /// <summary>A submission with a fresh id; queries get a unique prefix so a shared fake can count them per test.</summary>
    public static JobSubmission Submission(IReadOnlyList<string> queries, int pages, string provider = "web", string owner = "tester") => new()
    {
        JobId = Guid.NewGuid().ToString("N"),
        Owner = owner,
        Queries = queries,
        Provider = provider,
        Pages = pages,
        Fingerprint = Guid.NewGuid().ToString("N"),
        CreatedAt = DateTimeOffset.UtcNow,
    };

    public static IReadOnlyList<string> UniqueQueries(string label, int count)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        return Enumerable.Range(1, count).Select(i => $"{label} {run} q{i}").ToList();
    }

    /// <summary>Events are well formed: sequence strictly increasing, progress never falling, 100 only when completed.</summary>
    public static void AssertWellOrdered(IReadOnlyList<JobEvent> events)
    {
        for (var i = 1; i < events.Count; i++)
        {
            Assert.True(events[i].Seq > events[i - 1].Seq, $"seq {events[i].Seq} after {events[i - 1].Seq}");
            Assert.True(events[i].Progress >= events[i - 1].Progress, $"progress fell from {events[i - 1].Progress} to {events[i].Progress} at seq {events[i].Seq}");
        }
        Assert.All(events.Where(e => e.Progress >= 100), e => Assert.Equal(JobEventTypes.Completed, e.Type));
    }
}
