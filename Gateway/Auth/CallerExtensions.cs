using System.Security.Claims;

namespace Orleans.Search.Gateway.Auth;

public static class CallerExtensions
{
    /// <summary>The authenticated caller's user id.</summary>
    public static string UserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("No authenticated user.");
}
