using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Orleans.Search.Net;
using Orleans.Search.Storage;

namespace Orleans.Search.Webhooks;

/// <summary>A delivery as stored: the message, where its schedule is, and every attempt.</summary>
public sealed class WebhookDeliveryState
{
    public WebhookMessage? Message { get; set; }

    public string Status { get; set; } = WebhookDeliveryStates.Pending;

    /// <summary>Attempts made in this round (a replay starts a new round); the next one waits for that schedule entry.</summary>
    public int RoundAttempts { get; set; }

    public DateTimeOffset? NextAttemptAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public DateTimeOffset? FailedAt { get; set; }

    public string? Error { get; set; }

    /// <summary>Every attempt, oldest first (the oldest are dropped past <see cref="WebhookDeliveryGrain.MaxAttemptsKept"/>).</summary>
    public List<WebhookAttempt> Attempts { get; set; } = [];
}

/// <summary>
/// Sends one message to one endpoint until a receiver takes it (2xx), its schedule runs out, or its endpoint is gone
/// (410 Gone, disabled, deleted); then it waits in the owner's failed store for a replay. Its state and a reminder are
/// durable before each wait, so a crash at any point resumes the schedule (an attempt cut off by a crash is made again,
/// with the same <c>webhook-id</c>: receivers dedupe on it). A timer fires each attempt on time while the activation
/// lives; the reminder, due at the same moment, brings the delivery back when it does not.
/// </summary>
public sealed partial class WebhookDeliveryGrain(
    [PersistentState("webhook-delivery", SearchStorage.Name)] IPersistentState<WebhookDeliveryState> state,
    OutboundGuard guard,
    IOptionsMonitor<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDeliveryGrain> logger) : Grain, IWebhookDeliveryGrain, IRemindable
{
    public const int MaxAttemptsKept = 100;

    private const string ScheduleReminder = "delivery";
    private const string UserAgent = "Orleans.Search-Webhooks/1.0";

    private IGrainTimer? _attemptTimer;

    private WebhookDeliveryState S => state.State;

    private WebhookMessage? Message => S.Message;

    private string DeliveryId => this.GetPrimaryKeyString();

    private IWebhookEndpointsGrain Endpoints => GrainFactory.GetGrain<IWebhookEndpointsGrain>(Message!.Owner);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Message is not null && S.Status == WebhookDeliveryStates.Pending)
        {
            ScheduleTimer();
        }
        return Task.CompletedTask;
    }

    async Task IWebhookDeliveryGrain.EnqueueAsync(WebhookMessage message)
    {
        if (Message is not null)
        {
            return;
        }
        var next = time.GetUtcNow() + options.CurrentValue.Schedule[0];
        // The reminder first: a delivery stored without one could wait for nobody after a crash; a reminder without a
        // delivery (the write failed) finds nothing and removes itself.
        await RegisterReminderAsync(next);
        state.State = new WebhookDeliveryState { Message = message, NextAttemptAt = next };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = new WebhookDeliveryState();
            throw;
        }
        ScheduleTimer();
    }

    Task<WebhookDelivery?> IWebhookDeliveryGrain.GetAsync(string requester) =>
        Task.FromResult(Message?.Owner == requester ? View() : null);

    async Task<WebhookReplay> IWebhookDeliveryGrain.ReplayAsync(string requester)
    {
        if (Message is not { } message || message.Owner != requester)
        {
            return new WebhookReplay { Outcome = WebhookReplayOutcomes.NotFound };
        }
        if (S.Status != WebhookDeliveryStates.Failed)
        {
            return new WebhookReplay { Outcome = WebhookReplayOutcomes.NotFailed, Delivery = View(), Detail = $"Delivery '{DeliveryId}' is {S.Status}; only a failed delivery is replayed." };
        }
        var target = await Endpoints.GetTargetAsync(message.EndpointId);
        if (target is null || target.Disabled)
        {
            return new WebhookReplay
            {
                Outcome = WebhookReplayOutcomes.EndpointUnavailable,
                Delivery = View(),
                Detail = target is null
                    ? $"Endpoint '{message.EndpointId}' was deleted; register an endpoint to receive new events."
                    : $"Endpoint '{message.EndpointId}' is disabled ({target.DisabledReason}); register an endpoint to receive new events.",
            };
        }
        var next = time.GetUtcNow();
        await RegisterReminderAsync(next);
        S.Status = WebhookDeliveryStates.Pending;
        S.RoundAttempts = 0;
        S.NextAttemptAt = next;
        S.FailedAt = null;
        S.Error = null;
        await state.WriteStateAsync();
        // Out of the failed store only once it is pending again: a failed replay files it again.
        await Endpoints.ForgetFailedAsync(DeliveryId);
        LogReplaying(logger, DeliveryId, message.EndpointId);
        ScheduleTimer();
        return new WebhookReplay { Outcome = WebhookReplayOutcomes.Replaying, Delivery = View() };
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (Message is null)
        {
            await UnregisterReminderAsync();
            DeactivateOnIdle();
            return;
        }
        switch (S.Status)
        {
            case WebhookDeliveryStates.Pending:
                await AttemptIfDueAsync();
                break;
            case WebhookDeliveryStates.Delivered when S.DeliveredAt + options.CurrentValue.DeliveredRetention <= time.GetUtcNow():
                await UnregisterReminderAsync();
                await state.ClearStateAsync();
                DeactivateOnIdle();
                break;
            case WebhookDeliveryStates.Failed:
                await UnregisterReminderAsync();
                break;
        }
    }

    private void ScheduleTimer()
    {
        _attemptTimer?.Dispose();
        var due = S.NextAttemptAt is { } at ? at - time.GetUtcNow() : TimeSpan.Zero;
        _attemptTimer = this.RegisterGrainTimer(static (self, _) => self.AttemptIfDueAsync(), this,
            new GrainTimerCreationOptions(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    /// <summary>Makes the attempt that is due (the timer and the reminder may both ask; grain turns do not interleave).</summary>
    private async Task AttemptIfDueAsync()
    {
        if (Message is null || S.Status != WebhookDeliveryStates.Pending || S.NextAttemptAt > time.GetUtcNow())
        {
            return;
        }
        try
        {
            await AttemptAsync();
        }
        catch (Exception ex)
        {
            // Storage or the endpoints grain away: start again from the stored state when the reminder next ticks (an
            // attempt the receiver took may be sent again, with the same webhook-id).
            LogAttemptBookkeepingFailed(logger, ex, DeliveryId);
            DeactivateOnIdle();
        }
    }

    private async Task AttemptAsync()
    {
        var message = Message!;
        var target = await Endpoints.GetTargetAsync(message.EndpointId);
        if (target is null || target.Disabled)
        {
            await FailAsync(target is null ? "the endpoint was deleted" : $"the endpoint is disabled: {target.DisabledReason}");
            return;
        }

        var settings = options.CurrentValue;
        var started = time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        int? code = null;
        string? error = null;
        TimeSpan? retryAfter = null;
        try
        {
            var body = Encoding.UTF8.GetBytes(message.Body);
            var timestamp = started.ToUnixTimeSeconds();
            var signature = WebhookSignature.Sign(target.Secrets, DeliveryId, timestamp, body);
            using var timeout = new CancellationTokenSource(settings.Timeout);
            // No redirects: a 3xx is a failure (and a redirect is a way around the guard's address checks).
            using var response = await guard.SendAsync(new Uri(target.Url), url =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.TryAddWithoutValidation("webhook-id", DeliveryId);
                request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("webhook-signature", signature);
                request.Headers.UserAgent.ParseAdd(UserAgent);
                return request;
            }, maxRedirects: 0, timeout.Token);
            code = (int)response.Response.StatusCode;
            retryAfter = RetryAfter(response.Response.Headers.RetryAfter, settings.MaxRetryAfter);
            if (code is < 200 or > 299)
            {
                error = code is >= 300 and < 400 ? $"HTTP {code}: redirects are not followed" : $"HTTP {code}";
            }
        }
        catch (OutboundRefusedException refused)
        {
            error = $"refused by the outbound guard: {refused.Reason}";
        }
        catch (OperationCanceledException)
        {
            error = $"no answer within {settings.TimeoutSeconds:0.###} s";
        }
        catch (HttpRequestException failed)
        {
            error = failed.Message;
        }
        var attempt = new WebhookAttempt { At = started, Status = code, Ms = clock.ElapsedMilliseconds, Error = error };
        S.Attempts.Add(attempt);
        if (S.Attempts.Count > MaxAttemptsKept)
        {
            S.Attempts.RemoveRange(0, S.Attempts.Count - MaxAttemptsKept);
        }
        S.RoundAttempts++;

        if (error is null)
        {
            await DeliveredAsync();
            return;
        }
        LogAttemptFailed(logger, DeliveryId, message.EndpointId, S.RoundAttempts, error);
        if (code == (int)HttpStatusCode.Gone)
        {
            await Endpoints.DisableAsync(message.EndpointId, "its receiver answered 410 Gone");
            await FailAsync("the receiver answered 410 Gone; the endpoint is disabled");
            return;
        }
        var schedule = settings.Schedule;
        if (S.RoundAttempts >= schedule.Count)
        {
            await FailAsync($"no success in {S.RoundAttempts} attempts; the last: {error}");
            return;
        }
        var next = time.GetUtcNow() + (retryAfter ?? schedule[S.RoundAttempts]);
        await RegisterReminderAsync(next);
        S.NextAttemptAt = next;
        await state.WriteStateAsync();
        ScheduleTimer();
    }

    private async Task DeliveredAsync()
    {
        S.Status = WebhookDeliveryStates.Delivered;
        S.DeliveredAt = time.GetUtcNow();
        S.NextAttemptAt = null;
        S.Error = null;
        // The reminder now only deletes the row once the retention passed.
        var retention = options.CurrentValue.DeliveredRetention;
        await this.RegisterOrUpdateReminder(ScheduleReminder, retention > TimeSpan.Zero ? retention : TimeSpan.FromSeconds(1), ReminderPeriodAtLeast(retention));
        await state.WriteStateAsync();
        _attemptTimer?.Dispose();
        _attemptTimer = null;
    }

    private async Task FailAsync(string error)
    {
        var message = Message!;
        var failedAt = time.GetUtcNow();
        S.Status = WebhookDeliveryStates.Failed;
        S.FailedAt = failedAt;
        S.NextAttemptAt = null;
        S.Error = error;
        // Filed before its row says failed: a crash in between leaves it pending, so it is attempted again (and filed again).
        await Endpoints.RecordFailedAsync(new WebhookDeliverySummary
        {
            Id = DeliveryId,
            EndpointId = message.EndpointId,
            Type = message.Type,
            JobId = message.JobId,
            CreatedAt = message.CreatedAt,
            FailedAt = failedAt,
            Attempts = S.Attempts.Count,
            Error = error,
        });
        await state.WriteStateAsync();
        await UnregisterReminderAsync();
        _attemptTimer?.Dispose();
        _attemptTimer = null;
        LogFailed(logger, DeliveryId, message.EndpointId, error);
    }

    /// <summary>The reminder's first tick at <paramref name="at"/>, then every <see cref="WebhookOptions.ReminderPeriod"/> until the delivery ends.</summary>
    private Task RegisterReminderAsync(DateTimeOffset at)
    {
        var due = at - time.GetUtcNow();
        return this.RegisterOrUpdateReminder(ScheduleReminder, due > TimeSpan.Zero ? due : TimeSpan.Zero, options.CurrentValue.ReminderPeriod);
    }

    private TimeSpan ReminderPeriodAtLeast(TimeSpan period) => period > options.CurrentValue.ReminderPeriod ? period : options.CurrentValue.ReminderPeriod;

    private async Task UnregisterReminderAsync()
    {
        if (await this.GetReminder(ScheduleReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>A receiver's <c>Retry-After</c> (seconds or a date), clamped to 0–<paramref name="max"/>; null when absent.</summary>
    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header, TimeSpan max)
    {
        var wait = header?.Delta ?? (header?.Date is { } date ? date - time.GetUtcNow() : null);
        return wait is null ? null : wait < TimeSpan.Zero ? TimeSpan.Zero : wait > max ? max : wait;
    }

    private WebhookDelivery View() => View(Message!);

    private WebhookDelivery View(WebhookMessage message) => new()
    {
        Id = DeliveryId,
        EndpointId = message.EndpointId,
        Type = message.Type,
        JobId = message.JobId,
        Status = S.Status,
        CreatedAt = message.CreatedAt,
        NextAttemptAt = S.NextAttemptAt,
        DeliveredAt = S.DeliveredAt,
        FailedAt = S.FailedAt,
        Error = S.Error,
        Attempts = S.Attempts.ToList(),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} to {EndpointId}: attempt {Attempt} failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string deliveryId, string endpointId, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to {EndpointId} failed and waits in the failed store: {Error}")]
    private static partial void LogFailed(ILogger logger, string deliveryId, string endpointId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} to {EndpointId}: replaying")]
    private static partial void LogReplaying(ILogger logger, string deliveryId, string endpointId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId}: recording an attempt failed; its reminder tries again")]
    private static partial void LogAttemptBookkeepingFailed(ILogger logger, Exception exception, string deliveryId);
}
