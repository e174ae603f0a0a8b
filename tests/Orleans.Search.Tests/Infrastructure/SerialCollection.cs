namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// Tests whose promise is about timing under load (no 429 with 200 ms of headroom, a small job finishing first):
/// they run alone, after the parallel collections, so the other collections' silos and gateways do not share the CPU
/// with them. Each class keeps its own fixture.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial: timing-sensitive";
}
