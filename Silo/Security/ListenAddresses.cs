using System.Net;
using Microsoft.AspNetCore.Http;

namespace Orleans.Search.Silo.Security;

/// <summary>Where a host will listen, read from configuration before it binds, and whether that is loopback only.</summary>
public static class ListenAddresses
{
    /// <summary>Kestrel's address when nothing is configured.</summary>
    public const string Default = "http://localhost:5000";

    /// <summary>
    /// Every address the configuration asks for: <c>urls</c> (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>Urls</c>),
    /// <c>Kestrel:Endpoints:*:Url</c>, and, when neither is set, <c>http_ports</c>/<c>https_ports</c>
    /// (<c>ASPNETCORE_HTTP_PORTS</c>), which listen on every interface.
    /// </summary>
    public static IReadOnlyList<string> Configured(IConfiguration configuration)
    {
        var urls = Split(configuration["urls"]);
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren()
            .Select(endpoint => endpoint["Url"]).Where(url => !string.IsNullOrWhiteSpace(url)).Select(url => url!.Trim()));
        if (urls.Count == 0)
        {
            urls.AddRange(Split(configuration["http_ports"]).Select(port => $"http://*:{port}"));
            urls.AddRange(Split(configuration["https_ports"]).Select(port => $"https://*:{port}"));
        }
        return urls.Count > 0 ? urls : [Default];
    }

    /// <summary>
    /// True for <c>localhost</c> and loopback IPs. False for wildcards (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>, <c>[::]</c>),
    /// other names (Kestrel binds them to every interface), Unix sockets and anything unparseable.
    /// </summary>
    public static bool IsLoopback(string url)
    {
        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return false;
        }
        if (address.IsUnixPipe)
        {
            return false;
        }
        return string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip) && IsLoopback(ip);
    }

    public static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static List<string> Split(string? value) =>
        (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
