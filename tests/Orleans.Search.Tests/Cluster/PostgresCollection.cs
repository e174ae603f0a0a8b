namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// Every test that uses PostgreSQL, one at a time: one of them stops the server for a few seconds,
/// which must not hit another test's cluster.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresCollection
{
    public const string Name = "PostgreSQL cluster";
}
