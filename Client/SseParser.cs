using System.Runtime.CompilerServices;
using System.Text;

namespace Orleans.Search.Client;

/// <summary>One server-sent event: its <c>id</c>, its <c>event</c> type (default <c>message</c>) and its <c>data</c> lines joined by LF.</summary>
public sealed record SseMessage(string? Id, string Event, string Data);

/// <summary>Reads <c>text/event-stream</c> as the HTML standard describes it; comments and <c>retry:</c> are skipped.</summary>
public static class SseParser
{
    public static async IAsyncEnumerable<SseMessage> ReadAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        string? id = null;
        string? type = null;
        var data = new StringBuilder();
        var hasData = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData)
                {
                    yield return new SseMessage(id, type ?? "message", data.ToString());
                }
                type = null;
                data.Clear();
                hasData = false;
                continue;
            }
            if (line[0] == ':')
            {
                continue;
            }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }
            switch (field)
            {
                case "id" when !value.Contains('\0'):
                    id = value;
                    break;
                case "event":
                    type = value;
                    break;
                case "data":
                    if (hasData)
                    {
                        data.Append('\n');
                    }
                    data.Append(value);
                    hasData = true;
                    break;
            }
        }
        // A message not closed by a blank line is incomplete (the connection dropped mid-message): not dispatched.
    }
}
