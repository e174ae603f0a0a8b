namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// Every test that runs a cluster of silo and gateway processes, one at a time: each starts several processes and
/// bounds how fast the cluster reacts to a kill, which two such clusters side by side on a small machine would blur.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresCollection
{
    public const string Name = "PostgreSQL cluster";
}
