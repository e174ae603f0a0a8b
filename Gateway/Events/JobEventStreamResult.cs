using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;

namespace Orleans.Search.Gateway.Events;

/// <summary><c>text/event-stream</c> framing.</summary>
public static class SseFrame
{
    /// <summary>
    /// One event. Each line of <paramref name="data"/> (split at CR LF, CR or LF, as a client splits them) gets its own
    /// <c>data:</c> field, so a client reassembles it exactly, with LF line ends.
    /// </summary>
    public static string Event(string? id, string type, string data)
    {
        var text = new StringBuilder(data.Length + 64);
        if (id is not null)
        {
            text.Append("id: ").Append(SingleLine(id, nameof(id))).Append('\n');
        }
        text.Append("event: ").Append(SingleLine(type, nameof(type))).Append('\n');
        var rest = data.AsSpan();
        while (true)
        {
            var end = rest.IndexOfAny('\r', '\n');
            text.Append("data: ").Append(end < 0 ? rest : rest[..end]).Append('\n');
            if (end < 0)
            {
                break;
            }
            rest = rest[(end + (rest[end] == '\r' && end + 1 < rest.Length && rest[end + 1] == '\n' ? 2 : 1))..];
        }
        return text.Append('\n').ToString();
    }

    /// <summary>A comment line, which clients ignore; it keeps an idle connection alive.</summary>
    public static string Comment(string text) => $": {SingleLine(text, nameof(text))}\n\n";

    /// <summary>How long an EventSource waits before it reconnects.</summary>
    public static string Retry(TimeSpan delay) => $"retry: {(long)delay.TotalMilliseconds}\n\n";

    private static string SingleLine(string value, string name) =>
        value.AsSpan().IndexOfAny('\r', '\n') < 0 ? value : throw new ArgumentException("An SSE field value cannot span lines.", name);
}

/// <summary>
/// Writes a job's feed as <c>text/event-stream</c>: a <c>retry:</c> hint first, then every item with its seq as the id,
/// a <c>:</c> comment whenever nothing else went out for <see cref="EventStreamOptions.KeepAliveSeconds"/>, and an end
/// after <see cref="EventStreamOptions.MaxStreamMinutes"/> (the client carries on with Last-Event-ID). Each write is
/// flushed at once. The stream's open-stream permit is released when it ends, however it ends.
/// </summary>
public sealed class JobEventStreamResult(Func<CancellationToken, IAsyncEnumerable<JobFeedItem>> feed, IAsyncDisposable permit) : IResult
{
    /// <summary>Suggested to EventSource clients: soon, since a stream that reached its maximum life wants to go on.</summary>
    public static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private const string KeepAliveText = "keep-alive";

    async Task IResult.ExecuteAsync(HttpContext httpContext)
    {
        await using var heldPermit = permit;
        var services = httpContext.RequestServices;
        var options = services.GetRequiredService<IOptionsMonitor<EventStreamOptions>>().CurrentValue;
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var time = services.GetRequiredService<TimeProvider>();
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var life = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted);
        life.CancelAfter(options.MaxStreamLife);
        var items = feed(life.Token).GetAsyncEnumerator(life.Token);
        Task<bool>? next = null;
        try
        {
            await WriteAsync(response, SseFrame.Retry(ReconnectDelay), life.Token);
            while (true)
            {
                next = items.MoveNextAsync().AsTask();
                bool more;
                while (true)
                {
                    try
                    {
                        more = await next.WaitAsync(options.KeepAlive, time);
                        break;
                    }
                    catch (TimeoutException)
                    {
                        await WriteAsync(response, SseFrame.Comment(KeepAliveText), life.Token);
                    }
                }
                if (!more)
                {
                    break;
                }
                await WriteAsync(response, Format(items.Current, json, time), life.Token);
            }
        }
        catch (OperationCanceledException) when (life.IsCancellationRequested)
        {
            // The client went away, or the stream reached its maximum life: either way it simply ends.
        }
        finally
        {
            if (next is { IsCompleted: false })
            {
                // A write failed while the feed was waiting: stop it before letting it go.
                await life.CancelAsync();
                try
                {
                    await next;
                }
                catch (Exception)
                {
                    // Cancelled, as asked; the write's own exception is the one that matters.
                }
            }
            await items.DisposeAsync();
        }
    }

    private static string Format(JobFeedItem item, JsonSerializerOptions json, TimeProvider time)
    {
        var id = item.Seq.ToString(CultureInfo.InvariantCulture);
        if (item.Event is { } e)
        {
            Diagnostics.SearchMetrics.EventDeliveryDelay.Record((time.GetUtcNow() - e.Timestamp).TotalMilliseconds);
            return SseFrame.Event(id, e.Type, JsonSerializer.Serialize(e, json));
        }
        return SseFrame.Event(id, item.Type, JsonSerializer.Serialize(item.Snapshot, json));
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken) =>
        // A PipeWriter write flushes: each frame leaves at once.
        await response.BodyWriter.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
}
