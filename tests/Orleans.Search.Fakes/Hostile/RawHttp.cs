using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>A response as the raw client read it. Header names are case-insensitive; repeated headers are joined with ", ".</summary>
public sealed record RawHttpResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body, bool BodyComplete)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? MediaType => Header("Content-Type")?.Split(';')[0].Trim();
}

/// <summary>How one raw request went: a response, or why there was none (the connection closed, was reset, or timed out).</summary>
public sealed record RawHttpOutcome(RawHttpResponse? Response, string? Failure, TimeSpan Elapsed)
{
    /// <summary>The status code, or the failure's kind, for counting answers by kind.</summary>
    public string Kind => Response is { } r ? r.Status.ToString(CultureInfo.InvariantCulture) : Failure?.Split(':')[0] ?? "none";
}

/// <summary>
/// An HTTP/1.1 client over a bare socket, for requests HttpClient refuses to send: control characters and garbage in
/// headers, bodies that lie about their length, request smuggling framings, bytes that are not HTTP at all. It writes
/// the body while it reads the response, so a server that answers early (413 before the body ends) is heard, and it
/// reads at most <see cref="MaxBodyBytes"/> of any answer. Loopback only.
/// </summary>
public static class RawHttp
{
    public const int MaxHeadBytes = 64 * 1024;
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Sends <paramref name="head"/> then <paramref name="body"/> (if any) on a fresh connection from
    /// <paramref name="localAddress"/> (any loopback address; 127.0.0.1 when null). The response head must arrive within
    /// <paramref name="timeout"/>; the response body is read for at most <paramref name="bodyTimeout"/> more (an event stream never ends).
    /// </summary>
    public static async Task<RawHttpOutcome> SendAsync(IPEndPoint server, IPAddress? localAddress, byte[] head, HostileBody? body,
        TimeSpan timeout, TimeSpan bodyTimeout, CancellationToken cancellationToken = default)
    {
        if (!IPAddress.IsLoopback(server.Address) || localAddress is not null && !IPAddress.IsLoopback(localAddress))
        {
            throw new ArgumentException("The raw client talks to loopback only.");
        }
        var started = DateTime.UtcNow;
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        abandon.CancelAfter(timeout);
        try
        {
            socket.Bind(new IPEndPoint(localAddress ?? IPAddress.Loopback, 0));
            await socket.ConnectAsync(server, abandon.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new RawHttpOutcome(null, $"connect: {ex.Message}", DateTime.UtcNow - started);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var stopWriting = CancellationTokenSource.CreateLinkedTokenSource(abandon.Token);
        var writer = WriteAsync(stream, head, body, stopWriting.Token);
        try
        {
            var response = await ReadResponseAsync(stream, abandon.Token, bodyTimeout);
            return new RawHttpOutcome(response, response is null ? Describe("closed without an answer", writer) : null, DateTime.UtcNow - started);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new RawHttpOutcome(null, Describe($"timeout: no answer within {timeout.TotalSeconds:0} s", writer), DateTime.UtcNow - started);
        }
        catch (IOException ex)
        {
            return new RawHttpOutcome(null, Describe($"reset: {ex.InnerException?.Message ?? ex.Message}", writer), DateTime.UtcNow - started);
        }
        finally
        {
            await stopWriting.CancelAsync();
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            try
            {
                await writer;
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The server stopped reading (it answered early or gave up on us): that is its right.
            }
        }
    }

    /// <summary>The body's bytes as the raw client writes them (for small bodies; large ones are streamed).</summary>
    public static byte[] Encode(string text, bool latin1) => (latin1 ? Encoding.Latin1 : Encoding.UTF8).GetBytes(text);

    private static string Describe(string failure, Task writer) =>
        writer.IsFaulted ? $"{failure} (while sending: {writer.Exception!.InnerException?.Message})" : failure;

    private static async Task WriteAsync(NetworkStream stream, byte[] head, HostileBody? body, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(head, cancellationToken);
        if (body is null)
        {
            return;
        }
        foreach (var piece in body.Pieces())
        {
            if (body.Framing == HostileFraming.Chunked)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"), cancellationToken);
                await stream.WriteAsync(piece, cancellationToken);
                await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
            }
            else
            {
                await stream.WriteAsync(piece, cancellationToken);
            }
        }
        if (body.Framing == HostileFraming.Chunked)
        {
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken);
        }
        await stream.FlushAsync(cancellationToken);
    }

    private static async Task<RawHttpResponse?> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken, TimeSpan bodyTimeout)
    {
        var buffer = new byte[16 * 1024];
        var received = new MemoryStream();
        int headEnd;
        while ((headEnd = IndexOfHeadEnd(received)) < 0)
        {
            if (received.Length > MaxHeadBytes)
            {
                throw new IOException($"the response head is over {MaxHeadBytes} bytes");
            }
            var n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                return null;
            }
            received.Write(buffer, 0, n);
        }
        var all = received.ToArray();
        var headText = Encoding.Latin1.GetString(all, 0, headEnd);
        var lines = headText.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !int.TryParse(statusParts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw new IOException($"not an HTTP status line: '{lines[0]}'");
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var earlier) ? $"{earlier}, {value}" : value;
        }

        // The body: what already arrived after the head, then more until its framing says it ended (or the time is up).
        var body = new MemoryStream();
        body.Write(all, headEnd + 4, all.Length - headEnd - 4);
        using var bodyDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bodyDeadline.CancelAfter(bodyTimeout);
        var complete = false;
        try
        {
            if (status is 204 or 304 || status < 200)
            {
                complete = true;
            }
            else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                complete = await ReadChunkedAsync(stream, body, buffer, bodyDeadline.Token);
            }
            else if (headers.TryGetValue("Content-Length", out var cl) && long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                while (body.Length < Math.Min(length, MaxBodyBytes))
                {
                    var n = await stream.ReadAsync(buffer, bodyDeadline.Token);
                    if (n == 0)
                    {
                        break;
                    }
                    body.Write(buffer, 0, n);
                }
                complete = body.Length >= length;
            }
            else
            {
                while (body.Length < MaxBodyBytes)
                {
                    var n = await stream.ReadAsync(buffer, bodyDeadline.Token);
                    if (n == 0)
                    {
                        complete = true;
                        break;
                    }
                    body.Write(buffer, 0, n);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // An endless body (an event stream): the status and headers are what count.
        }
        catch (IOException)
        {
            // Reset after the head: keep what arrived.
        }
        var bytes = body.ToArray();
        return new RawHttpResponse(status, headers, Encoding.UTF8.GetString(bytes, 0, (int)Math.Min(bytes.Length, MaxBodyBytes)), complete);
    }

    /// <summary>Decodes chunked framing from what is in <paramref name="body"/> so far plus what arrives; true when the last chunk came.</summary>
    private static async Task<bool> ReadChunkedAsync(NetworkStream stream, MemoryStream body, byte[] buffer, CancellationToken cancellationToken)
    {
        var raw = new MemoryStream();
        raw.Write(body.ToArray());
        body.SetLength(0);
        var position = 0;
        while (true)
        {
            var data = raw.GetBuffer();
            var lineEnd = IndexOf(data, (int)raw.Length, position, "\r\n"u8);
            if (lineEnd >= 0)
            {
                var sizeText = Encoding.ASCII.GetString(data, position, lineEnd - position).Split(';')[0].Trim();
                if (!int.TryParse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var size) || size < 0)
                {
                    throw new IOException($"bad chunk size '{sizeText}'");
                }
                if (size == 0)
                {
                    return true;
                }
                if (raw.Length >= lineEnd + 2 + size + 2)
                {
                    body.Write(data, lineEnd + 2, size);
                    position = lineEnd + 2 + size + 2;
                    if (body.Length >= MaxBodyBytes)
                    {
                        return false;
                    }
                    continue;
                }
            }
            var n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                return false;
            }
            raw.Write(buffer, 0, n);
        }
    }

    private static int IndexOfHeadEnd(MemoryStream received) => IndexOf(received.GetBuffer(), (int)received.Length, 0, "\r\n\r\n"u8);

    private static int IndexOf(byte[] data, int length, int from, ReadOnlySpan<byte> pattern)
    {
        var found = data.AsSpan(from, length - from).IndexOf(pattern);
        return found < 0 ? -1 : from + found;
    }
}
