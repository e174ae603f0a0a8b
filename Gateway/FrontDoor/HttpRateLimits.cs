using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Orleans.Search.Gateway.Auth;

namespace Orleans.Search.Gateway.FrontDoor;

/// <summary>
/// ASP.NET Core's rate limiter, twice: per remote address before authentication (so guessing keys and anonymous floods
/// are throttled before they cost anything) and per user after it. Each is a token bucket holding one minute's worth of
/// requests, refilled continuously; a refused request gets a 429 problem with <c>Retry-After</c>.
/// </summary>
internal static class HttpRateLimits
{
    public static RateLimiterOptions PerAddress(int perMinute) => new()
    {
        RejectionStatusCode = StatusCodes.Status429TooManyRequests,
        GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, IPAddress>(http => perMinute > 0
            ? RateLimitPartition.GetTokenBucketLimiter(AddressOf(http), _ => Bucket(perMinute))
            : RateLimitPartition.GetNoLimiter(IPAddress.None)),
        OnRejected = (context, _) => RejectAsync(context, $"More than {perMinute} requests a minute came from your address"),
    };

    public static RateLimiterOptions PerUser(int perMinute) => new()
    {
        RejectionStatusCode = StatusCodes.Status429TooManyRequests,
        GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => perMinute > 0 && http.User.Identity?.IsAuthenticated == true
            ? RateLimitPartition.GetTokenBucketLimiter(http.User.UserId(), _ => Bucket(perMinute))
            // Unauthenticated requests are refused by authorization, or are public (health, OpenAPI): the address limit covers them.
            : RateLimitPartition.GetNoLimiter("")),
        OnRejected = (context, _) => RejectAsync(context, $"More than {perMinute} requests a minute came from user '{context.HttpContext.User.UserId()}'"),
    };

    private static TokenBucketRateLimiterOptions Bucket(int perMinute) => new()
    {
        TokenLimit = perMinute,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromTicks(Math.Max(1, TimeSpan.TicksPerMinute / perMinute)),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>IPv4 as is; IPv6 by its /64, which one client usually holds whole.</summary>
    private static IPAddress AddressOf(HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress ?? IPAddress.None;
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, string what)
    {
        var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromMinutes(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        var http = context.HttpContext;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await FrontDoorProblems.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests", $"{what}; retry in {seconds} s.");
    }
}
