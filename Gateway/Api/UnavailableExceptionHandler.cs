using System.Data.Common;
using System.Net.Sockets;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Orleans.Search.Gateway.Api;

/// <summary>
/// When the database or the cluster is away, callers get a 503 problem with Retry-After at once, not a hang
/// or a bare 500: their request can be retried safely (creates with an Idempotency-Key are idempotent).
/// </summary>
public sealed partial class UnavailableExceptionHandler(IProblemDetailsService problems, ILogger<UnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var cause = Unavailability(exception);
        if (cause is null)
        {
            return false;
        }
        LogUnavailable(logger, exception, cause);
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service unavailable",
                Detail = $"The {cause} is not reachable right now; nothing was lost. Retry in a few seconds.",
            },
        });
    }

    private static string? Unavailability(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DbException:
                    return "database";
                case SocketException:
                    return "database or cluster";
                case TimeoutException or SiloUnavailableException or OrleansMessageRejectionException:
                    return "cluster";
            }
        }
        return exception is AggregateException aggregate ? aggregate.InnerExceptions.Select(Unavailability).FirstOrDefault(c => c is not null) : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answering 503: the {Cause} is not reachable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string cause);
}
