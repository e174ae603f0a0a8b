using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Orleans.Search.Bench.Postgres;

/// <summary>One SSE event as the bench received it (Stopwatch timestamp of this process).</summary>
public sealed record ReceivedEvent(long At, string Type, long Seq, string? Query, int? Page);

/// <summary>
/// Follows one job's <c>/api/search-jobs/{id}/events</c> to its terminal event, recording every event with the moment it
/// arrived; reconnects with <c>Last-Event-ID</c> if the stream ends or breaks early (as a client of the API would).
/// </summary>
public sealed class EventRecorder(HttpClient http, string jobId)
{
    private readonly List<ReceivedEvent> _events = [];

    public int Reconnects { get; private set; }

    public IReadOnlyList<ReceivedEvent> Snapshot()
    {
        lock (_events)
        {
            return _events.ToList();
        }
    }

    public int Count(string type)
    {
        lock (_events)
        {
            return _events.Count(e => e.Type == type);
        }
    }

    /// <summary>Returns the terminal event's type.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        long last = 0;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                Reconnects++;
                await Task.Delay(200, cancellationToken);
            }
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{jobId}/events");
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                // Every event from the first (0) or after the last one recorded, never a snapshot in their place.
                request.Headers.Add("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    continue;
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                string? type = null;
                string? id = null;
                var data = new StringBuilder();
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.Length > 0)
                    {
                        if (line.StartsWith("event:", StringComparison.Ordinal))
                        {
                            type = line[6..].Trim();
                        }
                        else if (line.StartsWith("id:", StringComparison.Ordinal))
                        {
                            id = line[3..].Trim();
                        }
                        else if (line.StartsWith("data:", StringComparison.Ordinal))
                        {
                            data.Append(line.AsSpan(5).TrimStart(' '));
                        }
                        continue;
                    }
                    var at = Stopwatch.GetTimestamp();
                    if (type == "snapshot" && long.TryParse(id, CultureInfo.InvariantCulture, out var reflected))
                    {
                        // Stands in for events the job no longer keeps; carry on after what it reflects.
                        last = reflected;
                        using var snapshot = JsonDocument.Parse(data.ToString());
                        var status = snapshot.RootElement.GetProperty("status").GetString();
                        if (status is "completed" or "failed" or "cancelled")
                        {
                            return status;
                        }
                    }
                    else if (type is not null && type != "snapshot" && long.TryParse(id, CultureInfo.InvariantCulture, out var seq))
                    {
                        last = seq;
                        string? query = null;
                        int? page = null;
                        if (type == "page.completed")
                        {
                            using var e = JsonDocument.Parse(data.ToString());
                            query = e.RootElement.GetProperty("query").GetString();
                            page = e.RootElement.GetProperty("page").GetInt32();
                        }
                        lock (_events)
                        {
                            _events.Add(new ReceivedEvent(at, type, seq, query, page));
                        }
                        if (type is "completed" or "failed" or "cancelled")
                        {
                            return type;
                        }
                    }
                    type = null;
                    id = null;
                    data.Clear();
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
            }
        }
    }
}
