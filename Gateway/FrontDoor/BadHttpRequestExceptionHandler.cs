using Microsoft.AspNetCore.Diagnostics;

namespace Orleans.Search.Gateway.FrontDoor;

/// <summary>
/// Kestrel throws <see cref="BadHttpRequestException"/> when a body grows past the limit or is malformed while it is read;
/// the caller gets a problem with that status (413, 400), not a 500.
/// </summary>
public sealed class BadHttpRequestExceptionHandler(IOptions<HttpLimitOptions> limits) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || http.Response.HasStarted)
        {
            return false;
        }
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await FrontDoorProblems.TooLargeAsync(http, limits.Value.MaxBodyBytes);
        }
        else
        {
            await FrontDoorProblems.WriteAsync(http, bad.StatusCode, "Bad request", "The request could not be read: it is malformed or was cut off.");
        }
        return true;
    }
}
