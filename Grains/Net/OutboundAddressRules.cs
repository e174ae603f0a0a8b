using System.Net;
using System.Net.Sockets;

namespace Orleans.Search.Net;

/// <summary>Which IP addresses an outbound request a user can influence may never reach, and why.</summary>
public static class OutboundAddressRules
{
    /// <summary>The reason <paramref name="address"/> is refused, or null when it is a public address.</summary>
    public static string? RefusalReason(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return IPv6Reason(address);
        }
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return "not an IP address";
        }
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return IPv4Reason(b);
    }

    private static string? IPv4Reason(ReadOnlySpan<byte> b) => (b[0], b[1], b[2], b[3]) switch
    {
        (169, 254, 169, 254) => "cloud metadata address",
        (0, _, _, _) => "unspecified address",
        (127, _, _, _) => "loopback address",
        (10, _, _, _) => "private address",
        (172, >= 16 and <= 31, _, _) => "private address",
        (192, 168, _, _) => "private address",
        (169, 254, _, _) => "link-local address",
        (100, >= 64 and <= 127, _, _) => "shared (CGNAT) address",
        (192, 0, 0, _) => "IETF protocol assignment",
        (198, 18 or 19, _, _) => "benchmarking address",
        (>= 224 and <= 239, _, _, _) => "multicast address",
        (>= 240, _, _, _) => "reserved address",
        _ => null,
    };

    private static string? IPv6Reason(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        // fd00:ec2::254, the AWS metadata service over IPv6.
        if (b[0] == 0xfd && b[1] == 0x00 && b[2] == 0x0e && b[3] == 0xc2 && b[4..14].IndexOfAnyExcept((byte)0) < 0 && b[14] == 0x02 && b[15] == 0x54)
        {
            return "cloud metadata address";
        }
        if (address.Equals(IPAddress.IPv6Any))
        {
            return "unspecified address";
        }
        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return "loopback address";
        }
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): judged by the IPv4 address inside.
        if (b[..10].IndexOfAnyExcept((byte)0) < 0 && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)))
        {
            return IPv4Reason(b[12..]) is { } inner ? inner + " (IPv4 in IPv6)" : b[10] == 0 ? "IPv4-compatible IPv6 address" : null;
        }
        // 64:ff9b::/96 (NAT64) reaches the IPv4 address inside it.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..12].IndexOfAnyExcept((byte)0) < 0)
        {
            return IPv4Reason(b[12..]) is { } inner ? inner + " (NAT64)" : null;
        }
        // 2002::/16 (6to4) embeds an IPv4 address in bytes 2..5.
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return IPv4Reason(b[2..6]) is { } inner ? inner + " (6to4)" : null;
        }
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
        {
            return "Teredo address";
        }
        if ((b[0] & 0xfe) == 0xfc)
        {
            return "unique-local address";
        }
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        {
            return "link-local address";
        }
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        {
            return "site-local address";
        }
        if (b[0] == 0xff)
        {
            return "multicast address";
        }
        if (b[0] == 0x01 && b[1..8].IndexOfAnyExcept((byte)0) < 0)
        {
            return "discard-only address";
        }
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        {
            return "documentation address";
        }
        return null;
    }
}
