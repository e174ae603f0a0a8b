using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Orleans.Search.Webhooks;

/// <summary>How a job hands its terminal event to the webhook deliveries.</summary>
public static class JobWebhooks
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The id (and grain key) of a job's terminal delivery to an endpoint: derived from both, so however often the job
    /// hands it over (a retry after a crash), the first message stored under it is the one delivered.
    /// </summary>
    public static string TerminalDeliveryId(string jobId, string endpointId) =>
        "msg_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{jobId}\n{endpointId}\nterminal")))[..32];

    /// <summary>
    /// Enqueues the job's terminal event for its own endpoint (<see cref="JobSubmission.WebhookEndpointId"/>) and every
    /// endpoint of its owner subscribed to the event. Idempotent; returns once every delivery is durable, with how many
    /// endpoints it was for.
    /// </summary>
    public static async Task<int> NotifyTerminalAsync(IGrainFactory grains, JobSubmission spec, JobStatus status, DateTimeOffset now)
    {
        if (WebhookEventTypes.ForJobStatus(status.Status) is not { } type)
        {
            return 0;
        }
        var endpoints = await grains.GetGrain<IWebhookEndpointsGrain>(spec.Owner).TargetsAsync(type, spec.WebhookEndpointId);
        if (endpoints.Count == 0)
        {
            return 0;
        }
        var body = Body(type, status, now);
        await Task.WhenAll(endpoints.Select(endpoint => grains.GetGrain<IWebhookDeliveryGrain>(TerminalDeliveryId(spec.JobId, endpoint))
            .EnqueueAsync(new WebhookMessage
            {
                Owner = spec.Owner,
                EndpointId = endpoint,
                Type = type,
                Body = body,
                JobId = spec.JobId,
                CreatedAt = now,
            })));
        return endpoints.Count;
    }

    /// <summary><c>{type, timestamp, data}</c>: the data is the job's status as <c>GET /api/search-jobs/{id}</c> shows it, without the results.</summary>
    public static string Body(string type, JobStatus status, DateTimeOffset now)
    {
        var data = JsonSerializer.SerializeToNode(status, Json)!.AsObject();
        data.Remove("results");
        return new JsonObject
        {
            ["type"] = type,
            ["timestamp"] = now,
            ["data"] = data,
        }.ToJsonString(Json);
    }
}
