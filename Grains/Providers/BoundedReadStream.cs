namespace Orleans.Search.Providers;

/// <summary>
/// A read-only view of a stream that yields at most <c>limit</c> bytes. Past the limit it either ends (and
/// <see cref="Exceeded"/> says more was there) or throws <see cref="ReadLimitExceededException"/>, so a reader never
/// holds more than the limit however much the source has.
/// </summary>
public sealed class BoundedReadStream(Stream inner, long limit, bool throwWhenExceeded) : Stream
{
    private readonly byte[] _probe = new byte[1];
    private long _read;

    /// <summary>The source had more than the limit.</summary>
    public bool Exceeded { get; private set; }

    public long Limit => limit;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (_read >= limit)
        {
            return AtLimit(inner.Read(_probe));
        }
        var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, limit - _read)]);
        _read += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (_read >= limit)
        {
            return AtLimit(await inner.ReadAsync(_probe, cancellationToken).ConfigureAwait(false));
        }
        var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, limit - _read)], cancellationToken).ConfigureAwait(false);
        _read += read;
        return read;
    }

    /// <summary>At the limit, one more byte from the source decides: none means the source simply ended there.</summary>
    private int AtLimit(int probed)
    {
        if (probed == 0)
        {
            return 0;
        }
        Exceeded = true;
        return throwWhenExceeded ? throw new ReadLimitExceededException(limit) : 0;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>A source had more bytes than a <see cref="BoundedReadStream"/> lets through.</summary>
public sealed class ReadLimitExceededException(long limit) : IOException($"More than {limit} bytes.")
{
    public long Limit { get; } = limit;
}
