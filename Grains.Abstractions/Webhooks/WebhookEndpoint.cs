using Orleans.Search.Jobs;

namespace Orleans.Search.Webhooks;

/// <summary>The events a webhook endpoint can subscribe to, as they appear in a delivery's <c>type</c>.</summary>
public static class WebhookEventTypes
{
    public const string JobCompleted = "job.completed";
    public const string JobFailed = "job.failed";
    public const string JobCancelled = "job.cancelled";

    public static readonly IReadOnlyList<string> All = [JobCompleted, JobFailed, JobCancelled];

    /// <summary>The event a job's terminal status sends, or null for a status that is not terminal.</summary>
    public static string? ForJobStatus(string status) => status switch
    {
        JobStates.Completed => JobCompleted,
        JobStates.Failed => JobFailed,
        JobStates.Cancelled => JobCancelled,
        _ => null,
    };
}

/// <summary>A registered webhook endpoint as its owner sees it. The secret is shown once: when it is made (create, rotate).</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookEndpoint")]
public sealed record WebhookEndpoint
{
    /// <summary><c>ep_</c> and 32 hex digits.</summary>
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required string Url { get; init; }

    /// <summary>The event types it receives (<see cref="WebhookEventTypes"/>).</summary>
    [Id(2)] public required IReadOnlyList<string> Events { get; init; }

    [Id(3)] public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Disabled endpoints receive nothing (a delivery answered <c>410 Gone</c> disables its endpoint).</summary>
    [Id(4)] public bool Disabled { get; init; }

    [Id(5)] public string? DisabledReason { get; init; }

    /// <summary>The signing secret (<c>whsec_</c> + base64 of 32 random bytes); only in the answer that made it.</summary>
    [Id(6)] public string? Secret { get; init; }

    /// <summary>During a rotation: until when the previous secret signs too.</summary>
    [Id(7)] public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
}

/// <summary>What a caller asks to register: the URL and the event types (all of them when none are named).</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookEndpointRequest")]
public sealed record WebhookEndpointRequest
{
    [Id(0)] public required string Url { get; init; }

    [Id(1)] public IReadOnlyList<string> Events { get; init; } = WebhookEventTypes.All;
}

/// <summary>The answer to a registration: the endpoint (with its secret), or why it was refused.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookEndpointOutcome")]
public sealed record WebhookEndpointOutcome
{
    [Id(0)] public WebhookEndpoint? Endpoint { get; init; }

    /// <summary>The request field that was refused (<c>url</c>), with <see cref="Refusal"/> saying why.</summary>
    [Id(1)] public string? RefusedField { get; init; }

    [Id(2)] public string? Refusal { get; init; }

    /// <summary>The user has as many endpoints as they may.</summary>
    [Id(3)] public bool LimitReached { get; init; }
}

/// <summary>Where and how a delivery is sent now: the URL, the secrets that sign (newest first), and whether it may be.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookTarget")]
public sealed record WebhookTarget
{
    [Id(0)] public required string Url { get; init; }

    [Id(1)] public required IReadOnlyList<string> Secrets { get; init; }

    [Id(2)] public bool Disabled { get; init; }

    [Id(3)] public string? DisabledReason { get; init; }
}

/// <summary>
/// A user's webhook endpoints (key = user id) and their failed-delivery store. Never calls a delivery grain: deliveries
/// call it (for their target, to disable an endpoint, to file or withdraw a failure), so no call cycle can form.
/// </summary>
[Alias("Orleans.Search.IWebhookEndpointsGrain")]
public interface IWebhookEndpointsGrain : IGrainWithStringKey
{
    /// <summary>Registers an endpoint after the outbound guard passed its URL; refused with the field and why otherwise.</summary>
    [Alias("Create")]
    Task<WebhookEndpointOutcome> CreateAsync(WebhookEndpointRequest request);

    /// <summary>The user's endpoints, oldest first, without secrets.</summary>
    [Alias("List"), ReadOnly]
    Task<IReadOnlyList<WebhookEndpoint>> ListAsync();

    /// <summary>One endpoint without its secret, or null when the user has none of that id.</summary>
    [Alias("Get"), ReadOnly]
    Task<WebhookEndpoint?> GetAsync(string endpointId);

    /// <summary>Removes an endpoint; deliveries still waiting for it end in the failed store. False when there was none.</summary>
    [Alias("Delete")]
    Task<bool> DeleteAsync(string endpointId);

    /// <summary>
    /// A new secret; the previous one keeps signing (deliveries carry both signatures) for the rotation overlap.
    /// Null when the user has no endpoint of that id.
    /// </summary>
    [Alias("RotateSecret")]
    Task<WebhookEndpoint?> RotateSecretAsync(string endpointId);

    /// <summary>
    /// The endpoints an event of <paramref name="eventType"/> goes to: <paramref name="endpointId"/> (a job's own
    /// endpoint) when it exists, and every endpoint subscribed to the type; each once.
    /// </summary>
    [Alias("Targets"), ReadOnly]
    Task<IReadOnlyList<string>> TargetsAsync(string eventType, string? endpointId);

    /// <summary>What a delivery to <paramref name="endpointId"/> needs now, or null when the endpoint was deleted.</summary>
    [Alias("GetTarget"), ReadOnly]
    Task<WebhookTarget?> GetTargetAsync(string endpointId);

    /// <summary>Disables an endpoint (its receiver answered <c>410 Gone</c>).</summary>
    [Alias("Disable")]
    Task DisableAsync(string endpointId, string reason);

    /// <summary>Files a delivery that ended without success in the failed store (again, after a failed replay).</summary>
    [Alias("RecordFailed")]
    Task RecordFailedAsync(WebhookDeliverySummary delivery);

    /// <summary>Takes a delivery out of the failed store (it is being replayed).</summary>
    [Alias("ForgetFailed")]
    Task ForgetFailedAsync(string deliveryId);

    /// <summary>The failed store, newest failure first, <paramref name="limit"/> at a time after the cursor <paramref name="after"/>.</summary>
    [Alias("ListFailed"), ReadOnly]
    Task<WebhookDeliveryList> ListFailedAsync(int limit, string? after);
}
