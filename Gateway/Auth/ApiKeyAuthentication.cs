using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Orleans.Search.Gateway.Auth;

/// <summary>The <c>Auth</c> section: <c>Auth:ApiKeys:{key}</c> = user id. No keys: everyone is user <c>local</c>.</summary>
public sealed class ApiKeyOptions
{
    public const string Section = "Auth";
    public const string LocalUser = "local";

    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Maps <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> to a user id.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptionsMonitor<ApiKeyOptions> keys,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var configured = keys.CurrentValue.ApiKeys;
        if (configured.Count == 0)
        {
            return Task.FromResult(Success(ApiKeyOptions.LocalUser));
        }
        var presented = PresentedKey();
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        return Task.FromResult(configured.TryGetValue(presented, out var user) && !string.IsNullOrWhiteSpace(user)
            ? Success(user)
            : AuthenticateResult.Fail("The API key is not valid."));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = PresentedKey() is null
                    ? "An API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."
                    : "The API key is not valid.",
            },
        });
    }

    private string? PresentedKey()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        var apiKey = Request.Headers["X-Api-Key"].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : null;
    }

    private AuthenticateResult Success(string user) =>
        AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user)], SchemeName)), SchemeName));
}

public static class CallerExtensions
{
    /// <summary>The authenticated caller's user id.</summary>
    public static string UserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("No authenticated user.");
}
