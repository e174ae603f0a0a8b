using Microsoft.Data.Sqlite;

namespace Orleans.Search.Bench;

/// <summary>
/// Counts the service's storage writes from outside: every grain-state write bumps its row's Version by one,
/// so the sum of versions per grain type, before and after a run, is the number of writes in between.
/// </summary>
public sealed class StorageProbe(string databasePath)
{
    public async Task<Dictionary<string, long>> WritesByGrainTypeAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        if (!File.Exists(databasePath))
        {
            return result;
        }
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT GrainTypeString, SUM(IFNULL(Version, 0)) FROM OrleansStorage GROUP BY GrainTypeString";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[Shorten(reader.GetString(0))] = reader.GetInt64(1);
        }
        return result;
    }

    public static Dictionary<string, long> Delta(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after) =>
        after.Select(kv => (kv.Key, Value: kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(kv => kv.Value > 0)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    // "Orleans.Search.Queries.QueryGrain,Orleans.Search.Grains" and the like → "QueryGrain".
    private static string Shorten(string grainType)
    {
        var name = grainType.Split(',')[0];
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? name[(dot + 1)..] : name;
    }
}
