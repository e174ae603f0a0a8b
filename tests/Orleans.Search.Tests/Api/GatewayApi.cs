using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Orleans.Search.Tests.Api;

/// <summary>An RFC 9457 problem as a client reads it.</summary>
public sealed record Problem(int Status, string? Title, string Detail, IReadOnlyDictionary<string, string[]> Errors, string Raw);

/// <summary>Plain HTTP helpers for the gateway's API; nothing here knows the gateway's code.</summary>
public static class GatewayApi
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    public static string ToJson(object spec) => JsonSerializer.Serialize(spec, Json);

    public static Task<HttpResponseMessage> PostAsync(HttpClient http, string path, string json, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonBody(json) };
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        return http.SendAsync(request);
    }

    public static Task<HttpResponseMessage> CreateAsync(HttpClient http, object spec, string? idempotencyKey = null) =>
        PostAsync(http, "/api/search-jobs", ToJson(spec), idempotencyKey);

    /// <summary>Creates a job, asserts the 202, and returns the JobStatus it answered with.</summary>
    public static async Task<JobStatus> CreateJobAsync(HttpClient http, object spec, string? idempotencyKey = null)
    {
        using var response = await CreateAsync(http, spec, idempotencyKey);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"create answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await ReadJobAsync(response);
    }

    public static async Task<JobStatus> ReadJobAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var status = await response.Content.ReadFromJsonAsync<JobStatus>(Json);
        Assert.NotNull(status);
        return status;
    }

    public static async Task<JobStatus> GetJobAsync(HttpClient http, string jobId)
    {
        using var response = await http.GetAsync($"/api/search-jobs/{jobId}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET job answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await ReadJobAsync(response);
    }

    public static Task<JobStatus> WaitForJobAsync(HttpClient http, string jobId, Func<JobStatus, bool> condition, string what) =>
        Eventually.ReturnsAsync(() => GetJobAsync(http, jobId), condition, $"job {jobId}: {what}");

    public static Task<JobStatus> WaitForEndAsync(HttpClient http, string jobId) =>
        WaitForJobAsync(http, jobId, s => JobStates.IsTerminal(s.Status), "a terminal status");

    public static async Task<JobList> ListAsync(HttpClient http, string query = "")
    {
        using var response = await http.GetAsync($"/api/search-jobs{query}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"list answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var list = await response.Content.ReadFromJsonAsync<JobList>(Json);
        Assert.NotNull(list);
        return list;
    }

    /// <summary>Every job of the caller, following cursors.</summary>
    public static async Task<List<JobSummary>> ListAllAsync(HttpClient http)
    {
        var all = new List<JobSummary>();
        string? cursor = null;
        do
        {
            var page = await ListAsync(http, cursor is null ? "?limit=100" : $"?limit=100&cursor={Uri.EscapeDataString(cursor)}");
            all.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return all;
    }

    public static async Task<JsonNode> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>Asserts the response is an <c>application/problem+json</c> with this status, and reads it.</summary>
    public static async Task<Problem> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {raw}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(raw);
        var root = doc.RootElement;
        Assert.Equal((int)expected, root.GetProperty("status").GetInt32());
        var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
        Assert.False(string.IsNullOrWhiteSpace(detail), $"the problem has no detail: {raw}");
        var errors = new Dictionary<string, string[]>();
        if (root.TryGetProperty("errors", out var e))
        {
            foreach (var field in e.EnumerateObject())
            {
                errors[field.Name] = field.Value.EnumerateArray().Select(m => m.GetString() ?? "").ToArray();
            }
        }
        return new Problem((int)expected, root.TryGetProperty("title", out var t) ? t.GetString() : null, detail!, errors, raw);
    }

    /// <summary>A 400 validation problem whose <c>errors</c> has <paramref name="field"/> and whose <c>detail</c> mentions it.</summary>
    public static async Task<Problem> AssertInvalidFieldAsync(HttpResponseMessage response, string field)
    {
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.Errors.ContainsKey(field), $"errors should name '{field}': {problem.Raw}");
        Assert.Contains(field, problem.Detail, StringComparison.Ordinal);
        Assert.Null(response.Headers.Location);
        return problem;
    }

    /// <summary>Reads a whole event stream; fails if it does not end on its own within the deadline.</summary>
    public static async Task<List<SseMessage>> ReadEventsAsync(HttpClient http, string jobId, string? lastEventId = null,
        Action<SseMessage>? onMessage = null, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var messages = new List<SseMessage>();
        await foreach (var message in SseClient.ReadAsync(http, $"/api/search-jobs/{jobId}/events", lastEventId, deadline.Token))
        {
            messages.Add(message);
            onMessage?.Invoke(message);
        }
        return messages;
    }

    public static JobEvent ParseEvent(SseMessage message)
    {
        var e = JsonSerializer.Deserialize<JobEvent>(message.Data, Json);
        Assert.NotNull(e);
        return e;
    }

    public static JobStatus ParseSnapshot(SseMessage message)
    {
        var s = JsonSerializer.Deserialize<JobStatus>(message.Data, Json);
        Assert.NotNull(s);
        return s;
    }
}
