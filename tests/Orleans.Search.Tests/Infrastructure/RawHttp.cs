using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>A response as read off the wire.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// HTTP/1.1 over a bare loopback socket, so a test can send a body other than its headers promise (a Content-Length
/// it never delivers, chunks that keep coming) and still read the server's answer.
/// </summary>
public static class RawHttp
{
    /// <summary>Sends <paramref name="head"/> (request line and headers, without the blank line), lets <paramref name="writeBody"/>
    /// write to the connection, then reads the response; fails if none comes within <paramref name="timeout"/>.</summary>
    public static async Task<RawResponse> SendAsync(Uri server, string head, Func<Stream, CancellationToken, Task> writeBody, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, deadline.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.TrimEnd('\r', '\n') + "\r\n\r\n"), deadline.Token);
        await writeBody(stream, deadline.Token);
        await stream.FlushAsync(deadline.Token);
        try
        {
            return await ReadResponseAsync(stream, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"No response within {timeout.TotalSeconds:0} s to: {head.Split("\r\n")[0]}");
        }
    }

    /// <summary>One chunk of a chunked body.</summary>
    public static async Task WriteChunkAsync(Stream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(data.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), cancellationToken);
        await stream.WriteAsync(data, cancellationToken);
        await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
    }

    private static async Task<RawResponse> ReadResponseAsync(Stream stream, CancellationToken cancellationToken)
    {
        var reader = new BufferedReader(stream);
        var statusLine = await reader.ReadLineAsync(cancellationToken) ?? throw new IOException("The server closed the connection without a response.");
        var status = int.Parse(statusLine.Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var body = new MemoryStream();
        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var size = int.Parse((await reader.ReadLineAsync(cancellationToken))!.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    break;
                }
                await reader.CopyAsync(body, size, cancellationToken);
                await reader.ReadLineAsync(cancellationToken);
            }
        }
        else if (headers.TryGetValue("Content-Length", out var length))
        {
            await reader.CopyAsync(body, int.Parse(length, CultureInfo.InvariantCulture), cancellationToken);
        }
        return new RawResponse(status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private sealed class BufferedReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    return line.Length > 0 ? line.ToString() : null;
                }
                var b = _buffer[_start++];
                if (b == '\n')
                {
                    return line.ToString().TrimEnd('\r');
                }
                line.Append((char)b);
            }
        }

        public async Task CopyAsync(Stream destination, int count, CancellationToken cancellationToken)
        {
            while (count > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    throw new IOException("The server closed the connection in the middle of the body.");
                }
                var n = Math.Min(count, _end - _start);
                destination.Write(_buffer, _start, n);
                _start += n;
                count -= n;
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken);
            return _end > 0;
        }
    }
}
