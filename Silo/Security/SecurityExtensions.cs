using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Orleans.Search.Silo.Security;

public static class SecurityExtensions
{
    /// <summary>The authorization policy of operational endpoints (<c>/metrics</c>, the dashboard).</summary>
    public const string AdminPolicy = "admin";

    /// <summary>API-key authentication from the <c>Auth</c> section (validated at start) and the <see cref="AdminPolicy"/>.</summary>
    public static IHostApplicationBuilder AddSearchAuthentication(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.AddSingleton(sp => new ApiKeyRing(sp.GetRequiredService<IOptions<AuthOptions>>().Value));
        services.AddProblemDetails();
        // After ASP.NET Core's writer, which it stands behind for clients that do not accept JSON.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProblemDetailsWriter, ProblemJsonWriter>());
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(AdminPolicy, policy => policy.RequireRole(Roles.Admin));
        return builder;
    }

    /// <summary>For a host that serves the API: refuse to start without keys unless it listens on loopback only.</summary>
    public static IHostApplicationBuilder RequireKeysBeyondLoopback(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, LoopbackOnlyWithoutKeys>();
        return builder;
    }

    /// <summary>
    /// Runs the app unless its configuration is refused (options validated at start): then nothing starts, and the
    /// process ends with exit code 1 and one line per reason on stderr, instead of a stack trace.
    /// </summary>
    public static int RunUnlessRefused(this WebApplication app)
    {
        try
        {
            // Before Run: the host starts the Orleans silo (ports, membership) before it gets to validating options.
            app.Services.GetService<IStartupValidator>()?.Validate();
            app.Run();
            return 0;
        }
        catch (Exception ex) when (Refusals(ex) is { Count: > 0 } reasons)
        {
            foreach (var reason in reasons)
            {
                Console.Error.WriteLine($"Refusing to start: {reason}");
            }
            return 1;
        }
    }

    private static List<string> Refusals(Exception exception) => exception switch
    {
        OptionsValidationException validation => validation.Failures.ToList(),
        AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
            aggregate.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures).ToList(),
        _ => [],
    };
}
