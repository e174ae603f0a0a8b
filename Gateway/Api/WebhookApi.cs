using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Search.Gateway.Auth;
using Orleans.Search.Gateway.FrontDoor;
using Orleans.Search.Webhooks;

namespace Orleans.Search.Gateway.Api;

/// <summary>
/// Webhook endpoints (register, list, read, delete, rotate the secret) and deliveries (the failed store, one delivery
/// with its attempts, replay). Everything is the caller's own: another user's ids answer 404.
/// </summary>
public static class WebhookApi
{
    public const int MaxUrlLength = 2048;
    private const int DefaultListLimit = 50;
    private const int MaxListLimit = 100;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        MaxDepth = 4,
    };

    public static IEndpointRouteBuilder MapWebhookApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api").RequireAuthorization().WithTags("Webhooks");
        api.MapPost("/webhook-endpoints", CreateAsync).WithName("CreateWebhookEndpoint")
            .WithSummary("Register a webhook endpoint; the answer shows its signing secret, once")
            .Produces<WebhookEndpoint>(StatusCodes.Status201Created);
        api.MapGet("/webhook-endpoints", ListAsync).WithName("ListWebhookEndpoints").WithSummary("The caller's webhook endpoints");
        api.MapGet("/webhook-endpoints/{id}", GetAsync).WithName("GetWebhookEndpoint").WithSummary("One webhook endpoint (without its secret)");
        api.MapDelete("/webhook-endpoints/{id}", DeleteAsync).WithName("DeleteWebhookEndpoint").WithSummary("Remove a webhook endpoint")
            .Produces(StatusCodes.Status204NoContent);
        api.MapPost("/webhook-endpoints/{id}/rotate-secret", RotateAsync).WithName("RotateWebhookSecret")
            .WithSummary("A new signing secret; the previous one keeps signing beside it for the rotation overlap (24 h)");
        api.MapGet("/webhook-deliveries", ListDeliveriesAsync).WithName("ListWebhookDeliveries")
            .WithSummary("The failed store (status=failed), newest failure first");
        api.MapGet("/webhook-deliveries/{id}", GetDeliveryAsync).WithName("GetWebhookDelivery").WithSummary("One delivery with every attempt");
        api.MapPost("/webhook-deliveries/{id}/replay", ReplayAsync).WithName("ReplayWebhookDelivery")
            .WithSummary("Send a failed delivery again (same webhook-id and body, a fresh retry schedule)")
            .Produces<WebhookDelivery>(StatusCodes.Status202Accepted);
        return routes;
    }

    /// <summary>The request body of a registration.</summary>
    private sealed record EndpointBody(string? Url, List<string?>? Events);

    private static async Task<Results<Created<WebhookEndpoint>, ProblemHttpResult>> CreateAsync(HttpContext http, IGrainFactory grains)
    {
        if (!http.Request.HasJsonContentType())
        {
            return Problems.UnsupportedMediaType(Problems.JsonBodyRequired);
        }
        EndpointBody? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<EndpointBody>(http.Request.Body, Json, http.RequestAborted);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : FrontDoorProblems.Shorten(ex.Path.TrimStart('$', '.'));
            return Problems.InvalidField(field, field == "body"
                ? "The request body must be a JSON object {url, events}."
                : $"'{field}' is not valid here; the members are url (a string) and events (an array of strings).");
        }
        if (body is null)
        {
            return Problems.InvalidField("body", "The request body must be a JSON object {url, events}, not null.");
        }
        var errors = Validate(body);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The webhook endpoint is invalid");
        }
        var outcome = await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).CreateAsync(new WebhookEndpointRequest
        {
            Url = body.Url!,
            Events = body.Events is { } events ? events.Select(e => e!).ToList() : WebhookEventTypes.All,
        });
        return outcome switch
        {
            { Endpoint: { } endpoint } => TypedResults.Created($"/api/webhook-endpoints/{endpoint.Id}", endpoint),
            { LimitReached: true } => Problems.Conflict(outcome.Refusal!),
            _ => Problems.InvalidField(outcome.RefusedField ?? "url", outcome.Refusal ?? "'url' is refused."),
        };
    }

    private static Dictionary<string, string[]> Validate(EndpointBody body)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Url))
        {
            errors["url"] = ["'url' is required: the absolute http(s) URL deliveries are POSTed to."];
        }
        else if (body.Url.Length > MaxUrlLength)
        {
            errors["url"] = [$"'url' must be at most {MaxUrlLength} characters; it has {body.Url.Length}."];
        }
        else if (!Uri.TryCreate(body.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || body.Url.Any(char.IsControl))
        {
            errors["url"] = [$"'url' must be an absolute http or https URL; it is '{FrontDoorProblems.Shorten(body.Url)}'."];
        }
        else if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            // A credential in a URL ends up in logs and listings; receivers authenticate deliveries by their signature.
            errors["url"] = ["'url' must not carry a user name or password; deliveries are signed instead."];
        }
        if (body.Events is { } events)
        {
            if (events.Count == 0)
            {
                errors["events"] = [$"'events' must name at least one of {string.Join(", ", WebhookEventTypes.All)} (or be left out for all of them)."];
            }
            for (var i = 0; i < events.Count && errors.Count < JobRequests.MaxErrors; i++)
            {
                if (events[i] is not { } type || !WebhookEventTypes.All.Contains(type))
                {
                    errors[$"events[{i}]"] = [$"'events[{i}]' must be one of {string.Join(", ", WebhookEventTypes.All)}; it is '{FrontDoorProblems.Shorten(events[i] ?? "null")}'."];
                }
            }
        }
        return errors;
    }

    private static async Task<Ok<WebhookEndpointListView>> ListAsync(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(new WebhookEndpointListView(await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).ListAsync()));

    private static async Task<Results<Ok<WebhookEndpoint>, ProblemHttpResult>> GetAsync(string id, HttpContext http, IGrainFactory grains) =>
        WebhookIds.IsEndpointId(id) && await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).GetAsync(id) is { } endpoint
            ? TypedResults.Ok(endpoint)
            : EndpointNotFound(id);

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, HttpContext http, IGrainFactory grains) =>
        WebhookIds.IsEndpointId(id) && await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).DeleteAsync(id)
            ? TypedResults.NoContent()
            : EndpointNotFound(id);

    private static async Task<Results<Ok<WebhookEndpoint>, ProblemHttpResult>> RotateAsync(string id, HttpContext http, IGrainFactory grains) =>
        WebhookIds.IsEndpointId(id) && await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).RotateSecretAsync(id) is { } endpoint
            ? TypedResults.Ok(endpoint)
            : EndpointNotFound(id);

    private static async Task<Results<Ok<WebhookDeliveryList>, ProblemHttpResult>> ListDeliveriesAsync(HttpContext http, IGrainFactory grains,
        string? status, string? limit, string? cursor)
    {
        if (status is not null && status != WebhookDeliveryStates.Failed)
        {
            return Problems.InvalidField("status", $"'status' must be '{WebhookDeliveryStates.Failed}' (the failed store); it is '{FrontDoorProblems.Shorten(status)}'. GET /api/webhook-deliveries/{{id}} shows any delivery.");
        }
        var take = DefaultListLimit;
        if (limit is not null && (!int.TryParse(limit, out take) || take is < 1 or > MaxListLimit))
        {
            return Problems.InvalidField("limit", $"'limit' must be a whole number from 1 to {MaxListLimit}; it is '{FrontDoorProblems.Shorten(limit)}'.");
        }
        if (cursor is not null && !WebhookIds.IsDeliveryId(cursor))
        {
            return Problems.InvalidField("cursor", "'cursor' is not one this API gave out; pass 'nextCursor' from the previous page.");
        }
        return TypedResults.Ok(await grains.GetGrain<IWebhookEndpointsGrain>(http.User.UserId()).ListFailedAsync(take, cursor));
    }

    private static async Task<Results<Ok<WebhookDelivery>, ProblemHttpResult>> GetDeliveryAsync(string id, HttpContext http, IGrainFactory grains) =>
        WebhookIds.IsDeliveryId(id) && await grains.GetGrain<IWebhookDeliveryGrain>(id).GetAsync(http.User.UserId()) is { } delivery
            ? TypedResults.Ok(delivery)
            : DeliveryNotFound(id);

    private static async Task<Results<Accepted<WebhookDelivery>, ProblemHttpResult>> ReplayAsync(string id, HttpContext http, IGrainFactory grains)
    {
        if (!WebhookIds.IsDeliveryId(id))
        {
            return DeliveryNotFound(id);
        }
        var replay = await grains.GetGrain<IWebhookDeliveryGrain>(id).ReplayAsync(http.User.UserId());
        return replay.Outcome switch
        {
            WebhookReplayOutcomes.Replaying => TypedResults.Accepted($"/api/webhook-deliveries/{id}", replay.Delivery),
            WebhookReplayOutcomes.NotFound => DeliveryNotFound(id),
            _ => Problems.Conflict(replay.Detail ?? $"Delivery '{id}' cannot be replayed."),
        };
    }

    private static ProblemHttpResult EndpointNotFound(string id) => TypedResults.Problem(
        $"No webhook endpoint '{FrontDoorProblems.Shorten(id)}' was found for this caller.", statusCode: StatusCodes.Status404NotFound, title: "Webhook endpoint not found");

    private static ProblemHttpResult DeliveryNotFound(string id) => TypedResults.Problem(
        $"No webhook delivery '{FrontDoorProblems.Shorten(id)}' was found for this caller.", statusCode: StatusCodes.Status404NotFound, title: "Webhook delivery not found");

    /// <summary>The caller's endpoints.</summary>
    public sealed record WebhookEndpointListView(IReadOnlyList<WebhookEndpoint> Items);
}
