using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;

namespace Orleans.Search.Gateway.FrontDoor;

/// <summary>
/// The checks every request passes before it costs anything: the host it names, the size of its body, and how many
/// requests its address (before authentication) and its user (after) have made lately.
/// </summary>
public static class FrontDoorExtensions
{
    public static WebApplicationBuilder AddFrontDoor(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HttpLimitOptions>().Bind(builder.Configuration.GetSection(HttpLimitOptions.Section))
            .Validate(o => o.MaxBodyBytes is >= 1024 and <= 64 * 1024 * 1024, "Http:MaxBodyBytes must be from 1024 to 67108864.")
            .Validate(o => o.PermitsPerMinute >= 0 && o.PermitsPerMinutePerAddress >= 0,
                "Http:PermitsPerMinute and Http:PermitsPerMinutePerAddress must be 0 (no limit) or more.")
            .ValidateOnStart();
        services.AddSingleton<AllowedHosts>();
        // The framework's host filter answers a bare 400; ours answers a problem like every other error, so theirs lets all through.
        services.Configure<HostFilteringOptions>(o => o.AllowedHosts = ["*"]);
        services.AddRateLimiter(_ => { });
        services.AddExceptionHandler<BadHttpRequestExceptionHandler>();
        return builder;
    }

    /// <summary>The host check, the body limit and the per-address rate limit: everything before authentication.</summary>
    public static WebApplication UseFrontDoor(this WebApplication app)
    {
        var limits = app.Services.GetRequiredService<IOptions<HttpLimitOptions>>().Value;
        var hosts = app.Services.GetRequiredService<AllowedHosts>();
        app.Use((http, next) => hosts.Allows(http.Request.Host) ? next(http) : hosts.RefuseAsync(http));
        app.Use((http, next) =>
        {
            // Kestrel stops a body (declared or chunked) at this size; readers then answer 413 (BadHttpRequestExceptionHandler).
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
            {
                body.MaxRequestBodySize = limits.MaxBodyBytes;
            }
            return http.Request.ContentLength > limits.MaxBodyBytes ? FrontDoorProblems.TooLargeAsync(http, limits.MaxBodyBytes) : next(http);
        });
        app.UseRateLimiter(HttpRateLimits.PerAddress(limits.PermitsPerMinutePerAddress));
        return app;
    }

    /// <summary>The per-user rate limit: after authentication, which tells who the user is.</summary>
    public static WebApplication UseUserRateLimit(this WebApplication app)
    {
        var limits = app.Services.GetRequiredService<IOptions<HttpLimitOptions>>().Value;
        app.UseRateLimiter(HttpRateLimits.PerUser(limits.PermitsPerMinute));
        return app;
    }
}

/// <summary>Problems the front door answers with, before any endpoint runs.</summary>
internal static class FrontDoorProblems
{
    public static Task TooLargeAsync(HttpContext http, int maxBodyBytes) =>
        WriteAsync(http, StatusCodes.Status413PayloadTooLarge, Api.Problems.TooLargeTitle, Api.Problems.TooLargeDetail(maxBodyBytes));

    public static async Task WriteAsync(HttpContext http, int status, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        http.Response.StatusCode = status;
        var problem = errors is null ? new ProblemDetails() : new HttpValidationProblemDetails(errors);
        problem.Status = status;
        problem.Title = title;
        problem.Detail = detail;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem });
    }

    /// <summary>Caller-supplied text, cut short enough to echo in a problem.</summary>
    public static string Shorten(string text, int max = 64) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max), "…");
}

/// <summary>
/// <c>AllowedHosts</c> (names separated by ';', <c>*.example.com</c> wildcards, <c>*</c> for any): the host names the
/// gateway answers to. Unset, only loopback names, so a web page whose DNS name was rebound to 127.0.0.1 cannot drive a
/// local instance through the visitor's browser.
/// </summary>
public sealed class AllowedHosts
{
    public static readonly string[] Loopback = ["localhost", "127.0.0.1", "[::1]"];

    private readonly StringSegment[] _patterns;
    private readonly bool _any;

    public AllowedHosts(IConfiguration configuration)
    {
        var configured = (configuration["AllowedHosts"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var hosts = configured.Length > 0 ? configured : Loopback;
        _any = hosts.Contains("*");
        _patterns = hosts.Select(h => new StringSegment(h)).ToArray();
    }

    /// <summary>A request without a Host (HTTP/1.0) is allowed, as the framework's own filter does; browsers always send one.</summary>
    public bool Allows(HostString host)
    {
        if (_any || !host.HasValue)
        {
            return true;
        }
        try
        {
            return HostString.MatchesAny(new StringSegment(host.Value), _patterns);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public Task RefuseAsync(HttpContext http)
    {
        var detail = $"This service does not answer to the host '{FrontDoorProblems.Shorten(http.Request.Host.Value ?? "")}' named in the Host header; "
            + "its operator lists the names it answers to in AllowedHosts.";
        return FrontDoorProblems.WriteAsync(http, StatusCodes.Status400BadRequest, "Host not allowed", detail,
            new Dictionary<string, string[]> { ["Host"] = [detail] });
    }
}
