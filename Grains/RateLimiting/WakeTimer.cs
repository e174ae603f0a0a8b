namespace Orleans.Search.RateLimiting;

/// <summary>
/// A limiter grain's one-shot alarm: wakes the grain when the next queued caller can be served (a token due, a pause
/// over). Asking for a later time than the one already set changes nothing; an earlier one moves the alarm.
/// </summary>
public sealed class WakeTimer(TimeProvider time)
{
    private IGrainTimer? _timer;
    private DateTimeOffset _at = DateTimeOffset.MaxValue;

    private DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Calls <paramref name="onWake"/> on <paramref name="owner"/>'s scheduler at <paramref name="at"/> (or earlier if already set so).</summary>
    public void WakeAt(IGrainBase owner, DateTimeOffset at, Action<DateTimeOffset> onWake)
    {
        if (_timer is not null && _at <= at)
        {
            return;
        }
        _timer?.Dispose();
        _at = at;
        var due = at - Now;
        _timer = owner.RegisterGrainTimer(static (state, _) =>
        {
            var self = state.self;
            self._timer?.Dispose();
            self._timer = null;
            self._at = DateTimeOffset.MaxValue;
            state.onWake(self.Now);
            return Task.CompletedTask;
        }, (self: this, onWake), new GrainTimerCreationOptions(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true });
    }
}
