namespace Orleans.Search;

/// <summary>Names of the progress stream a job publishes to.</summary>
public static class SearchStreams
{
    /// <summary>The stream provider every silo and client registers.</summary>
    public const string ProviderName = "progress";

    /// <summary>The namespace of job progress streams; the stream key is the job id.</summary>
    public const string JobNamespace = "search-job";

    /// <summary>The stream id of one job's progress.</summary>
    public static StreamId ForJob(string jobId) => StreamId.Create(JobNamespace, jobId);
}
