using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>One server-sent event as a client sees it.</summary>
public sealed record SseMessage(string? Id, string Event, string Data);

/// <summary>A plain SSE client over HttpClient: reads <c>id:</c>, <c>event:</c> and <c>data:</c> fields until the server closes.</summary>
public static class SseClient
{
    /// <summary>The stream's messages; <paramref name="onConnected"/> runs once the server has answered 200 (before any message).</summary>
    public static async IAsyncEnumerable<SseMessage> ReadAsync(HttpClient http, string path, string? lastEventId = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default, Action? onConnected = null)
    {
        var parser = new Parser();
        await foreach (var line in ReadLinesAsync(http, path, lastEventId, cancellationToken, onConnected))
        {
            if (parser.Feed(line) is { } message)
            {
                yield return message;
            }
        }
    }

    /// <summary>The stream's raw lines (comments and <c>retry:</c> included), without their line ends.</summary>
    public static async IAsyncEnumerable<string> ReadLinesAsync(HttpClient http, string path, string? lastEventId = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default, Action? onConnected = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"SSE request answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}", null, response.StatusCode);
        }
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        onConnected?.Invoke();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            yield return line;
        }
    }

    /// <summary>The messages in a list of raw lines.</summary>
    public static List<SseMessage> Parse(IEnumerable<string> lines)
    {
        var parser = new Parser();
        return lines.Select(parser.Feed).OfType<SseMessage>().ToList();
    }

    /// <summary>The SSE field rules: a blank line dispatches what was gathered; <c>:</c> lines are comments.</summary>
    private sealed class Parser
    {
        private readonly StringBuilder _data = new();
        private string? _id;
        private string? _type;

        public SseMessage? Feed(string line)
        {
            if (line.Length == 0)
            {
                // Each data line added itself and a LF; the last LF is not part of the data. No data, no message.
                SseMessage? message = _data.Length > 0 ? new SseMessage(_id, _type ?? "message", _data.ToString(0, _data.Length - 1)) : null;
                _id = null;
                _type = null;
                _data.Clear();
                return message;
            }
            if (line.StartsWith(':'))
            {
                return null;
            }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            value = value.StartsWith(' ') ? value[1..] : value;
            switch (field)
            {
                case "id": _id = value; break;
                case "event": _type = value; break;
                case "data": _data.Append(value).Append('\n'); break;
            }
            return null;
        }
    }
}
