using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using FromHeaderAttribute = Microsoft.AspNetCore.Mvc.FromHeaderAttribute;
using FromQueryAttribute = Microsoft.AspNetCore.Mvc.FromQueryAttribute;
using Orleans.Search.Gateway.Auth;
using Orleans.Search.Gateway.Events;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Gateway.Api;

/// <summary>The HTTP API of SPEC.md.</summary>
public static class SearchJobEndpoints
{
    private const int DefaultWaitSeconds = 30;
    private const int DefaultListLimit = 20;
    private const int MaxListLimit = 100;

    public static IEndpointRouteBuilder MapSearchJobEndpoints(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api").RequireAuthorization().WithTags("Search jobs");
        api.MapPost("/search-jobs", CreateAsync).WithName("CreateSearchJob")
            .WithSummary("Create a background search job").Accepts<JobSpec>("application/json")
            .Produces<JobStatus>(StatusCodes.Status202Accepted);
        api.MapPost("/search", SearchAsync).WithName("Search")
            .WithSummary("Create a job and wait up to waitSeconds for it").Accepts<JobSpec>("application/json")
            .Produces<JobStatus>().Produces<JobStatus>(StatusCodes.Status202Accepted);
        api.MapGet("/search-jobs", ListAsync).WithName("ListSearchJobs").WithSummary("The caller's jobs, newest first");
        api.MapGet("/search-jobs/{id}", GetAsync).WithName("GetSearchJob").WithSummary("A job's status and results");
        api.MapGet("/search-jobs/{id}/events", EventsAsync).WithName("SearchJobEvents")
            .WithSummary("Server-sent events: a snapshot, then every event; honours Last-Event-ID");
        api.MapPost("/search-jobs/{id}/cancel", CancelAsync).WithName("CancelSearchJob").WithSummary("Cancel a job, keeping its results so far");
        api.MapGet("/search-jobs/{id}/debug", DebugAsync).WithName("DebugSearchJob").WithSummary("Per-query attempts, timings and errors");
        api.MapGet("/rate-limits", RateLimitsAsync).WithName("RateLimits").WithSummary("The caller's and each provider's limiter");
        return routes;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, JobRequests requests, IGrainFactory grains, IOptionsMonitor<UserLimitOptions> limits)
    {
        var (created, problem) = await SubmitAsync(http, requests, grains, limits);
        return problem ?? TypedResults.Accepted($"/api/search-jobs/{created!.JobId}", created.Status);
    }

    private static async Task<IResult> SearchAsync(HttpContext http, JobRequests requests, IGrainFactory grains, IOptionsMonitor<UserLimitOptions> limits,
        JobEventFeed feed, [FromQuery(Name = "waitSeconds")] string? waitSecondsText)
    {
        // Bound as text: a value that is not a number gets a problem naming it, not the framework's bare 400.
        int? waitSeconds = null;
        if (waitSecondsText is not null)
        {
            if (!int.TryParse(waitSecondsText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
                || parsed is < 0 or > JobRequests.MaxWaitSeconds)
            {
                return Problems.InvalidField("waitSeconds", $"'waitSeconds' must be a whole number from 0 to {JobRequests.MaxWaitSeconds}; it is '{waitSecondsText}'.");
            }
            waitSeconds = parsed;
        }
        var (created, problem) = await SubmitAsync(http, requests, grains, limits);
        if (problem is not null)
        {
            return problem;
        }
        var user = http.User.UserId();
        var wait = TimeSpan.FromSeconds(waitSeconds ?? created!.WaitSeconds ?? DefaultWaitSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(wait);
        try
        {
            await foreach (var item in feed.ReadAsync(created!.JobId, user, 0, timeout.Token))
            {
                if (item.Snapshot is { } s && JobStates.IsTerminal(s.Status) || item.Event is { } e && JobEventTypes.IsTerminal(e.Type))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
        {
        }
        var job = grains.GetGrain<ISearchJobGrain>(created!.JobId);
        var status = await job.GetStatusAsync(user, includeResults: true);
        return status is null ? Problems.NotFound(created.JobId)
            : JobStates.IsTerminal(status.Status) ? TypedResults.Ok(status)
            : TypedResults.Accepted($"/api/search-jobs/{status.JobId}", status);
    }

    /// <summary>Reads, validates and submits a spec. Returns the created job's status (and the spec's wait) or a problem.</summary>
    private static async Task<(Created? Job, IResult? Problem)> SubmitAsync(HttpContext http, JobRequests requests, IGrainFactory grains, IOptionsMonitor<UserLimitOptions> limits)
    {
        var user = http.User.UserId();
        var (spec, problem) = await ReadSpecAsync(http);
        if (problem is not null)
        {
            return (null, problem);
        }
        var errors = requests.Validate(spec!);
        if (errors.Count > 0)
        {
            return (null, Problems.Invalid(errors, "The job spec is invalid"));
        }
        var idempotencyKey = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        if (JobRequests.ValidateIdempotencyKey(idempotencyKey) is { } keyError)
        {
            return (null, Problems.InvalidField("Idempotency-Key", keyError));
        }

        var submission = requests.ToSubmission(spec!, user, idempotencyKey);
        var job = grains.GetGrain<ISearchJobGrain>(submission.JobId);
        var userJobs = grains.GetGrain<IUserJobsGrain>(user);
        var jobLimits = limits.CurrentValue.JobLimits;
        // Admission reserves a place atomically (a count read here would let concurrent creates overshoot a limit); the
        // reservation is released once the submitted job is indexed. A retry of a job that exists is never refused.
        var reserved = false;
        if (jobLimits.Any && (idempotencyKey is null || await job.GetStatusAsync(user, includeResults: false) is null))
        {
            var admission = await userJobs.TryReserveAsync(submission.JobId, jobLimits);
            if (!admission.Admitted)
            {
                return (null, Refused(http, admission));
            }
            reserved = true;
        }
        try
        {
            var status = await job.SubmitAsync(submission);
            return (new Created(status, spec!.WaitSeconds), null);
        }
        catch (JobConflictException ex)
        {
            return (null, TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused"));
        }
        finally
        {
            if (reserved)
            {
                await userJobs.ReleaseReservationAsync(submission.JobId);
            }
        }
    }

    /// <summary>A 429 problem for a job admission refused, saying which limit and when to retry.</summary>
    private static IResult Refused(HttpContext http, JobAdmission admission)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(admission.RetryAfter.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (title, detail) = admission.Limit switch
        {
            JobLimitNames.PerMinute => ("Too many jobs per minute",
                $"You created {admission.Count} jobs in the last minute; at most {admission.Max} may be created per minute. Try again in {seconds} s."),
            JobLimitNames.Stored => ("Too many stored jobs",
                $"You have {admission.Count} stored jobs; at most {admission.Max} may be kept. Delete jobs you no longer need, " +
                $"or wait until finished ones pass their retention period and are deleted (the oldest in about {seconds} s or later)."),
            _ => ("Too many active jobs",
                $"You have {admission.Count} active jobs; at most {admission.Max} may run at once. Wait for one to finish or cancel one."),
        };
        return TypedResults.Problem(detail, statusCode: StatusCodes.Status429TooManyRequests, title: title);
    }

    private static async Task<(JobSpec? Spec, IResult? Problem)> ReadSpecAsync(HttpContext http)
    {
        if (!http.Request.HasJsonContentType())
        {
            return (null, Problems.UnsupportedMediaType(Problems.JsonBodyRequired));
        }
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            var spec = await JsonSerializer.DeserializeAsync<JobSpec>(http.Request.Body, json, http.RequestAborted);
            return spec is null ? (null, Problems.InvalidField("body", "The request body must be a JSON object (a job spec), not null.")) : (spec, null);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return (null, Problems.Invalid(new Dictionary<string, string[]>
            {
                [field] = [$"The request body is not a valid job spec at '{field}': {FirstSentence(ex.Message)}"],
            }, "The job spec is invalid"));
        }
    }

    private static async Task<IResult> GetAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        var status = await grains.GetGrain<ISearchJobGrain>(id).GetStatusAsync(http.User.UserId(), includeResults: true);
        return status is null ? Problems.NotFound(id) : TypedResults.Ok(status);
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        var status = await grains.GetGrain<ISearchJobGrain>(id).CancelAsync(http.User.UserId());
        return status switch
        {
            null => Problems.NotFound(id),
            { Status: JobStates.Cancelled } => TypedResults.Ok(status),
            _ => Problems.Conflict($"Job '{id}' already ended '{status.Status}'; there is nothing to cancel."),
        };
    }

    private static async Task<IResult> DebugAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        var debug = await grains.GetGrain<ISearchJobGrain>(id).GetDebugAsync(http.User.UserId());
        return debug is null ? Problems.NotFound(id) : TypedResults.Ok(debug);
    }

    private static async Task<IResult> ListAsync(HttpContext http, IGrainFactory grains, string? status, string? limit, string? cursor)
    {
        if (status is not null && !JobStates.All.Contains(status))
        {
            return Problems.InvalidField("status", $"'status' must be one of {string.Join(", ", JobStates.All)}; it is '{status}'.");
        }
        var take = DefaultListLimit;
        if (limit is not null && (!int.TryParse(limit, out take) || take is < 1 or > MaxListLimit))
        {
            return Problems.InvalidField("limit", $"'limit' must be a whole number from 1 to {MaxListLimit}; it is '{limit}'.");
        }
        if (cursor is not null && !UserJobsGrain.Cursor.TryParse(cursor, out _))
        {
            return Problems.InvalidField("cursor", "'cursor' is not one this API gave out; pass 'nextCursor' from the previous page.");
        }
        return TypedResults.Ok(await grains.GetGrain<IUserJobsGrain>(http.User.UserId()).ListAsync(status, take, cursor));
    }

    private static async Task<IResult> EventsAsync(string id, HttpContext http, IGrainFactory grains, JobEventFeed feed,
        IOptions<JsonOptions> json, [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader, [FromQuery] string? lastEventId)
    {
        var lastText = lastEventIdHeader ?? lastEventId;
        long after = 0;
        if (!string.IsNullOrEmpty(lastText) && (!long.TryParse(lastText, out after) || after < 0))
        {
            return Problems.InvalidField("Last-Event-ID", $"'Last-Event-ID' must be an event id this stream sent (a non-negative number); it is '{lastText}'.");
        }
        var user = http.User.UserId();
        if (!JobRequests.IsWellFormedJobId(id) || await grains.GetGrain<ISearchJobGrain>(id).GetEventsAsync(user, long.MaxValue) is null)
        {
            return Problems.NotFound(id);
        }
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        return TypedResults.ServerSentEvents(ToSse(feed.ReadAsync(id, user, after, http.RequestAborted), json.Value.SerializerOptions));
    }

    private static async IAsyncEnumerable<SseItem<string>> ToSse(IAsyncEnumerable<JobFeedItem> items, JsonSerializerOptions json)
    {
        await foreach (var item in items)
        {
            if (item.Event is { } relayed)
            {
                Diagnostics.SearchMetrics.EventDeliveryDelay.Record((DateTimeOffset.UtcNow - relayed.Timestamp).TotalMilliseconds);
            }
            yield return item.Event is { } e
                ? new SseItem<string>(JsonSerializer.Serialize(e, json), e.Type) { EventId = e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture) }
                : new SseItem<string>(JsonSerializer.Serialize(item.Snapshot, json), item.Type);
        }
    }

    private static async Task<IResult> RateLimitsAsync(HttpContext http, IGrainFactory grains, IOptionsMonitor<SearchOptions> search)
    {
        var user = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.User(http.User.UserId())).GetSnapshotAsync();
        var providers = await Task.WhenAll(search.CurrentValue.Providers.Keys.Order()
            .Select(name => grains.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(name)).GetSnapshotAsync()));
        return TypedResults.Ok(new RateLimitsView(await user, providers));
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..(end + 1)] : message;
    }

    private sealed record Created(JobStatus Status, int? WaitSeconds)
    {
        public string JobId => Status.JobId;
    }

    public sealed record RateLimitsView(LimiterSnapshot User, IReadOnlyList<LimiterSnapshot> Providers);
}
