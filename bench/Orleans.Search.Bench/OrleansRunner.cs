using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Bench;

/// <summary>
/// (c): the workload through Orleans.Search's HTTP API. Jobs of up to 50 queries (the API's limit) are created with
/// <c>POST /api/search-jobs</c> and each is followed over <c>/api/search-jobs/{id}/events</c> until its terminal event.
/// Every <c>page.completed</c> event is timed against the moment the fake finished writing that page's response
/// (both on this process's Stopwatch clock).
/// </summary>
public sealed class OrleansRunner(HttpClient http, FakeSearxng fake)
{
    public const int MaxQueriesPerJob = 50;

    /// <summary>When each job's terminal event arrived, from the first POST (diagnostics).</summary>
    public ConcurrentDictionary<string, TimeSpan> Ended { get; } = new();

    /// <param name="Makespan">From the first POST to the last job's terminal SSE event.</param>
    /// <param name="StartedTimestamp">The <see cref="Stopwatch"/> timestamp of the first POST (the fake's clock too).</param>
    public sealed record Outcome(TimeSpan Makespan, IReadOnlyList<double> EventDelaysMs, IReadOnlyList<string> Problems, long StartedTimestamp);

    public async Task<Outcome> RunAsync(string provider, IReadOnlyList<string> queries, int pages, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var delays = new ConcurrentBag<double>();
        var problems = new ConcurrentBag<string>();
        var chunks = queries.Chunk(MaxQueriesPerJob).ToList();

        var startedTimestamp = Stopwatch.GetTimestamp();
        var watch = Stopwatch.StartNew();
        var followers = await Task.WhenAll(chunks.Select(async chunk =>
        {
            var jobId = await CreateAsync(provider, chunk, pages, cts.Token);
            return (JobId: jobId, Follow: FollowAsync(jobId, delays, cts.Token));
        }));
        var terminal = await Task.WhenAll(followers.Select(async f =>
        {
            var type = await f.Follow;
            Ended[f.JobId] = watch.Elapsed;
            return type;
        }));
        var makespan = watch.Elapsed;

        // Check what the service says it did (outside the timed part).
        for (var i = 0; i < followers.Length; i++)
        {
            if (terminal[i] != "completed")
            {
                problems.Add($"job {followers[i].JobId} ended '{terminal[i]}'");
            }
            var status = await http.GetFromJsonAsync<JsonElement>($"/api/search-jobs/{followers[i].JobId}", cts.Token);
            var stats = status.GetProperty("stats");
            var expected = chunks[i].Length * pages;
            var apiCalls = stats.GetProperty("apiCalls").GetInt32();
            var cacheHits = stats.GetProperty("cacheHits").GetInt32();
            if (apiCalls != expected || cacheHits != 0)
            {
                problems.Add($"job {followers[i].JobId}: {apiCalls} API calls and {cacheHits} cache hits for {expected} pages");
            }
        }
        return new Outcome(makespan, delays.ToList(), problems.ToList(), startedTimestamp);
    }

    /// <summary>
    /// Waits until the job index lists every job this runner followed as ended. A job's own row is written before its
    /// terminal event; its removal from the active set and then its index entry are written after it, so once the index
    /// says "ended" (and the index grain answers only after its write) every write of the run has landed.
    /// </summary>
    public async Task WaitForBookkeepingAsync(CancellationToken cancellationToken)
    {
        var pending = Ended.Keys.ToHashSet(StringComparer.Ordinal);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            string? cursor = null;
            do
            {
                var page = await http.GetFromJsonAsync<JsonElement>(
                    "/api/search-jobs?limit=100" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), cancellationToken);
                foreach (var item in page.GetProperty("items").EnumerateArray())
                {
                    if (item.GetProperty("status").GetString() is "completed" or "failed" or "cancelled")
                    {
                        pending.Remove(item.GetProperty("jobId").GetString()!);
                    }
                }
                cursor = page.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
            }
            while (cursor is not null && pending.Count > 0);
            if (pending.Count == 0)
            {
                return;
            }
            if (watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"{pending.Count} ended jobs were still not indexed as ended after 30 s (e.g. {pending.First()})");
            }
            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task<string> CreateAsync(string provider, IReadOnlyList<string> queries, int pages, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/api/search-jobs", new { queries, pages, provider }, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"POST /api/search-jobs answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
        var status = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return status.GetProperty("jobId").GetString()!;
    }

    /// <summary>Reads the job's SSE stream to its terminal event; returns that event's type.</summary>
    private async Task<string> FollowAsync(string jobId, ConcurrentBag<double> delays, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/search-jobs/{jobId}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        // From the first event, not from a snapshot: pages done before the stream opened are measured too.
        request.Headers.Add("Last-Event-ID", "0");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        string? type = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length > 0)
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    type = line[6..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(line.AsSpan(5).TrimStart(' '));
                }
                continue;
            }
            var received = Stopwatch.GetTimestamp();
            if (type == "page.completed")
            {
                using var e = JsonDocument.Parse(data.ToString());
                var query = e.RootElement.GetProperty("query").GetString()!;
                var page = e.RootElement.GetProperty("page").GetInt32();
                if (fake.LastSuccessTimestampFor(query, page) is { } answered)
                {
                    delays.Add(Stopwatch.GetElapsedTime(answered, received).TotalMilliseconds);
                }
            }
            else if (type is "completed" or "failed" or "cancelled")
            {
                return type;
            }
            type = null;
            data.Clear();
        }
        return "stream ended before a terminal event";
    }
}
