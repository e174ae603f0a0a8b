using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Orleans.Search.Silo.Security;

/// <summary>
/// The last problem writer: ASP.NET Core's own writes a problem only for clients that accept JSON, and otherwise the
/// problem service throws, so an <c>EventSource</c> (<c>Accept: text/event-stream</c>) refused with 401, 404 or 429
/// would get a 500. Every error is a problem, so this one writes <c>application/problem+json</c> whatever was accepted.
/// </summary>
internal sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> problemOptions, IOptions<JsonOptions> jsonOptions) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        problemOptions.Value.CustomizeProblemDetails?.Invoke(context);
        var problem = context.ProblemDetails;
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(problem, problem.GetType(), jsonOptions.Value.SerializerOptions,
            "application/problem+json", context.HttpContext.RequestAborted));
    }
}
