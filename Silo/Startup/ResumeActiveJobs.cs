namespace Orleans.Search.Silo;

/// <summary>
/// At silo start, pokes every unfinished job so it resumes within seconds; reminders alone would wait for
/// their next period. Runs in the background with retries, so a slow database does not hold up the silo.
/// </summary>
internal sealed class ResumeActiveJobs(ActiveJobsSweep sweep) : IStartupTask
{
    public Task Execute(CancellationToken cancellationToken)
    {
        _ = Task.Run(() => sweep.RunAsync("silo started", CancellationToken.None), CancellationToken.None);
        return Task.CompletedTask;
    }
}
