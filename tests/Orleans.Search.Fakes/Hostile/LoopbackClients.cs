using System.Net;
using System.Net.Sockets;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>
/// HTTP clients that connect from a chosen loopback address (127.0.0.2, 127.0.0.3, …: all of 127.0.0.0/8 is loopback on
/// Linux), so a server that limits per remote address sees separate callers while every byte stays on this machine.
/// </summary>
public static class LoopbackClients
{
    /// <summary>127.0.0.<paramref name="n"/>; 1 is the usual 127.0.0.1.</summary>
    public static IPAddress Address(int n) =>
        n is >= 1 and <= 254 ? new IPAddress([127, 0, 0, (byte)n]) : throw new ArgumentOutOfRangeException(nameof(n), n, "127.0.0.1 to 127.0.0.254");

    /// <summary>A client whose connections come from <paramref name="localAddress"/>.</summary>
    public static HttpClient From(IPAddress localAddress, Uri baseAddress, TimeSpan timeout)
    {
        if (!IPAddress.IsLoopback(localAddress) || !baseAddress.IsLoopback)
        {
            throw new ArgumentException("Loopback only.");
        }
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(localAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = timeout };
    }
}
