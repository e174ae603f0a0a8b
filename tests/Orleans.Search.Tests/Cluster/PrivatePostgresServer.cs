using System.Diagnostics;
using Npgsql;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// A PostgreSQL 15 server of the test's own: <c>initdb</c> into a fresh temp folder, <c>pg_ctl</c> on a free loopback port.
/// A test may stop and start it at will; the machine's server is never touched, and a failed restart harms no later test.
/// Disposing stops it (immediate mode) and deletes its folder, whatever state the test left it in.
/// The binaries refuse to run as root, so as root they run as the <c>postgres</c> OS user (through runuser).
/// </summary>
public sealed class PrivatePostgresServer : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    private readonly string _folder;

    private PrivatePostgresServer(string folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_folder, "data");

    private string LogFile => Path.Combine(_folder, "server.log");

    /// <summary>Superuser, trust authentication, loopback only: fine for a throwaway server.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Database=postgres;Username=postgres;Timeout=5";

    /// <summary>What the server wrote to its log (for failure messages).</summary>
    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "(no server log)";

    public static async Task<PrivatePostgresServer> StartAsync()
    {
        var folder = Directory.CreateTempSubdirectory("orleans-search-pg-").FullName;
        var server = new PrivatePostgresServer(folder, Loopback.FreePort());
        try
        {
            if (Environment.UserName == "root")
            {
                await RunAsync("chown", ["postgres:postgres", folder]);
            }
            await server.PgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
            // Settings in the data directory, so every later `pg_ctl start` uses them. fsync off: test data only.
            await File.AppendAllTextAsync(Path.Combine(server.DataDirectory, "postgresql.conf"), $"""

                port = {server.Port}
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{folder}'
                max_connections = 100
                shared_buffers = 16MB
                fsync = off
                synchronous_commit = off
                full_page_writes = off

                """);
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>pg_ctl stop -m fast</c>: connections are cut and the server is gone when this returns.</summary>
    public Task StopAsync() => PgAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "60"]);

    /// <summary><c>pg_ctl start</c>, waiting until it accepts connections.</summary>
    public Task StartAgainAsync() => PgAsync("pg_ctl", ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "60"]);

    public async Task<bool> AcceptsConnectionsAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, Timeout = 3 }.ToString());
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (Directory.Exists(DataDirectory) && File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await PgAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", "immediate", "-w", "-t", "30"]);
            }
            catch (Exception)
            {
                // pg_ctl could not stop it: end the postmaster we started ourselves (its pid is the file's first line).
                if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid"))
                    && int.TryParse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).FirstOrDefault(), out var pid))
                {
                    try
                    {
                        using var postmaster = Process.GetProcessById(pid);
                        postmaster.Kill(entireProcessTree: true);
                        await postmaster.WaitForExitAsync();
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                    {
                    }
                }
            }
        }
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Runs a PostgreSQL binary, as the postgres OS user when we are root.</summary>
    private Task PgAsync(string binary, IReadOnlyList<string> arguments) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(BinDirectory, binary), .. arguments], _folder)
            : RunAsync(Path.Combine(BinDirectory, binary), arguments, _folder);

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {CommandTimeout.TotalSeconds:0} s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}
