using Orleans.Search.Net;
using Orleans.Search.Storage;

namespace Orleans.Search.Webhooks;

/// <summary>A user's webhook endpoints and failed deliveries, stored as one row (both are small and bounded).</summary>
public sealed class WebhookEndpointsState
{
    public List<StoredWebhookEndpoint> Endpoints { get; set; } = [];

    /// <summary>The failed store, newest failure first.</summary>
    public List<WebhookDeliverySummary> Failed { get; set; } = [];
}

/// <summary>An endpoint with its secrets, as stored.</summary>
public sealed class StoredWebhookEndpoint
{
    public string Id { get; set; } = "";

    public string Url { get; set; } = "";

    public List<string> Events { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public string Secret { get; set; } = "";

    /// <summary>The secret before the last rotation, signing too until <see cref="PreviousSecretExpiresAt"/>.</summary>
    public string? PreviousSecret { get; set; }

    public DateTimeOffset? PreviousSecretExpiresAt { get; set; }

    public bool Disabled { get; set; }

    public string? DisabledReason { get; set; }
}

/// <summary>
/// A user's webhook endpoints (key = user id). URLs pass the outbound guard when they are registered (and again on every
/// delivery, which the delivery grain sends through the guard). Secrets stay in this grain and the deliveries it answers;
/// they are never logged.
/// </summary>
public sealed partial class WebhookEndpointsGrain(
    [PersistentState("webhook-endpoints", SearchStorage.Name)] IPersistentState<WebhookEndpointsState> state,
    OutboundGuard guard,
    IOptionsMonitor<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookEndpointsGrain> logger) : Grain, IWebhookEndpointsGrain
{
    private WebhookEndpointsState S => state.State;

    private string UserId => this.GetPrimaryKeyString();

    async Task<WebhookEndpointOutcome> IWebhookEndpointsGrain.CreateAsync(WebhookEndpointRequest request)
    {
        if (S.Endpoints.Count >= options.CurrentValue.MaxEndpointsPerUser)
        {
            return new WebhookEndpointOutcome { LimitReached = true, Refusal = $"At most {options.CurrentValue.MaxEndpointsPerUser} webhook endpoints may be registered; delete one first." };
        }
        if (await guard.CheckAsync(request.Url, CancellationToken.None) is { } reason)
        {
            return new WebhookEndpointOutcome { RefusedField = "url", Refusal = $"'url' is refused by the outbound guard: {reason}." };
        }
        var endpoint = new StoredWebhookEndpoint
        {
            Id = "ep_" + Guid.CreateVersion7().ToString("N"),
            Url = request.Url,
            Events = request.Events.Distinct(StringComparer.Ordinal).ToList(),
            CreatedAt = time.GetUtcNow(),
            Secret = WebhookSignature.NewSecret(),
        };
        S.Endpoints.Add(endpoint);
        await WriteAsync(() => S.Endpoints.Remove(endpoint));
        LogRegistered(logger, endpoint.Id, UserId);
        return new WebhookEndpointOutcome { Endpoint = View(endpoint) with { Secret = endpoint.Secret } };
    }

    Task<IReadOnlyList<WebhookEndpoint>> IWebhookEndpointsGrain.ListAsync() =>
        Task.FromResult<IReadOnlyList<WebhookEndpoint>>(S.Endpoints.Select(View).ToList());

    Task<WebhookEndpoint?> IWebhookEndpointsGrain.GetAsync(string endpointId) =>
        Task.FromResult(Find(endpointId) is { } endpoint ? View(endpoint) : null);

    async Task<bool> IWebhookEndpointsGrain.DeleteAsync(string endpointId)
    {
        if (Find(endpointId) is not { } endpoint)
        {
            return false;
        }
        var index = S.Endpoints.IndexOf(endpoint);
        S.Endpoints.RemoveAt(index);
        await WriteAsync(() => S.Endpoints.Insert(index, endpoint));
        return true;
    }

    async Task<WebhookEndpoint?> IWebhookEndpointsGrain.RotateSecretAsync(string endpointId)
    {
        if (Find(endpointId) is not { } endpoint)
        {
            return null;
        }
        var (secret, previous, expires) = (endpoint.Secret, endpoint.PreviousSecret, endpoint.PreviousSecretExpiresAt);
        endpoint.PreviousSecret = endpoint.Secret;
        endpoint.PreviousSecretExpiresAt = time.GetUtcNow() + options.CurrentValue.RotationOverlap;
        endpoint.Secret = WebhookSignature.NewSecret();
        await WriteAsync(() => (endpoint.Secret, endpoint.PreviousSecret, endpoint.PreviousSecretExpiresAt) = (secret, previous, expires));
        LogRotated(logger, endpoint.Id, UserId);
        return View(endpoint) with { Secret = endpoint.Secret };
    }

    Task<IReadOnlyList<string>> IWebhookEndpointsGrain.TargetsAsync(string eventType, string? endpointId)
    {
        var targets = new List<string>();
        if (endpointId is not null && Find(endpointId) is not null)
        {
            targets.Add(endpointId);
        }
        targets.AddRange(S.Endpoints.Where(e => e.Events.Contains(eventType) && e.Id != endpointId).Select(e => e.Id));
        return Task.FromResult<IReadOnlyList<string>>(targets);
    }

    Task<WebhookTarget?> IWebhookEndpointsGrain.GetTargetAsync(string endpointId)
    {
        if (Find(endpointId) is not { } endpoint)
        {
            return Task.FromResult<WebhookTarget?>(null);
        }
        List<string> secrets = [endpoint.Secret];
        if (endpoint.PreviousSecret is { } previous && endpoint.PreviousSecretExpiresAt > time.GetUtcNow())
        {
            secrets.Add(previous);
        }
        return Task.FromResult<WebhookTarget?>(new WebhookTarget
        {
            Url = endpoint.Url,
            Secrets = secrets,
            Disabled = endpoint.Disabled,
            DisabledReason = endpoint.DisabledReason,
        });
    }

    async Task IWebhookEndpointsGrain.DisableAsync(string endpointId, string reason)
    {
        if (Find(endpointId) is not { Disabled: false } endpoint)
        {
            return;
        }
        endpoint.Disabled = true;
        endpoint.DisabledReason = reason;
        await WriteAsync(() =>
        {
            endpoint.Disabled = false;
            endpoint.DisabledReason = null;
        });
        LogDisabled(logger, endpoint.Id, UserId, reason);
    }

    async Task IWebhookEndpointsGrain.RecordFailedAsync(WebhookDeliverySummary delivery)
    {
        var before = S.Failed.ToList();
        S.Failed.RemoveAll(d => d.Id == delivery.Id);
        S.Failed.Insert(0, delivery);
        var max = options.CurrentValue.MaxFailedPerUser;
        if (S.Failed.Count > max)
        {
            foreach (var dropped in S.Failed.Skip(max))
            {
                LogFailedDropped(logger, dropped.Id, UserId, max);
            }
            S.Failed.RemoveRange(max, S.Failed.Count - max);
        }
        await WriteAsync(() => S.Failed = before);
    }

    async Task IWebhookEndpointsGrain.ForgetFailedAsync(string deliveryId)
    {
        var index = S.Failed.FindIndex(d => d.Id == deliveryId);
        if (index < 0)
        {
            return;
        }
        var removed = S.Failed[index];
        S.Failed.RemoveAt(index);
        await WriteAsync(() => S.Failed.Insert(index, removed));
    }

    Task<WebhookDeliveryList> IWebhookEndpointsGrain.ListFailedAsync(int limit, string? after)
    {
        var start = 0;
        if (after is not null)
        {
            // The cursor is the id of the last delivery of the previous page; one replayed since then ends the listing there.
            var index = S.Failed.FindIndex(d => d.Id == after);
            start = index < 0 ? S.Failed.Count : index + 1;
        }
        var items = S.Failed.Skip(start).Take(limit).ToList();
        var more = start + items.Count < S.Failed.Count;
        return Task.FromResult(new WebhookDeliveryList { Items = items, NextCursor = more && items.Count > 0 ? items[^1].Id : null });
    }

    private StoredWebhookEndpoint? Find(string endpointId) => S.Endpoints.FirstOrDefault(e => e.Id == endpointId);

    private WebhookEndpoint View(StoredWebhookEndpoint e) => new()
    {
        Id = e.Id,
        Url = e.Url,
        Events = e.Events,
        CreatedAt = e.CreatedAt,
        Disabled = e.Disabled,
        DisabledReason = e.DisabledReason,
        PreviousSecretExpiresAt = e.PreviousSecret is not null && e.PreviousSecretExpiresAt > time.GetUtcNow() ? e.PreviousSecretExpiresAt : null,
    };

    /// <summary>Writes the row; when the write fails, <paramref name="undo"/> puts memory back as it was stored.</summary>
    private async Task WriteAsync(Action undo)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            undo();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook endpoint {EndpointId} registered by user {UserId}")]
    private static partial void LogRegistered(ILogger logger, string endpointId, string userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook endpoint {EndpointId} of user {UserId}: secret rotated")]
    private static partial void LogRotated(ILogger logger, string endpointId, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} of user {UserId} disabled: {Reason}")]
    private static partial void LogDisabled(ILogger logger, string endpointId, string userId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failed webhook delivery {DeliveryId} of user {UserId} dropped from the failed store (it keeps the newest {Max})")]
    private static partial void LogFailedDropped(ILogger logger, string deliveryId, string userId, int max);
}
