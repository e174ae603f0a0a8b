using System.Net;
using System.Net.Sockets;

namespace Orleans.Search.Net;

/// <summary>The <c>Net</c> section: what the outbound guard lets through.</summary>
public sealed class NetOptions
{
    public const string Section = "Net";

    /// <summary>
    /// Hosts (names or IP literals, as written in URLs) exempt from the address checks: an internal service that is
    /// meant to be reached, or a test's loopback fake. Everything else must resolve to public addresses only.
    /// </summary>
    public string[] AllowHosts { get; set; } = [];

    /// <summary>
    /// Refuse every host not in <see cref="AllowHosts"/>, before any DNS lookup: for a silo that must reach only known
    /// services (and for tests, whose result URLs name hosts that must never be looked up).
    /// </summary>
    public bool AllowListOnly { get; set; }
}

/// <summary>Resolves a host name to addresses; the outbound guard checks every one before it connects.</summary>
public interface IHostResolver
{
    /// <summary>All addresses <paramref name="host"/> resolves to (none when it does not resolve).</summary>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The system resolver.</summary>
public sealed class DnsHostResolver : IHostResolver
{
    async Task<IPAddress[]> IHostResolver.ResolveAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            return await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
        catch (SocketException)
        {
            return [];
        }
    }
}

/// <summary>An outbound request was refused by the guard before any connection to the refused address was made.</summary>
public sealed class OutboundRefusedException(Uri url, string reason)
    : HttpRequestException($"Refused {url.Scheme}://{url.Authority}: {reason}.")
{
    public Uri Url { get; } = url;

    /// <summary>Why, in words for a caller (<c>loopback address</c>, <c>scheme ftp is not allowed</c>, …).</summary>
    public string Reason { get; } = reason;
}

/// <summary>A response that passed the guard, with the URL it finally came from (after redirects).</summary>
public sealed record OutboundResponse(HttpResponseMessage Response, Uri FinalUrl) : IDisposable
{
    public void Dispose() => Response.Dispose();
}
