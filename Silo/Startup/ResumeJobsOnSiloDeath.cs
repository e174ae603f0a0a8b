using Orleans.Search.Cluster;
using Orleans.Runtime;

namespace Orleans.Search.Silo;

/// <summary>
/// When another silo is declared dead, pokes every unfinished job, so jobs and queries whose activations died with it
/// resume on a survivor within seconds (a poke re-activates the job grain, which restarts its unfinished query grains
/// from their checkpoints). Without it they would wait for the next lifecycle reminder tick, up to
/// <c>Jobs:ResumeReminderPeriod</c>. Every survivor sweeps; the pokes are idempotent.
/// </summary>
internal sealed partial class ResumeJobsOnSiloDeath(
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    ActiveJobsSweep sweep,
    ILogger<ResumeJobsOnSiloDeath> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private Task _watching = Task.CompletedTask;
    private Task? _sweeping;
    private bool _sweepAgain;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ResumeJobsOnSiloDeath), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _watching = Task.Run(() => WatchAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _watching.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The first snapshot is the baseline: silos already dead then (earlier runs) are not news.
            ClusterMembershipSnapshot? previous = null;
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                if (previous is not null)
                {
                    var died = snapshot.CreateUpdate(previous).Changes
                        .Where(m => m.Status == SiloStatus.Dead
                            && !m.SiloAddress.Equals(localSilo.SiloAddress)
                            && !previous.HasDeclaredDead(m.SiloAddress))
                        .ToList();
                    if (died.Count > 0)
                    {
                        LogSilosDied(logger, string.Join(", ", died.Select(m => m.SiloAddress)));
                        RequestSweep(cancellationToken);
                    }
                }
                previous = snapshot;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogWatchFailed(logger, ex);
        }
    }

    /// <summary>One sweep at a time; a death during a sweep runs one more after it, since the first may have missed its jobs.</summary>
    private void RequestSweep(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_sweeping is not null)
            {
                _sweepAgain = true;
                return;
            }
            _sweeping = Task.Run(() => SweepAsync(cancellationToken), CancellationToken.None);
        }
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await sweep.RunAsync("a silo died", cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, ex);
            }
            catch (OperationCanceledException)
            {
            }
            lock (_lock)
            {
                if (!_sweepAgain || cancellationToken.IsCancellationRequested)
                {
                    _sweeping = null;
                    return;
                }
                _sweepAgain = false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo(s) {Silos} declared dead; resuming unfinished jobs")]
    private static partial void LogSilosDied(ILogger logger, string silos);

    [LoggerMessage(Level = LogLevel.Error, Message = "Watching cluster membership failed; jobs of dead silos resume on their reminders")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Resuming jobs after a silo death failed; they resume on their reminders")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
