using Microsoft.AspNetCore.Http.HttpResults;

namespace Orleans.Search.Gateway.Api;

/// <summary>RFC 9457 problems the API answers with; each names what was wrong.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string jobId) =>
        TypedResults.Problem($"No job '{jobId}' was found for this caller.", statusCode: StatusCodes.Status404NotFound, title: "Job not found");

    public static ProblemHttpResult BadRequest(string detail, string title = "Bad request") =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title);

    public static ValidationProblem Invalid(Dictionary<string, string[]> errors, string title = "The request is invalid") =>
        TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(m => m)), title: title);

    public static ValidationProblem InvalidField(string field, string message) =>
        Invalid(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
}
