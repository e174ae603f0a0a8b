using Microsoft.AspNetCore.Http.HttpResults;

namespace Orleans.Search.Gateway.Api;

/// <summary>RFC 9457 problems the API answers with; each names what was wrong.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string jobId) =>
        TypedResults.Problem($"No job '{jobId}' was found for this caller.", statusCode: StatusCodes.Status404NotFound, title: "Job not found");

    public static ProblemHttpResult BadRequest(string detail, string title = "Bad request") =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title);

    /// <summary>
    /// 400 with the fields and their messages (<c>errors</c>, as a validation problem). A <see cref="ProblemHttpResult"/>
    /// like every other problem here, so a handler's typed result names one problem type.
    /// </summary>
    public static ProblemHttpResult Invalid(Dictionary<string, string[]> errors, string title = "The request is invalid") =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = title,
            Detail = string.Join(" ", errors.Values.SelectMany(m => m)),
        });

    public static ProblemHttpResult InvalidField(string field, string message) =>
        Invalid(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");

    public const string TooLargeTitle = "Request body too large";

    public static string TooLargeDetail(int maxBodyBytes) =>
        $"The request body may be at most {maxBodyBytes} bytes; this one is larger, so it was refused.";

    public static ProblemHttpResult TooLarge(int maxBodyBytes) =>
        TypedResults.Problem(TooLargeDetail(maxBodyBytes), statusCode: StatusCodes.Status413PayloadTooLarge, title: TooLargeTitle);

    public const string JsonBodyRequired = "Send the request body as JSON with 'Content-Type: application/json'.";

    /// <summary>
    /// Problems the framework writes by itself (no route, method not allowed, a content type the route does not accept,
    /// an unhandled error) come without a detail; give them one, so every error says what was wrong.
    /// </summary>
    public static void FillDetail(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (!string.IsNullOrWhiteSpace(problem.Detail))
        {
            return;
        }
        var request = context.HttpContext.Request;
        var allowed = context.HttpContext.Response.Headers.Allow.ToString();
        problem.Detail = problem.Status switch
        {
            StatusCodes.Status404NotFound => $"There is nothing at '{request.Path}'.",
            StatusCodes.Status405MethodNotAllowed => allowed.Length > 0
                ? $"'{request.Method}' is not allowed on '{request.Path}'; use {allowed}."
                : $"'{request.Method}' is not allowed on '{request.Path}'.",
            StatusCodes.Status415UnsupportedMediaType => JsonBodyRequired,
            >= 500 => "The server failed to handle the request; it was logged. Try again later.",
            { } status => $"The request failed: {Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status)}.",
            null => "The request failed.",
        };
    }
}
