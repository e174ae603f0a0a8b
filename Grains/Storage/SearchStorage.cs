namespace Orleans.Search.Storage;

/// <summary>Grain storage names.</summary>
public static class SearchStorage
{
    /// <summary>Jobs, queries and indexes: durable (SQLite or PostgreSQL through ADO.NET).</summary>
    public const string Name = "search";

    /// <summary>Stream subscriptions.</summary>
    public const string PubSub = "PubSubStore";
}
