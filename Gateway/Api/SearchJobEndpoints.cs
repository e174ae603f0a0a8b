using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using FromHeaderAttribute = Microsoft.AspNetCore.Mvc.FromHeaderAttribute;
using FromQueryAttribute = Microsoft.AspNetCore.Mvc.FromQueryAttribute;
using Orleans.Search.Gateway.Auth;
using Orleans.Search.Gateway.Events;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Gateway.Api;

/// <summary>The search-job HTTP API: create, search-and-wait, list, get, events, cancel, delete, debug and rate limits.</summary>
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
            .WithSummary("Server-sent events: a snapshot (id = the last seq it reflects) and the events after it, or with Last-Event-ID every event after that");
        api.MapPost("/search-jobs/{id}/cancel", CancelAsync).WithName("CancelSearchJob").WithSummary("Cancel a job, keeping its results so far");
        api.MapDelete("/search-jobs/{id}", DeleteAsync).WithName("DeleteSearchJob")
            .WithSummary("Erase a job and everything stored for it, cancelling it first if it runs").Produces(StatusCodes.Status204NoContent);
        api.MapGet("/search-jobs/{id}/debug", DebugAsync).WithName("DebugSearchJob").WithSummary("Per-query attempts, timings and errors");
        api.MapGet("/rate-limits", RateLimitsAsync).WithName("RateLimits").WithSummary("The caller's and each provider's limiter");
        return routes;
    }

    private static async Task<Results<Accepted<JobStatus>, ProblemHttpResult>> CreateAsync([AsParameters] SubmitServices submit)
    {
        var (created, problem) = await SubmitAsync(submit);
        return problem is not null ? problem : TypedResults.Accepted($"/api/search-jobs/{created!.JobId}", created.Status);
    }

    private static async Task<Results<Ok<JobStatus>, Accepted<JobStatus>, ProblemHttpResult>> SearchAsync([AsParameters] SubmitServices submit,
        JobEventFeed feed, OpenStreamPermits streams, [FromQuery(Name = "waitSeconds")] string? waitSecondsText)
    {
        var http = submit.Http;
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
        var user = http.User.UserId();
        // A wait holds a place among the user's open streams. Over the cap the answer comes before anything is created,
        // so a refused request leaves nothing behind (the caller may POST /api/search-jobs and follow its events instead).
        await using var permit = waitSeconds == 0 ? OpenStreamPermits.NotCounted : await streams.TryAcquireAsync(user, "search wait");
        if (permit is null)
        {
            return TooManyStreams(http, streams.Max);
        }
        var (created, problem) = await SubmitAsync(submit);
        if (problem is not null)
        {
            return problem;
        }
        var wait = TimeSpan.FromSeconds(waitSeconds ?? created!.WaitSeconds ?? DefaultWaitSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(wait);
        try
        {
            await foreach (var item in feed.ReadAsync(created!.JobId, user, afterSeq: null, timeout.Token))
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
        var job = submit.Grains.GetGrain<ISearchJobGrain>(created!.JobId);
        var status = await job.GetStatusAsync(user, includeResults: true);
        return status is null ? Problems.NotFound(created.JobId)
            : JobStates.IsTerminal(status.Status) ? TypedResults.Ok(status)
            : TypedResults.Accepted($"/api/search-jobs/{status.JobId}", status);
    }

    /// <summary>What creating a job needs from the request and the services.</summary>
    private sealed class SubmitServices(HttpContext http, JobSpecReader reader, JobRequests requests, IGrainFactory grains, IOptionsMonitor<UserLimitOptions> limits)
    {
        public HttpContext Http { get; } = http;
        public JobSpecReader Reader { get; } = reader;
        public JobRequests Requests { get; } = requests;
        public IGrainFactory Grains { get; } = grains;
        public IOptionsMonitor<UserLimitOptions> Limits { get; } = limits;
    }

    /// <summary>
    /// Reads and validates a spec, then admits and submits it with one call on the user's job index (which applies the
    /// job limits). Returns the job's status (and the spec's wait) or a problem.
    /// </summary>
    private static async Task<(Created? Job, ProblemHttpResult? Problem)> SubmitAsync(SubmitServices submit)
    {
        var http = submit.Http;
        var user = http.User.UserId();
        var (spec, problem) = await submit.Reader.ReadAsync(http.Request, http.RequestAborted);
        if (problem is not null)
        {
            return (null, problem);
        }
        var errors = submit.Requests.Validate(spec!);
        if (errors.Count > 0)
        {
            return (null, Problems.Invalid(errors, "The job spec is invalid"));
        }
        var idempotencyKey = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        if (JobRequests.ValidateIdempotencyKey(idempotencyKey) is { } keyError)
        {
            return (null, Problems.InvalidField("Idempotency-Key", keyError));
        }

        if (spec!.Webhook?.EndpointId is { } endpointId
            && await submit.Grains.GetGrain<Webhooks.IWebhookEndpointsGrain>(user).GetAsync(endpointId) is null)
        {
            return (null, Problems.InvalidField("webhook.endpointId", $"'webhook.endpointId' names no webhook endpoint of yours: '{endpointId}'."));
        }
        var submission = submit.Requests.ToSubmission(spec!, user, idempotencyKey);
        var outcome = await submit.Grains.GetGrain<IUserJobsGrain>(user)
            .SubmitAsync(submission, submit.Limits.CurrentValue.JobLimits, idempotent: idempotencyKey is not null);
        return outcome switch
        {
            { Status: { } status } => (new Created(status, spec!.WaitSeconds), null),
            { Refusal: { } refusal } => (null, Refused(http, refusal)),
            _ => (null, TypedResults.Problem(outcome.Conflict, statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused")),
        };
    }

    /// <summary>A 429 problem for a job admission refused, saying which limit and when to retry.</summary>
    private static ProblemHttpResult Refused(HttpContext http, JobAdmission admission)
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

    private static async Task<Results<Ok<JobStatus>, ProblemHttpResult>> GetAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        var status = await grains.GetGrain<ISearchJobGrain>(id).GetStatusAsync(http.User.UserId(), includeResults: true);
        return status is null ? Problems.NotFound(id) : TypedResults.Ok(status);
    }

    private static async Task<Results<Ok<JobStatus>, ProblemHttpResult>> CancelAsync(string id, HttpContext http, IGrainFactory grains)
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

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        return await grains.GetGrain<ISearchJobGrain>(id).DeleteAsync(http.User.UserId()) ? TypedResults.NoContent() : Problems.NotFound(id);
    }

    private static async Task<Results<Ok<JobDebug>, ProblemHttpResult>> DebugAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!JobRequests.IsWellFormedJobId(id))
        {
            return Problems.NotFound(id);
        }
        var debug = await grains.GetGrain<ISearchJobGrain>(id).GetDebugAsync(http.User.UserId());
        return debug is null ? Problems.NotFound(id) : TypedResults.Ok(debug);
    }

    private static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(HttpContext http, IGrainFactory grains, string? status, string? limit, string? cursor)
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
        if (cursor is not null && !JobRequests.IsWellFormedCursor(cursor))
        {
            return Problems.InvalidField("cursor", "'cursor' is not one this API gave out; pass 'nextCursor' from the previous page.");
        }
        return TypedResults.Ok(await grains.GetGrain<IUserJobsGrain>(http.User.UserId()).ListAsync(status, take, cursor));
    }

    private static async Task<Results<JobEventStreamResult, ProblemHttpResult>> EventsAsync(string id, HttpContext http, IGrainFactory grains, JobEventFeed feed, OpenStreamPermits streams,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader, [FromQuery] string? lastEventId)
    {
        var lastText = lastEventIdHeader ?? lastEventId;
        if (JobRequests.ParseLastEventId(lastText, out var parsed) is { } lastEventIdError)
        {
            return Problems.InvalidField("Last-Event-ID", lastEventIdError);
        }
        long? after = string.IsNullOrEmpty(lastText) ? null : parsed;
        var user = http.User.UserId();
        if (!JobRequests.IsWellFormedJobId(id) || await grains.GetGrain<ISearchJobGrain>(id).GetEventsAsync(user, long.MaxValue) is null)
        {
            return Problems.NotFound(id);
        }
        var permit = await streams.TryAcquireAsync(user, $"events of {id}");
        if (permit is null)
        {
            return TooManyStreams(http, streams.Max);
        }
        // The stream releases it when it ends; this covers a request that ends before the stream starts.
        http.Response.RegisterForDisposeAsync(permit);
        return new JobEventStreamResult(token => feed.ReadAsync(id, user, after, token), permit);
    }

    /// <summary>429: the user holds as many event streams and waits open as they may.</summary>
    private static ProblemHttpResult TooManyStreams(HttpContext http, int max)
    {
        http.Response.Headers.RetryAfter = "5";
        return TypedResults.Problem(
            $"You have {max} event streams and search waits open; at most {max} may be open at once. Close one, or follow a job by polling GET /api/search-jobs/{{id}}.",
            statusCode: StatusCodes.Status429TooManyRequests, title: "Too many open streams");
    }

    private static async Task<Ok<RateLimitsView>> RateLimitsAsync(HttpContext http, IGrainFactory grains, IOptionsMonitor<SearchOptions> search)
    {
        var user = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.User(http.User.UserId())).GetSnapshotAsync();
        var providers = await Task.WhenAll(search.CurrentValue.Providers.Keys.Order()
            .Select(name => grains.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(name)).GetSnapshotAsync()));
        return TypedResults.Ok(new RateLimitsView(await user, providers));
    }

    private sealed record Created(JobStatus Status, int? WaitSeconds)
    {
        public string JobId => Status.JobId;
    }

    public sealed record RateLimitsView(LimiterSnapshot User, IReadOnlyList<LimiterSnapshot> Providers);
}
