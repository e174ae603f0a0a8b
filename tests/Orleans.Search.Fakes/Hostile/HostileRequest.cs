using System.Globalization;
using System.Text;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>How a body says where it ends.</summary>
public enum HostileFraming
{
    /// <summary>A <c>Content-Length</c> header: the body's true length, or <see cref="HostileBody.ClaimedLength"/> if that is set.</summary>
    ContentLength,

    /// <summary><c>Transfer-Encoding: chunked</c>: the server cannot know the size before it has read it all.</summary>
    Chunked,

    /// <summary>No framing header from the client: the case's own headers say what they say.</summary>
    AsGiven,
}

/// <summary>Which credentials the runner adds.</summary>
public enum HostileCredentials
{
    /// <summary>The hostile caller's own valid key (<c>Authorization: Bearer …</c>).</summary>
    Own,

    /// <summary>None: the case's headers carry whatever it sends.</summary>
    None,
}

/// <summary>
/// A request body as data: <see cref="Prefix"/>, then <see cref="Repeat"/> <see cref="Times"/> times, then <see cref="Suffix"/>.
/// Streamed in pieces, so a 27 MB body costs the sender 64 KB. Text is sent as UTF-8, or byte for byte with
/// <see cref="Latin1"/> (to send bytes that are not UTF-8).
/// </summary>
public sealed record HostileBody(string Prefix, string Repeat = "", long Times = 0, string Suffix = "")
{
    public string? ContentType { get; init; } = "application/json";

    public HostileFraming Framing { get; init; } = HostileFraming.ContentLength;

    /// <summary>A Content-Length that lies.</summary>
    public long? ClaimedLength { get; init; }

    public bool Latin1 { get; init; }

    public long Length => Bytes(Prefix).Length + Bytes(Repeat).Length * Times + Bytes(Suffix).Length;

    /// <summary>The body in pieces of about 64 KB.</summary>
    public IEnumerable<byte[]> Pieces()
    {
        const int PieceSize = 64 * 1024;
        var prefix = Bytes(Prefix);
        var unit = Bytes(Repeat);
        var suffix = Bytes(Suffix);
        var piece = new MemoryStream(PieceSize * 2);
        piece.Write(prefix);
        if (unit.Length > 0)
        {
            for (long i = 0; i < Times; i++)
            {
                piece.Write(unit);
                if (piece.Length >= PieceSize)
                {
                    yield return piece.ToArray();
                    piece.SetLength(0);
                }
            }
        }
        piece.Write(suffix);
        if (piece.Length > 0)
        {
            yield return piece.ToArray();
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{ContentType ?? "no content type"}, {Length} bytes{(Framing == HostileFraming.Chunked ? " chunked" : "")}");

    private byte[] Bytes(string text) => RawHttp.Encode(text, Latin1);
}

/// <summary>
/// What a hostile case sends. <see cref="Target"/> and header values may hold placeholders the runner fills in:
/// <c>{own}</c> (a finished job of the hostile caller), <c>{victim}</c> (another user's finished job) and
/// <c>{unknown}</c> (a well-formed job id nobody has), <c>{key}</c> (the caller's own key). <see cref="Raw"/>, when set,
/// is sent byte for byte instead (<c>{host}</c> and <c>{auth}</c>, the caller's Authorization line, filled in): for
/// requests that are not HTTP at all.
/// </summary>
public sealed record HostileRequest(string Method, string Target)
{
    public HostileBody? Body { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public HostileCredentials Credentials { get; init; } = HostileCredentials.Own;

    public bool OmitHost { get; init; }

    public string? Raw { get; init; }

    /// <summary>The request head's bytes, with placeholders filled in from <paramref name="context"/>.</summary>
    public byte[] Head(HostileContext context)
    {
        if (Raw is not null)
        {
            var auth = context.Key is { } k ? $"Authorization: Bearer {k}\r\n" : "";
            return Encoding.Latin1.GetBytes(context.Fill(Raw.Replace("{host}", context.Host, StringComparison.Ordinal).Replace("{auth}", auth, StringComparison.Ordinal)));
        }
        var head = new StringBuilder();
        head.Append(Method).Append(' ').Append(context.Fill(Target)).Append(" HTTP/1.1\r\n");
        if (!OmitHost)
        {
            head.Append("Host: ").Append(context.Host).Append("\r\n");
        }
        head.Append("Connection: close\r\n");
        if (Credentials == HostileCredentials.Own && context.Key is { } key)
        {
            head.Append("Authorization: Bearer ").Append(key).Append("\r\n");
        }
        if (Body is { } body)
        {
            if (body.ContentType is { } contentType)
            {
                head.Append("Content-Type: ").Append(contentType).Append("\r\n");
            }
            switch (body.Framing)
            {
                case HostileFraming.ContentLength:
                    head.Append("Content-Length: ").Append((body.ClaimedLength ?? body.Length).ToString(CultureInfo.InvariantCulture)).Append("\r\n");
                    break;
                case HostileFraming.Chunked:
                    head.Append("Transfer-Encoding: chunked\r\n");
                    break;
            }
        }
        else if (Method is "POST" or "PUT")
        {
            head.Append("Content-Length: 0\r\n");
        }
        foreach (var (name, value) in Headers)
        {
            head.Append(name).Append(": ").Append(context.Fill(value)).Append("\r\n");
        }
        head.Append("\r\n");
        return Encoding.UTF8.GetBytes(head.ToString());
    }

    public override string ToString() => Raw is not null ? $"raw {Raw.Length} bytes" : $"{Method} {(Target.Length > 80 ? Target[..80] + "…" : Target)}{(Body is null ? "" : $" ({Body})")}";
}

/// <summary>What the runner fills in: the address, the caller's key, and the job ids the placeholders stand for.</summary>
public sealed record HostileContext(string Host, string? Key, string OwnJobId, string VictimJobId)
{
    public string Fill(string text) => text
        .Replace("{key}", Key ?? "", StringComparison.Ordinal)
        .Replace("{own}", OwnJobId, StringComparison.Ordinal)
        .Replace("{victim}", VictimJobId, StringComparison.Ordinal)
        .Replace("{unknown}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal);
}
