using System.Data.Common;
using Orleans.Search.Storage;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// Deletes a job stream's registry row from <c>OrleansStorage</c> directly: the registry grain is internal to Orleans
/// and has no "forget this stream" call. The registry's activation may still hold the row in memory; the pub-sub store's
/// <see cref="StreamRegistryGrainStorage"/> makes its next write or clear of it find the stream erased rather than fail.
/// The lookup is by type and key (the table's index leads with Orleans' own hash of the grain id), one scan per delete.
/// </summary>
internal sealed class AdoStreamRegistryStore(Func<DbConnection> connect, string serviceId, SqliteWriteLock? writeLock) : IStreamRegistryStore
{
    public Task EraseJobStreamAsync(string jobId, CancellationToken cancellationToken = default) =>
        writeLock is null ? EraseAsync(jobId, cancellationToken) : writeLock.TakeTurnAsync(() => EraseAsync(jobId, cancellationToken));

    private async Task EraseAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var connection = connect();
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            DELETE FROM OrleansStorage
            WHERE ServiceId = @service AND GrainTypeString = @type AND GrainIdExtensionString = @key
            """;
        Add(command, "service", serviceId);
        Add(command, "type", StreamRegistryKeys.StateName);
        Add(command, "key", StreamRegistryKeys.ForJob(jobId));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
