namespace Orleans.Search.Reading;

/// <summary>Reads a response body up to a number of bytes; the rest is never read.</summary>
internal static class BoundedBody
{
    public static async Task<(byte[] Bytes, bool Truncated)> ReadAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var want = (int)Math.Min(chunk.Length, maxBytes - buffer.Length + 1);
            var read = await stream.ReadAsync(chunk.AsMemory(0, want), cancellationToken);
            if (read == 0)
            {
                return (buffer.ToArray(), false);
            }
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                buffer.SetLength(maxBytes);
                return (buffer.ToArray(), true);
            }
        }
    }
}
