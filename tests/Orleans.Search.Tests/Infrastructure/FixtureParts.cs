namespace Orleans.Search.Tests.Infrastructure;

/// <summary>What fixtures share when they end.</summary>
internal static class FixtureParts
{
    /// <summary>Disposes <paramref name="parts"/> one after another in the order given (a gateway before the fakes it calls), skipping those that never started.</summary>
    public static async Task DisposeAsync(params IAsyncDisposable?[] parts)
    {
        foreach (var part in parts)
        {
            if (part is not null)
            {
                await part.DisposeAsync();
            }
        }
    }
}
