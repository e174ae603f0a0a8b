namespace Orleans.Search.Webhooks;

/// <summary>Delivery states.</summary>
public static class WebhookDeliveryStates
{
    /// <summary>Waiting for its next attempt.</summary>
    public const string Pending = "pending";

    /// <summary>A receiver answered 2xx.</summary>
    public const string Delivered = "delivered";

    /// <summary>Out of attempts, or its endpoint answered 410, was disabled or deleted: in the failed store, replayable.</summary>
    public const string Failed = "failed";
}

/// <summary>One event for one endpoint, as the job hands it over: the body is fixed here and signed on every attempt.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookMessage")]
public sealed record WebhookMessage
{
    [Id(0)] public required string Owner { get; init; }

    [Id(1)] public required string EndpointId { get; init; }

    /// <summary>The event type (<see cref="WebhookEventTypes"/>).</summary>
    [Id(2)] public required string Type { get; init; }

    /// <summary>The JSON body, <c>{type, timestamp, data}</c>, exactly as sent.</summary>
    [Id(3)] public required string Body { get; init; }

    [Id(4)] public string? JobId { get; init; }

    [Id(5)] public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One attempt: when, what the receiver answered (or the error), and how long it took.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookAttempt")]
public sealed record WebhookAttempt
{
    [Id(0)] public DateTimeOffset At { get; init; }

    /// <summary>The HTTP status, or null when no answer came (refused, no connection, timeout).</summary>
    [Id(1)] public int? Status { get; init; }

    [Id(2)] public long Ms { get; init; }

    [Id(3)] public string? Error { get; init; }
}

/// <summary>A delivery with every attempt made.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookDelivery")]
public sealed record WebhookDelivery
{
    /// <summary>The <c>webhook-id</c> header: the same on every attempt and replay.</summary>
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required string EndpointId { get; init; }

    [Id(2)] public required string Type { get; init; }

    [Id(3)] public string? JobId { get; init; }

    [Id(4)] public required string Status { get; init; }

    [Id(5)] public DateTimeOffset CreatedAt { get; init; }

    [Id(6)] public DateTimeOffset? NextAttemptAt { get; init; }

    [Id(7)] public DateTimeOffset? DeliveredAt { get; init; }

    [Id(8)] public DateTimeOffset? FailedAt { get; init; }

    /// <summary>Why it failed, when it did.</summary>
    [Id(9)] public string? Error { get; init; }

    [Id(10)] public IReadOnlyList<WebhookAttempt> Attempts { get; init; } = [];
}

/// <summary>A line of the failed store.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookDeliverySummary")]
public sealed record WebhookDeliverySummary
{
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required string EndpointId { get; init; }

    [Id(2)] public required string Type { get; init; }

    [Id(3)] public string? JobId { get; init; }

    [Id(4)] public DateTimeOffset CreatedAt { get; init; }

    [Id(5)] public DateTimeOffset FailedAt { get; init; }

    [Id(6)] public int Attempts { get; init; }

    [Id(7)] public string? Error { get; init; }
}

/// <summary>A page of the failed store; <see cref="NextCursor"/> is null on the last.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookDeliveryList")]
public sealed record WebhookDeliveryList
{
    [Id(0)] public IReadOnlyList<WebhookDeliverySummary> Items { get; init; } = [];

    [Id(1)] public string? NextCursor { get; init; }
}

/// <summary>What a replay did.</summary>
public static class WebhookReplayOutcomes
{
    public const string Replaying = "replaying";
    public const string NotFound = "not-found";
    public const string NotFailed = "not-failed";
    public const string EndpointUnavailable = "endpoint-unavailable";
}

/// <summary>The answer to a replay: the outcome, the delivery as it is now, and for a refusal why.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.WebhookReplay")]
public sealed record WebhookReplay
{
    [Id(0)] public required string Outcome { get; init; }

    [Id(1)] public WebhookDelivery? Delivery { get; init; }

    [Id(2)] public string? Detail { get; init; }
}

/// <summary>
/// One delivery of one event to one endpoint (key = its <c>webhook-id</c>, <c>msg_</c> + 32 hex digits). Durable: its
/// state and a reminder are written before <see cref="EnqueueAsync"/> returns, so a crash between attempts loses
/// nothing; the reminder reactivates it and the schedule goes on. The key of a job's terminal delivery is derived from
/// the job and the endpoint, and the first message enqueued under a key wins: a job notifies each endpoint once.
/// </summary>
[Alias("Orleans.Search.IWebhookDeliveryGrain")]
public interface IWebhookDeliveryGrain : IGrainWithStringKey
{
    /// <summary>Stores the message and schedules its first attempt; does nothing when this delivery exists already.</summary>
    [Alias("Enqueue")]
    Task EnqueueAsync(WebhookMessage message);

    /// <summary>The delivery and its attempts, or null when it does not exist or belongs to someone else.</summary>
    [Alias("Get")]
    Task<WebhookDelivery?> GetAsync(string requester);

    /// <summary>Sends a failed delivery again, with the same id and body, on a fresh retry schedule.</summary>
    [Alias("Replay")]
    Task<WebhookReplay> ReplayAsync(string requester);
}
