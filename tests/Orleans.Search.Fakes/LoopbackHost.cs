using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Orleans.Search.Fakes;

/// <summary>
/// The real Kestrel server every fake runs on: bound to 127.0.0.1 only, on the port asked for or an ephemeral one
/// (read back into <see cref="BaseUrl"/>), every request handed to one <see cref="RequestDelegate"/>. It reads no
/// configuration, so a test host's <c>Kestrel:Endpoints</c> or <c>ASPNETCORE_URLS</c> cannot add listeners.
/// </summary>
public sealed class LoopbackHost : IAsyncDisposable
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private int _disposed;

    private LoopbackHost(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>The server's root, for example <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>Starts a server on 127.0.0.1:<paramref name="port"/> (0: an ephemeral port) that answers every request with <paramref name="handler"/>.</summary>
    public static async Task<LoopbackHost> StartAsync(RequestDelegate handler, int port = 0, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(LoopbackHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Configuration.Sources.Clear();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        app.Run(handler);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new LoopbackHost(app, new Uri(address, UriKind.Absolute));
    }

    /// <summary>Stops listening; connections still open after a few seconds are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        using (var timeout = new CancellationTokenSource(ShutdownTimeout))
        {
            try
            {
                await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Connections that outlived the timeout are dropped by DisposeAsync.
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
