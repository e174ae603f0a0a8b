namespace Orleans.Search.Jobs;

/// <summary>What the job should do about its row after a change.</summary>
public enum JobWrite
{
    /// <summary>Nothing is owed.</summary>
    None,

    /// <summary>Write a moment later, with whatever else changes meanwhile.</summary>
    Soon,

    /// <summary>Write now, in the background: the next reports need not wait for the job's own (rebuildable) row.</summary>
    InBackground,

    /// <summary>Storage is far behind: wait for it, so published-but-unstored events stay well under <see cref="CoalescedWrites.SeqGapAfterCrash"/>.</summary>
    NowAndWait,
}

/// <summary>
/// The policy for the job's coalesced writes: creation and terminal states are written at once (by the grain); other
/// changes every <see cref="MaxUnpersistedEvents"/> events or after <see cref="FlushDelay"/>. Tracks what is owed.
/// </summary>
public sealed class CoalescedWrites(long storedSeq)
{
    public const int MaxUnpersistedEvents = 32;

    /// <summary>Sequence numbers skipped after an unclean stop, more than could have been published unpersisted.</summary>
    public const long SeqGapAfterCrash = 1000;

    public static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>After a coalesced write gave up (the database was away for the whole retry window), when to try again.</summary>
    public static readonly TimeSpan FailedFlushRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Changes (events) made since the last successful write.</summary>
    public int Unpersisted { get; private set; }

    /// <summary>Every event before this sequence number is in storage.</summary>
    public long StoredSeq { get; private set; } = storedSeq;

    public void Changed() => Unpersisted++;

    /// <summary>A change that emitted no event (a checkpoint of a stage's result) is owed like one.</summary>
    public void Owe() => Unpersisted = Math.Max(Unpersisted, 1);

    /// <summary>Forget everything owed (the state it described was dropped).</summary>
    public void Reset(long storedSeq)
    {
        Unpersisted = 0;
        StoredSeq = storedSeq;
    }

    /// <summary>What to do after a change, given the next event's sequence number.</summary>
    public JobWrite Decide(long nextSeq) =>
        nextSeq - StoredSeq >= 8 * MaxUnpersistedEvents ? JobWrite.NowAndWait
        : Unpersisted >= MaxUnpersistedEvents ? JobWrite.InBackground
        : Unpersisted > 0 ? JobWrite.Soon
        : JobWrite.None;

    /// <summary>A write of what was owed when it began (<paramref name="settling"/>) stored events before <paramref name="seq"/>.</summary>
    public void Written(int settling, long seq)
    {
        Unpersisted = Math.Max(0, Unpersisted - settling);
        StoredSeq = Math.Max(StoredSeq, seq);
    }
}
