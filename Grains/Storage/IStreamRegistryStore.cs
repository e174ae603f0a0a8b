namespace Orleans.Search.Storage;

/// <summary>
/// Orleans' pub-sub registry of the progress streams: one stored row per stream (its producers and subscribers), which
/// the streaming runtime writes and, left alone, keeps until the stream has been quiet for a while. A deleted job
/// erases its stream's row with everything else it stored.
/// </summary>
public interface IStreamRegistryStore
{
    /// <summary>Deletes the registry row of <paramref name="jobId"/>'s progress stream; nothing happens when there is none.</summary>
    Task EraseJobStreamAsync(string jobId, CancellationToken cancellationToken = default);
}

/// <summary>How Orleans' stream registry (its <c>PubSubRendezvousGrain</c>) keys and names what it stores.</summary>
public static class StreamRegistryKeys
{
    /// <summary>The state name the registry stores its rows under (<c>GrainTypeString</c> in <c>OrleansStorage</c>).</summary>
    public const string StateName = "PubSubRendezvousGrain";

    /// <summary>The registry grain's type.</summary>
    public const string GrainType = "pubsubrendezvous";

    /// <summary>The start of every job stream's registry key: <c>{provider}/{namespace}/</c>.</summary>
    public const string JobStreamPrefix = $"{SearchStreams.ProviderName}/{SearchStreams.JobNamespace}/";

    /// <summary>The registry key of a job's progress stream: the stream provider's name, then the stream id.</summary>
    public static string ForJob(string jobId) => $"{SearchStreams.ProviderName}/{SearchStreams.ForJob(jobId)}";
}
