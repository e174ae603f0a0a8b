using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Orleans.Search.Silo.Security;

/// <summary>
/// Maps <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> to a user and role. With
/// <c>Auth:Mode=none</c> every loopback caller is user <c>local</c> with the admin role, and nobody else is anyone.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<AuthOptions> auth,
    ApiKeyRing keys,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    private const string NoKeysRemoteDetail =
        "This service has no API keys (Auth:Mode=none), so it serves only callers on its own machine (loopback).";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!auth.Value.RequiresKeys)
        {
            return Task.FromResult(ListenAddresses.IsLoopback(Context.Connection.LocalIpAddress)
                ? Success(new ApiKeyOwner(AuthOptions.LocalUser, Roles.Admin))
                : AuthenticateResult.Fail(NoKeysRemoteDetail));
        }
        var presented = PresentedKey();
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        return Task.FromResult(keys.Find(presented) is { } owner ? Success(owner) : AuthenticateResult.Fail("The API key is not valid."));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return WriteProblemAsync(StatusCodes.Status401Unauthorized, "Unauthorized",
            !auth.Value.RequiresKeys ? NoKeysRemoteDetail
            : PresentedKey() is null ? "An API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."
            : "The API key is not valid.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden",
            $"'{Request.Path}' needs an API key with the {Roles.Admin} role (Auth:Keys:{{n}}:Role = {Roles.Admin}).");

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
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

    private static AuthenticateResult Success(ApiKeyOwner owner) =>
        AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity(
                [new Claim(ClaimTypes.NameIdentifier, owner.User), new Claim(ClaimTypes.Role, owner.Role)],
                SchemeName, ClaimTypes.NameIdentifier, ClaimTypes.Role)),
            SchemeName));
}
