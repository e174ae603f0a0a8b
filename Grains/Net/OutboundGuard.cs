using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Orleans.Search.Net;

/// <summary>
/// The guard on every outbound request a user can influence (page reads, webhooks). Only http and https; the host is
/// resolved and every address checked (<see cref="OutboundAddressRules"/>), and the connection goes to an address
/// that was checked (a <see cref="SocketsHttpHandler.ConnectCallback"/>, so a second DNS answer cannot differ); redirects
/// are followed here, each one checked again; hosts in <see cref="NetOptions.AllowHosts"/> skip the address checks.
/// </summary>
public sealed partial class OutboundGuard : IDisposable
{
    /// <summary>The most redirects a request follows.</summary>
    public const int MaxRedirects = 5;

    private readonly HashSet<string> _allowHosts;
    private readonly IHostResolver _resolver;
    private readonly bool _allowListOnly;
    private readonly ILogger<OutboundGuard> _logger;
    private readonly HttpClient _client;
    private long _connectionsOpened;

    public OutboundGuard(IOptions<NetOptions> options, IHostResolver resolver, ILogger<OutboundGuard> logger)
    {
        _allowHosts = new HashSet<string>(options.Value.AllowHosts.Select(NormalizeHost), StringComparer.OrdinalIgnoreCase);
        _allowListOnly = options.Value.AllowListOnly;
        _resolver = resolver;
        _logger = logger;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            // A proxy would connect on our behalf to addresses we never saw.
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            MaxResponseHeadersLength = 64,
            ConnectCallback = ConnectAsync,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Connections opened so far (each to a checked address).</summary>
    public long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

    /// <summary>
    /// Checks <paramref name="url"/> as a request would, resolving its host (for a URL stored now and requested later,
    /// such as a webhook endpoint). Returns why it is refused, or null when it passes. Requests are checked again when
    /// they are made: a name may resolve differently later.
    /// </summary>
    public async Task<string?> CheckAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "not an absolute URL";
        }
        if (CheckSyntax(uri, url) is { } reason)
        {
            return reason;
        }
        try
        {
            await ResolveCheckedAsync(uri.IdnHost, cancellationToken);
            return null;
        }
        catch (OutboundRefusedException refused)
        {
            return refused.Reason;
        }
        catch (HttpRequestException failed)
        {
            return failed.Message;
        }
    }

    /// <summary>
    /// Sends the request <paramref name="createRequest"/> makes for <paramref name="url"/>, following up to
    /// <paramref name="maxRedirects"/> redirects (each made with <paramref name="createRequest"/> again, and checked again).
    /// A redirect past that limit is returned as it is. Throws <see cref="OutboundRefusedException"/> when a hop is refused.
    /// </summary>
    public async Task<OutboundResponse> SendAsync(Uri url, Func<Uri, HttpRequestMessage> createRequest, int maxRedirects, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxRedirects, MaxRedirects);
        var current = url;
        var raw = url.OriginalString;
        for (var hop = 0; ; hop++)
        {
            if (CheckSyntax(current, raw) is { } reason)
            {
                LogRefused(_logger, current.Scheme, current.Authority, reason);
                throw new OutboundRefusedException(current, reason);
            }
            HttpResponseMessage response;
            using (var request = createRequest(current))
            {
                try
                {
                    response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                }
                catch (HttpRequestException e) when (e.InnerException is OutboundRefusedException refused)
                {
                    LogRefused(_logger, current.Scheme, current.Authority, refused.Reason);
                    throw new OutboundRefusedException(current, refused.Reason);
                }
            }
            if (!IsRedirect(response.StatusCode) || response.Headers.Location is not { } location || hop >= maxRedirects)
            {
                return new OutboundResponse(response, current);
            }
            raw = response.Headers.TryGetValues("Location", out var values) ? values.First() : location.OriginalString;
            var next = location.IsAbsoluteUri ? location : new Uri(current, location);
            if (!location.IsAbsoluteUri)
            {
                raw = next.AbsoluteUri;
            }
            response.Dispose();
            current = next;
        }
    }

    private static bool IsRedirect(HttpStatusCode status) => status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found
        or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>What can be refused without resolving: the scheme, IP literals, an IPv4 address written in another form.</summary>
    private string? CheckSyntax(Uri uri, string raw)
    {
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            return $"scheme {uri.Scheme} is not allowed";
        }
        // 2130706433, 0177.0.0.1, 0x7f.1: .NET reads them as 127.0.0.1, and so might an allow-list. Nobody writes them innocently.
        if (uri.HostNameType == UriHostNameType.IPv4 && !string.Equals(RawHost(raw), uri.Host, StringComparison.OrdinalIgnoreCase))
        {
            return "IPv4 address written in a non-canonical form";
        }
        var host = NormalizeHost(uri.IdnHost);
        if (_allowHosts.Contains(host))
        {
            return null;
        }
        if (_allowListOnly)
        {
            return $"{host} is not on Net:AllowHosts (Net:AllowListOnly)";
        }
        return IPAddress.TryParse(host, out var address) ? OutboundAddressRules.RefusalReason(address) : null;
    }

    /// <summary>The host exactly as written in an absolute URL (brackets of an IPv6 literal kept), or null.</summary>
    private static string? RawHost(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }
        start += 3;
        var end = url.AsSpan(start).IndexOfAny("/?#\\");
        var authority = end < 0 ? url[start..] : url.Substring(start, end);
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..];
        }
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']');
            return close < 0 ? authority : authority[..(close + 1)];
        }
        var colon = authority.IndexOf(':');
        return colon < 0 ? authority : authority[..colon];
    }

    private static string NormalizeHost(string host)
    {
        host = host.Trim().TrimEnd('.');
        return host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
    }

    /// <summary>The addresses to connect to for <paramref name="host"/>, every one checked (unless the host is allowed).</summary>
    private async Task<IPAddress[]> ResolveCheckedAsync(string host, CancellationToken cancellationToken)
    {
        var name = NormalizeHost(host);
        var allowed = _allowHosts.Contains(name);
        if (!allowed && _allowListOnly)
        {
            throw new OutboundRefusedException(new Uri($"http://{(name.Contains(':') ? $"[{name}]" : name)}/"), $"{name} is not on Net:AllowHosts (Net:AllowListOnly)");
        }
        var addresses = IPAddress.TryParse(name, out var literal) ? [literal] : await _resolver.ResolveAsync(name, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new HttpRequestException($"The name {name} does not resolve.");
        }
        if (!allowed)
        {
            foreach (var address in addresses)
            {
                if (OutboundAddressRules.RefusalReason(address) is { } reason)
                {
                    // One bad answer refuses the name: it may be the one a later resolution returns.
                    throw new OutboundRefusedException(new Uri($"http://{(name.Contains(':') ? $"[{name}]" : name)}/"),
                        addresses.Length == 1 && literal is null ? $"{name} resolves to a {reason}" : literal is null ? $"{name} resolves to {address}, a {reason}" : reason);
                }
            }
        }
        return addresses;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await ResolveCheckedAsync(context.DnsEndPoint.Host, cancellationToken);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                Interlocked.Increment(ref _connectionsOpened);
                LogConnecting(_logger, address, context.DnsEndPoint.Port);
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    public void Dispose() => _client.Dispose();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Outbound connection to {Address} port {Port}")]
    private static partial void LogConnecting(ILogger logger, IPAddress address, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbound request to {Scheme}://{Authority} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string scheme, string authority, string reason);
}

/// <summary>Registration of the outbound guard.</summary>
public static class OutboundGuardServiceCollectionExtensions
{
    /// <summary>The guard (one per silo), its options from <c>Net</c>, and the system DNS resolver unless one is registered.</summary>
    public static IServiceCollection AddOutboundGuard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<NetOptions>().Bind(configuration.GetSection(NetOptions.Section))
            .Validate(o => o.AllowHosts.All(h => !string.IsNullOrWhiteSpace(h)), "Net:AllowHosts must not hold empty entries.")
            .ValidateOnStart();
        services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        services.TryAddSingleton<OutboundGuard>();
        return services;
    }
}
