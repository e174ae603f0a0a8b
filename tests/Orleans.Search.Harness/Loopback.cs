using System.Net;
using System.Net.Sockets;

namespace Orleans.Search.Harness;

public static class Loopback
{
    /// <summary>
    /// A TCP port free on 127.0.0.1 right now, for servers that must be told their port (Orleans silo and gateway
    /// ports). It may be taken before it is bound: callers start again on fresh ports when that happens.
    /// </summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A SQLite database file in a fresh temp folder, removed afterwards.</summary>
public sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Folder = Directory.CreateTempSubdirectory("orleans-search-test-").FullName;
    }

    public string Folder { get; }

    public string ConnectionString => $"Data Source={Path.Combine(Folder, "orleans-search.db")}";

    public void Dispose()
    {
        try
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
