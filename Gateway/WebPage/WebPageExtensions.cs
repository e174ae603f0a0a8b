using Microsoft.Extensions.FileProviders;

namespace Orleans.Search.Gateway.WebPage;

/// <summary>
/// The web page at <c>/</c>: plain HTML, CSS and JavaScript modules from <c>wwwroot/</c>, embedded in the gateway's
/// assembly so it is served the same whatever the working directory. It needs no key to load; the API it calls does.
/// </summary>
public static class WebPageExtensions
{
    /// <summary>
    /// No inline script or style, nothing from elsewhere, no framing; the page builds its DOM from text, so a result
    /// title is never markup. The Orleans dashboard ships its own inline scripts, so it gets the headers without the CSP.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly PathString DashboardPath = "/dashboard";

    /// <summary>Security headers on every response, set as it starts so an error page written later keeps them.</summary>
    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                if (!http.Request.Path.StartsWithSegments(DashboardPath))
                {
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    headers.XFrameOptions = "DENY";
                }
                return Task.CompletedTask;
            });
            return next(http);
        });
        return app;
    }

    /// <summary><c>/</c> serves <c>index.html</c>; the page's files revalidate on every load, so an upgrade shows at once.</summary>
    public static WebApplication UseWebPage(this WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(WebPageExtensions).Assembly, "Orleans.Search.Gateway.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
